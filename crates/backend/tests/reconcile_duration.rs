//! Reconciles are timed on the injected clock (issue 12: a reconcile duration histogram), and
//! not at all on a clock that cannot tell the time.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use svcmirror_backend::{Clock, Driver};
use svcmirror_core::Link;
use svcmirror_core::model::{Object, Service, ServicePort};
use svcmirror_fake::{FakeCluster, FakeHandle};

/// Every reading of `now` is 7 ms after the previous one; sleeping takes no time.
struct Ticking(Mutex<Instant>);

impl Clock for Ticking {
    fn sleep(&self, _: Duration) -> BoxFuture<'static, ()> {
        Box::pin(async {})
    }
    fn now(&self) -> Option<Instant> {
        let mut now = self.0.lock().expect("lock");
        *now += Duration::from_millis(7);
        Some(*now)
    }
}

/// A clock without `now`.
struct Blind;

impl Clock for Blind {
    fn sleep(&self, _: Duration) -> BoxFuture<'static, ()> {
        Box::pin(async {})
    }
}

fn world() -> (Link, FakeHandle, FakeHandle) {
    let mut west = FakeCluster::default();
    let mut web = Service::new("default", "web");
    web.metadata
        .labels
        .insert("mirror.linkerd.io/exported".into(), "true".into());
    web.spec.ports.push(ServicePort {
        port: 80,
        ..ServicePort::default()
    });
    west.create(Object::Service(web)).expect("web");
    let link = Link::builder("west")
        .gateway_address("172.18.0.4".parse().expect("ip"))
        .build()
        .expect("link");
    (
        link,
        FakeHandle::from(FakeCluster::default()),
        FakeHandle::from(west),
    )
}

#[tokio::test]
async fn each_reconcile_is_timed_on_the_injected_clock() {
    let (link, east, west) = world();
    let mut driver = Driver::new(link, east, west, Ticking(Mutex::new(Instant::now())));
    driver.resync().await.expect("resync");
    driver.resync().await.expect("resync");
    let histogram = driver.stats().reconcile_duration;
    assert_eq!(histogram.count, driver.stats().reconciles);
    assert_eq!(histogram.count, 2);
    // Start and end of each reconcile are one tick apart: 7 ms, in the (5 ms, 10 ms] bucket.
    assert_eq!(histogram.buckets[1], 2, "{histogram:?}");
    assert_eq!(histogram.sum_micros, 14_000);
}

#[tokio::test]
async fn a_clock_without_now_measures_nothing() {
    let (link, east, west) = world();
    let mut driver = Driver::new(link, east, west, Blind);
    driver.resync().await.expect("resync");
    assert_eq!(driver.stats().reconciles, 1);
    assert_eq!(driver.stats().reconcile_duration.count, 0);
}
