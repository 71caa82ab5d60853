//! Structurally arbitrary inputs for the `translate` and `plan` targets, built with `arbitrary`.
//!
//! The core's model types stay free of any fuzzing dependency: these wrappers describe *how* to
//! build odd target and source objects (dictionary names so that keys collide, duplicate and
//! invalid hostnames, ports 0/65536/negative, IPv6 and garbage IPs, empty subsets, unset fields,
//! headless/ClusterIP/garbage clusterIPs, long names, huge address lists), and `build` turns them
//! into plain `svcmirror_core` objects.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use arbitrary::Arbitrary;
use svcmirror_core::labels::{CLUSTER_NAME, HEADLESS_MIRROR_SVC_NAME, MIRRORED_SERVICE};
use svcmirror_core::model::{
    EndpointAddress, EndpointPort, EndpointSubset, Endpoints, IntOrString, Service, ServicePort,
};
use svcmirror_core::{Link, TargetState};

/// Names that collide with each other, with mirror names and with hostnames on purpose.
const NAMES: [&str; 12] = [
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

const NAMESPACES: [&str; 6] = ["default", "other", "", "missing", "Bad_NS", "kube-system"];

const HOSTNAMES: [&str; 14] = [
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

const CLUSTERS: [&str; 4] = [
    "west",
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

fn pick<'a>(list: &[&'a str], i: u8) -> &'a str {
    list[usize::from(i) % list.len()]
}

/// An object name: mostly from [`NAMES`], sometimes long, sometimes anything.
#[derive(Debug, Clone, Arbitrary)]
pub enum Name {
    /// One of [`NAMES`].
    Known(u8),
    /// A valid but long label (40–100 characters).
    Long(u8),
    /// Any string.
    Raw(String),
}

impl Name {
    fn build(&self) -> String {
        match self {
            Self::Known(i) => pick(&NAMES, *i).to_owned(),
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
    fn build(self) -> &'static str {
        pick(&NAMESPACES, self.0)
    }
}

/// An address hostname.
#[derive(Debug, Clone, Arbitrary)]
pub enum Hostname {
    /// One of [`HOSTNAMES`] (valid, duplicate-prone, uppercase, dotted, empty, too long…).
    Known(u8),
    /// Any string.
    Raw(String),
}

impl Hostname {
    fn build(&self) -> String {
        match self {
            Self::Known(i) => pick(&HOSTNAMES, *i).to_owned(),
            Self::Raw(s) => s.chars().take(100).collect(),
        }
    }
}

/// An address IP.
#[derive(Debug, Clone, Arbitrary)]
pub enum Ip {
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
    fn build(&self) -> String {
        match self {
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
    fn build(self) -> i32 {
        match self {
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
    fn build(&self) -> String {
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
    /// Any string.
    Raw(String),
}

impl PortName {
    fn build(&self) -> String {
        match self {
            Self::Known(i) => pick(&PORT_NAMES, *i).to_owned(),
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
    fn build(&self) -> ServicePort {
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
    fn build(&self) -> EndpointPort {
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
}

impl Address {
    fn build(&self) -> EndpointAddress {
        EndpointAddress {
            ip: self.ip.build(),
            hostname: self.hostname.as_ref().map(Hostname::build),
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
    fn build(&self) -> EndpointSubset {
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
    /// No label.
    No,
    /// `mirror.linkerd.io/exported: "True"`.
    OtherValue,
    /// `mirror.linkerd.io/exported: remote-discovery`.
    RemoteDiscovery,
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

const LABEL_KEYS: [&str; 8] = [
    "app",
    "mirror.linkerd.io/mirrored-service",
    "mirror.linkerd.io/cluster-name",
    "mirror.linkerd.io/headless-mirror-svc-name",
    "service.kubernetes.io/topology-mode",
    "config.linkerd.io/opaque-ports",
    "example.com/team",
    "kubernetes.io/name",
];

const LABEL_VALUES: [&str; 7] = ["true", "west", "web", "", "v1.2_3-x", "3306", "Auto"];

impl LabelPart {
    fn build(&self, list: &[&str]) -> String {
        match self {
            Self::Known(i) | Self::Known2(i) | Self::Known3(i) => pick(list, *i).to_owned(),
            Self::Raw(s) => s.chars().take(100).collect(),
        }
    }
}

impl Label {
    fn build(&self) -> (String, String) {
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
}

impl TargetService {
    fn build(&self) -> Service {
        let mut svc = Service::new(self.ns.build(), &self.name.build());
        svc.spec.cluster_ip = match &self.cluster_ip {
            ClusterIp::Unset => None,
            ClusterIp::Headless => Some("None".into()),
            ClusterIp::Empty => Some(String::new()),
            ClusterIp::Ip(ip) => Some(ip.build()),
            ClusterIp::LowerNone => Some("none".into()),
        };
        svc.metadata.labels = self.labels.iter().map(Label::build).collect();
        svc.metadata.annotations = self.annotations.iter().map(Label::build).collect();
        let exported = match self.export {
            Export::Yes => Some("true"),
            Export::No => None,
            Export::OtherValue => Some("True"),
            Export::RemoteDiscovery => Some("remote-discovery"),
        };
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

/// The link's settings.
#[derive(Debug, Clone, Arbitrary)]
pub struct LinkInput {
    cluster: u8,
    headless: bool,
    gateway_alive: bool,
    create_namespaces: bool,
    gateway_v6: bool,
    several_gateways: bool,
    identity: bool,
}

impl LinkInput {
    /// The link (always valid: the fuzzing is of the target objects, not of the link).
    #[must_use]
    pub fn build(&self) -> Link {
        let mut gateways: Vec<IpAddr> = vec![if self.gateway_v6 {
            IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 4))
        } else {
            IpAddr::V4(Ipv4Addr::new(172, 18, 0, 4))
        }];
        if self.several_gateways {
            gateways.push(IpAddr::V4(Ipv4Addr::new(172, 18, 0, 5)));
        }
        let mut builder = Link::builder(pick(&CLUSTERS, self.cluster))
            .gateway_addresses(gateways)
            .enable_headless_services(self.headless)
            .gateway_alive(self.gateway_alive)
            .create_namespaces(self.create_namespaces);
        if self.identity {
            builder = builder.gateway_identity(
                "gateway.linkerd-multicluster.serviceaccount.identity.linkerd.cluster.local",
            );
        }
        builder.build().expect("the fuzz link is valid")
    }
}

/// Input of the `translate` target: a link and the target cluster's objects.
#[derive(Debug, Clone, Arbitrary)]
pub struct TranslateInput {
    /// The link.
    pub link: LinkInput,
    /// The target's Services and their Endpoints.
    pub exports: Vec<TargetExport>,
}

impl TranslateInput {
    /// The target cluster's state, in input order.
    #[must_use]
    pub fn target(&self) -> TargetState {
        let mut target = TargetState::default();
        for export in &self.exports {
            let svc = export.service.build();
            if let Some(subsets) = &export.subsets {
                let name = export
                    .endpoints_name
                    .as_ref()
                    .map_or_else(|| svc.metadata.name.clone(), Name::build);
                let mut ep = Endpoints::new(&svc.metadata.namespace, &name);
                ep.subsets = subsets.iter().map(Subset::build).collect();
                ep.metadata.resource_version =
                    export.endpoints_resource_version.map(|v| v.to_string());
                target.endpoints.push(ep);
            }
            target.services.push(svc);
        }
        target
    }
}

/// Whose an observed source object is.
#[derive(Debug, Clone, Copy, Arbitrary)]
pub enum Owner {
    /// This link's ownership labels.
    Ours,
    /// Another link's (`cluster-name: north`).
    OtherLink,
    /// No labels at all: someone else's object.
    Nobody,
    /// `mirrored-service: "false"` with our cluster name.
    MirroredFalse,
    /// Only `cluster-name: <ours>`.
    OnlyClusterName,
    /// Ours, as an endpoint mirror of some root.
    OursEndpointMirror,
}

/// An object already in the source cluster.
#[derive(Debug, Clone, Arbitrary)]
pub struct ObservedObject {
    ns: Ns,
    name: Name,
    /// Name it `<name>-<cluster>`, as a mirror would be.
    mirror_suffix: bool,
    owner: Owner,
    /// Which objects: a Service, its Endpoints, or both.
    service: bool,
    endpoints: bool,
    /// A headless Service (a stale root mirror when the export is now ClusterIP, or the reverse).
    headless: bool,
    ports: Vec<SPort>,
    subsets: Vec<Subset>,
    labels: Vec<Label>,
}

impl ObservedObject {
    /// The Service and Endpoints this stands for, as they would be created in the source.
    #[must_use]
    pub fn build(&self, link: &Link) -> (Option<Service>, Option<Endpoints>) {
        let cluster = link.cluster_name().as_str();
        let mut name = self.name.build();
        if self.mirror_suffix {
            name = format!("{name}-{cluster}");
        }
        let ns = self.ns.build();
        let mut labels: svcmirror_core::StringMap = self.labels.iter().map(Label::build).collect();
        let own = |labels: &mut svcmirror_core::StringMap, k: &str, v: &str| {
            labels.insert(k.to_owned(), v.to_owned());
        };
        match self.owner {
            Owner::Ours => {
                own(&mut labels, MIRRORED_SERVICE, "true");
                own(&mut labels, CLUSTER_NAME, cluster);
            }
            Owner::OtherLink => {
                own(&mut labels, MIRRORED_SERVICE, "true");
                own(&mut labels, CLUSTER_NAME, "north");
            }
            Owner::Nobody => {
                labels.remove(MIRRORED_SERVICE);
                labels.remove(CLUSTER_NAME);
            }
            Owner::MirroredFalse => {
                own(&mut labels, MIRRORED_SERVICE, "false");
                own(&mut labels, CLUSTER_NAME, cluster);
            }
            Owner::OnlyClusterName => {
                labels.remove(MIRRORED_SERVICE);
                own(&mut labels, CLUSTER_NAME, cluster);
            }
            Owner::OursEndpointMirror => {
                own(&mut labels, MIRRORED_SERVICE, "true");
                own(&mut labels, CLUSTER_NAME, cluster);
                own(
                    &mut labels,
                    HEADLESS_MIRROR_SVC_NAME,
                    &format!("nginx-svc-{cluster}"),
                );
            }
        }
        let svc = self.service.then(|| {
            let mut svc = Service::new(ns, &name);
            svc.metadata.labels.clone_from(&labels);
            if self.headless {
                svc.spec.cluster_ip = Some("None".into());
            }
            svc.spec.ports = self.ports.iter().map(SPort::build).collect();
            svc
        });
        let ep = (self.endpoints || !self.service).then(|| {
            let mut ep = Endpoints::new(ns, &name);
            ep.metadata.labels = labels;
            ep.subsets = self.subsets.iter().map(Subset::build).collect();
            ep
        });
        (svc, ep)
    }
}

/// Input of the `plan` target: a target (whose translation is the desired state) and what the
/// source cluster already holds.
#[derive(Debug, Clone, Arbitrary)]
pub struct PlanInput {
    /// The link and the target.
    pub translate: TranslateInput,
    /// The source's objects before the plan.
    pub observed: Vec<ObservedObject>,
}
