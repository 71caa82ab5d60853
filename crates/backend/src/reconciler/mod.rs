//! The sans-IO reconciler: every decision of the reconcile loop, as a synchronous state machine in
//! the style of quinn-proto's `Connection`. No async, no I/O, no clock: time is a `now` the caller
//! passes in (a [`Duration`] since an origin of its choosing, never going back).
//!
//! Its methods come in four groups:
//! - **getters**: [`link`](Reconciler::link), [`stats`](Reconciler::stats),
//!   [`status`](Reconciler::status), [`exports`](Reconciler::exports), …;
//! - **commands**, queued and run one after the other: [`relist`](Reconciler::relist),
//!   [`full_reconcile`](Reconciler::full_reconcile), [`remove_all`](Reconciler::remove_all),
//!   [`set_link`](Reconciler::set_link), [`set_gateway_alive`](Reconciler::set_gateway_alive);
//! - **inputs** `handle_*(now, …)`: a target event, the lists of both clusters, the result of each
//!   request it handed out, a timeout, whether an Event was recorded;
//! - **outputs** `poll_*()`: the next request to send ([`poll_operation`](Reconciler::poll_operation)),
//!   when to wake it up ([`poll_timeout`](Reconciler::poll_timeout)), and what to report
//!   ([`poll_event`](Reconciler::poll_event): Events to record, status changes, what a command did).
//!
//! **The caller's contract** (the canonical loop; `Driver` is this loop over the backend traits):
//! 1. issue a command or feed an input;
//! 2. drain [`poll_event`](Reconciler::poll_event) (record each Event and report the result with
//!    [`handle_event_recorded`](Reconciler::handle_event_recorded); publish on
//!    [`Output::StatusChanged`]);
//! 3. send what [`poll_operation`](Reconciler::poll_operation) returns and hand its result to
//!    [`handle_applied`](Reconciler::handle_applied) — one request is out at a time, in the plan's
//!    order, so an operation whose prerequisite failed is never handed out;
//! 4. when it returns nothing, wait until [`poll_timeout`](Reconciler::poll_timeout) and call
//!    [`handle_timeout`](Reconciler::handle_timeout); when that is `None` too, the command is done
//!    (its last output was [`Output::Reconciled`], [`Output::Relisted`] or [`Output::Unchanged`]).
//!
//! **Convergence**: a reconcile plans, applies and plans again until a plan has nothing left to
//! try, at most [`DriverConfig::max_passes`] rounds; against a source that answers every request,
//! the core's two-pass contract (`svcmirror_core::drive`) bounds it to three rounds, the last one
//! empty.

mod books;
mod federation;
mod pass;
mod prepare;
mod request;
mod status;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use svcmirror_core::model::{Kind, ObjectKey};
use svcmirror_core::{Diagnostic, Limit, Link, Operation, Reason, SourceState, TargetState};

pub use request::{OpId, Request, Response};
pub use status::{
    DriverConfig, DriverStats, DriverStatus, ExportStatus, Failure, ReconcileOutcome, Scope,
};

use self::books::Books;
use self::pass::Pass;
use self::prepare::{Prepared, Work, export_statuses, prepare};
use self::request::{AfterFailure, Pending};
use crate::cache::{SourceCache, TargetCache};
use crate::clock::SplitMix64;
use crate::error::{ApiError, DriverError};
use crate::event::{EventType, StatusEvent};
use crate::{TargetEvent, scope};

/// What the reconciler tells its caller, in the order it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Output {
    /// Record this Event in the target (SPEC §12; best effort, never retried), then report with
    /// [`Reconciler::handle_event_recorded`].
    RecordEvent(StatusEvent),
    /// A reconcile began (a caller that can tell the time notes it, to measure the reconcile).
    ReconcileStarted,
    /// The reconcile begun last ended (see [`Reconciler::handle_reconcile_duration`]).
    ReconcileFinished,
    /// The status changed: publish a snapshot ([`Reconciler::refresh_status`]).
    StatusChanged,
    /// A [`relist`](Reconciler::relist) is done.
    Relisted(Result<(), DriverError>),
    /// A reconciling command is done: what it did, fallbacks and follow-ups included.
    Reconciled(ReconcileOutcome),
    /// A [`set_gateway_alive`](Reconciler::set_gateway_alive) that changed nothing is done.
    Unchanged,
}

/// A command waiting for its turn.
#[derive(Debug)]
enum Command {
    Relist,
    Event(TargetEvent),
    Reconcile(Work),
    SetLink(Link),
    GatewayAlive(bool),
}

/// What the command in progress does next.
#[derive(Debug)]
enum Task {
    /// Listing the target (`None` yet), then the source.
    Relist(Option<TargetState>),
    /// A reconcile, what follows it, and the outcome of the reconciles before it in the command.
    Reconcile {
        job: Job,
        then: Then,
        before: Option<ReconcileOutcome>,
    },
}

/// What follows a reconcile in its command.
#[derive(Debug)]
enum Then {
    /// Nothing.
    Done,
    /// SPEC §7 (F15): after one export's reconcile, a name it freed that another export was
    /// denied goes to that export; it is not in this reconcile's scope, so the whole link decides.
    FreedNames,
    /// After removing the old cluster name's mirrors: the new link, reconciled whole.
    Link(Link),
}

/// What the request in progress is for.
#[derive(Debug, Clone, Copy)]
enum Purpose {
    ListTarget,
    ListSource,
    /// Operation `index` of the current round's plan.
    Write(usize),
    /// The re-read after a write of the current round.
    Reread,
}

/// One reconcile in progress.
#[derive(Debug)]
struct Job {
    work: Work,
    outcome: ReconcileOutcome,
    /// The keys whose findings and failures this reconcile replaces.
    touched: BTreeSet<ObjectKey>,
    /// Keys given up in this reconcile.
    failed: BTreeSet<ObjectKey>,
    /// The latest round's findings.
    diagnostics: Vec<Diagnostic>,
    /// The conditions of the round that ended the reconcile.
    exports: Option<BTreeMap<ObjectKey, Arc<ExportStatus>>>,
    /// The round being applied.
    pass: Option<Pass>,
}

/// How one round of a job went on.
enum Step {
    /// A request is out.
    Waiting(Job),
    Finished(Job),
    /// One export's ownership is unclear (SPEC §7): only the whole link decides.
    Ambiguous,
}

/// The reconcile state machine of one link (see the [module docs](self)).
#[derive(Debug)]
pub struct Reconciler {
    link: Link,
    config: DriverConfig,
    rng: SplitMix64,
    target: TargetCache,
    source: SourceCache,
    books: Books,
    /// Names whose Service or Endpoints the current reconcile deleted (or found already gone).
    freed_names: BTreeSet<ObjectKey>,
    commands: VecDeque<Command>,
    task: Option<Task>,
    pending: Option<(Pending, Purpose)>,
    next_id: u64,
    outputs: VecDeque<Output>,
}

impl Reconciler {
    /// A reconciler for `link` with `config`, its caches empty: [`relist`](Self::relist) (or
    /// [`handle_relist`](Self::handle_relist)) before handling target events.
    #[must_use]
    pub fn new(link: Link, config: DriverConfig) -> Self {
        Self {
            link,
            rng: SplitMix64::new(config.seed),
            config,
            target: TargetCache::default(),
            source: SourceCache::default(),
            books: Books::default(),
            freed_names: BTreeSet::new(),
            commands: VecDeque::new(),
            task: None,
            pending: None,
            next_id: 0,
            outputs: VecDeque::new(),
        }
    }

    // --- getters -----------------------------------------------------------------------------

    /// The link being mirrored.
    pub fn link(&self) -> &Link {
        &self.link
    }

    /// The configuration.
    pub fn config(&self) -> &DriverConfig {
        &self.config
    }

    /// The counters.
    pub fn stats(&self) -> &DriverStats {
        &self.books.stats
    }

    /// The latest translation and plan findings, sorted.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.books.diagnostics
    }

    /// Every exported Service with its outcome and conditions (see [`DriverStatus::exports`]).
    pub fn exports(&self) -> &BTreeMap<ObjectKey, Arc<ExportStatus>> {
        &self.books.exports
    }

    /// A snapshot of counters, findings, conditions and failures.
    pub fn status(&self) -> DriverStatus {
        self.books.status()
    }

    /// Brings `published` up to date with [`status`](Self::status), copying only the export
    /// entries changed since the previous call.
    pub fn refresh_status(&mut self, published: &mut DriverStatus) {
        self.books.refresh(published);
    }

    /// Nobody keeps a published snapshot: the next starts from a full [`status`](Self::status).
    pub fn forget_unpublished(&mut self) {
        self.books.forget_unpublished();
    }

    /// What the reconciler believes the source holds (as last listed, read or written).
    pub fn cached_source(&self) -> SourceState {
        self.source.state()
    }

    /// Whether nothing is queued, in progress or waiting.
    pub fn is_idle(&self) -> bool {
        self.task.is_none() && self.pending.is_none() && self.commands.is_empty()
    }

    /// The backoff before relisting after the `attempt`-th (0-based) consecutive watch failure,
    /// jittered by the reconciler's seeded generator.
    pub fn relist_backoff(&mut self, attempt: u32) -> Duration {
        self.config.retry.delay(attempt, &mut self.rng)
    }

    // --- commands ----------------------------------------------------------------------------

    /// Lists both clusters into the caches (retrying retryable errors), without reconciling;
    /// ends with [`Output::Relisted`].
    pub fn relist(&mut self) {
        self.command(Command::Relist);
    }

    /// Reconciles the whole link: orphans of this link are deleted, per namespace and cluster
    /// name (ownership is the core's).
    pub fn full_reconcile(&mut self) {
        self.command(Command::Reconcile(Work::Link));
    }

    /// Deletes every object this link owns in the source (link removal).
    pub fn remove_all(&mut self) {
        self.command(Command::Reconcile(Work::RemoveAll));
    }

    /// Replaces the link and reconciles the whole link. When the target cluster's *name* changes,
    /// the objects owned under the old name are deleted first: they would otherwise no longer be
    /// ours and stay forever.
    pub fn set_link(&mut self, link: Link) {
        self.command(Command::SetLink(link));
    }

    /// SPEC §2.1: the gateway probe decided the gateway is `alive` (or not). A change reconciles
    /// the whole link, so every mirror Endpoints moves its gateway addresses to
    /// `notReadyAddresses` or back; no change ends with [`Output::Unchanged`].
    pub fn set_gateway_alive(&mut self, alive: bool) {
        self.command(Command::GatewayAlive(alive));
    }

    /// Takes the gateway's liveness into the link without reconciling (the next whole-link
    /// reconcile uses it).
    pub fn note_gateway_alive(&mut self, alive: bool) {
        self.link = self.link.clone().with_gateway_alive(alive);
    }

    /// Forgets the command in progress, the queued ones and their outputs (its caller dropped
    /// it): a request out is no longer waited for. The caches and records stay as they are.
    pub fn abandon(&mut self) {
        self.commands.clear();
        self.task = None;
        self.pending = None;
        self.outputs.clear();
        self.freed_names.clear();
    }

    // --- inputs ------------------------------------------------------------------------------

    /// A change seen in the target: reconciles the exported Service it concerns (an Endpoints
    /// event concerns the Service of the same key). Only that export's objects are planned; when
    /// ownership of a desired name is unclear (held by another export's object, or free and
    /// wanted by another export too), or a deletion freed a name another export was denied, the
    /// whole link is reconciled instead (SPEC §7). [`TargetEvent::Restarted`] replaces the target
    /// cache and reconciles the whole link.
    pub fn handle_target_event(&mut self, now: Duration, event: TargetEvent) {
        let _ = now;
        self.command(Command::Event(event));
    }

    /// Both clusters as just listed: they replace the caches. Ends a [`relist`](Self::relist) in
    /// progress (for a caller that lists by itself).
    pub fn handle_relist(&mut self, now: Duration, target: TargetState, source: SourceState) {
        let _ = now;
        self.target = TargetCache::from_state(target);
        self.source = SourceCache::from_state(source);
        self.books.stats.relists += 1;
        self.end_relist(Ok(()));
    }

    /// A list failed for good: the caches stay as they were. Ends a [`relist`](Self::relist) in
    /// progress.
    pub fn handle_list_failed(&mut self, now: Duration, error: DriverError) {
        let _ = now;
        self.end_relist(Err(error));
    }

    /// The result of request `id` (as handed out by [`poll_operation`](Self::poll_operation)). A
    /// retryable failure schedules the same request again at `now` + backoff
    /// ([`poll_timeout`](Self::poll_timeout)); a result for any other id is ignored.
    pub fn handle_applied(&mut self, now: Duration, id: OpId, result: Result<Response, ApiError>) {
        let Some((pending, purpose)) = &mut self.pending else {
            return;
        };
        if pending.sent != Some(id) {
            return;
        }
        let purpose = *purpose;
        let result = result.and_then(|response| answers(purpose, &pending.request, response));
        let result = match result {
            Ok(response) => Ok(response),
            Err(error) => {
                self.books.stats.failed_requests += 1;
                match pending.failed(now, error, &self.config.retry, &mut self.rng) {
                    AfterFailure::RetryAt(_) => {
                        self.books.stats.retries += 1;
                        return;
                    }
                    AfterFailure::GiveUp(error) => Err(error),
                }
            }
        };
        let request = self.pending.take().map(|(p, _)| p.request);
        self.resolve(purpose, request, result);
        self.advance();
    }

    /// Time passed: a retry whose backoff is over may be sent.
    pub fn handle_timeout(&mut self, now: Duration) {
        if let Some((pending, _)) = &mut self.pending
            && pending.due.is_some_and(|due| due <= now)
        {
            pending.due = None;
        }
    }

    /// Whether the target accepted an [`Output::RecordEvent`] (counted, never retried).
    pub fn handle_event_recorded(&mut self, accepted: bool) {
        if accepted {
            self.books.stats.status_events += 1;
        } else {
            self.books.stats.status_event_failures += 1;
        }
    }

    /// How long the reconcile between [`Output::ReconcileStarted`] and
    /// [`Output::ReconcileFinished`] took, writes included, on the caller's clock.
    pub fn handle_reconcile_duration(&mut self, took: Duration) {
        self.books.stats.reconcile_duration.observe(took);
    }

    /// The target watch ended or failed (and is restarted).
    pub fn handle_watch_restarted(&mut self) {
        self.books.stats.watch_restarts += 1;
        self.outputs.push_back(Output::StatusChanged);
    }

    // --- outputs -----------------------------------------------------------------------------

    /// The next request to send, if one is ready. One is out at a time: the next comes after
    /// [`handle_applied`](Self::handle_applied) reported this one.
    pub fn poll_operation(&mut self) -> Option<(OpId, Request)> {
        let (pending, _) = self.pending.as_mut()?;
        if !pending.ready() {
            return None;
        }
        let id = OpId(self.next_id);
        self.next_id += 1;
        pending.sent = Some(id);
        self.books.stats.requests += 1;
        Some((id, pending.request.clone()))
    }

    /// When the request waiting for its retry may be sent ([`handle_timeout`](Self::handle_timeout)).
    pub fn poll_timeout(&self) -> Option<Duration> {
        self.pending.as_ref().and_then(|(pending, _)| pending.due)
    }

    /// The next thing to report.
    pub fn poll_event(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    // --- the machine -------------------------------------------------------------------------

    fn command(&mut self, command: Command) {
        self.commands.push_back(command);
        self.advance();
    }

    /// Starts queued commands until one waits for a request (or none is left).
    fn advance(&mut self) {
        while self.task.is_none() && self.pending.is_none() {
            let Some(command) = self.commands.pop_front() else {
                return;
            };
            self.start(command);
        }
    }

    fn start(&mut self, command: Command) {
        match command {
            Command::Relist => {
                self.task = Some(Task::Relist(None));
                self.send(Request::ListTarget, Purpose::ListTarget);
            }
            Command::Reconcile(work) => self.reconcile(work, &[], Then::Done),
            Command::Event(event) => self.start_event(event),
            Command::SetLink(link) => {
                if link.cluster_name() == self.link.cluster_name() {
                    self.link = link;
                    self.reconcile(Work::Link, &[], Then::Done);
                } else {
                    self.reconcile(Work::RemoveAll, &[], Then::Link(link));
                }
            }
            Command::GatewayAlive(alive) => {
                if self.link.gateway_alive() == alive {
                    self.outputs.push_back(Output::Unchanged);
                } else {
                    self.note_gateway_alive(alive);
                    self.reconcile(Work::Link, &[], Then::Done);
                }
            }
        }
    }

    fn start_event(&mut self, event: TargetEvent) {
        self.books.stats.events += 1;
        let Some(export) = TargetCache::export_of(&event) else {
            self.target.apply(event);
            return self.reconcile(Work::Link, &[], Then::Done);
        };
        // Names the export wanted before the event: findings about them are replaced too.
        let mut wanted = scope::wanted_names(&self.link, &export, &self.target);
        self.target.apply(event);
        wanted.extend(scope::wanted_names(&self.link, &export, &self.target));
        // SPEC §8: one export's translation sees one export, not the link's ClusterIP budget.
        // While one more export's worth (its mirror and every endpoint mirror it may have) fits
        // under the budget whatever the others hold, it cannot overrun it; closer than that, only
        // the whole link decides who gets a ClusterIP.
        let limits = self.link.limits();
        let one_export = limits
            .count(Limit::EndpointMirrorsPerExport)
            .saturating_add(1);
        if self.source.mirror_cluster_ips().saturating_add(one_export)
            > limits.count(Limit::ClusterIpsPerLink)
        {
            self.books.stats.fallbacks += 1;
            return self.reconcile(Work::Link, &[], Then::Done);
        }
        self.freed_names.clear();
        self.reconcile(Work::Export(export), &wanted, Then::FreedNames);
    }

    fn send(&mut self, request: Request, purpose: Purpose) {
        self.pending = Some((Pending::new(request), purpose));
    }

    fn end_relist(&mut self, result: Result<(), DriverError>) {
        self.books.list_error = result.clone().err();
        self.outputs.push_back(Output::StatusChanged);
        if matches!(self.task, Some(Task::Relist(_))) {
            self.task = None;
            self.pending = None;
            self.outputs.push_back(Output::Relisted(result));
        }
    }

    /// Begins a reconcile of `work`; `extra_keys` are keys whose findings it replaces besides
    /// those in its scope.
    fn reconcile(&mut self, work: Work, extra_keys: &[ObjectKey], then: Then) {
        let job = self.begin(work, extra_keys);
        self.proceed(job, then, None);
    }

    fn begin(&mut self, work: Work, extra_keys: &[ObjectKey]) -> Job {
        let scope = work.scope();
        self.outputs.push_back(Output::ReconcileStarted);
        self.books.stats.reconciles += 1;
        if scope == Scope::Link {
            self.books.stats.full_reconciles += 1;
        }
        Job {
            work,
            outcome: ReconcileOutcome {
                scope,
                passes: 0,
                writes: 0,
                complete: false,
                pass_limit_reached: false,
            },
            touched: extra_keys.iter().cloned().collect(),
            failed: BTreeSet::new(),
            diagnostics: Vec::new(),
            exports: None,
            pass: None,
        }
    }

    /// Runs `job` until it waits for a request or ends, then what follows it.
    fn proceed(&mut self, mut job: Job, mut then: Then, mut before: Option<ReconcileOutcome>) {
        loop {
            match self.step(job) {
                Step::Waiting(waiting) => {
                    self.task = Some(Task::Reconcile {
                        job: waiting,
                        then,
                        before,
                    });
                    return;
                }
                Step::Ambiguous => {
                    // Abandoned unfinished (no findings or status of it): the whole link decides.
                    self.books.stats.fallbacks += 1;
                    job = self.begin(Work::Link, &[]);
                    (then, before) = (Then::Done, None);
                }
                Step::Finished(done) => {
                    let outcome = self.finish(done);
                    let outcome = match before {
                        Some(before) => before.then(outcome),
                        None => outcome,
                    };
                    match then {
                        Then::FreedNames
                            if std::mem::take(&mut self.freed_names)
                                .iter()
                                .any(|k| self.books.denied_names.contains(k)) => {}
                        Then::Link(link) => self.link = link,
                        Then::Done | Then::FreedNames => {
                            self.outputs.push_back(Output::Reconciled(outcome));
                            return;
                        }
                    }
                    job = self.begin(Work::Link, &[]);
                    (then, before) = (Then::Done, Some(outcome));
                }
            }
        }
    }

    /// Plans and applies rounds of `job` until a request is out, the plan is empty, everything
    /// left failed, or the pass cap.
    fn step(&mut self, mut job: Job) -> Step {
        loop {
            if let Some(pass) = &mut job.pass {
                if let Some(index) = pass.next_operation(&mut job.failed) {
                    let op = pass.plan.operations[index].clone();
                    self.send(Request::Apply(op), Purpose::Write(index));
                    return Step::Waiting(job);
                }
                job.outcome.writes += pass.writes;
                job.pass = None;
            }
            if job.outcome.passes >= self.config.max_passes {
                job.outcome.pass_limit_reached = true;
                return Step::Finished(job);
            }
            let Ok(Prepared {
                mut translation,
                mut plan,
                keys,
            }) = prepare(&self.link, &job.work, &self.target, &self.source)
            else {
                return Step::Ambiguous;
            };
            if job.outcome.passes == 0 {
                // The failures of this scope's previous reconcile are superseded by this one.
                match &keys {
                    Some(keys) => {
                        job.touched.extend(keys.iter().cloned());
                        let touched = &job.touched;
                        self.books
                            .failures
                            .retain(|(_, key), _| !touched.contains(key));
                    }
                    None => self.books.failures.clear(),
                }
            } else if let Some(keys) = &keys {
                job.touched.extend(keys.iter().cloned());
            }
            job.outcome.passes += 1;
            self.books.stats.passes += 1;
            let nothing_left = plan
                .operations
                .iter()
                .all(|op| job.failed.contains(&op.key()));
            if nothing_left || job.outcome.passes >= self.config.max_passes {
                // SPEC §12: the conditions of the pass that ends the reconcile, its plan included
                // (what is left to apply is what keeps an export from `Mirrored=True`).
                job.exports = Some(export_statuses(&translation, &plan));
            }
            job.diagnostics = std::mem::take(&mut translation.diagnostics);
            job.diagnostics.append(&mut plan.diagnostics);
            if nothing_left {
                job.outcome.complete = job.failed.is_empty();
                return Step::Finished(job);
            }
            job.pass = Some(Pass::new(plan));
        }
    }

    /// The records of a finished reconcile: findings, denied names, export statuses and their
    /// Events, the pass cap.
    fn finish(&mut self, job: Job) -> ReconcileOutcome {
        let Job {
            work,
            outcome,
            touched,
            diagnostics,
            exports,
            ..
        } = job;
        let books = &mut self.books;
        let denials = diagnostics
            .iter()
            .filter(|d| d.reason == Reason::NameConflict)
            .map(|d| d.object.clone());
        match work {
            Work::Link => books.denied_names = denials.collect(),
            Work::RemoveAll => books.denied_names.clear(),
            Work::Export(_) => books.denied_names.extend(denials),
        }
        match work {
            Work::Link => books.diagnostics = diagnostics,
            Work::RemoveAll => books.diagnostics.clear(),
            Work::Export(_) => {
                books.diagnostics.retain(|d| !touched.contains(&d.object));
                books.diagnostics.extend(diagnostics);
            }
        }
        books.diagnostics.sort();
        books.diagnostics.dedup();
        if let Some(exports) = exports {
            let export = match &work {
                Work::Export(key) => Some(key),
                Work::Link | Work::RemoveAll => None,
            };
            let changed = books.replace_exports(export, exports);
            self.status_events(&changed);
            if work == Work::Link {
                self.books.conditions_known = true;
            }
        }
        let books = &mut self.books;
        if outcome.pass_limit_reached {
            books.stats.unconverged += 1;
            books.unconverged.insert(outcome.scope.clone());
        } else if outcome.scope == Scope::Link {
            books.unconverged.clear();
        } else {
            books.unconverged.remove(&outcome.scope);
        }
        self.outputs.push_back(Output::ReconcileFinished);
        self.outputs.push_back(Output::StatusChanged);
        outcome
    }

    /// One Event per export in `changed` (SPEC §12); none for a healthy export until a whole-link
    /// reconcile established every export's conditions.
    fn status_events(&mut self, changed: &[ObjectKey]) {
        for key in changed {
            let (Some(status), Some(service)) =
                (self.books.exports.get(key), self.target.services.get(key))
            else {
                continue;
            };
            let Some(event) = StatusEvent::for_export(&service.metadata, &status.conditions) else {
                continue;
            };
            if !self.books.conditions_known && event.type_ == EventType::Normal {
                continue;
            }
            self.outputs.push_back(Output::RecordEvent(event));
        }
    }

    /// What a request that ended (`request`, for `purpose`) means.
    fn resolve(
        &mut self,
        purpose: Purpose,
        request: Option<Request>,
        result: Result<Response, ApiError>,
    ) {
        match (purpose, result) {
            (Purpose::ListTarget, Ok(Response::TargetListed(target))) => {
                self.task = Some(Task::Relist(Some(target)));
                self.send(Request::ListSource, Purpose::ListSource);
            }
            (Purpose::ListSource, Ok(Response::SourceListed(source))) => {
                if let Some(Task::Relist(Some(target))) = self.task.take() {
                    self.task = Some(Task::Relist(None));
                    self.handle_relist(Duration::ZERO, target, source);
                }
            }
            (Purpose::ListTarget, Err(error)) => {
                self.end_relist(Err(DriverError::ListTarget(error)))
            }
            (Purpose::ListSource, Err(error)) => {
                self.end_relist(Err(DriverError::ListSource(error)))
            }
            (Purpose::Write(index), result) => {
                if let (Some(Request::Apply(op)), Some(Task::Reconcile { job, then, before })) =
                    (request, self.task.take())
                {
                    self.written(job, then, before, index, &op, result);
                }
            }
            (Purpose::Reread, result) => {
                if let (
                    Some(Request::Get { kind, key }),
                    Some(Task::Reconcile { job, then, before }),
                ) = (request, self.task.take())
                {
                    self.reread(job, then, before, kind, key, result);
                }
            }
            // `answers` let no other pairing through.
            (Purpose::ListTarget | Purpose::ListSource, Ok(_)) => {}
        }
    }

    /// Operation `index` of the current round ended with `result`.
    fn written(
        &mut self,
        mut job: Job,
        then: Then,
        before: Option<ReconcileOutcome>,
        index: usize,
        op: &Operation,
        result: Result<Response, ApiError>,
    ) {
        let (kind, key) = (op.kind(), op.key());
        let stats = &mut self.books.stats;
        let wrote = match (op, result) {
            (_, Ok(Response::Stored(stored))) => {
                stats.writes += 1;
                match op {
                    Operation::Create { .. } => stats.creates += 1,
                    _ => stats.updates += 1,
                }
                self.source.store(stored);
                Some(true)
            }
            (_, Ok(_)) => {
                stats.writes += 1;
                stats.deletes += 1;
                self.source.forget(kind, &key);
                self.freed_names.insert(key.clone());
                Some(true)
            }
            // Gone already: what the delete wanted.
            (Operation::Delete { .. }, Err(ApiError::NotFound { .. })) => {
                self.source.forget(kind, &key);
                self.freed_names.insert(key.clone());
                Some(false)
            }
            // Our view is stale (the object vanished, changed, or appeared) or the outcome is
            // unknown: read it and plan again rather than resend the same request.
            (Operation::Update { .. }, Err(ApiError::NotFound { .. }))
            | (_, Err(ApiError::Timeout(_))) => None,
            (_, Err(ApiError::Conflict { .. } | ApiError::AlreadyExists { .. })) => {
                stats.conflicts += 1;
                None
            }
            (_, Err(error)) => {
                self.books.give_up(op.action(), kind, &key, error);
                job.failed.insert(key.clone());
                if let Some(pass) = &mut job.pass {
                    pass.skip(key);
                }
                return self.proceed(job, then, before);
            }
        };
        let Some(wrote) = wrote else {
            self.books.stats.rereads += 1;
            self.send(Request::Get { kind, key }, Purpose::Reread);
            self.task = Some(Task::Reconcile { job, then, before });
            return;
        };
        if let Some(pass) = &mut job.pass {
            pass.succeeded(index, wrote);
        }
        self.books.failures.remove(&(kind, key));
        self.proceed(job, then, before);
    }

    /// The re-read of `kind` `key` ended with `result`: the cache follows it; the rest of this
    /// round leaves the object alone.
    fn reread(
        &mut self,
        mut job: Job,
        then: Then,
        before: Option<ReconcileOutcome>,
        kind: Kind,
        key: ObjectKey,
        result: Result<Response, ApiError>,
    ) {
        match result {
            Ok(Response::Read(Some(object))) if object.kind() == kind && object.key() == key => {
                self.source.store(object);
            }
            Ok(_) => self.source.forget(kind, &key),
            Err(error) => {
                self.books.give_up("get", kind, &key, error);
                job.failed.insert(key.clone());
            }
        }
        if let Some(pass) = &mut job.pass {
            pass.skip(key);
        }
        self.proceed(job, then, before);
    }
}

/// `response` if it answers `request` (made for `purpose`); a failed request otherwise.
fn answers(purpose: Purpose, request: &Request, response: Response) -> Result<Response, ApiError> {
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
