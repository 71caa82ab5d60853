//! The convergence contract of [`svcmirror::drive()`] (SPEC §6.6 "converges in at most two
//! passes"; the contract is written once, in `crates/core/src/drive.rs`): on every SPEC §11
//! translation case and on generated worlds, at most `MAX_PASSES` passes apply something and the
//! next plans nothing; a source that never converges is `DriveError::NotConverged`, not a loop;
//! what the API server refuses for one object is that object's diagnostic.

mod common;

use common::strategies::target;
use common::*;
use proptest::prelude::*;
use svcmirror::{
    Apply, Diagnostic, DriveError, Kind, MAX_PASSES, Object, Operation, Plan, Precondition, Reason,
    Refusal, SourceState, TargetState, Translation, drive, drive_federated, plan, translate,
};
use svcmirror_backend::ApiError;
use svcmirror_fake::FakeCluster;

/// Every SPEC §11 translation case converges from an empty source within the bound, a headless
/// export with ready pods in exactly two passes (create, then point the root at the allocated
/// IPs), and a second drive over the converged source applies nothing.
#[test]
fn spec_cases_converge_within_the_bound_and_stay_converged() {
    for case in spec_translation_cases() {
        let mut f = fake();
        let (driven, passes) = record(&case.link, &case.target, &mut f);
        assert!(
            driven.passes <= MAX_PASSES,
            "{}: {} passes",
            case.name,
            driven.passes
        );
        assert_eq!(driven.passes, passes.len(), "{}", case.name);
        let again = drive(&case.link, &case.target, &mut f).expect("converged");
        assert_eq!(
            again.passes, 0,
            "{}: a converged source plans nothing",
            case.name
        );
    }
}

/// SPEC §6.6 and §11 `seed-walkthrough`: the second pass is the one that writes the root mirror's
/// Endpoints with the IPs the source allocated in the first.
#[test]
fn seed_walkthrough_takes_exactly_two_passes() {
    let (driven, passes) = record(&link(), &seed_target(), &mut fake());
    assert_eq!(driven.passes, 2);
    let second: Vec<(Kind, String)> = passes[1]
        .1
        .operations
        .iter()
        .map(|op| (op.kind(), op.key().name))
        .collect();
    assert_eq!(second, [(Kind::Endpoints, "nginx-svc-west".to_owned())]);
}

/// A source that loses every write: the plan is never empty, so the drive stops after
/// `MAX_PASSES` applying passes with every plan it applied, instead of looping.
#[test]
fn a_source_that_never_converges_is_not_converged_with_the_plans_seen() {
    struct Forgetful(FakeCluster);
    impl Apply for Forgetful {
        type Error = ApiError;
        fn list(&mut self) -> SourceState {
            self.0.state()
        }
        fn apply(&mut self, _: Operation) -> Result<(), Refusal<ApiError>> {
            Ok(())
        }
    }
    let error = drive(&link(), &seed_target(), &mut Forgetful(fake())).expect_err("never empty");
    let DriveError::NotConverged { plans } = &error else {
        panic!("{error}")
    };
    assert_eq!(plans.len(), MAX_PASSES);
    // 3 endpoint mirrors + the root: a Service and an Endpoints each.
    assert!(plans.iter().all(|p| p.operations == 8), "{plans:?}");
    assert!(
        error
            .to_string()
            .starts_with("mirroring did not converge in 2 passes")
    );
}

/// SPEC §8 (one bad export never fails the link): a Service the API server refuses (its range is
/// full) is that Service's `LimitExceeded` diagnostic; it is not sent again, nor its Endpoints,
/// and the drive ends.
#[test]
fn a_refused_object_is_its_diagnostic_and_not_sent_again() {
    // A /30 hands out one ClusterIP (.1 is the `kubernetes` Service's, .3 the broadcast): the
    // first endpoint mirror gets it, the other two are refused.
    let mut f = FakeCluster::new("10.43.0.0/30".parse().expect("cidr"));
    let driven = drive(&link(), &seed_target(), &mut f).expect("refusals do not fail the drive");
    let refused: Vec<(&str, Reason)> = driven
        .refused
        .iter()
        .map(|(key, d): (_, &Diagnostic)| (key.name.as_str(), d.reason))
        .collect();
    assert_eq!(
        refused,
        [
            ("nginx-set-1-west", Reason::LimitExceeded),
            ("nginx-set-2-west", Reason::LimitExceeded)
        ]
    );
    assert!(driven.passes <= MAX_PASSES);
    assert!(
        f.get(
            Kind::Endpoints,
            &svcmirror::ObjectKey::new("default", "nginx-set-2-west")
        )
        .is_none()
    );
}

/// Issue 13: the loop's hooks — every translation is seen (the test-kit checks each pass there),
/// and a hook that empties the plan ends the drive (how the test-kit stops at a finding).
#[test]
fn the_hooks_see_every_translation_and_an_emptied_plan_ends_the_drive() {
    struct Counting {
        fake: FakeCluster,
        translations: usize,
        stop_after: usize,
    }
    impl Apply for Counting {
        type Error = ApiError;
        fn list(&mut self) -> SourceState {
            self.fake.state()
        }
        fn translated(&mut self, _: &SourceState, _: &Translation) {
            self.translations += 1;
        }
        fn planned(&mut self, _: &SourceState, _: &mut Vec<Diagnostic>, plan: &mut Plan) {
            if self.translations >= self.stop_after {
                plan.operations.clear();
                plan.dependencies.clear();
            }
        }
        fn apply(&mut self, operation: Operation) -> Result<(), Refusal<ApiError>> {
            Apply::apply(&mut self.fake, operation)
        }
    }
    // The seed: two applying passes and the empty one.
    let mut all = Counting {
        fake: fake(),
        translations: 0,
        stop_after: usize::MAX,
    };
    assert_eq!(
        drive(&link(), &seed_target(), &mut all)
            .expect("converges")
            .passes,
        2
    );
    assert_eq!(all.translations, MAX_PASSES + 1);
    // Ended by the hook after the first pass: one pass applied, the root not yet pointed at IPs.
    let mut first = Counting {
        fake: fake(),
        translations: 0,
        stop_after: 2,
    };
    assert_eq!(
        drive(&link(), &seed_target(), &mut first)
            .expect("ended")
            .passes,
        1
    );
    assert_eq!(first.translations, 2);
    let source = first.fake.state();
    let left = plan(
        &link(),
        &translate(&link(), &seed_target(), &source).desired,
        &source,
    );
    assert_eq!(left.operations.len(), 1, "{left:?}");
}

/// SPEC §9: the federated Services converge under the same contract (`drive_federated`), in one
/// applying pass (no IP to wait for), then nothing to do.
#[test]
fn federated_services_converge_within_the_bound() {
    let mut web = svc("default", "web")
        .label("mirror.linkerd.io/federated", "member")
        .port("http", 80)
        .build();
    web.metadata.labels.insert("app".into(), "web".into());
    let target = TargetState::new(vec![web], vec![]);
    let west = link();
    let mut f = fake();
    let driven = drive_federated(&[(&west, &target)], None, &mut f).expect("converges");
    assert_eq!(driven.passes, 1);
    assert!(
        f.state()
            .service(&svcmirror::ObjectKey::new("default", "web-federated"))
            .is_some()
    );
    let again = drive_federated(&[(&west, &target)], None, &mut f).expect("converged");
    assert_eq!(again.passes, 0);
}

/// SPEC §7 (issue 13): every update and delete carries the observed object's uid and
/// resourceVersion as its `Precondition`, which backends send as they are; a create has none.
#[test]
fn updates_and_deletes_carry_the_observed_precondition() {
    let mut f = fake();
    drive(&link(), &seed_target(), &mut f).expect("converges");
    // Scale to one pod and relabel: the root is updated, two endpoint mirrors deleted.
    let mut after = seed_target();
    after.endpoints = vec![seed_endpoints(1)];
    after.services[0]
        .metadata
        .labels
        .insert("tier".into(), "web".into());
    let source = f.state();
    let p = plan(
        &link(),
        &translate(&link(), &after, &source).desired,
        &source,
    );
    let (mut updates, mut deletes) = (0, 0);
    for op in &p.operations {
        let Some(precondition) = op.precondition() else {
            assert!(matches!(op, Operation::Create { .. }), "{op:?}");
            continue;
        };
        let observed = source
            .objects()
            .into_iter()
            .find(|o| o.kind() == op.kind() && o.key() == op.key())
            .expect("an update or delete of an observed object");
        let meta = match &observed {
            Object::Service(o) => &o.metadata,
            Object::Endpoints(o) => &o.metadata,
            // This link writes no slices, and never updates or deletes a Namespace.
            other => panic!("unexpected {other:?}"),
        };
        assert_eq!(precondition, &Precondition::observed(meta), "{op:?}");
        assert!(precondition.uid.is_some() && precondition.resource_version.is_some());
        match op {
            Operation::Update { .. } => updates += 1,
            Operation::Delete { .. } => deletes += 1,
            _ => {}
        }
    }
    assert!(updates > 0 && deletes > 0, "{p:?}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Generated worlds (exports of both types, pods with and without hostnames, in two
    /// namespaces) converge from an empty source within the bound, and stay converged.
    #[test]
    fn generated_worlds_converge_within_the_bound(target in target()) {
        let link = link();
        let mut f = fake();
        let (driven, _) = record(&link, &target, &mut f);
        prop_assert!(driven.passes <= MAX_PASSES);
        let again = drive(&link, &target, &mut f);
        prop_assert_eq!(again.map(|d| d.passes).ok(), Some(0));
    }
}
