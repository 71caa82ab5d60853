//! What the driver believes each cluster holds: the target as last listed and watched, the source
//! as last listed, read or written. Keyed maps, so every view taken from them is sorted.

use std::collections::BTreeMap;

use svcmirror_core::model::{
    EndpointSlice, Endpoints, Kind, Namespace, Object, ObjectKey, Service,
};
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

/// The source cluster's Services, Endpoints, EndpointSlices and (when listed) Namespaces.
#[derive(Debug, Clone, Default)]
pub(crate) struct SourceCache {
    pub(crate) services: BTreeMap<ObjectKey, Service>,
    pub(crate) endpoints: BTreeMap<ObjectKey, Endpoints>,
    pub(crate) endpoint_slices: BTreeMap<ObjectKey, EndpointSlice>,
    /// `None` when the backend does not list namespaces (every namespace is assumed to exist).
    pub(crate) namespaces: Option<BTreeMap<String, Namespace>>,
}

impl SourceCache {
    pub(crate) fn from_state(state: SourceState) -> Self {
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
            endpoint_slices: state
                .endpoint_slices
                .into_iter()
                .map(|e| (e.metadata.key(), e))
                .collect(),
            namespaces: state.namespaces.map(|all| {
                all.into_iter()
                    .map(|ns| (ns.metadata.name.clone(), ns))
                    .collect()
            }),
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

    /// The Services of one namespace.
    pub(crate) fn services_in<'a>(
        &'a self,
        namespace: &'a str,
    ) -> impl Iterator<Item = (&'a ObjectKey, &'a Service)> + 'a {
        self.services
            .range(ObjectKey::new(namespace, "")..)
            .take_while(move |(k, _)| k.namespace == namespace)
    }

    /// The Endpoints of one namespace.
    pub(crate) fn endpoints_in<'a>(
        &'a self,
        namespace: &'a str,
    ) -> impl Iterator<Item = (&'a ObjectKey, &'a Endpoints)> + 'a {
        self.endpoints
            .range(ObjectKey::new(namespace, "")..)
            .take_while(move |(k, _)| k.namespace == namespace)
    }

    /// The EndpointSlices of one namespace.
    pub(crate) fn endpoint_slices_in<'a>(
        &'a self,
        namespace: &'a str,
    ) -> impl Iterator<Item = (&'a ObjectKey, &'a EndpointSlice)> + 'a {
        self.endpoint_slices
            .range(ObjectKey::new(namespace, "")..)
            .take_while(move |(k, _)| k.namespace == namespace)
    }

    /// One namespace's objects and every Namespace: all one export's translation reads (mirrors
    /// live in the namespace of the Service they mirror).
    pub(crate) fn namespace_state(&self, namespace: &str) -> SourceState {
        SourceState {
            services: self
                .services_in(namespace)
                .map(|(_, s)| s.clone())
                .collect(),
            endpoints: self
                .endpoints_in(namespace)
                .map(|(_, e)| e.clone())
                .collect(),
            endpoint_slices: self
                .endpoint_slices_in(namespace)
                .map(|(_, e)| e.clone())
                .collect(),
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
                self.services.insert(svc.metadata.key(), svc);
            }
            Object::Endpoints(ep) => {
                self.endpoints.insert(ep.metadata.key(), ep);
            }
            Object::EndpointSlice(slice) => {
                self.endpoint_slices.insert(slice.metadata.key(), slice);
            }
        }
    }

    /// Records that the object is gone.
    pub(crate) fn forget(&mut self, kind: Kind, key: &ObjectKey) {
        match kind {
            Kind::Namespace => {
                if let Some(all) = &mut self.namespaces {
                    all.remove(&key.name);
                }
            }
            Kind::Service => {
                self.services.remove(key);
            }
            Kind::Endpoints => {
                self.endpoints.remove(key);
            }
            Kind::EndpointSlice => {
                self.endpoint_slices.remove(key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_views_hold_only_that_namespace() {
        let mut cache = SourceCache::default();
        for (ns, name) in [("a", "x"), ("b", "x"), ("b", "y"), ("ba", "x"), ("c", "x")] {
            cache.store(Object::Service(Service::new(ns, name)));
            cache.store(Object::Endpoints(Endpoints::new(ns, name)));
        }
        let names: Vec<String> = cache.services_in("b").map(|(k, _)| k.to_string()).collect();
        assert_eq!(names, ["b/x", "b/y"]);
        let state = cache.namespace_state("b");
        assert_eq!(state.services.len(), 2);
        assert_eq!(state.endpoints.len(), 2);
        assert!(state.namespaces.is_none());
        cache.forget(Kind::Service, &ObjectKey::new("b", "x"));
        assert_eq!(cache.services_in("b").count(), 1);
    }
}
