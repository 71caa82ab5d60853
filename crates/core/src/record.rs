//! The observed source as compact records (issue 13 item 3): what the core reads of an observed
//! object, and nothing else. A [`crate::SourceStore`] keeps every Service, Endpoints and
//! EndpointSlice as a record — its metadata (every ownership, claim and dependency rule reads
//! labels and annotations, SPEC §7; `plan` copies uid, resourceVersion and creationTimestamp
//! into an update), the ClusterIPs the source allocated (SPEC §6.6), and one digest per field
//! group `plan` compares ([`crate::fingerprint`]) instead of the groups themselves (ports,
//! subsets, endpoints: the bulk of an object). The federation's own Services are kept in full:
//! a writer that is not the lead copies their fields (SPEC §9).
//!
//! Readers see either form through [`ObservedService`], [`ObservedEndpoints`] and
//! [`ObservedSlice`]: a list ([`crate::SourceState`]) hands out its full objects, a store its
//! records, and every accessor answers alike for both (`tests/properties.rs`: a store plans and
//! translates as its snapshot).

use crate::fingerprint::{EndpointsDigest, ServiceDigest, SliceDigest};
use crate::model::{EndpointSlice, Endpoints, ObjectMeta, Service};

/// An observed Service as a store keeps it (see the module doc).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceRecord {
    metadata: ObjectMeta,
    cluster_ip: Option<String>,
    /// `spec.clusterIPs`, unless `ips_are_ip`.
    cluster_ips: Vec<String>,
    /// Whether `spec.clusterIPs` is exactly `[clusterIP]` (as the API server sets it for a
    /// single-stack Service): then it is read from `cluster_ip`, not held twice.
    ips_are_ip: bool,
    digest: ServiceDigest,
}

/// An observed Endpoints as a store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointsRecord {
    metadata: ObjectMeta,
    digest: EndpointsDigest,
}

/// An observed EndpointSlice as a store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SliceRecord {
    metadata: ObjectMeta,
    digest: SliceDigest,
}

impl ServiceRecord {
    /// The record of `svc`.
    #[must_use]
    pub fn of(svc: Service) -> Self {
        let digest = ServiceDigest::of(&svc);
        let mut cluster_ips = svc.spec.cluster_ips;
        let ips_are_ip = svc.spec.cluster_ip.is_some()
            && cluster_ips.len() == 1
            && cluster_ips.first() == svc.spec.cluster_ip.as_ref();
        if ips_are_ip {
            cluster_ips = Vec::new();
        }
        Self {
            digest,
            metadata: svc.metadata,
            cluster_ip: svc.spec.cluster_ip,
            cluster_ips,
            ips_are_ip,
        }
    }

    pub(crate) fn metadata_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

impl EndpointsRecord {
    /// The record of `ep`.
    #[must_use]
    pub fn of(ep: Endpoints) -> Self {
        Self {
            digest: EndpointsDigest::of(&ep),
            metadata: ep.metadata,
        }
    }

    pub(crate) fn metadata_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

impl SliceRecord {
    /// The record of `slice`.
    #[must_use]
    pub fn of(slice: EndpointSlice) -> Self {
        Self {
            digest: SliceDigest::of(&slice),
            metadata: slice.metadata,
        }
    }

    pub(crate) fn metadata_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

/// An observed Service, as a list or a store gives it.
#[derive(Debug, Clone, Copy)]
pub enum ObservedService<'a> {
    /// The object (a list, or a federated Service in a store).
    Full(&'a Service),
    /// A store's record.
    Record(&'a ServiceRecord),
}

/// An observed Endpoints, as a list or a store gives it.
#[derive(Debug, Clone, Copy)]
pub enum ObservedEndpoints<'a> {
    /// The object.
    Full(&'a Endpoints),
    /// A store's record.
    Record(&'a EndpointsRecord),
}

/// An observed EndpointSlice, as a list or a store gives it.
#[derive(Debug, Clone, Copy)]
pub enum ObservedSlice<'a> {
    /// The object.
    Full(&'a EndpointSlice),
    /// A store's record.
    Record(&'a SliceRecord),
}

impl<'a> ObservedService<'a> {
    /// Its metadata.
    #[must_use]
    pub fn metadata(self) -> &'a ObjectMeta {
        match self {
            Self::Full(s) => &s.metadata,
            Self::Record(r) => &r.metadata,
        }
    }

    /// Its `spec.clusterIP`.
    #[must_use]
    pub fn cluster_ip(self) -> Option<&'a str> {
        match self {
            Self::Full(s) => s.spec.cluster_ip.as_deref(),
            Self::Record(r) => r.cluster_ip.as_deref(),
        }
    }

    /// Its `spec.clusterIPs`.
    #[must_use]
    pub fn cluster_ips(self) -> &'a [String] {
        match self {
            Self::Full(s) => &s.spec.cluster_ips,
            Self::Record(r) => match &r.cluster_ip {
                Some(ip) if r.ips_are_ip => std::slice::from_ref(ip),
                _ => &r.cluster_ips,
            },
        }
    }

    /// Whether it is headless (`clusterIP: None`).
    #[must_use]
    pub fn is_headless(self) -> bool {
        self.cluster_ip() == Some(crate::model::CLUSTER_IP_NONE)
    }

    /// The object, when held in full.
    #[must_use]
    pub fn full(self) -> Option<&'a Service> {
        match self {
            Self::Full(s) => Some(s),
            Self::Record(_) => None,
        }
    }

    /// The digests of its compared groups (taken now for a full object).
    #[must_use]
    pub fn digest(self) -> ServiceDigest {
        match self {
            Self::Full(s) => ServiceDigest::of(s),
            Self::Record(r) => r.digest,
        }
    }
}

impl<'a> ObservedEndpoints<'a> {
    /// Its metadata.
    #[must_use]
    pub fn metadata(self) -> &'a ObjectMeta {
        match self {
            Self::Full(e) => &e.metadata,
            Self::Record(r) => &r.metadata,
        }
    }

    /// The object, when held in full.
    #[must_use]
    pub fn full(self) -> Option<&'a Endpoints> {
        match self {
            Self::Full(e) => Some(e),
            Self::Record(_) => None,
        }
    }

    /// The digests of its compared groups (taken now for a full object).
    #[must_use]
    pub fn digest(self) -> EndpointsDigest {
        match self {
            Self::Full(e) => EndpointsDigest::of(e),
            Self::Record(r) => r.digest,
        }
    }
}

impl<'a> ObservedSlice<'a> {
    /// Its metadata.
    #[must_use]
    pub fn metadata(self) -> &'a ObjectMeta {
        match self {
            Self::Full(e) => &e.metadata,
            Self::Record(r) => &r.metadata,
        }
    }

    /// The object, when held in full.
    #[must_use]
    pub fn full(self) -> Option<&'a EndpointSlice> {
        match self {
            Self::Full(e) => Some(e),
            Self::Record(_) => None,
        }
    }

    /// The digests of its compared groups (taken now for a full object).
    #[must_use]
    pub fn digest(self) -> SliceDigest {
        match self {
            Self::Full(e) => SliceDigest::of(e),
            Self::Record(r) => r.digest,
        }
    }
}
