//! # svcmirror-testkit
//!
//! svcmirror's invariants as plain functions, written once and called by both the proptest
//! properties of the root package (`tests/properties*.rs`) and the cargo-fuzz targets (`fuzz/`):
//! proptest strategies cannot drive libFuzzer, shared checks can (STYLE.md habit 13).
//!
//! Every check returns `Result<_, Finding>`: a [`Finding`] names the [`Check`] that failed and
//! says what was seen. proptest turns it into a failed case, a fuzz target into a crash.
//!
//! - [`ownership`]: **nothing foreign is touched** — no update or delete of an object without the
//!   owner's labels (Services, Endpoints, EndpointSlices and Namespaces), no create on a name a
//!   foreign object holds, foreign objects unchanged (SPEC §7 "Ownership").
//! - [`reconcile`]: **the fake accepts everything planned** (any refusal of the in-memory API
//!   server is a finding), **no live mirror is repurposed** (an update never changes which live
//!   export an owned mirror's `remote-svc-fq-name` names: SPEC §7 "Sticky names"), **no steering
//!   key is copied** (SPEC §4 copy deny-list), and **converges within the contract's bound, then
//!   plans nothing, with no orphan left** (SPEC §6.6, §7). It runs no loop of its own: the
//!   whole-link reconcile is the core's `drive` (`drive_federated` for SPEC §9) on an `Apply` that
//!   checks each translation and plan between passes.
//! - [`incremental`]: **an incremental reconcile equals a whole-link one** — the backend's
//!   [`Driver`](svcmirror_backend::Driver) on fakes, fed target events one by one, leaves the
//!   source exactly as a whole-link translate → plan → apply from the same start would.
//!
//! **Must never**: be a dependency of a shipped crate (it is a dev-dependency of the root package
//! and a path dependency of `fuzz/` only, `publish = false`); decide anything about mirroring (it
//! calls the core and the fake and compares); panic on a violation (it returns the finding).
#![deny(missing_docs)]

pub mod incremental;
pub mod ownership;
pub mod reconcile;

use std::fmt;

use svcmirror_core::StringMap;
use svcmirror_core::labels::REMOTE_SVC_FQ_NAME;
use svcmirror_core::model::Object;

pub use incremental::{Incremental, Step, incremental_equals_whole_link, normalized};
pub use ownership::{Owner, foreign_objects, foreign_unchanged, nothing_foreign_touched};
pub use reconcile::{
    CONTRACT_PASSES, Checks, Converged, Pass, STEERING_MARKER, apply_accepted, converge,
    converge_checking, converge_federated, is_steering_key, no_live_mirror_repurposed, no_orphan,
    no_steering_key_copied,
};

/// Which invariant a [`Finding`] breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Check {
    /// An update or delete of an object without the owner's labels, a create on a foreign name,
    /// or a foreign object changed (SPEC §7 "Ownership").
    ForeignTouched,
    /// The fake (the API server's rules) refused a planned operation.
    FakeRefused,
    /// An update changed which live export an owned mirror serves (SPEC §7 "Sticky names").
    MirrorRepurposed,
    /// A label or annotation of the copy deny-list reached a mirror (SPEC §4).
    SteeringKeyCopied,
    /// No empty plan within the bound (SPEC §6.6).
    NoConvergence,
    /// An object of ours survived a converged reconcile without being desired (SPEC §7 "Orphans").
    Orphan,
    /// The incremental (one export) reconcile left the source other than a whole-link one.
    IncrementalDiffers,
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::ForeignTouched => "nothing foreign is touched",
            Self::FakeRefused => "the fake accepts everything planned",
            Self::MirrorRepurposed => "no live mirror is repurposed",
            Self::SteeringKeyCopied => "no steering key is copied",
            Self::NoConvergence => "converges within the bound, then plans nothing",
            Self::Orphan => "no orphan survives",
            Self::IncrementalDiffers => "an incremental reconcile equals a whole-link one",
        })
    }
}

/// A broken invariant: which one, and what was seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The invariant.
    pub check: Check,
    /// What was seen (objects named by kind and key).
    pub message: String,
}

impl Finding {
    /// A finding of `check`.
    #[must_use]
    pub fn new(check: Check, message: impl Into<String>) -> Self {
        Self {
            check,
            message: message.into(),
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invariant \"{}\" broken: {}", self.check, self.message)
    }
}

impl std::error::Error for Finding {}

/// The labels of any object.
#[must_use]
pub fn labels(object: &Object) -> &StringMap {
    match object {
        Object::Namespace(ns) => &ns.metadata.labels,
        Object::Service(s) => &s.metadata.labels,
        Object::Endpoints(e) => &e.metadata.labels,
        Object::EndpointSlice(e) => &e.metadata.labels,
    }
}

/// The annotations of a namespaced object (a Namespace has none in the model).
#[must_use]
pub fn annotations(object: &Object) -> Option<&StringMap> {
    match object {
        Object::Namespace(_) => None,
        Object::Service(s) => Some(&s.metadata.annotations),
        Object::Endpoints(e) => Some(&e.metadata.annotations),
        Object::EndpointSlice(e) => Some(&e.metadata.annotations),
    }
}

/// The `mirror.linkerd.io/remote-svc-fq-name` of an object: the export it serves.
#[must_use]
pub fn fq_name(object: &Object) -> Option<&String> {
    annotations(object)?.get(REMOTE_SVC_FQ_NAME)
}
