//! SPEC §4: the labels and annotations written on mirror objects, and which target ones are copied.

use crate::link::{KeyPattern, Link};

/// SPEC §12: the annotation on a target Service that chooses how its pods are named (kept beside
/// the policy it selects, listed here with every other key).
pub use crate::hostname_policy::HOSTNAME_POLICY_ANNOTATION;
use crate::model::{ObjectKey, ObjectMeta, StringMap};

/// Label: `"true"` on every object the mirror owns.
pub const MIRRORED_SERVICE: &str = "mirror.linkerd.io/mirrored-service";
/// Label: the target cluster's name, on every object the mirror owns.
pub const CLUSTER_NAME: &str = "mirror.linkerd.io/cluster-name";
/// Label: on an endpoint mirror, the name of its root mirror.
pub const HEADLESS_MIRROR_SVC_NAME: &str = "mirror.linkerd.io/headless-mirror-svc-name";
/// Label (remote discovery): the target cluster's name.
pub const REMOTE_DISCOVERY_LABEL: &str = "multicluster.linkerd.io/remote-discovery";
/// Label (remote discovery): the exported Service's name.
pub const REMOTE_SERVICE: &str = "multicluster.linkerd.io/remote-service";

/// Label (federated, SPEC §9): `"true"` on every federated Service svcmirror owns. Together with
/// `mirrored-service: "true"` and the *absence* of `cluster-name` it is the federation's ownership
/// mark, disjoint from every link's (which requires `cluster-name`), so a per-link plan never
/// touches a federated Service and the federated plan never touches a link's mirror. It is ours,
/// not Linkerd's: a federated Service Linkerd created is not adopted (a `NameConflict`).
pub const FEDERATED: &str = "svcmirror.io/federated";

/// Label (EndpointSlice): the Service a slice belongs to; how kube-proxy, CoreDNS and every
/// slice consumer find it.
pub const SLICE_SERVICE_NAME: &str = "kubernetes.io/service-name";
/// Label (EndpointSlice): the controller that manages a slice.
pub const SLICE_MANAGED_BY: &str = "endpointslice.kubernetes.io/managed-by";
/// Our value of [`SLICE_MANAGED_BY`]: never the endpointslice controllers' own
/// (`endpointslice-controller.k8s.io`, `endpointslicemirroring-controller.k8s.io`), which would
/// then fight over our slices.
pub const SLICE_MANAGER: &str = "svcmirror.io";
/// Label (EndpointSlice, MCS API): the cluster the endpoints come from.
pub const MCS_SOURCE_CLUSTER: &str = "multicluster.kubernetes.io/source-cluster";
/// Label (EndpointSlice, MCS API): the exported Service's name.
pub const MCS_SERVICE_NAME: &str = "multicluster.kubernetes.io/service-name";
/// Label (Endpoints): `"true"` tells Kubernetes' endpointslice mirroring controller not to turn
/// these Endpoints into slices; set on mirror Endpoints when the link writes slices itself.
pub const SKIP_MIRROR: &str = "endpointslice.kubernetes.io/skip-mirror";

/// Annotation: the fully qualified name of what a mirror stands for in the target cluster.
pub const REMOTE_SVC_FQ_NAME: &str = "mirror.linkerd.io/remote-svc-fq-name";
/// Annotation: the target object's resourceVersion the mirror was made from.
pub const REMOTE_RESOURCE_VERSION: &str = "mirror.linkerd.io/remote-resource-version";
/// Annotation: the gateway's identity, on mirror Endpoints.
pub const REMOTE_GATEWAY_IDENTITY: &str = "mirror.linkerd.io/remote-gateway-identity";
/// Linkerd's gateway Service annotation (in the target) naming the gateway's identity, which
/// `linkerd multicluster link` (and `svcmirror link`) copies into the Link's `gatewayIdentity`.
pub const GATEWAY_IDENTITY: &str = "mirror.linkerd.io/gateway-identity";
/// Linkerd's gateway Service annotation: the path of the gateway's probe (`probeSpec.path`).
pub const GATEWAY_PROBE_PATH: &str = "mirror.linkerd.io/probe-path";
/// Linkerd's gateway Service annotation: the probe's period, in seconds or as a Go duration
/// (`probeSpec.period`).
pub const GATEWAY_PROBE_PERIOD: &str = "mirror.linkerd.io/probe-period";

/// Annotation (federated, SPEC §9): the remote members, `<name>@<cluster>[,…]`, sorted.
pub const REMOTE_DISCOVERY_ANNOTATION: &str = "multicluster.linkerd.io/remote-discovery";
/// Annotation (federated, SPEC §9): the local member's name.
pub const LOCAL_DISCOVERY_ANNOTATION: &str = "multicluster.linkerd.io/local-discovery";

/// SPEC §4 copy deny-list: target label and annotation keys that are never copied onto a mirror,
/// whatever the link's exclusions say, because they change how Kubernetes, kube-proxy, the
/// EndpointSlice controllers, Linkerd or a deployment tool in the *source* cluster treats the mirror
/// (issue 14: a copied `service.kubernetes.io/service-proxy-name` makes kube-proxy ignore the mirror,
/// a copied `multicluster.linkerd.io/remote-discovery` turns it into a remote-discovery mirror).
/// An entry ending in `/` denies every key of that prefix; any other entry is an exact key. This is
/// the one place the list is written (SPEC §4 and README.md cite it); the mirror's own labels and
/// annotations are set by us afterwards.
///
/// Considered and left out (copied): `app.kubernetes.io/*` other than `managed-by` (the
/// recommended labels, which users select on; `app.kubernetes.io/instance` is also Argo CD's legacy
/// tracking label — exclude it per link when Argo CD manages the source with that method),
/// `topology.kubernetes.io/*` and `node.kubernetes.io/*` (read on Nodes and volumes, inert on a
/// Service), `config.linkerd.io/*` and other `*.linkerd.io/*` client settings (they describe the
/// exported service; `config.linkerd.io/opaque-ports` is always copied).
pub const COPY_DENY_LIST: [(&str, &str); 16] = [
    (
        "mirror.linkerd.io/",
        "Linkerd's mirror keys: ownership (`mirrored-service`, `cluster-name`), the export \
         selector (`exported`), the fq-name and resource version: copied, a target could forge \
         another link's ownership or re-export the mirror",
    ),
    (
        "multicluster.linkerd.io/",
        "Linkerd multicluster modes: `remote-discovery`/`remote-service` make Linkerd's \
         destination service resolve the mirror in another cluster, `local-discovery` federates",
    ),
    (
        "endpointslice.kubernetes.io/",
        "the EndpointSlice controllers: `skip-mirror` stops Endpoints mirroring, `managed-by` \
         hands slices to another controller",
    ),
    (
        "service.kubernetes.io/",
        "kube-proxy and the Service controllers: `service-proxy-name` (kube-proxy ignores the \
         Service), `headless` (Linkerd's headless hint), `topology-mode`/`topology-aware-hints` \
         (the target's zones, not the source's)",
    ),
    (
        "service.alpha.kubernetes.io/",
        "the endpoints controller (`tolerate-unready-endpoints`)",
    ),
    (
        "service.beta.kubernetes.io/",
        "cloud load-balancer controllers (AWS, Azure, …): the target's infrastructure",
    ),
    (
        "kubernetes.io/",
        "reserved for Kubernetes core components; `kubernetes.io/service-name` assigns \
         EndpointSlices to a Service",
    ),
    ("k8s.io/", "reserved for Kubernetes core components"),
    (
        "multicluster.kubernetes.io/",
        "MCS API: `service-name`/`source-cluster` attribute endpoints to an exported service \
         (we set them on our slices; the mirroring controller copies Endpoints labels to slices)",
    ),
    (
        "kubectl.kubernetes.io/",
        "kubectl: `last-applied-configuration` is the target's apply state (a three-way merge \
         in the source would diff against it), `restartedAt`",
    ),
    (
        "app.kubernetes.io/managed-by",
        "the tool that owns the object: Helm adopts and deletes objects labelled `Helm`",
    ),
    (
        "meta.helm.sh/",
        "Helm release ownership (`release-name`, `release-namespace`): `helm uninstall` of a \
         same-named release in the source would delete the mirror",
    ),
    (
        "argocd.argoproj.io/",
        "Argo CD tracking (`tracking-id`, `instance`): the source's Argo CD would prune the mirror",
    ),
    (
        "kustomize.toolkit.fluxcd.io/",
        "Flux ownership labels: the source's Flux would garbage-collect the mirror",
    ),
    (
        "cloud.google.com/",
        "GKE controllers: `cloud.google.com/neg` makes the NEG controller create network \
         endpoint groups for the mirror",
    ),
    (
        "networking.gke.io/",
        "GKE load-balancer and networking controllers",
    ),
];

/// Whether `key` is on the [`COPY_DENY_LIST`] (SPEC §4): never copied from the target.
#[must_use]
pub fn is_copy_denied(key: &str) -> bool {
    COPY_DENY_LIST.iter().any(|(entry, _)| {
        if entry.ends_with('/') {
            key.starts_with(entry)
        } else {
            key == *entry
        }
    })
}

/// Always copied, even when excluded: clients need it to treat the ports as opaque.
const OPAQUE_PORTS: &str = "config.linkerd.io/opaque-ports";

/// Whether an object carries this link's ownership labels (SPEC §7): the only objects we ever
/// update or delete.
#[must_use]
pub fn is_owned_by(meta: &ObjectMeta, link: &Link) -> bool {
    is_owned(&meta.labels, link)
}

/// [`is_owned_by`] on a label map.
#[must_use]
pub fn is_owned(labels: &StringMap, link: &Link) -> bool {
    labels.get(MIRRORED_SERVICE).map(String::as_str) == Some("true")
        && labels.get(CLUSTER_NAME).map(String::as_str) == Some(link.cluster_name().as_str())
}

/// Whether an EndpointSlice is ours (SPEC §7, §12): this link's ownership labels *and*
/// `endpointslice.kubernetes.io/managed-by: svcmirror.io`. Kubernetes' endpointslice mirroring
/// controller copies the labels of our Endpoints onto the slices it makes from them, so the
/// ownership labels alone would claim its slices; the manager label tells them apart.
#[must_use]
pub fn is_owned_slice(meta: &ObjectMeta, link: &Link) -> bool {
    is_owned_by(meta, link) && is_svcmirror_slice(&meta.labels)
}

/// Whether a slice says it is managed by svcmirror ([`SLICE_MANAGER`]).
#[must_use]
pub fn is_svcmirror_slice(labels: &StringMap) -> bool {
    labels.get(SLICE_MANAGED_BY).map(String::as_str) == Some(SLICE_MANAGER)
}

/// The ownership labels of this link.
#[must_use]
pub fn ownership_labels(link: &Link) -> StringMap {
    StringMap::from([
        (MIRRORED_SERVICE.to_owned(), "true".to_owned()),
        (
            CLUSTER_NAME.to_owned(),
            link.cluster_name().as_str().to_owned(),
        ),
    ])
}

/// Whether an object carries the federation's ownership labels (SPEC §9, see [`FEDERATED`]).
#[must_use]
pub fn is_federation_owned(labels: &StringMap) -> bool {
    labels.get(MIRRORED_SERVICE).map(String::as_str) == Some("true")
        && labels.get(FEDERATED).map(String::as_str) == Some("true")
        && !labels.contains_key(CLUSTER_NAME)
}

/// Labels of a mirror Service and its Endpoints: the target's labels minus the
/// [`COPY_DENY_LIST`] and the excluded ones, plus the ownership labels.
#[must_use]
pub fn mirror_labels(target: &StringMap, link: &Link) -> StringMap {
    let mut labels = copied_labels(target, link.excluded_labels());
    labels.insert(MIRRORED_SERVICE.to_owned(), "true".to_owned());
    labels.insert(
        CLUSTER_NAME.to_owned(),
        link.cluster_name().as_str().to_owned(),
    );
    labels
}

/// SPEC §9: labels of a federated Service: the lead member's labels, copied as for a mirror, plus
/// `mirrored-service: "true"` and [`FEDERATED`], without `cluster-name`.
#[must_use]
pub fn federated_labels(target: &StringMap, excluded: &[KeyPattern]) -> StringMap {
    let mut labels = copied_labels(target, excluded);
    labels.insert(MIRRORED_SERVICE.to_owned(), "true".to_owned());
    labels.insert(FEDERATED.to_owned(), "true".to_owned());
    labels
}

fn copied_labels(target: &StringMap, excluded: &[KeyPattern]) -> StringMap {
    target
        .iter()
        .filter(|(k, _)| !is_copy_denied(k) && !excluded.iter().any(|p| p.matches(k)))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Annotations copied from the target Service: all but the [`COPY_DENY_LIST`] and the excluded
/// ones (`config.linkerd.io/opaque-ports` is always copied).
#[must_use]
pub fn copied_annotations(target: &StringMap, link: &Link) -> StringMap {
    copied_annotations_excluding(target, link.excluded_annotations())
}

/// [`copied_annotations`] with an explicit exclusion list (federated Services, SPEC §9).
#[must_use]
pub fn copied_annotations_excluding(target: &StringMap, excluded: &[KeyPattern]) -> StringMap {
    target
        .iter()
        .filter(|(k, _)| {
            k.as_str() == OPAQUE_PORTS
                || (!is_copy_denied(k) && !excluded.iter().any(|p| p.matches(k)))
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// What a mirror object stands for in the target cluster: the export, and for an endpoint mirror
/// the hostname of its pod. Written as `remote-svc-fq-name` ([`RemoteRef::fq_name`]) and read
/// back by [`parse_remote_fq_name`] (SPEC §4; SPEC §7 sticky names read it to know which export a
/// live mirror serves).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub struct RemoteRef {
    /// The exported Service.
    pub export: ObjectKey,
    /// The pod's hostname, for an endpoint mirror (and its Endpoints).
    pub hostname: Option<String>,
}

impl RemoteRef {
    /// A mirror's (or root mirror's) reference to `export`.
    #[must_use]
    pub fn mirror(export: &ObjectKey) -> Self {
        Self {
            export: export.clone(),
            hostname: None,
        }
    }

    /// An endpoint mirror's reference to the pod `hostname` of `export`.
    #[must_use]
    pub fn endpoint_mirror(export: &ObjectKey, hostname: &str) -> Self {
        Self {
            export: export.clone(),
            hostname: Some(hostname.to_owned()),
        }
    }

    /// SPEC §4: `<name>.<ns>.svc.<domain>` for a mirror, `<hostname>.<name>.<ns>.svc.<domain>`
    /// for an endpoint mirror. The inverse of [`parse_remote_fq_name`].
    #[must_use]
    pub fn fq_name(&self, domain: &str) -> String {
        let mirror = format!(
            "{}.{}.svc.{domain}",
            self.export.name, self.export.namespace
        );
        match &self.hostname {
            Some(hostname) => format!("{hostname}.{mirror}"),
            None => mirror,
        }
    }
}

/// `<name>.<namespace>.svc.<domain>`: what `remote-svc-fq-name` holds for a mirror.
#[must_use]
pub fn remote_fq_name(name: &str, namespace: &str, link: &Link) -> String {
    RemoteRef::mirror(&ObjectKey::new(namespace, name)).fq_name(link.cluster_domain())
}

/// Decodes a `remote-svc-fq-name` written for a link whose cluster domain is `domain` (the inverse
/// of [`RemoteRef::fq_name`]): two DNS labels before `.svc.<domain>` name a mirror's export, three
/// an endpoint mirror's pod and export. Names, namespaces and hostnames are DNS labels without
/// dots, so the split is unambiguous once the domain is known. `None` when it does not parse.
#[must_use]
pub fn parse_remote_fq_name(fq: &str, domain: &str) -> Option<RemoteRef> {
    let rest = fq.strip_suffix(domain)?.strip_suffix(".svc.")?;
    let mut parts = rest.split('.');
    let (first, second, third) = (parts.next()?, parts.next()?, parts.next());
    if parts.next().is_some() {
        return None;
    }
    let (hostname, name, namespace) = match third {
        None => (None, first, second),
        Some(namespace) => (Some(first), second, namespace),
    };
    if name.is_empty() || namespace.is_empty() || hostname.is_some_and(str::is_empty) {
        return None;
    }
    Some(RemoteRef {
        export: ObjectKey::new(namespace, name),
        hostname: hostname.map(str::to_owned),
    })
}

/// What an object of this link stands for (SPEC §7): its decoded `remote-svc-fq-name`, when the
/// object is ours and the export lives in the object's namespace (mirrors do). `None` otherwise.
#[must_use]
pub fn remote_ref(meta: &ObjectMeta, link: &Link) -> Option<RemoteRef> {
    remote_ref_of(
        &meta.labels,
        meta.namespace(),
        meta.annotations.get(REMOTE_SVC_FQ_NAME).map(String::as_str),
        link,
    )
}

/// [`remote_ref`] of an object's parts: its labels, namespace and `remote-svc-fq-name`.
pub(crate) fn remote_ref_of(
    labels: &StringMap,
    namespace: &str,
    fq: Option<&str>,
    link: &Link,
) -> Option<RemoteRef> {
    if !is_owned(labels, link) {
        return None;
    }
    parse_remote_fq_name(fq?, link.cluster_domain()).filter(|r| r.export.namespace == namespace)
}

/// The export an object of this link was written for (SPEC §7; the inverse of what `translate`
/// writes, kept beside [`remote_fq_name`]): a mirror and its Endpoints name their export in
/// `remote-svc-fq-name`, an endpoint mirror — which also carries the `headless-mirror-svc-name`
/// label — its pod and export. `None` for an object we do not own, whose annotation does not
/// parse, or whose shape disagrees with the label.
#[must_use]
pub fn export_of(meta: &ObjectMeta, link: &Link) -> Option<ObjectKey> {
    let serves = remote_ref(meta, link)?;
    (serves.hostname.is_some() == meta.labels.contains_key(HEADLESS_MIRROR_SVC_NAME))
        .then_some(serves.export)
}

/// The export an object's `remote-svc-fq-name` names by its shape alone, in the object's
/// namespace: `<name>.…`, or `<hostname>.<name>.…` on an object with the
/// `headless-mirror-svc-name` label. Ownership, domain and shape are not checked: a superset of
/// [`export_of`] (whatever it attributes to an export, this does too), for an index that must
/// never miss an object.
#[must_use]
pub fn export_hint(meta: &ObjectMeta) -> Option<ObjectKey> {
    let fq = meta.annotations.get(REMOTE_SVC_FQ_NAME)?;
    let index = usize::from(meta.labels.contains_key(HEADLESS_MIRROR_SVC_NAME));
    let name = fq.split('.').nth(index)?;
    Some(ObjectKey::new(meta.namespace(), name))
}

/// For messages about an object another link owns (SPEC §7, issue 14 cross-link names): that link's
/// cluster name and, when its `remote-svc-fq-name` reads as `<name>.<ns>.svc.…` or
/// `<host>.<name>.<ns>.svc.…`, the export it mirrors. `None` when the object carries no
/// `cluster-name` label or it is this link's.
#[must_use]
pub fn other_link_mirror(meta: &ObjectMeta, link: &Link) -> Option<(String, Option<ObjectKey>)> {
    let cluster = meta.labels.get(CLUSTER_NAME)?;
    if cluster == link.cluster_name().as_str() {
        return None;
    }
    // The other link's cluster domain is unknown: the `svc` label at the 3rd (mirror) or 4th
    // (endpoint mirror) position marks the split. A hint for a message, never an identity.
    let export = meta.annotations.get(REMOTE_SVC_FQ_NAME).and_then(|fq| {
        let parts: Vec<&str> = fq.split('.').take(5).collect();
        match parts[..] {
            [name, ns, "svc", ..] | [_, name, ns, "svc", ..] => Some(ObjectKey::new(ns, name)),
            _ => None,
        }
    });
    Some((cluster.clone(), export))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn link() -> Link {
        Link::builder("west")
            .gateway_address("172.18.0.4".parse().expect("ip"))
            .build()
            .expect("link")
    }

    /// A DNS-1123 label, sometimes the awkward `svc`.
    fn label() -> impl Strategy<Value = String> {
        prop_oneof![Just("svc".to_owned()), "[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?",]
    }

    proptest! {
        /// SPEC §4 (STYLE: encode and decode in one place): `remote-svc-fq-name` round-trips for
        /// mirrors and endpoint mirrors, whatever the domain (`svc` labels included).
        #[test]
        fn remote_fq_name_round_trips(
            name in label(), ns in label(), host in prop::option::of(label()),
            domain in prop_oneof![Just("cluster.local".to_owned()), Just("svc.example.org".to_owned()), label()],
        ) {
            let r = RemoteRef { export: ObjectKey::new(&ns, &name), hostname: host };
            prop_assert_eq!(parse_remote_fq_name(&r.fq_name(&domain), &domain), Some(r));
        }

        /// SPEC §7 (STYLE: encode and decode in one place): the export a mirror or endpoint
        /// mirror was written for reads back from its labels and `remote-svc-fq-name`
        /// ([`export_of`]), and [`export_hint`] attributes it to the same export.
        #[test]
        fn export_of_round_trips_what_a_mirror_carries(
            name in label(), ns in label(), host in prop::option::of(label()),
            root in label(),
        ) {
            let link = link();
            let export = ObjectKey::new(&ns, &name);
            let mut meta = ObjectMeta {
                name: format!("{name}-west"),
                namespace: ns.clone(),
                ..ObjectMeta::default()
            };
            meta.labels = mirror_labels(&StringMap::new(), &link);
            let fq = match &host {
                Some(host) => {
                    meta.labels.insert(HEADLESS_MIRROR_SVC_NAME.to_owned(), root);
                    format!("{host}.{}", remote_fq_name(&name, &ns, &link))
                }
                None => remote_fq_name(&name, &ns, &link),
            };
            meta.annotations.insert(REMOTE_SVC_FQ_NAME.to_owned(), fq);
            prop_assert_eq!(export_of(&meta, &link), Some(export.clone()));
            prop_assert_eq!(export_hint(&meta), Some(export));
            // Not ours: no export, whatever the annotation says.
            meta.labels.remove(CLUSTER_NAME);
            prop_assert_eq!(export_of(&meta, &link), None);
        }
    }

    #[test]
    fn remote_fq_name_decodes_mirrors_and_endpoint_mirrors() {
        let d = "cluster.local";
        assert_eq!(
            parse_remote_fq_name("web.default.svc.cluster.local", d),
            Some(RemoteRef::mirror(&ObjectKey::new("default", "web")))
        );
        assert_eq!(
            parse_remote_fq_name("web-0.web.default.svc.cluster.local", d),
            Some(RemoteRef::endpoint_mirror(
                &ObjectKey::new("default", "web"),
                "web-0"
            ))
        );
        for bad in [
            "",
            "web.default.svc.example.org",
            "default.svc.cluster.local",
            "a.b.c.d.svc.cluster.local",
            ".default.svc.cluster.local",
            "web..svc.cluster.local",
            "web.defaultsvc.cluster.local",
        ] {
            assert_eq!(parse_remote_fq_name(bad, d), None, "{bad:?}");
        }
        assert_eq!(
            remote_fq_name("web", "default", &link()),
            "web.default.svc.cluster.local"
        );
    }

    /// Issue 14: the keys that steer other controllers are denied; ordinary and Linkerd client
    /// keys are not.
    #[test]
    fn copy_deny_list_prefixes_and_exact_keys() {
        for denied in [
            "mirror.linkerd.io/exported",
            "multicluster.linkerd.io/remote-discovery",
            "multicluster.linkerd.io/remote-service",
            "service.kubernetes.io/service-proxy-name",
            "service.kubernetes.io/headless",
            "endpointslice.kubernetes.io/skip-mirror",
            "kubernetes.io/service-name",
            "kubectl.kubernetes.io/last-applied-configuration",
            "app.kubernetes.io/managed-by",
            "meta.helm.sh/release-name",
            "service.beta.kubernetes.io/aws-load-balancer-internal",
        ] {
            assert!(is_copy_denied(denied), "{denied}");
        }
        for copied in [
            "app",
            "app.kubernetes.io/name",
            "app.kubernetes.io/managed-by-team",
            "config.linkerd.io/opaque-ports",
            "balancer.linkerd.io/failure-accrual",
            "example.com/kubernetes.io/x",
        ] {
            assert!(!is_copy_denied(copied), "{copied}");
        }
    }
}
