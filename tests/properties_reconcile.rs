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
//! - sticky names: no plan changes which export a live mirror serves (SPEC §7, issue 14; the
//!   check is `svcmirror_core::testkit`'s, shared with the fuzz targets).

mod common;

use std::collections::BTreeSet;

use common::strategies::{Observed, flipped, observed_state, target};
use common::*;
use proptest::prelude::*;
use svcmirror::labels::is_owned_by;
use svcmirror::model::{Kind, Object};
use svcmirror::{
    DeleteReason, Link, ObjectKey, Operation, Plan, SourceState, TargetState, plan, translate,
};
use svcmirror_core::testkit::repurposed_mirrors;
use svcmirror_fake::FakeCluster;

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

/// One reconcile pass as the driver runs it: what the source held, and the plan made from it.
struct Pass {
    source: SourceState,
    plan: Plan,
}

/// [`svcmirror::drive()`] on the fake ([`common::record`]), keeping every applying pass.
fn reconcile(link: &Link, target: &TargetState, f: &mut FakeCluster) -> Vec<Pass> {
    record(link, target, f)
        .1
        .into_iter()
        .map(|(source, plan)| Pass { source, plan })
        .collect()
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

fn foreign(source: &SourceState, link: &Link) -> Vec<Object> {
    source
        .objects()
        .into_iter()
        .filter(|o| match o {
            Object::Service(s) => !is_owned_by(&s.metadata, link),
            Object::Endpoints(e) => !is_owned_by(&e.metadata, link),
            _ => false,
        })
        .collect()
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
        let passes = reconcile(&link, &target, &mut f);
        prop_assert!(passes.len() <= 2, "{} passes: {:#?}", passes.len(),
            passes.iter().map(|p| &p.plan.operations).collect::<Vec<_>>());
        let again = f.state();
        let t = translate(&link, &target, &again);
        prop_assert!(plan(&link, &t.desired, &again).is_empty(), "idempotence");
        prop_assert_eq!(reconcile(&link, &target, &mut f).len(), 0, "restart writes nothing");
    }

    /// After a full reconcile, every object carrying our labels is desired: no orphan survives.
    #[test]
    fn no_orphan_survives_a_full_reconcile(target in target(), observed in observed_state()) {
        let link = link();
        let mut f = source_with(&observed);
        reconcile(&link, &target, &mut f);
        let source = f.state();
        let desired = translate(&link, &target, &source).desired.keys();
        for o in source.objects() {
            let ours = match &o {
                Object::Service(s) => is_owned_by(&s.metadata, &link),
                Object::Endpoints(e) => is_owned_by(&e.metadata, &link),
                _ => false,
            };
            prop_assert!(!ours || desired.contains(&(o.kind(), o.key())), "orphan {} {}", o.kind(), o.key());
        }
    }

    /// Flipping every export's type (ClusterIP ↔ headless) after convergence: each mirror whose
    /// headlessness changes is deleted (reason TypeChange) before it is re-created, Endpoints
    /// before their Service, and no create ever targets a name that still exists.
    #[test]
    fn type_flips_delete_before_create(target in target(), observed in observed_state()) {
        let link = link();
        let mut f = source_with(&observed);
        reconcile(&link, &target, &mut f);
        let before = f.state();
        let after = flipped(&target);
        let passes = reconcile(&link, &after, &mut f);
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
                    Operation::Update { .. } => {}
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
        let link = link();
        let mut f = source_with(&observed);
        let foreign_before = foreign(&f.state(), &link);
        for pass in reconcile(&link, &target, &mut f) {
            for op in &pass.plan.operations {
                match op {
                    Operation::Update { .. } | Operation::Delete { .. } => prop_assert!(
                        owned_in(&pass.source, &link, op.kind(), &op.key()),
                        "{} of {} {} which is not ours", op.action(), op.kind(), op.key()),
                    Operation::Create { object } => prop_assert!(
                        pass.source.service(&object.key()).is_none_or(|s| is_owned_by(&s.metadata, &link))
                            && pass.source.endpoints_at(&object.key()).is_none_or(|e| is_owned_by(&e.metadata, &link)),
                        "create {} {} on a foreign name", object.kind(), object.key()),
                }
            }
        }
        prop_assert_eq!(foreign_before, foreign(&f.state(), &link));
    }

    /// SPEC §7 sticky names (issue 14 "a live mirror can be taken over"): mirroring one target,
    /// then another — exports appearing, going, changing type, hostnames moving between exports
    /// (`nginx-set-0` is both an export and a hostname) — no pass updates a live mirror to serve
    /// another export, and the change still converges in two passes.
    #[test]
    fn no_plan_repurposes_a_live_mirror(
        before in target(),
        after in target(),
        observed in observed_state(),
    ) {
        let link = link();
        let mut f = source_with(&observed);
        reconcile(&link, &before, &mut f);
        let passes = reconcile(&link, &after, &mut f);
        for pass in &passes {
            let found = repurposed_mirrors(&link, &pass.source, &pass.plan);
            prop_assert!(found.is_empty(), "{:#?}", found);
        }
        prop_assert!(passes.len() <= 2, "{} passes", passes.len());
    }
}
