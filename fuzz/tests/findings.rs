//! The findings of the fuzz targets (fuzz/README.md, "Findings"), each as the smallest input
//! that shows it, written with plain core objects and run through the shared invariants of
//! `svcmirror-testkit` — the same checks the targets run. A finding fixed on another branch is
//! `#[ignore]`d until that branch is merged; un-ignore it then.

use svcmirror_core::model::{
    EndpointAddress, EndpointPort, EndpointSubset, Endpoints, IntOrString, Service, ServicePort,
};
use svcmirror_core::{EndpointsApi, Link, LinkBuilder, TargetState};
use svcmirror_fake::FakeCluster;
use svcmirror_testkit::{CONTRACT_PASSES, Checks, Step, converge, incremental_equals_whole_link};

fn west() -> LinkBuilder {
    Link::builder("west")
        .gateway_address([172, 18, 0, 4].into())
        .enable_headless_services(true)
}

fn exported(name: &str, headless: bool, ports: &[(&str, i32)]) -> Service {
    let mut s = Service::new("default", name);
    s.metadata
        .labels
        .insert("mirror.linkerd.io/exported".into(), "true".into());
    if headless {
        s.spec.cluster_ip = Some("None".into());
    }
    s.spec.ports = ports
        .iter()
        .map(|(n, p)| ServicePort {
            name: Some((*n).into()),
            protocol: Some("TCP".into()),
            port: *p,
            target_port: Some(IntOrString::Int(*p)),
            ..ServicePort::default()
        })
        .collect();
    s
}

fn endpoints(name: &str, ready: &[(Option<&str>, &str)], ports: &[(&str, i32)]) -> Endpoints {
    let mut e = Endpoints::new("default", name);
    e.subsets = vec![EndpointSubset {
        addresses: ready
            .iter()
            .map(|(h, ip)| EndpointAddress {
                ip: (*ip).into(),
                hostname: h.map(str::to_owned),
                ..EndpointAddress::default()
            })
            .collect(),
        not_ready_addresses: vec![],
        ports: ports
            .iter()
            .map(|(n, p)| EndpointPort {
                name: Some((*n).into()),
                port: *p,
                protocol: Some("TCP".into()),
                app_protocol: None,
            })
            .collect(),
    }];
    e
}

fn source() -> FakeCluster {
    FakeCluster::default()
}

/// F8 (issue 14, "a live mirror can be taken over"; SPEC §7 sticky names): export `default/web`
/// holds `web-west`; a new headless export `default/aaa` whose pod is called `web` wants
/// `web-west` for its endpoint mirror and, first in (namespace, name) order, gets it: the
/// whole-link plan updates `web-west`'s `remote-svc-fq-name` to `web.aaa.default.svc…`.
#[test]
fn finding_f8_a_newcomer_hostname_never_takes_a_live_mirror() {
    let link = west().build().expect("link");
    let web = exported("web", false, &[("http", 80)]);
    let web_eps = endpoints("web", &[(None, "10.42.0.1")], &[("http", 80)]);
    let aaa = exported("aaa", true, &[("http", 80)]);
    let aaa_eps = endpoints("aaa", &[(Some("web"), "10.42.0.2")], &[("http", 80)]);

    // The whole link, from the state where `web` is mirrored.
    let mut fake = source();
    let before = TargetState::new(vec![web.clone()], vec![web_eps.clone()]);
    converge(&link, &before, &mut fake, CONTRACT_PASSES).expect("web alone converges");
    let after = TargetState::new(vec![web.clone(), aaa.clone()], vec![web_eps.clone(), aaa_eps.clone()]);
    let whole = converge(&link, &after, &mut fake, CONTRACT_PASSES);
    assert!(whole.is_ok(), "{}", whole.unwrap_err());

    // The driver, event by event (what the `reconcile` target runs).
    let steps = [
        Step::ApplyService(web),
        Step::ApplyEndpoints(web_eps),
        Step::ApplyService(aaa),
        Step::ApplyEndpoints(aaa_eps),
    ];
    let driven = incremental_equals_whole_link(&link, source(), source(), &steps, &Checks::all());
    assert!(driven.is_ok(), "{}", driven.unwrap_err());
}

/// F9 (issue 14, "one bad export fails the whole link"; SPEC §8): two Endpoints ports with one
/// name and different numbers are copied into the mirror's EndpointSlice, which the API server
/// (and the fake) refuses: the link never converges. Expected: that export's diagnostic, the
/// rest converges.
#[test]
fn finding_f9_duplicate_port_names_never_make_a_refused_slice() {
    let link = west()
        .endpoints_api(EndpointsApi::Slices)
        .build()
        .expect("link");
    let target = TargetState::new(vec![exported("web", true, &[("http", 80)])], vec![endpoints(
            "web",
            &[(Some("web-0"), "10.42.0.1")],
            &[("http", 80), ("http", 81)],
        )]);
    let r = converge(&link, &target, &mut source(), CONTRACT_PASSES);
    assert!(r.is_ok(), "{}", r.unwrap_err());
}

/// F10 (issue 14, "labels that steer other controllers are copied"; SPEC §4 copy deny-list):
/// `service.kubernetes.io/service-proxy-name` on the exported Service reaches the mirror (so
/// kube-proxy ignores it), as do the other deny-listed keys.
#[test]
fn finding_f10_steering_labels_are_never_copied() {
    let link = west().build().expect("link");
    let mut web = exported("web", false, &[("http", 80)]);
    web.metadata.labels.insert(
        "service.kubernetes.io/service-proxy-name".into(),
        svcmirror_testkit::STEERING_MARKER.into(),
    );
    web.metadata.annotations.insert(
        "endpointslice.kubernetes.io/managed-by".into(),
        svcmirror_testkit::STEERING_MARKER.into(),
    );
    let target = TargetState::new(vec![web], vec![endpoints("web", &[(None, "10.42.0.1")], &[("http", 80)])]);
    let r = converge(&link, &target, &mut source(), CONTRACT_PASSES);
    assert!(r.is_ok(), "{}", r.unwrap_err());
}

/// F15 (SPEC §7 sticky names, "a released name goes to the export that was denied it"): headless
/// exports `aaa` (pods `a`, `web-0`) and `nginx-svc` (pod `a`) both want `a-west`; `aaa` holds
/// it, so `nginx-svc`'s pod is denied (NameConflict). A later one-export reconcile of `aaa` (its
/// Service re-applied) touches the name `a-west` and, before the fix, dropped the record of
/// `nginx-svc`'s denial; when `aaa` then loses pod `a`, its reconcile deletes `a-west` and
/// nobody hands the freed name to `nginx-svc`: its root Endpoints stay without hostname `a`
/// until the next resync, while a whole-link reconcile gives it the name at once.
#[test]
fn finding_f15_a_freed_name_reaches_the_export_denied_it() {
    let link = west().build().expect("link");
    let ports = [("http", 80)];
    let aaa = exported("aaa", true, &ports);
    let nginx = exported("nginx-svc", true, &ports);
    let steps = [
        Step::ApplyService(aaa.clone()),
        Step::ApplyEndpoints(endpoints(
            "aaa",
            &[(Some("a"), "10.42.0.50"), (Some("web-0"), "10.42.0.51")],
            &ports,
        )),
        Step::ApplyService(nginx),
        Step::ApplyEndpoints(endpoints("nginx-svc", &[(Some("a"), "10.42.0.60")], &ports)),
        // Touches `aaa`'s names (`a-west` among them) and changes nothing.
        Step::ApplyService(aaa),
        // `aaa` loses pod `a`: `a-west` is deleted, and free for `nginx-svc`.
        Step::ApplyEndpoints(endpoints("aaa", &[(Some("web-0"), "10.42.0.51")], &ports)),
    ];
    let driven = incremental_equals_whole_link(&link, source(), source(), &steps, &Checks::all());
    assert!(driven.is_ok(), "{}", driven.unwrap_err());
}

/// F16 (SPEC §7: a free name goes to the first export in (namespace, name) order that wants it):
/// headless export `aaa` holds `a-west` (the endpoint mirror of its pod `a`), so headless export
/// `a` — whose root mirror wants `a-west` — is not mirrored at all, and its pod `web`'s endpoint
/// mirror `web-west` does not exist. Then `aaa` swaps pod `a` for a pod `web`: a whole-link
/// reconcile gives the freed `a-west` to `a` and the free `web-west` to `a` (first in order);
/// before the fix, the driver's one-export reconcile of `aaa` took `web-west` for `aaa` (the
/// only export it looked at) before widening to the whole link, which then kept it sticky.
#[test]
fn finding_f16_a_free_name_two_exports_want_goes_to_the_first() {
    let link = west().build().expect("link");
    let ports = [("http", 80)];
    let aaa = exported("aaa", true, &ports);
    let a = exported("a", true, &ports);
    let steps = [
        Step::ApplyService(aaa),
        Step::ApplyEndpoints(endpoints(
            "aaa",
            &[(Some("a"), "10.42.0.50"), (Some("web-0"), "10.42.0.51")],
            &ports,
        )),
        Step::ApplyService(a),
        Step::ApplyEndpoints(endpoints("a", &[(Some("web"), "10.42.0.60")], &ports)),
        Step::ApplyEndpoints(endpoints(
            "aaa",
            &[(Some("web"), "10.42.0.52"), (Some("web-0"), "10.42.0.51")],
            &ports,
        )),
    ];
    let driven = incremental_equals_whole_link(&link, source(), source(), &steps, &Checks::all());
    assert!(driven.is_ok(), "{}", driven.unwrap_err());
}

/// F17 (`plan`; SPEC §7 sticky names, SPEC §4 what `remote-svc-fq-name` carries): endpoint mirror
/// `web-west` of pod `web` of headless export `nginx-set-0` has its Endpoints' annotation
/// hand-edited to name a pod whose 64-character "hostname" no pod can have (and whose endpoint
/// mirror would not be called `web-west`). The plan corrects the annotation back to pod `web`;
/// before the fix the repurposing check called that a live mirror taken over, because it judged
/// the object live by its *name* being wanted, not by whether its annotation names it.
#[test]
fn finding_f17_correcting_a_forged_annotation_repurposes_nothing() {
    use svcmirror_core::model::{Kind, Object, ObjectKey};
    let link = west().build().expect("link");
    let ports = [("http", 80)];
    let target = TargetState::new(vec![exported("nginx-set-0", true, &ports)], vec![endpoints(
            "nginx-set-0",
            &[(Some("web"), "10.42.0.1")],
            &ports,
        )]);
    let mut fake = source();
    converge(&link, &target, &mut fake, CONTRACT_PASSES).expect("the export converges");
    let key = ObjectKey::new("default", "web-west");
    let Some(Object::Endpoints(mut forged)) = fake.get(Kind::Endpoints, &key) else {
        panic!("web-west's Endpoints exist");
    };
    let pod = "a".repeat(64);
    forged.metadata.annotations.insert(
        "mirror.linkerd.io/remote-svc-fq-name".into(),
        format!("{pod}.nginx-set-0.default.svc.cluster.local"),
    );
    fake.update(Object::Endpoints(forged)).expect("forged");
    let again = converge(&link, &target, &mut fake, CONTRACT_PASSES);
    assert!(again.is_ok(), "{}", again.unwrap_err());
    let Some(Object::Endpoints(fixed)) = fake.get(Kind::Endpoints, &key) else {
        panic!("web-west's Endpoints still exist");
    };
    assert_eq!(
        fixed
            .metadata
            .annotations
            .get("mirror.linkerd.io/remote-svc-fq-name"),
        Some(&"web.nginx-set-0.default.svc.cluster.local".to_owned()),
        "the annotation names pod web again"
    );
}
