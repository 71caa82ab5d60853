//! What the driver believes each cluster holds: the target as last listed and watched, the source
//! as last listed, read or written. Keyed maps, so every view taken from them is sorted.

use std::collections::{BTreeMap, BTreeSet};

use svcmirror_core::labels::{HEADLESS_MIRROR_SVC_NAME, REMOTE_SVC_FQ_NAME};
use svcmirror_core::model::{
    EndpointSlice, Endpoints, Kind, Namespace, Object, ObjectKey, ObjectMeta, Service,
};
use svcmirror_core::one_export::{SourceLookup, TargetLookup};
use svcmirror_core::{SourceState, TargetState};

use crate::TargetEvent;

/// The target cluster's Services and Endpoints.
#[derive(Debug, Clone, Default)]
pub(crate) struct TargetCache {
    pub(crate) services: BTreeMap<ObjectKey, Service>,
    pub(crate) endpoints: BTreeMap<ObjectKey, Endpoints>,
}

impl TargetCache {
    pub(crate) fn from_state(state: TargetState) -> Self {
        Self {
            services: state
                .services
                .into_iter()
                .map(|s| (s.metadata.key(), s))
                .collect(),
            endpoints: state
                .endpoints
                .into_iter()
                .map(|e| (e.metadata.key(), e))
                .collect(),
        }
    }

    /// The exported Service an event concerns (an Endpoints event concerns the Service of the
    /// same key); `None` for a restart, which concerns every export.
    pub(crate) fn export_of(event: &TargetEvent) -> Option<ObjectKey> {
        match event {
            TargetEvent::ServiceApplied(svc) => Some(svc.metadata.key()),
            TargetEvent::EndpointsApplied(ep) => Some(ep.metadata.key()),
            TargetEvent::ServiceDeleted(key) | TargetEvent::EndpointsDeleted(key) => {
                Some(key.clone())
            }
            TargetEvent::Restarted(_) => None,
        }
    }

    /// Records what the event says the target now holds.
    pub(crate) fn apply(&mut self, event: TargetEvent) {
        match event {
            TargetEvent::ServiceApplied(svc) => {
                self.services.insert(svc.metadata.key(), svc);
            }
            TargetEvent::EndpointsApplied(ep) => {
                self.endpoints.insert(ep.metadata.key(), ep);
            }
            TargetEvent::ServiceDeleted(key) => {
                self.services.remove(&key);
            }
            TargetEvent::EndpointsDeleted(key) => {
                self.endpoints.remove(&key);
            }
            TargetEvent::Restarted(state) => *self = Self::from_state(state),
        }
    }

    /// Everything, for a whole-link translation.
    pub(crate) fn state(&self) -> TargetState {
        TargetState {
            services: self.services.values().cloned().collect(),
            endpoints: self.endpoints.values().cloned().collect(),
        }
    }

    /// The Service at `key` and its Endpoints only: the input of one export's translation.
    pub(crate) fn export_state(&self, key: &ObjectKey) -> TargetState {
        TargetState {
            services: self.services.get(key).cloned().into_iter().collect(),
            endpoints: self.endpoints.get(key).cloned().into_iter().collect(),
        }
    }
}

/// The source cluster's Services, Endpoints, EndpointSlices and (when listed) Namespaces, with
/// two indexes kept in step with every write, so that one export's objects are found without
/// scanning its namespace (see [`crate::scope`]).
#[derive(Debug, Clone, Default)]
pub(crate) struct SourceCache {
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

/// Whether `svc` counts in [`SourceCache::mirror_cluster_ips`].
fn holds_mirror_ip(svc: &Service) -> bool {
    svc.metadata.annotations.contains_key(REMOTE_SVC_FQ_NAME)
        && svc
            .spec
            .cluster_ip
            .as_deref()
            .is_some_and(|ip| ip.parse::<std::net::IpAddr>().is_ok())
}

/// The export an object's `remote-svc-fq-name` annotation names, read without the link (the
/// cache does not know it): the first DNS label of `<name>.<ns>.svc.<domain>`, the second of
/// `<hostname>.<name>.<ns>.svc.<domain>` on an object with the `headless-mirror-svc-name` label,
/// in the object's namespace (the core's [`svcmirror_core::labels::export_hint`]). A superset of
/// [`svcmirror_core::labels::export_of`], which checks ownership,
/// domain and shape: whatever it attributes to an export is indexed under that export.
fn owner_hint(meta: &ObjectMeta) -> Option<ObjectKey> {
    svcmirror_core::labels::export_hint(meta)
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

impl SourceCache {
    pub(crate) fn from_state(state: SourceState) -> Self {
        let mut cache = Self {
            namespaces: state.namespaces.map(|all| {
                all.into_iter()
                    .map(|ns| (ns.metadata.name.clone(), ns))
                    .collect()
            }),
            ..Self::default()
        };
        for svc in state.services {
            cache.store(Object::Service(svc));
        }
        for ep in state.endpoints {
            cache.store(Object::Endpoints(ep));
        }
        for slice in state.endpoint_slices {
            cache.store(Object::EndpointSlice(slice));
        }
        cache
    }

    /// How many cached mirror Services (of any link) hold a ClusterIP: an upper bound of what
    /// this link holds, in O(1).
    pub(crate) fn mirror_cluster_ips(&self) -> usize {
        self.mirror_cluster_ips
    }

    /// The Service at `key`.
    pub(crate) fn service(&self, key: &ObjectKey) -> Option<&Service> {
        self.services.get(key)
    }

    /// The Endpoints at `key`.
    pub(crate) fn endpoints(&self, key: &ObjectKey) -> Option<&Endpoints> {
        self.endpoints.get(key)
    }

    /// The EndpointSlice at `key`.
    pub(crate) fn endpoint_slice(&self, key: &ObjectKey) -> Option<&EndpointSlice> {
        self.endpoint_slices.get(key)
    }

    /// The objects whose `remote-svc-fq-name` annotation may name `export` (a superset: the
    /// caller checks ownership with the link), sorted by kind and key.
    pub(crate) fn annotated_for<'a>(
        &'a self,
        export: &ObjectKey,
    ) -> impl Iterator<Item = &'a (Kind, ObjectKey)> + 'a {
        self.by_owner.get(export).into_iter().flatten()
    }

    /// The objects labelled `headless-mirror-svc-name=<root>` in `namespace`, sorted by kind and
    /// key.
    pub(crate) fn labelled_with_root<'a>(
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
    pub(crate) fn namespace_list(&self) -> Option<Vec<Namespace>> {
        self.namespaces
            .as_ref()
            .map(|all| all.values().cloned().collect())
    }

    /// Everything, for a whole-link translation and plan.
    pub(crate) fn state(&self) -> SourceState {
        SourceState {
            services: self.services.values().cloned().collect(),
            endpoints: self.endpoints.values().cloned().collect(),
            endpoint_slices: self.endpoint_slices.values().cloned().collect(),
            namespaces: self.namespace_list(),
        }
    }

    /// Records `object` as the server stored it.
    pub(crate) fn store(&mut self, object: Object) {
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
    pub(crate) fn forget(&mut self, kind: Kind, key: &ObjectKey) {
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

    fn annotated(cache: &SourceCache, ns: &str, export: &str) -> Vec<String> {
        cache
            .annotated_for(&ObjectKey::new(ns, export))
            .map(|(kind, key)| format!("{kind:?} {key}"))
            .collect()
    }

    #[test]
    fn indexes_follow_every_write() {
        let mut cache = SourceCache::from_state(SourceState {
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
        cache.store(Object::Endpoints(ep));
        assert_eq!(
            annotated(&cache, "b", "web"),
            [
                "Service b/web-0-west",
                "Service b/web-west",
                "Endpoints b/web-west"
            ]
        );
        // Indexed in its own namespace: scope::export_of rejects it, the index need not.
        assert_eq!(annotated(&cache, "c", "web"), ["Service c/web-west"]);
        let roots: Vec<String> = cache
            .labelled_with_root("b", "web-west")
            .map(|(_, key)| key.to_string())
            .collect();
        assert_eq!(roots, ["b/web-0-west"]);

        // A new version that names another export moves; a deleted object leaves.
        cache.store(Object::Service(mirror(
            None,
            "b",
            "web-west",
            "api.b.svc.cluster.local",
        )));
        cache.forget(Kind::Endpoints, &ObjectKey::new("b", "web-west"));
        assert_eq!(annotated(&cache, "b", "web"), ["Service b/web-0-west"]);
        assert_eq!(annotated(&cache, "b", "api"), ["Service b/web-west"]);
        cache.forget(Kind::Service, &ObjectKey::new("b", "web-0-west"));
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
}

/// The core reads one export's target through its lookup trait (`one_export::translate_export`).
impl TargetLookup for TargetCache {
    fn service(&self, key: &ObjectKey) -> Option<&Service> {
        self.services.get(key)
    }
    fn endpoints(&self, key: &ObjectKey) -> Option<&Endpoints> {
        self.endpoints.get(key)
    }
}

/// The core reads the source by key through its lookup trait (`one_export::translate_export`).
impl SourceLookup for SourceCache {
    fn service(&self, key: &ObjectKey) -> Option<&Service> {
        SourceCache::service(self, key)
    }
    fn endpoints(&self, key: &ObjectKey) -> Option<&Endpoints> {
        SourceCache::endpoints(self, key)
    }
    fn namespaces(&self) -> Option<Vec<Namespace>> {
        self.namespace_list()
    }
}
