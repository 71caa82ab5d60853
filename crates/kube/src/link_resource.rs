//! Linkerd's `Link` custom resource (`multicluster.linkerd.io`) as the controller's configuration
//! and status (issue "Drop-in for Linkerd's service mirror"; SPEC §2, §2.2).
//!
//! Transport only: [`LinkResource`] reads and watches one `Link` and the credentials Secret it
//! names, and patches the Link's `status` subresource. What the spec means is the core's
//! (`LinkSpec`); what the status says is computed by the pure [`link_status`] from the driver's
//! per-export conditions, in Linkerd v1alpha3's shape (`mirrorServices`, `federatedServices`:
//! linkerd2 `controller/gen/apis/link/v1alpha3/types.go`, written by
//! `multicluster/service-mirror/cluster_watcher.go` `updateServiceStatus`).

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::{Stream, StreamExt};
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};
use kube::runtime::watcher;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use svcmirror_backend::ExportStatus;
use svcmirror_core::model::ObjectKey;
use svcmirror_core::{ConditionStatus, MirrorMode};

/// The API group of Linkerd's `Link`.
pub const LINK_GROUP: &str = "multicluster.linkerd.io";
/// The version read and written (Linkerd ≥ 2.17 serves v1alpha3; its CRD converts older ones).
pub const LINK_VERSION: &str = "v1alpha3";
/// Linkerd's default namespace for Links (`linkerd multicluster link` writes them there).
pub const DEFAULT_LINK_NAMESPACE: &str = "linkerd-multicluster";
/// The key of the credentials Secret that holds the target's kubeconfig.
pub const KUBECONFIG_KEY: &str = "kubeconfig";
/// `controllerName` of the statuses svcmirror writes (Linkerd writes
/// `linkerd.io/service-mirror`).
pub const CONTROLLER_NAME: &str = "svcmirror.io/service-mirror";

/// A Link's `status` in Linkerd v1alpha3's shape.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LinkStatus {
    /// One entry per exported Service mirrored in gateway or remote-discovery mode.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mirror_services: Vec<ServiceStatus>,
    /// One entry per exported Service that is a federated member.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub federated_services: Vec<ServiceStatus>,
}

/// The status of one exported Service.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceStatus {
    /// Its conditions (`Valid`, `Mirrored`, `Conflict`).
    #[serde(default)]
    pub conditions: Vec<LinkCondition>,
    /// Who wrote it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub controller_name: String,
    /// The exported Service in the target.
    #[serde(default)]
    pub remote_ref: ObjectRef,
}

/// One condition, as Linkerd's `LinkCondition`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LinkCondition {
    /// `Valid`, `Mirrored` or `Conflict`.
    #[serde(rename = "type")]
    pub type_: String,
    /// `True` or `False`.
    pub status: String,
    /// When `status` last changed (RFC 3339); kept while the condition stays the same.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<String>,
    /// A CamelCase reason code.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// For a person.
    #[serde(default)]
    pub message: String,
    /// The mirror in the source, once there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_ref: Option<ObjectRef>,
}

/// A reference to a Service, as Linkerd's `ObjectRef`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRef {
    /// The API group (`""` for core/v1, omitted).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub group: String,
    /// `Service`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// The name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// The namespace.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
}

impl ObjectRef {
    fn service(namespace: &str, name: &str) -> Self {
        Self {
            group: String::new(),
            kind: "Service".into(),
            name: name.into(),
            namespace: namespace.into(),
        }
    }
}

/// The Link status that reports `exports` (the driver's per-export status), sorted by
/// namespace/name. A condition whose type, status, reason and message are unchanged from
/// `previous` keeps its `lastTransitionTime`; a new or changed one gets `now`. The result equals
/// `previous` exactly when nothing changed, so the caller patches only then.
#[must_use]
pub fn link_status(
    exports: &BTreeMap<ObjectKey, Arc<ExportStatus>>,
    previous: &LinkStatus,
    now: &str,
) -> LinkStatus {
    let mut out = LinkStatus::default();
    for (key, export) in exports {
        let federated = export.outcome.mode == MirrorMode::Federated;
        let before = if federated {
            &previous.federated_services
        } else {
            &previous.mirror_services
        };
        let before = before
            .iter()
            .find(|s| s.remote_ref.namespace == key.namespace && s.remote_ref.name == key.name);
        let local_ref = export
            .outcome
            .mirror
            .as_deref()
            .map(|mirror| ObjectRef::service(&key.namespace, mirror));
        let conditions = export
            .conditions
            .iter()
            .map(|c| {
                let mut condition = LinkCondition {
                    type_: format!("{:?}", c.type_),
                    status: match c.status {
                        ConditionStatus::True => "True",
                        ConditionStatus::False => "False",
                    }
                    .to_owned(),
                    last_transition_time: None,
                    reason: c.reason.clone(),
                    message: c.message.clone(),
                    local_ref: local_ref.clone(),
                };
                let kept = before
                    .and_then(|b| b.conditions.iter().find(|p| p.type_ == condition.type_))
                    .filter(|p| {
                        p.status == condition.status
                            && p.reason == condition.reason
                            && p.message == condition.message
                    })
                    .and_then(|p| p.last_transition_time.clone());
                condition.last_transition_time = Some(kept.unwrap_or_else(|| now.to_owned()));
                condition
            })
            .collect();
        let status = ServiceStatus {
            conditions,
            controller_name: CONTROLLER_NAME.into(),
            remote_ref: ObjectRef::service(&key.namespace, &key.name),
        };
        if federated {
            out.federated_services.push(status);
        } else {
            out.mirror_services.push(status);
        }
    }
    out
}

/// One change of the watched Link.
#[derive(Debug, Clone, PartialEq)]
pub enum LinkEvent {
    /// The Link exists (created, edited, or seen at start): its whole manifest.
    Applied(Value),
    /// The Link was deleted: mirroring stops and the mirrors stay (SPEC §2.2).
    Deleted,
}

/// Reads, watches and reports on one `Link` resource and its credentials Secret.
#[derive(Clone)]
pub struct LinkResource {
    links: Api<DynamicObject>,
    secrets: Api<k8s_openapi::api::core::v1::Secret>,
    name: String,
}

fn link_api_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk(LINK_GROUP, LINK_VERSION, "Link"),
        "links",
    )
}

impl LinkResource {
    /// The Link `name` in `namespace` of the source cluster.
    #[must_use]
    pub fn new(client: kube::Client, namespace: &str, name: &str) -> Self {
        Self {
            links: Api::namespaced_with(client.clone(), namespace, &link_api_resource()),
            secrets: Api::namespaced(client, namespace),
            name: name.to_owned(),
        }
    }

    /// The Link's manifest, `None` when it does not exist.
    ///
    /// # Errors
    /// The API request failed.
    pub async fn get(&self) -> Result<Option<Value>, kube::Error> {
        let link = self.links.get_opt(&self.name).await?;
        Ok(link.map(|l| serde_json::to_value(l).unwrap_or(Value::Null)))
    }

    /// Every change of the Link, starting with its current state (a Link that does not exist yet
    /// yields nothing until it is created). Watch errors are yielded, and the watch goes on with
    /// kube-runtime's backoff.
    pub fn watch(&self) -> impl Stream<Item = Result<LinkEvent, watcher::Error>> + Send + 'static {
        use kube::runtime::WatchStreamExt;
        let config = watcher::Config::default().fields(&format!("metadata.name={}", self.name));
        watcher(self.links.clone(), config)
            .default_backoff()
            .filter_map(|event| async move {
                match event {
                    Ok(watcher::Event::Apply(link) | watcher::Event::InitApply(link)) => Some(Ok(
                        LinkEvent::Applied(serde_json::to_value(link).unwrap_or(Value::Null)),
                    )),
                    Ok(watcher::Event::Delete(_)) => Some(Ok(LinkEvent::Deleted)),
                    Ok(watcher::Event::Init | watcher::Event::InitDone) => None,
                    Err(e) => Some(Err(e)),
                }
            })
    }

    /// The target's kubeconfig from the Secret `secret` (key `kubeconfig`).
    ///
    /// # Errors
    /// The request failed, or the Secret or its key does not exist.
    pub async fn credentials(&self, secret: &str) -> Result<Vec<u8>, CredentialsError> {
        let found = self
            .secrets
            .get_opt(secret)
            .await
            .map_err(|e| CredentialsError::Api(secret.to_owned(), e))?
            .ok_or_else(|| CredentialsError::NoSecret(secret.to_owned()))?;
        found
            .data
            .and_then(|mut data| data.remove(KUBECONFIG_KEY))
            .map(|bytes| bytes.0)
            .ok_or_else(|| CredentialsError::NoKey(secret.to_owned()))
    }

    /// Changes of the Secret `secret` (its new kubeconfig bytes), starting with the current one.
    pub fn watch_credentials(
        &self,
        secret: &str,
    ) -> impl Stream<Item = Result<Option<Vec<u8>>, watcher::Error>> + Send + 'static {
        use kube::runtime::WatchStreamExt;
        let config = watcher::Config::default().fields(&format!("metadata.name={secret}"));
        watcher(self.secrets.clone(), config)
            .default_backoff()
            .filter_map(|event| async move {
                match event {
                    Ok(watcher::Event::Apply(s) | watcher::Event::InitApply(s)) => Some(Ok(s
                        .data
                        .and_then(|mut d| d.remove(KUBECONFIG_KEY))
                        .map(|b| b.0))),
                    Ok(watcher::Event::Delete(_)) => Some(Ok(None)),
                    Ok(watcher::Event::Init | watcher::Event::InitDone) => None,
                    Err(e) => Some(Err(e)),
                }
            })
    }

    /// The Link's current `status` (empty when it has none or cannot be read as v1alpha3's).
    ///
    /// # Errors
    /// The API request failed.
    pub async fn status(&self) -> Result<LinkStatus, kube::Error> {
        let link = self.links.get_status(&self.name).await?;
        Ok(link
            .data
            .get("status")
            .cloned()
            .and_then(|s| serde_json::from_value(s).ok())
            .unwrap_or_default())
    }

    /// Replaces the Link's status (a merge patch of the `status` subresource, as Linkerd's
    /// `patchLinkStatus`).
    ///
    /// # Errors
    /// The API request failed.
    pub async fn patch_status(&self, status: &LinkStatus) -> Result<(), kube::Error> {
        // The lists are replaced whole by a merge patch, so an export that left the status is gone.
        let patch = serde_json::json!({ "status": {
            "mirrorServices": status.mirror_services,
            "federatedServices": status.federated_services,
        }});
        self.links
            .patch_status(&self.name, &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
        Ok(())
    }
}

/// Why the target's credentials could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialsError {
    /// The request for the Secret failed.
    #[error("reading Secret {0}: {1}")]
    Api(String, #[source] kube::Error),
    /// The Secret does not exist.
    #[error(
        "the credentials Secret {0} does not exist (create it with `svcmirror link` or `linkerd multicluster link`)"
    )]
    NoSecret(String),
    /// The Secret has no `kubeconfig` key.
    #[error("the credentials Secret {0} has no `kubeconfig` key")]
    NoKey(String),
}

#[cfg(test)]
mod tests {
    use svcmirror_core::{Condition, ConditionType, ExportOutcome};

    use super::*;

    fn export(mode: MirrorMode, mirror: Option<&str>, mirrored: bool) -> Arc<ExportStatus> {
        let outcome = ExportOutcome {
            mode,
            mirror: mirror.map(str::to_owned),
            endpoint_mirrors: Vec::new(),
            endpoint_slices: Vec::new(),
        };
        let condition = |type_, status: bool, reason: &str| Condition {
            type_,
            status: status.into(),
            reason: reason.into(),
            message: format!("{reason} message"),
        };
        let conditions = vec![
            condition(ConditionType::Valid, true, "Valid"),
            if mirrored {
                condition(ConditionType::Mirrored, true, "Mirrored")
            } else {
                condition(ConditionType::Mirrored, false, "Pending")
            },
        ];
        Arc::new(ExportStatus::new(outcome, conditions))
    }

    fn exports(items: Vec<(&str, Arc<ExportStatus>)>) -> BTreeMap<ObjectKey, Arc<ExportStatus>> {
        items
            .into_iter()
            .map(|(k, v)| {
                let (ns, name) = k.split_once('/').expect("ns/name");
                (ObjectKey::new(ns, name), v)
            })
            .collect()
    }

    #[test]
    fn status_in_linkerds_v1alpha3_shape() {
        let status = link_status(
            &exports(vec![
                (
                    "default/web",
                    export(MirrorMode::Headless, Some("web-west"), true),
                ),
                ("default/fed", export(MirrorMode::Federated, None, true)),
            ]),
            &LinkStatus::default(),
            "2026-11-28T17:00:00Z",
        );
        let json = serde_json::to_value(&status).expect("json");
        let mirror = &json["mirrorServices"][0];
        assert_eq!(mirror["controllerName"], CONTROLLER_NAME);
        assert_eq!(
            mirror["remoteRef"],
            serde_json::json!({"kind": "Service", "name": "web", "namespace": "default"})
        );
        let mirrored = &mirror["conditions"][1];
        assert_eq!(mirrored["type"], "Mirrored");
        assert_eq!(mirrored["status"], "True");
        assert_eq!(mirrored["lastTransitionTime"], "2026-11-28T17:00:00Z");
        assert_eq!(
            mirrored["localRef"],
            serde_json::json!({"kind": "Service", "name": "web-west", "namespace": "default"})
        );
        assert_eq!(json["federatedServices"][0]["remoteRef"]["name"], "fed");
        assert_eq!(json["mirrorServices"].as_array().map(Vec::len), Some(1));
    }

    #[test]
    fn unchanged_conditions_keep_their_time_so_nothing_is_patched() {
        let first = link_status(
            &exports(vec![(
                "default/web",
                export(MirrorMode::ClusterIp, None, false),
            )]),
            &LinkStatus::default(),
            "t1",
        );
        let same = link_status(
            &exports(vec![(
                "default/web",
                export(MirrorMode::ClusterIp, None, false),
            )]),
            &first,
            "t2",
        );
        assert_eq!(same, first, "no change: the caller patches nothing");
        let changed = link_status(
            &exports(vec![(
                "default/web",
                export(MirrorMode::ClusterIp, Some("web-west"), true),
            )]),
            &first,
            "t3",
        );
        let times: Vec<_> = changed.mirror_services[0]
            .conditions
            .iter()
            .map(|c| (c.type_.as_str(), c.last_transition_time.as_deref()))
            .collect();
        assert_eq!(times, [("Valid", Some("t1")), ("Mirrored", Some("t3"))]);
        // An export that left: its entry is gone.
        let gone = link_status(&BTreeMap::new(), &changed, "t4");
        assert_eq!(gone, LinkStatus::default());
    }
}
