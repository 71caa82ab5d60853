//! SPEC §12 EndpointSlice output, end to end: translate → plan → apply on the fake until converged,
//! with the link writing `discovery.k8s.io/v1` EndpointSlices beside (or instead of) Endpoints.
//! The converged slices are insta snapshots; every rule is asserted explicitly as well.

mod common;

use common::*;
use svcmirror::labels::{
    CLUSTER_NAME, MCS_SERVICE_NAME, MCS_SOURCE_CLUSTER, MIRRORED_SERVICE, SKIP_MIRROR,
    SLICE_MANAGED_BY, SLICE_SERVICE_NAME,
};
use svcmirror::model::{
    Endpoint, EndpointConditions, EndpointSlice, Kind, Object, ObjectKey, Service,
};
use svcmirror::{
    ConditionStatus, ConditionType, EndpointsApi, Link, Operation, Reason, SourceState,
    TargetState, conditions, plan, translate,
};
use svcmirror_fake::FakeCluster;

fn both() -> Link {
    west()
        .endpoints_api(EndpointsApi::Both)
        .build()
        .expect("link")
}

fn slice<'a>(s: &'a SourceState, name: &str) -> &'a EndpointSlice {
    s.endpoint_slices
        .iter()
        .find(|x| x.metadata.name == name)
        .unwrap_or_else(|| panic!("no EndpointSlice {name}: {:?}", slice_names(s)))
}

fn slice_names(s: &SourceState) -> Vec<&str> {
    s.endpoint_slices
        .iter()
        .map(|x| x.metadata.name.as_str())
        .collect()
}

fn service<'a>(s: &'a SourceState, name: &str) -> &'a Service {
    s.services
        .iter()
        .find(|x| x.metadata.name == name)
        .unwrap_or_else(|| panic!("no Service {name}"))
}

fn label<'a>(s: &'a EndpointSlice, key: &str) -> Option<&'a str> {
    s.metadata.labels.get(key).map(String::as_str)
}

/// The slices (and only them) of a converged source, for the snapshots.
fn slices_view(s: &SourceState) -> Vec<Object> {
    s.endpoint_slices
        .iter()
        .cloned()
        .map(Object::EndpointSlice)
        .collect()
}

/// `(hostname, address, ready, serving)` of one endpoint.
type Seen<'a> = (Option<&'a str>, &'a str, Option<bool>, Option<bool>);

/// Every endpoint of a slice, as [`Seen`].
fn endpoints_of(s: &EndpointSlice) -> Vec<Seen<'_>> {
    s.endpoints
        .iter()
        .map(|e| {
            (
                e.hostname.as_deref(),
                e.addresses[0].as_str(),
                e.conditions.ready,
                e.conditions.serving,
            )
        })
        .collect()
}

#[test]
fn seed_with_both_writes_slices_beside_the_endpoints() {
    let mut f = fake();
    let c = converge(&both(), &seed_target(), &mut f);
    assert!(c.passes <= 2, "converged in {} passes", c.passes);
    assert!(c.diagnostics.is_empty(), "{:?}", c.diagnostics);
    insta::assert_yaml_snapshot!("seed-both-slices", slices_view(&c.source));

    assert_eq!(
        slice_names(&c.source),
        [
            "nginx-set-0-west-ipv4",
            "nginx-set-1-west-ipv4",
            "nginx-set-2-west-ipv4",
            "nginx-svc-west-ipv4"
        ]
    );
    // The Endpoints are still written, marked so Kubernetes does not mirror them a second time.
    assert_eq!(c.source.endpoints.len(), 4);
    for ep in &c.source.endpoints {
        assert_eq!(
            ep.metadata.labels.get(SKIP_MIRROR).map(String::as_str),
            Some("true")
        );
    }

    // Root slice: hostname → the endpoint mirror's ClusterIP, the target's ports.
    let root = slice(&c.source, "nginx-svc-west-ipv4");
    let expected: Vec<Seen<'_>> = (0..3)
        .map(|i| {
            let mirror = service(&c.source, &format!("nginx-set-{i}-west"));
            (
                Some(["nginx-set-0", "nginx-set-1", "nginx-set-2"][i]),
                mirror.spec.cluster_ip.as_deref().expect("allocated"),
                Some(true),
                Some(true),
            )
        })
        .collect();
    let mut got = endpoints_of(root);
    got.sort_unstable();
    let mut expected = expected;
    expected.sort_unstable();
    assert_eq!(got, expected);
    assert_eq!(root.address_type, "IPv4");
    assert_eq!(root.ports.len(), 1);
    assert_eq!(root.ports[0].port, Some(80));
    assert!(
        root.endpoints
            .iter()
            .all(|e| e.conditions.terminating == Some(false))
    );

    // Labels: the Kubernetes and MCS ones, ours, and the Endpoints' own.
    assert_eq!(label(root, SLICE_SERVICE_NAME), Some("nginx-svc-west"));
    assert_eq!(label(root, SLICE_MANAGED_BY), Some("svcmirror.io"));
    assert_eq!(label(root, MCS_SOURCE_CLUSTER), Some("west"));
    assert_eq!(label(root, MCS_SERVICE_NAME), Some("nginx-svc"));
    assert_eq!(label(root, MIRRORED_SERVICE), Some("true"));
    assert_eq!(label(root, CLUSTER_NAME), Some("west"));
    assert_eq!(label(root, "app"), Some("nginx"));
    assert_eq!(label(root, SKIP_MIRROR), None);
    let root_ep = c
        .source
        .endpoints_at(&ObjectKey::new("default", "nginx-svc-west"))
        .expect("root Endpoints");
    assert_eq!(root.metadata.annotations, root_ep.metadata.annotations);

    // Endpoint mirror slice: the gateway, at the gateway port; the export's name in the MCS label.
    let pod = slice(&c.source, "nginx-set-0-west-ipv4");
    assert_eq!(
        endpoints_of(pod),
        [(None, "172.18.0.4", Some(true), Some(true))]
    );
    assert_eq!(pod.ports[0].port, Some(4143));
    assert_eq!(label(pod, SLICE_SERVICE_NAME), Some("nginx-set-0-west"));
    assert_eq!(label(pod, MCS_SERVICE_NAME), Some("nginx-svc"));
    assert_eq!(
        label(pod, "mirror.linkerd.io/headless-mirror-svc-name"),
        Some("nginx-svc-west")
    );
}

#[test]
fn slices_only_writes_no_endpoints_and_deletes_the_old_ones() {
    let mut f = fake();
    converge(&link(), &seed_target(), &mut f);
    assert_eq!(f.state().endpoints.len(), 4);
    let slices = west()
        .endpoints_api(EndpointsApi::Slices)
        .build()
        .expect("link");
    let c = converge(&slices, &seed_target(), &mut f);
    assert!(c.source.endpoints.is_empty(), "{:?}", c.source.endpoints);
    assert_eq!(c.source.endpoint_slices.len(), 4);
    assert_eq!(c.source.services.len(), 4);
}

#[test]
fn default_endpoints_api_writes_no_slice() {
    let t = translate(&link(), &seed_target(), &SourceState::default());
    assert!(t.desired.endpoint_slices.is_empty());
    assert!(
        t.desired
            .endpoints_objects()
            .all(|e| !e.metadata.labels.contains_key(SKIP_MIRROR))
    );
}

fn web_target() -> TargetState {
    TargetState::new(
        vec![svc("default", "web").exported().port("http", 80).build()],
        vec![
            eps("default", "web")
                .subset(
                    vec![addr("10.42.0.9", None)],
                    vec![],
                    vec![eport("http", 8080)],
                )
                .build(),
        ],
    )
}

#[test]
fn dual_stack_gateway_gives_one_slice_per_family() {
    let link = Link::builder("west")
        .gateway_address(ip("172.18.0.4"))
        .gateway_address(ip("fd00:18::4"))
        .endpoints_api(EndpointsApi::Slices)
        .build()
        .expect("link");
    let c = converge(&link, &web_target(), &mut fake());
    insta::assert_yaml_snapshot!("dual-stack-slices", slices_view(&c.source));
    assert_eq!(slice_names(&c.source), ["web-west-ipv4", "web-west-ipv6"]);
    let v4 = slice(&c.source, "web-west-ipv4");
    let v6 = slice(&c.source, "web-west-ipv6");
    assert_eq!(
        (v4.address_type.as_str(), v6.address_type.as_str()),
        ("IPv4", "IPv6")
    );
    assert_eq!(
        endpoints_of(v4),
        [(None, "172.18.0.4", Some(true), Some(true))]
    );
    assert_eq!(
        endpoints_of(v6),
        [(None, "fd00:18::4", Some(true), Some(true))]
    );
}

#[test]
fn gateway_down_means_not_ready_and_not_serving() {
    let link = west()
        .gateway_alive(false)
        .endpoints_api(EndpointsApi::Both)
        .build()
        .expect("link");
    let c = converge(&link, &seed_target(), &mut fake());
    for s in &c.source.endpoint_slices {
        assert!(!s.endpoints.is_empty(), "{}", s.metadata.name);
        if s.metadata.name == "nginx-svc-west-ipv4" {
            continue; // SPEC §6.6: the root's hostname records stay ready (below).
        }
        for e in &s.endpoints {
            assert_eq!(
                e.conditions,
                EndpointConditions {
                    ready: Some(false),
                    serving: Some(false),
                    terminating: Some(false),
                },
                "{}",
                s.metadata.name
            );
        }
    }
    // SPEC §6.6: the root slice still names every pod, ready.
    let root = slice(&c.source, "nginx-svc-west-ipv4");
    assert_eq!(root.endpoints.len(), 3);
    assert!(
        root.endpoints
            .iter()
            .all(|e| e.conditions.ready == Some(true))
    );
}

#[test]
fn more_than_1000_endpoints_are_split_in_a_stable_order() {
    let pods = 1203;
    let ready = (0..pods)
        .map(|i| {
            addr(
                &format!("10.42.{}.{}", i / 250, i % 250 + 1),
                Some(&format!("db-{i}")),
            )
        })
        .collect();
    let target = TargetState::new(
        vec![
            svc("default", "db")
                .headless()
                .exported()
                .port("sql", 5432)
                .build(),
        ],
        vec![
            eps("default", "db")
                .subset(ready, vec![], vec![eport("sql", 5432)])
                .build(),
        ],
    );
    // SPEC §8: 1203 endpoint mirrors are over the default limit of 1000; raised for this export.
    let mut limits = svcmirror::Limits::default();
    limits.endpoint_mirrors_per_export = 2000;
    let link = west()
        .endpoints_api(EndpointsApi::Slices)
        .limits(limits)
        .build()
        .expect("link");
    let mut f = FakeCluster::new("10.96.0.0/12".parse().expect("cidr"));
    let c = converge(&link, &target, &mut f);
    let first = slice(&c.source, "db-west-ipv4");
    let second = slice(&c.source, "db-west-ipv4-2");
    assert_eq!((first.endpoints.len(), second.endpoints.len()), (1000, 203));
    assert!(
        !slice_names(&c.source).contains(&"db-west-ipv4-3"),
        "no third root slice"
    );
    // Deterministic: the split is by sorted endpoint, so the slices never overlap and a second
    // translation from scratch gives the very same slices.
    let last_of_first = first.endpoints.last().expect("endpoints");
    assert!(second.endpoints.iter().all(|e| e > last_of_first));
    let again = translate(&link, &target, &c.source);
    assert_eq!(
        again.desired.endpoint_slices[&ObjectKey::new("default", "db-west-ipv4-2")].endpoints,
        second.endpoints
    );
}

/// A slice the endpointslice controller made for a selector-bearing Service of the same name as
/// our mirror, and one the mirroring controller made from our Endpoints (it copies their labels,
/// ownership labels included).
fn foreign_slices() -> Vec<EndpointSlice> {
    let mut controller = EndpointSlice::new("default", "nginx-svc-west-x7k2p", "IPv4");
    for (k, v) in [
        (SLICE_SERVICE_NAME, "nginx-svc-west"),
        (SLICE_MANAGED_BY, "endpointslice-controller.k8s.io"),
    ] {
        controller.metadata.labels.insert(k.into(), v.into());
    }
    controller.endpoints.push(Endpoint {
        addresses: vec!["10.42.7.7".into()],
        ..Endpoint::default()
    });
    let mut mirrored = controller.clone();
    mirrored.metadata.name = "nginx-set-0-west-q2v9d".into();
    mirrored.metadata.labels = svcmirror::StringMap::from([
        (SLICE_SERVICE_NAME.into(), "nginx-set-0-west".into()),
        (
            SLICE_MANAGED_BY.into(),
            "endpointslicemirroring-controller.k8s.io".into(),
        ),
        (MIRRORED_SERVICE.into(), "true".into()),
        (CLUSTER_NAME.into(), "west".into()),
    ]);
    vec![controller, mirrored]
}

#[test]
fn switching_both_to_endpoints_deletes_our_slices_and_never_a_foreign_one() {
    let mut f = fake();
    converge(&both(), &seed_target(), &mut f);
    for s in foreign_slices() {
        f.create(Object::EndpointSlice(s)).expect("foreign slice");
    }
    let endpoints_only = link();
    let source = f.state();
    let t = translate(&endpoints_only, &seed_target(), &source);
    let p = plan(&endpoints_only, &t.desired, &source);
    let deleted: Vec<String> = p
        .operations
        .iter()
        .filter(|op| op.kind() == Kind::EndpointSlice)
        .map(|op| {
            assert_eq!(op.action(), "delete", "{op:?}");
            op.key().name
        })
        .collect();
    assert_eq!(
        deleted,
        // SPEC §7: the endpoint mirrors' deletes come after (and wait for) the root's.
        [
            "nginx-svc-west-ipv4",
            "nginx-set-0-west-ipv4",
            "nginx-set-1-west-ipv4",
            "nginx-set-2-west-ipv4"
        ]
    );
    // The Endpoints lose skip-mirror (Kubernetes may mirror them again).
    let updated: Vec<&Operation> = p
        .operations
        .iter()
        .filter(|op| op.kind() == Kind::Endpoints)
        .collect();
    assert_eq!(updated.len(), 4);
    assert!(updated.iter().all(|op| op.action() == "update"));

    let c = converge(&endpoints_only, &seed_target(), &mut f);
    assert_eq!(
        slice_names(&c.source),
        ["nginx-set-0-west-q2v9d", "nginx-svc-west-x7k2p"],
        "only the foreign slices are left"
    );
    assert!(
        c.source
            .endpoints
            .iter()
            .all(|e| !e.metadata.labels.contains_key(SKIP_MIRROR))
    );
}

#[test]
fn a_foreign_slice_holding_our_slice_name_is_a_name_conflict_and_left_alone() {
    let mut f = fake();
    let mut squatter = EndpointSlice::new("default", "web-west-ipv4", "IPv4");
    squatter
        .metadata
        .labels
        .insert(SLICE_MANAGED_BY.into(), "someone-else".into());
    squatter.endpoints.push(Endpoint {
        addresses: vec!["10.1.2.3".into()],
        ..Endpoint::default()
    });
    f.create(Object::EndpointSlice(squatter.clone()))
        .expect("squatter");
    let link = west()
        .endpoints_api(EndpointsApi::Both)
        .build()
        .expect("link");
    let c = converge(&link, &web_target(), &mut f);
    assert!(
        c.diagnostics
            .iter()
            .any(|d| d.reason == Reason::NameConflict
                && d.kind == Kind::EndpointSlice
                && d.object == ObjectKey::new("default", "web-west-ipv4")),
        "{:?}",
        c.diagnostics
    );
    let kept = slice(&c.source, "web-west-ipv4");
    assert_eq!(kept.endpoints, squatter.endpoints);
    assert_eq!(label(kept, SLICE_MANAGED_BY), Some("someone-else"));
    // The export reports the conflict.
    let t = translate(&link, &web_target(), &c.source);
    let p = plan(&link, &t.desired, &c.source);
    let conds = &conditions(&t, &p)[&ObjectKey::new("default", "web")];
    let conflict = conds
        .iter()
        .find(|c| c.type_ == ConditionType::Conflict)
        .expect("Conflict");
    assert_eq!(conflict.status, ConditionStatus::True);
}

#[test]
fn no_slice_is_written_for_a_service_name_we_do_not_own() {
    // SPEC §7: someone else's `web-west` Service: no Endpoints and no slice for it either.
    let mut f = fake();
    let mut foreign = svc("default", "web-west").port("http", 80).build();
    foreign.metadata.resource_version = None;
    foreign.spec.cluster_ip = None;
    f.create(Object::Service(foreign)).expect("foreign Service");
    let link = west()
        .endpoints_api(EndpointsApi::Both)
        .build()
        .expect("link");
    let c = converge(&link, &web_target(), &mut f);
    assert!(c.source.endpoint_slices.is_empty());
    assert!(
        c.diagnostics
            .iter()
            .any(|d| d.reason == Reason::NameConflict)
    );
}

#[test]
fn converged_slices_are_idempotent_and_a_restart_writes_nothing() {
    let link = both();
    let mut f = fake();
    let c = converge(&link, &seed_target(), &mut f);
    assert!(c.passes >= 1);
    let writes = f.resource_version();
    // Idempotent: another translation and plan on the converged source changes nothing.
    let again = converge(&link, &seed_target(), &mut f);
    assert_eq!(again.passes, 0);
    assert_eq!(f.resource_version(), writes);

    // Restart: a new controller reads the source back (through a manifest round trip, as
    // `svcmirror plan --source` would) and plans nothing.
    let mut manifest = Vec::new();
    svcmirror_snapshot::write_list(
        c.source.objects(),
        svcmirror_snapshot::Format::Yaml,
        &mut manifest,
    )
    .expect("written");
    let read =
        svcmirror_snapshot::parse(&manifest, "east.yaml", &Default::default()).expect("read back");
    assert!(read.diagnostics.is_empty(), "{:?}", read.diagnostics);
    let source = read.into_source();
    assert_eq!(source.endpoint_slices, c.source.endpoint_slices);
    let t = translate(&link, &seed_target(), &source);
    assert!(plan(&link, &t.desired, &source).is_empty());

    // And a restored fake (resourceVersions renumbered) needs no write either.
    let mut restarted = FakeCluster::default();
    restarted.restore(source).expect("restored");
    let before = restarted.resource_version();
    let c = converge(&link, &seed_target(), &mut restarted);
    assert_eq!((c.passes, restarted.resource_version()), (0, before));
    let conds = conditions(&t, &plan(&link, &t.desired, &c.source));
    let mirrored = conds[&ObjectKey::new("default", "nginx-svc")]
        .iter()
        .find(|c| c.type_ == ConditionType::Mirrored)
        .expect("Mirrored");
    assert_eq!(mirrored.status, ConditionStatus::True);
}

#[test]
fn explain_lists_the_slices_and_their_pending_operations() {
    let link = both();
    let source = SourceState::default();
    let e = svcmirror::explain(
        &link,
        &seed_target(),
        &source,
        &ObjectKey::new("default", "nginx-svc"),
    )
    .expect("exists");
    let slices: Vec<String> = e
        .objects
        .iter()
        .filter(|o| o.kind() == Kind::EndpointSlice)
        .map(|o| o.key().name)
        .collect();
    // First pass: endpoint mirrors have no ClusterIP yet, so the root has no address (no slice).
    assert_eq!(
        slices,
        [
            "nginx-set-0-west-ipv4",
            "nginx-set-1-west-ipv4",
            "nginx-set-2-west-ipv4"
        ]
    );
    assert_eq!(
        e.operations
            .iter()
            .filter(|op| op.kind() == Kind::EndpointSlice)
            .count(),
        3
    );
    assert!(e.steps.iter().any(
        |s| s.rule == "SPEC §12 EndpointSlices" && s.outcome.contains("nginx-set-0-west-ipv4")
    ));
}
