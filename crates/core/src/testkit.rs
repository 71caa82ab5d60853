//! Invariant checks written once and shared by the property tests (root `tests/`) and the fuzz
//! targets (feature `testkit`; STYLE habit 13): each returns the violations it finds as
//! messages — empty when the invariant holds — and never panics.

use crate::labels;
use crate::link::Link;
use crate::model::{Object, ObjectMeta};
use crate::plan::{Operation, Plan};
use crate::state::SourceState;

/// SPEC §7 sticky names: "no plan ever changes which export a live mirror serves". No `Update` in
/// `plan` gives an object this link owns in `source` a `remote-svc-fq-name` naming another export
/// than the one it serves (a name that changes export is deleted and re-created instead).
#[must_use]
pub fn repurposed_mirrors(link: &Link, source: &SourceState, plan: &Plan) -> Vec<String> {
    let mut found = Vec::new();
    for op in &plan.operations {
        let Operation::Update { object, .. } = op else {
            continue;
        };
        let key = object.key();
        let (want, have): (&ObjectMeta, Option<&ObjectMeta>) = match object {
            Object::Service(s) => (&s.metadata, source.service(&key).map(|o| &o.metadata)),
            Object::Endpoints(e) => (&e.metadata, source.endpoints_at(&key).map(|o| &o.metadata)),
            Object::EndpointSlice(e) => (
                &e.metadata,
                source.endpoint_slice_at(&key).map(|o| &o.metadata),
            ),
            _ => continue,
        };
        let Some(serves) = have.and_then(|have| labels::remote_ref(have, link)) else {
            continue;
        };
        let would_serve = labels::remote_ref(want, link);
        if would_serve.as_ref().map(|r| &r.export) != Some(&serves.export) {
            found.push(format!(
                "update of {} {key} repurposes a live mirror of {} to {}",
                object.kind(),
                serves.export,
                would_serve.map_or_else(|| "nothing".to_owned(), |r| r.export.to_string())
            ));
        }
    }
    found
}
