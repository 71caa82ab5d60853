//! `FakeHandle` as the backend traits see it: the source verbs, the target list and watch, watch
//! restarts, and knowing without sleeping that a watch consumer has caught up.

use std::sync::{Arc, Mutex};

use futures::{FutureExt, StreamExt};
use svcmirror_backend::{ApiError, Precondition, SourceCluster, TargetCluster, TargetEvent};
use svcmirror_core::model::{
    EndpointAddress, EndpointSubset, Endpoints, Kind, Object, ObjectKey, Service, ServicePort,
};
use svcmirror_fake::{FakeCluster, FakeHandle, FaultConfig};

fn svc(name: &str) -> Service {
    let mut s = Service::new("default", name);
    s.spec.ports.push(ServicePort {
        port: 80,
        ..ServicePort::default()
    });
    s
}

fn eps(name: &str, ip: &str) -> Endpoints {
    let mut e = Endpoints::new("default", name);
    e.subsets.push(EndpointSubset {
        addresses: vec![EndpointAddress {
            ip: ip.into(),
            ..EndpointAddress::default()
        }],
        ..EndpointSubset::default()
    });
    e
}

fn label(e: &TargetEvent) -> String {
    match e {
        TargetEvent::ServiceApplied(s) => format!("svc+ {}", s.metadata.key()),
        TargetEvent::ServiceDeleted(k) => format!("svc- {k}"),
        TargetEvent::EndpointsApplied(e) => format!("ep+ {}", e.metadata.key()),
        TargetEvent::EndpointsDeleted(k) => format!("ep- {k}"),
        TargetEvent::Restarted(_) => "restarted".into(),
    }
}

#[tokio::test]
async fn source_verbs_go_through_the_api_server_rules_and_are_counted() {
    let source = FakeHandle::default();
    let created = SourceCluster::create(&source, &Object::Service(svc("web")))
        .await
        .unwrap();
    let Object::Service(created) = created else {
        panic!()
    };
    assert!(created.spec.cluster_ip.is_some());
    let key = ObjectKey::new("default", "web");
    assert_eq!(
        SourceCluster::get(&source, Kind::Service, &key)
            .await
            .unwrap(),
        Some(Object::Service(created.clone()))
    );
    assert!(matches!(
        SourceCluster::create(&source, &Object::Service(svc("web"))).await,
        Err(ApiError::AlreadyExists { .. })
    ));
    let mut stale = created.clone();
    stale.metadata.resource_version = Some("1".into());
    assert!(matches!(
        SourceCluster::update(&source, &Object::Service(stale)).await,
        Err(ApiError::Conflict { .. })
    ));
    let listed = SourceCluster::list(&source).await.unwrap();
    assert_eq!(listed.services, vec![created.clone()]);
    assert!(listed.has_namespace("default") && !listed.has_namespace("other"));
    let pre = Precondition {
        uid: created.metadata.uid.clone(),
        resource_version: created.metadata.resource_version.clone(),
    };
    SourceCluster::delete(&source, Kind::Service, &key, &pre)
        .await
        .unwrap();
    assert_eq!(
        SourceCluster::get(&source, Kind::Service, &key)
            .await
            .unwrap(),
        None
    );
    let stats = source.lock().stats();
    assert_eq!((stats.creates, stats.updates, stats.deletes), (2, 1, 1));
    assert_eq!((stats.gets, stats.lists, stats.reads), (2, 1, 3));
    assert_eq!(stats.failed_requests, 2);
}

#[tokio::test]
async fn watch_reports_target_changes_from_now_on_in_order() {
    let target = FakeHandle::default();
    target
        .lock()
        .create(Object::Service(svc("before")))
        .unwrap();
    let mut watch = target.watch();
    {
        let mut c = target.lock();
        c.create_namespace("apps").unwrap(); // not reported
        c.create(Object::Service(svc("web"))).unwrap();
        c.create(Object::Endpoints(eps("web", "10.42.0.7")))
            .unwrap();
        c.update(Object::Endpoints(eps("web", "10.42.0.8")))
            .unwrap();
        c.delete(
            Kind::Service,
            &ObjectKey::new("default", "web"),
            &Precondition::default(),
        )
        .unwrap();
    }
    let mut got = Vec::new();
    for _ in 0..4 {
        got.push(label(&watch.next().await.unwrap().unwrap()));
    }
    assert_eq!(
        got,
        [
            "svc+ default/web",
            "ep+ default/web",
            "ep+ default/web",
            "svc- default/web"
        ]
    );
    // Nothing more is pending.
    assert!(watch.next().now_or_never().is_none());
    let listed = TargetCluster::list(&target).await.unwrap();
    let names: Vec<&str> = listed
        .services
        .iter()
        .map(|s| s.metadata.name.as_str())
        .collect();
    assert_eq!(names, ["before"]);
    assert_eq!(listed.endpoints.len(), 1);
}

#[tokio::test]
async fn watches_settled_means_the_consumer_took_every_event_so_far() {
    let target = FakeHandle::default();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let consumer = {
        let mut watch = target.watch();
        let seen = Arc::clone(&seen);
        tokio::spawn(async move {
            while let Some(event) = watch.next().await {
                seen.lock().unwrap().push(label(&event.unwrap()));
            }
        })
    };
    target.watches_settled(1).await;
    for i in 0..5 {
        target
            .lock()
            .create(Object::Service(svc(&format!("s{i}"))))
            .unwrap();
    }
    target.watches_settled(1).await;
    assert_eq!(seen.lock().unwrap().len(), 5);
    target
        .lock()
        .create(Object::Endpoints(eps("s0", "10.42.0.1")))
        .unwrap();
    // Not settled until the consumer has taken the new event (it has not run since the write:
    // this runtime is single-threaded and the test has not yielded).
    assert!(target.watches_settled(1).now_or_never().is_none());
    target.watches_settled(1).await;
    assert_eq!(
        seen.lock().unwrap().last().map(String::as_str),
        Some("ep+ default/s0")
    );

    target.lock().restart_watches();
    consumer.await.unwrap(); // the stream ended: the consumer's loop is over
    assert_eq!(seen.lock().unwrap().len(), 6);
}

#[tokio::test]
async fn a_dropped_or_restarted_watch_does_not_hold_up_settling() {
    let target = FakeHandle::default();
    let dropped = target.watch();
    let mut live = target.watch();
    drop(dropped);
    assert!(live.next().now_or_never().is_none()); // now waiting
    assert!(target.watches_settled(1).now_or_never().is_some());
    assert!(target.watches_settled(2).now_or_never().is_none());

    target.lock().restart_watches();
    assert_eq!(live.next().await.map(|r| r.is_ok()), None);
    assert!(live.next().await.is_none(), "an ended watch stays ended");
    assert!(target.watches_settled(1).now_or_never().is_none());
    assert!(target.watches_settled(0).now_or_never().is_some());
}

#[tokio::test]
async fn opening_a_watch_is_a_request_that_can_fail() {
    let target = FakeHandle::new(FakeCluster::default().with_faults(FaultConfig::new(1.0, 1)));
    let mut watch = target.watch();
    let first = watch.next().await.unwrap();
    assert!(first.is_err_and(|e| e.is_retryable()));
    assert!(watch.next().await.is_none());
    assert_eq!(target.lock().stats().watches, 1);
    assert!(TargetCluster::list(&target).await.is_err());
}

/// A consumer that relists whenever its watch ends ends up with the store's state, and the
/// restarts are the same for the same seed.
#[tokio::test]
async fn random_watch_restarts_are_reproducible_and_a_relisting_consumer_converges() {
    async fn run(seed: u64) -> (usize, Vec<String>) {
        let target = FakeHandle::default();
        let mut restarts = 0;
        let mut view: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
        let mut watch = target.watch();
        target
            .lock()
            .set_faults(Some(FaultConfig::new(0.0, seed).watch_restarts(0.3)));
        for i in 0..40 {
            target
                .lock()
                .create(Object::Service(svc(&format!("s{i:02}"))))
                .unwrap();
            loop {
                match watch.next().now_or_never() {
                    Some(Some(Ok(TargetEvent::ServiceApplied(s)))) => {
                        view.insert(s.metadata.name);
                    }
                    Some(Some(other)) => panic!("unexpected {other:?}"),
                    Some(None) => {
                        restarts += 1;
                        watch = target.watch();
                        let listed = TargetCluster::list(&target).await.unwrap();
                        view = listed
                            .services
                            .into_iter()
                            .map(|s| s.metadata.name)
                            .collect();
                    }
                    None => break,
                }
            }
        }
        (restarts, view.into_iter().collect())
    }
    let (restarts, view) = run(9).await;
    assert!(restarts > 0, "no restart was injected");
    assert_eq!(view.len(), 40);
    assert_eq!(run(9).await, (restarts, view));
    assert_ne!(run(10).await.0, 0);
}

/// Compaction ends open watches, as a `410 Gone` does: the stream ends (its consumer relists),
/// and a watch opened afterwards sees the writes that follow.
#[tokio::test]
async fn compacting_history_ends_open_watches_and_new_watches_see_later_writes() {
    let target = FakeHandle::default();
    let mut before = target.watch();
    assert!(before.next().now_or_never().is_none()); // now waiting
    target.lock().compact_history();
    assert_eq!(before.next().await.map(|r| r.is_ok()), None, "ended");
    let mut after = target.watch();
    target
        .lock()
        .create(Object::Endpoints(eps("s1", "10.42.0.2")))
        .unwrap();
    let event = after.next().await.expect("an event").expect("not an error");
    assert!(
        matches!(&event, TargetEvent::EndpointsApplied(e) if e.metadata.name == "s1"),
        "{event:?}"
    );
}
