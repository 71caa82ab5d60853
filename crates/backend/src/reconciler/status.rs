//! What the reconciler reports: its configuration, counters, the status of each export, what it
//! gave up on and what one reconcile did. Plain data, shared by the sans-IO
//! [`Reconciler`](crate::Reconciler) that fills it and the [`Driver`](crate::Driver) that
//! publishes it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use svcmirror_core::model::{Kind, ObjectKey};
use svcmirror_core::{
    Condition, ConditionStatus, ConditionType, Diagnostic, ExportOutcome, MirrorMode,
};

use crate::clock::Backoff;
use crate::error::{ApiError, DriverError};
use crate::event::StatusEvent;

/// Passes a reconcile may retry beyond the core's contract: a live source does not answer every
/// operation at once as [`svcmirror_core::drive`]'s does (a 409 Conflict or an unknown outcome
/// costs a pass that the contract does not count), so the driver's cap is the contract plus room
/// for them.
pub const RETRY_PASSES: u32 = 7;

/// [`DriverConfig::max_passes`] by default: the core's [`svcmirror_core::MAX_PASSES`] applying
/// passes, the pass that verifies (plans nothing), and [`RETRY_PASSES`].
// MAX_PASSES is 2: the cast cannot truncate.
#[allow(clippy::cast_possible_truncation)]
pub const DEFAULT_MAX_PASSES: u32 = svcmirror_core::MAX_PASSES as u32 + 1 + RETRY_PASSES;

/// How the driver retries, how far it goes per reconcile, and how often it resyncs.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DriverConfig {
    /// Backoff for retryable errors (`Unavailable`; `Timeout` on reads).
    pub retry: Backoff,
    /// Plan rounds per reconcile at most (default [`DEFAULT_MAX_PASSES`]). A headless export
    /// normally needs the core's contract ([`svcmirror_core::MAX_PASSES`] applying passes) and
    /// one more that verifies; conflicts and unknown outcomes add one each. A reconcile that hits
    /// the cap is reported in [`DriverStats::unconverged`] and retried by the next resync.
    pub max_passes: u32,
    /// Interval of the periodic resync in [`Driver::run`](crate::Driver::run).
    pub resync_interval: Duration,
    /// Seed of the jitter generator.
    pub seed: u64,
}

impl Default for DriverConfig {
    fn default() -> Self {
        Self {
            retry: Backoff::default(),
            max_passes: DEFAULT_MAX_PASSES,
            resync_interval: Duration::from_secs(300),
            seed: 0x5eed,
        }
    }
}

/// Counters since the driver was created, for the CLI and metrics. Every field only grows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DriverStats {
    /// Target events handled.
    pub events: u64,
    /// Reconciles run, for one export or the whole link.
    pub reconciles: u64,
    /// Whole-link reconciles (resyncs, restarts, link changes, fallbacks).
    pub full_reconciles: u64,
    /// One-export reconciles that could not be scoped (ownership unclear, a free name contested, or
    /// the link near its ClusterIP budget, SPEC §8) and ran for the whole link instead.
    pub fallbacks: u64,
    /// Translate-and-plan rounds.
    pub passes: u64,
    /// Successful relists of both clusters.
    pub relists: u64,
    /// Times the target watch ended or failed and was restarted.
    pub watch_restarts: u64,
    /// API requests sent (list, get, create, update, delete).
    pub requests: u64,
    /// Successful writes (create + update + delete), as the driver saw them: a write whose
    /// response was lost (a timeout after it took effect) is found by the re-read, not counted.
    pub writes: u64,
    /// Successful creates.
    pub creates: u64,
    /// Successful updates.
    pub updates: u64,
    /// Successful deletes.
    pub deletes: u64,
    /// Requests sent again, after a backoff, because the previous try failed retryably.
    pub retries: u64,
    /// Requests that returned an error.
    pub failed_requests: u64,
    /// `Conflict` and `AlreadyExists` responses.
    pub conflicts: u64,
    /// Objects re-read after a conflict or a request whose outcome is unknown.
    pub rereads: u64,
    /// Operations given up (non-retryable error, or retries exhausted).
    pub operation_failures: u64,
    /// Reconciles stopped by [`DriverConfig::max_passes`].
    pub unconverged: u64,
    /// Status Events handed to [`TargetCluster::record_event`](crate::TargetCluster::record_event) and accepted (one per change of an
    /// export's conditions).
    pub status_events: u64,
    /// Status Events the target refused (not retried: Events are best effort).
    pub status_event_failures: u64,
    /// How long reconciles took (one export or the whole link, writes included), when the
    /// [`Clock`](crate::Clock) can tell ([`Clock::now`](crate::Clock::now)).
    pub reconcile_duration: crate::clock::DurationHistogram,
}

/// What a reconcile covered.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    /// Every export of the link.
    Link,
    /// The exported Service with this key (namespace/name in the target cluster).
    Export(ObjectKey),
}

/// An operation the driver gave up on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// `create`, `update`, `delete` or `get` (a re-read).
    pub action: &'static str,
    /// Kind of the object.
    pub kind: Kind,
    /// The object.
    pub key: ObjectKey,
    /// The last error.
    pub error: ApiError,
}

/// SPEC §12 (honest status): what became of one exported Service, as of the latest reconcile that
/// covered it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExportStatus {
    /// How the core mirrored it (mode, mirror name, endpoint mirrors).
    pub outcome: ExportOutcome,
    /// `Valid`, `Mirrored` and `Conflict`, from [`svcmirror_core::conditions`] with the
    /// translation and plan of that reconcile's last pass (an empty plan: `Mirrored=True`;
    /// operations left, e.g. after a failure: `Mirrored=False, Pending`).
    pub conditions: Vec<Condition>,
}

impl ExportStatus {
    /// An export's outcome and its conditions (as [`svcmirror_core::conditions`] gives them).
    #[must_use]
    pub fn new(outcome: ExportOutcome, conditions: Vec<Condition>) -> Self {
        Self {
            outcome,
            conditions,
        }
    }

    /// The mirror mode as a metrics label: `headless`, `clusterip`, `remote-discovery`,
    /// `federated`, `waiting` (a headless export without Endpoints yet) or `not-mirrored`.
    #[must_use]
    pub fn mode_name(&self) -> &'static str {
        match self.outcome.mode {
            MirrorMode::Headless => "headless",
            MirrorMode::ClusterIp => "clusterip",
            MirrorMode::RemoteDiscovery => "remote-discovery",
            MirrorMode::Federated => "federated",
            MirrorMode::WaitingForEndpoints => "waiting",
            _ => "not-mirrored",
        }
    }

    /// The condition of type `type_`.
    #[must_use]
    pub fn condition(&self, type_: ConditionType) -> Option<&Condition> {
        self.conditions.iter().find(|c| c.type_ == type_)
    }
}

/// A snapshot of what the driver knows about its own health.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DriverStatus {
    /// Counters.
    pub stats: DriverStats,
    /// The latest translation and plan findings, sorted.
    pub diagnostics: Vec<Diagnostic>,
    /// Every exported Service (target key) with its outcome and conditions. A one-export
    /// reconcile replaces only its export's entry; a whole-link reconcile replaces them all; an
    /// export that is no longer exported (label removed, Service deleted) has no entry.
    pub exports: BTreeMap<ObjectKey, Arc<ExportStatus>>,
    /// Operations that failed in the latest reconcile of their scope, by kind and key.
    pub failures: Vec<Failure>,
    /// Scopes whose latest reconcile hit the pass cap.
    pub unconverged: Vec<Scope>,
    /// The latest relist error, cleared by a successful relist.
    pub list_error: Option<DriverError>,
}

impl DriverStatus {
    /// How many exports are in each mode, by [`ExportStatus::mode_name`].
    #[must_use]
    pub fn exports_by_mode(&self) -> BTreeMap<&'static str, usize> {
        let mut counts = BTreeMap::new();
        for status in self.exports.values() {
            *counts.entry(status.mode_name()).or_default() += 1;
        }
        counts
    }

    /// How many exports have each condition, by type, status and reason.
    #[must_use]
    pub fn condition_counts(&self) -> BTreeMap<(ConditionType, ConditionStatus, &str), usize> {
        let mut counts = BTreeMap::new();
        for c in self.exports.values().flat_map(|s| &s.conditions) {
            *counts
                .entry((c.type_, c.status, c.reason.as_str()))
                .or_default() += 1;
        }
        counts
    }
}

/// What one call to the driver did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReconcileOutcome {
    /// What was reconciled (the whole link when a one-export reconcile fell back).
    pub scope: Scope,
    /// Translate-and-plan rounds.
    pub passes: u32,
    /// Successful writes.
    pub writes: u64,
    /// The source holds the desired state: the last plan was empty and nothing failed.
    pub complete: bool,
    /// Stopped by [`DriverConfig::max_passes`] with operations left.
    pub pass_limit_reached: bool,
}

impl ReconcileOutcome {
    pub(crate) fn then(self, next: Self) -> Self {
        Self {
            passes: self.passes + next.passes,
            writes: self.writes + next.writes,
            ..next
        }
    }
}

/// What the reconciler tells its caller, in the order it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Output {
    /// Record this Event in the target (SPEC §12; best effort, never retried), then report with
    /// [`Reconciler::handle_event_recorded`](crate::Reconciler::handle_event_recorded).
    RecordEvent(StatusEvent),
    /// A reconcile began (a caller that can tell the time notes it, to measure the reconcile).
    ReconcileStarted,
    /// The reconcile begun last ended (see [`Reconciler::handle_reconcile_duration`](crate::Reconciler::handle_reconcile_duration)).
    ReconcileFinished,
    /// The status changed: publish a snapshot ([`Reconciler::refresh_status`](crate::Reconciler::refresh_status)).
    StatusChanged,
    /// A [`relist`](crate::Reconciler::relist) is done.
    Relisted(Result<(), DriverError>),
    /// A reconciling command is done: what it did, fallbacks and follow-ups included.
    Reconciled(ReconcileOutcome),
    /// A [`set_gateway_alive`](crate::Reconciler::set_gateway_alive) that changed nothing is done.
    Unchanged,
}
