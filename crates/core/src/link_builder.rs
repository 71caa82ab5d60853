//! [`LinkBuilder`]: a convenience that fills a [`LinkSpec`] for [`Link::from_spec`] (SPEC §2: it
//! states no default of its own; absent fields take `from_spec`'s).

use std::net::IpAddr;

use crate::hostname_policy::{GatewayResolution, HostnamePolicy};
use crate::limits::Limits;
use crate::link::Link;
use crate::link_error::LinkError;
use crate::link_spec::{EndpointsApi, LinkSpec};
use crate::selector::{KeyPattern, LabelSelector};

impl Link {
    /// Starts a link to the target cluster `cluster_name` with every SPEC §2 default: a
    /// convenience that fills a [`LinkSpec`].
    pub fn builder(cluster_name: &str) -> LinkBuilder {
        LinkBuilder {
            spec: LinkSpec::new(cluster_name),
            gateway_alive: true,
        }
    }
}

/// Fills a [`LinkSpec`] for [`Link::from_spec`]; every setter has the SPEC §2 default.
#[derive(Debug, Clone)]
#[must_use]
pub struct LinkBuilder {
    spec: LinkSpec,
    gateway_alive: bool,
}

impl LinkBuilder {
    /// The target cluster's DNS domain (default `cluster.local`).
    pub fn cluster_domain(mut self, domain: &str) -> Self {
        self.spec.target_cluster_domain = Some(domain.to_owned());
        self
    }
    /// Adds a gateway address (IPv4 or IPv6).
    pub fn gateway_address(self, ip: IpAddr) -> Self {
        self.gateway_addresses([ip])
    }
    /// Adds several gateway addresses.
    pub fn gateway_addresses(mut self, ips: impl IntoIterator<Item = IpAddr>) -> Self {
        let addresses = self
            .spec
            .gateway_address
            .get_or_insert_with(Default::default);
        addresses.0.extend(ips.into_iter().map(|ip| ip.to_string()));
        self
    }
    /// The gateway port (default 4143).
    pub fn gateway_port(mut self, port: u16) -> Self {
        self.spec.gateway_port = Some(port.to_string());
        self
    }
    /// The gateway identity; empty means none.
    pub fn gateway_identity(mut self, identity: &str) -> Self {
        self.spec.gateway_identity = Some(identity.to_owned());
        self
    }
    /// The export selector (default `mirror.linkerd.io/exported=true`).
    pub fn export_selector(mut self, selector: LabelSelector) -> Self {
        self.spec.selector = Some(selector);
        self
    }
    /// Linkerd's `enableHeadlessServices` (default false).
    pub fn enable_headless_services(mut self, enable: bool) -> Self {
        self.spec.enable_headless_services = Some(enable);
        self
    }
    /// Adds a label key (or `prefix/*`) never copied onto mirrors.
    pub fn exclude_label(mut self, pattern: KeyPattern) -> Self {
        let keys = self.spec.excluded_labels.get_or_insert_with(Vec::new);
        keys.push(pattern.as_str().to_owned());
        self
    }
    /// Adds an annotation key (or `prefix/*`) never copied onto mirrors.
    pub fn exclude_annotation(mut self, pattern: KeyPattern) -> Self {
        let keys = self.spec.excluded_annotations.get_or_insert_with(Vec::new);
        keys.push(pattern.as_str().to_owned());
        self
    }
    /// Whether a missing source namespace is created (default false).
    pub fn create_namespaces(mut self, create: bool) -> Self {
        self.spec.create_namespaces = Some(create);
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
        self.spec.hostname_policy = Some(policy);
        self
    }
    /// How the target's gateway resolves endpoint mirror names (default
    /// [`GatewayResolution::Destination`], Linkerd's gateway; SPEC §12). Under it, the hostname
    /// policies `target-ref` and `dashed-ip` fall back to `hostname`, with a diagnostic.
    pub fn gateway_resolution(mut self, resolution: GatewayResolution) -> Self {
        self.spec.gateway_resolution = Some(resolution);
        self
    }
    /// The link's limits (default [`Limits::default`]; SPEC §8).
    pub fn limits(mut self, limits: Limits) -> Self {
        self.spec.limits = Some(limits);
        self
    }
    /// The remote-discovery selector (default `mirror.linkerd.io/exported=remote-discovery`;
    /// SPEC §9). An empty selector selects nothing.
    pub fn remote_discovery_selector(mut self, selector: LabelSelector) -> Self {
        self.spec.remote_discovery_selector = Some(selector);
        self
    }
    /// The federated selector (default `mirror.linkerd.io/federated=member`; SPEC §9). An empty
    /// selector selects nothing.
    pub fn federated_selector(mut self, selector: LabelSelector) -> Self {
        self.spec.federated_service_selector = Some(selector);
        self
    }
    /// Which endpoint API mirrors are written with (default [`EndpointsApi::Endpoints`],
    /// Linkerd's; SPEC §12).
    pub fn endpoints_api(mut self, api: EndpointsApi) -> Self {
        self.spec.endpoints_api = Some(api);
        self
    }

    /// The spec filled so far.
    #[must_use]
    pub fn spec(&self) -> &LinkSpec {
        &self.spec
    }

    /// Validates and builds the link ([`Link::from_spec_ips`]).
    ///
    /// # Errors
    /// As [`Link::from_spec`].
    pub fn build(self) -> Result<Link, LinkError> {
        Ok(Link::from_spec_ips(&self.spec)?.with_gateway_alive(self.gateway_alive))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::link_spec::{DEFAULT_FEDERATED_SELECTOR, DEFAULT_REMOTE_DISCOVERY_SELECTOR};

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
        assert_eq!(link.credentials_secret(), "cluster-credentials-west");
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
        assert!(matches!(
            Link::builder("west")
                .gateway_address(ip)
                .cluster_domain("a..b")
                .build(),
            Err(LinkError::ClusterDomain(_))
        ));
        assert_eq!(
            Link::from_spec_ips(&LinkSpec::default()),
            Err(LinkError::MissingClusterName)
        );
    }

    /// The builder is a thin front over `LinkSpec`: both roads give the same link.
    #[test]
    fn builder_and_spec_agree() {
        let built = Link::builder("west")
            .gateway_address("172.18.0.4".parse().expect("ip"))
            .gateway_port(4180)
            .exclude_label(KeyPattern::new("a.io/*"))
            .build()
            .expect("ok");
        let spec: LinkSpec = serde_json::from_str(
            r#"{"targetClusterName": "west", "gatewayAddress": "172.18.0.4",
                "gatewayPort": "4180", "excludedLabels": ["a.io/*"]}"#,
        )
        .expect("parses");
        assert_eq!(Link::from_spec_ips(&spec), Ok(built));
    }
}
