//! # svcmirror-backend
//!
//! What a cluster must offer svcmirror ([`SourceCluster`], [`TargetCluster`]), the typed errors
//! every backend maps its failures to ([`ApiError`]), and (issue 3) the reconcile driver that turns
//! target events into plans and applies them. The driver is written once here and shared by the
//! in-memory fake (`svcmirror-fake`) and the kube-rs adapter (`svcmirror-kube`).
//!
//! **Must never**: decide anything about mirroring (that is `svcmirror-core`), or know which backend
//! it talks to.

mod error;

pub use error::ApiError;

use async_trait::async_trait;
use futures::stream::BoxStream;
use svcmirror_core::model::{Endpoints, Kind, Object, ObjectKey, Service};
use svcmirror_core::{SourceState, TargetState};

/// Preconditions of a delete: the object is only deleted if it is still the one observed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Preconditions {
    /// The observed `metadata.uid`.
    pub uid: Option<String>,
    /// The observed `metadata.resourceVersion`.
    pub resource_version: Option<String>,
}

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
        preconditions: &Preconditions,
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
}
