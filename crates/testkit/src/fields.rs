//! The fields every check reads of any object, whatever its kind: labels, annotations and the
//! `remote-svc-fq-name` it serves. A leaf, re-exported by the crate root.

use svcmirror_core::StringMap;
use svcmirror_core::labels::REMOTE_SVC_FQ_NAME;
use svcmirror_core::model::Object;

/// The labels of any object.
#[must_use]
pub fn labels(object: &Object) -> &StringMap {
    match object {
        Object::Namespace(ns) => &ns.metadata.labels,
        Object::Service(s) => &s.metadata.labels,
        Object::Endpoints(e) => &e.metadata.labels,
        Object::EndpointSlice(e) => &e.metadata.labels,
    }
}

/// The annotations of a namespaced object (a Namespace has none in the model).
#[must_use]
pub fn annotations(object: &Object) -> Option<&StringMap> {
    match object {
        Object::Namespace(_) => None,
        Object::Service(s) => Some(&s.metadata.annotations),
        Object::Endpoints(e) => Some(&e.metadata.annotations),
        Object::EndpointSlice(e) => Some(&e.metadata.annotations),
    }
}

/// The `mirror.linkerd.io/remote-svc-fq-name` of an object: the export it serves.
#[must_use]
pub fn fq_name(object: &Object) -> Option<&String> {
    annotations(object)?.get(REMOTE_SVC_FQ_NAME)
}
