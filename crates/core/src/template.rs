//! SPEC §6.5: one template per headless export. An export's endpoint mirrors differ only in their
//! name, their `remote-svc-fq-name` (`<hostname>.<export fq name>`) and their
//! `remote-resource-version` (kept per mirror, SPEC §4); everything else — labels, ports, the
//! gateway subset, the gateway identity — is the export's, held once in an
//! [`EndpointMirrorTemplate`] that every endpoint mirror of the export shares.
//!
//! The desired state ([`crate::Desired`]) therefore holds each endpoint mirror as an
//! [`Entry::EndpointMirror`] — its per-pod parts and a reference to the template — instead of a
//! built `Service` and `Endpoints` (at 10 000 exports × 10 pods: 200 000 objects of ~25
//! allocations each). A mirror is built ([`Entry::to_object`]) only when an operation writes it, a
//! caller asks for the object, or `plan` finds it differs from what the source holds; `plan`
//! compares the template's parts with the observed object in place ([`Entry::matches`]), and the
//! answer is the field-by-field comparison's (property-tested in `tests/templates.rs`).
//!
//! Issue 13 item 3: the template also holds the digests of its shared field groups
//! ([`crate::fingerprint`]), taken once when it is built, so an endpoint mirror's digests
//! ([`Entry::digest`]) cost a digest of its own annotations only.

use std::borrow::Cow;
use std::sync::Arc;

use crate::fingerprint::{self, EndpointsDigest, ServiceDigest};
use crate::groups::{EndpointsGroups, ServiceGroups};
use crate::labels::{REMOTE_GATEWAY_IDENTITY, REMOTE_RESOURCE_VERSION, REMOTE_SVC_FQ_NAME};
use crate::model::{
    EndpointSubset, Endpoints, Kind, ObjectKey, ObjectMeta, Service, ServicePort, StringMap,
};

/// What the endpoint mirrors of one headless export share (SPEC §6.5): their labels (the root's
/// plus `headless-mirror-svc-name`), their Service ports, and their Endpoints' gateway subset and
/// gateway identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointMirrorTemplate {
    labels: StringMap,
    ports: Vec<ServicePort>,
    gateway_identity: Option<String>,
    subsets: Vec<EndpointSubset>,
    /// The digests of the shared groups (issue 13 item 3): a function of the fields above.
    digests: SharedDigests,
}

/// The digests of what an export's endpoint mirrors share: their labels (Service and Endpoints
/// alike), the Service's ports and type (`ClusterIP`), and the Endpoints' subsets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct SharedDigests {
    labels: u64,
    ports: u64,
    type_: u64,
    subsets: u64,
}

impl SharedDigests {
    fn of(labels: &StringMap, ports: &[ServicePort], subsets: &[EndpointSubset]) -> Self {
        Self {
            labels: fingerprint::map(labels),
            ports: fingerprint::service_ports(ports),
            type_: fingerprint::service_type(None),
            subsets: fingerprint::subsets(subsets),
        }
    }
}

impl EndpointMirrorTemplate {
    /// The template of the endpoint mirrors whose Service is `service` (any one of them: only its
    /// shared parts are read) and whose Endpoints are `endpoints`.
    pub(crate) fn new(service: &Service, endpoints: &Endpoints) -> Self {
        Self {
            digests: SharedDigests::of(
                &service.metadata.labels,
                &service.spec.ports,
                &endpoints.subsets,
            ),
            labels: service.metadata.labels.clone(),
            ports: service.spec.ports.clone(),
            gateway_identity: endpoints
                .metadata
                .annotations
                .get(REMOTE_GATEWAY_IDENTITY)
                .cloned(),
            subsets: endpoints.subsets.clone(),
        }
    }

    /// What every endpoint mirror of the export is, less its name (empty) and its annotations
    /// (none): its Service and its Endpoints in `namespace`. SPEC §8 sizes an endpoint mirror as
    /// these plus its own parts.
    pub(crate) fn bare(&self, namespace: &str) -> (Service, Endpoints) {
        let mut service = Service::new(namespace, "");
        service.metadata.labels = self.labels.clone();
        service.spec.ports.clone_from(&self.ports);
        let mut endpoints = Endpoints::new(namespace, "");
        endpoints.metadata.labels = self.labels.clone();
        endpoints.subsets.clone_from(&self.subsets);
        (service, endpoints)
    }

    /// The labels every endpoint mirror of the export carries (Service and Endpoints).
    #[must_use]
    pub fn labels(&self) -> &StringMap {
        &self.labels
    }
}

/// One endpoint mirror: its per-pod parts and the template of its export. Its name is the key it
/// is stored under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointMirror {
    template: Arc<EndpointMirrorTemplate>,
    fq_name: String,
    resource_version: Option<String>,
}

impl EndpointMirror {
    pub(crate) fn new(
        template: Arc<EndpointMirrorTemplate>,
        fq_name: String,
        resource_version: Option<&str>,
    ) -> Self {
        Self {
            template,
            fq_name,
            resource_version: resource_version.map(str::to_owned),
        }
    }

    /// The export's template.
    #[must_use]
    pub fn template(&self) -> &EndpointMirrorTemplate {
        &self.template
    }

    /// The template, shared.
    pub(crate) fn shared_template(&self) -> Arc<EndpointMirrorTemplate> {
        Arc::clone(&self.template)
    }

    /// Its `remote-svc-fq-name`: `<hostname>.<export>.<namespace>.svc.<cluster domain>`.
    #[must_use]
    pub fn fq_name(&self) -> &str {
        &self.fq_name
    }

    /// The annotations of its Service (`Kind::Service`) or its Endpoints, as `(key, value)`
    /// pairs, without building them (SPEC §8 sizes them).
    pub(crate) fn annotation_pairs(&self, kind: Kind) -> [Option<(&str, &str)>; 2] {
        let fq = Some((REMOTE_SVC_FQ_NAME, self.fq_name.as_str()));
        match kind {
            Kind::Service => [
                fq,
                self.resource_version
                    .as_deref()
                    .map(|rv| (REMOTE_RESOURCE_VERSION, rv)),
            ],
            _ => [
                fq,
                self.template
                    .gateway_identity
                    .as_deref()
                    .map(|id| (REMOTE_GATEWAY_IDENTITY, id)),
            ],
        }
    }

    /// The endpoint mirror's Service at `key` (SPEC §6.5: `headless::endpoint_mirror`).
    fn service(&self, key: &ObjectKey) -> Service {
        let mut mirror = Service::new(&key.namespace, &key.name);
        mirror.metadata.labels = self.template.labels.clone();
        mirror.spec.ports.clone_from(&self.template.ports);
        mirror.metadata.annotations = self.service_annotations();
        mirror
    }

    fn service_annotations(&self) -> StringMap {
        let mut annotations =
            StringMap::from([(REMOTE_SVC_FQ_NAME.to_owned(), self.fq_name.clone())]);
        if let Some(rv) = &self.resource_version {
            annotations.insert(REMOTE_RESOURCE_VERSION.to_owned(), rv.clone());
        }
        annotations
    }

    /// The endpoint mirror's Endpoints at `key` (SPEC §5's gateway Endpoints, always ready).
    fn endpoints(&self, key: &ObjectKey) -> Endpoints {
        let mut ep = Endpoints::new(&key.namespace, &key.name);
        ep.metadata.labels = self.template.labels.clone();
        let mut annotations =
            StringMap::from([(REMOTE_SVC_FQ_NAME.to_owned(), self.fq_name.clone())]);
        if let Some(identity) = &self.template.gateway_identity {
            annotations.insert(REMOTE_GATEWAY_IDENTITY.to_owned(), identity.clone());
        }
        ep.metadata.annotations = annotations;
        ep.subsets.clone_from(&self.template.subsets);
        ep
    }

    /// The digests of its Service: the template's, with its own annotations'.
    fn service_digest(&self) -> ServiceDigest {
        let shared = &self.template.digests;
        ServiceDigest {
            labels: shared.labels,
            annotations: pairs_digest(self.annotation_pairs(Kind::Service)),
            ports: shared.ports,
            type_: shared.type_,
            selector: false,
        }
    }

    /// The digests of its Endpoints: the template's, with its own annotations'.
    fn endpoints_digest(&self) -> EndpointsDigest {
        let shared = &self.template.digests;
        EndpointsDigest {
            labels: shared.labels,
            annotations: pairs_digest(self.annotation_pairs(Kind::Endpoints)),
            subsets: shared.subsets,
        }
    }

    /// Whether the Service's annotations are exactly this mirror's.
    fn service_annotations_match(&self, have: &StringMap) -> bool {
        have.len() == 1 + usize::from(self.resource_version.is_some())
            && have.get(REMOTE_SVC_FQ_NAME) == Some(&self.fq_name)
            && have.get(REMOTE_RESOURCE_VERSION) == self.resource_version.as_ref()
    }

    /// Whether the Endpoints' annotations are exactly this mirror's.
    fn endpoints_annotations_match(&self, have: &StringMap) -> bool {
        have.len() == 1 + usize::from(self.template.gateway_identity.is_some())
            && have.get(REMOTE_SVC_FQ_NAME) == Some(&self.fq_name)
            && have.get(REMOTE_GATEWAY_IDENTITY) == self.template.gateway_identity.as_ref()
    }
}

/// The digest of the map of up to two `(key, value)` pairs with distinct keys, without building
/// it: sorted by key, as a [`StringMap`] iterates.
fn pairs_digest(pairs: [Option<(&str, &str)>; 2]) -> u64 {
    let [a, b] = pairs;
    let (a, b) = match (a, b) {
        (Some(x), Some(y)) if y.0 < x.0 => (Some(y), Some(x)),
        other => other,
    };
    fingerprint::map_of_pairs(a.into_iter().chain(b))
}

/// An object of the desired state: built, or an endpoint mirror kept as its export's template
/// and its per-pod parts (see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry<T> {
    /// A built object (mirrors, root mirrors, their Endpoints, federated Services).
    Object(T),
    /// An endpoint mirror of a headless export (SPEC §6.5), built on demand.
    EndpointMirror(Arc<EndpointMirror>),
}

/// A kind the desired state keeps as [`Entry`]: what the entry reads of it.
pub trait Templated: Clone {
    /// The digests of its compared field groups ([`crate::fingerprint`]).
    #[doc(hidden)]
    type Digest: Copy + Eq + std::fmt::Debug;
    /// The digests of the endpoint mirror's object of this kind, without building it.
    #[doc(hidden)]
    fn mirror_digest(mirror: &EndpointMirror) -> Self::Digest;
    /// The digests of a built object.
    #[doc(hidden)]
    fn digest(&self) -> Self::Digest;
    /// The groups `plan` changes from an observed record (`have_meta`, the metadata it keeps,
    /// and `have`, its digests) to `want`: labels and annotations compared as maps (a record
    /// keeps them; an export's mirrors share one label map, so most compare by pointer), the
    /// other groups by digest — an endpoint mirror's from its template, digested once.
    #[doc(hidden)]
    fn record_changes(
        want: &Entry<Self>,
        have_meta: &ObjectMeta,
        have: &Self::Digest,
    ) -> Vec<&'static str>;
    /// Builds the endpoint mirror's object of this kind at `key`.
    #[doc(hidden)]
    fn build(mirror: &EndpointMirror, key: &ObjectKey) -> Self;
    /// Whether `have` holds exactly what `mirror` would be built as, for the fields `plan`
    /// compares — the cheap half of the comparison: `false` means "compare field by field".
    #[doc(hidden)]
    fn matches(mirror: &EndpointMirror, have: &Self) -> bool;
    /// The object's metadata.
    #[doc(hidden)]
    fn meta(&self) -> &ObjectMeta;
}

impl Templated for Service {
    type Digest = ServiceDigest;

    fn mirror_digest(mirror: &EndpointMirror) -> ServiceDigest {
        mirror.service_digest()
    }

    fn digest(&self) -> ServiceDigest {
        ServiceDigest::of(self)
    }

    fn record_changes(
        want: &Entry<Self>,
        have_meta: &ObjectMeta,
        have: &ServiceDigest,
    ) -> Vec<&'static str> {
        let (annotations, ports, type_) = match want {
            Entry::Object(o) => (
                o.metadata.annotations == have_meta.annotations,
                fingerprint::service_ports(&o.spec.ports),
                fingerprint::service_type(o.spec.type_.as_deref()),
            ),
            Entry::EndpointMirror(m) => (
                m.service_annotations_match(&have_meta.annotations),
                m.template.digests.ports,
                m.template.digests.type_,
            ),
        };
        ServiceGroups {
            labels: *want.labels() != have_meta.labels,
            annotations: !annotations,
            ports: ports != have.ports,
            selector: have.selector,
            type_: type_ != have.type_,
        }
        .named()
    }

    fn build(mirror: &EndpointMirror, key: &ObjectKey) -> Self {
        mirror.service(key)
    }

    fn matches(mirror: &EndpointMirror, have: &Self) -> bool {
        // What `plan::service_changes` compares: labels, annotations, ports as written, no
        // selector, type ClusterIP (an endpoint mirror sets none).
        have.metadata.labels == mirror.template.labels
            && mirror.service_annotations_match(&have.metadata.annotations)
            && have.spec.ports == mirror.template.ports
            && have.spec.selector.as_ref().is_none_or(|s| s.is_empty())
            && have.spec.type_.as_deref().unwrap_or("ClusterIP") == "ClusterIP"
    }

    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
}

impl Templated for Endpoints {
    type Digest = EndpointsDigest;

    fn mirror_digest(mirror: &EndpointMirror) -> EndpointsDigest {
        mirror.endpoints_digest()
    }

    fn digest(&self) -> EndpointsDigest {
        EndpointsDigest::of(self)
    }

    fn record_changes(
        want: &Entry<Self>,
        have_meta: &ObjectMeta,
        have: &EndpointsDigest,
    ) -> Vec<&'static str> {
        let (annotations, subsets) = match want {
            Entry::Object(o) => (
                o.metadata.annotations == have_meta.annotations,
                fingerprint::subsets(&o.subsets),
            ),
            Entry::EndpointMirror(m) => (
                m.endpoints_annotations_match(&have_meta.annotations),
                m.template.digests.subsets,
            ),
        };
        EndpointsGroups {
            labels: *want.labels() != have_meta.labels,
            annotations: !annotations,
            subsets: subsets != have.subsets,
        }
        .named()
    }

    fn build(mirror: &EndpointMirror, key: &ObjectKey) -> Self {
        mirror.endpoints(key)
    }

    fn matches(mirror: &EndpointMirror, have: &Self) -> bool {
        have.metadata.labels == mirror.template.labels
            && mirror.endpoints_annotations_match(&have.metadata.annotations)
            && have.subsets == mirror.template.subsets
    }

    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
}

impl<T: Templated> Entry<T> {
    /// The object at `key`: borrowed when built, built when an endpoint mirror.
    #[must_use]
    pub fn to_object(&self, key: &ObjectKey) -> Cow<'_, T> {
        match self {
            Self::Object(object) => Cow::Borrowed(object),
            Self::EndpointMirror(mirror) => Cow::Owned(T::build(mirror, key)),
        }
    }

    /// The object at `key`, owned.
    #[must_use]
    pub fn into_object(self, key: &ObjectKey) -> T {
        match self {
            Self::Object(object) => object,
            Self::EndpointMirror(mirror) => T::build(&mirror, key),
        }
    }

    /// The object's labels, without building it.
    #[must_use]
    pub fn labels(&self) -> &StringMap {
        match self {
            Self::Object(object) => &object.meta().labels,
            Self::EndpointMirror(mirror) => &mirror.template.labels,
        }
    }

    /// Its `remote-svc-fq-name` annotation, without building it.
    #[must_use]
    pub fn fq_name(&self) -> Option<&str> {
        match self {
            Self::Object(object) => object
                .meta()
                .annotations
                .get(REMOTE_SVC_FQ_NAME)
                .map(String::as_str),
            Self::EndpointMirror(mirror) => Some(&mirror.fq_name),
        }
    }

    /// True when `have` is certainly what `plan` would leave alone: an endpoint mirror whose
    /// observed object equals its template and per-pod parts as written. `false` says nothing:
    /// the caller compares field by field.
    #[must_use]
    pub fn matches(&self, have: &T) -> bool {
        match self {
            Self::Object(_) => false,
            Self::EndpointMirror(mirror) => T::matches(mirror, have),
        }
    }

    /// The digests of the object's compared field groups (issue 13 item 3): an endpoint
    /// mirror's from its template's, digested once, and its own annotations; a built object's
    /// digested now.
    #[must_use]
    pub fn digest(&self) -> T::Digest {
        match self {
            Self::Object(object) => object.digest(),
            Self::EndpointMirror(mirror) => T::mirror_digest(mirror),
        }
    }

    /// The built object, if this entry is one.
    #[must_use]
    pub fn as_object(&self) -> Option<&T> {
        match self {
            Self::Object(object) => Some(object),
            Self::EndpointMirror(_) => None,
        }
    }
}

impl Entry<Service> {
    /// Whether the Service is headless (an endpoint mirror never is).
    #[must_use]
    pub fn is_headless(&self) -> bool {
        match self {
            Self::Object(service) => service.is_headless(),
            Self::EndpointMirror(_) => false,
        }
    }
}

impl<T> From<T> for Entry<T> {
    fn from(object: T) -> Self {
        Self::Object(object)
    }
}
