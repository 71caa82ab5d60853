//! The errors every backend maps its API responses to ([`ApiError`]), and the driver's own
//! ([`DriverError`]). What a caller branches on is a variant, never a message.

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
    /// 413 RequestEntityTooLarge: the object is over the size the API server (etcd) stores
    /// (1.5 MiB by default). Sending it again fails again.
    #[error("{kind} {key} is too large: {message}")]
    TooLarge {
        /// Kind of the object.
        kind: Kind,
        /// Its key.
        key: ObjectKey,
        /// What the server said.
        message: String,
    },
    /// The source's Service range has no free ClusterIP (the API server's 500 `Internal error
    /// occurred: failed to allocate a serviceIP: range is full`). Distinct from `Unavailable`
    /// because retrying cannot help until a Service is deleted: it is never retried.
    #[error("{kind} {key}: the Service range is full: {message}")]
    RangeFull {
        /// Kind of the object (a Service).
        kind: Kind,
        /// Its key.
        key: ObjectKey,
        /// What the server said.
        message: String,
    },
    /// An operation this backend does not know how to send: an [`svcmirror_core::Operation`]
    /// added after it was written (the enum is `#[non_exhaustive]`). Never retried.
    #[error("cannot {action} {kind} {key}: not supported by this backend")]
    Unsupported {
        /// The operation's action.
        action: &'static str,
        /// Kind of the object.
        kind: Kind,
        /// Its key.
        key: ObjectKey,
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
    /// re-read). `Invalid`, `TooLarge` and `RangeFull` never do.
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::Conflict { .. } | Self::Unavailable(_) | Self::Timeout(_)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SPEC §8: "range is full" is not retried (1.8 M retried requests over 300 s before).
    #[test]
    fn range_full_and_too_large_are_never_retried() {
        let key = ObjectKey::new("default", "web-west");
        for error in [
            ApiError::RangeFull {
                kind: Kind::Service,
                key: key.clone(),
                message: "failed to allocate a serviceIP: range is full".into(),
            },
            ApiError::TooLarge {
                kind: Kind::Endpoints,
                key,
                message: "etcdserver: request is too large".into(),
            },
        ] {
            assert!(!error.is_retryable(), "{error}");
        }
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
