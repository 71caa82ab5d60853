//! SPEC.md §11 change cases: converge a first target on the fake, change the target, and check the
//! plan (insta snapshot of its operations) and the state it converges to. Named after the cases.

mod common;

use common::*;
use svcmirror::model::{Kind, Service};
use svcmirror::{Link, Operation, Plan, Reason, SourceState, TargetState, plan, translate};
use svcmirror_fake::FakeCluster;

/// One line per operation: `create Service default/x`, `update Endpoints default/y [subsets]`,
/// `delete Service default/z (orphan)`.
fn describe(p: &Plan) -> Vec<String> {
    p.operations
        .iter()
        .map(|op| match op {
            Operation::Create { object } => format!("create {} {}", object.kind(), object.key()),
            Operation::Update {
                object, changed, ..
            } => format!(
                "update {} {} [{}]",
                object.kind(),
                object.key(),
                changed.join(", ")
            ),
            Operation::Delete {
                kind, key, reason, ..
            } => format!("delete {kind} {key} ({reason:?})"),
            other => format!("{} {} {}", other.action(), other.kind(), other.key()),
        })
        .collect()
}

/// Converges `before`, then plans `after` against the result; snapshots the first plan of the
/// change and returns it together with the state `after` converges to.
fn change(
    name: &str,
    link: &Link,
    before: &TargetState,
    after: &TargetState,
    f: &mut FakeCluster,
) -> (Plan, Converged) {
    converge(link, before, f);
    let source = f.state();
    let first = plan(link, &translate(link, after, &source).desired, &source);
    insta::assert_yaml_snapshot!(name, describe(&first));
    let converged = converge(link, after, f);
    assert!(converged.passes <= 2, "{name}: {} passes", converged.passes);
    (first, converged)
}

fn service_names(s: &SourceState) -> Vec<String> {
    s.services
        .iter()
        .map(|x| x.metadata.key().to_string())
        .collect()
}

fn count(p: &Plan, action: &str, kind: Kind) -> usize {
    p.operations
        .iter()
        .filter(|o| o.action() == action && o.kind() == kind)
        .count()
}

fn with_pods(pods: usize) -> TargetState {
    let mut t = seed_target();
    t.endpoints[0] = seed_endpoints(pods);
    t
}

#[test]
fn scale_up() {
    let (p, c) = change(
        "scale-up",
        &link(),
        &with_pods(2),
        &with_pods(3),
        &mut fake(),
    );
    assert_eq!(count(&p, "create", Kind::Service), 1);
    assert_eq!(count(&p, "delete", Kind::Service), 0);
    assert_eq!(c.source.services.len(), 4);
}

#[test]
fn scale_down() {
    let (p, c) = change(
        "scale-down",
        &link(),
        &with_pods(3),
        &with_pods(1),
        &mut fake(),
    );
    assert_eq!(count(&p, "delete", Kind::Service), 2);
    assert_eq!(count(&p, "delete", Kind::Endpoints), 2);
    assert_eq!(
        service_names(&c.source),
        ["default/nginx-set-0-west", "default/nginx-svc-west"]
    );
    // The root no longer maps the removed pods.
    let root = c
        .source
        .endpoints
        .iter()
        .find(|e| e.metadata.name == "nginx-svc-west")
        .expect("root");
    assert_eq!(root.subsets[0].addresses.len(), 1);
}

#[test]
fn hostname_renamed() {
    let mut after = with_pods(1);
    after.endpoints[0].subsets[0].addresses[0].hostname = Some("nginx-new-0".into());
    let (p, c) = change(
        "hostname-renamed",
        &link(),
        &with_pods(1),
        &after,
        &mut fake(),
    );
    assert_eq!(count(&p, "create", Kind::Service), 1);
    assert_eq!(count(&p, "delete", Kind::Service), 1);
    assert_eq!(
        service_names(&c.source),
        ["default/nginx-new-0-west", "default/nginx-svc-west"]
    );
}

#[test]
fn ports_changed() {
    let mut after = seed_target();
    after.services[0] = svc("default", "nginx-svc")
        .headless()
        .exported()
        .label("app", "nginx")
        .port("http", 8080)
        .version("1001")
        .build();
    let (p, c) = change(
        "ports-changed",
        &link(),
        &seed_target(),
        &after,
        &mut fake(),
    );
    // SPEC §7 (Linkerd differs): the root AND every endpoint mirror are updated.
    assert_eq!(count(&p, "update", Kind::Service), 4);
    for s in &c.source.services {
        assert_eq!(s.spec.ports[0].port, 8080, "{}", s.metadata.name);
    }
    // An update keeps the allocated ClusterIPs (clusterIP is immutable).
    assert_eq!(count(&p, "delete", Kind::Service), 0);
}

fn as_clusterip() -> TargetState {
    let mut t = seed_target();
    t.services[0] = svc("default", "nginx-svc")
        .exported()
        .label("app", "nginx")
        .port("http", 80)
        .build();
    t
}

#[test]
fn clusterip_to_headless() {
    let (p, c) = change(
        "clusterip-to-headless",
        &link(),
        &as_clusterip(),
        &seed_target(),
        &mut fake(),
    );
    let first_delete = p.operations.iter().position(|o| o.action() == "delete");
    let root_create = p
        .operations
        .iter()
        .position(|o| o.action() == "create" && o.key().name == "nginx-svc-west");
    assert!(
        first_delete < root_create,
        "delete before re-create: {p:#?}"
    );
    assert!(
        c.source
            .services
            .iter()
            .any(|s: &Service| s.metadata.name == "nginx-svc-west" && s.is_headless())
    );
    assert_eq!(c.source.services.len(), 4);
}

#[test]
fn headless_to_clusterip() {
    let (p, c) = change(
        "headless-to-clusterip",
        &link(),
        &seed_target(),
        &as_clusterip(),
        &mut fake(),
    );
    assert_eq!(
        count(&p, "delete", Kind::Service),
        4,
        "root re-created, 3 endpoint mirrors gone"
    );
    assert_eq!(service_names(&c.source), ["default/nginx-svc-west"]);
    assert!(!c.source.services[0].is_headless());
}

#[test]
fn unexport() {
    let mut after = seed_target();
    after.services[0]
        .metadata
        .labels
        .remove("mirror.linkerd.io/exported");
    let (p, c) = change("unexport", &link(), &seed_target(), &after, &mut fake());
    assert_eq!(count(&p, "delete", Kind::Service), 4);
    assert!(c.source.services.is_empty() && c.source.endpoints.is_empty());
}

#[test]
fn target_deleted() {
    let after = TargetState::default();
    let (p, c) = change(
        "target-deleted",
        &link(),
        &seed_target(),
        &after,
        &mut fake(),
    );
    assert_eq!(p.operations.len(), 8);
    assert!(p.operations.iter().all(|o| o.action() == "delete"));
    assert!(c.source.services.is_empty());
}

#[test]
fn gateway_changed() {
    let before = link();
    let mut f = fake();
    converge(&before, &seed_target(), &mut f);
    let after = Link::builder("west")
        .gateway_address(ip("172.18.0.9"))
        .gateway_port(4180)
        .gateway_identity("gw.west")
        .enable_headless_services(true)
        .build()
        .expect("link");
    let source = f.state();
    let p = plan(
        &after,
        &translate(&after, &seed_target(), &source).desired,
        &source,
    );
    insta::assert_yaml_snapshot!("gateway-changed", describe(&p));
    // Every mirror's Endpoints is updated; no Service is touched.
    assert_eq!(count(&p, "update", Kind::Endpoints), 4);
    assert_eq!(p.operations.len(), 4);
    let c = converge(&after, &seed_target(), &mut f);
    let ep = c
        .source
        .endpoints
        .iter()
        .find(|e| e.metadata.name == "nginx-set-0-west")
        .expect("endpoint mirror");
    assert_eq!(ep.subsets[0].addresses[0].ip, "172.18.0.9");
    assert_eq!(ep.subsets[0].ports[0].port, 4180);
}

#[test]
fn namespace_missing_then_created() {
    let mut target = seed_target();
    for s in &mut target.services {
        s.metadata.namespace = "apps".into();
    }
    for e in &mut target.endpoints {
        e.metadata.namespace = "apps".into();
    }
    let mut f = fake();
    let c = converge(&link(), &target, &mut f);
    assert!(c.source.services.is_empty());
    assert_eq!(
        c.diagnostics.iter().map(|d| d.reason).collect::<Vec<_>>(),
        [Reason::NamespaceMissing]
    );
    f.create_namespace("apps").expect("namespace");
    let c = converge(&link(), &target, &mut f);
    assert_eq!(c.source.services.len(), 4);
    assert!(c.diagnostics.is_empty());

    // With namespace creation on, the namespace is created, labelled as mirrored.
    let creating = west().create_namespaces(true).build().expect("link");
    let mut f = fake();
    let c = converge(&creating, &target, &mut f);
    assert_eq!(c.source.services.len(), 4);
    let ns = c
        .source
        .namespaces
        .as_ref()
        .and_then(|all| all.iter().find(|n| n.metadata.name == "apps").cloned())
        .expect("apps created");
    assert_eq!(
        ns.metadata
            .labels
            .get("mirror.linkerd.io/cluster-name")
            .map(String::as_str),
        Some("west")
    );
}

#[test]
fn restart_with_mirrors_in_place() {
    let mut f = fake();
    converge(&link(), &seed_target(), &mut f);
    // A restarted controller knows nothing but what it lists: round-trip the state through JSON.
    let listed: SourceState =
        serde_json::from_str(&serde_json::to_string(&f.state()).expect("json")).expect("json");
    let p = plan(
        &link(),
        &translate(&link(), &seed_target(), &listed).desired,
        &listed,
    );
    assert!(
        p.is_empty(),
        "a restart writes nothing: {:#?}",
        describe(&p)
    );
}

#[test]
fn foreign_object_same_name() {
    let mut f = fake();
    let mut foreign = Service::new("default", "nginx-set-1-west");
    foreign.spec.ports = svc("default", "x").port("http", 80).build().spec.ports;
    f.create(svcmirror::Object::Service(foreign.clone()))
        .expect("foreign service");
    let c = converge(&link(), &seed_target(), &mut f);
    let conflicts: Vec<_> = c
        .diagnostics
        .iter()
        .filter(|d| d.reason == Reason::NameConflict)
        .collect();
    assert_eq!(conflicts.len(), 1);
    assert_eq!(conflicts[0].object.to_string(), "default/nginx-set-1-west");
    // The foreign Service is untouched, no Endpoints was written for it, and the root leaves it out.
    let stored = c
        .source
        .services
        .iter()
        .find(|s| s.metadata.name == "nginx-set-1-west")
        .expect("still there");
    assert!(stored.metadata.labels.is_empty());
    assert!(
        !c.source
            .endpoints
            .iter()
            .any(|e| e.metadata.name == "nginx-set-1-west")
    );
    let root = c
        .source
        .endpoints
        .iter()
        .find(|e| e.metadata.name == "nginx-svc-west")
        .expect("root");
    let mut hosts: Vec<_> = root.subsets[0]
        .addresses
        .iter()
        .filter_map(|a| a.hostname.as_deref())
        .collect();
    hosts.sort_unstable();
    assert_eq!(hosts, ["nginx-set-0", "nginx-set-2"]);
    insta::assert_yaml_snapshot!(
        "foreign-object-same-name",
        c.diagnostics
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
    );
}

#[test]
fn other_link_untouched() {
    let north = Link::builder("north")
        .gateway_address(ip("172.19.0.4"))
        .enable_headless_services(true)
        .build()
        .expect("link");
    let mut f = fake();
    converge(&north, &seed_target(), &mut f);
    let north_objects = f.state();
    // West's link mirrors and then un-mirrors the seed; north's mirrors never move.
    converge(&link(), &seed_target(), &mut f);
    let (p, _) = change(
        "other-link-untouched",
        &link(),
        &seed_target(),
        &TargetState::default(),
        &mut f,
    );
    assert!(
        p.operations
            .iter()
            .all(|o| !o.key().name.ends_with("-north"))
    );
    assert_eq!(f.state(), north_objects);
}

#[test]
fn other_namespace_untouched() {
    // linkerd#15200: the same headless export in two namespaces; scaling one down must not touch the
    // other.
    let both = |pods_other: usize| {
        let mut t = seed_target();
        t.services.push(
            svc("other", "nginx-svc")
                .headless()
                .exported()
                .port("http", 80)
                .build(),
        );
        let mut e = seed_endpoints(pods_other);
        e.metadata.namespace = "other".into();
        t.endpoints.push(e);
        t
    };
    let mut f = fake();
    let (p, c) = change(
        "other-namespace-untouched",
        &link(),
        &both(3),
        &both(1),
        &mut f,
    );
    assert!(p.operations.iter().all(|o| o.key().namespace == "other"));
    let in_default = c
        .source
        .services
        .iter()
        .filter(|s| s.metadata.namespace == "default")
        .count();
    assert_eq!(in_default, 4);
}
