//! Well-formed exports from a few bytes, beside the wild ones of `input.rs`: a valid exported
//! Service (ClusterIP or headless, valid ports) and its Endpoints (valid pod IPs, hostnames from a
//! tiny alphabet that overlaps the export names), so that the interesting collisions — a
//! newcomer's pod named like a live export (issue 14: `default/aaa` with pod `web`), two ports
//! of one name, same-name exports in two namespaces, a deny-listed label — are a handful of bytes
//! away instead of a conjunction of a dozen valid choices.

use std::net::Ipv4Addr;

use arbitrary::Arbitrary;
use svcmirror_core::TargetState;
use svcmirror_core::model::{
    EndpointAddress, EndpointPort, EndpointSubset, Endpoints, IntOrString, Service, ServicePort,
};
use svcmirror_testkit::STEERING_MARKER;

use crate::input::{TargetExport, pick};

/// Export names, in (namespace, name) order a newcomer `a`/`aaa`/`db` sorts before `web`.
const NAMES: [&str; 6] = ["web", "aaa", "db", "a", "nginx-svc", "nginx-set-0"];
/// Pod hostnames: the export names again, StatefulSet pods, none.
const HOSTS: [&str; 7] = ["web", "db", "nginx-set-0", "nginx-set-1", "web-0", "a", ""];
/// Port names (few, so two ports of one name are common).
const PORTS: [&str; 3] = ["http", "p0", "grpc"];
/// Deny-listed keys (SPEC §4).
const STEERING: [&str; 4] = [
    "service.kubernetes.io/service-proxy-name",
    "multicluster.linkerd.io/remote-discovery",
    "endpointslice.kubernetes.io/skip-mirror",
    "kubernetes.io/service-name",
];

/// A valid exported Service and its Endpoints.
#[derive(Debug, Clone, Arbitrary)]
pub struct ShapedExport {
    name: u8,
    other_namespace: bool,
    headless: bool,
    /// `(name, 80 + n % 4)`; at most 3, at least `http:80`.
    ports: Vec<(u8, u8)>,
    /// The Endpoints also list the first port's name with another number (issue 14: a slice
    /// the API server refuses).
    duplicate_port_name: bool,
    /// `(hostname, 10.42.0.x, ready)`; at most 6. `None`: no Endpoints yet.
    pods: Option<Vec<(u8, u8, bool)>>,
    /// A deny-listed label valued [`STEERING_MARKER`].
    steering: Option<u8>,
    /// `mirror.linkerd.io/federated: member` too.
    federated: bool,
}

impl ShapedExport {
    /// The Service and (unless no pods were given) its Endpoints.
    #[must_use]
    pub fn build(&self) -> (Service, Option<Endpoints>) {
        let ns = if self.other_namespace {
            "other"
        } else {
            "default"
        };
        let name = pick(&NAMES, self.name);
        let mut svc = Service::new(ns, name);
        svc.metadata
            .labels
            .insert("mirror.linkerd.io/exported".into(), "true".into());
        svc.metadata.labels.insert("app".into(), name.into());
        if self.federated {
            svc.metadata
                .labels
                .insert("mirror.linkerd.io/federated".into(), "member".into());
        }
        if let Some(i) = self.steering {
            svc.metadata
                .labels
                .insert(pick(&STEERING, i).into(), STEERING_MARKER.into());
        }
        if self.headless {
            svc.spec.cluster_ip = Some("None".into());
        }
        let mut ports: Vec<(String, i32)> = Vec::new();
        for (n, p) in self.ports.iter().take(3) {
            let port = (pick(&PORTS, *n).to_owned(), 80 + i32::from(p % 4));
            // A Service's port names and numbers are unique (the API server says so).
            if !ports.iter().any(|(a, b)| *a == port.0 || *b == port.1) {
                ports.push(port);
            }
        }
        if ports.is_empty() {
            ports.push(("http".into(), 80));
        }
        svc.spec.ports = ports
            .iter()
            .map(|(n, p)| ServicePort {
                name: Some(n.clone()),
                protocol: Some("TCP".into()),
                port: *p,
                target_port: Some(IntOrString::Int(*p)),
                ..ServicePort::default()
            })
            .collect();
        let ep = self.pods.as_ref().map(|pods| {
            let mut e = Endpoints::new(ns, name);
            let mut endpoint_ports: Vec<EndpointPort> = ports
                .iter()
                .map(|(n, p)| EndpointPort {
                    name: Some(n.clone()),
                    port: *p,
                    protocol: Some("TCP".into()),
                    app_protocol: None,
                })
                .collect();
            if self.duplicate_port_name {
                let mut twin = endpoint_ports[0].clone();
                twin.port += 1000;
                endpoint_ports.push(twin);
            }
            let mut subset = EndpointSubset {
                ports: endpoint_ports,
                ..EndpointSubset::default()
            };
            for (h, ip, ready) in pods.iter().take(6) {
                let host = pick(&HOSTS, *h);
                let address = EndpointAddress {
                    ip: Ipv4Addr::new(10, 42, 0, *ip).to_string(),
                    hostname: (!host.is_empty()).then(|| host.to_owned()),
                    ..EndpointAddress::default()
                };
                if *ready {
                    subset.addresses.push(address);
                } else {
                    subset.not_ready_addresses.push(address);
                }
            }
            e.subsets = vec![subset];
            e
        });
        (svc, ep)
    }
}

/// An export: well-formed from a few bytes, or wild.
#[derive(Debug, Clone, Arbitrary)]
pub enum ExportInput {
    /// Well-formed.
    Shaped(ShapedExport),
    /// Well-formed (half of the exports are).
    Shaped2(ShapedExport),
    /// Anything (`input.rs`).
    Wild(TargetExport),
}

impl ExportInput {
    /// Adds the Service and its Endpoints (if any) to `target`.
    pub(crate) fn push_into(&self, target: &mut TargetState) {
        match self {
            Self::Shaped(s) | Self::Shaped2(s) => {
                let (svc, ep) = s.build();
                target.services.push(svc);
                target.endpoints.extend(ep);
            }
            Self::Wild(w) => w.push_into(target),
        }
    }
}

/// The target state of `exports`, in input order.
#[must_use]
pub fn target_of(exports: &[ExportInput]) -> TargetState {
    let mut target = TargetState::default();
    for export in exports {
        export.push_into(&mut target);
    }
    target
}
