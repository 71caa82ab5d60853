//! What the driver believes each cluster holds: the target as last listed and watched, the source
//! as last listed, read or written — the core's stores ([`svcmirror_core::store`]), keyed per
//! kind, updated in place, the source indexed by export. The backend keeps no other copy.

use svcmirror_core::model::ObjectKey;

use crate::cluster::TargetEvent;

/// The target cluster's Services and Endpoints.
pub(crate) use svcmirror_core::TargetStore as TargetCache;

/// The source cluster's objects, indexed by export.
pub(crate) use svcmirror_core::SourceStore as SourceCache;

impl TargetEvent {
    /// The exported Service the event concerns (an Endpoints event concerns the Service of the
    /// same key); `None` for a restart, which concerns every export.
    pub(crate) fn export(&self) -> Option<ObjectKey> {
        match self {
            Self::ServiceApplied(svc) => Some(svc.metadata.key()),
            Self::EndpointsApplied(ep) => Some(ep.metadata.key()),
            Self::ServiceDeleted(key) | Self::EndpointsDeleted(key) => Some(key.clone()),
            Self::Restarted(_) => None,
        }
    }

    /// Records in `target` what the event says the target now holds.
    pub(crate) fn apply_to(self, target: &mut TargetCache) {
        use svcmirror_core::model::{Kind, Object};
        match self {
            Self::ServiceApplied(svc) => target.upsert(Object::Service(svc)),
            Self::EndpointsApplied(ep) => target.upsert(Object::Endpoints(ep)),
            Self::ServiceDeleted(key) => target.remove(Kind::Service, &key),
            Self::EndpointsDeleted(key) => target.remove(Kind::Endpoints, &key),
            Self::Restarted(state) => *target = TargetCache::from_state(state),
        }
    }
}
