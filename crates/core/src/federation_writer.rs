//! SPEC §9 (federated, several writers): one link's share of the federated Services, merged with
//! what the source already lists.
//!
//! Linkerd deploys one service-mirror controller per link, each seeing only its own target, and
//! all of them write the same `<name>-federated` Service (`cluster_watcher.go`,
//! `handleFederatedServiceJoin` / `handleFederatedServiceLeave`). [`federate_as`] is that
//! writer's rule, pure:
//!
//! - **Each writer owns one entry**: a link owns `<name>@<its cluster>` in
//!   `multicluster.linkerd.io/remote-discovery`, the local cluster owns
//!   `multicluster.linkerd.io/local-discovery`. Every other entry is kept as observed.
//! - **The lead member owns the rest** (labels, copied annotations, ports): the local member if it
//!   is listed, else the member whose cluster sorts first. Linkerd takes the oldest link; its
//!   creation time is not something every writer sees, a name is. A writer that is not the lead
//!   copies those fields from the observed Service.
//! - A federated Service that lists nobody any more is deleted.
//!
//! So two writers never undo each other: each one's plan changes only its own entry, or the
//! fields the lead alone writes, and a write lost to a concurrent one is a `409 Conflict`, re-read
//! and merged again. Once every writer has run, every entry is right; once every writer has run
//! twice, the source holds exactly what [`crate::federate()`] computes from all their targets at
//! once (a lead that left after its successor ran leaves its fields until the successor's next
//! reconcile, as Linkerd keeps the old oldest member's metadata).

use std::collections::{BTreeMap, BTreeSet};

use crate::diagnostics::Diagnostic;
use crate::federate::{FEDERATED_SUFFIX, Members, Origin, collect, federated_service, may_join};
use crate::labels::{self, LOCAL_DISCOVERY_ANNOTATION, REMOTE_DISCOVERY_ANNOTATION};
use crate::link::{KeyPattern, LabelSelector, Link};
use crate::model::{ObjectKey, Service};
use crate::names::{ClusterName, mirror_name};
use crate::record::ObservedService;
use crate::translate::{ExportOutcome, MirrorMode, Translation};
use crate::view::{SourceView, TargetView};

/// Who writes a share of the federated Services.
#[derive(Debug, Clone, Copy)]
pub enum FederationWriter<'a> {
    /// A link: its target's members, picked by its federated selector, as `<name>@<cluster>`.
    Link(&'a Link),
    /// The local (source) cluster: its own members, picked by this selector, as the
    /// `local-discovery` entry.
    Local(&'a LabelSelector),
}

impl FederationWriter<'_> {
    fn origin(&self) -> Origin {
        match self {
            Self::Link(link) => Some(link.cluster_name().clone()),
            Self::Local(_) => None,
        }
    }
}

/// SPEC §9 with several writers: the federated Services the source must hold after `writer`
/// contributed the members it sees in `members` (a link's target, or the local cluster), merged
/// with the entries of the other writers that the federated Services in `source` list. Plan the
/// result with [`crate::plan_federated`]; every federated Service in `source` that lists anybody
/// is desired (unchanged when `writer` has no part in it), so the plan touches only what this
/// writer changes. See the module doc for the rule.
#[must_use]
pub fn federate_as(
    writer: FederationWriter<'_>,
    members: &(impl TargetView + ?Sized),
    source: &(impl SourceView + ?Sized),
) -> Translation {
    let mut diagnostics = Vec::new();
    let origin = writer.origin();
    let selector = match writer {
        FederationWriter::Link(link) => link.federated_selector(),
        FederationWriter::Local(selector) => selector,
    };
    let mut found: Members<'_> = BTreeMap::new();
    collect(
        &mut found,
        origin.clone(),
        selector,
        members,
        &mut diagnostics,
    );
    let observed = observed_federated(source);
    let (excluded_labels, excluded_annotations): (&[KeyPattern], &[KeyPattern]) = match writer {
        FederationWriter::Link(link) => (link.excluded_labels(), link.excluded_annotations()),
        FederationWriter::Local(_) => (&[], &[]),
    };
    let suffix = ClusterName::new(FEDERATED_SUFFIX).expect("a DNS-1123 label");

    let keys: BTreeSet<&ObjectKey> = found.keys().chain(observed.keys()).collect();
    let mut out = Translation::default();
    for key in keys {
        let start = diagnostics.len();
        let mine: Option<&Service> = found
            .get(key)
            .and_then(|by_origin| by_origin.get(&origin).copied().flatten())
            .filter(|svc| may_join(key, &origin, svc, &mut diagnostics));
        let seen = observed.get(key).copied();
        let (mut remote, mut local) = seen.map_or_else(Default::default, entries);
        let own_entry = origin.as_ref().map(|c| format!("{}@{c}", key.name));
        // SPEC §9: this writer's entry is its own; the others are kept as observed.
        match (&own_entry, mine) {
            (Some(entry), Some(_)) => {
                remote.insert(entry.clone());
            }
            (Some(entry), None) => {
                remote.remove(entry);
            }
            (None, Some(_)) => local = Some(key.name.clone()),
            (None, None) => local = None,
        }
        let service = if remote.is_empty() && local.is_none() {
            None // nobody listed: deleted (Linkerd's leave, last member)
        } else {
            let lead = mine.filter(|_| {
                origin.is_none()
                    || (local.is_none()
                        && remote
                            .iter()
                            .filter_map(|e| e.rsplit_once('@').map(|(_, c)| c))
                            .all(|c| Some(c) >= origin.as_ref().map(ClusterName::as_str)))
            });
            let base = match (lead, seen) {
                (Some(svc), _) => federated_service(
                    key,
                    &[(&origin, svc)],
                    &suffix,
                    (excluded_labels, excluded_annotations),
                    source,
                    &mut diagnostics,
                ),
                // Not the lead: the lead's fields as observed.
                (None, Some(seen)) => Some(copy_of(seen)),
                (None, None) => None,
            };
            base.map(|mut svc| {
                set_entries(&mut svc, &remote, local.as_deref());
                svc
            })
        };
        if mine.is_some() || found.contains_key(key) {
            let outcome = match &service {
                Some(svc) if mine.is_some() => {
                    ExportOutcome::new(MirrorMode::Federated, Some(svc.metadata.name.clone()))
                }
                _ => ExportOutcome::new(MirrorMode::NotMirrored, None),
            };
            out.exports.insert(key.clone(), outcome);
        }
        if let Some(svc) = service {
            out.desired.insert_service(svc);
        }
        let mut findings: Vec<Diagnostic> = diagnostics[start..].to_vec();
        if !findings.is_empty() {
            findings.sort();
            findings.dedup();
            out.export_diagnostics.insert(key.clone(), findings);
        }
    }
    diagnostics.sort();
    diagnostics.dedup();
    out.diagnostics = diagnostics;
    out
}

/// SPEC §3: the key of the federated Service of the member `export` (`<name>-federated`, in its
/// namespace; shortened as any name). What a one-export reconcile plans against.
#[must_use]
pub fn federated_key(export: &ObjectKey) -> ObjectKey {
    let suffix = ClusterName::new(FEDERATED_SUFFIX).expect("a DNS-1123 label");
    ObjectKey::new(&export.namespace, &mirror_name(&export.name, &suffix).name)
}

/// The federated Services the federation owns in `source`, by the member namespace/name their
/// entries name (the inverse of [`mirror_name`]`(name, "federated")`: an entry whose name does not
/// give back the Service's own name is not one of its members).
fn observed_federated(source: &(impl SourceView + ?Sized)) -> BTreeMap<ObjectKey, &Service> {
    let suffix = ClusterName::new(FEDERATED_SUFFIX).expect("a DNS-1123 label");
    let mut out = BTreeMap::new();
    // A store holds the federation's own Services in full (`store::HeldService`).
    for svc in source.each_service().filter_map(ObservedService::full) {
        if !labels::is_federation_owned(&svc.metadata.labels) {
            continue;
        }
        let (remote, local) = entries(svc);
        let names = remote
            .iter()
            .filter_map(|e| e.rsplit_once('@').map(|(name, _)| name.to_owned()))
            .chain(local);
        for name in names {
            if mirror_name(&name, &suffix).name == svc.metadata.name {
                out.insert(ObjectKey::new(&svc.metadata.namespace, &name), svc);
            }
        }
    }
    out
}

/// The entries a federated Service lists: remote `name@cluster`s and the local member.
fn entries(svc: &Service) -> (BTreeSet<String>, Option<String>) {
    let annotations = &svc.metadata.annotations;
    let remote = annotations
        .get(REMOTE_DISCOVERY_ANNOTATION)
        .map(|list| {
            list.split(',')
                .map(str::trim)
                .filter(|e| e.contains('@'))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let local = annotations
        .get(LOCAL_DISCOVERY_ANNOTATION)
        .filter(|v| !v.is_empty())
        .cloned();
    (remote, local)
}

/// SPEC §9: the discovery annotations, remote entries sorted.
fn set_entries(svc: &mut Service, remote: &BTreeSet<String>, local: Option<&str>) {
    let annotations = &mut svc.metadata.annotations;
    annotations.remove(REMOTE_DISCOVERY_ANNOTATION);
    annotations.remove(LOCAL_DISCOVERY_ANNOTATION);
    if !remote.is_empty() {
        annotations.insert(
            REMOTE_DISCOVERY_ANNOTATION.to_owned(),
            remote.iter().cloned().collect::<Vec<_>>().join(","),
        );
    }
    if let Some(name) = local {
        annotations.insert(LOCAL_DISCOVERY_ANNOTATION.to_owned(), name.to_owned());
    }
}

/// The fields a federated Service's writers manage, as observed (server-set fields left out).
fn copy_of(seen: &Service) -> Service {
    let mut svc = Service::new(&seen.metadata.namespace, &seen.metadata.name);
    svc.metadata.labels = seen.metadata.labels.clone();
    svc.metadata.annotations = seen.metadata.annotations.clone();
    svc.spec.ports = seen.spec.ports.clone();
    svc
}
