//! [`Observed`]: a cluster wrapped so that every request is logged and measured — the operator's
//! view of what the driver does, without the driver knowing (it must not know its backend).
//!
//! - every successful write to the source: one INFO line (action, kind, namespace/name, cluster);
//! - every failed request: one WARN line naming the cluster, its API server, the verb, the object
//!   and the HTTP status in words; a failed list or watch, or an API server that cannot be
//!   reached, is an ERROR (the driver retries with backoff, so the line repeats at that pace);
//! - every request: [`Registry::request`] by cluster, verb and result, with its duration.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::BoxStream;
use svcmirror_backend::{
    ApiError, Precondition, SourceCluster, StatusEvent, TargetCluster, TargetEvent,
};
use svcmirror_core::model::{Kind, Object, ObjectKey};
use svcmirror_core::{SourceState, TargetState};

use crate::metrics::{Cluster, Registry};

/// A cluster whose requests are logged and measured.
#[derive(Clone)]
pub struct Observed<C> {
    inner: C,
    cluster: Cluster,
    /// The API server's URL, named in every error line.
    server: Arc<str>,
    registry: Arc<Registry>,
}

impl<C> Observed<C> {
    /// `inner`, the `cluster` at `server`, recording into `registry`.
    pub fn new(inner: C, cluster: Cluster, server: &str, registry: Arc<Registry>) -> Self {
        Self {
            inner,
            cluster,
            server: server.into(),
            registry,
        }
    }

    /// Records the request and logs its failure; hands the result back.
    fn finish<T>(
        &self,
        verb: &'static str,
        object: &dyn std::fmt::Display,
        started: Instant,
        result: Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let outcome = match &result {
            Ok(_) => "ok",
            Err(e) => result_label(e),
        };
        self.registry
            .request(self.cluster, verb, outcome, Some(started.elapsed()));
        if let Err(e) = &result {
            self.failed(verb, object, e);
        }
        result
    }

    fn failed(&self, verb: &'static str, object: &dyn std::fmt::Display, e: &ApiError) {
        let (cluster, server, status) = (self.cluster, &*self.server, status_words(e));
        let lost = matches!(e, ApiError::Unavailable(_) | ApiError::Timeout(_));
        if matches!(verb, "list" | "watch") || lost {
            tracing::error!(
                %cluster, %server, %verb, %object,
                "{cluster} cluster ({server}): {verb} {object} failed: {status}; retrying with backoff"
            );
        } else {
            tracing::warn!(
                %cluster, %server, %verb, %object,
                "{cluster} cluster ({server}): {verb} {object} failed: {status}"
            );
        }
    }
}

/// The result label of a failed request.
pub fn result_label(e: &ApiError) -> &'static str {
    match e {
        ApiError::NotFound { .. } => "not_found",
        ApiError::Conflict { .. } => "conflict",
        ApiError::AlreadyExists { .. } => "already_exists",
        ApiError::Invalid { .. } => "invalid",
        ApiError::Forbidden(_) => "forbidden",
        ApiError::Timeout(_) => "timeout",
        _ => "unavailable",
    }
}

/// What the server answered, in words with its HTTP status.
pub fn status_words(e: &ApiError) -> String {
    match e {
        ApiError::NotFound { .. } => "HTTP 404 Not Found".to_owned(),
        ApiError::AlreadyExists { .. } => {
            "HTTP 409 AlreadyExists: the name is taken by an object svcmirror does not own"
                .to_owned()
        }
        ApiError::Conflict { message, .. } => format!("HTTP 409 Conflict: {message}"),
        ApiError::Invalid { field, message, .. } if field.is_empty() => {
            format!("refused as invalid: {message}")
        }
        ApiError::Invalid { field, message, .. } => {
            format!("HTTP 422 Invalid: {field}: {message}")
        }
        ApiError::Forbidden(message) => {
            format!("not allowed: {message} (`svcmirror check` lists the permissions it needs)")
        }
        ApiError::Timeout(message) => format!("timed out: {message}"),
        ApiError::Unavailable(message) => format!("unavailable: {message}"),
        other => other.to_string(),
    }
}

/// A collection, for list and watch lines: `services and endpoints in all namespaces`.
struct Everything(&'static str);

impl std::fmt::Display for Everything {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

/// `Service default/web-west` (or `Namespace web` for a cluster-scoped object).
struct Named<'a>(Kind, &'a ObjectKey);

impl std::fmt::Display for Named<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.1.namespace.is_empty() {
            write!(f, "{} {}", self.0, self.1.name)
        } else {
            write!(f, "{} {}", self.0, self.1)
        }
    }
}

#[async_trait]
impl<C: SourceCluster> SourceCluster for Observed<C> {
    async fn list(&self) -> Result<SourceState, ApiError> {
        let started = Instant::now();
        let result = self.inner.list().await;
        self.finish(
            "list",
            &Everything("services, endpoints, endpointslices and namespaces"),
            started,
            result,
        )
    }

    async fn get(&self, kind: Kind, key: &ObjectKey) -> Result<Option<Object>, ApiError> {
        let started = Instant::now();
        let result = self.inner.get(kind, key).await;
        self.finish("get", &Named(kind, key), started, result)
    }

    async fn create(&self, object: &Object) -> Result<Object, ApiError> {
        let (kind, key) = (object.kind(), object.key());
        let started = Instant::now();
        let result = self.inner.create(object).await;
        let result = self.finish("create", &Named(kind, &key), started, result);
        if result.is_ok() {
            self.wrote("create", kind, &key);
        }
        result
    }

    async fn update(&self, object: &Object) -> Result<Object, ApiError> {
        let (kind, key) = (object.kind(), object.key());
        let started = Instant::now();
        let result = self.inner.update(object).await;
        let result = self.finish("update", &Named(kind, &key), started, result);
        if result.is_ok() {
            self.wrote("update", kind, &key);
        }
        result
    }

    async fn delete(
        &self,
        kind: Kind,
        key: &ObjectKey,
        preconditions: &Precondition,
    ) -> Result<(), ApiError> {
        let started = Instant::now();
        let result = self.inner.delete(kind, key, preconditions).await;
        let result = self.finish("delete", &Named(kind, key), started, result);
        if result.is_ok() {
            self.wrote("delete", kind, key);
        }
        result
    }
}

impl<C> Observed<C> {
    /// The INFO line of a write, and its count.
    fn wrote(&self, action: &'static str, kind: Kind, key: &ObjectKey) {
        self.registry.write(action, &kind.to_string());
        let (cluster, object) = (self.cluster, Named(kind, key));
        let done = match action {
            "create" => "created",
            "update" => "updated",
            _ => "deleted",
        };
        tracing::info!(%cluster, %action, kind = %kind, object = %key, "{done} {object} in the {cluster} cluster");
    }
}

#[async_trait]
impl<C: TargetCluster> TargetCluster for Observed<C> {
    async fn list(&self) -> Result<TargetState, ApiError> {
        let started = Instant::now();
        let result = self.inner.list().await;
        self.finish(
            "list",
            &Everything("exported services and endpoints"),
            started,
            result,
        )
    }

    fn watch(&self) -> BoxStream<'static, Result<TargetEvent, ApiError>> {
        let this = Observed::<()> {
            inner: (),
            cluster: self.cluster,
            server: self.server.clone(),
            registry: self.registry.clone(),
        };
        self.inner
            .watch()
            .inspect(move |item| {
                if let Err(e) = item {
                    this.registry
                        .request(this.cluster, "watch", result_label(e), None);
                    this.failed("watch", &Everything("exported services and endpoints"), e);
                }
            })
            .boxed()
    }

    async fn record_event(&self, event: &StatusEvent) -> Result<(), ApiError> {
        let started = Instant::now();
        let result = self.inner.record_event(event).await;
        let object = format!("Event on Service {}", event.service);
        self.finish("create", &object, started, result)
    }
}
