//! # svcmirror-backend
//!
//! What a cluster must offer svcmirror ([`SourceCluster`], [`TargetCluster`]), the typed errors
//! every backend maps its failures to ([`ApiError`]), the sans-IO [`Reconciler`] that decides the
//! reconcile loop, and the async [`Driver`] that pumps it. Both are written once here and shared by
//! the in-memory fake (`svcmirror-fake`) and the kube-rs adapter (`svcmirror-kube`).
//!
//! The [`Reconciler`] keeps a cache of both clusters, asks `svcmirror-core` what the source must
//! hold ([`translate`](svcmirror_core::translate()), [`plan`](svcmirror_core::plan())) — for the
//! whole link, or for the one exported Service an event concerns — and hands the plan's operations
//! out one at a time in its order, retrying retryable errors with capped, jittered exponential
//! backoff, re-reading an object instead of resending on a conflict or an unknown outcome. It is a
//! synchronous state machine in the style of quinn-proto: `handle_*(now, input)` in,
//! [`poll_operation`](Reconciler::poll_operation) / [`poll_timeout`](Reconciler::poll_timeout) /
//! [`poll_event`](Reconciler::poll_event) out; time is a value passed in and jitter comes from a
//! seeded generator, so it is deterministic and tested without async. The [`Driver`] feeds it the
//! target's watch, sends its requests through the traits, sleeps on an injected [`Clock`] until
//! its deadlines, records its Events and publishes its status.
//!
//! **Must never**: decide anything about mirroring — what to create, update, delete or own is
//! `svcmirror-core`'s, and the reconciler only hands out what a plan says; or know which backend it
//! talks to (no kube, no fake, no HTTP here). The [`Reconciler`] never awaits, sleeps, reads a
//! clock or performs I/O; the [`Driver`] never decides (what to send, when to retry, what to
//! report are the reconciler's).
//!
//! ```no_run
//! use svcmirror_backend::{Driver, SourceCluster, TargetCluster, TokioClock};
//! use svcmirror_core::Link;
//!
//! async fn mirror(link: Link, source: impl SourceCluster, target: impl TargetCluster) {
//!     let mut driver = Driver::new(link, source, target, TokioClock);
//!     let status = driver.subscribe(); // for metrics: counters, diagnostics, failures, conditions
//!     let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
//!     # drop(stop);
//!     driver.run(async { stopped.await.ok(); }).await;
//!     println!("{} writes", status.borrow().stats.writes);
//! }
//! ```
#![deny(missing_docs)]

mod cache;
mod clock;
mod driver;
mod error;
mod event;
mod reconciler;
mod scope;

pub use clock::{Backoff, Clock, DURATION_BUCKETS, DurationHistogram, SplitMix64, TokioClock};
pub use driver::Driver;
pub use error::{ApiError, DriverError};
pub use event::{EventType, REPORTING_COMPONENT, StatusEvent};
pub use reconciler::{
    DEFAULT_MAX_PASSES, DriverConfig, DriverStats, DriverStatus, ExportStatus, Failure, OpId,
    Output, RETRY_PASSES, ReconcileOutcome, Reconciler, Request, Response, Scope,
};

use std::sync::Arc;

use async_trait::async_trait;
use futures::stream::BoxStream;
use svcmirror_core::model::{Endpoints, Kind, Object, ObjectKey, Service};
use svcmirror_core::{SourceState, TargetState};

/// Precondition of a delete (the object is only deleted if it is still the one observed): the
/// core's type, carried by the [`svcmirror_core::Operation`] itself, re-exported here for
/// backends.
pub use svcmirror_core::Precondition;

/// The cluster mirrors are written to.
#[async_trait]
pub trait SourceCluster: Send + Sync {
    /// Every Service, Endpoints and Namespace the mirror may need to see: objects of this link and
    /// any object whose name a mirror could take (in practice: all Services/Endpoints of the
    /// namespaces concerned).
    async fn list(&self) -> Result<SourceState, ApiError>;
    /// Reads one object; `Ok(None)` when it does not exist.
    async fn get(&self, kind: Kind, key: &ObjectKey) -> Result<Option<Object>, ApiError>;
    /// Creates an object; `AlreadyExists` when the name is taken. Returns it as stored.
    async fn create(&self, object: &Object) -> Result<Object, ApiError>;
    /// Replaces an object; `Conflict` when `metadata.resourceVersion` is stale. Returns it as stored.
    async fn update(&self, object: &Object) -> Result<Object, ApiError>;
    /// Deletes an object; `NotFound` when absent, `Conflict` when a precondition fails.
    async fn delete(
        &self,
        kind: Kind,
        key: &ObjectKey,
        preconditions: &Precondition,
    ) -> Result<(), ApiError>;
}

/// A change seen in the target cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetEvent {
    /// A Service was added or changed.
    ServiceApplied(Service),
    /// A Service was deleted.
    ServiceDeleted(ObjectKey),
    /// An Endpoints object was added or changed.
    EndpointsApplied(Endpoints),
    /// An Endpoints object was deleted.
    EndpointsDeleted(ObjectKey),
    /// The watch restarted: this is the complete current state (a relist).
    Restarted(TargetState),
}

/// The cluster whose Services are exported.
#[async_trait]
pub trait TargetCluster: Send + Sync {
    /// The current Services and Endpoints.
    async fn list(&self) -> Result<TargetState, ApiError>;
    /// Changes from now on. The stream may end or yield errors; the driver then relists.
    fn watch(&self) -> BoxStream<'static, Result<TargetEvent, ApiError>>;
    /// Records `event` about an exported Service in this cluster (SPEC §12, honest status): a
    /// `core/v1` Event on the Service, timestamped by the backend. The driver calls it only when
    /// an export's conditions change — never on a resync that changes nothing — and does not
    /// retry: Events are best effort, a failure is only counted
    /// ([`DriverStats::status_event_failures`]).
    ///
    /// The default does nothing (a backend without Events, or a read-only target): an additive
    /// method, existing implementations keep compiling. A backend that records Events needs
    /// `create`/`patch` on `events` in the target cluster.
    async fn record_event(&self, event: &StatusEvent) -> Result<(), ApiError> {
        let _ = event;
        Ok(())
    }
}

#[async_trait]
impl<C: SourceCluster + ?Sized> SourceCluster for Arc<C> {
    async fn list(&self) -> Result<SourceState, ApiError> {
        (**self).list().await
    }
    async fn get(&self, kind: Kind, key: &ObjectKey) -> Result<Option<Object>, ApiError> {
        (**self).get(kind, key).await
    }
    async fn create(&self, object: &Object) -> Result<Object, ApiError> {
        (**self).create(object).await
    }
    async fn update(&self, object: &Object) -> Result<Object, ApiError> {
        (**self).update(object).await
    }
    async fn delete(
        &self,
        kind: Kind,
        key: &ObjectKey,
        preconditions: &Precondition,
    ) -> Result<(), ApiError> {
        (**self).delete(kind, key, preconditions).await
    }
}

#[async_trait]
impl<C: TargetCluster + ?Sized> TargetCluster for Arc<C> {
    async fn list(&self) -> Result<TargetState, ApiError> {
        (**self).list().await
    }
    fn watch(&self) -> BoxStream<'static, Result<TargetEvent, ApiError>> {
        (**self).watch()
    }
    async fn record_event(&self, event: &StatusEvent) -> Result<(), ApiError> {
        (**self).record_event(event).await
    }
}
