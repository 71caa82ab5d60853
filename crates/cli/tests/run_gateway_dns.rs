//! SPEC §2 `gatewayAddress` (issue 11, deliverable 3): `svcmirror run` resolves the gateway's DNS
//! name and re-resolves it at every resync. The shipped binary runs against two loopback API
//! servers (west: the seed walkthrough; east: empty) with a fake resolver — a hosts-format file
//! (`--gateway-hosts`, hidden) whose answer the test changes between resyncs, so no DNS is
//! needed. A changed answer rewrites every mirror's gateway addresses and is logged (INFO, old
//! and new addresses); a failing name keeps the last good addresses and is logged (WARN, the
//! host and the cluster): a DNS hiccup never drops the mirrors' gateway.
//!
//! No timing assertions: every wait is a bounded poll. The gateway addresses are TEST-NET
//! addresses written into Endpoints only: `--no-probe`, so no traffic leaves loopback.

#[path = "../../kube/tests/support/mod.rs"]
mod support;

mod common;
use common::{http_get, kubeconfig as kubeconfig_path, kubeconfig_text, log, wait_for};

use std::collections::BTreeSet;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use support::{ApiServer, spawn, west};
use svcmirror_core::model::{Kind, Object, ObjectKey};
use svcmirror_fake::FakeCluster;

const NAME: &str = "gw.west.example";

/// Every gateway address (ready or not) of the three endpoint mirrors' Endpoints in east: each
/// must list exactly `want`.
fn gateways_are(east: &FakeCluster, want: &[&str]) -> Result<(), String> {
    let want: BTreeSet<String> = want.iter().map(|s| (*s).to_owned()).collect();
    for i in 0..3 {
        let name = format!("nginx-set-{i}-west");
        let Some(Object::Endpoints(ep)) =
            east.get(Kind::Endpoints, &ObjectKey::new("default", &name))
        else {
            return Err(format!("no Endpoints {name}"));
        };
        let got: BTreeSet<String> = ep
            .subsets
            .iter()
            .flat_map(|s| s.addresses.iter().chain(&s.not_ready_addresses))
            .map(|a| a.ip.clone())
            .collect();
        if got != want {
            return Err(format!("{name}: {got:?}"));
        }
    }
    Ok(())
}

/// Whole-link reconciles so far, from `/metrics`.
fn full_reconciles(metrics: std::net::SocketAddr) -> Option<u64> {
    let (_, body) = http_get(metrics, "/metrics")?;
    body.lines()
        .find_map(|l| l.strip_prefix("svcmirror_full_reconciles_total "))
        .and_then(|v| v.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_names_are_re_resolved_at_every_resync_and_a_failure_keeps_the_last_addresses() {
    let west_server = ApiServer::new(west());
    let east = ApiServer::new(FakeCluster::default());
    let (west_addr, east_addr) = (spawn(west_server.clone()).await, spawn(east.clone()).await);
    let dir = std::env::temp_dir().join(format!("svcmirror-run-dns-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let hosts = dir.join("hosts");
    std::fs::write(&hosts, format!("192.0.2.10 {NAME}\n")).expect("hosts");
    let metrics = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let mut child = Command::new(env!("CARGO_BIN_EXE_svcmirror"))
        .arg("run")
        .arg("--target-kubeconfig")
        .arg(kubeconfig_path(&dir, "west", west_addr))
        .arg("--source-kubeconfig")
        .arg(kubeconfig_path(&dir, "east", east_addr))
        .args(["--cluster-name", "west", "--gateway-address", NAME])
        .arg("--gateway-hosts")
        .arg(&hosts)
        .args([
            "--enable-headless-services",
            "--no-probe",
            "--no-leader-election",
        ])
        .args(["--allow-short-resync", "--resync-period", "1s"])
        .args(["--metrics-addr", &metrics.to_string()])
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("stderr.log")).expect("log file"))
        .spawn()
        .expect("svcmirror run starts");

    // Resolved at start: the walkthrough's endpoint mirrors point at the name's address.
    wait_for(&mut child, &dir, 1200, || {
        gateways_are(&east.lock(), &["192.0.2.10"])
    })
    .await;

    // The load balancer moves (two A records now, in "round-robin" order): every mirror's
    // gateway addresses are rewritten, and the change is logged with old and new addresses.
    std::fs::write(&hosts, format!("192.0.2.12 {NAME}\n192.0.2.11 {NAME}\n")).expect("hosts");
    wait_for(&mut child, &dir, 1200, || {
        gateways_are(&east.lock(), &["192.0.2.11", "192.0.2.12"])
    })
    .await;
    let logged = log(&dir);
    assert!(
        logged.lines().any(|l| l.contains("INFO")
            && l.contains(
                "gateway addresses of link west changed from 192.0.2.10 to 192.0.2.11,192.0.2.12"
            )),
        "{logged}"
    );

    // The name stops resolving: a WARN naming the host and the cluster, and the mirrors keep
    // the last good addresses through further whole-link resyncs.
    std::fs::write(&hosts, "# the name is gone\n").expect("hosts");
    wait_for(&mut child, &dir, 1200, || {
        log(&dir)
            .lines()
            .any(|l| {
                l.contains("WARN")
                    && l.contains(&format!("gateway name {NAME} of link west did not resolve"))
            })
            .then_some(())
            .ok_or_else(|| "no WARN yet".to_owned())
    })
    .await;
    let seen = full_reconciles(metrics).expect("metrics");
    wait_for(&mut child, &dir, 1200, || match full_reconciles(metrics) {
        Some(n) if n >= seen + 2 => Ok(()),
        other => Err(format!("full reconciles {other:?} (from {seen})")),
    })
    .await;
    assert_eq!(
        gateways_are(&east.lock(), &["192.0.2.11", "192.0.2.12"]),
        Ok(()),
        "the last good addresses stay\n{}",
        log(&dir)
    );

    // It resolves again, to the same set in another order: nothing to rewrite, no INFO line.
    std::fs::write(&hosts, format!("192.0.2.11 {NAME}\n192.0.2.12 {NAME}\n")).expect("hosts");
    let seen = full_reconciles(metrics).expect("metrics");
    wait_for(&mut child, &dir, 1200, || match full_reconciles(metrics) {
        Some(n) if n >= seen + 2 => Ok(()),
        other => Err(format!("full reconciles {other:?} (from {seen})")),
    })
    .await;
    let changes = log(&dir)
        .lines()
        .filter(|l| l.contains("gateway addresses of link west changed"))
        .count();
    assert_eq!(changes, 1, "only the move was a change\n{}", log(&dir));
    terminate(&mut child, &dir);
    let _ = std::fs::remove_dir_all(&dir);
}

/// SIGTERM: the session stops at once, its re-resolver with it (exit 0, no shutdown grace used).
fn terminate(child: &mut Child, dir: &Path) {
    let sent = Command::new("sh")
        .args(["-c", &format!("kill -TERM {}", child.id())])
        .status()
        .expect("sh runs");
    assert!(sent.success());
    for _ in 0..600 {
        if let Some(status) = child.try_wait().expect("wait") {
            assert!(status.success(), "{status}\n{}", log(dir));
            assert!(
                !log(dir).contains("did not finish within the shutdown grace"),
                "{}",
                log(dir)
            );
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    panic!("still running a minute after SIGTERM\n{}", log(dir));
}

/// The same with `--link-name` (SPEC §2.2): the Link in east names the gateway by DNS. A start
/// while the name does not resolve is retried every resync period; the session started from it
/// re-resolves every resync and follows the answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_link_name_re_resolves_the_links_gateway_name() {
    const LINKS: &str =
        "/apis/multicluster.linkerd.io/v1alpha3/namespaces/linkerd-multicluster/links";
    const SECRETS: &str = "/api/v1/namespaces/linkerd-multicluster/secrets";
    let west_server = ApiServer::new(west());
    let east = ApiServer::new(FakeCluster::default());
    let (west_addr, east_addr) = (spawn(west_server.clone()).await, spawn(east.clone()).await);
    let dir = std::env::temp_dir().join(format!("svcmirror-run-dns-link-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let hosts = dir.join("hosts");
    // DNS does not answer yet when mirroring starts.
    std::fs::write(&hosts, "# nothing yet\n").expect("hosts");
    let kubeconfig = serde_json::to_value(k8s_openapi::ByteString(
        kubeconfig_text("west", west_addr).into_bytes(),
    ))
    .expect("base64");
    east.put_object(
        SECRETS,
        "cluster-credentials-west",
        serde_json::json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "cluster-credentials-west", "namespace": "linkerd-multicluster"},
            "type": "mirror.linkerd.io/remote-kubeconfig", "data": {"kubeconfig": kubeconfig}}),
    );
    east.put_object(
        LINKS,
        "west",
        serde_json::json!({"apiVersion": "multicluster.linkerd.io/v1alpha3", "kind": "Link",
            "metadata": {"name": "west", "namespace": "linkerd-multicluster"},
            "spec": {"targetClusterName": "west", "gatewayAddress": NAME, "gatewayPort": "4143",
                     "gatewayIdentity": "linkerd-gateway.linkerd-multicluster.serviceaccount.identity.linkerd.cluster.local",
                     "enableHeadlessServices": true}}),
    );
    let metrics = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let mut child = Command::new(env!("CARGO_BIN_EXE_svcmirror"))
        .args(["run", "--link-name", "west", "--source-kubeconfig"])
        .arg(kubeconfig_path(&dir, "east", east_addr))
        .arg("--gateway-hosts")
        .arg(&hosts)
        .args(["--no-probe", "--no-leader-election"])
        .args(["--allow-short-resync", "--resync-period", "1s"])
        .args(["--metrics-addr", &metrics.to_string()])
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("stderr.log")).expect("log file"))
        .spawn()
        .expect("svcmirror run starts");
    // The start fails on the name (an ERROR naming it) and is retried every resync period, so
    // mirroring starts once DNS answers — no edit of the Link needed.
    wait_for(&mut child, &dir, 1200, || {
        let log = log(&dir);
        (log.contains("ERROR") && log.contains(NAME) && log.contains("resolved again in"))
            .then_some(())
            .ok_or_else(|| "no ERROR for the unresolved name yet".to_owned())
    })
    .await;
    std::fs::write(&hosts, format!("192.0.2.20 {NAME}\n")).expect("hosts");
    wait_for(&mut child, &dir, 1200, || {
        gateways_are(&east.lock(), &["192.0.2.20"])
    })
    .await;
    std::fs::write(&hosts, format!("192.0.2.21 {NAME}\n")).expect("hosts");
    wait_for(&mut child, &dir, 1200, || {
        gateways_are(&east.lock(), &["192.0.2.21"])
    })
    .await;
    terminate(&mut child, &dir);
    let _ = std::fs::remove_dir_all(&dir);
}
