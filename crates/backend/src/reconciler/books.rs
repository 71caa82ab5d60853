//! What the reconciler keeps about its own work: counters, findings, failures, the status of each
//! export, and which of it the published snapshot has not seen yet.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use svcmirror_core::Diagnostic;
use svcmirror_core::model::{Kind, ObjectKey};

use super::status::{DriverStats, DriverStatus, ExportStatus, Failure, Scope};
use crate::error::{ApiError, DriverError};

/// The reconciler's records.
#[derive(Debug, Default)]
pub(crate) struct Books {
    pub(crate) stats: DriverStats,
    pub(crate) diagnostics: Vec<Diagnostic>,
    /// SPEC §7: every name an export was denied (`NameConflict`) since the last whole-link
    /// reconcile, which resets it to exactly the link's denials; a one-export reconcile only adds
    /// to it. A superset is safe: it only widens a reconcile that freed one of these names to the
    /// whole link, where the denied export gets it. Kept apart from `diagnostics`, whose findings
    /// about a name are replaced by any reconcile that touches the name (F15).
    pub(crate) denied_names: BTreeSet<ObjectKey>,
    pub(crate) failures: BTreeMap<(Kind, ObjectKey), Failure>,
    pub(crate) unconverged: BTreeSet<Scope>,
    pub(crate) list_error: Option<DriverError>,
    pub(crate) exports: BTreeMap<ObjectKey, Arc<ExportStatus>>,
    /// Whether a whole-link reconcile has established every export's conditions since the
    /// reconciler started. Until then a healthy export is not news: a restart must not send one
    /// Normal Event per export (thousands of writes to the target for a quiet cluster).
    pub(crate) conditions_known: bool,
    /// The exports whose entry in the published status is out of date: publishing copies only
    /// those, so a one-export event costs O(1) entries, not a copy of every export's status.
    unpublished: Unpublished,
}

/// Which export statuses changed since the last published snapshot.
#[derive(Debug, Default)]
enum Unpublished {
    /// None.
    #[default]
    Nothing,
    /// These.
    Exports(BTreeSet<ObjectKey>),
    /// Possibly all (a whole-link reconcile replaced them).
    All,
}

impl Unpublished {
    fn export(&mut self, key: &ObjectKey) {
        match self {
            Self::Nothing => *self = Self::Exports(BTreeSet::from([key.clone()])),
            Self::Exports(keys) => {
                keys.insert(key.clone());
            }
            Self::All => {}
        }
    }
}

impl Books {
    /// An operation given up.
    pub(crate) fn give_up(
        &mut self,
        action: &'static str,
        kind: Kind,
        key: &ObjectKey,
        error: ApiError,
    ) {
        self.stats.operation_failures += 1;
        self.failures.insert(
            (kind, key.clone()),
            Failure {
                action,
                kind,
                key: key.clone(),
                error,
            },
        );
    }

    /// Replaces the export statuses a reconcile covered (`export`, or every one for the whole
    /// link) with `fresh`; returns the exports whose conditions changed (new ones included,
    /// removed ones not: there is nothing to report on a Service that is gone or no longer
    /// exported).
    pub(crate) fn replace_exports(
        &mut self,
        export: Option<&ObjectKey>,
        mut fresh: BTreeMap<ObjectKey, Arc<ExportStatus>>,
    ) -> Vec<ObjectKey> {
        let changed = |old: Option<&Arc<ExportStatus>>, new: &ExportStatus| {
            old.is_none_or(|old| old.conditions != new.conditions)
        };
        let Some(key) = export else {
            let keys = fresh
                .iter()
                .filter(|(key, new)| changed(self.exports.get(*key), new))
                .map(|(key, _)| key.clone())
                .collect();
            self.exports = fresh;
            self.unpublished = Unpublished::All;
            return keys;
        };
        // A one-export translation holds that export only, if it is still exported.
        self.unpublished.export(key);
        let old = self.exports.remove(key);
        let Some(new) = fresh.remove(key) else {
            return Vec::new();
        };
        let keys = if changed(old.as_ref(), &new) {
            vec![key.clone()]
        } else {
            Vec::new()
        };
        self.exports.insert(key.clone(), new);
        keys
    }

    /// A full snapshot.
    pub(crate) fn status(&self) -> DriverStatus {
        DriverStatus {
            stats: self.stats,
            diagnostics: self.diagnostics.clone(),
            exports: self.exports.clone(),
            failures: self.failures.values().cloned().collect(),
            unconverged: self.unconverged.iter().cloned().collect(),
            list_error: self.list_error.clone(),
        }
    }

    /// Brings `published` up to date: the small parts are copied whole, the export statuses only
    /// where they changed since the last call (each a reference count).
    pub(crate) fn refresh(&mut self, published: &mut DriverStatus) {
        published.stats = self.stats;
        // Compared first: equal findings (the usual case) are not copied again.
        if published.diagnostics != self.diagnostics {
            published.diagnostics.clone_from(&self.diagnostics);
        }
        published.failures = self.failures.values().cloned().collect();
        published.unconverged = self.unconverged.iter().cloned().collect();
        published.list_error.clone_from(&self.list_error);
        match std::mem::take(&mut self.unpublished) {
            Unpublished::Nothing => {}
            Unpublished::All => published.exports.clone_from(&self.exports),
            Unpublished::Exports(keys) => {
                for key in keys {
                    match self.exports.get(&key) {
                        Some(status) => {
                            published.exports.insert(key, Arc::clone(status));
                        }
                        None => {
                            published.exports.remove(&key);
                        }
                    }
                }
            }
        }
    }

    /// Nobody reads the snapshot: the next reader starts from a full [`status`](Self::status).
    pub(crate) fn forget_unpublished(&mut self) {
        self.unpublished = Unpublished::Nothing;
    }
}
