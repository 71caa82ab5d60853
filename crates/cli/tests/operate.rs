//! The operator's commands against loopback API servers (`crates/kube/tests/support`, backed by
//! the in-memory fake): `svcmirror unlink` (a dry run, then `--yes`: exactly the link's objects
//! go) and `svcmirror check` (a checklist; exit 1 on a failure, with SelfSubjectAccessReview
//! answered by the loopback server).

#[path = "../../kube/tests/support/mod.rs"]
mod support;

mod common;
use common::kubeconfig;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use support::{ApiServer, spawn, west};
use svcmirror_core::model::{Kind, Object, ObjectKey, Service, ServicePort};
use svcmirror_core::{Link, TargetState};
use svcmirror_fake::FakeCluster;

fn link(cluster: &str) -> Link {
    Link::builder(cluster)
        .gateway_address("172.18.0.4".parse().expect("ip"))
        .enable_headless_services(true)
        .build()
        .expect("link")
}

/// Applies the link's plans to `east` until converged (what the controller would have done).
fn converge(east: &mut FakeCluster, link: &Link) {
    let state = west().state();
    let target = TargetState::new(state.services, state.endpoints);
    // The one translate → plan → apply loop, with its two-pass bound.
    let driven = svcmirror_core::drive(link, &target, east).expect("converges");
    assert!(driven.refused.is_empty(), "{:?}", driven.refused);
}

fn service(name: &str) -> Service {
    let mut svc = Service::new("default", name);
    svc.spec.ports.push(ServicePort {
        port: 80,
        ..ServicePort::default()
    });
    svc
}

/// Runs the binary off the async runtime (the loopback servers keep serving).
async fn svcmirror(args: Vec<String>) -> (i32, String, String) {
    tokio::task::spawn_blocking(move || {
        let out = Command::new(env!("CARGO_BIN_EXE_svcmirror"))
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

fn names(east: &ApiServer) -> Vec<String> {
    east.lock()
        .state()
        .objects()
        .iter()
        .filter(|o| o.kind() != Kind::Namespace)
        .map(|o| format!("{} {}", o.kind(), o.key()))
        .collect()
}

fn dir(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("svcmirror-operate-{name}-{}", std::process::id()))
}

/// `unlink` shows the plan and deletes nothing; `unlink --yes` deletes every object of link
/// `west` — and nothing of link `north`, nor a foreign Service.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unlink_is_a_dry_run_then_removes_exactly_the_links_objects() {
    let mut east = FakeCluster::default();
    converge(&mut east, &link("west"));
    converge(&mut east, &link("north"));
    east.create(Object::Service(service("foreign")))
        .expect("foreign");
    let east = ApiServer::new(east);
    let east_addr = spawn(east.clone()).await;
    let dir = dir("unlink");
    let config = kubeconfig(&dir, "east", east_addr);
    let args = |yes: bool| {
        let mut args = vec![
            "unlink".to_owned(),
            "--cluster-name".into(),
            "west".into(),
            "--source-kubeconfig".into(),
            config.display().to_string(),
        ];
        if yes {
            args.push("--yes".into());
        }
        args
    };
    let before = names(&east);
    let west_objects: Vec<&String> = before.iter().filter(|n| n.ends_with("-west")).collect();
    assert_eq!(west_objects.len(), 8, "{before:?}");

    let (code, out, err) = svcmirror(args(false)).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("Dry run: nothing was deleted"), "{out}");
    assert!(out.contains("nginx-svc-west"), "{out}");
    assert!(
        !out.contains("nginx-svc-north") && !out.contains("foreign"),
        "{out}"
    );
    assert_eq!(names(&east), before, "a dry run deletes nothing");

    let (code, out, err) = svcmirror(args(true)).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("Deleted 8 object(s)."), "{out}");
    assert!(
        err.contains("deleted Service default/nginx-svc-west in the source cluster"),
        "{err}"
    );
    let after = names(&east);
    let expected: Vec<String> = before
        .iter()
        .filter(|n| !n.ends_with("-west"))
        .cloned()
        .collect();
    assert_eq!(after, expected, "exactly the link's objects are gone");
    assert!(after.iter().any(|n| n == "Service default/foreign"));
    assert!(after.iter().any(|n| n == "Service default/nginx-svc-north"));
    let _ = std::fs::remove_dir_all(&dir);
}

fn check_args(dir: &Path, west: SocketAddr, east: SocketAddr) -> Vec<String> {
    vec![
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
        // 172.18.0.4 is never contacted from a test: the gateway probe has its own tests over
        // loopback (`check_gateway`).
        "--no-probe".into(),
    ]
}

/// A converged link with every permission: every line is `√`, exit 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_of_a_healthy_link_passes() {
    let west = ApiServer::new(west());
    let mut east = FakeCluster::default();
    converge(&mut east, &link("west"));
    let east = ApiServer::new(east);
    let (west_addr, east_addr) = (spawn(west.clone()).await, spawn(east.clone()).await);
    let dir = dir("check-ok");
    let (code, out, err) = svcmirror(check_args(&dir, west_addr, east_addr)).await;
    assert_eq!(code, 0, "{out}{err}");
    for line in [
        format!("√ the source API server http://{east_addr} answers (v1.33.0-loopback)"),
        format!("√ the target API server http://{west_addr} answers (v1.33.0-loopback)"),
        "√ source: may patch services cluster-wide".to_owned(),
        "√ source: may get leases.coordination.k8s.io in namespace svcmirror".to_owned(),
        "√ target: may watch endpoints cluster-wide".to_owned(),
        "√ target: may create events cluster-wide".to_owned(),
        "√ no name conflicts".to_owned(),
        "√ every mirror has its endpoints".to_owned(),
        "√ the source holds the mirrored state".to_owned(),
        "Status check results are √".to_owned(),
    ] {
        assert!(out.contains(&line), "missing {line:?} in\n{out}");
    }
    assert!(!out.contains('×'), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A denied permission, a name taken by a foreign Service and a mirror whose Endpoints lost their
/// addresses: each is a `×` line saying what to do, and the exit code is 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_reports_denied_permissions_conflicts_and_mirrors_without_endpoints() {
    let west = ApiServer::new(west());
    let mut east = FakeCluster::default();
    east.create(Object::Service(service("nginx-set-0-west")))
        .expect("foreign holder of a mirror's name");
    converge(&mut east, &link("west"));
    east.delete(
        Kind::Endpoints,
        &ObjectKey::new("default", "nginx-set-1-west"),
        &svcmirror_backend::Precondition::default(),
    )
    .expect("endpoints gone");
    let east = ApiServer::new(east);
    east.denied.lock().expect("lock").insert((
        String::new(),
        "services".to_owned(),
        "delete".to_owned(),
    ));
    let (west_addr, east_addr) = (spawn(west.clone()).await, spawn(east.clone()).await);
    let dir = dir("check-fail");
    let (code, out, err) = svcmirror(check_args(&dir, west_addr, east_addr)).await;
    assert_eq!(code, 1, "{out}{err}");
    for line in [
        "× source: may delete services cluster-wide",
        "× no name conflicts: 1 name(s) taken",
        "Service default/nginx-set-0-west",
        "× every mirror has its endpoints: 1 without",
        "default/nginx-set-1-west",
        "Status check results are ×",
    ] {
        assert!(out.contains(line), "missing {line:?} in\n{out}");
    }
    assert!(out.contains("√ source: may patch services"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `check` compares the source with what the *controller* computes: the target read as `run`
/// reads it (`KubeTarget::for_link`: every mode's members, SPEC §9), not only gateway-mode
/// exports. A converged remote-discovery mirror is in place, not a pending deletion.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_sees_remote_discovery_exports_as_the_controller_does() {
    let mut west_cluster = west();
    let mut remote = service("remote-api");
    remote.metadata.labels.insert(
        "mirror.linkerd.io/exported".into(),
        "remote-discovery".into(),
    );
    west_cluster
        .create(Object::Service(remote))
        .expect("remote-discovery export");
    let state = west_cluster.state();
    let target = TargetState::new(state.services, state.endpoints);
    let mut east = FakeCluster::default();
    let driven = svcmirror_core::drive(&link("west"), &target, &mut east).expect("converges");
    assert!(driven.refused.is_empty(), "{:?}", driven.refused);
    assert!(
        east.get(Kind::Service, &ObjectKey::new("default", "remote-api-west"))
            .is_some(),
        "the remote-discovery mirror is written"
    );
    let west = ApiServer::new(west_cluster);
    let east = ApiServer::new(east);
    let (west_addr, east_addr) = (spawn(west).await, spawn(east).await);
    let dir = dir("check-modes");
    let (code, out, err) = svcmirror(check_args(&dir, west_addr, east_addr)).await;
    assert_eq!(code, 0, "{out}{err}");
    for line in [
        "√ 2 exported Service(s) in the target",
        "√ the source holds the mirrored state",
    ] {
        assert!(out.contains(line), "missing {line:?} in\n{out}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// An unreachable source API server is a `×` line naming it; the target is still asked (the
/// operator learns about both), and nothing that needs both is checked; exit 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_with_an_unreachable_source_still_asks_the_target() {
    let west = ApiServer::new(west());
    let west_addr = spawn(west).await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let dir = dir("check-unreachable");
    let (code, out, err) = svcmirror(check_args(&dir, west_addr, closed)).await;
    assert_eq!(code, 1, "{out}{err}");
    for line in [
        format!("× the source API server http://{closed} answers"),
        format!("√ the target API server http://{west_addr} answers"),
        "Status check results are ×".to_owned(),
    ] {
        assert!(out.contains(&line), "missing {line:?} in\n{out}");
    }
    assert!(!out.contains("may "), "no permission asked: {out}");
    let _ = std::fs::remove_dir_all(&dir);
}
