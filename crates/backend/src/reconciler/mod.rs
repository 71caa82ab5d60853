//! The sans-IO reconciler: every decision of the reconcile loop, as a synchronous state machine in
//! the style of quinn-proto's `Connection`. No async, no I/O, no clock: time is a `now` the caller
//! passes in (a [`Duration`] since an origin of its choosing, never going back).
//!
//! The contract and the canonical loop are on [`Reconciler`].

mod books;
mod federation;
mod job;
mod pass;
mod prepare;
mod request;
mod status;
mod watch;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use svcmirror_core::model::ObjectKey;
use svcmirror_core::{Diagnostic, Limit, Link, SourceState, SourceStore, TargetState};

pub use request::{OpId, Request, Response};
pub use status::{
    DEFAULT_MAX_PASSES, DriverConfig, DriverStats, DriverStatus, ExportStatus, Failure, Output,
    RETRY_PASSES, ReconcileOutcome, Scope,
};
pub(crate) use watch::WatchHealth;

use self::books::Books;
use self::job::{Job, Parts, Step};
use self::prepare::Work;
use self::request::{AfterFailure, Pending, Purpose, answers};
use crate::cache::{SourceCache, TargetCache};
use crate::clock::SplitMix64;
use crate::cluster::TargetEvent;
use crate::error::{ApiError, DriverError};
use crate::scope;

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
#[allow(clippy::large_enum_variant, reason = "one task exists at a time")]
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
    Link(Box<Link>),
}

/// The reconcile state machine of one link, in the style of quinn-proto's `Connection`: no async,
/// no I/O, no clock — time is a `now` the caller passes in (a [`Duration`] since an origin of its
/// choosing, never going back), jitter a generator seeded by [`DriverConfig::seed`].
///
/// Its methods come in four groups:
/// - **getters**: [`link`](Reconciler::link), [`stats`](Reconciler::stats),
///   [`status`](Reconciler::status), [`exports`](Reconciler::exports), …;
/// - **commands**, queued and run one after the other: [`relist`](Reconciler::relist),
///   [`full_reconcile`](Reconciler::full_reconcile), [`remove_all`](Reconciler::remove_all),
///   [`set_link`](Reconciler::set_link), [`set_gateway_alive`](Reconciler::set_gateway_alive);
/// - **inputs** `handle_*(now, …)`: a target event, the lists of both clusters, the result of each
///   request it handed out, a timeout, whether an Event was recorded;
/// - **outputs** `poll_*()`: the next request to send ([`poll_operation`](Reconciler::poll_operation)),
///   when to wake it up ([`poll_timeout`](Reconciler::poll_timeout)), and what to report
///   ([`poll_event`](Reconciler::poll_event): Events to record, status changes, what a command did).
///
/// **The caller's contract** (the canonical loop; `Driver` is this loop over the backend traits):
/// 1. issue a command or feed an input;
/// 2. drain [`poll_event`](Reconciler::poll_event) (record each Event and report the result with
///    [`handle_event_recorded`](Reconciler::handle_event_recorded); publish on
///    [`Output::StatusChanged`]);
/// 3. send what [`poll_operation`](Reconciler::poll_operation) returns and hand its result to
///    [`handle_applied`](Reconciler::handle_applied) — one request is out at a time, in the plan's
///    order, so an operation whose prerequisite failed is never handed out;
/// 4. when it returns nothing, wait until [`poll_timeout`](Reconciler::poll_timeout) and call
///    [`handle_timeout`](Reconciler::handle_timeout); when that is `None` too, the command is done
///    (its last output was [`Output::Reconciled`], [`Output::Relisted`] or [`Output::Unchanged`]).
///
/// **Convergence**: a reconcile plans, applies and plans again until a plan has nothing left to
/// try, at most [`DriverConfig::max_passes`] rounds; against a source that answers every request,
/// the core's two-pass contract (`svcmirror_core::drive`) bounds it to three rounds, the last one
/// empty.
///
/// ```
/// use std::time::Duration;
/// use svcmirror_backend::{DriverConfig, Output, Reconciler, Request, Response};
/// use svcmirror_core::{Link, SourceState, TargetState};
///
/// let link = Link::builder("west")
///     .gateway_address("172.18.0.4".parse().unwrap())
///     .build()
///     .unwrap();
/// let mut r = Reconciler::new(link, DriverConfig::default());
/// let now = Duration::ZERO;
/// r.relist();
/// while let Some((id, request)) = r.poll_operation() {
///     // A real caller sends the request; here both clusters are empty.
///     let answer = match request {
///         Request::ListTarget => Response::TargetListed(TargetState::default()),
///         Request::ListSource => Response::SourceListed(SourceState::default()),
///         other => unreachable!("{other:?}"),
///     };
///     r.handle_applied(now, id, Ok(answer));
/// }
/// assert_eq!(r.poll_timeout(), None);
/// let outputs: Vec<Output> = std::iter::from_fn(|| r.poll_event()).collect();
/// assert_eq!(outputs.last(), Some(&Output::Relisted(Ok(()))));
/// assert!(r.is_idle());
/// ```
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

    /// The same reconciler with `config` (its seed restarts the jitter generator); caches and
    /// records are kept.
    #[must_use]
    pub fn with_config(mut self, config: DriverConfig) -> Self {
        self.rng = SplitMix64::new(config.seed);
        self.config = config;
        self
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

    /// What the reconciler believes the source holds (as last listed, read or written): its
    /// store of records (issue 13 item 3), for tests and tools; a reconcile reads it in place.
    pub fn cached_source(&self) -> &SourceStore {
        &self.source
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
                    self.reconcile(Work::RemoveAll, &[], Then::Link(Box::new(link)));
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
        let Some(export) = event.export() else {
            event.apply_to(&mut self.target);
            return self.reconcile(Work::Link, &[], Then::Done);
        };
        // Names the export wanted before the event: findings about them are replaced too.
        let mut wanted = scope::wanted_names(&self.link, &export, &self.target);
        event.apply_to(&mut self.target);
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
        self.outputs.push_back(Output::ReconcileStarted);
        self.books.stats.reconciles += 1;
        if work.scope() == Scope::Link {
            self.books.stats.full_reconciles += 1;
        }
        Job::new(work, extra_keys)
    }

    /// The parts of the reconciler a job works on.
    fn parts(&mut self) -> Parts<'_> {
        Parts {
            link: &self.link,
            config: &self.config,
            target: &self.target,
            source: &mut self.source,
            books: &mut self.books,
            freed: &mut self.freed_names,
            outputs: &mut self.outputs,
        }
    }

    /// Runs `job` until it sends a request or ends, then what follows it in its command.
    fn proceed(&mut self, mut job: Job, mut then: Then, mut before: Option<ReconcileOutcome>) {
        loop {
            match job.step(&mut self.parts()) {
                Step::Send(op, index) => {
                    self.send(Request::Apply(op), Purpose::Write(index));
                    self.task = Some(Task::Reconcile { job, then, before });
                    return;
                }
                Step::Ambiguous => {
                    // Abandoned unfinished (no findings or status of it): the whole link decides.
                    self.books.stats.fallbacks += 1;
                    job = self.begin(Work::Link, &[]);
                    (then, before) = (Then::Done, None);
                }
                Step::Finished => {
                    let outcome = job.finish(&mut self.parts());
                    let outcome = match before {
                        Some(before) => before.then(outcome),
                        None => outcome,
                    };
                    match then {
                        Then::FreedNames
                            if std::mem::take(&mut self.freed_names)
                                .iter()
                                .any(|k| self.books.denied_names.contains(k)) => {}
                        Then::Link(link) => self.link = *link,
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
                if let (
                    Some(Request::Apply(op)),
                    Some(Task::Reconcile {
                        mut job,
                        then,
                        before,
                    }),
                ) = (request, self.task.take())
                {
                    match job.written(&mut self.parts(), index, &op, result) {
                        Some(reread) => {
                            self.send(reread, Purpose::Reread);
                            self.task = Some(Task::Reconcile { job, then, before });
                        }
                        None => self.proceed(job, then, before),
                    }
                }
            }
            (Purpose::Reread, result) => {
                if let (
                    Some(Request::Get { kind, key }),
                    Some(Task::Reconcile {
                        mut job,
                        then,
                        before,
                    }),
                ) = (request, self.task.take())
                {
                    job.reread(&mut self.parts(), kind, key, result);
                    self.proceed(job, then, before);
                }
            }
            // `answers` let no other pairing through.
            (Purpose::ListTarget | Purpose::ListSource, Ok(_)) => {}
        }
    }
}
