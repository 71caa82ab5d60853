//! SPEC §9 with two `svcmirror run` processes, one per link, as Linkerd deploys them: west and
//! north (two loopback API servers) each export `default/web` as a federated member; both
//! controllers write to one east. They converge on one `web-federated` listing both members, and
//! further resyncs of both write nothing to it (no flapping between writers).
//!
//! No timing assertions: every wait is a bounded poll, and "writes nothing" is checked across
//! resyncs counted by each process's own metrics.

#[path = "../../kube/tests/support/mod.rs"]
mod support;

mod common;
use common::*;

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use support::{ApiServer, spawn};
use svcmirror_core::model::{Kind, Object, ObjectKey, Service, ServicePort};
use svcmirror_fake::FakeCluster;

/// A target cluster whose `default/web` is a federated member.
fn target_with_member() -> FakeCluster {
    let mut cluster = FakeCluster::default();
    let mut svc = Service::new("default", "web");
    svc.metadata
        .labels
        .insert("mirror.linkerd.io/federated".into(), "member".into());
    svc.metadata.labels.insert("app".into(), "web".into());
    svc.spec.ports.push(ServicePort {
        name: Some("http".into()),
        port: 80,
        protocol: Some("TCP".into()),
        ..ServicePort::default()
    });
    cluster.create(Object::Service(svc)).expect("member");
    cluster
}

struct Controller {
    child: Child,
    metrics: SocketAddr,
    log: PathBuf,
}

impl Controller {
    fn start(dir: &Path, cluster: &str, target: SocketAddr, source: SocketAddr) -> Self {
        let metrics = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port");
        let log = dir.join(format!("{cluster}.log"));
        let child = Command::new(env!("CARGO_BIN_EXE_svcmirror"))
            .arg("run")
            .arg("--target-kubeconfig")
            .arg(kubeconfig(dir, cluster, target))
            .arg("--source-kubeconfig")
            .arg(kubeconfig(dir, &format!("east-for-{cluster}"), source))
            .args(["--cluster-name", cluster, "--gateway-address", "172.18.0.4"])
            .args([
                "--no-leader-election",
                "--no-probe",
                "--allow-short-resync",
                "--resync-period",
                "1s",
            ])
            .args(["--metrics-addr", &metrics.to_string()])
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("svcmirror run starts");
        Self {
            child,
            metrics,
            log,
        }
    }

    /// Whole-link reconciles so far, from `/metrics`.
    fn full_reconciles(&self) -> Option<u64> {
        let (_, body) = http_get(self.metrics, "/metrics")?;
        body.lines()
            .find_map(|l| l.strip_prefix("svcmirror_full_reconciles_total "))
            .and_then(|v| v.trim().parse().ok())
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `(remote-discovery annotation, resourceVersion)` of east's `web-federated`.
fn federated(east: &ApiServer) -> Option<(String, String)> {
    match east
        .lock()
        .get(Kind::Service, &ObjectKey::new("default", "web-federated"))
    {
        Some(Object::Service(s)) => Some((
            s.metadata
                .annotations
                .get("multicluster.linkerd.io/remote-discovery")
                .cloned()
                .unwrap_or_default(),
            s.metadata.resource_version.clone().unwrap_or_default(),
        )),
        _ => None,
    }
}

async fn poll(controllers: &[&Controller], mut check: impl FnMut() -> Result<(), String>) {
    let mut last = String::new();
    for _ in 0..1200 {
        match check() {
            Ok(()) => return,
            Err(why) => last = why,
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let logs: Vec<String> = controllers.iter().map(|c| c.log()).collect();
    panic!("gave up waiting; last: {last}\n{}", logs.join("\n---\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_run_processes_converge_on_one_federated_service() {
    let west = ApiServer::new(target_with_member());
    let north = ApiServer::new(target_with_member());
    let east = ApiServer::new(FakeCluster::default());
    let (west_addr, north_addr, east_addr) = (
        spawn(west.clone()).await,
        spawn(north.clone()).await,
        spawn(Arc::clone(&east)).await,
    );
    let dir = std::env::temp_dir().join(format!("svcmirror-run-fed-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let w = Controller::start(&dir, "west", west_addr, east_addr);
    let n = Controller::start(&dir, "north", north_addr, east_addr);

    poll(&[&w, &n], || match federated(&east) {
        Some((members, _)) if members == "web@north,web@west" => Ok(()),
        other => Err(format!("web-federated: {other:?}")),
    })
    .await;
    let (_, settled) = federated(&east).expect("federated");
    // Two more whole-link resyncs of each controller: nothing changes.
    let start = (w.full_reconciles(), n.full_reconciles());
    poll(&[&w, &n], || {
        match (w.full_reconciles(), n.full_reconciles(), start) {
            (Some(a), Some(b), (Some(a0), Some(b0))) if a >= a0 + 2 && b >= b0 + 2 => Ok(()),
            other => Err(format!("full reconciles: {other:?}")),
        }
    })
    .await;
    assert_eq!(
        federated(&east),
        Some(("web@north,web@west".to_owned(), settled)),
        "a writer changed the settled federated Service\n{}\n---\n{}",
        w.log(),
        n.log()
    );
    drop((w, n));
    let _ = std::fs::remove_dir_all(&dir);
}
