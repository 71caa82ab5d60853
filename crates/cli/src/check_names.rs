//! `svcmirror check`, cross-link names (issue 14 deliverable 4): the cluster names of every link
//! on the source — the Linkerd `Link` resources in all namespaces (when the CRD is installed) and
//! the `mirror.linkerd.io/cluster-name` labels of the mirrors already written — checked with the
//! core's [`cluster_name_overlaps`]: a name that ends with `-<another>` makes both links want the
//! same mirror names. The rule is the core's; this module only lists.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1 as k8s;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams};
use svcmirror_core::{ClusterName, cluster_name_overlaps};

/// What the lists found.
pub struct CrossLink {
    /// The cluster names found, sorted (this link's included).
    pub clusters: Vec<String>,
    /// One warning per overlapping pair (the core's message).
    pub warnings: Vec<String>,
    /// A list that failed (e.g. no RBAC to list Links), said in words; the check goes on.
    pub unlisted: Vec<String>,
}

/// Lists the source's links and mirror cluster names, and checks them with `this` link's.
pub async fn cross_link_names(client: &kube::Client, this: &str) -> CrossLink {
    let mut names: BTreeSet<String> = BTreeSet::from([this.to_owned()]);
    let mut unlisted = Vec::new();
    let resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk(
            svcmirror_kube::link_resource::LINK_GROUP,
            svcmirror_kube::link_resource::LINK_VERSION,
            "Link",
        ),
        "links",
    );
    let links: Api<DynamicObject> = Api::all_with(client.clone(), &resource);
    match links.list(&ListParams::default()).await {
        Ok(list) => names.extend(list.items.iter().filter_map(|link| {
            link.data["spec"]["targetClusterName"]
                .as_str()
                .map(str::to_owned)
        })),
        // No Link CRD: links are given as files (`--link`), the mirrors' labels still tell.
        Err(kube::Error::Api(status)) if status.code == 404 => {}
        Err(e) => unlisted.push(format!(
            "links.multicluster.linkerd.io: {}",
            svcmirror_kube::describe(&e)
        )),
    }
    let services: Api<k8s::Service> = Api::all(client.clone());
    let labelled = ListParams::default().labels(svcmirror_core::labels::CLUSTER_NAME);
    match services.list_metadata(&labelled).await {
        Ok(list) => names.extend(list.items.iter().filter_map(|svc| {
            svc.metadata
                .labels
                .as_ref()?
                .get(svcmirror_core::labels::CLUSTER_NAME)
                .cloned()
        })),
        Err(e) => unlisted.push(format!("services: {}", svcmirror_kube::describe(&e))),
    }
    let clusters: Vec<ClusterName> = names
        .iter()
        .filter_map(|n| ClusterName::new(n).ok())
        .collect();
    let warnings = cluster_name_overlaps(&clusters)
        .into_iter()
        .map(|d| d.message)
        .collect();
    CrossLink {
        clusters: names.into_iter().collect(),
        warnings,
        unlisted,
    }
}
