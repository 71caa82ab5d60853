//! "Nothing foreign is touched" (SPEC §7 "Ownership", §9 federated ownership): a plan updates and
//! deletes only objects carrying its owner's labels — Services, Endpoints, EndpointSlices and
//! Namespaces alike — creates nothing on a name a foreign object holds, and every foreign object
//! is exactly as it was after a reconcile.

use std::collections::BTreeMap;

use svcmirror_core::labels::{is_federation_owned, is_owned, is_svcmirror_slice};
use svcmirror_core::model::{Kind, Object, ObjectKey};
use svcmirror_core::{Link, Plan, SourceState};

use crate::fields::labels;
use crate::finding::{Check, Finding};

/// Whose objects a plan may update or delete.
#[derive(Debug, Clone, Copy)]
pub enum Owner<'a> {
    /// One link's mirrors (`mirrored-service: "true"`, `cluster-name: <cluster>`; a slice also
    /// `endpointslice.kubernetes.io/managed-by: svcmirror.io`).
    Link(&'a Link),
    /// The federated Services (`svcmirror.io/federated: "true"`, no `cluster-name`).
    Federation,
}

impl Owner<'_> {
    /// Whether `object` carries this owner's labels.
    #[must_use]
    pub fn owns(self, object: &Object) -> bool {
        let l = labels(object);
        match self {
            Self::Link(link) => match object {
                Object::EndpointSlice(_) => is_owned(l, link) && is_svcmirror_slice(l),
                _ => is_owned(l, link),
            },
            Self::Federation => is_federation_owned(l),
        }
    }
}

/// The object of `kind` at `key` in `source` (a Namespace's key has an empty namespace).
#[must_use]
pub fn find(source: &SourceState, kind: Kind, key: &ObjectKey) -> Option<Object> {
    match kind {
        Kind::Namespace => source
            .namespaces
            .iter()
            .flatten()
            .find(|ns| ns.metadata.name == key.name)
            .cloned()
            .map(Object::Namespace),
        Kind::Service => source.service(key).cloned().map(Object::Service),
        Kind::Endpoints => source.endpoints_at(key).cloned().map(Object::Endpoints),
        Kind::EndpointSlice => source
            .endpoint_slice_at(key)
            .cloned()
            .map(Object::EndpointSlice),
    }
}

/// Checks one plan against the source it was made from: every update and delete is of an
/// object `owner` owns; no create lands on a name held by a foreign object (a Service or
/// Endpoints for a Service or Endpoints; the same kind otherwise).
///
/// # Errors
/// [`Check::ForeignTouched`], naming the operation.
pub fn nothing_foreign_touched(
    owner: Owner<'_>,
    source: &SourceState,
    plan: &Plan,
) -> Result<(), Finding> {
    for op in &plan.operations {
        let (kind, key) = (op.kind(), op.key());
        match op {
            // An update or a delete (whatever carries a precondition) writes an observed object.
            _ if op.precondition().is_some() => match find(source, kind, &key) {
                Some(o) if owner.owns(&o) => {}
                Some(_) => {
                    return Err(Finding::new(
                        Check::ForeignTouched,
                        format!(
                            "{} of {kind} {key}, which does not carry the owner's labels",
                            op.action()
                        ),
                    ));
                }
                None => {
                    return Err(Finding::new(
                        Check::ForeignTouched,
                        format!("{} of {kind} {key}, which was never observed", op.action()),
                    ));
                }
            },
            // A create, or anything else that names an object: the name must not be foreign.
            _ => {
                let rivals: &[Kind] = match kind {
                    Kind::Service | Kind::Endpoints => &[Kind::Service, Kind::Endpoints],
                    other => &[other][..],
                };
                for rival in rivals {
                    if let Some(o) = find(source, *rival, &key)
                        && !owner.owns(&o)
                    {
                        return Err(Finding::new(
                            Check::ForeignTouched,
                            format!("create of {kind} {key} on the name of a foreign {rival}"),
                        ));
                    }
                }
            }
        }
    }
    Ok(())
}

/// Every object of `source` that `owner` does not own, by kind and key.
#[must_use]
pub fn foreign_objects(
    owner: Owner<'_>,
    source: &SourceState,
) -> BTreeMap<(Kind, ObjectKey), Object> {
    source
        .objects()
        .into_iter()
        .filter(|o| !owner.owns(o))
        .map(|o| ((o.kind(), o.key()), o))
        .collect()
}

/// Every foreign object of `before` is in `after`, unchanged, and nothing new became foreign
/// (nothing of ours lost its labels).
///
/// # Errors
/// [`Check::ForeignTouched`], naming the first object that differs.
pub fn foreign_unchanged(
    before: &BTreeMap<(Kind, ObjectKey), Object>,
    after: &BTreeMap<(Kind, ObjectKey), Object>,
) -> Result<(), Finding> {
    for ((kind, key), was) in before {
        match after.get(&(*kind, key.clone())) {
            Some(now) if now == was => {}
            Some(now) => {
                return Err(Finding::new(
                    Check::ForeignTouched,
                    format!("foreign {kind} {key} changed: {was:?} → {now:?}"),
                ));
            }
            None => {
                return Err(Finding::new(
                    Check::ForeignTouched,
                    format!("foreign {kind} {key} is gone (or now carries our labels)"),
                ));
            }
        }
    }
    if let Some((kind, key)) = after.keys().find(|k| !before.contains_key(k)) {
        return Err(Finding::new(
            Check::ForeignTouched,
            format!("{kind} {key} appeared without the owner's labels"),
        ));
    }
    Ok(())
}
