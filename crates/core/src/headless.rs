//! SPEC §6, the headless export (enable headless services = true): detection (§6.1), port-less
//! rejection (§6.2), the named-address rule (§6.4), endpoint mirrors (§6.5), the root mirror's
//! Endpoints (§6.6), duplicate hostnames (§6.7) and the link switch (§6.8). Each rule is a free
//! function; the decisions that yield a finding are worded once, here.

use std::collections::BTreeMap;
use std::net::IpAddr;

use crate::cluster_ip;
use crate::decision::Decision;
use crate::diagnostics::{Diagnostic, Reason, Severity};
use crate::hostname_policy::HostnamePolicy;
use crate::labels::{HEADLESS_MIRROR_SVC_NAME, REMOTE_RESOURCE_VERSION, REMOTE_SVC_FQ_NAME};
use crate::link::Link;
use crate::model::{
    CLUSTER_IP_NONE, EndpointAddress, EndpointPort, EndpointSubset, Endpoints, Kind, ObjectKey,
    Service, ServicePort, StringMap,
};
use crate::template::EndpointMirrorTemplate;
use crate::validate::{CheckedAddress, CheckedSubset};

/// SPEC §6.1.
pub(crate) const DETECTION: &str = "SPEC §6.1 headless detection";
/// SPEC §6.3.
pub(crate) const WAIT: &str = "SPEC §6.3 wait for endpoints";
/// SPEC §6.4.
pub(crate) const NAMED_ADDRESS: &str = "SPEC §6.4 named-address rule";
/// SPEC §6.5.
pub(crate) const ENDPOINT_MIRROR: &str = "SPEC §6.5 endpoint mirror";
/// SPEC §6.8.
pub(crate) const ENABLED: &str = "SPEC §6.8 enable headless services";

/// The endpoint mirrors of one export by hostname: their names and the ClusterIPs the source
/// allocated them, once it did.
pub(crate) type EndpointMirrors<'s> = BTreeMap<&'s str, (String, Option<IpAddr>)>;

/// SPEC §6.2 (and the API server for any Service): no ports, no mirror.
pub(crate) fn no_ports(export: &ObjectKey) -> Decision {
    Decision::worded(
        "SPEC §6.2 port-less rejection",
        "no spec.ports: not mirrored (NoPorts)".to_owned(),
        Diagnostic::new(
            Reason::NoPorts,
            Severity::Error,
            Kind::Service,
            export.clone(),
            "Skipped mirroring service: object spec has no exposed ports",
        )
        .at("spec.ports"),
    )
}

/// SPEC §6.8: headless services are off on this link, the export is mirrored as ClusterIP.
pub(crate) fn not_enabled(export: &ObjectKey) -> Decision {
    Decision::worded(
        ENABLED,
        "off on this link: mirrored as ClusterIP (MirroredAsClusterIp)".to_owned(),
        Diagnostic::new(
            Reason::MirroredAsClusterIp,
            Severity::Warning,
            Kind::Service,
            export.clone(),
            "headless Service mirrored as ClusterIP: headless services are not enabled on this link",
        ),
    )
}

/// SPEC §6.4: some address, ready or not, has a (valid) hostname — under the export's hostname
/// policy (SPEC §12), its pod name.
pub(crate) fn has_named_address(subsets: &[CheckedSubset<'_>]) -> bool {
    subsets
        .iter()
        .flat_map(|s| s.ready.iter().chain(&s.not_ready))
        .any(|a| a.pod_name.is_some())
}

/// SPEC §6.4: no named address, the export is mirrored exactly as a ClusterIP export.
pub(crate) fn no_named_address(export: &ObjectKey, policy: HostnamePolicy) -> Decision {
    let why = if policy == HostnamePolicy::Skip {
        "its hostname policy is `skip`, so no pod is named"
    } else {
        "none of its endpoint addresses has a hostname"
    };
    Decision::worded(
        NAMED_ADDRESS,
        format!(
            "no named address under hostname policy `{policy}`: mirrored as ClusterIP \
             (MirroredAsClusterIp)"
        ),
        Diagnostic::new(
            Reason::MirroredAsClusterIp,
            Severity::Warning,
            Kind::Service,
            export.clone(),
            format!("headless Service mirrored as ClusterIP: {why}"),
        ),
    )
}

/// The §6.4 step of a headless root: every named address as `name (ip, ready|not ready, from
/// <field>)`.
pub(crate) fn describe_named(subsets: &[CheckedSubset<'_>], policy: HostnamePolicy) -> String {
    let ready = subsets
        .iter()
        .flat_map(|s| s.ready.iter().map(|a| (a, "ready")));
    let not_ready = subsets
        .iter()
        .flat_map(|s| s.not_ready.iter().map(|a| (a, "not ready")));
    let mut named: Vec<String> = ready
        .chain(not_ready)
        .filter_map(|(a, state)| {
            let name = a.pod_name.as_deref()?;
            let from = a.source.map_or("hostname", |s| s.field());
            Some(format!("{name} ({}, {state}, from {from})", a.ip))
        })
        .collect();
    named.sort();
    format!(
        "named addresses under hostname policy `{policy}`: {}; the root mirror is headless",
        named.join(", ")
    )
}

/// The ready addresses with a valid hostname, one per hostname (SPEC §6.7: duplicates are a
/// `HostnameConflict`; the lowest IP keeps the name, so the choice ignores input order), and a
/// decision per duplicate.
pub(crate) fn named_ready_addresses<'s>(
    export: &ObjectKey,
    subsets: &'s [CheckedSubset<'_>],
) -> (Vec<(&'s str, IpAddr)>, Vec<Decision>) {
    let mut named: Vec<(&'s str, IpAddr)> = subsets
        .iter()
        .flat_map(|s| &s.ready)
        .filter_map(|a| a.pod_name.as_deref().map(|h| (h, a.ip)))
        .collect();
    named.sort_unstable();
    named.dedup();
    let mut out: Vec<(&'s str, IpAddr)> = Vec::with_capacity(named.len());
    let mut duplicates = Vec::new();
    for (hostname, ip) in named {
        if let Some(&(_, kept)) = out.last().filter(|(h, _)| *h == hostname) {
            duplicates.push(Decision::worded(
                "SPEC §6.7 duplicate hostnames",
                format!(
                    "{hostname:?} is used by {kept} and {ip}: one endpoint mirror, for {kept} \
                     (HostnameConflict)"
                ),
                Diagnostic::new(
                    Reason::HostnameConflict,
                    Severity::Warning,
                    Kind::Endpoints,
                    export.clone(),
                    format!(
                        "hostname {hostname:?} is used by {kept} and {ip}; one endpoint mirror, for {kept}"
                    ),
                ),
            ));
            continue;
        }
        out.push((hostname, ip));
    }
    (out, duplicates)
}

/// SPEC §6.5: the headless root mirror, its Endpoints (subsets to come: [`root_subsets`]) and
/// the labels its endpoint mirrors share — the root's plus the root's name, computed once per
/// export and shared by every endpoint mirror and its Endpoints (a reference count each, see
/// `StringMap`).
pub(crate) fn root_mirror(
    svc: &Service,
    name: &str,
    link: &Link,
) -> (Service, Endpoints, StringMap) {
    let mut root = cluster_ip::mirror_service(svc, name, None, link);
    root.spec.cluster_ip = Some(CLUSTER_IP_NONE.to_owned());
    let mut root_ep = Endpoints::new(root.metadata.namespace(), name);
    root_ep.metadata.labels.clone_from(&root.metadata.labels);
    root_ep.metadata.annotations = cluster_ip::endpoints_annotations(&root, link);
    let mut mirror_labels = root.metadata.labels.clone();
    mirror_labels.insert(HEADLESS_MIRROR_SVC_NAME.to_owned(), name.to_owned());
    (root, root_ep, mirror_labels)
}

/// SPEC §6.5: an endpoint mirror — the root's labels plus the root's name, its ports, and only
/// the fq-name and resource-version annotations (none copied from the exported Service). SPEC §4
/// (issue 14, O(changed) writes): `resource_version` is the target Endpoints' when the endpoint
/// mirror is created, then kept — one pod's change must not rewrite every endpoint mirror.
pub(crate) fn endpoint_mirror(
    key: &ObjectKey,
    labels: &StringMap,
    ports: &[ServicePort],
    fq_name: String,
    resource_version: Option<&str>,
) -> Service {
    let mut mirror = Service::new(&key.namespace, &key.name);
    mirror.metadata.labels = labels.clone();
    mirror.spec.ports = ports.to_vec();
    mirror.metadata.annotations = StringMap::from([(REMOTE_SVC_FQ_NAME.to_owned(), fq_name)]);
    if let Some(rv) = resource_version {
        mirror
            .metadata
            .annotations
            .insert(REMOTE_RESOURCE_VERSION.to_owned(), rv.to_owned());
    }
    mirror
}

/// SPEC §6.5: what an export's endpoint mirrors share — an [`endpoint_mirror`] and its gateway
/// Endpoints (SPEC §5, always ready) built once, of which the template keeps the shared parts.
pub(crate) fn endpoint_mirror_template(
    link: &Link,
    namespace: &str,
    labels: &StringMap,
    ports: &[ServicePort],
    export_ports: &[ServicePort],
) -> EndpointMirrorTemplate {
    let sample = endpoint_mirror(
        &ObjectKey::new(namespace, "template"),
        labels,
        ports,
        String::new(),
        None,
    );
    let ep = cluster_ip::gateway_endpoints(link, &sample, true, export_ports);
    EndpointMirrorTemplate::new(&sample, &ep)
}

/// The §6.5 step of one endpoint mirror.
pub(crate) fn describe_endpoint_mirror(
    hostname: &str,
    ip: IpAddr,
    name: &str,
    allocated: Option<IpAddr>,
) -> String {
    format!(
        "{hostname} ({ip}) → `{name}`, Endpoints → gateway; root Endpoints {}",
        match allocated {
            Some(ip) => format!("map {hostname} to its ClusterIP {ip} (SPEC §6.6)"),
            None => format!(
                "map {hostname} once the source allocated its ClusterIP (SPEC §6.6: next pass)"
            ),
        }
    )
}

/// SPEC §6.6: the root mirror's subsets — for each target subset, its named ready addresses
/// whose endpoint mirror has an IP, with the subset's own ports; subsets left without an address
/// are dropped. Sorted.
pub(crate) fn root_subsets(
    subsets: &[CheckedSubset<'_>],
    endpoint_mirrors: &EndpointMirrors<'_>,
) -> Vec<EndpointSubset> {
    let mut out: Vec<EndpointSubset> = subsets
        .iter()
        .filter_map(|subset| root_subset(subset, endpoint_mirrors))
        .collect();
    out.sort();
    out
}

/// One subset of [`root_subsets`]; `None` when no address is left.
fn root_subset(
    subset: &CheckedSubset<'_>,
    endpoint_mirrors: &EndpointMirrors<'_>,
) -> Option<EndpointSubset> {
    let mut addresses: Vec<EndpointAddress> = subset
        .ready
        .iter()
        .filter_map(|a: &CheckedAddress<'_>| {
            let hostname = a.pod_name.as_deref()?;
            let (_, ip) = endpoint_mirrors.get(hostname)?;
            // SPEC §6.6 (Linkerd differs): always `hostname`, never `targetRef.name` — the
            // pod's name under the export's hostname policy (SPEC §12).
            Some(EndpointAddress {
                ip: ip.as_ref()?.to_string(),
                hostname: Some(hostname.to_owned()),
                ..EndpointAddress::default()
            })
        })
        .collect();
    if addresses.is_empty() {
        return None;
    }
    addresses.sort();
    addresses.dedup();
    let mut ports: Vec<EndpointPort> = subset.ports.iter().map(|p| (*p).clone()).collect();
    ports.sort();
    // SPEC §6.6: the hostname records stay in `addresses` while the gateway is down (only the
    // gateway addresses of §5 go not-ready): pod names keep resolving, and no negative DNS
    // answer is cached during a short outage (Linkerd's creation path: "always ready").
    Some(EndpointSubset {
        addresses,
        not_ready_addresses: Vec::new(),
        ports,
    })
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;

    fn address(ip: &str, name: Option<&'static str>) -> CheckedAddress<'static> {
        // Leaked once per test address: the checked form borrows the raw one.
        let raw: &'static EndpointAddress = Box::leak(Box::new(EndpointAddress {
            ip: ip.to_owned(),
            hostname: name.map(str::to_owned),
            ..EndpointAddress::default()
        }));
        CheckedAddress {
            ip: ip.parse().expect("ip"),
            pod_name: name.map(Cow::Borrowed),
            source: None,
            address: raw,
        }
    }

    fn port(name: &str, port: i32) -> &'static EndpointPort {
        Box::leak(Box::new(EndpointPort {
            name: Some(name.to_owned()),
            port,
            protocol: Some("TCP".to_owned()),
            app_protocol: None,
        }))
    }

    fn export() -> ObjectKey {
        ObjectKey::new("default", "kafka")
    }

    /// SPEC §6.7: duplicate hostnames give one endpoint mirror, for the lowest IP whatever the
    /// input order, and one `HostnameConflict` decision; unnamed addresses contribute nothing.
    #[test]
    fn duplicate_hostnames_keep_the_lowest_ip_with_one_conflict() {
        let subsets = vec![
            CheckedSubset {
                ready: vec![
                    address("10.0.0.9", Some("broker-0")),
                    address("10.0.0.2", None),
                    address("10.0.0.5", Some("broker-1")),
                ],
                ..CheckedSubset::default()
            },
            CheckedSubset {
                ready: vec![address("10.0.0.3", Some("broker-0"))],
                ..CheckedSubset::default()
            },
        ];
        let (named, duplicates) = named_ready_addresses(&export(), &subsets);
        let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
        assert_eq!(
            named,
            [("broker-0", ip("10.0.0.3")), ("broker-1", ip("10.0.0.5"))]
        );
        let [conflict] = duplicates.as_slice() else {
            panic!("one conflict: {duplicates:?}");
        };
        assert_eq!(conflict.finding().reason, Reason::HostnameConflict);
        assert_eq!(
            conflict.finding().message,
            "hostname \"broker-0\" is used by 10.0.0.3 and 10.0.0.9; one endpoint mirror, for 10.0.0.3"
        );
    }

    /// SPEC §6.4: a named address counts whether ready or not; without one, the export is
    /// mirrored as ClusterIP and the finding says why (the `skip` policy names no pod).
    #[test]
    fn the_named_address_rule_counts_not_ready_addresses() {
        let not_ready_only = [CheckedSubset {
            not_ready: vec![address("10.0.0.1", Some("web-0"))],
            ..CheckedSubset::default()
        }];
        assert!(has_named_address(&not_ready_only));
        let unnamed = [CheckedSubset {
            ready: vec![address("10.0.0.1", None)],
            ..CheckedSubset::default()
        }];
        assert!(!has_named_address(&unnamed));
        let skipped = no_named_address(&export(), HostnamePolicy::Skip);
        assert_eq!(skipped.finding().reason, Reason::MirroredAsClusterIp);
        assert!(
            skipped
                .finding()
                .message
                .ends_with("its hostname policy is `skip`, so no pod is named")
        );
    }

    /// SPEC §6.6: the root records a hostname once its endpoint mirror has a ClusterIP, with the
    /// subset's own ports; a subset left without an address is dropped.
    #[test]
    fn root_subsets_record_allocated_endpoint_mirrors_only() {
        let subsets = [
            CheckedSubset {
                ready: vec![
                    address("10.0.0.1", Some("broker-0")),
                    address("10.0.0.2", Some("broker-1")),
                    address("10.0.0.3", None),
                ],
                not_ready: vec![],
                ports: vec![port("kafka", 9092)],
            },
            CheckedSubset {
                ready: vec![address("10.0.1.1", Some("broker-2"))],
                not_ready: vec![],
                ports: vec![port("admin", 9093)],
            },
        ];
        let mut mirrors = EndpointMirrors::new();
        mirrors.insert(
            "broker-0",
            (
                "broker-0-west".to_owned(),
                Some("10.96.0.10".parse().expect("ip")),
            ),
        );
        mirrors.insert("broker-1", ("broker-1-west".to_owned(), None));
        mirrors.insert("broker-2", ("broker-2-west".to_owned(), None));
        let root = root_subsets(&subsets, &mirrors);
        let [subset] = root.as_slice() else {
            panic!("one subset: {root:?}");
        };
        assert_eq!(subset.addresses.len(), 1);
        assert_eq!(subset.addresses[0].ip, "10.96.0.10");
        assert_eq!(subset.addresses[0].hostname.as_deref(), Some("broker-0"));
        assert!(subset.not_ready_addresses.is_empty());
        assert_eq!(subset.ports, [port("kafka", 9092).clone()]);
    }

    /// SPEC §6.5: an endpoint mirror shares the root's labels (plus the root's name), and keeps
    /// only the fq-name and resource-version annotations.
    #[test]
    fn endpoint_mirrors_share_the_roots_labels() {
        let link = Link::builder("west")
            .gateway_address("172.18.0.4".parse().expect("ip"))
            .build()
            .expect("link");
        let mut svc = Service::new("default", "kafka");
        svc.metadata
            .labels
            .insert("app".to_owned(), "kafka".to_owned());
        svc.metadata
            .annotations
            .insert("team".to_owned(), "data".to_owned());
        let (root, root_ep, labels) = root_mirror(&svc, "kafka-west", &link);
        assert_eq!(root.spec.cluster_ip.as_deref(), Some(CLUSTER_IP_NONE));
        assert!(root_ep.metadata.labels.shares_with(&root.metadata.labels));
        assert_eq!(
            labels.get(HEADLESS_MIRROR_SVC_NAME).map(String::as_str),
            Some("kafka-west")
        );
        let key = ObjectKey::new("default", "broker-0-west");
        let mirror = endpoint_mirror(&key, &labels, &root.spec.ports, "fq".to_owned(), Some("42"));
        assert!(mirror.metadata.labels.shares_with(&labels));
        let annotations: Vec<&str> = mirror
            .metadata
            .annotations
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(annotations.len(), 2);
        assert!(annotations.contains(&REMOTE_SVC_FQ_NAME));
        assert!(annotations.contains(&REMOTE_RESOURCE_VERSION));
    }
}
