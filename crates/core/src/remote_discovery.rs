//! SPEC §9, the other modes, and the §2 selectors that choose them: which selector exports a
//! Service (gateway mode wins when both match; a federated member is computed across links by
//! `federate`), the remote-discovery (flat network) mirror, and the gateway-less link that
//! mirrors only these modes.

use crate::cluster_ip;
use crate::decision::Decision;
use crate::diagnostics::{Diagnostic, Reason, Severity};
use crate::labels::{REMOTE_DISCOVERY_LABEL, REMOTE_SERVICE};
use crate::link::{LabelSelector, Link};
use crate::model::{Kind, ObjectKey, Service, StringMap};

/// Which mode selected an exported Service (SPEC §2, §9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Selection {
    /// The export selector: gateway mode (SPEC §5–§6).
    Gateway,
    /// The remote-discovery selector: flat-network mode (SPEC §9).
    RemoteDiscovery,
}

/// SPEC §9 remote discovery.
pub(crate) const RULE: &str = "SPEC §9 remote discovery";

/// What [`select`] decided, with what `explain` says of each selector.
#[derive(Debug)]
pub(crate) struct Selected {
    /// The mode, when a selector exports the Service.
    pub selection: Option<Selection>,
    /// The selectors tried, in order, as `(rule, outcome)` steps.
    pub steps: Vec<(&'static str, String)>,
    /// Both selectors match (SPEC §9): gateway mode, with a warning.
    pub both: Option<Decision>,
}

/// SPEC §2 and §9: which selector exports `svc`, if any. Gateway mode wins over remote
/// discovery when both match. The steps are worded only when `tracing`.
pub(crate) fn select(svc: &Service, link: &Link, tracing: bool) -> Selected {
    let labels = &svc.metadata.labels;
    let (export, remote) = (link.export_selector(), link.remote_discovery_selector());
    let gateway = export.matches(labels);
    let flat = remote.matches(labels);
    let mut steps = Vec::new();
    if tracing {
        steps.push(("SPEC §2 export selector", verdict(export, gateway)));
        steps.push(("SPEC §9 remote-discovery selector", verdict(remote, flat)));
    }
    let (selection, both) = match (gateway, flat) {
        (true, true) => (
            Some(Selection::Gateway),
            Some(Decision::new(
                "SPEC §9 both selectors",
                Diagnostic::new(
                    Reason::InvalidService,
                    Severity::Warning,
                    Kind::Service,
                    svc.metadata.key(),
                    format!(
                        "matches both the export selector `{export}` and the remote-discovery \
                         selector `{remote}`; mirrored in gateway mode"
                    ),
                )
                .at("metadata.labels"),
            )),
        ),
        (true, false) => (Some(Selection::Gateway), None),
        (false, true) => (Some(Selection::RemoteDiscovery), None),
        (false, false) => {
            if tracing {
                let federated = link.federated_selector();
                let member = federated.matches(labels);
                steps.push((
                    "SPEC §9 federated selector",
                    format!(
                        "{}{}",
                        verdict(federated, member),
                        if member {
                            ": a member of the federated Service, which `federate` computes \
                             across links"
                        } else {
                            ""
                        }
                    ),
                ));
                steps.push((
                    "SPEC §2 not exported",
                    format!(
                        "no selector of this link exports it (labels: {})",
                        describe_labels(labels)
                    ),
                ));
            }
            (None, None)
        }
    };
    Selected {
        selection,
        steps,
        both,
    }
}

fn verdict(selector: &LabelSelector, matches: bool) -> String {
    if selector.is_empty() {
        "is empty and selects nothing".to_owned()
    } else if matches {
        format!("`{selector}` matches")
    } else {
        format!("`{selector}` does not match")
    }
}

fn describe_labels(labels: &StringMap) -> String {
    if labels.is_empty() {
        return "none".to_owned();
    }
    labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// SPEC §2: a gateway-less link mirrors remote-discovery (and federated) exports only.
pub(crate) fn gateway_less(export: &ObjectKey) -> Decision {
    Decision::new(
        "SPEC §2 gateway-less link",
        Diagnostic::new(
            Reason::NoGateway,
            Severity::Error,
            Kind::Service,
            export.clone(),
            "the link has no gateway address: it mirrors remote-discovery and federated exports \
             only; this gateway-mode export is not mirrored",
        )
        .at("metadata.labels"),
    )
}

/// SPEC §9 (Linkerd differs): Linkerd silently drops a headless export in this mode when
/// headless services are enabled. Ours is mirrored as ClusterIP — in a flat network the mirror
/// still reaches the pods through remote discovery — and the finding says it has no per-pod names.
pub(crate) fn headless(export: &ObjectKey) -> Decision {
    Decision::worded(
        "SPEC §9 remote discovery, headless",
        "no per-pod mirrors in remote-discovery mode: mirrored as ClusterIP (MirroredAsClusterIp)"
            .to_owned(),
        Diagnostic::new(
            Reason::MirroredAsClusterIp,
            Severity::Warning,
            Kind::Service,
            export.clone(),
            "headless Service mirrored as ClusterIP: remote-discovery mode has no per-pod mirrors (Linkerd drops it)",
        ),
    )
}

/// SPEC §9 remote discovery (flat network): a ClusterIP mirror only, no Endpoints — clients
/// reach the target's pods directly — labelled with the cluster and the exported name.
pub(crate) fn mirror(svc: &Service, name: &str, link: &Link) -> Service {
    let mut mirror = cluster_ip::mirror_service(svc, name, None, link);
    mirror.metadata.labels.insert(
        REMOTE_DISCOVERY_LABEL.to_owned(),
        link.cluster_name().as_str().to_owned(),
    );
    mirror
        .metadata
        .labels
        .insert(REMOTE_SERVICE.to_owned(), svc.metadata.name.clone());
    mirror
}

/// The §9 step of a remote-discovery mirror.
pub(crate) fn describe(name: &str, export: &ObjectKey, link: &Link) -> String {
    format!(
        "ClusterIP mirror `{name}` labelled {REMOTE_DISCOVERY_LABEL}={}, {REMOTE_SERVICE}={}; \
         no Endpoints",
        link.cluster_name(),
        export.name
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link() -> Link {
        Link::builder("west")
            .gateway_address("172.18.0.4".parse().expect("ip"))
            .export_selector(LabelSelector::parse("mirror.linkerd.io/exported=true").expect("sel"))
            .remote_discovery_selector(
                LabelSelector::parse("mirror.linkerd.io/exported=remote-discovery").expect("sel"),
            )
            .build()
            .expect("link")
    }

    fn labelled(pairs: &[(&str, &str)]) -> Service {
        let mut svc = Service::new("shop", "web");
        for (k, v) in pairs {
            svc.metadata.labels.insert((*k).to_owned(), (*v).to_owned());
        }
        svc
    }

    /// SPEC §2/§9: the export selector means gateway mode, the remote-discovery selector flat
    /// mode; no selector, not exported — and the steps are worded only when traced.
    #[test]
    fn each_selector_picks_its_mode() {
        let gateway = select(
            &labelled(&[("mirror.linkerd.io/exported", "true")]),
            &link(),
            false,
        );
        assert_eq!(gateway.selection, Some(Selection::Gateway));
        assert!(gateway.steps.is_empty() && gateway.both.is_none());
        let flat = select(
            &labelled(&[("mirror.linkerd.io/exported", "remote-discovery")]),
            &link(),
            false,
        );
        assert_eq!(flat.selection, Some(Selection::RemoteDiscovery));
        let none = select(&labelled(&[("app", "web")]), &link(), true);
        assert_eq!(none.selection, None);
        let rules: Vec<&str> = none.steps.iter().map(|(rule, _)| *rule).collect();
        assert_eq!(
            rules,
            [
                "SPEC §2 export selector",
                "SPEC §9 remote-discovery selector",
                "SPEC §9 federated selector",
                "SPEC §2 not exported"
            ]
        );
        assert_eq!(
            none.steps[3].1,
            "no selector of this link exports it (labels: app=web)"
        );
    }

    /// SPEC §9: a Service both selectors match is mirrored in gateway mode, with an
    /// `InvalidService` warning at its labels.
    #[test]
    fn both_selectors_mean_gateway_mode_with_a_warning() {
        let link = Link::builder("west")
            .gateway_address("172.18.0.4".parse().expect("ip"))
            .export_selector(LabelSelector::parse("a=1").expect("sel"))
            .remote_discovery_selector(LabelSelector::parse("b=2").expect("sel"))
            .build()
            .expect("link");
        let both = select(&labelled(&[("a", "1"), ("b", "2")]), &link, false);
        assert_eq!(both.selection, Some(Selection::Gateway));
        let finding = both.both.expect("a warning").finding().clone();
        assert_eq!(finding.reason, Reason::InvalidService);
        assert_eq!(finding.field.as_deref(), Some("metadata.labels"));
    }

    /// SPEC §9 remote discovery: the mirror carries the cluster and the exported name as labels.
    #[test]
    fn a_remote_discovery_mirror_names_its_cluster_and_service() {
        let svc = labelled(&[("app", "web")]);
        let mirror = mirror(&svc, "web-west", &link());
        assert_eq!(
            mirror
                .metadata
                .labels
                .get(REMOTE_DISCOVERY_LABEL)
                .map(String::as_str),
            Some("west")
        );
        assert_eq!(
            mirror
                .metadata
                .labels
                .get(REMOTE_SERVICE)
                .map(String::as_str),
            Some("web")
        );
        assert_eq!(
            headless(&svc.metadata.key()).finding().reason,
            Reason::MirroredAsClusterIp
        );
    }
}
