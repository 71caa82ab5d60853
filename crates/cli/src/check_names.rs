//! `svcmirror check`, cross-link names (issue 14 deliverable 4): the cluster names of every link
//! on the source — the Linkerd `Link` resources in all namespaces (when the CRD is installed) and
//! the `mirror.linkerd.io/cluster-name` labels of the mirrors already written — checked with the
//! core's [`cluster_name_overlaps`]: a name that ends with `-<another>` makes both links want the
//! same mirror names. The rule is the core's; this module only lists. The controller's own
//! account may not list Links in all namespaces (its Role reads one Link by name): then the
//! Links of the link's namespace are listed instead, and `LinksListed` says which was done.

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
    /// Where the Links were listed.
    pub links: LinksListed,
    /// A list that failed (other than a forbidden one of the Links), said in words; the check
    /// goes on.
    pub unlisted: Vec<String>,
}

/// Where the Link resources were listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinksListed {
    /// In all namespaces.
    AllNamespaces,
    /// Only in this namespace: the list in all namespaces was forbidden.
    Namespace(String),
    /// Nowhere: forbidden in all namespaces and in this one (the API server's message).
    Forbidden(String, String),
    /// No Link CRD, or the list failed otherwise (in `unlisted`).
    None,
}

/// Lists the source's links and mirror cluster names, and checks them with `this` link's.
/// The Links are looked for in all namespaces, else in `namespace`; the mirrors' labels in all
/// namespaces, or in each of `confined` (a source confined to namespaces).
pub async fn cross_link_names(
    client: &kube::Client,
    this: &str,
    namespace: &str,
    confined: &[String],
) -> CrossLink {
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
    let everywhere: Api<DynamicObject> = Api::all_with(client.clone(), &resource);
    let mut listed = everywhere
        .list(&ListParams::default())
        .await
        .map(|list| (list.items, LinksListed::AllNamespaces));
    // Forbidden cluster-wide (RBAC granted in one namespace only): the link's namespace.
    if let Err(kube::Error::Api(status)) = &listed
        && status.code == 403
    {
        let refused = status.message.clone();
        let here: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &resource);
        listed = match here.list(&ListParams::default()).await {
            Ok(list) => Ok((list.items, LinksListed::Namespace(namespace.to_owned()))),
            Err(kube::Error::Api(status)) if status.code == 403 => {
                Ok((Vec::new(), LinksListed::Forbidden(refused, status.message)))
            }
            Err(e) => Err(e),
        };
    }
    let links = match listed {
        Ok((items, links)) => {
            names.extend(items.iter().filter_map(|link| {
                link.data["spec"]["targetClusterName"]
                    .as_str()
                    .map(str::to_owned)
            }));
            links
        }
        // No Link CRD: links are given as files (`--link`), the mirrors' labels still tell.
        Err(kube::Error::Api(status)) if status.code == 404 => LinksListed::None,
        Err(e) => {
            unlisted.push(format!(
                "links.multicluster.linkerd.io: {}",
                svcmirror_kube::describe(&e)
            ));
            LinksListed::None
        }
    };
    let labelled = ListParams::default().labels(svcmirror_core::labels::CLUSTER_NAME);
    let scopes: Vec<Api<k8s::Service>> = if confined.is_empty() {
        vec![Api::all(client.clone())]
    } else {
        confined
            .iter()
            .map(|ns| Api::namespaced(client.clone(), ns))
            .collect()
    };
    for services in scopes {
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
        links,
        unlisted,
    }
}
