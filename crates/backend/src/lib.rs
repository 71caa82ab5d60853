//! # svcmirror-backend
//!
//! What a cluster must offer svcmirror ([`SourceCluster`], [`TargetCluster`]), the typed errors
//! every backend maps its failures to ([`ApiError`]), the sans-IO [`Reconciler`] that decides the
//! reconcile loop, and the async [`Driver`] that pumps it. Both are written once here and shared by
//! the in-memory fake (`svcmirror-fake`) and the kube-rs adapter (`svcmirror-kube`).
//!
//! The [`Reconciler`] keeps a cache of both clusters, asks `svcmirror-core` what the source must
//! hold ([`translate`](svcmirror_core::translate()), [`plan`](svcmirror_core::plan())) — for the
//! whole link, or for the one exported Service an event concerns — and hands the plan's operations
//! out one at a time in its order, retrying retryable errors with capped, jittered exponential
//! backoff, re-reading an object instead of resending on a conflict or an unknown outcome. It is a
//! synchronous state machine in the style of quinn-proto: `handle_*(now, input)` in,
//! [`poll_operation`](Reconciler::poll_operation) / [`poll_timeout`](Reconciler::poll_timeout) /
//! [`poll_event`](Reconciler::poll_event) out; time is a value passed in and jitter comes from a
//! seeded generator, so it is deterministic and tested without async. The [`Driver`] feeds it the
//! target's watch, sends its requests through the traits, sleeps on an injected [`Clock`] until
//! its deadlines, records its Events and publishes its status.
//!
//! **Must never**: decide anything about mirroring — what to create, update, delete or own is
//! `svcmirror-core`'s, and the reconciler only hands out what a plan says; or know which backend it
//! talks to (no kube, no fake, no HTTP here). The [`Reconciler`] never awaits, sleeps, reads a
//! clock or performs I/O; the [`Driver`] never decides (what to send, when to retry, what to
//! report are the reconciler's).
//!
//! ```no_run
//! use svcmirror_backend::{Driver, SourceCluster, TargetCluster, TokioClock};
//! use svcmirror_core::Link;
//!
//! async fn mirror(link: Link, source: impl SourceCluster, target: impl TargetCluster) {
//!     let mut driver = Driver::new(link, source, target, TokioClock);
//!     let status = driver.subscribe(); // for metrics: counters, diagnostics, failures, conditions
//!     let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
//!     # drop(stop);
//!     driver.run(async { stopped.await.ok(); }).await;
//!     println!("{} writes", status.borrow().stats.writes);
//! }
//! ```
#![deny(missing_docs)]

mod cache;
mod clock;
mod cluster;
mod driver;
mod error;
mod event;
mod reconciler;
mod scope;

pub use clock::{Backoff, Clock, DURATION_BUCKETS, DurationHistogram, SplitMix64, TokioClock};
pub use cluster::{Precondition, SourceCluster, TargetCluster, TargetEvent};
pub use driver::Driver;
pub use error::{ApiError, DriverError};
pub use event::{EventType, REPORTING_COMPONENT, StatusEvent};
pub use reconciler::{
    DEFAULT_MAX_PASSES, DriverConfig, DriverStats, DriverStatus, ExportStatus, Failure, OpId,
    Output, RETRY_PASSES, ReconcileOutcome, Reconciler, Request, Response, Scope,
};
