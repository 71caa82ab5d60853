//! Events about an exported Service's status (SPEC §12, honest status), for the target cluster.
//!
//! When the conditions of an export change, the driver hands one [`StatusEvent`] to
//! [`TargetCluster::record_event`](crate::TargetCluster::record_event): a `core/v1` Event on the
//! exported Service, as `kubectl describe service` shows it. The conditions are the core's
//! ([`svcmirror_core::status`]); this module only picks which one the Event reports and names the
//! Event. It reads no clock: timestamps are the backend's business.

use std::fmt;

use svcmirror_core::model::{ObjectKey, ObjectMeta};
use svcmirror_core::{Condition, ConditionStatus, ConditionType, stable_hash_hex};

/// `source.component` and `reportingComponent` of every Event svcmirror records.
pub const REPORTING_COMPONENT: &str = "svcmirror";

/// An Event's `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum EventType {
    /// The export is mirrored, or waiting for Endpoints as the spec says it should.
    Normal,
    /// The export is invalid, in conflict, or not (yet) mirrored for a reason a person must see.
    Warning,
}

impl EventType {
    /// `Normal` or `Warning`, as Kubernetes spells it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Normal => "Normal",
            Self::Warning => "Warning",
        }
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One Event about one exported Service, ready for a backend to write: everything but the
/// timestamps and the count.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StatusEvent {
    /// The Event's own name, in the Service's namespace: `<service>.<16 hex digits>`, a stable
    /// hash of the Service's uid, the type, reason and message. The same report about the same
    /// Service therefore always has the same name, so a backend aggregates a repeat into the
    /// existing Event (as Kubernetes' own recorders do) instead of creating another.
    pub name: String,
    /// The exported Service (`involvedObject`), namespace and name.
    pub service: ObjectKey,
    /// Its `metadata.uid`, when known.
    pub uid: Option<String>,
    /// Its `metadata.resourceVersion`, when known.
    pub resource_version: Option<String>,
    /// `Normal` or `Warning`.
    pub type_: EventType,
    /// The reason of the condition reported (`Mirrored`, `NoPorts`, `NameConflict`, …).
    pub reason: String,
    /// For a person: the condition, e.g. `Mirrored=True: headless root mirror … is in place`.
    pub message: String,
}

impl StatusEvent {
    /// The Event reporting `conditions` (one export's, as [`svcmirror_core::conditions`] gives
    /// them) on the exported Service whose metadata is `service`: the most telling condition —
    /// `Valid=False`, else `Conflict=True`, else `Mirrored`. `None` when there is no `Mirrored`
    /// condition to fall back on (never for the core's conditions).
    #[must_use]
    pub fn for_export(service: &ObjectMeta, conditions: &[Condition]) -> Option<Self> {
        let find = |type_: ConditionType, status: ConditionStatus| {
            conditions
                .iter()
                .find(|c| c.type_ == type_ && c.status == status)
        };
        let (condition, type_) = if let Some(c) = find(ConditionType::Valid, ConditionStatus::False)
        {
            (c, EventType::Warning)
        } else if let Some(c) = find(ConditionType::Conflict, ConditionStatus::True) {
            (c, EventType::Warning)
        } else if let Some(c) = find(ConditionType::Mirrored, ConditionStatus::True) {
            (c, EventType::Normal)
        } else {
            let c = find(ConditionType::Mirrored, ConditionStatus::False)?;
            // SPEC §6.3: a headless export without Endpoints yet is waiting, not failing.
            let type_ = if c.reason == "WaitingForEndpoints" {
                EventType::Normal
            } else {
                EventType::Warning
            };
            (c, type_)
        };
        let message = format!(
            "{:?}={:?}: {}",
            condition.type_, condition.status, condition.message
        );
        let uid = service.uid.clone();
        let hashed = format!(
            "{}\n{type_}\n{}\n{message}",
            uid.as_deref().unwrap_or_default(),
            condition.reason
        );
        Some(Self {
            name: format!("{}.{}", service.name, stable_hash_hex(&hashed)),
            service: service.key(),
            uid,
            resource_version: service.resource_version.clone(),
            type_,
            reason: condition.reason.clone(),
            message,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn condition(type_: ConditionType, status: bool, reason: &str) -> Condition {
        Condition {
            type_,
            status: status.into(),
            reason: reason.into(),
            message: format!("{reason} message"),
        }
    }

    fn service(uid: &str) -> ObjectMeta {
        ObjectMeta {
            name: "nginx-svc".into(),
            namespace: "default".into(),
            uid: Some(uid.into()),
            resource_version: Some("42".into()),
            ..ObjectMeta::default()
        }
    }

    fn conditions(
        valid: (bool, &str),
        mirrored: (bool, &str),
        conflict: (bool, &str),
    ) -> Vec<Condition> {
        vec![
            condition(ConditionType::Valid, valid.0, valid.1),
            condition(ConditionType::Mirrored, mirrored.0, mirrored.1),
            condition(ConditionType::Conflict, conflict.0, conflict.1),
        ]
    }

    fn headline(c: &[Condition]) -> (EventType, String) {
        let e = StatusEvent::for_export(&service("u-1"), c).expect("an event");
        (e.type_, e.reason)
    }

    #[test]
    fn the_event_reports_invalid_then_conflict_then_mirrored() {
        let ok = (true, "Valid");
        let none = (false, "NoConflicts");
        assert_eq!(
            headline(&conditions(ok, (true, "Mirrored"), none)),
            (EventType::Normal, "Mirrored".into())
        );
        assert_eq!(
            headline(&conditions(ok, (true, "MirroredAsClusterIp"), none)),
            (EventType::Normal, "MirroredAsClusterIp".into())
        );
        assert_eq!(
            headline(&conditions(ok, (false, "WaitingForEndpoints"), none)),
            (EventType::Normal, "WaitingForEndpoints".into())
        );
        assert_eq!(
            headline(&conditions(ok, (false, "Pending"), none)),
            (EventType::Warning, "Pending".into())
        );
        assert_eq!(
            headline(&conditions(
                ok,
                (false, "NameConflict"),
                (true, "NameConflict")
            )),
            (EventType::Warning, "NameConflict".into())
        );
        assert_eq!(
            headline(&conditions(
                (false, "NoPorts"),
                (false, "NoPorts"),
                (true, "HostnameConflict")
            )),
            (EventType::Warning, "NoPorts".into())
        );
        assert!(StatusEvent::for_export(&service("u-1"), &[]).is_none());
    }

    #[test]
    fn the_name_is_stable_and_differs_by_report_and_by_service_uid() {
        let healthy = conditions((true, "Valid"), (true, "Mirrored"), (false, "NoConflicts"));
        let pending = conditions((true, "Valid"), (false, "Pending"), (false, "NoConflicts"));
        let event = |uid: &str, c: &[Condition]| {
            StatusEvent::for_export(&service(uid), c).expect("an event")
        };
        let a = event("u-1", &healthy);
        assert_eq!(a, event("u-1", &healthy));
        assert!(a.name.starts_with("nginx-svc."), "{}", a.name);
        assert_eq!(a.name.len(), "nginx-svc.".len() + svcmirror_core::HASH_LEN);
        assert_ne!(a.name, event("u-1", &pending).name);
        assert_ne!(a.name, event("u-2", &healthy).name);
        assert_eq!(a.service, ObjectKey::new("default", "nginx-svc"));
        assert_eq!(a.resource_version.as_deref(), Some("42"));
        assert_eq!(a.message, "Mirrored=True: Mirrored message");
    }
}
