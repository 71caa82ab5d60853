//! `svcmirror check --link-name` (issue 12, SPEC §2.2): the link checked as `svcmirror run
//! --link-name` runs it — Linkerd's `Link` resource read from the source the way the controller's
//! watch reads it (a list with the `metadata.name` field selector: `deploy/rbac-link.yaml` grants
//! no `get` on Links), the target's kubeconfig from the Secret it names, and that mode's
//! permissions (the Link's list/watch, its status get/patch, the Secret's get/list/watch, each by
//! name in the Link's namespace) asked with SelfSubjectAccessReview beside the file mode's.
//! Loopback API servers only; the gateway is not probed (`--no-probe`: its probe has its own
//! tests over loopback).

#[path = "../../kube/tests/support/mod.rs"]
mod support;

mod common;
use common::*;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Value, json};
use support::{ApiServer, ServiceAccount, spawn};
use svcmirror_fake::FakeCluster;

const LINKS: &str = "/apis/multicluster.linkerd.io/v1alpha3/namespaces/linkerd-multicluster/links";
const SECRETS: &str = "/api/v1/namespaces/linkerd-multicluster/secrets";

fn link() -> Value {
    json!({"apiVersion": "multicluster.linkerd.io/v1alpha3", "kind": "Link",
           "metadata": {"name": "west", "namespace": "linkerd-multicluster"},
           "spec": {"targetClusterName": "west", "gatewayAddress": "172.18.0.4",
                    "gatewayPort": "4143", "gatewayIdentity": "gw.west",
                    "probeSpec": {"path": "/ready", "port": "4191", "period": "3s"}}})
}

fn secret(kubeconfig: &str) -> Value {
    let data = serde_json::to_value(k8s_openapi::ByteString(kubeconfig.as_bytes().to_vec()))
        .expect("base64");
    json!({"apiVersion": "v1", "kind": "Secret",
           "metadata": {"name": "cluster-credentials-west", "namespace": "linkerd-multicluster"},
           "type": "mirror.linkerd.io/remote-kubeconfig", "data": {"kubeconfig": data}})
}

fn dir(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("svcmirror-check-ln-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    dir
}

/// An empty target (nothing exported) and a source with the Link and (when `with_secret`) its
/// Secret; the servers and west's address.
async fn clusters(with_secret: bool) -> (Arc<ApiServer>, SocketAddr, SocketAddr) {
    let west = ApiServer::new(FakeCluster::default());
    let east = ApiServer::new(FakeCluster::default());
    let (west_addr, east_addr) = (spawn(west).await, spawn(east.clone()).await);
    east.put_object(LINKS, "west", link());
    if with_secret {
        east.put_object(
            SECRETS,
            "cluster-credentials-west",
            secret(&kubeconfig_text("west", west_addr)),
        );
    }
    (east, west_addr, east_addr)
}

async fn check(dir: &Path, east: SocketAddr) -> (i32, String, String) {
    svcmirror_output(vec![
        "check".into(),
        "--link-name".into(),
        "west".into(),
        "--source-kubeconfig".into(),
        kubeconfig(dir, "east", east).display().to_string(),
        "--no-probe".into(),
    ])
    .await
}

/// The documents of `deploy/<files>`.
fn deploy(files: &[&str]) -> Vec<Value> {
    let mut docs = Vec::new();
    for file in files {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../deploy")
            .join(file);
        let text = std::fs::read_to_string(path).expect("manifest");
        docs.extend(serde_saphyr::from_multiple::<Value>(&text).expect("YAML"));
    }
    docs
}

/// The Link and its Secret in place, deploy/'s RBAC for this mode (rbac-source.yaml and
/// rbac-link.yaml) enforced in the source for the controller's account, as check is meant to
/// run: `√` lines for the Link, the Secret's kubeconfig (the target it names answers) and each
/// of the mode's permissions, by name; exit 0. check reads the Link as the controller does, so
/// none of its requests is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_link_name_reads_the_link_and_secret_and_asks_for_that_modes_permissions() {
    let (east, west_addr, east_addr) = clusters(true).await;
    east.enforce_rbac(
        &deploy(&["rbac-source.yaml", "rbac-link.yaml"]),
        ServiceAccount::new("svcmirror", "svcmirror-west"),
    );
    let dir = dir("ok");
    let (code, out, err) = check(&dir, east_addr).await;
    assert_eq!(code, 0, "{out}{err}");
    for line in [
        "svcmirror check: Link linkerd-multicluster/west".to_owned(),
        "√ the Link linkerd-multicluster/west exists in the source".to_owned(),
        format!(
            "√ the credentials Secret linkerd-multicluster/cluster-credentials-west holds a \
             kubeconfig (target http://{west_addr})"
        ),
        "√ the link is valid (gateway 172.18.0.4 port 4143".to_owned(),
        format!("√ the target API server http://{west_addr} answers"),
        "√ source: may list links.multicluster.linkerd.io west in namespace linkerd-multicluster"
            .to_owned(),
        "√ source: may watch links.multicluster.linkerd.io west in namespace linkerd-multicluster"
            .to_owned(),
        "√ source: may get links.multicluster.linkerd.io/status west in namespace linkerd-multicluster"
            .to_owned(),
        "√ source: may patch links.multicluster.linkerd.io/status west in namespace linkerd-multicluster"
            .to_owned(),
        "√ source: may get secrets cluster-credentials-west in namespace linkerd-multicluster"
            .to_owned(),
        "√ source: may watch secrets cluster-credentials-west in namespace linkerd-multicluster"
            .to_owned(),
        // The file mode's permissions are asked too.
        "√ source: may patch services cluster-wide".to_owned(),
        "√ target: may watch endpoints cluster-wide".to_owned(),
        "- gateway not probed (--no-probe)".to_owned(),
        "Status check results are √".to_owned(),
    ] {
        assert!(out.contains(&line), "missing {line:?} in\n{out}");
    }
    let log = east.log.lock().expect("lock").clone();
    assert!(
        log.iter().any(|l| l == &format!("GET {LINKS}")),
        "the Link is listed by name, as the watch does: {log:?}"
    );
    assert!(
        !log.iter().any(|l| l == &format!("GET {LINKS}/west")),
        "no plain get of the Link (rbac-link.yaml grants none): {log:?}"
    );
    let enforce = east.enforce.lock().expect("lock").clone();
    let (rbac, controller) = enforce.expect("enforced");
    let refused: Vec<String> = rbac
        .refused(&controller, &east.recorded())
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        refused,
        // Listing every Link is check's own, not the controller's (said on a `-` line).
        [
            "list links.multicluster.linkerd.io cluster-wide",
            "list links.multicluster.linkerd.io in linkerd-multicluster"
        ],
        "check's requests need no more than deploy/ grants the controller"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A denied status patch (the controller could not report each export's conditions) is a `×`
/// line pointing at rbac-link.yaml; exit 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_link_name_reports_a_denied_status_patch() {
    let (east, _, east_addr) = clusters(true).await;
    east.denied.lock().expect("lock").insert((
        "multicluster.linkerd.io".to_owned(),
        "links/status".to_owned(),
        "patch".to_owned(),
    ));
    let dir = dir("denied");
    let (code, out, err) = check(&dir, east_addr).await;
    assert_eq!(code, 1, "{out}{err}");
    for line in [
        "× source: may patch links.multicluster.linkerd.io/status west in namespace linkerd-multicluster",
        "grant it (deploy/rbac-link.yaml)",
        "√ source: may get links.multicluster.linkerd.io/status west",
        "Status check results are ×",
    ] {
        assert!(out.contains(line), "missing {line:?} in\n{out}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// SPEC §2.2: without its credentials Secret the controller mirrors nothing: a `×` line naming
/// the Secret, and nothing checked that needs the target; exit 1. Without the Link, a `×` line
/// saying how to create it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_link_name_fails_without_the_secret_or_the_link() {
    let (east, _, east_addr) = clusters(false).await;
    let dir = dir("missing");
    let (code, out, err) = check(&dir, east_addr).await;
    assert_eq!(code, 1, "{out}{err}");
    for line in [
        "√ the Link linkerd-multicluster/west exists in the source",
        "× the credentials Secret linkerd-multicluster/cluster-credentials-west holds a kubeconfig",
        "cluster-credentials-west does not exist",
        "Status check results are ×",
    ] {
        assert!(out.contains(line), "missing {line:?} in\n{out}");
    }
    assert!(!out.contains("target"), "the target is unknown: {out}");

    east.delete_object(LINKS, "west");
    let (code, out, err) = check(&dir, east_addr).await;
    assert_eq!(code, 1, "{out}{err}");
    for line in [
        "× the Link linkerd-multicluster/west exists in the source",
        "not found: apply it (`svcmirror link --link-resource",
    ] {
        assert!(out.contains(line), "missing {line:?} in\n{out}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A Link the controller cannot use (a mistyped field) is a `×` line naming the field, and
/// nothing that needs the link is checked; exit 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_link_name_names_the_bad_field_of_an_unusable_link() {
    let (east, _, east_addr) = clusters(true).await;
    let mut bad = link();
    bad["spec"]["gatewayPort"] = json!("forty-one");
    east.put_object(LINKS, "west", bad);
    let dir = dir("bad");
    let (code, out, err) = check(&dir, east_addr).await;
    assert_eq!(code, 1, "{out}{err}");
    for line in [
        "√ the Link linkerd-multicluster/west exists in the source",
        "× the Link linkerd-multicluster/west is valid",
        "gatewayPort",
        "the controller mirrors nothing until it is fixed",
    ] {
        assert!(out.contains(line), "missing {line:?} in\n{out}");
    }
    assert!(!out.contains("may "), "no permission asked: {out}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// What a real cluster refuses, the enforcing loopback server refuses too, so `check` (run as
/// the controller's account) fails as it would there: `rbac-link.yaml` with its Role and
/// RoleBinding in another namespace than the Link's, its RoleBinding binding another account,
/// or `resourceNames` that do not name this Link — each a `×` naming what is forbidden; exit 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_link_name_fails_where_a_cluster_would_refuse_the_link_role() {
    type Mutation = fn(&mut Value);
    let mutations: [(&str, Mutation); 3] = [
        ("wrong-namespace", |d| {
            if d["metadata"]["name"] == "svcmirror-link-west" {
                d["metadata"]["namespace"] = json!("svcmirror");
            }
        }),
        ("wrong-account", |d| {
            if d["kind"] == "RoleBinding" && d["metadata"]["name"] == "svcmirror-link-west" {
                d["subjects"][0]["name"] = json!("svcmirror-east");
            }
        }),
        ("wrong-name", |d| {
            if d["kind"] == "Role" && d["metadata"]["name"] == "svcmirror-link-west" {
                for rule in d["rules"].as_array_mut().expect("rules") {
                    if rule["resources"][0]
                        .as_str()
                        .is_some_and(|r| r.starts_with("links"))
                    {
                        rule["resourceNames"] = json!(["east"]);
                    }
                }
            }
        }),
    ];
    for (case, mutate) in mutations {
        let (east, _, east_addr) = clusters(true).await;
        let mut docs = deploy(&["rbac-source.yaml", "rbac-link.yaml"]);
        docs.iter_mut().for_each(mutate);
        east.enforce_rbac(&docs, ServiceAccount::new("svcmirror", "svcmirror-west"));
        let dir = dir(case);
        let (code, out, err) = check(&dir, east_addr).await;
        assert_eq!(code, 1, "{case}: {out}{err}");
        assert!(
            out.contains("× the Link linkerd-multicluster/west is readable by this account"),
            "{case}: {out}{err}"
        );
        assert!(
            out.contains("grant it (deploy/rbac-link.yaml"),
            "{case}: {out}{err}"
        );
        assert!(
            out.contains(
                "links.multicluster.linkerd.io \"west\" is forbidden: User \
                 \"system:serviceaccount:svcmirror:svcmirror-west\" cannot list resource \
                 \"links\" in API group \"multicluster.linkerd.io\" in the namespace \
                 \"linkerd-multicluster\""
            ),
            "{case}: {out}{err}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
