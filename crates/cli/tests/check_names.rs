//! `svcmirror check`, cross-link names (issue 14 deliverable 4), against loopback API servers:
//! the other links on the source — a Linkerd `Link` resource and the cluster-name labels of
//! mirrors already written — are listed, and a cluster name ending with `-<another>` is a warning
//! (`‼`, exit 0) naming both.

#[path = "../../kube/tests/support/mod.rs"]
mod support;

mod common;
use common::kubeconfig;

use std::net::SocketAddr;
use std::path::Path;

use serde_json::json;
use support::{ApiServer, ServiceAccount, spawn, west};
use svcmirror_core::{Link, TargetState, plan, translate};
use svcmirror_fake::FakeCluster;

/// Applies `cluster`'s link (west's exports) to `east` until converged.
fn converge(east: &mut FakeCluster, cluster: &str) {
    let link = Link::builder(cluster)
        .gateway_address("172.18.0.4".parse().expect("ip"))
        .enable_headless_services(true)
        .build()
        .expect("link");
    let state = west().state();
    let target = TargetState::new(state.services, state.endpoints);
    for _ in 0..4 {
        let source = east.state();
        let p = plan(&link, &translate(&link, &target, &source).desired, &source);
        if p.is_empty() {
            return;
        }
        for op in p.operations {
            east.apply_owned(op).expect("applied");
        }
    }
    panic!("did not converge");
}

async fn check(west: SocketAddr, east: SocketAddr, dir: &Path) -> (i32, String, String) {
    check_with(west, east, dir, &[]).await
}

async fn check_with(
    west: SocketAddr,
    east: SocketAddr,
    dir: &Path,
    extra: &[&str],
) -> (i32, String, String) {
    let mut args = vec![
        "check".to_owned(),
        "--target-kubeconfig".into(),
        kubeconfig(dir, "west", west).display().to_string(),
        "--source-kubeconfig".into(),
        kubeconfig(dir, "east", east).display().to_string(),
        "--cluster-name".into(),
        "west".into(),
        "--gateway-address".into(),
        "172.18.0.4".into(),
        "--enable-headless-services".into(),
        // 172.18.0.4 is never contacted from a test (the probe is tested over loopback).
        "--no-probe".into(),
    ];
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    tokio::task::spawn_blocking(move || {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_svcmirror"))
            .args(&args)
            .env_remove("RUST_LOG")
            .output()
            .expect("runs");
        (
            out.status.code().expect("exit code"),
            String::from_utf8(out.stdout).expect("utf8"),
            String::from_utf8(out.stderr).expect("utf8"),
        )
    })
    .await
    .expect("joined")
}

/// Links `west` and `us-west` on one source (the latter known by its mirrors' labels), and a
/// Link resource for `north`: `us-west` ends with `-west`, a warning naming both; `north` is
/// listed and overlaps nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_warns_when_a_cluster_name_ends_with_another_links() {
    let west_server = ApiServer::new(west());
    let mut east = FakeCluster::default();
    converge(&mut east, "west");
    converge(&mut east, "us-west");
    let east = ApiServer::new(east);
    east.put_object(
        "/apis/multicluster.linkerd.io/v1alpha3/links",
        "north",
        json!({"apiVersion": "multicluster.linkerd.io/v1alpha3", "kind": "Link",
               "metadata": {"namespace": "linkerd-multicluster"},
               "spec": {"targetClusterName": "north", "gatewayAddress": "192.0.2.9"}}),
    );
    let (west_addr, east_addr) = (spawn(west_server).await, spawn(east.clone()).await);
    let dir = std::env::temp_dir().join(format!("svcmirror-check-names-{}", std::process::id()));
    let (code, out, err) = check(west_addr, east_addr, &dir).await;
    assert_eq!(code, 0, "a warning does not fail the check\n{out}{err}");
    assert!(
        out.contains("‼ the links' cluster names do not overlap"),
        "{out}"
    );
    assert!(out.contains("`us-west` ends with `-west`"), "{out}");
    assert!(!out.contains("`north` ends with"), "{out}");
    assert!(
        out.contains("√ the source's Links are listed in all namespaces"),
        "{out}"
    );
    let log = east.log.lock().expect("lock").clone();
    assert!(
        log.iter()
            .any(|l| l == "GET /apis/multicluster.linkerd.io/v1alpha3/links"),
        "the Links are listed in all namespaces: {log:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// One link alone (and a Link resource of the same cluster): no overlap, a `√` line listing it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_of_a_single_link_reports_no_overlap() {
    let west_server = ApiServer::new(west());
    let mut east = FakeCluster::default();
    converge(&mut east, "west");
    let east = ApiServer::new(east);
    let (west_addr, east_addr) = (spawn(west_server).await, spawn(east).await);
    let dir = std::env::temp_dir().join(format!("svcmirror-check-one-{}", std::process::id()));
    let (code, out, err) = check(west_addr, east_addr, &dir).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("√ no cluster name of a link on this source ends with another's (west)"),
        "{out}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The source authorizes as a real API server, for an account whose Role lists Links in the
/// link's namespace only (a RoleBinding, not a ClusterRoleBinding): the list in all namespaces
/// is forbidden, so `check` lists the Links of that namespace, finds `us-west` there, and says
/// which it did. Without even that Role (the controller's own account, which reads one Link by
/// name), it says the Links were not listed and why, and still checks the mirrors' labels.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_lists_links_in_the_links_namespace_when_all_namespaces_is_forbidden() {
    let west_server = ApiServer::new(west());
    let mut east = FakeCluster::default();
    converge(&mut east, "west");
    let east = ApiServer::new(east);
    east.put_object(
        "/apis/multicluster.linkerd.io/v1alpha3/namespaces/linkerd-multicluster/links",
        "us-west",
        json!({"apiVersion": "multicluster.linkerd.io/v1alpha3", "kind": "Link",
               "metadata": {"namespace": "linkerd-multicluster"},
               "spec": {"targetClusterName": "us-west", "gatewayAddress": "192.0.2.9"}}),
    );
    let account =
        json!({"kind": "ServiceAccount", "name": "svcmirror-west", "namespace": "svcmirror"});
    let cluster_wide = json!([
        {"kind": "ClusterRole", "metadata": {"name": "source"},
         "rules": [{"apiGroups": ["", "discovery.k8s.io"],
                    "resources": ["services", "endpoints", "endpointslices", "namespaces"],
                    "verbs": ["list"]}]},
        {"kind": "ClusterRoleBinding", "metadata": {"name": "source"},
         "roleRef": {"kind": "ClusterRole", "name": "source"}, "subjects": [account]}
    ]);
    let links_here = json!([
        {"kind": "Role", "metadata": {"name": "links", "namespace": "linkerd-multicluster"},
         "rules": [{"apiGroups": ["multicluster.linkerd.io"], "resources": ["links"],
                    "verbs": ["list"]}]},
        {"kind": "RoleBinding", "metadata": {"name": "links", "namespace": "linkerd-multicluster"},
         "roleRef": {"kind": "Role", "name": "links"}, "subjects": [account]}
    ]);
    let docs = |with_links: bool| -> Vec<serde_json::Value> {
        let mut docs: Vec<serde_json::Value> =
            serde_json::from_value(cluster_wide.clone()).expect("docs");
        if with_links {
            docs.extend(serde_json::from_value::<Vec<_>>(links_here.clone()).expect("docs"));
        }
        docs
    };
    let subject = || ServiceAccount::new("svcmirror", "svcmirror-west");
    east.enforce_rbac(&docs(true), subject());
    let (west_addr, east_addr) = (spawn(west_server).await, spawn(east.clone()).await);
    let dir = std::env::temp_dir().join(format!("svcmirror-check-ns-{}", std::process::id()));
    // The permissions are not what this test is about: the Lease is not asked for.
    let (code, out, err) =
        check_with(west_addr, east_addr, &dir, &["--lease-namespace", "-"]).await;
    assert!(
        out.contains("`us-west` ends with `-west`"),
        "the Link in the link's namespace was listed\n{out}{err}"
    );
    assert!(
        out.contains(
            "√ the source's Links are listed in namespace linkerd-multicluster only (listing \
             them in all namespaces is forbidden to this account)"
        ),
        "{out}"
    );
    let log = east.log.lock().expect("lock").clone();
    assert!(
        log.iter().any(|l| l
            == "GET /apis/multicluster.linkerd.io/v1alpha3/namespaces/linkerd-multicluster/links"),
        "{log:?}"
    );
    // The controller's account: neither list is allowed; said, and not a warning.
    east.enforce_rbac(&docs(false), subject());
    let (_, out, err) = check_with(west_addr, east_addr, &dir, &["--lease-namespace", "-"]).await;
    assert!(
        out.contains(
            "- the source's other Links not listed (checked against the mirrors' labels only): \
             forbidden to this account in all namespaces (links.multicluster.linkerd.io is \
             forbidden: User \"system:serviceaccount:svcmirror:svcmirror-west\" cannot list \
             resource \"links\" in API group \"multicluster.linkerd.io\" at the cluster scope) \
             and in namespace linkerd-multicluster ("
        ),
        "{out}{err}"
    );
    assert!(
        out.contains("√ no cluster name of a link on this source ends with another's (west)"),
        "{out}"
    );
    let _ = (code, std::fs::remove_dir_all(&dir));
}

/// `check --namespaces` checks a source confined to namespaces as `run --namespaces` runs it,
/// with `deploy/rbac-source-namespaced.yaml` enforced for the controller's account (and
/// `rbac-target.yaml` in the target): every permission asked in each namespace, the source
/// listed there — it passes (exit 0, no `×`). Without `--namespaces`, the cluster-wide asks are
/// refused by that RBAC, as in a cluster: `×`, exit 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_of_a_source_confined_to_namespaces_asks_in_each() {
    let deploy = |file: &str| -> Vec<serde_json::Value> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../deploy")
            .join(file);
        serde_saphyr::from_multiple(&std::fs::read_to_string(path).expect("manifest"))
            .expect("YAML")
    };
    let west_server = ApiServer::new(west());
    west_server.enforce_rbac(
        &deploy("rbac-target.yaml"),
        ServiceAccount::new("svcmirror", "svcmirror-remote-west"),
    );
    let mut east = FakeCluster::default();
    east.create_namespace("apps").expect("namespace");
    converge(&mut east, "west");
    let east = ApiServer::new(east);
    east.enforce_rbac(
        &deploy("rbac-source-namespaced.yaml"),
        ServiceAccount::new("svcmirror", "svcmirror-west"),
    );
    let (west_addr, east_addr) = (spawn(west_server).await, spawn(east.clone()).await);
    let dir = std::env::temp_dir().join(format!("svcmirror-check-conf-{}", std::process::id()));
    let (code, out, err) = check_with(
        west_addr,
        east_addr,
        &dir,
        &["--namespaces", "default,apps"],
    )
    .await;
    assert_eq!(code, 0, "{out}{err}");
    for line in [
        "√ source: may list services in namespace apps",
        "√ source: may delete endpointslices.discovery.k8s.io in namespace default",
        "√ source: may get namespaces apps in namespace apps",
        "√ source: may create events in namespace svcmirror",
        "√ no name conflicts",
        "√ the source holds the mirrored state",
    ] {
        assert!(out.contains(line), "missing {line:?} in\n{out}");
    }
    // (The one warning is the helper's link, which has no gateway identity.)
    assert!(!out.contains('×'), "{out}");
    let (code, out, err) = check_with(west_addr, east_addr, &dir, &[]).await;
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("× source: may list services cluster-wide"),
        "{out}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
