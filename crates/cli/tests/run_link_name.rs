//! `svcmirror run --link-name west`, the shipped binary, end to end (SPEC §2.2): two loopback API
//! servers play west (the seed walkthrough) and east, and the link is Linkerd's `Link` resource
//! `linkerd-multicluster/west` in east, with the target's kubeconfig in the Secret it names.
//! The binary must mirror the walkthrough, write each export's conditions into the Link's status,
//! follow an edit of the Link (a whole-link reconcile) and a rotated Secret, and stop mirroring
//! when the Link is deleted, leaving the mirrors in place; a missing Secret is reported and
//! waited for.
//!
//! No timing assertions: every wait is a bounded poll (a hang guard of a minute or more).

#[path = "../../kube/tests/support/mod.rs"]
mod support;

mod common;
use common::*;

use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::{Value, json};
use support::{ApiServer, Rbac, ServiceAccount, nginx_endpoints, seed_mirrored, spawn, west};
use svcmirror_core::model::{Kind, Object, ObjectKey};
use svcmirror_fake::FakeCluster;

const LINKS: &str = "/apis/multicluster.linkerd.io/v1alpha3/namespaces/linkerd-multicluster/links";
const SECRETS: &str = "/api/v1/namespaces/linkerd-multicluster/secrets";

/// Linkerd's credentials Secret holding `kubeconfig` (base64 in `data`, as the API serves it).
fn secret(kubeconfig: &str) -> Value {
    let data = serde_json::to_value(k8s_openapi::ByteString(kubeconfig.as_bytes().to_vec()))
        .expect("base64");
    json!({"apiVersion": "v1", "kind": "Secret",
           "metadata": {"name": "cluster-credentials-west", "namespace": "linkerd-multicluster"},
           "type": "mirror.linkerd.io/remote-kubeconfig",
           "data": {"kubeconfig": data}})
}

/// The Link as `linkerd multicluster link` writes it, with the gateway port given.
fn link(port: &str) -> Value {
    json!({"apiVersion": "multicluster.linkerd.io/v1alpha3", "kind": "Link",
           "metadata": {"name": "west", "namespace": "linkerd-multicluster"},
           "spec": {"targetClusterName": "west", "targetClusterDomain": "cluster.local",
                    "targetClusterLinkerdNamespace": "linkerd",
                    "clusterCredentialsSecret": "cluster-credentials-west",
                    "gatewayAddress": "172.18.0.4", "gatewayPort": port,
                    "gatewayIdentity": "linkerd-gateway.linkerd-multicluster.serviceaccount.identity.linkerd.cluster.local",
                    "probeSpec": {"path": "/ready", "port": "4191", "period": "3s"},
                    "selector": {"matchLabels": {"mirror.linkerd.io/exported": "true"}},
                    "enableHeadlessServices": true}})
}

/// The RBAC objects of `deploy/<files>`.
fn deploy(files: &[&str]) -> Rbac {
    let mut docs = Vec::new();
    for file in files {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../deploy")
            .join(file);
        let text = std::fs::read_to_string(path).expect("manifest");
        docs.extend(serde_saphyr::from_multiple::<Value>(&text).expect("YAML"));
    }
    Rbac::from_documents(&docs)
}

/// The gateway ports of mirror `nginx-set-0-west`'s Endpoints in east.
fn mirror_ports(east: &FakeCluster) -> Result<Vec<i32>, String> {
    match east.get(
        Kind::Endpoints,
        &ObjectKey::new("default", "nginx-set-0-west"),
    ) {
        Some(Object::Endpoints(ep)) => Ok(ep
            .subsets
            .iter()
            .flat_map(|s| s.ports.iter().map(|p| p.port))
            .collect()),
        _ => Err("no Endpoints nginx-set-0-west".into()),
    }
}

/// The Link's `status.mirrorServices` says default/nginx-svc is Mirrored=True.
fn status_reports_nginx(east: &ApiServer) -> Result<(), String> {
    let link = east.object(LINKS, "west").ok_or("no Link")?;
    let services = link["status"]["mirrorServices"]
        .as_array()
        .ok_or_else(|| format!("no status.mirrorServices: {}", link["status"]))?;
    let nginx = services
        .iter()
        .find(|s| s["remoteRef"]["name"] == "nginx-svc" && s["remoteRef"]["namespace"] == "default")
        .ok_or_else(|| format!("nginx-svc not in {services:?}"))?;
    let mirrored = nginx["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Mirrored" && c["status"] == "True");
    if mirrored && nginx["conditions"][0]["localRef"]["name"] == "nginx-svc-west" {
        Ok(())
    } else {
        Err(format!("nginx-svc not Mirrored=True: {nginx}"))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_link_name_follows_the_link_its_secret_and_reports_status() {
    let west_a = ApiServer::new(west());
    let west_b = ApiServer::new(west());
    let east = ApiServer::new(FakeCluster::default());
    let (a_addr, b_addr, east_addr) = (
        spawn(west_a.clone()).await,
        spawn(west_b.clone()).await,
        spawn(east.clone()).await,
    );
    // west_b is the same cluster seen through rotated credentials, scaled to two replicas: what
    // the controller mirrors tells which credentials it uses.
    west_b
        .write(|c| {
            c.update(Object::Endpoints({
                let mut ep = nginx_endpoints(2);
                ep.metadata.resource_version = None;
                ep
            }))
        })
        .expect("scale down");
    let dir = std::env::temp_dir().join(format!("svcmirror-run-link-name-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let east_kubeconfig = dir.join("east.kubeconfig");
    std::fs::write(&east_kubeconfig, kubeconfig_text("east", east_addr)).expect("write");
    east.put_object(LINKS, "west", link("4143"));
    // east authorizes as a real API server, by deploy/'s RBAC for this mode (rbac-source.yaml
    // and rbac-link.yaml beside it) for the controller's account: a request they do not allow
    // (another namespace, another name) is a 403.
    let rbac = deploy(&["rbac-source.yaml", "rbac-link.yaml"]);
    let controller = ServiceAccount::new("svcmirror", "svcmirror-west");
    *east.enforce.lock().expect("lock") = Some((rbac.clone(), controller.clone()));
    let metrics = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");

    let mut child = Command::new(env!("CARGO_BIN_EXE_svcmirror"))
        .args(["run", "--link-name", "west", "--source-kubeconfig"])
        .arg(&east_kubeconfig)
        // Leader election and fencing hold in this mode too (the gateway is not probed: its
        // address is not reachable here).
        .args(["--lease-namespace", "svcmirror", "--no-probe"])
        .args(["--metrics-addr", &metrics.to_string()])
        .env("POD_NAME", "svcmirror-0")
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("stderr.log")).expect("log file"))
        .spawn()
        .expect("svcmirror run starts");

    // No credentials Secret yet: an ERROR naming it, and a wait for it (its watch sees it).
    wait_for(&mut child, &dir, 1200, || {
        let log = log(&dir);
        (log.contains("ERROR") && log.contains("cluster-credentials-west does not exist"))
            .then_some(())
            .ok_or_else(|| "the missing Secret is not reported yet".to_owned())
    })
    .await;
    east.put_object(
        SECRETS,
        "cluster-credentials-west",
        secret(&kubeconfig_text("west", a_addr)),
    );
    // Converges from the Link and the Secret's kubeconfig; the status says what is mirrored.
    wait_for(&mut child, &dir, 1200, || seed_mirrored(&east.lock(), 3)).await;
    wait_for(&mut child, &dir, 600, || status_reports_nginx(&east)).await;

    // An edit of the Link is a whole-link reconcile: every mirror Endpoints gets the new port.
    east.put_object(LINKS, "west", link("4144"));
    wait_for(&mut child, &dir, 1200, || {
        match mirror_ports(&east.lock())? {
            ports if ports == [4144] => Ok(()),
            ports => Err(format!("ports {ports:?}")),
        }
    })
    .await;

    // Rotated credentials: the controller now reads through them (two replicas).
    east.put_object(
        SECRETS,
        "cluster-credentials-west",
        secret(&kubeconfig_text("west", b_addr)),
    );
    wait_for(&mut child, &dir, 1200, || {
        let east = east.lock();
        if east
            .get(
                Kind::Service,
                &ObjectKey::new("default", "nginx-set-2-west"),
            )
            .is_some()
        {
            return Err("nginx-set-2-west still mirrored".into());
        }
        match mirror_ports(&east)? {
            ports if ports == [4144] => Ok(()),
            ports => Err(format!("ports {ports:?}")),
        }
    })
    .await;

    // A deleted Link stops mirroring; the mirrors stay (SPEC §2.2, Linkerd's behaviour).
    east.delete_object(LINKS, "west");
    wait_for(&mut child, &dir, 1200, || {
        if log(&dir).contains("was deleted: mirroring stopped") {
            Ok(())
        } else {
            Err("no stop logged".into())
        }
    })
    .await;
    assert_eq!(
        mirror_ports(&east.lock()),
        Ok(vec![4144]),
        "the mirrors stay"
    );
    assert!(
        east.lock()
            .get(Kind::Service, &ObjectKey::new("default", "nginx-svc-west"))
            .is_some(),
        "the root mirror stays"
    );
    let _ = child.kill();
    // RBAC equals use (issue 12) for this mode: every request made in east is allowed by
    // deploy/ (so none was refused), and every grant of rbac-link.yaml — each verb, on each
    // object it names, in its namespace — was needed by one.
    let used = east.recorded();
    let refused: Vec<String> = rbac
        .refused(&controller, &used)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(refused, Vec::<String>::new(), "not allowed by deploy/");
    let unused: Vec<String> = rbac
        .unused(&controller, &used)
        .iter()
        .filter(|g| g.via.contains("svcmirror-link-west"))
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        unused,
        Vec::<String>::new(),
        "granted by rbac-link.yaml, never used"
    );
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
}
