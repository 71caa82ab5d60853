//! Status Events in the target cluster: [`StatusEvent`]s written as `core/v1` Events on the
//! exported Service (SPEC §12, honest status).
//!
//! Why `core/v1` and not `events.k8s.io/v1`: both APIs serve the same objects, but `core/v1` is
//! what `kubectl describe service` and `kubectl get events` present (`involvedObject`, `source`,
//! `count`, `firstTimestamp`/`lastTimestamp`), it needs no `reportingInstance`/`action`/`eventTime`
//! (which `events.k8s.io/v1` requires), and an existing Event may be refreshed with a plain merge
//! patch (`events.k8s.io/v1` only allows its `series` to change). The RBAC rule stays in the core
//! API group, next to the Services and Endpoints the target role already reads.
//!
//! [`record_gateway_transition`] writes the gateway probe's transitions (SPEC §2.1) as Events on
//! the `Link` in the source cluster.
//!
//! The driver names an Event deterministically (the same report about the same Service has the
//! same name) and reads no clock; this adapter sets the timestamps. A repeat — the name exists
//! already — refreshes the existing Event's `lastTimestamp` with a merge patch. Its `count` is left
//! as it is: incrementing it would need a read, and the target role grants only `create` and
//! `patch` on `events`.

use k8s_openapi::api::core::v1 as k8s;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::api::{Api, Patch, PatchParams, PostParams};
use svcmirror_backend::{ApiError, REPORTING_COMPONENT, StatusEvent};
use svcmirror_core::Transition;
use svcmirror_core::model::Kind;

use crate::error::map_error;

/// The `core/v1` Event for `event`, timestamped `now`.
pub(crate) fn event_to_k8s(event: &StatusEvent, now: &Time) -> k8s::Event {
    let namespace = event.service.namespace.clone();
    k8s::Event {
        metadata: ObjectMeta {
            name: Some(event.name.clone()),
            namespace: Some(namespace.clone()),
            ..ObjectMeta::default()
        },
        involved_object: k8s::ObjectReference {
            api_version: Some("v1".to_owned()),
            kind: Some("Service".to_owned()),
            namespace: Some(namespace),
            name: Some(event.service.name.clone()),
            uid: event.uid.clone(),
            resource_version: event.resource_version.clone(),
            ..k8s::ObjectReference::default()
        },
        reason: Some(event.reason.clone()),
        message: Some(event.message.clone()),
        type_: Some(event.type_.as_str().to_owned()),
        source: Some(k8s::EventSource {
            component: Some(REPORTING_COMPONENT.to_owned()),
            host: None,
        }),
        reporting_component: Some(REPORTING_COMPONENT.to_owned()),
        first_timestamp: Some(now.clone()),
        last_timestamp: Some(now.clone()),
        count: Some(1),
        ..k8s::Event::default()
    }
}

/// Creates the Event, or refreshes it when it exists. Errors name the exported Service the Event
/// is about.
pub(crate) async fn record(client: &kube::Client, event: &StatusEvent) -> Result<(), ApiError> {
    let api = Api::<k8s::Event>::namespaced(client.clone(), &event.service.namespace);
    let now = Time(k8s_openapi::jiff::Timestamp::now());
    let error = |e: &kube::Error| map_error(e, Kind::Service, &event.service);
    match api
        .create(&PostParams::default(), &event_to_k8s(event, &now))
        .await
    {
        Ok(_) => Ok(()),
        Err(e) => match error(&e) {
            ApiError::AlreadyExists { .. } => {
                let patch = serde_json::json!({ "lastTimestamp": now });
                api.patch(&event.name, &PatchParams::default(), &Patch::Merge(&patch))
                    .await
                    .map(|_| ())
                    .map_err(|e| error(&e))
            }
            other => Err(other),
        },
    }
}

/// SPEC §2.1: records a gateway transition as a `core/v1` Event on the Link `cluster` in
/// `namespace` (the controller's), best effort: a refused Event is logged, never retried.
pub async fn record_gateway_transition(
    client: kube::Client,
    namespace: String,
    cluster: String,
    transition: Transition,
) {
    let (type_, reason, message) = match transition {
        Transition::Dead => (
            "Warning",
            "GatewayDead",
            format!(
                "the gateway of cluster {cluster} failed its probes: mirror addresses are not ready"
            ),
        ),
        Transition::Alive => (
            "Normal",
            "GatewayAlive",
            format!(
                "the gateway of cluster {cluster} answers its probe again: mirror addresses are ready"
            ),
        ),
    };
    let now = Time(k8s_openapi::jiff::Timestamp::now());
    let event = k8s::Event {
        metadata: ObjectMeta {
            generate_name: Some(format!("{cluster}-gateway-")),
            namespace: Some(namespace.clone()),
            ..ObjectMeta::default()
        },
        involved_object: k8s::ObjectReference {
            api_version: Some("multicluster.linkerd.io/v1alpha3".to_owned()),
            kind: Some("Link".to_owned()),
            namespace: Some(namespace.clone()),
            name: Some(cluster.clone()),
            ..k8s::ObjectReference::default()
        },
        reason: Some(reason.to_owned()),
        message: Some(message),
        type_: Some(type_.to_owned()),
        source: Some(k8s::EventSource {
            component: Some(REPORTING_COMPONENT.to_owned()),
            host: None,
        }),
        reporting_component: Some(REPORTING_COMPONENT.to_owned()),
        first_timestamp: Some(now.clone()),
        last_timestamp: Some(now),
        count: Some(1),
        ..k8s::Event::default()
    };
    let api = Api::<k8s::Event>::namespaced(client, &namespace);
    if let Err(error) = api.create(&PostParams::default(), &event).await {
        tracing::warn!(%error, cluster, "recording the gateway Event failed");
    }
}
