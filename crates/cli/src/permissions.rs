//! Every permission the controller needs, per cluster — what `svcmirror check` asks each API
//! server about with a SelfSubjectAccessReview, and what `deploy/` grants (a test here compares
//! the two; `svcmirror-kube`'s `rbac_equals_use` test compares `deploy/` with the requests the
//! controller actually makes).

use svcmirror_core::Link;

use crate::metrics::Cluster;

/// One RBAC permission: a verb on a resource of an API group, in one cluster.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Permission {
    /// The cluster it is needed in.
    pub cluster: Cluster,
    /// API group (`""` for core).
    pub group: &'static str,
    /// Resource (plural).
    pub resource: &'static str,
    /// Verb.
    pub verb: &'static str,
    /// The namespace, for a namespaced grant (the Lease); cluster-wide otherwise.
    pub namespace: Option<String>,
    /// What the controller does with it.
    pub why: &'static str,
}

/// What the controller of `link` needs; the Lease in `lease_namespace` (none without leader
/// election).
pub fn needed(link: &Link, lease_namespace: Option<&str>) -> Vec<Permission> {
    let mut out = Vec::new();
    let mut add = |cluster, group, resource, verbs: &[&'static str], why| {
        for verb in verbs {
            out.push(Permission {
                cluster,
                group,
                resource,
                verb,
                namespace: None,
                why,
            });
        }
    };
    // Mirrors: listed (all of them, to see names taken by others), read before a create,
    // written with server-side apply (patch; create when the apply creates), deleted.
    let mirror_verbs: &[&str] = &["get", "list", "create", "patch", "delete"];
    add(
        Cluster::Source,
        "",
        "services",
        mirror_verbs,
        "mirror Services",
    );
    add(
        Cluster::Source,
        "",
        "endpoints",
        mirror_verbs,
        "mirror Endpoints",
    );
    add(
        Cluster::Source,
        "discovery.k8s.io",
        "endpointslices",
        mirror_verbs,
        "mirror EndpointSlices, listed in every mode",
    );
    add(
        Cluster::Source,
        "",
        "namespaces",
        &["get", "list"],
        "namespaces (NamespaceMissing)",
    );
    if link.create_namespaces() {
        add(
            Cluster::Source,
            "",
            "namespaces",
            &["create", "patch"],
            "namespace creation (createNamespaces: server-side apply)",
        );
    }
    add(
        Cluster::Target,
        "",
        "services",
        &["list", "watch"],
        "exported Services",
    );
    add(
        Cluster::Target,
        "",
        "endpoints",
        &["list", "watch"],
        "exported Services' Endpoints",
    );
    add(
        Cluster::Target,
        "discovery.k8s.io",
        "endpointslices",
        &["list", "watch"],
        "exported Services' EndpointSlices (--target-endpoints auto|slices)",
    );
    add(
        Cluster::Target,
        "",
        "events",
        &["create", "patch"],
        "status Events on exported Services",
    );
    if let Some(namespace) = lease_namespace {
        for verb in ["get", "create", "update"] {
            out.push(Permission {
                cluster: Cluster::Source,
                group: "coordination.k8s.io",
                resource: "leases",
                verb,
                namespace: Some(namespace.to_owned()),
                why: "leader election",
            });
        }
        out.push(Permission {
            cluster: Cluster::Source,
            group: "",
            resource: "events",
            verb: "create",
            namespace: Some(namespace.to_owned()),
            why: "an Event at each gateway probe transition (SPEC §2.1)",
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// The rules of the Roles and ClusterRoles in `deploy/<files>`.
    fn granted(files: &[&str]) -> BTreeSet<(String, String, String)> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy");
        let mut out = BTreeSet::new();
        for file in files {
            let text = std::fs::read_to_string(dir.join(file)).expect("manifest");
            let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(&text).expect("YAML");
            for doc in docs
                .iter()
                .filter(|d| d["kind"] == "Role" || d["kind"] == "ClusterRole")
            {
                for rule in doc["rules"].as_array().into_iter().flatten() {
                    let list = |v: &serde_json::Value| -> Vec<String> {
                        v.as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(|s| s.as_str().map(str::to_owned))
                            .collect()
                    };
                    for g in list(&rule["apiGroups"]) {
                        for r in list(&rule["resources"]) {
                            for v in list(&rule["verbs"]) {
                                out.insert((g.clone(), r.clone(), v));
                            }
                        }
                    }
                }
            }
        }
        out
    }

    /// `svcmirror check` asks about exactly what `deploy/` grants, per cluster.
    #[test]
    fn check_verifies_what_deploy_grants() {
        let link = |create| {
            Link::builder("west")
                .gateway_address("172.18.0.4".parse().expect("ip"))
                .create_namespaces(create)
                .build()
                .expect("link")
        };
        let of = |perms: &[Permission], cluster| -> BTreeSet<(String, String, String)> {
            perms
                .iter()
                .filter(|p| p.cluster == cluster)
                .map(|p| (p.group.to_owned(), p.resource.to_owned(), p.verb.to_owned()))
                .collect()
        };
        let all = needed(&link(true), Some("svcmirror"));
        assert_eq!(
            of(&all, Cluster::Source),
            granted(&["rbac-source.yaml", "rbac-source-create-namespaces.yaml"])
        );
        assert_eq!(of(&all, Cluster::Target), granted(&["rbac-target.yaml"]));
        let without = needed(&link(false), Some("svcmirror"));
        assert_eq!(
            of(&without, Cluster::Source),
            granted(&["rbac-source.yaml"])
        );
    }
}
