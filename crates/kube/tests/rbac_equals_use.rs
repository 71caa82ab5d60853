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

/// Every (group, resource, verb) the Roles and ClusterRoles of `file` grant.
fn granted(files: &[&str]) -> BTreeSet<Rule> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy");
    let mut rules = BTreeSet::new();
    for file in files {
        let text = std::fs::read_to_string(dir.join(file)).expect("manifest");
        let docs: Vec<Value> = serde_saphyr::from_multiple(&text).expect("YAML");
        for doc in docs
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
    }
    rules
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
    let patched = (String::new(), "events".to_owned(), "patch".to_owned());
    wait_until(&mut status, || {
        has(&east, Kind::Service, "default", "web-west")?;
        west.rbac
            .lock()
            .expect("lock")
            .contains(&patched)
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

    let used_source = east.rbac.lock().expect("lock").clone();
    let used_target = west.rbac.lock().expect("lock").clone();
    let source_rules = granted(&["rbac-source.yaml", "rbac-source-create-namespaces.yaml"]);
    let target_rules = granted(&["rbac-target.yaml"]);
    let diff =
        |a: &BTreeSet<Rule>, b: &BTreeSet<Rule>| a.difference(b).cloned().collect::<Vec<_>>();
    assert_eq!(
        diff(&used_source, &source_rules),
        [],
        "the controller needs these in the source cluster, deploy/ does not grant them"
    );
    // `get` in the source is the driver's re-read of one object after a Conflict, a Timeout or
    // an AlreadyExists (`Driver`'s re-read; exercised under faults by the backend's tests): the
    // code calls it, a fault-free run does not.
    let reread = |rule: &Rule| rule.2 == "get" && rule.1 != "leases";
    let unused: Vec<Rule> = diff(&source_rules, &used_source)
        .into_iter()
        .filter(|r| !reread(r))
        .collect();
    assert_eq!(
        unused,
        [],
        "deploy/ grants these in the source cluster, the controller never uses them"
    );
    assert_eq!(
        diff(&used_target, &target_rules),
        [],
        "the controller needs these in the target cluster, deploy/ does not grant them"
    );
    assert_eq!(
        diff(&target_rules, &used_target),
        [],
        "deploy/ grants these in the target cluster, the controller never uses them"
    );
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
