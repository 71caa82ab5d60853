//! The Kubernetes objects svcmirror reads and writes, as plain serde data.
//!
//! Field names are Kubernetes' JSON names, so `kubectl get -o json|yaml` output deserializes as is;
//! unknown fields (managedFields, status, ownerReferences…) are ignored. Only what the mirror reads
//! or writes is modelled. Nothing here validates: `validate.rs` does, and reports field paths.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A `string → string` map (labels, annotations): sorted by key, compact, and cloned in O(1).
///
/// The entries are shared by every clone until one clone is changed, which then copies them
/// (copy on write), and they are stored as one sorted vector, not a tree. A mirror's labels are
/// computed once per export and carried by its Service, its Endpoints and every endpoint mirror;
/// the plan, the fake API server and the driver's cache clone whole objects. Sharing makes those
/// clones cost a reference count instead of ~20 `String`s each, and a vector makes a one-entry
/// map (an endpoint mirror's annotations) ~100 bytes instead of a ~560-byte tree node. An empty
/// map allocates nothing.
///
/// The API is the subset of [`BTreeMap`]'s that labels need (`get`, `contains_key`, `iter`,
/// `insert`, `remove`, …), with the same meaning. Equality, order, `Debug` and serde are those
/// of the map.
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StringMap(
    /// Sorted by key, keys unique; `None` exactly when empty (so equality is derived).
    Option<Arc<Vec<(String, String)>>>,
);

/// The iterator of [`StringMap::iter`].
pub type StringMapIter<'a> = std::iter::Map<
    std::slice::Iter<'a, (String, String)>,
    fn(&(String, String)) -> (&String, &String),
>;

impl StringMap {
    /// An empty map.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    fn entries(&self) -> &[(String, String)] {
        self.0.as_deref().map_or(&[], Vec::as_slice)
    }

    /// The entries, to change them: copies them first when another clone shares them.
    fn entries_mut(&mut self) -> &mut Vec<(String, String)> {
        Arc::make_mut(self.0.get_or_insert_with(Arc::default))
    }

    /// Restores the invariant after a removal: an empty map holds nothing.
    fn normalize(&mut self) {
        if self.0.as_ref().is_some_and(|e| e.is_empty()) {
            self.0 = None;
        }
    }

    fn position(&self, key: &str) -> Result<usize, usize> {
        self.entries()
            .binary_search_by(|(k, _)| k.as_str().cmp(key))
    }

    /// The number of entries.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries().len()
    }

    /// True when there is no entry.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    /// The value of `key`.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&String> {
        let i = self.position(key).ok()?;
        Some(&self.entries()[i].1)
    }

    /// Whether `key` has a value.
    #[must_use]
    pub fn contains_key(&self, key: &str) -> bool {
        self.position(key).is_ok()
    }

    /// The entries, by key.
    pub fn iter(&self) -> StringMapIter<'_> {
        self.entries().iter().map(|(k, v)| (k, v))
    }

    /// The keys, in order.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &String> + ExactSizeIterator {
        self.entries().iter().map(|(k, _)| k)
    }

    /// The values, in key order.
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &String> + ExactSizeIterator {
        self.entries().iter().map(|(_, v)| v)
    }

    /// Sets `key` to `value`, returning the previous value.
    pub fn insert(&mut self, key: String, value: String) -> Option<String> {
        match self.position(&key) {
            Ok(i) => Some(std::mem::replace(&mut self.entries_mut()[i].1, value)),
            Err(i) => {
                self.entries_mut().insert(i, (key, value));
                None
            }
        }
    }

    /// Removes `key`, returning its value. Copies nothing when absent.
    pub fn remove(&mut self, key: &str) -> Option<String> {
        let i = self.position(key).ok()?;
        let (_, value) = self.entries_mut().remove(i);
        self.normalize();
        Some(value)
    }

    /// Keeps the entries for which `keep` is true. Copies nothing when every entry is kept.
    pub fn retain(&mut self, mut keep: impl FnMut(&String, &String) -> bool) {
        if self.iter().any(|(k, v)| !keep(k, v)) {
            self.entries_mut().retain(|(k, v)| keep(k, v));
            self.normalize();
        }
    }

    /// Removes every entry.
    pub fn clear(&mut self) {
        self.0 = None;
    }

    /// Whether `self` and `other` share their entries (then they are equal without comparing).
    #[must_use]
    pub fn shares_with(&self, other: &Self) -> bool {
        match (&self.0, &other.0) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            (None, None) => true,
            _ => false,
        }
    }

    /// Whether another clone shares these entries (so a measure of them can be reused for it:
    /// SPEC §8 sizes an export's objects, which share their labels).
    #[must_use]
    pub(crate) fn is_shared(&self) -> bool {
        self.0.as_ref().is_some_and(|e| Arc::strong_count(e) > 1)
    }

    /// How many clones share these entries (0 for an empty map).
    #[must_use]
    pub(crate) fn share_count(&self) -> usize {
        self.0.as_ref().map_or(0, Arc::strong_count)
    }

    /// The entries as a [`BTreeMap`] (a copy).
    #[must_use]
    pub fn to_btree_map(&self) -> BTreeMap<String, String> {
        self.entries().iter().cloned().collect()
    }
}

impl std::ops::Index<&str> for StringMap {
    type Output = String;

    /// The value of `key`.
    ///
    /// # Panics
    /// When `key` has no value, as [`BTreeMap`]'s index does.
    fn index(&self, key: &str) -> &String {
        self.get(key)
            .unwrap_or_else(|| panic!("no entry for key {key:?}"))
    }
}

impl fmt::Debug for StringMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl From<BTreeMap<String, String>> for StringMap {
    fn from(map: BTreeMap<String, String>) -> Self {
        if map.is_empty() {
            Self(None)
        } else {
            // Already sorted by key, keys unique.
            Self(Some(Arc::new(map.into_iter().collect())))
        }
    }
}

impl<const N: usize> From<[(String, String); N]> for StringMap {
    fn from(entries: [(String, String); N]) -> Self {
        entries.into_iter().collect()
    }
}

impl From<StringMap> for BTreeMap<String, String> {
    fn from(map: StringMap) -> Self {
        map.0
            .map(|entries| Arc::unwrap_or_clone(entries).into_iter().collect())
            .unwrap_or_default()
    }
}

impl FromIterator<(String, String)> for StringMap {
    /// A later entry for the same key wins, as in [`BTreeMap`].
    fn from_iter<I: IntoIterator<Item = (String, String)>>(entries: I) -> Self {
        // Sorted in place (stable: equal keys keep their input order), then each run of one key
        // reduced to its last entry — a vector, without building a tree first.
        let mut sorted: Vec<(String, String)> = entries.into_iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        let mut unique: Vec<(String, String)> = Vec::with_capacity(sorted.len());
        for entry in sorted {
            match unique.last_mut() {
                Some(last) if last.0 == entry.0 => *last = entry,
                _ => unique.push(entry),
            }
        }
        if unique.is_empty() {
            Self(None)
        } else {
            Self(Some(Arc::new(unique)))
        }
    }
}

impl Extend<(String, String)> for StringMap {
    fn extend<I: IntoIterator<Item = (String, String)>>(&mut self, entries: I) {
        for (key, value) in entries {
            self.insert(key, value);
        }
    }
}

impl<'a> IntoIterator for &'a StringMap {
    type Item = (&'a String, &'a String);
    type IntoIter = StringMapIter<'a>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl PartialEq<BTreeMap<String, String>> for StringMap {
    fn eq(&self, other: &BTreeMap<String, String>) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Serialize for StringMap {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

impl<'de> Deserialize<'de> for StringMap {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        BTreeMap::deserialize(deserializer).map(Self::from)
    }
}

/// `metadata` of a namespaced object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectMeta {
    /// `metadata.name`.
    #[serde(default)]
    pub name: String,
    /// `metadata.namespace`; empty means `default`, as kubectl assumes.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// `metadata.labels`.
    #[serde(default, skip_serializing_if = "StringMap::is_empty")]
    pub labels: StringMap,
    /// `metadata.annotations`.
    #[serde(default, skip_serializing_if = "StringMap::is_empty")]
    pub annotations: StringMap,
    /// `metadata.resourceVersion`, set by the API server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_version: Option<String>,
    /// `metadata.uid`, set by the API server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    /// `metadata.creationTimestamp`, set by the API server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_timestamp: Option<String>,
}

impl ObjectMeta {
    /// The namespace the object lives in: `metadata.namespace`, or `default` when unset.
    #[must_use]
    pub fn namespace(&self) -> &str {
        if self.namespace.is_empty() {
            "default"
        } else {
            &self.namespace
        }
    }

    /// The `(namespace, name)` key of the object.
    #[must_use]
    pub fn key(&self) -> ObjectKey {
        ObjectKey::new(self.namespace(), &self.name)
    }

    /// Whether this object is at `key` (compares without building a key).
    pub(crate) fn is_at(&self, key: &ObjectKey) -> bool {
        self.name == key.name && self.namespace() == key.namespace
    }

    /// `(namespace, name)`, borrowed: orders like [`ObjectMeta::key`], allocates nothing.
    pub(crate) fn key_ref(&self) -> (&str, &str) {
        (self.namespace(), &self.name)
    }
}

/// `metadata` of a cluster-scoped object (a Namespace).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterObjectMeta {
    /// `metadata.name`.
    #[serde(default)]
    pub name: String,
    /// `metadata.labels`.
    #[serde(default, skip_serializing_if = "StringMap::is_empty")]
    pub labels: StringMap,
    /// `metadata.resourceVersion`, set by the API server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_version: Option<String>,
    /// `metadata.uid`, set by the API server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
}

/// `apiVersion` and `kind` are a few constants: held as `&'static str` (no allocation per object)
/// unless the input says something else, which is kept as written.
pub type TypeName = Cow<'static, str>;

/// The `apiVersion`s and `kinds` the model knows, shared instead of allocated.
const TYPE_NAMES: &[&str] = &[
    "v1",
    "Service",
    "Endpoints",
    "EndpointSlice",
    "Namespace",
    DISCOVERY_V1,
];

/// Reads an `apiVersion` or `kind`: one of [`TYPE_NAMES`] is borrowed, anything else owned.
fn type_name<'de, D: Deserializer<'de>>(deserializer: D) -> Result<TypeName, D::Error> {
    struct Visitor;
    impl serde::de::Visitor<'_> for Visitor {
        type Value = TypeName;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string")
        }

        fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<TypeName, E> {
            Ok(TYPE_NAMES
                .iter()
                .find(|known| **known == value)
                .map_or_else(
                    || Cow::Owned(value.to_owned()),
                    |known| Cow::Borrowed(*known),
                ))
        }
    }
    deserializer.deserialize_str(Visitor)
}

fn api_version_v1() -> TypeName {
    Cow::Borrowed("v1")
}

/// A core/v1 Service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Service {
    /// Always `v1`.
    #[serde(default = "api_version_v1", deserialize_with = "type_name")]
    pub api_version: TypeName,
    /// Always `Service`.
    #[serde(default = "Service::kind_name", deserialize_with = "type_name")]
    pub kind: TypeName,
    /// `metadata`.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// `spec`.
    #[serde(default)]
    pub spec: ServiceSpec,
}

impl Service {
    fn kind_name() -> TypeName {
        Cow::Borrowed("Service")
    }

    /// An empty Service called `namespace/name`.
    #[must_use]
    pub fn new(namespace: &str, name: &str) -> Self {
        Self {
            api_version: api_version_v1(),
            kind: Self::kind_name(),
            metadata: ObjectMeta {
                name: name.to_owned(),
                namespace: namespace.to_owned(),
                ..ObjectMeta::default()
            },
            spec: ServiceSpec::default(),
        }
    }

    /// True when `spec.clusterIP` is `None`: a headless Service (SPEC §6.1).
    #[must_use]
    pub fn is_headless(&self) -> bool {
        self.spec.cluster_ip.as_deref() == Some(CLUSTER_IP_NONE)
    }
}

/// A port's protocol as the API server stores it: `TCP` when unset or empty.
#[must_use]
pub fn effective_protocol(protocol: Option<&str>) -> &str {
    match protocol {
        None | Some("") => "TCP",
        Some(p) => p,
    }
}

/// The `spec.clusterIP` value of a headless Service.
pub const CLUSTER_IP_NONE: &str = "None";

/// `spec` of a Service.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceSpec {
    /// `spec.type` (`ClusterIP` when unset).
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    /// `spec.clusterIP`: an IP, `None` for a headless Service, unset before allocation.
    #[serde(default, rename = "clusterIP", skip_serializing_if = "Option::is_none")]
    pub cluster_ip: Option<String>,
    /// `spec.clusterIPs`, set by the API server.
    #[serde(default, rename = "clusterIPs", skip_serializing_if = "Vec::is_empty")]
    pub cluster_ips: Vec<String>,
    /// `spec.ports`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<ServicePort>,
    /// `spec.selector`; mirrors never have one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<BTreeMap<String, String>>,
}

/// One entry of `spec.ports`.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServicePort {
    /// `name`; required when a Service has more than one port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `protocol`: `TCP` (default), `UDP` or `SCTP`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// `port`, 1–65535.
    #[serde(default)]
    pub port: i32,
    /// `targetPort`: a number or a named container port; defaults to `port`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_port: Option<IntOrString>,
    /// `nodePort`; never copied onto a mirror.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_port: Option<i32>,
    /// `appProtocol`; never copied onto a mirror.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_protocol: Option<String>,
}

/// A value that is a number or a name, like `targetPort`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(untagged)]
pub enum IntOrString {
    /// A port number.
    Int(i32),
    /// A port name.
    String(String),
}

impl fmt::Display for IntOrString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Int(n) => write!(f, "{n}"),
            Self::String(s) => f.write_str(s),
        }
    }
}

/// A core/v1 Endpoints object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Endpoints {
    /// Always `v1`.
    #[serde(default = "api_version_v1", deserialize_with = "type_name")]
    pub api_version: TypeName,
    /// Always `Endpoints`.
    #[serde(default = "Endpoints::kind_name", deserialize_with = "type_name")]
    pub kind: TypeName,
    /// `metadata`.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// `subsets`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subsets: Vec<EndpointSubset>,
}

impl Endpoints {
    fn kind_name() -> TypeName {
        Cow::Borrowed("Endpoints")
    }

    /// An Endpoints object called `namespace/name` with no subsets.
    #[must_use]
    pub fn new(namespace: &str, name: &str) -> Self {
        Self {
            api_version: api_version_v1(),
            kind: Self::kind_name(),
            metadata: ObjectMeta {
                name: name.to_owned(),
                namespace: namespace.to_owned(),
                ..ObjectMeta::default()
            },
            subsets: Vec::new(),
        }
    }
}

/// One entry of `subsets`.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointSubset {
    /// `addresses`: the ready endpoints.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<EndpointAddress>,
    /// `notReadyAddresses`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_ready_addresses: Vec<EndpointAddress>,
    /// `ports`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<EndpointPort>,
}

/// One address of a subset.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointAddress {
    /// `ip`.
    #[serde(default)]
    pub ip: String,
    /// `hostname`: set for StatefulSet pods behind their governing headless Service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// `nodeName`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_name: Option<String>,
    /// `targetRef`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_ref: Option<ObjectReference>,
}

/// `targetRef` of an address.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectReference {
    /// `kind`, usually `Pod`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// `name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `namespace`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// `uid`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    /// `resourceVersion`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_version: Option<String>,
}

/// One port of a subset.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointPort {
    /// `name`: matches the Service port's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `port`, 1–65535.
    #[serde(default)]
    pub port: i32,
    /// `protocol`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// `appProtocol`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_protocol: Option<String>,
}

/// `apiVersion` of an EndpointSlice.
pub const DISCOVERY_V1: &str = "discovery.k8s.io/v1";

fn api_version_discovery_v1() -> TypeName {
    Cow::Borrowed(DISCOVERY_V1)
}

/// A `discovery.k8s.io/v1` EndpointSlice (SPEC §12: Endpoints is deprecated since Kubernetes 1.33;
/// consumers read slices).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointSlice {
    /// Always `discovery.k8s.io/v1`.
    #[serde(default = "api_version_discovery_v1", deserialize_with = "type_name")]
    pub api_version: TypeName,
    /// Always `EndpointSlice`.
    #[serde(default = "EndpointSlice::kind_name", deserialize_with = "type_name")]
    pub kind: TypeName,
    /// `metadata`.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// `addressType`: `IPv4`, `IPv6` (or `FQDN`, which svcmirror never writes).
    #[serde(default)]
    pub address_type: String,
    /// `endpoints` (at most 1000); always written, as the API server does.
    #[serde(default)]
    pub endpoints: Vec<Endpoint>,
    /// `ports`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<EndpointSlicePort>,
}

impl EndpointSlice {
    fn kind_name() -> TypeName {
        Cow::Borrowed("EndpointSlice")
    }

    /// An EndpointSlice called `namespace/name` of `address_type`, with no endpoints or ports.
    #[must_use]
    pub fn new(namespace: &str, name: &str, address_type: &str) -> Self {
        Self {
            api_version: api_version_discovery_v1(),
            kind: Self::kind_name(),
            metadata: ObjectMeta {
                name: name.to_owned(),
                namespace: namespace.to_owned(),
                ..ObjectMeta::default()
            },
            address_type: address_type.to_owned(),
            endpoints: Vec::new(),
            ports: Vec::new(),
        }
    }
}

/// One entry of an EndpointSlice's `endpoints`.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Endpoint {
    /// `addresses`: one IP of the slice's address type (the API allows up to 100, all used
    /// interchangeably).
    #[serde(default)]
    pub addresses: Vec<String>,
    /// `conditions`.
    #[serde(default)]
    pub conditions: EndpointConditions,
    /// `hostname`: the DNS label the endpoint is known by under a headless Service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// `nodeName`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_name: Option<String>,
    /// `zone`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    /// `targetRef`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_ref: Option<ObjectReference>,
}

/// `conditions` of an endpoint; an unset condition means "unknown" (consumers treat ready as
/// true then).
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointConditions {
    /// `ready`: the endpoint may receive new traffic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready: Option<bool>,
    /// `serving`: the endpoint is serving (even while terminating).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serving: Option<bool>,
    /// `terminating`: the endpoint is terminating.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terminating: Option<bool>,
}

/// One entry of an EndpointSlice's `ports`.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointSlicePort {
    /// `name` (the API server defaults it to `""`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `protocol` (the API server defaults it to `TCP`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// `port`, 1–65535; unset means every port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i32>,
    /// `appProtocol`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_protocol: Option<String>,
}

/// A core/v1 Namespace (only its name and labels matter here).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Namespace {
    /// Always `v1`.
    #[serde(default = "api_version_v1", deserialize_with = "type_name")]
    pub api_version: TypeName,
    /// Always `Namespace`.
    #[serde(default = "Namespace::kind_name", deserialize_with = "type_name")]
    pub kind: TypeName,
    /// `metadata`.
    #[serde(default)]
    pub metadata: ClusterObjectMeta,
}

impl Namespace {
    fn kind_name() -> TypeName {
        Cow::Borrowed("Namespace")
    }

    /// A Namespace called `name`.
    #[must_use]
    pub fn new(name: &str) -> Self {
        Self {
            api_version: api_version_v1(),
            kind: Self::kind_name(),
            metadata: ClusterObjectMeta {
                name: name.to_owned(),
                ..ClusterObjectMeta::default()
            },
        }
    }
}

/// The kinds of object the mirror writes, in the order a plan creates them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Kind {
    /// core/v1 Namespace.
    Namespace,
    /// core/v1 Service.
    Service,
    /// core/v1 Endpoints.
    Endpoints,
    /// discovery.k8s.io/v1 EndpointSlice (SPEC §12).
    EndpointSlice,
}

impl Kind {
    /// The Kubernetes `kind` string.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Namespace => "Namespace",
            Self::Service => "Service",
            Self::Endpoints => "Endpoints",
            Self::EndpointSlice => "EndpointSlice",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `(namespace, name)` of a namespaced object; orders by namespace, then name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ObjectKey {
    /// The namespace.
    pub namespace: String,
    /// The name.
    pub name: String,
}

impl ObjectKey {
    /// A key for `namespace/name`.
    #[must_use]
    pub fn new(namespace: &str, name: &str) -> Self {
        Self {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        }
    }

    /// `(namespace, name)`, borrowed: the form the per-call indexes of the core are keyed by.
    pub(crate) fn key_ref(&self) -> (&str, &str) {
        (&self.namespace, &self.name)
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.namespace.is_empty() {
            f.write_str(&self.name)
        } else {
            write!(f, "{}/{}", self.namespace, self.name)
        }
    }
}

/// Any object the mirror writes to the source cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Object {
    /// A Namespace (namespace creation, SPEC §7).
    Namespace(Namespace),
    /// A mirror or endpoint mirror Service.
    Service(Service),
    /// A mirror or endpoint mirror Endpoints.
    Endpoints(Endpoints),
    /// An EndpointSlice of a mirror or endpoint mirror (SPEC §12).
    EndpointSlice(EndpointSlice),
}

impl Object {
    /// Which kind this is.
    #[must_use]
    pub fn kind(&self) -> Kind {
        match self {
            Self::Namespace(_) => Kind::Namespace,
            Self::Service(_) => Kind::Service,
            Self::Endpoints(_) => Kind::Endpoints,
            Self::EndpointSlice(_) => Kind::EndpointSlice,
        }
    }

    /// The object's key (a Namespace has an empty namespace).
    #[must_use]
    pub fn key(&self) -> ObjectKey {
        match self {
            Self::Namespace(ns) => ObjectKey::new("", &ns.metadata.name),
            Self::Service(svc) => svc.metadata.key(),
            Self::Endpoints(ep) => ep.metadata.key(),
            Self::EndpointSlice(slice) => slice.metadata.key(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> StringMap {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    /// StringMap behaves as the BTreeMap it replaces: same lookups, order, equality, Debug and
    /// serde, under a random-ish sequence of edits.
    #[test]
    fn string_map_matches_btree_map_under_edits() {
        let mut ours = StringMap::new();
        let mut model: BTreeMap<String, String> = BTreeMap::new();
        let keys = ["b", "a", "app", "z", "tier", "a", "m", "b"];
        for (i, k) in keys.iter().enumerate() {
            let v = format!("v{i}");
            assert_eq!(
                ours.insert((*k).to_owned(), v.clone()),
                model.insert((*k).to_owned(), v)
            );
            if i % 3 == 2 {
                assert_eq!(ours.remove("a"), model.remove("a"));
            }
            assert_eq!(ours, model);
            assert_eq!(ours.len(), model.len());
            assert!(ours.iter().eq(model.iter()));
            assert!(ours.keys().eq(model.keys()));
            assert_eq!(format!("{ours:?}"), format!("{model:?}"));
            assert_eq!(
                serde_json::to_string(&ours).unwrap(),
                serde_json::to_string(&model).unwrap()
            );
            for k in ["a", "b", "app", "missing"] {
                assert_eq!(ours.get(k), model.get(k));
                assert_eq!(ours.contains_key(k), model.contains_key(k));
            }
        }
        ours.retain(|k, _| k != "z");
        model.retain(|k, _| k != "z");
        assert_eq!(ours, model);
        assert_eq!(BTreeMap::from(ours.clone()), model);
        assert_eq!(ours.to_btree_map(), model);
        let back: StringMap =
            serde_json::from_str(&serde_json::to_string(&model).unwrap()).unwrap();
        assert_eq!(back, ours);
    }

    /// Empty is one value however it was reached, so derived equality holds.
    #[test]
    fn string_map_emptied_equals_new() {
        let mut m = map(&[("a", "1")]);
        assert_ne!(m, StringMap::new());
        m.remove("a");
        assert_eq!(m, StringMap::new());
        assert!(m.is_empty());
        let mut r = map(&[("a", "1"), ("b", "2")]);
        r.retain(|_, _| false);
        assert_eq!(r, StringMap::new());
        let mut c = map(&[("a", "1")]);
        c.clear();
        assert_eq!(c, StringMap::default());
        assert_eq!(map(&[]), StringMap::new());
    }

    /// Clones share their entries until one is changed; the other keeps its own.
    #[test]
    fn string_map_clones_share_until_written() {
        let a = map(&[("app", "web"), ("tier", "front")]);
        let mut b = a.clone();
        assert!(b.shares_with(&a));
        b.insert("tier".into(), "back".into());
        assert!(!b.shares_with(&a));
        assert_eq!(a["tier"], "front");
        assert_eq!(b["tier"], "back");
        let mut c = a.clone();
        assert_eq!(c.remove("missing"), None);
        c.retain(|_, _| true);
        assert!(c.shares_with(&a), "a no-op edit copies nothing");
    }

    /// `apiVersion` and `kind`: the known constants are shared, anything else is kept as
    /// written, a missing one takes the default, and all serialize as the plain string.
    #[test]
    fn type_names_are_shared_when_known_and_kept_when_not() {
        let svc: Service =
            serde_json::from_str(r#"{"apiVersion": "v1", "kind": "Service"}"#).unwrap();
        assert!(matches!(svc.api_version, Cow::Borrowed("v1")));
        assert!(matches!(svc.kind, Cow::Borrowed("Service")));
        let odd: Service =
            serde_json::from_str(r#"{"apiVersion": "v2", "kind": "service"}"#).unwrap();
        assert!(matches!(&odd.api_version, Cow::Owned(v) if v == "v2"));
        assert!(matches!(&odd.kind, Cow::Owned(k) if k == "service"));
        let slice: EndpointSlice = serde_json::from_str("{}").unwrap();
        assert_eq!(
            (&*slice.api_version, &*slice.kind),
            (DISCOVERY_V1, "EndpointSlice")
        );
        let json = serde_json::to_value(&odd).unwrap();
        assert_eq!(
            (&json["apiVersion"], &json["kind"]),
            (&"v2".into(), &"service".into())
        );
        let err = serde_json::from_str::<Service>(r#"{"kind": 7}"#).unwrap_err();
        assert!(err.to_string().contains("expected a string"), "{err}");
    }

    /// A later entry for the same key wins, as in a BTreeMap (and a YAML/JSON object).
    #[test]
    fn string_map_later_duplicate_wins() {
        let m = map(&[("a", "1"), ("a", "2")]);
        assert_eq!(m.len(), 1);
        assert_eq!(m["a"], "2");
        // Interleaved runs of one key, out of order: sorted, the last of each key kept.
        let m = map(&[
            ("b", "1"),
            ("a", "1"),
            ("b", "2"),
            ("a", "2"),
            ("c", "x"),
            ("b", "3"),
        ]);
        let expected: BTreeMap<String, String> = [("a", "2"), ("b", "3"), ("c", "x")]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .into();
        assert_eq!(m.to_btree_map(), expected);
        assert_eq!(m.keys().collect::<Vec<_>>(), ["a", "b", "c"]);
    }
}
