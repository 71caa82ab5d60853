//! The checks are not vacuous: each one reports the violation it exists for, on a hand-made plan
//! or state that does not depend on what today's core plans, and accepts the legitimate case
//! next to it.

use svcmirror_core::labels::{
    CLUSTER_NAME, MIRRORED_SERVICE, REMOTE_SVC_FQ_NAME, SLICE_MANAGED_BY, SLICE_MANAGER,
};
use svcmirror_core::model::{
    EndpointAddress, EndpointPort, EndpointSubset, Endpoints, Kind, Namespace, Object, ObjectKey,
    Service, ServicePort,
};
use svcmirror_core::{
    DeleteReason, Desired, EndpointSlice, ExportOutcome, Link, Operation, Plan, SourceState,
    TargetState, translate,
};
use svcmirror_fake::FakeCluster;
use svcmirror_testkit::{
    Check, Checks, Owner, STEERING_MARKER, Step, apply_accepted, foreign_objects,
    foreign_unchanged, incremental_equals_whole_link, no_live_mirror_repurposed, no_orphan,
    no_steering_key_copied, nothing_foreign_touched,
};

fn link() -> Link {
    Link::builder("west")
        .gateway_address([172, 18, 0, 4].into())
        .enable_headless_services(true)
        .build()
        .expect("link")
}

fn ours(mut labels: svcmirror_core::StringMap) -> svcmirror_core::StringMap {
    labels.insert(MIRRORED_SERVICE.into(), "true".into());
    labels.insert(CLUSTER_NAME.into(), "west".into());
    labels
}

fn mirror(name: &str, fq: &str) -> Service {
    let mut s = Service::new("default", name);
    s.metadata.labels = ours(s.metadata.labels);
    s.metadata
        .annotations
        .insert(REMOTE_SVC_FQ_NAME.into(), fq.into());
    s.metadata.uid = Some("u1".into());
    s.metadata.resource_version = Some("1".into());
    s
}

fn update(s: Service) -> Operation {
    Operation::Update {
        precondition: svcmirror_core::Precondition::observed(&s.metadata),
        object: Object::Service(s),
        changed: vec!["metadata.annotations"],
    }
}

fn delete(kind: Kind, ns: &str, name: &str) -> Operation {
    Operation::Delete {
        kind,
        key: ObjectKey::new(ns, name),
        precondition: svcmirror_core::Precondition::default(),
        reason: DeleteReason::Orphan,
    }
}

fn plan_of(operations: Vec<Operation>) -> Plan {
    Plan {
        operations,
        diagnostics: vec![],
        dependencies: vec![],
    }
}

/// Ownership covers every kind: a Service, an EndpointSlice (our labels copied by Kubernetes'
/// slice mirroring are not ours) and a Namespace without our labels are foreign.
#[test]
fn nothing_foreign_touched_covers_services_slices_and_namespaces() {
    let link = link();
    let mut foreign_slice = EndpointSlice::new("default", "web-west-ipv4", "IPv4");
    foreign_slice.metadata.labels = ours(foreign_slice.metadata.labels);
    let mut our_slice = EndpointSlice::new("default", "db-west-ipv4", "IPv4");
    our_slice.metadata.labels = ours(our_slice.metadata.labels);
    our_slice
        .metadata
        .labels
        .insert(SLICE_MANAGED_BY.into(), SLICE_MANAGER.into());
    let source = SourceState::new(
        vec![Service::new("default", "stranger"), mirror("web-west", "x")],
        vec![],
    )
    .with_endpoint_slices(vec![foreign_slice, our_slice])
    .with_namespaces(Some(vec![Namespace::new("default")]));
    let owner = Owner::Link(&link);
    let touched = |op: Operation| nothing_foreign_touched(owner, &source, &plan_of(vec![op]));
    for op in [
        delete(Kind::Service, "default", "stranger"),
        delete(Kind::EndpointSlice, "default", "web-west-ipv4"),
        delete(Kind::Namespace, "", "default"),
        update(Service::new("default", "stranger")),
        Operation::Create {
            object: Object::Endpoints(Endpoints::new("default", "stranger")),
        },
    ] {
        let what = format!("{} {} {}", op.action(), op.kind(), op.key());
        assert_eq!(
            touched(op).map_err(|f| f.check),
            Err(Check::ForeignTouched),
            "{what}"
        );
    }
    assert!(touched(delete(Kind::Service, "default", "web-west")).is_ok());
    assert!(touched(delete(Kind::EndpointSlice, "default", "db-west-ipv4")).is_ok());
}

/// SPEC §7 sticky names: an update that moves a mirror away from an export still exported is a
/// finding; away from an export that is gone it is not.
#[test]
fn a_mirror_moved_away_from_a_live_export_is_reported() {
    let link = link();
    let held = mirror("web-west", "web.default.svc.cluster.local");
    let source = SourceState::new(vec![held.clone()], Vec::new());
    let moved = plan_of(vec![update(mirror(
        "web-west",
        "web.aaa.default.svc.cluster.local",
    ))]);
    let mut exports = std::collections::BTreeMap::new();
    exports.insert(ObjectKey::new("default", "aaa"), empty_outcome());
    assert!(no_live_mirror_repurposed(&link, &source, &exports, &moved).is_ok());
    exports.insert(ObjectKey::new("default", "web"), empty_outcome());
    assert_eq!(
        no_live_mirror_repurposed(&link, &source, &exports, &moved).map_err(|f| f.check),
        Err(Check::MirrorRepurposed)
    );
    // A delete and re-create in one plan is the same move.
    let recreated = plan_of(vec![
        delete(Kind::Service, "default", "web-west"),
        Operation::Create {
            object: Object::Service(mirror("web-west", "web.aaa.default.svc.cluster.local")),
        },
    ]);
    assert_eq!(
        no_live_mirror_repurposed(&link, &source, &exports, &recreated).map_err(|f| f.check),
        Err(Check::MirrorRepurposed)
    );
}

/// An outcome for the export map (its content does not matter to the check).
fn empty_outcome() -> ExportOutcome {
    let link = link();
    let mut s = Service::new("default", "web");
    s.metadata
        .labels
        .insert("mirror.linkerd.io/exported".into(), "true".into());
    s.spec.ports.push(ServicePort {
        port: 80,
        ..ServicePort::default()
    });
    let target = TargetState::new(vec![s], vec![]);
    translate(&link, &target, &SourceState::default())
        .exports
        .into_values()
        .next()
        .expect("web is exported")
}

#[test]
fn a_refusal_of_the_fake_is_reported() {
    let mut fake = FakeCluster::default();
    let r = apply_accepted(
        &mut fake,
        &plan_of(vec![update(mirror(
            "web-west",
            "web.default.svc.cluster.local",
        ))]),
    );
    assert_eq!(r.map_err(|f| f.check), Err(Check::FakeRefused));
}

#[test]
fn a_copied_steering_key_is_reported_and_our_own_value_is_not() {
    let mut desired = Desired::default();
    let mut s = mirror("web-west", "web.default.svc.cluster.local");
    s.metadata.labels.insert(
        "multicluster.linkerd.io/remote-discovery".into(),
        "west".into(),
    );
    desired.insert_service(s.clone());
    assert!(no_steering_key_copied(&desired).is_ok());
    s.metadata.annotations.insert(
        "service.kubernetes.io/service-proxy-name".into(),
        STEERING_MARKER.into(),
    );
    desired.insert_service(s);
    assert_eq!(
        no_steering_key_copied(&desired).map_err(|f| f.check),
        Err(Check::SteeringKeyCopied)
    );
}

#[test]
fn an_orphan_and_a_changed_foreign_object_are_reported() {
    let link = link();
    let source = SourceState::new(
        vec![mirror("web-west", "web.default.svc.cluster.local")],
        Vec::new(),
    );
    assert_eq!(
        no_orphan(Owner::Link(&link), &Desired::default(), &source).map_err(|f| f.check),
        Err(Check::Orphan)
    );
    let before = SourceState::new(vec![Service::new("default", "stranger")], Vec::new());
    let mut changed = before.clone();
    changed.services[0]
        .metadata
        .labels
        .insert("app".into(), "x".into());
    let owner = Owner::Link(&link);
    assert_eq!(
        foreign_unchanged(
            &foreign_objects(owner, &before),
            &foreign_objects(owner, &changed)
        )
        .map_err(|f| f.check),
        Err(Check::ForeignTouched)
    );
}

/// The seed walkthrough (SPEC §11 `seed-walkthrough`), event by event, with a scale-down, a
/// resync and a watch restart: the driver's incremental reconciles equal the whole link's.
#[test]
fn the_seed_driven_event_by_event_equals_the_whole_link() {
    let link = link();
    let mut svc = Service::new("default", "nginx-svc");
    svc.spec.cluster_ip = Some("None".into());
    svc.metadata
        .labels
        .insert("mirror.linkerd.io/exported".into(), "true".into());
    svc.spec.ports.push(ServicePort {
        name: Some("http".into()),
        port: 80,
        ..ServicePort::default()
    });
    let pods = |n: usize| {
        let mut e = Endpoints::new("default", "nginx-svc");
        e.subsets = vec![EndpointSubset {
            addresses: (0..n)
                .map(|i| EndpointAddress {
                    ip: format!("10.42.0.{}", 31 + i),
                    hostname: Some(format!("nginx-set-{i}")),
                    ..EndpointAddress::default()
                })
                .collect(),
            not_ready_addresses: vec![],
            ports: vec![EndpointPort {
                name: Some("http".into()),
                port: 80,
                protocol: Some("TCP".into()),
                app_protocol: None,
            }],
        }];
        e
    };
    let steps = [
        Step::ApplyService(svc),
        Step::ApplyEndpoints(pods(3)),
        Step::ApplyEndpoints(pods(1)),
        Step::Resync,
        Step::Restart,
        Step::DeleteService(ObjectKey::new("default", "nginx-svc")),
    ];
    let report = incremental_equals_whole_link(
        &link,
        FakeCluster::default(),
        FakeCluster::default(),
        &steps,
        &Checks::all(),
    )
    .unwrap_or_else(|f| panic!("{f}"));
    assert_eq!((report.handled, report.skipped), (6, 0));
}
