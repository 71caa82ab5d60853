//! What every write to the source sends: our field manager, and the object without the fields
//! the API server sets. A leaf shared by the apply path (`source.rs`) and the create path
//! (`create.rs`), so neither imports the other back.

/// The field manager of every write (server-side apply's `fieldManager`).
pub const FIELD_MANAGER: &str = "svcmirror";

/// `creationTimestamp` is never sent; on a create neither are uid and resourceVersion.
pub(crate) fn strip_server_fields(
    meta: &mut k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    fresh: bool,
) {
    meta.creation_timestamp = None;
    if fresh {
        meta.uid = None;
        meta.resource_version = None;
    }
}
