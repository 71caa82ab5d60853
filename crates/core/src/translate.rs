//! SPEC §5–§7, §9: from the target's exported Services and Endpoints to the objects the source
//! must hold. This file only orders the rules — each lives in the file named after its SPEC
//! section (`cluster_ip` §5, `headless` §6, `ownership` §3/§7, `remote_discovery` §2/§9,
//! `admission` §8, `hostname_policy` and `endpoint_slices` §12) — and files what they decide in
//! one `decision::Record`: the diagnostics, and the `explain` steps of the traced export
//! ([`crate::explain()`]).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::Serialize;

use crate::admission;
use crate::claims::NameClaims;
use crate::cluster_ip;
use crate::decision::{Decision, Record};
use crate::diagnostics::Diagnostic;
use crate::endpoint_slices;
use crate::headless;
use crate::hostname_policy::{self, HostnamePolicy};
use crate::labels::{self, RemoteRef, SLICE_SERVICE_NAME};
use crate::link::Link;
use crate::model::{Endpoints, Kind, ObjectKey, Service};
use crate::names::MirrorName;
use crate::ownership;
use crate::remote_discovery::{self, Selection};
use crate::source_index::SourceIndex;
use crate::state::Desired;
use crate::template::{EndpointMirror, Entry};
use crate::trace::Step;
use crate::validate::{self, CheckedSubset, unique_by_key};
use crate::view::{SourceView, TargetView};

/// How one exported Service was mirrored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub enum MirrorMode {
    /// A ClusterIP mirror whose Endpoints point at the gateway (SPEC §5).
    ClusterIp,
    /// A headless root mirror plus one endpoint mirror per named ready address (SPEC §6).
    Headless,
    /// A headless export without Endpoints (or subsets) yet: nothing is created (SPEC §6.3).
    WaitingForEndpoints,
    /// Remote-discovery (flat network) mode: a ClusterIP mirror without Endpoints (SPEC §9).
    RemoteDiscovery,
    /// A member of a federated Service, computed across links by [`crate::federate()`] (SPEC §9).
    Federated,
    /// Rejected: see the diagnostics.
    NotMirrored,
}

/// What became of one exported Service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExportOutcome {
    /// How it was mirrored.
    pub mode: MirrorMode,
    /// The mirror's name (root mirror for headless), when mirrored.
    pub mirror: Option<String>,
    /// The endpoint mirrors' names, sorted.
    pub endpoint_mirrors: Vec<String>,
    /// The names of the EndpointSlices of its mirror and endpoint mirrors, sorted (SPEC §12; empty
    /// unless the link writes slices).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub endpoint_slices: Vec<String>,
}

impl ExportOutcome {
    pub(crate) fn new(mode: MirrorMode, mirror: Option<String>) -> Self {
        Self {
            mode,
            mirror,
            endpoint_mirrors: Vec::new(),
            endpoint_slices: Vec::new(),
        }
    }

    /// The keys of the Services (and same-named Endpoints) this export wants in the source: its
    /// mirror (or root mirror) and its endpoint mirrors, in the exported Service's `namespace`.
    #[must_use]
    pub fn object_keys(&self, namespace: &str) -> Vec<ObjectKey> {
        self.mirror
            .iter()
            .chain(&self.endpoint_mirrors)
            .map(|name| ObjectKey::new(namespace, name))
            .collect()
    }

    /// The keys of the EndpointSlices this export wants in the source (SPEC §12).
    #[must_use]
    pub fn slice_keys(&self, namespace: &str) -> Vec<ObjectKey> {
        self.endpoint_slices
            .iter()
            .map(|name| ObjectKey::new(namespace, name))
            .collect()
    }
}

/// The result of [`translate`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Translation {
    /// The objects the source cluster must hold.
    pub desired: Desired,
    /// Every exported Service (selected by the link), by key.
    pub exports: BTreeMap<ObjectKey, ExportOutcome>,
    /// Findings, sorted.
    pub diagnostics: Vec<Diagnostic>,
    /// The findings of [`Translation::diagnostics`] about each export, keyed like `exports`
    /// (sorted; an export without findings has no entry): what [`crate::status::conditions`]
    /// reports per exported Service. Kept apart from `exports` because field paths point into the
    /// input and so move with its order, while `exports` does not.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub export_diagnostics: BTreeMap<ObjectKey, Vec<Diagnostic>>,
}

/// Computes what the source cluster must hold for `link`, given the target's objects and what the
/// source already holds (SPEC §5–§7). Pure and deterministic: the result does not depend on the
/// order of the inputs.
///
/// The source is read for three things only: the ClusterIPs it allocated to endpoint mirrors (a
/// hostname appears in the root mirror's Endpoints once its endpoint mirror has an IP: the
/// translation converges in two passes), names held by objects we do not own (`NameConflict`), and
/// which namespaces exist (`NamespaceMissing`).
///
/// Both inputs are read in place through [`TargetView`] and [`SourceView`]: the lists of
/// [`crate::TargetState`]/[`crate::SourceState`] or the keyed [`crate::TargetStore`]/
/// [`crate::SourceStore`] a controller keeps, which translate exactly as the lists of their
/// objects sorted by key do (the source store holds records, [`crate::ObservedService`]).
#[must_use]
pub fn translate(
    link: &Link,
    target: &(impl TargetView + ?Sized),
    source: &(impl SourceView + ?Sized),
) -> Translation {
    translate_traced(link, target, source, None).0
}

/// [`translate`], recording the decisions taken for the exported Service `traced` as [`Step`]s
/// (SPEC §12, `explain`): the steps come from the very code that decides, so they cannot drift.
pub(crate) fn translate_traced(
    link: &Link,
    target: &(impl TargetView + ?Sized),
    source: &(impl SourceView + ?Sized),
    traced: Option<&ObjectKey>,
) -> (Translation, Vec<Step>) {
    // SPEC §7 sticky names: a name our object serves stays with its export while that export
    // wants it. Whether it still does is known once every export has run: when a newcomer was
    // refused a name its holder turned out not to want, the translation runs again with that name
    // released (the plan then re-creates the object rather than repurpose it). Each round releases
    // more, so this ends; past a few rounds the newcomer simply waits for the next reconcile.
    let index = SourceIndex::new(link, source);
    let mut released = BTreeSet::new();
    for _ in 0..3 {
        let (translation, steps, claims) =
            translate_round(link, target, source, &index, traced, released.clone());
        let unwanted = claims.unwanted_refusals();
        if unwanted.is_empty() {
            return (translation, steps);
        }
        released.extend(unwanted);
    }
    let (translation, steps, _) = translate_round(link, target, source, &index, traced, released);
    (translation, steps)
}

/// One round of [`translate_traced`], with the held names in `released` free for anyone.
fn translate_round(
    link: &Link,
    target: &(impl TargetView + ?Sized),
    source: &(impl SourceView + ?Sized),
    index: &SourceIndex<'_>,
    traced: Option<&ObjectKey>,
    released: BTreeSet<ObjectKey>,
) -> (Translation, Vec<Step>, NameClaims) {
    let mut t = Translator {
        link,
        source: index,
        desired: Desired::default(),
        exports: BTreeMap::new(),
        export_diagnostics: BTreeMap::new(),
        claims: NameClaims::new(link, source, released),
        record: Record::new(traced),
    };
    let services = unique_by_key(
        target.each_service(),
        |s| s.metadata.key(),
        Kind::Service,
        &mut t.record.diagnostics,
    );
    let endpoints = unique_by_key(
        target.each_endpoints(),
        |e| e.metadata.key(),
        Kind::Endpoints,
        &mut t.record.diagnostics,
    );
    for (key, svc) in &services {
        t.record.begin(key);
        let start = t.record.diagnostics.len();
        match svc {
            None => t.record.note(INVALID_INPUT, || {
                format!("two different Services named {key} in the input: neither is used")
            }),
            Some(svc) => {
                if let Some(selection) = t.select(svc) {
                    let outcome = t.export(svc, endpoints.get(key).copied().flatten(), selection);
                    t.exports.insert(key.clone(), outcome);
                    let mut found = t.record.diagnostics[start..].to_vec();
                    if !found.is_empty() {
                        found.sort();
                        found.dedup();
                        t.export_diagnostics.insert(key.clone(), found);
                    }
                }
            }
        }
        t.record.end();
    }
    let claims = std::mem::take(&mut t.claims);
    let (translation, steps) = t.finish();
    (translation, steps, claims)
}

/// SPEC §8 invalid input.
const INVALID_INPUT: &str = "SPEC §8 invalid input";

/// The state of one round: what is built so far, and the record. It orders the rules; each rule
/// is a free function of its SPEC section's file.
struct Translator<'a> {
    link: &'a Link,
    source: &'a SourceIndex<'a>,
    desired: Desired,
    exports: BTreeMap<ObjectKey, ExportOutcome>,
    export_diagnostics: BTreeMap<ObjectKey, Vec<Diagnostic>>,
    /// SPEC §3, §7: which export gets which name.
    claims: NameClaims,
    record: Record,
}

fn not_mirrored() -> ExportOutcome {
    ExportOutcome::new(MirrorMode::NotMirrored, None)
}

impl Translator<'_> {
    fn finish(mut self) -> (Translation, Vec<Step>) {
        // SPEC §12: each export's slices are those of its mirror and endpoint mirrors.
        let mut slices_of: BTreeMap<ObjectKey, Vec<String>> = BTreeMap::new();
        for (key, slice) in &self.desired.endpoint_slices {
            if let Some(service) = slice.metadata.labels.get(SLICE_SERVICE_NAME) {
                slices_of
                    .entry(ObjectKey::new(&key.namespace, service))
                    .or_default()
                    .push(key.name.clone());
            }
        }
        // Without slices (the default Endpoints API) there is nothing to look up: no key is built.
        if !slices_of.is_empty() {
            for (export, outcome) in &mut self.exports {
                outcome.endpoint_slices = outcome
                    .object_keys(&export.namespace)
                    .iter()
                    .filter_map(|k| slices_of.get(k))
                    .flatten()
                    .cloned()
                    .collect();
                outcome.endpoint_slices.sort();
            }
        }
        self.admit();
        let steps = self.record.take_steps();
        let mut diagnostics = self.record.diagnostics;
        diagnostics.sort();
        diagnostics.dedup();
        let translation = Translation {
            desired: self.desired,
            exports: self.exports,
            diagnostics,
            export_diagnostics: self.export_diagnostics,
        };
        (translation, steps)
    }

    /// SPEC §8: exports the source API server would refuse, or over the link's ClusterIP budget,
    /// are not mirrored (`admission::admit`).
    fn admit(&mut self) {
        let objects: Vec<admission::ExportObjects> = self
            .exports
            .iter()
            .filter(|(_, outcome)| outcome.mirror.is_some())
            .map(|(export, outcome)| admission::ExportObjects {
                export: export.clone(),
                names: outcome.object_keys(&export.namespace),
                slices: outcome.slice_keys(&export.namespace),
            })
            .collect();
        let source = self.source;
        let holds = |key: &ObjectKey| source.holds_cluster_ip(key);
        let decided = admission::admit(self.link, holds, &mut self.desired, &objects);
        for (export, admission) in decided {
            let Some(outcome) = self.exports.get_mut(&export) else {
                continue;
            };
            let diagnostic = match admission {
                admission::Admission::Refused(diagnostic) => {
                    *outcome = not_mirrored();
                    diagnostic
                }
                admission::Admission::Cut {
                    endpoint_mirrors,
                    slices,
                    diagnostic,
                } => {
                    outcome
                        .endpoint_mirrors
                        .retain(|n| !endpoint_mirrors.contains(n));
                    outcome
                        .endpoint_slices
                        .retain(|n| !slices.iter().any(|k| &k.name == n));
                    diagnostic
                }
            };
            let found = self.export_diagnostics.entry(export.clone()).or_default();
            found.push(diagnostic.clone());
            found.sort();
            // Decided over the whole link, after the export's own steps: noted last.
            self.record
                .decide_late(&export, Decision::new(admission::RULE, diagnostic));
        }
    }

    fn decide(&mut self, decision: Option<Decision>) {
        if let Some(decision) = decision {
            self.record.decide(decision);
        }
    }

    /// SPEC §2 and §9: which selector exports `svc`, if any.
    fn select(&mut self, svc: &Service) -> Option<Selection> {
        let selected = remote_discovery::select(svc, self.link, self.record.tracing());
        for (rule, outcome) in selected.steps {
            self.record.note(rule, || outcome);
        }
        self.decide(selected.both);
        selected.selection
    }

    /// Claims the name of `base` for `claimant` (SPEC §3, §7).
    fn claim(&mut self, claimant: &RemoteRef, base: &str, what: &str) -> Option<MirrorName> {
        ownership::claim_name(
            self.link,
            self.source,
            &mut self.claims,
            &mut self.record,
            claimant,
            base,
            what,
        )
    }

    /// One exported Service: the rules of SPEC §5, §6, §7, §8, §9 and §12 in the order they decide.
    fn export(
        &mut self,
        svc: &Service,
        endpoints: Option<&Endpoints>,
        selection: Selection,
    ) -> ExportOutcome {
        let key = svc.metadata.key();
        let problems = validate::service_problems(svc);
        if !problems.is_empty() {
            self.record.note(INVALID_INPUT, || {
                format!(
                    "invalid {}: not mirrored (InvalidObject)",
                    problems
                        .iter()
                        .filter_map(|d| d.field.as_deref())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            });
            for problem in problems {
                self.record.find(problem);
            }
            return not_mirrored();
        }
        self.record
            .note(INVALID_INPUT, || "the Service is valid".to_owned());
        // SPEC §8 limits: checked before any mirror is built (pods × ports never materialised).
        let mut over = admission::export_limits(svc, endpoints, self.link).into_iter();
        if let Some(first) = over.next() {
            self.record.decide(Decision::new(admission::RULE, first));
            for rest in over {
                self.record.find(rest);
            }
            return not_mirrored();
        }
        if !ownership::namespace_ready(
            self.link,
            self.source,
            &mut self.desired,
            &mut self.record,
            &key,
        ) {
            return not_mirrored();
        }
        if svc.spec.ports.is_empty() {
            self.record.decide(headless::no_ports(&key));
            return not_mirrored();
        }
        self.record.note(cluster_ip::PORTS_RULE, || {
            cluster_ip::describe_ports(&svc.spec.ports)
        });
        if selection == Selection::RemoteDiscovery {
            return self.remote_discovery_export(svc);
        }
        if self.link.gateway_addresses().is_empty() {
            self.record.decide(remote_discovery::gateway_less(&key));
            return not_mirrored();
        }
        // SPEC §12: the policy names pods of a headless export only; every other export reads
        // hostnames exactly as before (Linkerd's behaviour).
        let policy = if svc.is_headless() {
            hostname_policy::export_policy(
                svc,
                self.link.hostname_policy(),
                self.link.gateway_resolution(),
                &mut self.record,
            )
        } else {
            HostnamePolicy::Hostname
        };
        let enabled = self.link.enable_headless_services();
        let applied = if enabled {
            policy
        } else {
            HostnamePolicy::Hostname
        };
        let subsets = endpoints
            .map(|ep| validate::check_endpoints(ep, applied, &mut self.record.diagnostics))
            .unwrap_or_default();
        if !svc.is_headless() {
            self.record.note(headless::DETECTION, || {
                format!(
                    "spec.clusterIP is {:?}: not headless",
                    svc.spec.cluster_ip.as_deref().unwrap_or("")
                )
            });
            return self.clusterip_export(svc, &subsets);
        }
        self.record.note(headless::DETECTION, || {
            "spec.clusterIP is \"None\": headless".to_owned()
        });
        if !enabled {
            self.record.decide(headless::not_enabled(&key));
            return self.clusterip_export(svc, &subsets);
        }
        self.record
            .note(headless::ENABLED, || "on for this link".to_owned());
        let Some(endpoints) = endpoints.filter(|_| !subsets.is_empty()) else {
            self.record.note(headless::WAIT, || {
                "no Endpoints (or no subsets) yet: nothing is created until they exist".to_owned()
            });
            return ExportOutcome::new(MirrorMode::WaitingForEndpoints, None);
        };
        if !headless::has_named_address(&subsets) {
            self.record.decide(headless::no_named_address(&key, policy));
            return self.clusterip_export(svc, &subsets);
        }
        self.record.note(headless::NAMED_ADDRESS, || {
            headless::describe_named(&subsets, policy)
        });
        self.headless_export(svc, endpoints, &subsets)
    }

    /// SPEC §9 remote discovery: a ClusterIP mirror only, no Endpoints.
    fn remote_discovery_export(&mut self, svc: &Service) -> ExportOutcome {
        let export = svc.metadata.key();
        if svc.is_headless() {
            self.record.decide(remote_discovery::headless(&export));
        }
        let Some(name) = self.claim(&RemoteRef::mirror(&export), &svc.metadata.name, "mirror")
        else {
            return not_mirrored();
        };
        let mirror = remote_discovery::mirror(svc, &name.name, self.link);
        let link = self.link;
        self.record.note(remote_discovery::RULE, || {
            remote_discovery::describe(&name.name, &export, link)
        });
        self.desired.insert_service(mirror);
        ExportOutcome::new(MirrorMode::RemoteDiscovery, Some(name.name))
    }

    /// SPEC §5: a ClusterIP mirror pointing at the gateway.
    fn clusterip_export(&mut self, svc: &Service, subsets: &[CheckedSubset<'_>]) -> ExportOutcome {
        let export = svc.metadata.key();
        let Some(name) = self.claim(&RemoteRef::mirror(&export), &svc.metadata.name, "mirror")
        else {
            return not_mirrored();
        };
        let mirror = cluster_ip::mirror_service(svc, &name.name, None, self.link);
        let has_ready = cluster_ip::has_ready(subsets);
        self.record.note(cluster_ip::RULE, || {
            cluster_ip::describe(&name.name, has_ready)
        });
        let endpoints =
            cluster_ip::gateway_endpoints(self.link, &mirror, has_ready, &svc.spec.ports);
        self.insert(mirror, endpoints, &export.name);
        ExportOutcome::new(MirrorMode::ClusterIp, Some(name.name))
    }

    /// SPEC §6.5–§6.7: a headless root mirror, one endpoint mirror per named ready address, and
    /// root Endpoints mapping each hostname to its endpoint mirror's ClusterIP once allocated.
    fn headless_export(
        &mut self,
        svc: &Service,
        endpoints: &Endpoints,
        subsets: &[CheckedSubset<'_>],
    ) -> ExportOutcome {
        let export = svc.metadata.key();
        let Some(root_name) = self.claim(
            &RemoteRef::mirror(&export),
            &svc.metadata.name,
            "root mirror",
        ) else {
            return not_mirrored();
        };
        let (root, mut root_ep, mirror_labels) =
            headless::root_mirror(svc, &root_name.name, self.link);
        let ports = root.spec.ports.clone();
        // The root is claimed before its endpoint mirrors so they cannot take its name.
        self.desired.insert_service(root);

        let export_fq = labels::remote_fq_name(&svc.metadata.name, &export.namespace, self.link);
        let (named, duplicates) = headless::named_ready_addresses(&export, subsets);
        for duplicate in duplicates {
            self.record.decide(duplicate);
        }
        // SPEC §8 limits: cut before any endpoint mirror is built.
        let (named, cut) = admission::limit_endpoint_mirrors(named, &export, self.link);
        self.decide(cut);
        let mut endpoint_mirrors = headless::EndpointMirrors::new();
        // SPEC §6.5: the endpoint mirrors share one template (their Endpoints too, unless the
        // link writes EndpointSlices: those are built per mirror, SPEC §12).
        let api = self.link.endpoints_api();
        let template = (api.writes_endpoints() && !api.writes_slices()).then(|| {
            Arc::new(headless::endpoint_mirror_template(
                self.link,
                &export.namespace,
                &mirror_labels,
                &ports,
                &svc.spec.ports,
            ))
        });
        for (hostname, ip) in named {
            let claimant = RemoteRef::endpoint_mirror(&export, hostname);
            let Some(name) = self.claim(&claimant, hostname, "endpoint mirror") else {
                continue;
            };
            let key = ObjectKey::new(&export.namespace, &name.name);
            let kept = self.source.kept_resource_version(&key, &claimant);
            let fq_name = format!("{hostname}.{export_fq}");
            let resource_version = kept.or(endpoints.metadata.resource_version.as_deref());
            let allocated = self.source.allocated_ip(&key);
            self.record.note(headless::ENDPOINT_MIRROR, || {
                headless::describe_endpoint_mirror(hostname, ip, &name.name, allocated)
            });
            if let Some(template) = &template {
                // SPEC §6.5, one template per export: only the per-pod parts are kept.
                let mirror = Arc::new(EndpointMirror::new(
                    Arc::clone(template),
                    fq_name,
                    resource_version,
                ));
                self.desired
                    .services
                    .insert(key.clone(), Entry::EndpointMirror(Arc::clone(&mirror)));
                self.desired
                    .endpoints
                    .insert(key, Entry::EndpointMirror(mirror));
            } else {
                let mirror = headless::endpoint_mirror(
                    &key,
                    &mirror_labels,
                    &ports,
                    fq_name,
                    resource_version,
                );
                let ep = cluster_ip::gateway_endpoints(self.link, &mirror, true, &svc.spec.ports);
                self.insert(mirror, ep, &export.name);
            }
            endpoint_mirrors.insert(hostname, (name.name, allocated));
        }
        root_ep.subsets = headless::root_subsets(subsets, &endpoint_mirrors);
        endpoint_slices::emit(
            self.link,
            &mut self.desired,
            &mut self.record,
            root_ep,
            &export.name,
        );
        let mut outcome = ExportOutcome::new(MirrorMode::Headless, Some(root_name.name));
        outcome.endpoint_mirrors = endpoint_mirrors.into_values().map(|(n, _)| n).collect();
        outcome
    }

    fn insert(&mut self, svc: Service, ep: Endpoints, exported: &str) {
        self.desired.insert_service(svc);
        endpoint_slices::emit(self.link, &mut self.desired, &mut self.record, ep, exported);
    }
}
