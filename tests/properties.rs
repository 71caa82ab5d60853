//! Properties over generated clusters (proptest): determinism, valid names, idempotence, convergence
//! in two passes, ownership.

mod common;

use common::strategies::{HOSTS, NAMES, target as arb_target};
use common::*;
use proptest::prelude::*;
use svcmirror::labels::{CLUSTER_NAME, MIRRORED_SERVICE};
use svcmirror::model::{Object, Service};
use svcmirror::names::is_dns1035_label;
use svcmirror::{Operation, TargetState, plan, translate};

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

    #[test]
    fn converges_in_two_passes_and_then_plans_nothing(target in arb_target(), before in arb_target()) {
        // From any start state reached by mirroring another target.
        let mut f = fake();
        converge(&link(), &before, &mut f);
        let c = converge(&link(), &target, &mut f);
        prop_assert!(c.passes <= 2, "{} passes", c.passes);
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
        let foreign_before: Vec<Service> = f.state().services;
        // Every plan `drive` applied, checked after the fact (no check depends on the order).
        let (_, passes) = record(&link(), &target, &mut f);
        for (_, p) in &passes {
            for op in &p.operations {
                if let Operation::Update { .. } | Operation::Delete { .. } = op {
                    prop_assert!(
                        !foreign_before.iter().any(|s| s.metadata.key() == op.key()),
                        "touched foreign {}", op.key()
                    );
                }
                if let Operation::Create { object } = op {
                    prop_assert!(!foreign_before.iter().any(|s| s.metadata.key() == object.key()));
                }
            }
        }
        for s in &foreign_before {
            prop_assert!(f.state().services.contains(s), "foreign {} changed", s.metadata.key());
        }
    }
}
