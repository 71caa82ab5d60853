//! SPEC §8: what a target object must look like to be mirrored, and what the source API server
//! would accept of what we write. Every finding names the object and the field path; values are
//! echoed cut to [`crate::limits::ECHO_CHARS`]; nothing here panics, whatever the input.
//!
//! The link's limits, and what the source API server would refuse of one export beyond the
//! target's own validity, are [`crate::admission`]'s.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use crate::diagnostics::{Diagnostic, Reason, Severity};
use crate::hostname_policy::{HostnamePolicy, PodNameSource, pod_name};
use crate::limits::echo;
use crate::model::{
    CLUSTER_IP_NONE, EndpointAddress, EndpointPort, Endpoints, IntOrString, Kind, ObjectKey,
    Service, effective_protocol,
};
use crate::names::{is_dns1035_label, is_dns1123_label};

const PROTOCOLS: [&str; 3] = ["TCP", "UDP", "SCTP"];

fn invalid(kind: Kind, key: &ObjectKey, field: String, message: String) -> Diagnostic {
    Diagnostic::new(
        Reason::InvalidObject,
        Severity::Error,
        kind,
        key.clone(),
        message,
    )
    .at(field)
}

fn valid_port(port: i32) -> bool {
    (1..=65535).contains(&port)
}

/// An IANA service name, as Kubernetes requires of a named `targetPort`: ≤ 15 characters, lowercase
/// alphanumerics and `-`, at least one letter, no leading/trailing/double `-`.
fn is_iana_svc_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 15
        && s.bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
        && s.bytes().any(|c| c.is_ascii_lowercase())
        && !s.starts_with('-')
        && !s.ends_with('-')
        && !s.contains("--")
}

/// Checks an exported Service. Any finding is an error: a Service the source API server would
/// reject cannot be mirrored.
#[must_use]
pub fn service_problems(svc: &Service) -> Vec<Diagnostic> {
    let key = svc.metadata.key();
    let mut out = Vec::new();
    let mut bad = |field: String, message: String| {
        out.push(invalid(Kind::Service, &key, field, message));
    };
    if !is_dns1035_label(&svc.metadata.name) {
        bad(
            "metadata.name".into(),
            format!(
                "{} is not a DNS-1035 label (lowercase letters, digits, '-', starting with a letter, at most 63)",
                echo(&svc.metadata.name)
            ),
        );
    }
    if !is_dns1123_label(svc.metadata.namespace()) {
        bad(
            "metadata.namespace".into(),
            format!("{} is not a DNS-1123 label", echo(&svc.metadata.namespace)),
        );
    }
    // F1 (fuzzing): what the source API server refuses must not be copied onto a mirror.
    // SPEC §8 limits: keys and values are echoed cut (a 100 KB label value is not logged whole).
    for (k, v) in &svc.metadata.labels {
        if !is_qualified_name(k) {
            bad(
                format!("metadata.labels[{}]", echo(k)),
                format!(
                    "{} is not a valid label key ([prefix/]name, name ≤ 63 alphanumerics, '-', '_', '.')",
                    echo(k)
                ),
            );
        } else if !is_label_value(v) {
            bad(
                format!("metadata.labels[{}]", echo(k)),
                format!(
                    "{} is not a valid label value (≤ 63 alphanumerics, '-', '_', '.')",
                    echo(v)
                ),
            );
        }
    }
    for k in svc.metadata.annotations.keys() {
        if !is_qualified_name(k) {
            bad(
                format!("metadata.annotations[{}]", echo(k)),
                format!(
                    "{} is not a valid annotation key ([prefix/]name, name ≤ 63 alphanumerics, '-', '_', '.')",
                    echo(k)
                ),
            );
        }
    }
    if let Some(ip) = &svc.spec.cluster_ip
        && !ip.is_empty()
        && ip != CLUSTER_IP_NONE
        && ip.parse::<IpAddr>().is_err()
    {
        bad(
            "spec.clusterIP".into(),
            format!("{} is neither \"None\" nor an IP address", echo(ip)),
        );
    }
    let many = svc.spec.ports.len() > 1;
    // Sets, not a scan of the ports before: 10 000 ports must not cost 10⁸ comparisons (SPEC §8).
    let mut names: BTreeSet<&str> = BTreeSet::new();
    let mut port_protocols: BTreeSet<(i32, &str)> = BTreeSet::new();
    for (i, port) in svc.spec.ports.iter().enumerate() {
        if !valid_port(port.port) {
            bad(
                format!("spec.ports[{i}].port"),
                format!("{} is not a port number (1-65535)", port.port),
            );
        }
        if let Some(p) = &port.protocol
            && !p.is_empty()
            && !PROTOCOLS.contains(&p.as_str())
        {
            bad(
                format!("spec.ports[{i}].protocol"),
                format!("{} is not TCP, UDP or SCTP", echo(p)),
            );
        }
        match &port.name {
            Some(name) if !name.is_empty() && !is_dns1123_label(name) => bad(
                format!("spec.ports[{i}].name"),
                format!("{} is not a DNS-1123 label", echo(name)),
            ),
            None if many => bad(
                format!("spec.ports[{i}].name"),
                "a Service with several ports must name each of them".into(),
            ),
            Some(name) if name.is_empty() && many => bad(
                format!("spec.ports[{i}].name"),
                "a Service with several ports must name each of them".into(),
            ),
            _ => {}
        }
        if let Some(name) = port.name.as_deref().filter(|n| !n.is_empty())
            && !names.insert(name)
        {
            bad(
                format!("spec.ports[{i}].name"),
                format!("port name {} is used twice", echo(name)),
            );
        }
        // F2 (fuzzing): the API server refuses `Duplicate value: 80/TCP`.
        let protocol = effective_protocol(port.protocol.as_deref());
        if !port_protocols.insert((port.port, protocol)) {
            bad(
                format!("spec.ports[{i}]"),
                format!("{}/{protocol} is used twice", port.port),
            );
        }
        match &port.target_port {
            Some(IntOrString::Int(n)) if !valid_port(*n) => bad(
                format!("spec.ports[{i}].targetPort"),
                format!("{n} is not a port number (1-65535)"),
            ),
            Some(IntOrString::String(s)) if !is_iana_svc_name(s) => bad(
                format!("spec.ports[{i}].targetPort"),
                format!("{} is not a valid port name", echo(s)),
            ),
            _ => {}
        }
    }
    out
}

/// The usable part of one address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CheckedAddress<'a> {
    pub ip: IpAddr,
    /// The pod's name under the export's hostname policy (SPEC §12; the `hostname` under the
    /// default policy), when it has one and it is a valid DNS-1123 label.
    pub pod_name: Option<Cow<'a, str>>,
    pub source: Option<PodNameSource>,
    pub address: &'a EndpointAddress,
}

/// One subset, with bad addresses and ports dropped.
#[derive(Debug, Clone, Default)]
pub(crate) struct CheckedSubset<'a> {
    pub ready: Vec<CheckedAddress<'a>>,
    pub not_ready: Vec<CheckedAddress<'a>>,
    pub ports: Vec<&'a EndpointPort>,
}

/// Checks a target Endpoints object: an address with an unparsable IP, or a port out of range, is
/// dropped (error); a pod name (under `policy`, SPEC §12) that is not a DNS-1123 label is ignored
/// and the address kept as unnamed (`InvalidHostname`).
pub(crate) fn check_endpoints<'a>(
    ep: &'a Endpoints,
    policy: HostnamePolicy,
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<CheckedSubset<'a>> {
    let key = ep.metadata.key();
    ep.subsets
        .iter()
        .enumerate()
        .map(|(s, subset)| {
            let mut check = |list: &'a [EndpointAddress], field: &str| {
                list.iter()
                    .enumerate()
                    .filter_map(|(a, address)| {
                        let path = format!("subsets[{s}].{field}[{a}]");
                        check_address(&key, address, policy, &path, diagnostics)
                    })
                    .collect::<Vec<_>>()
            };
            let ready = check(&subset.addresses, "addresses");
            let not_ready = check(&subset.not_ready_addresses, "notReadyAddresses");
            let ports = subset
                .ports
                .iter()
                .enumerate()
                .filter(|(p, port)| {
                    let problem = endpoint_port_problem(port);
                    if let Some((field, message)) = &problem {
                        diagnostics.push(invalid(
                            Kind::Endpoints,
                            &key,
                            format!("subsets[{s}].ports[{p}].{field}"),
                            format!("{message}; port dropped"),
                        ));
                    }
                    problem.is_none()
                })
                .collect::<Vec<_>>();
            // F7 (fuzzing): as the API server requires, a subset of several ports names each of
            // them; an unnamed one cannot be copied into the root mirror's Endpoints.
            let several = ports.len() > 1;
            let ports = ports
                .into_iter()
                .filter(|(p, port)| {
                    let unnamed = several && port.name.as_deref().is_none_or(str::is_empty);
                    if unnamed {
                        diagnostics.push(invalid(
                            Kind::Endpoints,
                            &key,
                            format!("subsets[{s}].ports[{p}].name"),
                            "a subset with several ports must name each of them; port dropped"
                                .to_owned(),
                        ));
                    }
                    !unnamed
                })
                .map(|(_, port)| port)
                .collect();
            let ports = without_duplicate_names(ports, &key, s, diagnostics);
            CheckedSubset {
                ready,
                not_ready,
                ports,
            }
        })
        .collect()
}

/// SPEC §8 (one bad export never fails the link): two ports of a subset with one name but a
/// different number, protocol or appProtocol make an EndpointSlice the API server refuses
/// (`ports[1].name: Duplicate value`), and leave any consumer of the Endpoints guessing which one
/// the name means. The smallest (port, protocol, appProtocol) keeps the name, so the choice does
/// not depend on input order; the others are dropped with an error naming the field. Identical
/// repeats are harmless (slices de-duplicate them) and kept.
fn without_duplicate_names<'a>(
    ports: Vec<&'a EndpointPort>,
    key: &ObjectKey,
    subset: usize,
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<&'a EndpointPort> {
    let mut keeper: BTreeMap<&str, &EndpointPort> = BTreeMap::new();
    for port in &ports {
        if let Some(name) = port.name.as_deref() {
            let kept = keeper.entry(name).or_insert(port);
            if port_order(port) < port_order(kept) {
                *kept = port;
            }
        }
    }
    ports
        .iter()
        .enumerate()
        .filter(|(p, port)| {
            let Some(kept) = port.name.as_deref().and_then(|n| keeper.get(n)) else {
                return true;
            };
            if port_order(kept) == port_order(port) {
                return true;
            }
            diagnostics.push(invalid(
                Kind::Endpoints,
                key,
                format!("subsets[{subset}].ports[{p}].name"),
                format!(
                    "port name {} is used by {}/{} and {}/{} in one subset (an EndpointSlice \
                     refuses duplicate port names); {}/{} is dropped",
                    echo(port.name.as_deref().unwrap_or_default()),
                    kept.port,
                    effective_protocol(kept.protocol.as_deref()),
                    port.port,
                    effective_protocol(port.protocol.as_deref()),
                    port.port,
                    effective_protocol(port.protocol.as_deref()),
                ),
            ));
            false
        })
        .map(|(_, port)| *port)
        .collect()
}

fn port_order(p: &EndpointPort) -> (i32, &str, Option<&str>) {
    (
        p.port,
        effective_protocol(p.protocol.as_deref()),
        p.app_protocol.as_deref(),
    )
}

/// F3 (fuzzing): a subset port is copied into the root mirror's Endpoints unchanged (SPEC §6.6),
/// so it must be one the source API server accepts.
fn endpoint_port_problem(port: &EndpointPort) -> Option<(&'static str, String)> {
    if !valid_port(port.port) {
        return Some((
            "port",
            format!("{} is not a port number (1-65535)", port.port),
        ));
    }
    if let Some(name) = port.name.as_deref().filter(|n| !n.is_empty())
        && !is_dns1123_label(name)
    {
        return Some(("name", format!("{} is not a DNS-1123 label", echo(name))));
    }
    let protocol = effective_protocol(port.protocol.as_deref());
    if !PROTOCOLS.contains(&protocol) {
        return Some((
            "protocol",
            format!("{} is not TCP, UDP or SCTP", echo(protocol)),
        ));
    }
    None
}

/// A label or annotation key: an optional DNS-subdomain prefix (≤ 253) and `/`, then a name of
/// ≤ 63 alphanumerics, `-`, `_`, `.`, starting and ending alphanumeric.
pub fn is_qualified_name(key: &str) -> bool {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    let prefix_ok = prefix
        .is_none_or(|p| !p.is_empty() && p.len() <= 253 && p.split('.').all(is_dns1123_label));
    prefix_ok && !name.is_empty() && is_label_value(name)
}

/// A label value: empty, or ≤ 63 alphanumerics, `-`, `_`, `.`, starting and ending alphanumeric.
fn is_label_value(v: &str) -> bool {
    let b = v.as_bytes();
    b.is_empty()
        || (b.len() <= 63
            && b.iter()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
            && b[0].is_ascii_alphanumeric()
            && b[b.len() - 1].is_ascii_alphanumeric())
}

fn check_address<'a>(
    key: &ObjectKey,
    address: &'a EndpointAddress,
    policy: HostnamePolicy,
    path: &str,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<CheckedAddress<'a>> {
    let Ok(ip) = address.ip.parse::<IpAddr>() else {
        diagnostics.push(invalid(
            Kind::Endpoints,
            key,
            format!("{path}.ip"),
            format!(
                "{} is not an IP address; address dropped",
                echo(&address.ip)
            ),
        ));
        return None;
    };
    let (pod_name, source) = match pod_name(address, ip, policy) {
        None => (None, None),
        Some(n) if is_dns1123_label(&n.name) => (Some(n.name), Some(n.source)),
        Some(n) => {
            let what = match n.source {
                PodNameSource::Hostname => format!("hostname {}", echo(&n.name)),
                PodNameSource::TargetRef => {
                    format!("pod name {} (hostname policy target-ref)", echo(&n.name))
                }
                PodNameSource::DashedIp => {
                    format!("dashed IP {} (hostname policy dashed-ip)", echo(&n.name))
                }
            };
            diagnostics.push(
                Diagnostic::new(
                    Reason::InvalidHostname,
                    Severity::Error,
                    Kind::Endpoints,
                    key.clone(),
                    format!(
                        "{what} is not a DNS-1123 label (lowercase letters, digits, '-'); \
                         no endpoint mirror for {ip}"
                    ),
                )
                .at(format!("{path}.{}", n.source.field())),
            );
            (None, None)
        }
    };
    Some(CheckedAddress {
        ip,
        pod_name,
        source,
        address,
    })
}

/// SPEC §8 invalid input: indexes objects by key; a key held by two different objects is an
/// error (`InvalidObject` at `metadata.name`) and yields `None`.
pub(crate) fn unique_by_key<'a, T: PartialEq + 'a>(
    items: impl IntoIterator<Item = &'a T>,
    key_of: impl Fn(&T) -> ObjectKey,
    kind: Kind,
    diagnostics: &mut Vec<Diagnostic>,
) -> BTreeMap<ObjectKey, Option<&'a T>> {
    let mut index: BTreeMap<ObjectKey, Option<&'a T>> = BTreeMap::new();
    for item in items {
        let key = key_of(item);
        match index.get(&key) {
            None => {
                index.insert(key, Some(item));
            }
            Some(Some(seen)) if *seen == item => {}
            Some(Some(_)) => {
                diagnostics.push(
                    Diagnostic::new(
                        Reason::InvalidObject,
                        Severity::Error,
                        kind,
                        key.clone(),
                        "two different objects with this namespace and name in the input; neither is used",
                    )
                    .at("metadata.name"),
                );
                index.insert(key, None);
            }
            Some(None) => {}
        }
    }
    index
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{EndpointSubset, ServicePort};

    #[test]
    fn service_field_paths() {
        let mut svc = Service::new("default", "Bad_Name");
        svc.spec.ports = vec![
            ServicePort {
                name: Some("http".into()),
                port: 0,
                ..ServicePort::default()
            },
            ServicePort {
                name: Some("http".into()),
                port: 80,
                protocol: Some("QUIC".into()),
                target_port: Some(IntOrString::Int(70000)),
                ..ServicePort::default()
            },
        ];
        let fields: Vec<String> = service_problems(&svc)
            .into_iter()
            .filter_map(|d| d.field)
            .collect();
        assert_eq!(
            fields,
            [
                "metadata.name",
                "spec.ports[0].port",
                "spec.ports[1].protocol",
                "spec.ports[1].name",
                "spec.ports[1].targetPort"
            ]
        );
    }

    #[test]
    fn bad_ip_is_dropped_and_named() {
        let mut ep = Endpoints::new("default", "svc");
        ep.subsets = vec![EndpointSubset {
            addresses: vec![
                EndpointAddress {
                    ip: "10.0.0.1".into(),
                    ..EndpointAddress::default()
                },
                EndpointAddress {
                    ip: "999.1.1.1".into(),
                    hostname: Some("Upper".into()),
                    ..EndpointAddress::default()
                },
            ],
            ..EndpointSubset::default()
        }];
        let mut diags = Vec::new();
        let subsets = check_endpoints(&ep, HostnamePolicy::Hostname, &mut diags);
        assert_eq!(subsets[0].ready.len(), 1);
        assert_eq!(diags.len(), 1);
        assert_eq!(
            diags[0].field.as_deref(),
            Some("subsets[0].addresses[1].ip")
        );
        assert!(
            diags[0]
                .message
                .contains("\"999.1.1.1\" is not an IP address")
        );
    }
}
