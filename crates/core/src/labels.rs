//! SPEC §4: the labels and annotations written on mirror objects, and which target ones are copied.

use crate::link::{KeyPattern, Link};
use crate::model::{ObjectMeta, StringMap};

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

/// Annotation (federated, SPEC §9): the remote members, `<name>@<cluster>[,…]`, sorted.
pub const REMOTE_DISCOVERY_ANNOTATION: &str = "multicluster.linkerd.io/remote-discovery";
/// Annotation (federated, SPEC §9): the local member's name.
pub const LOCAL_DISCOVERY_ANNOTATION: &str = "multicluster.linkerd.io/local-discovery";

/// Every `mirror.linkerd.io/*` label is Linkerd's own and never copied (the `exported` label
/// included).
const LINKERD_MIRROR_PREFIX: &str = "mirror.linkerd.io/";
/// Annotations that describe the target cluster's topology and would mislead the source's.
const TOPOLOGY_ANNOTATIONS: [&str; 2] = [
    "service.kubernetes.io/topology-aware-hints",
    "service.kubernetes.io/topology-mode",
];
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

/// Labels of a mirror Service and its Endpoints: the target's labels minus every
/// `mirror.linkerd.io/*` key and the excluded ones, plus the ownership labels.
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
        .filter(|(k, _)| {
            !k.starts_with(LINKERD_MIRROR_PREFIX) && !excluded.iter().any(|p| p.matches(k))
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Annotations copied from the target Service: all but the topology ones and the excluded ones
/// (`config.linkerd.io/opaque-ports` is always copied).
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
                || (!TOPOLOGY_ANNOTATIONS.contains(&k.as_str())
                    && !excluded.iter().any(|p| p.matches(k)))
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// `<name>.<namespace>.svc.<domain>`: what `remote-svc-fq-name` holds for a mirror.
#[must_use]
pub fn remote_fq_name(name: &str, namespace: &str, link: &Link) -> String {
    format!("{name}.{namespace}.svc.{}", link.cluster_domain())
}
