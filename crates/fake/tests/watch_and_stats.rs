//! Every write is an event with its resourceVersion; every request is counted.

use svcmirror_backend::Precondition;
use svcmirror_core::model::{Kind, Object, ObjectKey, Service, ServicePort};
use svcmirror_fake::{FakeCluster, WatchEvent};

fn svc(name: &str) -> Object {
    let mut s = Service::new("default", name);
    s.spec.ports.push(ServicePort {
        port: 80,
        ..ServicePort::default()
    });
    Object::Service(s)
}

fn summary(events: &[(u64, WatchEvent)]) -> Vec<(u64, &'static str, String)> {
    events
        .iter()
        .map(|(rv, e)| {
            let what = match e {
                WatchEvent::Added(_) => "added",
                WatchEvent::Modified(_) => "modified",
                WatchEvent::Deleted(_) => "deleted",
            };
            (
                *rv,
                what,
                format!("{}/{}", e.object().kind(), e.object().key()),
            )
        })
        .collect()
}

#[test]
fn every_write_is_an_event_in_order_and_failed_or_no_op_requests_are_not() {
    let mut c = FakeCluster::default();
    let start = c.resource_version();
    let Object::Service(web) = c.create(svc("web")).unwrap() else {
        panic!()
    };
    c.create(svc("web")).unwrap_err(); // AlreadyExists: no event
    let mut changed = web.clone();
    changed.metadata.labels.insert("a".into(), "b".into());
    c.update(Object::Service(changed.clone())).unwrap();
    changed.metadata.resource_version = None;
    c.update(Object::Service(changed)).unwrap(); // no change: no event
    c.delete(
        Kind::Service,
        &ObjectKey::new("default", "web"),
        &Precondition::default(),
    )
    .unwrap();
    let events = c.events_since(start);
    assert_eq!(
        summary(&events),
        vec![
            (2, "added", "Service/default/web".to_owned()),
            (3, "modified", "Service/default/web".to_owned()),
            (4, "deleted", "Service/default/web".to_owned()),
        ]
    );
    // The object in each event carries the event's resourceVersion.
    for (rv, e) in &events {
        let Object::Service(s) = e.object() else {
            panic!()
        };
        assert_eq!(s.metadata.resource_version, Some(rv.to_string()));
    }
    assert_eq!(summary(&c.events_since(3)), summary(&events[2..]));
    assert!(c.events_since(c.resource_version()).is_empty());
    // History starts with the default namespace.
    assert_eq!(
        summary(&c.events_since(0))[0],
        (1, "added", "Namespace/default".to_owned())
    );
}

#[test]
fn deleting_a_namespace_reports_each_object_then_the_namespace() {
    let mut c = FakeCluster::default();
    c.create_namespace("apps").unwrap();
    let mut s = Service::new("apps", "web");
    s.spec.cluster_ip = Some("None".into());
    c.create(Object::Service(s)).unwrap();
    let rv = c.resource_version();
    c.delete(
        Kind::Namespace,
        &ObjectKey::new("", "apps"),
        &Precondition::default(),
    )
    .unwrap();
    let got: Vec<_> = summary(&c.events_since(rv))
        .into_iter()
        .map(|(_, w, o)| (w, o))
        .collect();
    assert_eq!(
        got,
        vec![
            ("deleted", "Service/apps/web".to_owned()),
            ("deleted", "Namespace/apps".to_owned()),
        ]
    );
}

#[test]
fn requests_are_counted_by_verb_and_outcome_while_inspection_is_not() {
    let mut c = FakeCluster::default();
    c.create(svc("a")).unwrap();
    c.create(svc("a")).unwrap_err();
    let _ = c.update(svc("missing"));
    let _ = c.delete(
        Kind::Endpoints,
        &ObjectKey::new("default", "a"),
        &Precondition::default(),
    );
    let _ = c.get(Kind::Service, &ObjectKey::new("default", "a"));
    let _ = c.state();
    let stats = c.stats();
    assert_eq!(
        (
            stats.requests,
            stats.writes,
            stats.reads,
            stats.failed_requests
        ),
        (4, 4, 0, 3)
    );
    assert_eq!((stats.creates, stats.updates, stats.deletes), (2, 1, 1));
    assert_eq!(stats.injected_faults, 0);
}

/// Compaction drops the write history, not the objects: later writes are events again, the
/// resourceVersion keeps counting, and the store (`state`, `into_state`) is unchanged.
#[test]
fn compacted_history_keeps_the_objects_and_later_writes_are_events() {
    let mut c = FakeCluster::default();
    c.create(svc("web")).unwrap();
    let before = c.state();
    let rv = c.resource_version();
    c.compact_history();
    assert!(c.events_since(0).is_empty(), "history dropped");
    assert_eq!(c.state(), before, "objects kept");
    assert_eq!(c.resource_version(), rv);
    c.create(svc("api")).unwrap();
    assert_eq!(
        summary(&c.events_since(0)),
        vec![(rv + 1, "added", "Service/default/api".to_owned())]
    );
    // `into_state` moves out what `state` copies.
    let copied = c.state();
    assert_eq!(copied.services.len(), 2);
    assert_eq!(c.into_state(), copied);
}

/// `apply_owned` is `apply` without the copy: same store, same events, same counters.
#[test]
fn apply_owned_matches_apply() {
    use svcmirror_core::{DeleteReason, Operation};
    let ops = |c: &FakeCluster| {
        let mut web = match c.get(Kind::Service, &ObjectKey::new("default", "web")) {
            Some(Object::Service(s)) => s,
            _ => panic!("web"),
        };
        web.metadata.labels.insert("tier".into(), "front".into());
        vec![
            Operation::Create { object: svc("api") },
            Operation::Update {
                object: Object::Service(web.clone()),
                changed: vec!["metadata.labels"],
                precondition: Precondition::observed(&web.metadata),
            },
            Operation::Delete {
                kind: Kind::Service,
                key: ObjectKey::new("default", "web"),
                precondition: Precondition::default(),
                reason: DeleteReason::Orphan,
            },
        ]
    };
    let (mut by_ref, mut by_value) = (FakeCluster::default(), FakeCluster::default());
    for c in [&mut by_ref, &mut by_value] {
        c.create(svc("web")).unwrap();
    }
    for op in ops(&by_ref) {
        by_ref.apply(&op).unwrap();
    }
    for op in ops(&by_value) {
        by_value.apply_owned(op).unwrap();
    }
    assert_eq!(by_value.state(), by_ref.state());
    assert_eq!(
        summary(&by_value.events_since(0)),
        summary(&by_ref.events_since(0))
    );
    assert_eq!(by_value.stats(), by_ref.stats());
    assert_eq!(
        by_value.state().services.len(),
        1,
        "web deleted, api created"
    );
}
