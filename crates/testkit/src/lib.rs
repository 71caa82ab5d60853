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

mod fields;
mod finding;
pub mod incremental;
pub mod ownership;
pub mod reconcile;

pub use fields::{annotations, fq_name, labels};
pub use finding::{Check, Finding};
pub use incremental::{Incremental, Step, incremental_equals_whole_link, normalized};
pub use ownership::{Owner, foreign_objects, foreign_unchanged, nothing_foreign_touched};
pub use reconcile::{
    CONTRACT_PASSES, Checks, Converged, Pass, STEERING_MARKER, apply_accepted, converge,
    converge_checking, converge_federated, is_steering_key, no_live_mirror_repurposed, no_orphan,
    no_steering_key_copied,
};
