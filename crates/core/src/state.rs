//! The inputs and outputs of [`crate::translate`] and [`crate::plan`]: plain data. The inputs
//! here are lists, as a file or a List call gives them; [`crate::store`] holds the same inputs
//! keyed, and both are read through [`crate::view`]'s traits.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize, Serializer};

use crate::model::{EndpointSlice, Endpoints, Kind, Namespace, Object, ObjectKey, Service};
use crate::record::{ObservedEndpoints, ObservedService, ObservedSlice};
use crate::template::{Entry, Templated};
use crate::view::{SourceLookup, SourceView, TargetLookup, TargetView};

/// What the target cluster holds: its Services and Endpoints (exported or not; the link's selector
/// decides).
///
/// `#[non_exhaustive]` (issue 13, inputs that can grow): build it with [`TargetState::new`] (or
/// `Default`), so a field added later does not break an embedder.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TargetState {
    /// The target cluster's Services.
    pub services: Vec<Service>,
    /// The target cluster's Endpoints.
    pub endpoints: Vec<Endpoints>,
}

impl TargetState {
    /// The target's Services and Endpoints.
    #[must_use]
    pub fn new(services: Vec<Service>, endpoints: Vec<Endpoints>) -> Self {
        Self {
            services,
            endpoints,
        }
    }
}

/// What the source cluster already holds.
///
/// `#[non_exhaustive]` (issue 13, inputs that can grow): build it with [`SourceState::new`] (or
/// `Default`) and [`SourceState::with_endpoint_slices`] / [`SourceState::with_namespaces`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SourceState {
    /// The source cluster's Services (ours and others').
    pub services: Vec<Service>,
    /// The source cluster's Endpoints (ours and others').
    pub endpoints: Vec<Endpoints>,
    /// The source cluster's EndpointSlices (ours and others', e.g. the endpointslice
    /// controllers'; SPEC §12). Empty when unknown: then no slice of ours is seen, so none is
    /// deleted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub endpoint_slices: Vec<EndpointSlice>,
    /// The source cluster's Namespaces; `None` when unknown, in which case every namespace is
    /// assumed to exist.
    pub namespaces: Option<Vec<Namespace>>,
}

impl SourceState {
    /// The source's Services and Endpoints; no EndpointSlices, namespaces unknown.
    #[must_use]
    pub fn new(services: Vec<Service>, endpoints: Vec<Endpoints>) -> Self {
        Self {
            services,
            endpoints,
            endpoint_slices: Vec::new(),
            namespaces: None,
        }
    }

    /// With these EndpointSlices (SPEC §12).
    #[must_use]
    pub fn with_endpoint_slices(mut self, endpoint_slices: Vec<EndpointSlice>) -> Self {
        self.endpoint_slices = endpoint_slices;
        self
    }

    /// With these Namespaces listed (`Some`), or unknown (`None`, the default: every namespace
    /// is assumed to exist).
    #[must_use]
    pub fn with_namespaces(mut self, namespaces: Option<Vec<Namespace>>) -> Self {
        self.namespaces = namespaces;
        self
    }

    /// Whether `namespace` exists (always true when namespaces are unknown).
    #[must_use]
    pub fn has_namespace(&self, namespace: &str) -> bool {
        self.namespaces
            .as_ref()
            .is_none_or(|all| all.iter().any(|ns| ns.metadata.name == namespace))
    }

    /// The Service at `key`, if any.
    #[must_use]
    pub fn service(&self, key: &ObjectKey) -> Option<&Service> {
        self.services.iter().find(|s| s.metadata.is_at(key))
    }

    /// The Endpoints at `key`, if any.
    #[must_use]
    pub fn endpoints_at(&self, key: &ObjectKey) -> Option<&Endpoints> {
        self.endpoints.iter().find(|e| e.metadata.is_at(key))
    }

    /// The EndpointSlice at `key`, if any.
    #[must_use]
    pub fn endpoint_slice_at(&self, key: &ObjectKey) -> Option<&EndpointSlice> {
        self.endpoint_slices.iter().find(|e| e.metadata.is_at(key))
    }

    /// Every object as one sorted list: Namespaces, then Services, then Endpoints, then
    /// EndpointSlices, each by key.
    #[must_use]
    pub fn objects(&self) -> Vec<Object> {
        let mut out: Vec<Object> = self
            .namespaces
            .iter()
            .flatten()
            .cloned()
            .map(Object::Namespace)
            .chain(self.services.iter().cloned().map(Object::Service))
            .chain(self.endpoints.iter().cloned().map(Object::Endpoints))
            .chain(
                self.endpoint_slices
                    .iter()
                    .cloned()
                    .map(Object::EndpointSlice),
            )
            .collect();
        out.sort_by_key(|o| (o.kind(), o.key()));
        out
    }
}

impl TargetLookup for TargetState {
    fn service(&self, key: &ObjectKey) -> Option<&Service> {
        self.services.iter().find(|s| s.metadata.is_at(key))
    }
    fn endpoints(&self, key: &ObjectKey) -> Option<&Endpoints> {
        self.endpoints.iter().find(|e| e.metadata.is_at(key))
    }
}

/// The lists in their own order.
impl TargetView for TargetState {
    fn each_service(&self) -> impl Iterator<Item = &Service> {
        self.services.iter()
    }
    fn each_endpoints(&self) -> impl Iterator<Item = &Endpoints> {
        self.endpoints.iter()
    }
}

impl SourceLookup for SourceState {
    fn service(&self, key: &ObjectKey) -> Option<ObservedService<'_>> {
        SourceState::service(self, key).map(ObservedService::Full)
    }
    fn endpoints(&self, key: &ObjectKey) -> Option<ObservedEndpoints<'_>> {
        self.endpoints_at(key).map(ObservedEndpoints::Full)
    }
    fn namespaces(&self) -> Option<Vec<Namespace>> {
        self.namespaces.clone()
    }
}

/// The lists in their own order.
impl SourceView for SourceState {
    fn each_service(&self) -> impl Iterator<Item = ObservedService<'_>> {
        self.services.iter().map(ObservedService::Full)
    }
    fn each_endpoints(&self) -> impl Iterator<Item = ObservedEndpoints<'_>> {
        self.endpoints.iter().map(ObservedEndpoints::Full)
    }
    fn each_endpoint_slice(&self) -> impl Iterator<Item = ObservedSlice<'_>> {
        self.endpoint_slices.iter().map(ObservedSlice::Full)
    }
    fn namespace_names(&self) -> Option<impl Iterator<Item = &str>> {
        self.namespaces
            .as_ref()
            .map(|all| all.iter().map(|ns| ns.metadata.name.as_str()))
    }
    fn has_namespace(&self, namespace: &str) -> bool {
        SourceState::has_namespace(self, namespace)
    }
}

/// The objects the source cluster must hold for this link, keyed and therefore sorted.
///
/// Endpoint mirrors are kept as their export's template and their per-pod parts
/// ([`Entry::EndpointMirror`], SPEC §6.5; see [`crate::EndpointMirrorTemplate`]) and built only
/// when asked for: [`Desired::service`], [`Desired::endpoints_object`], [`Desired::objects`] and
/// serialization give every object built.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Desired {
    /// Namespaces to create (only with namespace creation on).
    pub namespaces: BTreeMap<String, Namespace>,
    /// Mirror, root mirror and endpoint mirror Services.
    #[serde(serialize_with = "built")]
    pub services: BTreeMap<ObjectKey, Entry<Service>>,
    /// Their Endpoints (none when the link writes only EndpointSlices).
    #[serde(serialize_with = "built")]
    pub endpoints: BTreeMap<ObjectKey, Entry<Endpoints>>,
    /// Their EndpointSlices, when the link writes them (SPEC §12, [`crate::EndpointsApi`]).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub endpoint_slices: BTreeMap<ObjectKey, EndpointSlice>,
}

/// Serializes entries as the objects they stand for.
fn built<T, S>(entries: &BTreeMap<ObjectKey, Entry<T>>, serializer: S) -> Result<S::Ok, S::Error>
where
    T: Templated + Serialize,
    S: Serializer,
{
    serializer.collect_map(
        entries
            .iter()
            .map(|(key, entry)| (key, entry.to_object(key))),
    )
}

impl Desired {
    /// The Service at `key`, built if it is an endpoint mirror.
    #[must_use]
    pub fn service(&self, key: &ObjectKey) -> Option<Cow<'_, Service>> {
        self.services.get(key).map(|e| e.to_object(key))
    }

    /// The Endpoints at `key`, built if they are an endpoint mirror's.
    #[must_use]
    pub fn endpoints_object(&self, key: &ObjectKey) -> Option<Cow<'_, Endpoints>> {
        self.endpoints.get(key).map(|e| e.to_object(key))
    }

    /// Every desired Service, built, in key order.
    pub fn service_objects(&self) -> impl Iterator<Item = Cow<'_, Service>> {
        self.services.iter().map(|(key, e)| e.to_object(key))
    }

    /// Every desired Endpoints, built, in key order.
    pub fn endpoints_objects(&self) -> impl Iterator<Item = Cow<'_, Endpoints>> {
        self.endpoints.iter().map(|(key, e)| e.to_object(key))
    }

    /// The desired Services, built, in key order, consuming the desired state's map.
    pub fn into_services(self) -> impl Iterator<Item = Service> {
        self.services
            .into_iter()
            .map(|(key, e)| e.into_object(&key))
    }

    /// The desired Endpoints, built, in key order, consuming the desired state's map.
    pub fn into_endpoints(self) -> impl Iterator<Item = Endpoints> {
        self.endpoints
            .into_iter()
            .map(|(key, e)| e.into_object(&key))
    }

    /// Adds a built Service.
    pub fn insert_service(&mut self, service: Service) {
        self.services
            .insert(service.metadata.key(), Entry::Object(service));
    }

    /// Adds built Endpoints.
    pub fn insert_endpoints(&mut self, endpoints: Endpoints) {
        self.endpoints
            .insert(endpoints.metadata.key(), Entry::Object(endpoints));
    }

    /// Every desired object, Namespaces first, then Services, then Endpoints, then
    /// EndpointSlices.
    #[must_use]
    pub fn objects(&self) -> Vec<Object> {
        self.namespaces
            .values()
            .cloned()
            .map(Object::Namespace)
            .chain(
                self.service_objects()
                    .map(|s| Object::Service(s.into_owned())),
            )
            .chain(
                self.endpoints_objects()
                    .map(|e| Object::Endpoints(e.into_owned())),
            )
            .chain(
                self.endpoint_slices
                    .values()
                    .cloned()
                    .map(Object::EndpointSlice),
            )
            .collect()
    }

    /// Number of desired objects.
    #[must_use]
    pub fn len(&self) -> usize {
        self.namespaces.len()
            + self.services.len()
            + self.endpoints.len()
            + self.endpoint_slices.len()
    }

    /// True when nothing is desired.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The keys of every desired object, with their kind.
    #[must_use]
    pub fn keys(&self) -> BTreeSet<(Kind, ObjectKey)> {
        let namespaces = self
            .namespaces
            .values()
            .map(|ns| (Kind::Namespace, ObjectKey::new("", &ns.metadata.name)));
        let of = |kind, keys: &mut dyn Iterator<Item = &ObjectKey>| {
            keys.map(|k| (kind, k.clone())).collect::<Vec<_>>()
        };
        namespaces
            .chain(of(Kind::Service, &mut self.services.keys()))
            .chain(of(Kind::Endpoints, &mut self.endpoints.keys()))
            .chain(of(Kind::EndpointSlice, &mut self.endpoint_slices.keys()))
            .collect()
    }
}
