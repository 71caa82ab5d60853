//! The reconcile driver: the async pump around the sans-IO [`Reconciler`]. It feeds the
//! reconciler commands and target events, sends each request it hands out through the
//! [`SourceCluster`] / [`TargetCluster`] traits, sleeps on the [`Clock`] until its retry deadline,
//! records the Events it asks for, and publishes its status. It decides nothing itself.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::{FutureExt, StreamExt, pin_mut, select_biased};
use svcmirror_core::model::ObjectKey;
use svcmirror_core::{Diagnostic, Link, Operation, SourceStore};
use tokio::sync::watch;

use crate::clock::Clock;
use crate::cluster::{SourceCluster, TargetCluster, TargetEvent};
use crate::error::{ApiError, DriverError};
use crate::reconciler::{
    DriverConfig, DriverStats, DriverStatus, ExportStatus, Output, ReconcileOutcome, Reconciler,
    Request, Response, Scope, WatchHealth,
};

/// The reconcile driver of one link.
///
/// Every decision is the [`Reconciler`]'s (and, about mirroring, the core's): the driver only
/// moves its requests to the clusters and their results back, and waits when it is told to.
///
/// Use it step by step ([`resync`](Self::resync), then [`handle`](Self::handle) per target event)
/// or let [`run`](Self::run) do the loop.
pub struct Driver<S, T, C> {
    reconciler: Reconciler,
    source: S,
    target: T,
    clock: C,
    /// The reconciler's time: how long the driver slept on its clock (the clock need not tell
    /// the time, and the reconciler's decisions depend on nothing else).
    now: Duration,
    status: watch::Sender<DriverStatus>,
    /// The gateway probe's decisions (SPEC §2.1), when a prober runs beside the driver.
    liveness: Option<watch::Receiver<bool>>,
}

impl<S, T, C> std::fmt::Debug for Driver<S, T, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver")
            .field("link", self.reconciler.link())
            .field("stats", self.reconciler.stats())
            .finish_non_exhaustive()
    }
}

impl<S: SourceCluster, T: TargetCluster, C: Clock> Driver<S, T, C> {
    /// A driver for `link` between `source` and `target`, sleeping on `clock`, with the default
    /// [`DriverConfig`]. Its caches start empty: call [`resync`](Self::resync) (or
    /// [`run`](Self::run)) before handling events.
    pub fn new(link: Link, source: S, target: T, clock: C) -> Self {
        Self {
            reconciler: Reconciler::new(link, DriverConfig::default()),
            source,
            target,
            clock,
            now: Duration::ZERO,
            status: watch::channel(DriverStatus::default()).0,
            liveness: None,
        }
    }

    /// The same driver with `config` (its seed restarts the jitter generator).
    #[must_use]
    pub fn with_config(mut self, config: DriverConfig) -> Self {
        self.reconciler = self.reconciler.with_config(config);
        self
    }

    /// The same driver, told the gateway's liveness by `liveness` (the probe's decision,
    /// SPEC §2.1): inside [`run`](Self::run), each change is a
    /// [`set_gateway_alive`](Self::set_gateway_alive); the latest value also holds for every
    /// resync.
    #[must_use]
    pub fn with_gateway_liveness(mut self, liveness: watch::Receiver<bool>) -> Self {
        self.liveness = Some(liveness);
        self
    }

    /// The link being mirrored.
    pub fn link(&self) -> &Link {
        self.reconciler.link()
    }

    /// The counters.
    pub fn stats(&self) -> &DriverStats {
        self.reconciler.stats()
    }

    /// The latest translation and plan findings, sorted.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        self.reconciler.diagnostics()
    }

    /// Every exported Service with its outcome and conditions (see [`DriverStatus::exports`]).
    pub fn exports(&self) -> &BTreeMap<ObjectKey, Arc<ExportStatus>> {
        self.reconciler.exports()
    }

    /// A snapshot of counters, findings, conditions and failures.
    pub fn status(&self) -> DriverStatus {
        self.reconciler.status()
    }

    /// A receiver of [`status`](Self::status) snapshots, updated after every reconcile and relist:
    /// how a CLI or metrics endpoint watches a driver that is inside [`run`](Self::run).
    pub fn subscribe(&self) -> watch::Receiver<DriverStatus> {
        // `publish` skips the snapshot while nobody listens: bring it up to date first.
        self.status.send_replace(self.reconciler.status());
        self.status.subscribe()
    }

    /// What the driver believes the source holds (as last listed, read or written): its store
    /// of records.
    pub fn cached_source(&self) -> &SourceStore {
        self.reconciler.cached_source()
    }

    /// Lists both clusters into the caches (retrying retryable errors), without reconciling.
    ///
    /// # Errors
    /// The list error when a list fails for good; the caches are then left as they were.
    pub async fn relist(&mut self) -> Result<(), DriverError> {
        match self.pump(Reconciler::relist).await {
            Some(Output::Relisted(result)) => result,
            _ => Ok(()),
        }
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
        reconciled(self.pump(Reconciler::full_reconcile).await)
    }

    /// Deletes every object this link owns in the source (link removal). Namespaces the link
    /// created are left in place. The target cache is kept: a later reconcile re-creates the
    /// mirrors, so drop the driver afterwards.
    pub async fn remove_all(&mut self) -> ReconcileOutcome {
        reconciled(self.pump(Reconciler::remove_all).await)
    }

    /// Replaces the link (a gateway address, port or identity change is a new link) and reconciles
    /// the whole link ([`Reconciler::set_link`]: a new cluster name first removes the old one's
    /// mirrors).
    pub async fn set_link(&mut self, link: Link) -> ReconcileOutcome {
        reconciled(self.pump(|r| r.set_link(link)).await)
    }

    /// SPEC §2.1: the gateway probe decided the gateway is `alive` (or not). A change reconciles
    /// the whole link, so every mirror Endpoints moves its gateway addresses to
    /// `notReadyAddresses` or back; no change writes nothing and returns `None`.
    pub async fn set_gateway_alive(&mut self, alive: bool) -> Option<ReconcileOutcome> {
        match self.pump(|r| r.set_gateway_alive(alive)).await {
            Some(Output::Reconciled(outcome)) => Some(outcome),
            _ => None,
        }
    }

    /// Applies one target event and reconciles the exported Service it concerns, or the whole
    /// link when one export cannot decide ([`Reconciler::handle_target_event`], SPEC §7).
    pub async fn handle(&mut self, event: TargetEvent) -> ReconcileOutcome {
        let now = self.now;
        reconciled(self.pump(|r| r.handle_target_event(now, event)).await)
    }

    /// Takes the latest liveness into the link before a relist and resync.
    fn sync_liveness(&mut self) {
        if let Some(alive) = self.liveness.as_mut().map(|rx| *rx.borrow_and_update()) {
            self.reconciler.note_gateway_alive(alive);
        }
    }

    /// The pump: gives the reconciler `command`, then sends what it asks for, sleeps until its
    /// deadlines and reports its outputs, until it is idle. Returns the command's last output.
    async fn pump(&mut self, command: impl FnOnce(&mut Reconciler)) -> Option<Output> {
        // A command whose pump was dropped midway (a shutdown) is not resumed.
        if !self.reconciler.is_idle() {
            self.reconciler.abandon();
        }
        command(&mut self.reconciler);
        let (mut started, mut done) = (None, None);
        loop {
            while let Some(output) = self.reconciler.poll_event() {
                match output {
                    Output::RecordEvent(event) => {
                        let accepted = self.target.record_event(&event).await.is_ok();
                        self.reconciler.handle_event_recorded(accepted);
                    }
                    Output::ReconcileStarted => started = self.clock.now(),
                    Output::ReconcileFinished => {
                        if let (Some(started), Some(now)) = (started.take(), self.clock.now()) {
                            let took = now.saturating_duration_since(started);
                            self.reconciler.handle_reconcile_duration(took);
                        }
                    }
                    Output::StatusChanged => self.publish(),
                    last => done = Some(last),
                }
            }
            if let Some((id, request)) = self.reconciler.poll_operation() {
                let result = send(&self.source, &self.target, request).await;
                self.reconciler.handle_applied(self.now, id, result);
            } else if let Some(due) = self.reconciler.poll_timeout() {
                self.clock.sleep(due.saturating_sub(self.now)).await;
                self.now = self.now.max(due);
                self.reconciler.handle_timeout(self.now);
            } else {
                return done;
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
        // Issue 14: relists wait while watches keep breaking before they proved healthy.
        let mut health = WatchHealth::default();
        let resync_interval = self.reconciler.config().resync_interval;
        loop {
            if let Some(attempt) = health.backoff_attempt() {
                let delay = self.reconciler.relist_backoff(attempt);
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
            if self.resync().await.is_err() {
                health.list_failed();
                continue;
            }
            let mut timer = self.clock.sleep(resync_interval).fuse();
            health.started();
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
                    health.delivered(matches!(event, TargetEvent::Restarted(_)));
                    let _ = self.handle(event).await;
                } else {
                    health.lived_through_resync();
                    self.sync_liveness();
                    let _ = self.resync().await;
                    timer = self.clock.sleep(resync_interval).fuse();
                }
            }
            health.ended();
            self.reconciler.handle_watch_restarted();
            let _ = self.pump(|_| {}).await;
        }
    }

    /// Brings the published snapshot up to date for its subscribers: the small parts are copied
    /// whole, the export statuses only where they changed (each a reference count). Skipped while
    /// nobody subscribed: otherwise each one-export reconcile would cost in proportion to the
    /// whole link.
    fn publish(&mut self) {
        if self.status.receiver_count() == 0 {
            // `subscribe` starts from a full snapshot.
            self.reconciler.forget_unpublished();
            return;
        }
        let reconciler = &mut self.reconciler;
        self.status
            .send_modify(|published| reconciler.refresh_status(published));
    }
}

/// The outcome a reconciling command ended with.
fn reconciled(last: Option<Output>) -> ReconcileOutcome {
    match last {
        Some(Output::Reconciled(outcome)) => outcome,
        // Not reached: every reconciling command ends with its outcome.
        _ => ReconcileOutcome {
            scope: Scope::Link,
            passes: 0,
            writes: 0,
            complete: false,
            pass_limit_reached: false,
        },
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

/// Sends one request to the cluster it is for.
async fn send<S: SourceCluster, T: TargetCluster>(
    source: &S,
    target: &T,
    request: Request,
) -> Result<Response, ApiError> {
    match request {
        Request::ListTarget => target.list().await.map(Response::TargetListed),
        Request::ListSource => source.list().await.map(Response::SourceListed),
        Request::Get { kind, key } => source.get(kind, &key).await.map(Response::Read),
        Request::Apply(Operation::Create { object }) => {
            source.create(&object).await.map(Response::Stored)
        }
        Request::Apply(Operation::Update { object, .. }) => {
            source.update(&object).await.map(Response::Stored)
        }
        // SPEC §7: the precondition travels inside the operation; it is not rebuilt here.
        Request::Apply(Operation::Delete {
            kind,
            key,
            precondition,
            ..
        }) => {
            let deleted = source.delete(kind, &key, &precondition).await;
            deleted.map(|()| Response::Deleted)
        }
        Request::Apply(other) => Err(ApiError::Unsupported {
            action: other.action(),
            kind: other.kind(),
            key: other.key(),
        }),
    }
}
