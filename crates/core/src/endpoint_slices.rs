//! SPEC §12 (EndpointSlices): the `discovery.k8s.io/v1` EndpointSlices equivalent to a mirror's
//! Endpoints.
//!
//! Endpoints is deprecated since Kubernetes 1.33 (linkerd#15561, #14781) and consumers read slices
//! (#12660, #14445); Linkerd's slice PR #7281 was abandoned. When the link asks for slices
//! ([`crate::EndpointsApi`]), every mirror Endpoints `translate` computes is also (or only) written
//! as slices:
//!
//! - one address family per slice (`addressType` `IPv4` or `IPv6`): a dual-stack gateway gives
//!   one slice per family;
//! - at most [`MAX_ENDPOINTS_PER_SLICE`] endpoints per slice, split in a deterministic order
//!   (family, ports, then endpoint);
//! - one port set per slice: addresses of Endpoints subsets with different ports (a root mirror's
//!   subsets keep the target's ports) go to different slices;
//! - names `<mirror>-ipv4`, `<mirror>-ipv4-2`, … ([`crate::names::slice_name`]), never a random
//!   `generateName`, so a restart finds the same slices;
//! - labels: the Endpoints' labels (copied, ownership, `headless-mirror-svc-name`) plus
//!   `kubernetes.io/service-name: <mirror>`, `endpointslice.kubernetes.io/managed-by:
//!   svcmirror.io` and the MCS API's `multicluster.kubernetes.io/source-cluster` and
//!   `multicluster.kubernetes.io/service-name`; annotations: the Endpoints';
//! - each address is one endpoint keeping its `hostname` (the root mirror's pod names); a ready
//!   address is `ready: true, serving: true`, a not-ready one (gateway down) `ready: false,
//!   serving: false`; never terminating.
//!
//! An Endpoints without addresses has no slice (no slice and an empty slice both mean "no
//! endpoints" to every consumer).
//!
//! **Input** (SPEC §12): the target's endpoints may also be read from its slices
//! ([`TargetEndpoints`], [`target_endpoints`]): each Service's slices (label
//! `kubernetes.io/service-name`) become one Endpoints view ([`endpoints_from_slices`]), so that
//! `translate` reads Endpoints only and cannot tell the difference.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::decision::Record;
use crate::diagnostics::{Diagnostic, Reason, Severity};
use crate::labels::{
    MCS_SERVICE_NAME, MCS_SOURCE_CLUSTER, SKIP_MIRROR, SLICE_MANAGED_BY, SLICE_MANAGER,
    SLICE_SERVICE_NAME,
};
use crate::link::Link;
use crate::model::{
    Endpoint, EndpointAddress, EndpointConditions, EndpointPort, EndpointSlice, EndpointSlicePort,
    EndpointSubset, Endpoints, Kind, ObjectKey,
};
use crate::names::slice_name;
use crate::state::Desired;

/// The API server's limit on `endpoints` of one slice.
pub const MAX_ENDPOINTS_PER_SLICE: usize = 1000;

/// An address family, in the order slices are numbered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Family {
    V4,
    V6,
}

impl Family {
    fn of(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(_) => Self::V4,
            IpAddr::V6(_) => Self::V6,
        }
    }

    /// `addressType`.
    fn address_type(self) -> &'static str {
        match self {
            Self::V4 => "IPv4",
            Self::V6 => "IPv6",
        }
    }

    /// The name suffix.
    fn suffix(self) -> &'static str {
        match self {
            Self::V4 => "ipv4",
            Self::V6 => "ipv6",
        }
    }
}

/// SPEC §12: a mirror's Endpoints into `desired` as the link's endpoint API asks — the Endpoints,
/// their EndpointSlices, or both (the Endpoints then labelled `skip-mirror`, so Kubernetes'
/// mirroring controller does not publish every endpoint a second time).
pub(crate) fn emit(
    link: &Link,
    desired: &mut Desired,
    record: &mut Record,
    mut ep: Endpoints,
    exported: &str,
) {
    let api = link.endpoints_api();
    if api.writes_slices() {
        let slices = endpoint_slices(&ep, exported, link);
        record.note("SPEC §12 EndpointSlices", || {
            format!(
                "Endpoints `{}` as {}",
                ep.metadata.name,
                if slices.is_empty() {
                    "no slice (no address)".to_owned()
                } else {
                    slices
                        .iter()
                        .map(|s| {
                            format!(
                                "`{}` ({}, {} endpoints)",
                                s.metadata.name,
                                s.address_type,
                                s.endpoints.len()
                            )
                        })
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            )
        });
        for slice in slices {
            let key = slice.metadata.key();
            // SPEC §3: two slices with one name (a hash collision of shortened names) are a
            // conflict for the later one, never a silent overwrite.
            if let Some(earlier) = desired.endpoint_slices.get(&key) {
                let of = |s: &EndpointSlice| {
                    s.metadata
                        .labels
                        .get(SLICE_SERVICE_NAME)
                        .cloned()
                        .unwrap_or_default()
                };
                record.find(Diagnostic::new(
                    Reason::NameConflict,
                    Severity::Error,
                    Kind::EndpointSlice,
                    key,
                    format!(
                        "EndpointSlice of {} needs this name, but the EndpointSlice of {} already \
                         uses it",
                        of(&slice),
                        of(earlier)
                    ),
                ));
                continue;
            }
            desired.endpoint_slices.insert(key, slice);
        }
    }
    if api.writes_endpoints() {
        if api.writes_slices() {
            ep.metadata
                .labels
                .insert(SKIP_MIRROR.to_owned(), "true".to_owned());
        }
        desired.insert_endpoints(ep);
    }
}

/// SPEC §12: the EndpointSlices equivalent to the mirror Endpoints `ep` of the export named
/// `exported` (see the module documentation). Pure; sorted by name.
#[must_use]
pub fn endpoint_slices(ep: &Endpoints, exported: &str, link: &Link) -> Vec<EndpointSlice> {
    let mut groups: BTreeMap<(Family, Vec<EndpointSlicePort>), BTreeSet<Endpoint>> =
        BTreeMap::new();
    for subset in &ep.subsets {
        let mut ports: Vec<EndpointSlicePort> = subset.ports.iter().map(slice_port).collect();
        ports.sort();
        ports.dedup();
        let addresses = subset
            .addresses
            .iter()
            .map(|a| (a, true))
            .chain(subset.not_ready_addresses.iter().map(|a| (a, false)));
        for (address, ready) in addresses {
            // Mirror Endpoints hold IPs the core formatted itself; anything else has no family.
            let Ok(ip) = address.ip.parse::<IpAddr>() else {
                continue;
            };
            groups
                .entry((Family::of(ip), ports.clone()))
                .or_default()
                .insert(endpoint(address, ip, ready));
        }
    }

    let key = ep.metadata.key();
    let mut labels = ep.metadata.labels.clone();
    labels.remove(SKIP_MIRROR);
    labels.insert(SLICE_SERVICE_NAME.to_owned(), key.name.clone());
    labels.insert(SLICE_MANAGED_BY.to_owned(), SLICE_MANAGER.to_owned());
    labels.insert(
        MCS_SOURCE_CLUSTER.to_owned(),
        link.cluster_name().as_str().to_owned(),
    );
    labels.insert(MCS_SERVICE_NAME.to_owned(), exported.to_owned());

    let mut slices = Vec::new();
    let mut numbered: BTreeMap<Family, usize> = BTreeMap::new();
    for ((family, ports), endpoints) in groups {
        let endpoints: Vec<Endpoint> = endpoints.into_iter().collect();
        for chunk in endpoints.chunks(MAX_ENDPOINTS_PER_SLICE) {
            let n = numbered.entry(family).or_insert(0);
            *n += 1;
            let suffix = if *n == 1 {
                family.suffix().to_owned()
            } else {
                format!("{}-{n}", family.suffix())
            };
            let mut slice = EndpointSlice::new(
                &key.namespace,
                &slice_name(&key.name, &suffix),
                family.address_type(),
            );
            slice.metadata.labels.clone_from(&labels);
            slice
                .metadata
                .annotations
                .clone_from(&ep.metadata.annotations);
            slice.endpoints = chunk.to_vec();
            slice.ports.clone_from(&ports);
            slices.push(slice);
        }
    }
    slices.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    slices
}

/// One address as one endpoint: its IP, its hostname, ready and serving as the address is.
fn endpoint(address: &EndpointAddress, ip: IpAddr, ready: bool) -> Endpoint {
    Endpoint {
        addresses: vec![ip.to_string()],
        conditions: EndpointConditions {
            ready: Some(ready),
            serving: Some(ready),
            terminating: Some(false),
        },
        hostname: address.hostname.clone().filter(|h| !h.is_empty()),
        ..Endpoint::default()
    }
}

/// An Endpoints port as a slice port, with the API server's defaults (protocol `TCP`).
fn slice_port(port: &EndpointPort) -> EndpointSlicePort {
    EndpointSlicePort {
        name: port.name.clone().filter(|n| !n.is_empty()),
        protocol: Some(port.protocol.clone().unwrap_or_else(|| "TCP".to_owned())),
        port: Some(port.port),
        app_protocol: port.app_protocol.clone(),
    }
}

/// Which objects of the target are its endpoints (SPEC §12).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum TargetEndpoints {
    /// core/v1 Endpoints only (Linkerd's behaviour).
    Endpoints,
    /// `discovery.k8s.io/v1` EndpointSlices only.
    Slices,
    /// A Service's Endpoints when it has one, else its slices (the default).
    #[default]
    Auto,
}

impl TargetEndpoints {
    /// Every value, in the order documented.
    pub const ALL: [Self; 3] = [Self::Endpoints, Self::Slices, Self::Auto];

    /// The flag value (`endpoints`, `slices`, `auto`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Endpoints => "endpoints",
            Self::Slices => "slices",
            Self::Auto => "auto",
        }
    }
}

impl fmt::Display for TargetEndpoints {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for TargetEndpoints {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| format!("{s:?} is not endpoints, slices or auto"))
    }
}

/// SPEC §12 (input): the target's endpoints as `translate` reads them — `endpoints` as given,
/// the Endpoints view of each Service's `slices`, or (auto) a Service's Endpoints when it has one
/// and the view of its slices otherwise: the Endpoints in input order, then the views in key
/// order. Pure.
#[must_use]
pub fn target_endpoints(
    mode: TargetEndpoints,
    endpoints: Vec<Endpoints>,
    slices: &[EndpointSlice],
) -> Vec<Endpoints> {
    // The Endpoints are kept as given (duplicates included: `translate` reports them).
    let mut out = if mode == TargetEndpoints::Slices {
        Vec::new()
    } else {
        endpoints
    };
    if mode != TargetEndpoints::Endpoints {
        let have: BTreeSet<ObjectKey> = out.iter().map(|e| e.metadata.key()).collect();
        let mut by_service: BTreeMap<ObjectKey, Vec<&EndpointSlice>> = BTreeMap::new();
        for slice in slices {
            if let Some(service) = slice.metadata.labels.get(SLICE_SERVICE_NAME) {
                by_service
                    .entry(ObjectKey::new(slice.metadata.namespace(), service))
                    .or_default()
                    .push(slice);
            }
        }
        for (key, slices) in by_service {
            if !have.contains(&key) {
                out.push(endpoints_from_slices(&key, &slices));
            }
        }
    }
    out
}

/// SPEC §12 (input): the Endpoints view of the slices of the Service `service`, as Kubernetes'
/// endpoints controller would have written it — one subset per port set; an endpoint whose
/// `conditions.ready` is not `false` (absent means ready, per the API) in `addresses`, otherwise
/// in `notReadyAddresses`; `hostname`, `nodeName` and `targetRef` kept; labels those of the
/// slices minus the slice-only `kubernetes.io/service-name` and
/// `endpointslice.kubernetes.io/managed-by`; `resourceVersion` the slice's (several slices: their
/// versions joined by `,` in name order, so that any slice's change changes it). `FQDN` slices,
/// addresses that are not IPs and ports without a number have no Endpoints form and are left out.
#[must_use]
pub fn endpoints_from_slices(service: &ObjectKey, slices: &[&EndpointSlice]) -> Endpoints {
    let mut slices: Vec<&EndpointSlice> = slices
        .iter()
        .copied()
        .filter(|s| s.address_type != "FQDN")
        .collect();
    slices.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    let mut ep = Endpoints::new(&service.namespace, &service.name);
    for slice in &slices {
        for (k, v) in &slice.metadata.labels {
            if k != SLICE_SERVICE_NAME && k != SLICE_MANAGED_BY {
                ep.metadata.labels.insert(k.clone(), v.clone());
            }
        }
    }
    let versions: Vec<&str> = slices
        .iter()
        .filter_map(|s| s.metadata.resource_version.as_deref())
        .collect();
    ep.metadata.resource_version = (!versions.is_empty()).then(|| versions.join(","));

    // One subset per port set, as the endpoints controller groups them.
    let mut subsets: BTreeMap<Vec<EndpointPort>, (Vec<EndpointAddress>, Vec<EndpointAddress>)> =
        BTreeMap::new();
    for slice in &slices {
        let mut ports: Vec<EndpointPort> = slice
            .ports
            .iter()
            .filter_map(|p| {
                Some(EndpointPort {
                    name: p.name.clone().filter(|n| !n.is_empty()),
                    port: p.port?,
                    protocol: p.protocol.clone(),
                    app_protocol: p.app_protocol.clone(),
                })
            })
            .collect();
        ports.sort_by(|a, b| (&a.name, a.port).cmp(&(&b.name, b.port)));
        let (ready, not_ready) = subsets.entry(ports).or_default();
        for endpoint in &slice.endpoints {
            for ip in &endpoint.addresses {
                if ip.parse::<IpAddr>().is_err() {
                    continue;
                }
                let address = EndpointAddress {
                    ip: ip.clone(),
                    hostname: endpoint.hostname.clone(),
                    node_name: endpoint.node_name.clone(),
                    target_ref: endpoint.target_ref.clone(),
                };
                if endpoint.conditions.ready == Some(false) {
                    not_ready.push(address);
                } else {
                    ready.push(address);
                }
            }
        }
    }
    for (ports, (mut addresses, mut not_ready_addresses)) in subsets {
        if addresses.is_empty() && not_ready_addresses.is_empty() {
            continue;
        }
        addresses.sort_by(|a, b| a.ip.cmp(&b.ip));
        not_ready_addresses.sort_by(|a, b| a.ip.cmp(&b.ip));
        ep.subsets.push(EndpointSubset {
            addresses,
            not_ready_addresses,
            ports,
        });
    }
    ep
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link() -> Link {
        Link::builder("west")
            .gateway_address("172.18.0.4".parse().expect("ip"))
            .build()
            .expect("link")
    }

    fn address(ip: &str) -> EndpointAddress {
        EndpointAddress {
            ip: ip.to_owned(),
            ..EndpointAddress::default()
        }
    }

    #[test]
    fn one_slice_per_family_and_port_set() {
        let mut ep = Endpoints::new("default", "web-west");
        let port = |p: i32| EndpointPort {
            name: Some("http".into()),
            port: p,
            ..EndpointPort::default()
        };
        ep.subsets = vec![
            EndpointSubset {
                addresses: vec![address("10.0.0.1"), address("fd00::1")],
                ports: vec![port(80)],
                ..EndpointSubset::default()
            },
            EndpointSubset {
                not_ready_addresses: vec![address("10.0.0.2")],
                ports: vec![port(8080)],
                ..EndpointSubset::default()
            },
        ];
        let slices = endpoint_slices(&ep, "web", &link());
        let names: Vec<(&str, &str)> = slices
            .iter()
            .map(|s| (s.metadata.name.as_str(), s.address_type.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                ("web-west-ipv4", "IPv4"),
                ("web-west-ipv4-2", "IPv4"),
                ("web-west-ipv6", "IPv6")
            ]
        );
        assert_eq!(slices[0].ports[0].port, Some(80));
        assert_eq!(slices[0].ports[0].protocol.as_deref(), Some("TCP"));
        assert_eq!(slices[1].endpoints[0].conditions.ready, Some(false));
        assert_eq!(slices[1].endpoints[0].conditions.serving, Some(false));
    }

    #[test]
    fn no_address_no_slice() {
        let ep = Endpoints::new("default", "web-west");
        assert!(endpoint_slices(&ep, "web", &link()).is_empty());
    }

    fn slice(name: &str, service: &str, rv: &str, endpoints: Vec<Endpoint>) -> EndpointSlice {
        let mut slice = EndpointSlice::new("default", name, "IPv4");
        slice
            .metadata
            .labels
            .insert(SLICE_SERVICE_NAME.into(), service.into());
        slice.metadata.labels.insert(
            SLICE_MANAGED_BY.into(),
            "endpointslice-controller.k8s.io".into(),
        );
        slice.metadata.labels.insert("app".into(), "web".into());
        slice.metadata.resource_version = Some(rv.into());
        slice.ports = vec![EndpointSlicePort {
            name: Some("http".into()),
            protocol: Some("TCP".into()),
            port: Some(80),
            app_protocol: None,
        }];
        slice.endpoints = endpoints;
        slice
    }

    fn pod(ip: &str, hostname: Option<&str>, ready: Option<bool>) -> Endpoint {
        Endpoint {
            addresses: vec![ip.into()],
            conditions: EndpointConditions {
                ready,
                ..EndpointConditions::default()
            },
            hostname: hostname.map(str::to_owned),
            ..Endpoint::default()
        }
    }

    /// SPEC §12 input: ready (or unknown) → addresses, not ready → notReadyAddresses, hostname
    /// kept, the slice-only labels dropped, one subset per port set across slices.
    #[test]
    fn slices_to_endpoints_view() {
        let a = slice(
            "web-abc",
            "web",
            "7",
            vec![
                pod("10.0.0.2", Some("web-1"), Some(true)),
                pod("10.0.0.9", None, None),
            ],
        );
        let b = slice(
            "web-def",
            "web",
            "9",
            vec![
                pod("10.0.0.1", Some("web-0"), Some(false)),
                pod("fqdn.example", None, None),
            ],
        );
        let ep = endpoints_from_slices(&ObjectKey::new("default", "web"), &[&b, &a]);
        assert_eq!(ep.metadata.resource_version.as_deref(), Some("7,9"));
        assert_eq!(
            ep.metadata.labels.keys().collect::<Vec<_>>(),
            ["app"],
            "slice-only labels dropped"
        );
        assert_eq!(ep.subsets.len(), 1);
        let subset = &ep.subsets[0];
        let ips = |a: &[EndpointAddress]| a.iter().map(|a| a.ip.clone()).collect::<Vec<_>>();
        assert_eq!(ips(&subset.addresses), ["10.0.0.2", "10.0.0.9"]);
        assert_eq!(ips(&subset.not_ready_addresses), ["10.0.0.1"]);
        assert_eq!(subset.addresses[0].hostname.as_deref(), Some("web-1"));
        assert_eq!(subset.ports[0].port, 80);
    }

    /// SPEC §12 input modes: auto prefers a Service's Endpoints and falls back to its slices.
    #[test]
    fn target_endpoints_modes() {
        let mut only_ep = Endpoints::new("default", "api");
        only_ep.metadata.resource_version = Some("1".into());
        let web = slice("web-abc", "web", "7", vec![pod("10.0.0.2", None, None)]);
        let api = slice("api-abc", "api", "2", vec![pod("10.0.0.3", None, None)]);
        let names = |mode| {
            target_endpoints(mode, vec![only_ep.clone()], &[web.clone(), api.clone()])
                .into_iter()
                .map(|e| {
                    (
                        e.metadata.name,
                        e.metadata.resource_version.unwrap_or_default(),
                    )
                })
                .collect::<Vec<_>>()
        };
        let pair = |n: &str, rv: &str| (n.to_owned(), rv.to_owned());
        assert_eq!(names(TargetEndpoints::Endpoints), [pair("api", "1")]);
        assert_eq!(
            names(TargetEndpoints::Slices),
            [pair("api", "2"), pair("web", "7")]
        );
        assert_eq!(
            names(TargetEndpoints::Auto),
            [pair("api", "1"), pair("web", "7")]
        );
    }
}
