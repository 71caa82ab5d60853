//! What a cluster must offer svcmirror: the source that mirrors are written to
//! ([`SourceCluster`]), the target whose Services are exported ([`TargetCluster`]) and the changes
//! its watch reports ([`TargetEvent`]). A leaf of the crate: the reconciler, the driver and the
//! caches import it, and the crate root only re-exports it (no module imports the root back).

use std::sync::Arc;

use async_trait::async_trait;
use futures::stream::BoxStream;
use svcmirror_core::model::{Endpoints, Kind, Object, ObjectKey, Service};
use svcmirror_core::{SourceState, TargetState};

use crate::error::ApiError;
use crate::event::StatusEvent;

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
    /// ([`DriverStats::status_event_failures`](crate::DriverStats::status_event_failures)).
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
