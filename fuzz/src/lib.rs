//! # svcmirror-fuzz
//!
//! The harnesses of svcmirror's cargo-fuzz targets, as plain functions, so that the committed
//! seed corpora can be replayed by `cargo test --manifest-path fuzz/Cargo.toml` on stable,
//! without cargo-fuzz or libFuzzer's runtime (see `tests/corpus.rs`). The invariants themselves
//! are `svcmirror-testkit`'s, shared with the root package's proptest properties.
//!
//! - [`check_parse_snapshot`]: arbitrary bytes → `svcmirror_snapshot::parse`.
//! - [`check_translate`]: a [`TranslateInput`] → `svcmirror_core::translate`.
//! - [`check_plan`]: a [`PlanInput`] → translate → plan → apply on a `FakeCluster`, to
//!   convergence ([`svcmirror_testkit::converge`]).
//! - [`check_reconcile`]: a [`ReconcileInput`] → the backend's driver, event by event
//!   ([`svcmirror_testkit::incremental_equals_whole_link`]).
//! - [`check_federate`]: a [`FederateInput`] → every link's mirrors, then
//!   `svcmirror_core::federate` → `plan_federated` ([`svcmirror_testkit::converge_federated`]).
//!
//! Every check panics (which libFuzzer reports as a crash) when an invariant does not hold,
//! except the [`Check`]s named in `SVCMIRROR_FUZZ_SKIP` (comma-separated, e.g.
//! `MirrorRepurposed,FakeRefused`): how a run goes on past a known finding (README.md).
#![forbid(unsafe_code)]

mod input;
mod link_input;
mod scenario;
mod shaped;

use std::collections::BTreeSet;
use std::sync::OnceLock;

use svcmirror_core::labels::{is_owned, is_svcmirror_slice};
use svcmirror_core::{
    Apply, Diagnostic, Link, Operation, Plan, Reason, Refusal, Severity, SourceState, TargetState,
    Translation, drive, is_dns1035_label, plan_federated, translate,
};
use svcmirror_snapshot::{Format, Limits, Snapshot, parse, write_list};
use svcmirror_testkit::{
    Check, Checks, Finding, converge_checking, converge_federated, incremental_equals_whole_link,
    no_steering_key_copied,
};

pub use crate::input::{
    Address, ClusterIp, EPort, Export, Hostname, Ip, Label, LabelPart, Name, Ns, Port, PortName,
    Protocol, SPort, Subset, TargetExport, TargetPort, TargetService,
};
pub use crate::link_input::{Expression, LinkInput, PatternInput, SelectorChoice, SelectorInput};
pub use crate::scenario::{
    EventInput, FederateInput, ObservedNamespace, ObservedObject, Owner, PlanInput, ReconcileInput,
    TranslateInput, source_fake, target_fake,
};
pub use crate::shaped::{ExportInput, ShapedExport, target_of};
use svcmirror_core::model::Object;

/// `parse_snapshot`: the reader returns (never panics; libFuzzer's timeout catches hangs), and
/// what it reads survives `write_list` → `parse` unchanged, in YAML and in JSON.
///
/// # Panics
/// When the round trip loses or changes an object, or the reader rejects its own output.
pub fn check_parse_snapshot(data: &[u8]) {
    let Ok(snapshot) = parse(data, "fuzz-input", &Limits::default()) else {
        return;
    };
    let objects: Vec<Object> = snapshot
        .namespaces
        .iter()
        .cloned()
        .map(Object::Namespace)
        .chain(snapshot.services.iter().cloned().map(Object::Service))
        .chain(snapshot.endpoints.iter().cloned().map(Object::Endpoints))
        .collect();
    for format in [Format::Yaml, Format::Json] {
        let mut out = Vec::new();
        write_list(&objects, format, &mut out).expect("write_list of parsed objects");
        let back: Snapshot = parse(&out, "round-trip", &Limits::default()).unwrap_or_else(|e| {
            panic!(
                "{format:?} output of write_list does not parse back: {e}\n{}",
                String::from_utf8_lossy(&out)
            )
        });
        assert!(
            back.diagnostics.is_empty(),
            "{format:?} round trip: diagnostics {:?}\n{}",
            back.diagnostics,
            String::from_utf8_lossy(&out)
        );
        assert_eq!(
            back.namespaces, snapshot.namespaces,
            "{format:?} namespaces"
        );
        assert_eq!(back.services, snapshot.services, "{format:?} services");
        assert_eq!(back.endpoints, snapshot.endpoints, "{format:?} endpoints");
    }
}

/// The checks that run: all but those named in `SVCMIRROR_FUZZ_SKIP`.
#[must_use]
pub fn checks() -> &'static Checks {
    static CHECKS: OnceLock<Checks> = OnceLock::new();
    CHECKS.get_or_init(|| {
        let skip = std::env::var("SVCMIRROR_FUZZ_SKIP").unwrap_or_default();
        let all = [
            Check::ForeignTouched,
            Check::FakeRefused,
            Check::MirrorRepurposed,
            Check::SteeringKeyCopied,
            Check::NoConvergence,
            Check::Orphan,
            Check::IncrementalDiffers,
        ];
        all.into_iter()
            .filter(|c| skip.split(',').any(|s| s.trim() == format!("{c:?}")))
            .fold(Checks::all(), Checks::except)
    })
}

thread_local! {
    /// Whether [`found`] lets a [`pending_finding`] pass (the corpus replay's setting).
    static TOLERATE_PENDING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// For the corpus replay on this thread: an input that shows a finding fixed on a branch not
/// merged yet ([`pending_finding`]) stops being checked instead of failing. The fuzz targets
/// never call this (they skip whole checks with `SVCMIRROR_FUZZ_SKIP`).
pub fn tolerate_pending_findings(on: bool) {
    TOLERATE_PENDING.with(|t| t.set(on));
}

/// The known finding (fuzz/README.md) `finding` is an instance of, when it is one fixed on a
/// branch not merged yet: F8 (a live mirror repurposed), F9 (an EndpointSlice refused for two
/// ports of one name), F10 (a deny-listed key copied). Empty this after the merge.
#[must_use]
pub fn pending_finding(finding: &Finding) -> Option<&'static str> {
    // F8 (a live mirror repurposed), F9 (an EndpointSlice refused for two ports of one name) and
    // F10 (a deny-listed key copied) are fixed and merged: none is pending.
    let _ = finding;
    None
}

/// Panics with the finding (libFuzzer prints the input's Debug after it) — unless pending
/// findings are tolerated on this thread and this is one: then returns it, and the caller stops.
fn found(finding: &Finding, what: &str) -> &'static str {
    match pending_finding(finding) {
        Some(known) if TOLERATE_PENDING.with(std::cell::Cell::get) => known,
        _ => panic!("{what}: {finding}"),
    }
}

/// The target with every list reversed (Services, Endpoints, subsets, addresses): the
/// translation must not change (ports stay in order: their order is the Service's).
#[must_use]
pub fn reversed(target: &TargetState) -> TargetState {
    let mut r = target.clone();
    r.services.reverse();
    r.endpoints.reverse();
    for ep in &mut r.endpoints {
        ep.subsets.reverse();
        for s in &mut ep.subsets {
            s.addresses.reverse();
            s.not_ready_addresses.reverse();
        }
    }
    r
}

/// The properties of one translation: valid names, ownership labels (slices: also
/// `managed-by: svcmirror.io`), no steering key copied, and order independence.
fn check_translation(link: &Link, target: &TargetState, source: &SourceState, t: &Translation) {
    let keys = t.desired.services.keys().chain(t.desired.endpoints.keys());
    for key in keys.chain(t.desired.endpoint_slices.keys()) {
        assert!(
            is_dns1035_label(&key.name) || t.desired.endpoint_slices.contains_key(key),
            "desired name {key} is not a DNS-1035 label of at most 63 characters"
        );
        assert!(key.name.len() <= 63, "desired name {key} is longer than 63");
    }
    for o in t.desired.objects() {
        let labels = svcmirror_testkit::labels(&o);
        let owned = match &o {
            Object::EndpointSlice(_) => is_owned(labels, link) && is_svcmirror_slice(labels),
            _ => is_owned(labels, link),
        };
        assert!(
            owned,
            "desired {} {} lacks the ownership labels",
            o.kind(),
            o.key()
        );
    }
    if let Err(f) = checks().filter(no_steering_key_copied(&t.desired)) {
        found(&f, "translate");
        return;
    }
    let r = translate(link, &reversed(target), source);
    assert_eq!(t.desired, r.desired, "desired depends on input order");
    assert_eq!(t.exports, r.exports, "exports depend on input order");
}

/// `translate`: no panic; every desired name is a DNS label ≤ 63; every desired object carries
/// this link's ownership labels; no steering key is copied; the output does not depend on input
/// order. Checked on an empty source and again after the first plan was applied (endpoint
/// mirrors with ClusterIPs).
///
/// # Panics
/// When a property does not hold.
pub fn check_translate(input: &TranslateInput) {
    let link = input.link.build();
    let target = input.target();
    let mut checked = TranslationsChecked {
        link: &link,
        target: &target,
        fake: source_fake(&link, &[], &[]),
        translations: 0,
    };
    // The plan target checks that the fake accepts every operation and that the drive
    // converges; here only the two translations matter, so the drive's outcome does not.
    let _ = drive(&link, &target, &mut checked);
}

/// The fake under [`drive`] for [`check_translate`]: every translation is checked, and the
/// drive ends after the second (an empty source, then one with the first plan applied).
struct TranslationsChecked<'a> {
    link: &'a Link,
    target: &'a TargetState,
    fake: svcmirror_fake::FakeCluster,
    translations: usize,
}

impl Apply for TranslationsChecked<'_> {
    type Error = ();

    fn list(&mut self) -> SourceState {
        self.fake.state()
    }

    fn translated(&mut self, source: &SourceState, translation: &Translation) {
        self.translations += 1;
        check_translation(self.link, self.target, source, translation);
    }

    fn planned(&mut self, _: &SourceState, _: &mut Vec<Diagnostic>, plan: &mut Plan) {
        if self.translations >= 2 {
            plan.operations.clear();
            plan.dependencies.clear();
        }
    }

    fn apply(&mut self, operation: Operation) -> Result<(), Refusal<()>> {
        // A refusal only keeps what depends on it from being sent, as `apply_plan` would.
        let key = (operation.kind(), operation.key());
        self.fake.apply_owned(operation).map_err(|e| {
            Refusal::Refused(Diagnostic::new(
                Reason::InvalidObject,
                Severity::Error,
                key.0,
                key.1,
                e.to_string(),
            ))
        })
    }
}

/// Most non-empty plans before the plan must be empty, from any observed start state: the core's
/// contract ([`svcmirror_core::MAX_PASSES`]), which `drive` itself enforces.
pub const MAX_PASSES: usize = svcmirror_core::MAX_PASSES;

/// `plan`: from an observed source (foreign objects, other links' and the federation's, stale
/// mirrors, slices and namespaces, and — when `previous` is given — the live mirrors of a target
/// this link mirrored before), the whole-link reconcile of the target keeps every invariant of
/// [`svcmirror_testkit::converge`]: nothing foreign touched, everything planned accepted by the
/// fake, no live mirror repurposed, no steering key copied, converged within [`MAX_PASSES`], no
/// orphan.
///
/// # Panics
/// When an invariant does not hold.
pub fn check_plan(input: &PlanInput) -> PlanOutcome {
    let link = input.translate.link.build();
    let mut fake = source_fake(&link, &input.namespaces, &input.observed);
    let mut target = input.translate.target();
    if !input.previous.is_empty() {
        let before = target_of(&input.previous[..input.previous.len().min(6)]);
        if let Err(f) = converge_checking(&link, &before, &mut fake, MAX_PASSES, checks()) {
            return PlanOutcome::Pending(found(&f, "plan (previous target)"));
        }
        // The new target is the previous one changed: its objects replace or join the old.
        target = changed(&before, target);
    }
    match converge_checking(&link, &target, &mut fake, MAX_PASSES, checks()) {
        Ok(c) => PlanOutcome::Converged { passes: c.passes },
        Err(f) => PlanOutcome::Pending(found(&f, "plan")),
    }
}

/// `before` with `changes` applied: a Service or Endpoints of `changes` replaces the one of
/// `before` with its key, or joins them.
fn changed(before: &TargetState, mut changes: TargetState) -> TargetState {
    let keep_svc = before.services.iter().filter(|s| {
        !changes
            .services
            .iter()
            .any(|c| c.metadata.key() == s.metadata.key())
    });
    let services: Vec<_> = keep_svc.cloned().collect();
    let keep_eps = before.endpoints.iter().filter(|e| {
        !changes
            .endpoints
            .iter()
            .any(|c| c.metadata.key() == e.metadata.key())
    });
    let endpoints: Vec<_> = keep_eps.cloned().collect();
    changes.services.extend(services);
    changes.endpoints.extend(endpoints);
    changes
}

/// How a [`check_plan`] run ended (when it did not panic).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanOutcome {
    /// Every property held; the plan was empty after `passes` non-empty plans.
    Converged {
        /// Non-empty plans applied.
        passes: usize,
    },
    /// Stopped at this pending finding (only with [`tolerate_pending_findings`]).
    Pending(&'static str),
}

/// `reconcile`: the driver, fed the input's target changes one event at a time, leaves the
/// source after every step as a whole-link reconcile from the same start would, and its writes
/// keep the ownership and sticky-name invariants
/// ([`svcmirror_testkit::incremental_equals_whole_link`]). Returns the steps handed over.
///
/// # Panics
/// When an invariant does not hold.
pub fn check_reconcile(input: &ReconcileInput) -> usize {
    let link = input.link.build();
    let source = source_fake(&link, &input.namespaces, &input.observed);
    match incremental_equals_whole_link(&link, source, target_fake(), &input.steps(), checks()) {
        Ok(report) => report.handled,
        Err(f) => {
            found(&f, "reconcile");
            0
        }
    }
}

/// `federate`: every link (one per cluster name) mirrors its target with every invariant of
/// [`svcmirror_testkit::converge`]; then the federated Services of all of them
/// (`svcmirror_core::federate` → `plan_federated`) converge with the federation's ownership
/// ([`svcmirror_testkit::converge_federated`]); then every link converges again.
///
/// # Panics
/// When an invariant does not hold.
pub fn check_federate(input: &FederateInput) {
    let built: Vec<(Link, TargetState)> = input
        .remotes
        .iter()
        .take(3)
        .map(|(l, exports)| (l.build(), target_of(&exports[..exports.len().min(5)])))
        .collect();
    let first = built.first().map_or_else(
        || {
            Link::builder("west")
                .gateway_address([172, 18, 0, 4].into())
                .build()
                .expect("link")
        },
        |(l, _)| l.clone(),
    );
    let mut fake = source_fake(&first, &input.namespaces, &input.observed);
    // Two links to one cluster would own each other's mirrors: one link per cluster name.
    let mut seen = BTreeSet::new();
    let links: Vec<&(Link, TargetState)> = built
        .iter()
        .filter(|(l, _)| seen.insert(l.cluster_name().clone()))
        .collect();
    for (link, target) in &links {
        match converge_checking(link, target, &mut fake, MAX_PASSES, checks()) {
            Ok(c) if c.complete => {}
            // Stopped at a known refusal: nothing more to judge.
            Ok(_) => return,
            Err(f) => {
                found(&f, &format!("federate (link {})", link.cluster_name()));
                return;
            }
        }
    }
    let remotes: Vec<(&Link, &TargetState)> = built.iter().map(|(l, t)| (l, t)).collect();
    let local = input
        .local
        .as_ref()
        .map(|(s, exports)| (s.build(), target_of(&exports[..exports.len().min(5)])));
    let local_ref = local.as_ref().map(|(s, t)| (s, t));
    match converge_federated(&remotes, local_ref, &mut fake, MAX_PASSES, checks()) {
        Ok(c) if c.complete => {}
        // Stopped at a known refusal: nothing more to judge.
        Ok(_) => return,
        Err(f) => {
            found(&f, "federate (federated Services)");
            return;
        }
    }
    let source = fake.state();
    let federated = plan_federated(
        &svcmirror_core::federate(&remotes, local_ref, &source).desired,
        &source,
    );
    assert!(
        federated.is_empty(),
        "the federated plan is not empty after convergence"
    );
    // The links again, after the federation: every invariant still holds (the federation may
    // have deleted its own orphans, freeing names a link was denied, so a link may have work).
    for (link, target) in &links {
        if let Err(f) = converge_checking(link, target, &mut fake, MAX_PASSES, checks()) {
            found(
                &f,
                &format!("federate (link {}, after)", link.cluster_name()),
            );
            return;
        }
    }
}
