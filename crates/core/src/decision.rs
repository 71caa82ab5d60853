//! The record of a translation's decisions (SPEC §10 diagnostics, §12 `explain`): each rule hands
//! back a [`Decision`] — the finding it made, worded once beside the rule — and the [`Record`]
//! files it both as the finding and, when the export is traced, as its `explain` step. Steps
//! without a finding are worded only when traced ([`Record::note`]), so an untraced translation
//! formats nothing.
//!
//! Imports only the leaf types it records ([`Step`], [`Diagnostic`]): every rule module may use
//! it, and it uses none of them.

use crate::diagnostics::Diagnostic;
use crate::model::ObjectKey;
use crate::trace::Step;

/// One decision that yields a finding: the rule that took it, the finding, and — only where
/// `explain` words it otherwise than `<message> (<reason>)` — its step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Decision {
    rule: &'static str,
    step: Option<String>,
    finding: Diagnostic,
}

impl Decision {
    /// A decision whose `explain` step is the finding itself: `<message> (<reason>)`.
    pub(crate) fn new(rule: &'static str, finding: Diagnostic) -> Self {
        Self {
            rule,
            step: None,
            finding,
        }
    }

    /// A decision whose `explain` step says it in the rule's own words (`step`).
    pub(crate) fn worded(rule: &'static str, step: String, finding: Diagnostic) -> Self {
        Self {
            rule,
            step: Some(step),
            finding,
        }
    }

    /// What `explain` shows for it.
    pub(crate) fn step(&self) -> String {
        match &self.step {
            Some(step) => step.clone(),
            None => format!("{} ({})", self.finding.message, self.finding.reason),
        }
    }

    /// The finding.
    #[cfg(test)]
    pub(crate) fn finding(&self) -> &Diagnostic {
        &self.finding
    }
}

/// The decisions recorded for the traced export.
#[derive(Debug)]
struct Trace {
    key: ObjectKey,
    active: bool,
    steps: Vec<Step>,
}

/// The findings of a translation, and the steps of the one traced export.
#[derive(Debug, Default)]
pub(crate) struct Record {
    trace: Option<Trace>,
    /// Every finding, in the order found.
    pub(crate) diagnostics: Vec<Diagnostic>,
}

impl Record {
    /// A record that traces the export `traced`, if any.
    pub(crate) fn new(traced: Option<&ObjectKey>) -> Self {
        Self {
            trace: traced.map(|key| Trace {
                key: key.clone(),
                active: false,
                steps: Vec::new(),
            }),
            diagnostics: Vec::new(),
        }
    }

    /// Starts the decisions about `key`: recorded as steps when it is the traced export.
    pub(crate) fn begin(&mut self, key: &ObjectKey) {
        if let Some(trace) = &mut self.trace {
            trace.active = &trace.key == key;
        }
    }

    /// Ends the decisions about the current export.
    pub(crate) fn end(&mut self) {
        if let Some(trace) = &mut self.trace {
            trace.active = false;
        }
    }

    /// Whether the current export is traced.
    pub(crate) fn tracing(&self) -> bool {
        self.trace.as_ref().is_some_and(|t| t.active)
    }

    /// A step without a finding; `outcome` is worded only when the export is traced.
    pub(crate) fn note(&mut self, rule: &'static str, outcome: impl FnOnce() -> String) {
        if let Some(trace) = self.trace.as_mut().filter(|t| t.active) {
            trace.steps.push(Step {
                rule,
                outcome: outcome(),
            });
        }
    }

    /// A decision: its step when traced, and its finding.
    pub(crate) fn decide(&mut self, decision: Decision) {
        if self.tracing() {
            let outcome = decision.step();
            self.note(decision.rule, || outcome);
        }
        self.diagnostics.push(decision.finding);
    }

    /// A finding no rule of this export words as a step (an input problem found by `validate`).
    pub(crate) fn find(&mut self, finding: Diagnostic) {
        self.diagnostics.push(finding);
    }

    /// A decision about `export` taken over the whole link, after its own steps (SPEC §8 limits):
    /// its step when `export` is the traced one, and its finding.
    pub(crate) fn decide_late(&mut self, export: &ObjectKey, decision: Decision) {
        if let Some(trace) = self.trace.as_mut().filter(|t| &t.key == export) {
            trace.steps.push(Step {
                rule: decision.rule,
                outcome: decision.step(),
            });
        }
        self.diagnostics.push(decision.finding);
    }

    /// The traced export's steps, in the order decided.
    pub(crate) fn take_steps(&mut self) -> Vec<Step> {
        self.trace
            .take()
            .map(|trace| trace.steps)
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostics::{Reason, Severity};
    use crate::model::Kind;

    fn finding() -> Diagnostic {
        Diagnostic::new(
            Reason::NoGateway,
            Severity::Error,
            Kind::Service,
            ObjectKey::new("ns", "web"),
            "the link has no gateway address",
        )
    }

    /// SPEC §12 explain: a decision is worded once — its step is its finding's message and reason
    /// unless the rule words the step itself — and only the traced export gets steps.
    #[test]
    fn a_decision_is_one_finding_and_the_traced_exports_step() {
        let web = ObjectKey::new("ns", "web");
        let mut record = Record::new(Some(&web));
        record.begin(&ObjectKey::new("ns", "other"));
        record.note("SPEC §5 ports", || {
            unreachable!("not traced: never worded")
        });
        record.decide(Decision::new("SPEC §2 gateway-less link", finding()));
        record.end();
        record.begin(&web);
        record.decide(Decision::new("SPEC §2 gateway-less link", finding()));
        record.decide(Decision::worded(
            "SPEC §2 gateway-less link",
            "in other words".to_owned(),
            finding(),
        ));
        record.end();
        assert_eq!(record.diagnostics, vec![finding(); 3]);
        let steps = record.take_steps();
        assert_eq!(
            steps.iter().map(|s| s.outcome.as_str()).collect::<Vec<_>>(),
            [
                "the link has no gateway address (NoGateway)",
                "in other words"
            ]
        );
    }
}
