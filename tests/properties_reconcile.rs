//! Properties of the whole reconcile (translate → plan → apply on the fake) from *any* observed
//! source state: foreign objects (SPEC §11 `foreign-object-same-name`), other links' objects
//! (`other-link-untouched`), our own stale mirrors of the other type (`clusterip-to-headless`,
//! `headless-to-clusterip`) and orphans (`unexport`, `scale-down`), in both namespaces
//! (`other-namespace-untouched`).
//!
//! - convergence in at most two passes (SPEC §6.6, ARCHITECTURE.md);
//! - no orphan survives a full reconcile (SPEC §7 "Orphans");
//! - type flips delete before they create (SPEC §7 "Type flip");
//! - idempotence: once converged, nothing is planned, also after a restart
//!   (`restart-with-mirrors-in-place`);
//! - ownership: no update or delete of an object without this link's labels, no create on a
//!   foreign name, foreign objects unchanged (SPEC §7 "Ownership");
//! - sticky names: no plan changes which export a live mirror serves (SPEC §7, issue 14).
//! - an incremental reconcile (the driver, one export per event) equals a whole-link one.
//!
//! The invariants are `svcmirror-testkit`'s, shared with the fuzz targets (`fuzz/`).

mod common;

use std::collections::BTreeSet;

use common::strategies::{Observed, flipped, observed_state, target};
use common::*;
use proptest::prelude::*;
use svcmirror::labels::is_owned_by;
use svcmirror::model::Kind;
use svcmirror::{
    DeleteReason, Link, ObjectKey, Operation, SourceState, TargetState, plan, translate,
};
use svcmirror_fake::FakeCluster;
use svcmirror_testkit::{
    CONTRACT_PASSES, Checks, Finding, Owner, Pass, Step, converge_checking, foreign_objects,
    foreign_unchanged, incremental_equals_whole_link, no_orphan,
};

/// A fake source holding `observed` (what the API server refuses is simply not there).
fn source_with(observed: &[Observed]) -> FakeCluster {
    let mut f = fake();
    for o in observed {
        for object in o.objects() {
            let _ = f.create(object);
        }
    }
    f
}

/// Every check of the test-kit (F8, a live mirror repurposed, included: SPEC §7 sticky names).
fn checks() -> Checks {
    Checks::all()
}

/// translate → plan → apply until the plan is empty (the core's `drive`), with every invariant
/// of `svcmirror_testkit::converge` checked on each pass, within the contract's bound.
fn reconcile(
    link: &Link,
    target: &TargetState,
    f: &mut FakeCluster,
) -> Result<Vec<Pass>, TestCaseError> {
    converge_checking(link, target, f, CONTRACT_PASSES, &checks())
        .map(|c| c.steps)
        .map_err(fail)
}

/// A testkit finding as a failed proptest case.
fn fail(f: Finding) -> TestCaseError {
    TestCaseError::fail(f.to_string())
}

fn owned_in(source: &SourceState, link: &Link, kind: Kind, key: &ObjectKey) -> bool {
    match kind {
        Kind::Service => source
            .service(key)
            .is_some_and(|s| is_owned_by(&s.metadata, link)),
        Kind::Endpoints => source
            .endpoints_at(key)
            .is_some_and(|e| is_owned_by(&e.metadata, link)),
        // Namespaces are cluster-scoped; kinds added later are not checked here.
        _ => false,
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Two passes at most from any start state, then nothing to do, also for a restarted
    /// controller reading the same objects (`restart-with-mirrors-in-place`).
    #[test]
    fn converges_in_two_passes_from_any_observed_state(
        target in target(),
        observed in observed_state(),
    ) {
        let link = link();
        let mut f = source_with(&observed);
        converge_checking(&link, &target, &mut f, CONTRACT_PASSES, &checks()).map_err(fail)?;
        let again = f.state();
        let t = translate(&link, &target, &again);
        prop_assert!(plan(&link, &t.desired, &again).is_empty(), "idempotence");
        prop_assert_eq!(reconcile(&link, &target, &mut f)?.len(), 0, "restart writes nothing");
    }

    /// After a full reconcile, every object carrying our labels is desired: no orphan survives.
    #[test]
    fn no_orphan_survives_a_full_reconcile(target in target(), observed in observed_state()) {
        let link = link();
        let mut f = source_with(&observed);
        reconcile(&link, &target, &mut f)?;
        let source = f.state();
        let desired = translate(&link, &target, &source).desired;
        no_orphan(Owner::Link(&link), &desired, &source).map_err(fail)?;
    }

    /// Flipping every export's type (ClusterIP ↔ headless) after convergence: each mirror whose
    /// headlessness changes is deleted (reason TypeChange) before it is re-created, Endpoints
    /// before their Service, and no create ever targets a name that still exists.
    #[test]
    fn type_flips_delete_before_create(target in target(), observed in observed_state()) {
        let link = link();
        let mut f = source_with(&observed);
        reconcile(&link, &target, &mut f)?;
        let before = f.state();
        let after = flipped(&target);
        let passes = reconcile(&link, &after, &mut f)?;
        for pass in &passes {
            let mut present: BTreeSet<(Kind, ObjectKey)> = pass.source.objects().iter().map(|o| (o.kind(), o.key())).collect();
            for (i, op) in pass.plan.operations.iter().enumerate() {
                let id = (op.kind(), op.key());
                match op {
                    Operation::Create { .. } => prop_assert!(present.insert(id.clone()), "create of existing {:?} at {}", id, i),
                    Operation::Delete { kind: Kind::Service, key, reason: DeleteReason::TypeChange, .. } => {
                        // Its Endpoints (if any, and ours) were deleted just before.
                        if owned_in(&pass.source, &link, Kind::Endpoints, key) {
                            prop_assert!(!present.contains(&(Kind::Endpoints, key.clone())), "Service {} deleted before its Endpoints", key);
                        }
                        present.remove(&id);
                    }
                    Operation::Delete { .. } => { present.remove(&id); }
                    _ => {}
                }
            }
        }
        // Every owned mirror Service whose type flipped went through a TypeChange delete.
        let first = passes.first().map(|p| &p.plan.operations[..]).unwrap_or_default();
        let desired = translate(&link, &after, &f.state()).desired;
        for (key, want) in &desired.services {
            if let Some(had) = before.service(key).filter(|s| is_owned_by(&s.metadata, &link))
                && had.is_headless() != want.is_headless()
            {
                prop_assert!(first.iter().any(|op| matches!(op,
                    Operation::Delete { kind: Kind::Service, key: k, reason: DeleteReason::TypeChange, .. } if k == key)),
                    "{} changed type without a TypeChange delete", key);
            }
        }
    }

    /// Nothing without our labels is updated or deleted, nothing is created on a name a foreign
    /// object holds, and every foreign object is exactly as it was.
    #[test]
    fn ownership_from_any_observed_state(target in target(), observed in observed_state()) {
        // `reconcile` checks every pass with `nothing_foreign_touched` (updates and deletes
        // only of objects with our labels, no create on a foreign name); here the end state too.
        let link = link();
        let owner = Owner::Link(&link);
        let mut f = source_with(&observed);
        let foreign_before = foreign_objects(owner, &f.state());
        reconcile(&link, &target, &mut f)?;
        foreign_unchanged(&foreign_before, &foreign_objects(owner, &f.state())).map_err(fail)?;
    }
}

/// The driver steps that take the target from `a` to `b`: every Service and Endpoints of `a`
/// applied one by one, then those of `b`, then deletes of what `b` lacks, then a resync.
fn steps(a: &TargetState, b: &TargetState) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    for t in [a, b] {
        steps.extend(t.services.iter().cloned().map(Step::ApplyService));
        steps.extend(t.endpoints.iter().cloned().map(Step::ApplyEndpoints));
    }
    for s in &a.services {
        if !b
            .services
            .iter()
            .any(|x| x.metadata.key() == s.metadata.key())
        {
            steps.push(Step::DeleteService(s.metadata.key()));
        }
    }
    for e in &a.endpoints {
        if !b
            .endpoints
            .iter()
            .any(|x| x.metadata.key() == e.metadata.key())
        {
            steps.push(Step::DeleteEndpoints(e.metadata.key()));
        }
    }
    steps.push(Step::Resync);
    steps
}

/// A target fake with the namespaces the strategies use.
fn target_fake() -> FakeCluster {
    fake()
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 48,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// ARCHITECTURE.md "one export per event; whole link on resync": the driver on fakes,
    /// handed the changes from `a` to `b` one event at a time from any observed source, leaves
    /// the source after every event as a whole-link reconcile from the same state would, and its
    /// writes touch nothing foreign.
    #[test]
    fn an_incremental_reconcile_equals_a_whole_link_one(
        a in target(),
        b in target(),
        observed in observed_state(),
    ) {
        let link = link();
        incremental_equals_whole_link(&link, source_with(&observed), target_fake(), &steps(&a, &b), &checks())
            .map_err(fail)?;
    }

    /// SPEC §7 sticky names (issue 14 "a live mirror can be taken over"): mirroring one target,
    /// then another — exports appearing, going, changing type, hostnames moving between exports
    /// (`nginx-set-0` is both an export and a hostname) — no pass updates a live mirror to serve
    /// another export (the test-kit's `MirrorRepurposed` check, run on every pass by
    /// `reconcile`), and the change still converges in two passes.
    #[test]
    fn no_plan_repurposes_a_live_mirror(
        before in target(),
        after in target(),
        observed in observed_state(),
    ) {
        let link = link();
        let mut f = source_with(&observed);
        reconcile(&link, &before, &mut f)?;
        let passes = reconcile(&link, &after, &mut f)?;
        prop_assert!(passes.len() <= 2, "{} passes", passes.len());
    }
}
