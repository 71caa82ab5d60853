//! The denominator of issue 13 item 8: a *minimal* serde parse of the target's JSON — bench-local
//! structs that hold only the fields a mirror reads, everything else skipped (`IgnoredAny`).
//!
//! - Service: metadata name, namespace, labels, annotations, resourceVersion, uid; spec `type`,
//!   `clusterIP`, ports (name, protocol, port, targetPort).
//! - Endpoints: metadata name, namespace, resourceVersion; subsets' addresses and
//!   notReadyAddresses (ip, hostname) and ports (name, protocol, port).
//!
//! An item's `metadata` is read as a Service's or an Endpoints' by the `kind` seen before it
//! (`kubectl` and serde_json both print `kind` first); an item whose `kind` comes later is read
//! with the Service's (wider) metadata, so nothing is lost, only a little more is kept.

#![allow(
    dead_code,
    reason = "the fields are what a mirror reads: parsed and held, never looked at by the bench"
)]

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, de};

/// A `kubectl get -o json` List.
#[derive(Debug, Deserialize)]
pub struct List {
    /// Its items; other kinds are kept as [`Item::Other`] (nothing of them is read).
    #[serde(default)]
    pub items: Vec<Item>,
}

/// One item of the List.
#[derive(Debug)]
pub enum Item {
    Service(Service),
    Endpoints(Endpoints),
    Other,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ServiceMeta {
    pub name: String,
    pub namespace: String,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub resource_version: String,
    pub uid: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct EndpointsMeta {
    pub name: String,
    pub namespace: String,
    pub resource_version: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ServiceSpec {
    #[serde(rename = "type")]
    pub type_: Option<String>,
    #[serde(rename = "clusterIP")]
    pub cluster_ip: Option<String>,
    pub ports: Vec<ServicePort>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ServicePort {
    pub name: Option<String>,
    pub protocol: Option<String>,
    pub port: i32,
    pub target_port: Option<IntOrString>,
}

/// `targetPort`: a number or a named port.
#[derive(Debug)]
pub enum IntOrString {
    Int(i64),
    String(String),
}

impl<'de> Deserialize<'de> for IntOrString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = IntOrString;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a port number or name")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<IntOrString, E> {
                Ok(IntOrString::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<IntOrString, E> {
                i64::try_from(v)
                    .map(IntOrString::Int)
                    .map_err(|_| E::custom("port out of range"))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<IntOrString, E> {
                Ok(IntOrString::String(v.to_owned()))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Default)]
pub struct Service {
    pub metadata: ServiceMeta,
    pub spec: ServiceSpec,
}

#[derive(Debug, Default)]
pub struct Endpoints {
    pub metadata: EndpointsMeta,
    pub subsets: Vec<Subset>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Subset {
    pub addresses: Vec<Address>,
    pub not_ready_addresses: Vec<Address>,
    pub ports: Vec<EndpointPort>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Address {
    pub ip: String,
    pub hostname: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct EndpointPort {
    pub name: Option<String>,
    pub protocol: Option<String>,
    pub port: i32,
}

/// The fields of an item this reader looks at (no allocation per key).
#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "camelCase")]
enum Field {
    Kind,
    Metadata,
    Spec,
    Subsets,
    #[serde(other)]
    Other,
}

/// The kinds this reader keeps.
#[derive(Deserialize)]
enum KindName {
    Service,
    Endpoints,
    #[serde(other)]
    Other,
}

impl<'de> Deserialize<'de> for Item {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(ItemVisitor)
    }
}

struct ItemVisitor;

impl<'de> Visitor<'de> for ItemVisitor {
    type Value = Item;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Kubernetes object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Item, A::Error> {
        let mut kind = None;
        let mut service = Service::default();
        let mut endpoints = Endpoints::default();
        while let Some(field) = map.next_key::<Field>()? {
            match field {
                Field::Kind => kind = Some(map.next_value::<KindName>()?),
                Field::Metadata => match kind {
                    Some(KindName::Endpoints) => endpoints.metadata = map.next_value()?,
                    Some(KindName::Other) => {
                        map.next_value::<IgnoredAny>()?;
                    }
                    Some(KindName::Service) | None => service.metadata = map.next_value()?,
                },
                Field::Spec => service.spec = map.next_value()?,
                Field::Subsets => endpoints.subsets = map.next_value()?,
                Field::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(match kind {
            Some(KindName::Service) => Item::Service(service),
            Some(KindName::Endpoints) => {
                if endpoints.metadata.name.is_empty() {
                    // `kind` came after `metadata`: keep what the wider read found.
                    let meta = service.metadata;
                    endpoints.metadata = EndpointsMeta {
                        name: meta.name,
                        namespace: meta.namespace,
                        resource_version: meta.resource_version,
                    };
                }
                Item::Endpoints(endpoints)
            }
            Some(KindName::Other) | None => Item::Other,
        })
    }
}

/// How many Services, Endpoints and pod addresses a parsed List holds (the bench checks the parse
/// read the whole world).
pub fn counts(list: &List) -> (usize, usize, usize) {
    let (mut services, mut endpoints, mut addresses) = (0, 0, 0);
    for item in &list.items {
        match item {
            Item::Service(_) => services += 1,
            Item::Endpoints(ep) => {
                endpoints += 1;
                addresses += ep
                    .subsets
                    .iter()
                    .map(|s| s.addresses.len() + s.not_ready_addresses.len())
                    .sum::<usize>();
            }
            Item::Other => {}
        }
    }
    (services, endpoints, addresses)
}

/// Asserts the denominator reads no less than the mirror needs: every Service and Endpoints of
/// `list` holds what the core's model of the same object (`target`, read by the world's own
/// reader) holds of the fields listed in the module doc — so the minimal parse is not cheap for
/// having skipped something. Run once, outside any clock.
pub fn assert_holds_what_a_mirror_reads(list: &List, target: &svcmirror_core::TargetState) {
    use std::collections::BTreeMap as Map;
    let services: Map<(&str, &str), _> = target
        .services
        .iter()
        .map(|s| ((s.metadata.namespace.as_str(), s.metadata.name.as_str()), s))
        .collect();
    let endpoints: Map<(&str, &str), _> = target
        .endpoints
        .iter()
        .map(|e| ((e.metadata.namespace.as_str(), e.metadata.name.as_str()), e))
        .collect();
    for item in &list.items {
        match item {
            Item::Service(svc) => {
                let m = &svc.metadata;
                let core = services[&(m.namespace.as_str(), m.name.as_str())];
                let labels: Vec<(&str, &str)> = core
                    .metadata
                    .labels
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                let mine: Vec<(&str, &str)> = m
                    .labels
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                assert_eq!(mine, labels, "labels of {}/{}", m.namespace, m.name);
                assert_eq!(m.annotations.len(), core.metadata.annotations.len());
                assert_eq!(
                    Some(m.resource_version.as_str()),
                    core.metadata.resource_version.as_deref()
                );
                assert_eq!(Some(m.uid.as_str()), core.metadata.uid.as_deref());
                assert_eq!(svc.spec.cluster_ip, core.spec.cluster_ip);
                assert_eq!(svc.spec.ports.len(), core.spec.ports.len());
            }
            Item::Endpoints(ep) => {
                let m = &ep.metadata;
                let core = endpoints[&(m.namespace.as_str(), m.name.as_str())];
                let mine: Vec<(&str, Option<&str>)> = ep
                    .subsets
                    .iter()
                    .flat_map(|s| s.addresses.iter().chain(&s.not_ready_addresses))
                    .map(|a| (a.ip.as_str(), a.hostname.as_deref()))
                    .collect();
                let theirs: Vec<(&str, Option<&str>)> = core
                    .subsets
                    .iter()
                    .flat_map(|s| s.addresses.iter().chain(&s.not_ready_addresses))
                    .map(|a| (a.ip.as_str(), a.hostname.as_deref()))
                    .collect();
                assert_eq!(mine, theirs, "addresses of {}/{}", m.namespace, m.name);
            }
            Item::Other => {}
        }
    }
}
