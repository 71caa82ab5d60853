//! The manifests in `deploy/` parse, hold only the kinds we ship, grant least privilege and run the
//! controller locked down.

use std::path::PathBuf;

use serde_json::Value;

fn deploy_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy")
}

/// Every document of every `deploy/*.yaml`, with its file name.
fn documents() -> Vec<(String, Value)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(deploy_dir())
        .expect("deploy/ exists")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no manifests in deploy/");
    let mut out = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("readable");
        let docs: Vec<Value> = serde_saphyr::from_multiple(&text)
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let name = file
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        for doc in docs.into_iter().filter(|d| !d.is_null()) {
            out.push((name.clone(), doc));
        }
    }
    out
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

#[test]
fn every_document_has_a_known_kind_and_a_name() {
    const KINDS: [&str; 10] = [
        "Namespace",
        "ServiceAccount",
        "Secret",
        "ConfigMap",
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
        "Deployment",
        "Service",
    ];
    let docs = documents();
    for (file, doc) in &docs {
        let kind = doc["kind"].as_str().unwrap_or_default();
        assert!(KINDS.contains(&kind), "{file}: unexpected kind {kind:?}");
        assert!(
            doc["apiVersion"].is_string(),
            "{file}: {kind} without apiVersion"
        );
        assert!(
            doc["metadata"]["name"].is_string(),
            "{file}: {kind} without a name"
        );
    }
    for kind in ["Deployment", "ClusterRole", "Role", "ServiceAccount"] {
        assert!(
            docs.iter().any(|(_, d)| d["kind"] == kind),
            "no {kind} in deploy/"
        );
    }
}

#[test]
fn roles_grant_no_wildcards_and_no_secret_writes() {
    let write_verbs = ["create", "update", "patch", "delete", "deletecollection"];
    for (file, doc) in documents() {
        let kind = doc["kind"].as_str().unwrap_or_default();
        if kind != "Role" && kind != "ClusterRole" {
            continue;
        }
        let name = doc["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let rules = doc["rules"].as_array().cloned().unwrap_or_default();
        assert!(!rules.is_empty(), "{file}: {name} has no rules");
        for rule in &rules {
            let (groups, resources, verbs) = (
                strings(&rule["apiGroups"]),
                strings(&rule["resources"]),
                strings(&rule["verbs"]),
            );
            for list in [&groups, &resources, &verbs] {
                assert!(!list.contains(&"*"), "{file}: {name} grants `*`: {rule}");
            }
            assert!(
                rule.get("nonResourceURLs").is_none(),
                "{file}: {name}: {rule}"
            );
            if resources.contains(&"secrets") {
                assert!(
                    verbs.iter().all(|v| !write_verbs.contains(v)),
                    "{file}: {name} may write secrets"
                );
            }
        }
    }
}

#[test]
fn target_role_reads_services_writes_only_events_and_lease_role_is_namespaced() {
    let docs = documents();
    let role = |name: &str| {
        docs.iter()
            .find(|(_, d)| {
                d["metadata"]["name"] == name && d["kind"].as_str().unwrap_or("").ends_with("Role")
            })
            .map(|(_, d)| d.clone())
            .unwrap_or_else(|| panic!("no role {name}"))
    };
    let target = role("svcmirror-target-west");
    let rules = target["rules"].as_array().expect("rules");
    // Reads only, except status Events (SPEC §12): core/v1, create and patch, nothing else.
    for rule in rules {
        if strings(&rule["resources"]).contains(&"events") {
            assert_eq!(strings(&rule["apiGroups"]), [""], "{rule}");
            assert_eq!(strings(&rule["resources"]), ["events"], "{rule}");
            assert_eq!(strings(&rule["verbs"]), ["create", "patch"], "{rule}");
        } else {
            assert_eq!(strings(&rule["verbs"]), ["list", "watch"], "{rule}");
        }
    }
    assert!(
        rules
            .iter()
            .any(|r| strings(&r["resources"]) == ["services", "endpoints"]),
        "services and endpoints are read"
    );
    assert!(
        rules.iter().any(|r| strings(&r["resources"]) == ["events"]),
        "status Events are written"
    );
    let lease = role("svcmirror-lease-west");
    assert_eq!(
        lease["kind"], "Role",
        "leases only in the controller's namespace"
    );
    assert_eq!(strings(&lease["rules"][0]["resources"]), ["leases"]);
    assert_eq!(
        strings(&lease["rules"][0]["verbs"]),
        ["get", "create", "update"]
    );
    let source = role("svcmirror-source-west");
    // SPEC §12: EndpointSlices get exactly the verbs of Services and Endpoints, in their group.
    let source_rules = source["rules"].as_array().expect("rules");
    let rule_for = |resource: &str| {
        source_rules
            .iter()
            .find(|r| strings(&r["resources"]).contains(&resource))
            .unwrap_or_else(|| panic!("no source rule for {resource}"))
    };
    let endpoints_rule = rule_for("endpoints");
    let slices_rule = rule_for("endpointslices");
    assert_eq!(strings(&endpoints_rule["apiGroups"]), [""]);
    assert_eq!(strings(&slices_rule["apiGroups"]), ["discovery.k8s.io"]);
    assert_eq!(strings(&slices_rule["resources"]), ["endpointslices"]);
    assert_eq!(
        strings(&slices_rule["verbs"]),
        strings(&endpoints_rule["verbs"]),
        "endpointslices: the verbs of endpoints"
    );
    let namespaces_rule = source["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .find(|r| strings(&r["resources"]).contains(&"namespaces"))
        .expect("namespaces are read");
    assert!(
        !strings(&namespaces_rule["verbs"]).contains(&"create"),
        "namespace creation is opt-in (--create-namespaces)"
    );
}

#[test]
fn deployment_is_locked_down_and_probed() {
    let docs = documents();
    let (_, deployment) = docs
        .iter()
        .find(|(_, d)| d["kind"] == "Deployment")
        .expect("a Deployment");
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    let containers = pod["containers"].as_array().expect("containers");
    for c in containers {
        let sc = &c["securityContext"];
        assert_eq!(sc["readOnlyRootFilesystem"], true);
        assert_eq!(sc["allowPrivilegeEscalation"], false);
        assert_eq!(strings(&sc["capabilities"]["drop"]), ["ALL"]);
        assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz");
        assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
        assert!(c["resources"]["requests"].is_object() && c["resources"]["limits"].is_object());
        let args = strings(&c["args"]);
        assert_eq!(args.first(), Some(&"run"));
        assert!(args.iter().any(|a| a.starts_with("--target-kubeconfig=")));
        let env = c["env"].as_array().expect("env");
        assert!(
            env.iter().any(|e| e["name"] == "POD_NAME"),
            "lease identity"
        );
    }
    let secret_volume = pod["volumes"]
        .as_array()
        .expect("volumes")
        .iter()
        .find_map(|v| v["secret"]["secretName"].as_str())
        .expect("target credentials mounted");
    assert!(secret_volume.starts_with("cluster-credentials-"));
}

/// Issue 14 least privilege: the target's credentials are a bound, expiring token (TokenRequest,
/// `kubectl create token`), never a legacy service-account token Secret, which never expires.
#[test]
fn target_credentials_are_a_bound_token_not_a_legacy_token_secret() {
    for (file, doc) in documents() {
        assert!(
            !(doc["kind"] == "Secret" && doc["type"] == "kubernetes.io/service-account-token"),
            "{file}: a legacy, non-expiring service-account token Secret"
        );
    }
    let text = std::fs::read_to_string(deploy_dir().join("rbac-target.yaml")).expect("readable");
    assert!(
        text.contains("create token svcmirror-remote-west --duration="),
        "rbac-target.yaml documents the TokenRequest flow"
    );
    let account = documents()
        .into_iter()
        .find(|(file, d)| file == "rbac-target.yaml" && d["kind"] == "ServiceAccount")
        .expect("the target's ServiceAccount")
        .1;
    assert_eq!(account["automountServiceAccountToken"], false);
}

/// Issue 14 least privilege, narrowed: `rbac-source-namespaced.yaml` confines the source to the
/// namespaces it binds — RoleBindings only (no ClusterRoleBinding), each in its namespace, to a
/// ClusterRole with exactly the requests a confined `KubeSource` makes.
#[test]
fn namespaced_source_variant_binds_per_namespace_only() {
    let docs: Vec<Value> = documents()
        .into_iter()
        .filter(|(file, _)| file == "rbac-source-namespaced.yaml")
        .map(|(_, d)| d)
        .collect();
    assert!(
        !docs.is_empty(),
        "deploy/rbac-source-namespaced.yaml exists"
    );
    assert!(
        docs.iter().all(|d| d["kind"] != "ClusterRoleBinding"),
        "no cluster-wide binding"
    );
    let role = docs
        .iter()
        .find(|d| d["kind"] == "ClusterRole")
        .expect("the per-namespace ClusterRole");
    let role_name = role["metadata"]["name"].as_str().expect("name");
    let bindings: Vec<&Value> = docs
        .iter()
        .filter(|d| d["kind"] == "RoleBinding" && d["roleRef"]["name"] == role_name)
        .collect();
    assert!(bindings.len() >= 2, "one RoleBinding per namespace");
    for binding in &bindings {
        assert!(binding["metadata"]["namespace"].is_string(), "{binding}");
        assert_eq!(binding["roleRef"]["kind"], "ClusterRole");
        assert_eq!(binding["subjects"][0]["name"], "svcmirror-west");
    }
    for rule in role["rules"].as_array().expect("rules") {
        let verbs = strings(&rule["verbs"]);
        if strings(&rule["resources"]) == ["namespaces"] {
            assert_eq!(verbs, ["get"], "the bound namespace itself, read only");
        } else {
            assert_eq!(
                verbs,
                ["get", "list", "create", "patch", "delete"],
                "{rule}"
            );
        }
    }
}
