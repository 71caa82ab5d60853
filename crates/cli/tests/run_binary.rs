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

mod common;
use common::*;

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use support::{ApiServer, nginx_endpoints, seed_mirrored, spawn, spawn_tagged, west};
use svcmirror_core::model::Object;
use svcmirror_fake::FakeCluster;

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
        // 172.18.0.4 is no host of ours: never probe it (tests send traffic to loopback only).
        .arg("--no-probe")
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
    // Issue 12: writes and requests are counted by cluster; durations are histograms.
    for line in [
        r#"svcmirror_writes_total{cluster="source",action="create",kind="Service"} 4"#,
        r#"svcmirror_api_failed_requests_total{cluster="target"} 0"#,
        r#"svcmirror_build_info{version="0.1.0"} 1"#,
    ] {
        assert!(
            body.lines().any(|l| l == line),
            "missing {line:?} in\n{body}"
        );
    }
    assert!(
        body.lines().any(
            |l| l.starts_with("svcmirror_reconcile_duration_seconds_count ") && !l.ends_with(" 0")
        ),
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

/// Starts `svcmirror run` for the walkthrough's link against the given API servers, its log in
/// `dir/stderr.log` (a file: not a terminal).
fn start(dir: &Path, target: SocketAddr, source: SocketAddr, extra: &[&str]) -> Child {
    start_as(dir, target, source, extra, None).0
}

/// [`start`], as replica `replica` (`$POD_NAME`) electing a leader on Lease
/// `svcmirror/svcmirror-west` when given; also returns the admin server's address.
fn start_as(
    dir: &Path,
    target: SocketAddr,
    source: SocketAddr,
    extra: &[&str],
    replica: Option<&str>,
) -> (Child, SocketAddr) {
    std::fs::create_dir_all(dir).expect("temp dir");
    let metrics = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let mut command = Command::new(env!("CARGO_BIN_EXE_svcmirror"));
    command
        .arg("run")
        .arg("--target-kubeconfig")
        .arg(kubeconfig(dir, "west", target))
        .arg("--source-kubeconfig")
        .arg(kubeconfig(dir, "east", source))
        .args(["--cluster-name", "west", "--gateway-address", "172.18.0.4"])
        // 172.18.0.4 is no host of ours: never probe it (tests send traffic to loopback only).
        .arg("--no-probe")
        .arg("--enable-headless-services")
        .args(["--metrics-addr", &metrics.to_string()])
        .args(extra)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("stderr.log")).expect("log file"));
    match replica {
        Some(name) => {
            command
                .args(["--lease-namespace", "svcmirror"])
                .env("POD_NAME", name);
        }
        None => {
            command.arg("--no-leader-election");
        }
    }
    (command.spawn().expect("svcmirror run starts"), metrics)
}

/// Waits (bounded) until the log has `n` lines satisfying `line`; returns the log.
async fn wait_for_lines(
    child: &mut Child,
    dir: &Path,
    n: usize,
    what: &str,
    line: impl Fn(&str) -> bool,
) -> String {
    wait_for(child, dir, 600, || {
        let found = log(dir).lines().filter(|l| line(l)).count();
        if found >= n {
            Ok(())
        } else {
            Err(format!("{found} of {n} lines with {what}"))
        }
    })
    .await;
    log(dir)
}

fn scratch(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("svcmirror-{name}-{}", std::process::id()))
}

/// Issue 12: with the target answering 403 to everything, the controller said nothing but
/// "starting". Now: the startup line names both API servers, and every failed list is an ERROR
/// naming the target cluster, its server, the verb and the HTTP status — repeated with backoff,
/// in words (no Debug dump), without ANSI codes in a file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_of_a_target_that_answers_403() {
    let west = ApiServer::new(west());
    *west.forbidden.lock().expect("lock") = true;
    let east = ApiServer::new(FakeCluster::default());
    let (west_addr, east_addr) = (spawn(west.clone()).await, spawn(east.clone()).await);
    let dir = scratch("log-403");
    let mut child = start(&dir, west_addr, east_addr, &[]);
    let target = format!("target cluster (http://{west_addr})");
    let log = wait_for_lines(&mut child, &dir, 2, "a 403 ERROR", |l| {
        l.contains("ERROR") && l.contains(&target) && l.contains("HTTP 403 Forbidden")
    })
    .await;
    let _ = child.kill();
    let failure = log
        .lines()
        .find(|l| l.contains("HTTP 403 Forbidden"))
        .expect("a 403 line");
    assert!(
        failure.contains("list exported services and endpoints failed"),
        "{failure}"
    );
    assert!(failure.contains("retrying with backoff"), "{failure}");
    assert!(
        !log.contains("Status {") && !log.contains("Some("),
        "a Debug dump:\n{log}"
    );
    assert!(!log.contains('\u{1b}'), "ANSI codes in a file:\n{log}");
    let start = log
        .lines()
        .find(|l| l.contains("starting the mirror controller"))
        .expect("a startup line");
    assert!(
        start.contains("link west")
            && start.contains(&format!("http://{west_addr}"))
            && start.contains(&format!("http://{east_addr}")),
        "{start}"
    );
    assert!(
        seed_mirrored(&east.lock(), 3).is_err(),
        "nothing can be mirrored"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 12: an unreachable API server was one line from kube naming no cluster. Now an ERROR per
/// attempt names the target cluster and its address — here in `--log-format json`, one object
/// per line with the cluster and verb as fields.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_of_an_unreachable_target_in_json() {
    let east = ApiServer::new(FakeCluster::default());
    let east_addr = spawn(east.clone()).await;
    // A port nothing listens on: bound, then released.
    let dead = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let dir = scratch("log-unreachable");
    let mut child = start(&dir, dead, east_addr, &["--log-format", "json"]);
    let server = format!("http://{dead}");
    let log = wait_for_lines(&mut child, &dir, 2, "an unreachable ERROR", |l| {
        l.contains("\"ERROR\"") && l.contains(&server)
    })
    .await;
    let _ = child.kill();
    for line in log.lines() {
        let value: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: not JSON: {line}"));
        assert!(
            value["timestamp"].is_string() && value["message"].is_string(),
            "{line}"
        );
    }
    let error: serde_json::Value = log
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["level"] == "ERROR" && v["server"] == server.as_str())
        .expect("an ERROR about the dead server");
    assert_eq!(error["cluster"], "target", "{error}");
    assert_eq!(error["verb"], "list", "{error}");
    let message = error["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with(&format!("target cluster ({server}): list"))
            && message.contains("unavailable"),
        "{message}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 12: a healthy run that created 8 objects logged no write, and a name conflict logged
/// nothing. Now: one INFO line per write (action, kind, namespace/name, cluster) and a WARN
/// naming the conflict. Both kubeconfigs naming one API server is warned about too (here they
/// differ, so no such warning).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_every_write_and_a_name_conflict() {
    let west = ApiServer::new(west());
    let mut east = FakeCluster::default();
    // A foreign Service holding the name of nginx-set-0's endpoint mirror.
    let mut foreign = svcmirror_core::Service::new("default", "nginx-set-0-west");
    foreign.spec.ports.push(svcmirror_core::model::ServicePort {
        port: 80,
        ..Default::default()
    });
    east.create(svcmirror_core::Object::Service(foreign))
        .expect("foreign Service");
    let east = ApiServer::new(east);
    let (west_addr, east_addr) = (spawn(west.clone()).await, spawn(east.clone()).await);
    let dir = scratch("log-writes");
    let mut child = start(&dir, west_addr, east_addr, &[]);
    let log = wait_for_lines(&mut child, &dir, 1, "a NameConflict WARN", |l| {
        l.contains("WARN") && l.contains("NameConflict")
    })
    .await;
    assert!(log.contains("NameConflict"));
    // The two other endpoint mirrors and the root: a Service and an Endpoints each.
    let log = wait_for_lines(&mut child, &dir, 6, "created lines", |l| {
        l.contains(" INFO ") && l.contains("created ") && l.contains("in the source cluster")
    })
    .await;
    let _ = child.kill();
    let created = log
        .lines()
        .find(|l| l.contains("created Service default/nginx-svc-west in the source cluster"))
        .unwrap_or_else(|| panic!("no line for the root mirror's create:\n{log}"));
    assert!(
        created.contains(" INFO ") && created.contains("cluster=source"),
        "{created}"
    );
    let conflict = log
        .lines()
        .find(|l| l.contains("NameConflict"))
        .expect("conflict line");
    assert!(conflict.contains("nginx-set-0"), "{conflict}");
    assert!(!log.contains("same API server"), "{log}");
    // The foreign Service is untouched.
    assert!(
        east.lock()
            .get(
                svcmirror_core::Kind::Service,
                &svcmirror_core::ObjectKey::new("default", "nginx-set-0-west")
            )
            .is_some()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 12: pointing both kubeconfigs at one cluster mirrored it into itself without a word.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warns_when_both_kubeconfigs_name_the_same_api_server() {
    let west = ApiServer::new(west());
    let west_addr = spawn(west.clone()).await;
    let dir = scratch("log-same");
    let mut child = start(&dir, west_addr, west_addr, &[]);
    let log = wait_for_lines(&mut child, &dir, 1, "the same-cluster WARN", |l| {
        l.contains("WARN") && l.contains("same API server")
    })
    .await;
    let _ = child.kill();
    assert!(log.contains(&format!("http://{west_addr}")), "{log}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 12: a standby replica never said who leads. Two replicas: the first leads and writes;
/// the second logs who holds the Lease, reports `svcmirror_leader 0`, is ready, and exposes no
/// export gauges (not zeros). When the leader stops (releasing the Lease), the standby logs that
/// it leads now.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_says_who_leads_and_takes_over() {
    let west = ApiServer::new(west());
    let east = ApiServer::new(FakeCluster::default());
    let (west_addr, east_addr) = (spawn(west.clone()).await, spawn(east.clone()).await);
    let (dir_a, dir_b) = (scratch("leader-a"), scratch("leader-b"));
    let (mut a, _) = start_as(&dir_a, west_addr, east_addr, &[], Some("replica-a"));
    wait_for_lines(&mut a, &dir_a, 1, "the leader line", |l| {
        l.contains("acquired the lease") && l.contains("replica-a")
    })
    .await;
    wait_for(&mut a, &dir_a, 1200, || seed_mirrored(&east.lock(), 3)).await;
    let (mut b, b_admin) = start_as(&dir_b, west_addr, east_addr, &[], Some("replica-b"));
    let log = wait_for_lines(&mut b, &dir_b, 1, "the standby line", |l| {
        l.contains("standby: replica-a holds Lease svcmirror/svcmirror-west")
    })
    .await;
    assert!(!log.contains("acquired the lease"), "{log}");
    let (code, body) = http_get(b_admin, "/metrics").expect("/metrics answers");
    assert_eq!(code, 200);
    assert!(body.contains("svcmirror_leader 0\n"), "{body}");
    assert!(!body.contains("svcmirror_mirrored_services{"), "{body}");
    assert_eq!(http_get(b_admin, "/readyz").map(|(c, _)| c), Some(200));
    // The leader stops and releases the Lease: the standby takes over.
    let sent = Command::new("sh")
        .args(["-c", &format!("kill -TERM {}", a.id())])
        .status()
        .expect("sh runs");
    assert!(sent.success());
    wait_for_lines(&mut b, &dir_b, 1, "the takeover line", |l| {
        l.contains("acquired the lease") && l.contains("replica-b")
    })
    .await;
    let _ = b.kill();
    let _ = a.wait();
    let _ = std::fs::remove_dir_all(&dir_a);
    let _ = std::fs::remove_dir_all(&dir_b);
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
        // 172.18.0.4 is no host of ours: never probe it (tests send traffic to loopback only).
        .arg("--no-probe")
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
