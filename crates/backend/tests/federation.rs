//! SPEC §9 and §2.1 through the driver: federated Services written by two drivers (two links, one
//! per target, as Linkerd deploys one controller per link) on one source, and the gateway's
//! liveness as an input.

mod common;

use std::sync::Arc;

use common::*;
use svcmirror_backend::{Driver, TargetEvent};
use svcmirror_core::labels::REMOTE_DISCOVERY_ANNOTATION;
use svcmirror_core::model::{Object, ObjectKey, Service};
use svcmirror_core::{Link, MirrorMode};
use svcmirror_fake::{FakeCluster, FakeHandle};

type Fed = Driver<FakeHandle, FakeHandle, Arc<TestClock>>;

fn member(ports: &[(&str, i32)]) -> Service {
    let mut s = exported("default", "web", false, ports);
    s.metadata.labels.remove(EXPORTED.0);
    s.metadata
        .labels
        .insert("mirror.linkerd.io/federated".into(), "member".into());
    s
}

fn cluster(name: &str) -> Link {
    Link::builder(name)
        .gateway_address(ip(GATEWAY))
        .build()
        .expect("link")
}

fn target_with(services: Vec<Service>) -> FakeHandle {
    let handle = FakeHandle::new(FakeCluster::new("10.96.0.0/16".parse().expect("cidr")));
    for s in services {
        put_quietly(&handle, Object::Service(s));
    }
    handle
}

fn driver(link: Link, source: &FakeHandle, target: &FakeHandle) -> Fed {
    Driver::new(
        link,
        source.clone(),
        target.clone(),
        Arc::new(TestClock::default()),
    )
}

fn members_listed(source: &FakeHandle) -> Option<String> {
    let state = source.lock().state();
    state
        .service(&key("default", "web-federated"))
        .and_then(|s| {
            s.metadata
                .annotations
                .get(REMOTE_DISCOVERY_ANNOTATION)
                .cloned()
        })
}

/// SPEC §9, Linkerd's created/joined scenarios with one controller per link: both drivers start
/// from the same empty view (each one's create races the other's: `AlreadyExists`, re-read,
/// merge), both members end up listed, and a further resync of both writes nothing.
#[tokio::test]
async fn two_links_converge_on_one_federated_service_without_flapping() {
    let source = FakeHandle::default();
    let west_target = target_with(vec![member(&[("http", 80)])]);
    let east_target = target_with(vec![member(&[("http", 80)])]);
    let mut west = driver(cluster("west"), &source, &west_target);
    let mut east = driver(cluster("east"), &source, &east_target);
    // Both list the empty source first, then reconcile: the second create conflicts.
    west.relist().await.expect("list");
    east.relist().await.expect("list");
    assert!(west.full_reconcile().await.complete);
    let outcome = east.full_reconcile().await;
    assert!(outcome.complete, "{outcome:?}");
    assert!(east.stats().conflicts >= 1, "the race was exercised");
    assert_eq!(
        members_listed(&source).as_deref(),
        Some("web@east,web@west")
    );
    assert_eq!(
        west.exports()[&key("default", "web")].outcome.mode,
        MirrorMode::Federated
    );

    let rv = source.lock().resource_version();
    for _ in 0..2 {
        assert!(west.resync().await.expect("resync").complete);
        assert!(east.resync().await.expect("resync").complete);
    }
    assert_eq!(
        source.lock().resource_version(),
        rv,
        "a settled resync wrote"
    );
    assert_eq!(
        members_listed(&source).as_deref(),
        Some("web@east,web@west")
    );
}

/// Linkerd's joined/left scenarios through target events (one-export reconciles): west's member
/// appears, then leaves; east's entry is never touched by west; the last member's leave deletes
/// the federated Service.
#[tokio::test]
async fn member_joins_and_leaves_through_events() {
    let source = FakeHandle::default();
    let west_target = target_with(vec![]);
    let east_target = target_with(vec![member(&[("http", 80)])]);
    let mut west = driver(cluster("west"), &source, &west_target);
    let mut east = driver(cluster("east"), &source, &east_target);
    east.resync().await.expect("resync");
    west.resync().await.expect("resync");
    assert_eq!(members_listed(&source).as_deref(), Some("web@east"));

    // Joined.
    let outcome = west
        .handle(TargetEvent::ServiceApplied(member(&[("http", 80)])))
        .await;
    assert!(outcome.complete);
    assert_eq!(
        members_listed(&source).as_deref(),
        Some("web@east,web@west")
    );
    // Left.
    west.handle(TargetEvent::ServiceDeleted(key("default", "web")))
        .await;
    assert_eq!(members_listed(&source).as_deref(), Some("web@east"));
    // The last one leaves: the federated Service goes.
    east.handle(TargetEvent::ServiceDeleted(key("default", "web")))
        .await;
    assert!(
        source
            .lock()
            .state()
            .service(&ObjectKey::new("default", "web-federated"))
            .is_none()
    );
}

/// SPEC §2.1, §5, §6.6: a gateway-alive change is a whole-link reconcile. While dead, every
/// gateway address of a mirror Endpoints (ClusterIP mirrors and endpoint mirrors) is not ready;
/// the root mirror of a headless export keeps its hostname records in `addresses`. Back alive,
/// everything is as before; an unchanged liveness writes nothing.
#[tokio::test]
async fn gateway_liveness_moves_gateway_addresses_and_back() {
    let mut w = World::new(link());
    w.start().await;
    w.put_service(exported("default", "web", false, &[("http", 80)]))
        .await;
    w.put_endpoints(endpoints(
        "default",
        "web",
        &[("", "10.42.0.50")],
        &[("http", 80)],
    ))
    .await;
    w.put_service(nginx("default")).await;
    w.put_endpoints(nginx_endpoints("default", 2)).await;
    let alive_state = normalized(&w.source_state());

    let ready_and_not = |w: &World, name: &str| {
        let e = w.endpoints_of("default", name).expect("endpoints");
        let ready: usize = e.subsets.iter().map(|s| s.addresses.len()).sum();
        let not_ready: usize = e.subsets.iter().map(|s| s.not_ready_addresses.len()).sum();
        (ready, not_ready)
    };
    assert!(
        w.driver.set_gateway_alive(true).await.is_none(),
        "no change"
    );
    let outcome = w.driver.set_gateway_alive(false).await.expect("a change");
    assert!(outcome.complete && outcome.writes > 0);
    assert_eq!(ready_and_not(&w, "web-west"), (0, 1));
    assert_eq!(ready_and_not(&w, "nginx-set-0-west"), (0, 1));
    assert_eq!(
        ready_and_not(&w, "nginx-svc-west"),
        (2, 0),
        "SPEC §6.6: hostname records stay published"
    );
    assert!(w.driver.set_gateway_alive(false).await.is_none());

    w.driver.set_gateway_alive(true).await.expect("a change");
    assert_eq!(ready_and_not(&w, "web-west"), (1, 0));
    assert_eq!(
        normalized(&w.source_state()).endpoints,
        alive_state.endpoints
    );
}
