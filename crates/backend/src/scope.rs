//! Narrowing a reconcile to one exported Service.
//!
//! The core's [`plan`](svcmirror_core::plan()) deletes every owned object that is not desired, so
//! a plan for one export must only be shown that export's objects. This module decides *which
//! source objects belong to which export* — bookkeeping read from the labels and annotations the
//! core wrote (SPEC §4), never a mirroring decision — and says when it cannot tell, in which case
//! the driver falls back to a whole-link reconcile.

use std::collections::BTreeSet;

use svcmirror_core::labels::{self, HEADLESS_MIRROR_SVC_NAME, REMOTE_SVC_FQ_NAME};
use svcmirror_core::model::{ObjectKey, ObjectMeta};
use svcmirror_core::names::mirror_name;
use svcmirror_core::{Desired, Link, SourceState, Translation, translate};

use crate::cache::{SourceCache, TargetCache};

/// The export an object of this link was written for, read from its `remote-svc-fq-name`
/// annotation: `<name>.<ns>.svc.<domain>` on a mirror and its Endpoints,
/// `<hostname>.<name>.<ns>.svc.<domain>` on an endpoint mirror (which also carries the
/// `headless-mirror-svc-name` label). DNS labels contain no dots, so the split is unambiguous.
/// `None` for an object we do not own or whose annotation does not parse.
pub(crate) fn export_of(meta: &ObjectMeta, link: &Link) -> Option<ObjectKey> {
    if !labels::is_owned_by(meta, link) {
        return None;
    }
    let fq = meta.annotations.get(REMOTE_SVC_FQ_NAME)?;
    let suffix = format!(".svc.{}", link.cluster_domain());
    let parts: Vec<&str> = fq.strip_suffix(&suffix)?.split('.').collect();
    let (name, namespace) = match (
        meta.labels.contains_key(HEADLESS_MIRROR_SVC_NAME),
        &parts[..],
    ) {
        (false, [name, namespace]) | (true, [_, name, namespace]) => (*name, *namespace),
        _ => return None,
    };
    // Mirrors live in the namespace of what they mirror.
    (namespace == meta.namespace() && !name.is_empty()).then(|| ObjectKey::new(namespace, name))
}

/// One export's slice of the world, ready to plan.
pub(crate) struct Scoped {
    /// The export's desired objects.
    pub(crate) desired: Desired,
    /// The source objects in scope: the export's own, plus any object holding a desired name.
    pub(crate) observed: SourceState,
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
pub(crate) fn scope_export(
    link: &Link,
    export: &ObjectKey,
    target: &TargetCache,
    source: &SourceCache,
) -> Result<Scoped, Ambiguous> {
    let ns = export.namespace.as_str();
    let mut translation = translate(
        link,
        &target.export_state(export),
        &source.namespace_state(ns),
    );
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
    for (key, svc) in source.services_in(ns) {
        if !svc.metadata.labels.contains_key(HEADLESS_MIRROR_SVC_NAME)
            && export_of(&svc.metadata, link).as_ref() == Some(export)
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
    let services: Vec<_> = source
        .services_in(ns)
        .filter(|(k, s)| check(k, &s.metadata))
        .map(|(_, s)| s.clone())
        .collect();
    let endpoints: Vec<_> = source
        .endpoints_in(ns)
        .filter(|(k, e)| check(k, &e.metadata))
        .map(|(_, e)| e.clone())
        .collect();
    // EndpointSlices have names of their own (`<mirror>-ipv4`…): a desired one is in scope
    // whoever holds it, an observed one when its labels and annotations say it is this export's
    // (the plan then decides, from `managed-by`, whether it is ours to update or delete).
    let endpoint_slices: Vec<_> = source
        .endpoint_slices_in(ns)
        .filter(|(k, e)| desired_slices.contains(k) || belongs(&e.metadata))
        .map(|(_, e)| e.clone())
        .collect();
    if let Some(key) = ambiguous {
        return Err(Ambiguous { key });
    }

    let mut keys: BTreeSet<ObjectKey> = desired_keys.into_iter().cloned().collect();
    keys.extend(services.iter().map(|s| s.metadata.key()));
    keys.extend(endpoints.iter().map(|e| e.metadata.key()));
    keys.extend(desired_slices.iter().map(|k| (*k).clone()));
    keys.extend(endpoint_slices.iter().map(|e| e.metadata.key()));
    keys.insert(export.clone());
    keys.extend(translation.diagnostics.iter().map(|d| d.object.clone()));
    Ok(Scoped {
        observed: SourceState {
            services,
            endpoints,
            endpoint_slices,
            namespaces: source.namespace_list(),
        },
        desired,
        translation,
        keys,
    })
}

/// The mirror names an export may want with the target as cached: its mirror and one per named
/// address. Used to find status entries (diagnostics about blocked names) that belong to the export
/// even when no object holds those names.
pub(crate) fn wanted_names(
    link: &Link,
    export: &ObjectKey,
    target: &TargetCache,
) -> Vec<ObjectKey> {
    let mut names = vec![ObjectKey::new(
        &export.namespace,
        &mirror_name(&export.name, link.cluster_name()).name,
    )];
    if let Some(ep) = target.endpoints.get(export) {
        for subset in &ep.subsets {
            for addr in subset.addresses.iter().chain(&subset.not_ready_addresses) {
                if let Some(hostname) = addr.hostname.as_deref().filter(|h| !h.is_empty()) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use svcmirror_core::labels::{CLUSTER_NAME, MIRRORED_SERVICE};

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
}
