//! Issue 12 deliverable 5, migration from Linkerd's service mirror, against the loopback API
//! server (`tests/support`): Linkerd writes its mirrors with Update, so its field manager holds
//! their fields and svcmirror's first server-side apply of a changed value is a 409 "Apply failed
//! with 1 conflict". On an object carrying the link's ownership labels the apply is retried with
//! `force` (same resourceVersion): the mirror is taken over in place — no DELETE, no POST, no
//! traffic gap. A stranger's object is never forced.

mod support;

use std::time::Duration;

use svcmirror_backend::{ApiError, Driver, SourceCluster, TokioClock};
use svcmirror_core::Link;
use svcmirror_core::model::{Kind, Object, ObjectKey, Service, ServicePort};
use svcmirror_fake::FakeCluster;
use svcmirror_kube::{KubeSource, KubeTarget};

use support::*;

/// A hang guard: a test that waits this long has failed.
const GUARD: Duration = Duration::from_secs(60);

fn mirror_keys(east: &FakeCluster) -> Vec<(Kind, ObjectKey)> {
    let state = east.state();
    state
        .services
        .iter()
        .filter(|s| {
            s.metadata
                .labels
                .contains_key("mirror.linkerd.io/cluster-name")
        })
        .map(|s| (Kind::Service, s.metadata.key()))
        .chain(
            state
                .endpoints
                .iter()
                .filter(|e| {
                    e.metadata
                        .labels
                        .contains_key("mirror.linkerd.io/cluster-name")
                })
                .map(|e| (Kind::Endpoints, e.metadata.key())),
        )
        .collect()
}

fn uid(object: Option<Object>) -> Option<String> {
    match object? {
        Object::Service(s) => s.metadata.uid,
        Object::Endpoints(e) => e.metadata.uid,
        Object::Namespace(n) => n.metadata.uid,
        Object::EndpointSlice(e) => e.metadata.uid,
    }
}

/// The seed walkthrough's mirrors, held by Linkerd's field manager (as after Linkerd's service
/// mirror wrote them), are updated in place when the link changes (a new gateway address):
/// every write is a PATCH, the field-manager conflicts are forced, nothing is deleted or created.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mirrors_held_by_linkerds_field_manager_are_taken_over_in_place() {
    let west = ApiServer::new(west());
    let east = ApiServer::new(FakeCluster::default());
    let (west_addr, east_addr) = (spawn(west.clone()).await, spawn(east.clone()).await);
    let mut driver = Driver::new(
        link(),
        KubeSource::new(client_as(east_addr, "svcmirror")),
        KubeTarget::new(client(west_addr), link().export_selector()),
        TokioClock,
    );
    tokio::time::timeout(GUARD, driver.resync())
        .await
        .expect("hang guard")
        .expect("resync");
    seed_mirrored(&east.lock(), 3).expect("converged");

    // Now Linkerd's service mirror holds every mirror's fields (Update entries).
    let mirrors = mirror_keys(&east.lock());
    assert!(mirrors.len() >= 8, "{mirrors:?}");
    *east.held_by_other_manager.lock().expect("lock") =
        mirrors.iter().map(|(_, key)| key.clone()).collect();
    let uids: Vec<_> = mirrors
        .iter()
        .map(|(kind, key)| uid(east.lock().get(*kind, key)))
        .collect();
    east.writes.lock().expect("lock").clear();

    let moved = Link::builder("west")
        .gateway_address("172.18.0.5".parse().expect("ip"))
        .enable_headless_services(true)
        .build()
        .expect("link");
    let mut driver = Driver::new(
        moved.clone(),
        KubeSource::new(client_as(east_addr, "svcmirror")),
        KubeTarget::new(client(west_addr), moved.export_selector()),
        TokioClock,
    );
    tokio::time::timeout(GUARD, driver.resync())
        .await
        .expect("hang guard")
        .expect("resync");

    let writes = east.writes();
    assert!(!writes.is_empty(), "the gateway move is written");
    assert!(
        writes.iter().all(|w| w.contains(" PATCH ")),
        "taken over in place (no DELETE, no POST): {writes:?}"
    );
    let forced = east.forced.lock().expect("lock").clone();
    assert!(
        forced.iter().any(|f| f.contains("nginx-set-0-west")),
        "the conflicting fields were forced: {forced:?}"
    );
    for (i, (kind, key)) in mirrors.iter().enumerate() {
        let now = uid(east.lock().get(*kind, key));
        assert_eq!(now, uids[i], "{kind} {key} was re-created");
    }
    let Some(Object::Endpoints(ep)) = east.lock().get(
        Kind::Endpoints,
        &ObjectKey::new("default", "nginx-set-0-west"),
    ) else {
        panic!("the endpoint mirror is gone");
    };
    assert_eq!(ep.subsets[0].addresses[0].ip, "172.18.0.5");
}

/// "Never adopt a stranger": a field-manager conflict on an object without the link's ownership
/// labels stays a Conflict; nothing is forced.
#[tokio::test]
async fn a_strangers_field_manager_conflict_is_never_forced() {
    let east = ApiServer::new(FakeCluster::default());
    let addr = spawn(east.clone()).await;
    let mut svc = Service::new("default", "web-west");
    svc.spec.ports.push(ServicePort {
        port: 9999,
        ..ServicePort::default()
    });
    let stored = east
        .write(|c| c.create(Object::Service(svc)))
        .expect("created");
    east.held_by_other_manager
        .lock()
        .expect("lock")
        .insert(ObjectKey::new("default", "web-west"));
    let source = KubeSource::new(client_as(addr, "svcmirror"));
    let Object::Service(mut changed) = stored else {
        panic!("a Service")
    };
    changed.spec.ports[0].port = 80;
    let err = source
        .update(&Object::Service(changed))
        .await
        .expect_err("a stranger's fields are not taken");
    assert!(matches!(err, ApiError::Conflict { .. }), "{err:?}");
    assert!(east.forced.lock().expect("lock").is_empty());
}

/// Issue 13, the other kind of 409: a stale resourceVersion (a third party wrote the mirror after
/// our read) answers 409 `Conflict` too, but without a `FieldManagerConflict` cause — even on a
/// mirror carrying the link's ownership labels it is a Conflict (re-read), never forced.
#[tokio::test]
async fn a_stale_resource_version_on_an_owned_mirror_is_a_conflict_not_forced() {
    let east = ApiServer::new(FakeCluster::default());
    let addr = spawn(east.clone()).await;
    let mut svc = Service::new("default", "web-west");
    svc.metadata
        .labels
        .insert("mirror.linkerd.io/cluster-name".into(), "west".into());
    svc.spec.ports.push(ServicePort {
        port: 9999,
        ..ServicePort::default()
    });
    let Object::Service(read) = east
        .write(|c| c.create(Object::Service(svc)))
        .expect("created")
    else {
        panic!("a Service")
    };
    // A third party writes the mirror after our read: our resourceVersion is stale.
    let mut theirs = read.clone();
    theirs.spec.ports[0].port = 8080;
    east.write(|c| c.update(Object::Service(theirs)))
        .expect("the third party's write");

    let source = KubeSource::new(client_as(addr, "svcmirror"));
    let mut ours = read;
    ours.spec.ports[0].port = 80;
    let err = source
        .update(&Object::Service(ours))
        .await
        .expect_err("a stale resourceVersion is refused");
    assert!(matches!(err, ApiError::Conflict { .. }), "{err:?}");
    assert!(east.forced.lock().expect("lock").is_empty());
    let Some(Object::Service(stored)) = east
        .lock()
        .get(Kind::Service, &ObjectKey::new("default", "web-west"))
    else {
        panic!("the mirror is gone")
    };
    assert_eq!(
        stored.spec.ports[0].port, 8080,
        "the third party's write stands"
    );
}
