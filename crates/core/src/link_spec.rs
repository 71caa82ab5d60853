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
use std::time::Duration;

use serde::de::{self, IgnoredAny};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::hostname_policy::HostnamePolicy;
use crate::names::InvalidClusterName;
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
/// Linkerd's gateway probe path (`mirror.linkerd.io/probe-path`).
pub const DEFAULT_PROBE_PATH: &str = "/ready";
/// Linkerd's gateway probe port (`mc-probe`).
pub const DEFAULT_PROBE_PORT: u16 = 4191;
/// Linkerd's gateway probe period.
pub const DEFAULT_PROBE_PERIOD: Duration = Duration::from_secs(3);
/// Linkerd's probe timeout (the Link CRD's default, `30s`).
pub const DEFAULT_PROBE_TIMEOUT: Duration = Duration::from_secs(30);
/// Linkerd's probe failure threshold (the Link CRD's default, `"3"`).
pub const DEFAULT_PROBE_FAILURE_THRESHOLD: u32 = 3;

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

/// `probeSpec` of a Linkerd Link: every value a string, as Linkerd writes them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct ProbeSpec {
    /// `path` (default `/ready`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// `port` (default `4191`).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "string_or_number"
    )]
    pub port: Option<String>,
    /// `period`, a Go duration (default `3s`; a bare number is seconds, as Linkerd's annotation).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "string_or_number"
    )]
    pub period: Option<String>,
    /// `timeout`, a Go duration (default `30s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    /// `failureThreshold` (default `3`).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "string_or_number"
    )]
    pub failure_threshold: Option<String>,
}

impl ProbeSpec {
    fn overridden_by(self, over: Self) -> Self {
        Self {
            path: over.path.or(self.path),
            port: over.port.or(self.port),
            period: over.period.or(self.period),
            timeout: over.timeout.or(self.timeout),
            failure_threshold: over.failure_threshold.or(self.failure_threshold),
        }
    }
}

/// The gateway probe of a link, with SPEC §2.1's (Linkerd's) defaults applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GatewayProbe {
    /// The HTTP path probed.
    pub path: String,
    /// The port probed on every gateway address.
    pub port: u16,
    /// Time between probes.
    pub period: Duration,
    /// Time a probe may take.
    pub timeout: Duration,
    /// Consecutive failures after which the gateway is dead.
    pub failure_threshold: u32,
}

impl GatewayProbe {
    /// The probe of `spec` (absent or empty values take their defaults).
    ///
    /// # Errors
    /// A port, duration or threshold that does not parse, naming its `probeSpec.*` field.
    pub fn from_spec(spec: Option<&ProbeSpec>) -> Result<Self, LinkError> {
        let empty = ProbeSpec::default();
        let spec = spec.unwrap_or(&empty);
        let port = match set(spec.port.as_ref()) {
            None => DEFAULT_PROBE_PORT,
            Some(p) => parse_port(p).ok_or_else(|| invalid("probeSpec.port", p, PORT_RANGE))?,
        };
        let duration = |field: &'static str, value: Option<&String>, default| match set(value) {
            None => Ok(default),
            Some(v) => parse_go_duration(v).ok_or_else(|| invalid(field, v, DURATION_SYNTAX)),
        };
        let failure_threshold =
            match set(spec.failure_threshold.as_ref()) {
                None => DEFAULT_PROBE_FAILURE_THRESHOLD,
                Some(t) => t.parse::<u32>().ok().filter(|t| *t > 0).ok_or_else(|| {
                    invalid("probeSpec.failureThreshold", t, "a positive integer")
                })?,
            };
        Ok(Self {
            path: set(spec.path.as_ref())
                .unwrap_or(DEFAULT_PROBE_PATH)
                .to_owned(),
            port,
            period: duration(
                "probeSpec.period",
                spec.period.as_ref(),
                DEFAULT_PROBE_PERIOD,
            )?,
            timeout: duration(
                "probeSpec.timeout",
                spec.timeout.as_ref(),
                DEFAULT_PROBE_TIMEOUT,
            )?,
            failure_threshold,
        })
    }
}

pub(crate) const PORT_RANGE: &str = "a port between 1 and 65535";
const DURATION_SYNTAX: &str = "a positive Go duration such as 3s, 500ms or 1m30s";

/// A set value: `None` for absent or empty (Go's zero value).
pub(crate) fn set(value: Option<&String>) -> Option<&str> {
    value.map(String::as_str).filter(|v| !v.is_empty())
}

pub(crate) fn parse_port(text: &str) -> Option<u16> {
    text.trim().parse::<u16>().ok().filter(|p| *p > 0)
}

pub(crate) fn invalid(field: &'static str, value: &str, expected: &'static str) -> LinkError {
    LinkError::InvalidField {
        field,
        value: value.chars().take(256).collect(),
        expected,
    }
}

/// A Go `time.ParseDuration` subset: one or more `<number><unit>` (units `ms`, `s`, `m`, `h`,
/// decimals allowed), or a bare number of seconds (Linkerd's `probe-period` annotation). Zero and
/// negative durations are refused.
#[must_use]
pub fn parse_go_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    if let Ok(secs) = text.parse::<u64>() {
        return (secs > 0).then(|| Duration::from_secs(secs));
    }
    let mut total = 0.0_f64;
    let mut rest = text;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += number * scale;
    }
    (total > 0.0 && total < 1e9).then(|| Duration::from_secs_f64(total))
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

/// A string field Linkerd types as a string but that YAML may carry as a number (`4143`).
fn string_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    struct Visitor;
    impl de::Visitor<'_> for Visitor {
        type Value = Option<String>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string or a number")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(v.to_owned()))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }
    d.deserialize_any(Visitor)
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

/// Why a link could not be built from its [`LinkSpec`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LinkError {
    /// `targetClusterName` is absent or empty.
    #[error("targetClusterName is required")]
    MissingClusterName,
    /// The cluster name is not a DNS-1123 label.
    #[error("targetClusterName: {0}")]
    ClusterName(#[from] InvalidClusterName),
    /// The cluster domain is not a DNS name.
    #[error("targetClusterDomain: {0:?} is not a DNS name")]
    ClusterDomain(String),
    /// A field whose value does not parse.
    #[error("{field}: {value:?} is not {expected}")]
    InvalidField {
        /// The field, as written in the Link (`gatewayPort`, `probeSpec.period`).
        field: &'static str,
        /// The value (truncated).
        value: String,
        /// What was expected.
        expected: &'static str,
    },
    /// A `gatewayAddress` entry that is neither an IP nor a DNS name.
    #[error("gatewayAddress: {0:?} is neither an IP address nor a DNS name")]
    GatewayAddress(String),
    /// A gateway DNS name the adapter could not resolve.
    #[error("gatewayAddress: the name {name:?} does not resolve: {reason}")]
    UnresolvedGatewayName {
        /// The name.
        name: String,
        /// Why, as the resolver said.
        reason: String,
    },
    /// A manifest that is not a Linkerd `Link`.
    #[error(
        "not a Linkerd Link: apiVersion {api_version:?}, kind {kind:?} (expected kind Link, \
         apiVersion multicluster.linkerd.io/v1alpha1, v1alpha2 or v1alpha3)"
    )]
    NotALink {
        /// The manifest's `apiVersion`.
        api_version: String,
        /// The manifest's `kind`.
        kind: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("3s"), Some(Duration::from_secs(3)));
        assert_eq!(parse_go_duration("3"), Some(Duration::from_secs(3)));
        assert_eq!(parse_go_duration("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_go_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_go_duration("1.5h"), Some(Duration::from_secs(5400)));
        for bad in ["", "0", "0s", "3x", "s", "-3s", "1e400s"] {
            assert_eq!(parse_go_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn probe_defaults_are_linkerds() {
        let probe = GatewayProbe::from_spec(None).expect("defaults");
        assert_eq!(
            (probe.path.as_str(), probe.port, probe.period),
            ("/ready", 4191, Duration::from_secs(3))
        );
        assert_eq!(
            (probe.timeout, probe.failure_threshold),
            (Duration::from_secs(30), 3)
        );
        let bad = ProbeSpec {
            period: Some("soon".into()),
            ..ProbeSpec::default()
        };
        assert!(matches!(
            GatewayProbe::from_spec(Some(&bad)),
            Err(LinkError::InvalidField {
                field: "probeSpec.period",
                ..
            })
        ));
    }

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
