//! SPEC §12 (dry-run): "what will this link do with this Service, and why?"
//!
//! [`explain`] runs the very [`crate::translate()`] the mirror runs, with one exported Service
//! traced: each rule that decides about it records a [`Step`] as it decides. The answer can
//! therefore never drift from what `translate` does — there is no second implementation of the
//! rules here, only the record of the first one — and it includes everything that depends on the
//! other exports too (a name another export claimed first, for instance).

use serde::Serialize;

use crate::diagnostics::{Diagnostic, Reason};
use crate::link::Link;
use crate::model::{Kind, Object, ObjectKey};
use crate::plan::{Operation, plan};
use crate::status::{Condition, export_conditions};
use crate::trace::Step;
use crate::translate::{ExportOutcome, translate_traced};
use crate::view::{SourceView, TargetView};

/// The decision path for one target Service, and what it yields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Explanation {
    /// The target Service explained.
    pub service: ObjectKey,
    /// The rules that decided, in the order they decided.
    pub steps: Vec<Step>,
    /// How it was mirrored; `None` when this link does not export it (the steps say which
    /// selectors were tried against which labels).
    pub outcome: Option<ExportOutcome>,
    /// The objects it yields in the source this pass — Services, Endpoints and, when the link
    /// writes them, EndpointSlices (a headless export's root Endpoints gain
    /// their hostnames once the source allocated the endpoint mirrors' ClusterIPs: SPEC §6.6).
    pub objects: Vec<Object>,
    /// The operations of the link's plan that concern those objects.
    pub operations: Vec<Operation>,
    /// Its conditions (SPEC §12, [`conditions`](crate::conditions())); empty when not exported.
    pub conditions: Vec<Condition>,
    /// The findings about it (translation and plan).
    pub diagnostics: Vec<Diagnostic>,
}

impl Explanation {
    /// Whether this link exports the Service (by the export or the remote-discovery selector).
    #[must_use]
    pub fn exported(&self) -> bool {
        self.outcome.is_some()
    }
}

/// Explains what `link` does with the target Service `service`, given what the source holds: the
/// decision path recorded by [`crate::translate()`] itself, the objects, the planned operations
/// and the conditions. `None` when the target holds no Service `service`.
#[must_use]
pub fn explain(
    link: &Link,
    target: &(impl TargetView + ?Sized),
    source: &(impl SourceView + ?Sized),
    service: &ObjectKey,
) -> Option<Explanation> {
    if !target.each_service().any(|s| &s.metadata.key() == service) {
        return None;
    }
    let (translation, steps) = translate_traced(link, target, source, Some(service));
    let plan = plan(link, &translation.desired, source);
    let outcome = translation.exports.get(service).cloned();
    let Some(export) = &outcome else {
        return Some(Explanation {
            service: service.clone(),
            steps,
            outcome,
            objects: Vec::new(),
            operations: Vec::new(),
            conditions: Vec::new(),
            diagnostics: translation
                .diagnostics
                .iter()
                .filter(|d| &d.object == service)
                .cloned()
                .collect(),
        });
    };
    let keys = export.object_keys(&service.namespace);
    let mut objects: Vec<Object> = Vec::new();
    if export.mirror.is_some()
        && let Some(ns) = translation.desired.namespaces.get(&service.namespace)
    {
        objects.push(Object::Namespace(ns.clone()));
    }
    objects.extend(
        keys.iter()
            .filter_map(|k| translation.desired.service(k))
            .map(|s| Object::Service(s.into_owned())),
    );
    objects.extend(
        keys.iter()
            .filter_map(|k| translation.desired.endpoints_object(k))
            .map(|e| Object::Endpoints(e.into_owned())),
    );
    let slice_keys = export.slice_keys(&service.namespace);
    objects.extend(
        slice_keys
            .iter()
            .filter_map(|k| translation.desired.endpoint_slices.get(k))
            .cloned()
            .map(Object::EndpointSlice),
    );
    objects.sort_by_key(|o| (o.kind(), o.key()));
    let operations = plan
        .operations
        .iter()
        .filter(|op| match op.kind() {
            Kind::Namespace => objects.iter().any(|o| o.kind() == Kind::Namespace),
            Kind::Service | Kind::Endpoints => keys.contains(&op.key()),
            Kind::EndpointSlice => slice_keys.contains(&op.key()),
        })
        .cloned()
        .collect();
    let found = translation
        .export_diagnostics
        .get(service)
        .map_or(&[][..], Vec::as_slice);
    let mut diagnostics = found.to_vec();
    diagnostics.extend(
        plan.diagnostics
            .iter()
            .filter(|d| {
                d.reason == Reason::NameConflict
                    && (keys.contains(&d.object) || slice_keys.contains(&d.object))
            })
            .cloned(),
    );
    diagnostics.sort();
    diagnostics.dedup();
    Some(Explanation {
        service: service.clone(),
        steps,
        conditions: export_conditions(service, export, found, &plan),
        outcome,
        objects,
        operations,
        diagnostics,
    })
}
