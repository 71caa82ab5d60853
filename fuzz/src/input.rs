//! Structurally arbitrary target objects for every target, built with `arbitrary`.
//!
//! The core's model types stay free of any fuzzing dependency: these wrappers describe *how* to
//! build odd target objects (dictionary names so that keys collide — an export's name is also a
//! pod hostname, so a newcomer's endpoint mirror wants a live mirror's name —, duplicate and
//! invalid hostnames, `targetRef`s, ports 0/65536/negative, duplicate port names, IPv6 and
//! garbage IPs, empty subsets, unset fields, headless/ClusterIP/garbage clusterIPs, long names,
//! huge address lists, the per-Service hostname policy annotation, labels that steer other
//! controllers), and `build` turns them into plain `svcmirror_core` objects. The link lives in
//! `link_input.rs`, whole scenarios (observed source, event sequences, federation) in
//! `scenario.rs`.

use std::net::{Ipv4Addr, Ipv6Addr};

use arbitrary::Arbitrary;
use svcmirror_core::TargetState;
use svcmirror_core::labels::HOSTNAME_POLICY_ANNOTATION;
use svcmirror_core::model::{
    EndpointAddress, EndpointPort, EndpointSubset, Endpoints, IntOrString, ObjectReference,
    Service, ServicePort,
};
use svcmirror_testkit::STEERING_MARKER;

/// Names that collide with each other, with mirror names and with hostnames on purpose.
pub(crate) const NAMES: [&str; 12] = [
    "web",
    "db",
    "nginx-svc",
    "nginx-set-0",
    "web-west",
    "nginx-svc-west",
    "nginx-set-0-west",
    "a",
    "x1",
    "a-rather-long-service-name-that-will-not-fit-with-a-suffix",
    "Web",
    "1web",
];

pub(crate) const NAMESPACES: [&str; 6] =
    ["default", "other", "", "missing", "Bad_NS", "kube-system"];

const HOSTNAMES: [&str; 17] = [
    // Export names too: a headless export `a` or `db` whose pod is called `web` wants `web-west`,
    // the live mirror of export `web` (issue 14, "a live mirror can be taken over").
    "web",
    "db",
    "a",
    "nginx-set-0",
    "nginx-set-1",
    "nginx-set-2",
    "web-0",
    "db-0",
    "x",
    "0",
    "Upper",
    "with.dot",
    "under_score",
    "",
    "-dash",
    "a23456789-123456789-123456789-123456789-123456789-123456789-123",
    "a23456789-123456789-123456789-123456789-123456789-123456789-1234",
];

const ODD_IPS: [&str; 10] = [
    "999.1.1.1",
    "",
    "10.42.0.31",
    "::1",
    "fe80::1%eth0",
    "1.2.3",
    "not-an-ip",
    " 10.0.0.1",
    "2001:db8::ffff:10.0.0.1",
    "010.001.000.001",
];

pub(crate) const CLUSTERS: [&str; 5] = [
    "west",
    // `payments-us` of west and `payments` of us-west both want `payments-us-west`.
    "us-west",
    "w",
    "east-1",
    "c23456789-123456789-123456789-123456789-123456789-123456789-123",
];

const PORT_NAMES: [&str; 7] = [
    "http",
    "p0",
    "grpc",
    "",
    "HTTP",
    "a-very-long-port-name",
    "-x",
];

pub(crate) fn pick<'a>(list: &[&'a str], i: u8) -> &'a str {
    list[usize::from(i) % list.len()]
}

/// An object name: mostly from [`NAMES`], sometimes long, sometimes anything.
#[derive(Debug, Clone, Arbitrary)]
pub enum Name {
    /// One of [`NAMES`].
    Known(u8),
    /// One of [`NAMES`] (three variants of five: dictionary names collide).
    Known2(u8),
    /// One of [`NAMES`].
    Known3(u8),
    /// A valid but long label (40–100 characters).
    Long(u8),
    /// Any string.
    Raw(String),
}

impl Name {
    pub(crate) fn build(&self) -> String {
        match self {
            Self::Known(i) | Self::Known2(i) | Self::Known3(i) => pick(&NAMES, *i).to_owned(),
            Self::Long(n) => {
                let len = 40 + usize::from(*n % 61);
                format!("l{}", "o".repeat(len - 2)) + "g"
            }
            Self::Raw(s) => s.chars().take(300).collect(),
        }
    }
}

/// A namespace from [`NAMESPACES`].
#[derive(Debug, Clone, Copy, Arbitrary)]
pub struct Ns(pub u8);

impl Ns {
    pub(crate) fn build(self) -> &'static str {
        pick(&NAMESPACES, self.0)
    }
}

/// An address hostname.
#[derive(Debug, Clone, Arbitrary)]
pub enum Hostname {
    /// One of [`HOSTNAMES`] (valid, duplicate-prone, uppercase, dotted, empty, too long…).
    Known(u8),
    /// One of [`HOSTNAMES`].
    Known2(u8),
    /// Any string.
    Raw(String),
}

impl Hostname {
    pub(crate) fn build(&self) -> String {
        match self {
            Self::Known(i) | Self::Known2(i) => pick(&HOSTNAMES, *i).to_owned(),
            Self::Raw(s) => s.chars().take(100).collect(),
        }
    }
}

/// An address IP.
#[derive(Debug, Clone, Arbitrary)]
pub enum Ip {
    /// A pod IP, 10.42.0.x.
    Pod(u8),
    /// Any IPv4 address.
    V4([u8; 4]),
    /// Any IPv6 address.
    V6([u16; 8]),
    /// One of [`ODD_IPS`].
    Known(u8),
    /// Any string.
    Raw(String),
}

impl Ip {
    pub(crate) fn build(&self) -> String {
        match self {
            Self::Pod(x) => Ipv4Addr::new(10, 42, 0, *x).to_string(),
            Self::V4(b) => Ipv4Addr::from(*b).to_string(),
            Self::V6(s) => Ipv6Addr::from(*s).to_string(),
            Self::Known(i) => pick(&ODD_IPS, *i).to_owned(),
            Self::Raw(s) => s.chars().take(60).collect(),
        }
    }
}

/// A port number, valid or not.
#[derive(Debug, Clone, Copy, Arbitrary)]
pub enum Port {
    /// 80–87: valid, and the same few numbers again and again.
    Few(u8),
    /// 1–65535.
    Valid(u16),
    /// 0 (also what a missing `port` field reads as).
    Zero,
    /// 65536.
    Over,
    /// A negative number.
    Negative(u16),
    /// Any number.
    Any(i32),
}

impl Port {
    pub(crate) fn build(self) -> i32 {
        match self {
            Self::Few(p) => 80 + i32::from(p % 8),
            Self::Valid(p) => i32::from(p.max(1)),
            Self::Zero => 0,
            Self::Over => 65536,
            Self::Negative(p) => -i32::from(p) - 1,
            Self::Any(p) => p,
        }
    }
}

/// A port protocol.
#[derive(Debug, Clone, Arbitrary)]
pub enum Protocol {
    /// `TCP`.
    Tcp,
    /// `UDP`.
    Udp,
    /// `SCTP`.
    Sctp,
    /// `QUIC`, which Kubernetes does not know.
    Quic,
    /// `tcp` (wrong case).
    Lower,
    /// Any string.
    Raw(String),
}

impl Protocol {
    pub(crate) fn build(&self) -> String {
        match self {
            Self::Tcp => "TCP".into(),
            Self::Udp => "UDP".into(),
            Self::Sctp => "SCTP".into(),
            Self::Quic => "QUIC".into(),
            Self::Lower => "tcp".into(),
            Self::Raw(s) => s.chars().take(20).collect(),
        }
    }
}

/// A port name from [`PORT_NAMES`] (some invalid) or anything.
#[derive(Debug, Clone, Arbitrary)]
pub enum PortName {
    /// One of [`PORT_NAMES`].
    Known(u8),
    /// One of [`PORT_NAMES`] (duplicate port names are common).
    Known2(u8),
    /// Any string.
    Raw(String),
}

impl PortName {
    pub(crate) fn build(&self) -> String {
        match self {
            Self::Known(i) | Self::Known2(i) => pick(&PORT_NAMES, *i).to_owned(),
            Self::Raw(s) => s.chars().take(70).collect(),
        }
    }
}

/// A Service's `targetPort`.
#[derive(Debug, Clone, Arbitrary)]
pub enum TargetPort {
    /// A number.
    Int(Port),
    /// A name.
    Name(PortName),
}

/// One entry of a Service's `spec.ports`.
#[derive(Debug, Clone, Arbitrary)]
pub struct SPort {
    name: Option<PortName>,
    protocol: Option<Protocol>,
    port: Port,
    target_port: Option<TargetPort>,
}

impl SPort {
    pub(crate) fn build(&self) -> ServicePort {
        ServicePort {
            name: self.name.as_ref().map(PortName::build),
            protocol: self.protocol.as_ref().map(Protocol::build),
            port: self.port.build(),
            target_port: self.target_port.as_ref().map(|t| match t {
                TargetPort::Int(p) => IntOrString::Int(p.build()),
                TargetPort::Name(n) => IntOrString::String(n.build()),
            }),
            node_port: None,
            app_protocol: None,
        }
    }
}

/// One entry of a subset's `ports`.
#[derive(Debug, Clone, Arbitrary)]
pub struct EPort {
    name: Option<PortName>,
    protocol: Option<Protocol>,
    port: Port,
}

impl EPort {
    pub(crate) fn build(&self) -> EndpointPort {
        EndpointPort {
            name: self.name.as_ref().map(PortName::build),
            port: self.port.build(),
            protocol: self.protocol.as_ref().map(Protocol::build),
            app_protocol: None,
        }
    }
}

/// One endpoint address.
#[derive(Debug, Clone, Arbitrary)]
pub struct Address {
    ip: Ip,
    hostname: Option<Hostname>,
    /// `targetRef` to a Pod of this name (what the `target-ref` hostname policy reads).
    target_ref: Option<Hostname>,
}

impl Address {
    pub(crate) fn build(&self) -> EndpointAddress {
        EndpointAddress {
            ip: self.ip.build(),
            hostname: self.hostname.as_ref().map(Hostname::build),
            target_ref: self.target_ref.as_ref().map(|pod| ObjectReference {
                kind: Some("Pod".into()),
                name: Some(pod.build()),
                ..ObjectReference::default()
            }),
            ..EndpointAddress::default()
        }
    }
}

/// One subset; `bulk` appends up to 2040 generated named addresses (huge lists, many duplicates
/// of the dictionary hostnames).
#[derive(Debug, Clone, Arbitrary)]
pub struct Subset {
    addresses: Vec<Address>,
    not_ready: Vec<Address>,
    ports: Vec<EPort>,
    bulk: Option<u8>,
}

impl Subset {
    /// Without the bulk addresses: what an event sequence uses (every step reconciles twice).
    pub(crate) fn build_small(&self) -> EndpointSubset {
        EndpointSubset {
            addresses: self.addresses.iter().take(8).map(Address::build).collect(),
            not_ready_addresses: self.not_ready.iter().take(4).map(Address::build).collect(),
            ports: self.ports.iter().take(6).map(EPort::build).collect(),
        }
    }

    pub(crate) fn build(&self) -> EndpointSubset {
        let mut addresses: Vec<EndpointAddress> =
            self.addresses.iter().map(Address::build).collect();
        if let Some(n) = self.bulk {
            let n = usize::from(n) * 8;
            addresses.extend((0..n).map(|i| EndpointAddress {
                ip: Ipv4Addr::from(0x0a00_0000_u32 + u32::try_from(i).unwrap_or(0)).to_string(),
                hostname: Some(format!("pod-{}", i % 1000)),
                ..EndpointAddress::default()
            }));
        }
        EndpointSubset {
            addresses,
            not_ready_addresses: self.not_ready.iter().map(Address::build).collect(),
            ports: self.ports.iter().map(EPort::build).collect(),
        }
    }
}

/// `spec.clusterIP`.
#[derive(Debug, Clone, Arbitrary)]
pub enum ClusterIp {
    /// Unset.
    Unset,
    /// `None`: headless.
    Headless,
    /// `None`: headless (a third of the Services).
    Headless2,
    /// `""`.
    Empty,
    /// An IP.
    Ip(Ip),
    /// `none` (wrong case).
    LowerNone,
}

/// Whether (and how) a Service carries the export label.
#[derive(Debug, Clone, Copy, Arbitrary)]
pub enum Export {
    /// `mirror.linkerd.io/exported: "true"`.
    Yes,
    /// `mirror.linkerd.io/exported: "true"` (most Services are exported).
    Yes2,
    /// `mirror.linkerd.io/exported: "true"`.
    Yes3,
    /// No label.
    No,
    /// `mirror.linkerd.io/exported: "True"`.
    OtherValue,
    /// `mirror.linkerd.io/exported: remote-discovery`.
    RemoteDiscovery,
    /// `mirror.linkerd.io/federated: member` (SPEC §9), not exported.
    Federated,
    /// Both `exported: "true"` and `federated: member`.
    ExportedAndFederated,
}

/// A label or annotation: mostly a key and value from small valid sets (Linkerd's own keys
/// included), sometimes anything (which the source API server may refuse: finding F1).
#[derive(Debug, Clone, Arbitrary)]
pub struct Label {
    key: LabelPart,
    value: LabelPart,
}

/// One side of a [`Label`]: three times in four from a list, else any string.
#[derive(Debug, Clone, Arbitrary)]
pub enum LabelPart {
    /// From the list.
    Known(u8),
    /// From the list.
    Known2(u8),
    /// From the list.
    Known3(u8),
    /// Any string.
    Raw(String),
}

pub(crate) const LABEL_KEYS: [&str; 9] = [
    "tier",
    "app",
    "mirror.linkerd.io/mirrored-service",
    "mirror.linkerd.io/cluster-name",
    "mirror.linkerd.io/headless-mirror-svc-name",
    "service.kubernetes.io/topology-mode",
    "config.linkerd.io/opaque-ports",
    "example.com/team",
    "kubernetes.io/name",
];

pub(crate) const LABEL_VALUES: [&str; 7] = ["true", "west", "web", "", "v1.2_3-x", "3306", "Auto"];

impl LabelPart {
    pub(crate) fn build(&self, list: &[&str]) -> String {
        match self {
            Self::Known(i) | Self::Known2(i) | Self::Known3(i) => pick(list, *i).to_owned(),
            Self::Raw(s) => s.chars().take(100).collect(),
        }
    }
}

impl Label {
    pub(crate) fn build(&self) -> (String, String) {
        (self.key.build(&LABEL_KEYS), self.value.build(&LABEL_VALUES))
    }
}

/// A target Service.
#[derive(Debug, Clone, Arbitrary)]
pub struct TargetService {
    ns: Ns,
    name: Name,
    cluster_ip: ClusterIp,
    export: Export,
    ports: Vec<SPort>,
    labels: Vec<Label>,
    annotations: Vec<Label>,
    resource_version: Option<u16>,
    /// `svcmirror.io/hostname-policy`, one of [`POLICIES`] (two of them invalid).
    hostname_policy: Option<u8>,
    /// Labels (even) and annotations (odd) of [`STEERING_KEYS`], valued [`STEERING_MARKER`].
    steering: Vec<u8>,
}

/// Values of the `svcmirror.io/hostname-policy` annotation.
const POLICIES: [&str; 6] = [
    "hostname",
    "target-ref",
    "dashed-ip",
    "skip",
    "Hostname",
    "",
];

/// Keys that steer Kubernetes, kube-proxy, EndpointSlice mirroring or Linkerd (SPEC §4 copy
/// deny-list; issue 14 "labels that steer other controllers are copied").
const STEERING_KEYS: [&str; 8] = [
    "service.kubernetes.io/service-proxy-name",
    "multicluster.linkerd.io/remote-discovery",
    "multicluster.linkerd.io/remote-service",
    "endpointslice.kubernetes.io/skip-mirror",
    "kubernetes.io/service-name",
    "endpointslice.kubernetes.io/managed-by",
    "service.kubernetes.io/headless",
    "mirror.linkerd.io/remote-svc-fq-name",
];

impl TargetService {
    pub(crate) fn build(&self) -> Service {
        let mut svc = Service::new(self.ns.build(), &self.name.build());
        svc.spec.cluster_ip = match &self.cluster_ip {
            ClusterIp::Unset => None,
            ClusterIp::Headless | ClusterIp::Headless2 => Some("None".into()),
            ClusterIp::Empty => Some(String::new()),
            ClusterIp::Ip(ip) => Some(ip.build()),
            ClusterIp::LowerNone => Some("none".into()),
        };
        svc.metadata.labels = self.labels.iter().map(Label::build).collect();
        svc.metadata.annotations = self.annotations.iter().map(Label::build).collect();
        if let Some(i) = self.hostname_policy {
            svc.metadata
                .annotations
                .insert(HOSTNAME_POLICY_ANNOTATION.into(), pick(&POLICIES, i).into());
        }
        for i in &self.steering {
            let (key, value) = (
                pick(&STEERING_KEYS, *i / 2).to_owned(),
                STEERING_MARKER.to_owned(),
            );
            if i % 2 == 0 {
                svc.metadata.labels.insert(key, value);
            } else {
                svc.metadata.annotations.insert(key, value);
            }
        }
        let exported = match self.export {
            Export::Yes | Export::Yes2 | Export::Yes3 | Export::ExportedAndFederated => {
                Some("true")
            }
            Export::No | Export::Federated => None,
            Export::OtherValue => Some("True"),
            Export::RemoteDiscovery => Some("remote-discovery"),
        };
        if let Export::Federated | Export::ExportedAndFederated = self.export {
            svc.metadata
                .labels
                .insert("mirror.linkerd.io/federated".into(), "member".into());
        }
        if let Some(v) = exported {
            svc.metadata
                .labels
                .insert("mirror.linkerd.io/exported".into(), v.into());
        }
        svc.spec.ports = self.ports.iter().map(SPort::build).collect();
        svc.metadata.resource_version = self.resource_version.map(|v| v.to_string());
        svc
    }
}

/// An exported Service and, usually, its Endpoints (same key, or another one).
#[derive(Debug, Clone, Arbitrary)]
pub struct TargetExport {
    service: TargetService,
    /// `None`: no Endpoints object (`no-endpoints-yet`).
    subsets: Option<Vec<Subset>>,
    /// Endpoints under another name (a stray Endpoints without its Service).
    endpoints_name: Option<Name>,
    endpoints_resource_version: Option<u16>,
}

impl TargetExport {
    /// Adds the Service and (unless `None`) its Endpoints to `target`.
    pub(crate) fn push_into(&self, target: &mut TargetState) {
        let svc = self.service.build();
        if let Some(subsets) = &self.subsets {
            let name = self
                .endpoints_name
                .as_ref()
                .map_or_else(|| svc.metadata.name.clone(), Name::build);
            let mut ep = Endpoints::new(&svc.metadata.namespace, &name);
            ep.subsets = subsets.iter().map(Subset::build).collect();
            ep.metadata.resource_version = self.endpoints_resource_version.map(|v| v.to_string());
            target.endpoints.push(ep);
        }
        target.services.push(svc);
    }
}
