//! SPEC §12 (hostname policy): which name, if any, a pod behind a headless export gets.
//!
//! Linkerd only names a pod by its Endpoints `hostname`, which Kubernetes sets for a StatefulSet pod
//! behind the StatefulSet's *governing* Service. A headless Service that is not the StatefulSet's
//! `serviceName` has no hostnames at all, so Linkerd mirrors no pod of it (linkerd#10916). CoreDNS
//! and the MCS conformance suite name such pods by their dashed IP; Kubernetes names every pod.
//! The policy is chosen per exported Service with the annotation
//! [`HOSTNAME_POLICY_ANNOTATION`], falling back to the link's default
//! ([`crate::LinkBuilder::hostname_policy`]), itself [`HostnamePolicy::Hostname`] (Linkerd's
//! behaviour) unless set.

use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::decision::{Decision, Record};
use crate::diagnostics::{Diagnostic, Reason, Severity};
use crate::model::{EndpointAddress, Kind, Service};

/// Annotation on an exported Service choosing its [`HostnamePolicy`].
pub const HOSTNAME_POLICY_ANNOTATION: &str = "svcmirror.io/hostname-policy";

/// How a pod behind a headless export is named (SPEC §12).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum HostnamePolicy {
    /// Only the address's `hostname` names a pod (Linkerd's behaviour, the default).
    #[default]
    Hostname,
    /// The `hostname`, else `targetRef.name` when `targetRef.kind` is `Pod`.
    TargetRef,
    /// The `hostname`, else the IP with `.` and `:` replaced by `-`, as CoreDNS names endpoints
    /// (`10-42-0-7`, `fd00--7`).
    DashedIp,
    /// No pod is ever named: a headless export is mirrored as ClusterIP (SPEC §6.4).
    Skip,
}

impl HostnamePolicy {
    /// Every policy, in the order documented.
    pub const ALL: [Self; 4] = [Self::Hostname, Self::TargetRef, Self::DashedIp, Self::Skip];

    /// The annotation value (`hostname`, `target-ref`, `dashed-ip`, `skip`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hostname => "hostname",
            Self::TargetRef => "target-ref",
            Self::DashedIp => "dashed-ip",
            Self::Skip => "skip",
        }
    }
}

impl fmt::Display for HostnamePolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An annotation value that is not a [`HostnamePolicy`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a hostname policy (hostname, target-ref, dashed-ip or skip)")]
pub struct UnknownHostnamePolicy(pub String);

impl FromStr for HostnamePolicy {
    type Err = UnknownHostnamePolicy;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| UnknownHostnamePolicy(s.to_owned()))
    }
}

/// How the target's gateway resolves an endpoint mirror's `mirror.linkerd.io/remote-svc-fq-name`
/// (`<pod>.<service>.<namespace>.svc.<domain>`), which decides which hostname policies route
/// (SPEC §12, routing constraint). Chosen explicitly per link.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum GatewayResolution {
    /// Linkerd's gateway (the default): its proxy asks the target's destination service, which
    /// parses `<instance>.<svc>.<ns>.svc.<domain>` (linkerd2 `controller/api/destination/server.go`,
    /// `parseK8sServiceName`) and keeps only the addresses whose Endpoints `hostname` equals
    /// `<instance>` (`controller/api/destination/watcher/filtered_listener_group.go`,
    /// `filterAddresses`). A pod without a `hostname` is therefore never reachable by name, so
    /// only pods named by their `hostname` route.
    #[default]
    Destination,
    /// A gateway that resolves the name through the target's DNS (CoreDNS answers
    /// `<dashed-ip>.<svc>.<ns>.svc.<domain>` for a headless Service's endpoints, and pod names
    /// with its `endpoint_pod_names` option): every policy routes.
    Dns,
}

impl GatewayResolution {
    /// Both resolutions, in the order documented.
    pub const ALL: [Self; 2] = [Self::Destination, Self::Dns];

    /// The link-spec value (`destination`, `dns`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Destination => "destination",
            Self::Dns => "dns",
        }
    }
}

impl fmt::Display for GatewayResolution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A value that is not a [`GatewayResolution`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a gateway resolution (destination or dns)")]
pub struct UnknownGatewayResolution(pub String);

impl FromStr for GatewayResolution {
    type Err = UnknownGatewayResolution;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownGatewayResolution(s.to_owned()))
    }
}

/// SPEC §12 routing constraint: the policy that is applied when `policy` is asked for behind a
/// gateway that resolves names by `resolution`, and, when that differs, why (for the diagnostic).
/// Through Linkerd's gateway only a pod's `hostname` routes, so `target-ref` and `dashed-ip` fall
/// back to `hostname`: an endpoint mirror that could never reach its pod is not made to look
/// healthy.
#[must_use]
pub fn routable_policy(
    policy: HostnamePolicy,
    resolution: GatewayResolution,
) -> (HostnamePolicy, Option<String>) {
    match (policy, resolution) {
        (HostnamePolicy::TargetRef | HostnamePolicy::DashedIp, GatewayResolution::Destination) => (
            HostnamePolicy::Hostname,
            Some(format!(
                "hostname policy `{policy}` cannot route through Linkerd's gateway: it resolves                  <pod>.<service>.<namespace>.svc names through the destination service, which only                  matches an Endpoints `hostname`, so a pod named by {} would never be reached;                  pods are named by `hostname` only (set the link's gateway resolution to `dns`                  for a gateway that resolves by DNS)",
                if policy == HostnamePolicy::TargetRef {
                    "its Pod name"
                } else {
                    "its dashed IP"
                }
            )),
        ),
        _ => (policy, None),
    }
}

/// SPEC §12 hostname policy.
const POLICY: &str = "SPEC §12 hostname policy";

/// SPEC §12: the hostname policy applied to a headless export — its `svcmirror.io/hostname-policy`
/// annotation, or the link's `default`; an unknown value is an `InvalidObject` warning and the
/// default is used. A policy that cannot route through the link's gateway falls back to
/// `hostname` with an `InvalidService` warning (SPEC §12 routing constraint).
pub(crate) fn export_policy(
    svc: &Service,
    default: HostnamePolicy,
    resolution: GatewayResolution,
    record: &mut Record,
) -> HostnamePolicy {
    let annotation = svc.metadata.annotations.get(HOSTNAME_POLICY_ANNOTATION);
    let field = || format!("metadata.annotations[{HOSTNAME_POLICY_ANNOTATION:?}]");
    let asked = match annotation.map(|value| value.parse::<HostnamePolicy>()) {
        None => {
            record.note(POLICY, || {
                format!(
                    "`{default}` (the link's default; no {HOSTNAME_POLICY_ANNOTATION} annotation)"
                )
            });
            default
        }
        Some(Ok(policy)) => {
            record.note(POLICY, || {
                format!("`{policy}` (annotation {HOSTNAME_POLICY_ANNOTATION})")
            });
            policy
        }
        Some(Err(err)) => {
            record.decide(Decision::new(
                POLICY,
                Diagnostic::new(
                    Reason::InvalidObject,
                    Severity::Warning,
                    Kind::Service,
                    svc.metadata.key(),
                    format!("{err}; the link's default `{default}` is used"),
                )
                .at(field()),
            ));
            default
        }
    };
    let (applied, unroutable) = routable_policy(asked, resolution);
    if let Some(why) = unroutable {
        let finding = Diagnostic::new(
            Reason::InvalidService,
            Severity::Warning,
            Kind::Service,
            svc.metadata.key(),
            why,
        );
        let finding = if annotation.is_some() {
            finding.at(field())
        } else {
            finding
        };
        record.decide(Decision::new("SPEC §12 routing constraint", finding));
    }
    applied
}

/// Where a pod's name came from: decides the field path of an `InvalidHostname` diagnostic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum PodNameSource {
    /// The address's `hostname`.
    Hostname,
    /// The address's `targetRef.name` (policy `target-ref`).
    TargetRef,
    /// The address's IP, dashed (policy `dashed-ip`).
    DashedIp,
}

impl PodNameSource {
    /// The field, relative to the address, the name was read from.
    #[must_use]
    pub fn field(self) -> &'static str {
        match self {
            Self::Hostname => "hostname",
            Self::TargetRef => "targetRef.name",
            Self::DashedIp => "ip",
        }
    }
}

/// The name a pod gets under a policy, not yet checked to be a DNS-1123 label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodName<'a> {
    /// The name.
    pub name: Cow<'a, str>,
    /// Where it came from.
    pub source: PodNameSource,
}

/// SPEC §12: the name `policy` gives the pod at `address` (whose parsed IP is `ip`), if any. The
/// caller checks it is a DNS-1123 label (SPEC §3: `InvalidHostname` otherwise).
#[must_use]
pub fn pod_name(
    address: &EndpointAddress,
    ip: IpAddr,
    policy: HostnamePolicy,
) -> Option<PodName<'_>> {
    let hostname = address
        .hostname
        .as_deref()
        .filter(|h| !h.is_empty())
        .map(|h| PodName {
            name: Cow::Borrowed(h),
            source: PodNameSource::Hostname,
        });
    match policy {
        HostnamePolicy::Hostname => hostname,
        HostnamePolicy::Skip => None,
        HostnamePolicy::TargetRef => hostname.or_else(|| {
            let target = address.target_ref.as_ref()?;
            let name = target
                .name
                .as_deref()
                .filter(|n| target.kind.as_deref() == Some("Pod") && !n.is_empty())?;
            Some(PodName {
                name: Cow::Borrowed(name),
                source: PodNameSource::TargetRef,
            })
        }),
        // CoreDNS's `endpointHostname`: the hostname when set, else the IP dashed.
        HostnamePolicy::DashedIp => hostname.or_else(|| {
            Some(PodName {
                name: Cow::Owned(dashed_ip(ip)),
                source: PodNameSource::DashedIp,
            })
        }),
    }
}

/// The IP in its canonical text form with `.` and `:` replaced by `-` (`10-42-0-7`, `fd00--7`), as
/// CoreDNS names endpoints without a hostname. Some IPv6 forms (`::1`, `fd00::`) yield a name that
/// starts or ends with `-` and is therefore no DNS label: the caller reports `InvalidHostname`.
#[must_use]
pub fn dashed_ip(ip: IpAddr) -> String {
    ip.to_string().replace(['.', ':'], "-")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ObjectReference;

    fn address(hostname: Option<&str>, pod: Option<(&str, &str)>) -> EndpointAddress {
        EndpointAddress {
            ip: "10.42.0.7".into(),
            hostname: hostname.map(str::to_owned),
            node_name: None,
            target_ref: pod.map(|(kind, name)| ObjectReference {
                kind: Some(kind.into()),
                name: Some(name.into()),
                ..ObjectReference::default()
            }),
        }
    }

    fn name(a: &EndpointAddress, policy: HostnamePolicy) -> Option<(String, PodNameSource)> {
        let ip = a.ip.parse().expect("ip");
        pod_name(a, ip, policy).map(|n| (n.name.into_owned(), n.source))
    }

    #[test]
    fn only_hostname_names_route_through_linkerds_gateway() {
        // SPEC §12 routing constraint (linkerd2 `filterAddresses`: hostname must match).
        for p in [HostnamePolicy::TargetRef, HostnamePolicy::DashedIp] {
            let (applied, why) = routable_policy(p, GatewayResolution::Destination);
            assert_eq!(applied, HostnamePolicy::Hostname, "{p}");
            let why = why.expect("a reason");
            assert!(
                why.contains(p.as_str()) && why.contains("destination service"),
                "{why}"
            );
            assert_eq!(routable_policy(p, GatewayResolution::Dns), (p, None), "{p}");
        }
        for p in [HostnamePolicy::Hostname, HostnamePolicy::Skip] {
            for r in GatewayResolution::ALL {
                assert_eq!(routable_policy(p, r), (p, None), "{p} {r}");
            }
        }
        assert_eq!(GatewayResolution::default(), GatewayResolution::Destination);
        for r in GatewayResolution::ALL {
            assert_eq!(r.as_str().parse::<GatewayResolution>(), Ok(r));
        }
        assert!("DNS".parse::<GatewayResolution>().is_err());
    }

    #[test]
    fn parses_every_policy_and_rejects_others() {
        for p in HostnamePolicy::ALL {
            assert_eq!(p.as_str().parse::<HostnamePolicy>(), Ok(p));
        }
        assert!("Hostname".parse::<HostnamePolicy>().is_err());
        assert_eq!(HostnamePolicy::default(), HostnamePolicy::Hostname);
    }

    #[test]
    fn hostname_always_wins_except_under_skip() {
        let a = address(Some("web-0"), Some(("Pod", "web-abc")));
        for p in [
            HostnamePolicy::Hostname,
            HostnamePolicy::TargetRef,
            HostnamePolicy::DashedIp,
        ] {
            assert_eq!(
                name(&a, p),
                Some(("web-0".into(), PodNameSource::Hostname)),
                "{p}"
            );
        }
        assert_eq!(name(&a, HostnamePolicy::Skip), None);
    }

    #[test]
    fn target_ref_names_pods_only() {
        let pod = address(None, Some(("Pod", "web-abc")));
        assert_eq!(
            name(&pod, HostnamePolicy::TargetRef),
            Some(("web-abc".into(), PodNameSource::TargetRef))
        );
        assert_eq!(name(&pod, HostnamePolicy::Hostname), None);
        let node = address(None, Some(("Node", "n1")));
        assert_eq!(name(&node, HostnamePolicy::TargetRef), None);
    }

    #[test]
    fn dashed_ip_like_coredns() {
        assert_eq!(dashed_ip("10.42.0.7".parse().expect("ip")), "10-42-0-7");
        assert_eq!(dashed_ip("fd00::7".parse().expect("ip")), "fd00--7");
        assert_eq!(
            dashed_ip("FD00:0:0:0:0:0:0:7".parse().expect("ip")),
            "fd00--7"
        );
        assert_eq!(dashed_ip("::1".parse().expect("ip")), "--1");
        let a = address(None, None);
        assert_eq!(
            name(&a, HostnamePolicy::DashedIp),
            Some(("10-42-0-7".into(), PodNameSource::DashedIp))
        );
    }
}
