//! Arbitrary links: every setting of SPEC §2 and §12 that changes what is mirrored — the
//! endpoints API (Endpoints, EndpointSlices or both), the hostname policy, label and annotation
//! exclusions (exact keys and `prefix/*`), and the export, remote-discovery and federated
//! selectors (`matchLabels` and `matchExpressions`, over the keys the target objects use).

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use arbitrary::Arbitrary;
use svcmirror_core::{
    EndpointsApi, HostnamePolicy, KeyPattern, LabelSelector, LabelSelectorRequirement, Link,
    SelectorOperator,
};

use crate::input::{CLUSTERS, LABEL_KEYS, pick};

/// Keys selectors ask about: the export and federation labels, and target labels.
const SELECTOR_KEYS: [&str; 5] = [
    "mirror.linkerd.io/exported",
    "mirror.linkerd.io/federated",
    "app",
    "tier",
    "kubernetes.io/name",
];

/// Values selectors ask for (the generator's label values among them).
const SELECTOR_VALUES: [&str; 6] = ["true", "remote-discovery", "member", "web", "", "True"];

/// Exclusion patterns: exact keys, `prefix/*` patterns, and the deny-listed domains.
const PATTERNS: [&str; 8] = [
    "app",
    "example.com/*",
    "config.linkerd.io/*",
    "config.linkerd.io/opaque-ports",
    "service.kubernetes.io/*",
    "*",
    "kubernetes.io/*",
    "svcmirror.io/hostname-policy",
];

/// One `matchExpressions` entry.
#[derive(Debug, Clone, Arbitrary)]
pub struct Expression {
    key: u8,
    operator: u8,
    values: Vec<u8>,
}

/// A label selector: `matchLabels` and `matchExpressions` over [`SELECTOR_KEYS`].
#[derive(Debug, Clone, Arbitrary)]
pub struct SelectorInput {
    match_labels: Vec<(u8, u8)>,
    match_expressions: Vec<Expression>,
}

impl SelectorInput {
    /// The selector.
    #[must_use]
    pub fn build(&self) -> LabelSelector {
        let match_labels: BTreeMap<String, String> = self
            .match_labels
            .iter()
            .take(3)
            .map(|(k, v)| {
                (
                    pick(&SELECTOR_KEYS, *k).into(),
                    pick(&SELECTOR_VALUES, *v).into(),
                )
            })
            .collect();
        let match_expressions = self
            .match_expressions
            .iter()
            .take(3)
            .map(|e| LabelSelectorRequirement {
                key: pick(&SELECTOR_KEYS, e.key).into(),
                operator: match e.operator % 4 {
                    0 => SelectorOperator::In,
                    1 => SelectorOperator::NotIn,
                    2 => SelectorOperator::Exists,
                    _ => SelectorOperator::DoesNotExist,
                },
                values: e
                    .values
                    .iter()
                    .take(3)
                    .map(|v| pick(&SELECTOR_VALUES, *v).into())
                    .collect(),
            })
            .collect();
        LabelSelector {
            match_labels,
            match_expressions,
        }
    }
}

/// An exclusion pattern: from [`PATTERNS`] or a label key made a prefix.
#[derive(Debug, Clone, Copy, Arbitrary)]
pub enum PatternInput {
    /// One of [`PATTERNS`].
    Known(u8),
    /// A generator label key, exact.
    Key(u8),
}

impl PatternInput {
    fn build(self) -> KeyPattern {
        match self {
            Self::Known(i) => KeyPattern::new(pick(&PATTERNS, i)),
            Self::Key(i) => KeyPattern::new(pick(&LABEL_KEYS, i)),
        }
    }
}

/// A selector of the link: the default one three times in four.
#[derive(Debug, Clone, Arbitrary)]
pub enum SelectorChoice {
    /// The default.
    Default,
    /// The default.
    Default2,
    /// The default.
    Default3,
    /// Another one.
    Custom(SelectorInput),
}

impl SelectorChoice {
    fn custom(&self) -> Option<LabelSelector> {
        match self {
            Self::Custom(s) => Some(s.build()),
            _ => None,
        }
    }
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
    /// 0: Endpoints, 1: EndpointSlices, 2: both.
    endpoints_api: u8,
    /// Hostname, target-ref, dashed-ip, skip; `None`: the default.
    hostname_policy: Option<u8>,
    excluded_labels: Vec<PatternInput>,
    excluded_annotations: Vec<PatternInput>,
    export_selector: SelectorChoice,
    remote_discovery_selector: SelectorChoice,
    federated_selector: SelectorChoice,
}

impl LinkInput {
    /// The link (always valid: the fuzzing is of the target objects and the link's settings, not
    /// of the cluster name or gateway).
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
            .create_namespaces(self.create_namespaces)
            .endpoints_api(match self.endpoints_api % 3 {
                0 => EndpointsApi::Endpoints,
                1 => EndpointsApi::Slices,
                _ => EndpointsApi::Both,
            });
        if let Some(p) = self.hostname_policy {
            builder = builder.hostname_policy(match p % 4 {
                0 => HostnamePolicy::Hostname,
                1 => HostnamePolicy::TargetRef,
                2 => HostnamePolicy::DashedIp,
                _ => HostnamePolicy::Skip,
            });
        }
        for p in self.excluded_labels.iter().take(3) {
            builder = builder.exclude_label(p.build());
        }
        for p in self.excluded_annotations.iter().take(3) {
            builder = builder.exclude_annotation(p.build());
        }
        if let Some(s) = self.export_selector.custom() {
            builder = builder.export_selector(s);
        }
        if let Some(s) = self.remote_discovery_selector.custom() {
            builder = builder.remote_discovery_selector(s);
        }
        if let Some(s) = self.federated_selector.custom() {
            builder = builder.federated_selector(s);
        }
        if self.identity {
            builder = builder.gateway_identity(
                "gateway.linkerd-multicluster.serviceaccount.identity.linkerd.cluster.local",
            );
        }
        builder.build().expect("the fuzz link is valid")
    }

    /// The name of the cluster this link reaches.
    #[must_use]
    pub fn cluster(&self) -> &'static str {
        pick(&CLUSTERS, self.cluster)
    }
}
