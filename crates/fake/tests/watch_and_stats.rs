//! Every write is an event with its resourceVersion; every request is counted.

use svcmirror_backend::Preconditions;
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
        &Preconditions::default(),
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
        &Preconditions::default(),
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
        &Preconditions::default(),
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
