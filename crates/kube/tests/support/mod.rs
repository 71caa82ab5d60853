//! A small Kubernetes API server for end-to-end tests, on 127.0.0.1 and backed by
//! `svcmirror_fake::FakeCluster`: list, streaming watch (with 410 expiry), get, server-side-apply
//! PATCH (with injectable 409s), create (POST), the merge patch of `managedFields` that follows a
//! create, and delete for Services, Endpoints and Namespaces; Leases (`leases`); Links and Secrets
//! as JSON (`objects`); plus the seed walkthrough's target cluster and the check that its mirrors
//! are in place (`walkthrough`). It records every request as Kubernetes' RBAC authorizer sees it
//! (verb, API group, resource, namespace, name: `rbac`) for the RBAC-equals-use tests, can enforce
//! applied RBAC for one ServiceAccount as a real API server does (403 Forbidden, access reviews
//! answered by it), and can answer 403 to everything. Failure hooks
//! for issue 14: a third party's write just before ours (`race`), a bearer token the server
//! insists on (`token`, 401 otherwise), and a log of every write with the writer's
//! `x-test-writer` header. Shared by
//! `svcmirror-kube`'s `e2e_http` test (the driver over the kube adapters) and `svcmirror-cli`'s
//! `run_binary` test (the `svcmirror run` binary), which include it by path.
#![allow(dead_code)] // each includer uses part of it

pub mod objects;

use std::collections::{BTreeMap, BTreeSet};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use futures::StreamExt;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::{Bytes, Frame, Incoming};
use serde_json::{Value, json};
use svcmirror_backend::{ApiError, Precondition};
use svcmirror_core::LabelSelector;
use svcmirror_core::model::{Endpoints, Kind, Object, ObjectKey};
use svcmirror_fake::{FakeCluster, WatchEvent};
use tokio::sync::watch;

pub mod leases;
mod rbac;
mod walkthrough;

#[allow(unused_imports)] // each includer uses part of it
pub use rbac::{Attributes, Grant, Rbac, ServiceAccount, attributes_of, forbidden_message};
#[allow(unused_imports)] // each includer uses part of it
pub use walkthrough::{link, nginx_endpoints, seed_mirrored, west};

pub type Body = BoxBody<Bytes, Infallible>;

/// One fake cluster served over HTTP.
pub struct ApiServer {
    pub cluster: Mutex<FakeCluster>,
    /// Bumped on every write: wakes watch streams.
    pub written: watch::Sender<u64>,
    /// The resourceVersion history is compacted up to here: a watch that started before it gets
    /// a 410 Gone (open ones at once) and the client must relist.
    pub expired: watch::Sender<u64>,
    /// How many of the next PATCH requests answer 409 Conflict without writing.
    pub conflicts_to_inject: Mutex<u32>,
    /// Requests served, by `METHOD path-kind` (for assertions on what the client did).
    pub requests: Mutex<BTreeMap<String, u32>>,
    /// Links and Secrets, which the fake cluster does not model.
    pub objects: Mutex<objects::Objects>,
    /// Every request as the RBAC authorizer sees it (verb, group, resource, namespace, name),
    /// except the access reviews every account may make (`rbac::bootstrap_allows`).
    pub attributes: Mutex<BTreeSet<Attributes>>,
    /// When set, requests are authorized as this ServiceAccount by these RBAC objects, as a real
    /// API server does: a request they do not allow is answered 403 Forbidden, and access
    /// reviews are answered by them (`denied` still applies).
    pub enforce: Mutex<Option<(Rbac, ServiceAccount)>>,
    /// When set, every request is answered 403 Forbidden (credentials without RBAC).
    pub forbidden: Mutex<bool>,
    /// Names of the Events created: a second POST of one answers 409 AlreadyExists.
    pub events: Mutex<BTreeSet<String>>,
    /// (group, resource, verb) a SelfSubjectAccessReview answers `allowed: false` to (everything
    /// else is allowed, unless `enforce` says otherwise). Only the review answers: the requests
    /// themselves are not refused. A subresource is asked about as `resource/subresource`
    /// (`links/status`), as Roles name it.
    pub denied: Mutex<BTreeSet<(String, String, String)>>,
    /// A third party's write, run when the first write (POST or apply) of that object arrives and
    /// before it is served: the race between our list and our create.
    pub race: Mutex<Option<(ObjectKey, RaceWrite)>>,
    /// When set, every request must carry `Authorization: Bearer <token>` (401 otherwise).
    pub token: Mutex<Option<String>>,
    /// Every write served (status < 300), as `writer METHOD kind key`, the writer from the
    /// request's `x-test-writer` header.
    pub writes: Mutex<Vec<String>>,
    /// Every request, as `METHOD path`, in order.
    pub log: Mutex<Vec<String>>,
    /// The Leases (`coordination.k8s.io/v1`), by `namespace/name`.
    pub leases: Mutex<leases::Leases>,
    /// Objects whose fields another field manager holds (Linkerd's service mirror writes with
    /// Update): an apply without `force=true` answers the field-manager conflict
    /// ([`field_manager_conflict_response`]); a forced one takes the fields over (and the key
    /// leaves the set).
    pub held_by_other_manager: Mutex<BTreeSet<ObjectKey>>,
    /// Every apply (PATCH) served with `force=true`, as `kind key`.
    pub forced: Mutex<Vec<String>>,
}

/// A write by a third party, on the cluster itself.
pub type RaceWrite = Box<dyn FnOnce(&mut FakeCluster) + Send>;

impl ApiServer {
    pub fn new(cluster: FakeCluster) -> Arc<Self> {
        Arc::new(Self {
            cluster: Mutex::new(cluster),
            written: watch::Sender::new(0),
            expired: watch::Sender::new(0),
            conflicts_to_inject: Mutex::new(0),
            requests: Mutex::new(BTreeMap::new()),
            objects: Mutex::new(objects::Objects::default()),
            attributes: Mutex::new(BTreeSet::new()),
            enforce: Mutex::new(None),
            forbidden: Mutex::new(false),
            events: Mutex::new(BTreeSet::new()),
            denied: Mutex::new(BTreeSet::new()),
            race: Mutex::new(None),
            token: Mutex::new(None),
            writes: Mutex::new(Vec::new()),
            log: Mutex::new(Vec::new()),
            leases: Mutex::new(leases::Leases::default()),
            held_by_other_manager: Mutex::new(BTreeSet::new()),
            forced: Mutex::new(Vec::new()),
        })
    }

    pub fn lock(&self) -> MutexGuard<'_, FakeCluster> {
        self.cluster.lock().expect("cluster lock")
    }

    /// A write by the test itself (e.g. a scale-down in the target), seen by watches.
    pub fn write<T>(&self, f: impl FnOnce(&mut FakeCluster) -> T) -> T {
        let out = f(&mut self.lock());
        self.written.send_modify(|n| *n += 1);
        out
    }

    /// Compacts the history as of now (after one unrelated write, so every watch open or about
    /// to open started before it): they all end with 410 Gone.
    pub fn expire_watches(&self) {
        let rv = self.write(|c| {
            c.create(Object::Endpoints(Endpoints::new("default", "unrelated")))
                .expect("unrelated write");
            c.resource_version()
        });
        self.expired.send_replace(rv);
    }

    /// A write of a Link or Secret by the test itself, seen by watches.
    pub fn put_object(&self, collection: &str, name: &str, object: Value) {
        self.objects
            .lock()
            .expect("lock")
            .put(collection, name, object);
        self.written.send_modify(|n| *n += 1);
    }

    /// A Link or Secret as stored now (its status as patched), for assertions.
    pub fn object(&self, collection: &str, name: &str) -> Option<Value> {
        self.objects
            .lock()
            .expect("lock")
            .get(collection, name)
            .cloned()
    }

    /// A delete of a Link or Secret by the test itself, seen by watches.
    pub fn delete_object(&self, collection: &str, name: &str) {
        self.objects.lock().expect("lock").delete(collection, name);
        self.written.send_modify(|n| *n += 1);
    }

    /// Runs the third party's write if `key` is the object it races for.
    fn run_race(&self, key: &ObjectKey) {
        let hook = {
            let mut race = self.race.lock().expect("lock");
            match race.take() {
                Some((k, hook)) if &k == key => Some(hook),
                other => {
                    *race = other;
                    None
                }
            }
        };
        if let Some(hook) = hook {
            self.write(hook);
        }
    }

    /// From now on, authorizes every request as `subject` by the RBAC objects among `docs`.
    pub fn enforce_rbac(&self, docs: &[Value], subject: ServiceAccount) {
        *self.enforce.lock().expect("lock") = Some((Rbac::from_documents(docs), subject));
    }

    /// The requests recorded so far, as the RBAC authorizer sees them.
    pub fn recorded(&self) -> BTreeSet<Attributes> {
        self.attributes.lock().expect("lock").clone()
    }

    /// Records `a` and, when RBAC is enforced and does not allow it, the API server's 403.
    fn authorize(&self, a: &Attributes) -> Option<Response<Body>> {
        if rbac::bootstrap_allows(a) {
            return None;
        }
        self.attributes.lock().expect("lock").insert(a.clone());
        let enforce = self.enforce.lock().expect("lock");
        let (rbac, subject) = enforce.as_ref()?;
        (!rbac.allowed(subject, a)).then(|| forbidden_response(subject, a))
    }

    pub fn writes(&self) -> Vec<String> {
        self.writes.lock().expect("lock").clone()
    }

    pub fn count(&self, what: &str) -> u32 {
        self.requests
            .lock()
            .expect("lock")
            .get(what)
            .copied()
            .unwrap_or(0)
    }
}

/// Serves `server` on an ephemeral loopback port until the test's runtime ends.
pub async fn spawn(server: Arc<ApiServer>) -> SocketAddr {
    spawn_tagged(server, None).await
}

/// [`spawn`], recording every write through this port as made by `writer` (a client that cannot
/// set the `x-test-writer` header, e.g. the `svcmirror` binary, is told apart by its port).
pub async fn spawn_tagged(server: Arc<ApiServer>, writer: Option<&'static str>) -> SocketAddr {
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
                let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
                    let server = server.clone();
                    if let Some(writer) = writer {
                        req.headers_mut()
                            .insert("x-test-writer", http::HeaderValue::from_static(writer));
                    }
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

pub fn client(addr: SocketAddr) -> kube::Client {
    kube::Client::try_from(config(addr)).expect("client")
}

pub fn config(addr: SocketAddr) -> kube::Config {
    kube::Config::new(format!("http://{addr}").parse().expect("url"))
}

/// A client whose requests carry `x-test-writer: <writer>` (recorded in `ApiServer::writes`).
pub fn client_as(addr: SocketAddr, writer: &str) -> kube::Client {
    let mut config = config(addr);
    config.headers.push((
        http::HeaderName::from_static("x-test-writer"),
        http::HeaderValue::from_str(writer).expect("header value"),
    ));
    kube::Client::try_from(config).expect("client")
}

pub fn json_response(code: StatusCode, body: &Value) -> Response<Body> {
    Response::builder()
        .status(code)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())).boxed())
        .expect("response")
}

pub fn status_response(
    code: u16,
    reason: &str,
    message: &str,
    field: Option<&str>,
) -> Response<Body> {
    let mut body = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                          "code": code, "reason": reason, "message": message});
    if let Some(field) = field {
        body["details"] = json!({"causes": [{"reason": "FieldValueInvalid", "message": message, "field": field}]});
    }
    json_response(StatusCode::from_u16(code).expect("code"), &body)
}

/// The API server's 409 for an apply that changes a field another manager holds
/// (`errors.NewApplyConflict` from `managedfields/internal/conflict.go`): reason `Conflict`, the
/// real wording, and one cause of reason `FieldManagerConflict` per contested field — unlike a
/// stale resourceVersion's 409 (`error_response` of a `Conflict`), which carries no cause.
pub fn field_manager_conflict_response() -> Response<Body> {
    let field = ".spec.ports[port=80,protocol=\"TCP\"].targetPort";
    let manager = "conflict with \"linkerd-service-mirror\" using v1";
    let body = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                      "message": format!("Apply failed with 1 conflict: {manager}: {field}"),
                      "reason": "Conflict",
                      "details": {"causes": [{"reason": "FieldManagerConflict",
                                              "message": manager, "field": field}]},
                      "code": 409});
    json_response(StatusCode::CONFLICT, &body)
}

/// The API server's 500 when no ClusterIP is left: the allocator's `ErrFull` wrapped by
/// `errors.NewInternalError` (a single cause with only a message).
pub fn range_full_response() -> Response<Body> {
    let cause = "failed to allocate a serviceIP: range is full";
    let body = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                      "message": format!("Internal error occurred: {cause}"),
                      "reason": "InternalError", "details": {"causes": [{"message": cause}]},
                      "code": 500});
    json_response(StatusCode::INTERNAL_SERVER_ERROR, &body)
}

/// The API server's 403 for a request RBAC does not allow (`errors.NewForbidden`).
pub fn forbidden_response(subject: &ServiceAccount, a: &Attributes) -> Response<Body> {
    let plural = a.resource.split('/').next().unwrap_or_default();
    let body = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                      "message": forbidden_message(subject, a), "reason": "Forbidden",
                      "details": {"name": a.name.clone().unwrap_or_default(), "group": a.group,
                                  "kind": plural},
                      "code": 403});
    json_response(StatusCode::FORBIDDEN, &body)
}

pub fn error_response(err: &ApiError) -> Response<Body> {
    let message = err.to_string();
    match err {
        ApiError::NotFound { .. } => status_response(404, "NotFound", &message, None),
        ApiError::AlreadyExists { .. } => status_response(409, "AlreadyExists", &message, None),
        ApiError::Conflict { .. } => status_response(409, "Conflict", &message, None),
        ApiError::Invalid { field, .. } => status_response(422, "Invalid", &message, Some(field)),
        ApiError::Forbidden(_) => status_response(403, "Forbidden", &message, None),
        ApiError::Timeout(_) => status_response(504, "Timeout", &message, None),
        ApiError::TooLarge { .. } => status_response(413, "RequestEntityTooLarge", &message, None),
        ApiError::RangeFull { .. } => range_full_response(),
        _ => status_response(503, "ServiceUnavailable", &message, None),
    }
}

pub fn query(req: &Request<Incoming>) -> BTreeMap<String, String> {
    req.uri()
        .query()
        .unwrap_or("")
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), percent_decode(v)))
        .collect()
}

pub fn percent_decode(v: &str) -> String {
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
pub enum Route {
    Collection(Kind),
    /// A namespaced collection (`POST` creates there).
    NamespacedCollection(Kind, String),
    Object(Kind, ObjectKey),
}

pub fn route(path: &str) -> Option<Route> {
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
        ["namespaces", ns, k] => kind(k).map(|k| Route::NamespacedCollection(k, (*ns).to_owned())),
        ["namespaces", ns, k, name] => kind(k).map(|k| Route::Object(k, ObjectKey::new(ns, name))),
        _ => None,
    }
}

pub fn to_json(object: &Object) -> Value {
    serde_json::to_value(object).expect("serializable")
}

pub fn of_kind(object: &Object, kind: Kind) -> bool {
    object.kind() == kind
}

pub fn labels_of(object: &Object) -> &svcmirror_core::StringMap {
    match object {
        Object::Service(s) => &s.metadata.labels,
        Object::Endpoints(e) => &e.metadata.labels,
        Object::Namespace(n) => &n.metadata.labels,
        Object::EndpointSlice(e) => &e.metadata.labels,
    }
}

pub async fn handle(server: &Arc<ApiServer>, req: Request<Incoming>) -> Response<Body> {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let (writer, authorization, content_type) = (
        header("x-test-writer"),
        header("authorization"),
        header("content-type"),
    );
    let expected = server.token.lock().expect("lock").clone();
    if let Some(token) = expected
        && authorization != format!("Bearer {token}")
    {
        *server
            .requests
            .lock()
            .expect("lock")
            .entry("401".to_owned())
            .or_default() += 1;
        return status_response(401, "Unauthorized", "Unauthorized", None);
    }
    let (method, path) = (req.method().clone(), req.uri().path().to_owned());
    server
        .log
        .lock()
        .expect("lock")
        .push(format!("{method} {path}"));
    let response = serve(server, req, &content_type).await;
    if method != Method::GET && response.status().as_u16() < 300 {
        server
            .writes
            .lock()
            .expect("lock")
            .push(format!("{writer} {method} {path}"));
    }
    response
}

async fn serve(
    server: &Arc<ApiServer>,
    req: Request<Incoming>,
    content_type: &str,
) -> Response<Body> {
    let q = query(&req);
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let watching = q.get("watch").map(String::as_str) == Some("true");
    let attributes = attributes_of(&method, &path, &q);
    if let Some(refused) = attributes.as_ref().and_then(|a| server.authorize(a)) {
        return refused;
    }
    if *server.forbidden.lock().expect("lock") {
        // Credentials without any RBAC: the API server's 403 for whatever is asked.
        let account = ServiceAccount::new("svcmirror", "svcmirror-remote-west");
        return match &attributes {
            Some(a) => forbidden_response(&account, a),
            None => status_response(
                403,
                "Forbidden",
                &format!("{method} {path} is forbidden"),
                None,
            ),
        };
    }
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
    if let Some(response) = objects::handle(server, &method, &path, &q, &body) {
        return response;
    }
    if path.starts_with("/apis/coordination.k8s.io/") {
        return leases::serve(server, &method, &path, &body).await;
    }
    match (method, route(&path)) {
        (Method::GET, Some(Route::Collection(kind))) if watching => {
            let from: u64 = q
                .get("resourceVersion")
                .and_then(|rv| rv.parse().ok())
                .unwrap_or(0);
            watch_response(server.clone(), kind, from, selects)
        }
        (Method::GET, Some(route @ (Route::Collection(_) | Route::NamespacedCollection(..)))) => {
            let (kind, namespace) = match route {
                Route::NamespacedCollection(kind, ns) => (kind, Some(ns)),
                Route::Collection(kind) | Route::Object(kind, _) => (kind, None),
            };
            let cluster = server.lock();
            let state = cluster.state();
            let items: Vec<Value> = state
                .objects()
                .iter()
                .filter(|o| of_kind(o, kind) && selects(o))
                .filter(|o| namespace.as_ref().is_none_or(|ns| o.key().namespace == *ns))
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
        (Method::POST, Some(Route::Collection(kind) | Route::NamespacedCollection(kind, _))) => {
            assert_eq!(q.get("fieldManager").map(String::as_str), Some("svcmirror"));
            let body: Value = serde_json::from_slice(&body).expect("JSON create body");
            let object = object_of(kind, body);
            server.run_race(&object.key());
            match server.write(|c| c.create(object)) {
                Ok(object) => {
                    // As the API server answers a create: the creator's `Update` entry in
                    // `managedFields` (which the client then hands over to its apply entry).
                    let mut created = to_json(&object);
                    created["metadata"]["managedFields"] = json!([{
                        "manager": "svcmirror", "operation": "Update",
                        "apiVersion": created["apiVersion"], "fieldsType": "FieldsV1",
                        "fieldsV1": {"f:metadata": {}}
                    }]);
                    json_response(StatusCode::CREATED, &created)
                }
                Err(err) => error_response(&err),
            }
        }
        // The hand-over of a created object's fields to our apply entry (`managedFields` are not
        // modelled): conditional on the resourceVersion it carries, like the API server's.
        (Method::PATCH, Some(Route::Object(kind, key)))
            if content_type.starts_with("application/merge-patch+json") =>
        {
            let patch: Value = serde_json::from_slice(&body).expect("JSON merge patch");
            match server.lock().get(kind, &key) {
                None => error_response(&ApiError::NotFound { kind, key }),
                Some(stored) => {
                    let stored = to_json(&stored);
                    let wanted = &patch["metadata"]["resourceVersion"];
                    if !wanted.is_null() && *wanted != stored["metadata"]["resourceVersion"] {
                        error_response(&ApiError::Conflict {
                            kind,
                            key,
                            message: "the object has been modified".into(),
                        })
                    } else {
                        json_response(StatusCode::OK, &stored)
                    }
                }
            }
        }
        (Method::PATCH, Some(Route::Object(kind, key))) => {
            assert_eq!(q.get("fieldManager").map(String::as_str), Some("svcmirror"));
            server.run_race(&key);
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
            if q.get("force").map(String::as_str) == Some("true") {
                server
                    .forced
                    .lock()
                    .expect("lock")
                    .push(format!("{kind} {key}"));
                server
                    .held_by_other_manager
                    .lock()
                    .expect("lock")
                    .remove(&key);
            } else if server
                .held_by_other_manager
                .lock()
                .expect("lock")
                .contains(&key)
            {
                return field_manager_conflict_response();
            }
            let body: Value = serde_json::from_slice(&body).expect("JSON apply body");
            // An apply that creates the object is authorized as `create` too (with its name).
            if server.lock().get(kind, &key).is_none()
                && let Some(refused) = attributes
                    .as_ref()
                    .and_then(|a| server.authorize(&a.as_verb("create")))
            {
                return refused;
            }
            let result = server.write(|c| apply(c, kind, &key, body));
            match result {
                Ok(object) => json_response(StatusCode::OK, &to_json(&object)),
                Err(err) => error_response(&err),
            }
        }
        (Method::DELETE, Some(Route::Object(kind, key))) => {
            let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let pre = &body["preconditions"];
            let preconditions = Precondition {
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
        (Method::POST, None) if path.ends_with("/events") => {
            let event = serde_json::from_slice::<Value>(&body).unwrap_or(Value::Null);
            let name = event["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            if server.events.lock().expect("lock").insert(name) {
                json_response(StatusCode::CREATED, &event)
            } else {
                status_response(409, "AlreadyExists", "events already exists", None)
            }
        }
        (Method::PATCH, None) if path.contains("/events/") => json_response(
            StatusCode::OK,
            &serde_json::from_slice::<Value>(&body).unwrap_or(Value::Null),
        ),
        (Method::GET, None) if path == "/version" => json_response(
            StatusCode::OK,
            &json!({"major": "1", "minor": "33", "gitVersion": "v1.33.0-loopback",
                    "gitCommit": "", "gitTreeState": "", "buildDate": "", "goVersion": "",
                    "compiler": "", "platform": "linux/amd64"}),
        ),
        (Method::POST, None)
            if path == "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews" =>
        {
            let mut review: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let spec = review["spec"]["resourceAttributes"].clone();
            let resource = spec["resource"].as_str().unwrap_or_default();
            let resource = match spec["subresource"].as_str() {
                Some(sub) if !sub.is_empty() => format!("{resource}/{sub}"),
                _ => resource.to_owned(),
            };
            let rule = (
                spec["group"].as_str().unwrap_or_default().to_owned(),
                resource.clone(),
                spec["verb"].as_str().unwrap_or_default().to_owned(),
            );
            let asked = Attributes::new(
                &rule.2,
                &rule.0,
                &resource,
                spec["namespace"].as_str(),
                spec["name"].as_str(),
            );
            let allowed = !server.denied.lock().expect("lock").contains(&rule)
                && server
                    .enforce
                    .lock()
                    .expect("lock")
                    .as_ref()
                    .is_none_or(|(rbac, subject)| rbac.allowed(subject, &asked));
            review["status"] = if allowed {
                json!({"allowed": true})
            } else {
                json!({"allowed": false, "reason": "no RBAC policy matched"})
            };
            json_response(StatusCode::CREATED, &review)
        }
        (method, _) => status_response(405, "MethodNotAllowed", &format!("{method} {path}"), None),
    }
}

/// Server-side apply as far as one manager applying whole objects needs it: create when absent,
/// otherwise replace (the fake keeps server-set fields such as the allocated clusterIP), with the
/// body's resourceVersion as a precondition when it carries one.
pub fn apply(
    cluster: &mut FakeCluster,
    kind: Kind,
    key: &ObjectKey,
    body: Value,
) -> Result<Object, ApiError> {
    let object = object_of(kind, body);
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

/// A request body as an object of `kind`.
pub fn object_of(kind: Kind, body: Value) -> Object {
    match kind {
        Kind::Service => Object::Service(serde_json::from_value(body).expect("a Service")),
        Kind::Endpoints => Object::Endpoints(serde_json::from_value(body).expect("an Endpoints")),
        Kind::Namespace => Object::Namespace(serde_json::from_value(body).expect("a Namespace")),
        Kind::EndpointSlice => {
            Object::EndpointSlice(serde_json::from_value(body).expect("an EndpointSlice"))
        }
    }
}

/// The watch event of a logged write as the API server would send it to a watch of `kind` with
/// this selector: a Service that stops matching the selector is reported as deleted.
pub fn watch_line(
    event: &WatchEvent,
    kind: Kind,
    selects: &dyn Fn(&Object) -> bool,
) -> Option<Value> {
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
pub fn watch_response(
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
