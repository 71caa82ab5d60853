//! `svcmirror run`, the shipped binary, with the gateway probe (SPEC §2.1): the walkthrough is
//! mirrored from a loopback west API server into a loopback east one; the "gateway" is a small
//! HTTP server on loopback, which flips from healthy to failing and back. The mirrors carry the
//! seed's gateway address 172.18.0.4 (an API server refuses a loopback IP in Endpoints) and the
//! probes go to the loopback server (`--probe-connect-to`, a hidden test flag): nothing is sent
//! anywhere but 127.0.0.1. The endpoint mirrors' Endpoints go not-ready and ready again; the root
//! mirror keeps its hostname records ready (SPEC §6.6); the gateway metrics follow.
//!
//! No timing assertions: every wait is a bounded poll.

#[path = "../../kube/tests/support/mod.rs"]
mod support;

mod common;
use common::*;

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use support::{ApiServer, spawn, west};
use svcmirror_core::model::ObjectKey;
use svcmirror_fake::FakeCluster;

/// A gateway whose every request is answered 200 while `healthy`, else 503.
fn gateway(ip: IpAddr, healthy: Arc<AtomicBool>) -> SocketAddr {
    let listener = TcpListener::bind((ip, 0)).expect("bind the gateway");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 1024];
            let _ = stream.read(&mut buf);
            let status = if healthy.load(Ordering::SeqCst) {
                "200 OK"
            } else {
                "503 Service Unavailable"
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
        }
    });
    addr
}

/// (ready, not ready) addresses of east's Endpoints `name`, if present.
fn addresses(east: &ApiServer, name: &str) -> Option<(usize, usize)> {
    let state = east.lock().state();
    let ep = state.endpoints_at(&ObjectKey::new("default", name))?;
    Some((
        ep.subsets.iter().map(|s| s.addresses.len()).sum(),
        ep.subsets.iter().map(|s| s.not_ready_addresses.len()).sum(),
    ))
}

fn expect(east: &ApiServer, name: &str, want: (usize, usize)) -> Result<(), String> {
    match addresses(east, name) {
        Some(got) if got == want => Ok(()),
        other => Err(format!("{name}: {other:?}, want {want:?}")),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svcmirror_run_follows_the_gateway_probe() {
    let healthy = Arc::new(AtomicBool::new(true));
    let gateway = gateway(IpAddr::from([127, 0, 0, 1]), healthy.clone());
    let west = ApiServer::new(west());
    let east = ApiServer::new(FakeCluster::default());
    let (west_addr, east_addr) = (spawn(west.clone()).await, spawn(east.clone()).await);
    let dir = std::env::temp_dir().join(format!("svcmirror-run-probe-{}", std::process::id()));
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
        .args(["--probe-connect-to", "127.0.0.1"])
        .args(["--enable-headless-services", "--no-leader-election"])
        .args(["--probe-port", &gateway.port().to_string()])
        .args(["--probe-period", "50ms", "--probe-timeout", "2s"])
        .args(["--probe-failure-threshold", "2"])
        .args(["--metrics-addr", &metrics.to_string()])
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("stderr.log")).expect("log file"))
        .spawn()
        .expect("svcmirror run starts");

    // The walkthrough, pointing at this gateway (`seed_mirrored` expects the seed's gateway IP).
    wait_for(&mut child, &dir, 1200, || {
        expect(&east, "nginx-svc-west", (3, 0))
    })
    .await;
    wait_for(&mut child, &dir, 600, || {
        expect(&east, "nginx-set-0-west", (1, 0))
    })
    .await;

    // Down: the endpoint mirrors' gateway addresses go not-ready, the root keeps its records.
    healthy.store(false, Ordering::SeqCst);
    wait_for(&mut child, &dir, 600, || {
        expect(&east, "nginx-set-0-west", (0, 1))
    })
    .await;
    wait_for(&mut child, &dir, 600, || {
        expect(&east, "nginx-set-2-west", (0, 1))
    })
    .await;
    assert_eq!(
        addresses(&east, "nginx-svc-west"),
        Some((3, 0)),
        "SPEC §6.6"
    );
    wait_for(&mut child, &dir, 600, || {
        match http_get(metrics, "/metrics") {
            Some((200, body)) if body.contains("gateway_alive{target_cluster_name=\"west\"} 0") => {
                Ok(())
            }
            other => Err(format!("/metrics: {other:?}")),
        }
    })
    .await;

    // Up again: ready again.
    healthy.store(true, Ordering::SeqCst);
    wait_for(&mut child, &dir, 600, || {
        expect(&east, "nginx-set-0-west", (1, 0))
    })
    .await;
    wait_for(&mut child, &dir, 600, || {
        expect(&east, "nginx-set-2-west", (1, 0))
    })
    .await;
    assert_eq!(addresses(&east, "nginx-svc-west"), Some((3, 0)));

    let _ = Command::new("sh")
        .args(["-c", &format!("kill -TERM {}", child.id())])
        .status();
    for _ in 0..600 {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = child.kill();
    let log = log(&dir);
    assert!(log.contains("gateway liveness changed"), "{log}");
    let _ = std::fs::remove_dir_all(&dir);
}
