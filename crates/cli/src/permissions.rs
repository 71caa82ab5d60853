//! Every permission the controller needs, per cluster — what `svcmirror check` asks each API
//! server about with a SelfSubjectAccessReview, and what `deploy/` grants (a test here compares
//! the two; `svcmirror-kube`'s `rbac_equals_use` test and the CLI's `run_link_name` test compare
//! `deploy/` with the requests the controller actually makes), for both ways of giving the link:
//! `--link FILE`/flags, and `--link-name` (SPEC §2.2: the Link resource and its credentials
//! Secret, read and watched by name, and the Link's status written).

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
    /// The one object it is needed on (a Role's `resourceNames`), for the `--link-name` Link and
    /// its Secret; any object otherwise.
    pub name: Option<String>,
    /// What the controller does with it.
    pub why: &'static str,
}

/// `needed` for a source confined to `namespaces` (`run --namespaces`, with
/// `deploy/rbac-source-namespaced.yaml`): each cluster-wide permission on a mirror kind becomes
/// one in each namespace, and the list of Namespaces becomes a read of each by name from inside
/// it (what a RoleBinding there allows) — exactly the requests a confined `KubeSource` makes.
pub fn confined(needed: Vec<Permission>, namespaces: &[String]) -> Vec<Permission> {
    let mut out = Vec::new();
    for p in needed {
        let mirror_kind = ["services", "endpoints", "endpointslices"].contains(&p.resource);
        match (p.cluster, p.namespace.is_none(), p.resource, p.verb) {
            (Cluster::Source, true, _, _) if mirror_kind => {
                out.extend(namespaces.iter().map(|ns| Permission {
                    namespace: Some(ns.clone()),
                    ..p.clone()
                }));
            }
            (Cluster::Source, true, "namespaces", "list") => {
                out.extend(namespaces.iter().map(|ns| Permission {
                    verb: "get",
                    namespace: Some(ns.clone()),
                    name: Some(ns.clone()),
                    why: "the namespace (NamespaceMissing), read by name",
                    ..p.clone()
                }));
            }
            _ => out.push(p),
        }
    }
    out
}

/// The Link resource `svcmirror run --link-name` follows (SPEC §2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkRef {
    /// The Link's namespace (its Secret's too).
    pub namespace: String,
    /// The Link's name.
    pub name: String,
    /// The credentials Secret it names (`clusterCredentialsSecret`, or Linkerd's default).
    pub secret: String,
}

/// What the controller of `link` needs; the Lease in `lease_namespace` (none without leader
/// election); with `--link-name`, what reading and reporting on the Link `followed` needs.
pub fn needed(
    link: &Link,
    lease_namespace: Option<&str>,
    followed: Option<&LinkRef>,
) -> Vec<Permission> {
    let mut out = Vec::new();
    let mut add = |cluster, group, resource, verbs: &[&'static str], why| {
        for verb in verbs {
            out.push(Permission {
                cluster,
                group,
                resource,
                verb,
                namespace: None,
                name: None,
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
        &["list"],
        "namespaces (NamespaceMissing)",
    );
    if link.create_namespaces() {
        add(
            Cluster::Source,
            "",
            "namespaces",
            &["get", "create", "patch"],
            "namespace creation (createNamespaces: server-side apply, re-read after a failure)",
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
                name: None,
                why: "leader election",
            });
        }
        out.push(Permission {
            cluster: Cluster::Source,
            group: "",
            resource: "events",
            verb: "create",
            namespace: Some(namespace.to_owned()),
            name: None,
            why: "an Event at each gateway probe transition (SPEC §2.1)",
        });
    }
    if let Some(followed) = followed {
        out.extend(link_resource(followed));
    }
    out
}

/// SPEC §2.2 `--link-name`: the requests `svcmirror-kube`'s `LinkResource` makes, each by name
/// in the Link's namespace — the watch of the Link (list and watch, `metadata.name` field
/// selector: `LinkResource::watch`), its status read and merge-patched (`status`,
/// `patch_status`), the Secret read once (`credentials`: get) and watched (`watch_credentials`:
/// list and watch). `deploy/rbac-link.yaml` grants exactly these.
fn link_resource(followed: &LinkRef) -> Vec<Permission> {
    let group = svcmirror_kube::link_resource::LINK_GROUP;
    let grants: [(
        &'static str,
        &'static str,
        &[&'static str],
        &String,
        &'static str,
    ); 3] = [
        (
            group,
            "links",
            &["list", "watch"],
            &followed.name,
            "follow the Link (--link-name)",
        ),
        (
            group,
            "links/status",
            &["get", "patch"],
            &followed.name,
            "each export's conditions in the Link's status",
        ),
        (
            "",
            "secrets",
            &["get", "list", "watch"],
            &followed.secret,
            "the target's credentials, re-read when they change",
        ),
    ];
    let mut out = Vec::new();
    for (group, resource, verbs, name, why) in grants {
        for verb in verbs {
            out.push(Permission {
                cluster: Cluster::Source,
                group,
                resource,
                verb,
                namespace: Some(followed.namespace.clone()),
                name: Some(name.clone()),
                why,
            });
        }
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
        let all = needed(&link(true), Some("svcmirror"), None);
        assert_eq!(
            of(&all, Cluster::Source),
            granted(&["rbac-source.yaml", "rbac-source-create-namespaces.yaml"])
        );
        assert_eq!(of(&all, Cluster::Target), granted(&["rbac-target.yaml"]));
        let without = needed(&link(false), Some("svcmirror"), None);
        assert_eq!(
            of(&without, Cluster::Source),
            granted(&["rbac-source.yaml"])
        );
    }

    /// SPEC §2.2, issue 12 "RBAC equals use" for `--link-name`: what `check` asks about beyond
    /// the file mode is exactly `deploy/rbac-link.yaml`'s Role — each (group, resource, verb),
    /// in the Link's namespace, on the very objects its `resourceNames` name.
    #[test]
    fn check_verifies_what_deploy_grants_for_link_name() {
        let link = Link::builder("west")
            .gateway_address("172.18.0.4".parse().expect("ip"))
            .build()
            .expect("link");
        let followed = LinkRef {
            namespace: "linkerd-multicluster".into(),
            name: "west".into(),
            secret: "cluster-credentials-west".into(),
        };
        let file_mode = needed(&link, Some("svcmirror"), None);
        let extra: Vec<Permission> = needed(&link, Some("svcmirror"), Some(&followed))
            .into_iter()
            .filter(|p| !file_mode.contains(p))
            .collect();
        let asked: BTreeSet<(String, String, String)> = extra
            .iter()
            .map(|p| (p.group.to_owned(), p.resource.to_owned(), p.verb.to_owned()))
            .collect();
        assert_eq!(asked, granted(&["rbac-link.yaml"]));
        // Where and on what: the Role's namespace and resourceNames.
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy");
        let text = std::fs::read_to_string(dir.join("rbac-link.yaml")).expect("manifest");
        let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(&text).expect("YAML");
        let role = docs.iter().find(|d| d["kind"] == "Role").expect("a Role");
        for p in &extra {
            assert_eq!(p.cluster, Cluster::Source, "{p:?}");
            assert_eq!(
                p.namespace.as_deref(),
                role["metadata"]["namespace"].as_str(),
                "{p:?}"
            );
            let rule = role["rules"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|r| {
                    r["resources"]
                        .as_array()
                        .is_some_and(|rs| rs.iter().any(|x| x == p.resource))
                })
                .expect("a rule for the resource");
            let names = rule["resourceNames"].as_array().expect("resourceNames");
            assert!(
                names
                    .iter()
                    .any(|n| Some(n.as_str().unwrap_or_default()) == p.name.as_deref()),
                "{p:?} is not on an object the Role names: {names:?}"
            );
        }
    }
}
