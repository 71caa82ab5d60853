//! `svcmirror check`, cross-link names (issue 14 deliverable 4), against loopback API servers:
//! the other links on the source — a Linkerd `Link` resource and the cluster-name labels of
//! mirrors already written — are listed, and a cluster name ending with `-<another>` is a warning
//! (`‼`, exit 0) naming both.

#[path = "../../kube/tests/support/mod.rs"]
mod support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde_json::json;
use support::{ApiServer, spawn, west};
use svcmirror_core::{Link, TargetState, plan, translate};
use svcmirror_fake::FakeCluster;

fn kubeconfig(dir: &Path, name: &str, addr: SocketAddr) -> PathBuf {
    std::fs::create_dir_all(dir).expect("dir");
    let path = dir.join(format!("{name}.kubeconfig"));
    let text = format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: {name}\n\
         clusters:\n- name: {name}\n  cluster:\n    server: http://{addr}\n\
         contexts:\n- name: {name}\n  context:\n    cluster: {name}\n    user: {name}\n\
         users:\n- name: {name}\n  user: {{}}\n"
    );
    std::fs::write(&path, text).expect("write kubeconfig");
    path
}

/// Applies `cluster`'s link (west's exports) to `east` until converged.
fn converge(east: &mut FakeCluster, cluster: &str) {
    let link = Link::builder(cluster)
        .gateway_address("172.18.0.4".parse().expect("ip"))
        .enable_headless_services(true)
        .build()
        .expect("link");
    let state = west().state();
    let target = TargetState {
        services: state.services,
        endpoints: state.endpoints,
    };
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
    let args = vec![
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
