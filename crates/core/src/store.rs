//! The inputs as stores (issue 13, STYLE "the inputs are the store"): the target's and the
//! observed source's objects keyed per kind and updated in place as events arrive
//! ([`TargetStore::upsert`]/[`SourceStore::upsert`], `remove`, [`FromIterator`]), the source
//! with an index by export, so one export's objects are found without a scan
//! ([`SourceStore::annotated_for`], [`SourceStore::labelled_with_root`]). Both implement the
//! lookups and views of [`crate::view`], so the core reads them in place, walking each kind by key;
//! [`TargetState`]/[`SourceState`] are the same inputs as lists (a file, a List call), and
//! [`TargetStore::state`] a target store's snapshot in that form, in the same order. The source
//! store keeps its objects as compact records ([`crate::record`], issue 13 item 3).

use std::collections::{BTreeMap, BTreeSet};

use crate::model::{Endpoints, Kind, Object, ObjectKey, Service};
use crate::state::TargetState;
use crate::view::{TargetLookup, TargetView};

pub use crate::source_store::SourceStore;

/// A within-process hash of `(namespace, base)` for [`TargetStore`]'s count of mirror-name bases
/// (`DefaultHasher::new()` has fixed keys: deterministic, no randomness).
fn base_hash(namespace: &str, base: &str) -> u64 {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let mut h = DefaultHasher::new();
    (namespace, base).hash(&mut h);
    h.finish()
}

/// The target cluster's Services and Endpoints, by key, with a count of the exports that may
/// want each mirror name ([`TargetStore::contested`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetStore {
    services: BTreeMap<ObjectKey, Service>,
    endpoints: BTreeMap<ObjectKey, Endpoints>,
    /// Hash of `(namespace, base)` → how many keys (a Service and/or Endpoints of one name) name
    /// that base: a mirror is named after its Service, an endpoint mirror after its pod's hostname
    /// (SPEC §3, §6), so two keys with one base in a namespace want one mirror name. A hash
    /// collision only overcounts, which is safe (see `contested`).
    bases: BTreeMap<u64, u32>,
}

impl TargetStore {
    /// The store of a snapshot.
    #[must_use]
    pub fn from_state(state: TargetState) -> Self {
        let services = state.services.into_iter().map(Object::Service);
        let endpoints = state.endpoints.into_iter().map(Object::Endpoints);
        services.chain(endpoints).collect()
    }

    /// Records `object` (a Service or Endpoints; other kinds are not the target's input).
    pub fn upsert(&mut self, object: Object) {
        let key = match &object {
            Object::Service(svc) => svc.metadata.key(),
            Object::Endpoints(ep) => ep.metadata.key(),
            Object::Namespace(_) | Object::EndpointSlice(_) => return,
        };
        self.count_bases(&key, false);
        match object {
            Object::Service(svc) => {
                self.services.insert(key.clone(), svc);
            }
            Object::Endpoints(ep) => {
                self.endpoints.insert(key.clone(), ep);
            }
            Object::Namespace(_) | Object::EndpointSlice(_) => {}
        }
        self.count_bases(&key, true);
    }

    /// Records that the object is gone.
    pub fn remove(&mut self, kind: Kind, key: &ObjectKey) {
        self.count_bases(key, false);
        match kind {
            Kind::Service => {
                self.services.remove(key);
            }
            Kind::Endpoints => {
                self.endpoints.remove(key);
            }
            Kind::Namespace | Kind::EndpointSlice => {}
        }
        self.count_bases(key, true);
    }

    /// The bases the export at `key` (its Service and Endpoints) may name mirrors after: its own
    /// name (the mirror, SPEC §3) and every hostname of its Endpoints (endpoint mirrors, SPEC §6),
    /// once each.
    #[must_use]
    pub fn bases_of<'a>(&'a self, key: &'a ObjectKey) -> BTreeSet<&'a str> {
        let mut bases = BTreeSet::new();
        bases.insert(key.name.as_str());
        if let Some(ep) = self.endpoints.get(key) {
            for subset in &ep.subsets {
                for addr in subset.addresses.iter().chain(&subset.not_ready_addresses) {
                    if let Some(h) = addr.hostname.as_deref() {
                        bases.insert(h);
                    }
                }
            }
        }
        bases
    }

    /// Whether an export other than the one at `key` may want the mirror name made from `base` in
    /// `key`'s namespace. SPEC §7: a free name goes to the first export in (namespace, name) order
    /// that wants it, which only the whole link can tell (finding F16).
    #[must_use]
    pub fn contested(&self, key: &ObjectKey, base: &str) -> bool {
        let mine = u32::from(self.bases_of(key).contains(base));
        self.bases
            .get(&base_hash(&key.namespace, base))
            .is_some_and(|n| *n > mine)
    }

    /// Adds (or, `add == false`, takes away) the bases of the export at `key` as stored now.
    fn count_bases(&mut self, key: &ObjectKey, add: bool) {
        if !self.services.contains_key(key) && !self.endpoints.contains_key(key) {
            return;
        }
        let hashes: Vec<u64> = self
            .bases_of(key)
            .into_iter()
            .map(|b| base_hash(&key.namespace, b))
            .collect();
        for h in hashes {
            let n = self.bases.entry(h).or_default();
            *n = if add {
                n.saturating_add(1)
            } else {
                n.saturating_sub(1)
            };
            if *n == 0 {
                self.bases.remove(&h);
            }
        }
    }

    /// The Service at `key`.
    #[must_use]
    pub fn service(&self, key: &ObjectKey) -> Option<&Service> {
        self.services.get(key)
    }

    /// The Endpoints at `key`.
    #[must_use]
    pub fn endpoints(&self, key: &ObjectKey) -> Option<&Endpoints> {
        self.endpoints.get(key)
    }

    /// A snapshot of everything, as lists sorted by key (for tests and for embedders that want
    /// the list form; the core reads the store itself, [`crate::translate()`]).
    #[must_use]
    pub fn state(&self) -> TargetState {
        TargetState::new(
            self.services.values().cloned().collect(),
            self.endpoints.values().cloned().collect(),
        )
    }

    /// The Service at `key` and its Endpoints only: the input of one export's translation.
    #[must_use]
    pub fn export_state(&self, key: &ObjectKey) -> TargetState {
        TargetState::new(
            self.services.get(key).cloned().into_iter().collect(),
            self.endpoints.get(key).cloned().into_iter().collect(),
        )
    }
}

impl FromIterator<Object> for TargetStore {
    fn from_iter<I: IntoIterator<Item = Object>>(objects: I) -> Self {
        let mut store = Self::default();
        for object in objects {
            store.upsert(object);
        }
        store
    }
}

impl TargetLookup for TargetStore {
    fn service(&self, key: &ObjectKey) -> Option<&Service> {
        self.services.get(key)
    }
    fn endpoints(&self, key: &ObjectKey) -> Option<&Endpoints> {
        self.endpoints.get(key)
    }
}

/// By key: the order of [`TargetStore::state`]'s lists, so a store and its snapshot translate
/// alike, diagnostics' field paths included.
impl TargetView for TargetStore {
    fn each_service(&self) -> impl Iterator<Item = &Service> {
        self.services.values()
    }
    fn each_endpoints(&self) -> impl Iterator<Item = &Endpoints> {
        self.endpoints.values()
    }
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
