//! One round's translation and plan, from the core: what a reconcile works on ([`Work`]: the
//! whole link, one export, or nothing desired) and the objects each shows the core.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use svcmirror_core::model::ObjectKey;
use svcmirror_core::{Desired, Link, Plan, Translation, conditions, plan, translate};

use super::federation;
use super::status::{ExportStatus, Scope};
use crate::cache::{SourceCache, TargetCache};
use crate::scope::{self, Ambiguous};

/// What one reconcile works on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Work {
    /// The whole link.
    Link,
    /// One export.
    Export(ObjectKey),
    /// Nothing desired: delete everything the link owns.
    RemoveAll,
}

impl Work {
    pub(crate) fn scope(&self) -> Scope {
        match self {
            Self::Export(key) => Scope::Export(key.clone()),
            Self::Link | Self::RemoveAll => Scope::Link,
        }
    }
}

/// One round's translation and plan.
pub(crate) struct Prepared {
    /// The translation, its desired objects moved out (they are planned): outcomes and findings.
    pub(crate) translation: Translation,
    pub(crate) plan: Plan,
    /// For one export: the keys in scope.
    pub(crate) keys: Option<BTreeSet<ObjectKey>>,
}

/// Translates and plans one round of `work` against the caches. `Err` when one export's
/// ownership is unclear (SPEC §7): only the whole link decides then.
pub(crate) fn prepare(
    link: &Link,
    work: &Work,
    target: &TargetCache,
    source: &SourceCache,
) -> Result<Prepared, Ambiguous> {
    match work {
        Work::Link => {
            // Issue 13, the inputs are the store: the core reads both caches in place (no
            // snapshot of every object per resync).
            let mut translation = translate(link, target, source);
            let mut plan = plan(link, &translation.desired, source);
            translation.desired = Desired::default();
            // SPEC §9: this link's share of the federated Services.
            let (fed, fed_plan) = federation::whole_link(link, target, source);
            federation::merge(&mut translation, &mut plan, fed, fed_plan);
            Ok(Prepared {
                translation,
                plan,
                keys: None,
            })
        }
        Work::RemoveAll => Ok(Prepared {
            translation: Translation::default(),
            plan: plan(link, &Desired::default(), source),
            keys: None,
        }),
        Work::Export(export) => {
            let scoped = scope::scope_export(link, export, target, source)?;
            let mut plan = plan(link, &scoped.desired, &scoped.observed);
            let (mut translation, mut keys) = (scoped.translation, scoped.keys);
            let (fed, fed_plan, fed_keys) = federation::one_export(link, export, target, source);
            federation::merge(&mut translation, &mut plan, fed, fed_plan);
            keys.extend(fed_keys);
            Ok(Prepared {
                translation,
                plan,
                keys: Some(keys),
            })
        }
    }
}

/// The core's conditions (SPEC §12) of every export of `translation`, with its outcome.
pub(crate) fn export_statuses(
    translation: &Translation,
    plan: &Plan,
) -> BTreeMap<ObjectKey, Arc<ExportStatus>> {
    let mut by_export = conditions(translation, plan);
    translation
        .exports
        .iter()
        .map(|(key, outcome)| {
            let conditions = by_export.remove(key).unwrap_or_default();
            (
                key.clone(),
                Arc::new(ExportStatus::new(outcome.clone(), conditions)),
            )
        })
        .collect()
}
