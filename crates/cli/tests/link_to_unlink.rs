//! Issue 12 "Done when", end to end on two loopback API servers: from nothing to a converged link
//! using only what an operator runs, and back.
//!
//! 1. The source has the controller's namespace (`deploy/namespace.yaml`, the README's first
//!    step); the target has Linkerd's gateway Service (what `linkerd multicluster install`
//!    creates) and the walkthrough's exports.
//! 2. `svcmirror link --target-rbac` is applied to the target, then `svcmirror link
//!    --link-resource` (the target read through its kubeconfig: gateway address, port, identity
//!    and probe from the gateway Service, a bound token from the TokenRequest API) is applied to
//!    the source — every printed object, as `kubectl apply -f -` would (`apply`). From then on
//!    the target answers only the printed credentials' token.
//!    From then on both API servers authorize as a real one does (`support::rbac`): by the
//!    printed RBAC, the source as the controller's ServiceAccount `svcmirror/svcmirror-west`,
//!    the target as `svcmirror/svcmirror-remote-west` — namespaces, bindings and resourceNames
//!    included, a request they do not allow is a 403.
//! 3. `svcmirror run --link-name west` converges the link and reports each export in the Link's
//!    status: the printed RBAC suffices (every request it made is allowed by it).
//! 4. `svcmirror check --link-name west`, run as the controller's account, passes (exit 0, no
//!    `×` or `‼`), its access reviews answered by the same RBAC: it asks for nothing the printed
//!    RBAC lacks. Listing every Link is not the controller's business: said on a `-` line.
//! 5. The controller stopped, `svcmirror unlink --yes` (the operator's credentials again)
//!    removes the mirrors, and the deletions it
//!    prints for the link itself are carried out: the source holds exactly what it held before
//!    the link (every object, Lease and Event compared).
//!
//! The gateway (172.18.0.4) is never contacted: `--no-probe` (the probe has its own loopback
//! tests). No timing assertions: every wait is a bounded poll.

#[path = "../../kube/tests/support/mod.rs"]
mod support;

mod common;
use common::*;

use std::collections::BTreeSet;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::{Value, json};
use support::{ApiServer, ServiceAccount, seed_mirrored, spawn, west};
use svcmirror_core::model::{Kind, ObjectKey};
use svcmirror_fake::FakeCluster;

const IDENTITY: &str =
    "linkerd-gateway.linkerd-multicluster.serviceaccount.identity.linkerd.cluster.local";
const LINKS: &str = "/apis/multicluster.linkerd.io/v1alpha3/namespaces/svcmirror/links";

fn documents(text: &str) -> Vec<Value> {
    serde_saphyr::from_multiple::<Value>(text)
        .unwrap_or_else(|e| panic!("{e}\n{text}"))
        .into_iter()
        .filter(|d| !d.is_null())
        .collect()
}

/// The collection path of a manifest, as kubectl derives it (apiVersion, kind's plural,
/// namespace).
fn collection(doc: &Value) -> String {
    let api = doc["apiVersion"].as_str().expect("apiVersion");
    let kind = doc["kind"].as_str().expect("kind");
    let prefix = if api.contains('/') {
        format!("/apis/{api}")
    } else {
        format!("/api/{api}")
    };
    let plural = format!("{}s", kind.to_lowercase());
    match doc["metadata"]["namespace"].as_str() {
        Some(ns) => format!("{prefix}/namespaces/{ns}/{plural}"),
        None => {
            // kubectl would put a namespaced object without a namespace into the context's: an
            // install that lands wherever the operator happens to be.
            assert!(
                ["Namespace", "ClusterRole", "ClusterRoleBinding"].contains(&kind),
                "{kind} printed without a namespace: {doc}"
            );
            format!("{prefix}/{plural}")
        }
    }
}

/// `kubectl apply -f -` of `docs` into `server`: Namespaces into the fake cluster, everything
/// else kept as JSON by collection (served on GET; Links and Secrets also listed and watched).
/// As the API server does, a Secret's `stringData` is written into its `data`.
fn apply(server: &ApiServer, docs: &[Value]) {
    for doc in docs {
        let name = doc["metadata"]["name"].as_str().expect("a name");
        match doc["kind"].as_str().expect("kind") {
            "Namespace" => {
                server.write(|c| {
                    if c.get(Kind::Namespace, &ObjectKey::new("", name)).is_none() {
                        c.create_namespace(name).expect("namespace");
                    }
                });
            }
            kind @ ("Service" | "Endpoints" | "EndpointSlice") => {
                panic!("svcmirror link prints no {kind}: {doc}")
            }
            kind => {
                let mut doc = doc.clone();
                if kind == "Secret"
                    && let Some(Value::Object(strings)) =
                        doc.as_object_mut().and_then(|d| d.remove("stringData"))
                {
                    for (key, value) in strings {
                        let bytes = value.as_str().expect("a string").as_bytes().to_vec();
                        doc["data"][key] =
                            serde_json::to_value(k8s_openapi::ByteString(bytes)).expect("base64");
                    }
                }
                server.put_object(&collection(&doc), name, doc);
            }
        }
    }
}

/// `kubectl delete` of every command line in `text` (`kubectl [-n NS] delete [--ignore-not-found]
/// TYPE/NAME…` or `… delete TYPE[,TYPE] NAME…`): what was deleted, as `TYPE NAME`.
fn kubectl_delete(server: &ApiServer, text: &str) -> Vec<String> {
    let mut deleted = Vec::new();
    for line in text
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("kubectl "))
    {
        let words: Vec<&str> = line
            .split_whitespace()
            .take_while(|w| !w.starts_with('#'))
            .collect();
        let mut namespace = None;
        let mut args = Vec::new();
        let mut rest = words[1..].iter();
        while let Some(word) = rest.next() {
            match *word {
                "-n" | "--namespace" => namespace = rest.next().copied(),
                "delete" | "--ignore-not-found" => {}
                other => args.push(other),
            }
        }
        let targets: Vec<(&str, &str)> = if args.first().is_some_and(|a| a.contains('/')) {
            args.iter()
                .map(|a| a.split_once('/').expect("TYPE/NAME"))
                .collect()
        } else {
            let (types, names) = args.split_first().expect("a type");
            types
                .split(',')
                .flat_map(|t| names.iter().map(move |n| (t, *n)))
                .collect()
        };
        for (kind, name) in targets {
            let ns = namespace.unwrap_or("default");
            let gone = match kind {
                "lease" => server.leases.lock().expect("lock").delete(ns, name),
                _ => {
                    let collection = match kind {
                        "deployment" => format!("/apis/apps/v1/namespaces/{ns}/deployments"),
                        "configmap" | "secret" | "serviceaccount" => {
                            format!("/api/v1/namespaces/{ns}/{kind}s")
                        }
                        "role" | "rolebinding" => {
                            format!("/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/{kind}s")
                        }
                        "clusterrole" | "clusterrolebinding" => {
                            format!("/apis/rbac.authorization.k8s.io/v1/{kind}s")
                        }
                        "link.multicluster.linkerd.io" => {
                            LINKS.replace("/svcmirror/", &format!("/{ns}/"))
                        }
                        other => panic!("unknown kubectl type {other:?} in {line:?}"),
                    };
                    let exists = server.object(&collection, name).is_some();
                    server.delete_object(&collection, name);
                    exists
                }
            };
            if gone {
                deleted.push(format!("{kind} {name}"));
            }
        }
    }
    deleted
}

/// Everything the cluster holds: its objects, the JSON ones, Leases and Events.
fn snapshot(server: &ApiServer) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = server
        .lock()
        .state()
        .objects()
        .iter()
        .map(|o| format!("{} {}", o.kind(), o.key()))
        .collect();
    out.extend(
        server
            .objects
            .lock()
            .expect("lock")
            .keys()
            .into_iter()
            .map(|k| format!("object {k}")),
    );
    out.extend(
        server
            .leases
            .lock()
            .expect("lock")
            .keys()
            .into_iter()
            .map(|k| format!("Lease {k}")),
    );
    out.extend(
        server
            .events
            .lock()
            .expect("lock")
            .iter()
            .map(|e| format!("Event {e}")),
    );
    out
}

/// The Link's status says default/nginx-svc is mirrored.
fn status_reports_nginx(east: &ApiServer) -> Result<(), String> {
    let link = east.object(LINKS, "west").ok_or("no Link")?;
    let mirrored = link["status"]["mirrorServices"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["remoteRef"]["name"] == "nginx-svc")
        .flat_map(|s| s["conditions"].as_array().into_iter().flatten())
        .any(|c| c["type"] == "Mirrored" && c["status"] == "True");
    mirrored
        .then_some(())
        .ok_or_else(|| format!("nginx-svc not Mirrored=True: {}", link["status"]))
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| (*s).to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn from_nothing_to_a_converged_link_and_back_with_link_run_check_unlink() {
    // 1. The clusters as Linkerd left them, and the controller's namespace in the source.
    let west = ApiServer::new(west());
    west.put_object(
        "/api/v1/namespaces/linkerd-multicluster/services",
        "linkerd-gateway",
        json!({"apiVersion": "v1", "kind": "Service",
               "metadata": {"namespace": "linkerd-multicluster", "annotations": {
                   "mirror.linkerd.io/gateway-identity": IDENTITY,
                   "mirror.linkerd.io/probe-path": "/ready",
                   "mirror.linkerd.io/probe-period": "3"}},
               "spec": {"type": "LoadBalancer", "ports": [
                   {"name": "mc-gateway", "port": 4143, "protocol": "TCP"},
                   {"name": "mc-probe", "port": 4191, "protocol": "TCP"}]},
               "status": {"loadBalancer": {"ingress": [{"ip": "172.18.0.4"}]}}}),
    );
    let east = ApiServer::new(FakeCluster::default());
    let (west_addr, east_addr) = (spawn(west.clone()).await, spawn(east.clone()).await);
    let dir = std::env::temp_dir().join(format!("svcmirror-link-to-unlink-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let west_kubeconfig = kubeconfig(&dir, "west", west_addr).display().to_string();
    let east_kubeconfig = kubeconfig(&dir, "east", east_addr).display().to_string();
    let namespace_yaml = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/namespace.yaml"),
    )
    .expect("deploy/namespace.yaml");
    apply(&east, &documents(&namespace_yaml));
    let before = snapshot(&east);

    // 2. svcmirror link | kubectl apply -f -, in the target then in the source.
    let (code, out, err) = svcmirror_output(strings(&[
        "link",
        "--cluster-name",
        "west",
        "--target-rbac",
    ]))
    .await;
    assert_eq!(code, 0, "{err}");
    let target_docs = documents(&out);
    apply(&west, &target_docs);
    let (code, out, err) = svcmirror_output(strings(&[
        "link",
        "--kubeconfig",
        &west_kubeconfig,
        "--cluster-name",
        "west",
        "--enable-headless-services",
        "--link-resource",
    ]))
    .await;
    assert_eq!(code, 0, "{err}");
    let source_docs = documents(&out);
    apply(&east, &source_docs);
    // Only the printed credentials reach the target now (their bound token).
    *west.token.lock().expect("lock") = Some("bound-token-for-svcmirror-remote-west".into());
    // From now on, the printed RBAC for the accounts it binds, as a real API server enforces it.
    east.enforce_rbac(
        &source_docs,
        ServiceAccount::new("svcmirror", "svcmirror-west"),
    );
    west.enforce_rbac(
        &target_docs,
        ServiceAccount::new("svcmirror", "svcmirror-remote-west"),
    );
    east.attributes.lock().expect("lock").clear();
    west.attributes.lock().expect("lock").clear();

    // 3. svcmirror run --link-name west: converged, and the status written.
    let metrics = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let mut child = Command::new(env!("CARGO_BIN_EXE_svcmirror"))
        .args([
            "run",
            "--link-name",
            "west",
            "--link-namespace",
            "svcmirror",
        ])
        .args(["--source-kubeconfig", &east_kubeconfig])
        .args(["--lease-namespace", "svcmirror", "--no-probe"])
        .args(["--metrics-addr", &metrics.to_string()])
        .env("POD_NAME", "svcmirror-west-0")
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("stderr.log")).expect("log file"))
        .spawn()
        .expect("svcmirror run starts");
    wait_for(&mut child, &dir, 1200, || seed_mirrored(&east.lock(), 3)).await;
    wait_for(&mut child, &dir, 600, || status_reports_nginx(&east)).await;
    // The logs tell the operator what happened: which Link, which target, each write.
    let controller_log = log(&dir);
    for line in [
        "mirroring with the Link svcmirror/west".to_owned(),
        format!("{west_addr}"),
        "created Service default/nginx-svc-west in the source cluster".to_owned(),
    ] {
        assert!(
            controller_log.contains(&line),
            "missing {line:?} in\n{controller_log}"
        );
    }
    // Everything it asked of either cluster is allowed by what `svcmirror link` printed (with
    // namespaces and names): no request was refused.
    for (cluster, server) in [("source", &east), ("target", &west)] {
        let enforce = server.enforce.lock().expect("lock");
        let (rbac, subject) = enforce.as_ref().expect("enforced");
        let refused: Vec<String> = rbac
            .refused(subject, &server.recorded())
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            refused,
            Vec::<String>::new(),
            "requested in the {cluster}, not allowed by the printed RBAC\n{}",
            log(&dir)
        );
    }
    // And the printed Role for following the Link is used, verb by verb, on the objects it
    // names (the Link, its status, the credentials Secret).
    let enforce = east.enforce.lock().expect("lock").clone();
    let (rbac, controller) = enforce.expect("enforced");
    let unused: Vec<String> = rbac
        .unused(&controller, &east.recorded())
        .iter()
        .filter(|g| g.via.contains("svcmirror-link-west"))
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        unused,
        Vec::<String>::new(),
        "printed for the Link, never used"
    );

    // 4. svcmirror check --link-name west passes as the controller's account — each cluster's
    //    access reviews answered by the RBAC applied there, so every permission check asks
    //    about is one `svcmirror link` printed.
    let (code, out, err) = svcmirror_output(strings(&[
        "check",
        "--link-name",
        "west",
        "--link-namespace",
        "svcmirror",
        "--source-kubeconfig",
        &east_kubeconfig,
        "--no-probe",
    ]))
    .await;
    assert_eq!(code, 0, "{out}{err}\n{}", log(&dir));
    for line in [
        format!("√ the source API server http://{east_addr} answers"),
        "√ the Link svcmirror/west exists in the source".to_owned(),
        format!(
            "√ the credentials Secret svcmirror/cluster-credentials-west holds a kubeconfig \
             (target http://{west_addr})"
        ),
        "√ the link is valid (gateway 172.18.0.4 port 4143".to_owned(),
        format!("√ the target API server http://{west_addr} answers"),
        "√ source: may watch links.multicluster.linkerd.io west in namespace svcmirror".to_owned(),
        "√ target: may list services cluster-wide".to_owned(),
        "- gateway not probed (--no-probe)".to_owned(),
        "√ no name conflicts".to_owned(),
        "√ every mirror has its endpoints".to_owned(),
        "√ the source holds the mirrored state".to_owned(),
        "Status check results are √".to_owned(),
        // Least privilege: the controller's Role reads its own Link by name, nothing more.
        "- the source's other Links not listed (checked against the mirrors' labels only): \
         forbidden to this account in all namespaces"
            .to_owned(),
    ] {
        assert!(out.contains(&line), "missing {line:?} in\n{out}");
    }
    assert!(!out.contains('×') && !out.contains('‼'), "{out}");

    // 5. Stop the controller; unlink (as the operator: no RBAC enforced); delete what it says
    //    the link itself is.
    let _ = child.kill();
    let _ = child.wait();
    *east.enforce.lock().expect("lock") = None;
    let (code, out, err) = svcmirror_output(strings(&[
        "unlink",
        "--cluster-name",
        "west",
        "--source-kubeconfig",
        &east_kubeconfig,
        "--yes",
    ]))
    .await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("Deleted 8 object(s)."), "{out}");
    assert!(
        err.contains("deleted Service default/nginx-svc-west in the source cluster"),
        "{err}"
    );
    let deleted = kubectl_delete(&east, &out);
    assert!(
        deleted
            .iter()
            .any(|d| d == "link.multicluster.linkerd.io west"),
        "the Link resource is named for deletion: {deleted:?}\n{out}"
    );
    let after = snapshot(&east);
    assert_eq!(
        after.difference(&before).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "left in the source after unlink\n{out}"
    );
    assert_eq!(
        before.difference(&after).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "removed from the source by unlink, though there before the link\n{out}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
