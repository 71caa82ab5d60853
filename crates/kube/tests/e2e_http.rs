//! End to end over HTTP: the real kube client and kube-runtime watcher talk to a small in-test API
//! server on 127.0.0.1 backed by `svcmirror_fake::FakeCluster` (list, streaming watch, get,
//! server-side-apply PATCH, delete for Services, Endpoints and Namespaces), and the reconcile driver
//! of `svcmirror-backend` runs the seed walkthrough through `KubeSource`/`KubeTarget`, including
//! a watch that expires (410, relist) and a 409 on apply.
//!
//! No timing assertions: waits are on the driver's status channel, each bounded by a generous
//! hang guard, and loops are bounded in count.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures::StreamExt;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::{Bytes, Frame, Incoming};
use serde_json::{Value, json};
use svcmirror_backend::{
    ApiError, Driver, DriverStatus, Preconditions, SourceCluster, TargetCluster, TokioClock,
};
use svcmirror_core::model::{
    EndpointAddress, EndpointPort, EndpointSubset, Endpoints, Kind, Object, ObjectKey, Service,
    ServicePort,
};
use svcmirror_core::{LabelSelector, Link};
use svcmirror_fake::{FakeCluster, WatchEvent};
use svcmirror_kube::{KubeSource, KubeTarget};
use tokio::sync::watch;

type Body = BoxBody<Bytes, Infallible>;

/// One fake cluster served over HTTP.
struct ApiServer {
    cluster: Mutex<FakeCluster>,
    /// Bumped on every write: wakes watch streams.
    written: watch::Sender<u64>,
    /// The resourceVersion history is compacted up to here: a watch that started before it gets
    /// a 410 Gone (open ones at once) and the client must relist.
    expired: watch::Sender<u64>,
    /// How many of the next PATCH requests answer 409 Conflict without writing.
    conflicts_to_inject: Mutex<u32>,
    /// Requests served, by `METHOD path-kind` (for assertions on what the client did).
    requests: Mutex<BTreeMap<String, u32>>,
}

impl ApiServer {
    fn new(cluster: FakeCluster) -> Arc<Self> {
        Arc::new(Self {
            cluster: Mutex::new(cluster),
            written: watch::Sender::new(0),
            expired: watch::Sender::new(0),
            conflicts_to_inject: Mutex::new(0),
            requests: Mutex::new(BTreeMap::new()),
        })
    }

    fn lock(&self) -> MutexGuard<'_, FakeCluster> {
        self.cluster.lock().expect("cluster lock")
    }

    /// A write by the test itself (e.g. a scale-down in the target), seen by watches.
    fn write<T>(&self, f: impl FnOnce(&mut FakeCluster) -> T) -> T {
        let out = f(&mut self.lock());
        self.written.send_modify(|n| *n += 1);
        out
    }

    /// Compacts the history as of now (after one unrelated write, so every watch open or about
    /// to open started before it): they all end with 410 Gone.
    fn expire_watches(&self) {
        let rv = self.write(|c| {
            c.create(Object::Endpoints(Endpoints::new("default", "unrelated")))
                .expect("unrelated write");
            c.resource_version()
        });
        self.expired.send_replace(rv);
    }

    fn count(&self, what: &str) -> u32 {
        self.requests
            .lock()
            .expect("lock")
            .get(what)
            .copied()
            .unwrap_or(0)
    }
}

/// Serves `server` on an ephemeral loopback port until the test's runtime ends.
async fn spawn(server: Arc<ApiServer>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let server = server.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let server = server.clone();
                    async move { Ok::<_, Infallible>(handle(&server, req).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

fn client(addr: SocketAddr) -> kube::Client {
    let config = kube::Config::new(format!("http://{addr}").parse().expect("url"));
    kube::Client::try_from(config).expect("client")
}

fn json_response(code: StatusCode, body: &Value) -> Response<Body> {
    Response::builder()
        .status(code)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())).boxed())
        .expect("response")
}

fn status_response(code: u16, reason: &str, message: &str, field: Option<&str>) -> Response<Body> {
    let mut body = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                          "code": code, "reason": reason, "message": message});
    if let Some(field) = field {
        body["details"] = json!({"causes": [{"reason": "FieldValueInvalid", "message": message, "field": field}]});
    }
    json_response(StatusCode::from_u16(code).expect("code"), &body)
}

fn error_response(err: &ApiError) -> Response<Body> {
    let message = err.to_string();
    match err {
        ApiError::NotFound { .. } => status_response(404, "NotFound", &message, None),
        ApiError::AlreadyExists { .. } => status_response(409, "AlreadyExists", &message, None),
        ApiError::Conflict { .. } => status_response(409, "Conflict", &message, None),
        ApiError::Invalid { field, .. } => status_response(422, "Invalid", &message, Some(field)),
        ApiError::Forbidden(_) => status_response(403, "Forbidden", &message, None),
        ApiError::Timeout(_) => status_response(504, "Timeout", &message, None),
        _ => status_response(503, "ServiceUnavailable", &message, None),
    }
}

fn query(req: &Request<Incoming>) -> BTreeMap<String, String> {
    req.uri()
        .query()
        .unwrap_or("")
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), percent_decode(v)))
        .collect()
}

fn percent_decode(v: &str) -> String {
    let bytes = v.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() + 1 {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("20");
            out.push(u8::from_str_radix(hex, 16).unwrap_or(b' '));
            i += 3;
        } else {
            out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
            i += 1;
        }
    }
    String::from_utf8(out).unwrap_or_default()
}

/// The routes: `/api/v1/{services,endpoints,namespaces}` (all namespaces) and
/// `/api/v1/namespaces/{ns}/{services,endpoints}/{name}`, `/api/v1/namespaces/{name}`; the same
/// for `endpointslices` under `/apis/discovery.k8s.io/v1/`.
enum Route {
    Collection(Kind),
    Object(Kind, ObjectKey),
}

fn route(path: &str) -> Option<Route> {
    let (discovery, rest) = match path.strip_prefix("/apis/discovery.k8s.io/v1/") {
        Some(rest) => (true, rest),
        None => (false, path.trim_start_matches("/api/v1/")),
    };
    let parts: Vec<&str> = rest.split('/').collect();
    let kind = |s: &str| match (discovery, s) {
        (false, "services") => Some(Kind::Service),
        (false, "endpoints") => Some(Kind::Endpoints),
        (_, "namespaces") => Some(Kind::Namespace),
        (true, "endpointslices") => Some(Kind::EndpointSlice),
        _ => None,
    };
    match parts.as_slice() {
        [k] => kind(k).map(Route::Collection),
        ["namespaces", name] => Some(Route::Object(Kind::Namespace, ObjectKey::new("", name))),
        ["namespaces", ns, k, name] => kind(k).map(|k| Route::Object(k, ObjectKey::new(ns, name))),
        _ => None,
    }
}

fn to_json(object: &Object) -> Value {
    serde_json::to_value(object).expect("serializable")
}

fn of_kind(object: &Object, kind: Kind) -> bool {
    object.kind() == kind
}

fn labels_of(object: &Object) -> &svcmirror_core::StringMap {
    match object {
        Object::Service(s) => &s.metadata.labels,
        Object::Endpoints(e) => &e.metadata.labels,
        Object::Namespace(n) => &n.metadata.labels,
        Object::EndpointSlice(e) => &e.metadata.labels,
    }
}

async fn handle(server: &Arc<ApiServer>, req: Request<Incoming>) -> Response<Body> {
    let q = query(&req);
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let watching = q.get("watch").map(String::as_str) == Some("true");
    let label = format!(
        "{method} {}{}",
        path.rsplit('/').next().unwrap_or(""),
        if watching { " watch" } else { "" }
    );
    *server
        .requests
        .lock()
        .expect("lock")
        .entry(label)
        .or_default() += 1;
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let selector = q
        .get("labelSelector")
        .map(|s| LabelSelector::parse(s).expect("the client sends kubectl syntax"));
    let selects = move |object: &Object| {
        selector
            .as_ref()
            .is_none_or(|s| s.is_empty() || s.matches(labels_of(object)))
    };
    match (method, route(&path)) {
        (Method::GET, Some(Route::Collection(kind))) if watching => {
            let from: u64 = q
                .get("resourceVersion")
                .and_then(|rv| rv.parse().ok())
                .unwrap_or(0);
            watch_response(server.clone(), kind, from, selects)
        }
        (Method::GET, Some(Route::Collection(kind))) => {
            let cluster = server.lock();
            let state = cluster.state();
            let items: Vec<Value> = state
                .objects()
                .iter()
                .filter(|o| of_kind(o, kind) && selects(o))
                .map(to_json)
                .collect();
            json_response(
                StatusCode::OK,
                &json!({"kind": format!("{kind}List"),
                        "apiVersion": if kind == Kind::EndpointSlice { "discovery.k8s.io/v1" } else { "v1" },
                        "metadata": {"resourceVersion": cluster.resource_version().to_string()},
                        "items": items}),
            )
        }
        (Method::GET, Some(Route::Object(kind, key))) => match server.lock().get(kind, &key) {
            Some(object) => json_response(StatusCode::OK, &to_json(&object)),
            None => error_response(&ApiError::NotFound { kind, key }),
        },
        (Method::PATCH, Some(Route::Object(kind, key))) => {
            assert_eq!(q.get("fieldManager").map(String::as_str), Some("svcmirror"));
            {
                let mut pending = server.conflicts_to_inject.lock().expect("lock");
                if *pending > 0 {
                    *pending -= 1;
                    return error_response(&ApiError::Conflict {
                        kind,
                        key,
                        message: "injected: the object has been modified".into(),
                    });
                }
            }
            let body: Value = serde_json::from_slice(&body).expect("JSON apply body");
            let result = server.write(|c| apply(c, kind, &key, body));
            match result {
                Ok(object) => json_response(StatusCode::OK, &to_json(&object)),
                Err(err) => error_response(&err),
            }
        }
        (Method::DELETE, Some(Route::Object(kind, key))) => {
            let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let pre = &body["preconditions"];
            let preconditions = Preconditions {
                uid: pre["uid"].as_str().map(str::to_owned),
                resource_version: pre["resourceVersion"].as_str().map(str::to_owned),
            };
            let before = server.lock().get(kind, &key);
            match server.write(|c| c.delete(kind, &key, &preconditions)) {
                Ok(()) => json_response(
                    StatusCode::OK,
                    &before.as_ref().map(to_json).unwrap_or(Value::Null),
                ),
                Err(err) => error_response(&err),
            }
        }
        // Status Events (SPEC §12): accepted as they come, counted by `count("POST events")`.
        (Method::POST, None) if path.ends_with("/events") => json_response(
            StatusCode::CREATED,
            &serde_json::from_slice::<Value>(&body).unwrap_or(Value::Null),
        ),
        (method, _) => status_response(405, "MethodNotAllowed", &format!("{method} {path}"), None),
    }
}

/// Server-side apply as far as one manager applying whole objects needs it: create when absent,
/// otherwise replace (the fake keeps server-set fields such as the allocated clusterIP), with the
/// body's resourceVersion as a precondition when it carries one.
fn apply(
    cluster: &mut FakeCluster,
    kind: Kind,
    key: &ObjectKey,
    body: Value,
) -> Result<Object, ApiError> {
    let object = match kind {
        Kind::Service => Object::Service(serde_json::from_value(body).expect("a Service")),
        Kind::Endpoints => Object::Endpoints(serde_json::from_value(body).expect("an Endpoints")),
        Kind::Namespace => Object::Namespace(serde_json::from_value(body).expect("a Namespace")),
        Kind::EndpointSlice => {
            Object::EndpointSlice(serde_json::from_value(body).expect("an EndpointSlice"))
        }
    };
    assert_eq!(&object.key(), key, "the body names the object of the path");
    match cluster.get(kind, key) {
        None => cluster.create(object),
        Some(stored) => {
            let mut object = object;
            let stored_rv = match &stored {
                Object::Service(s) => s.metadata.resource_version.clone(),
                Object::Endpoints(e) => e.metadata.resource_version.clone(),
                Object::Namespace(n) => n.metadata.resource_version.clone(),
                Object::EndpointSlice(e) => e.metadata.resource_version.clone(),
            };
            match &mut object {
                Object::Service(s) if s.metadata.resource_version.is_none() => {
                    s.metadata.resource_version = stored_rv;
                }
                Object::Endpoints(e) if e.metadata.resource_version.is_none() => {
                    e.metadata.resource_version = stored_rv;
                }
                Object::Namespace(n) if n.metadata.resource_version.is_none() => {
                    n.metadata.resource_version = stored_rv;
                }
                Object::EndpointSlice(e) if e.metadata.resource_version.is_none() => {
                    e.metadata.resource_version = stored_rv;
                }
                _ => {}
            }
            cluster.update(object)
        }
    }
}

/// The watch event of a logged write as the API server would send it to a watch of `kind` with
/// this selector: a Service that stops matching the selector is reported as deleted.
fn watch_line(event: &WatchEvent, kind: Kind, selects: &dyn Fn(&Object) -> bool) -> Option<Value> {
    let object = event.object();
    if !of_kind(object, kind) {
        return None;
    }
    let kind_of_event = match event {
        WatchEvent::Added(o) if selects(o) => "ADDED",
        WatchEvent::Modified(o) if selects(o) => "MODIFIED",
        WatchEvent::Modified(_) | WatchEvent::Deleted(_) => "DELETED",
        WatchEvent::Added(_) => return None,
    };
    Some(json!({"type": kind_of_event, "object": to_json(object)}))
}

/// A streaming watch: every event after `from` of `kind` that the selector admits, one JSON line
/// each, then it waits for the next write. When the test expires watches, an `ERROR` event with a
/// `410 Gone` Status ends the stream and the client must relist.
fn watch_response(
    server: Arc<ApiServer>,
    kind: Kind,
    from: u64,
    selects: impl Fn(&Object) -> bool + Send + Sync + 'static,
) -> Response<Body> {
    let expired = server.expired.subscribe();
    let written = server.written.subscribe();
    let selects = Arc::new(selects);
    let stream = futures::stream::unfold(
        (server, written, expired, from, false),
        move |(server, mut written, mut expired, cursor, done)| {
            let selects = selects.clone();
            async move {
                if done {
                    return None;
                }
                loop {
                    written.borrow_and_update();
                    // Compacted past where this watch started: 410, the client must relist.
                    if from < *expired.borrow_and_update() {
                        let gone = json!({"type": "ERROR", "object": {"kind": "Status",
                            "apiVersion": "v1", "metadata": {}, "status": "Failure", "code": 410,
                            "reason": "Expired", "message": "too old resource version"}});
                        return Some((
                            gone.to_string() + "\n",
                            (server, written, expired, cursor, true),
                        ));
                    }
                    let events = server.lock().events_since(cursor);
                    if let Some((last, _)) = events.last() {
                        let next = *last;
                        let text: String = events
                            .iter()
                            .filter_map(|(_, e)| watch_line(e, kind, selects.as_ref()))
                            .map(|line| line.to_string() + "\n")
                            .collect();
                        // Empty when only other kinds changed: filtered out below.
                        return Some((text, (server, written, expired, next, false)));
                    }
                    tokio::select! {
                        r = written.changed() => if r.is_err() { return None },
                        r = expired.changed() => if r.is_err() { return None },
                    }
                }
            }
        },
    )
    .filter(|text| futures::future::ready(!text.is_empty()))
    .map(|text| Ok::<_, Infallible>(Frame::data(Bytes::from(text))));
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/json")
        .body(BodyExt::boxed(StreamBody::new(stream)))
        .expect("response")
}

// ---------------------------------------------------------------------------------------------
// The seed walkthrough (SPEC §11 `seed-walkthrough`) through the real client code path.

fn west() -> FakeCluster {
    let mut west = FakeCluster::default();
    let mut svc = Service::new("default", "nginx-svc");
    svc.metadata
        .labels
        .insert("mirror.linkerd.io/exported".into(), "true".into());
    svc.metadata.labels.insert("app".into(), "nginx".into());
    svc.spec.cluster_ip = Some("None".into());
    svc.spec.ports.push(ServicePort {
        name: Some("http".into()),
        port: 80,
        protocol: Some("TCP".into()),
        ..ServicePort::default()
    });
    west.create(Object::Service(svc)).expect("west Service");
    // A Service that is not exported: never listed by the adapter (server-side selector).
    let mut other = Service::new("default", "internal");
    other.spec.ports.push(ServicePort {
        port: 8080,
        ..ServicePort::default()
    });
    west.create(Object::Service(other))
        .expect("west internal Service");
    west.create(Object::Endpoints(nginx_endpoints(3)))
        .expect("west Endpoints");
    west
}

fn nginx_endpoints(replicas: u8) -> Endpoints {
    let mut ep = Endpoints::new("default", "nginx-svc");
    ep.subsets.push(EndpointSubset {
        addresses: (0..replicas)
            .map(|i| EndpointAddress {
                ip: format!("10.42.0.{}", 5 + i),
                hostname: Some(format!("nginx-set-{i}")),
                ..EndpointAddress::default()
            })
            .collect(),
        not_ready_addresses: Vec::new(),
        ports: vec![EndpointPort {
            name: Some("http".into()),
            port: 80,
            protocol: Some("TCP".into()),
            app_protocol: None,
        }],
    });
    ep
}

fn link() -> Link {
    Link::builder("west")
        .gateway_address("172.18.0.4".parse().expect("ip"))
        .enable_headless_services(true)
        .build()
        .expect("link")
}

/// Whether east holds the seed walkthrough's mirrors for `replicas` pods; `Err` says what is
/// missing (for the failure message).
fn seed_mirrored(east: &FakeCluster, replicas: u8) -> Result<(), String> {
    let service = |name: &str| match east.get(Kind::Service, &ObjectKey::new("default", name)) {
        Some(Object::Service(s)) => Ok(s),
        _ => Err(format!("no Service {name}")),
    };
    let endpoints = |name: &str| match east.get(Kind::Endpoints, &ObjectKey::new("default", name)) {
        Some(Object::Endpoints(e)) => Ok(e),
        _ => Err(format!("no Endpoints {name}")),
    };
    let root = service("nginx-svc-west")?;
    if !root.is_headless() {
        return Err("nginx-svc-west is not headless".into());
    }
    let mut expected_root = BTreeMap::new();
    for i in 0..replicas {
        let name = format!("nginx-set-{i}-west");
        let mirror = service(&name)?;
        let ip: IpAddr = mirror
            .spec
            .cluster_ip
            .as_deref()
            .and_then(|ip| ip.parse().ok())
            .ok_or(format!("{name} has no ClusterIP"))?;
        if !east.service_cidr().contains(&ip) {
            return Err(format!("{name}: {ip} outside the source CIDR"));
        }
        let ep = endpoints(&name)?;
        let gateway = ep.subsets.first().map(|s| {
            (
                s.addresses.iter().map(|a| a.ip.clone()).collect::<Vec<_>>(),
                s.ports.iter().map(|p| p.port).collect::<Vec<_>>(),
            )
        });
        if gateway != Some((vec!["172.18.0.4".to_owned()], vec![4143])) {
            return Err(format!(
                "{name} Endpoints do not point at the gateway: {gateway:?}"
            ));
        }
        expected_root.insert(format!("nginx-set-{i}"), ip.to_string());
    }
    if service(&format!("nginx-set-{replicas}-west")).is_ok() {
        return Err(format!("nginx-set-{replicas}-west still exists"));
    }
    let root_ep = endpoints("nginx-svc-west")?;
    let actual: BTreeMap<String, String> = root_ep
        .subsets
        .iter()
        .flat_map(|s| &s.addresses)
        .filter_map(|a| a.hostname.clone().map(|h| (h, a.ip.clone())))
        .collect();
    if actual != expected_root {
        return Err(format!("root Endpoints {actual:?}, want {expected_root:?}"));
    }
    if service("internal-west").is_ok() {
        return Err("a Service that is not exported was mirrored".into());
    }
    Ok(())
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
