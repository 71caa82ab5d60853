//! Issue 14, "trust boundaries and limits", against the loopback API server
//! (`tests/support`): creates that cannot adopt, requests on a connection that hangs, two
//! controllers racing for the lease (fencing), a lease renewal that hangs, credentials rotated
//! under a running client (401), and a source confined to a list of namespaces.
//!
//! No timing assertions: time is injected where a rule depends on it (the fence's clock, the
//! election's `now`), and every wait is bounded (a hang guard, not a measurement).

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use svcmirror_backend::{ApiError, Driver, SourceCluster, TokioClock};
use svcmirror_core::Reason;
use svcmirror_core::model::{Kind, Object, ObjectKey, Service, ServicePort};
use svcmirror_fake::FakeCluster;
use svcmirror_kube::client::{Credentials, Timeouts, reloading_client};
use svcmirror_kube::fence::Fence;
use svcmirror_kube::lease::{LeaderElector, LeaseConfig};
use svcmirror_kube::{KubeSource, KubeTarget};

use support::*;

/// A hang guard: a test that waits this long has failed.
const GUARD: Duration = Duration::from_secs(60);

fn foreign_service(name: &str) -> Service {
    let mut svc = Service::new("default", name);
    svc.metadata.labels.insert("team".into(), "other".into());
    svc.spec.ports.push(ServicePort {
        port: 9999,
        ..ServicePort::default()
    });
    svc
}

/// Issue 14 "a create can adopt a stranger's object" (SPEC §7 ownership): a third party creates
/// `nginx-set-1-west` after our list and before our create. The create must fail (`POST` is
/// refused with AlreadyExists), the driver re-reads the object and the core reports
/// `NameConflict`: the object is not adopted, not modified, and its Endpoints are not written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_cannot_adopt_an_object_a_third_party_created_after_our_list() {
    let west = ApiServer::new(west());
    let east = ApiServer::new(FakeCluster::default());
    let contested = ObjectKey::new("default", "nginx-set-1-west");
    *east.race.lock().expect("lock") = Some((
        contested.clone(),
        Box::new(|c: &mut FakeCluster| {
            c.create(Object::Service(foreign_service("nginx-set-1-west")))
                .expect("the third party's create");
        }),
    ));
    let (west_addr, east_addr) = (spawn(west.clone()).await, spawn(east.clone()).await);
    let link = link();
    let target = KubeTarget::new(client(west_addr), link.export_selector());
    let source = KubeSource::new(client_as(east_addr, "svcmirror"));
    let mut driver = Driver::new(link, source, target, TokioClock);
    tokio::time::timeout(GUARD, driver.resync())
        .await
        .expect("hang guard")
        .expect("resync");

    assert!(east.race.lock().expect("lock").is_none(), "the race ran");
    let Some(Object::Service(stored)) = east.lock().get(Kind::Service, &contested) else {
        panic!("the third party's Service is gone");
    };
    let mut expected = foreign_service("nginx-set-1-west");
    expected.metadata.resource_version = stored.metadata.resource_version.clone();
    assert_eq!(
        stored.metadata.labels, expected.metadata.labels,
        "adopted: our labels were written onto a stranger's Service"
    );
    assert_eq!(stored.spec.ports.len(), 1);
    assert_eq!(
        stored.spec.ports[0].port, 9999,
        "a stranger's ports were rewritten"
    );
    assert!(
        east.lock().get(Kind::Endpoints, &contested).is_none(),
        "Endpoints written for a stranger's Service would hijack its traffic"
    );
    let writes = east.writes();
    assert!(
        writes.iter().all(|w| !w.ends_with("/nginx-set-1-west")),
        "a write touched the stranger's object: {writes:?}"
    );
    assert!(
        driver
            .diagnostics()
            .iter()
            .any(|d| d.reason == Reason::NameConflict && d.object == contested),
        "{:#?}",
        driver.diagnostics()
    );
    // The rest of the export was mirrored.
    for name in ["nginx-set-0-west", "nginx-set-2-west", "nginx-svc-west"] {
        assert!(
            east.lock()
                .get(Kind::Service, &ObjectKey::new("default", name))
                .is_some(),
            "{name} missing"
        );
    }
}

/// A create whose name is free hands its fields to our apply entry, conditional on the
/// resourceVersion the `POST` returned (one merge patch), and returns the object as stored.
#[tokio::test]
async fn create_posts_then_hands_its_fields_to_the_apply_entry() {
    let east = ApiServer::new(FakeCluster::default());
    let addr = spawn(east.clone()).await;
    let source = KubeSource::new(client_as(addr, "svcmirror"));
    let created = source
        .create(&Object::Service(foreign_service("web-west")))
        .await
        .expect("created");
    assert_eq!(
        east.writes(),
        [
            " POST /api/v1/namespaces/default/services",
            " PATCH /api/v1/namespaces/default/services/web-west"
        ]
        .map(|w| format!("svcmirror{w}")),
        "a POST, then the hand-over of the creator's managedFields entry (one merge patch)"
    );
    let err = source
        .create(&created)
        .await
        .expect_err("the name is taken now");
    assert_eq!(
        err,
        ApiError::AlreadyExists {
            kind: Kind::Service,
            key: ObjectKey::new("default", "web-west")
        }
    );
}

/// SPEC §8 / issue 13: when the Service range is exhausted the API server answers `500
/// InternalError` "Internal error occurred: failed to allocate a serviceIP: range is full" (the
/// loopback server sends that body); the create is a `RangeFull` (never retried), not the
/// `Unavailable` of any other 500.
#[tokio::test]
async fn a_create_in_a_full_service_range_is_range_full() {
    let east = ApiServer::new(FakeCluster::new("10.96.0.0/30".parse().expect("cidr")));
    let addr = spawn(east.clone()).await;
    let source = KubeSource::new(client_as(addr, "svcmirror"));
    let mut outcomes = Vec::new();
    for i in 0..8 {
        let outcome = source
            .create(&Object::Service(foreign_service(&format!("web-{i}-west"))))
            .await;
        let full = outcome.is_err();
        outcomes.push(outcome);
        if full {
            break;
        }
    }
    let Some(Err(err)) = outcomes.pop() else {
        panic!("a /30 holds fewer than 8 ClusterIPs: {outcomes:?}")
    };
    assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
    assert!(
        matches!(&err, ApiError::RangeFull { kind: Kind::Service, key, message }
            if key.name == format!("web-{}-west", outcomes.len())
                && message.contains("failed to allocate a serviceIP: range is full")),
        "{err:?}"
    );
    assert!(!err.is_retryable());
}

/// Issue 14 "no request timeout": a server that accepts the connection and never answers. The
/// request times out (read timeout) and the error says so, instead of hanging the loop.
#[tokio::test]
async fn a_server_that_accepts_and_never_answers_times_out_and_says_so() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let held = Arc::new(Mutex::new(Vec::new()));
    let keep = held.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            keep.lock().expect("lock").push(stream); // accepted, never read, never answered
        }
    });
    let timeouts = Timeouts::new(
        Duration::from_secs(5),
        Duration::from_millis(300),
        Duration::from_secs(5),
    );
    let mut config = config(addr);
    timeouts.apply(&mut config);
    let source = KubeSource::new(kube::Client::try_from(config).expect("client"));
    let err = tokio::time::timeout(GUARD, source.list())
        .await
        .expect("the request hung: no read timeout")
        .expect_err("nothing answers");
    assert!(matches!(err, ApiError::Timeout(_)), "{err:?}");
    assert!(err.to_string().contains("timed out"), "{err}");
    assert!(
        !held.lock().expect("lock").is_empty(),
        "the server accepted"
    );
}

/// A manual monotonic clock shared by a fence and the test.
fn manual_clock() -> (Arc<Mutex<Instant>>, Fence) {
    let t = Arc::new(Mutex::new(Instant::now()));
    let clock = t.clone();
    (t, Fence::with_clock(move || *clock.lock().expect("clock")))
}

fn set(t: &Mutex<Instant>, at: Instant) {
    *t.lock().expect("clock") = at;
}

/// Issue 14 "writes are not fenced at the renew deadline; an old leader's create can re-create
/// what the new one deleted": two controllers race for one Lease. Only the holder writes; the
/// old leader's writes are refused from its renew deadline on (before the other may take over)
/// and, once it has seen the new holder, for good. Time is injected (each replica's fence clock
/// and the election's `now`), so the rule is checked at exact instants.
#[tokio::test]
async fn racing_controllers_only_the_lease_holder_writes_and_the_loser_never_writes_again() {
    let east = ApiServer::new(FakeCluster::default());
    let addr = spawn(east.clone()).await;
    let config = |id: &str| LeaseConfig::new("svcmirror-west", "svcmirror", id);
    let (clock_a, fence_a) = manual_clock();
    let (clock_b, fence_b) = manual_clock();
    let t0 = *clock_a.lock().expect("clock");
    set(&clock_b, t0);
    let mut a =
        LeaderElector::new(client_as(addr, "a"), config("pod-a")).with_fence(fence_a.clone());
    let mut b =
        LeaderElector::new(client_as(addr, "b"), config("pod-b")).with_fence(fence_b.clone());
    let source_a = KubeSource::new(client_as(addr, "a")).with_fence(fence_a);
    let source_b = KubeSource::new(client_as(addr, "b")).with_fence(fence_b);
    let write = |source: &KubeSource, name: &str| {
        let source = source.clone();
        let svc = foreign_service(name);
        async move { source.create(&Object::Service(svc)).await }
    };
    let secs = |s: u64| t0 + Duration::from_secs(s);

    // t0: a acquires, b follows.
    assert!(a.try_acquire_or_renew(t0).await.expect("a"));
    assert!(!b.try_acquire_or_renew(t0).await.expect("b"));
    set(&clock_a, secs(1));
    set(&clock_b, secs(1));
    write(&source_a, "from-a-1")
        .await
        .expect("the holder writes");
    let refused = write(&source_b, "from-b-1")
        .await
        .expect_err("b does not hold the lease");
    assert!(matches!(refused, ApiError::Fenced(_)), "{refused:?}");

    // a stops renewing (a partition, a starved task). At its renew deadline it stops writing on
    // its own, before anybody may take over.
    set(&clock_a, secs(10));
    let refused = write(&source_a, "from-a-2")
        .await
        .expect_err("past a's renew deadline");
    assert!(matches!(refused, ApiError::Fenced(_)), "{refused:?}");
    assert!(
        !b.try_acquire_or_renew(secs(10)).await.expect("b"),
        "the lease is not expired yet"
    );

    // b takes the lease over once it has seen the record unchanged for the lease duration.
    assert!(
        b.try_acquire_or_renew(secs(15))
            .await
            .expect("b takes over")
    );
    set(&clock_b, secs(16));
    write(&source_b, "from-b-2")
        .await
        .expect("the new holder writes");

    // a comes back: its renewal finds b holding the lease, and it never writes again.
    set(&clock_a, secs(17));
    assert!(!a.try_acquire_or_renew(secs(17)).await.expect("a"));
    for n in 3..6 {
        let refused = write(&source_a, &format!("from-a-{n}"))
            .await
            .expect_err("a lost");
        assert!(matches!(refused, ApiError::Fenced(_)), "{refused:?}");
    }
    assert_eq!(
        east.leases
            .lock()
            .expect("lock")
            .holder("svcmirror", "svcmirror-west")
            .as_deref(),
        Some("pod-b")
    );
    let services: Vec<String> = east
        .writes()
        .into_iter()
        .filter(|w| w.contains("/services"))
        .collect();
    assert_eq!(
        services,
        [
            "a POST /api/v1/namespaces/default/services",
            "a PATCH /api/v1/namespaces/default/services/from-a-1",
            "b POST /api/v1/namespaces/default/services",
            "b PATCH /api/v1/namespaces/default/services/from-b-2"
        ],
        "exactly one write while a held the lease, then only b's"
    );
}

/// Issue 14 "a silently dropped connection can hang the lease renewal": renewals that are never
/// answered are cut off at the renew deadline; `hold` returns (leadership lost) and the fence is
/// closed, so the replica stops writing. Real time with short lease timings; the only wait is
/// bounded by the hang guard.
#[tokio::test]
async fn a_lease_renewal_that_hangs_times_out_and_closes_the_fence() {
    let east = ApiServer::new(FakeCluster::default());
    let addr = spawn(east.clone()).await;
    let fence = Fence::new();
    let mut config = LeaseConfig::new("svcmirror-west", "svcmirror", "pod-a");
    config.lease_duration = Duration::from_secs(3);
    config.renew_deadline = Duration::from_millis(600);
    config.retry_period = Duration::from_millis(100);
    let mut elector = LeaderElector::new(client(addr), config).with_fence(fence.clone());
    tokio::time::timeout(GUARD, elector.acquire())
        .await
        .expect("acquired");
    assert!(fence.check().is_ok(), "the holder may write");
    east.leases.lock().expect("lock").hang_writes = true;
    let holder = tokio::spawn(async move { elector.hold().await });
    tokio::time::timeout(GUARD, holder)
        .await
        .expect("hold returned: the hung renewal was cut off")
        .expect("task");
    assert!(matches!(fence.check(), Err(ApiError::Fenced(_))));
}

fn token_kubeconfig(path: &std::path::Path, addr: std::net::SocketAddr, token: &str) {
    std::fs::write(
        path,
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: west\n\
             clusters:\n- name: west\n  cluster:\n    server: http://{addr}\n\
             contexts:\n- name: west\n  context:\n    cluster: west\n    user: west\n\
             users:\n- name: west\n  user:\n    token: {token}\n"
        ),
    )
    .expect("write kubeconfig");
}

/// Issue 14 "401 is treated as permanent and the kubeconfig is read once": the bound token in the
/// mounted kubeconfig is rotated while the client runs. The first request with the old token gets
/// 401; the client re-reads the kubeconfig (logged), and the next request succeeds with the new
/// token, without a restart.
#[tokio::test]
async fn a_rotated_token_is_picked_up_after_a_401() {
    let west = ApiServer::new(west());
    let addr = spawn(west.clone()).await;
    let dir = std::env::temp_dir().join(format!("svcmirror-rotation-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("kubeconfig");
    token_kubeconfig(&path, addr, "token-1");
    *west.token.lock().expect("lock") = Some("token-1".into());
    let (client, reloads) = reloading_client(
        Credentials::Kubeconfig {
            path: path.clone(),
            context: None,
        },
        Timeouts::default(),
    )
    .await
    .expect("client");
    let target = KubeTarget::new(client, &svcmirror_core::LabelSelector::default_export());
    use svcmirror_backend::TargetCluster;
    target.list().await.expect("token-1 accepted");

    // Rotation: the server now wants token-2, which the mounted file holds.
    *west.token.lock().expect("lock") = Some("token-2".into());
    token_kubeconfig(&path, addr, "token-2");
    let err = target.list().await.expect_err("token-1 is refused");
    assert!(
        err.is_retryable(),
        "a 401 is not permanent: the retry uses the re-read credentials ({err:?})"
    );
    assert!(
        err.to_string().contains("Unauthorized") || err.to_string().contains("401"),
        "{err}"
    );
    assert_eq!(reloads.count(), 1, "the 401 re-read the kubeconfig");
    let listed = target.list().await.expect("token-2 accepted");
    assert_eq!(listed.services.len(), 1);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 14 least privilege: a source confined to namespaces lists Services, Endpoints and
/// EndpointSlices in those namespaces only and reads each Namespace by name — requests a
/// RoleBinding per namespace allows; nothing cluster-wide.
#[tokio::test]
async fn a_confined_source_lists_only_its_namespaces() {
    let mut cluster = FakeCluster::default();
    cluster.create_namespace("apps").expect("ns");
    cluster.create_namespace("other").expect("ns");
    for ns in ["apps", "other"] {
        let mut svc = foreign_service("web");
        svc.metadata.namespace = ns.into();
        cluster.create(Object::Service(svc)).expect("svc");
    }
    let east = ApiServer::new(cluster);
    let addr = spawn(east.clone()).await;
    let source =
        KubeSource::new(client(addr)).with_namespaces(["apps".to_owned(), "missing".to_owned()]);
    let state = source.list().await.expect("list");
    assert_eq!(state.services.len(), 1);
    assert_eq!(state.services[0].metadata.namespace(), "apps");
    assert!(state.has_namespace("apps"));
    assert!(!state.has_namespace("other") && !state.has_namespace("missing"));
    let mut requests = east.log.lock().expect("lock").clone();
    requests.sort();
    assert_eq!(
        requests,
        [
            "GET /api/v1/namespaces/apps",
            "GET /api/v1/namespaces/apps/endpoints",
            "GET /api/v1/namespaces/apps/services",
            "GET /api/v1/namespaces/missing",
            "GET /api/v1/namespaces/missing/endpoints",
            "GET /api/v1/namespaces/missing/services",
            "GET /apis/discovery.k8s.io/v1/namespaces/apps/endpointslices",
            "GET /apis/discovery.k8s.io/v1/namespaces/missing/endpointslices",
        ],
        "only requests a RoleBinding in apps (and missing) allows"
    );
}
