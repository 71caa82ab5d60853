//! `svcmirror check` probes the gateway (issue 12 "check … probes the gateway", SPEC §2.1), as
//! `linkerd multicluster check` does: each gateway address of the link gets the prober's request
//! (`GET http://<address>:<probeSpec.port><probeSpec.path>` within `probeSpec.timeout`), one
//! checklist line each; anything but 200 is a failure (exit 1). A gateway-less link has nothing to
//! probe (not a failure); `--no-probe` skips the probe with a line saying so.
//!
//! Every gateway here is a loopback HTTP server on 127.0.0.1 (healthy, answering 503, or a closed
//! port); the API servers are the loopback fakes, with nothing exported, so the probe alone
//! decides the exit code.

#[path = "../../kube/tests/support/mod.rs"]
mod support;

mod common;
use common::*;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use support::{ApiServer, spawn};
use svcmirror_fake::FakeCluster;

/// A gateway's probe endpoint on 127.0.0.1 (a thread): answers every request with `status`,
/// and records each request line (`GET /ready HTTP/1.1`).
fn probe_server(status: &'static str) -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let addr = listener.local_addr().expect("addr");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut request = Vec::new();
            let mut buf = [0_u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let text = String::from_utf8_lossy(&request);
            log.lock()
                .expect("lock")
                .push(text.lines().next().unwrap_or_default().to_owned());
            let response =
                format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            let _ = stream.write_all(response.as_bytes());
        }
    });
    (addr, seen)
}

/// A port on 127.0.0.1 where nothing listens (bound, then released).
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn dir(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("svcmirror-check-gw-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    dir
}

/// `svcmirror check` of link `west` between two empty loopback clusters, with `link` flags.
async fn check(dir: &Path, link: &[&str]) -> (i32, String, String) {
    let west = ApiServer::new(FakeCluster::default());
    let east = ApiServer::new(FakeCluster::default());
    let (west_addr, east_addr) = (spawn(west).await, spawn(east).await);
    let mut args: Vec<String> = vec![
        "check".into(),
        "--target-kubeconfig".into(),
        kubeconfig(dir, "west", west_addr).display().to_string(),
        "--source-kubeconfig".into(),
        kubeconfig(dir, "east", east_addr).display().to_string(),
    ];
    args.extend(link.iter().map(|s| (*s).to_owned()));
    svcmirror_output(args).await
}

/// A healthy gateway, found with the Link's own probeSpec (port and path from the file): a `√`
/// line with the status and the time it took, exit 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_gateway_answers_200_on_the_links_probe_spec() {
    let (gateway, seen) = probe_server("200 OK");
    let dir = dir("ok");
    let link = dir.join("link.yaml");
    std::fs::write(
        &link,
        format!(
            "apiVersion: multicluster.linkerd.io/v1alpha3\nkind: Link\nmetadata:\n  name: west\n\
             spec:\n  targetClusterName: west\n  gatewayAddress: 127.0.0.1\n  gatewayPort: \"4143\"\n\
             \x20 gatewayIdentity: gw.west\n\
             \x20 probeSpec:\n    port: \"{}\"\n    path: /health-of-gw\n    timeout: 30s\n",
            gateway.port()
        ),
    )
    .expect("link file");
    let (code, out, err) = check(&dir, &["--link", link.to_str().expect("utf-8")]).await;
    assert_eq!(code, 0, "{out}{err}");
    let line = format!("√ gateway {gateway}/health-of-gw answers 200 in ");
    assert!(out.contains(&line), "missing {line:?} in\n{out}");
    assert!(out.contains("Status check results are √"), "{out}");
    assert_eq!(
        *seen.lock().expect("lock"),
        ["GET /health-of-gw HTTP/1.1"],
        "one probe, on the Link's probeSpec.path"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A gateway answering 503 (not ready) is a failure naming the status; exit 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_answering_503_fails_the_check() {
    let (gateway, seen) = probe_server("503 Service Unavailable");
    let dir = dir("503");
    let port = gateway.port().to_string();
    let (code, out, err) = check(
        &dir,
        &[
            "--cluster-name",
            "west",
            "--gateway-address",
            "127.0.0.1",
            "--gateway-identity",
            "gw.west",
            "--probe-port",
            &port,
        ],
    )
    .await;
    assert_eq!(code, 1, "{out}{err}");
    for line in [
        format!("× gateway {gateway}/ready answers 200"),
        "it answered 503 Service Unavailable in ".to_owned(),
        "after 3 such probes the controller marks every mirror's endpoints not ready".to_owned(),
        "Status check results are ×".to_owned(),
    ] {
        assert!(out.contains(&line), "missing {line:?} in\n{out}");
    }
    assert_eq!(
        *seen.lock().expect("lock"),
        ["GET /ready HTTP/1.1"],
        "Linkerd's default path"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Nothing listening on the probe port: a failure saying the connection was refused; exit 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_probe_port_fails_the_check_in_words() {
    let dir = dir("closed");
    let port = closed_port();
    let (code, out, err) = check(
        &dir,
        &[
            "--cluster-name",
            "west",
            "--gateway-address",
            "127.0.0.1",
            "--gateway-identity",
            "gw.west",
            "--probe-port",
            &port.to_string(),
        ],
    )
    .await;
    assert_eq!(code, 1, "{out}{err}");
    for line in [
        format!("× gateway 127.0.0.1:{port}/ready answers 200"),
        "cannot connect: Connection refused".to_owned(),
        "the source cannot reach the gateway's probe port".to_owned(),
    ] {
        assert!(out.contains(&line), "missing {line:?} in\n{out}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--no-probe` sends nothing to the gateway and says so; a gateway-less link (SPEC §2: remote
/// discovery and federated exports only) has no gateway to probe. Neither is a failure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_probe_and_a_gateway_less_link_are_not_failures() {
    let (gateway, seen) = probe_server("503 Service Unavailable");
    let dir = dir("skip");
    let port = gateway.port().to_string();
    let (code, out, err) = check(
        &dir,
        &[
            "--cluster-name",
            "west",
            "--gateway-address",
            "127.0.0.1",
            "--gateway-identity",
            "gw.west",
            "--probe-port",
            &port,
            "--no-probe",
        ],
    )
    .await;
    assert_eq!(code, 0, "{out}{err}");
    let line = format!("- gateway not probed (--no-probe): 1 address(es), probe port {port}");
    assert!(out.contains(&line), "missing {line:?} in\n{out}");
    assert!(seen.lock().expect("lock").is_empty(), "nothing was sent");

    let (code, out, err) = check(&dir, &["--cluster-name", "west"]).await;
    assert_eq!(code, 0, "{out}{err}");
    for line in [
        "√ the link is valid (no gateway: remote discovery / federated only",
        "√ no gateway (remote discovery / federated only): nothing to probe",
        "Status check results are √",
    ] {
        assert!(out.contains(line), "missing {line:?} in\n{out}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A gateway that accepts the connection and never answers: a failure once the probe timeout
/// (`--probe-timeout` over the Link's 30 s) has passed, said in words; exit 1. The server never
/// answers, so the outcome does not depend on how fast anything runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_gateway_fails_at_the_probe_timeout() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let port = listener.local_addr().expect("addr").port();
    let held = Arc::new(Mutex::new(Vec::new()));
    let keep = held.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            keep.lock().expect("lock").push(stream); // held open, never answered
        }
    });
    let dir = dir("silent");
    let (code, out, err) = check(
        &dir,
        &[
            "--cluster-name",
            "west",
            "--gateway-address",
            "127.0.0.1",
            "--gateway-identity",
            "gw.west",
            "--probe-port",
            &port.to_string(),
            "--probe-timeout",
            "200ms",
        ],
    )
    .await;
    assert_eq!(code, 1, "{out}{err}");
    for line in [
        format!("× gateway 127.0.0.1:{port}/ready answers 200"),
        "no answer within the probe timeout (200ms)".to_owned(),
    ] {
        assert!(out.contains(&line), "missing {line:?} in\n{out}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
