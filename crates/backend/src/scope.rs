//! Narrowing a reconcile to one exported Service.
//!
//! The core's [`plan`](svcmirror_core::plan()) deletes every owned object that is not desired, so
//! a plan for one export must only be shown that export's objects. This module decides *which
//! source objects belong to which export* — bookkeeping read from the labels and annotations the
//! core wrote (SPEC §4), never a mirroring decision — and says when it cannot tell, in which case
//! the driver falls back to a whole-link reconcile: a desired name held by another export's
//! object, or a free desired name another export may also want (SPEC §7: the first export in
//! order gets it, and one export's view cannot tell who is first).

use std::collections::BTreeSet;

use svcmirror_core::labels::{self, HEADLESS_MIRROR_SVC_NAME, export_of};
use svcmirror_core::model::{Kind, ObjectKey, ObjectMeta};
use svcmirror_core::{Desired, Link, Translation, mirror_name, translate_export};

use crate::cache::{SourceCache, TargetCache};

/// One export's slice of the world, ready to plan.
pub(crate) struct Scoped {
    /// The export's desired objects.
    pub(crate) desired: Desired,
    /// The source objects in scope: the export's own, plus any object holding a desired name
    /// (the store's records, cloned: issue 13 item 3).
    pub(crate) observed: SourceCache,
    /// The rest of the export's translation (its outcome and findings; `desired` moved out).
    pub(crate) translation: Translation,
    /// Every key the scope touched (desired, observed, the export itself).
    pub(crate) keys: BTreeSet<ObjectKey>,
}

/// Why one export cannot be reconciled on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ambiguous {
    /// The object whose ownership is unclear.
    pub(crate) key: ObjectKey,
}

/// Translates one export and gathers the source objects it may plan against.
///
/// Ambiguous when a desired name is held by an object of this link that belongs to another export
/// (or to no export we can tell): only the whole-link translation decides who keeps a name.
///
/// Costs in proportion to the export, never to its namespace: the translation is shown only the
/// source objects at the names the export may want, and the plan only the export's own objects
/// (from the cache's owner indexes) plus those holding a desired name.
pub(crate) fn scope_export(
    link: &Link,
    export: &ObjectKey,
    target: &TargetCache,
    source: &SourceCache,
) -> Result<Scoped, Ambiguous> {
    let ns = export.namespace.as_str();
    let mut translation = translate_export(link, export, target, source);
    let desired = std::mem::take(&mut translation.desired);
    let desired_keys: BTreeSet<&ObjectKey> = desired
        .services
        .keys()
        .chain(desired.endpoints.keys())
        .collect();
    let desired_slices: BTreeSet<&ObjectKey> = desired.endpoint_slices.keys().collect();

    // Root mirror names of this export, desired or left over: endpoint mirrors point at them.
    let mut roots: BTreeSet<String> = translation
        .exports
        .get(export)
        .and_then(|o| o.mirror.clone())
        .into_iter()
        .collect();
    roots.insert(mirror_name(&export.name, link.cluster_name()).name);
    for (kind, key) in source.annotated_for(export) {
        if *kind == Kind::Service
            && let Some(svc) = source.service(key)
            && !svc.metadata().labels.contains_key(HEADLESS_MIRROR_SVC_NAME)
            && export_of(svc.metadata(), link).as_ref() == Some(export)
        {
            roots.insert(key.name.clone());
        }
    }

    // Ours by annotation, or (annotation missing) by the root-mirror label.
    let belongs = |meta: &ObjectMeta| match export_of(meta, link) {
        Some(owner) => &owner == export,
        None => {
            labels::is_owned_by(meta, link)
                && meta
                    .labels
                    .get(HEADLESS_MIRROR_SVC_NAME)
                    .is_some_and(|root| roots.contains(root))
        }
    };
    // Candidates: what the indexes attribute to the export or to one of its roots (a superset,
    // checked with `belongs`), and whatever holds a desired name.
    let mut candidates: BTreeSet<(Kind, &ObjectKey)> = source
        .annotated_for(export)
        .chain(roots.iter().flat_map(|r| source.labelled_with_root(ns, r)))
        .map(|(kind, key)| (*kind, key))
        .collect();
    for key in &desired_keys {
        candidates.insert((Kind::Service, key));
        candidates.insert((Kind::Endpoints, key));
    }
    candidates.extend(desired_slices.iter().map(|k| (Kind::EndpointSlice, *k)));

    let mut ambiguous = None;
    let mut check = |key: &ObjectKey, meta: &ObjectMeta| -> bool {
        let mine = belongs(meta);
        if desired_keys.contains(key) {
            if labels::is_owned_by(meta, link) && !mine && ambiguous.is_none() {
                ambiguous = Some(key.clone());
            }
            return true;
        }
        mine
    };
    let keys_of = |kind: Kind| {
        candidates
            .iter()
            .filter(move |(k, _)| *k == kind)
            .map(|(_, key)| *key)
    };
    let services: Vec<&ObjectKey> = keys_of(Kind::Service)
        .filter(|k| source.service(k).is_some_and(|s| check(k, s.metadata())))
        .collect();
    let endpoints: Vec<&ObjectKey> = keys_of(Kind::Endpoints)
        .filter(|k| source.endpoints(k).is_some_and(|e| check(k, e.metadata())))
        .collect();
    // EndpointSlices have names of their own (`<mirror>-ipv4`…): a desired one is in scope
    // whoever holds it, an observed one when its labels and annotations say it is this export's
    // (the plan then decides, from `managed-by`, whether it is ours to update or delete).
    let endpoint_slices: Vec<&ObjectKey> = keys_of(Kind::EndpointSlice)
        .filter(|k| {
            source
                .endpoint_slice(k)
                .is_some_and(|e| desired_slices.contains(k) || belongs(e.metadata()))
        })
        .collect();
    if let Some(key) = ambiguous {
        return Err(Ambiguous { key });
    }
    // SPEC §7: a name nobody holds goes to the first export in (namespace, name) order that wants
    // it; when another export may want a free name this export desires, only the whole link can
    // tell who is first (finding F16).
    for base in target.bases_of(export) {
        let key = ObjectKey::new(ns, &mirror_name(base, link.cluster_name()).name);
        let free = source.service(&key).is_none() && source.endpoints(&key).is_none();
        if free && desired_keys.contains(&key) && target.contested(export, base) {
            return Err(Ambiguous { key });
        }
    }

    let mut keys: BTreeSet<ObjectKey> = desired_keys.into_iter().cloned().collect();
    keys.extend(services.iter().map(|k| (*k).clone()));
    keys.extend(endpoints.iter().map(|k| (*k).clone()));
    keys.extend(desired_slices.iter().map(|k| (*k).clone()));
    keys.extend(endpoint_slices.iter().map(|k| (*k).clone()));
    keys.insert(export.clone());
    keys.extend(translation.diagnostics.iter().map(|d| d.object.clone()));
    Ok(Scoped {
        observed: source.subset(
            services
                .into_iter()
                .map(|k| (Kind::Service, k))
                .chain(endpoints.into_iter().map(|k| (Kind::Endpoints, k)))
                .chain(
                    endpoint_slices
                        .into_iter()
                        .map(|k| (Kind::EndpointSlice, k)),
                ),
        ),
        desired,
        translation,
        keys,
    })
}

/// The mirror names an export may want with the target as cached (the core's
/// [`wanted_names`](svcmirror_core::wanted_names)): used to find status entries
/// (diagnostics about blocked names) that belong to the export even when no object holds them.
pub(crate) use svcmirror_core::wanted_names;

#[cfg(test)]
mod tests {
    use super::*;
    use svcmirror_core::labels::{CLUSTER_NAME, MIRRORED_SERVICE, REMOTE_SVC_FQ_NAME};
    use svcmirror_core::model::{
        EndpointAddress, EndpointPort, EndpointSubset, Endpoints, Service, ServicePort,
    };
    use svcmirror_core::translate;
    use svcmirror_core::{SourceState, TargetState};

    fn link() -> Link {
        Link::builder("west")
            .gateway_address("172.18.0.4".parse().expect("ip"))
            .build()
            .expect("link")
    }

    fn meta(ns: &str, fq: &str, root: Option<&str>, cluster: &str) -> ObjectMeta {
        let mut m = ObjectMeta {
            name: "x".into(),
            namespace: ns.into(),
            ..ObjectMeta::default()
        };
        m.labels.insert(MIRRORED_SERVICE.into(), "true".into());
        m.labels.insert(CLUSTER_NAME.into(), cluster.into());
        if let Some(root) = root {
            m.labels
                .insert(HEADLESS_MIRROR_SVC_NAME.into(), root.into());
        }
        m.annotations.insert(REMOTE_SVC_FQ_NAME.into(), fq.into());
        m
    }

    #[test]
    fn mirrors_and_endpoint_mirrors_are_attributed_to_their_export() {
        let link = link();
        let want = Some(ObjectKey::new("default", "nginx-svc"));
        let mirror = meta(
            "default",
            "nginx-svc.default.svc.cluster.local",
            None,
            "west",
        );
        assert_eq!(export_of(&mirror, &link), want);
        let endpoint_mirror = meta(
            "default",
            "nginx-set-0.nginx-svc.default.svc.cluster.local",
            Some("nginx-svc-west"),
            "west",
        );
        assert_eq!(export_of(&endpoint_mirror, &link), want);
    }

    #[test]
    fn foreign_malformed_or_misplaced_objects_are_not_attributed() {
        let link = link();
        let other_link = meta(
            "default",
            "nginx-svc.default.svc.cluster.local",
            None,
            "east",
        );
        assert_eq!(export_of(&other_link, &link), None);
        let other_domain = meta("default", "nginx-svc.default.svc.example.org", None, "west");
        assert_eq!(export_of(&other_domain, &link), None);
        let wrong_shape = meta(
            "default",
            "a.nginx-svc.default.svc.cluster.local",
            None,
            "west",
        );
        assert_eq!(export_of(&wrong_shape, &link), None);
        let other_namespace = meta("other", "nginx-svc.default.svc.cluster.local", None, "west");
        assert_eq!(export_of(&other_namespace, &link), None);
    }

    fn headless_export(ns: &str, name: &str, hosts: &[&str]) -> (Service, Endpoints) {
        let mut svc = Service::new(ns, name);
        svc.metadata
            .labels
            .insert("mirror.linkerd.io/exported".into(), "true".into());
        svc.spec.cluster_ip = Some("None".into());
        svc.spec.ports = vec![ServicePort {
            name: Some("http".into()),
            protocol: Some("TCP".into()),
            port: 80,
            ..ServicePort::default()
        }];
        let mut ep = Endpoints::new(ns, name);
        ep.subsets = vec![EndpointSubset {
            addresses: hosts
                .iter()
                .enumerate()
                .map(|(i, h)| EndpointAddress {
                    ip: format!("10.42.0.{}", 10 + i),
                    hostname: Some((*h).to_owned()),
                    ..EndpointAddress::default()
                })
                .collect(),
            ports: vec![EndpointPort {
                name: Some("http".into()),
                port: 80,
                protocol: Some("TCP".into()),
                ..EndpointPort::default()
            }],
            ..EndpointSubset::default()
        }];
        (svc, ep)
    }

    /// The one-export translation sees only the names the export may want, yet decides as the
    /// translation against its whole namespace does: allocated IPs, a foreign name (SPEC §7
    /// `NameConflict`), another export's mirrors around it.
    #[test]
    fn translate_export_equals_the_translation_against_the_namespace() {
        let link = Link::builder("west")
            .gateway_address("172.18.0.4".parse().expect("ip"))
            .enable_headless_services(true)
            .build()
            .expect("link");
        let (a, a_ep) = headless_export("default", "nginx-svc", &["nginx-set-0", "nginx-set-1"]);
        let (b, b_ep) = headless_export("default", "web", &["web-0"]);
        let target = TargetCache::from_state(TargetState::new(vec![a, b], vec![a_ep, b_ep]));
        // The source as a first pass left it, with ClusterIPs allocated, plus a foreign Service
        // holding one endpoint mirror's name.
        let first = translate(&link, &target.state(), &SourceState::default());
        let mut services: Vec<Service> = first.desired.clone().into_services().collect();
        for (i, svc) in services.iter_mut().enumerate() {
            svc.spec.cluster_ip = Some(format!("10.43.0.{}", 10 + i));
        }
        services.retain(|s| s.metadata.name != "nginx-set-1-west");
        services.push(Service::new("default", "nginx-set-1-west"));
        let source_list = SourceState::new(services, first.desired.into_endpoints().collect());
        let source = SourceCache::from_state(source_list.clone());

        for export in [
            ObjectKey::new("default", "nginx-svc"),
            ObjectKey::new("default", "web"),
        ] {
            let whole_namespace = translate(&link, &target.export_state(&export), &source_list);
            let scoped = translate_export(&link, &export, &target, &source);
            assert_eq!(scoped, whole_namespace, "{export}");
        }
        let nginx = translate_export(
            &link,
            &ObjectKey::new("default", "nginx-svc"),
            &target,
            &source,
        );
        assert!(
            nginx
                .diagnostics
                .iter()
                .any(|d| d.reason == svcmirror_core::Reason::NameConflict),
            "{:?}",
            nginx.diagnostics
        );
    }
}
