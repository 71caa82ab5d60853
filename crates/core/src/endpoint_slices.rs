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

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use crate::labels::{
    MCS_SERVICE_NAME, MCS_SOURCE_CLUSTER, SKIP_MIRROR, SLICE_MANAGED_BY, SLICE_MANAGER,
    SLICE_SERVICE_NAME,
};
use crate::link::Link;
use crate::model::{
    Endpoint, EndpointAddress, EndpointConditions, EndpointPort, EndpointSlice, EndpointSlicePort,
    Endpoints,
};
use crate::names::slice_name;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::EndpointSubset;

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
}
