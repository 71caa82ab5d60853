//! The canonical loop of the backend's sans-IO [`Reconciler`] (its docs, and
//! `crates/backend/tests/reconciler/bench.rs`), without async: each request it hands out is
//! answered at once by the in-memory fake source, each Event it asks for is "recorded", a retry's
//! deadline is jumped to. Bounded: a reconciler that never settles stops the bench.

use std::time::Duration;

use svcmirror_backend::{ApiError, Output, Reconciler, Request, Response};
use svcmirror_core::TargetState;
use svcmirror_fake::FakeCluster;

/// The clusters the reconciler talks to: the source (a fake that answers every request) and the
/// target as last listed.
pub struct Clusters {
    pub source: FakeCluster,
    pub target: TargetState,
}

impl Clusters {
    /// What the API server would answer (the fake's own mapping: `FakeCluster::answer`).
    fn answer(&mut self, request: Request) -> Result<Response, ApiError> {
        match request {
            Request::ListTarget => Ok(Response::TargetListed(self.target.clone())),
            other => self.source.answer(other),
        }
    }
}

/// What one run of the loop did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pumped {
    /// Requests handed out (lists, reads, writes).
    pub requests: u64,
    /// Of which writes (`Request::Apply`).
    pub writes: u64,
}

/// Runs the command or input just given to `r` to its end.
pub fn pump(r: &mut Reconciler, clusters: &mut Clusters, mut now: Duration) -> Pumped {
    let mut pumped = Pumped::default();
    for _ in 0..100_000_000_u64 {
        while let Some(output) = r.poll_event() {
            if matches!(output, Output::RecordEvent(_)) {
                r.handle_event_recorded(true);
            }
        }
        if let Some((id, request)) = r.poll_operation() {
            pumped.requests += 1;
            pumped.writes += u64::from(matches!(request, Request::Apply(_)));
            let result = clusters.answer(request);
            r.handle_applied(now, id, result);
        } else if let Some(due) = r.poll_timeout() {
            now = now.max(due);
            r.handle_timeout(now);
        } else {
            assert!(r.is_idle(), "nothing to send or wait for, yet not idle");
            return pumped;
        }
    }
    panic!("the reconciler never settled");
}
