//! SPEC §8 (limits): how much one link may ask of the source cluster, per export and in all.
//!
//! The target cluster is input from another trust domain: 1 MB of it must never cost gigabytes,
//! a single export must never take the source's Service range, and nothing svcmirror writes may be
//! something the source API server refuses (that would fail a write over and over while the rest
//! of the link waits). Every limit is per link, set in the `LinkSpec` under `limits` (each field
//! optional; the defaults are written once, in [`Limits::default`]), and checked *before* the
//! per-pod objects it bounds are built, so memory and time follow the limits, not the input.
//!
//! | limit | `LinkSpec` field | default | why this default |
//! |---|---|---|---|
//! | endpoint mirrors per export | `limits.endpointMirrorsPerExport` | 1000 | Kubernetes caps an Endpoints object at 1000 addresses (the endpoints controller truncates, the mirroring controller stops there) |
//! | ports per mirror | `limits.portsPerMirror` | 100 | an EndpointSlice holds at most 100 ports (`discovery.k8s.io/v1` validation); every mirror's ports are copied onto each endpoint mirror, so ports × pods is the cost |
//! | ClusterIPs per link | `limits.clusterIPsPerLink` | a quarter of the source's Service range when it is known ([`Limits::with_service_range`]: the CLI's `--service-cidr`), at most 262 144; 4096 when it is not (`svcmirror run`) | SPEC §8 "a budget of the source's Service range": one link never takes more than a quarter of the range, so it can never exhaust what the source cluster's own Services (and its other links) need — the attack of issue 14 was 70 000 hostnames filling a /16, whose budget is now 16 384. 262 144 is a quarter of a /12, the largest IPv4 range the API server accepts (and of an IPv6 /108, the largest of the classic allocator). Range unknown: a sixteenth of the smallest common range (k3s' `10.43.0.0/16`) |
//! | annotations per object | `limits.annotationBytes` | 262 144 (256 KiB) | the API server's `TotalAnnotationSizeLimitB` (keys + values) |
//! | object size | `limits.objectBytes` | 1 572 864 (1.5 MiB) | etcd's default `--max-request-bytes`; the API server answers 413 above it |
//!
//! An explicit `limits.clusterIPsPerLink` always wins over the range's budget. The controller
//! does not know the source's Service range (the API server does not publish it), so a link that
//! needs more than 4096 ClusterIPs sets `limits.clusterIPsPerLink` in its `LinkSpec` (say, a
//! quarter of the source's range).
//!
//! When an export hits a limit it gets a `LimitExceeded` error diagnostic naming the limit and the
//! field that raises it; the rest of the link converges:
//! - over `endpointMirrorsPerExport`: truncated — the first pods by name get endpoint mirrors, the
//!   others are named in no root Endpoints (Kubernetes' own Endpoints truncate at 1000 too);
//! - over any other limit: the export is not mirrored;
//! - over `clusterIPsPerLink`: no ClusterIP already held is ever taken back; in (namespace, name)
//!   order, a new export that does not fit is not mirrored, and a live headless export gets only
//!   the new endpoint mirrors that fit. The budget is decided by whole-link translations
//!   (`translate`, `plan`, the driver's resyncs); a one-export translation sees one export, so the
//!   driver reconciles the whole link instead once the link is within one export's worth of it.
//!
//! Values echoed in diagnostics (a label value, a hostname) are cut to [`ECHO_CHARS`] characters
//! with the full length in bytes ([`echo`]): a 100 KB label value never ends up whole in a log
//! line, an Event or a condition.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::model::{
    EndpointAddress, EndpointSlice, Endpoints, Object, ObjectMeta, ObjectReference, Service,
    StringMap,
};

/// How many characters of a value a diagnostic echoes before cutting it ([`echo`]).
pub const ECHO_CHARS: usize = 128;

/// The API server's limit on the total size of an object's annotations (keys + values).
pub const API_SERVER_ANNOTATION_BYTES: u32 = 256 * 1024;

/// The API server's limit on the ports of one EndpointSlice (`discovery.k8s.io/v1` validation).
pub const SLICE_PORTS: u32 = 100;

/// etcd's default request limit (`--max-request-bytes`), the largest object the API server stores.
pub const ETCD_REQUEST_BYTES: u32 = 1536 * 1024;

/// The limits of one link (SPEC §8). Every field is optional in the `LinkSpec` (`limits:` with
/// camelCase keys); an absent one takes its default (see the module documentation of `limits.rs` for
/// why each default is what it is).
///
/// ```
/// use svcmirror_core::Limits;
///
/// let limits: Limits = serde_json::from_str(r#"{"portsPerMirror": 20}"#).unwrap();
/// assert_eq!(limits.ports_per_mirror, 20);
/// assert_eq!(limits.endpoint_mirrors_per_export, Limits::default().endpoint_mirrors_per_export);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
#[non_exhaustive]
pub struct Limits {
    /// Endpoint mirrors of one headless export at most (`limits.endpointMirrorsPerExport`,
    /// default 1000). Beyond it the export is truncated.
    pub endpoint_mirrors_per_export: u32,
    /// Ports of one mirror at most (`limits.portsPerMirror`, default 100): the exported Service's
    /// ports and each subset's ports of its Endpoints. With EndpointSlices, never more than 100
    /// whatever this says (the API server's limit).
    pub ports_per_mirror: u32,
    /// ClusterIP Services (mirrors and endpoint mirrors) of the whole link at most
    /// (`limits.clusterIPsPerLink`). When absent: a budget of the source's Service range
    /// ([`Limits::with_service_range`]), or [`DEFAULT_CLUSTER_IPS_PER_LINK`] when the range is
    /// unknown. Read the budget in force with `get(Limit::ClusterIpsPerLink)`.
    #[serde(rename = "clusterIPsPerLink", skip_serializing_if = "Option::is_none")]
    pub cluster_ips_per_link: Option<u32>,
    /// Total bytes of one object's annotations, keys and values (`limits.annotationBytes`,
    /// default 256 KiB, the API server's own limit).
    pub annotation_bytes: u32,
    /// Bytes of one object as JSON at most (`limits.objectBytes`, default 1.5 MiB, etcd's request
    /// limit). Estimated from the object's strings, never by serializing it.
    pub object_bytes: u32,
    /// Addresses of the source's Service range, when known ([`Limits::with_service_range`]).
    /// Not part of the `LinkSpec`: it describes the source cluster, not the link.
    #[serde(skip)]
    service_range: Option<u64>,
}

/// The ClusterIP budget of a link when neither `limits.clusterIPsPerLink` nor the source's
/// Service range is known (the controller): a sixteenth of a /16, k3s' default range.
pub const DEFAULT_CLUSTER_IPS_PER_LINK: u32 = 4096;

/// The largest ClusterIP budget a Service range gives a link by default: a quarter of a /12
/// (IPv4) or /108 (IPv6), the largest ranges the API server's classic allocator accepts.
pub const MAX_RANGE_CLUSTER_IPS_PER_LINK: u32 = 1 << 18;

/// SPEC §8 "a budget of the source's Service range": the share of a range of `addresses` one link
/// may take by default — a quarter (see the module documentation of `limits.rs`), at most
/// [`MAX_RANGE_CLUSTER_IPS_PER_LINK`].
///
/// ```
/// use svcmirror_core::range_budget;
///
/// assert_eq!(range_budget(1 << 16), 16_384); // a /16: the 70 000 hostnames of issue 14 do not fit
/// assert_eq!(range_budget(1 << 20), 262_144); // a /12: a 102 000-ClusterIP world fits
/// ```
#[must_use]
pub fn range_budget(addresses: u64) -> u32 {
    u32::try_from(addresses / 4)
        .unwrap_or(u32::MAX)
        .min(MAX_RANGE_CLUSTER_IPS_PER_LINK)
}

impl Default for Limits {
    /// The defaults of SPEC §8 (see the module documentation of `limits.rs`).
    fn default() -> Self {
        Self {
            endpoint_mirrors_per_export: 1000,
            ports_per_mirror: 100,
            cluster_ips_per_link: None,
            annotation_bytes: API_SERVER_ANNOTATION_BYTES,
            object_bytes: ETCD_REQUEST_BYTES,
            service_range: None,
        }
    }
}

impl Limits {
    /// These limits for a source whose Service range holds `addresses` (a /16: 65 536): unless
    /// `limits.clusterIPsPerLink` is set, the link's ClusterIP budget is [`range_budget`] of it.
    ///
    /// ```
    /// use svcmirror_core::{Limit, Limits};
    ///
    /// assert_eq!(Limits::default().get(Limit::ClusterIpsPerLink), 4096); // range unknown
    /// let slash12 = Limits::default().with_service_range(1 << 20);
    /// assert_eq!(slash12.get(Limit::ClusterIpsPerLink), 262_144);
    /// let mut explicit = Limits::default();
    /// explicit.cluster_ips_per_link = Some(100);
    /// assert_eq!(explicit.with_service_range(1 << 20).get(Limit::ClusterIpsPerLink), 100);
    /// ```
    #[must_use]
    pub fn with_service_range(mut self, addresses: u64) -> Self {
        self.service_range = Some(addresses);
        self
    }

    /// The ClusterIP budget in force: `limits.clusterIPsPerLink`, else the Service range's
    /// budget, else [`DEFAULT_CLUSTER_IPS_PER_LINK`].
    fn cluster_ip_budget(&self) -> u32 {
        self.cluster_ips_per_link.unwrap_or_else(|| {
            self.service_range
                .map_or(DEFAULT_CLUSTER_IPS_PER_LINK, range_budget)
        })
    }

    /// The value of `limit`.
    #[must_use]
    pub fn get(&self, limit: Limit) -> u64 {
        u64::from(match limit {
            Limit::EndpointMirrorsPerExport => self.endpoint_mirrors_per_export,
            Limit::PortsPerMirror => self.ports_per_mirror,
            Limit::ClusterIpsPerLink => self.cluster_ip_budget(),
            Limit::AnnotationBytes => self.annotation_bytes,
            Limit::ObjectBytes => self.object_bytes,
        })
    }

    /// `limit` as a `usize` (saturating), to compare with lengths.
    #[must_use]
    pub fn count(&self, limit: Limit) -> usize {
        usize::try_from(self.get(limit)).unwrap_or(usize::MAX)
    }

    /// The message of a `LimitExceeded` diagnostic: what went over, by how much, and the field
    /// that raises the limit.
    #[must_use]
    pub fn exceeded(&self, limit: Limit, actual: u64, consequence: &str) -> String {
        format!(
            "{actual} {} exceeds the limit of {} ({}{}; raise `{}` in the LinkSpec): {consequence}",
            limit.unit(),
            self.get(limit),
            limit.describe(),
            self.origin(limit),
            limit.field()
        )
    }

    /// Where a default came from, when it is not a constant: the ClusterIP budget.
    fn origin(&self, limit: Limit) -> String {
        match (limit, self.cluster_ips_per_link, self.service_range) {
            (Limit::ClusterIpsPerLink, None, Some(addresses)) => {
                format!(
                    ", the default: a quarter of the source's Service range of {addresses} addresses"
                )
            }
            (Limit::ClusterIpsPerLink, None, None) => {
                ", the default when the source's Service range is unknown".to_owned()
            }
            _ => String::new(),
        }
    }
}

/// One of the [`Limits`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[non_exhaustive]
pub enum Limit {
    /// [`Limits::endpoint_mirrors_per_export`].
    EndpointMirrorsPerExport,
    /// [`Limits::ports_per_mirror`].
    PortsPerMirror,
    /// [`Limits::cluster_ips_per_link`].
    ClusterIpsPerLink,
    /// [`Limits::annotation_bytes`].
    AnnotationBytes,
    /// [`Limits::object_bytes`].
    ObjectBytes,
}

impl Limit {
    /// The `LinkSpec` field that sets it (`limits.portsPerMirror`).
    #[must_use]
    pub fn field(self) -> &'static str {
        match self {
            Self::EndpointMirrorsPerExport => "limits.endpointMirrorsPerExport",
            Self::PortsPerMirror => "limits.portsPerMirror",
            Self::ClusterIpsPerLink => "limits.clusterIPsPerLink",
            Self::AnnotationBytes => "limits.annotationBytes",
            Self::ObjectBytes => "limits.objectBytes",
        }
    }

    /// What it limits, for a person.
    #[must_use]
    pub fn describe(self) -> &'static str {
        match self {
            Self::EndpointMirrorsPerExport => "endpoint mirrors per export",
            Self::PortsPerMirror => "ports per mirror",
            Self::ClusterIpsPerLink => "ClusterIPs per link",
            Self::AnnotationBytes => "annotation bytes per object",
            Self::ObjectBytes => "bytes per object",
        }
    }

    fn unit(self) -> &'static str {
        match self {
            Self::EndpointMirrorsPerExport => "named pods",
            Self::PortsPerMirror => "ports",
            Self::ClusterIpsPerLink => "ClusterIPs",
            Self::AnnotationBytes => "annotation bytes",
            Self::ObjectBytes => "bytes",
        }
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.field())
    }
}

/// A value as a diagnostic echoes it: quoted like `{:?}`, and when longer than [`ECHO_CHARS`]
/// characters cut there and followed by `…(N bytes)`.
#[must_use]
pub fn echo(value: &str) -> Echo<'_> {
    Echo(value)
}

/// See [`echo`].
#[derive(Debug, Clone, Copy)]
pub struct Echo<'a>(&'a str);

impl fmt::Display for Echo<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.char_indices().nth(ECHO_CHARS) {
            None => write!(f, "{:?}", self.0),
            Some((cut, _)) => write!(f, "{:?}…({} bytes)", &self.0[..cut], self.0.len()),
        }
    }
}

/// The total size of annotations as the API server counts it: every key and value, in bytes.
#[must_use]
pub fn annotation_bytes(annotations: &StringMap) -> u64 {
    annotations
        .iter()
        .map(|(k, v)| (k.len() + v.len()) as u64)
        .sum()
}

/// An upper bound of the size of `object` as JSON, in bytes: every string with its escapes and
/// every field name, with a generous constant per structure. Linear in the object, allocates
/// nothing (a test checks it against `serde_json` for every kind).
#[must_use]
#[allow(
    dead_code,
    reason = "the whole-object estimate its per-kind parts implement, checked against real JSON by the tests"
)]
pub fn estimated_bytes(object: &Object) -> u64 {
    match object {
        Object::Namespace(ns) => {
            256 + string(&ns.metadata.name)
                + map(&ns.metadata.labels)
                + opt(ns.metadata.resource_version.as_deref())
                + opt(ns.metadata.uid.as_deref())
        }
        Object::Service(svc) => service_bytes(svc),
        Object::Endpoints(ep) => endpoints_bytes(ep),
        Object::EndpointSlice(slice) => slice_bytes(slice),
    }
}

/// [`estimated_bytes`] of a Service.
#[must_use]
pub fn service_bytes(svc: &Service) -> u64 {
    service_bytes_with(svc, &mut map)
}

/// [`service_bytes`], with its labels and annotations sized by `map_size` (which may reuse the
/// size of a map shared by several objects: [`crate::admission`]).
pub(crate) fn service_bytes_with(
    svc: &Service,
    map_size: &mut impl FnMut(&StringMap) -> u64,
) -> u64 {
    let spec = &svc.spec;
    let ports: u64 = spec
        .ports
        .iter()
        .map(|p| {
            let target = match &p.target_port {
                Some(crate::model::IntOrString::String(s)) => string(s),
                _ => 16,
            };
            128 + opt(p.name.as_deref())
                + opt(p.protocol.as_deref())
                + opt(p.app_protocol.as_deref())
                + target
        })
        .sum();
    let selector: u64 = spec
        .selector
        .iter()
        .flatten()
        .map(|(k, v)| 8 + string(k) + string(v))
        .sum();
    meta(&svc.metadata, map_size)
        + 128
        + opt(spec.type_.as_deref())
        + opt(spec.cluster_ip.as_deref())
        + spec
            .cluster_ips
            .iter()
            .map(|ip| 4 + string(ip))
            .sum::<u64>()
        + ports
        + selector
}

/// [`estimated_bytes`] of an Endpoints object.
#[must_use]
pub fn endpoints_bytes(ep: &Endpoints) -> u64 {
    endpoints_bytes_with(ep, &mut map)
}

/// [`endpoints_bytes`], with its labels and annotations sized by `map_size`.
pub(crate) fn endpoints_bytes_with(
    ep: &Endpoints,
    map_size: &mut impl FnMut(&StringMap) -> u64,
) -> u64 {
    let subsets: u64 = ep
        .subsets
        .iter()
        .map(|s| {
            let ports: u64 = s
                .ports
                .iter()
                .map(|p| {
                    96 + opt(p.name.as_deref())
                        + opt(p.protocol.as_deref())
                        + opt(p.app_protocol.as_deref())
                })
                .sum();
            64 + s
                .addresses
                .iter()
                .chain(&s.not_ready_addresses)
                .map(address)
                .sum::<u64>()
                + ports
        })
        .sum();
    meta(&ep.metadata, map_size) + 64 + subsets
}

/// [`estimated_bytes`] of an EndpointSlice.
#[must_use]
pub fn slice_bytes(slice: &EndpointSlice) -> u64 {
    slice_bytes_with(slice, &mut map)
}

/// [`slice_bytes`], with its labels and annotations sized by `map_size`.
pub(crate) fn slice_bytes_with(
    slice: &EndpointSlice,
    map_size: &mut impl FnMut(&StringMap) -> u64,
) -> u64 {
    let endpoints: u64 = slice
        .endpoints
        .iter()
        .map(|e| {
            SLICE_ENDPOINT_OVERHEAD
                + e.addresses.iter().map(|a| 4 + string(a)).sum::<u64>()
                + e.hostname.as_deref().map_or(0, |h| 12 + string(h))
                + e.node_name.as_deref().map_or(0, |n| 12 + string(n))
                + e.zone.as_deref().map_or(0, |z| 8 + string(z))
                + e.target_ref.as_ref().map_or(0, |r| 13 + reference(r))
        })
        .sum();
    let ports: u64 = slice
        .ports
        .iter()
        .map(|p| {
            96 + opt(p.name.as_deref())
                + opt(p.protocol.as_deref())
                + opt(p.app_protocol.as_deref())
        })
        .sum();
    meta(&slice.metadata, map_size) + 96 + string(&slice.address_type) + endpoints + ports
}

/// `{"ip":` … `}` and a separating comma.
const ADDRESS_OVERHEAD: u64 = 9;

/// `{"addresses":[` … `],"conditions":{"ready":…,"serving":…,"terminating":…}` … `}`, a comma.
const SLICE_ENDPOINT_OVERHEAD: u64 = 128;

fn address(a: &EndpointAddress) -> u64 {
    ADDRESS_OVERHEAD
        + string(&a.ip)
        + a.hostname.as_deref().map_or(0, |h| 12 + string(h))
        + a.node_name.as_deref().map_or(0, |n| 12 + string(n))
        + a.target_ref.as_ref().map_or(0, |r| 13 + reference(r))
}

/// An upper bound of [`estimated_bytes`]' share of one record of a root mirror's Endpoints — an IP
/// of at most `ip_len` characters and a hostname of at most `name_len` (neither escaped: an IP and
/// a DNS label are plain ASCII).
#[must_use]
pub fn root_record_bytes(ip_len: u64, name_len: u64) -> u64 {
    ADDRESS_OVERHEAD + (2 + ip_len) + 12 + (2 + name_len)
}

/// [`root_record_bytes`] for an endpoint of a root mirror's EndpointSlice.
#[must_use]
pub fn root_slice_record_bytes(ip_len: u64, name_len: u64) -> u64 {
    SLICE_ENDPOINT_OVERHEAD + 4 + (2 + ip_len) + 12 + (2 + name_len)
}

fn reference(r: &ObjectReference) -> u64 {
    128 + opt(r.kind.as_deref())
        + opt(r.name.as_deref())
        + opt(r.namespace.as_deref())
        + opt(r.uid.as_deref())
        + opt(r.resource_version.as_deref())
}

fn meta(m: &ObjectMeta, map_size: &mut impl FnMut(&StringMap) -> u64) -> u64 {
    // apiVersion, kind, metadata and its field names.
    256 + string(&m.name)
        + string(&m.namespace)
        + map_size(&m.labels)
        + map_size(&m.annotations)
        + opt(m.resource_version.as_deref())
        + opt(m.uid.as_deref())
        + opt(m.creation_timestamp.as_deref())
}

/// [`estimated_bytes`]'s share of one `string → string` map (labels, annotations).
#[must_use]
pub fn map_bytes(m: &StringMap) -> u64 {
    map(m)
}

/// An upper bound of [`estimated_bytes`] for one Endpoints or EndpointSlice port whose name is a
/// DNS label and whose protocol is TCP, UDP or SCTP, without the length of `appProtocol`.
pub const PORT_BYTES: u64 = 192;

/// [`map_bytes`] of the map made of `pairs` (keys distinct), without building it.
pub(crate) fn pairs_bytes<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> u64 {
    2 + pairs
        .into_iter()
        .map(|(k, v)| 2 + string(k) + string(v))
        .sum::<u64>()
}

/// [`annotation_bytes`] of the map made of `pairs` (keys distinct), without building it.
pub(crate) fn pairs_annotation_bytes<'a>(
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> u64 {
    pairs
        .into_iter()
        .map(|(k, v)| (k.len() + v.len()) as u64)
        .sum()
}

/// [`estimated_bytes`]' share of one string (quoted, escaped).
pub(crate) fn string_bytes(s: &str) -> u64 {
    string(s)
}

fn map(m: &StringMap) -> u64 {
    2 + m
        .iter()
        .map(|(k, v)| 2 + string(k) + string(v))
        .sum::<u64>()
}

fn opt(s: Option<&str>) -> u64 {
    s.map_or(0, string)
}

/// A JSON string's length: quotes, and every byte as it is escaped (`\"`, `\\`, `\n`, `\u0000`).
fn string(s: &str) -> u64 {
    2 + s
        .bytes()
        .map(|b| match b {
            b'"' | b'\\' => 2,
            0..=0x1f => 6,
            _ => 1,
        })
        .sum::<u64>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{
        Endpoint, EndpointPort, EndpointSlicePort, EndpointSubset, IntOrString, Namespace,
        ServicePort,
    };

    #[test]
    fn echo_keeps_short_values_and_cuts_long_ones_with_their_length() {
        assert_eq!(echo("web").to_string(), "\"web\"");
        let long = "x".repeat(100_000);
        let shown = echo(&long).to_string();
        assert!(shown.ends_with("…(100000 bytes)"), "{shown}");
        assert!(shown.len() < ECHO_CHARS + 40, "{}", shown.len());
        // Cut on a character boundary, never inside one.
        let wide = "é".repeat(200);
        assert!(echo(&wide).to_string().ends_with("…(400 bytes)"));
    }

    #[test]
    fn serde_defaults_are_the_documented_ones() {
        let all: Limits = serde_json::from_str("{}").expect("empty limits");
        assert_eq!(all, Limits::default());
        assert_eq!(all.endpoint_mirrors_per_export, 1000);
        assert_eq!(all.annotation_bytes, 262_144);
        assert_eq!(all.object_bytes, 1_572_864);
        assert_eq!(all.get(Limit::ClusterIpsPerLink), 4096);
        let one: Limits = serde_json::from_str(r#"{"clusterIPsPerLink": 10}"#).expect("one field");
        assert_eq!(one.cluster_ips_per_link, Some(10));
        assert_eq!(one.ports_per_mirror, 100);
        // Absent stays absent: a spec written back does not turn a default into a setting.
        assert!(
            serde_json::to_value(Limits::default()).expect("json")["clusterIPsPerLink"].is_null()
        );
        assert_eq!(
            serde_json::to_value(one).expect("json")["clusterIPsPerLink"],
            10
        );
    }

    /// SPEC §8 "a budget of the source's Service range": a quarter of the range's addresses,
    /// capped at a quarter of a /12; an explicit `limits.clusterIPsPerLink` wins, higher or lower.
    #[test]
    fn the_clusterip_budget_is_a_quarter_of_a_known_service_range_unless_set() {
        let budget = |limits: Limits| limits.get(Limit::ClusterIpsPerLink);
        let range = |prefix: u32| Limits::default().with_service_range(1u64 << (32 - prefix));
        assert_eq!(budget(range(16)), 16_384);
        assert_eq!(budget(range(12)), 262_144);
        assert_eq!(budget(range(29)), 2);
        // IPv6: a /64 is 2^64 addresses; the budget stays a /12's quarter.
        assert_eq!(
            budget(Limits::default().with_service_range(u64::MAX)),
            262_144
        );
        assert_eq!(budget(Limits::default().with_service_range(0)), 0);
        for explicit in [1, 4096, 1_000_000] {
            let limits = Limits {
                cluster_ips_per_link: Some(explicit),
                ..Limits::default()
            };
            assert_eq!(
                budget(limits.with_service_range(1 << 20)),
                u64::from(explicit)
            );
            assert_eq!(
                budget(limits.with_service_range(1 << 16)),
                u64::from(explicit)
            );
        }
    }

    /// The message says where a default budget came from, and always which field raises it.
    #[test]
    fn the_clusterip_message_says_where_the_budget_came_from() {
        let from_range = Limits::default().with_service_range(1 << 16).exceeded(
            Limit::ClusterIpsPerLink,
            70_000,
            "cut",
        );
        assert!(
            from_range.contains("exceeds the limit of 16384 (ClusterIPs per link, the default: a quarter of the source's Service range of 65536 addresses; raise `limits.clusterIPsPerLink`"),
            "{from_range}"
        );
        let unknown = Limits::default().exceeded(Limit::ClusterIpsPerLink, 5000, "cut");
        assert!(
            unknown.contains("the default when the source's Service range is unknown"),
            "{unknown}"
        );
        let set = Limits {
            cluster_ips_per_link: Some(10),
            ..Limits::default()
        };
        let set = set
            .with_service_range(1 << 16)
            .exceeded(Limit::ClusterIpsPerLink, 11, "cut");
        assert!(
            set.contains("limit of 10 (ClusterIPs per link; raise"),
            "{set}"
        );
    }

    #[test]
    fn the_message_names_the_limit_and_the_field_that_raises_it() {
        let message = Limits::default().exceeded(Limit::PortsPerMirror, 10_000, "not mirrored");
        assert!(
            message.contains("10000 ports exceeds the limit of 100"),
            "{message}"
        );
        assert!(message.contains("`limits.portsPerMirror`"), "{message}");
    }

    fn json_len(object: &Object) -> u64 {
        serde_json::to_vec(object).expect("json").len() as u64
    }

    /// The estimate is an upper bound of the JSON size (what the fake and the API server measure),
    /// and not a wild one.
    #[test]
    fn estimate_bounds_the_json_size_of_every_kind() {
        let mut svc = Service::new("default", "web-west");
        svc.metadata.labels.insert("app".into(), "web".into());
        svc.metadata
            .annotations
            .insert("note".into(), "a \"quoted\"\n\u{1}value".into());
        svc.metadata.resource_version = Some("12".into());
        svc.spec.cluster_ip = Some("10.43.0.10".into());
        svc.spec.cluster_ips = vec!["10.43.0.10".into()];
        svc.spec.ports = (1..50)
            .map(|i| ServicePort {
                name: Some(format!("p{i}")),
                protocol: Some("TCP".into()),
                port: i,
                target_port: Some(IntOrString::String("http".into())),
                ..ServicePort::default()
            })
            .collect();
        let mut ep = Endpoints::new("default", "web-west");
        ep.metadata.labels = svc.metadata.labels.clone();
        ep.subsets = vec![EndpointSubset {
            addresses: (0..200)
                .map(|i| EndpointAddress {
                    ip: format!("10.0.{}.{}", i / 250, i % 250),
                    hostname: Some(format!("web-{i}")),
                    ..EndpointAddress::default()
                })
                .collect(),
            ports: vec![EndpointPort {
                name: Some("http".into()),
                port: 80,
                protocol: Some("TCP".into()),
                app_protocol: None,
            }],
            ..EndpointSubset::default()
        }];
        let mut slice = EndpointSlice::new("default", "web-west-ipv4", "IPv4");
        slice.endpoints = (0..200)
            .map(|i| Endpoint {
                addresses: vec![format!("10.0.0.{i}")],
                hostname: Some(format!("web-{i}")),
                ..Endpoint::default()
            })
            .collect();
        slice.ports = vec![EndpointSlicePort {
            name: Some("http".into()),
            protocol: Some("TCP".into()),
            port: Some(80),
            app_protocol: None,
        }];
        let mut ns = Namespace::new("default");
        ns.metadata.labels.insert("a".into(), "b".into());
        for object in [
            Object::Service(svc),
            Object::Endpoints(ep),
            Object::EndpointSlice(slice),
            Object::Namespace(ns),
        ] {
            let (estimate, actual) = (estimated_bytes(&object), json_len(&object));
            assert!(
                estimate >= actual && estimate <= actual * 4,
                "{:?}: estimate {estimate}, JSON {actual}",
                object.kind()
            );
        }
    }

    /// A string's estimate is its JSON length exactly, but for control characters, which count
    /// as `\u00XX` (serde_json writes `\n` shorter).
    #[test]
    fn string_estimate_is_the_json_length_of_the_string() {
        for s in [
            "",
            "web",
            "a\"b\\c",
            "é\"",
            "{\"apiVersion\":\"v1\"}",
            "x".repeat(1000).as_str(),
        ] {
            let json = serde_json::to_string(s).expect("json").len() as u64;
            assert_eq!(string(s), json, "{s:?}");
        }
        assert_eq!(string("a\u{1}b"), 2 + 2 + 6);
        assert!(string("a\nb") >= serde_json::to_string("a\nb").expect("json").len() as u64);
    }

    #[test]
    fn annotation_bytes_count_keys_and_values() {
        let map: StringMap = [("ab".to_owned(), "cde".to_owned())].into();
        assert_eq!(annotation_bytes(&map), 5);
    }
}
