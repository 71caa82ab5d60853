//! Objects the fake cluster does not model — Linkerd `Link` resources and Secrets — kept as JSON
//! by collection path: get, list and watch (with a `metadata.name` field selector), merge-patch of
//! the object and of its `status` subresource, and writes by the test itself.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::StreamExt;
use http::{Method, Response, StatusCode};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::{Bytes, Frame};
use serde_json::{Value, json};

use super::{ApiServer, Body, json_response, status_response};

/// The JSON objects, by collection path (`/api/v1/namespaces/ns/secrets`) and name, with a write
/// log for watches.
#[derive(Default)]
pub struct Objects {
    items: BTreeMap<String, BTreeMap<String, Value>>,
    log: Vec<(u64, String, &'static str, Value)>,
    resource_version: u64,
}

impl Objects {
    fn record(&mut self, collection: &str, kind: &'static str, mut object: Value) -> Value {
        self.resource_version += 1;
        object["metadata"]["resourceVersion"] = json!(self.resource_version.to_string());
        self.log.push((
            self.resource_version,
            collection.to_owned(),
            kind,
            object.clone(),
        ));
        object
    }

    /// Creates or replaces `name` in `collection` (a write by the test).
    pub fn put(&mut self, collection: &str, name: &str, mut object: Value) {
        object["metadata"]["name"] = json!(name);
        let event = if self.get(collection, name).is_some() {
            "MODIFIED"
        } else {
            "ADDED"
        };
        let object = self.record(collection, event, object);
        self.items
            .entry(collection.to_owned())
            .or_default()
            .insert(name.to_owned(), object);
    }

    /// Deletes `name` from `collection` (a write by the test).
    pub fn delete(&mut self, collection: &str, name: &str) {
        if let Some(object) = self.items.get_mut(collection).and_then(|c| c.remove(name)) {
            self.record(collection, "DELETED", object);
        }
    }

    /// Every object, as `collection/name` (for a test comparing what a cluster holds).
    pub fn keys(&self) -> Vec<String> {
        self.items
            .iter()
            .flat_map(|(collection, items)| {
                items.keys().map(move |name| format!("{collection}/{name}"))
            })
            .collect()
    }

    /// The object, if it exists.
    pub fn get(&self, collection: &str, name: &str) -> Option<&Value> {
        self.items.get(collection)?.get(name)
    }

    fn merge_patch(&mut self, collection: &str, name: &str, patch: &Value) -> Option<Value> {
        let mut object = self.get(collection, name)?.clone();
        merge(&mut object, patch);
        self.put(collection, name, object);
        self.get(collection, name).cloned()
    }
}

/// RFC 7386 JSON merge patch.
fn merge(target: &mut Value, patch: &Value) {
    match patch {
        Value::Object(fields) => {
            if !target.is_object() {
                *target = json!({});
            }
            for (k, v) in fields {
                if v.is_null() {
                    target.as_object_mut().map(|t| t.remove(k));
                } else {
                    merge(&mut target[k], v);
                }
            }
        }
        other => *target = other.clone(),
    }
}

/// The resources kept here, by their plural.
const RESOURCES: [&str; 2] = ["links", "secrets"];

/// Serves the request when its path is in a collection of [`RESOURCES`] (the collection, an
/// object of it, or an object's `status`).
pub fn handle(
    server: &Arc<ApiServer>,
    method: &Method,
    path: &str,
    query: &BTreeMap<String, String>,
    body: &[u8],
) -> Option<Response<Body>> {
    // An object the test put at any collection (a gateway Service with a LoadBalancer status,
    // which the fake cluster does not model): served on GET by name, before the fake's own.
    if *method == Method::GET
        && let Some((collection, name)) = path.rsplit_once('/')
        && let Some(object) = server.objects.lock().expect("lock").get(collection, name)
    {
        return Some(json_response(StatusCode::OK, object));
    }
    // TokenRequest (`POST …/serviceaccounts/<name>/token`): a bound token for an account the
    // test put, 404 for any other.
    if *method == Method::POST
        && let Some(account) = path.strip_suffix("/token")
        && let Some((collection, name)) = account.rsplit_once('/')
        && collection.ends_with("/serviceaccounts")
    {
        let exists = server
            .objects
            .lock()
            .expect("lock")
            .get(collection, name)
            .is_some();
        return Some(if exists {
            let mut request: Value = serde_json::from_slice(body).unwrap_or(json!({}));
            request["status"] = json!({"token": format!("bound-token-for-{name}"),
                                       "expirationTimestamp": "2030-01-01T00:00:00Z"});
            json_response(StatusCode::CREATED, &request)
        } else {
            status_response(
                404,
                "NotFound",
                &format!("serviceaccount {name} not found"),
                None,
            )
        });
    }
    let end = RESOURCES.iter().find_map(|r| {
        let at = path.find(&format!("/{r}"))? + r.len() + 1;
        (path.len() == at || path[at..].starts_with('/')).then_some(at)
    })?;
    let collection = &path[..end];
    let rest: Vec<&str> = path[end..].split('/').filter(|s| !s.is_empty()).collect();
    let only = query
        .get("fieldSelector")
        .and_then(|f| f.strip_prefix("metadata.name="))
        .map(str::to_owned);
    let watching = query.get("watch").map(String::as_str) == Some("true");
    Some(match (method, rest.as_slice()) {
        (&Method::GET, []) if watching => {
            let from = query
                .get("resourceVersion")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            watch(server.clone(), collection.to_owned(), only, from)
        }
        (&Method::GET, []) => {
            let objects = server.objects.lock().expect("lock");
            let items: Vec<Value> = objects
                .items
                .get(collection)
                .into_iter()
                .flat_map(|c| c.iter())
                .filter(|(name, _)| only.as_ref().is_none_or(|o| o == *name))
                .map(|(_, v)| v.clone())
                .collect();
            json_response(
                StatusCode::OK,
                &json!({"kind": "List", "apiVersion": "v1",
                        "metadata": {"resourceVersion": objects.resource_version.to_string()},
                        "items": items}),
            )
        }
        (&Method::GET, [name] | [name, "status"]) => {
            match server.objects.lock().expect("lock").get(collection, name) {
                Some(object) => json_response(StatusCode::OK, object),
                None => status_response(404, "NotFound", &format!("{name} not found"), None),
            }
        }
        (&Method::PATCH, [name] | [name, "status"]) => {
            let patch: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
            let patched = server
                .objects
                .lock()
                .expect("lock")
                .merge_patch(collection, name, &patch);
            server.written.send_modify(|n| *n += 1);
            match patched {
                Some(object) => json_response(StatusCode::OK, &object),
                None => status_response(404, "NotFound", &format!("{name} not found"), None),
            }
        }
        _ => status_response(405, "MethodNotAllowed", path, None),
    })
}

fn watch(
    server: Arc<ApiServer>,
    collection: String,
    only: Option<String>,
    from: u64,
) -> Response<Body> {
    let written = server.written.subscribe();
    let stream = futures::stream::unfold(
        (server, written, from),
        move |(server, mut written, cursor)| {
            let collection = collection.clone();
            let only = only.clone();
            async move {
                loop {
                    written.borrow_and_update();
                    let (lines, next) = {
                        let objects = server.objects.lock().expect("lock");
                        let lines: String = objects
                            .log
                            .iter()
                            .filter(|(rv, c, _, o)| {
                                *rv > cursor
                                    && *c == collection
                                    && only.as_ref().is_none_or(|n| o["metadata"]["name"] == **n)
                            })
                            .map(|(_, _, kind, o)| {
                                json!({"type": kind, "object": o}).to_string() + "\n"
                            })
                            .collect();
                        (lines, objects.resource_version)
                    };
                    if !lines.is_empty() {
                        return Some((lines, (server, written, next)));
                    }
                    if written.changed().await.is_err() {
                        return None;
                    }
                }
            }
        },
    )
    .map(|text| Ok::<_, std::convert::Infallible>(Frame::data(Bytes::from(text))));
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/json")
        .body(BodyExt::boxed(StreamBody::new(stream)))
        .expect("response")
}
