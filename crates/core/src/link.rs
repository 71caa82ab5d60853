//! SPEC §2: the link, the configuration that ties one source cluster to one target cluster.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::hostname_policy::{GatewayResolution, HostnamePolicy};
use crate::limits::Limits;
use crate::model::StringMap;
use crate::names::{ClusterName, InvalidClusterName, is_dns1123_label};

/// Linkerd's default gateway port (`mc-gateway`).
pub const DEFAULT_GATEWAY_PORT: u16 = 4143;
/// The default cluster domain.
pub const DEFAULT_CLUSTER_DOMAIN: &str = "cluster.local";
/// The default export selector.
pub const DEFAULT_EXPORT_SELECTOR: &str = "mirror.linkerd.io/exported=true";
/// The default remote-discovery (flat network) selector (SPEC §9).
pub const DEFAULT_REMOTE_DISCOVERY_SELECTOR: &str = "mirror.linkerd.io/exported=remote-discovery";
/// The default federated selector (SPEC §9).
pub const DEFAULT_FEDERATED_SELECTOR: &str = "mirror.linkerd.io/federated=member";

/// A validated link. Build one with [`Link::builder`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Link {
    cluster_name: ClusterName,
    cluster_domain: String,
    gateway_addresses: Vec<IpAddr>,
    gateway_port: u16,
    gateway_identity: Option<String>,
    export_selector: LabelSelector,
    enable_headless_services: bool,
    excluded_labels: Vec<KeyPattern>,
    excluded_annotations: Vec<KeyPattern>,
    create_namespaces: bool,
    gateway_alive: bool,
    hostname_policy: HostnamePolicy,
    #[serde(skip_serializing_if = "is_default_resolution")]
    gateway_resolution: GatewayResolution,
    remote_discovery_selector: LabelSelector,
    federated_selector: LabelSelector,
    #[serde(skip_serializing_if = "EndpointsApi::is_default")]
    endpoints_api: EndpointsApi,
    limits: Limits,
}

impl Link {
    /// Starts a link to the target cluster `cluster_name` with every SPEC §2 default.
    pub fn builder(cluster_name: &str) -> LinkBuilder {
        LinkBuilder {
            cluster_name: cluster_name.to_owned(),
            cluster_domain: DEFAULT_CLUSTER_DOMAIN.to_owned(),
            gateway_addresses: Vec::new(),
            gateway_port: DEFAULT_GATEWAY_PORT,
            gateway_identity: None,
            export_selector: LabelSelector::default_export(),
            enable_headless_services: false,
            excluded_labels: Vec::new(),
            excluded_annotations: Vec::new(),
            create_namespaces: false,
            gateway_alive: true,
            hostname_policy: HostnamePolicy::default(),
            gateway_resolution: GatewayResolution::default(),
            remote_discovery_selector: LabelSelector::default_remote_discovery(),
            federated_selector: LabelSelector::default_federated(),
            endpoints_api: EndpointsApi::default(),
            limits: Limits::default(),
        }
    }

    /// The target cluster's name (the `-<cluster>` suffix).
    #[must_use]
    pub fn cluster_name(&self) -> &ClusterName {
        &self.cluster_name
    }
    /// The target cluster's DNS domain, for `remote-svc-fq-name`.
    #[must_use]
    pub fn cluster_domain(&self) -> &str {
        &self.cluster_domain
    }
    /// The gateway IPs every mirror's Endpoints point at, sorted and deduplicated.
    #[must_use]
    pub fn gateway_addresses(&self) -> &[IpAddr] {
        &self.gateway_addresses
    }
    /// The port every mirror's Endpoints use.
    #[must_use]
    pub fn gateway_port(&self) -> u16 {
        self.gateway_port
    }
    /// The gateway identity annotated on mirror Endpoints, if any.
    #[must_use]
    pub fn gateway_identity(&self) -> Option<&str> {
        self.gateway_identity.as_deref()
    }
    /// Which target Services are exported.
    #[must_use]
    pub fn export_selector(&self) -> &LabelSelector {
        &self.export_selector
    }
    /// Linkerd's `enableHeadlessServices`.
    #[must_use]
    pub fn enable_headless_services(&self) -> bool {
        self.enable_headless_services
    }
    /// Label keys never copied onto mirrors.
    #[must_use]
    pub fn excluded_labels(&self) -> &[KeyPattern] {
        &self.excluded_labels
    }
    /// Annotation keys never copied onto mirrors.
    #[must_use]
    pub fn excluded_annotations(&self) -> &[KeyPattern] {
        &self.excluded_annotations
    }
    /// Whether a missing source namespace is created.
    #[must_use]
    pub fn create_namespaces(&self) -> bool {
        self.create_namespaces
    }
    /// Whether the gateway is alive (when not, mirror addresses are not ready).
    #[must_use]
    pub fn gateway_alive(&self) -> bool {
        self.gateway_alive
    }
    /// The same link with the gateway's liveness set (SPEC §2.1: the probe decides it; a change
    /// reconciles every mirror Endpoints of the link).
    #[must_use]
    pub fn with_gateway_alive(mut self, alive: bool) -> Self {
        self.gateway_alive = alive;
        self
    }
    /// The hostname policy of exports without the `svcmirror.io/hostname-policy` annotation
    /// (SPEC §12).
    #[must_use]
    pub fn hostname_policy(&self) -> HostnamePolicy {
        self.hostname_policy
    }
    /// How the target's gateway resolves an endpoint mirror's name, which decides which hostname
    /// policies route (SPEC §12).
    #[must_use]
    pub fn gateway_resolution(&self) -> GatewayResolution {
        self.gateway_resolution
    }
    /// Which target Services are mirrored in remote-discovery (flat network) mode (SPEC §9).
    #[must_use]
    pub fn remote_discovery_selector(&self) -> &LabelSelector {
        &self.remote_discovery_selector
    }
    /// Which target Services join a federated Service (SPEC §9, see [`crate::federate()`]).
    #[must_use]
    pub fn federated_selector(&self) -> &LabelSelector {
        &self.federated_selector
    }
    /// Which endpoint API the mirrors are written with: Endpoints, EndpointSlices or both
    /// (SPEC §12).
    #[must_use]
    pub fn endpoints_api(&self) -> EndpointsApi {
        self.endpoints_api
    }
    /// How much this link may ask of the source cluster (SPEC §8, [`Limits`]).
    #[must_use]
    pub fn limits(&self) -> &Limits {
        &self.limits
    }
}

/// Builds a [`Link`]; every setter has the SPEC §2 default.
#[derive(Debug, Clone)]
#[must_use]
pub struct LinkBuilder {
    cluster_name: String,
    cluster_domain: String,
    gateway_addresses: Vec<IpAddr>,
    gateway_port: u16,
    gateway_identity: Option<String>,
    export_selector: LabelSelector,
    enable_headless_services: bool,
    excluded_labels: Vec<KeyPattern>,
    excluded_annotations: Vec<KeyPattern>,
    create_namespaces: bool,
    gateway_alive: bool,
    hostname_policy: HostnamePolicy,
    gateway_resolution: GatewayResolution,
    remote_discovery_selector: LabelSelector,
    federated_selector: LabelSelector,
    endpoints_api: EndpointsApi,
    limits: Limits,
}

impl LinkBuilder {
    /// The target cluster's DNS domain (default `cluster.local`).
    pub fn cluster_domain(mut self, domain: &str) -> Self {
        domain.clone_into(&mut self.cluster_domain);
        self
    }
    /// Adds a gateway address (IPv4 or IPv6); at least one is required.
    pub fn gateway_address(mut self, ip: IpAddr) -> Self {
        self.gateway_addresses.push(ip);
        self
    }
    /// Adds several gateway addresses.
    pub fn gateway_addresses(mut self, ips: impl IntoIterator<Item = IpAddr>) -> Self {
        self.gateway_addresses.extend(ips);
        self
    }
    /// The gateway port (default 4143).
    pub fn gateway_port(mut self, port: u16) -> Self {
        self.gateway_port = port;
        self
    }
    /// The gateway identity; empty means none.
    pub fn gateway_identity(mut self, identity: &str) -> Self {
        self.gateway_identity = (!identity.is_empty()).then(|| identity.to_owned());
        self
    }
    /// The export selector (default `mirror.linkerd.io/exported=true`).
    pub fn export_selector(mut self, selector: LabelSelector) -> Self {
        self.export_selector = selector;
        self
    }
    /// Linkerd's `enableHeadlessServices` (default false).
    pub fn enable_headless_services(mut self, enable: bool) -> Self {
        self.enable_headless_services = enable;
        self
    }
    /// Adds a label key (or `prefix/*`) never copied onto mirrors.
    pub fn exclude_label(mut self, pattern: KeyPattern) -> Self {
        self.excluded_labels.push(pattern);
        self
    }
    /// Adds an annotation key (or `prefix/*`) never copied onto mirrors.
    pub fn exclude_annotation(mut self, pattern: KeyPattern) -> Self {
        self.excluded_annotations.push(pattern);
        self
    }
    /// Whether a missing source namespace is created (default false).
    pub fn create_namespaces(mut self, create: bool) -> Self {
        self.create_namespaces = create;
        self
    }
    /// Whether the gateway is alive (default true).
    pub fn gateway_alive(mut self, alive: bool) -> Self {
        self.gateway_alive = alive;
        self
    }
    /// The hostname policy of exports without the `svcmirror.io/hostname-policy` annotation
    /// (default [`HostnamePolicy::Hostname`], Linkerd's behaviour; SPEC §12).
    pub fn hostname_policy(mut self, policy: HostnamePolicy) -> Self {
        self.hostname_policy = policy;
        self
    }
    /// How the target's gateway resolves endpoint mirror names (default
    /// [`GatewayResolution::Destination`], Linkerd's gateway; SPEC §12). Under it, the hostname
    /// policies `target-ref` and `dashed-ip` fall back to `hostname`, with a diagnostic.
    pub fn gateway_resolution(mut self, resolution: GatewayResolution) -> Self {
        self.gateway_resolution = resolution;
        self
    }
    /// The remote-discovery selector (default `mirror.linkerd.io/exported=remote-discovery`;
    /// SPEC §9). An empty selector selects nothing.
    pub fn remote_discovery_selector(mut self, selector: LabelSelector) -> Self {
        self.remote_discovery_selector = selector;
        self
    }
    /// The federated selector (default `mirror.linkerd.io/federated=member`; SPEC §9). An empty
    /// selector selects nothing.
    pub fn federated_selector(mut self, selector: LabelSelector) -> Self {
        self.federated_selector = selector;
        self
    }
    /// Which endpoint API mirrors are written with (default [`EndpointsApi::Endpoints`],
    /// Linkerd's; SPEC §12).
    pub fn endpoints_api(mut self, api: EndpointsApi) -> Self {
        self.endpoints_api = api;
        self
    }
    /// The link's limits (default [`Limits::default`]; SPEC §8).
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Validates and builds the link.
    ///
    /// # Errors
    /// A cluster name that is not a DNS-1123 label, no gateway address, port 0, or a cluster domain
    /// that is not a DNS name.
    pub fn build(mut self) -> Result<Link, LinkError> {
        let cluster_name = ClusterName::new(&self.cluster_name)?;
        if self.gateway_addresses.is_empty() {
            return Err(LinkError::NoGatewayAddress);
        }
        if self.gateway_port == 0 {
            return Err(LinkError::GatewayPort);
        }
        if self.cluster_domain.is_empty() || !self.cluster_domain.split('.').all(is_dns1123_label) {
            return Err(LinkError::ClusterDomain(self.cluster_domain));
        }
        self.gateway_addresses.sort_unstable();
        self.gateway_addresses.dedup();
        Ok(Link {
            cluster_name,
            cluster_domain: self.cluster_domain,
            gateway_addresses: self.gateway_addresses,
            gateway_port: self.gateway_port,
            gateway_identity: self.gateway_identity,
            export_selector: self.export_selector,
            enable_headless_services: self.enable_headless_services,
            excluded_labels: self.excluded_labels,
            excluded_annotations: self.excluded_annotations,
            create_namespaces: self.create_namespaces,
            gateway_alive: self.gateway_alive,
            hostname_policy: self.hostname_policy,
            gateway_resolution: self.gateway_resolution,
            remote_discovery_selector: self.remote_discovery_selector,
            federated_selector: self.federated_selector,
            endpoints_api: self.endpoints_api,
            limits: self.limits,
        })
    }
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if takes a reference
fn is_default_resolution(resolution: &GatewayResolution) -> bool {
    *resolution == GatewayResolution::default()
}

/// Which endpoint API a link writes for every mirror (SPEC §12). Endpoints is deprecated since
/// Kubernetes 1.33 (linkerd#15561, #14781) and consumers read EndpointSlices (#12660, #14445).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum EndpointsApi {
    /// core/v1 Endpoints only (Linkerd's behaviour, the default). Kubernetes' endpointslice
    /// mirroring controller turns them into slices managed by itself.
    #[default]
    Endpoints,
    /// `discovery.k8s.io/v1` EndpointSlices only, managed by `svcmirror.io`; no Endpoints.
    Slices,
    /// Both. The Endpoints are labelled `endpointslice.kubernetes.io/skip-mirror: "true"` so
    /// that the mirroring controller does not publish every endpoint a second time.
    Both,
}

impl EndpointsApi {
    /// Every value, in the order documented.
    pub const ALL: [Self; 3] = [Self::Endpoints, Self::Slices, Self::Both];

    /// The flag value (`endpoints`, `slices`, `both`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Endpoints => "endpoints",
            Self::Slices => "slices",
            Self::Both => "both",
        }
    }

    /// Whether core/v1 Endpoints are written.
    #[must_use]
    pub fn writes_endpoints(self) -> bool {
        matches!(self, Self::Endpoints | Self::Both)
    }

    /// Whether EndpointSlices are written.
    #[must_use]
    pub fn writes_slices(self) -> bool {
        matches!(self, Self::Slices | Self::Both)
    }

    fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

impl fmt::Display for EndpointsApi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A value that is not an [`EndpointsApi`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an endpoints API (endpoints, slices or both)")]
pub struct UnknownEndpointsApi(pub String);

impl std::str::FromStr for EndpointsApi {
    type Err = UnknownEndpointsApi;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| UnknownEndpointsApi(s.to_owned()))
    }
}

/// Why a link could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LinkError {
    /// The cluster name is not a DNS-1123 label.
    #[error(transparent)]
    ClusterName(#[from] InvalidClusterName),
    /// No gateway address was given.
    #[error("at least one gateway address is required")]
    NoGatewayAddress,
    /// The gateway port is 0.
    #[error("gateway port must be between 1 and 65535")]
    GatewayPort,
    /// The cluster domain is not a DNS name.
    #[error("cluster domain {0:?} is not a DNS name")]
    ClusterDomain(String),
}

/// A Kubernetes label selector: every `matchLabels` pair and every expression must hold. An empty
/// selector selects nothing (SPEC §2: unlike Kubernetes, where it selects everything).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LabelSelector {
    /// `matchLabels`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub match_labels: BTreeMap<String, String>,
    /// `matchExpressions`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_expressions: Vec<LabelSelectorRequirement>,
}

/// One `matchExpressions` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelSelectorRequirement {
    /// The label key.
    pub key: String,
    /// The operator.
    pub operator: SelectorOperator,
    /// The values, for `In` and `NotIn`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

/// A `matchExpressions` operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SelectorOperator {
    /// The label's value is one of the values.
    In,
    /// The label is absent or its value is none of the values.
    NotIn,
    /// The label is present.
    Exists,
    /// The label is absent.
    DoesNotExist,
}

impl LabelSelector {
    /// `mirror.linkerd.io/exported=true`.
    #[must_use]
    pub fn default_export() -> Self {
        Self::parse(DEFAULT_EXPORT_SELECTOR).unwrap_or_default()
    }

    /// `mirror.linkerd.io/exported=remote-discovery` (SPEC §9).
    #[must_use]
    pub fn default_remote_discovery() -> Self {
        Self::parse(DEFAULT_REMOTE_DISCOVERY_SELECTOR).unwrap_or_default()
    }

    /// `mirror.linkerd.io/federated=member` (SPEC §9).
    #[must_use]
    pub fn default_federated() -> Self {
        Self::parse(DEFAULT_FEDERATED_SELECTOR).unwrap_or_default()
    }

    /// True when the selector has no requirement at all (and so selects nothing).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.match_labels.is_empty() && self.match_expressions.is_empty()
    }

    /// Whether `labels` satisfy the selector. An empty selector matches nothing.
    #[must_use]
    pub fn matches(&self, labels: &StringMap) -> bool {
        if self.is_empty() {
            return false;
        }
        self.match_labels
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v))
            && self.match_expressions.iter().all(|req| {
                let value = labels.get(&req.key);
                match req.operator {
                    SelectorOperator::In => value.is_some_and(|v| req.values.contains(v)),
                    SelectorOperator::NotIn => value.is_none_or(|v| !req.values.contains(v)),
                    SelectorOperator::Exists => value.is_some(),
                    SelectorOperator::DoesNotExist => value.is_none(),
                }
            })
    }

    /// Parses kubectl's selector syntax: `k=v`, `k==v`, `k!=v`, `k`, `!k`, `k in (a,b)`,
    /// `k notin (a,b)`, joined by commas.
    ///
    /// # Errors
    /// A requirement that is none of those forms.
    pub fn parse(text: &str) -> Result<Self, SelectorParseError> {
        let mut selector = Self::default();
        for raw in split_requirements(text) {
            let req = raw.trim();
            if req.is_empty() {
                continue;
            }
            let err = || SelectorParseError(req.to_owned());
            if let Some((key, values)) = split_set(req, " notin ") {
                selector.push(key, SelectorOperator::NotIn, values, err)?;
            } else if let Some((key, values)) = split_set(req, " in ") {
                selector.push(key, SelectorOperator::In, values, err)?;
            } else if let Some((key, value)) = req.split_once("!=") {
                selector.push(
                    key,
                    SelectorOperator::NotIn,
                    vec![value.trim().to_owned()],
                    err,
                )?;
            } else if let Some((key, value)) = req.split_once("==").or_else(|| req.split_once('='))
            {
                let (key, value) = (key.trim(), value.trim());
                if key.is_empty() || !is_label_value(value) {
                    return Err(err());
                }
                selector
                    .match_labels
                    .insert(key.to_owned(), value.to_owned());
            } else if let Some(key) = req.strip_prefix('!') {
                selector.push(key, SelectorOperator::DoesNotExist, Vec::new(), err)?;
            } else {
                selector.push(req, SelectorOperator::Exists, Vec::new(), err)?;
            }
        }
        Ok(selector)
    }

    fn push(
        &mut self,
        key: &str,
        operator: SelectorOperator,
        values: Vec<String>,
        err: impl Fn() -> SelectorParseError,
    ) -> Result<(), SelectorParseError> {
        let key = key.trim();
        if key.is_empty()
            || key.contains(char::is_whitespace)
            || !values.iter().all(|v| is_label_value(v))
        {
            return Err(err());
        }
        self.match_expressions.push(LabelSelectorRequirement {
            key: key.to_owned(),
            operator,
            values,
        });
        Ok(())
    }
}

fn is_label_value(v: &str) -> bool {
    v.len() <= 63
        && v.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// Splits on commas outside parentheses.
fn split_requirements(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0_i32, 0);
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

fn split_set<'a>(req: &'a str, op: &str) -> Option<(&'a str, Vec<String>)> {
    let (key, rest) = req.split_once(op)?;
    let inner = rest.trim().strip_prefix('(')?.strip_suffix(')')?;
    let values = inner
        .split(',')
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .collect();
    Some((key, values))
}

/// A selector requirement that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "label selector requirement {0:?} is not `k=v`, `k!=v`, `k`, `!k`, `k in (..)` or `k notin (..)`"
)]
pub struct SelectorParseError(pub String);

impl fmt::Display for LabelSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<String> = self
            .match_labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        for req in &self.match_expressions {
            parts.push(match req.operator {
                SelectorOperator::In => format!("{} in ({})", req.key, req.values.join(",")),
                SelectorOperator::NotIn => format!("{} notin ({})", req.key, req.values.join(",")),
                SelectorOperator::Exists => req.key.clone(),
                SelectorOperator::DoesNotExist => format!("!{}", req.key),
            });
        }
        f.write_str(&parts.join(","))
    }
}

/// An exact label/annotation key, or a `prefix/*` pattern matching every key under `prefix/`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyPattern(String);

impl KeyPattern {
    /// A pattern from its text (`a.io/key` or `a.io/*`).
    #[must_use]
    pub fn new(pattern: &str) -> Self {
        Self(pattern.to_owned())
    }

    /// Whether `key` matches.
    #[must_use]
    pub fn matches(&self, key: &str) -> bool {
        match self.0.strip_suffix('*') {
            Some(prefix) => key.starts_with(prefix),
            None => key == self.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> StringMap {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn default_selector_matches_exported_true_only() {
        let sel = LabelSelector::default_export();
        assert!(sel.matches(&labels(&[("mirror.linkerd.io/exported", "true")])));
        assert!(!sel.matches(&labels(&[(
            "mirror.linkerd.io/exported",
            "remote-discovery"
        )])));
        assert!(!sel.matches(&labels(&[])));
    }

    #[test]
    fn empty_selector_exports_nothing() {
        let sel = LabelSelector::parse("").expect("parses");
        assert!(sel.is_empty());
        assert!(!sel.matches(&labels(&[("a", "b")])));
    }

    #[test]
    fn selector_syntax() {
        let sel = LabelSelector::parse("app in (a, b),tier!=db,exported,!legacy").expect("parses");
        assert!(sel.matches(&labels(&[("app", "a"), ("exported", "")])));
        assert!(!sel.matches(&labels(&[("app", "c"), ("exported", "")])));
        assert!(!sel.matches(&labels(&[("app", "a"), ("exported", ""), ("tier", "db")])));
        assert!(!sel.matches(&labels(&[("app", "a"), ("exported", ""), ("legacy", "x")])));
        assert_eq!(
            sel.to_string(),
            "app in (a,b),tier notin (db),exported,!legacy"
        );
        assert!(LabelSelector::parse("a=b c").is_err());
        assert!(LabelSelector::parse("=b").is_err());
    }

    #[test]
    fn builder_defaults_and_validation() {
        let ip: IpAddr = "172.18.0.4".parse().expect("ip");
        let link = Link::builder("west")
            .gateway_address(ip)
            .build()
            .expect("valid");
        assert_eq!(link.gateway_port(), 4143);
        assert_eq!(link.cluster_domain(), "cluster.local");
        assert!(!link.enable_headless_services());
        assert!(link.gateway_alive());
        assert_eq!(link.gateway_identity(), None);
        assert_eq!(link.hostname_policy(), HostnamePolicy::Hostname);
        assert_eq!(
            link.remote_discovery_selector().to_string(),
            DEFAULT_REMOTE_DISCOVERY_SELECTOR
        );
        assert_eq!(
            link.federated_selector().to_string(),
            DEFAULT_FEDERATED_SELECTOR
        );
        assert!(matches!(
            Link::builder("West").gateway_address(ip).build(),
            Err(LinkError::ClusterName(_))
        ));
        assert_eq!(
            Link::builder("west").build(),
            Err(LinkError::NoGatewayAddress)
        );
        assert!(matches!(
            Link::builder("west")
                .gateway_address(ip)
                .cluster_domain("a..b")
                .build(),
            Err(LinkError::ClusterDomain(_))
        ));
    }

    #[test]
    fn key_patterns() {
        assert!(KeyPattern::new("a.io/*").matches("a.io/x"));
        assert!(!KeyPattern::new("a.io/*").matches("b.io/x"));
        assert!(KeyPattern::new("a.io/x").matches("a.io/x"));
        assert!(!KeyPattern::new("a.io/x").matches("a.io/xy"));
    }
}
