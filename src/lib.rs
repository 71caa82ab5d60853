//! # svcmirror
//!
//! Linkerd's multicluster service mirror — headless Services and StatefulSets included — as an
//! embeddable library. This facade re-exports [`svcmirror_core`], the pure translation and plan
//! functions; adapters live in their own crates (`svcmirror-snapshot` for kubectl files,
//! `svcmirror-fake` for an in-memory API server).
//!
//! It must never grow logic of its own: it only re-exports.
pub use svcmirror_core::*;

/// The README's Rust examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
