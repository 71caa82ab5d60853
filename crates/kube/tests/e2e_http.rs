//! End to end over HTTP: the real kube client and kube-runtime watcher talk to a small in-test API
//! server on 127.0.0.1 backed by `svcmirror_fake::FakeCluster` (list, streaming watch, get,
//! server-side-apply PATCH, delete for Services, Endpoints and Namespaces), and the reconcile driver
//! of `svcmirror-backend` runs the seed walkthrough through `KubeSource`/`KubeTarget`, including
//! a watch that expires (410, relist) and a 409 on apply.
//!
//! No timing assertions: waits are on the driver's status channel, each bounded by a generous
//! hang guard, and loops are bounded in count.

mod support;

use std::time::Duration;

use svcmirror_backend::{Driver, DriverStatus, SourceCluster, TargetCluster, TokioClock};
use svcmirror_core::model::{Kind, Object, ObjectKey};
use svcmirror_core::{LabelSelector, Link, TargetEndpoints};
use svcmirror_fake::FakeCluster;
use svcmirror_kube::{KubeSource, KubeTarget};
use tokio::sync::watch;

use support::*;

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
            Err(_) => panic!(
                "nothing happened for 30 s; last: {last}; {:?}",
                status.borrow().stats
            ),
        }
    }
    panic!("not converged after 500 reconciles; last: {last}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_walkthrough_end_to_end_over_http_with_watch_restart_and_409() {
    let west = ApiServer::new(west());
    let east = ApiServer::new(FakeCluster::default());
    *east.conflicts_to_inject.lock().expect("lock") = 1;
    let (west_addr, east_addr) = (spawn(west.clone()).await, spawn(east.clone()).await);

    let link = link();
    let target = KubeTarget::new(client(west_addr), link.export_selector());
    let source = KubeSource::new(client(east_addr));

    // The adapter alone first: the export selector is applied by the server.
    let listed = target.list().await.expect("target list");
    assert_eq!(
        listed.services.len(),
        1,
        "only the exported Service is listed"
    );
    assert_eq!(listed.endpoints.len(), 1);
    assert!(
        source
            .list()
            .await
            .expect("source list")
            .has_namespace("default")
    );

    let mut driver = Driver::new(link, source.clone(), target, TokioClock);
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

    // 1. The walkthrough converges: root headless mirror, three endpoint mirrors with ClusterIPs
    //    allocated by east, root Endpoints mapping hostnames to those IPs — despite a 409 on the
    //    first apply.
    wait_until(&mut status, || seed_mirrored(&east.lock(), 3)).await;
    assert_eq!(
        *east.conflicts_to_inject.lock().expect("lock"),
        0,
        "the 409 was served"
    );
    assert!(
        status.borrow().stats.conflicts >= 1,
        "the driver saw the 409"
    );
    assert!(east.count("PATCH nginx-set-0-west") + east.count("PATCH nginx-svc-west") >= 1);

    // 2. The target's watches expire (410): the watcher relists, the driver keeps up, and a
    //    scale-down seen through the new watch removes nginx-set-2-west.
    let restarts_before = status.borrow().stats.watch_restarts;
    let relists_before = west.count("GET services");
    west.expire_watches();
    wait_until(&mut status, || {
        if west.count("GET services") > relists_before {
            Ok(())
        } else {
            Err("the Service watch was not re-listed".into())
        }
    })
    .await;
    west.write(|c| {
        c.update(Object::Endpoints({
            let mut ep = nginx_endpoints(2);
            ep.metadata.resource_version = None;
            ep
        }))
    })
    .expect("scale down");
    wait_until(&mut status, || seed_mirrored(&east.lock(), 2)).await;
    assert!(status.borrow().stats.watch_restarts >= restarts_before);

    // 3. A restart with every mirror in place writes nothing (SPEC §7).
    stop_tx.send(()).expect("driver running");
    let stopped = running.await.expect("driver task");
    assert!(
        stopped.stats().writes >= 7,
        "3 endpoint mirrors + root, Services and Endpoints"
    );
    // The status Events reached the target over HTTP (at least the first `Mirrored`; the one of
    // the scale-down may still be in flight when the driver is stopped).
    assert!(stopped.stats().status_events >= 1, "{:?}", stopped.stats());
    assert_eq!(stopped.stats().status_event_failures, 0);
    assert!(u64::from(west.count("POST events")) >= stopped.stats().status_events);
    let mut again = Driver::new(
        link_again(),
        source,
        KubeTarget::new(client(west_addr), &LabelSelector::default_export()),
        TokioClock,
    );
    let outcome = again.resync().await.expect("resync");
    assert_eq!(
        outcome.writes, 0,
        "a restart with mirrors in place writes nothing"
    );
    seed_mirrored(&east.lock(), 2).expect("still mirrored");
}

fn link_again() -> Link {
    link()
}

/// Issue "Drop-in for Linkerd's service mirror" (SPEC §2.2): the Link resource and its credentials
/// Secret are read and followed through the real client, and the status is patched in v1alpha3's
/// shape.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn link_resource_is_read_watched_and_reported_on() {
    use futures::StreamExt;
    use svcmirror_kube::link_resource::{LinkEvent, LinkResource, LinkStatus, ServiceStatus};

    const LINKS: &str =
        "/apis/multicluster.linkerd.io/v1alpha3/namespaces/linkerd-multicluster/links";
    const SECRETS: &str = "/api/v1/namespaces/linkerd-multicluster/secrets";
    let east = ApiServer::new(FakeCluster::new("10.43.0.0/16".parse().expect("cidr")));
    let addr = spawn(east.clone()).await;
    let links = LinkResource::new(client(addr), "linkerd-multicluster", "west");
    assert_eq!(links.get().await.expect("get"), None, "no Link yet");

    let manifest = |port: &str| {
        serde_json::json!({"apiVersion": "multicluster.linkerd.io/v1alpha3", "kind": "Link",
            "metadata": {"namespace": "linkerd-multicluster"},
            "spec": {"targetClusterName": "west", "gatewayAddress": "172.18.0.4",
                     "gatewayPort": port, "clusterCredentialsSecret": "cluster-credentials-west"}})
    };
    east.put_object(LINKS, "west", manifest("4143"));
    east.put_object(LINKS, "other", manifest("1"));
    let got = links.get().await.expect("get").expect("the Link");
    assert_eq!(got["spec"]["gatewayPort"], "4143");

    let mut events = Box::pin(links.watch());
    macro_rules! next {
        ($events:expr) => {
            tokio::time::timeout(Duration::from_secs(30), $events.next())
                .await
                .expect("hang guard")
                .expect("stream goes on")
                .expect("no watch error")
        };
    }
    match next!(events) {
        LinkEvent::Applied(link) => assert_eq!(link["spec"]["gatewayPort"], "4143"),
        other => panic!("{other:?}"),
    }
    // An edit of this Link is seen; the other Link is not (field selector).
    east.put_object(LINKS, "other", manifest("2"));
    east.put_object(LINKS, "west", manifest("4144"));
    match next!(events) {
        LinkEvent::Applied(link) => assert_eq!(link["spec"]["gatewayPort"], "4144"),
        other => panic!("{other:?}"),
    }
    east.delete_object(LINKS, "west");
    assert_eq!(next!(events), LinkEvent::Deleted);

    // Credentials: missing, then present (base64 in `data`, decoded here).
    let missing = links.credentials("cluster-credentials-west").await;
    assert!(
        missing.is_err_and(|e| e.to_string().contains("does not exist")),
        "a missing Secret says so"
    );
    east.put_object(
        SECRETS,
        "cluster-credentials-west",
        serde_json::json!({"apiVersion": "v1", "kind": "Secret", "metadata": {},
                           "data": {"kubeconfig": "YXBpVmVyc2lvbjogdjE="}}),
    );
    assert_eq!(
        links
            .credentials("cluster-credentials-west")
            .await
            .expect("read"),
        b"apiVersion: v1"
    );

    // Status: patched into the Link's status subresource, read back.
    east.put_object(LINKS, "west", manifest("4143"));
    let status = LinkStatus {
        mirror_services: vec![ServiceStatus {
            controller_name: "svcmirror.io/service-mirror".into(),
            ..ServiceStatus::default()
        }],
        federated_services: Vec::new(),
    };
    links.patch_status(&status).await.expect("patch status");
    assert_eq!(links.status().await.expect("status"), status);
    assert_eq!(
        east.objects
            .lock()
            .expect("lock")
            .get(LINKS, "west")
            .expect("link")["spec"]["gatewayPort"],
        "4143",
        "the spec is untouched by a status patch"
    );
}

/// The seed's Endpoints as the one EndpointSlice Kubernetes ≥ 1.33 would publish instead.
fn nginx_slice(replicas: u8) -> svcmirror_core::model::EndpointSlice {
    use svcmirror_core::model::{Endpoint, EndpointConditions, EndpointSlice, EndpointSlicePort};
    let mut slice = EndpointSlice::new("default", "nginx-svc-x7k2p", "IPv4");
    slice
        .metadata
        .labels
        .insert("kubernetes.io/service-name".into(), "nginx-svc".into());
    for address in &nginx_endpoints(replicas).subsets[0].addresses {
        slice.endpoints.push(Endpoint {
            addresses: vec![address.ip.clone()],
            conditions: EndpointConditions {
                ready: Some(true),
                ..EndpointConditions::default()
            },
            hostname: address.hostname.clone(),
            ..Endpoint::default()
        });
    }
    slice.ports.push(EndpointSlicePort {
        name: Some("http".into()),
        protocol: Some("TCP".into()),
        port: Some(80),
        app_protocol: None,
    });
    slice
}

/// SPEC §12 (EndpointSlices as input): a target that publishes EndpointSlices and no Endpoints
/// is mirrored through `KubeTarget::with_target_endpoints(auto)` — listed, then followed by the
/// slice watch (a pod gone from the slice removes its endpoint mirror).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn target_endpoint_slices_end_to_end_over_http() {
    let mut cluster = west();
    cluster
        .delete(
            Kind::Endpoints,
            &ObjectKey::new("default", "nginx-svc"),
            &svcmirror_backend::Precondition::default(),
        )
        .expect("no Endpoints in this target");
    cluster
        .create(Object::EndpointSlice(nginx_slice(3)))
        .expect("slice");
    let west = ApiServer::new(cluster);
    let east = ApiServer::new(FakeCluster::default());
    let (west_addr, east_addr) = (spawn(west.clone()).await, spawn(east.clone()).await);
    let link = link();
    let target = KubeTarget::new(client(west_addr), link.export_selector())
        .with_target_endpoints(TargetEndpoints::Auto);
    assert_eq!(target.list().await.expect("list").endpoints.len(), 1);

    let mut driver = Driver::new(link, KubeSource::new(client(east_addr)), target, TokioClock);
    let mut status = driver.subscribe();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(async move {
        driver
            .run(async {
                let _ = stop_rx.await;
            })
            .await;
    });
    wait_until(&mut status, || seed_mirrored(&east.lock(), 3)).await;
    west.write(|c| {
        c.update(Object::EndpointSlice({
            let mut slice = nginx_slice(2);
            slice.metadata.resource_version = None;
            slice
        }))
    })
    .expect("scale down");
    wait_until(&mut status, || seed_mirrored(&east.lock(), 2)).await;
    stop_tx.send(()).expect("driver running");
    running.await.expect("driver task");
}
