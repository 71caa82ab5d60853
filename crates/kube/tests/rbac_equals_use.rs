//! RBAC equals use (issue 12): every request the controller makes, recorded by the loopback API
//! servers as (API group, resource, verb), is exactly what the Roles in `deploy/` grant — per
//! cluster, both ways: nothing used is missing (the controller would get 403s) and nothing
//! granted goes unused (least privilege).
//!
//! The run covers what the controller does in its life: leader election (create, renew, release
//! the Lease), the seed walkthrough with EndpointSlices (`endpointsApi: both`), a namespace
//! creation (`createNamespaces`), the target's watch, a new export and its status Event, an
//! export withdrawn (deletes), the same report again (the Event refreshed with a PATCH) and a
//! resync. Server-side apply that creates an object is authorized as `create` as well as
//! `patch`, as by a real API server.

mod support;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::Value;
use svcmirror_backend::{Driver, DriverStatus, TokioClock};
use svcmirror_core::model::{Kind, Object, ObjectKey, Service, ServicePort};
use svcmirror_core::{EndpointsApi, Link};
use svcmirror_fake::FakeCluster;
use svcmirror_kube::lease::{LeaderElector, LeaseConfig};
use svcmirror_kube::{KubeSource, KubeTarget};
use tokio::sync::watch;

use support::*;

type Rule = (String, String, String);

const CONTROLLER: (&str, &str) = ("svcmirror", "svcmirror-west");
const REMOTE: (&str, &str) = ("svcmirror", "svcmirror-remote-west");

/// Every document of `deploy/<files>`.
fn deploy(files: &[&str]) -> Vec<Value> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy");
    let mut docs = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(dir.join(file)).expect("manifest");
        docs.extend(serde_saphyr::from_multiple::<Value>(&text).expect("YAML"));
    }
    docs
}

/// Every (group, resource, verb) the Roles and ClusterRoles of `file` grant.
fn granted(files: &[&str]) -> BTreeSet<Rule> {
    let mut rules = BTreeSet::new();
    for doc in deploy(files)
        .iter()
        .filter(|d| d["kind"] == "Role" || d["kind"] == "ClusterRole")
    {
        for rule in doc["rules"].as_array().into_iter().flatten() {
            let list = |v: &Value| -> Vec<String> {
                v.as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            };
            for group in list(&rule["apiGroups"]) {
                for resource in list(&rule["resources"]) {
                    for verb in list(&rule["verbs"]) {
                        rules.insert((group.clone(), resource.clone(), verb));
                    }
                }
            }
        }
    }
    rules
}

/// A grant of `get` on a kind the controller writes: the driver's re-read of one object after a
/// Conflict, a Timeout or an AlreadyExists (`Driver`'s re-read; exercised under faults by the
/// backend's tests): the code calls it, a fault-free run does not. Namespaces are written (so
/// re-read) only with createNamespaces: their `get` is the opt-in file's.
fn is_reread(grant: &Grant) -> bool {
    let resource = grant.rule.resources[0].as_str();
    grant.rule.verbs == ["get"]
        && (["services", "endpoints", "endpointslices"].contains(&resource)
            || (resource == "namespaces" && grant.via.contains("create-namespaces")))
}

const SOURCE_FILES: &[&str] = &["rbac-source.yaml", "rbac-source-create-namespaces.yaml"];

/// The RBAC objects of `deploy/<files>`, and the ServiceAccount they are for.
fn rbac_of(files: &[&str], (namespace, name): (&str, &str)) -> (Rbac, ServiceAccount) {
    (
        Rbac::from_documents(&deploy(files)),
        ServiceAccount::new(namespace, name),
    )
}

/// Waits (bounded) until `done` holds, re-checking after every status the driver publishes.
async fn wait_until(
    status: &mut watch::Receiver<DriverStatus>,
    mut done: impl FnMut() -> Result<(), String>,
) {
    let mut last = String::new();
    for _ in 0..500 {
        match done() {
            Ok(()) => return,
            Err(why) => last = why,
        }
        // A hang guard, not a timing assertion: the driver publishes after every reconcile.
        match tokio::time::timeout(Duration::from_secs(30), status.changed()).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => panic!("the driver stopped; last: {last}"),
            Err(_) => panic!("nothing happened for 30 s; last: {last}"),
        }
    }
    panic!("not done after 500 reconciles; last: {last}");
}

fn exported(namespace: &str, name: &str) -> Service {
    let mut svc = Service::new(namespace, name);
    svc.metadata
        .labels
        .insert("mirror.linkerd.io/exported".into(), "true".into());
    svc.spec.ports.push(ServicePort {
        port: 8080,
        ..ServicePort::default()
    });
    svc
}

fn has(east: &ApiServer, kind: Kind, namespace: &str, name: &str) -> Result<(), String> {
    east.lock()
        .get(kind, &ObjectKey::new(namespace, name))
        .map(drop)
        .ok_or(format!("no {kind} {namespace}/{name} in east"))
}

fn relabel(west: &ApiServer, exported_: bool) {
    west.write(|c| {
        let Some(Object::Service(mut web)) =
            c.get(Kind::Service, &ObjectKey::new("default", "web"))
        else {
            panic!("web exists");
        };
        if exported_ {
            web.metadata
                .labels
                .insert("mirror.linkerd.io/exported".into(), "true".into());
        } else {
            web.metadata.labels.remove("mirror.linkerd.io/exported");
        }
        c.update(Object::Service(web)).expect("relabel web");
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rbac_in_deploy_equals_the_requests_the_controller_makes() {
    let mut west_cluster = west();
    west_cluster.create_namespace("apps").expect("namespace");
    west_cluster
        .create(Object::Service(exported("apps", "api")))
        .expect("apps/api");
    let west = ApiServer::new(west_cluster);
    let east = ApiServer::new(FakeCluster::default());
    // Both API servers authorize as a real one would, by deploy/'s RBAC for the accounts it
    // binds: a request it does not allow is a 403, and the run does not converge.
    let (source_rbac, controller) = rbac_of(SOURCE_FILES, CONTROLLER);
    *east.enforce.lock().expect("lock") = Some((source_rbac, controller));
    let (target_rbac, remote) = rbac_of(&["rbac-target.yaml"], REMOTE);
    *west.enforce.lock().expect("lock") = Some((target_rbac, remote));
    let (west_addr, east_addr) = (spawn(west.clone()).await, spawn(east.clone()).await);
    let link = Link::builder("west")
        .gateway_address("172.18.0.4".parse().expect("ip"))
        .enable_headless_services(true)
        .create_namespaces(true)
        .endpoints_api(EndpointsApi::Both)
        .build()
        .expect("link");

    // Leader election: create the Lease, renew it.
    let mut elector = LeaderElector::new(
        client(east_addr),
        LeaseConfig::new("svcmirror-west", "svcmirror", "replica-a"),
    );
    assert!(
        elector
            .try_acquire_or_renew(Instant::now())
            .await
            .expect("acquire")
    );
    assert!(
        elector
            .try_acquire_or_renew(Instant::now())
            .await
            .expect("renew")
    );

    let source = KubeSource::new(client(east_addr));
    // As `svcmirror run` builds it: every mode's members, endpoints read `auto` (the default).
    let target = KubeTarget::for_link(client(west_addr), &link)
        .with_target_endpoints(svcmirror_core::TargetEndpoints::Auto);
    let mut driver = Driver::new(link, source, target, TokioClock);
    let mut status = driver.subscribe();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(async move {
        driver
            .run(async {
                let _ = stop_rx.await;
            })
            .await;
        driver
    });

    // The walkthrough, and apps/api in a namespace east did not have.
    wait_until(&mut status, || {
        seed_mirrored(&east.lock(), 3)?;
        has(&east, Kind::Namespace, "", "apps")?;
        has(&east, Kind::Service, "apps", "api-west")
    })
    .await;
    // A new export, seen through the watch: mirrored, and reported with an Event.
    west.write(|c| c.create(Object::Service(exported("default", "web"))))
        .expect("web");
    wait_until(&mut status, || {
        has(&east, Kind::Service, "default", "web-west")?;
        (west.count("POST events") > 0)
            .then_some(())
            .ok_or("no Event yet".into())
    })
    .await;
    // Withdrawn: its mirrors are deleted (Service, Endpoints, EndpointSlice).
    relabel(&west, false);
    wait_until(&mut status, || {
        match has(&east, Kind::Service, "default", "web-west") {
            Ok(()) => Err("web-west still exists".into()),
            Err(_) => Ok(()),
        }
    })
    .await;
    // Exported again: the same report, so the existing Event is refreshed (PATCH).
    relabel(&west, true);
    wait_until(&mut status, || {
        has(&east, Kind::Service, "default", "web-west")?;
        west.recorded()
            .iter()
            .any(|a| a.verb == "patch" && a.resource == "events")
            .then_some(())
            .ok_or("the repeated Event was not patched yet".into())
    })
    .await;
    // A scale-down: the endpoint mirror of the pod that went away is deleted, slices included.
    let slices_before = east.count("DELETE nginx-set-2-west-ipv4");
    west.write(|c| {
        c.update(Object::Endpoints({
            let mut ep = nginx_endpoints(2);
            ep.metadata.resource_version = None;
            ep
        }))
    })
    .expect("scale down");
    wait_until(&mut status, || {
        seed_mirrored(&east.lock(), 2)?;
        (east.count("DELETE nginx-set-2-west-ipv4") > slices_before)
            .then_some(())
            .ok_or("nginx-set-2-west-ipv4 not deleted yet".into())
    })
    .await;
    stop_tx.send(()).expect("driver running");
    let mut driver = running.await.expect("driver task");
    // A resync.
    driver.resync().await.expect("resync");
    // A gateway probe transition (SPEC §2.1), recorded as an Event on the Link in the controller's
    // namespace, as `svcmirror run`'s prober does.
    svcmirror_kube::record_gateway_transition(
        client(east_addr),
        "svcmirror".to_owned(),
        "west".to_owned(),
        svcmirror_core::Transition::Dead,
    )
    .await;
    elector.release().await.expect("release");

    let used_source = east.recorded();
    let used_target = west.recorded();
    let (source_rbac, controller) = rbac_of(SOURCE_FILES, CONTROLLER);
    let (target_rbac, remote) = rbac_of(&["rbac-target.yaml"], REMOTE);
    let shown = |v: &[Attributes]| v.iter().map(ToString::to_string).collect::<Vec<_>>();
    let shown_grants = |v: &[Grant]| v.iter().map(ToString::to_string).collect::<Vec<_>>();
    assert_eq!(
        shown(&source_rbac.refused(&controller, &used_source)),
        Vec::<String>::new(),
        "the controller makes these requests in the source cluster, deploy/ does not allow them"
    );
    let unused: Vec<Grant> = source_rbac
        .unused(&controller, &used_source)
        .into_iter()
        .filter(|g| !is_reread(g))
        .collect();
    assert_eq!(
        shown_grants(&unused),
        Vec::<String>::new(),
        "deploy/ grants these in the source cluster, the controller never uses them"
    );
    assert_eq!(
        shown(&target_rbac.refused(&remote, &used_target)),
        Vec::<String>::new(),
        "the controller makes these requests in the target cluster, deploy/ does not allow them"
    );
    assert_eq!(
        shown_grants(&target_rbac.unused(&remote, &used_target)),
        Vec::<String>::new(),
        "deploy/ grants these in the target cluster, the controller never uses them"
    );
    let used_source: BTreeSet<Rule> = used_source.iter().map(Attributes::triple).collect();
    // Namespace creation is a server-side apply: create and patch (issue 12: only create was
    // granted, so it got 403).
    assert!(used_source.contains(&(String::new(), "namespaces".into(), "patch".into())));
    assert!(used_source.contains(&(String::new(), "namespaces".into(), "create".into())));
    let opt_in = granted(&["rbac-source-create-namespaces.yaml"]);
    assert!(
        opt_in
            .iter()
            .all(|(_, resource, _)| resource == "namespaces"),
        "the opt-in file grants namespace writes only: {opt_in:?}"
    );
}

/// RBAC equals use for a source confined to namespaces (`svcmirror run --namespaces
/// default,apps` with `deploy/rbac-source-namespaced.yaml` instead of rbac-source.yaml): a
/// ClusterRole bound by one RoleBinding per namespace, the Lease's Role in the controller's
/// namespace. Enforced as a real API server does, the run converges, and every grant — in each
/// namespace it is bound in — is used, leader election and the gateway Event included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rbac_of_the_namespaced_source_equals_the_requests_of_a_confined_controller() {
    let mut west_cluster = west();
    west_cluster.create_namespace("apps").expect("namespace");
    west_cluster
        .create(Object::Service(exported("apps", "api")))
        .expect("apps/api");
    // With endpoints, so that its mirror has an EndpointSlice in apps.
    let mut api_endpoints = nginx_endpoints(1);
    api_endpoints.metadata.namespace = "apps".into();
    api_endpoints.metadata.name = "api".into();
    west_cluster
        .create(Object::Endpoints(api_endpoints))
        .expect("apps/api endpoints");
    let west = ApiServer::new(west_cluster);
    let mut east_cluster = FakeCluster::default();
    east_cluster.create_namespace("apps").expect("namespace");
    let east = ApiServer::new(east_cluster);
    let files = &["rbac-source-namespaced.yaml"];
    let (source_rbac, controller) = rbac_of(files, CONTROLLER);
    *east.enforce.lock().expect("lock") = Some((source_rbac.clone(), controller.clone()));
    let (target_rbac, remote) = rbac_of(&["rbac-target.yaml"], REMOTE);
    *west.enforce.lock().expect("lock") = Some((target_rbac, remote));
    let (west_addr, east_addr) = (spawn(west.clone()).await, spawn(east.clone()).await);
    let link = Link::builder("west")
        .gateway_address("172.18.0.4".parse().expect("ip"))
        .enable_headless_services(true)
        .endpoints_api(EndpointsApi::Both)
        .build()
        .expect("link");
    let mut elector = LeaderElector::new(
        client(east_addr),
        LeaseConfig::new("svcmirror-west", "svcmirror", "replica-a"),
    );
    assert!(
        elector
            .try_acquire_or_renew(Instant::now())
            .await
            .expect("acquire")
    );
    let source = KubeSource::new(client(east_addr))
        .with_namespaces(["default".to_owned(), "apps".to_owned()]);
    let target = KubeTarget::for_link(client(west_addr), &link);
    let mut driver = Driver::new(link, source, target, TokioClock);
    let mut status = driver.subscribe();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(async move {
        driver
            .run(async {
                let _ = stop_rx.await;
            })
            .await;
    });
    wait_until(&mut status, || {
        seed_mirrored(&east.lock(), 3)?;
        has(&east, Kind::Service, "apps", "api-west")
    })
    .await;
    // A scale-down in default: the mirrors of the pod that went away are deleted, slice included.
    let slices_before = east.count("DELETE nginx-set-2-west-ipv4");
    west.write(|c| {
        c.update(Object::Endpoints({
            let mut ep = nginx_endpoints(2);
            ep.metadata.resource_version = None;
            ep
        }))
    })
    .expect("scale down");
    wait_until(&mut status, || {
        seed_mirrored(&east.lock(), 2)?;
        (east.count("DELETE nginx-set-2-west-ipv4") > slices_before)
            .then_some(())
            .ok_or("nginx-set-2-west-ipv4 not deleted yet".into())
    })
    .await;
    // apps/api withdrawn: its mirrors in apps are deleted.
    west.write(|c| {
        let Some(Object::Service(mut api)) = c.get(Kind::Service, &ObjectKey::new("apps", "api"))
        else {
            panic!("api exists");
        };
        api.metadata.labels.remove("mirror.linkerd.io/exported");
        c.update(Object::Service(api)).expect("relabel api");
    });
    wait_until(&mut status, || {
        match has(&east, Kind::Service, "apps", "api-west") {
            Ok(()) => Err("api-west still exists".into()),
            Err(_) => Ok(()),
        }
    })
    .await;
    stop_tx.send(()).expect("driver running");
    running.await.expect("driver task");
    svcmirror_kube::record_gateway_transition(
        client(east_addr),
        "svcmirror".to_owned(),
        "west".to_owned(),
        svcmirror_core::Transition::Dead,
    )
    .await;
    elector.release().await.expect("release");

    let used = east.recorded();
    let shown = |v: &[Attributes]| v.iter().map(ToString::to_string).collect::<Vec<_>>();
    assert_eq!(
        shown(&source_rbac.refused(&controller, &used)),
        Vec::<String>::new(),
        "a confined controller makes these requests, rbac-source-namespaced.yaml does not allow them"
    );
    let unused: Vec<String> = source_rbac
        .unused(&controller, &used)
        .iter()
        .filter(|g| !is_reread(g))
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        unused,
        Vec::<String>::new(),
        "rbac-source-namespaced.yaml grants these, a confined controller never uses them"
    );
}

#[path = "rbac_equals_use/authorizer.rs"]
mod authorizer;
