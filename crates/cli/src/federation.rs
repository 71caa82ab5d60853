//! SPEC §9 for the offline commands: the federated Services of the links given, as each link's
//! controller would write them.
//!
//! Each link is one writer ([`federate_as`]): it owns its `<name>@<cluster>` entry and keeps
//! every other entry the source lists, exactly as `svcmirror run` does. Several links are applied
//! one after the other to a copy of the source, so the result is what their controllers converge
//! on (and equals [`svcmirror_core::federate()`] of all of them when the source lists nobody
//! else), planned once against the real source.

use std::borrow::Cow;

use svcmirror_core::labels::is_federation_owned;
use svcmirror_core::{
    FederationWriter, LabelSelector, Link, Plan, SourceState, TargetState, Translation,
    federate_as, plan_federated,
};

/// The federated Services `source` must hold once every link of `links` (each with its target)
/// — and the local members of `source` picked by `local`, when given — wrote its share, and the
/// plan that gets it there. The translation's `desired` holds the federated Services; its
/// diagnostics are every writer's.
#[must_use]
pub fn federated(
    links: &[(&Link, &TargetState)],
    local: Option<&LabelSelector>,
    source: &SourceState,
) -> (Translation, Plan) {
    // SPEC §9: the local member writer reads the source's own Services (`svcmirror local`).
    let members = local.map(|_| crate::local::local_members(&source.services));
    let writers: Vec<(FederationWriter<'_>, &TargetState)> = local
        .zip(members.as_ref())
        .map(|(selector, members)| (FederationWriter::Local(selector), members))
        .into_iter()
        .chain(
            links
                .iter()
                .map(|(link, target)| (FederationWriter::Link(link), *target)),
        )
        .collect();
    let mut merged = Translation::default();
    // Copied only for a second writer: at cluster scale the source is the largest input.
    let mut view: Cow<'_, SourceState> = Cow::Borrowed(source);
    for (i, (writer, target)) in writers.iter().enumerate() {
        let share = federate_as(*writer, target, &*view);
        if i + 1 < writers.len() {
            // What the next writer observes: the federated Services as this one left them.
            let view = view.to_mut();
            view.services
                .retain(|s| !is_federation_owned(&s.metadata.labels));
            view.services
                .extend(share.desired.service_objects().map(Cow::into_owned));
        }
        merged.desired.services = share.desired.services;
        merged.diagnostics.extend(share.diagnostics);
        for (key, outcome) in share.exports {
            merged.exports.entry(key).or_insert(outcome);
        }
        for (key, found) in share.export_diagnostics {
            merged
                .export_diagnostics
                .entry(key)
                .or_default()
                .extend(found);
        }
    }
    merged.diagnostics.sort();
    merged.diagnostics.dedup();
    let plan = plan_federated(&merged.desired, source);
    (merged, plan)
}

/// Adds the federated Services of `links` to a link's `plan` (and their findings to
/// `diagnostics`): what `translate` and `plan` print.
pub fn add_to(
    links: &[(&Link, &TargetState)],
    local: Option<&LabelSelector>,
    source: &SourceState,
    diagnostics: &mut Vec<svcmirror_core::Diagnostic>,
    plan: &mut Plan,
) {
    let (translation, fed_plan) = federated(links, local, source);
    diagnostics.extend(translation.diagnostics);
    plan.operations.extend(fed_plan.operations);
    plan.diagnostics.extend(fed_plan.diagnostics);
}

#[cfg(test)]
mod tests {
    use super::*;
    use svcmirror_core::labels::REMOTE_DISCOVERY_ANNOTATION;
    use svcmirror_core::model::{ObjectKey, Service, ServicePort};
    use svcmirror_core::{Operation, federate};

    fn link(name: &str) -> Link {
        Link::builder(name)
            .gateway_address("172.18.0.4".parse().expect("ip"))
            .build()
            .expect("link")
    }

    fn members(port: i32) -> TargetState {
        let mut svc = Service::new("default", "web");
        svc.metadata
            .labels
            .insert("mirror.linkerd.io/federated".into(), "member".into());
        svc.spec.ports.push(ServicePort {
            name: Some("http".into()),
            port,
            ..ServicePort::default()
        });
        TargetState::new(vec![svc], vec![])
    }

    /// SPEC §9: several links given at once produce one federated Service listing them all, the
    /// same as `federate` of all of them; one create, no update.
    #[test]
    fn several_links_one_federated_service() {
        let (west, east) = (link("west"), link("east"));
        let (w, e) = (members(80), members(80));
        let links = [(&west, &w), (&east, &e)];
        let (translation, plan) = federated(&links, None, &SourceState::default());
        let key = ObjectKey::new("default", "web-federated");
        let svc = translation.desired.service(&key).expect("desired");
        assert_eq!(
            svc.metadata
                .annotations
                .get(REMOTE_DISCOVERY_ANNOTATION)
                .map(String::as_str),
            Some("web@east,web@west")
        );
        assert!(matches!(&plan.operations[..], [Operation::Create { .. }]));
        let all = federate(&links, None, &SourceState::default());
        assert_eq!(all.desired.services, translation.desired.services);
    }

    /// One link's `plan` keeps another cluster's entry that the source lists (the other link's
    /// controller wrote it) rather than overwriting it.
    #[test]
    fn one_link_keeps_the_entries_of_others() {
        let (west, east) = (link("west"), link("east"));
        let e = members(80);
        let (written, _) = federated(&[(&east, &e)], None, &SourceState::default());
        let source = SourceState::new(written.desired.into_services().collect(), Vec::new());
        let w = members(80);
        let (translation, plan) = federated(&[(&west, &w)], None, &source);
        let svc = translation.desired.service_objects().next().expect("one");
        assert_eq!(
            svc.metadata
                .annotations
                .get(REMOTE_DISCOVERY_ANNOTATION)
                .map(String::as_str),
            Some("web@east,web@west")
        );
        assert_eq!(plan.operations.len(), 1, "one update: west's entry");
    }
}
