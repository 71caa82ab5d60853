//! The observed source as a store (issue 13, STYLE "the inputs are the store"): the source
//! cluster's objects keyed per kind, updated in place as events arrive, with an index by export,
//! and kept as compact records ([`crate::record`], issue 13 item 3). It implements the lookups
//! and views of [`crate::view`], so the core reads it in place; [`SourceState`] is the same input
//! as lists.

use std::collections::{BTreeMap, BTreeSet};

use crate::labels::{self, HEADLESS_MIRROR_SVC_NAME, REMOTE_SVC_FQ_NAME};
use crate::model::{Kind, Namespace, Object, ObjectKey, ObjectMeta, Service, StringMap};
use crate::record::{
    EndpointsRecord, ObservedEndpoints, ObservedService, ObservedSlice, ServiceRecord, SliceRecord,
};
use crate::state::SourceState;
use crate::view::{SourceLookup, SourceView};

/// The source cluster's Services, Endpoints, EndpointSlices and (when listed) Namespaces, with
/// two indexes kept in step with every write, so that one export's objects are found without
/// scanning its namespace. Updated in place ([`SourceStore::upsert`], [`SourceStore::remove`]);
/// read by key ([`SourceLookup`], [`crate::one_export::translate_export`]).
#[derive(Debug, Clone, Default)]
pub struct SourceStore {
    services: BTreeMap<ObjectKey, HeldService>,
    endpoints: BTreeMap<ObjectKey, EndpointsRecord>,
    endpoint_slices: BTreeMap<ObjectKey, SliceRecord>,
    /// The label maps the records hold, once each: an export's mirrors carry one set of labels
    /// (SPEC §6.5), so equal maps share their entries ([`StringMap`] is copy on write). A map
    /// leaves when no record holds it any more.
    pub(crate) labels: BTreeSet<StringMap>,
    /// `None` when the backend does not list namespaces (every namespace is assumed to exist).
    namespaces: Option<BTreeMap<String, Namespace>>,
    /// Export a `remote-svc-fq-name` annotation names (see [`owner_hint`]) → the objects carrying it.
    by_owner: BTreeMap<ObjectKey, BTreeSet<(Kind, ObjectKey)>>,
    /// `(namespace, headless-mirror-svc-name label)` → the objects carrying it.
    pub(crate) by_root: BTreeMap<ObjectKey, BTreeSet<(Kind, ObjectKey)>>,
    /// How many cached Services hold a ClusterIP and a `remote-svc-fq-name` annotation (mirrors of
    /// any link: an upper bound of this link's), kept in step with every write.
    mirror_cluster_ips: usize,
}

/// A Service as the store holds it: the federation's own in full (a writer that is not the lead
/// copies their fields, SPEC §9), every other as a record (issue 13 item 3).
#[derive(Debug, Clone, PartialEq, Eq)]
#[expect(
    clippy::large_enum_variant,
    reason = "records are the common case: boxing them would add an allocation per object"
)]
enum HeldService {
    /// Boxed: a record is a third of a `Service`'s size, and the map stores its values inline.
    Full(Box<Service>),
    Record(ServiceRecord),
}

impl HeldService {
    fn of(svc: Service) -> Self {
        if labels::is_federation_owned(&svc.metadata.labels) {
            Self::Full(Box::new(svc))
        } else {
            Self::Record(ServiceRecord::of(svc))
        }
    }

    fn observed(&self) -> ObservedService<'_> {
        match self {
            Self::Full(s) => ObservedService::Full(s),
            Self::Record(r) => ObservedService::Record(r),
        }
    }

    fn metadata_mut(&mut self) -> &mut ObjectMeta {
        match self {
            Self::Full(s) => &mut s.metadata,
            Self::Record(r) => r.metadata_mut(),
        }
    }
}

/// Whether `svc` counts in [`SourceStore::mirror_cluster_ips`].
fn holds_mirror_ip(svc: ObservedService<'_>) -> bool {
    svc.metadata().annotations.contains_key(REMOTE_SVC_FQ_NAME)
        && svc
            .cluster_ip()
            .is_some_and(|ip| ip.parse::<std::net::IpAddr>().is_ok())
}

/// Shares `map` with an equal one `interned` holds, or holds it.
fn intern(interned: &mut BTreeSet<StringMap>, map: &mut StringMap) {
    if map.is_empty() {
        return;
    }
    match interned.get(map) {
        Some(held) => *map = held.clone(),
        None => {
            interned.insert(map.clone());
        }
    }
}

/// Lets go of `map` (a record's, being dropped): `interned` forgets it when nothing else holds it.
fn release(interned: &mut BTreeSet<StringMap>, map: StringMap) {
    if !map.is_empty()
        && map.share_count() <= 2
        && interned
            .get(&map)
            .is_some_and(|held| held.shares_with(&map))
    {
        interned.remove(&map);
    }
}

/// The export an object's `remote-svc-fq-name` annotation names, read without the link (the
/// store does not know it): [`labels::export_hint`], a superset of [`labels::export_of`], which
/// checks ownership, domain and shape: whatever it attributes to an export is indexed under it.
fn owner_hint(meta: &ObjectMeta) -> Option<ObjectKey> {
    labels::export_hint(meta)
}

/// The root mirror an object's `headless-mirror-svc-name` label names, in its namespace.
fn root_hint(meta: &ObjectMeta) -> Option<ObjectKey> {
    let root = meta.labels.get(HEADLESS_MIRROR_SVC_NAME)?;
    Some(ObjectKey::new(meta.namespace(), root))
}

/// An object's entries in the two indexes: its [`owner_hint`] and its [`root_hint`].
type Hints = (Option<ObjectKey>, Option<ObjectKey>);

fn hints(meta: &ObjectMeta) -> Hints {
    (owner_hint(meta), root_hint(meta))
}

fn index_add(
    index: &mut BTreeMap<ObjectKey, BTreeSet<(Kind, ObjectKey)>>,
    hint: Option<ObjectKey>,
    kind: Kind,
    key: &ObjectKey,
) {
    if let Some(hint) = hint {
        index.entry(hint).or_default().insert((kind, key.clone()));
    }
}

fn index_remove(
    index: &mut BTreeMap<ObjectKey, BTreeSet<(Kind, ObjectKey)>>,
    hint: Option<ObjectKey>,
    kind: Kind,
    key: &ObjectKey,
) {
    let Some(hint) = hint else { return };
    if let Some(keys) = index.get_mut(&hint) {
        keys.remove(&(kind, key.clone()));
        if keys.is_empty() {
            index.remove(&hint);
        }
    }
}

impl SourceStore {
    /// The store of a snapshot (its namespaces listed when the snapshot's are).
    #[must_use]
    pub fn from_state(state: SourceState) -> Self {
        let mut cache = Self {
            namespaces: state.namespaces.map(|all| {
                all.into_iter()
                    .map(|ns| (ns.metadata.name.clone(), ns))
                    .collect()
            }),
            ..Self::default()
        };
        for svc in state.services {
            cache.upsert(Object::Service(svc));
        }
        for ep in state.endpoints {
            cache.upsert(Object::Endpoints(ep));
        }
        for slice in state.endpoint_slices {
            cache.upsert(Object::EndpointSlice(slice));
        }
        cache
    }

    /// How many cached mirror Services (of any link) hold a ClusterIP: an upper bound of what
    /// this link holds, in O(1).
    #[must_use]
    pub fn mirror_cluster_ips(&self) -> usize {
        self.mirror_cluster_ips
    }

    /// The Service at `key`.
    #[must_use]
    pub fn service(&self, key: &ObjectKey) -> Option<ObservedService<'_>> {
        self.services.get(key).map(HeldService::observed)
    }

    /// The Endpoints at `key`.
    #[must_use]
    pub fn endpoints(&self, key: &ObjectKey) -> Option<ObservedEndpoints<'_>> {
        self.endpoints.get(key).map(ObservedEndpoints::Record)
    }

    /// The EndpointSlice at `key`.
    #[must_use]
    pub fn endpoint_slice(&self, key: &ObjectKey) -> Option<ObservedSlice<'_>> {
        self.endpoint_slices.get(key).map(ObservedSlice::Record)
    }

    /// The store of the objects at `keys` only (with every namespace): what one export's plan
    /// reads, cloned from the records (no object is rebuilt).
    #[must_use]
    pub fn subset<'k>(&self, keys: impl IntoIterator<Item = (Kind, &'k ObjectKey)>) -> Self {
        let mut out = Self {
            namespaces: self.namespaces.clone(),
            ..Self::default()
        };
        for (kind, key) in keys {
            match kind {
                Kind::Service => {
                    if let Some(held) = self.services.get(key) {
                        out.services.insert(key.clone(), held.clone());
                    }
                }
                Kind::Endpoints => {
                    if let Some(r) = self.endpoints.get(key) {
                        out.endpoints.insert(key.clone(), r.clone());
                    }
                }
                Kind::EndpointSlice => {
                    if let Some(r) = self.endpoint_slices.get(key) {
                        out.endpoint_slices.insert(key.clone(), r.clone());
                    }
                }
                Kind::Namespace => {}
            }
        }
        out.mirror_cluster_ips = out
            .services
            .values()
            .filter(|h| holds_mirror_ip(h.observed()))
            .count();
        out
    }

    /// The store without what the server sets (uid, resourceVersion, creationTimestamp, of
    /// every object and Namespace), for comparing two stores of one world.
    #[must_use]
    pub fn without_server_fields(&self) -> Self {
        let mut out = self.clone();
        out.retain_metadata(|meta| {
            meta.uid = None;
            meta.resource_version = None;
            meta.creation_timestamp = None;
            true
        });
        for ns in out.namespaces.iter_mut().flat_map(BTreeMap::values_mut) {
            ns.metadata.uid = None;
            ns.metadata.resource_version = None;
        }
        out
    }

    /// Applies `f` to the metadata of every Service, Endpoints and EndpointSlice, and keeps those
    /// `keep` accepts (for tests and tools that compare stores without server-set fields).
    pub fn retain_metadata(&mut self, mut keep: impl FnMut(&mut ObjectMeta) -> bool) {
        let mut removed = Vec::new();
        for (key, held) in &mut self.services {
            if !keep(held.metadata_mut()) {
                removed.push((Kind::Service, key.clone()));
            }
        }
        for (key, r) in &mut self.endpoints {
            if !keep(r.metadata_mut()) {
                removed.push((Kind::Endpoints, key.clone()));
            }
        }
        for (key, r) in &mut self.endpoint_slices {
            if !keep(r.metadata_mut()) {
                removed.push((Kind::EndpointSlice, key.clone()));
            }
        }
        for (kind, key) in removed {
            self.remove(kind, &key);
        }
    }

    /// The objects whose `remote-svc-fq-name` annotation may name `export` (a superset: the
    /// caller checks ownership with the link), sorted by kind and key.
    pub fn annotated_for<'a>(
        &'a self,
        export: &ObjectKey,
    ) -> impl Iterator<Item = &'a (Kind, ObjectKey)> + 'a {
        self.by_owner.get(export).into_iter().flatten()
    }

    /// The objects labelled `headless-mirror-svc-name=<root>` in `namespace`, sorted by kind and
    /// key.
    pub fn labelled_with_root<'a>(
        &'a self,
        namespace: &str,
        root: &str,
    ) -> impl Iterator<Item = &'a (Kind, ObjectKey)> + 'a {
        self.by_root
            .get(&ObjectKey::new(namespace, root))
            .into_iter()
            .flatten()
    }

    /// Moves `key` in the indexes from the hints of its old version to those of its new one.
    fn reindex(&mut self, kind: Kind, key: &ObjectKey, old: Option<Hints>, new: Option<Hints>) {
        if old == new {
            return;
        }
        if let Some((owner, root)) = old {
            index_remove(&mut self.by_owner, owner, kind, key);
            index_remove(&mut self.by_root, root, kind, key);
        }
        if let Some((owner, root)) = new {
            index_add(&mut self.by_owner, owner, kind, key);
            index_add(&mut self.by_root, root, kind, key);
        }
    }

    /// Every Namespace, when listed.
    #[must_use]
    pub fn namespace_list(&self) -> Option<Vec<Namespace>> {
        self.namespaces
            .as_ref()
            .map(|all| all.values().cloned().collect())
    }

    /// Records `object` as the server stored it (inserted, or replacing the previous version).
    pub fn upsert(&mut self, object: Object) {
        match object {
            Object::Namespace(ns) => {
                if let Some(all) = &mut self.namespaces {
                    all.insert(ns.metadata.name.clone(), ns);
                }
            }
            Object::Service(mut svc) => {
                let key = svc.metadata.key();
                intern(&mut self.labels, &mut svc.metadata.labels);
                let new = HeldService::of(svc);
                let old = self.services.remove(&key);
                let held = old.as_ref().is_some_and(|o| holds_mirror_ip(o.observed()));
                self.mirror_cluster_ips = self.mirror_cluster_ips - usize::from(held)
                    + usize::from(holds_mirror_ip(new.observed()));
                let old_hints = old.as_ref().map(|o| hints(o.observed().metadata()));
                self.reindex(
                    Kind::Service,
                    &key,
                    old_hints,
                    Some(hints(new.observed().metadata())),
                );
                self.services.insert(key, new);
                if let Some(mut old) = old {
                    release(
                        &mut self.labels,
                        std::mem::take(&mut old.metadata_mut().labels),
                    );
                }
            }
            Object::Endpoints(mut ep) => {
                let key = ep.metadata.key();
                intern(&mut self.labels, &mut ep.metadata.labels);
                let new = EndpointsRecord::of(ep);
                let old = self.endpoints.remove(&key);
                let old_hints = old
                    .as_ref()
                    .map(|o| hints(ObservedEndpoints::Record(o).metadata()));
                self.reindex(
                    Kind::Endpoints,
                    &key,
                    old_hints,
                    Some(hints(ObservedEndpoints::Record(&new).metadata())),
                );
                self.endpoints.insert(key, new);
                if let Some(mut old) = old {
                    release(
                        &mut self.labels,
                        std::mem::take(&mut old.metadata_mut().labels),
                    );
                }
            }
            Object::EndpointSlice(mut slice) => {
                let key = slice.metadata.key();
                intern(&mut self.labels, &mut slice.metadata.labels);
                let new = SliceRecord::of(slice);
                let old = self.endpoint_slices.remove(&key);
                let old_hints = old
                    .as_ref()
                    .map(|o| hints(ObservedSlice::Record(o).metadata()));
                self.reindex(
                    Kind::EndpointSlice,
                    &key,
                    old_hints,
                    Some(hints(ObservedSlice::Record(&new).metadata())),
                );
                self.endpoint_slices.insert(key, new);
                if let Some(mut old) = old {
                    release(
                        &mut self.labels,
                        std::mem::take(&mut old.metadata_mut().labels),
                    );
                }
            }
        }
    }

    /// Records that the object is gone.
    pub fn remove(&mut self, kind: Kind, key: &ObjectKey) {
        let old = match kind {
            Kind::Namespace => {
                if let Some(all) = &mut self.namespaces {
                    all.remove(&key.name);
                }
                return;
            }
            Kind::Service => self.services.remove(key).map(|mut o| {
                self.mirror_cluster_ips -= usize::from(holds_mirror_ip(o.observed()));
                let h = hints(o.observed().metadata());
                (h, std::mem::take(&mut o.metadata_mut().labels))
            }),
            Kind::Endpoints => self.endpoints.remove(key).map(|mut o| {
                let h = hints(ObservedEndpoints::Record(&o).metadata());
                (h, std::mem::take(&mut o.metadata_mut().labels))
            }),
            Kind::EndpointSlice => self.endpoint_slices.remove(key).map(|mut o| {
                let h = hints(ObservedSlice::Record(&o).metadata());
                (h, std::mem::take(&mut o.metadata_mut().labels))
            }),
        };
        let Some((old, labels)) = old else { return };
        self.reindex(kind, key, Some(old), None);
        release(&mut self.labels, labels);
    }
}

/// Two stores are equal when they hold equal objects (records) and namespaces; the indexes and
/// the shared label maps follow from those.
impl PartialEq for SourceStore {
    fn eq(&self, other: &Self) -> bool {
        self.services == other.services
            && self.endpoints == other.endpoints
            && self.endpoint_slices == other.endpoint_slices
            && self.namespaces == other.namespaces
    }
}

impl Eq for SourceStore {}

/// Objects as they come (a list or a watch's initial state); Namespaces make the namespaces
/// listed (an empty `SourceState::namespaces` list is not the same as none: use
/// [`SourceStore::from_state`] for that).
impl FromIterator<Object> for SourceStore {
    fn from_iter<I: IntoIterator<Item = Object>>(objects: I) -> Self {
        let mut store = Self::default();
        for object in objects {
            if let Object::Namespace(_) = &object {
                store.namespaces.get_or_insert_with(BTreeMap::new);
            }
            store.upsert(object);
        }
        store
    }
}

impl SourceLookup for SourceStore {
    fn service(&self, key: &ObjectKey) -> Option<ObservedService<'_>> {
        SourceStore::service(self, key)
    }
    fn endpoints(&self, key: &ObjectKey) -> Option<ObservedEndpoints<'_>> {
        SourceStore::endpoints(self, key)
    }
    fn namespaces(&self) -> Option<Vec<Namespace>> {
        self.namespace_list()
    }
}

/// By key, records for all but the federation's Services: a store translates and plans as the
/// list of the objects it was given (`tests/properties.rs`).
impl SourceView for SourceStore {
    fn each_service(&self) -> impl Iterator<Item = ObservedService<'_>> {
        self.services.values().map(HeldService::observed)
    }
    fn each_endpoints(&self) -> impl Iterator<Item = ObservedEndpoints<'_>> {
        self.endpoints.values().map(ObservedEndpoints::Record)
    }
    fn each_endpoint_slice(&self) -> impl Iterator<Item = ObservedSlice<'_>> {
        self.endpoint_slices.values().map(ObservedSlice::Record)
    }
    fn namespace_names(&self) -> Option<impl Iterator<Item = &str>> {
        self.namespaces
            .as_ref()
            .map(|all| all.keys().map(String::as_str))
    }
    fn has_namespace(&self, namespace: &str) -> bool {
        self.namespaces
            .as_ref()
            .is_none_or(|all| all.contains_key(namespace))
    }
}
