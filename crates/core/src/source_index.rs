//! What a translation reads of the source cluster (SPEC §6.6, §7), indexed once per call by
//! borrowed `(namespace, name)`: the allocated ClusterIPs of our mirrors, the names held by
//! objects this link does not own, and which namespaces exist.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use crate::labels::{self, REMOTE_RESOURCE_VERSION, RemoteRef};
use crate::link::Link;
use crate::model::{ObjectKey, ObjectMeta};
use crate::record::ObservedService;
use crate::view::SourceView;

/// The source, as the rules of one translation read it.
#[derive(Debug)]
pub(crate) struct SourceIndex<'a> {
    link: &'a Link,
    /// The source's Services.
    services: BTreeMap<(&'a str, &'a str), ObservedService<'a>>,
    /// The source's Endpoints that this link does not own.
    foreign_endpoints: BTreeMap<(&'a str, &'a str), &'a ObjectMeta>,
    /// The source's namespaces; `None` when unknown (then every namespace exists).
    namespaces: Option<BTreeSet<&'a str>>,
}

impl<'a> SourceIndex<'a> {
    /// Indexes `source` for `link`.
    pub(crate) fn new(link: &'a Link, source: &'a (impl SourceView + ?Sized)) -> Self {
        Self {
            link,
            services: source
                .each_service()
                .map(|s| (s.metadata().key_ref(), s))
                .collect(),
            foreign_endpoints: source
                .each_endpoints()
                .map(|e| e.metadata())
                .filter(|meta| !labels::is_owned_by(meta, link))
                .map(|meta| (meta.key_ref(), meta))
                .collect(),
            namespaces: source.namespace_names().map(Iterator::collect),
        }
    }

    /// The source's Service at `key`.
    pub(crate) fn service(&self, key: &ObjectKey) -> Option<ObservedService<'a>> {
        self.services.get(&key.key_ref()).copied()
    }

    /// The metadata of the source's Endpoints at `key`, when this link does not own them.
    pub(crate) fn foreign_endpoints(&self, key: &ObjectKey) -> Option<&'a ObjectMeta> {
        self.foreign_endpoints.get(&key.key_ref()).copied()
    }

    /// Whether the namespace exists in the source (every one does when the source's are unknown).
    pub(crate) fn has_namespace(&self, namespace: &str) -> bool {
        self.namespaces
            .as_ref()
            .is_none_or(|all| all.contains(namespace))
    }

    /// The ClusterIP the source allocated to our Service at `key`, if it exists already (SPEC
    /// §6.6: a root records a hostname once its endpoint mirror has one).
    pub(crate) fn allocated_ip(&self, key: &ObjectKey) -> Option<IpAddr> {
        let svc = self.service(key)?;
        if !labels::is_owned_by(svc.metadata(), self.link) {
            return None;
        }
        svc.cluster_ip()?.parse().ok()
    }

    /// Whether our Service at `key` holds a ClusterIP (SPEC §8: the link's budget counts it).
    pub(crate) fn holds_cluster_ip(&self, key: &ObjectKey) -> bool {
        self.allocated_ip(key).is_some()
    }

    /// The `remote-resource-version` of our observed endpoint mirror at `key`, when it serves
    /// `claimant` already (SPEC §4: set at creation, then kept).
    pub(crate) fn kept_resource_version(
        &self,
        key: &ObjectKey,
        claimant: &RemoteRef,
    ) -> Option<&'a str> {
        let svc = self.service(key)?;
        if labels::remote_ref(svc.metadata(), self.link).as_ref() != Some(claimant) {
            return None;
        }
        svc.metadata()
            .annotations
            .get(REMOTE_RESOURCE_VERSION)
            .map(String::as_str)
    }
}
