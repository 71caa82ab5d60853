//! `svcmirror link` (issue 12 deliverable 3), like `linkerd multicluster link`: offline from
//! flags and a token file, and online against a loopback API server playing the target (its
//! gateway Service `linkerd-multicluster/linkerd-gateway` with a LoadBalancer status and Linkerd's
//! annotations, and the TokenRequest API). The printed Link parses back through `LinkManifest`;
//! every printed object names the cluster; the RBAC printed is `deploy/`'s, rule for rule.

#[path = "../../kube/tests/support/mod.rs"]
mod support;

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde_json::{Value, json};
use support::{ApiServer, spawn};
use svcmirror_core::{GatewayAddresses, LinkManifest, LinkSpec};
use svcmirror_fake::FakeCluster;

const IDENTITY: &str =
    "linkerd-gateway.linkerd-multicluster.serviceaccount.identity.linkerd.cluster.local";

fn svcmirror(args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_svcmirror"))
        .args(args)
        .env_remove("KUBECONFIG")
        .env("HOME", std::env::temp_dir())
        .output()
        .expect("svcmirror runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn documents(text: &str) -> Vec<Value> {
    serde_saphyr::from_multiple::<Value>(text)
        .unwrap_or_else(|e| panic!("{e}\n{text}"))
        .into_iter()
        .filter(|d| !d.is_null())
        .collect()
}

fn find<'a>(docs: &'a [Value], kind: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} printed"))
}

/// The Link the ConfigMap carries, read as the controller reads `--link FILE`.
fn link_spec(docs: &[Value]) -> LinkSpec {
    let text = find(docs, "ConfigMap")["data"]["link.yaml"]
        .as_str()
        .expect("link.yaml");
    serde_saphyr::from_str::<LinkManifest>(text)
        .expect("a Linkerd Link manifest")
        .into_spec()
        .expect("multicluster.linkerd.io/v1alpha3 Link")
}

/// A token file of its own for each call: tests run in parallel threads of one process, and a
/// shared path rewritten by one test was read empty by another (a truncated file, token "").
fn token_file() -> PathBuf {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let path =
        std::env::temp_dir().join(format!("svcmirror-link-token-{}-{n}", std::process::id()));
    std::fs::write(&path, "offline-token\n").expect("token file");
    path
}

fn offline(extra: &[&str]) -> Vec<Value> {
    let token = token_file();
    let mut args = vec![
        "link",
        "--cluster-name",
        "west",
        "--gateway-address",
        "172.18.0.4",
        "--gateway-identity",
        IDENTITY,
        "--api-server-address",
        "https://west.example:6443",
        "--token-file",
        token.to_str().expect("utf-8"),
        "--enable-headless-services",
    ];
    args.extend_from_slice(extra);
    let (code, out, err) = svcmirror(&args);
    assert_eq!(code, 0, "{err}");
    documents(&out)
}

/// Every (group, resource, verb) the Roles/ClusterRoles of `docs` grant.
fn granted(docs: &[Value]) -> BTreeSet<(String, String, String)> {
    let mut rules = BTreeSet::new();
    for doc in docs
        .iter()
        .filter(|d| d["kind"] == "Role" || d["kind"] == "ClusterRole")
    {
        for rule in doc["rules"].as_array().into_iter().flatten() {
            let list = |v: &Value| -> Vec<String> {
                v.as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            };
            for g in list(&rule["apiGroups"]) {
                for r in list(&rule["resources"]) {
                    for v in list(&rule["verbs"]) {
                        rules.insert((g.clone(), r.clone(), v));
                    }
                }
            }
        }
    }
    rules
}

fn deploy(files: &[&str]) -> Vec<Value> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy");
    files
        .iter()
        .flat_map(|f| documents(&std::fs::read_to_string(dir.join(f)).expect("manifest")))
        .collect()
}

/// (kind, namespace/name) of every object.
fn kinds_and_names(docs: &[Value]) -> BTreeSet<(String, String)> {
    docs.iter()
        .map(|d| {
            let meta = &d["metadata"];
            (
                d["kind"].as_str().unwrap_or_default().to_owned(),
                format!(
                    "{}/{}",
                    meta["namespace"].as_str().unwrap_or_default(),
                    meta["name"].as_str().unwrap_or_default()
                ),
            )
        })
        .collect()
}

/// Issue 12: the printed Link parses back through `LinkManifest` to the spec the flags give.
#[test]
fn offline_link_parses_back_to_the_flags_spec() {
    let docs = offline(&[]);
    let spec = link_spec(&docs);
    let mut expected = LinkSpec::default();
    expected.target_cluster_name = Some("west".into());
    expected.gateway_address = Some(GatewayAddresses::parse("172.18.0.4"));
    expected.gateway_identity = Some(IDENTITY.into());
    expected.enable_headless_services = Some(true);
    expected.cluster_credentials_secret = Some("cluster-credentials-west".into());
    assert_eq!(spec, expected, "the flags' spec, and the Secret's name");
    assert_eq!(spec.target_cluster_name.as_deref(), Some("west"));
    assert_eq!(
        spec.gateway_address.as_ref().map(|a| a.0.clone()),
        Some(vec!["172.18.0.4".to_owned()])
    );
    assert_eq!(spec.gateway_identity.as_deref(), Some(IDENTITY));
    assert_eq!(spec.enable_headless_services, Some(true));
    assert_eq!(
        spec.cluster_credentials_secret.as_deref(),
        Some("cluster-credentials-west")
    );
    // The credentials: a kubeconfig with the token given, for the target's API server.
    let secret = find(&docs, "Secret");
    assert_eq!(secret["metadata"]["name"], "cluster-credentials-west");
    let kubeconfig = documents(
        secret["stringData"]["kubeconfig"]
            .as_str()
            .expect("kubeconfig"),
    );
    assert_eq!(kubeconfig[0]["users"][0]["user"]["token"], "offline-token");
    assert_eq!(
        kubeconfig[0]["clusters"][0]["cluster"]["server"],
        "https://west.example:6443"
    );
    // The Deployment mounts exactly these.
    let pod = &find(&docs, "Deployment")["spec"]["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], "svcmirror-west");
    assert_eq!(
        pod["volumes"][0]["secret"]["secretName"],
        "cluster-credentials-west"
    );
    assert_eq!(
        pod["volumes"][1]["configMap"]["name"],
        "svcmirror-link-west"
    );
}

/// Issue 12 "the cluster name in every name, nothing hard-coded": another cluster's link names
/// only that cluster, in every object (the target's shared Namespace aside).
#[test]
fn every_printed_object_names_the_cluster() {
    let token = token_file();
    let (code, out, err) = svcmirror(&[
        "link",
        "--cluster-name",
        "north",
        "--gateway-address",
        "192.0.2.7",
        "--gateway-identity",
        IDENTITY,
        "--api-server-address",
        "https://north.example:6443",
        "--token-file",
        token.to_str().expect("utf-8"),
        "--create-namespaces",
        "--link-resource",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains("west"), "{out}");
    let docs = documents(&out);
    assert!(docs.len() >= 11, "{docs:#?}");
    let (_, target, _) = svcmirror(&["link", "--cluster-name", "north", "--target-rbac"]);
    let target = documents(&target);
    for doc in docs
        .iter()
        .chain(target.iter().filter(|d| d["kind"] != "Namespace"))
    {
        let name = doc["metadata"]["name"].as_str().unwrap_or_default();
        assert!(name.contains("north"), "{} {name}", doc["kind"]);
        assert_eq!(
            doc["metadata"]["labels"]["mirror.linkerd.io/cluster-name"], "north",
            "{} {name}",
            doc["kind"]
        );
    }
    let link = find(&docs, "Link");
    assert_eq!(link["apiVersion"], "multicluster.linkerd.io/v1alpha3");
    assert_eq!(link["spec"]["targetClusterName"], "north");
}

/// Issue 12 "`deploy/` becomes the output of `svcmirror link` for the README's example": for
/// cluster `west`, the rules printed are `deploy/`'s exactly (source, namespace creation,
/// target), and so are the kinds, namespaces and names of the objects (the Secret aside: its
/// token is not shipped).
#[test]
fn printed_rbac_and_objects_equal_deploy_for_west() {
    let source = offline(&[]);
    let with_namespaces = offline(&["--create-namespaces"]);
    let (code, target, err) = svcmirror(&["link", "--cluster-name", "west", "--target-rbac"]);
    assert_eq!(code, 0, "{err}");
    let target = documents(&target);
    assert_eq!(granted(&source), granted(&deploy(&["rbac-source.yaml"])));
    assert_eq!(
        granted(&with_namespaces),
        granted(&deploy(&[
            "rbac-source.yaml",
            "rbac-source-create-namespaces.yaml"
        ]))
    );
    assert_eq!(granted(&target), granted(&deploy(&["rbac-target.yaml"])));
    let printed: BTreeSet<_> = kinds_and_names(&with_namespaces)
        .into_iter()
        .chain(kinds_and_names(&target))
        .filter(|(kind, _)| kind != "Secret")
        .collect();
    let shipped = kinds_and_names(&deploy(&[
        "rbac-source.yaml",
        "rbac-source-create-namespaces.yaml",
        "deployment.yaml",
        "rbac-target.yaml",
    ]));
    assert_eq!(printed, shipped);
    // The Deployment's pod is deploy/'s.
    let pod = |docs: &[Value]| find(docs, "Deployment")["spec"]["template"]["spec"].clone();
    let shipped_pod = pod(&deploy(&["deployment.yaml"]));
    for field in ["serviceAccountName", "securityContext", "volumes"] {
        assert_eq!(pod(&source)[field], shipped_pod[field], "{field}");
    }
    let ours = &find(&source, "Deployment")["spec"]["template"]["spec"]["containers"][0];
    let shipped_deployment = deploy(&["deployment.yaml"]);
    let theirs =
        &find(&shipped_deployment, "Deployment")["spec"]["template"]["spec"]["containers"][0];
    for field in [
        "args",
        "image",
        "securityContext",
        "livenessProbe",
        "readinessProbe",
        "resources",
        "env",
        "ports",
        "volumeMounts",
    ] {
        assert_eq!(ours[field], theirs[field], "{field}");
    }
}

/// Like `linkerd multicluster link`: the gateway addresses (LoadBalancer ingress IP and
/// hostname), the `mc-gateway` port, the identity and the probe (`mc-probe` port,
/// `probe-path`, `probe-period` in seconds) come from the target's gateway Service, and the token
/// is a bound one requested with the TokenRequest API for the link's own ServiceAccount.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn online_link_reads_the_gateway_service_and_requests_a_bound_token() {
    let west = ApiServer::new(FakeCluster::default());
    west.put_object(
        "/api/v1/namespaces/linkerd-multicluster/services",
        "linkerd-gateway",
        json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"namespace": "linkerd-multicluster", "annotations": {
                "mirror.linkerd.io/gateway-identity": IDENTITY,
                "mirror.linkerd.io/probe-path": "/ready",
                "mirror.linkerd.io/probe-period": "3"}},
            "spec": {"type": "LoadBalancer", "ports": [
                {"name": "mc-gateway", "port": 4143, "protocol": "TCP"},
                {"name": "mc-probe", "port": 4191, "protocol": "TCP"}]},
            "status": {"loadBalancer": {"ingress": [
                {"ip": "172.18.0.4"}, {"hostname": "gw.west.example"}]}},
        }),
    );
    west.put_object(
        "/api/v1/namespaces/svcmirror/serviceaccounts",
        "svcmirror-remote-west",
        json!({"apiVersion": "v1", "kind": "ServiceAccount",
               "metadata": {"namespace": "svcmirror"}}),
    );
    let addr = spawn(west.clone()).await;
    let dir = std::env::temp_dir().join(format!("svcmirror-link-online-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let kubeconfig = dir.join("west.kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: west\n\
             clusters:\n- name: west\n  cluster:\n    server: http://{addr}\n\
             contexts:\n- name: west\n  context:\n    cluster: west\n    user: west\n\
             users:\n- name: west\n  user: {{}}\n"
        ),
    )
    .expect("kubeconfig");
    let kubeconfig = kubeconfig.to_str().expect("utf-8").to_owned();
    let (code, out, err) = tokio::task::spawn_blocking(move || {
        svcmirror(&[
            "link",
            "--kubeconfig",
            &kubeconfig,
            "--cluster-name",
            "west",
        ])
    })
    .await
    .expect("joined");
    assert_eq!(code, 0, "{err}");
    let docs = documents(&out);
    let spec = link_spec(&docs);
    assert_eq!(
        spec.gateway_address.as_ref().map(|a| a.0.clone()),
        Some(vec!["172.18.0.4".to_owned(), "gw.west.example".to_owned()])
    );
    assert_eq!(spec.gateway_port.as_deref(), Some("4143"));
    assert_eq!(spec.gateway_identity.as_deref(), Some(IDENTITY));
    let probe = spec.probe_spec.expect("probe from the gateway Service");
    assert_eq!(probe.path.as_deref(), Some("/ready"));
    assert_eq!(probe.port.as_deref(), Some("4191"));
    assert_eq!(probe.period.as_deref(), Some("3s"));
    let kubeconfig = documents(
        find(&docs, "Secret")["stringData"]["kubeconfig"]
            .as_str()
            .expect("kubeconfig"),
    );
    assert_eq!(
        kubeconfig[0]["users"][0]["user"]["token"],
        "bound-token-for-svcmirror-remote-west"
    );
    assert_eq!(
        kubeconfig[0]["clusters"][0]["cluster"]["server"],
        format!("http://{addr}")
    );
    let log = west.log.lock().expect("lock").clone();
    assert!(
        log.iter().any(|l| l
            == "POST /api/v1/namespaces/svcmirror/serviceaccounts/svcmirror-remote-west/token"),
        "{log:?}"
    );
    assert!(
        log.iter().all(|l| !l.contains("secrets")),
        "no legacy token Secret is read: {log:?}"
    );
}

/// SPEC §2.2 with `--link-resource`: the controller follows the Link resource (`run
/// --link-name`, nothing mounted, no ConfigMap), and a Role in its namespace grants exactly what
/// that mode uses — `deploy/rbac-link.yaml`'s rules, on the Link and its Secret by name.
#[test]
fn link_resource_mode_follows_the_link_with_rbac_links_rules() {
    let docs = offline(&["--link-resource"]);
    assert!(docs.iter().all(|d| d["kind"] != "ConfigMap"), "{docs:#?}");
    let link = find(&docs, "Link");
    assert_eq!(link["metadata"]["namespace"], "svcmirror");
    assert_eq!(
        link["spec"]["clusterCredentialsSecret"],
        "cluster-credentials-west"
    );
    let container = &find(&docs, "Deployment")["spec"]["template"]["spec"]["containers"][0];
    let args: Vec<&str> = container["args"]
        .as_array()
        .expect("args")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(args.contains(&"--link-name=west"), "{args:?}");
    assert!(args.contains(&"--link-namespace=svcmirror"), "{args:?}");
    assert!(
        !args
            .iter()
            .any(|a| a.starts_with("--link=") || a.starts_with("--target-kubeconfig")),
        "{args:?}"
    );
    // Nothing is mounted, and the manifest says so by leaving the fields out (no `volumes: []`).
    let pod = &find(&docs, "Deployment")["spec"]["template"]["spec"];
    assert!(pod.get("volumes").is_none(), "{pod}");
    assert!(container.get("volumeMounts").is_none(), "{container}");
    let role = docs
        .iter()
        .find(|d| d["kind"] == "Role" && d["metadata"]["name"] == "svcmirror-link-west")
        .expect("the link's Role");
    assert_eq!(role["metadata"]["namespace"], "svcmirror");
    assert_eq!(
        granted(std::slice::from_ref(role)),
        granted(&deploy(&["rbac-link.yaml"]))
    );
    let deploy_role = deploy(&["rbac-link.yaml"])
        .into_iter()
        .find(|d| d["kind"] == "Role")
        .expect("deploy's Role");
    let names = |role: &Value| -> Vec<Value> {
        role["rules"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| r["resourceNames"].clone())
            .collect()
    };
    assert_eq!(
        names(role),
        names(&deploy_role),
        "on the same objects, by name"
    );
    let binding = docs
        .iter()
        .find(|d| d["kind"] == "RoleBinding" && d["metadata"]["name"] == "svcmirror-link-west")
        .expect("its binding");
    assert_eq!(binding["subjects"][0]["name"], "svcmirror-west");
}

/// Every binding in `deploy/` (the link mode's included) binds a ServiceAccount `deploy/`
/// defines in the source — the controller's, `svcmirror-west` — or the target's, which
/// `svcmirror link --target-rbac` prints: a binding to an account nobody runs as grants nothing.
#[test]
fn every_binding_in_deploy_binds_an_account_that_exists() {
    let (code, target, err) = svcmirror(&["link", "--cluster-name", "west", "--target-rbac"]);
    assert_eq!(code, 0, "{err}");
    let target = documents(&target);
    let files = [
        "namespace.yaml",
        "rbac-source.yaml",
        "rbac-source-create-namespaces.yaml",
        "rbac-source-namespaced.yaml",
        "rbac-link.yaml",
        "rbac-target.yaml",
        "deployment.yaml",
    ];
    let docs = deploy(&files);
    let accounts: BTreeSet<(String, String)> = docs
        .iter()
        .chain(target.iter())
        .filter(|d| d["kind"] == "ServiceAccount")
        .map(|d| {
            (
                d["metadata"]["namespace"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                d["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect();
    for binding in docs
        .iter()
        .filter(|d| d["kind"] == "RoleBinding" || d["kind"] == "ClusterRoleBinding")
    {
        for subject in binding["subjects"].as_array().into_iter().flatten() {
            let account = (
                subject["namespace"].as_str().unwrap_or_default().to_owned(),
                subject["name"].as_str().unwrap_or_default().to_owned(),
            );
            assert!(
                accounts.contains(&account),
                "{} {} binds {account:?}, which deploy/ does not define ({accounts:?})",
                binding["kind"],
                binding["metadata"]["name"]
            );
        }
    }
}
