use svcmirror_core::model::{Kind, ObjectKey};

/// A failed API request, as every backend reports it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// 404: the object does not exist.
    #[error("{kind} {key} not found")]
    NotFound {
        /// Kind of the object.
        kind: Kind,
        /// Its key.
        key: ObjectKey,
    },
    /// 409 on update/delete: the object changed since it was read (stale resourceVersion or uid).
    #[error("{kind} {key}: conflict: {message}")]
    Conflict {
        /// Kind of the object.
        kind: Kind,
        /// Its key.
        key: ObjectKey,
        /// What the server said.
        message: String,
    },
    /// 409 on create: the name is taken.
    #[error("{kind} {key} already exists")]
    AlreadyExists {
        /// Kind of the object.
        kind: Kind,
        /// Its key.
        key: ObjectKey,
    },
    /// 422: the server rejected the object; `field` is the offending field path.
    #[error("{kind} {key} is invalid: {field}: {message}")]
    Invalid {
        /// Kind of the object.
        kind: Kind,
        /// Its key.
        key: ObjectKey,
        /// Field path (`spec.ports[0].port`).
        field: String,
        /// What is wrong.
        message: String,
    },
    /// 403: not allowed.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// 429/5xx or a broken connection: try again later.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// The request timed out: its outcome is unknown.
    #[error("timed out: {0}")]
    Timeout(String),
    /// A write refused before it was sent: this replica does not hold the leader lease with
    /// enough margin (fencing, issue 14). Not retryable: only a renewed lease lifts it.
    #[error("not written: {0}")]
    Fenced(String),
}

impl ApiError {
    /// Whether the same request may succeed if retried after a delay (and, for `Conflict`, a
    /// re-read).
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::Conflict { .. } | Self::Unavailable(_) | Self::Timeout(_)
        )
    }
}

/// Why the driver could not do what was asked (reconciles themselves never fail: their API errors
/// are counted and kept in [`crate::DriverStatus`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DriverError {
    /// Listing the source cluster failed for good (after retries).
    #[error("listing the source cluster failed: {0}")]
    ListSource(ApiError),
    /// Listing the target cluster failed for good (after retries).
    #[error("listing the target cluster failed: {0}")]
    ListTarget(ApiError),
}
