//! Properties over generated clusters (proptest): determinism, valid names, idempotence, convergence
//! in two passes, ownership, sticky names. The reconcile invariants are `svcmirror-testkit`'s,
//! shared with the fuzz targets.

mod common;

use common::strategies::{HOSTS, NAMES, Observed, observed_state, target as arb_target};
use common::*;
use proptest::prelude::*;
use svcmirror::labels::{CLUSTER_NAME, MIRRORED_SERVICE};
use svcmirror::model::Object;
use svcmirror::{
    FederationWriter, SourceStore, TargetState, TargetStore, explain, federate_as,
    is_dns1035_label, plan, plan_federated, translate,
};
use svcmirror_testkit::{
    CONTRACT_PASSES, Checks, Owner, apply_accepted, converge_checking, foreign_objects,
    foreign_unchanged, nothing_foreign_touched,
};

fn reversed(t: &TargetState) -> TargetState {
    let mut r = t.clone();
    r.services.reverse();
    r.endpoints.reverse();
    for e in &mut r.endpoints {
        e.subsets.reverse();
        for s in &mut e.subsets {
            s.addresses.reverse();
        }
    }
    r
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 128,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn output_does_not_depend_on_input_order(target in arb_target(), headless in any::<bool>()) {
        let link = west().enable_headless_services(headless).build().expect("link");
        let source = fake().state();
        let a = translate(&link, &target, &source);
        let b = translate(&link, &reversed(&target), &source);
        prop_assert_eq!(&a.desired, &b.desired);
        prop_assert_eq!(&a.exports, &b.exports);
        // Field paths point into the input, so they move with it; the findings themselves do not.
        let findings = |t: &svcmirror::Translation| {
            let mut v: Vec<_> = t.diagnostics.iter().map(|d| (d.reason, d.severity, d.kind, d.object.clone())).collect();
            v.sort();
            v
        };
        prop_assert_eq!(findings(&a), findings(&b));
        prop_assert_eq!(a, translate(&link, &target, &source), "repeated runs agree");
    }

    #[test]
    fn every_name_is_a_valid_dns1035_label_and_unique(target in arb_target()) {
        let t = translate(&link(), &target, &fake().state());
        for key in t.desired.services.keys().chain(t.desired.endpoints.keys()) {
            prop_assert!(is_dns1035_label(&key.name), "{}", key);
        }
        // Keys are map keys: uniqueness per namespace is by construction; check no two exports
        // claim one mirror.
        let mut claimed: Vec<_> = t.exports.iter()
            .flat_map(|(k, o)| o.mirror.iter().chain(&o.endpoint_mirrors).map(move |n| (k.namespace.clone(), n.clone())))
            .collect();
        let before = claimed.len();
        claimed.sort();
        claimed.dedup();
        prop_assert_eq!(before, claimed.len());
    }

    /// From any start state reached by mirroring another target: every reconcile invariant
    /// (nothing foreign touched, the fake accepts every operation, no steering key copied, no
    /// orphan) and at most two passes, then nothing to do.
    #[test]
    fn converges_in_two_passes_and_then_plans_nothing(target in arb_target(), before in arb_target()) {
        let checks = Checks::all();
        let mut f = fake();
        converge_checking(&link(), &before, &mut f, CONTRACT_PASSES, &checks).map_err(fail)?;
        let c = converge_checking(&link(), &target, &mut f, CONTRACT_PASSES, &checks).map_err(fail)?;
        prop_assert!(c.passes <= CONTRACT_PASSES, "{} passes", c.passes);
        let source = f.state();
        let again = plan(&link(), &translate(&link(), &target, &source).desired, &source);
        prop_assert!(again.is_empty());
    }

    #[test]
    fn plan_never_touches_objects_without_our_labels(target in arb_target(), foreign in prop::collection::vec((prop::sample::select(&NAMES[..]), prop::sample::select(&HOSTS[..5])), 0..4)) {
        let mut f = fake();
        // Foreign objects whose names mirrors want, plus another link's object.
        for (name, host) in foreign {
            for n in [format!("{name}-west"), format!("{host}-west")] {
                let _ = f.create(Object::Service(svc("default", &n).port("http", 80).build()));
            }
        }
        let _ = f.create(Object::Service(
            svc("default", "web-west").port("http", 80)
                .label(MIRRORED_SERVICE, "true").label(CLUSTER_NAME, "north").build(),
        ));
        let link = link();
        let owner = Owner::Link(&link);
        let foreign_before = foreign_objects(owner, &f.state());
        for _ in 0..3 {
            let source = f.state();
            let p = plan(&link, &translate(&link, &target, &source).desired, &source);
            nothing_foreign_touched(owner, &source, &p).map_err(fail)?;
            apply_accepted(&mut f, &p).map_err(fail)?;
        }
        foreign_unchanged(&foreign_before, &foreign_objects(owner, &f.state())).map_err(fail)?;
    }

    /// Issue 13 (the inputs are the store): the core reads the keyed stores in place exactly as
    /// it reads their snapshots — `translate`, `plan`, `federate_as`, `plan_federated` and
    /// `explain` give identical results, shown byte for byte, diagnostics and their field
    /// paths included (a store is walked in its `state()`'s order) — over generated worlds: a
    /// source converged for another target, plus stray objects of this link, another link and
    /// nobody. The source store holds records (issue 13 item 3: its plan compares digests where
    /// the list's compares fields).
    #[test]
    fn the_store_reads_as_its_snapshot(target in arb_target(), before in arb_target(), stray in observed_state(), headless in any::<bool>()) {
        let link = west().enable_headless_services(headless).build().expect("link");
        let mut f = fake();
        converge(&link, &before, &mut f);
        for object in stray.iter().flat_map(Observed::objects) {
            let _ = f.create(object);
        }
        // The store keeps every object but the federation's as a record (issue 13 item 3):
        // metadata, ClusterIPs and digests; the list keeps them in full, sorted by key (the
        // store's walk).
        let mut source_list = f.state();
        source_list.services.sort_by_key(|o| o.metadata.key());
        source_list.endpoints.sort_by_key(|o| o.metadata.key());
        source_list.endpoint_slices.sort_by_key(|o| o.metadata.key());
        let (target_store, source_store) = (TargetStore::from_state(target), SourceStore::from_state(source_list.clone()));
        let target_list = target_store.state();

        let by_store = translate(&link, &target_store, &source_store);
        let by_list = translate(&link, &target_list, &source_list);
        prop_assert_eq!(shown(&by_store), shown(&by_list));
        prop_assert_eq!(
            shown(&plan(&link, &by_store.desired, &source_store)),
            shown(&plan(&link, &by_list.desired, &source_list))
        );
        let writer = FederationWriter::Link(&link);
        let fed_store = federate_as(writer, &target_store, &source_store);
        let fed_list = federate_as(writer, &target_list, &source_list);
        prop_assert_eq!(shown(&fed_store), shown(&fed_list));
        prop_assert_eq!(
            shown(&plan_federated(&fed_store.desired, &source_store)),
            shown(&plan_federated(&fed_list.desired, &source_list))
        );
        for export in by_list.exports.keys() {
            prop_assert_eq!(
                explain(&link, &target_store, &source_store, export),
                explain(&link, &target_list, &source_list, export)
            );
        }
    }

    /// SPEC §7 sticky names: mirroring a changed target never moves a mirror away from an export
    /// that is still exported (issue 14: `default/aaa` with pod `web` takes `web-west`).
    #[test]
    fn no_live_mirror_is_repurposed(target in arb_target(), before in arb_target()) {
        let mut f = fake();
        let checks = Checks::all();
        converge_checking(&link(), &before, &mut f, CONTRACT_PASSES, &checks).map_err(fail)?;
        let mut both = before.clone();
        both.services.extend(target.services.iter().filter(|s| !before.services.iter().any(|b| b.metadata.key() == s.metadata.key())).cloned());
        both.endpoints.extend(target.endpoints.iter().filter(|e| !before.endpoints.iter().any(|b| b.metadata.key() == e.metadata.key())).cloned());
        converge_checking(&link(), &both, &mut f, CONTRACT_PASSES, &checks).map_err(fail)?;
    }
}

/// An output in full (every field, in order), to compare byte for byte.
fn shown(output: &impl std::fmt::Debug) -> String {
    format!("{output:?}")
}

/// A testkit finding as a failed proptest case.
fn fail(f: svcmirror_testkit::Finding) -> TestCaseError {
    TestCaseError::fail(f.to_string())
}
