//! Conversions between k8s-openapi's types and the core's serde model, field by field.
//!
//! Every field the core reads survives a round trip (k8s-openapi → core → k8s-openapi and back):
//! metadata name, namespace, labels, annotations, resourceVersion, uid and creationTimestamp;
//! Service `spec.type`, `clusterIP`, `clusterIPs`, `ports` (name, protocol, port, targetPort,
//! nodePort, appProtocol) and `selector`; Endpoints subsets (addresses and notReadyAddresses with
//! ip, hostname, nodeName and targetRef; ports); EndpointSlice `addressType`, `endpoints`
//! (addresses, conditions, hostname, nodeName, zone, targetRef) and `ports`. Fields the core does
//! not model (status, managedFields, sessionAffinity, slice hints…) are dropped on the way in and
//! therefore never written back.
//!
//! Two normalisations, both meaningless to the API server: an absent list or map and an empty one
//! are the same value (`None` ↔ empty), and a `creationTimestamp` the core holds that is not an
//! RFC 3339 timestamp is dropped when converting back (the field is server-set and ignored on
//! writes anyway).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1 as k8s;
use k8s_openapi::api::discovery::v1 as discovery;
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
use k8s_openapi::apimachinery::pkg::util::intstr;
use svcmirror_core::model;

fn map_in(map: Option<BTreeMap<String, String>>) -> model::StringMap {
    map.unwrap_or_default().into()
}

fn map_out(map: &model::StringMap) -> Option<BTreeMap<String, String>> {
    (!map.is_empty()).then(|| map.to_btree_map())
}

fn vec_out<T: Clone, U>(items: &[T], f: impl Fn(&T) -> U) -> Option<Vec<U>> {
    (!items.is_empty()).then(|| items.iter().map(f).collect())
}

fn vec_in<T, U>(items: Option<Vec<T>>, f: impl Fn(T) -> U) -> Vec<U> {
    items.unwrap_or_default().into_iter().map(f).collect()
}

fn time_in(time: Option<meta::Time>) -> Option<String> {
    time.map(|t| t.0.to_string())
}

fn time_out(time: Option<&String>) -> Option<meta::Time> {
    time.and_then(|t| t.parse().ok()).map(meta::Time)
}

/// k8s-openapi `ObjectMeta` → the core's namespaced metadata.
#[must_use]
pub fn object_meta_from_k8s(meta: meta::ObjectMeta) -> model::ObjectMeta {
    model::ObjectMeta {
        name: meta.name.unwrap_or_default(),
        namespace: meta.namespace.unwrap_or_default(),
        labels: map_in(meta.labels),
        annotations: map_in(meta.annotations),
        resource_version: meta.resource_version,
        uid: meta.uid,
        creation_timestamp: time_in(meta.creation_timestamp),
    }
}

/// The core's namespaced metadata → k8s-openapi `ObjectMeta`.
#[must_use]
pub fn object_meta_to_k8s(meta: &model::ObjectMeta) -> meta::ObjectMeta {
    meta::ObjectMeta {
        name: Some(meta.name.clone()),
        namespace: (!meta.namespace.is_empty()).then(|| meta.namespace.clone()),
        labels: map_out(&meta.labels),
        annotations: map_out(&meta.annotations),
        resource_version: meta.resource_version.clone(),
        uid: meta.uid.clone(),
        creation_timestamp: time_out(meta.creation_timestamp.as_ref()),
        ..meta::ObjectMeta::default()
    }
}

fn int_or_string_in(value: intstr::IntOrString) -> model::IntOrString {
    match value {
        intstr::IntOrString::Int(n) => model::IntOrString::Int(n),
        intstr::IntOrString::String(s) => model::IntOrString::String(s),
    }
}

fn int_or_string_out(value: &model::IntOrString) -> intstr::IntOrString {
    match value {
        model::IntOrString::Int(n) => intstr::IntOrString::Int(*n),
        model::IntOrString::String(s) => intstr::IntOrString::String(s.clone()),
    }
}

fn service_port_in(port: k8s::ServicePort) -> model::ServicePort {
    model::ServicePort {
        name: port.name,
        protocol: port.protocol,
        port: port.port,
        target_port: port.target_port.map(int_or_string_in),
        node_port: port.node_port,
        app_protocol: port.app_protocol,
    }
}

fn service_port_out(port: &model::ServicePort) -> k8s::ServicePort {
    k8s::ServicePort {
        name: port.name.clone(),
        protocol: port.protocol.clone(),
        port: port.port,
        target_port: port.target_port.as_ref().map(int_or_string_out),
        node_port: port.node_port,
        app_protocol: port.app_protocol.clone(),
    }
}

/// k8s-openapi `Service` → the core's Service (status and unmodelled spec fields dropped).
#[must_use]
pub fn service_from_k8s(svc: k8s::Service) -> model::Service {
    let spec = svc.spec.unwrap_or_default();
    let mut out = model::Service::new("", "");
    out.metadata = object_meta_from_k8s(svc.metadata);
    out.spec = model::ServiceSpec {
        type_: spec.type_,
        cluster_ip: spec.cluster_ip,
        cluster_ips: spec.cluster_ips.unwrap_or_default(),
        ports: vec_in(spec.ports, service_port_in),
        selector: spec.selector,
    };
    out
}

/// The core's Service → k8s-openapi `Service`.
#[must_use]
pub fn service_to_k8s(svc: &model::Service) -> k8s::Service {
    k8s::Service {
        metadata: object_meta_to_k8s(&svc.metadata),
        spec: Some(k8s::ServiceSpec {
            type_: svc.spec.type_.clone(),
            cluster_ip: svc.spec.cluster_ip.clone(),
            cluster_ips: vec_out(&svc.spec.cluster_ips, Clone::clone),
            ports: vec_out(&svc.spec.ports, service_port_out),
            selector: svc.spec.selector.clone(),
            ..k8s::ServiceSpec::default()
        }),
        status: None,
    }
}

fn object_reference_in(r: k8s::ObjectReference) -> model::ObjectReference {
    model::ObjectReference {
        kind: r.kind,
        name: r.name,
        namespace: r.namespace,
        uid: r.uid,
        resource_version: r.resource_version,
    }
}

fn object_reference_out(r: &model::ObjectReference) -> k8s::ObjectReference {
    k8s::ObjectReference {
        kind: r.kind.clone(),
        name: r.name.clone(),
        namespace: r.namespace.clone(),
        uid: r.uid.clone(),
        resource_version: r.resource_version.clone(),
        ..k8s::ObjectReference::default()
    }
}

fn address_in(a: k8s::EndpointAddress) -> model::EndpointAddress {
    model::EndpointAddress {
        ip: a.ip,
        hostname: a.hostname,
        node_name: a.node_name,
        target_ref: a.target_ref.map(object_reference_in),
    }
}

fn address_out(a: &model::EndpointAddress) -> k8s::EndpointAddress {
    k8s::EndpointAddress {
        ip: a.ip.clone(),
        hostname: a.hostname.clone(),
        node_name: a.node_name.clone(),
        target_ref: a.target_ref.as_ref().map(object_reference_out),
    }
}

fn endpoint_port_in(p: k8s::EndpointPort) -> model::EndpointPort {
    model::EndpointPort {
        name: p.name,
        port: p.port,
        protocol: p.protocol,
        app_protocol: p.app_protocol,
    }
}

fn endpoint_port_out(p: &model::EndpointPort) -> k8s::EndpointPort {
    k8s::EndpointPort {
        name: p.name.clone(),
        port: p.port,
        protocol: p.protocol.clone(),
        app_protocol: p.app_protocol.clone(),
    }
}

fn subset_in(s: k8s::EndpointSubset) -> model::EndpointSubset {
    model::EndpointSubset {
        addresses: vec_in(s.addresses, address_in),
        not_ready_addresses: vec_in(s.not_ready_addresses, address_in),
        ports: vec_in(s.ports, endpoint_port_in),
    }
}

fn subset_out(s: &model::EndpointSubset) -> k8s::EndpointSubset {
    k8s::EndpointSubset {
        addresses: vec_out(&s.addresses, address_out),
        not_ready_addresses: vec_out(&s.not_ready_addresses, address_out),
        ports: vec_out(&s.ports, endpoint_port_out),
    }
}

/// k8s-openapi `Endpoints` → the core's Endpoints.
#[must_use]
pub fn endpoints_from_k8s(ep: k8s::Endpoints) -> model::Endpoints {
    let mut out = model::Endpoints::new("", "");
    out.metadata = object_meta_from_k8s(ep.metadata);
    out.subsets = vec_in(ep.subsets, subset_in);
    out
}

/// The core's Endpoints → k8s-openapi `Endpoints`.
#[must_use]
pub fn endpoints_to_k8s(ep: &model::Endpoints) -> k8s::Endpoints {
    k8s::Endpoints {
        metadata: object_meta_to_k8s(&ep.metadata),
        subsets: vec_out(&ep.subsets, subset_out),
    }
}

/// A list field that is `Vec<T>` in some Kubernetes versions and `Option<Vec<T>>` in others
/// (EndpointSlice `endpoints` became optional in 1.36): read either as a `Vec`, so this crate
/// builds whichever version the binary pins.
trait ListField<T> {
    fn into_vec(self) -> Vec<T>;
}

impl<T> ListField<T> for Vec<T> {
    fn into_vec(self) -> Vec<T> {
        self
    }
}

impl<T> ListField<T> for Option<Vec<T>> {
    fn into_vec(self) -> Vec<T> {
        self.unwrap_or_default()
    }
}

fn slice_endpoint_in(e: discovery::Endpoint) -> model::Endpoint {
    let conditions = e.conditions.unwrap_or_default();
    model::Endpoint {
        addresses: e.addresses,
        conditions: model::EndpointConditions {
            ready: conditions.ready,
            serving: conditions.serving,
            terminating: conditions.terminating,
        },
        hostname: e.hostname,
        node_name: e.node_name,
        zone: e.zone,
        target_ref: e.target_ref.map(object_reference_in),
    }
}

fn slice_endpoint_out(e: &model::Endpoint) -> discovery::Endpoint {
    let c = &e.conditions;
    let conditions = (c.ready.is_some() || c.serving.is_some() || c.terminating.is_some())
        .then_some(discovery::EndpointConditions {
            ready: c.ready,
            serving: c.serving,
            terminating: c.terminating,
        });
    discovery::Endpoint {
        addresses: e.addresses.clone(),
        conditions,
        hostname: e.hostname.clone(),
        node_name: e.node_name.clone(),
        zone: e.zone.clone(),
        target_ref: e.target_ref.as_ref().map(object_reference_out),
        ..discovery::Endpoint::default()
    }
}

fn slice_port_in(p: discovery::EndpointPort) -> model::EndpointSlicePort {
    model::EndpointSlicePort {
        name: p.name,
        protocol: p.protocol,
        port: p.port,
        app_protocol: p.app_protocol,
    }
}

fn slice_port_out(p: &model::EndpointSlicePort) -> discovery::EndpointPort {
    discovery::EndpointPort {
        name: p.name.clone(),
        protocol: p.protocol.clone(),
        port: p.port,
        app_protocol: p.app_protocol.clone(),
    }
}

/// k8s-openapi `EndpointSlice` → the core's EndpointSlice.
#[must_use]
pub fn endpoint_slice_from_k8s(slice: discovery::EndpointSlice) -> model::EndpointSlice {
    let mut out = model::EndpointSlice::new("", "", &slice.address_type);
    out.metadata = object_meta_from_k8s(slice.metadata);
    out.endpoints = slice
        .endpoints
        .into_vec()
        .into_iter()
        .map(slice_endpoint_in)
        .collect();
    out.ports = vec_in(slice.ports, slice_port_in);
    out
}

/// The core's EndpointSlice → k8s-openapi `EndpointSlice`.
#[must_use]
// `endpoints` is `Vec` in some Kubernetes versions and `Option<Vec>` in others: `.into()` is the
// identity in the former.
#[allow(clippy::useless_conversion)]
pub fn endpoint_slice_to_k8s(slice: &model::EndpointSlice) -> discovery::EndpointSlice {
    discovery::EndpointSlice {
        metadata: object_meta_to_k8s(&slice.metadata),
        address_type: slice.address_type.clone(),
        // `Vec` or `Option<Vec>` depending on the Kubernetes version: `From` builds either.
        endpoints: slice
            .endpoints
            .iter()
            .map(slice_endpoint_out)
            .collect::<Vec<_>>()
            .into(),
        ports: vec_out(&slice.ports, slice_port_out),
    }
}

/// k8s-openapi `Namespace` → the core's Namespace (name, labels, resourceVersion, uid).
#[must_use]
pub fn namespace_from_k8s(ns: k8s::Namespace) -> model::Namespace {
    let mut out = model::Namespace::new("");
    out.metadata = model::ClusterObjectMeta {
        name: ns.metadata.name.unwrap_or_default(),
        labels: map_in(ns.metadata.labels),
        resource_version: ns.metadata.resource_version,
        uid: ns.metadata.uid,
    };
    out
}

/// The core's Namespace → k8s-openapi `Namespace`.
#[must_use]
pub fn namespace_to_k8s(ns: &model::Namespace) -> k8s::Namespace {
    k8s::Namespace {
        metadata: meta::ObjectMeta {
            name: Some(ns.metadata.name.clone()),
            labels: map_out(&ns.metadata.labels),
            resource_version: ns.metadata.resource_version.clone(),
            uid: ns.metadata.uid.clone(),
            ..meta::ObjectMeta::default()
        },
        spec: None,
        status: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Option<BTreeMap<String, String>> {
        Some(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    fn full_meta(name: &str) -> meta::ObjectMeta {
        meta::ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some("default".to_owned()),
            labels: labels(&[("mirror.linkerd.io/exported", "true"), ("app", "nginx")]),
            annotations: labels(&[("config.linkerd.io/opaque-ports", "80")]),
            resource_version: Some("4711".to_owned()),
            uid: Some("0b8f1f4e-uid".to_owned()),
            creation_timestamp: Some(meta::Time(
                "2024-05-06T07:08:09Z".parse().expect("timestamp"),
            )),
            ..meta::ObjectMeta::default()
        }
    }

    fn full_service() -> k8s::Service {
        k8s::Service {
            metadata: full_meta("nginx-svc"),
            spec: Some(k8s::ServiceSpec {
                type_: Some("ClusterIP".to_owned()),
                cluster_ip: Some("None".to_owned()),
                cluster_ips: Some(vec!["None".to_owned()]),
                ports: Some(vec![
                    k8s::ServicePort {
                        name: Some("http".to_owned()),
                        protocol: Some("TCP".to_owned()),
                        port: 80,
                        target_port: Some(intstr::IntOrString::String("web".to_owned())),
                        node_port: Some(30080),
                        app_protocol: Some("http".to_owned()),
                    },
                    k8s::ServicePort {
                        name: Some("dns".to_owned()),
                        protocol: Some("UDP".to_owned()),
                        port: 53,
                        target_port: Some(intstr::IntOrString::Int(5353)),
                        ..k8s::ServicePort::default()
                    },
                ]),
                selector: labels(&[("app", "nginx")]),
                ..k8s::ServiceSpec::default()
            }),
            status: None,
        }
    }

    fn address(ip: &str, hostname: Option<&str>) -> k8s::EndpointAddress {
        k8s::EndpointAddress {
            ip: ip.to_owned(),
            hostname: hostname.map(str::to_owned),
            node_name: Some("node-1".to_owned()),
            target_ref: Some(k8s::ObjectReference {
                kind: Some("Pod".to_owned()),
                name: hostname.map(str::to_owned),
                namespace: Some("default".to_owned()),
                uid: Some("pod-uid".to_owned()),
                resource_version: Some("12".to_owned()),
                ..k8s::ObjectReference::default()
            }),
        }
    }

    fn full_endpoints() -> k8s::Endpoints {
        k8s::Endpoints {
            metadata: full_meta("nginx-svc"),
            subsets: Some(vec![k8s::EndpointSubset {
                addresses: Some(vec![
                    address("10.42.0.5", Some("nginx-set-0")),
                    address("10.42.0.6", None),
                ]),
                not_ready_addresses: Some(vec![address("10.42.0.7", Some("nginx-set-2"))]),
                ports: Some(vec![k8s::EndpointPort {
                    name: Some("http".to_owned()),
                    port: 80,
                    protocol: Some("TCP".to_owned()),
                    app_protocol: Some("http".to_owned()),
                }]),
            }]),
        }
    }

    #[test]
    fn service_round_trip_keeps_every_field_the_core_reads() {
        let original = full_service();
        let core = service_from_k8s(original.clone());
        assert_eq!(core.metadata.name, "nginx-svc");
        assert_eq!(core.metadata.namespace, "default");
        assert_eq!(core.metadata.resource_version.as_deref(), Some("4711"));
        assert_eq!(
            core.metadata.creation_timestamp.as_deref(),
            Some("2024-05-06T07:08:09Z")
        );
        assert!(core.is_headless());
        assert_eq!(
            core.spec.ports[0].target_port,
            Some(model::IntOrString::String("web".to_owned()))
        );
        assert_eq!(
            core.spec.ports[1].target_port,
            Some(model::IntOrString::Int(5353))
        );
        assert_eq!(core.spec.ports[0].node_port, Some(30080));
        assert_eq!(service_to_k8s(&core), original);
        assert_eq!(service_from_k8s(service_to_k8s(&core)), core);
    }

    #[test]
    fn endpoints_round_trip_keeps_addresses_hostnames_and_target_refs() {
        let original = full_endpoints();
        let core = endpoints_from_k8s(original.clone());
        let subset = &core.subsets[0];
        assert_eq!(subset.addresses[0].hostname.as_deref(), Some("nginx-set-0"));
        assert_eq!(subset.addresses[1].hostname, None);
        assert_eq!(subset.not_ready_addresses[0].ip, "10.42.0.7");
        assert_eq!(
            subset.addresses[0]
                .target_ref
                .as_ref()
                .and_then(|r| r.name.as_deref()),
            Some("nginx-set-0")
        );
        assert_eq!(endpoints_to_k8s(&core), original);
    }

    #[test]
    fn namespace_round_trip() {
        let original = k8s::Namespace {
            metadata: meta::ObjectMeta {
                name: Some("apps".to_owned()),
                labels: labels(&[("mirror.linkerd.io/mirrored-service", "true")]),
                resource_version: Some("3".to_owned()),
                uid: Some("ns-uid".to_owned()),
                ..meta::ObjectMeta::default()
            },
            spec: None,
            status: None,
        };
        let core = namespace_from_k8s(original.clone());
        assert_eq!(core.metadata.name, "apps");
        assert_eq!(namespace_to_k8s(&core), original);
    }

    #[test]
    fn absent_and_empty_collections_are_the_same_value() {
        let mut svc = k8s::Service {
            metadata: meta::ObjectMeta {
                name: Some("bare".to_owned()),
                ..meta::ObjectMeta::default()
            },
            ..k8s::Service::default()
        };
        let core = service_from_k8s(svc.clone());
        assert!(core.spec.ports.is_empty() && core.metadata.labels.is_empty());
        // `spec: None` comes back as an empty spec: the same object to the API server.
        svc.spec = Some(k8s::ServiceSpec::default());
        assert_eq!(service_to_k8s(&core), svc);
        let ep = endpoints_from_k8s(k8s::Endpoints {
            subsets: Some(vec![]),
            ..k8s::Endpoints::default()
        });
        assert!(endpoints_to_k8s(&ep).subsets.is_none());
    }

    #[test]
    fn unparsable_creation_timestamp_is_dropped_not_a_panic() {
        let mut svc = model::Service::new("default", "x");
        svc.metadata.creation_timestamp = Some("yesterday".to_owned());
        assert!(service_to_k8s(&svc).metadata.creation_timestamp.is_none());
    }

    #[test]
    fn conversion_matches_the_cores_own_json_reading() {
        // The core deserializes kubectl's JSON directly; the conversion must agree with it.
        let original = full_service();
        let json = serde_json::to_value(&original).expect("serializes");
        let via_json: model::Service = serde_json::from_value(json).expect("core reads it");
        assert_eq!(service_from_k8s(original), via_json);
        let original = full_endpoints();
        let json = serde_json::to_value(&original).expect("serializes");
        let via_json: model::Endpoints = serde_json::from_value(json).expect("core reads it");
        assert_eq!(endpoints_from_k8s(original), via_json);
        let original = full_slice();
        let json = serde_json::to_value(&original).expect("serializes");
        let via_json: model::EndpointSlice = serde_json::from_value(json).expect("core reads it");
        assert_eq!(endpoint_slice_from_k8s(original), via_json);
    }

    #[allow(clippy::useless_conversion)] // `endpoints` is `Option<Vec>` in some versions.
    fn full_slice() -> discovery::EndpointSlice {
        discovery::EndpointSlice {
            metadata: full_meta("web-west-ipv4"),
            address_type: "IPv4".to_owned(),
            endpoints: vec![
                discovery::Endpoint {
                    addresses: vec!["10.43.0.10".to_owned()],
                    conditions: Some(discovery::EndpointConditions {
                        ready: Some(true),
                        serving: Some(true),
                        terminating: Some(false),
                    }),
                    hostname: Some("web-0".to_owned()),
                    node_name: Some("node-1".to_owned()),
                    zone: Some("zone-a".to_owned()),
                    target_ref: Some(k8s::ObjectReference {
                        kind: Some("Pod".to_owned()),
                        name: Some("web-0".to_owned()),
                        namespace: Some("default".to_owned()),
                        uid: Some("u-1".to_owned()),
                        resource_version: Some("9".to_owned()),
                        ..k8s::ObjectReference::default()
                    }),
                    ..discovery::Endpoint::default()
                },
                discovery::Endpoint {
                    addresses: vec!["10.43.0.11".to_owned()],
                    conditions: Some(discovery::EndpointConditions {
                        ready: Some(false),
                        serving: Some(false),
                        terminating: None,
                    }),
                    ..discovery::Endpoint::default()
                },
            ]
            .into(),
            ports: Some(vec![discovery::EndpointPort {
                name: Some("http".to_owned()),
                protocol: Some("TCP".to_owned()),
                port: Some(4143),
                app_protocol: Some("http".to_owned()),
            }]),
        }
    }

    #[test]
    fn endpoint_slice_round_trip_keeps_endpoints_conditions_and_ports() {
        let original = full_slice();
        let core = endpoint_slice_from_k8s(original.clone());
        assert_eq!(core.address_type, "IPv4");
        assert_eq!(core.endpoints[0].hostname.as_deref(), Some("web-0"));
        assert_eq!(core.endpoints[1].conditions.ready, Some(false));
        assert_eq!(core.ports[0].port, Some(4143));
        assert_eq!(endpoint_slice_to_k8s(&core), original);
    }
}
