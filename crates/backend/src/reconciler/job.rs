//! One reconcile in progress: rounds of translate → plan → apply until a plan has nothing left to
//! try or the pass cap, then its records — findings, denied names, each export's conditions and
//! the Events they call for. It never sends anything: it says which operation is next
//! ([`Step::Send`]) and is told how it ended ([`Job::written`], [`Job::reread`]).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use svcmirror_core::model::{Kind, ObjectKey};
use svcmirror_core::{Diagnostic, Link, Operation, Reason};

use super::books::Books;
use super::pass::Pass;
use super::prepare::{Prepared, Work, export_statuses, prepare};
use super::request::{Request, Response};
use super::status::{DriverConfig, ExportStatus, Output, ReconcileOutcome, Scope};
use crate::cache::{SourceCache, TargetCache};
use crate::error::ApiError;
use crate::event::{EventType, StatusEvent};

/// The parts of the reconciler a job reads and writes.
pub(crate) struct Parts<'a> {
    pub(crate) link: &'a Link,
    pub(crate) config: &'a DriverConfig,
    pub(crate) target: &'a TargetCache,
    pub(crate) source: &'a mut SourceCache,
    pub(crate) books: &'a mut Books,
    /// Names whose Service or Endpoints the reconcile deleted (or found already gone).
    pub(crate) freed: &'a mut BTreeSet<ObjectKey>,
    pub(crate) outputs: &'a mut VecDeque<Output>,
}

/// What a job does next.
#[allow(
    clippy::large_enum_variant,
    reason = "one at a time, moved straight into the request: boxing would allocate per operation"
)]
pub(crate) enum Step {
    /// Send operation `index` of the current round.
    Send(Operation, usize),
    /// The reconcile is over: [`Job::finish`] it.
    Finished,
    /// One export's ownership is unclear (SPEC §7): only the whole link decides.
    Ambiguous,
}

/// One reconcile in progress.
#[derive(Debug)]
pub(crate) struct Job {
    work: Work,
    pub(crate) outcome: ReconcileOutcome,
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

impl Job {
    /// A reconcile of `work`; `extra_keys` are keys whose findings it replaces besides those in
    /// its scope.
    pub(crate) fn new(work: Work, extra_keys: &[ObjectKey]) -> Self {
        Self {
            outcome: ReconcileOutcome {
                scope: work.scope(),
                passes: 0,
                writes: 0,
                complete: false,
                pass_limit_reached: false,
            },
            work,
            touched: extra_keys.iter().cloned().collect(),
            failed: BTreeSet::new(),
            diagnostics: Vec::new(),
            exports: None,
            pass: None,
        }
    }

    /// Plans and walks rounds until an operation is to be sent, the plan is empty, everything
    /// left failed, or the pass cap.
    pub(crate) fn step(&mut self, parts: &mut Parts<'_>) -> Step {
        loop {
            if let Some(pass) = &mut self.pass {
                if let Some(index) = pass.next_operation(&mut self.failed) {
                    return Step::Send(pass.plan.operations[index].clone(), index);
                }
                self.outcome.writes += pass.writes;
                self.pass = None;
            }
            if self.outcome.passes >= parts.config.max_passes {
                self.outcome.pass_limit_reached = true;
                return Step::Finished;
            }
            let Ok(Prepared {
                mut translation,
                mut plan,
                keys,
            }) = prepare(parts.link, &self.work, parts.target, parts.source)
            else {
                return Step::Ambiguous;
            };
            if self.outcome.passes == 0 {
                // The failures of this scope's previous reconcile are superseded by this one.
                match &keys {
                    Some(keys) => {
                        self.touched.extend(keys.iter().cloned());
                        let touched = &self.touched;
                        parts
                            .books
                            .failures
                            .retain(|(_, key), _| !touched.contains(key));
                    }
                    None => parts.books.failures.clear(),
                }
            } else if let Some(keys) = &keys {
                self.touched.extend(keys.iter().cloned());
            }
            self.outcome.passes += 1;
            parts.books.stats.passes += 1;
            let nothing_left = plan
                .operations
                .iter()
                .all(|op| self.failed.contains(&op.key()));
            if nothing_left || self.outcome.passes >= parts.config.max_passes {
                // SPEC §12: the conditions of the pass that ends the reconcile, its plan included
                // (what is left to apply is what keeps an export from `Mirrored=True`).
                self.exports = Some(export_statuses(&translation, &plan));
            }
            self.diagnostics = std::mem::take(&mut translation.diagnostics);
            self.diagnostics.append(&mut plan.diagnostics);
            if nothing_left {
                self.outcome.complete = self.failed.is_empty();
                return Step::Finished;
            }
            self.pass = Some(Pass::new(plan));
        }
    }

    /// Operation `index` of the current round, `op`, ended with `result`. Returns the re-read to
    /// send when our view is stale or the outcome unknown.
    pub(crate) fn written(
        &mut self,
        parts: &mut Parts<'_>,
        index: usize,
        op: &Operation,
        result: Result<Response, ApiError>,
    ) -> Option<Request> {
        let (kind, key) = (op.kind(), op.key());
        let stats = &mut parts.books.stats;
        let wrote = match (op, result) {
            (_, Ok(Response::Stored(stored))) => {
                stats.writes += 1;
                match op {
                    Operation::Create { .. } => stats.creates += 1,
                    _ => stats.updates += 1,
                }
                parts.source.upsert(stored);
                true
            }
            (_, Ok(_)) => {
                stats.writes += 1;
                stats.deletes += 1;
                parts.source.remove(kind, &key);
                parts.freed.insert(key.clone());
                true
            }
            // Gone already: what the delete wanted.
            (Operation::Delete { .. }, Err(ApiError::NotFound { .. })) => {
                parts.source.remove(kind, &key);
                parts.freed.insert(key.clone());
                false
            }
            // Our view is stale (the object vanished, changed, or appeared) or the outcome is
            // unknown: read it and plan again rather than resend the same request.
            (Operation::Update { .. }, Err(ApiError::NotFound { .. }))
            | (_, Err(ApiError::Timeout(_))) => {
                stats.rereads += 1;
                return Some(Request::Get { kind, key });
            }
            (_, Err(ApiError::Conflict { .. } | ApiError::AlreadyExists { .. })) => {
                stats.conflicts += 1;
                stats.rereads += 1;
                return Some(Request::Get { kind, key });
            }
            (_, Err(error)) => {
                parts.books.give_up(op.action(), kind, &key, error);
                self.failed.insert(key.clone());
                if let Some(pass) = &mut self.pass {
                    pass.skip(key);
                }
                return None;
            }
        };
        if let Some(pass) = &mut self.pass {
            pass.succeeded(index, wrote);
        }
        parts.books.failures.remove(&(kind, key));
        None
    }

    /// The re-read of `kind` `key` ended with `result`: the cache follows it; the rest of this
    /// round leaves the object alone.
    pub(crate) fn reread(
        &mut self,
        parts: &mut Parts<'_>,
        kind: Kind,
        key: ObjectKey,
        result: Result<Response, ApiError>,
    ) {
        match result {
            Ok(Response::Read(Some(object))) if object.kind() == kind && object.key() == key => {
                parts.source.upsert(object);
            }
            Ok(_) => parts.source.remove(kind, &key),
            Err(error) => {
                parts.books.give_up("get", kind, &key, error);
                self.failed.insert(key.clone());
            }
        }
        if let Some(pass) = &mut self.pass {
            pass.skip(key);
        }
    }

    /// The records of the finished reconcile: findings, denied names, export statuses and their
    /// Events, the pass cap.
    pub(crate) fn finish(self, parts: &mut Parts<'_>) -> ReconcileOutcome {
        let Self {
            work,
            outcome,
            touched,
            diagnostics,
            exports,
            ..
        } = self;
        let books = &mut *parts.books;
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
            status_events(parts, &changed);
            if work == Work::Link {
                parts.books.conditions_known = true;
            }
        }
        let books = &mut *parts.books;
        if outcome.pass_limit_reached {
            books.stats.unconverged += 1;
            books.unconverged.insert(outcome.scope.clone());
        } else if outcome.scope == Scope::Link {
            books.unconverged.clear();
        } else {
            books.unconverged.remove(&outcome.scope);
        }
        parts.outputs.push_back(Output::ReconcileFinished);
        parts.outputs.push_back(Output::StatusChanged);
        outcome
    }
}

/// One Event per export in `changed` (SPEC §12); none for a healthy export until a whole-link
/// reconcile established every export's conditions.
fn status_events(parts: &mut Parts<'_>, changed: &[ObjectKey]) {
    for key in changed {
        let (Some(status), Some(service)) =
            (parts.books.exports.get(key), parts.target.service(key))
        else {
            continue;
        };
        let Some(event) = StatusEvent::for_export(&service.metadata, &status.conditions) else {
            continue;
        };
        if !parts.books.conditions_known && event.type_ == EventType::Normal {
            continue;
        }
        parts.outputs.push_back(Output::RecordEvent(event));
    }
}
