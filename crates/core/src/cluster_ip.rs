//! SPEC §5, the ClusterIP export (gateway mode): a mirror Service with the exported ports, and its
//! Endpoints pointing at the gateway. The pieces are shared by every mode: a headless root and its
//! endpoint mirrors (§6) and a remote-discovery mirror (§9) are built from the same mirror
//! Service, and every endpoint mirror's Endpoints are this section's gateway Endpoints.

use crate::labels::{
    self, HEADLESS_MIRROR_SVC_NAME, REMOTE_GATEWAY_IDENTITY, REMOTE_RESOURCE_VERSION,
    REMOTE_SVC_FQ_NAME,
};
use crate::link::Link;
use crate::model::{
    EndpointAddress, EndpointPort, EndpointSubset, Endpoints, IntOrString, Service, ServicePort,
    StringMap, effective_protocol,
};
use crate::validate::CheckedSubset;

/// The rule `explain` names for the ClusterIP mirror.
pub(crate) const RULE: &str = "SPEC §5 ClusterIP export";

/// The rule `explain` names for the exported ports.
pub(crate) const PORTS_RULE: &str = "SPEC §5 ports";

/// SPEC §5: the target has a ready address (the mirror's Endpoints then point at the gateway).
pub(crate) fn has_ready(subsets: &[CheckedSubset<'_>]) -> bool {
    subsets.iter().any(|s| !s.ready.is_empty())
}

/// The §5 step: the mirror, and where its Endpoints point.
pub(crate) fn describe(mirror: &str, has_ready: bool) -> String {
    format!(
        "mirror `{mirror}`; its Endpoints {}",
        if has_ready {
            "point at the gateway (the target has a ready address)"
        } else {
            "have no subsets (the target has no ready address)"
        }
    )
}

/// The §5 ports step: every exported port as `name port/protocol`.
pub(crate) fn describe_ports(ports: &[ServicePort]) -> String {
    ports
        .iter()
        .map(|p| {
            let name = p
                .name
                .as_deref()
                .filter(|n| !n.is_empty())
                .unwrap_or("(unnamed)");
            format!(
                "{name} {}/{}",
                p.port,
                effective_protocol(p.protocol.as_deref())
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A mirror Service (SPEC §4–§5): labels and annotations copied as the spec says, ports reduced
/// to name/protocol/port/targetPort with the API server's defaults, no selector, no clusterIP.
/// `root` names the headless root of an endpoint mirror (SPEC §6.5).
pub(crate) fn mirror_service(
    svc: &Service,
    name: &str,
    root: Option<&str>,
    link: &Link,
) -> Service {
    let export = svc.metadata.key();
    let mut mirror = Service::new(&export.namespace, name);
    mirror.metadata.labels = labels::mirror_labels(&svc.metadata.labels, link);
    if let Some(root) = root {
        mirror
            .metadata
            .labels
            .insert(HEADLESS_MIRROR_SVC_NAME.to_owned(), root.to_owned());
    }
    let mut annotations = labels::copied_annotations(&svc.metadata.annotations, link);
    annotations.insert(
        REMOTE_SVC_FQ_NAME.to_owned(),
        labels::remote_fq_name(&export.name, &export.namespace, link),
    );
    if let Some(rv) = &svc.metadata.resource_version {
        annotations.insert(REMOTE_RESOURCE_VERSION.to_owned(), rv.clone());
    }
    mirror.metadata.annotations = annotations;
    mirror.spec.ports = svc.spec.ports.iter().map(mirror_port).collect();
    mirror
}

/// SPEC §5: a mirror port keeps name, protocol, port and targetPort, with the defaults the API
/// server fills in (`TCP`, `targetPort = port`) so a re-read mirror compares equal.
pub(crate) fn mirror_port(port: &ServicePort) -> ServicePort {
    ServicePort {
        name: port.name.clone().filter(|n| !n.is_empty()),
        protocol: Some(effective_protocol(port.protocol.as_deref()).to_owned()),
        port: port.port,
        target_port: Some(
            port.target_port
                .clone()
                .unwrap_or(IntOrString::Int(port.port)),
        ),
        node_port: None,
        app_protocol: None,
    }
}

/// SPEC §4: a mirror's Endpoints carry its fq-name annotation and the gateway's identity.
pub(crate) fn endpoints_annotations(mirror: &Service, link: &Link) -> StringMap {
    let mut annotations = StringMap::new();
    if let Some(fq) = mirror.metadata.annotations.get(REMOTE_SVC_FQ_NAME) {
        annotations.insert(REMOTE_SVC_FQ_NAME.to_owned(), fq.clone());
    }
    if let Some(identity) = link.gateway_identity() {
        annotations.insert(REMOTE_GATEWAY_IDENTITY.to_owned(), identity.to_owned());
    }
    annotations
}

/// SPEC §5: one subset of gateway addresses with one gateway-port entry per Service port, when
/// the target has a ready address; otherwise no subsets. Gateway down: not ready.
pub(crate) fn gateway_endpoints(
    link: &Link,
    mirror: &Service,
    has_ready: bool,
    ports: &[ServicePort],
) -> Endpoints {
    let mut ep = Endpoints::new(mirror.metadata.namespace(), &mirror.metadata.name);
    ep.metadata.labels.clone_from(&mirror.metadata.labels);
    ep.metadata.annotations = endpoints_annotations(mirror, link);
    if has_ready {
        let addresses: Vec<EndpointAddress> = link
            .gateway_addresses()
            .iter()
            .map(|ip| EndpointAddress {
                ip: ip.to_string(),
                ..EndpointAddress::default()
            })
            .collect();
        let mut ports: Vec<EndpointPort> = ports
            .iter()
            .map(|p| EndpointPort {
                name: p.name.clone().filter(|n| !n.is_empty()),
                port: i32::from(link.gateway_port()),
                protocol: Some(effective_protocol(p.protocol.as_deref()).to_owned()),
                app_protocol: None,
            })
            .collect();
        ports.sort();
        let (addresses, not_ready_addresses) = if link.gateway_alive() {
            (addresses, Vec::new())
        } else {
            (Vec::new(), addresses)
        };
        ep.subsets = vec![EndpointSubset {
            addresses,
            not_ready_addresses,
            ports,
        }];
    }
    ep
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(alive: bool) -> Link {
        Link::builder("west")
            .gateway_addresses(["172.18.0.4", "172.18.0.5"].map(|ip| ip.parse().expect("ip")))
            .gateway_port(4143)
            .gateway_identity("gw.linkerd-multicluster.serviceaccount.identity")
            .build()
            .expect("link")
            .with_gateway_alive(alive)
    }

    fn exported() -> Service {
        let mut svc = Service::new("shop", "web");
        svc.spec.ports = vec![
            ServicePort {
                name: Some("http".to_owned()),
                port: 80,
                target_port: Some(IntOrString::String("web".to_owned())),
                ..ServicePort::default()
            },
            ServicePort {
                name: Some(String::new()),
                protocol: Some("UDP".to_owned()),
                port: 53,
                ..ServicePort::default()
            },
        ];
        svc
    }

    /// SPEC §5: a mirror port keeps name, protocol, port and targetPort, with the API server's
    /// defaults filled in (an empty name dropped, `TCP`, `targetPort = port`).
    #[test]
    fn mirror_ports_keep_four_fields_with_the_api_servers_defaults() {
        let mirror = mirror_service(&exported(), "web-west", None, &link(true));
        assert_eq!(mirror.metadata.name, "web-west");
        assert_eq!(mirror.spec.selector, None);
        assert_eq!(mirror.spec.cluster_ip, None);
        let ports: Vec<_> = mirror
            .spec
            .ports
            .iter()
            .map(|p| {
                (
                    p.name.as_deref(),
                    p.protocol.as_deref(),
                    p.port,
                    p.target_port.clone(),
                )
            })
            .collect();
        assert_eq!(
            ports,
            [
                (
                    Some("http"),
                    Some("TCP"),
                    80,
                    Some(IntOrString::String("web".to_owned()))
                ),
                (None, Some("UDP"), 53, Some(IntOrString::Int(53))),
            ]
        );
        assert_eq!(
            mirror
                .metadata
                .annotations
                .get(REMOTE_SVC_FQ_NAME)
                .map(String::as_str),
            Some("web.shop.svc.cluster.local")
        );
    }

    /// SPEC §5: with a ready address, one subset of gateway IPs and one gateway-port entry per
    /// Service port; without one, no subsets; gateway down, the same addresses not ready.
    #[test]
    fn gateway_endpoints_follow_readiness_and_the_gateways_liveness() {
        let svc = exported();
        let mirror = mirror_service(&svc, "web-west", None, &link(true));
        let up = gateway_endpoints(&link(true), &mirror, true, &svc.spec.ports);
        let [subset] = up.subsets.as_slice() else {
            panic!("one subset: {up:?}");
        };
        let ips: Vec<&str> = subset.addresses.iter().map(|a| a.ip.as_str()).collect();
        assert_eq!(ips, ["172.18.0.4", "172.18.0.5"]);
        assert!(subset.addresses.iter().all(|a| a.hostname.is_none()));
        assert!(subset.ports.iter().all(|p| p.port == 4143));
        assert_eq!(subset.ports.len(), 2);
        assert_eq!(
            up.metadata
                .annotations
                .get(REMOTE_GATEWAY_IDENTITY)
                .map(String::as_str),
            Some("gw.linkerd-multicluster.serviceaccount.identity")
        );
        assert!(up.metadata.labels.shares_with(&mirror.metadata.labels));

        let none = gateway_endpoints(&link(true), &mirror, false, &svc.spec.ports);
        assert!(none.subsets.is_empty());

        let down = gateway_endpoints(&link(false), &mirror, true, &svc.spec.ports);
        assert!(down.subsets[0].addresses.is_empty());
        assert_eq!(down.subsets[0].not_ready_addresses, subset.addresses);
    }
}
