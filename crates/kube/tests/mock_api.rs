//! kube-rs's mock-service pattern: a real `kube::Client` over a `tower_test` mock, asserting the
//! exact requests the adapter makes (verbs, paths, query parameters, content types, bodies) and
//! how canned error responses are mapped.

use std::collections::BTreeMap;

use futures::StreamExt;
use http::{Request, Response};
use kube::client::Body;
use serde_json::{Value, json};
use svcmirror_backend::{ApiError, Precondition, SourceCluster, TargetCluster, TargetEvent};
use svcmirror_core::LabelSelector;
use svcmirror_core::model::{
    Endpoint, EndpointConditions, EndpointSlice, EndpointSlicePort, Endpoints, Kind, Object,
    ObjectKey, Service, ServicePort,
};
use svcmirror_kube::lease::{LeaderElector, LeaseConfig};
use svcmirror_kube::{KubeSource, KubeTarget};
use tokio::sync::mpsc;
use tower_test::mock::{Handle, SendResponse};

/// One request as the mock server saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    query: BTreeMap<String, String>,
    content_type: Option<String>,
    body: Value,
}

impl Seen {
    fn is_watch(&self) -> bool {
        self.query.get("watch").map(String::as_str) == Some("true")
    }
}

/// What the responder wants done with a request.
enum Answer {
    Json(u16, Value),
    /// A watch stream: these events, one JSON document per line, then the stream ends.
    Events(Vec<Value>),
    /// Never answer (a watch that stays open until the test ends).
    Hang,
}

type Responder = Box<dyn FnMut(&Seen) -> Answer + Send>;

/// A kube client whose every request is answered by `respond`; the requests are reported on the
/// returned channel in the order they arrived.
fn mock_client(respond: Responder) -> (kube::Client, mpsc::UnboundedReceiver<Seen>) {
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(serve(handle, respond, tx));
    (kube::Client::new(service, "default"), rx)
}

async fn serve(
    mut handle: Handle<Request<Body>, Response<Body>>,
    mut respond: Responder,
    tx: mpsc::UnboundedSender<Seen>,
) {
    let mut open: Vec<SendResponse<Response<Body>>> = Vec::new();
    while let Some((request, send)) = handle.next_request().await {
        let (parts, body) = request.into_parts();
        let bytes = body.collect_bytes().await.expect("request body");
        let seen = Seen {
            method: parts.method.to_string(),
            path: parts.uri.path().to_owned(),
            query: parts
                .uri
                .query()
                .map(|q| {
                    q.split('&')
                        .filter_map(|kv| kv.split_once('='))
                        .map(|(k, v)| (k.to_owned(), decode(v)))
                        .collect()
                })
                .unwrap_or_default(),
            content_type: parts
                .headers
                .get(http::header::CONTENT_TYPE)
                .map(|v| v.to_str().expect("ascii").to_owned()),
            body: if bytes.is_empty() {
                Value::Null
            } else {
                serde_json::from_slice(&bytes).expect("JSON request body")
            },
        };
        let answer = respond(&seen);
        let _ = tx.send(seen);
        match answer {
            Answer::Json(code, body) => send.send_response(
                Response::builder()
                    .status(code)
                    .header("content-type", "application/json")
                    .body(Body::from(serde_json::to_vec(&body).expect("json")))
                    .expect("response"),
            ),
            Answer::Events(events) => {
                let mut text = String::new();
                for event in events {
                    text.push_str(&event.to_string());
                    text.push('\n');
                }
                send.send_response(
                    Response::builder()
                        .status(200)
                        .body(Body::from(text.into_bytes()))
                        .expect("response"),
                );
            }
            Answer::Hang => open.push(send),
        }
    }
}

/// Percent-decoding for the few characters kube encodes in these tests.
fn decode(v: &str) -> String {
    let mut out = Vec::new();
    let bytes = v.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() + 1 => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).expect("hex");
                out.push(u8::from_str_radix(hex, 16).expect("hex"));
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).expect("utf8")
}

fn status(code: u16, reason: &str, message: &str) -> Answer {
    Answer::Json(
        code,
        json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code,
               "reason": reason, "message": message}),
    )
}

fn list(kind: &str, items: Vec<Value>, continue_token: Option<&str>) -> Answer {
    let mut metadata = json!({"resourceVersion": "100"});
    if let Some(token) = continue_token {
        metadata["continue"] = json!(token);
    }
    Answer::Json(
        200,
        json!({"kind": format!("{kind}List"), "apiVersion": "v1", "metadata": metadata, "items": items}),
    )
}

fn service_json(ns: &str, name: &str, labels: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Service",
           "metadata": {"name": name, "namespace": ns, "labels": labels, "resourceVersion": "7", "uid": "u-1"},
           "spec": {"clusterIP": "None", "ports": [{"port": 80, "protocol": "TCP"}]}})
}

fn endpoints_json(ns: &str, name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Endpoints",
           "metadata": {"name": name, "namespace": ns, "resourceVersion": "8"},
           "subsets": [{"addresses": [{"ip": "10.42.0.5", "hostname": "nginx-set-0"}],
                        "ports": [{"port": 80, "protocol": "TCP"}]}]})
}

async fn drain(rx: &mut mpsc::UnboundedReceiver<Seen>) -> Vec<Seen> {
    let mut out = Vec::new();
    while let Ok(seen) = rx.try_recv() {
        out.push(seen);
    }
    out
}

fn mirror_service() -> Service {
    let mut svc = Service::new("default", "nginx-set-0-west");
    svc.metadata
        .labels
        .insert("mirror.linkerd.io/mirrored-service".into(), "true".into());
    svc.metadata
        .labels
        .insert("mirror.linkerd.io/cluster-name".into(), "west".into());
    svc.spec.ports.push(ServicePort {
        port: 80,
        protocol: Some("TCP".into()),
        ..ServicePort::default()
    });
    svc
}

#[tokio::test]
async fn target_list_applies_the_export_selector_server_side_and_follows_pages() {
    let (client, mut rx) = mock_client(Box::new(|seen: &Seen| match seen.path.as_str() {
        "/api/v1/services" if !seen.query.contains_key("continue") => list(
            "Service",
            vec![service_json(
                "default",
                "nginx-svc",
                json!({"mirror.linkerd.io/exported": "true"}),
            )],
            Some("page-2"),
        ),
        "/api/v1/services" => list(
            "Service",
            vec![service_json(
                "apps",
                "db",
                json!({"mirror.linkerd.io/exported": "true"}),
            )],
            None,
        ),
        "/api/v1/endpoints" => list(
            "Endpoints",
            vec![endpoints_json("default", "nginx-svc")],
            None,
        ),
        other => panic!("unexpected request to {other}"),
    }));
    let selector =
        LabelSelector::parse("mirror.linkerd.io/exported=true,tier!=db").expect("selector");
    let target = KubeTarget::new(client, &selector);
    let state = target.list().await.expect("list");
    assert_eq!(state.services.len(), 2);
    assert_eq!(
        state.endpoints[0].subsets[0].addresses[0]
            .hostname
            .as_deref(),
        Some("nginx-set-0")
    );

    let seen = drain(&mut rx).await;
    let services: Vec<&Seen> = seen
        .iter()
        .filter(|s| s.path == "/api/v1/services")
        .collect();
    assert_eq!(services.len(), 2);
    for s in &services {
        assert_eq!(s.method, "GET");
        assert_eq!(
            s.query.get("labelSelector").map(String::as_str),
            Some("mirror.linkerd.io/exported=true,tier notin (db)")
        );
        assert_eq!(s.query.get("limit").map(String::as_str), Some("500"));
    }
    assert_eq!(
        services[1].query.get("continue").map(String::as_str),
        Some("page-2")
    );
    let endpoints: Vec<&Seen> = seen
        .iter()
        .filter(|s| s.path == "/api/v1/endpoints")
        .collect();
    assert_eq!(endpoints.len(), 1);
    assert!(
        !endpoints[0].query.contains_key("labelSelector"),
        "Endpoints carry no export label"
    );
}

#[tokio::test]
async fn target_watch_turns_the_initial_lists_into_restarted_then_streams_changes() {
    let mut service_watches = 0;
    let (client, mut rx) = mock_client(Box::new(move |seen: &Seen| {
        match (seen.path.as_str(), seen.is_watch()) {
            ("/api/v1/services", false) => list(
                "Service",
                vec![service_json(
                    "default",
                    "nginx-svc",
                    json!({"mirror.linkerd.io/exported": "true"}),
                )],
                None,
            ),
            ("/api/v1/endpoints", false) => list(
                "Endpoints",
                vec![endpoints_json("default", "nginx-svc")],
                None,
            ),
            ("/api/v1/services", true) if service_watches == 0 => {
                service_watches += 1;
                Answer::Events(vec![
                    json!({"type": "ADDED", "object": service_json("default", "web", json!({"mirror.linkerd.io/exported": "true"}))}),
                    json!({"type": "DELETED", "object": service_json("default", "nginx-svc", json!({"mirror.linkerd.io/exported": "true"}))}),
                ])
            }
            (_, true) => Answer::Hang,
            (other, _) => panic!("unexpected request to {other}"),
        }
    }));
    let target = KubeTarget::new(client, &LabelSelector::default_export());
    let mut events = target.watch();
    let mut got = Vec::new();
    // Bounded: the three events we expect, nothing more.
    for _ in 0..3 {
        got.push(events.next().await.expect("stream open").expect("no error"));
    }
    let TargetEvent::Restarted(state) = &got[0] else {
        panic!("first event must be the complete state, got {:?}", got[0]);
    };
    assert_eq!(state.services.len(), 1);
    assert_eq!(state.endpoints.len(), 1);
    assert!(matches!(&got[1], TargetEvent::ServiceApplied(s) if s.metadata.name == "web"));
    assert_eq!(
        got[2],
        TargetEvent::ServiceDeleted(ObjectKey::new("default", "nginx-svc"))
    );
    drop(events);
    let seen = drain(&mut rx).await;
    let service_watch = seen
        .iter()
        .find(|s| s.path == "/api/v1/services" && s.is_watch())
        .expect("a Service watch");
    assert_eq!(
        service_watch.query.get("labelSelector").map(String::as_str),
        Some("mirror.linkerd.io/exported=true")
    );
    assert_eq!(
        service_watch
            .query
            .get("resourceVersion")
            .map(String::as_str),
        Some("100")
    );
    let endpoints_watch = seen
        .iter()
        .find(|s| s.path == "/api/v1/endpoints" && s.is_watch())
        .expect("an Endpoints watch");
    assert!(!endpoints_watch.query.contains_key("labelSelector"));
    // Issue 14: both watches are ended by the server (50 s) before the client's read timeout
    // (60 s) would call a quiet but healthy watch dead.
    for watch in [service_watch, endpoints_watch] {
        assert_eq!(
            watch.query.get("timeoutSeconds").map(String::as_str),
            Some("50"),
            "{watch:?}"
        );
    }
}

#[tokio::test]
async fn source_list_reads_every_service_endpoints_endpoint_slice_and_namespace() {
    let (client, mut rx) = mock_client(Box::new(|seen: &Seen| match seen.path.as_str() {
        "/apis/discovery.k8s.io/v1/endpointslices" => list(
            "EndpointSlice",
            vec![
                json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                        "metadata": {"name": "foreign-x7k2p", "namespace": "default",
                                     "labels": {"endpointslice.kubernetes.io/managed-by":
                                                "endpointslice-controller.k8s.io"}},
                        "addressType": "IPv4",
                        "endpoints": [{"addresses": ["10.42.0.5"], "conditions": {"ready": true}}],
                        "ports": [{"name": "", "port": 80, "protocol": "TCP"}]}),
            ],
            None,
        ),
        "/api/v1/services" => list(
            "Service",
            vec![service_json("default", "foreign", json!({}))],
            None,
        ),
        "/api/v1/endpoints" => list(
            "Endpoints",
            vec![endpoints_json("default", "foreign")],
            None,
        ),
        "/api/v1/namespaces" => list(
            "Namespace",
            vec![json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}})],
            None,
        ),
        other => panic!("unexpected request to {other}"),
    }));
    let state = KubeSource::new(client).list().await.expect("list");
    assert_eq!(state.services[0].metadata.name, "foreign");
    assert_eq!(state.endpoints.len(), 1);
    assert_eq!(state.endpoint_slices[0].metadata.name, "foreign-x7k2p");
    assert_eq!(
        state.endpoint_slices[0].endpoints[0].addresses,
        ["10.42.0.5"]
    );
    assert!(state.has_namespace("default") && !state.has_namespace("apps"));
    let seen = drain(&mut rx).await;
    assert_eq!(seen.len(), 4);
    assert!(
        seen.iter()
            .all(|s| s.method == "GET" && !s.query.contains_key("labelSelector"))
    );
}

/// Issue 14 (creates that cannot adopt): a create is a `POST` as field manager `svcmirror`, which
/// the server refuses when the name is taken; the fields it recorded under an `Update` entry are
/// then handed to our `Apply` entry by a merge patch conditional on the returned resourceVersion.
#[tokio::test]
async fn source_create_posts_as_svcmirror_then_hands_the_fields_to_its_apply_entry() {
    let (client, mut rx) = mock_client(Box::new(|seen: &Seen| match seen.method.as_str() {
        "POST" => {
            let mut stored = seen.body.clone();
            stored["metadata"]["resourceVersion"] = json!("101");
            stored["metadata"]["uid"] = json!("u-2");
            stored["metadata"]["managedFields"] = json!([{"manager": "svcmirror",
                "operation": "Update", "apiVersion": "v1", "fieldsType": "FieldsV1",
                "fieldsV1": {"f:spec": {"f:ports": {}}}}]);
            stored["spec"]["clusterIP"] = json!("10.43.0.10");
            Answer::Json(201, stored)
        }
        "PATCH" => {
            let mut stored = service_json("default", "nginx-set-0-west", json!({}));
            stored["metadata"]["resourceVersion"] = json!("102");
            stored["spec"]["clusterIP"] = json!("10.43.0.10");
            Answer::Json(200, stored)
        }
        other => panic!("unexpected {other}"),
    }));
    let mut svc = mirror_service();
    // Server-set fields the caller may carry are never sent on a create.
    svc.metadata.creation_timestamp = Some("2024-01-01T00:00:00Z".into());
    let stored = KubeSource::new(client)
        .create(&Object::Service(svc))
        .await
        .expect("created");
    let Object::Service(stored) = stored else {
        panic!("a Service")
    };
    assert_eq!(stored.spec.cluster_ip.as_deref(), Some("10.43.0.10"));
    assert_eq!(
        stored.metadata.resource_version.as_deref(),
        Some("102"),
        "the object as stored after the hand-over"
    );

    let seen = drain(&mut rx).await;
    assert_eq!(seen.len(), 2);
    let post = &seen[0];
    assert_eq!(post.method, "POST");
    assert_eq!(post.path, "/api/v1/namespaces/default/services");
    assert_eq!(
        post.query.get("fieldManager").map(String::as_str),
        Some("svcmirror")
    );
    assert_eq!(post.body["apiVersion"], "v1");
    assert_eq!(post.body["kind"], "Service");
    assert_eq!(post.body["metadata"]["name"], "nginx-set-0-west");
    assert_eq!(
        post.body["metadata"]["labels"]["mirror.linkerd.io/cluster-name"],
        "west"
    );
    assert_eq!(post.body["spec"]["ports"][0]["port"], 80);
    for server_set in ["resourceVersion", "uid", "creationTimestamp"] {
        assert!(
            post.body["metadata"].get(server_set).is_none(),
            "{server_set} sent"
        );
    }
    assert!(post.body.get("status").is_none());
    let hand_over = &seen[1];
    assert_eq!(hand_over.method, "PATCH");
    assert_eq!(
        hand_over.path,
        "/api/v1/namespaces/default/services/nginx-set-0-west"
    );
    assert_eq!(
        hand_over.content_type.as_deref(),
        Some("application/merge-patch+json")
    );
    assert_eq!(hand_over.body["metadata"]["resourceVersion"], "101");
    assert_eq!(
        hand_over.body["metadata"]["managedFields"],
        json!([{"manager": "svcmirror", "operation": "Apply", "apiVersion": "v1",
                "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:ports": {}}}}])
    );
}

/// Issue 14: a taken name is the server's `409 AlreadyExists` on the `POST` itself — nothing is
/// written to the object that holds it.
#[tokio::test]
async fn source_create_on_a_taken_name_is_already_exists_and_writes_nothing() {
    let (client, mut rx) = mock_client(Box::new(|seen: &Seen| match seen.method.as_str() {
        "POST" => status(
            409,
            "AlreadyExists",
            "services \"nginx-set-0-west\" already exists",
        ),
        other => panic!("unexpected {other}"),
    }));
    let err = KubeSource::new(client)
        .create(&Object::Service(mirror_service()))
        .await
        .expect_err("taken");
    assert_eq!(
        err,
        ApiError::AlreadyExists {
            kind: Kind::Service,
            key: ObjectKey::new("default", "nginx-set-0-west"),
        }
    );
    assert_eq!(drain(&mut rx).await.len(), 1);
}

#[tokio::test]
async fn source_update_applies_with_the_resource_version_and_maps_a_stale_one_to_conflict() {
    let (client, mut rx) = mock_client(Box::new(|_: &Seen| {
        status(
            409,
            "Conflict",
            "the object has been modified; please apply your changes to the latest version",
        )
    }));
    let mut ep = Endpoints::new("default", "nginx-svc-west");
    ep.metadata.resource_version = Some("42".into());
    ep.metadata.uid = Some("u-9".into());
    let err = KubeSource::new(client)
        .update(&Object::Endpoints(ep))
        .await
        .expect_err("stale");
    assert!(
        matches!(
            err,
            ApiError::Conflict {
                kind: Kind::Endpoints,
                ..
            }
        ),
        "{err:?}"
    );
    let seen = drain(&mut rx).await;
    assert_eq!(seen.len(), 1, "an update is one apply, no read");
    assert_eq!(seen[0].method, "PATCH");
    assert_eq!(
        seen[0].path,
        "/api/v1/namespaces/default/endpoints/nginx-svc-west"
    );
    assert_eq!(seen[0].body["metadata"]["resourceVersion"], "42");
    assert_eq!(seen[0].body["metadata"]["uid"], "u-9");
    assert_eq!(
        seen[0].query.get("fieldManager").map(String::as_str),
        Some("svcmirror")
    );
}

#[tokio::test]
async fn source_delete_sends_uid_and_resource_version_preconditions() {
    let (client, mut rx) = mock_client(Box::new(|seen: &Seen| match seen.path.as_str() {
        "/api/v1/namespaces/default/services/gone-west" => status(404, "NotFound", "not found"),
        _ => Answer::Json(200, endpoints_json("default", "nginx-set-0-west")),
    }));
    let source = KubeSource::new(client);
    let pre = Precondition {
        uid: Some("u-3".into()),
        resource_version: Some("55".into()),
    };
    source
        .delete(
            Kind::Endpoints,
            &ObjectKey::new("default", "nginx-set-0-west"),
            &pre,
        )
        .await
        .expect("deleted");
    let err = source
        .delete(
            Kind::Service,
            &ObjectKey::new("default", "gone-west"),
            &Precondition::default(),
        )
        .await
        .expect_err("absent");
    assert!(matches!(
        err,
        ApiError::NotFound {
            kind: Kind::Service,
            ..
        }
    ));
    let seen = drain(&mut rx).await;
    assert_eq!(seen[0].method, "DELETE");
    assert_eq!(
        seen[0].path,
        "/api/v1/namespaces/default/endpoints/nginx-set-0-west"
    );
    assert_eq!(
        seen[0].body["preconditions"],
        json!({"uid": "u-3", "resourceVersion": "55"})
    );
    assert!(seen[1].body.get("preconditions").is_none());
}

fn mirror_slice() -> EndpointSlice {
    let mut slice = EndpointSlice::new("default", "nginx-svc-west-ipv4", "IPv4");
    for (k, v) in [
        ("mirror.linkerd.io/mirrored-service", "true"),
        ("mirror.linkerd.io/cluster-name", "west"),
        ("kubernetes.io/service-name", "nginx-svc-west"),
        ("endpointslice.kubernetes.io/managed-by", "svcmirror.io"),
    ] {
        slice.metadata.labels.insert(k.into(), v.into());
    }
    slice.endpoints.push(Endpoint {
        addresses: vec!["10.43.0.10".into()],
        conditions: EndpointConditions {
            ready: Some(true),
            serving: Some(true),
            terminating: Some(false),
        },
        hostname: Some("nginx-set-0".into()),
        ..Endpoint::default()
    });
    slice.ports.push(EndpointSlicePort {
        name: Some("http".into()),
        protocol: Some("TCP".into()),
        port: Some(80),
        app_protocol: None,
    });
    slice
}

#[tokio::test]
async fn source_endpoint_slices_are_applied_and_deleted_under_discovery_v1() {
    const PATH: &str =
        "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/nginx-svc-west-ipv4";
    let (client, mut rx) = mock_client(Box::new(|seen: &Seen| match seen.method.as_str() {
        "POST" | "PATCH" => {
            let mut stored = seen.body.clone();
            stored["metadata"]["resourceVersion"] = json!("201");
            stored["metadata"]["uid"] = json!("u-s");
            stored["ports"][0]["name"] = json!("http");
            Answer::Json(200, stored)
        }
        "DELETE" => Answer::Json(
            200,
            json!({"kind": "Status", "apiVersion": "v1", "status": "Success"}),
        ),
        other => panic!("unexpected {other}"),
    }));
    let source = KubeSource::new(client);
    let stored = source
        .create(&Object::EndpointSlice(mirror_slice()))
        .await
        .expect("created");
    let Object::EndpointSlice(stored) = stored else {
        panic!("an EndpointSlice")
    };
    assert_eq!(stored.metadata.resource_version.as_deref(), Some("201"));
    assert_eq!(stored.endpoints[0].hostname.as_deref(), Some("nginx-set-0"));
    let mut changed = stored.clone();
    changed.endpoints[0].conditions.ready = Some(false);
    source
        .update(&Object::EndpointSlice(changed))
        .await
        .expect("updated");
    source
        .delete(
            Kind::EndpointSlice,
            &ObjectKey::new("default", "nginx-svc-west-ipv4"),
            &Precondition {
                uid: Some("u-s".into()),
                resource_version: Some("201".into()),
            },
        )
        .await
        .expect("deleted");

    let seen = drain(&mut rx).await;
    let summary: Vec<(&str, &str)> = seen
        .iter()
        .map(|s| (s.method.as_str(), s.path.as_str()))
        .collect();
    assert_eq!(
        summary,
        [
            (
                "POST",
                "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices"
            ),
            ("PATCH", PATH),
            ("DELETE", PATH)
        ]
    );
    let create = &seen[0];
    assert_eq!(
        create.query.get("fieldManager").map(String::as_str),
        Some("svcmirror")
    );
    assert_eq!(create.body["apiVersion"], "discovery.k8s.io/v1");
    assert_eq!(create.body["kind"], "EndpointSlice");
    assert_eq!(create.body["addressType"], "IPv4");
    assert_eq!(
        create.body["endpoints"][0],
        json!({"addresses": ["10.43.0.10"], "hostname": "nginx-set-0",
               "conditions": {"ready": true, "serving": true, "terminating": false}})
    );
    assert_eq!(
        create.body["ports"][0],
        json!({"name": "http", "port": 80, "protocol": "TCP"})
    );
    assert_eq!(
        create.body["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"],
        "svcmirror.io"
    );
    assert!(create.body["metadata"].get("resourceVersion").is_none());
    let update = &seen[1];
    assert_eq!(
        update.content_type.as_deref(),
        Some("application/apply-patch+yaml")
    );
    assert!(!update.query.contains_key("force"));
    assert_eq!(update.body["metadata"]["resourceVersion"], "201");
    assert_eq!(update.body["endpoints"][0]["conditions"]["ready"], false);
    assert_eq!(
        seen[2].body["preconditions"],
        json!({"uid": "u-s", "resourceVersion": "201"})
    );
}

#[tokio::test]
async fn canned_error_responses_map_to_typed_errors() {
    let answers = std::sync::Mutex::new(vec![
        Answer::Json(
            422,
            json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 422,
                   "reason": "Invalid", "message": "Service \"x\" is invalid",
                   "details": {"name": "x", "kind": "Service",
                               "causes": [{"reason": "FieldValueInvalid", "message": "bad", "field": "spec.ports[0].port"}]}}),
        ),
        status(403, "Forbidden", "services is forbidden: User cannot patch"),
        status(503, "ServiceUnavailable", "etcd is down"),
        status(429, "TooManyRequests", "slow down"),
        status(504, "Timeout", "request timed out"),
    ]);
    let (client, _rx) = mock_client(Box::new(move |_: &Seen| {
        answers.lock().expect("lock").remove(0)
    }));
    let source = KubeSource::new(client);
    let mut svc = mirror_service();
    svc.metadata.resource_version = Some("1".into());
    let object = Object::Service(svc);
    let mut errors = Vec::new();
    for _ in 0..5 {
        errors.push(source.update(&object).await.expect_err("canned failure"));
    }
    assert!(matches!(&errors[0], ApiError::Invalid { field, .. } if field == "spec.ports[0].port"));
    assert!(matches!(errors[1], ApiError::Forbidden(_)));
    assert!(matches!(errors[2], ApiError::Unavailable(_)));
    assert!(matches!(errors[3], ApiError::Unavailable(_)));
    assert!(matches!(errors[4], ApiError::Timeout(_)));
    assert!(errors[2].is_retryable() && !errors[1].is_retryable());
}

fn lease_json(holder: &str, rv: &str) -> Value {
    json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
           "metadata": {"name": "svcmirror-west", "namespace": "linkerd-multicluster", "resourceVersion": rv},
           "spec": {"holderIdentity": holder, "leaseDurationSeconds": 15, "leaseTransitions": 2,
                    "renewTime": "2024-01-01T00:00:00.000000Z"}})
}

#[tokio::test]
async fn lease_is_created_when_absent_then_renewed_with_its_resource_version() {
    let mut gets = 0;
    let (client, mut rx) = mock_client(Box::new(move |seen: &Seen| match seen.method.as_str() {
        "GET" => {
            gets += 1;
            if gets == 1 {
                status(404, "NotFound", "leases \"svcmirror-west\" not found")
            } else {
                Answer::Json(200, lease_json("pod-a", "7"))
            }
        }
        "POST" => Answer::Json(201, lease_json("pod-a", "6")),
        "PUT" => Answer::Json(200, lease_json("pod-a", "8")),
        other => panic!("unexpected {other}"),
    }));
    let config = LeaseConfig::new("svcmirror-west", "linkerd-multicluster", "pod-a");
    let mut elector = LeaderElector::new(client, config);
    let now = std::time::Instant::now();
    assert!(elector.try_acquire_or_renew(now).await.expect("created"));
    assert!(elector.try_acquire_or_renew(now).await.expect("renewed"));
    let seen = drain(&mut rx).await;
    let methods: Vec<&str> = seen.iter().map(|s| s.method.as_str()).collect();
    assert_eq!(methods, ["GET", "POST", "GET", "PUT"]);
    assert_eq!(
        seen[1].path,
        "/apis/coordination.k8s.io/v1/namespaces/linkerd-multicluster/leases"
    );
    assert_eq!(seen[1].body["spec"]["holderIdentity"], "pod-a");
    assert_eq!(seen[1].body["spec"]["leaseDurationSeconds"], 15);
    assert_eq!(
        seen[3].path,
        "/apis/coordination.k8s.io/v1/namespaces/linkerd-multicluster/leases/svcmirror-west"
    );
    assert_eq!(seen[3].body["metadata"]["resourceVersion"], "7");
    assert_eq!(
        seen[3].body["spec"]["leaseTransitions"], 2,
        "a renewal is no transition"
    );
}

#[tokio::test]
async fn lease_of_a_live_holder_is_followed_and_a_lost_race_is_not_leadership() {
    let mut gets = 0;
    let (client, mut rx) = mock_client(Box::new(move |seen: &Seen| match seen.method.as_str() {
        "GET" => {
            gets += 1;
            // First pod-b holds it; then it was released, and pod-c wins the race for it.
            Answer::Json(200, lease_json(if gets == 1 { "pod-b" } else { "" }, "7"))
        }
        "PUT" => status(409, "Conflict", "the object has been modified"),
        other => panic!("unexpected {other}"),
    }));
    let mut elector = LeaderElector::new(
        client,
        LeaseConfig::new("svcmirror-west", "linkerd-multicluster", "pod-a"),
    );
    let now = std::time::Instant::now();
    assert!(!elector.try_acquire_or_renew(now).await.expect("followed"));
    assert!(
        !elector
            .try_acquire_or_renew(now)
            .await
            .expect("lost the race")
    );
    let seen = drain(&mut rx).await;
    let methods: Vec<&str> = seen.iter().map(|s| s.method.as_str()).collect();
    assert_eq!(
        methods,
        ["GET", "GET", "PUT"],
        "no write while another replica holds it"
    );
    assert_eq!(seen[2].body["spec"]["holderIdentity"], "pod-a");
    assert_eq!(seen[2].body["spec"]["leaseTransitions"], 3);
}

/// The Event the driver hands over when `default/nginx-svc` becomes `Mirrored=True`.
fn mirrored_event() -> svcmirror_backend::StatusEvent {
    use svcmirror_core::{Condition, ConditionStatus, ConditionType};
    let mut svc = Service::new("default", "nginx-svc");
    svc.metadata.uid = Some("u-1".into());
    svc.metadata.resource_version = Some("7".into());
    let condition = |type_, status, reason: &str| Condition {
        type_,
        status,
        reason: reason.into(),
        message: "headless root mirror nginx-svc-west with 3 endpoint mirror(s) is in place".into(),
    };
    svcmirror_backend::StatusEvent::for_export(
        &svc.metadata,
        &[
            condition(ConditionType::Valid, ConditionStatus::True, "Valid"),
            condition(ConditionType::Mirrored, ConditionStatus::True, "Mirrored"),
            condition(
                ConditionType::Conflict,
                ConditionStatus::False,
                "NoConflicts",
            ),
        ],
    )
    .expect("an event")
}

#[tokio::test]
async fn target_record_event_creates_a_core_v1_event_on_the_exported_service() {
    let (client, mut rx) = mock_client(Box::new(|seen: &Seen| match seen.method.as_str() {
        "POST" => Answer::Json(201, seen.body.clone()),
        other => panic!("unexpected {other}"),
    }));
    let event = mirrored_event();
    KubeTarget::new(client, &LabelSelector::default_export())
        .record_event(&event)
        .await
        .expect("recorded");

    let seen = drain(&mut rx).await;
    assert_eq!(seen.len(), 1, "{seen:#?}");
    let post = &seen[0];
    assert_eq!(post.path, "/api/v1/namespaces/default/events");
    let body = &post.body;
    assert_eq!(
        (body["apiVersion"].as_str(), body["kind"].as_str()),
        (Some("v1"), Some("Event"))
    );
    assert_eq!(body["metadata"]["name"], event.name.as_str());
    assert!(event.name.starts_with("nginx-svc."));
    assert_eq!(body["metadata"]["namespace"], "default");
    assert_eq!(
        body["involvedObject"],
        json!({"apiVersion": "v1", "kind": "Service", "namespace": "default",
               "name": "nginx-svc", "uid": "u-1", "resourceVersion": "7"})
    );
    assert_eq!(body["reason"], "Mirrored");
    assert_eq!(body["type"], "Normal");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("Mirrored=True: headless root mirror")),
        "{body}"
    );
    assert_eq!(body["source"], json!({"component": "svcmirror"}));
    assert_eq!(body["reportingComponent"], "svcmirror");
    assert_eq!(body["count"], 1);
    // The adapter, not the driver, reads the clock.
    for stamp in ["firstTimestamp", "lastTimestamp"] {
        assert!(
            body[stamp].as_str().is_some_and(|t| t.ends_with('Z')),
            "{stamp}: {body}"
        );
    }
    assert_eq!(body["firstTimestamp"], body["lastTimestamp"]);
}

#[tokio::test]
async fn target_record_event_refreshes_an_existing_event_with_a_merge_patch() {
    let (client, mut rx) = mock_client(Box::new(|seen: &Seen| match seen.method.as_str() {
        "POST" => status(
            409,
            "AlreadyExists",
            "events \"nginx-svc.x\" already exists",
        ),
        "PATCH" => Answer::Json(
            200,
            json!({"apiVersion": "v1", "kind": "Event",
            "metadata": {"name": "nginx-svc.x", "namespace": "default"},
            "involvedObject": {"kind": "Service", "name": "nginx-svc"}}),
        ),
        other => panic!("unexpected {other}"),
    }));
    let event = mirrored_event();
    KubeTarget::new(client, &LabelSelector::default_export())
        .record_event(&event)
        .await
        .expect("refreshed");
    let seen = drain(&mut rx).await;
    assert_eq!(seen.len(), 2, "{seen:#?}");
    let patch = &seen[1];
    assert_eq!(
        patch.path,
        format!("/api/v1/namespaces/default/events/{}", event.name)
    );
    assert_eq!(
        patch.content_type.as_deref(),
        Some("application/merge-patch+json")
    );
    let fields: Vec<&String> = patch.body.as_object().expect("object").keys().collect();
    assert_eq!(fields, ["lastTimestamp"], "{}", patch.body);
}

#[tokio::test]
async fn target_record_event_maps_a_refusal_to_forbidden() {
    let (client, mut rx) = mock_client(Box::new(|_: &Seen| {
        status(403, "Forbidden", "events is forbidden: cannot create")
    }));
    let err = KubeTarget::new(client, &LabelSelector::default_export())
        .record_event(&mirrored_event())
        .await
        .expect_err("refused");
    assert!(matches!(err, ApiError::Forbidden(_)), "{err:?}");
    assert_eq!(drain(&mut rx).await.len(), 1, "not retried");
}
