//! What a check returns when an invariant breaks: a [`Finding`] naming its [`Check`]. A leaf: every
//! check module imports it, the crate root re-exports it.

use std::fmt;

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
