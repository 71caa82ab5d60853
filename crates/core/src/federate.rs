//! SPEC §9 (federated): one `<name>-federated` Service per namespace/name, across links.
//!
//! A federated Service aggregates the members that every linked target cluster (and the local
//! cluster, if it has one) labels with its link's federated selector. It cannot be computed by one
//! link's [`crate::translate()`], hence [`federate`], which takes every link at once, and
//! [`crate::plan_federated`], which plans it under the federation's own ownership
//! ([`crate::labels::FEDERATED`]).
//!
//! The federated Service is a ClusterIP Service without Endpoints: Linkerd's destination
//! controller resolves it from its annotations, `multicluster.linkerd.io/remote-discovery:
//! <name>@<cluster>[,…]` (sorted) and `multicluster.linkerd.io/local-discovery: <name>`.

use std::collections::{BTreeMap, BTreeSet};

use crate::claims::{NameClaims, Refusal};
use crate::cluster_ip::mirror_port;
use crate::diagnostics::{Diagnostic, Reason, Severity};
use crate::labels::{
    self, LOCAL_DISCOVERY_ANNOTATION, REMOTE_DISCOVERY_ANNOTATION, RemoteRef,
    copied_annotations_excluding, federated_labels,
};
use crate::link::{KeyPattern, LabelSelector, Link};
use crate::model::{Kind, ObjectKey, Service, ServicePort};
use crate::names::{ClusterName, mirror_name};
use crate::translate::{ExportOutcome, MirrorMode, Translation};
use crate::validate;
use crate::validate::unique_by_key;
use crate::view::{SourceView, TargetView};

/// The suffix of a federated Service's name (SPEC §3: `<exported-name>-federated`).
pub const FEDERATED_SUFFIX: &str = "federated";

/// Where a member lives: the local cluster (sorts first) or a linked target cluster.
pub(crate) type Origin = Option<ClusterName>;

pub(crate) fn origin_text(origin: &Origin) -> String {
    origin.as_ref().map_or_else(
        || "the local cluster".to_owned(),
        |c| format!("cluster {c}"),
    )
}

/// Computes the federated Services (SPEC §9) from every link's target (`remotes`: each link with
/// what its target cluster holds; its federated selector picks the members) and the local
/// cluster's own members (`local`: the local federated selector and the local cluster's Services),
/// given what the source (local) cluster holds. Pure and deterministic; the result does not depend
/// on the order of `remotes`.
///
/// Per namespace/name with at least one member: one ClusterIP Service `<name>-federated`, no
/// Endpoints; the *lead* member is the local one if any, else the first cluster by name (Linkerd:
/// the oldest link; a name is what every writer can see, an age is not); ports, labels and copied
/// annotations are the lead's (a member whose ports differ is an `InvalidService` warning), as
/// for a mirror (minus the lead link's exclusions) but without `cluster-name`, plus the ownership
/// labels `mirrored-service: "true"` and `svcmirror.io/federated: "true"`. A headless member
/// cannot join (`InvalidService`); neither can an invalid or port-less one. The same cluster
/// reached by two links counts once.
///
/// [`Translation::exports`] is keyed by the members' namespace/name, with mode
/// [`MirrorMode::Federated`].
///
/// Targets and source are read in place ([`TargetView`], [`SourceView`]): lists or stores.
#[must_use]
pub fn federate<T: TargetView + ?Sized>(
    remotes: &[(&Link, &T)],
    local: Option<(&LabelSelector, &T)>,
    source: &(impl SourceView + ?Sized),
) -> Translation {
    let mut diagnostics = Vec::new();
    let mut members: Members<'_> = BTreeMap::new();
    if let Some((selector, state)) = local {
        collect(&mut members, None, selector, state, &mut diagnostics);
    }
    for (link, state) in remotes {
        collect(
            &mut members,
            Some(link.cluster_name().clone()),
            link.federated_selector(),
            *state,
            &mut diagnostics,
        );
    }
    let mut out = Translation::default();
    let suffix = ClusterName::new(FEDERATED_SUFFIX).expect("a DNS-1123 label");
    // SPEC §3: two federated Services with one (shortened) name are a conflict, never a merge.
    let mut claims = NameClaims::default();
    for (key, by_origin) in &members {
        let start = diagnostics.len();
        let joined: Vec<(&Origin, &Service)> = by_origin
            .iter()
            .filter_map(|(origin, svc)| Some((origin, (*svc)?)))
            .filter(|(origin, svc)| may_join(key, origin, svc, &mut diagnostics))
            .collect();
        // SPEC §9: labels and annotations are the lead member's, copied with its link's
        // exclusions (the local cluster's: none).
        let lead_links = || {
            remotes.iter().filter(|(l, _)| {
                joined
                    .first()
                    .is_some_and(|(o, _)| o.as_ref() == Some(l.cluster_name()))
            })
        };
        let excluded_labels: Vec<KeyPattern> = lead_links()
            .flat_map(|(l, _)| l.excluded_labels().iter().cloned())
            .collect();
        let excluded_annotations: Vec<KeyPattern> = lead_links()
            .flat_map(|(l, _)| l.excluded_annotations().iter().cloned())
            .collect();
        let outcome = federated_service(
            key,
            &joined,
            &suffix,
            (&excluded_labels, &excluded_annotations),
            source,
            &mut diagnostics,
        )
        .filter(|svc| {
            let claimed = claims.claim(&svc.metadata.key(), &RemoteRef::mirror(key));
            if let Err(Refusal::Claimed(earlier)) = &claimed {
                diagnostics.push(Diagnostic::new(
                    Reason::NameConflict,
                    Severity::Error,
                    Kind::Service,
                    svc.metadata.key(),
                    format!(
                        "the federated Service for {key} needs this name, but the federated \
                         Service for {} already uses it",
                        earlier.export
                    ),
                ));
            }
            claimed.is_ok()
        })
        .map_or_else(
            || ExportOutcome::new(MirrorMode::NotMirrored, None),
            |svc| {
                let name = svc.metadata.name.clone();
                out.desired.insert_service(svc);
                ExportOutcome::new(MirrorMode::Federated, Some(name))
            },
        );
        out.exports.insert(key.clone(), outcome);
        let mut found = diagnostics[start..].to_vec();
        if !found.is_empty() {
            found.sort();
            found.dedup();
            out.export_diagnostics.insert(key.clone(), found);
        }
    }
    diagnostics.sort();
    diagnostics.dedup();
    out.diagnostics = diagnostics;
    out
}

pub(crate) type Members<'a> = BTreeMap<ObjectKey, BTreeMap<Origin, Option<&'a Service>>>;

/// Adds the Services of `state` that `selector` picks as members from `origin`. The same origin
/// twice (two links to one cluster) counts once; twice with different Services, neither joins.
pub(crate) fn collect<'a>(
    members: &mut Members<'a>,
    origin: Origin,
    selector: &LabelSelector,
    state: &'a (impl TargetView + ?Sized),
    diagnostics: &mut Vec<Diagnostic>,
) {
    // Only the selected Services are keyed: a target holds far more than its members. SPEC §9:
    // the local writer's members are the source's own Services, never what svcmirror writes there
    // (`mirrored-service=true`: mirrors and federated Services copy their members' labels, so
    // with a selector outside `mirror.linkerd.io/` `web-federated` would join
    // `web-federated-federated`).
    let ours = |s: &Service| {
        origin.is_none()
            && s.metadata
                .labels
                .get(labels::MIRRORED_SERVICE)
                .map(String::as_str)
                == Some("true")
    };
    let selected: Vec<&Service> = state
        .each_service()
        .filter(|s| selector.matches(&s.metadata.labels) && !ours(s))
        .collect();
    let services = unique_by_key(&selected, |s| s.metadata.key(), Kind::Service, diagnostics);
    for (key, svc) in services {
        let Some(svc) = svc.copied() else {
            continue;
        };
        let slot = members.entry(key.clone()).or_default();
        match slot.get(&origin) {
            None => {
                slot.insert(origin.clone(), Some(svc));
            }
            Some(Some(seen)) if *seen == svc => {}
            Some(_) => {
                diagnostics.push(Diagnostic::new(
                    Reason::InvalidObject,
                    Severity::Error,
                    Kind::Service,
                    key,
                    format!(
                        "{} is linked twice with different Services of this name; neither joins",
                        origin_text(&origin)
                    ),
                ));
                slot.insert(origin.clone(), None);
            }
        }
    }
}

/// SPEC §9: whether a member may join — a valid Service with ports, not headless.
pub(crate) fn may_join(
    key: &ObjectKey,
    origin: &Origin,
    svc: &Service,
    diagnostics: &mut Vec<Diagnostic>,
) -> bool {
    let whence = origin_text(origin);
    let problems = validate::service_problems(svc);
    if !problems.is_empty() {
        diagnostics.extend(problems.into_iter().map(|mut d| {
            d.message = format!(
                "{} (federated member in {whence}; it does not join)",
                d.message
            );
            d
        }));
        return false;
    }
    if svc.is_headless() {
        diagnostics.push(
            Diagnostic::new(
                Reason::InvalidService,
                Severity::Error,
                Kind::Service,
                key.clone(),
                format!("headless Service cannot join a federated Service (member in {whence})"),
            )
            .at("spec.clusterIP"),
        );
        return false;
    }
    if svc.spec.ports.is_empty() {
        diagnostics.push(
            Diagnostic::new(
                Reason::NoPorts,
                Severity::Error,
                Kind::Service,
                key.clone(),
                format!("federated member in {whence} has no ports; it does not join"),
            )
            .at("spec.ports"),
        );
        return false;
    }
    true
}

/// The federated Service of `joined` (the local member first, then clusters by name), or `None`
/// with a diagnostic.
pub(crate) fn federated_service(
    key: &ObjectKey,
    joined: &[(&Origin, &Service)],
    suffix: &ClusterName,
    (excluded_labels, excluded_annotations): (&[KeyPattern], &[KeyPattern]),
    source: &(impl SourceView + ?Sized),
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<Service> {
    let (_, lead) = joined.first()?;
    if !source.has_namespace(&key.namespace) {
        diagnostics.push(Diagnostic::new(
            Reason::NamespaceMissing,
            Severity::Error,
            Kind::Service,
            key.clone(),
            format!(
                "namespace {:?} does not exist in the source cluster; federated once it is created",
                key.namespace
            ),
        ));
        return None;
    }
    let name = mirror_name(&key.name, suffix);
    if let Some(full) = &name.shortened_from {
        diagnostics.push(Diagnostic::new(
            Reason::NameShortened,
            Severity::Warning,
            Kind::Service,
            key.clone(),
            format!(
                "federated name {full:?} is longer than 63 characters or not a DNS-1035 label; using {:?}",
                name.name
            ),
        ));
    }
    let fed_key = ObjectKey::new(&key.namespace, &name.name);
    // SPEC §7 ownership, with the federation's mark: anything else at that name is left alone.
    let foreign = source
        .service(&fed_key)
        .map(|s| (Kind::Service, s.metadata()))
        .or_else(|| {
            source
                .endpoints(&fed_key)
                .map(|e| (Kind::Endpoints, e.metadata()))
        })
        .filter(|(_, meta)| !labels::is_federation_owned(&meta.labels));
    if let Some((kind, _)) = foreign {
        diagnostics.push(Diagnostic::new(
            Reason::NameConflict,
            Severity::Error,
            kind,
            fed_key,
            format!(
                "the federated Service for {key} needs this name, but the existing {kind} is not \
                 owned by the federation (labels mirror.linkerd.io/mirrored-service=true, \
                 svcmirror.io/federated=true, no mirror.linkerd.io/cluster-name); left alone"
            ),
        ));
        return None;
    }

    let mut svc = Service::new(&key.namespace, &name.name);
    svc.metadata.labels = federated_labels(&lead.metadata.labels, excluded_labels);
    let mut annotations =
        copied_annotations_excluding(&lead.metadata.annotations, excluded_annotations);
    annotations.remove(REMOTE_DISCOVERY_ANNOTATION);
    annotations.remove(LOCAL_DISCOVERY_ANNOTATION);
    let remote: BTreeSet<String> = joined
        .iter()
        .filter_map(|(origin, _)| origin.as_ref())
        .map(|cluster| format!("{}@{cluster}", key.name))
        .collect();
    if !remote.is_empty() {
        annotations.insert(
            REMOTE_DISCOVERY_ANNOTATION.to_owned(),
            remote.into_iter().collect::<Vec<_>>().join(","),
        );
    }
    if joined.iter().any(|(origin, _)| origin.is_none()) {
        annotations.insert(LOCAL_DISCOVERY_ANNOTATION.to_owned(), key.name.clone());
    }
    svc.metadata.annotations = annotations;
    svc.spec.ports = lead_ports(key, joined, diagnostics);
    Some(svc)
}

/// SPEC §9 (Linkerd: `remapRemoteServicePorts` of the oldest member only): the lead member's
/// ports. Another member whose ports differ is an `InvalidService` warning: its extra or different
/// ports are not on the federated Service. Taking one member's ports whole (rather than a union)
/// is what lets several writers, each seeing only its own member, converge without flapping
/// ([`crate::federate_as`]).
fn lead_ports(
    key: &ObjectKey,
    joined: &[(&Origin, &Service)],
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<ServicePort> {
    let Some(((lead_origin, lead), others)) = joined.split_first() else {
        return Vec::new();
    };
    let ports = |svc: &Service| {
        let mut ports: Vec<ServicePort> = svc.spec.ports.iter().map(mirror_port).collect();
        ports.sort_by(|a, b| (a.port, &a.protocol, &a.name).cmp(&(b.port, &b.protocol, &b.name)));
        ports
    };
    let kept = ports(lead);
    for (origin, svc) in others {
        if ports(svc) != kept {
            diagnostics.push(
                Diagnostic::new(
                    Reason::InvalidService,
                    Severity::Warning,
                    Kind::Service,
                    key.clone(),
                    format!(
                        "the member in {} has ports {} but the lead member (in {}) has {}; the \
                         federated Service has the lead's",
                        origin_text(origin),
                        describe_all(&ports(svc)),
                        origin_text(lead_origin),
                        describe_all(&kept),
                    ),
                )
                .at("spec.ports"),
            );
        }
    }
    kept
}

fn describe_all(ports: &[ServicePort]) -> String {
    let all: Vec<String> = ports
        .iter()
        .map(|p| format!("{}={}", p.name.as_deref().unwrap_or(""), describe(p)))
        .collect();
    format!("[{}]", all.join(", "))
}

fn describe(p: &ServicePort) -> String {
    format!(
        "{}/{} → {}",
        p.port,
        p.protocol.as_deref().unwrap_or("TCP"),
        p.target_port
            .as_ref()
            .map_or_else(|| p.port.to_string(), ToString::to_string)
    )
}
