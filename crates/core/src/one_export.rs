//! One export against the store (issue 13, SPEC §5–§7): [`translate_export`] translates a single
//! exported Service, reading only the source objects at the names it may want, so its cost
//! follows the export, never its namespace or the link. What an embedding controller calls on an
//! event; a whole-link [`crate::translate()`] still decides what spans exports (who keeps a name,
//! the ClusterIP budget).
//!
//! The stores are read through two small traits of [`crate::view`], [`TargetLookup`] and
//! [`SourceLookup`], by key: the core's own [`TargetState`]/[`SourceState`] and
//! [`crate::TargetStore`]/[`crate::SourceStore`] implement them, and so can any keyed cache.

use std::collections::BTreeSet;

use crate::link::Link;
use crate::model::{Namespace, ObjectKey};
use crate::names::{is_dns1123_label, mirror_name};
use crate::record::{ObservedEndpoints, ObservedService, ObservedSlice};
use crate::state::TargetState;
use crate::translate::{Translation, translate};
use crate::view::{SourceLookup, SourceView, TargetLookup};

/// The source objects at the names an export's translation looked up, read in place (a list's
/// objects or a store's records), in key order.
struct Picked<'a, S: ?Sized> {
    source: &'a S,
    keys: &'a BTreeSet<ObjectKey>,
    namespaces: Option<Vec<Namespace>>,
}

impl<S: SourceLookup + ?Sized> SourceLookup for Picked<'_, S> {
    fn service(&self, key: &ObjectKey) -> Option<ObservedService<'_>> {
        self.keys
            .contains(key)
            .then(|| self.source.service(key))
            .flatten()
    }
    fn endpoints(&self, key: &ObjectKey) -> Option<ObservedEndpoints<'_>> {
        self.keys
            .contains(key)
            .then(|| self.source.endpoints(key))
            .flatten()
    }
    fn namespaces(&self) -> Option<Vec<Namespace>> {
        self.namespaces.clone()
    }
}

impl<S: SourceLookup + ?Sized> SourceView for Picked<'_, S> {
    fn each_service(&self) -> impl Iterator<Item = ObservedService<'_>> {
        self.keys.iter().filter_map(|k| self.source.service(k))
    }
    fn each_endpoints(&self) -> impl Iterator<Item = ObservedEndpoints<'_>> {
        self.keys.iter().filter_map(|k| self.source.endpoints(k))
    }
    fn each_endpoint_slice(&self) -> impl Iterator<Item = ObservedSlice<'_>> {
        std::iter::empty()
    }
    fn namespace_names(&self) -> Option<impl Iterator<Item = &str>> {
        self.namespaces
            .as_ref()
            .map(|all| all.iter().map(|ns| ns.metadata.name.as_str()))
    }
}

/// The mirror names an export may want with the target as it is: its mirror and one per address
/// with a valid `hostname` (SPEC §3 names). An invalid hostname names no endpoint mirror (the
/// translation reports it, `InvalidHostname`).
#[must_use]
pub fn wanted_names(link: &Link, export: &ObjectKey, target: &impl TargetLookup) -> Vec<ObjectKey> {
    let mut names = vec![ObjectKey::new(
        &export.namespace,
        &mirror_name(&export.name, link.cluster_name()).name,
    )];
    if let Some(ep) = target.endpoints(export) {
        for subset in &ep.subsets {
            for addr in subset.addresses.iter().chain(&subset.not_ready_addresses) {
                if let Some(hostname) = addr.hostname.as_deref().filter(|h| is_dns1123_label(h)) {
                    names.push(ObjectKey::new(
                        &export.namespace,
                        &mirror_name(hostname, link.cluster_name()).name,
                    ));
                }
            }
        }
    }
    names
}

/// One export's translation, shown only the source objects at the names it may want.
///
/// The core reads the source by name only — the ClusterIPs of our endpoint mirrors, names held by
/// objects we do not own, and which namespaces exist ([`translate`]'s contract) — and a name it
/// wants and finds free, it desires. So: translate against the objects at [`wanted_names`]; if
/// the result desires a name that was not looked up, look it up too and translate again. Each
/// round adds names, so this ends, and the last round saw every name the export considered, as
/// its translation against the whole namespace would.
#[must_use]
pub fn translate_export(
    link: &Link,
    export: &ObjectKey,
    target: &impl TargetLookup,
    source: &impl SourceLookup,
) -> Translation {
    let target_state = TargetState::new(
        target.service(export).cloned().into_iter().collect(),
        target.endpoints(export).cloned().into_iter().collect(),
    );
    let namespaces = source.namespaces();
    let mut looked_up: BTreeSet<ObjectKey> =
        wanted_names(link, export, target).into_iter().collect();
    loop {
        let seen = Picked {
            source,
            keys: &looked_up,
            namespaces: namespaces.clone(),
        };
        let translation = translate(link, &target_state, &seen);
        let unseen: Vec<ObjectKey> = translation
            .desired
            .services
            .keys()
            .chain(translation.desired.endpoints.keys())
            .filter(|k| !looked_up.contains(*k))
            .cloned()
            .collect();
        if unseen.is_empty() {
            return translation;
        }
        looked_up.extend(unseen);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::MIRRORED_SERVICE;
    use crate::model::{
        CLUSTER_IP_NONE, EndpointAddress, EndpointSubset, Endpoints, Service, ServicePort,
    };
    use crate::state::SourceState;

    fn link() -> Link {
        Link::builder("west")
            .gateway_address("172.18.0.4".parse().expect("ip"))
            .enable_headless_services(true)
            .build()
            .expect("link")
    }

    fn exported(name: &str, headless: bool, pods: &[&str]) -> (Service, Endpoints) {
        let mut svc = Service::new("data", name);
        svc.metadata
            .labels
            .insert("mirror.linkerd.io/exported".to_owned(), "true".to_owned());
        svc.spec.ports = vec![ServicePort {
            name: Some("tcp".to_owned()),
            port: 9092,
            ..ServicePort::default()
        }];
        if headless {
            svc.spec.cluster_ip = Some(CLUSTER_IP_NONE.to_owned());
        }
        let mut ep = Endpoints::new("data", name);
        ep.subsets = vec![EndpointSubset {
            addresses: pods
                .iter()
                .enumerate()
                .map(|(i, pod)| EndpointAddress {
                    ip: format!("10.0.0.{}", i + 1),
                    hostname: Some((*pod).to_owned()),
                    ..EndpointAddress::default()
                })
                .collect(),
            ..EndpointSubset::default()
        }];
        (svc, ep)
    }

    /// Issue 13 (one export against the store): an export's translation alone desires exactly
    /// what the whole link's translation desires for it — with a name held by an object this link
    /// does not own (SPEC §7: `NameConflict`, that endpoint mirror left out) in the source.
    #[test]
    fn one_exports_translation_is_its_share_of_the_whole_links() {
        let (kafka, kafka_ep) = exported("kafka", true, &["broker-0", "broker-1", "broker-2"]);
        let (web, web_ep) = exported("web", false, &[]);
        let target = TargetState::new(vec![kafka, web], vec![kafka_ep, web_ep]);
        let mut foreign = Service::new("data", "broker-1-west");
        foreign
            .metadata
            .labels
            .insert(MIRRORED_SERVICE.to_owned(), "false".to_owned());
        let source = SourceState::new(vec![foreign], Vec::new());
        let link = link();
        let whole = translate(&link, &target, &source);
        for name in ["kafka", "web"] {
            let export = ObjectKey::new("data", name);
            let one = translate_export(&link, &export, &target, &source);
            assert_eq!(
                one.exports.get(&export),
                whole.exports.get(&export),
                "{name}"
            );
            let keys = whole.exports[&export].object_keys("data");
            let services: BTreeSet<&ObjectKey> = one.desired.services.keys().collect();
            assert_eq!(services, keys.iter().collect(), "{name}");
            for key in &keys {
                assert_eq!(
                    one.desired.services.get(key),
                    whole.desired.services.get(key)
                );
                assert_eq!(
                    one.desired.endpoints.get(key),
                    whole.desired.endpoints.get(key)
                );
            }
            assert_eq!(
                one.export_diagnostics.get(&export),
                whole.export_diagnostics.get(&export)
            );
        }
        let kafka = &whole.exports[&ObjectKey::new("data", "kafka")];
        assert_eq!(kafka.endpoint_mirrors, ["broker-0-west", "broker-2-west"]);
    }
}
