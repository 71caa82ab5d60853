//! The manifests of one link, as `svcmirror link` prints them (`link_print` gathers the inputs):
//! the source's credentials Secret, the Link (Linkerd's `multicluster.linkerd.io/v1alpha3`), the
//! controller's ServiceAccount, RBAC and Deployment, and the target's ServiceAccount and RBAC.
//! Every name carries the cluster name (`Names`); the rules are exactly what the controller
//! uses (`deploy/` is this output for `west`, and `rbac_equals_use` checks `deploy/`).

use serde_json::{Value, json};
use svcmirror_core::LinkSpec;

use crate::yaml::to_yaml;

/// The names of one link's objects (SPEC §2: the cluster name in every name).
pub struct Names {
    /// The target cluster's name.
    pub cluster: String,
}

impl Names {
    /// `svcmirror-<cluster>`: the controller's ServiceAccount, Deployment and Lease.
    pub fn controller(&self) -> String {
        format!("svcmirror-{}", self.cluster)
    }
    /// `svcmirror-<role>-<cluster>`.
    pub fn role(&self, role: &str) -> String {
        format!("svcmirror-{role}-{}", self.cluster)
    }
    /// `cluster-credentials-<cluster>` (Linkerd's name).
    pub fn secret(&self) -> String {
        format!("cluster-credentials-{}", self.cluster)
    }
    /// `svcmirror-link-<cluster>`: the ConfigMap holding the Link.
    pub fn link_config(&self) -> String {
        format!("svcmirror-link-{}", self.cluster)
    }
}

/// Where and how the controller is installed in the source.
pub struct Install<'a> {
    /// The controller's namespace.
    pub namespace: &'a str,
    /// Its image.
    pub image: &'a str,
    /// Whether the Link is printed as a resource instead of a ConfigMap: the controller then
    /// follows it (`run --link-name`), with a Role for that (`link_rules`).
    pub link_resource: bool,
}

/// The kubeconfig the controller uses for the target.
pub fn kubeconfig(names: &Names, server: &str, ca: Option<&str>, token: &str) -> String {
    let mut cluster = json!({ "server": server });
    if let Some(ca) = ca {
        cluster["certificate-authority-data"] = json!(ca);
    }
    let user = names.role("remote");
    to_yaml(&json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{ "name": names.cluster, "cluster": cluster }],
        "users": [{ "name": user, "user": { "token": token } }],
        "contexts": [{ "name": names.cluster,
                       "context": { "cluster": names.cluster, "user": user } }],
        "current-context": names.cluster,
    }))
}

fn meta(name: &str, namespace: Option<&str>, cluster: &str) -> Value {
    let mut meta = json!({
        "name": name,
        "labels": {
            "app.kubernetes.io/name": "svcmirror",
            "mirror.linkerd.io/cluster-name": cluster,
        },
    });
    if let Some(ns) = namespace {
        meta["namespace"] = json!(ns);
    }
    meta
}

fn rule(groups: &[&str], resources: &[&str], verbs: &[&str]) -> Value {
    json!({ "apiGroups": groups, "resources": resources, "verbs": verbs })
}

/// The source's RBAC rules for the controller (cluster-wide), exactly the requests the source
/// adapter makes (`rbac_equals_use`).
pub fn source_rules() -> Vec<Value> {
    let verbs = ["get", "list", "create", "patch", "delete"];
    vec![
        rule(&[""], &["services", "endpoints"], &verbs),
        rule(&["discovery.k8s.io"], &["endpointslices"], &verbs),
        // Read (listed) to report NamespaceMissing; a Namespace is only read by name after a
        // failed write of one, with createNamespaces (`namespace_rules`).
        rule(&[""], &["namespaces"], &["list"]),
    ]
}

/// With createNamespaces: a missing namespace is created with server-side apply (patch, and
/// create as the apply creates it), and re-read by name (get) after a failed write of it.
pub fn namespace_rules() -> Vec<Value> {
    vec![rule(&[""], &["namespaces"], &["get", "create", "patch"])]
}

/// The Lease and the gateway Events, in the controller's namespace.
pub fn lease_rules() -> Vec<Value> {
    vec![
        rule(
            &["coordination.k8s.io"],
            &["leases"],
            &["get", "create", "update"],
        ),
        rule(&[""], &["events"], &["create"]),
    ]
}

/// SPEC §2.2, `svcmirror run --link-name`: follow the Link (list and watch it, by name), write
/// its status, read and watch its credentials Secret — exactly `permissions::needed`'s for that
/// mode (and `deploy/rbac-link.yaml`'s), on these two objects only.
pub fn link_rules(names: &Names) -> Vec<Value> {
    let group = svcmirror_kube::link_resource::LINK_GROUP;
    let named = |resources: &[&str], groups: &[&str], verbs: &[&str], name: &str| {
        let mut rule = rule(groups, resources, verbs);
        rule["resourceNames"] = json!([name]);
        rule
    };
    vec![
        named(&["links"], &[group], &["list", "watch"], &names.cluster),
        named(
            &["links/status"],
            &[group],
            &["get", "patch"],
            &names.cluster,
        ),
        named(
            &["secrets"],
            &[""],
            &["get", "list", "watch"],
            &names.secret(),
        ),
    ]
}

/// The target's rules: read the exports, write status Events.
pub fn target_rules() -> Vec<Value> {
    vec![
        rule(&[""], &["services", "endpoints"], &["list", "watch"]),
        rule(
            &["discovery.k8s.io"],
            &["endpointslices"],
            &["list", "watch"],
        ),
        rule(&[""], &["events"], &["create", "patch"]),
    ]
}

fn role_and_binding(
    kind: &str,
    name: &str,
    namespace: Option<&str>,
    rules: Vec<Value>,
    account: (&str, &str),
    cluster: &str,
) -> [Value; 2] {
    let binding = if kind == "Role" {
        "RoleBinding"
    } else {
        "ClusterRoleBinding"
    };
    [
        json!({ "apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind,
                "metadata": meta(name, namespace, cluster), "rules": rules }),
        json!({ "apiVersion": "rbac.authorization.k8s.io/v1", "kind": binding,
                "metadata": meta(name, namespace, cluster),
                "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": name },
                "subjects": [{ "kind": "ServiceAccount", "name": account.0,
                               "namespace": account.1 }] }),
    ]
}

/// What the TARGET needs: the controller's ServiceAccount there and its read-only RBAC.
pub fn target_rbac(names: &Names, namespace: &str) -> Vec<Value> {
    let account = names.role("remote");
    let mut docs = vec![
        json!({ "apiVersion": "v1", "kind": "Namespace",
                "metadata": { "name": namespace,
                              "labels": { "app.kubernetes.io/name": "svcmirror" } } }),
        // Nothing in the target runs as it: its token is only requested (TokenRequest).
        json!({ "apiVersion": "v1", "kind": "ServiceAccount",
                "metadata": meta(&account, Some(namespace), &names.cluster),
                "automountServiceAccountToken": false }),
    ];
    docs.extend(role_and_binding(
        "ClusterRole",
        &names.role("target"),
        None,
        target_rules(),
        (&account, namespace),
        &names.cluster,
    ));
    docs
}

/// The Link as Linkerd's `multicluster.linkerd.io/v1alpha3` manifest.
pub fn link_manifest(names: &Names, spec: &LinkSpec, namespace: &str) -> anyhow::Result<Value> {
    Ok(json!({
        "apiVersion": "multicluster.linkerd.io/v1alpha3",
        "kind": "Link",
        "metadata": meta(&names.cluster, Some(namespace), &names.cluster),
        "spec": serde_json::to_value(spec)?,
    }))
}

/// What the SOURCE needs for the link.
pub fn source_manifests(
    names: &Names,
    spec: &LinkSpec,
    credentials: Option<&str>,
    install: &Install<'_>,
) -> anyhow::Result<Vec<Value>> {
    let ns = install.namespace;
    let cluster = names.cluster.as_str();
    let account = names.controller();
    let link = link_manifest(names, spec, ns)?;
    let mut docs = Vec::new();
    if let Some(kubeconfig) = credentials {
        docs.push(json!({ "apiVersion": "v1", "kind": "Secret",
                          "metadata": meta(&names.secret(), Some(ns), cluster),
                          "type": "mirror.linkerd.io/remote-kubeconfig",
                          "stringData": { "kubeconfig": kubeconfig } }));
    }
    if install.link_resource {
        // The controller follows the Link resource (`run --link-name`): an edit of it
        // reconfigures, and each export's conditions go into its status.
        docs.push(link.clone());
    } else {
        docs.push(json!({ "apiVersion": "v1", "kind": "ConfigMap",
                          "metadata": meta(&names.link_config(), Some(ns), cluster),
                          "data": { "link.yaml": to_yaml(&link) } }));
    }
    docs.push(json!({ "apiVersion": "v1", "kind": "ServiceAccount",
                      "metadata": meta(&account, Some(ns), cluster),
                      "automountServiceAccountToken": true }));
    docs.extend(role_and_binding(
        "ClusterRole",
        &names.role("source"),
        None,
        source_rules(),
        (&account, ns),
        cluster,
    ));
    if spec.create_namespaces == Some(true) {
        docs.extend(role_and_binding(
            "ClusterRole",
            &names.role("source-create-namespaces"),
            None,
            namespace_rules(),
            (&account, ns),
            cluster,
        ));
    }
    docs.extend(role_and_binding(
        "Role",
        &names.role("lease"),
        Some(ns),
        lease_rules(),
        (&account, ns),
        cluster,
    ));
    if install.link_resource {
        docs.extend(role_and_binding(
            "Role",
            &names.role("link"),
            Some(ns),
            link_rules(names),
            (&account, ns),
            cluster,
        ));
    }
    docs.push(deployment(names, ns, install));
    Ok(docs)
}

fn deployment(names: &Names, ns: &str, install: &Install<'_>) -> Value {
    let cluster = names.cluster.as_str();
    let image = install.image;
    // SPEC §2.2: with the Link as a resource, the controller reads it and its Secret from the
    // API (nothing mounted); otherwise both are mounted files.
    let (link_args, mounts, volumes) = if install.link_resource {
        (
            vec![
                format!("--link-name={cluster}"),
                format!("--link-namespace={ns}"),
            ],
            json!([]),
            json!([]),
        )
    } else {
        (
            vec![
                "--target-kubeconfig=/etc/svcmirror/target/kubeconfig".to_owned(),
                "--link=/etc/svcmirror/link/link.yaml".to_owned(),
            ],
            json!([
                { "name": "target-credentials", "mountPath": "/etc/svcmirror/target",
                  "readOnly": true },
                { "name": "link", "mountPath": "/etc/svcmirror/link", "readOnly": true },
            ]),
            json!([
                { "name": "target-credentials",
                  "secret": { "secretName": names.secret(),
                              "items": [{ "key": "kubeconfig", "path": "kubeconfig" }] } },
                { "name": "link", "configMap": { "name": names.link_config() } },
            ]),
        )
    };
    let mut args = vec!["run".to_owned()];
    args.extend(link_args);
    args.extend([
        "--resync-period=300s".to_owned(),
        "--metrics-addr=0.0.0.0:9990".to_owned(),
        format!("--lease-name={}", names.controller()),
        format!("--lease-namespace={ns}"),
    ]);
    let labels = json!({ "app.kubernetes.io/name": "svcmirror",
                         "mirror.linkerd.io/cluster-name": cluster });
    let mut deployment = json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta(&names.controller(), Some(ns), cluster),
        "spec": {
            // Two replicas for availability; the Lease makes sure only one writes at a time.
            "replicas": 2,
            "selector": { "matchLabels": labels },
            "template": {
                "metadata": { "labels": labels },
                "spec": {
                    "serviceAccountName": names.controller(),
                    "securityContext": { "runAsNonRoot": true, "runAsUser": 65532,
                                         "runAsGroup": 65532,
                                         "seccompProfile": { "type": "RuntimeDefault" } },
                    "containers": [{
                        "name": "svcmirror",
                        "image": image,
                        "imagePullPolicy": "IfNotPresent",
                        "args": args,
                        "env": [
                            { "name": "POD_NAME",
                              "valueFrom": { "fieldRef": { "fieldPath": "metadata.name" } } },
                            { "name": "RUST_LOG", "value": "info" },
                        ],
                        "ports": [{ "name": "admin-http", "containerPort": 9990,
                                    "protocol": "TCP" }],
                        "livenessProbe": { "httpGet": { "path": "/healthz", "port": "admin-http" },
                                           "initialDelaySeconds": 5, "periodSeconds": 10 },
                        "readinessProbe": { "httpGet": { "path": "/readyz", "port": "admin-http" },
                                            "periodSeconds": 5 },
                        "resources": { "requests": { "cpu": "50m", "memory": "64Mi" },
                                       "limits": { "memory": "256Mi" } },
                        "securityContext": { "allowPrivilegeEscalation": false,
                                             "readOnlyRootFilesystem": true,
                                             "privileged": false,
                                             "capabilities": { "drop": ["ALL"] } },
                        "volumeMounts": mounts,
                    }],
                    "volumes": volumes,
                },
            },
        },
    });
    // Nothing mounted (the Link read from the API): no empty `volumes: []` in the manifest.
    if install.link_resource {
        let pod = &mut deployment["spec"]["template"]["spec"];
        if let Some(pod) = pod.as_object_mut() {
            pod.remove("volumes");
        }
        if let Some(container) = pod["containers"][0].as_object_mut() {
            container.remove("volumeMounts");
        }
    }
    deployment
}
