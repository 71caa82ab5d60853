//! What the API server's defaulting and validation do to a Service, Endpoints, EndpointSlice or
//! Namespace before it is stored (`pkg/apis/core/v1/defaults.go`, `pkg/apis/core/validation`,
//! `pkg/apis/discovery/validation`). Only the rules that
//! concern the fields svcmirror models are here. The first offending field is reported (the real
//! server lists them all; one is enough to name the problem).

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use svcmirror_backend::ApiError;
use svcmirror_core::model::{
    CLUSTER_IP_NONE, EndpointAddress, EndpointPort, EndpointSlice, Endpoints, IntOrString, Kind,
    Namespace, ObjectKey, ObjectMeta, Service,
};
use svcmirror_core::{is_dns1035_label, is_dns1123_label};

/// One rejected field: its path and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldError {
    pub(crate) field: String,
    pub(crate) message: String,
}

impl FieldError {
    pub(crate) fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The 422 the server answers with.
    pub(crate) fn into_api(self, kind: Kind, key: &ObjectKey) -> ApiError {
        ApiError::Invalid {
            kind,
            key: key.clone(),
            field: self.field,
            message: self.message,
        }
    }
}

type Checked = Result<(), FieldError>;

const PROTOCOLS: [&str; 3] = ["TCP", "UDP", "SCTP"];
const SERVICE_TYPES: [&str; 3] = ["ClusterIP", "NodePort", "LoadBalancer"];

/// Service defaulting: `type: ClusterIP`, port `protocol: TCP`, `targetPort: <port>`, and
/// `clusterIP` taken from `clusterIPs[0]` when only the latter is given.
pub(crate) fn default_service(svc: &mut Service) {
    if svc.spec.type_.as_deref().is_none_or(str::is_empty) {
        svc.spec.type_ = Some("ClusterIP".to_owned());
    }
    for port in &mut svc.spec.ports {
        if port.protocol.as_deref().is_none_or(str::is_empty) {
            port.protocol = Some("TCP".to_owned());
        }
        let unset = match &port.target_port {
            None => true,
            Some(IntOrString::Int(0)) => true,
            Some(IntOrString::String(s)) => s.is_empty(),
            Some(IntOrString::Int(_)) => false,
        };
        if unset {
            port.target_port = Some(IntOrString::Int(port.port));
        }
    }
    if svc.spec.cluster_ip.as_deref() == Some("") {
        svc.spec.cluster_ip = None;
    }
    if svc.spec.cluster_ip.is_none() {
        svc.spec.cluster_ip = svc.spec.cluster_ips.first().cloned();
    }
}

/// Endpoints defaulting: port `protocol: TCP`.
pub(crate) fn default_endpoints(ep: &mut Endpoints) {
    for port in ep.subsets.iter_mut().flat_map(|s| s.ports.iter_mut()) {
        if port.protocol.as_deref().is_none_or(str::is_empty) {
            port.protocol = Some("TCP".to_owned());
        }
    }
}

/// Validates a (defaulted) Service.
pub(crate) fn service(svc: &Service) -> Checked {
    let name = &svc.metadata.name;
    if !is_dns1035_label(name) {
        return Err(FieldError::new(
            "metadata.name",
            format!(
                "{name:?}: a DNS-1035 label must consist of lower case alphanumeric characters or \
                 '-', start with an alphabetic character, end with an alphanumeric character and be \
                 at most 63 characters"
            ),
        ));
    }
    meta(&svc.metadata)?;
    let spec = &svc.spec;
    let type_ = spec.type_.as_deref().unwrap_or("ClusterIP");
    if !SERVICE_TYPES.contains(&type_) {
        return Err(FieldError::new(
            "spec.type",
            format!(
                "Unsupported value: {type_:?}: supported values: \"ClusterIP\", \"NodePort\", \
                 \"LoadBalancer\" (ExternalName is not modelled by the fake)"
            ),
        ));
    }
    let headless = svc.is_headless();
    if let Some(ip) = spec.cluster_ip.as_deref() {
        if ip != CLUSTER_IP_NONE && ip.parse::<IpAddr>().is_err() {
            return Err(FieldError::new(
                "spec.clusterIP",
                format!("{ip:?}: must be empty, 'None', or a valid IP address"),
            ));
        }
        if headless && type_ != "ClusterIP" {
            return Err(FieldError::new(
                "spec.clusterIP",
                format!("may not be set to 'None' for {type_} services"),
            ));
        }
    }
    if spec.cluster_ips.len() > 1 {
        return Err(FieldError::new(
            "spec.clusterIPs",
            "may only hold up to 1 values when ipFamilyPolicy is SingleStack (the fake is single-stack)",
        ));
    }
    if let Some(first) = spec.cluster_ips.first()
        && spec.cluster_ip.as_ref() != Some(first)
    {
        return Err(FieldError::new(
            "spec.clusterIPs[0]",
            format!("{first:?}: must be same as clusterIP"),
        ));
    }
    if spec.ports.is_empty() && !headless {
        return Err(FieldError::new("spec.ports", "Required value"));
    }
    let many = spec.ports.len() > 1;
    let mut names = BTreeSet::new();
    let mut port_protocols = BTreeSet::new();
    for (i, port) in spec.ports.iter().enumerate() {
        let at = |field: &str| format!("spec.ports[{i}].{field}");
        match port.name.as_deref().filter(|n| !n.is_empty()) {
            None if many => {
                return Err(FieldError::new(
                    at("name"),
                    "Required value: names are required when a Service has more than one port",
                ));
            }
            None => {}
            Some(n) if !is_dns1123_label(n) => {
                return Err(FieldError::new(
                    at("name"),
                    format!("{n:?}: must be a DNS-1123 label"),
                ));
            }
            Some(n) if !names.insert(n) => {
                return Err(FieldError::new(
                    at("name"),
                    format!("Duplicate value: {n:?}"),
                ));
            }
            Some(_) => {}
        }
        port_number(port.port, &at("port"))?;
        let protocol = protocol(port.protocol.as_deref(), &at("protocol"))?;
        match &port.target_port {
            Some(IntOrString::Int(n)) => port_number(*n, &at("targetPort"))?,
            Some(IntOrString::String(s)) if !is_iana_svc_name(s) => {
                return Err(FieldError::new(
                    at("targetPort"),
                    format!(
                        "{s:?}: must be a port number or an IANA service name (at most 15 characters)"
                    ),
                ));
            }
            _ => {}
        }
        if !port_protocols.insert((port.port, protocol)) {
            return Err(FieldError::new(
                format!("spec.ports[{i}]"),
                format!("Duplicate value: {}/{protocol}", port.port),
            ));
        }
    }
    Ok(())
}

/// Validates a (defaulted) Endpoints object.
pub(crate) fn endpoints(ep: &Endpoints) -> Checked {
    let name = &ep.metadata.name;
    if !is_dns1123_subdomain(name) {
        return Err(FieldError::new(
            "metadata.name",
            format!("{name:?}: must be a DNS-1123 subdomain"),
        ));
    }
    meta(&ep.metadata)?;
    for (i, subset) in ep.subsets.iter().enumerate() {
        if subset.addresses.is_empty() && subset.not_ready_addresses.is_empty() {
            return Err(FieldError::new(
                format!("subsets[{i}]"),
                "Required value: must specify `addresses` or `notReadyAddresses`",
            ));
        }
        for (j, a) in subset.addresses.iter().enumerate() {
            address(a, &format!("subsets[{i}].addresses[{j}]"))?;
        }
        for (j, a) in subset.not_ready_addresses.iter().enumerate() {
            address(a, &format!("subsets[{i}].notReadyAddresses[{j}]"))?;
        }
        let many = subset.ports.len() > 1;
        for (j, p) in subset.ports.iter().enumerate() {
            endpoint_port(p, many, &format!("subsets[{i}].ports[{j}]"))?;
        }
    }
    Ok(())
}

/// EndpointSlice defaulting (`pkg/apis/discovery/v1/defaults.go`): port `name: ""` and
/// `protocol: TCP`.
pub(crate) fn default_endpoint_slice(slice: &mut EndpointSlice) {
    for port in &mut slice.ports {
        if port.name.is_none() {
            port.name = Some(String::new());
        }
        if port.protocol.as_deref().is_none_or(str::is_empty) {
            port.protocol = Some("TCP".to_owned());
        }
    }
}

/// The API server's limits on an EndpointSlice.
const MAX_SLICE_ENDPOINTS: usize = 1000;
const MAX_SLICE_PORTS: usize = 100;
const MAX_ENDPOINT_ADDRESSES: usize = 100;

/// Validates a (defaulted) EndpointSlice.
pub(crate) fn endpoint_slice(slice: &EndpointSlice) -> Checked {
    let name = &slice.metadata.name;
    if !is_dns1123_subdomain(name) {
        return Err(FieldError::new(
            "metadata.name",
            format!("{name:?}: must be a DNS-1123 subdomain"),
        ));
    }
    meta(&slice.metadata)?;
    let family = slice.address_type.as_str();
    if !["IPv4", "IPv6", "FQDN"].contains(&family) {
        return Err(FieldError::new(
            "addressType",
            format!(
                "Unsupported value: {family:?}: supported values: \"FQDN\", \"IPv4\", \"IPv6\""
            ),
        ));
    }
    if slice.endpoints.len() > MAX_SLICE_ENDPOINTS {
        return Err(FieldError::new(
            "endpoints",
            format!(
                "Too many: {}: must have at most {MAX_SLICE_ENDPOINTS} items",
                slice.endpoints.len()
            ),
        ));
    }
    for (i, endpoint) in slice.endpoints.iter().enumerate() {
        let at = format!("endpoints[{i}]");
        if endpoint.addresses.is_empty() || endpoint.addresses.len() > MAX_ENDPOINT_ADDRESSES {
            return Err(FieldError::new(
                format!("{at}.addresses"),
                format!("must contain at least 1 and at most {MAX_ENDPOINT_ADDRESSES} addresses"),
            ));
        }
        for (j, address) in endpoint.addresses.iter().enumerate() {
            let valid = match family {
                "IPv4" => address.parse::<Ipv4Addr>().is_ok(),
                "IPv6" => address.parse::<Ipv6Addr>().is_ok(),
                _ => is_dns1123_subdomain(address),
            };
            if !valid {
                return Err(FieldError::new(
                    format!("{at}.addresses[{j}]"),
                    format!("{address:?}: must be a valid {family} address"),
                ));
            }
        }
        if let Some(h) = endpoint.hostname.as_deref()
            && !is_dns1123_label(h)
        {
            return Err(FieldError::new(
                format!("{at}.hostname"),
                format!("{h:?}: must be a DNS-1123 label"),
            ));
        }
    }
    if slice.ports.len() > MAX_SLICE_PORTS {
        return Err(FieldError::new(
            "ports",
            format!(
                "Too many: {}: must have at most {MAX_SLICE_PORTS} items",
                slice.ports.len()
            ),
        ));
    }
    let mut names = BTreeSet::new();
    for (i, port) in slice.ports.iter().enumerate() {
        let at = |field: &str| format!("ports[{i}].{field}");
        let name = port.name.as_deref().unwrap_or_default();
        if !name.is_empty() && !is_dns1123_label(name) {
            return Err(FieldError::new(
                at("name"),
                format!("{name:?}: must be a DNS-1123 label"),
            ));
        }
        if !names.insert(name) {
            return Err(FieldError::new(
                at("name"),
                format!("Duplicate value: {name:?}"),
            ));
        }
        if let Some(p) = port.port {
            port_number(p, &at("port"))?;
        }
        protocol(port.protocol.as_deref(), &at("protocol"))?;
    }
    Ok(())
}

/// Validates a Namespace.
pub(crate) fn namespace(ns: &Namespace) -> Checked {
    let name = &ns.metadata.name;
    if !is_dns1123_label(name) {
        return Err(FieldError::new(
            "metadata.name",
            format!("{name:?}: must be a DNS-1123 label"),
        ));
    }
    labels(ns.metadata.labels.iter())
}

/// `TotalAnnotationSizeLimitB` of `apimachinery/pkg/api/validation/objectmeta.go`: keys and
/// values together.
const MAX_ANNOTATION_BYTES: usize = 256 * 1024;

/// etcd's default `--max-request-bytes`: a larger object is answered 413 by the API server.
const MAX_OBJECT_BYTES: u64 = 1536 * 1024;

/// The size check of the storage layer, after validation (as in the API server, whose 422s come
/// first): the object as JSON (the fake's stand-in for what is sent
/// to etcd) must fit in etcd's request limit, or the API server answers 413
/// RequestEntityTooLarge.
pub(crate) fn object_size<T: serde::Serialize>(
    object: &T,
    kind: Kind,
    key: &ObjectKey,
) -> Result<(), ApiError> {
    struct Count(u64);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len() as u64;
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    // Serializing the model cannot fail (string keys, no non-finite floats).
    let _ = serde_json::to_writer(&mut count, object);
    if count.0 <= MAX_OBJECT_BYTES {
        return Ok(());
    }
    Err(ApiError::TooLarge {
        kind,
        key: key.clone(),
        message: format!(
            "etcdserver: request is too large ({} bytes, the limit is {MAX_OBJECT_BYTES})",
            count.0
        ),
    })
}

fn meta(meta: &ObjectMeta) -> Checked {
    if !meta.namespace.is_empty() && !is_dns1123_label(&meta.namespace) {
        return Err(FieldError::new(
            "metadata.namespace",
            format!("{:?}: must be a DNS-1123 label", meta.namespace),
        ));
    }
    labels(meta.labels.iter())?;
    let annotations: usize = meta
        .annotations
        .iter()
        .map(|(k, v)| k.len() + v.len())
        .sum();
    if annotations > MAX_ANNOTATION_BYTES {
        return Err(FieldError::new(
            "metadata.annotations",
            format!("Too long: must have at most {MAX_ANNOTATION_BYTES} bytes"),
        ));
    }
    for key in meta.annotations.keys() {
        if !is_qualified_name(key) {
            return Err(FieldError::new(
                "metadata.annotations",
                format!(
                    "{key:?}: name part must consist of alphanumeric characters, '-', '_' or '.'"
                ),
            ));
        }
    }
    Ok(())
}

fn labels<'a>(labels: impl Iterator<Item = (&'a String, &'a String)>) -> Checked {
    for (key, value) in labels {
        if !is_qualified_name(key) {
            return Err(FieldError::new(
                "metadata.labels",
                format!(
                    "{key:?}: name part must consist of alphanumeric characters, '-', '_' or '.'"
                ),
            ));
        }
        if !value.is_empty() && !is_label_name_part(value) {
            return Err(FieldError::new(
                "metadata.labels",
                format!(
                    "{value:?}: a valid label value must be 63 characters or less and consist of alphanumeric characters, '-', '_' or '.'"
                ),
            ));
        }
    }
    Ok(())
}

fn address(a: &EndpointAddress, at: &str) -> Checked {
    let ip: IpAddr = a.ip.parse().map_err(|_| {
        FieldError::new(
            format!("{at}.ip"),
            format!("{:?}: must be a valid IP address", a.ip),
        )
    })?;
    let special = ip.is_unspecified()
        || ip.is_loopback()
        || match ip {
            IpAddr::V4(v4) => {
                v4.is_link_local() || v4.octets()[0] == 224 && v4.octets()[1..3] == [0, 0]
            }
            IpAddr::V6(v6) => {
                (v6.segments()[0] & 0xffc0) == 0xfe80 || (v6.segments()[0] & 0xff0f) == 0xff02
            }
        };
    if special {
        return Err(FieldError::new(
            format!("{at}.ip"),
            format!("{ip}: may not be unspecified, loopback or link-local"),
        ));
    }
    if let Some(h) = a.hostname.as_deref().filter(|h| !h.is_empty())
        && !is_dns1123_label(h)
    {
        return Err(FieldError::new(
            format!("{at}.hostname"),
            format!("{h:?}: must be a DNS-1123 label"),
        ));
    }
    Ok(())
}

fn endpoint_port(p: &EndpointPort, name_required: bool, at: &str) -> Checked {
    match p.name.as_deref().filter(|n| !n.is_empty()) {
        None if name_required => {
            return Err(FieldError::new(format!("{at}.name"), "Required value"));
        }
        Some(n) if !is_dns1123_label(n) => {
            return Err(FieldError::new(
                format!("{at}.name"),
                format!("{n:?}: must be a DNS-1123 label"),
            ));
        }
        _ => {}
    }
    port_number(p.port, &format!("{at}.port"))?;
    protocol(p.protocol.as_deref(), &format!("{at}.protocol"))?;
    Ok(())
}

fn port_number(port: i32, at: &str) -> Checked {
    if (1..=65535).contains(&port) {
        Ok(())
    } else {
        Err(FieldError::new(
            at,
            format!("{port}: must be between 1 and 65535, inclusive"),
        ))
    }
}

fn protocol<'a>(protocol: Option<&'a str>, at: &str) -> Result<&'a str, FieldError> {
    match protocol {
        Some(p) if PROTOCOLS.contains(&p) => Ok(p),
        Some(p) => Err(FieldError::new(
            at,
            format!("Unsupported value: {p:?}: supported values: \"SCTP\", \"TCP\", \"UDP\""),
        )),
        None => Err(FieldError::new(at, "Required value")),
    }
}

/// RFC 6335 service name: 1–15 of `[a-z0-9-]`, at least one letter, no leading, trailing or
/// double `-`.
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

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?` joined by `.`, at most 253 characters.
fn is_dns1123_subdomain(s: &str) -> bool {
    s.len() <= 253
        && s.split('.').all(|part| {
            let b = part.as_bytes();
            !b.is_empty()
                && b.iter()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
                && b[0] != b'-'
                && b[b.len() - 1] != b'-'
        })
}

/// A label key or annotation key: `[prefix/]name`, the prefix a DNS-1123 subdomain.
fn is_qualified_name(s: &str) -> bool {
    match s.rsplit_once('/') {
        Some((prefix, name)) => is_dns1123_subdomain(prefix) && is_label_name_part(name),
        None => is_label_name_part(s),
    }
}

/// At most 63 alphanumerics, `-`, `_`, `.`, starting and ending alphanumeric.
fn is_label_name_part(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iana_service_names_as_target_ports() {
        for ok in ["http", "grpc-web", "h2c", "a1"] {
            assert!(is_iana_svc_name(ok), "{ok}");
        }
        for bad in [
            "",
            "123",
            "-http",
            "http-",
            "ht--tp",
            "HTTP",
            "a-very-long-port-name",
        ] {
            assert!(!is_iana_svc_name(bad), "{bad}");
        }
    }

    #[test]
    fn label_keys_values_and_subdomains() {
        for ok in ["app", "mirror.linkerd.io/exported", "a_b.c-d", "k8s.io/x"] {
            assert!(is_qualified_name(ok), "{ok}");
        }
        for bad in ["", "/x", "-a", "a/b/c", "Bad.Prefix/x", &"a".repeat(64)] {
            assert!(!is_qualified_name(bad), "{bad}");
        }
        assert!(is_dns1123_subdomain("nginx-svc.default"));
        assert!(!is_dns1123_subdomain("nginx_svc"));
        assert!(!is_dns1123_subdomain("a..b"));
    }

    #[test]
    fn defaulting_fills_protocol_target_port_type_and_cluster_ip_from_cluster_ips() {
        let mut svc = Service::new("default", "web");
        svc.spec.ports.push(svcmirror_core::model::ServicePort {
            port: 8080,
            target_port: Some(IntOrString::String(String::new())),
            ..Default::default()
        });
        svc.spec.cluster_ips = vec!["10.43.0.9".into()];
        default_service(&mut svc);
        assert_eq!(svc.spec.type_.as_deref(), Some("ClusterIP"));
        assert_eq!(svc.spec.ports[0].protocol.as_deref(), Some("TCP"));
        assert_eq!(svc.spec.ports[0].target_port, Some(IntOrString::Int(8080)));
        assert_eq!(svc.spec.cluster_ip.as_deref(), Some("10.43.0.9"));
        assert_eq!(service(&svc), Ok(()));
    }
}
