//! `Driver::run` under failure (issue 14): a watch that fails right after its list backs off
//! instead of relisting both clusters in a tight loop, and a shutdown in the middle of a type flip
//! finishes the reconcile in flight, so the mirror it deleted is re-created before `run` returns.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::{self, BoxStream};
use svcmirror_backend::{
    ApiError, Driver, DriverConfig, Precondition, SourceCluster, TargetCluster, TargetEvent,
};
use svcmirror_core::model::{Kind, Object, ObjectKey};
use svcmirror_core::{SourceState, TargetState};
use svcmirror_fake::FakeHandle;
use tokio::sync::{Notify, watch};

use common::*;

/// A target whose every watch delivers its initial list (`Restarted`, as kube-runtime's watcher
/// does) and then fails at once; the `stop_after`-th watch raises `stop`.
struct FailsAfterList {
    inner: FakeHandle,
    watches: AtomicU32,
    stop_after: u32,
    stop: watch::Sender<bool>,
}

#[async_trait]
impl TargetCluster for FailsAfterList {
    async fn list(&self) -> Result<TargetState, ApiError> {
        TargetCluster::list(&self.inner).await
    }

    fn watch(&self) -> BoxStream<'static, Result<TargetEvent, ApiError>> {
        if self.watches.fetch_add(1, Ordering::SeqCst) + 1 >= self.stop_after {
            self.stop.send_replace(true);
        }
        let inner = self.inner.clone();
        stream::once(async move {
            TargetCluster::list(&inner)
                .await
                .map(TargetEvent::Restarted)
        })
        .chain(stream::once(async {
            Err(ApiError::Unavailable(
                "watch failed right after its list".into(),
            ))
        }))
        .boxed()
    }
}

/// Issue 14 "a watch that fails right after its list loops without backoff": each restart of
/// such a watch waits longer (the driver's capped, jittered backoff), instead of relisting both
/// clusters back to back.
#[tokio::test]
async fn a_watch_that_fails_right_after_its_list_backs_off() {
    let w = World::new(link()).with_manual_resync();
    w.put_service_quietly(nginx("default"));
    w.put_endpoints_quietly(nginx_endpoints("default", 2));
    let (stop, mut stopped) = watch::channel(false);
    let target = Arc::new(FailsAfterList {
        inner: w.target.clone(),
        watches: AtomicU32::new(0),
        stop_after: 6,
        stop,
    });
    let config = DriverConfig::default();
    let resync = config.resync_interval;
    let mut driver = Driver::new(
        w.link.clone(),
        w.source.clone(),
        target.clone(),
        w.clock.clone(),
    )
    .with_config(config);
    driver
        .run(async move {
            let _ = stopped.wait_for(|s| *s).await;
        })
        .await;
    let backoffs: Vec<_> = w
        .clock
        .slept()
        .into_iter()
        .filter(|d| *d < resync)
        .collect();
    // Five restarts before the sixth watch: five backoff sleeps, each within the driver's
    // backoff bounds for its attempt (equal jitter: between half and all of 100 ms · 2ⁿ).
    assert_eq!(backoffs.len(), 5, "{backoffs:?}");
    for (n, d) in backoffs.iter().enumerate() {
        let ceiling =
            std::time::Duration::from_millis(100) * 2u32.pow(u32::try_from(n).expect("n"));
        assert!(*d >= ceiling / 2 && *d <= ceiling, "restart {n}: {d:?}");
    }
    assert_eq!(driver.stats().watch_restarts, 5, "{:?}", driver.stats());
}

/// A source whose create of one object signals `entered` and then waits for `open`.
#[derive(Clone)]
struct Gated {
    inner: FakeHandle,
    key: ObjectKey,
    entered: Arc<watch::Sender<bool>>,
    open: Arc<Notify>,
}

#[async_trait]
impl SourceCluster for Gated {
    async fn list(&self) -> Result<SourceState, ApiError> {
        SourceCluster::list(&self.inner).await
    }
    async fn get(&self, kind: Kind, key: &ObjectKey) -> Result<Option<Object>, ApiError> {
        SourceCluster::get(&self.inner, kind, key).await
    }
    async fn create(&self, object: &Object) -> Result<Object, ApiError> {
        if object.kind() == Kind::Service && object.key() == self.key {
            self.entered.send_replace(true);
            self.open.notified().await;
        }
        SourceCluster::create(&self.inner, object).await
    }
    async fn update(&self, object: &Object) -> Result<Object, ApiError> {
        SourceCluster::update(&self.inner, object).await
    }
    async fn delete(
        &self,
        kind: Kind,
        key: &ObjectKey,
        preconditions: &Precondition,
    ) -> Result<(), ApiError> {
        SourceCluster::delete(&self.inner, kind, key, preconditions).await
    }
}

/// Issue 14 "a SIGTERM mid type-flip leaves the mirror deleted until the next leader": the
/// shutdown arrives after the flip deleted the ClusterIP mirror and while its headless
/// replacement is being created. `run` finishes that reconcile before it returns, so the mirror
/// exists again (headless) when the controller exits.
#[tokio::test]
async fn a_shutdown_mid_type_flip_finishes_the_reconcile_in_flight() {
    let mut w = World::new(link());
    w.put_service_quietly(exported("default", "nginx-svc", false, &[("http", 80)]));
    w.put_endpoints_quietly(nginx_endpoints("default", 2));
    w.resync().await;
    let mirror = key("default", "nginx-svc-west");
    assert!(
        w.source.lock().get(Kind::Service, &mirror).is_some(),
        "the ClusterIP mirror"
    );
    // The flip: the export becomes headless with named pods (SPEC §7: delete and re-create). Its
    // clusterIP is immutable, so the target's Service is replaced, as a user would.
    {
        let mut target = w.target.lock();
        target
            .delete(
                Kind::Service,
                &key("default", "nginx-svc"),
                &Precondition::default(),
            )
            .expect("delete");
        target
            .create(Object::Service(nginx("default")))
            .expect("create");
    }
    let (entered, mut entered_rx) = watch::channel(false);
    let open = Arc::new(Notify::new());
    let gated = Gated {
        inner: w.source.clone(),
        key: mirror.clone(),
        entered: Arc::new(entered),
        open: open.clone(),
    };
    let mut driver = Driver::new(w.link.clone(), gated, w.target.clone(), w.clock.clone());
    let mut shutdown_rx = entered_rx.clone();
    let opener = async move {
        let _ = entered_rx.wait_for(|e| *e).await;
        // The shutdown is signalled (below) by the same flag; the create goes on only now.
        tokio::task::yield_now().await;
        open.notify_one();
    };
    let run = driver.run(async move {
        let _ = shutdown_rx.wait_for(|e| *e).await;
    });
    tokio::join!(run, opener);
    let Some(Object::Service(svc)) = w.source.lock().get(Kind::Service, &mirror) else {
        panic!("the type flip's mirror was left deleted by the shutdown");
    };
    assert!(svc.is_headless(), "{svc:?}");
}
