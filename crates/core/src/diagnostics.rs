//! SPEC §10: diagnostics are data — a reason code, a severity, the object, the field, a message.

use std::fmt;

use serde::Serialize;

use crate::model::{Kind, ObjectKey};

/// Why something was mirrored differently or not at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[non_exhaustive]
pub enum Reason {
    /// A headless export without ports (SPEC §6.2): not mirrored.
    NoPorts,
    /// A headless export with no named address (SPEC §6.4), or headless services disabled: mirrored
    /// as ClusterIP.
    MirroredAsClusterIp,
    /// A malformed target object or field (SPEC §8).
    InvalidObject,
    /// A hostname that cannot form a DNS label (SPEC §3).
    InvalidHostname,
    /// The same hostname twice in one Endpoints (SPEC §6.7).
    HostnameConflict,
    /// A desired name held by an object we do not own (SPEC §7).
    NameConflict,
    /// A name over 63 characters was shortened (SPEC §3).
    NameShortened,
    /// The source namespace does not exist (SPEC §7).
    NamespaceMissing,
    /// A Service that cannot be mirrored in the requested mode (SPEC §9).
    InvalidService,
    /// An export over one of the link's limits (SPEC §8, [`Limits`](crate::Limits)): not mirrored, or
    /// truncated; the message names the limit and the `LinkSpec` field that raises it.
    LimitExceeded,
    /// A gateway-mode export under a link without gateway address (SPEC §2): not mirrored.
    NoGateway,
}

impl Reason {
    /// The reason code as written in SPEC.md.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoPorts => "NoPorts",
            Self::MirroredAsClusterIp => "MirroredAsClusterIp",
            Self::InvalidObject => "InvalidObject",
            Self::InvalidHostname => "InvalidHostname",
            Self::HostnameConflict => "HostnameConflict",
            Self::NameConflict => "NameConflict",
            Self::NameShortened => "NameShortened",
            Self::NamespaceMissing => "NamespaceMissing",
            Self::InvalidService => "InvalidService",
            Self::LimitExceeded => "LimitExceeded",
            Self::NoGateway => "NoGateway",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Mirrored, but differently from what the target suggests.
    Warning,
    /// Not mirrored (the object, or a part of it, was rejected).
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Warning => "warning",
            Self::Error => "error",
        })
    }
}

/// One finding about one object.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Diagnostic {
    /// The reason code.
    pub reason: Reason,
    /// Warning or error.
    pub severity: Severity,
    /// The kind of the object concerned.
    pub kind: Kind,
    /// The object concerned (`namespace/name`).
    pub object: ObjectKey,
    /// The field path inside the object (`subsets[0].addresses[1].ip`), when one field is at fault.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// What happened, for a person.
    pub message: String,
}

impl Diagnostic {
    /// A diagnostic without a field.
    #[must_use]
    pub fn new(
        reason: Reason,
        severity: Severity,
        kind: Kind,
        object: ObjectKey,
        message: impl Into<String>,
    ) -> Self {
        Self {
            reason,
            severity,
            kind,
            object,
            field: None,
            message: message.into(),
        }
    }

    /// The same diagnostic, naming the field at fault.
    #[must_use]
    pub fn at(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} {} {}",
            self.severity, self.reason, self.kind, self.object
        )?;
        if let Some(field) = &self.field {
            write!(f, " {field}")?;
        }
        write!(f, ": {}", self.message)
    }
}
