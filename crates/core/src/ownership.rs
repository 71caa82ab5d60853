//! SPEC §7 ownership (with §3 names): before a mirror is built, its name is picked (§3, shortened
//! when too long) and claimed — left alone when an object this link does not own holds it, given
//! to the export that holds it already (sticky names), else to the first claim — and its
//! namespace must exist in the source or be created. Each refusal is one decision, worded here.

use crate::claims::{NameClaims, Refusal};
use crate::decision::{Decision, Record};
use crate::diagnostics::{Diagnostic, Reason, Severity};
use crate::labels::{self, RemoteRef};
use crate::link::Link;
use crate::model::{Kind, Namespace, ObjectKey};
use crate::names::{MirrorName, mirror_name};
use crate::source_index::SourceIndex;
use crate::state::Desired;

/// SPEC §7 namespace.
const NAMESPACE: &str = "SPEC §7 namespace";

/// SPEC §7: a missing source namespace is created (when allowed: into `desired`) or the export
/// waits for it (`NamespaceMissing`). Whether the export can be mirrored now.
pub(crate) fn namespace_ready(
    link: &Link,
    source: &SourceIndex<'_>,
    desired: &mut Desired,
    record: &mut Record,
    export: &ObjectKey,
) -> bool {
    let namespace = &export.namespace;
    if source.has_namespace(namespace) {
        record.note(NAMESPACE, || {
            format!("{namespace:?} exists in the source cluster")
        });
        return true;
    }
    if link.create_namespaces() {
        record.note(NAMESPACE, || {
            format!("{namespace:?} is missing: created (namespace creation is on)")
        });
        let mut ns = Namespace::new(namespace);
        ns.metadata.labels = labels::ownership_labels(link);
        desired.namespaces.insert(namespace.clone(), ns);
        return true;
    }
    record.decide(Decision::worded(
        NAMESPACE,
        format!(
            "{namespace:?} is missing in the source cluster: not mirrored until it exists \
             (NamespaceMissing)"
        ),
        Diagnostic::new(
            Reason::NamespaceMissing,
            Severity::Error,
            Kind::Service,
            export.clone(),
            format!(
                "namespace {namespace:?} does not exist in the source cluster; mirrored once it is \
                 created"
            ),
        ),
    ));
    false
}

/// Picks the mirror name of `base` for `claimant` (SPEC §3) and claims it (SPEC §7); `None`, with
/// its decision recorded, when it is taken. `what` names the mirror in messages.
pub(crate) fn claim_name(
    link: &Link,
    source: &SourceIndex<'_>,
    claims: &mut NameClaims,
    record: &mut Record,
    claimant: &RemoteRef,
    base: &str,
    what: &str,
) -> Option<MirrorName> {
    let export = &claimant.export;
    let name = mirror_name(base, link.cluster_name());
    let key = ObjectKey::new(&export.namespace, &name.name);
    match &name.shortened_from {
        None => record.note("SPEC §3 names", || format!("{what} `{}`", name.name)),
        Some(full) => record.decide(Decision::worded(
            "SPEC §3 names",
            format!(
                "{what} `{}`, shortened from `{full}` (NameShortened)",
                name.name
            ),
            Diagnostic::new(
                Reason::NameShortened,
                Severity::Warning,
                Kind::Service,
                export.clone(),
                format!(
                    "{what} name {full:?} is longer than 63 characters or not a DNS-1035 label; \
                     using {:?}",
                    name.name
                ),
            ),
        )),
    }
    // SPEC §7: a name held by an object we do not own is left alone, and so is its Endpoints.
    if let Some(decision) = foreign_holder(link, source, &key, export, what) {
        record.decide(decision);
        return None;
    }
    // SPEC §7 sticky names, then the first in (namespace, name) order; SPEC §3: two desired
    // objects with one name (a hash collision included) are a conflict, never a merge.
    match claims.claim(&key, claimant) {
        Ok(()) => Some(name),
        Err(refusal) => {
            record.decide(refused(&key, claimant, what, refusal));
            None
        }
    }
}

/// SPEC §7 ownership: the decision when an object this link does not own holds `key`.
fn foreign_holder(
    link: &Link,
    source: &SourceIndex<'_>,
    key: &ObjectKey,
    export: &ObjectKey,
    what: &str,
) -> Option<Decision> {
    let service = source
        .service(key)
        .filter(|s| !labels::is_owned_by(s.metadata(), link));
    let endpoints = source.foreign_endpoints(key);
    if service.is_none() && endpoints.is_none() {
        return None;
    }
    let kind = if service.is_some() {
        Kind::Service
    } else {
        Kind::Endpoints
    };
    // Issue 14 cross-link names: when another link's mirror holds it, say which.
    let other_link = source
        .service(key)
        .and_then(|s| labels::other_link_mirror(s.metadata(), link))
        .or_else(|| endpoints.and_then(|meta| labels::other_link_mirror(meta, link)));
    let (step, message) = if let Some((cluster, of)) = other_link {
        let of = of.map_or_else(String::new, |k| format!(" of {k}"));
        (
            format!(
                "{kind} {key} is held by link `{cluster}`'s mirror{of}: {what} skipped \
                 (NameConflict)"
            ),
            format!(
                "{what} for {export} needs this name, but it is held by link `{cluster}`'s \
                 mirror{of}; left alone (two links on this source whose cluster names end alike \
                 want the same names)"
            ),
        )
    } else {
        (
            format!(
                "{kind} {key} exists and is not owned by this link: left alone, {what} skipped \
                 (NameConflict)"
            ),
            format!(
                "{what} for {export} needs this name, but the existing {kind} is not owned by \
                 this link (labels mirror.linkerd.io/mirrored-service=true, \
                 mirror.linkerd.io/cluster-name={}); left alone",
                link.cluster_name()
            ),
        )
    };
    Some(Decision::worded(
        "SPEC §7 ownership",
        step,
        Diagnostic::new(
            Reason::NameConflict,
            Severity::Error,
            kind,
            key.clone(),
            message,
        ),
    ))
}

/// SPEC §7 sticky names and §3 collisions: the decision when the claim of `key` is refused.
fn refused(key: &ObjectKey, claimant: &RemoteRef, what: &str, refusal: Refusal) -> Decision {
    let (why, holder) = match refusal {
        Refusal::Held(holders) => (
            "it is held by this link's live mirror of",
            holders
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" and "),
        ),
        Refusal::Claimed(earlier) => (
            "another mirror of this link already uses it, for",
            describe_ref(&earlier),
        ),
    };
    Decision::worded(
        "SPEC §7 sticky names",
        format!("{key}: {why} {holder}: {what} skipped (NameConflict)"),
        Diagnostic::new(
            Reason::NameConflict,
            Severity::Error,
            Kind::Service,
            key.clone(),
            format!(
                "{what} for {} needs this name, but {why} {holder}",
                describe_ref(claimant)
            ),
        ),
    )
}

/// For messages: `ns/name` of an export, or `pod <hostname> of ns/name`.
fn describe_ref(r: &RemoteRef) -> String {
    match &r.hostname {
        Some(hostname) => format!("pod {hostname} of {}", r.export),
        None => r.export.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::model::Service;
    use crate::state::SourceState;

    fn link(create_namespaces: bool) -> Link {
        Link::builder("west")
            .gateway_address("172.18.0.4".parse().expect("ip"))
            .create_namespaces(create_namespaces)
            .build()
            .expect("link")
    }

    fn export() -> ObjectKey {
        ObjectKey::new("shop", "web")
    }

    /// SPEC §7 ownership: a name held by a Service this link does not own is left alone — the
    /// claim fails with one `NameConflict` naming the object.
    #[test]
    fn a_name_held_by_a_foreign_object_is_a_conflict() {
        let link = link(false);
        let source = SourceState::new(vec![Service::new("shop", "web-west")], Vec::new());
        let index = SourceIndex::new(&link, &source);
        let mut claims = NameClaims::new(&link, &source, BTreeSet::new());
        let mut record = Record::default();
        let claimant = RemoteRef::mirror(&export());
        let name = claim_name(
            &link,
            &index,
            &mut claims,
            &mut record,
            &claimant,
            "web",
            "mirror",
        );
        assert_eq!(name, None);
        let [conflict] = record.diagnostics.as_slice() else {
            panic!("one finding: {:?}", record.diagnostics);
        };
        assert_eq!(conflict.reason, Reason::NameConflict);
        assert_eq!(conflict.object, ObjectKey::new("shop", "web-west"));
        // A free name is claimed, once.
        let other = RemoteRef::mirror(&ObjectKey::new("shop", "api"));
        let api = claim_name(
            &link,
            &index,
            &mut claims,
            &mut record,
            &other,
            "api",
            "mirror",
        );
        assert_eq!(api.map(|n| n.name).as_deref(), Some("api-west"));
    }

    /// SPEC §7: a missing source namespace waits (`NamespaceMissing`) unless namespace creation is
    /// on, which creates it with the ownership labels.
    #[test]
    fn a_missing_namespace_waits_or_is_created() {
        let source = SourceState::new(Vec::new(), Vec::new()).with_namespaces(Some(Vec::new()));
        for create in [false, true] {
            let link = link(create);
            let index = SourceIndex::new(&link, &source);
            let mut desired = Desired::default();
            let mut record = Record::default();
            let ready = namespace_ready(&link, &index, &mut desired, &mut record, &export());
            assert_eq!(ready, create);
            assert_eq!(desired.namespaces.contains_key("shop"), create);
            let reasons: Vec<Reason> = record.diagnostics.iter().map(|d| d.reason).collect();
            if create {
                assert!(reasons.is_empty());
            } else {
                assert_eq!(reasons, [Reason::NamespaceMissing]);
            }
        }
    }
}
