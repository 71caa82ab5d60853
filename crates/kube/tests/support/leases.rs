//! `coordination.k8s.io/v1` Leases for the loopback API server: get, create (409 AlreadyExists)
//! and replace with the resourceVersion as a precondition (409 Conflict when stale), as the
//! leader elector uses them. `hang_writes` makes every create and replace hang unanswered (a
//! renewal on a dropped connection).

use std::collections::BTreeMap;
use std::sync::Arc;

use http::{Method, StatusCode};
use serde_json::{Value, json};

use super::{ApiServer, Body, json_response, status_response};

/// The stored Leases and the failure switch.
#[derive(Debug, Default)]
pub struct Leases {
    by_key: BTreeMap<String, Value>,
    next_rv: u64,
    /// Writes (create, replace) are accepted and never answered.
    pub hang_writes: bool,
}

impl Leases {
    /// The holder of the Lease `namespace/name`, if any.
    pub fn holder(&self, namespace: &str, name: &str) -> Option<String> {
        self.by_key
            .get(&format!("{namespace}/{name}"))
            .and_then(|l| l["spec"]["holderIdentity"].as_str())
            .filter(|h| !h.is_empty())
            .map(str::to_owned)
    }

    /// Every Lease, as `namespace/name` (for a test comparing what a cluster holds).
    pub fn keys(&self) -> Vec<String> {
        self.by_key.keys().cloned().collect()
    }

    /// Deletes the Lease `namespace/name` (a `kubectl delete` by the test itself).
    pub fn delete(&mut self, namespace: &str, name: &str) -> bool {
        self.by_key.remove(&format!("{namespace}/{name}")).is_some()
    }

    fn store(&mut self, key: String, mut lease: Value) -> Value {
        self.next_rv += 1;
        lease["metadata"]["resourceVersion"] = json!(self.next_rv.to_string());
        self.by_key.insert(key, lease.clone());
        lease
    }
}

pub async fn serve(
    server: &Arc<ApiServer>,
    method: &Method,
    path: &str,
    body: &[u8],
) -> hyper::Response<Body> {
    // /apis/coordination.k8s.io/v1/namespaces/{ns}/leases[/{name}]
    let parts: Vec<&str> = path.split('/').collect();
    let (ns, name) = match parts.as_slice() {
        [
            "",
            "apis",
            "coordination.k8s.io",
            "v1",
            "namespaces",
            ns,
            "leases",
        ] => (*ns, None),
        [
            "",
            "apis",
            "coordination.k8s.io",
            "v1",
            "namespaces",
            ns,
            "leases",
            name,
        ] => (*ns, Some(*name)),
        _ => return status_response(404, "NotFound", path, None),
    };
    if *method != Method::GET && server.leases.lock().expect("lock").hang_writes {
        futures::future::pending::<()>().await;
    }
    let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let mut leases = server.leases.lock().expect("lock");
    match (method.clone(), name) {
        (Method::GET, Some(name)) => match leases.by_key.get(&format!("{ns}/{name}")) {
            Some(lease) => json_response(StatusCode::OK, lease),
            None => status_response(404, "NotFound", &format!("leases {name:?} not found"), None),
        },
        (Method::POST, None) => {
            let name = body["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let key = format!("{ns}/{name}");
            if leases.by_key.contains_key(&key) {
                return status_response(
                    409,
                    "AlreadyExists",
                    &format!("leases {name:?} already exists"),
                    None,
                );
            }
            let stored = leases.store(key, body);
            json_response(StatusCode::CREATED, &stored)
        }
        (Method::PUT, Some(name)) => {
            let key = format!("{ns}/{name}");
            let Some(current) = leases.by_key.get(&key) else {
                return status_response(
                    404,
                    "NotFound",
                    &format!("leases {name:?} not found"),
                    None,
                );
            };
            if body["metadata"]["resourceVersion"] != current["metadata"]["resourceVersion"] {
                return status_response(409, "Conflict", "the object has been modified", None);
            }
            let stored = leases.store(key, body);
            json_response(StatusCode::OK, &stored)
        }
        _ => status_response(405, "MethodNotAllowed", path, None),
    }
}
