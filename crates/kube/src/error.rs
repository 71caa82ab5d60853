//! `kube::Error` → [`ApiError`]: the one place HTTP status codes are read.

use std::error::Error as _;

use kube::core::Status;
use svcmirror_backend::ApiError;
use svcmirror_core::model::{Kind, ObjectKey};

/// Maps a kube-rs error from a request about `kind` `key` to the backend's typed error.
///
/// | server answer | `ApiError` |
/// |---|---|
/// | 404 | `NotFound` |
/// | 409, reason `AlreadyExists` | `AlreadyExists` |
/// | other 409 (stale resourceVersion, failed precondition, apply conflict) | `Conflict` |
/// | 422 | `Invalid`, `field` from the first `details.causes[].field` |
/// | 403 | `Forbidden` |
/// | 401 (credentials expired or rotated: a client of [`crate::client::reloading_client`] re-reads them, so the same request is worth retrying) | `Unavailable` |
/// | 500 `InternalError` "… range is full" (see `is_range_full`) | `RangeFull` |
/// | 413 | `TooLarge` |
/// | 504 or 500 with reason `Timeout`, 408, a client-side timeout | `Timeout` |
/// | 410 (a watch's resourceVersion expired: re-list), 429, other 5xx, connection errors | `Unavailable` |
///
/// Anything else (a 400, a response that does not decode) is reported as `Invalid` with an empty
/// field: retrying the same request cannot help.
#[must_use]
pub fn map_error(err: &kube::Error, kind: Kind, key: &ObjectKey) -> ApiError {
    match err {
        kube::Error::Api(status) => map_status(status, kind, key),
        other if is_timeout(other) => ApiError::Timeout(describe(other)),
        kube::Error::HyperError(_)
        | kube::Error::Service(_)
        | kube::Error::ReadEvents(_)
        | kube::Error::HttpError(_)
        | kube::Error::Auth(_) => ApiError::Unavailable(describe(err)),
        other => ApiError::Invalid {
            kind,
            key: key.clone(),
            field: String::new(),
            message: describe(other),
        },
    }
}

/// Maps a Kubernetes `Status` (a failed request's body) to the backend's typed error.
#[must_use]
pub fn map_status(status: &Status, kind: Kind, key: &ObjectKey) -> ApiError {
    let message = if status.message.is_empty() {
        status.reason.clone()
    } else {
        status.message.clone()
    };
    match status.code {
        404 => ApiError::NotFound {
            kind,
            key: key.clone(),
        },
        409 if status.reason == "AlreadyExists" => ApiError::AlreadyExists {
            kind,
            key: key.clone(),
        },
        409 => ApiError::Conflict {
            kind,
            key: key.clone(),
            message,
        },
        422 => ApiError::Invalid {
            kind,
            key: key.clone(),
            field: status
                .details
                .as_ref()
                .and_then(|d| d.causes.iter().find(|c| !c.field.is_empty()))
                .map(|c| c.field.clone())
                .unwrap_or_default(),
            message,
        },
        403 => ApiError::Forbidden(with_code(status, &message)),
        // Issue 14: not permanent — the credentials are re-read and the retry may succeed.
        401 => ApiError::Unavailable(format!(
            "401 Unauthorized (the credentials are re-read): {message}"
        )),
        408 | 504 => ApiError::Timeout(with_code(status, &message)),
        413 => ApiError::TooLarge {
            kind,
            key: key.clone(),
            message: with_code(status, &message),
        },
        500 if status.reason == "Timeout" => ApiError::Timeout(with_code(status, &message)),
        // SPEC §8: the Service range is exhausted; never retried (it cannot help).
        500 if is_range_full(status) => ApiError::RangeFull {
            kind,
            key: key.clone(),
            message: with_code(status, &message),
        },
        410 | 429 | 500..=599 => ApiError::Unavailable(with_code(status, &message)),
        _ => ApiError::Invalid {
            kind,
            key: key.clone(),
            field: String::new(),
            message: format!("HTTP {}: {message}", status.code),
        },
    }
}

/// Whether a 409 is server-side apply's field-manager conflict (another manager holds a field
/// the apply changes: forcing takes it over), not an optimistic-lock conflict (a stale
/// resourceVersion: re-read).
///
/// Issue 13 (errors are typed): decided from the `Status`'s structure, never from its message.
/// The API server answers an apply conflict with `errors.NewApplyConflict`
/// (`k8s.io/apimachinery/pkg/api/errors`): 409, reason `Conflict`, and one `details.causes[]`
/// per contested field whose reason is `FieldManagerConflict`
/// (`metav1.CauseTypeFieldManagerConflict`). A stale resourceVersion (`errors.NewConflict`) is
/// also 409 `Conflict`, but its details name the object and carry no cause.
#[must_use]
pub(crate) fn is_field_manager_conflict(status: &Status) -> bool {
    status.code == 409
        && status.details.as_ref().is_some_and(|details| {
            details
                .causes
                .iter()
                .any(|cause| cause.reason == "FieldManagerConflict")
        })
}

/// Whether a failed request is the API server's "the Service range is full" (SPEC §8): no
/// ClusterIP is left to allocate.
///
/// The one place an error is recognised by its text, because the API server gives no other
/// signal: the Service registry wraps the IP allocator's `ErrFull` (`"range is full"`) in
/// `errors.NewInternalError(fmt.Errorf("failed to allocate a serviceIP: %v", err))`, so the
/// answer is `500 InternalError` with the message `Internal error occurred: failed to allocate
/// a serviceIP: range is full` and a single cause carrying only that message (no cause type, no
/// field) — the same code and reason as any other internal error, which is retried.
#[must_use]
fn is_range_full(status: &Status) -> bool {
    status.code == 500
        && status.reason == "InternalError"
        && status.message.contains("range is full")
}

/// `HTTP 403 Forbidden: <message>`.
fn with_code(status: &Status, message: &str) -> String {
    format!("HTTP {} {}: {message}", status.code, status.reason)
}

/// A kube-rs error in words for an operator: `HTTP 403 Forbidden: services is forbidden: …` for a
/// server's answer, else the error and its causes joined by `: ` (`client error (Connect): tcp
/// connect error: Connection refused (os error 111)`) — never kube's `Debug` dump of a `Status`.
#[must_use]
pub fn describe(err: &kube::Error) -> String {
    if let kube::Error::Api(status) = err {
        let message = if status.message.is_empty() {
            &status.reason
        } else {
            &status.message
        };
        return format!("HTTP {} {}: {message}", status.code, status.reason);
    }
    let mut words = match err {
        kube::Error::HyperError(e) => e.to_string(),
        kube::Error::Service(e) => e.to_string(),
        other => other.to_string(),
    };
    let mut source: Option<&(dyn std::error::Error + 'static)> = match err {
        kube::Error::HyperError(e) => e.source(),
        kube::Error::Service(e) => e.source(),
        other => other.source(),
    };
    while let Some(cause) = source {
        let text = cause.to_string();
        if !words.contains(&text) {
            words.push_str(": ");
            words.push_str(&text);
        }
        source = cause.source();
    }
    words
}

/// Whether the error (or one of its causes) is a timeout: an I/O `TimedOut` (kube's connect, read
/// and write timeouts) or tower's `Elapsed` (an embedder's timeout layer).
fn is_timeout(err: &kube::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = err.source();
    while let Some(cause) = source {
        if cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
        {
            return true;
        }
        // Issue 13: recognised by its type, not its message.
        if cause.is::<tower::timeout::error::Elapsed>() {
            return true;
        }
        source = cause.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use kube::core::response::{StatusCause, StatusDetails};

    use super::*;

    fn key() -> ObjectKey {
        ObjectKey::new("default", "nginx-svc-west")
    }

    /// Issue 13: tower's timeout (an embedder's `TimeoutLayer` around the client) is a
    /// `Timeout` (outcome unknown, re-read) by the type of its error, not by its message.
    #[test]
    fn a_tower_timeout_is_a_timeout_by_its_type() {
        let elapsed = kube::Error::Service(Box::new(tower::timeout::error::Elapsed::new()));
        assert!(matches!(
            map_error(&elapsed, Kind::Service, &key()),
            ApiError::Timeout(_)
        ));
        // The same words from something else are not a timeout.
        let words = kube::Error::Service("request timed out".into());
        assert!(matches!(
            map_error(&words, Kind::Service, &key()),
            ApiError::Unavailable(_)
        ));
    }

    fn status(code: u16, reason: &str) -> Status {
        Status::failure("the server said no", reason).with_code(code)
    }

    #[test]
    fn status_codes_map_to_typed_errors() {
        let k = Kind::Service;
        assert_eq!(
            map_status(&status(404, "NotFound"), k, &key()),
            ApiError::NotFound {
                kind: k,
                key: key()
            }
        );
        assert_eq!(
            map_status(&status(409, "AlreadyExists"), k, &key()),
            ApiError::AlreadyExists {
                kind: k,
                key: key()
            }
        );
        assert!(matches!(
            map_status(&status(409, "Conflict"), k, &key()),
            ApiError::Conflict { message, .. } if message == "the server said no"
        ));
        assert!(matches!(
            map_status(&status(403, "Forbidden"), k, &key()),
            ApiError::Forbidden(_)
        ));
        assert!(matches!(
            map_status(&status(401, "Unauthorized"), k, &key()),
            ApiError::Unavailable(m) if m.starts_with("401 Unauthorized")
        ));
        assert!(matches!(
            map_status(&status(429, "TooManyRequests"), k, &key()),
            ApiError::Unavailable(_)
        ));
        assert!(matches!(
            map_status(&status(503, "ServiceUnavailable"), k, &key()),
            ApiError::Unavailable(_)
        ));
        assert!(matches!(
            map_status(&status(504, "Timeout"), k, &key()),
            ApiError::Timeout(_)
        ));
        assert!(matches!(
            map_status(&status(500, "Timeout"), k, &key()),
            ApiError::Timeout(_)
        ));
        assert!(matches!(
            map_status(&status(400, "BadRequest"), k, &key()),
            ApiError::Invalid { .. }
        ));
    }

    #[test]
    fn invalid_names_the_field_from_the_causes() {
        let status = status(422, "Invalid").with_details(StatusDetails {
            name: "nginx-svc-west".to_owned(),
            kind: "services".to_owned(),
            causes: vec![
                StatusCause {
                    reason: "FieldValueInvalid".to_owned(),
                    message: "no field".to_owned(),
                    field: String::new(),
                },
                StatusCause {
                    reason: "FieldValueInvalid".to_owned(),
                    message: "must be between 1 and 65535".to_owned(),
                    field: "spec.ports[0].port".to_owned(),
                },
            ],
            group: String::new(),
            uid: String::new(),
            retry_after_seconds: 0,
        });
        assert_eq!(
            map_status(&status, Kind::Service, &key()),
            ApiError::Invalid {
                kind: Kind::Service,
                key: key(),
                field: "spec.ports[0].port".to_owned(),
                message: "the server said no".to_owned(),
            }
        );
    }

    /// Issue 12: warnings carried kube's Debug dump (`Unauthorized (Status { status: Some(Failure),
    /// code: 401, …`); the words name the HTTP status and the server's message only.
    #[test]
    fn errors_are_described_in_words() {
        let api = kube::Error::Api(status(401, "Unauthorized").boxed());
        assert_eq!(describe(&api), "HTTP 401 Unauthorized: the server said no");
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let words = describe(&kube::Error::ReadEvents(io));
        assert!(
            words.contains("refused") && !words.contains("Status {"),
            "{words}"
        );
    }

    fn details(name: &str, kind: &str, causes: Vec<StatusCause>) -> StatusDetails {
        StatusDetails {
            name: name.to_owned(),
            group: String::new(),
            kind: kind.to_owned(),
            uid: String::new(),
            causes,
            retry_after_seconds: 0,
        }
    }

    /// The API server's answer to a create when no ClusterIP is left (`errors.NewInternalError`
    /// wrapping the allocator's `ErrFull`).
    fn range_full() -> Status {
        Status::failure(
            "Internal error occurred: failed to allocate a serviceIP: range is full",
            "InternalError",
        )
        .with_code(500)
        .with_details(details(
            "",
            "",
            vec![StatusCause {
                reason: String::new(),
                message: "failed to allocate a serviceIP: range is full".to_owned(),
                field: String::new(),
            }],
        ))
    }

    /// SPEC §8: "range is full" is `RangeFull` (never retried); any other internal error, and
    /// the same words under another code, stay what their code says.
    #[test]
    fn too_large_and_range_full_are_typed_and_not_retried() {
        let mapped = map_status(&range_full(), Kind::Service, &key());
        assert!(matches!(mapped, ApiError::RangeFull { .. }), "{mapped:?}");
        assert!(!mapped.is_retryable());
        let other = map_status(
            &Status::failure(
                "Internal error occurred: etcdserver: leader changed",
                "InternalError",
            )
            .with_code(500),
            Kind::Service,
            &key(),
        );
        assert!(matches!(other, ApiError::Unavailable(_)), "{other:?}");
        let mut forbidden = range_full().with_code(403);
        forbidden.reason = "Forbidden".to_owned();
        assert!(matches!(
            map_status(&forbidden, Kind::Service, &key()),
            ApiError::Forbidden(_)
        ));
        let large = map_status(
            &status(413, "RequestEntityTooLarge"),
            Kind::Endpoints,
            &key(),
        );
        assert!(matches!(large, ApiError::TooLarge { .. }), "{large:?}");
        assert!(!large.is_retryable());
    }

    #[test]
    fn transport_errors_are_unavailable_or_timeout() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        assert!(matches!(
            map_error(&kube::Error::ReadEvents(io), Kind::Endpoints, &key()),
            ApiError::Unavailable(_)
        ));
        let timeout = std::io::Error::new(std::io::ErrorKind::TimedOut, "slow");
        assert!(matches!(
            map_error(&kube::Error::ReadEvents(timeout), Kind::Endpoints, &key()),
            ApiError::Timeout(_)
        ));
        let api = kube::Error::Api(status(404, "NotFound").boxed());
        assert!(matches!(
            map_error(&api, Kind::Endpoints, &key()),
            ApiError::NotFound {
                kind: Kind::Endpoints,
                ..
            }
        ));
    }

    /// The API server's answer to an apply that changes a field another manager holds
    /// (`errors.NewApplyConflict`, message from `managedfields/internal/conflict.go`).
    fn apply_conflict() -> Status {
        Status::failure(
            "Apply failed with 1 conflict: conflict with \"linkerd-service-mirror\" using v1: \
             .spec.ports[port=80,protocol=\"TCP\"].targetPort",
            "Conflict",
        )
        .with_code(409)
        .with_details(details(
            "",
            "",
            vec![StatusCause {
                reason: "FieldManagerConflict".to_owned(),
                message: "conflict with \"linkerd-service-mirror\" using v1".to_owned(),
                field: ".spec.ports[port=80,protocol=\"TCP\"].targetPort".to_owned(),
            }],
        ))
    }

    /// Issue 13: the two kinds of 409 are told apart by the `Status`'s causes, not its words —
    /// an apply conflict worded otherwise is still one; an optimistic-lock conflict
    /// (`errors.NewConflict`: details name the object, no cause) is never one, whatever it says.
    #[test]
    fn a_field_manager_conflict_is_known_by_its_causes_not_its_message() {
        assert!(is_field_manager_conflict(&apply_conflict()));
        let mut reworded = apply_conflict();
        reworded.message =
            "1 field is held by \"linkerd-service-mirror\" (a future wording)".to_owned();
        assert!(is_field_manager_conflict(&reworded));

        let stale = Status::failure(
            "Operation cannot be fulfilled on services \"nginx-svc-west\": the object has been \
             modified; please apply your changes to the latest version and try again",
            "Conflict",
        )
        .with_code(409)
        .with_details(details("nginx-svc-west", "services", Vec::new()));
        assert!(!is_field_manager_conflict(&stale));
        let mut stale_in_apply_words = stale.clone();
        stale_in_apply_words.message = apply_conflict().message;
        assert!(!is_field_manager_conflict(&stale_in_apply_words));
        // Both are a `Conflict` to the driver when not taken over.
        assert!(matches!(
            map_status(&apply_conflict(), Kind::Service, &key()),
            ApiError::Conflict { .. }
        ));
        assert!(matches!(
            map_status(&stale, Kind::Service, &key()),
            ApiError::Conflict { .. }
        ));
        // A 422 with the same cause reason is not a 409.
        assert!(!is_field_manager_conflict(&apply_conflict().with_code(422)));
    }
}
