//! SPEC §7 "identical objects (ignoring server-set fields) yield no operation": which field
//! groups of an observed object [`crate::plan()`] would change — field by field against a full
//! object, with the API server's defaults and list orders normalised, or by digests against a
//! store's record ([`crate::fingerprint`], issue 13 item 3; the two agree, property-tested in
//! `fingerprint_tests.rs` and `tests/templates.rs`).

use crate::groups::{EndpointsGroups, ServiceGroups, SliceGroups};
use crate::model::{
    Endpoint, EndpointSlice, EndpointSlicePort, EndpointSubset, Endpoints, IntOrString, ObjectKey,
    Service, ServicePort, effective_protocol,
};
use crate::template::{Entry, Templated};

/// What an update of the observed object to `want` at `key` writes and which groups it changes,
/// or `None` when nothing differs: against a full object (a list), field by field (an endpoint
/// mirror equal to its template as written first, without building it, SPEC §6.5); against a
/// store's record, by `digests` (issue 13 item 3) — the object is built only when it differs.
pub(crate) fn compare<T: Templated>(
    key: &ObjectKey,
    want: &Entry<T>,
    full: Option<&T>,
    digests: impl FnOnce() -> Vec<&'static str>,
    fields: fn(&T, &T) -> Vec<&'static str>,
) -> Option<(T, Vec<&'static str>)> {
    match full {
        Some(have) if want.matches(have) => None,
        Some(have) => {
            let built = want.to_object(key);
            let changed = fields(&built, have);
            (!changed.is_empty()).then(|| (built.into_owned(), changed))
        }
        None => {
            let changed = digests();
            (!changed.is_empty()).then(|| (want.to_object(key).into_owned(), changed))
        }
    }
}

/// A port as the API server stores it: protocol `TCP` and `targetPort = port` when unset. Only the
/// fields a mirror writes are compared.
fn normalized_port(p: &ServicePort) -> (Option<&str>, &str, i32, IntOrString) {
    (
        p.name.as_deref().filter(|n| !n.is_empty()),
        effective_protocol(p.protocol.as_deref()),
        p.port,
        p.target_port.clone().unwrap_or(IntOrString::Int(p.port)),
    )
}

fn sorted_ports(s: &Service) -> Vec<(Option<&str>, &str, i32, IntOrString)> {
    let mut v: Vec<_> = s.spec.ports.iter().map(normalized_port).collect();
    v.sort();
    v
}

/// The field groups of a Service that a mirror manages and that differ. Server-set fields (uid,
/// resourceVersion, clusterIP once allocated, creationTimestamp…) are ignored.
pub(crate) fn service_changes(want: &Service, have: &Service) -> Vec<&'static str> {
    ServiceGroups {
        labels: want.metadata.labels != have.metadata.labels,
        annotations: want.metadata.annotations != have.metadata.annotations,
        // Equal as written is equal as stored: the sorted, defaulted copies only when they differ.
        ports: want.spec.ports != have.spec.ports && sorted_ports(want) != sorted_ports(have),
        selector: have.spec.selector.as_ref().is_some_and(|s| !s.is_empty()),
        type_: have.spec.type_.as_deref().unwrap_or("ClusterIP")
            != want.spec.type_.as_deref().unwrap_or("ClusterIP"),
    }
    .named()
}

/// The field groups of an Endpoints object that differ, comparing subsets as sets.
pub(crate) fn endpoints_changes(want: &Endpoints, have: &Endpoints) -> Vec<&'static str> {
    EndpointsGroups {
        labels: want.metadata.labels != have.metadata.labels,
        annotations: want.metadata.annotations != have.metadata.annotations,
        subsets: want.subsets != have.subsets && canonical_subsets(want) != canonical_subsets(have),
    }
    .named()
}

fn canonical_subsets(ep: &Endpoints) -> Vec<EndpointSubset> {
    let mut subsets: Vec<_> = ep
        .subsets
        .iter()
        .cloned()
        .map(|mut s| {
            s.addresses.sort();
            s.not_ready_addresses.sort();
            for p in &mut s.ports {
                p.protocol = Some(effective_protocol(p.protocol.as_deref()).to_owned());
            }
            s.ports.sort();
            s
        })
        .collect();
    subsets.sort();
    subsets
}

/// The field groups of an EndpointSlice that differ, comparing endpoints and ports as sets with
/// the API server's defaults (port `name: ""`, `protocol: TCP`).
pub(crate) fn slice_changes(want: &EndpointSlice, have: &EndpointSlice) -> Vec<&'static str> {
    SliceGroups {
        labels: want.metadata.labels != have.metadata.labels,
        annotations: want.metadata.annotations != have.metadata.annotations,
        address_type: want.address_type != have.address_type,
        endpoints: want.endpoints != have.endpoints
            && canonical_endpoints(want) != canonical_endpoints(have),
        ports: want.ports != have.ports
            && canonical_slice_ports(want) != canonical_slice_ports(have),
    }
    .named()
}

fn canonical_endpoints(slice: &EndpointSlice) -> Vec<Endpoint> {
    let mut endpoints: Vec<Endpoint> = slice
        .endpoints
        .iter()
        .cloned()
        .map(|mut e| {
            e.addresses.sort();
            e
        })
        .collect();
    endpoints.sort();
    endpoints
}

fn canonical_slice_ports(slice: &EndpointSlice) -> Vec<EndpointSlicePort> {
    let mut ports: Vec<EndpointSlicePort> = slice
        .ports
        .iter()
        .cloned()
        .map(|mut p| {
            p.name = p.name.filter(|n| !n.is_empty());
            p.protocol = Some(effective_protocol(p.protocol.as_deref()).to_owned());
            p
        })
        .collect();
    ports.sort();
    ports
}
