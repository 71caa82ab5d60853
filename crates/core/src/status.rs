//! SPEC §12 (honest status): per exported Service, conditions in the MCS API's vocabulary.
//!
//! Linkerd reports every mirrored headless Service as failed on the Link status; users know the MCS
//! API's `Valid` / `Ready` / `Conflict` conditions. [`conditions`] computes, from a [`Translation`]
//! and the [`Plan`] made from it, three conditions per exported Service (every key of
//! [`Translation::exports`]):
//!
//! | type | `True` | `False` |
//! |---|---|---|
//! | `Valid` | reason `Valid` | reason = the core's code (`InvalidObject`, `InvalidHostname`, `NoPorts`, `InvalidService`, `LimitExceeded`) of the first finding about the export's own definition, errors first |
//! | `Mirrored` | its objects are in the desired state: reason `Mirrored` (or `MirroredAsClusterIp` when a headless export became a ClusterIP mirror) | reason `WaitingForEndpoints`, `NameConflict`, `NamespaceMissing`, `LimitExceeded` (not mirrored, or cut to the link's limits: SPEC §8), `NoPorts`, `InvalidObject`, `InvalidService`, or `Pending` when the plan still has operations for its objects (a write that failed stays planned: the export is not `Mirrored` until it succeeds) |
//! | `Conflict` | reason `NameConflict` / `HostnameConflict` | reason `NoConflicts` |
//!
//! A headless export mirrored as the spec says reports `Mirrored=True` (Linkerd differs). Pure
//! data: the controller turns changes into Events and metrics; nothing here reads a clock, so
//! `lastTransitionTime` is the writer's business. Leftover endpoint mirrors that the plan deletes as
//! orphans are not attributed to an export (a Delete names no export): the export's own objects —
//! Services, Endpoints and, when the link writes them, EndpointSlices — are what `Mirrored`
//! describes.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::diagnostics::{Diagnostic, Reason, Severity};
use crate::model::{Kind, ObjectKey};
use crate::plan::{Operation, Plan};
use crate::translate::{ExportOutcome, MirrorMode, Translation};

/// The three condition types (MCS API vocabulary; `Mirrored` is the MCS `Ready`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ConditionType {
    /// The exported Service can be mirrored as it is defined.
    Valid,
    /// The source holds the export's objects as desired.
    Mirrored,
    /// A name the export needs is taken, or two pods share a hostname.
    Conflict,
}

/// A condition's status, as Kubernetes spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ConditionStatus {
    /// `True`.
    True,
    /// `False`.
    False,
}

impl From<bool> for ConditionStatus {
    fn from(b: bool) -> Self {
        if b { Self::True } else { Self::False }
    }
}

/// One condition of one exported Service: `metav1.Condition` without the time and generation,
/// which the writer owns.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Condition {
    /// The condition type.
    #[serde(rename = "type")]
    pub type_: ConditionType,
    /// True or False.
    pub status: ConditionStatus,
    /// A CamelCase reason: a [`Reason`] code, or `Valid`, `Mirrored`, `Pending`, `NoConflicts`.
    pub reason: String,
    /// For a person.
    pub message: String,
}

impl Condition {
    fn new(
        type_: ConditionType,
        status: bool,
        reason: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            type_,
            status: status.into(),
            reason: reason.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?}={:?} ({}): {}",
            self.type_, self.status, self.reason, self.message
        )
    }
}

/// Findings about an export's own definition.
const VALIDITY: [Reason; 5] = [
    Reason::InvalidObject,
    Reason::InvalidHostname,
    Reason::NoPorts,
    Reason::InvalidService,
    Reason::LimitExceeded,
];
/// Why an export was not mirrored, most decisive first.
const BLOCKING: [Reason; 7] = [
    Reason::NameConflict,
    Reason::NamespaceMissing,
    Reason::LimitExceeded,
    Reason::NoGateway,
    Reason::NoPorts,
    Reason::InvalidObject,
    Reason::InvalidService,
];
const CONFLICTS: [Reason; 2] = [Reason::NameConflict, Reason::HostnameConflict];

/// SPEC §12: `Valid`, `Mirrored` and `Conflict` for every exported Service of `translation`, given
/// the plan made from it (an empty plan: the source holds the desired state). Works alike for a
/// link's translation with [`crate::plan()`] and for [`crate::federate()`] with
/// [`crate::plan_federated`].
#[must_use]
pub fn conditions(translation: &Translation, plan: &Plan) -> BTreeMap<ObjectKey, Vec<Condition>> {
    translation
        .exports
        .iter()
        .map(|(key, outcome)| {
            let found = translation
                .export_diagnostics
                .get(key)
                .map_or(&[][..], Vec::as_slice);
            (key.clone(), export_conditions(key, outcome, found, plan))
        })
        .collect()
}

/// The conditions of one export.
pub(crate) fn export_conditions(
    key: &ObjectKey,
    outcome: &ExportOutcome,
    found: &[Diagnostic],
    plan: &Plan,
) -> Vec<Condition> {
    let objects = outcome.object_keys(&key.namespace);
    let slices = outcome.slice_keys(&key.namespace);
    let pending: Vec<&Operation> = plan
        .operations
        .iter()
        .filter(|op| match op.kind() {
            Kind::Namespace => op.key().name == key.namespace && outcome.mirror.is_some(),
            Kind::Service | Kind::Endpoints => objects.contains(&op.key()),
            Kind::EndpointSlice => slices.contains(&op.key()),
        })
        .collect();
    let plan_conflicts: Vec<&Diagnostic> = plan
        .diagnostics
        .iter()
        .filter(|d| {
            d.reason == Reason::NameConflict
                && match d.kind {
                    Kind::EndpointSlice => slices.contains(&d.object),
                    _ => objects.contains(&d.object),
                }
        })
        .collect();
    let findings: Vec<&Diagnostic> = found.iter().chain(plan_conflicts).collect();
    vec![
        valid(&findings),
        mirrored(outcome, &findings, &pending),
        conflict(&findings),
    ]
}

fn first_of<'d>(findings: &[&'d Diagnostic], reasons: &[Reason]) -> Option<&'d Diagnostic> {
    // Errors first, then in the order the reasons are listed.
    [Severity::Error, Severity::Warning]
        .iter()
        .flat_map(|severity| {
            reasons.iter().flat_map(move |reason| {
                findings
                    .iter()
                    .find(|d| d.severity == *severity && d.reason == *reason)
            })
        })
        .next()
        .copied()
}

fn with_more(d: &Diagnostic, all: usize) -> String {
    let subject = match &d.field {
        Some(field) => format!("{} {} {field}: {}", d.kind, d.object, d.message),
        None => format!("{} {}: {}", d.kind, d.object, d.message),
    };
    if all > 1 {
        format!("{subject} (and {} more)", all - 1)
    } else {
        subject
    }
}

fn valid(findings: &[&Diagnostic]) -> Condition {
    let invalid: Vec<&Diagnostic> = findings
        .iter()
        .copied()
        .filter(|d| VALIDITY.contains(&d.reason))
        .collect();
    match first_of(&invalid, &VALIDITY) {
        Some(d) => Condition::new(
            ConditionType::Valid,
            false,
            d.reason.as_str(),
            with_more(d, invalid.len()),
        ),
        None => Condition::new(
            ConditionType::Valid,
            true,
            "Valid",
            "the exported Service can be mirrored as defined",
        ),
    }
}

fn mirrored(
    outcome: &ExportOutcome,
    findings: &[&Diagnostic],
    pending: &[&Operation],
) -> Condition {
    let not = |reason: &str, message: String| {
        Condition::new(ConditionType::Mirrored, false, reason, message)
    };
    match outcome.mode {
        MirrorMode::WaitingForEndpoints => {
            return not(
                "WaitingForEndpoints",
                "headless export without Endpoints (or subsets) yet: nothing is created until it has some (SPEC §6.3)".into(),
            );
        }
        MirrorMode::NotMirrored => {
            let errors: Vec<&Diagnostic> = findings
                .iter()
                .copied()
                .filter(|d| d.severity == Severity::Error)
                .collect();
            return match first_of(&errors, &BLOCKING) {
                Some(d) => not(d.reason.as_str(), with_more(d, 1)),
                None => not("NotMirrored", "not mirrored".into()),
            };
        }
        _ => {}
    }
    let mirror = outcome.mirror.as_deref().unwrap_or_default();
    if let Some(d) = findings
        .iter()
        .find(|d| d.reason == Reason::NameConflict && d.object.name == mirror)
    {
        return not("NameConflict", with_more(d, 1));
    }
    // SPEC §8: an export cut to the link's limits is not wholly mirrored.
    if let Some(d) = findings
        .iter()
        .find(|d| d.reason == Reason::LimitExceeded && d.severity == Severity::Error)
    {
        return not("LimitExceeded", with_more(d, 1));
    }
    if !pending.is_empty() {
        let ops: Vec<String> = pending
            .iter()
            .map(|op| format!("{} {} {}", op.action(), op.kind(), op.key()))
            .collect();
        return not(
            "Pending",
            format!("{} operation(s) to apply: {}", ops.len(), ops.join(", ")),
        );
    }
    let what = match outcome.mode {
        MirrorMode::Headless => format!(
            "headless root mirror {mirror} with {} endpoint mirror(s)",
            outcome.endpoint_mirrors.len()
        ),
        MirrorMode::RemoteDiscovery => format!("remote-discovery mirror {mirror}"),
        MirrorMode::Federated => format!("federated Service {mirror}"),
        _ => format!("ClusterIP mirror {mirror}"),
    };
    match findings
        .iter()
        .find(|d| d.reason == Reason::MirroredAsClusterIp)
    {
        Some(d) => Condition::new(
            ConditionType::Mirrored,
            true,
            "MirroredAsClusterIp",
            format!("{what} is in place; {}", d.message),
        ),
        None => Condition::new(
            ConditionType::Mirrored,
            true,
            "Mirrored",
            format!("{what} is in place"),
        ),
    }
}

fn conflict(findings: &[&Diagnostic]) -> Condition {
    let conflicts: Vec<&Diagnostic> = findings
        .iter()
        .copied()
        .filter(|d| CONFLICTS.contains(&d.reason))
        .collect();
    match first_of(&conflicts, &CONFLICTS) {
        Some(d) => Condition::new(
            ConditionType::Conflict,
            true,
            d.reason.as_str(),
            with_more(d, conflicts.len()),
        ),
        None => Condition::new(
            ConditionType::Conflict,
            false,
            "NoConflicts",
            "no name or hostname conflict",
        ),
    }
}
