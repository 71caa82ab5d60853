//! Creates that cannot adopt (issue 14): a `POST`, then the hand-over of the created fields to
//! our server-side-apply entry.
//!
//! A create that read the name first and then applied (the earlier design) had a window in which
//! a third party could create the same name; the apply then merged into that object and labelled
//! it as ours, to update and delete later. A `POST` is refused by the API server with
//! `409 AlreadyExists` when the name is taken, atomically; the driver then re-reads the object and
//! the core treats it as foreign (`NameConflict`) unless it is ours (SPEC §7 ownership).
//!
//! The `POST` records our fields under an `Update` entry of `metadata.managedFields`. Later writes
//! are server-side applies under the same manager name but an `Apply` entry, and an apply only
//! prunes a field nobody else owns: the `Update` entry would keep every label or port we later
//! drop. [`apply_ownership_patch`] therefore rewrites our `Update` entry as an `Apply` entry, in a
//! merge patch conditional on the resourceVersion the `POST` returned (the mechanism of client-go's
//! `csaupgrade`, which `kubectl apply --server-side` uses to migrate client-side-applied objects).

use k8s_openapi::api::core::v1 as k8s;
use k8s_openapi::api::discovery::v1 as discovery;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ManagedFieldsEntry;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use svcmirror_backend::ApiError;
use svcmirror_core::model::{Kind, Object, ObjectKey};

use crate::convert;
use crate::error::map_error;
use crate::write_fields::{FIELD_MANAGER, strip_server_fields};

/// Creates `object`: `AlreadyExists` when its name is taken, whoever holds it.
pub(crate) async fn create(client: &kube::Client, object: &Object) -> Result<Object, ApiError> {
    let key = object.key();
    let kind = object.kind();
    let ns = key.namespace.as_str();
    Ok(match object {
        Object::Namespace(ns_obj) => {
            let mut body = convert::namespace_to_k8s(ns_obj);
            strip_server_fields(&mut body.metadata, true);
            let api: Api<k8s::Namespace> = Api::all(client.clone());
            Object::Namespace(convert::namespace_from_k8s(
                post(&api, kind, &key, &body).await?,
            ))
        }
        Object::Service(svc) => {
            let mut body = convert::service_to_k8s(svc);
            strip_server_fields(&mut body.metadata, true);
            let api: Api<k8s::Service> = Api::namespaced(client.clone(), ns);
            Object::Service(convert::service_from_k8s(
                post(&api, kind, &key, &body).await?,
            ))
        }
        Object::Endpoints(ep) => {
            let mut body = convert::endpoints_to_k8s(ep);
            strip_server_fields(&mut body.metadata, true);
            let api: Api<k8s::Endpoints> = Api::namespaced(client.clone(), ns);
            Object::Endpoints(convert::endpoints_from_k8s(
                post(&api, kind, &key, &body).await?,
            ))
        }
        Object::EndpointSlice(slice) => {
            let mut body = convert::endpoint_slice_to_k8s(slice);
            strip_server_fields(&mut body.metadata, true);
            let api: Api<discovery::EndpointSlice> = Api::namespaced(client.clone(), ns);
            Object::EndpointSlice(convert::endpoint_slice_from_k8s(
                post(&api, kind, &key, &body).await?,
            ))
        }
    })
}

/// `POST`s `body`, then hands its fields to our apply entry (best effort: the object is created
/// and ours either way).
async fn post<K>(api: &Api<K>, kind: Kind, key: &ObjectKey, body: &K) -> Result<K, ApiError>
where
    K: kube::Resource + Clone + DeserializeOwned + Serialize + std::fmt::Debug,
{
    let params = PostParams {
        field_manager: Some(FIELD_MANAGER.to_owned()),
        ..PostParams::default()
    };
    let created = api
        .create(&params, body)
        .await
        .map_err(|e| map_error(&e, kind, key))?;
    let meta = created.meta();
    let Some(patch) = apply_ownership_patch(
        meta.managed_fields.as_deref().unwrap_or_default(),
        meta.resource_version.as_deref().unwrap_or_default(),
    ) else {
        return Ok(created);
    };
    match api
        .patch(
            &key.name,
            &PatchParams {
                field_manager: Some(FIELD_MANAGER.to_owned()),
                ..PatchParams::default()
            },
            &Patch::Merge(&patch),
        )
        .await
    {
        Ok(handed_over) => Ok(handed_over),
        Err(e) => {
            tracing::warn!(%kind, %key, error = %map_error(&e, kind, key),
                "created, but handing its fields to svcmirror's apply entry failed: \
                 a field a later update drops may stay");
            Ok(created)
        }
    }
}

/// The merge patch that turns our `Update` entry of `managedFields` into an `Apply` entry, as of
/// `resource_version` (the patch carries it: a changed object makes it a `409`, never a merge).
/// `None` when there is nothing to hand over (no `Update` entry of ours, or no resourceVersion).
#[must_use]
pub fn apply_ownership_patch(
    managed: &[ManagedFieldsEntry],
    resource_version: &str,
) -> Option<Value> {
    let ours = |e: &ManagedFieldsEntry| {
        e.manager.as_deref() == Some(FIELD_MANAGER)
            && e.subresource.as_deref().unwrap_or("").is_empty()
    };
    if resource_version.is_empty()
        || !managed
            .iter()
            .any(|e| ours(e) && e.operation.as_deref() == Some("Update"))
        || managed
            .iter()
            .any(|e| ours(e) && e.operation.as_deref() == Some("Apply"))
    {
        return None;
    }
    let entries: Vec<ManagedFieldsEntry> = managed
        .iter()
        .cloned()
        .map(|mut e| {
            if ours(&e) && e.operation.as_deref() == Some("Update") {
                e.operation = Some("Apply".to_owned());
            }
            e
        })
        .collect();
    Some(json!({"metadata": {"resourceVersion": resource_version, "managedFields": entries}}))
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::FieldsV1;

    use super::*;

    fn entry(manager: &str, operation: &str) -> ManagedFieldsEntry {
        ManagedFieldsEntry {
            manager: Some(manager.to_owned()),
            operation: Some(operation.to_owned()),
            api_version: Some("v1".to_owned()),
            fields_type: Some("FieldsV1".to_owned()),
            fields_v1: Some(FieldsV1(json!({"f:metadata": {"f:labels": {"f:app": {}}}}))),
            ..ManagedFieldsEntry::default()
        }
    }

    #[test]
    fn our_update_entry_becomes_an_apply_entry_conditional_on_the_resource_version() {
        let managed = [
            entry("svcmirror", "Update"),
            entry("kube-controller-manager", "Update"),
        ];
        let patch = apply_ownership_patch(&managed, "101").expect("a patch");
        assert_eq!(patch["metadata"]["resourceVersion"], "101");
        let entries = patch["metadata"]["managedFields"]
            .as_array()
            .expect("entries");
        assert_eq!(entries.len(), 2, "no entry is dropped: {patch}");
        assert_eq!(entries[0]["manager"], "svcmirror");
        assert_eq!(entries[0]["operation"], "Apply");
        assert_eq!(
            entries[0]["fieldsV1"],
            json!({"f:metadata": {"f:labels": {"f:app": {}}}})
        );
        assert_eq!(entries[1]["manager"], "kube-controller-manager");
        assert_eq!(
            entries[1]["operation"], "Update",
            "another manager's entry is kept as it is"
        );
    }

    #[test]
    fn nothing_to_hand_over_is_no_patch() {
        assert_eq!(apply_ownership_patch(&[], "101"), None);
        assert_eq!(
            apply_ownership_patch(&[entry("svcmirror", "Update")], ""),
            None
        );
        assert_eq!(
            apply_ownership_patch(&[entry("someone", "Update")], "101"),
            None
        );
        // Already an apply entry of ours (a server that records the create as one): left alone.
        assert_eq!(
            apply_ownership_patch(
                &[entry("svcmirror", "Apply"), entry("svcmirror", "Update")],
                "7"
            ),
            None
        );
    }
}
