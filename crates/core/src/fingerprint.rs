//! Observed state as fingerprints (issue 13 item 3, SPEC §7 "identical objects (ignoring
//! server-set fields) yield no operation"): one 64-bit digest per field group that
//! [`crate::plan()`] compares, in the form the API server stores it, so that a plan can name the
//! changed groups of an update by comparing a few numbers, without the observed object.
//!
//! The groups, per kind (exactly `plan`'s, with its normalisation):
//! - Service: `metadata.labels`, `metadata.annotations`, `spec.ports` (a multiset of `(name or
//!   none, protocol or TCP, port, targetPort or port)`), `spec.selector` (a flag: a non-empty
//!   observed selector is always removed, a desired one never compared), `spec.type`
//!   (`ClusterIP` when unset).
//! - Endpoints: labels, annotations, `subsets` (a multiset of (addresses as a multiset,
//!   not-ready addresses as a multiset, ports with protocol TCP when unset as a multiset)).
//! - EndpointSlice (SPEC §12): labels, annotations, `addressType`, `endpoints` (a multiset, each
//!   with its addresses as a multiset), `ports` (a multiset, name `""` as none, protocol TCP when
//!   unset).
//!
//! Server-set fields (uid, resourceVersion, creationTimestamp, an allocated ClusterIP) are not
//! digested: they never make an update. A multiset is digested as its elements' digests, sorted,
//! so neither a list's order nor a map's changes a digest. A map is digested from its sorted
//! entries ([`map_of_pairs`]), so an endpoint mirror's annotations are digested from its per-pod
//! parts without building them.
//!
//! **Equal digests ⇒ equal group** holds up to a 64-bit collision: SipHash-1-3 with fixed keys
//! (std's `DefaultHasher::new()`: deterministic, no randomness; digests are never persisted),
//! about 2⁻⁶⁴ per comparison. The keys are public, so someone who controls both the old and the
//! new fields of a mirror could search for a collision (≈ 2³² digests) to leave one mirror stale;
//! whoever can do that can already change the export's endpoints. **Different digests ⇒ a change**
//! is exact: a digest is a function of its group as normalised. Property-tested against the
//! field-by-field comparison in `fingerprint_tests.rs`.

use std::hash::{DefaultHasher, Hash, Hasher};

use crate::groups::{EndpointsGroups, ServiceGroups, SliceGroups};
use crate::model::{
    Endpoint, EndpointAddress, EndpointPort, EndpointSlice, EndpointSlicePort, EndpointSubset,
    Endpoints, IntOrString, ObjectReference, Service, ServicePort, StringMap, effective_protocol,
};

/// The digests of a Service's compared groups (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceDigest {
    pub(crate) labels: u64,
    pub(crate) annotations: u64,
    pub(crate) ports: u64,
    /// `spec.type`, `ClusterIP` when unset.
    pub(crate) type_: u64,
    /// Whether the Service has a non-empty selector.
    pub(crate) selector: bool,
}

/// The digests of an Endpoints' compared groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndpointsDigest {
    pub(crate) labels: u64,
    pub(crate) annotations: u64,
    pub(crate) subsets: u64,
}

/// The digests of an EndpointSlice's compared groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SliceDigest {
    pub(crate) labels: u64,
    pub(crate) annotations: u64,
    pub(crate) address_type: u64,
    pub(crate) endpoints: u64,
    pub(crate) ports: u64,
}

impl ServiceDigest {
    /// The digests of `svc`.
    #[must_use]
    pub fn of(svc: &Service) -> Self {
        Self {
            labels: map(&svc.metadata.labels),
            annotations: map(&svc.metadata.annotations),
            ports: service_ports(&svc.spec.ports),
            type_: service_type(svc.spec.type_.as_deref()),
            selector: svc.spec.selector.as_ref().is_some_and(|s| !s.is_empty()),
        }
    }

    /// The groups `plan` finds changed from `have` (observed) to `self` (desired), in `plan`'s
    /// order and words: the selector whenever `have` holds one.
    #[must_use]
    pub fn changes(&self, have: &Self) -> Vec<&'static str> {
        ServiceGroups {
            labels: self.labels != have.labels,
            annotations: self.annotations != have.annotations,
            ports: self.ports != have.ports,
            selector: have.selector,
            type_: self.type_ != have.type_,
        }
        .named()
    }
}

impl EndpointsDigest {
    /// The digests of `ep`.
    #[must_use]
    pub fn of(ep: &Endpoints) -> Self {
        Self {
            labels: map(&ep.metadata.labels),
            annotations: map(&ep.metadata.annotations),
            subsets: subsets(&ep.subsets),
        }
    }

    /// The groups `plan` finds changed from `have` to `self`.
    #[must_use]
    pub fn changes(&self, have: &Self) -> Vec<&'static str> {
        EndpointsGroups {
            labels: self.labels != have.labels,
            annotations: self.annotations != have.annotations,
            subsets: self.subsets != have.subsets,
        }
        .named()
    }
}

impl SliceDigest {
    /// The digests of `slice`.
    #[must_use]
    pub fn of(slice: &EndpointSlice) -> Self {
        Self {
            labels: map(&slice.metadata.labels),
            annotations: map(&slice.metadata.annotations),
            address_type: {
                let mut h = DefaultHasher::new();
                slice.address_type.hash(&mut h);
                h.finish()
            },
            endpoints: multiset(&slice.endpoints, endpoint),
            ports: multiset(&slice.ports, slice_port),
        }
    }

    /// The groups `plan` finds changed from `have` to `self`.
    #[must_use]
    pub fn changes(&self, have: &Self) -> Vec<&'static str> {
        SliceGroups {
            labels: self.labels != have.labels,
            annotations: self.annotations != have.annotations,
            address_type: self.address_type != have.address_type,
            endpoints: self.endpoints != have.endpoints,
            ports: self.ports != have.ports,
        }
        .named()
    }
}

/// The digest of a label or annotation map.
#[must_use]
pub(crate) fn map(map: &StringMap) -> u64 {
    map_of_pairs(map.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

/// The digest of the map of `pairs`, which are sorted by key with unique keys (as a
/// [`StringMap`] iterates): the same as [`map`] of the map they make.
pub(crate) fn map_of_pairs<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> u64 {
    let mut h = DefaultHasher::new();
    let mut n = 0usize;
    for (k, v) in pairs {
        k.hash(&mut h);
        v.hash(&mut h);
        n = n.saturating_add(1);
    }
    h.write_usize(n);
    h.finish()
}

/// The digest of a Service's ports as `plan` compares them.
pub(crate) fn service_ports(ports: &[ServicePort]) -> u64 {
    multiset(ports, service_port)
}

/// The digest of a Service's type, `ClusterIP` when unset.
pub(crate) fn service_type(type_: Option<&str>) -> u64 {
    let mut h = DefaultHasher::new();
    type_.unwrap_or("ClusterIP").hash(&mut h);
    h.finish()
}

/// The digest of an Endpoints' subsets as `plan` compares them.
pub(crate) fn subsets(subsets: &[EndpointSubset]) -> u64 {
    multiset(subsets, subset)
}

/// Digests `items` as a multiset: their digests sorted, then hashed with their count (none:
/// zero; one: a hash of its digest).
fn multiset<T>(items: &[T], digest: impl Fn(&T) -> u64) -> u64 {
    if items.is_empty() {
        return 0;
    }
    let mut digests: Vec<u64> = items.iter().map(digest).collect();
    digests.sort_unstable();
    let mut h = DefaultHasher::new();
    h.write_usize(digests.len());
    for d in &digests {
        h.write_u64(*d);
    }
    h.finish()
}

/// Writes an optional string with its presence, so `None` and `Some("")` differ.
fn opt_str(h: &mut DefaultHasher, s: Option<&str>) {
    match s {
        None => h.write_u8(0),
        Some(s) => {
            h.write_u8(1);
            s.hash(h);
        }
    }
}

fn opt_bool(h: &mut DefaultHasher, b: Option<bool>) {
    h.write_u8(match b {
        None => 0,
        Some(false) => 1,
        Some(true) => 2,
    });
}

fn object_reference(h: &mut DefaultHasher, r: Option<&ObjectReference>) {
    let Some(r) = r else {
        h.write_u8(0);
        return;
    };
    h.write_u8(1);
    opt_str(h, r.kind.as_deref());
    opt_str(h, r.name.as_deref());
    opt_str(h, r.namespace.as_deref());
    opt_str(h, r.uid.as_deref());
    opt_str(h, r.resource_version.as_deref());
}

/// SPEC §7: a port as the API server stores it (`plan`'s `normalized_port`).
fn service_port(p: &ServicePort) -> u64 {
    let mut h = DefaultHasher::new();
    opt_str(&mut h, p.name.as_deref().filter(|n| !n.is_empty()));
    effective_protocol(p.protocol.as_deref()).hash(&mut h);
    h.write_i32(p.port);
    match &p.target_port {
        None => {
            h.write_u8(0);
            h.write_i32(p.port);
        }
        Some(IntOrString::Int(n)) => {
            h.write_u8(0);
            h.write_i32(*n);
        }
        Some(IntOrString::String(s)) => {
            h.write_u8(1);
            s.hash(&mut h);
        }
    }
    h.finish()
}

fn address(a: &EndpointAddress) -> u64 {
    let mut h = DefaultHasher::new();
    a.ip.hash(&mut h);
    opt_str(&mut h, a.hostname.as_deref());
    opt_str(&mut h, a.node_name.as_deref());
    object_reference(&mut h, a.target_ref.as_ref());
    h.finish()
}

/// An Endpoints port with protocol TCP when unset (`plan`'s `canonical_subsets`).
fn endpoint_port(p: &EndpointPort) -> u64 {
    let mut h = DefaultHasher::new();
    opt_str(&mut h, p.name.as_deref());
    h.write_i32(p.port);
    effective_protocol(p.protocol.as_deref()).hash(&mut h);
    opt_str(&mut h, p.app_protocol.as_deref());
    h.finish()
}

fn subset(s: &EndpointSubset) -> u64 {
    let mut h = DefaultHasher::new();
    h.write_u64(multiset(&s.addresses, address));
    h.write_u64(multiset(&s.not_ready_addresses, address));
    h.write_u64(multiset(&s.ports, endpoint_port));
    h.finish()
}

fn endpoint(e: &Endpoint) -> u64 {
    let mut h = DefaultHasher::new();
    h.write_u64(multiset(&e.addresses, |a| {
        let mut h = DefaultHasher::new();
        a.hash(&mut h);
        h.finish()
    }));
    opt_bool(&mut h, e.conditions.ready);
    opt_bool(&mut h, e.conditions.serving);
    opt_bool(&mut h, e.conditions.terminating);
    opt_str(&mut h, e.hostname.as_deref());
    opt_str(&mut h, e.node_name.as_deref());
    opt_str(&mut h, e.zone.as_deref());
    object_reference(&mut h, e.target_ref.as_ref());
    h.finish()
}

/// A slice port with name `""` as none and protocol TCP when unset (`plan`'s
/// `canonical_slice_ports`).
fn slice_port(p: &EndpointSlicePort) -> u64 {
    let mut h = DefaultHasher::new();
    opt_str(&mut h, p.name.as_deref().filter(|n| !n.is_empty()));
    effective_protocol(p.protocol.as_deref()).hash(&mut h);
    match p.port {
        None => h.write_u8(0),
        Some(port) => {
            h.write_u8(1);
            h.write_i32(port);
        }
    }
    opt_str(&mut h, p.app_protocol.as_deref());
    h.finish()
}

#[cfg(test)]
#[path = "fingerprint_tests.rs"]
mod tests;
