//! The driver's share of the federated Services (SPEC §9): every reconcile also plans, with the
//! core's [`federate_as`] and [`plan_federated`], the `<name>-federated` Services this link's
//! members belong to, and the plan is applied with the link's own (same retries, same re-read on a
//! `409 Conflict` — which is how two links' controllers writing one federated Service at once
//! both end up listed).
//!
//! Which source objects a one-export reconcile shows the core is bookkeeping: the federated
//! Service at the export's federated name ([`federated_key`]), nothing else, so the plan cannot
//! touch any other federated Service.

use std::collections::BTreeSet;

use svcmirror_core::model::{Kind, ObjectKey};
use svcmirror_core::{
    FederationWriter, Link, Plan, SourceView, TargetView, Translation, federate_as, federated_key,
    plan_federated,
};

use crate::cache::{SourceCache, TargetCache};

/// The federation's translation and plan for the whole link, against the caches (read in place)
/// or one export's share of them.
pub(super) fn whole_link(
    link: &Link,
    target: &(impl TargetView + ?Sized),
    source: &(impl SourceView + ?Sized),
) -> (Translation, Plan) {
    let mut translation = federate_as(FederationWriter::Link(link), target, source);
    let plan = plan_federated(&translation.desired, source);
    translation.desired = Default::default();
    (translation, plan)
}

/// The federation's translation and plan for one export, and the keys it touched.
pub(super) fn one_export(
    link: &Link,
    export: &ObjectKey,
    target: &TargetCache,
    source: &SourceCache,
) -> (Translation, Plan, BTreeSet<ObjectKey>) {
    let key = federated_key(export);
    let observed = source.subset([(Kind::Service, &key), (Kind::Endpoints, &key)]);
    let (translation, plan) = whole_link(link, &target.export_state(export), &observed);
    (translation, plan, BTreeSet::from([key, export.clone()]))
}

/// Adds the federation's `fed` and `fed_plan` to a link's translation and plan. An export that is
/// both mirrored by the link and a federated member keeps the link's outcome (its status is the
/// mirror's); the federation's findings are kept either way.
pub(super) fn merge(
    translation: &mut Translation,
    plan: &mut Plan,
    fed: Translation,
    fed_plan: Plan,
) {
    for (key, outcome) in fed.exports {
        if !translation.exports.contains_key(&key) {
            if let Some(found) = fed.export_diagnostics.get(&key) {
                translation
                    .export_diagnostics
                    .entry(key.clone())
                    .or_default()
                    .extend(found.iter().cloned());
            }
            translation.exports.insert(key, outcome);
        }
    }
    translation.diagnostics.extend(fed.diagnostics);
    plan.operations.extend(fed_plan.operations);
    plan.diagnostics.extend(fed_plan.diagnostics);
}
