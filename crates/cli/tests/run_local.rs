//! SPEC §9, the local member, end to end: `svcmirror local` (Linkerd's `local-service-mirror`)
//! against a loopback API server standing in for the source cluster, named after Linkerd's
//! federated scenarios (`cluster_watcher_mirroring_test.go`: "local federated service created",
//! "… joined", "… left"), with exactly the RBAC of `deploy/local.yaml` enforced; and beside a
//! `svcmirror run` link process on the same source, converging on one `<name>-federated` with
//! both entries and no flapping.
//!
//! No timing assertions: every wait is a bounded poll; "writes nothing" is checked across
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

use serde_json::Value;
use support::{ApiServer, ServiceAccount, spawn};
use svcmirror_core::labels::{
    FEDERATED, LOCAL_DISCOVERY_ANNOTATION, MIRRORED_SERVICE, REMOTE_DISCOVERY_ANNOTATION,
};
use svcmirror_core::model::{Kind, Object, ObjectKey, Service, ServicePort};
use svcmirror_fake::FakeCluster;

const MEMBER: (&str, &str) = ("mirror.linkerd.io/federated", "member");

/// `namespace/name` with `port`, a federated member when `member`, headless when `headless`.
fn service(name: &str, port: i32, member: bool, headless: bool) -> Service {
    let mut svc = Service::new("default", name);
    if member {
        svc.metadata.labels.insert(MEMBER.0.into(), MEMBER.1.into());
    }
    svc.metadata.labels.insert("app".into(), name.into());
    if headless {
        svc.spec.cluster_ip = Some("None".into());
    }
    svc.spec.ports.push(ServicePort {
        name: Some("http".into()),
        port,
        protocol: Some("TCP".into()),
        ..ServicePort::default()
    });
    svc
}

/// Sets or removes the member label of `default/name` in `server`'s cluster.
fn set_member(server: &ApiServer, name: &str, member: bool) {
    server
        .write(|c| {
            let Some(Object::Service(mut svc)) =
                c.get(Kind::Service, &ObjectKey::new("default", name))
            else {
                return Err(format!("no default/{name}"));
            };
            if member {
                svc.metadata.labels.insert(MEMBER.0.into(), MEMBER.1.into());
            } else {
                svc.metadata.labels.remove(MEMBER.0);
            }
            c.update(Object::Service(svc)).map_err(|e| e.to_string())
        })
        .expect("label changed");
}

/// `(local-discovery, remote-discovery, ports, resourceVersion)` of `default/<name>-federated`.
type Federated = (String, String, Vec<i32>, String);

fn federated(server: &ApiServer, name: &str) -> Option<Federated> {
    match server.lock().get(
        Kind::Service,
        &ObjectKey::new("default", &format!("{name}-federated")),
    ) {
        Some(Object::Service(s)) => {
            let a = |k: &str| s.metadata.annotations.get(k).cloned().unwrap_or_default();
            Some((
                a(LOCAL_DISCOVERY_ANNOTATION),
                a(REMOTE_DISCOVERY_ANNOTATION),
                s.spec.ports.iter().map(|p| p.port).collect(),
                s.metadata.resource_version.clone().unwrap_or_default(),
            ))
        }
        _ => None,
    }
}

fn entries(f: Option<Federated>) -> Option<(String, String)> {
    f.map(|(local, remote, _, _)| (local, remote))
}

fn some(local: &str, remote: &str) -> Option<(String, String)> {
    Some((local.to_owned(), remote.to_owned()))
}

/// A `svcmirror` process (`local` or `run`) with its admin server and log.
struct Process {
    child: Child,
    metrics: SocketAddr,
    log: PathBuf,
}

impl Process {
    fn start(dir: &Path, name: &str, args: &[String]) -> Self {
        let metrics = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port");
        let log = dir.join(format!("{name}.log"));
        let child = Command::new(env!("CARGO_BIN_EXE_svcmirror"))
            .args(args)
            .args(["--allow-short-resync", "--resync-period", "1s"])
            .args(["--metrics-addr", &metrics.to_string()])
            .env("RUST_LOG", "info")
            .env("POD_NAME", format!("svcmirror-{name}-0"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("svcmirror starts");
        Self {
            child,
            metrics,
            log,
        }
    }

    /// `svcmirror local` against the source at `source`.
    fn local(dir: &Path, source: SocketAddr, extra: &[&str]) -> Self {
        let mut args = vec![
            "local".to_owned(),
            "--source-kubeconfig".to_owned(),
            kubeconfig(dir, "east-for-local", source)
                .to_string_lossy()
                .into_owned(),
        ];
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        Self::start(dir, "local", &args)
    }

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

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn poll(processes: &[&Process], mut check: impl FnMut() -> Result<(), String>) {
    let mut last = String::new();
    for _ in 0..1200 {
        match check() {
            Ok(()) => return,
            Err(why) => last = why,
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let logs: Vec<String> = processes.iter().map(|p| p.log()).collect();
    panic!("gave up waiting; last: {last}\n{}", logs.join("\n---\n"));
}

/// Waits until each process ran two more whole reconciles.
async fn two_more_resyncs(processes: &[&Process]) {
    let start: Vec<Option<u64>> = processes.iter().map(|p| p.full_reconciles()).collect();
    poll(processes, || {
        let now: Vec<Option<u64>> = processes.iter().map(|p| p.full_reconciles()).collect();
        let done = now
            .iter()
            .zip(&start)
            .all(|(n, s)| matches!((n, s), (Some(n), Some(s)) if *n >= s + 2));
        if done {
            Ok(())
        } else {
            Err(format!("full reconciles {start:?} -> {now:?}"))
        }
    })
    .await;
}

fn documents(text: &str) -> Vec<Value> {
    serde_saphyr::from_multiple::<Value>(text)
        .unwrap_or_else(|e| panic!("{e}\n{text}"))
        .into_iter()
        .filter(|d| !d.is_null())
        .collect()
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("svcmirror-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Linkerd's "local federated service created / joined / left" with `svcmirror local` alone, as
/// `deploy/local.yaml` authorizes it (every request allowed, every grant used), plus a headless
/// local member refused with `InvalidService` and the last member leaving (the federated Service
/// deleted). The `web@west` entry a link's controller would write is written by the test.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_member_created_joined_left_with_exactly_the_rbac_of_deploy_local() {
    let mut east = FakeCluster::default();
    east.create_namespace("svcmirror").expect("svcmirror");
    for svc in [
        service("web", 80, true, false),
        service("db", 5432, true, true),
        service("api", 8080, false, false),
    ] {
        east.create(Object::Service(svc)).expect("service");
    }
    // `api-federated` as west's link controller wrote it: one remote member.
    let mut api_federated = service("api-federated", 8080, false, false);
    api_federated.metadata.labels = [
        (MIRRORED_SERVICE.to_owned(), "true".to_owned()),
        (FEDERATED.to_owned(), "true".to_owned()),
    ]
    .into();
    api_federated
        .metadata
        .annotations
        .insert(REMOTE_DISCOVERY_ANNOTATION.into(), "api@west".into());
    east.create(Object::Service(api_federated))
        .expect("federated");
    let east = ApiServer::new(east);
    let addr = spawn(Arc::clone(&east)).await;
    let manifest = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/local.yaml"),
    )
    .expect("deploy/local.yaml");
    east.enforce_rbac(
        &documents(&manifest),
        ServiceAccount::new("svcmirror", "svcmirror-local"),
    );
    let dir = temp_dir("local-rbac");
    let local = Process::local(&dir, addr, &["--lease-namespace", "svcmirror"]);

    // Local federated service created.
    poll(&[&local], || match entries(federated(&east, "web")) {
        found if found == some("web", "") => Ok(()),
        other => Err(format!("web-federated: {other:?}")),
    })
    .await;
    // A headless local member cannot join (SPEC §9), and says so.
    poll(&[&local], || {
        let log = local.log();
        if log.contains("InvalidService") && log.contains("default/db") {
            Ok(())
        } else {
            Err("no InvalidService for default/db logged".to_owned())
        }
    })
    .await;
    assert_eq!(federated(&east, "db"), None);
    assert!(
        local
            .log()
            .contains("created Service default/web-federated in the source cluster"),
        "{}",
        local.log()
    );

    // Local federated service joined: `api` joins the federated Service of west's member; the
    // local member leads (its ports), west's entry stays.
    set_member(&east, "api", true);
    poll(&[&local], || match federated(&east, "api") {
        Some((l, r, ports, _)) if l == "api" && r == "api@west" && ports == [8080] => Ok(()),
        other => Err(format!("api-federated: {other:?}")),
    })
    .await;
    let settled = (federated(&east, "web"), federated(&east, "api"));
    two_more_resyncs(&[&local]).await;
    assert_eq!(
        (federated(&east, "web"), federated(&east, "api")),
        settled,
        "a resync rewrote a settled federated Service\n{}",
        local.log()
    );

    // Local federated service left: its entry goes, west's stays; the last member of `web`
    // leaving deletes `web-federated`.
    set_member(&east, "api", false);
    set_member(&east, "web", false);
    poll(&[&local], || {
        match (entries(federated(&east, "api")), federated(&east, "web")) {
            (api, None) if api == some("", "api@west") => Ok(()),
            other => Err(format!("api-federated, web-federated: {other:?}")),
        }
    })
    .await;
    // Nothing else was ever written.
    let objects: Vec<String> = east
        .lock()
        .state()
        .objects()
        .into_iter()
        .map(|o| format!("{} {}", o.kind(), o.key()))
        .collect();
    assert_eq!(
        objects,
        [
            "Namespace default",
            "Namespace svcmirror",
            "Service default/api",
            "Service default/api-federated",
            "Service default/db",
            "Service default/web",
        ],
    );

    // RBAC equals use: nothing it asked was refused, and every grant was needed.
    let enforce = east.enforce.lock().expect("lock").clone();
    let (rbac, subject) = enforce.expect("enforced");
    let recorded = east.recorded();
    let refused: Vec<String> = rbac
        .refused(&subject, &recorded)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(refused, Vec::<String>::new(), "{}", local.log());
    let unused: Vec<String> = rbac
        .unused(&subject, &recorded)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(unused, Vec::<String>::new(), "granted, never used");
    drop(local);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Linkerd's "local federated service joined" with both writers live: west's `svcmirror run`
/// (its target exports `default/web` as a member, port 80) and `svcmirror local` (east's own
/// `default/web`, port 8080) converge on one `web-federated` listing both, the local member
/// leading (its port); further resyncs of both write nothing to it (no flapping). Then the local
/// member leaves: its entry goes, west's stays, and the lead passes to west (port 80).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_and_link_processes_converge_on_one_federated_service() {
    let mut west = FakeCluster::default();
    west.create(Object::Service(service("web", 80, true, false)))
        .expect("member");
    let mut east = FakeCluster::default();
    east.create(Object::Service(service("web", 8080, true, false)))
        .expect("local member");
    let (west, east) = (ApiServer::new(west), ApiServer::new(east));
    let (west_addr, east_addr) = (spawn(west.clone()).await, spawn(Arc::clone(&east)).await);
    let dir = temp_dir("local-and-link");
    let run = Process::start(
        &dir,
        "west",
        &[
            "run".to_owned(),
            "--target-kubeconfig".to_owned(),
            kubeconfig(&dir, "west", west_addr)
                .to_string_lossy()
                .into_owned(),
            "--source-kubeconfig".to_owned(),
            kubeconfig(&dir, "east-for-west", east_addr)
                .to_string_lossy()
                .into_owned(),
            "--cluster-name".to_owned(),
            "west".to_owned(),
            "--gateway-address".to_owned(),
            "172.18.0.4".to_owned(),
            "--no-leader-election".to_owned(),
            "--no-probe".to_owned(),
        ],
    );
    let local = Process::local(&dir, east_addr, &["--no-leader-election"]);
    let both = [&run, &local];

    poll(&both, || match federated(&east, "web") {
        Some((l, r, ports, _)) if l == "web" && r == "web@west" && ports == [8080] => Ok(()),
        other => Err(format!("web-federated: {other:?}")),
    })
    .await;
    let settled = federated(&east, "web");
    two_more_resyncs(&both).await;
    assert_eq!(
        federated(&east, "web"),
        settled,
        "a writer changed the settled federated Service\n{}\n---\n{}",
        run.log(),
        local.log()
    );

    // Local federated service left, with the link's writer live.
    set_member(&east, "web", false);
    poll(&both, || match federated(&east, "web") {
        Some((l, r, ports, _)) if l.is_empty() && r == "web@west" && ports == [80] => Ok(()),
        other => Err(format!("web-federated: {other:?}")),
    })
    .await;
    let settled = federated(&east, "web");
    two_more_resyncs(&both).await;
    assert_eq!(
        federated(&east, "web"),
        settled,
        "flapped after the local member left"
    );
    drop((run, local));
    let _ = std::fs::remove_dir_all(&dir);
}

/// `deploy/local.yaml` runs `svcmirror local` with flags it has: its container's args parse (the
/// run then stops at the missing kubeconfig given here, not at a usage error).
#[tokio::test]
async fn deploy_local_yaml_runs_svcmirror_local_with_flags_it_has() {
    let manifest = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/local.yaml"),
    )
    .expect("deploy/local.yaml");
    let docs = documents(&manifest);
    let deployment = docs
        .iter()
        .find(|d| d["kind"] == "Deployment")
        .expect("a Deployment");
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], "svcmirror-local");
    let mut args: Vec<String> = pod["containers"][0]["args"]
        .as_array()
        .expect("args")
        .iter()
        .map(|a| a.as_str().expect("a string").to_owned())
        .collect();
    assert_eq!(args.first().map(String::as_str), Some("local"));
    args.push("--source-kubeconfig=/nonexistent/svcmirror-local.kubeconfig".to_owned());
    let (code, out, err) = svcmirror_output(args).await;
    assert_eq!((code, out.as_str()), (2, ""), "{err}");
    assert!(err.contains("reading kubeconfig"), "{err}");
}
