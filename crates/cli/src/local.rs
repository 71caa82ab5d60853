//! SPEC §9, the local member: the source cluster's own share of the federated Services — a
//! Service of the source itself picked by the federated selector is listed in its
//! `<name>-federated` as `multicluster.linkerd.io/local-discovery: <name>` (Linkerd's
//! `local-service-mirror`, `service-mirror -local-mirror`). The rule is the core's
//! ([`federate_as`] with [`FederationWriter::Local`], then [`plan_federated`]); this is what both
//! `svcmirror local` ([`crate::local_run`]) and the offline commands (`--local-members`,
//! [`crate::federation`]) hand it.

use svcmirror_core::model::Service;
use svcmirror_core::{
    FederationWriter, LabelSelector, Plan, SourceState, TargetState, Translation, federate_as,
    plan_federated,
};

/// Linkerd's default `-federated-service-selector` (`k8s.DefaultFederatedServiceSelector`).
pub const DEFAULT_LOCAL_SELECTOR: &str = svcmirror_core::DEFAULT_FEDERATED_SELECTOR;

/// The source's Services as the local writer's members (the core leaves out what svcmirror
/// writes there: mirrors and federated Services, `mirrored-service=true`, SPEC §9).
#[must_use]
pub fn local_members(services: &[Service]) -> TargetState {
    TargetState::new(services.to_vec(), Vec::new())
}

/// The local writer's federated Services and the plan that gets `source` there: its members are
/// `source`'s own Services picked by `selector` ([`local_members`]); every other entry of every
/// federated Service is kept as observed (the links' `<name>@<cluster>`).
#[must_use]
pub fn local_share(selector: &LabelSelector, source: &SourceState) -> (Translation, Plan) {
    let members = local_members(&source.services);
    let translation = federate_as(FederationWriter::Local(selector), &members, source);
    let plan = plan_federated(&translation.desired, source);
    (translation, plan)
}

/// Parses `svcmirror local --federated-service-selector` (clap value parser).
///
/// # Errors
/// Not a label selector, in words.
pub fn parse_selector(text: &str) -> Result<LabelSelector, String> {
    LabelSelector::parse(text).map_err(|e| format!("not a label selector: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;
    use svcmirror_core::labels::{LOCAL_DISCOVERY_ANNOTATION, REMOTE_DISCOVERY_ANNOTATION};
    use svcmirror_core::model::{ObjectKey, ServicePort};

    fn member(labels: &[(&str, &str)]) -> Service {
        let mut svc = Service::new("default", "web");
        for (k, v) in labels {
            svc.metadata.labels.insert((*k).into(), (*v).into());
        }
        svc.spec.cluster_ip = Some("10.43.0.10".into());
        svc.spec.ports.push(ServicePort {
            name: Some("http".into()),
            port: 80,
            ..ServicePort::default()
        });
        svc
    }

    /// Linkerd "local federated service created": the source's own member gives
    /// `web-federated` with `local-discovery: web` and no remote entry.
    #[test]
    fn local_member_created() {
        let selector = parse_selector(DEFAULT_LOCAL_SELECTOR).expect("selector");
        let source = SourceState::new(
            vec![member(&[("mirror.linkerd.io/federated", "member")])],
            Vec::new(),
        );
        let (translation, plan) = local_share(&selector, &source);
        let svc = translation
            .desired
            .service(&ObjectKey::new("default", "web-federated"))
            .expect("desired");
        let annotations = &svc.metadata.annotations;
        assert_eq!(
            annotations
                .get(LOCAL_DISCOVERY_ANNOTATION)
                .map(String::as_str),
            Some("web")
        );
        assert_eq!(annotations.get(REMOTE_DISCOVERY_ANNOTATION), None);
        assert_eq!(plan.operations.len(), 1, "one create");
    }

    /// A selector outside `mirror.linkerd.io/` is copied onto the federated Service: it must not
    /// become a member of itself on the next reconcile (`web-federated-federated`).
    #[test]
    fn the_federated_service_never_joins_as_a_local_member() {
        let selector = parse_selector("tier=federated").expect("selector");
        let source = SourceState::new(vec![member(&[("tier", "federated")])], Vec::new());
        let (first, _) = local_share(&selector, &source);
        let mut after = source.clone();
        after
            .services
            .extend(first.desired.service_objects().map(Cow::into_owned));
        let (second, plan) = local_share(&selector, &after);
        let names: Vec<&str> = second
            .desired
            .services
            .keys()
            .map(|k| k.name.as_str())
            .collect();
        assert_eq!(names, ["web-federated"]);
        assert!(plan.operations.is_empty(), "{:?}", plan.operations);
    }
}
