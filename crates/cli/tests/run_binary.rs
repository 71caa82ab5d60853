//! `svcmirror run`, the shipped binary, end to end: two loopback API servers backed by
//! `svcmirror_fake::FakeCluster` play west (the seed walkthrough's exported headless
//! `nginx-svc` with three StatefulSet pods) and east (empty), reached through kubeconfig files.
//! The binary must mirror the walkthrough (SPEC §11 `seed-walkthrough`), report ready and its
//! metrics over HTTP, and stop cleanly on SIGTERM.
//!
//! No timing assertions: every wait is a bounded poll (a hang guard of a minute or more), and the
//! test fails with what was still missing.

#[path = "../../kube/tests/support/mod.rs"]
mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use support::{ApiServer, nginx_endpoints, seed_mirrored, spawn, spawn_tagged, west};
use svcmirror_core::model::Object;
use svcmirror_fake::FakeCluster;

/// A kubeconfig for the plain-HTTP server at `addr`.
fn kubeconfig(dir: &Path, name: &str, addr: SocketAddr) -> PathBuf {
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

/// `GET path` over HTTP/1.0: the status code and body, or `None` while nothing listens.
fn http_get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(addr).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let code = response.split_whitespace().nth(1)?.parse().ok()?;
    let body = response.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    Some((code, body.to_owned()))
}

/// The child's stderr so far (its log), for failure messages.
fn log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("stderr.log")).unwrap_or_default()
}

/// Polls `check` every 100 ms, at most `tries` times; panics with its last answer and the log.
async fn wait_for(
    child: &mut Child,
    dir: &Path,
    tries: u32,
    mut check: impl FnMut() -> Result<(), String>,
) {
    let mut last = String::new();
    for _ in 0..tries {
        match check() {
            Ok(()) => return,
            Err(why) => last = why,
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "svcmirror run exited ({status}); last: {last}\n{}",
                log(dir)
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = child.kill();
    panic!("gave up waiting; last: {last}\n{}", log(dir));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svcmirror_run_mirrors_the_seed_walkthrough_serves_metrics_and_stops_on_sigterm() {
    let west = ApiServer::new(west());
    let east = ApiServer::new(FakeCluster::default());
    let (west_addr, east_addr) = (spawn(west.clone()).await, spawn(east.clone()).await);
    let dir = std::env::temp_dir().join(format!("svcmirror-run-binary-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let metrics = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");

    let mut child = Command::new(env!("CARGO_BIN_EXE_svcmirror"))
        .arg("run")
        .arg("--target-kubeconfig")
        .arg(kubeconfig(&dir, "west", west_addr))
        .arg("--source-kubeconfig")
        .arg(kubeconfig(&dir, "east", east_addr))
        .args(["--cluster-name", "west", "--gateway-address", "172.18.0.4"])
        .args(["--enable-headless-services", "--no-leader-election"])
        .args(["--metrics-addr", &metrics.to_string()])
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("stderr.log")).expect("log file"))
        .spawn()
        .expect("svcmirror run starts");

    // The walkthrough converges in east: root headless mirror, three endpoint mirrors with
    // ClusterIPs allocated by east, root Endpoints mapping each hostname to its ClusterIP.
    wait_for(&mut child, &dir, 1200, || seed_mirrored(&east.lock(), 3)).await;

    // Ready (its first full reconcile is done) and its metrics say what it mirrored.
    wait_for(&mut child, &dir, 600, || {
        match http_get(metrics, "/readyz") {
            Some((200, _)) => Ok(()),
            other => Err(format!("/readyz: {other:?}")),
        }
    })
    .await;
    assert_eq!(http_get(metrics, "/healthz").map(|(c, _)| c), Some(200));
    let (code, body) = http_get(metrics, "/metrics").expect("/metrics answers");
    assert_eq!(code, 200, "{body}");
    assert!(
        body.lines()
            .any(|l| l == r#"svcmirror_mirrored_services{mode="headless"} 1"#),
        "{body}"
    );

    // SIGTERM: a clean stop, exit code 0.
    // The shell's builtin `kill`: no procps needed, no `unsafe` signal call here.
    let sent = Command::new("sh")
        .args(["-c", &format!("kill -TERM {}", child.id())])
        .status()
        .expect("sh runs");
    assert!(sent.success());
    let mut exited = None;
    for _ in 0..600 {
        if let Some(status) = child.try_wait().expect("wait") {
            exited = Some(status);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let Some(status) = exited else {
        let _ = child.kill();
        panic!("still running a minute after SIGTERM\n{}", log(&dir));
    };
    assert!(status.success(), "{status}\n{}", log(&dir));
    // Nothing but the mirrors was written to east, and the mirrors are still in place.
    assert!(seed_mirrored(&east.lock(), 3).is_ok());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Starts `svcmirror run` with leader election, as replica `pod`, writing to east through
/// `east_addr`.
fn replica(dir: &Path, pod: &str, west: SocketAddr, east: SocketAddr) -> (Child, SocketAddr) {
    let metrics = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let child = Command::new(env!("CARGO_BIN_EXE_svcmirror"))
        .arg("run")
        .arg("--target-kubeconfig")
        .arg(kubeconfig(dir, &format!("west-{pod}"), west))
        .arg("--source-kubeconfig")
        .arg(kubeconfig(dir, &format!("east-{pod}"), east))
        .args(["--cluster-name", "west", "--gateway-address", "172.18.0.4"])
        .args([
            "--enable-headless-services",
            "--lease-namespace",
            "svcmirror",
        ])
        .args(["--metrics-addr", &metrics.to_string()])
        .env("POD_NAME", pod)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("stderr.log")).expect("log file"))
        .spawn()
        .expect("svcmirror run starts");
    (child, metrics)
}

fn terminate(child: &mut Child, dir: &Path) {
    let sent = Command::new("sh")
        .args(["-c", &format!("kill -TERM {}", child.id())])
        .status()
        .expect("sh runs");
    assert!(sent.success());
    for _ in 0..600 {
        if let Some(status) = child.try_wait().expect("wait") {
            assert!(status.success(), "{status}\n{}", log(dir));
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    panic!("still running a minute after SIGTERM\n{}", log(dir));
}

/// Issue 14, two controllers racing for the lease: two `svcmirror run` replicas share one Lease
/// in east. Only the holder writes; the standby writes nothing (not even while it waits); after
/// the holder stops (SIGTERM, which releases the lease) the other one takes over and writes, and
/// the old one never writes again. East tells the replicas apart by the port each one uses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_race_for_the_lease_and_only_the_holder_writes() {
    let west = ApiServer::new(west());
    let east = ApiServer::new(FakeCluster::default());
    let west_addr = spawn(west.clone()).await;
    let (east_a, east_b) = (
        spawn_tagged(east.clone(), Some("a")).await,
        spawn_tagged(east.clone(), Some("b")).await,
    );
    let root = std::env::temp_dir().join(format!("svcmirror-lease-race-{}", std::process::id()));
    let (dir_a, dir_b) = (root.join("a"), root.join("b"));
    std::fs::create_dir_all(&dir_a).expect("temp dir");
    std::fs::create_dir_all(&dir_b).expect("temp dir");
    let holder = || {
        east.leases
            .lock()
            .expect("lock")
            .holder("svcmirror", "svcmirror-west")
    };

    let (mut a, _) = replica(&dir_a, "pod-a", west_addr, east_a);
    wait_for(&mut a, &dir_a, 1200, || {
        seed_mirrored(&east.lock(), 3)?;
        (holder().as_deref() == Some("pod-a"))
            .then_some(())
            .ok_or_else(|| format!("lease holder {:?}", holder()))
    })
    .await;
    let (mut b, metrics_b) = replica(&dir_b, "pod-b", west_addr, east_b);
    // The standby is up (ready, as a standby is) and has read the lease.
    wait_for(&mut b, &dir_b, 600, || {
        match http_get(metrics_b, "/metrics") {
            Some((200, body)) if body.contains("svcmirror_leader 0") => Ok(()),
            other => Err(format!("b's /metrics: {other:?}")),
        }
    })
    .await;

    // A change in west: only the holder writes it.
    west.write(|c| {
        c.update(Object::Endpoints({
            let mut ep = nginx_endpoints(2);
            ep.metadata.resource_version = None;
            ep
        }))
    })
    .expect("scale down");
    wait_for(&mut a, &dir_a, 1200, || seed_mirrored(&east.lock(), 2)).await;
    let mirrors = |writes: Vec<String>| -> Vec<String> {
        writes
            .into_iter()
            .filter(|w| !w.contains("/leases"))
            .collect()
    };
    let by_a = mirrors(east.writes());
    assert!(!by_a.is_empty());
    assert!(
        by_a.iter().all(|w| w.starts_with("a ")),
        "only the holder writes: {by_a:?}\n{}",
        log(&dir_b)
    );

    // The holder stops and releases the lease; the standby takes over and writes the next change.
    terminate(&mut a, &dir_a);
    west.write(|c| {
        c.update(Object::Endpoints({
            let mut ep = nginx_endpoints(3);
            ep.metadata.resource_version = None;
            ep
        }))
    })
    .expect("scale up");
    wait_for(&mut b, &dir_b, 1200, || {
        seed_mirrored(&east.lock(), 3)?;
        (holder().as_deref() == Some("pod-b"))
            .then_some(())
            .ok_or_else(|| format!("lease holder {:?}", holder()))
    })
    .await;
    let all = mirrors(east.writes());
    let first_b = all
        .iter()
        .position(|w| w.starts_with("b "))
        .expect("b wrote after taking over");
    assert!(
        all[first_b..].iter().all(|w| w.starts_with("b ")),
        "the old holder never writes after handing over: {all:?}"
    );
    assert!(
        all[..first_b].iter().all(|w| w.starts_with("a ")),
        "{all:?}"
    );
    terminate(&mut b, &dir_b);
    let _ = std::fs::remove_dir_all(&root);
}
