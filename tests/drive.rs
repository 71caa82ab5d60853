//! The convergence contract of [`svcmirror::drive()`] (SPEC §6.6 "converges in at most two
//! passes"; the contract is written once, in `crates/core/src/drive.rs`): on every SPEC §11
//! translation case and on generated worlds, at most `MAX_PASSES` passes apply something and the
//! next plans nothing; a source that never converges is `DriveError::NotConverged`, not a loop;
//! what the API server refuses for one object is that object's diagnostic.

mod common;

use common::strategies::target;
use common::*;
use proptest::prelude::*;
use svcmirror::{Apply, DriveError, MAX_PASSES, Refusal, drive};
use svcmirror::{Diagnostic, Kind, Operation, Reason, SourceState};
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
