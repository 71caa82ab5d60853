//! SPEC §2: [`LinkSpec`], the one front door of a link — the `spec` of Linkerd's `Link` custom
//! resource (`multicluster.linkerd.io/v1alpha1`–`v1alpha3`, `controller/gen/apis/link/*/types.go`)
//! with Linkerd's field names and string-typed values, plus svcmirror's own optional fields.
//!
//! Flags, link files and a watched `Link` resource all produce a `LinkSpec`; every field is
//! optional (Linkerd's `omitempty`) and the SPEC §2 defaults are applied in one place only, when
//! [`Link::from_spec`](crate::Link::from_spec) builds the link. An empty string means "unset", as
//! in Go. Unknown fields are refused (`deny_unknown_fields`), so a typo is an error naming it.

use std::fmt;
use std::net::IpAddr;

use serde::de::{self, IgnoredAny};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::hostname_policy::{GatewayResolution, HostnamePolicy};
use crate::limits::Limits;
use crate::link_error::{LinkError, string_or_number};
use crate::probe_spec::ProbeSpec;
use crate::selector::LabelSelector;

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
}

/// The `spec` of a Linkerd `Link` (SPEC §2), plus svcmirror's own fields. Every field is optional;
/// build a [`Link`](crate::Link) with [`Link::from_spec`](crate::Link::from_spec).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct LinkSpec {
    /// `targetClusterName` (required): the `-<name>` suffix and the `cluster-name` label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_cluster_name: Option<String>,
    /// `targetClusterDomain` (default `cluster.local`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_cluster_domain: Option<String>,
    /// `targetClusterLinkerdNamespace`: accepted and kept, not used by the mirror.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_cluster_linkerd_namespace: Option<String>,
    /// `clusterCredentialsSecret` (default `cluster-credentials-<targetClusterName>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_credentials_secret: Option<String>,
    /// `gatewayAddress`: IPs or DNS names, comma-separated (Linkerd) or a list. Empty: a
    /// gateway-less link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway_address: Option<GatewayAddresses>,
    /// `gatewayPort`, a string in Linkerd's Link (a number is accepted; default `4143`).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "string_or_number"
    )]
    pub gateway_port: Option<String>,
    /// `gatewayIdentity`; empty means none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway_identity: Option<String>,
    /// `probeSpec`: the gateway probe (SPEC §2.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe_spec: Option<ProbeSpec>,
    /// `selector` (default `mirror.linkerd.io/exported=true`; present but empty selects nothing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
    /// `remoteDiscoverySelector` (default `mirror.linkerd.io/exported=remote-discovery`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_discovery_selector: Option<LabelSelector>,
    /// `federatedServiceSelector` (default `mirror.linkerd.io/federated=member`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub federated_service_selector: Option<LabelSelector>,
    /// `excludedAnnotations`: exact keys or `prefix/*`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub excluded_annotations: Option<Vec<String>>,
    /// `excludedLabels`: exact keys or `prefix/*`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub excluded_labels: Option<Vec<String>>,
    /// svcmirror: mirror headless Services as headless (Linkerd: the controller flag
    /// `-enable-headless-services`; default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_headless_services: Option<bool>,
    /// svcmirror: create a missing source namespace (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_namespaces: Option<bool>,
    /// svcmirror: the default hostname policy (SPEC §12; default `hostname`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname_policy: Option<HostnamePolicy>,
    /// svcmirror: the endpoint API mirrors are written with (SPEC §12; default `endpoints`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoints_api: Option<EndpointsApi>,
    /// svcmirror: how the target's gateway resolves endpoint mirror names (SPEC §12 routing
    /// constraint; default `destination`, Linkerd's gateway).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway_resolution: Option<GatewayResolution>,
    /// svcmirror: how much the link may ask of the source (SPEC §8; every field defaults).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<Limits>,
}

impl LinkSpec {
    /// A spec naming only the target cluster: every other field takes its SPEC §2 default.
    #[must_use]
    pub fn new(target_cluster_name: &str) -> Self {
        Self {
            target_cluster_name: Some(target_cluster_name.to_owned()),
            ..Self::default()
        }
    }

    /// This spec with every field set in `over` replacing its own (flags over a file).
    #[must_use]
    pub fn overridden_by(self, over: Self) -> Self {
        Self {
            target_cluster_name: over.target_cluster_name.or(self.target_cluster_name),
            target_cluster_domain: over.target_cluster_domain.or(self.target_cluster_domain),
            target_cluster_linkerd_namespace: over
                .target_cluster_linkerd_namespace
                .or(self.target_cluster_linkerd_namespace),
            cluster_credentials_secret: over
                .cluster_credentials_secret
                .or(self.cluster_credentials_secret),
            gateway_address: over.gateway_address.or(self.gateway_address),
            gateway_port: over.gateway_port.or(self.gateway_port),
            gateway_identity: over.gateway_identity.or(self.gateway_identity),
            probe_spec: match (self.probe_spec, over.probe_spec) {
                (Some(mine), Some(theirs)) => Some(mine.overridden_by(theirs)),
                (mine, theirs) => theirs.or(mine),
            },
            selector: over.selector.or(self.selector),
            remote_discovery_selector: over
                .remote_discovery_selector
                .or(self.remote_discovery_selector),
            federated_service_selector: over
                .federated_service_selector
                .or(self.federated_service_selector),
            excluded_annotations: over.excluded_annotations.or(self.excluded_annotations),
            excluded_labels: over.excluded_labels.or(self.excluded_labels),
            enable_headless_services: over
                .enable_headless_services
                .or(self.enable_headless_services),
            create_namespaces: over.create_namespaces.or(self.create_namespaces),
            hostname_policy: over.hostname_policy.or(self.hostname_policy),
            endpoints_api: over.endpoints_api.or(self.endpoints_api),
            gateway_resolution: over.gateway_resolution.or(self.gateway_resolution),
            limits: over.limits.or(self.limits),
        }
    }

    /// The gateway addresses that are DNS names, not IPs: what an adapter must resolve before
    /// (or while) building the link.
    #[must_use]
    pub fn gateway_names(&self) -> Vec<&str> {
        self.gateway_address
            .as_ref()
            .map(|a| {
                a.0.iter()
                    .map(String::as_str)
                    .filter(|a| a.parse::<IpAddr>().is_err())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// `gatewayAddress`: Linkerd's comma-separated string, or a list; each entry an IP or a DNS name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GatewayAddresses(pub Vec<String>);

impl GatewayAddresses {
    /// Splits Linkerd's comma-separated form (spaces and empty entries are dropped).
    #[must_use]
    pub fn parse(text: &str) -> Self {
        Self(
            text.split(',')
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .map(str::to_owned)
                .collect(),
        )
    }
}

impl fmt::Display for GatewayAddresses {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join(","))
    }
}

impl Serialize for GatewayAddresses {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for GatewayAddresses {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> de::Visitor<'de> for Visitor {
            type Value = GatewayAddresses;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("comma-separated addresses or a list of addresses")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(GatewayAddresses::parse(v))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut all = Vec::new();
                while let Some(entry) = seq.next_element::<String>()? {
                    all.extend(GatewayAddresses::parse(&entry).0);
                }
                Ok(GatewayAddresses(all))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// A whole Linkerd `Link` manifest (`apiVersion: multicluster.linkerd.io/v1alpha1`–`v1alpha3`,
/// `kind: Link`): `metadata` and `status` are read and ignored.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct LinkManifest {
    /// `apiVersion`.
    pub api_version: String,
    /// `kind`.
    pub kind: String,
    /// `metadata` (ignored).
    #[serde(default)]
    metadata: IgnoredAny,
    /// `spec`.
    pub spec: LinkSpec,
    /// `status` (ignored).
    #[serde(default)]
    status: IgnoredAny,
}

/// The `apiVersion`s of Linkerd's `Link` whose spec [`LinkSpec`] reads (v1alpha1 and v1alpha2
/// lack fields v1alpha3 has; none has one it lacks).
pub const LINK_API_VERSIONS: [&str; 3] = [
    "multicluster.linkerd.io/v1alpha1",
    "multicluster.linkerd.io/v1alpha2",
    "multicluster.linkerd.io/v1alpha3",
];

impl LinkManifest {
    /// The spec, once `apiVersion` and `kind` are checked.
    ///
    /// # Errors
    /// [`LinkError::NotALink`] when the manifest is not a Linkerd `Link`.
    pub fn into_spec(self) -> Result<LinkSpec, LinkError> {
        let _ = (self.metadata, self.status);
        if self.kind != "Link" || !LINK_API_VERSIONS.contains(&self.api_version.as_str()) {
            return Err(LinkError::NotALink {
                api_version: self.api_version,
                kind: self.kind,
            });
        }
        Ok(self.spec)
    }
}

/// Which endpoint API a link writes for every mirror (SPEC §12). Endpoints is deprecated since
/// Kubernetes 1.33 (linkerd#15561, #14781) and consumers read EndpointSlices (#12660, #14445).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
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

    pub(crate) fn is_default(&self) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gateway_addresses_comma_separated_or_list() {
        let spec: LinkSpec =
            serde_json::from_str(r#"{"gatewayAddress": "1.2.3.4, gw.example.com"}"#).expect("ok");
        assert_eq!(
            spec.gateway_address,
            Some(GatewayAddresses(vec![
                "1.2.3.4".into(),
                "gw.example.com".into()
            ]))
        );
        assert_eq!(spec.gateway_names(), vec!["gw.example.com"]);
        let list: LinkSpec =
            serde_json::from_str(r#"{"gatewayAddress": ["1.2.3.4", "gw.example.com"]}"#)
                .expect("ok");
        assert_eq!(list, spec);
        assert_eq!(
            serde_json::to_value(&spec).expect("serializes")["gatewayAddress"],
            "1.2.3.4,gw.example.com"
        );
    }

    #[test]
    fn unknown_field_is_named() {
        let err = serde_json::from_str::<LinkSpec>(r#"{"gatewayAdress": "1.2.3.4"}"#)
            .expect_err("unknown");
        assert!(
            err.to_string().contains("unknown field `gatewayAdress`"),
            "{err}"
        );
        let err = serde_json::from_str::<LinkSpec>(r#"{"probeSpec": {"perod": "3s"}}"#)
            .expect_err("unknown");
        assert!(err.to_string().contains("unknown field `perod`"), "{err}");
    }

    #[test]
    fn flags_override_file_field_by_field() {
        let file = LinkSpec {
            gateway_port: Some("4143".into()),
            gateway_identity: Some("gw.west".into()),
            probe_spec: Some(ProbeSpec {
                path: Some("/ready".into()),
                port: Some("4191".into()),
                ..ProbeSpec::default()
            }),
            ..LinkSpec::new("west")
        };
        let flags = LinkSpec {
            gateway_port: Some("4180".into()),
            probe_spec: Some(ProbeSpec {
                port: Some("4192".into()),
                ..ProbeSpec::default()
            }),
            ..LinkSpec::default()
        };
        let merged = file.overridden_by(flags);
        assert_eq!(merged.target_cluster_name.as_deref(), Some("west"));
        assert_eq!(merged.gateway_port.as_deref(), Some("4180"));
        assert_eq!(merged.gateway_identity.as_deref(), Some("gw.west"));
        let probe = merged.probe_spec.expect("probe");
        assert_eq!(
            (probe.path.as_deref(), probe.port.as_deref()),
            (Some("/ready"), Some("4192"))
        );
    }

    #[test]
    fn manifest_kind_and_version_are_checked() {
        let manifest = |api: &str, kind: &str| {
            serde_json::from_value::<LinkManifest>(serde_json::json!({
                "apiVersion": api, "kind": kind,
                "metadata": {"name": "west", "creationTimestamp": null},
                "spec": {"targetClusterName": "west"}, "status": {}
            }))
            .expect("parses")
            .into_spec()
        };
        for api in LINK_API_VERSIONS {
            assert_eq!(
                manifest(api, "Link")
                    .expect("a Link")
                    .target_cluster_name
                    .as_deref(),
                Some("west")
            );
        }
        assert!(matches!(
            manifest("v1", "Service"),
            Err(LinkError::NotALink { .. })
        ));
        assert!(matches!(
            manifest("multicluster.linkerd.io/v1beta1", "Link"),
            Err(LinkError::NotALink { .. })
        ));
    }
}
