//! The record of one decision, a leaf module: `translate` writes [`Step`]s while it decides and
//! `explain` hands them out, so neither imports the other for it.

use serde::Serialize;

/// One decision: the rule (named after its SPEC.md section) and what it decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    /// The rule, e.g. `SPEC §6.4 named-address rule`.
    pub rule: &'static str,
    /// What it decided for this Service, for a person.
    pub outcome: String,
}
