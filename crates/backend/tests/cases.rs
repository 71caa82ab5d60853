//! The SPEC.md §11 seed and change cases, driven through the reconcile driver against
//! `svcmirror-fake`: each once without faults, and again with 30 % of the source's requests failing
//! (several seeds), where the final source must equal the fault-free one.

mod common;

use common::*;
use svcmirror_backend::{Driver, TargetEvent};
use svcmirror_core::Reason;
use svcmirror_core::model::{Kind, Namespace, Object, Service};
use svcmirror_fake::FaultConfig;

/// Seeds of the fault runs.
const SEEDS: [u64; 5] = [1, 2, 3, 42, 0xdead_beef];

macro_rules! cases {
    ($($case:ident),* $(,)?) => {$(
        mod $case {
            use super::*;

            #[tokio::test]
            async fn fault_free() {
                let mut w = World::new(link());
                super::$case(&mut w).await;
                w.assert_converged().await;
            }

            #[tokio::test]
            async fn under_30_percent_faults() {
                let mut reference = World::new(link());
                super::$case(&mut reference).await;
                let expected = normalized(&reference.source_state());
                let mut injected = 0;
                for seed in SEEDS {
                    let mut w = World::new(link());
                    w.with_faults(Some(FaultConfig::new(0.3, seed)));
                    super::$case(&mut w).await;
                    w.assert_converged().await;
                    assert_eq!(
                        normalized(&w.source_state()),
                        expected,
                        "seed {seed}: the final source differs from the fault-free run"
                    );
                    injected += w.source.lock().stats().injected_faults;
                }
                assert!(injected > 0, "no fault was injected");
            }
        }
    )*};
}

cases!(
    seed_walkthrough,
    scale_up,
    scale_down,
    hostname_renamed,
    ports_changed,
    clusterip_to_headless,
    headless_to_clusterip,
    unexport,
    target_deleted,
    gateway_changed,
    namespace_missing_then_created,
    restart_with_mirrors_in_place,
    foreign_object_same_name,
    other_link_untouched,
    other_namespace_untouched,
);

const SEED_HOSTS: [&str; 3] = ["nginx-set-0", "nginx-set-1", "nginx-set-2"];
const HTTP: [(&str, i32); 1] = [("http", 80)];

fn assert_seed_mirrored(w: &World, ns: &str, hosts: &[&str]) {
    assert_headless_mirror(w, ns, "nginx-svc", hosts, &HTTP, &HTTP, GATEWAY);
    let mut expected = vec!["nginx-svc-west".to_owned()];
    expected.extend(hosts.iter().map(|h| format!("{h}-west")));
    expected.sort();
    assert_eq!(w.owned_names(ns), (expected.clone(), expected));
}

/// `seed-walkthrough`: west's headless `default/nginx-svc` (80/TCP) with `nginx-set-0..2` →
/// `nginx-svc-west` (None), `nginx-set-{0,1,2}-west` (ClusterIPs from the source's CIDR), root
/// Endpoints hostname → those IPs, each endpoint mirror's Endpoints → the gateway.
async fn seed_walkthrough(w: &mut World) {
    w.start().await;
    // The Service alone: a headless export waits for its Endpoints (SPEC §6.3).
    let outcome = w.put_service(nginx("default")).await;
    assert_eq!(outcome.writes, 0);
    assert_eq!(w.owned_names("default"), (vec![], vec![]));
    let outcome = w.put_endpoints(nginx_endpoints("default", 3)).await;
    assert!(outcome.complete, "{outcome:?}");
    if !w.faulty() {
        // Create everything, point the root Endpoints at the allocated IPs, verify.
        assert_eq!(outcome.passes, 3, "{outcome:?}");
        assert_eq!(
            outcome.writes, 9,
            "8 creates and one update of the root Endpoints"
        );
    }
    assert_seed_mirrored(w, "default", &SEED_HOSTS);
    let root = w.service("default", "nginx-svc-west").expect("root");
    assert_eq!(
        root.metadata
            .annotations
            .get("mirror.linkerd.io/remote-svc-fq-name")
            .map(String::as_str),
        Some("nginx-svc.default.svc.cluster.local")
    );
    assert!(
        !root
            .metadata
            .labels
            .contains_key("mirror.linkerd.io/exported")
    );
}

/// `scale-up`: a fourth pod ⇒ its endpoint mirror is created and the root lists it; nothing goes.
async fn scale_up(w: &mut World) {
    w.start().await;
    w.seed("default").await;
    let deletes = w.driver.stats().deletes;
    w.put_endpoints(nginx_endpoints("default", 4)).await;
    assert_seed_mirrored(
        w,
        "default",
        &["nginx-set-0", "nginx-set-1", "nginx-set-2", "nginx-set-3"],
    );
    assert_eq!(
        w.driver.stats().deletes,
        deletes,
        "scale-up deletes nothing"
    );
}

/// `scale-down`: the last pod gone ⇒ its endpoint mirror (Service and Endpoints) deleted and
/// removed from the root.
async fn scale_down(w: &mut World) {
    w.start().await;
    w.seed("default").await;
    w.put_endpoints(nginx_endpoints("default", 2)).await;
    assert_seed_mirrored(w, "default", &["nginx-set-0", "nginx-set-1"]);
    assert!(w.service("default", "nginx-set-2-west").is_none());
    assert!(w.endpoints_of("default", "nginx-set-2-west").is_none());
}

/// `hostname-renamed`: a pod's hostname changes ⇒ the old endpoint mirror goes, a new one comes.
async fn hostname_renamed(w: &mut World) {
    w.start().await;
    w.seed("default").await;
    let renamed = endpoints(
        "default",
        "nginx-svc",
        &[
            ("nginx-set-0", "10.42.0.31"),
            ("nginx-set-1", "10.42.0.32"),
            ("web-2", "10.42.0.33"),
        ],
        &HTTP,
    );
    w.put_endpoints(renamed).await;
    assert_seed_mirrored(w, "default", &["nginx-set-0", "nginx-set-1", "web-2"]);
}

/// `ports-changed`: the exported Service's ports change ⇒ the root AND every endpoint mirror are
/// updated at once (Linkerd never refreshes endpoint mirrors); the root Endpoints follow the
/// target Endpoints' ports.
async fn ports_changed(w: &mut World) {
    w.start().await;
    w.seed("default").await;
    let new_ports = [("admin", 9090), ("http", 8080)];
    w.put_service(exported("default", "nginx-svc", true, &new_ports))
        .await;
    // Before the target's Endpoints change, every Service already has the new ports; the root
    // Endpoints still carry the target's (old) subset ports, as SPEC §6.6 says.
    assert_headless_mirror(
        w,
        "default",
        "nginx-svc",
        &SEED_HOSTS,
        &new_ports,
        &HTTP,
        GATEWAY,
    );
    let mut ep = nginx_endpoints("default", 3);
    ep.subsets[0].ports = endpoints("default", "x", &[], &new_ports).subsets[0]
        .ports
        .clone();
    w.put_endpoints(ep).await;
    assert_headless_mirror(
        w,
        "default",
        "nginx-svc",
        &SEED_HOSTS,
        &new_ports,
        &new_ports,
        GATEWAY,
    );
}

/// `clusterip-to-headless`: the export becomes headless (re-created in the target; the watch
/// reports only the new object) ⇒ the mirror is deleted and re-created headless, endpoint mirrors
/// appear.
async fn clusterip_to_headless(w: &mut World) {
    w.start().await;
    w.put_service(exported("default", "nginx-svc", false, &HTTP))
        .await;
    w.put_endpoints(nginx_endpoints("default", 3)).await;
    assert_clusterip_mirror(w, "default", "nginx-svc", &HTTP, GATEWAY);
    assert_eq!(
        w.owned_names("default"),
        (names(&["nginx-svc-west"]), names(&["nginx-svc-west"]))
    );
    w.put_service(nginx("default")).await;
    assert_seed_mirrored(w, "default", &SEED_HOSTS);
}

/// `headless-to-clusterip`: the reverse ⇒ endpoint mirrors deleted, the mirror re-created as
/// ClusterIP pointing at the gateway.
async fn headless_to_clusterip(w: &mut World) {
    w.start().await;
    w.seed("default").await;
    w.put_service(exported("default", "nginx-svc", false, &HTTP))
        .await;
    assert_clusterip_mirror(w, "default", "nginx-svc", &HTTP, GATEWAY);
    assert_eq!(
        w.owned_names("default"),
        (names(&["nginx-svc-west"]), names(&["nginx-svc-west"]))
    );
}

/// `unexport`: the selector no longer matches ⇒ every object of that export deleted.
async fn unexport(w: &mut World) {
    w.start().await;
    w.seed("default").await;
    let mut svc = nginx("default");
    svc.metadata.labels.remove("mirror.linkerd.io/exported");
    w.put_service(svc).await;
    assert_eq!(w.owned_names("default"), (vec![], vec![]));
}

/// `target-deleted`: the exported Service (then its Endpoints) deleted ⇒ everything deleted.
async fn target_deleted(w: &mut World) {
    w.start().await;
    w.seed("default").await;
    w.delete_service("default", "nginx-svc").await;
    assert_eq!(w.owned_names("default"), (vec![], vec![]));
    w.delete_endpoints("default", "nginx-svc").await;
    assert_eq!(w.owned_names("default"), (vec![], vec![]));
}

/// `gateway-changed`: a new gateway address and port ⇒ every mirror Endpoints of the link updated
/// (endpoint mirrors and ClusterIP mirrors); the root Endpoints (cluster IPs) stay.
async fn gateway_changed(w: &mut World) {
    w.start().await;
    w.seed("default").await;
    w.put_service(exported("default", "web", false, &HTTP))
        .await;
    w.put_endpoints(endpoints("default", "web", &[("", "10.42.0.50")], &HTTP))
        .await;
    let root_before = w.endpoints_of("default", "nginx-svc-west").expect("root");
    let new_link = svcmirror_core::Link::builder("west")
        .gateway_addresses([ip("172.18.0.5"), ip("172.18.0.6")])
        .enable_headless_services(true)
        .build()
        .expect("link");
    w.link = new_link.clone();
    let outcome = w.driver.set_link(new_link).await;
    if !w.faulty() {
        assert!(outcome.complete);
        assert_eq!(
            outcome.writes, 4,
            "three endpoint mirror Endpoints and web-west's"
        );
    }
    let outcome = w.resync().await; // (a no-op when converged; finishes a faulty run)
    assert!(outcome.complete, "{outcome:?}");
    for name in [
        "nginx-set-0-west",
        "nginx-set-1-west",
        "nginx-set-2-west",
        "web-west",
    ] {
        let ep = w.endpoints_of("default", name).expect("endpoints");
        let ips: Vec<&str> = ep.subsets[0]
            .addresses
            .iter()
            .map(|a| a.ip.as_str())
            .collect();
        assert_eq!(ips, ["172.18.0.5", "172.18.0.6"], "{name}");
    }
    let root_after = w.endpoints_of("default", "nginx-svc-west").expect("root");
    assert_eq!(root_after.subsets, root_before.subsets);
}

/// `namespace-missing-then-created`: an export whose namespace the source lacks is skipped with
/// `NamespaceMissing`; once the namespace exists, the next resync mirrors it.
async fn namespace_missing_then_created(w: &mut World) {
    w.start().await;
    w.put_service(exported("apps", "api", false, &HTTP)).await;
    w.put_endpoints(endpoints("apps", "api", &[("", "10.42.1.10")], &HTTP))
        .await;
    assert!(w.service("apps", "api-west").is_none());
    assert!(
        w.driver
            .diagnostics()
            .iter()
            .any(|d| d.reason == Reason::NamespaceMissing && d.object == key("apps", "api")),
        "{:#?}",
        w.driver.diagnostics()
    );
    w.admin(&[(Kind::Namespace, key("", "apps"))], |source| {
        source
            .create(Object::Namespace(Namespace::new("apps")))
            .expect("namespace");
    });
    w.resync().await;
    assert_clusterip_mirror(w, "apps", "api", &HTTP, GATEWAY);
    assert!(
        !w.driver
            .diagnostics()
            .iter()
            .any(|d| d.reason == Reason::NamespaceMissing)
    );
}

/// `restart-with-mirrors-in-place`: a new driver over an already converged source writes nothing
/// and deletes nothing (linkerd#12499 deleted endpoint mirrors on restart).
async fn restart_with_mirrors_in_place(w: &mut World) {
    w.start().await;
    w.seed("default").await;
    w.seed("other").await;
    w.put_service(exported("default", "web", false, &HTTP))
        .await;
    w.put_endpoints(endpoints("default", "web", &[("", "10.42.0.50")], &HTTP))
        .await;
    let rv = w.source.lock().resource_version();
    let before = w.source_state();
    w.driver = Driver::new(
        w.link.clone(),
        w.source.clone(),
        w.target.clone(),
        w.clock.clone(),
    );
    let outcome = w.driver.resync().await.expect("list");
    assert!(outcome.complete, "{outcome:?}");
    assert_eq!(outcome.writes, 0);
    assert_eq!(w.driver.stats().writes, 0);
    assert_eq!(w.driver.stats().deletes, 0);
    assert_eq!(
        w.source.lock().resource_version(),
        rv,
        "the source was written"
    );
    assert_eq!(w.source_state(), before);
    // A restart reported by the watch (a relist) is the same.
    let target = w.target.lock().target_state();
    let outcome = w.handle(TargetEvent::Restarted(target)).await;
    assert_eq!(outcome.writes, 0);
    assert_eq!(w.source.lock().resource_version(), rv);
}

/// `foreign-object-same-name`: an endpoint mirror's name is taken by a Service (and Endpoints) we
/// do not own ⇒ `NameConflict`, both left alone, that hostname left out of the root, the rest
/// mirrored. Once the foreign object goes, the next resync mirrors the pod.
async fn foreign_object_same_name(w: &mut World) {
    let mut foreign = exported("default", "nginx-set-1-west", false, &[("pg", 5432)]);
    foreign.metadata.labels.clear();
    foreign.spec.selector = Some([("app".to_owned(), "postgres".to_owned())].into());
    w.seed_foreign(Object::Service(foreign));
    w.seed_foreign(Object::Endpoints(endpoints(
        "default",
        "nginx-set-1-west",
        &[("", "10.42.9.9")],
        &[("pg", 5432)],
    )));
    let foreign_before = (
        w.service("default", "nginx-set-1-west"),
        w.endpoints_of("default", "nginx-set-1-west"),
    );
    w.start().await;
    w.seed("default").await;
    assert!(
        w.driver
            .diagnostics()
            .iter()
            .any(|d| d.reason == Reason::NameConflict
                && d.object == key("default", "nginx-set-1-west")),
        "{:#?}",
        w.driver.diagnostics()
    );
    assert_headless_mirror(
        w,
        "default",
        "nginx-svc",
        &["nginx-set-0", "nginx-set-2"],
        &HTTP,
        &HTTP,
        GATEWAY,
    );
    assert_eq!(
        (
            w.service("default", "nginx-set-1-west"),
            w.endpoints_of("default", "nginx-set-1-west")
        ),
        foreign_before,
        "the foreign objects were touched"
    );
    // Scaling down does not touch them either.
    w.put_endpoints(nginx_endpoints("default", 2)).await;
    assert_headless_mirror(
        w,
        "default",
        "nginx-svc",
        &["nginx-set-0"],
        &HTTP,
        &HTTP,
        GATEWAY,
    );
    assert!(w.service("default", "nginx-set-1-west").is_some());
    w.put_endpoints(nginx_endpoints("default", 3)).await;

    // The owner removes them; the next resync takes the name.
    w.admin(
        &[
            (Kind::Service, key("default", "nginx-set-1-west")),
            (Kind::Endpoints, key("default", "nginx-set-1-west")),
        ],
        |source| {
            for kind in [Kind::Endpoints, Kind::Service] {
                source
                    .delete(
                        kind,
                        &key("default", "nginx-set-1-west"),
                        &Default::default(),
                    )
                    .expect("delete");
            }
        },
    );
    w.foreign.clear();
    w.resync().await;
    assert_seed_mirrored(w, "default", &SEED_HOSTS);
    assert!(
        !w.driver
            .diagnostics()
            .iter()
            .any(|d| d.reason == Reason::NameConflict)
    );
}

/// `other-link-untouched`: another link's mirrors (cluster `east`), even ones naming the same
/// export, survive every change of ours, un-export and link removal included.
async fn other_link_untouched(w: &mut World) {
    let fq = "nginx-svc.default.svc.cluster.local";
    for name in ["nginx-svc-east", "nginx-set-0-east"] {
        let (svc, ep) = mirror_of_link("east", "default", name, fq);
        w.seed_foreign(Object::Service(svc));
        w.seed_foreign(Object::Endpoints(ep));
    }
    let before = w.source_state();
    w.start().await;
    w.seed("default").await;
    w.put_endpoints(nginx_endpoints("default", 1)).await;
    let mut svc = nginx("default");
    svc.metadata.labels.remove("mirror.linkerd.io/exported");
    w.put_service(svc).await;
    assert_eq!(w.owned_names("default"), (vec![], vec![]));
    w.put_service(nginx("default")).await;
    assert_seed_mirrored(w, "default", &["nginx-set-0"]);
    let outcome = w.driver.remove_all().await;
    if !w.faulty() {
        assert!(outcome.complete);
    }
    let outcome = w.driver.remove_all().await; // finishes a faulty run
    assert!(outcome.complete, "{outcome:?}");
    assert_eq!(w.owned_names("default"), (vec![], vec![]));
    assert_eq!(normalized(&w.source_state()), normalized(&before));
    // Put ours back so the case ends converged.
    w.resync().await;
    assert_seed_mirrored(w, "default", &["nginx-set-0"]);
}

/// `other-namespace-untouched`: the same headless export in two namespaces gives same-named
/// mirrors in each; changing and un-exporting one leaves the other's alone (linkerd#15200).
async fn other_namespace_untouched(w: &mut World) {
    w.start().await;
    w.seed("default").await;
    w.seed("other").await;
    assert_seed_mirrored(w, "other", &SEED_HOSTS);
    let other_before: Vec<Service> = w
        .source_state()
        .services
        .into_iter()
        .filter(|s| s.metadata.namespace() == "other")
        .collect();
    w.put_endpoints(nginx_endpoints("default", 1)).await;
    assert_seed_mirrored(w, "default", &["nginx-set-0"]);
    w.delete_service("default", "nginx-svc").await;
    assert_eq!(w.owned_names("default"), (vec![], vec![]));
    assert_seed_mirrored(w, "other", &SEED_HOSTS);
    let other_after: Vec<Service> = w
        .source_state()
        .services
        .into_iter()
        .filter(|s| s.metadata.namespace() == "other")
        .collect();
    assert_eq!(other_after, other_before);
}
