//! Watch events: every write the store performs, as the API server's watch reports it.

use svcmirror_core::model::Object;

/// One change to the store, as a Kubernetes watch reports it. The object carries the
/// resourceVersion of the change (for `Deleted`, the resourceVersion of the deletion).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchEvent {
    /// The object was created.
    Added(Object),
    /// The object was replaced.
    Modified(Object),
    /// The object was deleted; this is its last state.
    Deleted(Object),
}

impl WatchEvent {
    /// The object concerned.
    #[must_use]
    pub fn object(&self) -> &Object {
        match self {
            Self::Added(o) | Self::Modified(o) | Self::Deleted(o) => o,
        }
    }
}
