//! The reconcile driver: caches both clusters, asks the core what the source must hold, applies
//! the core's plans with retries, and keeps count.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::{FutureExt, StreamExt, pin_mut, select_biased};
use svcmirror_core::model::{Kind, Object, ObjectKey};
use svcmirror_core::{
    Condition, ConditionStatus, ConditionType, Desired, Diagnostic, ExportOutcome, Limit, Link,
    MirrorMode, Operation, Plan, Reason, SourceState, Translation, conditions, plan, translate,
};
use tokio::sync::watch;

use crate::cache::{SourceCache, TargetCache};

mod federation;
use crate::clock::{Backoff, Clock, SplitMix64};
use crate::error::DriverError;
use crate::event::{EventType, StatusEvent};
use crate::scope::{self, Ambiguous};
use crate::{ApiError, SourceCluster, TargetCluster, TargetEvent};

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
    /// Interval of the periodic resync in [`Driver::run`].
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
    /// Status Events handed to [`TargetCluster::record_event`] and accepted (one per change of an
    /// export's conditions).
    pub status_events: u64,
    /// Status Events the target refused (not retried: Events are best effort).
    pub status_event_failures: u64,
    /// How long reconciles took (one export or the whole link, writes included), when the
    /// [`Clock`] can tell ([`Clock::now`]).
    pub reconcile_duration: crate::DurationHistogram,
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
    fn then(self, next: Self) -> Self {
        Self {
            passes: self.passes + next.passes,
            writes: self.writes + next.writes,
            ..next
        }
    }
}

/// What one reconcile round works on.
#[derive(Debug, Clone)]
enum Work {
    /// The whole link.
    Link,
    /// One export.
    Export(ObjectKey),
    /// Nothing desired: delete everything the link owns.
    RemoveAll,
}

struct Prepared {
    /// The translation, its desired objects moved out (they are planned): outcomes and findings.
    translation: Translation,
    plan: Plan,
    /// For one export: the keys in scope.
    keys: Option<BTreeSet<ObjectKey>>,
}

enum Executed {
    /// The server stored the change.
    Written,
    /// Nothing to do after all (a delete of an object already gone).
    Moot,
    /// The outcome is unknown or our view is stale: re-read the object and plan again.
    Reread,
    /// Given up.
    Failed(ApiError),
}

/// The reconcile driver of one link.
///
/// It holds the [`Link`], a cache of the target (Services and Endpoints by key) and of the source
/// (as last listed, read or written), and talks to a [`SourceCluster`] and a [`TargetCluster`].
/// Every decision about mirroring is the core's: the driver calls
/// [`translate`](svcmirror_core::translate()) and [`plan`](svcmirror_core::plan()) and applies
/// the operations in the plan's order; it only chooses *which* objects a plan sees (one export's,
/// or the whole link's) and how to survive API errors.
///
/// Use it step by step ([`resync`](Self::resync), then [`handle`](Self::handle) per target event)
/// or let [`run`](Self::run) do the loop.
pub struct Driver<S, T, C> {
    link: Link,
    source: S,
    target: T,
    clock: C,
    config: DriverConfig,
    rng: SplitMix64,
    target_cache: TargetCache,
    source_cache: SourceCache,
    stats: DriverStats,
    diagnostics: Vec<Diagnostic>,
    /// SPEC §7: every name an export was denied (`NameConflict`) since the last whole-link
    /// reconcile, which resets it to exactly the link's denials; a one-export reconcile only adds
    /// to it. A superset is safe: it only widens a reconcile that freed one of these names to the
    /// whole link, where the denied export gets it. Kept apart from `diagnostics`, whose findings
    /// about a name are replaced by any reconcile that touches the name (F15).
    denied_names: BTreeSet<ObjectKey>,
    /// Names whose Service or Endpoints this reconcile deleted (or found already gone).
    freed_names: BTreeSet<ObjectKey>,
    failures: BTreeMap<(Kind, ObjectKey), Failure>,
    unconverged: BTreeSet<Scope>,
    list_error: Option<DriverError>,
    exports: BTreeMap<ObjectKey, Arc<ExportStatus>>,
    /// Whether a whole-link reconcile has established every export's conditions since the driver
    /// started. Until then a healthy export is not news: a restart must not send one Normal Event
    /// per export (thousands of writes to the target for a quiet cluster).
    conditions_known: bool,
    status: watch::Sender<DriverStatus>,
    /// The exports whose entry in the published status is out of date: publishing copies only
    /// those, so a one-export event costs O(1) entries, not a copy of every export's status.
    unpublished: Unpublished,
    /// The gateway probe's decisions (SPEC §2.1), when a prober runs beside the driver.
    liveness: Option<watch::Receiver<bool>>,
}

/// Which export statuses changed since the last published snapshot.
#[derive(Debug, Default)]
enum Unpublished {
    /// None.
    #[default]
    Nothing,
    /// These.
    Exports(BTreeSet<ObjectKey>),
    /// Possibly all (a whole-link reconcile replaced them).
    All,
}

impl Unpublished {
    fn export(&mut self, key: &ObjectKey) {
        match self {
            Self::Nothing => *self = Self::Exports(BTreeSet::from([key.clone()])),
            Self::Exports(keys) => {
                keys.insert(key.clone());
            }
            Self::All => {}
        }
    }
}

impl<S, T, C> std::fmt::Debug for Driver<S, T, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver")
            .field("link", &self.link)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl<S: SourceCluster, T: TargetCluster, C: Clock> Driver<S, T, C> {
    /// A driver for `link` between `source` and `target`, sleeping on `clock`, with the default
    /// [`DriverConfig`]. Its caches start empty: call [`resync`](Self::resync) (or
    /// [`run`](Self::run)) before handling events.
    pub fn new(link: Link, source: S, target: T, clock: C) -> Self {
        let config = DriverConfig::default();
        Self {
            link,
            source,
            target,
            clock,
            rng: SplitMix64::new(config.seed),
            config,
            target_cache: TargetCache::default(),
            source_cache: SourceCache::default(),
            stats: DriverStats::default(),
            diagnostics: Vec::new(),
            denied_names: BTreeSet::new(),
            freed_names: BTreeSet::new(),
            failures: BTreeMap::new(),
            unconverged: BTreeSet::new(),
            list_error: None,
            exports: BTreeMap::new(),
            conditions_known: false,
            status: watch::channel(DriverStatus::default()).0,
            unpublished: Unpublished::Nothing,
            liveness: None,
        }
    }

    /// The same driver with `config` (its seed restarts the jitter generator).
    #[must_use]
    pub fn with_config(mut self, config: DriverConfig) -> Self {
        self.rng = SplitMix64::new(config.seed);
        self.config = config;
        self
    }

    /// The link being mirrored.
    pub fn link(&self) -> &Link {
        &self.link
    }

    /// The counters.
    pub fn stats(&self) -> &DriverStats {
        &self.stats
    }

    /// The latest translation and plan findings, sorted.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.diagnostics
    }

    /// Every exported Service with its outcome and conditions (see [`DriverStatus::exports`]).
    pub fn exports(&self) -> &BTreeMap<ObjectKey, Arc<ExportStatus>> {
        &self.exports
    }

    /// A snapshot of counters, findings, conditions and failures.
    pub fn status(&self) -> DriverStatus {
        DriverStatus {
            stats: self.stats,
            diagnostics: self.diagnostics.clone(),
            exports: self.exports.clone(),
            failures: self.failures.values().cloned().collect(),
            unconverged: self.unconverged.iter().cloned().collect(),
            list_error: self.list_error.clone(),
        }
    }

    /// A receiver of [`status`](Self::status) snapshots, updated after every reconcile and relist:
    /// how a CLI or metrics endpoint watches a driver that is inside [`run`](Self::run).
    pub fn subscribe(&self) -> watch::Receiver<DriverStatus> {
        // `publish` skips the snapshot while nobody listens: bring it up to date first.
        self.status.send_replace(self.status());
        self.status.subscribe()
    }

    /// What the driver believes the source holds (as last listed, read or written).
    pub fn cached_source(&self) -> SourceState {
        self.source_cache.state()
    }

    /// Lists both clusters into the caches (retrying retryable errors), without reconciling.
    ///
    /// # Errors
    /// The list error when a list fails for good; the caches are then left as they were.
    pub async fn relist(&mut self) -> Result<(), DriverError> {
        let result = self.try_relist().await;
        self.list_error = result.clone().err();
        self.publish();
        result
    }

    async fn try_relist(&mut self) -> Result<(), DriverError> {
        let backoff = self.config.retry;
        let mut ctx = RetryCtx {
            stats: &mut self.stats,
            rng: &mut self.rng,
            clock: &self.clock,
            backoff,
        };
        let target = ctx
            .retrying(ApiError::is_retryable, || self.target.list())
            .await
            .map_err(DriverError::ListTarget)?;
        let source = ctx
            .retrying(ApiError::is_retryable, || self.source.list())
            .await
            .map_err(DriverError::ListSource)?;
        self.target_cache = TargetCache::from_state(target);
        self.source_cache = SourceCache::from_state(source);
        self.stats.relists += 1;
        Ok(())
    }

    /// Relists both clusters and reconciles the whole link. On a converged source this writes
    /// nothing.
    ///
    /// # Errors
    /// The list error when a list fails for good (nothing is reconciled then).
    pub async fn resync(&mut self) -> Result<ReconcileOutcome, DriverError> {
        self.relist().await?;
        Ok(self.full_reconcile().await)
    }

    /// Translates every export and applies the plan against the cached source, whole-link scope:
    /// orphans of this link are deleted, per namespace and cluster name (ownership is the core's).
    pub async fn full_reconcile(&mut self) -> ReconcileOutcome {
        match self.reconcile(&Work::Link, &[]).await {
            Ok(outcome) => outcome,
            Err(_) => unreachable!("a whole-link reconcile is never ambiguous"),
        }
    }

    /// Deletes every object this link owns in the source (link removal). Namespaces the link
    /// created are left in place. The target cache is kept: a later reconcile re-creates the
    /// mirrors, so drop the driver afterwards.
    pub async fn remove_all(&mut self) -> ReconcileOutcome {
        match self.reconcile(&Work::RemoveAll, &[]).await {
            Ok(outcome) => outcome,
            Err(_) => unreachable!("removing everything is never ambiguous"),
        }
    }

    /// Replaces the link (a gateway address, port or identity change is a new link) and reconciles
    /// the whole link, so every mirror Endpoints is updated. When the target cluster's *name*
    /// changes, the objects owned under the old name are deleted first: they would otherwise no
    /// longer be ours and stay forever.
    pub async fn set_link(&mut self, link: Link) -> ReconcileOutcome {
        let removed = if link.cluster_name() == self.link.cluster_name() {
            None
        } else {
            Some(self.remove_all().await)
        };
        self.link = link;
        let outcome = self.full_reconcile().await;
        match removed {
            Some(removed) => removed.then(outcome),
            None => outcome,
        }
    }

    /// SPEC §2.1: the gateway probe decided the gateway is `alive` (or not). A change reconciles
    /// the whole link, so every mirror Endpoints moves its gateway addresses to
    /// `notReadyAddresses` or back; no change writes nothing and returns `None`.
    pub async fn set_gateway_alive(&mut self, alive: bool) -> Option<ReconcileOutcome> {
        if self.link.gateway_alive() == alive {
            return None;
        }
        self.link = self.link.clone().with_gateway_alive(alive);
        Some(self.full_reconcile().await)
    }

    /// The same driver, told the gateway's liveness by `liveness` (the probe's decision,
    /// SPEC §2.1): inside [`run`](Self::run), each change is a [`set_gateway_alive`]
    /// (Self::set_gateway_alive); the latest value also holds for every resync.
    #[must_use]
    pub fn with_gateway_liveness(mut self, liveness: watch::Receiver<bool>) -> Self {
        self.liveness = Some(liveness);
        self
    }

    /// Takes the latest liveness into the link before a relist and resync.
    fn sync_liveness(&mut self) {
        if let Some(alive) = self.liveness.as_mut().map(|rx| *rx.borrow_and_update()) {
            self.link = self.link.clone().with_gateway_alive(alive);
        }
    }

    /// Applies one target event to the target cache and reconciles the exported Service it
    /// concerns (an Endpoints event concerns the Service of the same key). Only that export's
    /// objects are planned; when ownership of a desired name is unclear (held by another export's
    /// object, or free and wanted by another export too), or a deletion freed a name another
    /// export was denied, the whole link is reconciled instead (SPEC §7).
    /// [`TargetEvent::Restarted`] replaces the target cache and reconciles the whole link.
    pub async fn handle(&mut self, event: TargetEvent) -> ReconcileOutcome {
        self.stats.events += 1;
        let Some(export) = event.export() else {
            event.apply_to(&mut self.target_cache);
            return self.full_reconcile().await;
        };
        // Names the export wanted before the event: findings about them are replaced too.
        let mut wanted = scope::wanted_names(&self.link, &export, &self.target_cache);
        event.apply_to(&mut self.target_cache);
        wanted.extend(scope::wanted_names(&self.link, &export, &self.target_cache));
        self.reconcile_export(export, &wanted).await
    }

    async fn reconcile_export(
        &mut self,
        export: ObjectKey,
        wanted: &[ObjectKey],
    ) -> ReconcileOutcome {
        // SPEC §8: one export's translation sees one export, not the link's ClusterIP budget.
        // While one more export's worth (its mirror and every endpoint mirror it may have) fits
        // under the budget whatever the others hold, it cannot overrun it; closer than that, only
        // the whole link decides who gets a ClusterIP.
        let limits = self.link.limits();
        let one_export = limits
            .count(Limit::EndpointMirrorsPerExport)
            .saturating_add(1);
        if self
            .source_cache
            .mirror_cluster_ips()
            .saturating_add(one_export)
            > limits.count(Limit::ClusterIpsPerLink)
        {
            self.stats.fallbacks += 1;
            return self.full_reconcile().await;
        }
        self.freed_names.clear();
        match self.reconcile(&Work::Export(export), wanted).await {
            Ok(outcome) => {
                // SPEC §7: a name this reconcile freed goes to an export that was denied it; that
                // export is not in this reconcile's scope, so only the whole link decides (F15).
                let freed = std::mem::take(&mut self.freed_names);
                if freed.iter().any(|k| self.denied_names.contains(k)) {
                    let full = self.full_reconcile().await;
                    outcome.then(full)
                } else {
                    outcome
                }
            }
            Err(_) => {
                self.stats.fallbacks += 1;
                self.full_reconcile().await
            }
        }
    }

    /// The loop: watch the target, list both clusters, reconcile the whole link, then handle each
    /// target event; when the watch ends or fails, relist and reconcile again, with backoff while
    /// the watch keeps breaking before it proved healthy (it delivered a change after its own
    /// initial list, or lived through a resync interval: a watch that fails right after its list
    /// must not relist both clusters in a tight loop, issue 14); every
    /// [`DriverConfig::resync_interval`] (on the injected clock) resync.
    ///
    /// Returns when `shutdown` completes, but a reconcile in progress is **finished first**: an
    /// abandoned plan could leave a type flip's mirror deleted (its delete done, its re-create
    /// not) until the next leader (issue 14). The caller bounds how long it waits for that
    /// (`svcmirror run` drops the loop after its shutdown grace); a waiting list or backoff is
    /// abandoned at once.
    pub async fn run<F: Future<Output = ()>>(&mut self, shutdown: F) {
        let shutdown = shutdown.fuse();
        pin_mut!(shutdown);
        let mut quiet_restarts: u32 = 0;
        loop {
            if quiet_restarts > 0 {
                let delay = self.config.retry.delay(quiet_restarts - 1, &mut self.rng);
                let mut wait = self.clock.sleep(delay).fuse();
                select_biased! {
                    () = shutdown => return,
                    () = wait => {}
                }
            }
            // Watch first, then list: nothing that happens in between is missed (events the list
            // already reflects are reconciled again, which writes nothing).
            let mut events = self.target.watch().fuse();
            self.sync_liveness();
            // Finished even when `shutdown` completes meanwhile (see above).
            let listed = self.resync().await;
            if listed.is_err() {
                quiet_restarts = quiet_restarts.saturating_add(1);
                continue;
            }
            let mut timer = self.clock.sleep(self.config.resync_interval).fuse();
            // Whether this watch proved healthy (see above): its own first `Restarted` (the
            // watcher's initial list) does not count.
            let mut delivered = false;
            let mut first = true;
            loop {
                let next = select_biased! {
                    () = shutdown => return,
                    alive = liveness_change(&mut self.liveness).fuse() => {
                        match alive {
                            Some(alive) => {
                                let reconciled = self.set_gateway_alive(alive).fuse();
                                pin_mut!(reconciled);
                                select_biased! {
                                    () = shutdown => return,
                                    _ = reconciled => {},
                                }
                            }
                            // The prober stopped: the latest decision stands.
                            None => self.liveness = None,
                        }
                        continue;
                    },
                    item = events.next() => match item {
                        Some(Ok(event)) => Some(event),
                        Some(Err(_)) | None => break,
                    },
                    () = timer => None,
                };
                if let Some(event) = next {
                    if !(first && matches!(event, TargetEvent::Restarted(_))) {
                        delivered = true;
                    }
                    first = false;
                    let _ = self.handle(event).await;
                } else {
                    delivered = true;
                    self.sync_liveness();
                    let _ = self.resync().await;
                    timer = self.clock.sleep(self.config.resync_interval).fuse();
                }
            }
            self.stats.watch_restarts += 1;
            self.publish();
            quiet_restarts = if delivered {
                0
            } else {
                quiet_restarts.saturating_add(1)
            };
        }
    }

    /// Hands subscribers a fresh snapshot. Building one clones every export's entry and every
    /// finding, so it is skipped while nobody subscribed: otherwise each one-export reconcile
    /// would cost in proportion to the whole link.
    /// Brings the published snapshot up to date for its subscribers: the small parts are copied
    /// whole, the export statuses only where they changed (each a reference count).
    fn publish(&mut self) {
        let unpublished = std::mem::take(&mut self.unpublished);
        if self.status.receiver_count() == 0 {
            // `subscribe` starts from a full snapshot.
            return;
        }
        self.status.send_modify(|published| {
            published.stats = self.stats;
            // Compared first: equal findings (the usual case) are not copied again.
            if published.diagnostics != self.diagnostics {
                published.diagnostics.clone_from(&self.diagnostics);
            }
            published.failures = self.failures.values().cloned().collect();
            published.unconverged = self.unconverged.iter().cloned().collect();
            published.list_error.clone_from(&self.list_error);
            match unpublished {
                Unpublished::Nothing => {}
                Unpublished::All => published.exports.clone_from(&self.exports),
                Unpublished::Exports(keys) => {
                    for key in keys {
                        match self.exports.get(&key) {
                            Some(status) => {
                                published.exports.insert(key, Arc::clone(status));
                            }
                            None => {
                                published.exports.remove(&key);
                            }
                        }
                    }
                }
            }
        });
    }

    /// Translate and plan one round of `work`.
    fn prepare(&self, work: &Work) -> Result<Prepared, Ambiguous> {
        match work {
            Work::Link => {
                let source = self.source_cache.state();
                let target = self.target_cache.state();
                let mut translation = translate(&self.link, &target, &source);
                let mut plan = plan(&self.link, &translation.desired, &source);
                translation.desired = Desired::default();
                // SPEC §9: this link's share of the federated Services.
                let (fed, fed_plan) = federation::whole_link(&self.link, &target, &source);
                federation::merge(&mut translation, &mut plan, fed, fed_plan);
                Ok(Prepared {
                    translation,
                    plan,
                    keys: None,
                })
            }
            Work::RemoveAll => {
                let plan = plan(&self.link, &Desired::default(), &self.source_cache.state());
                Ok(Prepared {
                    translation: Translation::default(),
                    plan,
                    keys: None,
                })
            }
            Work::Export(export) => {
                let scoped = scope::scope_export(
                    &self.link,
                    export,
                    &self.target_cache,
                    &self.source_cache,
                )?;
                let mut plan = plan(&self.link, &scoped.desired, &scoped.observed);
                let (mut translation, mut keys) = (scoped.translation, scoped.keys);
                let (fed, fed_plan, fed_keys) = federation::one_export(
                    &self.link,
                    export,
                    &self.target_cache,
                    &self.source_cache,
                );
                federation::merge(&mut translation, &mut plan, fed, fed_plan);
                keys.extend(fed_keys);
                Ok(Prepared {
                    translation,
                    plan,
                    keys: Some(keys),
                })
            }
        }
    }

    /// Plans and applies `work` until the plan is empty, everything left failed, or the pass cap.
    async fn reconcile(
        &mut self,
        work: &Work,
        extra_keys: &[ObjectKey],
    ) -> Result<ReconcileOutcome, Ambiguous> {
        let scope = match work {
            Work::Export(key) => Scope::Export(key.clone()),
            Work::Link | Work::RemoveAll => Scope::Link,
        };
        let started = self.clock.now();
        self.stats.reconciles += 1;
        if scope == Scope::Link {
            self.stats.full_reconciles += 1;
        }
        let mut outcome = ReconcileOutcome {
            scope: scope.clone(),
            passes: 0,
            writes: 0,
            complete: false,
            pass_limit_reached: false,
        };
        let mut touched: BTreeSet<ObjectKey> = extra_keys.iter().cloned().collect();
        let mut failed: BTreeSet<ObjectKey> = BTreeSet::new();
        let mut diagnostics = Vec::new();
        let mut exports = None;
        loop {
            if outcome.passes >= self.config.max_passes {
                outcome.pass_limit_reached = true;
                break;
            }
            let Prepared {
                mut translation,
                mut plan,
                keys,
            } = self.prepare(work)?;
            if outcome.passes == 0 {
                // The failures of this scope's previous reconcile are superseded by this one.
                match &keys {
                    Some(keys) => {
                        touched.extend(keys.iter().cloned());
                        self.failures.retain(|(_, key), _| !touched.contains(key));
                    }
                    None => self.failures.clear(),
                }
            } else if let Some(keys) = &keys {
                touched.extend(keys.iter().cloned());
            }
            outcome.passes += 1;
            self.stats.passes += 1;
            let last_pass = outcome.passes >= self.config.max_passes
                || plan.operations.iter().all(|op| failed.contains(&op.key()));
            if last_pass {
                // SPEC §12: the conditions of the pass that ends the reconcile, its plan included
                // (what is left to apply is what keeps an export from `Mirrored=True`).
                exports = Some(export_statuses(&translation, &plan));
            }
            diagnostics = std::mem::take(&mut translation.diagnostics);
            diagnostics.append(&mut plan.diagnostics);
            if plan.operations.iter().all(|op| failed.contains(&op.key())) {
                outcome.complete = failed.is_empty();
                break;
            }
            outcome.writes += self.apply(&plan, &mut failed).await;
        }
        let denials = diagnostics
            .iter()
            .filter(|d| d.reason == Reason::NameConflict)
            .map(|d| d.object.clone());
        match work {
            Work::Link => self.denied_names = denials.collect(),
            Work::RemoveAll => self.denied_names.clear(),
            Work::Export(_) => self.denied_names.extend(denials),
        }
        match work {
            Work::Link => self.diagnostics = diagnostics,
            Work::RemoveAll => self.diagnostics.clear(),
            Work::Export(_) => {
                self.diagnostics.retain(|d| !touched.contains(&d.object));
                self.diagnostics.extend(diagnostics);
            }
        }
        self.diagnostics.sort();
        self.diagnostics.dedup();
        if let Some(exports) = exports {
            let changed = self.replace_exports(work, exports);
            self.record_events(&changed).await;
            if matches!(work, Work::Link) {
                self.conditions_known = true;
            }
        }
        if outcome.pass_limit_reached {
            self.stats.unconverged += 1;
            self.unconverged.insert(scope);
        } else if scope == Scope::Link {
            self.unconverged.clear();
        } else {
            self.unconverged.remove(&scope);
        }
        if let (Some(started), Some(now)) = (started, self.clock.now()) {
            self.stats
                .reconcile_duration
                .observe(now.saturating_duration_since(started));
        }
        self.publish();
        Ok(outcome)
    }

    /// Replaces the export statuses `work` covered with `fresh`; returns the exports whose
    /// conditions changed (new ones included, removed ones not: there is nothing to report on a
    /// Service that is gone or no longer exported).
    fn replace_exports(
        &mut self,
        work: &Work,
        mut fresh: BTreeMap<ObjectKey, Arc<ExportStatus>>,
    ) -> Vec<ObjectKey> {
        let changed = |old: Option<&Arc<ExportStatus>>, new: &ExportStatus| {
            old.is_none_or(|old| old.conditions != new.conditions)
        };
        match work {
            Work::Link | Work::RemoveAll => {
                let keys = fresh
                    .iter()
                    .filter(|(key, new)| changed(self.exports.get(*key), new))
                    .map(|(key, _)| key.clone())
                    .collect();
                self.exports = fresh;
                self.unpublished = Unpublished::All;
                keys
            }
            Work::Export(key) => {
                // A one-export translation holds that export only, if it is still exported.
                self.unpublished.export(key);
                let old = self.exports.remove(key);
                let Some(new) = fresh.remove(key) else {
                    return Vec::new();
                };
                let keys = if changed(old.as_ref(), &new) {
                    vec![key.clone()]
                } else {
                    Vec::new()
                };
                self.exports.insert(key.clone(), new);
                keys
            }
        }
    }

    /// Hands the target one Event per export in `changed` (SPEC §12). Best effort: a refused
    /// Event is counted, not retried, and never fails the reconcile.
    async fn record_events(&mut self, changed: &[ObjectKey]) {
        for key in changed {
            let (Some(status), Some(service)) =
                (self.exports.get(key), self.target_cache.service(key))
            else {
                continue;
            };
            let Some(event) = StatusEvent::for_export(&service.metadata, &status.conditions) else {
                continue;
            };
            if !self.conditions_known && event.type_ == EventType::Normal {
                continue;
            }
            match self.target.record_event(&event).await {
                Ok(()) => self.stats.status_events += 1,
                Err(_) => self.stats.status_event_failures += 1,
            }
        }
    }

    /// Applies the plan's operations in order, as [`Plan`] says: an operation whose prerequisite
    /// did not succeed in this round is skipped (SPEC §7: an endpoint mirror is not deleted while
    /// its root Endpoints may still name its ClusterIP), for the rest of the reconcile when the
    /// prerequisite failed for good. An object whose request needs a re-read is skipped for the
    /// rest of this round (later operations on the same key may depend on it); one that failed
    /// for good, and those of the reconcile's earlier rounds, are skipped for the rest of the
    /// reconcile. Returns the number of writes.
    async fn apply(&mut self, plan: &Plan, failed: &mut BTreeSet<ObjectKey>) -> u64 {
        let mut writes = 0;
        let mut skipped: BTreeSet<ObjectKey> = BTreeSet::new();
        let mut succeeded = vec![false; plan.operations.len()];
        for (index, op) in plan.operations.iter().enumerate() {
            let key = op.key();
            if failed.contains(&key) || skipped.contains(&key) {
                continue;
            }
            let mut waiting = plan.prerequisites(index).filter(|&on| !succeeded[on]);
            if let Some(on) = waiting.next() {
                if failed.contains(&plan.operations[on].key()) {
                    // Waits for an operation given up in this reconcile: not attempted either.
                    failed.insert(key);
                }
                continue;
            }
            match self.execute(op).await {
                Executed::Written => {
                    writes += 1;
                    succeeded[index] = true;
                    self.failures.remove(&(op.kind(), key));
                }
                Executed::Moot => {
                    succeeded[index] = true;
                    self.failures.remove(&(op.kind(), key));
                }
                Executed::Reread => {
                    if let Err(error) = self.reread(op.kind(), &key).await {
                        self.give_up("get", op.kind(), &key, error);
                        failed.insert(key.clone());
                    }
                    skipped.insert(key);
                }
                Executed::Failed(error) => {
                    self.give_up(op.action(), op.kind(), &key, error);
                    failed.insert(key.clone());
                    skipped.insert(key);
                }
            }
        }
        writes
    }

    fn give_up(&mut self, action: &'static str, kind: Kind, key: &ObjectKey, error: ApiError) {
        self.stats.operation_failures += 1;
        self.failures.insert(
            (kind, key.clone()),
            Failure {
                action,
                kind,
                key: key.clone(),
                error,
            },
        );
    }

    /// Sends one operation, retrying `Unavailable` with backoff, and records what the server
    /// stored.
    async fn execute(&mut self, op: &Operation) -> Executed {
        let backoff = self.config.retry;
        let mut ctx = RetryCtx {
            stats: &mut self.stats,
            rng: &mut self.rng,
            clock: &self.clock,
            backoff,
        };
        let source = &self.source;
        let result = ctx
            .retrying(
                |e| matches!(e, ApiError::Unavailable(_)),
                || send(source, op),
            )
            .await;
        match result {
            Ok(Some(stored)) => {
                self.stats.writes += 1;
                match op {
                    Operation::Create { .. } => self.stats.creates += 1,
                    _ => self.stats.updates += 1,
                }
                self.source_cache.upsert(stored);
                Executed::Written
            }
            Ok(None) => {
                self.stats.writes += 1;
                self.stats.deletes += 1;
                self.source_cache.remove(op.kind(), &op.key());
                self.freed_names.insert(op.key());
                Executed::Written
            }
            Err(error) => match (op, error) {
                // Gone already: what the delete wanted.
                (Operation::Delete { kind, key, .. }, ApiError::NotFound { .. }) => {
                    self.source_cache.remove(*kind, key);
                    self.freed_names.insert(key.clone());
                    Executed::Moot
                }
                // Our view is stale (the object vanished, changed, or appeared) or the outcome is
                // unknown: read it and plan again rather than resend the same request.
                (Operation::Update { .. }, ApiError::NotFound { .. })
                | (_, ApiError::Timeout(_)) => Executed::Reread,
                (_, ApiError::Conflict { .. } | ApiError::AlreadyExists { .. }) => {
                    self.stats.conflicts += 1;
                    Executed::Reread
                }
                (_, error) => Executed::Failed(error),
            },
        }
    }

    /// Reads one object into the source cache.
    async fn reread(&mut self, kind: Kind, key: &ObjectKey) -> Result<(), ApiError> {
        self.stats.rereads += 1;
        let backoff = self.config.retry;
        let mut ctx = RetryCtx {
            stats: &mut self.stats,
            rng: &mut self.rng,
            clock: &self.clock,
            backoff,
        };
        let source = &self.source;
        match ctx
            .retrying(ApiError::is_retryable, || source.get(kind, key))
            .await?
        {
            Some(object) if object.kind() == kind && object.key() == *key => {
                self.source_cache.upsert(object);
            }
            Some(_) | None => self.source_cache.remove(kind, key),
        }
        Ok(())
    }
}

/// The next liveness the prober decided; `None` once it stopped; never, without a prober.
async fn liveness_change(liveness: &mut Option<watch::Receiver<bool>>) -> Option<bool> {
    match liveness {
        Some(rx) => match rx.changed().await {
            Ok(()) => Some(*rx.borrow_and_update()),
            Err(_) => None,
        },
        None => std::future::pending().await,
    }
}

/// The core's conditions (SPEC §12) of every export of `translation`, with its outcome.
fn export_statuses(
    translation: &Translation,
    plan: &Plan,
) -> BTreeMap<ObjectKey, Arc<ExportStatus>> {
    let mut by_export = conditions(translation, plan);
    translation
        .exports
        .iter()
        .map(|(key, outcome)| {
            let conditions = by_export.remove(key).unwrap_or_default();
            (
                key.clone(),
                Arc::new(ExportStatus::new(outcome.clone(), conditions)),
            )
        })
        .collect()
}

/// One request: `Some(stored)` for a create or update, `None` for a delete.
async fn send<S: SourceCluster>(source: &S, op: &Operation) -> Result<Option<Object>, ApiError> {
    match op {
        Operation::Create { object } => source.create(object).await.map(Some),
        Operation::Update { object, .. } => source.update(object).await.map(Some),
        // SPEC §7: the precondition travels inside the operation; it is not rebuilt here.
        Operation::Delete {
            kind,
            key,
            precondition,
            ..
        } => source.delete(*kind, key, precondition).await.map(|()| None),
        other => Err(ApiError::Unsupported {
            action: other.action(),
            kind: other.kind(),
            key: other.key(),
        }),
    }
}

/// The pieces of the driver a retry loop needs, borrowed apart from the clusters.
struct RetryCtx<'a, C> {
    stats: &'a mut DriverStats,
    rng: &'a mut SplitMix64,
    clock: &'a C,
    backoff: Backoff,
}

impl<C: Clock> RetryCtx<'_, C> {
    /// Sends a request until it succeeds, fails with an error `retry_if` rejects, or
    /// `backoff.max_attempts` tries were made.
    async fn retrying<R, Fut>(
        &mut self,
        retry_if: impl Fn(&ApiError) -> bool,
        mut request: impl FnMut() -> Fut,
    ) -> Result<R, ApiError>
    where
        Fut: Future<Output = Result<R, ApiError>>,
    {
        let mut attempt = 0u32;
        loop {
            self.stats.requests += 1;
            match request().await {
                Ok(value) => return Ok(value),
                Err(error) => {
                    self.stats.failed_requests += 1;
                    if !retry_if(&error) || attempt + 1 >= self.backoff.max_attempts {
                        return Err(error);
                    }
                    self.stats.retries += 1;
                    self.clock
                        .sleep(self.backoff.delay(attempt, self.rng))
                        .await;
                    attempt += 1;
                }
            }
        }
    }
}
