//! The requests the [`Reconciler`](crate::Reconciler) hands out, their responses, and the retry
//! decision: after a failure, whether the same request is sent again, and when.
//!
//! Writes retry `Unavailable` only (a `Timeout` or `Conflict` of a write is answered by a re-read,
//! not by sending it again); reads and lists retry every retryable error ([`ApiError::is_retryable`]).
//! Each retry waits the capped, jittered backoff of [`Backoff`] for its attempt number.

use std::time::Duration;

use svcmirror_core::model::{Kind, Object, ObjectKey};
use svcmirror_core::{Operation, SourceState, TargetState};

use crate::clock::{Backoff, SplitMix64};
use crate::error::ApiError;

/// Names one request handed out by [`Reconciler::poll_operation`](crate::Reconciler::poll_operation);
/// its result is handed back with the same id. A retry is a new request with a new id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OpId(pub(crate) u64);

/// One request to a cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
#[allow(
    clippy::large_enum_variant,
    reason = "one request is out at a time and is moved to the cluster whole: boxing would allocate per operation"
)]
pub enum Request {
    /// List the target cluster ([`TargetCluster::list`](crate::TargetCluster::list)); answered
    /// by [`Response::TargetListed`].
    ListTarget,
    /// List the source cluster ([`SourceCluster::list`](crate::SourceCluster::list)); answered
    /// by [`Response::SourceListed`].
    ListSource,
    /// Apply one operation of a plan to the source; answered by [`Response::Stored`] (create,
    /// update) or [`Response::Deleted`] (delete). A delete carries its preconditions.
    Apply(Operation),
    /// Read one object of the source again (after a conflict, or a write whose outcome is
    /// unknown); answered by [`Response::Read`].
    Get {
        /// Its kind.
        kind: Kind,
        /// Its key.
        key: ObjectKey,
    },
}

/// A successful answer to a [`Request`]. An answer of the wrong kind counts as a failed request
/// (`Unavailable`), so the reconciler never waits forever on one.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Response {
    /// The target's Services and Endpoints.
    TargetListed(TargetState),
    /// What the source holds.
    SourceListed(SourceState),
    /// A create or update took effect: the object as stored.
    Stored(Object),
    /// A delete took effect.
    Deleted,
    /// The object read (`None`: it does not exist).
    Read(Option<Object>),
}

/// Which errors a request is sent again after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RetryOn {
    /// `Unavailable` only (writes).
    Unavailable,
    /// Every retryable error (reads and lists).
    Retryable,
}

impl RetryOn {
    fn admits(self, error: &ApiError) -> bool {
        match self {
            Self::Unavailable => matches!(error, ApiError::Unavailable(_)),
            Self::Retryable => error.is_retryable(),
        }
    }
}

/// The request in progress: handed out (`sent`), waiting for its retry deadline (`due`), or ready.
#[derive(Debug, Clone)]
pub(crate) struct Pending {
    pub(crate) request: Request,
    /// The id of the try on the wire.
    pub(crate) sent: Option<OpId>,
    /// A retry waits until then.
    pub(crate) due: Option<Duration>,
    /// Tries that failed so far.
    attempt: u32,
    retry_on: RetryOn,
}

/// What follows a failed try.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum AfterFailure {
    /// Send the request again at this time.
    RetryAt(Duration),
    /// Given up: the error stands.
    GiveUp(ApiError),
}

impl Pending {
    pub(crate) fn new(request: Request) -> Self {
        let retry_on = match request {
            Request::Apply(_) => RetryOn::Unavailable,
            Request::ListTarget | Request::ListSource | Request::Get { .. } => RetryOn::Retryable,
        };
        Self {
            request,
            sent: None,
            due: None,
            attempt: 0,
            retry_on,
        }
    }

    /// Whether the request may be handed out at `now`.
    pub(crate) fn ready(&self) -> bool {
        self.sent.is_none() && self.due.is_none()
    }

    /// The try on the wire failed at `now` with `error`: retry after the backoff of this attempt
    /// (jitter drawn from `rng`), unless the error is not one to retry or `backoff.max_attempts`
    /// tries were made.
    pub(crate) fn failed(
        &mut self,
        now: Duration,
        error: ApiError,
        backoff: &Backoff,
        rng: &mut SplitMix64,
    ) -> AfterFailure {
        self.sent = None;
        if !self.retry_on.admits(&error) || self.attempt + 1 >= backoff.max_attempts {
            return AfterFailure::GiveUp(error);
        }
        let due = now.saturating_add(backoff.delay(self.attempt, rng));
        self.attempt += 1;
        self.due = Some(due);
        AfterFailure::RetryAt(due)
    }
}

/// What the request in progress is for.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Purpose {
    ListTarget,
    ListSource,
    /// Operation `index` of the current round's plan.
    Write(usize),
    /// The re-read after a write of the current round.
    Reread,
}

/// `response` if it answers `request` (made for `purpose`); a failed request otherwise.
pub(crate) fn answers(
    purpose: Purpose,
    request: &Request,
    response: Response,
) -> Result<Response, ApiError> {
    let fits = match (purpose, &response) {
        (Purpose::ListTarget, Response::TargetListed(_))
        | (Purpose::ListSource, Response::SourceListed(_))
        | (Purpose::Reread, Response::Read(_)) => true,
        (Purpose::Write(_), Response::Stored(_)) => {
            matches!(request, Request::Apply(op) if !matches!(op, Operation::Delete { .. }))
        }
        (Purpose::Write(_), Response::Deleted) => {
            matches!(request, Request::Apply(Operation::Delete { .. }))
        }
        _ => false,
    };
    if fits {
        Ok(response)
    } else {
        Err(ApiError::Unavailable(
            "the response does not answer the request".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unavailable() -> ApiError {
        ApiError::Unavailable("503".into())
    }

    /// A write retries `Unavailable` at `now` + the jittered backoff of its attempt, and gives up
    /// after `max_attempts` tries.
    #[test]
    fn a_write_retries_unavailable_with_backoff_then_gives_up() {
        let backoff = Backoff::default();
        let mut rng = SplitMix64::new(7);
        let mut expected = SplitMix64::new(7);
        let object = svcmirror_core::model::Service::new("default", "web-west");
        let mut pending = Pending::new(Request::Apply(Operation::Create {
            object: Object::Service(object),
        }));
        let now = Duration::from_secs(100);
        for attempt in 0..backoff.max_attempts - 1 {
            let delay = backoff.delay(attempt, &mut expected);
            assert_eq!(
                pending.failed(now, unavailable(), &backoff, &mut rng),
                AfterFailure::RetryAt(now + delay)
            );
            assert!(!pending.ready());
        }
        assert_eq!(
            pending.failed(now, unavailable(), &backoff, &mut rng),
            AfterFailure::GiveUp(unavailable())
        );
    }

    /// A write's `Timeout` or `Conflict` is not sent again (it is re-read instead); a read's is.
    #[test]
    fn writes_retry_unavailable_only_reads_every_retryable_error() {
        let backoff = Backoff::default();
        let mut rng = SplitMix64::new(1);
        let timeout = ApiError::Timeout("30s".into());
        let object = svcmirror_core::model::Service::new("default", "web-west");
        let mut write = Pending::new(Request::Apply(Operation::Create {
            object: Object::Service(object),
        }));
        assert_eq!(
            write.failed(Duration::ZERO, timeout.clone(), &backoff, &mut rng),
            AfterFailure::GiveUp(timeout.clone())
        );
        let mut list = Pending::new(Request::ListSource);
        assert!(matches!(
            list.failed(Duration::ZERO, timeout, &backoff, &mut rng),
            AfterFailure::RetryAt(_)
        ));
        let forbidden = ApiError::Forbidden("no".into());
        let mut list = Pending::new(Request::ListTarget);
        assert_eq!(
            list.failed(Duration::ZERO, forbidden.clone(), &backoff, &mut rng),
            AfterFailure::GiveUp(forbidden)
        );
    }
}
