//! Fencing (issue 14): no write after the lease's renew deadline.
//!
//! A [`Fence`] is open while this replica holds the leader Lease *with margin*: until
//! `start + renew_deadline`, where `start` is when the last successful renewal (or acquisition)
//! was **sent**, on this replica's monotonic clock. The record that renewal wrote is at least that
//! old, and another replica takes the lease over only once it has seen that record unchanged for
//! `lease_duration` on its own clock (`lease::decide`). So the fence closes at least
//! `lease_duration − renew_deadline` (5 s with client-go's timings) before anybody else may write:
//! that margin absorbs a write already in flight and differences in clock rate. Writes check the
//! fence *before* they are sent and are cut off at the deadline
//! ([`KubeSource::with_fence`](crate::KubeSource::with_fence)); an old leader whose renewals stall
//! (a CPU-starved task, a hung connection, a partition) therefore stops writing on its own, even
//! before it learns that it lost, and cannot re-create what the new leader deleted.
//!
//! The clock is injected ([`Fence::with_clock`]), so the rule is tested without waiting.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use svcmirror_backend::ApiError;

type Now = Arc<dyn Fn() -> Instant + Send + Sync>;

/// Whether this replica may write now. Cloned handles share one state: the lease holder task
/// opens and extends it, the source adapter checks it.
#[derive(Clone)]
pub struct Fence {
    open_until: Arc<Mutex<Option<Instant>>>,
    now: Now,
}

impl std::fmt::Debug for Fence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fence")
            .field("open_until", &*self.lock())
            .finish_non_exhaustive()
    }
}

impl Default for Fence {
    fn default() -> Self {
        Self::new()
    }
}

impl Fence {
    /// A closed fence on the real monotonic clock.
    #[must_use]
    pub fn new() -> Self {
        Self::with_clock(Instant::now)
    }

    /// A closed fence that reads the time from `now` (tests inject a manual clock).
    #[must_use]
    pub fn with_clock(now: impl Fn() -> Instant + Send + Sync + 'static) -> Self {
        Self {
            open_until: Arc::new(Mutex::new(None)),
            now: Arc::new(now),
        }
    }

    /// The fence's clock, now.
    #[must_use]
    pub fn now(&self) -> Instant {
        (self.now)()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Instant>> {
        // A poisoned lock only means a panic elsewhere; the instant inside is still valid.
        self.open_until
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A renewal (or acquisition) sent at `sent` succeeded: writes are allowed until
    /// `sent + renew_deadline`. Never moves the deadline back.
    pub fn renewed(&self, sent: Instant, renew_deadline: Duration) {
        let until = sent + renew_deadline;
        let mut open = self.lock();
        if open.is_none_or(|current| current < until) {
            *open = Some(until);
        }
    }

    /// Leadership is gone (lost, released, or never held): no write from now on.
    pub fn close(&self) {
        *self.lock() = None;
    }

    /// How long writes remain allowed; `None` when the fence is closed (or the deadline passed).
    #[must_use]
    pub fn remaining(&self) -> Option<Duration> {
        let until = (*self.lock())?;
        let now = self.now();
        (now < until).then(|| until - now)
    }

    /// `Ok(remaining)` when a write may be sent now, else [`ApiError::Fenced`].
    ///
    /// # Errors
    /// [`ApiError::Fenced`] when the lease is not held, or its renew deadline has passed.
    pub fn check(&self) -> Result<Duration, ApiError> {
        let held = self.lock().is_some();
        match (held, self.remaining()) {
            (_, Some(remaining)) => Ok(remaining),
            (false, None) => Err(ApiError::Fenced(
                "this replica does not hold the leader lease".to_owned(),
            )),
            (true, None) => Err(ApiError::Fenced(
                "the leader lease was not renewed before its renew deadline".to_owned(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manual() -> (Fence, Arc<Mutex<Instant>>) {
        let t = Arc::new(Mutex::new(Instant::now()));
        let clock = t.clone();
        (Fence::with_clock(move || *clock.lock().expect("clock")), t)
    }

    #[test]
    fn closed_until_the_lease_is_held() {
        let (fence, _) = manual();
        assert!(matches!(fence.check(), Err(ApiError::Fenced(m)) if m.contains("does not hold")));
    }

    #[test]
    fn no_write_at_or_after_the_renew_deadline() {
        let (fence, t) = manual();
        let t0 = *t.lock().expect("clock");
        fence.renewed(t0, Duration::from_secs(10));
        *t.lock().expect("clock") = t0 + Duration::from_secs(9);
        assert_eq!(fence.check(), Ok(Duration::from_secs(1)));
        *t.lock().expect("clock") = t0 + Duration::from_secs(10);
        assert!(matches!(fence.check(), Err(ApiError::Fenced(m)) if m.contains("renew deadline")));
        // A later renewal opens it again; an older one never shortens it.
        fence.renewed(t0 + Duration::from_secs(10), Duration::from_secs(10));
        fence.renewed(t0, Duration::from_secs(10));
        assert_eq!(fence.check(), Ok(Duration::from_secs(10)));
        fence.close();
        assert!(fence.check().is_err());
    }
}
