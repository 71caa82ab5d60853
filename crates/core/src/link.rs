//! SPEC §2: the link, the configuration that ties one source cluster to one target cluster.
//!
//! A [`Link`] is built from a [`LinkSpec`] only ([`Link::from_spec`]), where the SPEC §2 defaults
//! are applied; [`Link::builder`] is a convenience that fills a `LinkSpec`. Gateway addresses in
//! a spec may be DNS names: the caller (an adapter) resolves them through the `resolve` function
//! it passes; the core keeps IPs only.

use std::net::IpAddr;

use serde::Serialize;

use crate::hostname_policy::{GatewayResolution, HostnamePolicy};
use crate::limits::Limits;
pub use crate::link_error::LinkError;
use crate::link_error::{PORT_RANGE, invalid, parse_port, set};
pub use crate::link_spec::{
    DEFAULT_CLUSTER_DOMAIN, DEFAULT_GATEWAY_PORT, EndpointsApi, GatewayAddresses, LinkSpec,
};
use crate::names::{ClusterName, is_dns1123_label};
pub use crate::probe_spec::{GatewayProbe, ProbeSpec};
pub use crate::selector::{KeyPattern, LabelSelector, LabelSelectorRequirement, SelectorOperator};

/// A validated link. Build one with [`Link::from_spec`] (or [`Link::builder`]).
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
    #[serde(skip)]
    credentials_secret: String,
    #[serde(skip)]
    gateway_probe: GatewayProbe,
}

/// Something a valid link does that its user most likely did not mean (SPEC §2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LinkWarning {
    /// A gateway-mode link without `gatewayIdentity`: mirrors carry no
    /// `remote-gateway-identity`, and Linkerd's gateway requires mTLS with that identity
    /// (`linkerd multicluster link` refuses such a gateway).
    #[error(
        "link {0}: gatewayIdentity is empty: mirrors get no mirror.linkerd.io/remote-gateway-identity \
         and Linkerd's gateway, which requires mTLS with that identity, will most likely refuse \
         their traffic (set --gateway-identity or spec.gatewayIdentity)"
    )]
    NoGatewayIdentity(String),
}

impl Link {
    /// Builds the link `spec` describes, with the SPEC §2 defaults for every absent (or empty)
    /// field. `resolve` turns a gateway DNS name into its IPs (it is called for names only, never
    /// for IPs); the adapter owns resolution, the core keeps IPs.
    ///
    /// # Errors
    /// A missing or invalid `targetClusterName`, an invalid domain, port, probe value or gateway
    /// address, or a gateway name `resolve` could not resolve — each naming its field.
    pub fn from_spec(
        spec: &LinkSpec,
        mut resolve: impl FnMut(&str) -> Result<Vec<IpAddr>, String>,
    ) -> Result<Self, LinkError> {
        let name = set(spec.target_cluster_name.as_ref()).ok_or(LinkError::MissingClusterName)?;
        let cluster_name = ClusterName::new(name)?;
        let cluster_domain = set(spec.target_cluster_domain.as_ref())
            .unwrap_or(DEFAULT_CLUSTER_DOMAIN)
            .to_owned();
        if !cluster_domain.split('.').all(is_dns1123_label) {
            return Err(LinkError::ClusterDomain(cluster_domain));
        }
        let mut gateway_addresses = Vec::new();
        for entry in spec.gateway_address.iter().flat_map(|a| &a.0) {
            if let Ok(ip) = entry.parse::<IpAddr>() {
                gateway_addresses.push(ip);
                continue;
            }
            if !is_dns_name(entry) {
                return Err(LinkError::GatewayAddress(entry.chars().take(256).collect()));
            }
            let unresolved = |reason: String| LinkError::UnresolvedGatewayName {
                name: entry.clone(),
                reason,
            };
            let ips = resolve(entry).map_err(unresolved)?;
            if ips.is_empty() {
                return Err(unresolved("no address".to_owned()));
            }
            gateway_addresses.extend(ips);
        }
        gateway_addresses.sort_unstable();
        gateway_addresses.dedup();
        let gateway_port = match set(spec.gateway_port.as_ref()) {
            None => DEFAULT_GATEWAY_PORT,
            Some(p) => parse_port(p).ok_or_else(|| invalid("gatewayPort", p, PORT_RANGE))?,
        };
        let patterns = |keys: &Option<Vec<String>>| {
            keys.iter()
                .flatten()
                .filter(|k| !k.is_empty())
                .map(|k| KeyPattern::new(k))
                .collect()
        };
        Ok(Self {
            cluster_domain,
            gateway_addresses,
            gateway_port,
            gateway_identity: set(spec.gateway_identity.as_ref()).map(str::to_owned),
            export_selector: spec
                .selector
                .clone()
                .unwrap_or_else(LabelSelector::default_export),
            enable_headless_services: spec.enable_headless_services.unwrap_or(false),
            excluded_labels: patterns(&spec.excluded_labels),
            excluded_annotations: patterns(&spec.excluded_annotations),
            create_namespaces: spec.create_namespaces.unwrap_or(false),
            // SPEC §2: not configured; the probe decides.
            gateway_alive: true,
            hostname_policy: spec.hostname_policy.unwrap_or_default(),
            gateway_resolution: spec.gateway_resolution.unwrap_or_default(),
            remote_discovery_selector: spec
                .remote_discovery_selector
                .clone()
                .unwrap_or_else(LabelSelector::default_remote_discovery),
            federated_selector: spec
                .federated_service_selector
                .clone()
                .unwrap_or_else(LabelSelector::default_federated),
            endpoints_api: spec.endpoints_api.unwrap_or_default(),
            limits: spec.limits.unwrap_or_default(),
            credentials_secret: set(spec.cluster_credentials_secret.as_ref()).map_or_else(
                || format!("cluster-credentials-{}", cluster_name.as_str()),
                str::to_owned,
            ),
            gateway_probe: GatewayProbe::from_spec(spec.probe_spec.as_ref())?,
            cluster_name,
        })
    }

    /// [`Link::from_spec`] for a spec whose gateway addresses are all IPs: a DNS name is an
    /// [`LinkError::UnresolvedGatewayName`].
    ///
    /// # Errors
    /// As [`Link::from_spec`].
    pub fn from_spec_ips(spec: &LinkSpec) -> Result<Self, LinkError> {
        Self::from_spec(spec, |_| {
            Err("names are not resolved here (give an IP, or resolve the name first)".to_owned())
        })
    }

    /// This link with the gateway's liveness set (SPEC §2.1: the probe decides; when false,
    /// gateway addresses move to `notReadyAddresses`).
    #[must_use]
    pub fn with_gateway_alive(mut self, alive: bool) -> Self {
        self.gateway_alive = alive;
        self
    }

    /// This link for a source whose Service range holds `addresses` (a /16: 65 536): unless the
    /// spec sets `limits.clusterIPsPerLink`, the link's ClusterIP budget is a share of that range
    /// (SPEC §8; [`Limits::with_service_range`]). Without it the budget is a fixed, safe default.
    #[must_use]
    pub fn with_service_range(mut self, addresses: u64) -> Self {
        self.limits = self.limits.with_service_range(addresses);
        self
    }

    /// What this link does that its user most likely did not mean (SPEC §2), for commands to show
    /// and the controller to log.
    #[must_use]
    pub fn warnings(&self) -> Vec<LinkWarning> {
        let mut warnings = Vec::new();
        if !self.gateway_addresses.is_empty() && self.gateway_identity.is_none() {
            warnings.push(LinkWarning::NoGatewayIdentity(
                self.cluster_name.as_str().to_owned(),
            ));
        }
        warnings
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
    /// The gateway IPs every mirror's Endpoints point at, sorted and deduplicated. Empty: a
    /// gateway-less link, which mirrors remote-discovery and federated exports only.
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
    /// The gateway probe (SPEC §2.1).
    #[must_use]
    pub fn gateway_probe(&self) -> &GatewayProbe {
        &self.gateway_probe
    }
    /// The Secret (in the Link's namespace, key `kubeconfig`) holding the target's credentials.
    #[must_use]
    pub fn credentials_secret(&self) -> &str {
        &self.credentials_secret
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
    /// How much this link may ask of the source cluster (SPEC §8, [`Limits`]).
    #[must_use]
    pub fn limits(&self) -> &Limits {
        &self.limits
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
}

/// A DNS name as a gateway address may hold one (a load balancer's hostname): dot-separated
/// labels of letters, digits and `-`, optionally ending in `.`.
fn is_dns_name(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::StringMap;

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

    /// SPEC §2: a link without gateway address is valid (a gateway-less link).
    #[test]
    fn gateway_less_link_is_valid() {
        let link = Link::builder("west").build().expect("valid");
        assert!(link.gateway_addresses().is_empty());
        assert!(link.warnings().is_empty());
    }

    /// SPEC §2: gateway names are resolved by the caller; the core keeps IPs, sorted, deduplicated.
    #[test]
    fn gateway_names_resolved_by_the_caller() {
        let spec = LinkSpec {
            gateway_address: Some(GatewayAddresses::parse("gw.example.com,10.0.0.9,10.0.0.1")),
            ..LinkSpec::new("west")
        };
        let mut asked = Vec::new();
        let link = Link::from_spec(&spec, |name| {
            asked.push(name.to_owned());
            Ok(vec![
                "10.0.0.9".parse().expect("ip"),
                "10.0.0.2".parse().expect("ip"),
            ])
        })
        .expect("valid");
        assert_eq!(asked, ["gw.example.com"]);
        let ips: Vec<String> = link
            .gateway_addresses()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(ips, ["10.0.0.1", "10.0.0.2", "10.0.0.9"]);
        assert_eq!(
            Link::from_spec(&spec, |_| Err("NXDOMAIN".to_owned())),
            Err(LinkError::UnresolvedGatewayName {
                name: "gw.example.com".into(),
                reason: "NXDOMAIN".into()
            })
        );
        let bad = LinkSpec {
            gateway_address: Some(GatewayAddresses::parse("not_a host")),
            ..LinkSpec::new("west")
        };
        assert!(matches!(
            Link::from_spec_ips(&bad),
            Err(LinkError::GatewayAddress(_))
        ));
    }

    #[test]
    fn gateway_port_is_a_string_naming_its_field() {
        let spec = |port: &str| LinkSpec {
            gateway_port: Some(port.to_owned()),
            ..LinkSpec::new("west")
        };
        assert_eq!(
            Link::from_spec_ips(&spec("888")).map(|l| l.gateway_port()),
            Ok(888)
        );
        // Go's zero value: unset.
        assert_eq!(
            Link::from_spec_ips(&spec("")).map(|l| l.gateway_port()),
            Ok(DEFAULT_GATEWAY_PORT)
        );
        for bad in ["0", "65536", "http"] {
            assert!(matches!(
                Link::from_spec_ips(&spec(bad)),
                Err(LinkError::InvalidField {
                    field: "gatewayPort",
                    ..
                })
            ));
        }
    }

    /// SPEC §2: a gateway-mode link without identity is valid, with a warning.
    #[test]
    fn gateway_without_identity_warns() {
        let ip: IpAddr = "172.18.0.4".parse().expect("ip");
        let link = Link::builder("west")
            .gateway_address(ip)
            .build()
            .expect("ok");
        assert_eq!(
            link.warnings(),
            [LinkWarning::NoGatewayIdentity("west".into())]
        );
        let with = Link::builder("west")
            .gateway_address(ip)
            .gateway_identity("gw.west")
            .build()
            .expect("ok");
        assert!(with.warnings().is_empty());
    }

    proptest::proptest! {
        /// SPEC §8 for the link: any field values build a link or a typed error, never a panic.
        #[test]
        fn any_spec_builds_or_errs_without_panic(
            name in ".{0,70}",
            domain in ".{0,40}",
            address in "[a-z0-9.:, -]{0,40}",
            port in ".{0,8}",
            period in "[0-9.hmsx]{0,12}",
            threshold in ".{0,6}",
        ) {
            let spec = LinkSpec {
                target_cluster_name: Some(name),
                target_cluster_domain: Some(domain),
                gateway_address: Some(GatewayAddresses::parse(&address)),
                gateway_port: Some(port),
                probe_spec: Some(ProbeSpec {
                    period: Some(period.clone()),
                    timeout: Some(period),
                    failure_threshold: Some(threshold),
                    ..ProbeSpec::default()
                }),
                ..LinkSpec::default()
            };
            let _ = Link::from_spec(&spec, |_| Ok(Vec::new()));
        }
    }
}

/// SPEC §2 end to end through `translate`: exclusions as Linkerd's `isLabelExlucded` /
/// `isAnnotationExlucded` match them; gateway-less links.
#[cfg(test)]
mod translate_tests {
    use crate::model::{Service, ServicePort};
    use crate::{
        ConditionStatus, ConditionType, Link, Reason, SourceState, TargetState, conditions, plan,
        translate,
    };

    /// SPEC §2: under a gateway-less link a gateway-mode export is not mirrored, `NoGateway`, and
    /// its `Mirrored` condition says so; a remote-discovery export is mirrored.
    #[test]
    fn gateway_less_link_mirrors_remote_discovery_only() {
        let link = Link::builder("west").build().expect("gateway-less link");
        let service = |name: &str, exported: &str| {
            let mut svc = Service::new("default", name);
            svc.metadata
                .labels
                .insert("mirror.linkerd.io/exported".into(), exported.into());
            svc.spec.ports.push(ServicePort {
                port: 80,
                ..ServicePort::default()
            });
            svc
        };
        let target = TargetState::new(
            vec![service("gw", "true"), service("flat", "remote-discovery")],
            vec![],
        );
        let source = SourceState::default();
        let t = translate(&link, &target, &source);
        let names: Vec<&str> = t.desired.services.keys().map(|k| k.name.as_str()).collect();
        assert_eq!(names, ["flat-west"]);
        assert!(
            t.diagnostics
                .iter()
                .any(|d| d.reason == Reason::NoGateway && d.object.name == "gw")
        );
        let p = plan(&link, &t.desired, &source);
        let gw = &conditions(&t, &p)[&crate::ObjectKey::new("default", "gw")];
        let mirrored = gw
            .iter()
            .find(|c| c.type_ == ConditionType::Mirrored)
            .expect("Mirrored");
        assert_eq!(
            (mirrored.status, mirrored.reason.as_str()),
            (ConditionStatus::False, "NoGateway")
        );
    }

    #[test]
    fn excluded_prefix_strips_keys_as_linkerd_does() {
        let spec: crate::LinkSpec = serde_json::from_str(
            r#"{"targetClusterName": "west", "gatewayAddress": "172.18.0.4",
                "gatewayIdentity": "gw", "excludedLabels": ["evil.linkerd/*"],
                "excludedAnnotations": ["evil.linkerd/*"]}"#,
        )
        .expect("spec");
        let link = Link::from_spec_ips(&spec).expect("link");
        let mut svc = Service::new("default", "web");
        for (k, v) in [
            ("mirror.linkerd.io/exported", "true"),
            ("evil.linkerd.io/x", "1"),
            ("evil.linkerd/y", "1"),
            ("app", "web"),
        ] {
            svc.metadata.labels.insert(k.into(), v.into());
        }
        svc.metadata
            .annotations
            .insert("evil.linkerd.io/x".into(), "1".into());
        svc.spec.ports.push(ServicePort {
            port: 80,
            ..ServicePort::default()
        });
        let target = TargetState::new(vec![svc], vec![]);
        let t = translate(&link, &target, &SourceState::default());
        let mirror = t
            .desired
            .service_objects()
            .find(|s| s.metadata.name == "web-west")
            .expect("mirror");
        let labels: Vec<&String> = mirror.metadata.labels.keys().collect();
        assert!(labels.iter().any(|k| *k == "app"), "{labels:?}");
        assert!(!labels.iter().any(|k| k.starts_with("evil.")), "{labels:?}");
        assert!(
            !mirror
                .metadata
                .annotations
                .contains_key("evil.linkerd.io/x")
        );
    }
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if takes a reference
fn is_default_resolution(resolution: &GatewayResolution) -> bool {
    *resolution == GatewayResolution::default()
}
