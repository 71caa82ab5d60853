//! # svcmirror-fuzz
//!
//! The checks behind svcmirror's cargo-fuzz targets, as plain functions, so that the committed
//! seed corpora can be replayed by `cargo test --manifest-path fuzz/Cargo.toml` on stable,
//! without cargo-fuzz or libFuzzer's runtime (see `tests/corpus.rs`).
//!
//! - [`check_parse_snapshot`]: arbitrary bytes → `svcmirror_snapshot::parse`.
//! - [`check_translate`]: a [`TranslateInput`] → `svcmirror_core::translate`.
//! - [`check_plan`]: a [`PlanInput`] → `svcmirror_core::plan`, applied to a `FakeCluster`.
//!
//! Every check panics (which libFuzzer reports as a crash) when a property of SPEC.md or
//! ARCHITECTURE.md does not hold.
#![forbid(unsafe_code)]

mod input;

use std::collections::BTreeSet;

use svcmirror_core::labels::is_owned;
use svcmirror_core::model::{Kind, Object, ObjectKey};
use svcmirror_core::names::is_dns1035_label;
use svcmirror_core::{Link, Operation, SourceState, TargetState, Translation, plan, translate};
use svcmirror_fake::FakeCluster;
use svcmirror_snapshot::{Format, Limits, Snapshot, parse, write_list};

pub use crate::input::{
    Address, ClusterIp, EPort, Export, Hostname, Ip, Label, LabelPart, LinkInput, Name, Ns,
    ObservedObject, Owner, PlanInput, Port, PortName, Protocol, SPort, Subset, TargetExport,
    TargetPort, TargetService, TranslateInput,
};

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

/// The properties of one translation: valid names, ownership labels, and order independence.
fn check_translation(link: &Link, target: &TargetState, source: &SourceState, t: &Translation) {
    for key in t.desired.services.keys().chain(t.desired.endpoints.keys()) {
        assert!(
            is_dns1035_label(&key.name),
            "desired name {key} is not a DNS-1035 label of at most 63 characters"
        );
    }
    for svc in t.desired.services.values() {
        assert!(
            is_owned(&svc.metadata.labels, link),
            "desired Service {} lacks the ownership labels",
            svc.metadata.key()
        );
    }
    for ep in t.desired.endpoints.values() {
        assert!(
            is_owned(&ep.metadata.labels, link),
            "desired Endpoints {} lacks the ownership labels",
            ep.metadata.key()
        );
    }
    for ns in t.desired.namespaces.values() {
        assert!(
            is_owned(&ns.metadata.labels, link),
            "desired Namespace {} lacks the ownership labels",
            ns.metadata.name
        );
    }
    let r = translate(link, &reversed(target), source);
    assert_eq!(t.desired, r.desired, "desired depends on input order");
    assert_eq!(t.exports, r.exports, "exports depend on input order");
}

/// A fake source cluster with the `default` and `other` namespaces.
fn fake_source() -> FakeCluster {
    let mut fake = FakeCluster::default();
    fake.create_namespace("other").expect("namespace other");
    fake
}

/// `translate`: no panic; every desired name is a DNS-1035 label ≤ 63; every desired object
/// carries this link's ownership labels; the output does not depend on input order. Checked on an
/// empty source and again after the first plan was applied (endpoint mirrors with ClusterIPs).
///
/// # Panics
/// When a property does not hold.
pub fn check_translate(input: &TranslateInput) {
    let link = input.link.build();
    let target = input.target();
    let mut fake = fake_source();
    for _ in 0..2 {
        let source = fake.state();
        let t = translate(&link, &target, &source);
        check_translation(&link, &target, &source, &t);
        let p = plan(&link, &t.desired, &source);
        // The plan target checks that the fake accepts every operation; here only the second
        // translation's input matters.
        let _ = fake.apply_plan(&p);
    }
}

/// Whether `key` holds, in `source`, a Service or Endpoints that is not this link's.
fn foreign_at(source: &SourceState, link: &Link, key: &ObjectKey) -> bool {
    source
        .service(key)
        .is_some_and(|s| !is_owned(&s.metadata.labels, link))
        || source
            .endpoints_at(key)
            .is_some_and(|e| !is_owned(&e.metadata.labels, link))
}

/// Whether `source` holds an object of `kind` at `key` carrying this link's labels.
fn owned_at(source: &SourceState, link: &Link, kind: Kind, key: &ObjectKey) -> bool {
    match kind {
        Kind::Service => source
            .service(key)
            .is_some_and(|s| is_owned(&s.metadata.labels, link)),
        Kind::Endpoints => source
            .endpoints_at(key)
            .is_some_and(|e| is_owned(&e.metadata.labels, link)),
        // Namespaces are cluster-scoped; kinds added later are not checked here.
        _ => false,
    }
}

/// Every object of `source` that is not this link's.
fn foreign_objects(source: &SourceState, link: &Link) -> Vec<Object> {
    source
        .objects()
        .into_iter()
        .filter(|o| match o {
            Object::Service(s) => !is_owned(&s.metadata.labels, link),
            Object::Endpoints(e) => !is_owned(&e.metadata.labels, link),
            _ => false,
        })
        .collect()
}

/// Most non-empty plans before the plan must be empty (SPEC: two passes; one more for an
/// observed start state that needs clean-up first).
const MAX_PASSES: usize = 3;

/// `plan`: from an arbitrary observed source (foreign objects, other links' objects, stale
/// mirrors of another type) and the desired state of an arbitrary target — no Update/Delete of an
/// object without this link's labels, no Create on a name held by a foreign object, deletions of
/// a key before its re-creation, every operation accepted by the fake, foreign objects unchanged,
/// and translate → plan → apply converging in at most [`MAX_PASSES`] plans to an empty one with no
/// orphan left.
///
/// # Panics
/// When a property does not hold.
pub fn check_plan(input: &PlanInput) -> PlanOutcome {
    let link = input.translate.link.build();
    let target = input.translate.target();
    let mut fake = fake_source();
    for observed in &input.observed {
        let (svc, ep) = observed.build(&link);
        // What the API server refuses is simply not in the observed state.
        if let Some(svc) = svc {
            let _ = fake.create(Object::Service(svc));
        }
        if let Some(ep) = ep {
            let _ = fake.create(Object::Endpoints(ep));
        }
    }
    let foreign_before = foreign_objects(&fake.state(), &link);

    let mut passes = 0;
    loop {
        let source = fake.state();
        let t = translate(&link, &target, &source);
        let p = plan(&link, &t.desired, &source);
        if p.is_empty() {
            // No orphan survives: everything of ours is desired.
            let desired = t.desired.keys();
            for o in source.objects() {
                let owned = match &o {
                    Object::Service(s) => is_owned(&s.metadata.labels, &link),
                    Object::Endpoints(e) => is_owned(&e.metadata.labels, &link),
                    _ => false,
                };
                assert!(
                    !owned || desired.contains(&(o.kind(), o.key())),
                    "orphan {} {} survived a converged reconcile",
                    o.kind(),
                    o.key()
                );
            }
            break;
        }
        passes += 1;
        assert!(
            passes <= MAX_PASSES,
            "no convergence in {MAX_PASSES} passes; still planned: {:#?}",
            p.operations
        );
        let mut deleted: BTreeSet<(Kind, ObjectKey)> = BTreeSet::new();
        let mut created: BTreeSet<(Kind, ObjectKey)> = BTreeSet::new();
        for op in &p.operations {
            match op {
                Operation::Update { .. } | Operation::Delete { .. } => {
                    assert!(
                        owned_at(&source, &link, op.kind(), &op.key()),
                        "{} of {} {}, which does not carry this link's labels",
                        op.action(),
                        op.kind(),
                        op.key()
                    );
                    if let Operation::Delete { kind, key, .. } = op {
                        assert!(
                            !created.contains(&(*kind, key.clone())),
                            "{kind} {key} deleted after it was created in the same plan"
                        );
                        deleted.insert((*kind, key.clone()));
                    }
                }
                Operation::Create { object } => {
                    if object.kind() != Kind::Namespace {
                        assert!(
                            !foreign_at(&source, &link, &object.key()),
                            "create {} {} on a name held by a foreign object",
                            object.kind(),
                            object.key()
                        );
                    }
                    created.insert((object.kind(), object.key()));
                }
            }
            if let Err(e) = fake.apply(op) {
                panic!(
                    "the fake refused planned {} {} {}: {e:?}",
                    op.action(),
                    op.kind(),
                    op.key()
                );
            }
        }
    }
    let foreign_after = foreign_objects(&fake.state(), &link);
    assert_eq!(foreign_before, foreign_after, "a foreign object changed");
    PlanOutcome::Converged { passes }
}

/// How a [`check_plan`] run ended (when it did not panic).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanOutcome {
    /// Every property held; the plan was empty after `passes` non-empty plans.
    Converged {
        /// Non-empty plans applied.
        passes: usize,
    },
}
