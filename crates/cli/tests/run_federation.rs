//! SPEC §9 with two `svcmirror run` processes, one per link, as Linkerd deploys them: west and
//! north (two loopback API servers) each export `default/web` as a federated member; both
//! controllers write to one east. They converge on one `web-federated` listing both members, and
//! further resyncs of both write nothing to it (no flapping between writers); when north's member
//! leaves, its entry goes and west's stays. And Linkerd's gateway-less link, by two controllers.
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
        let link = ["--cluster-name", cluster, "--gateway-address", "172.18.0.4"];
        Self::start_with(dir, cluster, target, source, &link.map(String::from))
    }

    /// `svcmirror run` for `cluster` with the link given by `link` (flags or `--link FILE`).
    fn start_with(
        dir: &Path,
        cluster: &str,
        target: SocketAddr,
        source: SocketAddr,
        link: &[String],
    ) -> Self {
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
            .args(link)
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
    // west's link is the output of `linkerd multicluster link` as it is (Secrets, the Link,
    // RBAC…: the Link is picked out); north's is flags.
    let linkerd_link = format!(
        "{}/tests/data/linkerd-mc-link-west.yaml",
        env!("CARGO_MANIFEST_DIR")
    );
    let w = Controller::start_with(
        &dir,
        "west",
        west_addr,
        east_addr,
        &["--link".into(), linkerd_link],
    );
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

    // Linkerd "federated service left": north's member loses its label; north's controller
    // removes its entry, west's keeps its own, and neither puts north back.
    north
        .write(|c| {
            let Some(Object::Service(mut svc)) =
                c.get(Kind::Service, &ObjectKey::new("default", "web"))
            else {
                return Err("no web in north".to_owned());
            };
            svc.metadata.labels.remove("mirror.linkerd.io/federated");
            c.update(Object::Service(svc)).map_err(|e| e.to_string())
        })
        .expect("north's web leaves");
    poll(&[&w, &n], || match federated(&east) {
        Some((members, _)) if members == "web@west" => Ok(()),
        other => Err(format!("web-federated: {other:?}")),
    })
    .await;
    let (_, settled) = federated(&east).expect("federated");
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
        Some(("web@west".to_owned(), settled)),
        "the left member came back or a writer flapped\n{}\n---\n{}",
        w.log(),
        n.log()
    );
    drop((w, n));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Linkerd's `noGatewayLink` fixture (tests/data/no-gateway-target.yaml: `service-one` exported
/// for remote discovery, `service-two` for gateway mode) in two targets, each followed by a
/// gateway-less `svcmirror run`: west's from a Linkerd `Link` manifest given as `--link` (as
/// `linkerd multicluster link --gateway=false` writes it: empty gateway fields), north's from
/// flags. Both remote-discovery mirrors are written to the one source; neither gateway-mode
/// export is (each controller logs NoGateway); further resyncs write nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_gateway_less_run_processes_mirror_remote_discovery_only() {
    let world = || {
        let path = format!(
            "{}/tests/data/no-gateway-target.yaml",
            env!("CARGO_MANIFEST_DIR")
        );
        let snapshot = svcmirror_snapshot::read(&path, &svcmirror_snapshot::Limits::default())
            .expect("the fixture");
        let mut cluster = FakeCluster::default();
        cluster.restore(snapshot.into_source()).expect("restore");
        cluster
    };
    let (west, north) = (ApiServer::new(world()), ApiServer::new(world()));
    let mut east = FakeCluster::default();
    east.create_namespace("ns1").expect("ns1");
    let east = ApiServer::new(east);
    let (west_addr, north_addr, east_addr) = (
        spawn(west.clone()).await,
        spawn(north.clone()).await,
        spawn(Arc::clone(&east)).await,
    );
    let dir = std::env::temp_dir().join(format!("svcmirror-run-nogw-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let link = dir.join("west-link.yaml");
    std::fs::write(
        &link,
        "apiVersion: multicluster.linkerd.io/v1alpha3\nkind: Link\n\
         metadata: {name: west, namespace: linkerd-multicluster}\n\
         spec:\n  targetClusterName: west\n  targetClusterDomain: cluster.local\n\
         \x20 targetClusterLinkerdNamespace: linkerd\n\
         \x20 clusterCredentialsSecret: cluster-credentials-west\n\
         \x20 gatewayAddress: \"\"\n  gatewayPort: \"\"\n  gatewayIdentity: \"\"\n\
         \x20 probeSpec: {path: \"\", port: \"\", period: \"\"}\n\
         \x20 selector: {matchLabels: {mirror.linkerd.io/exported: \"true\"}}\n\
         \x20 remoteDiscoverySelector: {matchLabels: {mirror.linkerd.io/exported: remote-discovery}}\n\
         \x20 federatedServiceSelector: {matchLabels: {mirror.linkerd.io/federated: member}}\n",
    )
    .expect("link");
    let link = link.to_string_lossy().into_owned();
    let w = Controller::start_with(&dir, "west", west_addr, east_addr, &["--link".into(), link]);
    let n = Controller::start_with(
        &dir,
        "north",
        north_addr,
        east_addr,
        &["--cluster-name".into(), "north".into()],
    );

    let mirrors = || -> Vec<(String, String)> {
        let east = east.lock();
        let mut found: Vec<(String, String)> = east
            .state()
            .objects()
            .into_iter()
            .filter_map(|o| match o {
                Object::Service(s) if s.metadata.namespace() == "ns1" => Some((
                    s.metadata.name.clone(),
                    s.metadata
                        .labels
                        .get("multicluster.linkerd.io/remote-discovery")
                        .cloned()
                        .unwrap_or_default(),
                )),
                Object::Endpoints(e) if e.metadata.namespace() == "ns1" => {
                    Some((format!("Endpoints {}", e.metadata.name), String::new()))
                }
                _ => None,
            })
            .collect();
        found.sort();
        found
    };
    let want = vec![
        ("service-one-north".to_owned(), "north".to_owned()),
        ("service-one-west".to_owned(), "west".to_owned()),
    ];
    poll(&[&w, &n], || {
        let (found, logs) = (mirrors(), (w.log(), n.log()));
        let no_gateway = |log: &str| log.contains("NoGateway") && log.contains("ns1/service-two");
        if found == want && no_gateway(&logs.0) && no_gateway(&logs.1) {
            Ok(())
        } else {
            Err(format!("ns1 in east: {found:?}"))
        }
    })
    .await;
    let settled = east.lock().resource_version();
    let start = (w.full_reconciles(), n.full_reconciles());
    poll(&[&w, &n], || {
        match (w.full_reconciles(), n.full_reconciles(), start) {
            (Some(a), Some(b), (Some(a0), Some(b0))) if a >= a0 + 2 && b >= b0 + 2 => Ok(()),
            other => Err(format!("full reconciles: {other:?}")),
        }
    })
    .await;
    assert_eq!(mirrors(), want);
    assert_eq!(
        east.lock().resource_version(),
        settled,
        "a resync wrote to east\n{}\n---\n{}",
        w.log(),
        n.log()
    );
    drop((w, n));
    let _ = std::fs::remove_dir_all(&dir);
}
