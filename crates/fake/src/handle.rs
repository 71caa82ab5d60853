//! A cheap, shareable handle on a [`FakeCluster`] that implements the cluster traits of
//! `svcmirror-backend`, so the reconcile driver can run against the fake.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::{self, BoxStream};
use svcmirror_backend::{
    ApiError, Precondition, SourceCluster, StatusEvent, TargetCluster, TargetEvent,
};
use svcmirror_core::model::{Kind, Object, ObjectKey};
use svcmirror_core::{SourceState, TargetState};

use crate::cluster::{FakeCluster, OpenWatch};
use crate::watch::{WatchEvent, WatchPoll};

/// A [`FakeCluster`] behind `Arc<Mutex<_>>`: clones share one cluster. It implements
/// [`SourceCluster`] and [`TargetCluster`]; a test keeps a clone to set up and inspect the
/// cluster through [`lock`](Self::lock) while the code under test uses the traits.
///
/// The lock is never held across an `.await`, so the handle works on any executor. Do not hold
/// the guard of [`lock`](Self::lock) across an `.await` either.
///
/// ```
/// use futures::StreamExt;
/// use svcmirror_backend::{TargetCluster, TargetEvent};
/// use svcmirror_core::model::{Object, Service};
/// use svcmirror_fake::{FakeCluster, FakeHandle};
///
/// futures::executor::block_on(async {
///     let target = FakeHandle::new(FakeCluster::default());
///     let mut events = target.watch();
///     let mut svc = Service::new("default", "web");
///     svc.spec.cluster_ip = Some("None".into());
///     target.lock().create(Object::Service(svc)).unwrap();
///     let Some(Ok(TargetEvent::ServiceApplied(seen))) = events.next().await else { panic!() };
///     assert_eq!(seen.metadata.name, "web");
/// });
/// ```
#[derive(Debug, Clone)]
pub struct FakeHandle {
    cluster: Arc<Mutex<FakeCluster>>,
    /// Status Events recorded through [`TargetCluster::record_event`], in order.
    events: Arc<Mutex<Vec<StatusEvent>>>,
}

impl From<FakeCluster> for FakeHandle {
    fn from(cluster: FakeCluster) -> Self {
        Self::new(cluster)
    }
}

impl Default for FakeHandle {
    /// A handle on [`FakeCluster::default`].
    fn default() -> Self {
        Self::new(FakeCluster::default())
    }
}

impl FakeHandle {
    /// Shares `cluster`.
    #[must_use]
    pub fn new(cluster: FakeCluster) -> Self {
        Self {
            cluster: Arc::new(Mutex::new(cluster)),
            events: Arc::default(),
        }
    }

    /// The status Events recorded through [`TargetCluster::record_event`], oldest first. They are
    /// kept beside the store, not in it (the fake serves no Event API): no request is counted and
    /// no fault is injected for them.
    pub fn recorded_events(&self) -> Vec<StatusEvent> {
        self.events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The cluster, for synchronous set-up and inspection. A panic while it was held does not
    /// poison it for other tests' assertions.
    pub fn lock(&self) -> MutexGuard<'_, FakeCluster> {
        self.cluster.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Resolves once at least `min_watchers` watch streams (from
    /// [`TargetCluster::watch`]) are open and every open one has handed out every event up to the
    /// current resourceVersion *and been polled again since*: its consumer has taken everything
    /// and is waiting for more. For a consumer that handles an event before asking for the next,
    /// this means "everything written so far was delivered and handled". No sleeping: it wakes
    /// when a watcher makes progress.
    ///
    /// A test typically waits with `min_watchers = 1` before writing (so the driver's watch is
    /// open and no write falls between its list and its watch), then again after writing.
    pub async fn watches_settled(&self, min_watchers: usize) {
        let mut progress = self.lock().subscribe_watch_progress();
        loop {
            progress.borrow_and_update();
            if self.lock().watches_settled(min_watchers) {
                return;
            }
            if progress.changed().await.is_err() {
                return;
            }
        }
    }
}

#[async_trait]
impl SourceCluster for FakeHandle {
    async fn list(&self) -> Result<SourceState, ApiError> {
        self.lock().list_request()
    }

    async fn get(&self, kind: Kind, key: &ObjectKey) -> Result<Option<Object>, ApiError> {
        self.lock().get_request(kind, key)
    }

    async fn create(&self, object: &Object) -> Result<Object, ApiError> {
        self.lock().create(object.clone())
    }

    async fn update(&self, object: &Object) -> Result<Object, ApiError> {
        self.lock().update(object.clone())
    }

    async fn delete(
        &self,
        kind: Kind,
        key: &ObjectKey,
        preconditions: &Precondition,
    ) -> Result<(), ApiError> {
        self.lock().delete(kind, key, preconditions)
    }
}

#[async_trait]
impl TargetCluster for FakeHandle {
    async fn list(&self) -> Result<TargetState, ApiError> {
        let state = self.lock().list_request()?;
        Ok(TargetState::new(state.services, state.endpoints))
    }

    /// Changes to Services and Endpoints after the current resourceVersion, in order (Namespace
    /// changes are not reported; a Namespace deletion reports its objects' deletions). The stream
    /// ends when the watch is restarted ([`FakeCluster::restart_watches`] or a fault from
    /// [`FaultConfig::watch_restarts`](crate::FaultConfig::watch_restarts)); opening it is a
    /// request that may fail (one `Err`, then the end). It never yields
    /// [`TargetEvent::Restarted`]: the consumer relists.
    fn watch(&self) -> BoxStream<'static, Result<TargetEvent, ApiError>> {
        let opened = self.lock().open_watch();
        let state = match opened {
            Ok(OpenWatch { id, alive, writes }) => WatchStream {
                handle: self.clone(),
                registration: Some(Registration { id, alive }),
                writes: Some(writes),
                pending: VecDeque::new(),
                refused: None,
            },
            Err(err) => WatchStream {
                handle: self.clone(),
                registration: None,
                writes: None,
                pending: VecDeque::new(),
                refused: Some(err),
            },
        };
        stream::unfold(state, WatchStream::next).fuse().boxed()
    }

    /// Keeps the Event in [`recorded_events`](Self::recorded_events).
    async fn record_event(&self, event: &StatusEvent) -> Result<(), ApiError> {
        self.events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(event.clone());
        Ok(())
    }
}

/// The state of one watch stream.
struct WatchStream {
    handle: FakeHandle,
    registration: Option<Registration>,
    writes: Option<tokio::sync::watch::Receiver<u64>>,
    pending: VecDeque<TargetEvent>,
    refused: Option<ApiError>,
}

struct Registration {
    id: u64,
    alive: Arc<AtomicBool>,
}

impl Drop for WatchStream {
    fn drop(&mut self) {
        if let Some(reg) = self.registration.take() {
            reg.alive.store(false, Ordering::SeqCst);
            // A stream dropped while its owner holds the lock must not deadlock; the watcher is
            // then merely marked dead and ignored.
            if let Ok(mut cluster) = self.handle.cluster.try_lock() {
                cluster.close_watch(reg.id);
            }
        }
    }
}

impl WatchStream {
    async fn next(mut self) -> Option<(Result<TargetEvent, ApiError>, Self)> {
        if let Some(err) = self.refused.take() {
            return Some((Err(err), self));
        }
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some((Ok(event), self));
            }
            let id = self.registration.as_ref()?.id;
            let writes = self.writes.as_mut()?;
            writes.borrow_and_update();
            let poll = self.handle.lock().poll_watch(id);
            match poll {
                WatchPoll::Events(events) => {
                    self.pending
                        .extend(events.into_iter().filter_map(target_event));
                }
                WatchPoll::Waiting => {
                    if self.writes.as_mut()?.changed().await.is_err() {
                        return None;
                    }
                }
                WatchPoll::Ended => {
                    self.registration = None;
                    return None;
                }
            }
        }
    }
}

/// A store event as the target watch reports it; Namespace and EndpointSlice events are not
/// reported (exports are read from Endpoints).
fn target_event(event: WatchEvent) -> Option<TargetEvent> {
    match event {
        WatchEvent::Added(Object::Service(s)) | WatchEvent::Modified(Object::Service(s)) => {
            Some(TargetEvent::ServiceApplied(s))
        }
        WatchEvent::Deleted(Object::Service(s)) => {
            Some(TargetEvent::ServiceDeleted(s.metadata.key()))
        }
        WatchEvent::Added(Object::Endpoints(e)) | WatchEvent::Modified(Object::Endpoints(e)) => {
            Some(TargetEvent::EndpointsApplied(e))
        }
        WatchEvent::Deleted(Object::Endpoints(e)) => {
            Some(TargetEvent::EndpointsDeleted(e.metadata.key()))
        }
        WatchEvent::Added(Object::Namespace(_) | Object::EndpointSlice(_))
        | WatchEvent::Modified(Object::Namespace(_) | Object::EndpointSlice(_))
        | WatchEvent::Deleted(Object::Namespace(_) | Object::EndpointSlice(_)) => None,
    }
}
