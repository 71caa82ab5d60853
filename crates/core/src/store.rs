//! The inputs as stores (issue 13, STYLE "the inputs are the store"): the target's and the
//! observed source's objects keyed per kind and updated in place as events arrive
//! ([`TargetStore::upsert`]/[`SourceStore::upsert`], `remove`, [`FromIterator`]), the source
//! with an index by export, so one export's objects are found without a scan
//! ([`SourceStore::annotated_for`], [`SourceStore::labelled_with_root`]). Both implement the
//! lookups of [`crate::one_export`]; [`TargetState`]/[`SourceState`] are their snapshots for a
//! whole-link translation.

use std::collections::{BTreeMap, BTreeSet};

use crate::labels::{self, HEADLESS_MIRROR_SVC_NAME, REMOTE_SVC_FQ_NAME};
use crate::model::{
    EndpointSlice, Endpoints, Kind, Namespace, Object, ObjectKey, ObjectMeta, Service,
};
use crate::one_export::{SourceLookup, TargetLookup};
use crate::state::{SourceState, TargetState};

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

    /// Everything, for a whole-link translation.
    #[must_use]
    pub fn state(&self) -> TargetState {
        TargetState {
            services: self.services.values().cloned().collect(),
            endpoints: self.endpoints.values().cloned().collect(),
        }
    }

    /// The Service at `key` and its Endpoints only: the input of one export's translation.
    #[must_use]
    pub fn export_state(&self, key: &ObjectKey) -> TargetState {
        TargetState {
            services: self.services.get(key).cloned().into_iter().collect(),
            endpoints: self.endpoints.get(key).cloned().into_iter().collect(),
        }
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

/// The source cluster's Services, Endpoints, EndpointSlices and (when listed) Namespaces, with
/// two indexes kept in step with every write, so that one export's objects are found without
/// scanning its namespace. Updated in place ([`SourceStore::upsert`], [`SourceStore::remove`]);
/// read by key ([`SourceLookup`], [`crate::one_export::translate_export`]).
#[derive(Debug, Clone, Default)]
pub struct SourceStore {
    services: BTreeMap<ObjectKey, Service>,
    endpoints: BTreeMap<ObjectKey, Endpoints>,
    endpoint_slices: BTreeMap<ObjectKey, EndpointSlice>,
    /// `None` when the backend does not list namespaces (every namespace is assumed to exist).
    namespaces: Option<BTreeMap<String, Namespace>>,
    /// Export a `remote-svc-fq-name` annotation names (see [`owner_hint`]) → the objects carrying it.
    by_owner: BTreeMap<ObjectKey, BTreeSet<(Kind, ObjectKey)>>,
    /// `(namespace, headless-mirror-svc-name label)` → the objects carrying it.
    by_root: BTreeMap<ObjectKey, BTreeSet<(Kind, ObjectKey)>>,
    /// How many cached Services hold a ClusterIP and a `remote-svc-fq-name` annotation (mirrors of
    /// any link: an upper bound of this link's), kept in step with every write.
    mirror_cluster_ips: usize,
}

/// Whether `svc` counts in [`SourceStore::mirror_cluster_ips`].
fn holds_mirror_ip(svc: &Service) -> bool {
    svc.metadata.annotations.contains_key(REMOTE_SVC_FQ_NAME)
        && svc
            .spec
            .cluster_ip
            .as_deref()
            .is_some_and(|ip| ip.parse::<std::net::IpAddr>().is_ok())
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
    pub fn service(&self, key: &ObjectKey) -> Option<&Service> {
        self.services.get(key)
    }

    /// The Endpoints at `key`.
    #[must_use]
    pub fn endpoints(&self, key: &ObjectKey) -> Option<&Endpoints> {
        self.endpoints.get(key)
    }

    /// The EndpointSlice at `key`.
    #[must_use]
    pub fn endpoint_slice(&self, key: &ObjectKey) -> Option<&EndpointSlice> {
        self.endpoint_slices.get(key)
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

    /// Everything, for a whole-link translation and plan.
    #[must_use]
    pub fn state(&self) -> SourceState {
        SourceState {
            services: self.services.values().cloned().collect(),
            endpoints: self.endpoints.values().cloned().collect(),
            endpoint_slices: self.endpoint_slices.values().cloned().collect(),
            namespaces: self.namespace_list(),
        }
    }

    /// Records `object` as the server stored it (inserted, or replacing the previous version).
    pub fn upsert(&mut self, object: Object) {
        match object {
            Object::Namespace(ns) => {
                if let Some(all) = &mut self.namespaces {
                    all.insert(ns.metadata.name.clone(), ns);
                }
            }
            Object::Service(svc) => {
                let key = svc.metadata.key();
                let held = self.services.get(&key).is_some_and(holds_mirror_ip);
                self.mirror_cluster_ips = self.mirror_cluster_ips - usize::from(held)
                    + usize::from(holds_mirror_ip(&svc));
                let old = self.services.get(&key).map(|o| hints(&o.metadata));
                self.reindex(Kind::Service, &key, old, Some(hints(&svc.metadata)));
                self.services.insert(key, svc);
            }
            Object::Endpoints(ep) => {
                let key = ep.metadata.key();
                let old = self.endpoints.get(&key).map(|o| hints(&o.metadata));
                self.reindex(Kind::Endpoints, &key, old, Some(hints(&ep.metadata)));
                self.endpoints.insert(key, ep);
            }
            Object::EndpointSlice(slice) => {
                let key = slice.metadata.key();
                let old = self.endpoint_slices.get(&key).map(|o| hints(&o.metadata));
                self.reindex(Kind::EndpointSlice, &key, old, Some(hints(&slice.metadata)));
                self.endpoint_slices.insert(key, slice);
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
            Kind::Service => self.services.remove(key).map(|o| {
                self.mirror_cluster_ips -= usize::from(holds_mirror_ip(&o));
                hints(&o.metadata)
            }),
            Kind::Endpoints => self.endpoints.remove(key).map(|o| hints(&o.metadata)),
            Kind::EndpointSlice => self.endpoint_slices.remove(key).map(|o| hints(&o.metadata)),
        };
        self.reindex(kind, key, old, None);
    }
}

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
    fn service(&self, key: &ObjectKey) -> Option<&Service> {
        self.services.get(key)
    }
    fn endpoints(&self, key: &ObjectKey) -> Option<&Endpoints> {
        self.endpoints.get(key)
    }
    fn namespaces(&self) -> Option<Vec<Namespace>> {
        self.namespace_list()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mirror(root: Option<&str>, ns: &str, name: &str, fq: &str) -> Service {
        let mut svc = Service::new(ns, name);
        svc.metadata
            .annotations
            .insert(REMOTE_SVC_FQ_NAME.into(), fq.into());
        if let Some(root) = root {
            svc.metadata
                .labels
                .insert(HEADLESS_MIRROR_SVC_NAME.into(), root.into());
        }
        svc
    }

    fn annotated(cache: &SourceStore, ns: &str, export: &str) -> Vec<String> {
        cache
            .annotated_for(&ObjectKey::new(ns, export))
            .map(|(kind, key)| format!("{kind:?} {key}"))
            .collect()
    }

    /// Issue 13 (the inputs are the store): the export and root indexes follow every upsert
    /// and removal.
    #[test]
    fn indexes_follow_every_write() {
        let mut cache = SourceStore::from_state(SourceState {
            services: vec![
                mirror(None, "b", "web-west", "web.b.svc.cluster.local"),
                mirror(
                    Some("web-west"),
                    "b",
                    "web-0-west",
                    "web-0.web.b.svc.cluster.local",
                ),
                mirror(None, "c", "web-west", "web.b.svc.cluster.local"),
            ],
            ..SourceState::default()
        });
        let mut ep = Endpoints::new("b", "web-west");
        ep.metadata
            .annotations
            .insert(REMOTE_SVC_FQ_NAME.into(), "web.b.svc.cluster.local".into());
        cache.upsert(Object::Endpoints(ep));
        assert_eq!(
            annotated(&cache, "b", "web"),
            [
                "Service b/web-0-west",
                "Service b/web-west",
                "Endpoints b/web-west"
            ]
        );
        // Indexed in its own namespace: labels::export_of rejects it, the index need not.
        assert_eq!(annotated(&cache, "c", "web"), ["Service c/web-west"]);
        let roots: Vec<String> = cache
            .labelled_with_root("b", "web-west")
            .map(|(_, key)| key.to_string())
            .collect();
        assert_eq!(roots, ["b/web-0-west"]);

        // A new version that names another export moves; a deleted object leaves.
        cache.upsert(Object::Service(mirror(
            None,
            "b",
            "web-west",
            "api.b.svc.cluster.local",
        )));
        cache.remove(Kind::Endpoints, &ObjectKey::new("b", "web-west"));
        assert_eq!(annotated(&cache, "b", "web"), ["Service b/web-0-west"]);
        assert_eq!(annotated(&cache, "b", "api"), ["Service b/web-west"]);
        cache.remove(Kind::Service, &ObjectKey::new("b", "web-0-west"));
        assert!(annotated(&cache, "b", "web").is_empty());
        assert_eq!(cache.labelled_with_root("b", "web-west").count(), 0);
        assert!(cache.by_root.is_empty());
        assert_eq!(
            cache
                .service(&ObjectKey::new("b", "web-west"))
                .map(|s| s.metadata.name.as_str()),
            Some("web-west")
        );
    }

    /// Issue 13 (the inputs are the store): a store built from objects as they come, or from a
    /// snapshot, holds the same; updates replace in place and removals forget, and the snapshot
    /// taken back is sorted by key whatever the input order.
    #[test]
    fn stores_upsert_remove_and_collect() {
        let mut web = Service::new("b", "web");
        let api = Service::new("a", "api");
        let ep = Endpoints::new("b", "web");
        let collected: TargetStore = [
            Object::Service(web.clone()),
            Object::Endpoints(ep.clone()),
            Object::Service(api.clone()),
        ]
        .into_iter()
        .collect();
        let snapshot = TargetState {
            services: vec![web.clone(), api.clone()],
            endpoints: vec![ep.clone()],
        };
        assert_eq!(collected, TargetStore::from_state(snapshot));
        assert_eq!(
            collected.state().services,
            [api.clone(), web.clone()],
            "sorted by key"
        );
        let mut target = collected;
        web.metadata.resource_version = Some("2".to_owned());
        target.upsert(Object::Service(web.clone()));
        assert_eq!(target.service(&web.metadata.key()), Some(&web));
        target.remove(Kind::Endpoints, &ep.metadata.key());
        assert_eq!(target.endpoints(&ep.metadata.key()), None);
        assert_eq!(target.export_state(&web.metadata.key()).services, [web]);

        let source: SourceStore = [
            Object::Namespace(Namespace::new("a")),
            Object::Service(api.clone()),
        ]
        .into_iter()
        .collect();
        let namespaces: Vec<String> = source
            .namespace_list()
            .expect("listed")
            .into_iter()
            .map(|ns| ns.metadata.name)
            .collect();
        assert_eq!(namespaces, ["a"]);
        assert_eq!(source.state().services, [api]);
        assert_eq!(
            SourceStore::default().namespace_list(),
            None,
            "unknown, not empty"
        );
    }

    fn pods(ns: &str, name: &str, hosts: &[&str]) -> Endpoints {
        use crate::model::{EndpointAddress, EndpointSubset};
        let mut ep = Endpoints::new(ns, name);
        ep.subsets = vec![EndpointSubset {
            addresses: hosts
                .iter()
                .enumerate()
                .map(|(i, h)| EndpointAddress {
                    ip: format!("10.42.0.{i}"),
                    hostname: Some((*h).into()),
                    ..EndpointAddress::default()
                })
                .collect(),
            ..EndpointSubset::default()
        }];
        ep
    }

    /// F16 (SPEC §7): the count of exports per mirror-name base follows every event, so a free
    /// name is contested exactly while another export's Service name or pod hostname is its base.
    #[test]
    fn contested_bases_follow_the_target() {
        let (aaa, a) = (
            ObjectKey::new("default", "aaa"),
            ObjectKey::new("default", "a"),
        );
        let mut cache = TargetStore::default();
        cache.upsert(Object::Service(Service::new("default", "aaa")));
        cache.upsert(Object::Endpoints(pods("default", "aaa", &["a", "web"])));
        assert!(!cache.contested(&aaa, "a"), "nobody else wants `a` yet");
        cache.upsert(Object::Service(Service::new("default", "a")));
        assert!(
            cache.contested(&aaa, "a"),
            "Service `a`'s mirror is named after `a`"
        );
        assert!(
            cache.contested(&a, "a"),
            "and so is aaa's pod `a`'s endpoint mirror"
        );
        assert!(!cache.contested(&aaa, "web"));
        assert!(
            !cache.contested(&ObjectKey::new("other", "aaa"), "a"),
            "another namespace never contests"
        );
        cache.upsert(Object::Endpoints(pods("default", "aaa", &["web"])));
        assert!(!cache.contested(&a, "a"), "aaa no longer has pod `a`");
        cache.upsert(Object::Endpoints(pods("default", "a", &["web"])));
        assert!(cache.contested(&aaa, "web"));
        cache.remove(Kind::Service, &a);
        assert!(
            cache.contested(&aaa, "web"),
            "a's Endpoints still name pod `web`"
        );
        cache.remove(Kind::Endpoints, &a);
        assert!(!cache.contested(&aaa, "web"));
        let rebuilt = TargetStore::from_state(cache.state());
        assert_eq!(
            rebuilt.bases, cache.bases,
            "a relist counts as the events did"
        );
    }
}
