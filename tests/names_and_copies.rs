//! Issue 14, trust boundaries — what the target cluster can do to the source through names and
//! copied metadata: take over a live mirror's name (SPEC §7 sticky names), squat a name across
//! links whose cluster names end alike, steer the source's controllers with copied labels and
//! annotations (SPEC §4 copy deny-list), and rewrite every endpoint mirror on one pod's change
//! (SPEC §4, O(changed) writes). Each test reproduces the attack.

mod common;

use common::*;
use svcmirror::labels::{
    CLUSTER_NAME, MIRRORED_SERVICE, REMOTE_RESOURCE_VERSION, REMOTE_SVC_FQ_NAME,
};
use svcmirror::model::{EndpointAddress, Object};
use svcmirror::{
    EndpointsApi, ObjectKey, Operation, Reason, SourceState, TargetState, plan, translate,
};

fn key(ns: &str, name: &str) -> ObjectKey {
    ObjectKey::new(ns, name)
}

fn fq_name(source: &SourceState, name: &str) -> Option<String> {
    source
        .service(&key("default", name))?
        .metadata
        .annotations
        .get(REMOTE_SVC_FQ_NAME)
        .cloned()
}

/// A headless export of `name` in `default` whose ready pods have these hostnames.
fn headless(name: &str, hostnames: &[(&str, &str)]) -> (svcmirror::Service, svcmirror::Endpoints) {
    let ready: Vec<EndpointAddress> = hostnames
        .iter()
        .map(|(ip, host)| addr(ip, Some(host)))
        .collect();
    (
        svc("default", name)
            .headless()
            .exported()
            .port("http", 80)
            .build(),
        eps("default", name)
            .subset(ready, vec![], vec![eport("http", 80)])
            .build(),
    )
}

fn target_of(exports: Vec<(svcmirror::Service, svcmirror::Endpoints)>) -> TargetState {
    let (services, endpoints) = exports.into_iter().unzip();
    TargetState::new(services, endpoints)
}

/// Issue 14 attack "a live mirror can be taken over": `default/web` is mirrored and live
/// (`web-west`, ours, serving `web.default.svc.cluster.local`); a new export `default/aaa` whose
/// pod has hostname `web` — first in (namespace, name) order — must not take `web-west`. SPEC §7
/// sticky names: it gets `NameConflict` naming the holder, and `web-west` keeps serving `web`.
#[test]
fn sticky_names_a_newcomer_cannot_take_a_live_mirror() {
    let link = link();
    let mut f = fake();
    let web = headless("web", &[("10.42.0.31", "web-0")]);
    converge(&link, &target_of(vec![web.clone()]), &mut f);
    let live = f.state();
    assert_eq!(
        fq_name(&live, "web-west").as_deref(),
        Some("web.default.svc.cluster.local")
    );

    let attack = target_of(vec![headless("aaa", &[("10.42.0.66", "web")]), web]);
    let translation = translate(&link, &attack, &live);
    let first = plan(&link, &translation.desired, &live);
    assert!(
        !first
            .operations
            .iter()
            .any(|op| op.key() == key("default", "web-west")),
        "web-west is touched: {:#?}",
        first.operations
    );
    let conflict = translation
        .diagnostics
        .iter()
        .find(|d| d.reason == Reason::NameConflict && d.object == key("default", "web-west"))
        .expect("NameConflict for web-west");
    assert!(
        conflict.message.contains("default/web") && conflict.message.contains("default/aaa"),
        "{conflict}"
    );
    assert!(
        translation.export_diagnostics[&key("default", "aaa")].contains(conflict),
        "the conflict is reported on the newcomer"
    );

    let c = converge(&link, &attack, &mut f);
    assert_eq!(
        fq_name(&c.source, "web-west").as_deref(),
        Some("web.default.svc.cluster.local")
    );
    assert_eq!(
        fq_name(&c.source, "aaa-west").as_deref(),
        Some("aaa.default.svc.cluster.local"),
        "the newcomer is mirrored, without the name it cannot have"
    );
}

/// SPEC §7 sticky names, release: once `default/web` is no longer exported, its name goes to the
/// newcomer in the same reconcile — re-created (`Reassigned`), never updated in place, so the
/// live mirror never changes the export it serves — and the change converges in two passes.
#[test]
fn sticky_names_a_released_name_is_recreated_for_the_newcomer() {
    let link = link();
    let mut f = fake();
    // A ClusterIP export, so that the name changes export without changing type.
    let web = (
        svc("default", "web").exported().port("http", 80).build(),
        eps("default", "web")
            .subset(
                vec![addr("10.42.0.31", None)],
                vec![],
                vec![eport("http", 80)],
            )
            .build(),
    );
    let aaa = headless("aaa", &[("10.42.0.66", "web")]);
    converge(&link, &target_of(vec![web.clone()]), &mut f);
    converge(&link, &target_of(vec![aaa.clone(), web]), &mut f);
    let held = f.state();

    let after = target_of(vec![aaa]);
    let first = plan(&link, &translate(&link, &after, &held).desired, &held);
    let position = |wanted: &dyn Fn(&Operation) -> bool| first.operations.iter().position(wanted);
    let deleted = position(&|op| {
        matches!(op, Operation::Delete { key: k, reason: svcmirror::DeleteReason::Reassigned, .. }
            if *k == key("default", "web-west"))
    })
    .expect("web-west is deleted to be re-created");
    let created = position(&|op| {
        matches!(op, Operation::Create { object: Object::Service(s) } if s.metadata.name == "web-west")
    })
    .expect("and created for aaa");
    assert!(deleted < created);
    assert!(
        !first
            .operations
            .iter()
            .any(|op| matches!(op, Operation::Update { .. }) && op.key().name == "web-west"),
        "{:#?}",
        first.operations
    );
    let c = converge(&link, &after, &mut f);
    assert!(c.passes <= 2, "{} passes", c.passes);
    assert_eq!(
        fq_name(&c.source, "web-west").as_deref(),
        Some("web.aaa.default.svc.cluster.local")
    );
}

/// Issue 14 attack "labels that steer other controllers are copied": every steering key of SPEC
/// §4's copy deny-list, set on an export by the target, is absent from every mirror object
/// (Service, Endpoints, EndpointSlice; root, endpoint mirror and ClusterIP mirror), whatever the
/// link's exclusions say — and `config.linkerd.io/opaque-ports` is still copied.
#[test]
fn copy_deny_list_steering_keys_never_reach_a_mirror() {
    const STEERING: [&str; 12] = [
        "mirror.linkerd.io/cluster-name",
        "mirror.linkerd.io/remote-svc-fq-name",
        "multicluster.linkerd.io/remote-discovery",
        "multicluster.linkerd.io/remote-service",
        "service.kubernetes.io/service-proxy-name",
        "service.kubernetes.io/headless",
        "endpointslice.kubernetes.io/skip-mirror",
        "endpointslice.kubernetes.io/managed-by",
        "kubernetes.io/service-name",
        "kubectl.kubernetes.io/last-applied-configuration",
        "app.kubernetes.io/managed-by",
        "meta.helm.sh/release-name",
    ];
    let taint = |mut s: Svc| {
        for k in STEERING {
            s = s.label(k, "attacker").annotation(k, "attacker");
        }
        s.annotation("config.linkerd.io/opaque-ports", "80")
    };
    let mut target = seed_target();
    target.services[0] = taint(
        svc("default", "nginx-svc")
            .headless()
            .exported()
            .port("http", 80),
    )
    .build();
    target
        .services
        .push(taint(svc("default", "web").exported().port("http", 80)).build());
    target.endpoints.push(
        eps("default", "web")
            .subset(
                vec![addr("10.42.1.5", None)],
                vec![],
                vec![eport("http", 80)],
            )
            .build(),
    );
    for api in [EndpointsApi::Endpoints, EndpointsApi::Both] {
        let link = west().endpoints_api(api).build().expect("link");
        let mut f = fake();
        let c = converge(&link, &target, &mut f);
        let objects = c.source.objects();
        assert!(objects.len() > 8, "{} objects", objects.len());
        for object in &objects {
            let meta = match object {
                Object::Service(o) => &o.metadata,
                Object::Endpoints(o) => &o.metadata,
                Object::EndpointSlice(o) => &o.metadata,
                _ => continue,
            };
            for k in STEERING {
                for (what, map) in [("label", &meta.labels), ("annotation", &meta.annotations)] {
                    assert_ne!(
                        map.get(k).map(String::as_str),
                        Some("attacker"),
                        "{api:?}: {what} {k} copied onto {} {}",
                        object.kind(),
                        object.key()
                    );
                }
            }
        }
        let web = c
            .source
            .service(&key("default", "web-west"))
            .expect("mirror");
        assert_eq!(
            web.metadata
                .annotations
                .get("config.linkerd.io/opaque-ports")
                .map(String::as_str),
            Some("80")
        );
    }
}

/// Issue 14 attack "cluster names that are suffixes of each other squat names": on a source
/// linked to `us-west` and `west`, us-west's `payments` holds `payments-us-west`; west's
/// `payments-us` wants that name too. Its `NameConflict` names the other link and its export.
#[test]
fn cross_link_names_conflict_names_the_other_link() {
    let link = link();
    let mut f = fake();
    let mut theirs = svc("default", "payments-us-west")
        .port("http", 80)
        .label(MIRRORED_SERVICE, "true")
        .label(CLUSTER_NAME, "us-west")
        .annotation(REMOTE_SVC_FQ_NAME, "payments.default.svc.cluster.local")
        .build();
    theirs.metadata.resource_version = None;
    theirs.spec.cluster_ip = None;
    f.create(Object::Service(theirs)).expect("create");
    let target = TargetState::new(
        vec![
            svc("default", "payments-us")
                .exported()
                .port("http", 80)
                .build(),
        ],
        vec![],
    );
    let t = translate(&link, &target, &f.state());
    let conflict = t
        .diagnostics
        .iter()
        .find(|d| d.reason == Reason::NameConflict)
        .expect("NameConflict");
    assert_eq!(conflict.object, key("default", "payments-us-west"));
    assert!(
        conflict
            .message
            .contains("held by link `us-west`'s mirror of default/payments"),
        "{conflict}"
    );
    let names: Vec<svcmirror::ClusterName> = ["west", "us-west"]
        .iter()
        .map(|n| n.parse().expect("cluster name"))
        .collect();
    let warnings = svcmirror::cluster_name_overlaps(&names);
    assert_eq!(warnings.len(), 1, "{warnings:#?}");
    assert!(warnings[0].message.contains("`<name>-us` of `west`"));
}

/// Issue 14 attack "write amplification" (SPEC §4, endpoint mirror `remote-resource-version`):
/// an export with 1 000 named pods, converged; one pod's IP changes, and with it the target
/// Endpoints' resourceVersion. The plan is O(1), not 2 001 updates: the endpoint mirrors keep the
/// resourceVersion they were created with.
#[test]
fn one_pod_change_in_a_large_export_plans_o1_writes() {
    // Room for the 1 001st pod below (SPEC §8: 1 000 endpoint mirrors per export by default).
    let mut limits = svcmirror::Limits::default();
    limits.endpoint_mirrors_per_export = 2000;
    let link = west().limits(limits).build().expect("link");
    let mut f = fake();
    let pods = 1000;
    let ready = |changed: bool| -> Vec<EndpointAddress> {
        (0..pods)
            .map(|i| {
                let ip = if changed && i == 7 {
                    "10.43.0.7".to_owned()
                } else {
                    format!("10.42.{}.{}", i / 250, i % 250)
                };
                addr(&ip, Some(&format!("pod-{i}")))
            })
            .collect()
    };
    let target = |changed: bool, rv: &str| {
        TargetState::new(
            vec![
                svc("default", "big")
                    .headless()
                    .exported()
                    .port("http", 80)
                    .build(),
            ],
            vec![
                eps("default", "big")
                    .subset(ready(changed), vec![], vec![eport("http", 80)])
                    .version(rv)
                    .build(),
            ],
        )
    };
    converge(&link, &target(false, "2000"), &mut f);
    let source = f.state();
    let p = plan(
        &link,
        &translate(&link, &target(true, "2001"), &source).desired,
        &source,
    );
    assert!(p.operations.len() <= 2, "{} operations", p.operations.len());
    // One pod more: its endpoint mirror Service and Endpoints, then the root's one update.
    let mut grown = target(true, "2002");
    grown.endpoints[0].subsets[0]
        .addresses
        .push(addr("10.43.0.8", Some("pod-1000")));
    let c = converge(&link, &grown, &mut f);
    let sizes: Vec<usize> = c.plans.iter().map(|p| p.operations.len()).collect();
    assert_eq!(sizes, [2, 1], "{:#?}", c.plans);
    let pod = source
        .service(&key("default", "pod-7-west"))
        .expect("endpoint mirror");
    assert_eq!(
        pod.metadata
            .annotations
            .get(REMOTE_RESOURCE_VERSION)
            .map(String::as_str),
        Some("2000"),
        "set when the endpoint mirror was created"
    );
}

/// The takeover attack through the reconcile driver's per-export path (`svcmirror run`): the
/// newcomer's events alone must not repurpose `web-west` either (the driver's scope sees a name
/// held by another export's mirror and reconciles the whole link, where sticky names decide).
#[tokio::test]
async fn sticky_names_hold_through_the_drivers_events() {
    use svcmirror_backend::{Driver, TargetEvent, TokioClock};
    use svcmirror_fake::{FakeCluster, FakeHandle};

    let source = FakeHandle::new(fake());
    let mut west = FakeCluster::default();
    let (web_svc, web_ep) = headless("web", &[("10.42.0.31", "web-0")]);
    for object in [Object::Service(web_svc), Object::Endpoints(web_ep)] {
        let mut object = object;
        match &mut object {
            Object::Service(s) => s.metadata.resource_version = None,
            Object::Endpoints(e) => e.metadata.resource_version = None,
            _ => {}
        }
        west.create(object).expect("target object");
    }
    let target = FakeHandle::new(west);
    let mut driver = Driver::new(link(), source.clone(), target.clone(), TokioClock);
    assert!(driver.resync().await.expect("lists").complete);
    assert_eq!(
        fq_name(&source.lock().state(), "web-west").as_deref(),
        Some("web.default.svc.cluster.local")
    );

    let (mut aaa_svc, mut aaa_ep) = headless("aaa", &[("10.42.0.66", "web")]);
    aaa_svc.metadata.resource_version = None;
    aaa_ep.metadata.resource_version = None;
    let Object::Service(aaa_svc) = target.lock().create(Object::Service(aaa_svc)).expect("svc")
    else {
        unreachable!("a Service was created")
    };
    let Object::Endpoints(aaa_ep) = target.lock().create(Object::Endpoints(aaa_ep)).expect("ep")
    else {
        unreachable!("an Endpoints was created")
    };
    driver.handle(TargetEvent::ServiceApplied(aaa_svc)).await;
    driver.handle(TargetEvent::EndpointsApplied(aaa_ep)).await;
    driver.resync().await.expect("lists");
    let state = source.lock().state();
    assert_eq!(
        fq_name(&state, "web-west").as_deref(),
        Some("web.default.svc.cluster.local")
    );
    assert_eq!(
        fq_name(&state, "aaa-west").as_deref(),
        Some("aaa.default.svc.cluster.local")
    );
}

/// SPEC §3 collision detection in a translation: the headless export `default/web` whose pod has
/// hostname `web` wants `web-west` twice — for its root mirror and for that pod's endpoint
/// mirror. The later claim (the endpoint mirror) is a `NameConflict` naming the earlier one; the
/// objects are not merged, and the root's Endpoints do not name the pod that has no mirror.
#[test]
fn collision_two_desired_objects_with_one_name_are_a_conflict() {
    let link = link();
    let mut f = fake();
    let target = target_of(vec![headless(
        "web",
        &[("10.42.0.31", "web"), ("10.42.0.32", "web-1")],
    )]);
    let c = converge(&link, &target, &mut f);
    let conflict = c
        .diagnostics
        .iter()
        .find(|d| d.reason == Reason::NameConflict)
        .expect("NameConflict");
    assert_eq!(conflict.object, key("default", "web-west"));
    assert!(
        conflict.message.contains("pod web of default/web")
            && conflict
                .message
                .contains("already uses it, for default/web"),
        "{conflict}"
    );
    let root = c.source.service(&key("default", "web-west")).expect("root");
    assert_eq!(
        root.spec.cluster_ip.as_deref(),
        Some("None"),
        "the root kept it"
    );
    let root_ep = c
        .source
        .endpoints_at(&key("default", "web-west"))
        .expect("root Endpoints");
    let hostnames: Vec<_> = root_ep
        .subsets
        .iter()
        .flat_map(|s| &s.addresses)
        .filter_map(|a| a.hostname.as_deref())
        .collect();
    assert_eq!(hostnames, ["web-1"]);
}
