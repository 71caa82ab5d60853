//! [`drive`]: the one translate → plan → apply loop, and the two-pass convergence contract.
//!
//! # Why it lives in the core
//! The loop decides when mirroring is done, what a refusal means and how many passes are
//! allowed: mirroring decisions, so they belong beside [`translate()`] and [`plan()`] (as
//! quinn-proto keeps its `Pair::drive` beside the state machine). The core still does no I/O:
//! [`drive`] is generic over [`Apply`], a source that answers every operation at once, which the
//! caller implements — the in-memory fake (`svcmirror-fake`, which depends on this crate, never
//! the other way round) or a test's wrapper of it. No clock is read here: a caller timing the phases is told where each begins
//! ([`Apply::phase`]).
//!
//! # The convergence contract (SPEC §6.6)
//! A *pass* lists the source, translates, plans and applies the plan. Against a source that
//! answers every operation at once (it succeeds, or it is [`Refusal::Refused`] for good), from
//! any start state — empty, converged, partly written, holding foreign objects or mirrors of
//! exports that went or changed type:
//!
//! 1. **Create, update and delete the mirrors**; the source allocates the new endpoint mirrors'
//!    ClusterIPs.
//! 2. **Point the root mirrors' Endpoints at the allocated IPs** (SPEC §6.6: the IPs are only
//!    known once the source allocated them, so headless translation is two-phase), and do what
//!    the first pass's deletes made possible (a freed sticky name, SPEC §7).
//!
//! **Invariant: at most [`MAX_PASSES`] (two) passes apply something; the next one plans
//! nothing** (or only operations on objects refused for good, which are never sent again). A
//! plan still not empty after that is a bug, reported as [`DriveError::NotConverged`] with a
//! summary of every plan applied, never an endless loop. Tested on every SPEC §11 case and on
//! generated worlds and start states (root `tests/drive.rs`, `tests/properties_reconcile.rs`).

use std::collections::BTreeMap;

use crate::diagnostics::Diagnostic;
use crate::federate::federate;
use crate::federation_writer::{FederationWriter, federate_as};
use crate::link::{LabelSelector, Link};
use crate::model::{Kind, ObjectKey};
use crate::plan::{Operation, Plan, plan, plan_federated};
use crate::state::{Desired, SourceState, TargetState};
use crate::translate::{Translation, translate};

/// Passes that may apply something before the plan must be empty: create, then point the roots
/// at the allocated IPs (the contract in the module doc).
pub const MAX_PASSES: usize = 2;

/// A source cluster that answers each operation at once: what [`drive`] applies plans to.
pub trait Apply {
    /// An answer that ends the drive (the source is unusable, not just this object refused).
    type Error;

    /// Everything the source holds now.
    fn list(&mut self) -> SourceState;

    /// Performs one operation, taking its object.
    ///
    /// # Errors
    /// [`Refusal::Refused`] when the source refuses this object for good (invalid, too large, out
    /// of addresses): it becomes that object's diagnostic and is not sent again (SPEC §8, one bad
    /// export never fails the link); [`Refusal::Failed`] ends the drive.
    fn apply(&mut self, operation: Operation) -> Result<(), Refusal<Self::Error>>;

    /// Called with every translation before it is planned, with the source it was made from: a
    /// caller may check or keep it (the test-kit checks every pass's desired objects and keeps the
    /// exports for its sticky-name check).
    fn translated(&mut self, source: &SourceState, translation: &Translation) {
        let _ = (source, translation);
    }

    /// Called with every plan before it is applied, with the pass's translation diagnostics: a
    /// caller may add operations (the CLI adds the link's SPEC §9 federated Services), or empty
    /// the plan to end the drive there (the test-kit does at its first finding).
    fn planned(
        &mut self,
        source: &SourceState,
        diagnostics: &mut Vec<Diagnostic>,
        plan: &mut Plan,
    ) {
        let _ = (source, diagnostics, plan);
    }

    /// Called when `phase` begins (the previous one ended): for a caller that times them.
    fn phase(&mut self, phase: Phase) {
        let _ = phase;
    }
}

/// Why [`Apply::apply`] did not perform an operation.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal<E> {
    /// Refused for good: the object's diagnostic (`Severity::Error`).
    Refused(Diagnostic),
    /// The source failed: the drive stops with [`DriveError::Failed`].
    Failed(E),
}

/// The steps of a pass, in order, as announced to [`Apply::phase`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Phase {
    /// [`Apply::list`].
    List,
    /// [`translate()`].
    Translate,
    /// [`plan()`] and [`Apply::planned`].
    Plan,
    /// Applying the plan.
    Apply,
    /// The drive returns.
    Done,
}

/// A converged drive: the plan is empty (but for refused objects).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Driven {
    /// Passes that applied something (at most [`MAX_PASSES`]).
    pub passes: usize,
    /// The last pass's translation and plan diagnostics, in that order.
    pub diagnostics: Vec<Diagnostic>,
    /// Objects the source refused for good, with their diagnostic.
    pub refused: BTreeMap<ObjectKey, Diagnostic>,
}

/// One plan [`drive`] saw: enough to tell what did not converge without keeping the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PlanSummary {
    /// How many operations it had.
    pub operations: usize,
    /// Its first operation.
    pub first: Option<Operation>,
}

/// Why [`drive`] stopped before the plan was empty.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DriveError<E> {
    /// The contract was broken: the plan was not empty after [`MAX_PASSES`] applying passes.
    #[error(
        "mirroring did not converge in {MAX_PASSES} passes; the last plan had {}",
        last_plan(.plans)
    )]
    NotConverged {
        /// Every plan applied, in order.
        plans: Vec<PlanSummary>,
    },
    /// The source failed an operation ([`Refusal::Failed`]).
    #[error("the source failed {action} {kind} {key}")]
    Failed {
        /// `create`, `update` or `delete`.
        action: &'static str,
        /// The operation's kind.
        kind: Kind,
        /// The operation's key.
        key: ObjectKey,
        /// The source's answer.
        #[source]
        error: E,
    },
}

fn last_plan(plans: &[PlanSummary]) -> String {
    plans.last().map_or_else(String::new, |p| {
        format!("{} operations, the first {:?}", p.operations, p.first)
    })
}

/// translate → plan → apply against `source` until the plan is empty: the only such loop. An
/// operation is sent only once every operation it depends on ([`Plan::prerequisites`]) succeeded
/// in the same pass; an object refused for good is not sent again, and neither is what depends
/// on it. See the module doc for the bound.
///
/// Memory: each pass holds as few copies of the mirrors as it can; the listed source and the
/// translation are dropped once the plan is made and the plan's objects are moved into the
/// source.
///
/// # Errors
/// [`DriveError::NotConverged`] beyond [`MAX_PASSES`]; [`DriveError::Failed`] when the source
/// fails an operation.
pub fn drive<A: Apply>(
    link: &Link,
    target: &TargetState,
    source: &mut A,
) -> Result<Driven, DriveError<A::Error>> {
    drive_with(
        source,
        |listed| translate(link, target, listed),
        |desired, listed| plan(link, desired, listed),
    )
}

/// [`drive`] for the federated Services of SPEC §9: [`federate()`] every link's target (and the
/// local members) → [`plan_federated`] → apply, under the same contract and bound (a federated
/// Service needs no allocated IP, so one applying pass is the rule).
///
/// # Errors
/// As [`drive`].
pub fn drive_federated<A: Apply>(
    remotes: &[(&Link, &TargetState)],
    local: Option<(&LabelSelector, &TargetState)>,
    source: &mut A,
) -> Result<Driven, DriveError<A::Error>> {
    drive_with(
        source,
        |listed| federate(remotes, local, listed),
        plan_federated,
    )
}

/// [`drive_federated`] for one writer of the federated Services ([`federate_as`]: a link, or the
/// source's own members), as each controller of a link runs it (SPEC §9).
///
/// # Errors
/// As [`drive`].
pub fn drive_federated_as<A: Apply>(
    writer: FederationWriter<'_>,
    members: &TargetState,
    source: &mut A,
) -> Result<Driven, DriveError<A::Error>> {
    drive_with(
        source,
        |listed| federate_as(writer, members, listed),
        plan_federated,
    )
}

/// The loop itself, for any translation ([`drive`], [`drive_federated`], [`drive_federated_as`]).
fn drive_with<A: Apply>(
    source: &mut A,
    translator: impl Fn(&SourceState) -> Translation,
    planner: impl Fn(&Desired, &SourceState) -> Plan,
) -> Result<Driven, DriveError<A::Error>> {
    let mut refused: BTreeMap<ObjectKey, Diagnostic> = BTreeMap::new();
    let mut plans: Vec<PlanSummary> = Vec::new();
    // MAX_PASSES applying passes, then the one that must plan nothing.
    for _ in 0..=MAX_PASSES {
        source.phase(Phase::List);
        let listed = source.list();
        source.phase(Phase::Translate);
        let mut translation = translator(&listed);
        source.translated(&listed, &translation);
        source.phase(Phase::Plan);
        let mut plan = planner(&translation.desired, &listed);
        source.planned(&listed, &mut translation.diagnostics, &mut plan);
        drop(listed);
        drop(translation.desired);
        if plan
            .operations
            .iter()
            .all(|op| refused.contains_key(&op.key()))
        {
            source.phase(Phase::Done);
            let mut diagnostics = translation.diagnostics;
            diagnostics.extend(plan.diagnostics);
            return Ok(Driven {
                passes: plans.len(),
                diagnostics,
                refused,
            });
        }
        if plans.len() == MAX_PASSES {
            break;
        }
        source.phase(Phase::Apply);
        plans.push(PlanSummary {
            operations: plan.operations.len(),
            first: plan.operations.first().cloned(),
        });
        let mut prerequisites: Vec<Vec<usize>> = vec![Vec::new(); plan.operations.len()];
        for d in std::mem::take(&mut plan.dependencies) {
            prerequisites[d.operation].push(d.on);
        }
        let mut done = vec![false; plan.operations.len()];
        for (i, op) in plan.operations.into_iter().enumerate() {
            let (action, kind, key) = (op.action(), op.kind(), op.key());
            if refused.contains_key(&key) || prerequisites[i].iter().any(|&on| !done[on]) {
                continue;
            }
            match source.apply(op) {
                Ok(()) => done[i] = true,
                Err(Refusal::Refused(diagnostic)) => {
                    refused.insert(key, diagnostic);
                }
                Err(Refusal::Failed(error)) => {
                    source.phase(Phase::Done);
                    return Err(DriveError::Failed {
                        action,
                        kind,
                        key,
                        error,
                    });
                }
            }
        }
    }
    source.phase(Phase::Done);
    Err(DriveError::NotConverged { plans })
}
