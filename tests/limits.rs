//! SPEC §8 limits and "one bad export never fails the link" (issue 14, deliverables 6, 8, 9): the
//! attacks of the issue, each planned against the fake API server, which enforces the real
//! server's limits — whatever the core plans, the fake must accept.

mod common;

use common::*;
use svcmirror::labels::HEADLESS_MIRROR_SVC_NAME;
use svcmirror::model::{Kind, Object, ObjectKey, Service};
use svcmirror::{
    ConditionStatus, ConditionType, Diagnostic, EndpointsApi, Limits, Link, MirrorMode, Operation,
    Reason, Severity, SourceState, TargetState, conditions, plan, translate,
};

fn limit_diagnostics<'a>(diagnostics: &'a [Diagnostic], field: &str) -> Vec<&'a Diagnostic> {
    diagnostics
        .iter()
        .filter(|d| d.reason == Reason::LimitExceeded && d.message.contains(field))
        .collect()
}

/// A small healthy export beside the attack: it must converge whatever the attack does.
fn bystander() -> (Service, svcmirror::model::Endpoints) {
    (
        svc("default", "web").exported().port("http", 80).build(),
        eps("default", "web")
            .subset(
                vec![addr("10.42.9.9", None)],
                vec![],
                vec![eport("http", 80)],
            )
            .build(),
    )
}

/// Whether the bystander's mirror `web-west` is in `source` (the attack did not stop the link).
fn bystander_mirrored(source: &SourceState) -> bool {
    source
        .service(&ObjectKey::new("default", "web-west"))
        .is_some()
}

/// West with a ClusterIP budget of `n` (`limits.clusterIPsPerLink`).
fn west_with_budget(n: u32) -> Link {
    let mut limits = Limits::default();
    limits.cluster_ips_per_link = Some(n);
    west().limits(limits).build().expect("link")
}

/// An exported ClusterIP Service `default/<name>` with one port.
fn clusterip_export(name: &str) -> Service {
    svc("default", name).exported().port("http", 80).build()
}

fn named(n: u32) -> Vec<svcmirror::model::EndpointAddress> {
    (0..n)
        .map(|i| {
            let ip = std::net::Ipv4Addr::from(0x0a2a_0000 + i).to_string();
            let mut a = addr(&ip, Some(&format!("db-{i}")));
            a.target_ref = None;
            a
        })
        .collect()
}

/// Attack: 50 000 hostnames in one export planned 100 002 creates and a 2.4 MB root Endpoints.
/// Now at most `limits.endpointMirrorsPerExport` (1000) endpoint mirrors, a diagnostic naming the
/// limit, and every write is one the API server accepts.
#[test]
fn attack_50000_hostnames_in_one_export_are_cut_to_the_endpoint_mirror_limit() {
    let (web, web_ep) = bystander();
    let target = TargetState::new(
        vec![
            svc("default", "db")
                .headless()
                .exported()
                .port("sql", 5432)
                .build(),
            web,
        ],
        vec![
            eps("default", "db")
                .subset(named(50_000), vec![], vec![eport("sql", 5432)])
                .build(),
            web_ep,
        ],
    );
    let link = link();
    let mut f = fake();
    let source = f.state();
    let t = translate(&link, &target, &source);
    let p = plan(&link, &t.desired, &source);
    let creates = p
        .operations
        .iter()
        .filter(|op| op.action() == "create")
        .count();
    // 1000 endpoint mirrors and the root (Service + Endpoints each), and web's two objects.
    assert_eq!(
        creates,
        2 * 1000 + 2 + 2,
        "bounded by the limit, not the input"
    );
    let found = limit_diagnostics(&t.diagnostics, "`limits.endpointMirrorsPerExport`");
    assert_eq!(found.len(), 1, "{:?}", t.diagnostics);
    assert_eq!(found[0].severity, Severity::Error);
    assert!(
        found[0]
            .message
            .contains("50000 named pods exceeds the limit of 1000")
    );
    let c = converge(&link, &target, &mut f);
    let root = c
        .source
        .endpoints_at(&ObjectKey::new("default", "db-west"))
        .expect("root Endpoints");
    let hostnames = root.subsets.iter().flat_map(|s| &s.addresses).count();
    assert_eq!(hostnames, 1000);
    assert!(bystander_mirrored(&c.source));
    let status = conditions(&t, &p);
    let db = &status[&ObjectKey::new("default", "db")];
    let mirrored = db
        .iter()
        .find(|c| c.type_ == ConditionType::Mirrored)
        .expect("Mirrored");
    assert_eq!(
        (mirrored.status, mirrored.reason.as_str()),
        (ConditionStatus::False, "LimitExceeded")
    );
}

/// Attack: 500 pods × 10 000 ports (~1 MB of input) took `plan` to 3.1 GB RSS (5 M ports
/// materialised). Now the export is refused before any mirror is built: no operation, no port.
#[test]
fn attack_500_pods_times_10000_ports_materialises_no_port() {
    let mut db = svc("default", "db").headless().exported();
    for i in 1..=10_000 {
        db = db.port(&format!("p{i}"), i);
    }
    let ports = (1..=10_000).map(|i| eport(&format!("p{i}"), i)).collect();
    let (web, web_ep) = bystander();
    let target = TargetState::new(
        vec![db.build(), web],
        vec![
            eps("default", "db")
                .subset(named(500), vec![], ports)
                .build(),
            web_ep,
        ],
    );
    let link = link();
    let source = fake().state();
    let t = translate(&link, &target, &source);
    let p = plan(&link, &t.desired, &source);
    let planned_ports: usize = p
        .operations
        .iter()
        .map(|op| match op {
            Operation::Create {
                object: Object::Service(s),
            } => s.spec.ports.len(),
            Operation::Create {
                object: Object::Endpoints(e),
            } => e.subsets.iter().map(|s| s.ports.len()).sum(),
            _ => 0,
        })
        .sum();
    assert_eq!(
        p.operations.len(),
        2,
        "web's mirror only: {:?}",
        p.operations.len()
    );
    assert_eq!(planned_ports, 2, "web's port, twice");
    assert_eq!(
        t.exports[&ObjectKey::new("default", "db")].mode,
        MirrorMode::NotMirrored
    );
    let found = limit_diagnostics(&t.diagnostics, "`limits.portsPerMirror`");
    assert_eq!(found.len(), 1, "{:?}", t.diagnostics);
    assert_eq!(found[0].field.as_deref(), Some("spec.ports"));
    assert!(
        found[0]
            .message
            .contains("10000 ports exceeds the limit of 100")
    );
}

/// Attack: 2 MiB of annotations were copied onto the mirror (the API server allows 256 KiB) and
/// the fake accepted them. Now refused by `limits.annotationBytes`; the rest converges.
#[test]
fn attack_2_mib_of_annotations_is_refused_by_the_annotation_limit() {
    let huge = "a".repeat(2 * 1024 * 1024);
    let (web, web_ep) = bystander();
    let target = TargetState::new(
        vec![
            svc("default", "big")
                .exported()
                .port("http", 80)
                .annotation("example.com/blob", &huge)
                .build(),
            web,
        ],
        vec![web_ep],
    );
    let link = link();
    let mut f = fake();
    let c = converge(&link, &target, &mut f);
    assert!(
        c.source
            .service(&ObjectKey::new("default", "big-west"))
            .is_none()
    );
    assert!(bystander_mirrored(&c.source));
    let found = limit_diagnostics(&c.diagnostics, "`limits.annotationBytes`");
    assert_eq!(found.len(), 1, "{:?}", c.diagnostics);
    assert_eq!(found[0].object, ObjectKey::new("default", "big"));
    assert_eq!(found[0].field.as_deref(), Some("metadata.annotations"));
    // What the core refuses, the fake (the API server) refuses too.
    let mut mirror = svc("default", "big-west").port("http", 80).build();
    mirror
        .metadata
        .annotations
        .insert("example.com/blob".into(), huge);
    let refused = fake()
        .create(Object::Service(mirror))
        .expect_err("over 256 KiB");
    assert!(
        matches!(&refused, svcmirror_backend::ApiError::Invalid { field, .. } if field == "metadata.annotations"),
        "{refused:?}"
    );
}

/// The object-size limit (etcd's 1.5 MiB by default) refuses an export whose root Endpoints would
/// be too large, naming `limits.objectBytes`; lowered here so a small input shows it.
#[test]
fn object_size_limit_refuses_the_export_not_the_link() {
    let mut limits = Limits::default();
    limits.object_bytes = 4096;
    let link = west().limits(limits).build().expect("link");
    let (web, web_ep) = bystander();
    let target = TargetState::new(
        vec![
            svc("default", "db")
                .headless()
                .exported()
                .port("sql", 5432)
                .build(),
            web,
        ],
        vec![
            eps("default", "db")
                .subset(named(100), vec![], vec![eport("sql", 5432)])
                .build(),
            web_ep,
        ],
    );
    let c = converge(&link, &target, &mut fake());
    let found = limit_diagnostics(&c.diagnostics, "`limits.objectBytes`");
    assert_eq!(found.len(), 1, "{:?}", c.diagnostics);
    assert!(
        found[0].message.contains("the root mirror's Endpoints"),
        "{}",
        found[0].message
    );
    assert!(
        c.source
            .service(&ObjectKey::new("default", "db-west"))
            .is_none()
    );
    assert!(bystander_mirrored(&c.source));
}

/// Attack: a 100 KB label value was echoed whole into the diagnostic. Now cut to 128 characters
/// with its length.
#[test]
fn attack_100_kb_label_value_is_truncated_in_the_diagnostic() {
    let value = "v".repeat(100 * 1024);
    let key = "k".repeat(100 * 1024);
    let target = TargetState::new(
        vec![
            svc("default", "web")
                .exported()
                .port("http", 80)
                .label("app", &value)
                .label(&key, "x")
                .build(),
        ],
        vec![],
    );
    let t = translate(&link(), &target, &fake().state());
    assert_eq!(t.diagnostics.len(), 2, "{:?}", t.diagnostics.len());
    for d in &t.diagnostics {
        let line = d.to_string();
        assert!(line.len() < 1024, "{} bytes: {}", line.len(), &line[..200]);
        assert!(line.contains("…(102400 bytes)"), "{line}");
    }
}

/// Deliverable 9: two ports with one name and different numbers in a subset made an
/// EndpointSlice the API server refuses, failing the whole link. Now that export's diagnostic
/// (`Valid=False`), the duplicate dropped, and everything else converges.
#[test]
fn duplicate_port_names_in_a_subset_are_one_exports_diagnostic_with_slices() {
    for api in [
        EndpointsApi::Slices,
        EndpointsApi::Both,
        EndpointsApi::Endpoints,
    ] {
        let link = west().endpoints_api(api).build().expect("link");
        let (web, web_ep) = bystander();
        let target = TargetState::new(
            vec![
                svc("default", "db")
                    .headless()
                    .exported()
                    .port("sql", 5432)
                    .build(),
                web,
            ],
            vec![
                eps("default", "db")
                    .subset(
                        named(2),
                        vec![],
                        vec![eport("sql", 8080), eport("sql", 5432)],
                    )
                    .build(),
                web_ep,
            ],
        );
        let mut f = fake();
        // `converge` fails the test on any refusal of the fake.
        let c = converge(&link, &target, &mut f);
        let found: Vec<&Diagnostic> = c
            .diagnostics
            .iter()
            .filter(|d| d.reason == Reason::InvalidObject)
            .collect();
        assert_eq!(found.len(), 1, "{api}: {:?}", c.diagnostics);
        assert_eq!(found[0].field.as_deref(), Some("subsets[0].ports[0].name"));
        assert!(
            found[0].message.contains("8080/TCP is dropped"),
            "{}",
            found[0].message
        );
        let t = translate(&link, &target, &c.source);
        let status = conditions(&t, &plan(&link, &t.desired, &c.source));
        let valid = &status[&ObjectKey::new("default", "db")][0];
        assert_eq!(
            (valid.type_, valid.status),
            (ConditionType::Valid, ConditionStatus::False)
        );
        assert!(bystander_mirrored(&c.source));
    }
}

/// The ClusterIP budget (`limits.clusterIPsPerLink`): exports that do not fit are refused whole,
/// and a newcomer earlier in (namespace, name) order never evicts a live mirror.
#[test]
fn cluster_ip_budget_refuses_newcomers_and_keeps_live_mirrors() {
    let link = west_with_budget(2);
    let mut target = TargetState::new(
        vec![
            clusterip_export("b"),
            clusterip_export("c"),
            clusterip_export("d"),
        ],
        vec![],
    );
    let mut f = fake();
    let c = converge(&link, &target, &mut f);
    let mirrors = |s: &svcmirror::SourceState| -> Vec<String> {
        s.services.iter().map(|s| s.metadata.name.clone()).collect()
    };
    assert_eq!(mirrors(&c.source), ["b-west", "c-west"]);
    let found = limit_diagnostics(&c.diagnostics, "`limits.clusterIPsPerLink`");
    assert_eq!(found.len(), 1, "{:?}", c.diagnostics);
    assert_eq!(found[0].object, ObjectKey::new("default", "d"));
    target.services.push(clusterip_export("a"));
    let c = converge(&link, &target, &mut f);
    assert_eq!(mirrors(&c.source), ["b-west", "c-west"], "a never evicts b");
    let refused: Vec<&str> = limit_diagnostics(&c.diagnostics, "clusterIPsPerLink")
        .iter()
        .map(|d| d.object.name.as_str())
        .collect();
    assert_eq!(refused, ["a", "d"]);
}

/// Deliverable 8: a scale-down's endpoint-mirror deletes depend on the root Endpoints update, and
/// the fake's `apply_plan` does not send them when that update fails.
#[test]
fn scale_down_deletes_wait_for_the_root_endpoints_update() {
    let link = link();
    let mut f = fake();
    let three = TargetState::new(
        vec![
            svc("default", "db")
                .headless()
                .exported()
                .port("sql", 5432)
                .build(),
        ],
        vec![
            eps("default", "db")
                .subset(named(3), vec![], vec![eport("sql", 5432)])
                .build(),
        ],
    );
    converge(&link, &three, &mut f);
    let mut one = three.clone();
    one.endpoints[0].subsets[0].addresses.truncate(1);
    let source = f.state();
    let p = plan(&link, &translate(&link, &one, &source).desired, &source);
    let root_update = p
        .operations
        .iter()
        .position(|op| op.action() == "update" && op.key().name == "db-west")
        .expect("root Endpoints update");
    let deletes: Vec<usize> = p
        .operations
        .iter()
        .enumerate()
        .filter(|(_, op)| op.action() == "delete")
        .map(|(i, _)| i)
        .collect();
    assert_eq!(
        deletes.len(),
        4,
        "db-1-west and db-2-west, Service and Endpoints"
    );
    for i in &deletes {
        assert_eq!(
            p.prerequisites(*i).collect::<Vec<_>>(),
            [root_update],
            "{i}"
        );
    }
    // The root update is refused (a stale resourceVersion stands in for any persistent refusal):
    // nothing that depends on it is sent, and the root never names a freed ClusterIP.
    let mut p = p;
    if let Operation::Update {
        object: Object::Endpoints(e),
        ..
    } = &mut p.operations[root_update]
    {
        e.metadata.resource_version = Some("1".into());
    }
    let report = f.apply_plan(&p);
    assert_eq!(report.skipped, deletes);
    let after = f.state();
    let root = after
        .endpoints_at(&ObjectKey::new("default", "db-west"))
        .expect("root");
    for address in root.subsets.iter().flat_map(|s| &s.addresses) {
        assert!(
            after.services.iter().any(|s| {
                s.metadata.labels.contains_key(HEADLESS_MIRROR_SVC_NAME)
                    && s.spec.cluster_ip.as_deref() == Some(address.ip.as_str())
            }),
            "the root names {} which no Service holds",
            address.ip
        );
    }
    assert_eq!(Kind::Endpoints, p.operations[root_update].kind());
}

/// The ClusterIP budget never takes a ClusterIP back: a live headless export that scales up past
/// the budget keeps its endpoint mirrors and gets only the new ones that fit.
#[test]
fn cluster_ip_budget_cuts_a_growing_live_export_instead_of_evicting_it() {
    let link = west_with_budget(4);
    let (web, web_ep) = bystander();
    let db = |pods: u32| {
        eps("default", "db")
            .subset(named(pods), vec![], vec![eport("sql", 5432)])
            .build()
    };
    let mut target = TargetState::new(
        vec![
            svc("default", "db")
                .headless()
                .exported()
                .port("sql", 5432)
                .build(),
            web,
        ],
        vec![db(2), web_ep],
    );
    let mut f = fake();
    converge(&link, &target, &mut f);
    target.endpoints[0] = db(5);
    let c = converge(&link, &target, &mut f);
    let endpoint_mirrors: Vec<&str> = c
        .source
        .services
        .iter()
        .filter(|s| s.metadata.labels.contains_key(HEADLESS_MIRROR_SVC_NAME))
        .map(|s| s.metadata.name.as_str())
        .collect();
    assert_eq!(endpoint_mirrors, ["db-0-west", "db-1-west", "db-2-west"]);
    let root = c
        .source
        .endpoints_at(&ObjectKey::new("default", "db-west"))
        .expect("root");
    assert_eq!(root.subsets.iter().flat_map(|s| &s.addresses).count(), 3);
    let found = limit_diagnostics(&c.diagnostics, "`limits.clusterIPsPerLink`");
    assert_eq!(found.len(), 1, "{:?}", c.diagnostics);
    // Converged: db-0…db-2 hold the budget; db-3 and db-4 wait.
    assert!(
        found[0]
            .message
            .contains("0 of its 2 new endpoint mirrors fit"),
        "{}",
        found[0].message
    );
    assert!(bystander_mirrored(&c.source));
}

/// `explain` narrates a refusal decided over the whole link (here the ClusterIP budget) as the
/// export's last step.
#[test]
fn explain_names_the_limit_that_refused_an_export() {
    let link = west_with_budget(1);
    let target = TargetState::new(vec![clusterip_export("a"), clusterip_export("b")], vec![]);
    let why = svcmirror::explain(
        &link,
        &target,
        &fake().state(),
        &ObjectKey::new("default", "b"),
    )
    .expect("explained");
    let last = why.steps.last().expect("steps");
    assert_eq!(last.rule, "SPEC §8 limits");
    assert!(
        last.outcome.contains("`limits.clusterIPsPerLink`"),
        "{}",
        last.outcome
    );
}
