//! API requests the reconcile driver sends to the source cluster, counted on `svcmirror-fake`
//! (`FakeCluster::stats`), against the minimum each scenario needs.
//!
//! The seed walkthrough (SPEC §11 `seed-walkthrough`: headless `default/nginx-svc`, pods
//! `nginx-set-0..2`) needs 8 creates — 3 endpoint mirror Services, their 3 Endpoints, the root
//! mirror Service and its Endpoints — and 1 update: the root Endpoints can only map a hostname to
//! its endpoint mirror's ClusterIP once the source has allocated it, i.e. after the creates
//! (SPEC §6.6). Nothing else is written, and a converged source is never written again.

use svcmirror_backend::{Driver, TargetEvent, TokioClock};
use svcmirror_core::Link;
use svcmirror_core::model::{
    EndpointAddress, EndpointPort, EndpointSubset, Endpoints, IntOrString, Object, Service,
    ServicePort,
};
use svcmirror_fake::{FakeCluster, FakeHandle, Stats};

fn link() -> Link {
    Link::builder("west")
        .gateway_address("172.18.0.4".parse().expect("ip"))
        .enable_headless_services(true)
        .build()
        .expect("link")
}

fn nginx_svc() -> Service {
    let mut svc = Service::new("default", "nginx-svc");
    svc.metadata
        .labels
        .insert("mirror.linkerd.io/exported".into(), "true".into());
    svc.spec.cluster_ip = Some("None".into());
    svc.spec.ports = vec![ServicePort {
        name: Some("http".into()),
        protocol: Some("TCP".into()),
        port: 80,
        target_port: Some(IntOrString::Int(80)),
        ..ServicePort::default()
    }];
    svc
}

fn nginx_endpoints(pods: usize) -> Endpoints {
    let mut ep = Endpoints::new("default", "nginx-svc");
    ep.subsets = vec![EndpointSubset {
        addresses: (0..pods)
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
    ep
}

/// Source requests since `before`: (creates, updates, deletes, gets, lists).
fn since(before: Stats, now: Stats) -> (u64, u64, u64, u64, u64) {
    (
        now.creates - before.creates,
        now.updates - before.updates,
        now.deletes - before.deletes,
        now.gets - before.gets,
        now.lists - before.lists,
    )
}

#[tokio::test]
async fn seed_walkthrough_through_events_sends_the_minimum() {
    let source = FakeHandle::new(FakeCluster::default());
    let target = FakeHandle::new(FakeCluster::default());
    let mut driver = Driver::new(link(), source.clone(), target.clone(), TokioClock);
    driver.resync().await.expect("lists");
    let start = source.lock().stats();
    assert_eq!(
        (start.requests, start.lists),
        (1, 1),
        "the first resync lists the source once"
    );

    // The Service alone: a headless export waits for its Endpoints (SPEC §6.3) — no request.
    // The events carry the objects as stored (with their resourceVersions), as a watch does.
    let Object::Service(svc) = target
        .lock()
        .create(Object::Service(nginx_svc()))
        .expect("svc")
    else {
        unreachable!("a Service was created")
    };
    driver.handle(TargetEvent::ServiceApplied(svc)).await;
    assert_eq!(source.lock().stats().requests, start.requests);

    let Object::Endpoints(ep) = target
        .lock()
        .create(Object::Endpoints(nginx_endpoints(3)))
        .expect("ep")
    else {
        unreachable!("an Endpoints was created")
    };
    let outcome = driver
        .handle(TargetEvent::EndpointsApplied(ep.clone()))
        .await;
    assert!(outcome.complete, "{outcome:?}");
    let after = source.lock().stats();
    assert_eq!(
        since(start, after),
        (8, 1, 0, 0, 0),
        "creates, updates, deletes, gets, lists for the seed walkthrough"
    );
    assert_eq!(after.requests - start.requests, 9, "9 requests in all");
    assert_eq!(after.failed_requests, 0);

    // Steady state: the same event again and a resync write nothing.
    driver.handle(TargetEvent::EndpointsApplied(ep)).await;
    let outcome = driver.resync().await.expect("lists");
    assert_eq!(outcome.writes, 0);
    let steady = source.lock().stats();
    assert_eq!(
        since(after, steady),
        (0, 0, 0, 0, 1),
        "only the resync's list"
    );
}

#[tokio::test]
async fn seed_walkthrough_from_a_resync_sends_the_minimum() {
    let source = FakeHandle::new(FakeCluster::default());
    let mut west = FakeCluster::default();
    west.create(Object::Service(nginx_svc())).expect("svc");
    west.create(Object::Endpoints(nginx_endpoints(3)))
        .expect("ep");
    let target = FakeHandle::new(west);
    let mut driver = Driver::new(link(), source.clone(), target, TokioClock);

    let outcome = driver.resync().await.expect("lists");
    assert!(outcome.complete, "{outcome:?}");
    let stats = source.lock().stats();
    assert_eq!(
        (
            stats.creates,
            stats.updates,
            stats.deletes,
            stats.gets,
            stats.lists
        ),
        (8, 1, 0, 0, 1),
        "creates, updates, deletes, gets, lists"
    );
    assert_eq!(stats.requests, 10, "one list and 9 writes");

    let outcome = driver.resync().await.expect("lists");
    assert_eq!(outcome.writes, 0);
    assert_eq!(source.lock().stats().writes, stats.writes, "a resync wrote");
}
