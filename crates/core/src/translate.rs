//! SPEC §5–§6: from the target's exported Services and Endpoints to the objects the source must hold;
//! with SPEC §9's remote-discovery mode and §12's hostname policy. Every rule records what it
//! decided when its export is traced ([`crate::explain()`]).

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use serde::Serialize;

use crate::admission;
use crate::claims::{NameClaims, Refusal};
use crate::diagnostics::{Diagnostic, Reason, Severity};
use crate::endpoint_slices::endpoint_slices;
use crate::hostname_policy::{HOSTNAME_POLICY_ANNOTATION, HostnamePolicy, routable_policy};
use crate::labels::{
    self, HEADLESS_MIRROR_SVC_NAME, REMOTE_DISCOVERY_LABEL, REMOTE_GATEWAY_IDENTITY,
    REMOTE_RESOURCE_VERSION, REMOTE_SERVICE, REMOTE_SVC_FQ_NAME, RemoteRef, SKIP_MIRROR,
    SLICE_SERVICE_NAME,
};
use crate::link::{LabelSelector, Link};
use crate::model::{
    CLUSTER_IP_NONE, EndpointAddress, EndpointPort, EndpointSubset, Endpoints, IntOrString, Kind,
    Namespace, ObjectKey, ObjectMeta, Service, ServicePort, StringMap, effective_protocol,
};
use crate::names::{MirrorName, mirror_name};
use crate::state::{Desired, SourceState, TargetState};
use crate::trace::Step;
use crate::validate::{self, CheckedAddress, CheckedSubset};

/// Records a step of the traced export (no work at all when nothing is traced).
macro_rules! step {
    ($t:expr, $rule:expr, $($arg:tt)*) => {
        if $t.tracing() {
            let outcome = format!($($arg)*);
            $t.note($rule, outcome);
        }
    };
}

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
#[must_use]
pub fn translate(link: &Link, target: &TargetState, source: &SourceState) -> Translation {
    translate_traced(link, target, source, None).0
}

/// [`translate`], recording the decisions taken for the exported Service `traced` as [`Step`]s
/// (SPEC §12, `explain`): the steps come from the very code that decides, so they cannot drift.
pub(crate) fn translate_traced(
    link: &Link,
    target: &TargetState,
    source: &SourceState,
    traced: Option<&ObjectKey>,
) -> (Translation, Vec<Step>) {
    // SPEC §7 sticky names: a name our object serves stays with its export while that export
    // wants it. Whether it still does is known once every export has run: when a newcomer was
    // refused a name its holder turned out not to want, the translation runs again with that name
    // released (the plan then re-creates the object rather than repurpose it). Each round releases
    // more, so this ends; past a few rounds the newcomer simply waits for the next reconcile.
    let mut released = BTreeSet::new();
    for _ in 0..3 {
        let (translation, steps, claims) =
            translate_round(link, target, source, traced, released.clone());
        let unwanted = claims.unwanted_refusals();
        if unwanted.is_empty() {
            return (translation, steps);
        }
        released.extend(unwanted);
    }
    let (translation, steps, _) = translate_round(link, target, source, traced, released);
    (translation, steps)
}

/// One round of [`translate_traced`], with the held names in `released` free for anyone.
fn translate_round(
    link: &Link,
    target: &TargetState,
    source: &SourceState,
    traced: Option<&ObjectKey>,
    released: BTreeSet<ObjectKey>,
) -> (Translation, Vec<Step>, NameClaims) {
    let mut t = Translator::new(link, source);
    t.claims = NameClaims::new(link, source, released);
    t.trace = traced.map(|key| Trace {
        key: key.clone(),
        active: false,
        steps: Vec::new(),
    });
    let services = unique_by_key(
        &target.services,
        |s| s.metadata.key(),
        Kind::Service,
        &mut t.diagnostics,
    );
    let endpoints = unique_by_key(
        &target.endpoints,
        |e| e.metadata.key(),
        Kind::Endpoints,
        &mut t.diagnostics,
    );
    for (key, svc) in &services {
        t.begin(key);
        let start = t.diagnostics.len();
        match svc {
            None => step!(
                t,
                "SPEC §8 invalid input",
                "two different Services named {key} in the input: neither is used"
            ),
            Some(svc) => {
                if let Some(selection) = t.select(svc) {
                    let outcome = t.export(svc, endpoints.get(key).copied().flatten(), selection);
                    t.exports.insert(key.clone(), outcome);
                    let mut found = t.diagnostics[start..].to_vec();
                    if !found.is_empty() {
                        found.sort();
                        found.dedup();
                        t.export_diagnostics.insert(key.clone(), found);
                    }
                }
            }
        }
        t.end();
    }
    let claims = std::mem::take(&mut t.claims);
    let (translation, steps) = t.finish();
    (translation, steps, claims)
}

/// Which mode selected an exported Service (SPEC §2, §9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Selection {
    /// The export selector: gateway mode (SPEC §5–§6).
    Gateway,
    /// The remote-discovery selector: flat-network mode (SPEC §9).
    RemoteDiscovery,
}

/// The decisions recorded for one export.
struct Trace {
    key: ObjectKey,
    active: bool,
    steps: Vec<Step>,
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

fn describe_ports(ports: &[ServicePort]) -> String {
    ports
        .iter()
        .map(|p| {
            let name = p
                .name
                .as_deref()
                .filter(|n| !n.is_empty())
                .unwrap_or("(unnamed)");
            format!(
                "{name} {}/{}",
                p.port,
                effective_protocol(p.protocol.as_deref())
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Indexes objects by key; a key held by two different objects is an error and yields `None`.
pub(crate) fn unique_by_key<'a, T: PartialEq>(
    items: &'a [T],
    key_of: impl Fn(&T) -> ObjectKey,
    kind: Kind,
    diagnostics: &mut Vec<Diagnostic>,
) -> BTreeMap<ObjectKey, Option<&'a T>> {
    let mut index: BTreeMap<ObjectKey, Option<&'a T>> = BTreeMap::new();
    for item in items {
        let key = key_of(item);
        match index.get(&key) {
            None => {
                index.insert(key, Some(item));
            }
            Some(Some(seen)) if *seen == item => {}
            Some(Some(_)) => {
                diagnostics.push(
                    Diagnostic::new(
                        Reason::InvalidObject,
                        Severity::Error,
                        kind,
                        key.clone(),
                        "two different objects with this namespace and name in the input; neither is used",
                    )
                    .at("metadata.name"),
                );
                index.insert(key, None);
            }
            Some(None) => {}
        }
    }
    index
}

struct Translator<'a> {
    link: &'a Link,
    /// The source's Services, indexed once per call by borrowed `(namespace, name)`.
    source_services: BTreeMap<(&'a str, &'a str), &'a Service>,
    /// The source's Endpoints that this link does not own.
    foreign_endpoints: BTreeMap<(&'a str, &'a str), &'a ObjectMeta>,
    /// The source's namespaces; `None` when unknown (then every namespace exists).
    source_namespaces: Option<BTreeSet<&'a str>>,
    desired: Desired,
    exports: BTreeMap<ObjectKey, ExportOutcome>,
    diagnostics: Vec<Diagnostic>,
    export_diagnostics: BTreeMap<ObjectKey, Vec<Diagnostic>>,
    /// SPEC §3, §7: which export gets which name.
    claims: NameClaims,
    trace: Option<Trace>,
}

impl<'a> Translator<'a> {
    fn new(link: &'a Link, source: &'a SourceState) -> Self {
        let source_services = source
            .services
            .iter()
            .map(|s| (s.metadata.key_ref(), s))
            .collect();
        let foreign_endpoints = source
            .endpoints
            .iter()
            .filter(|e| !labels::is_owned_by(&e.metadata, link))
            .map(|e| (e.metadata.key_ref(), &e.metadata))
            .collect();
        let source_namespaces = source
            .namespaces
            .as_ref()
            .map(|all| all.iter().map(|ns| ns.metadata.name.as_str()).collect());
        Self {
            link,
            source_services,
            foreign_endpoints,
            source_namespaces,
            desired: Desired::default(),
            exports: BTreeMap::new(),
            diagnostics: Vec::new(),
            export_diagnostics: BTreeMap::new(),
            claims: NameClaims::default(),
            trace: None,
        }
    }

    /// Starts the decisions about `key`: recorded when it is the traced export.
    fn begin(&mut self, key: &ObjectKey) {
        if let Some(trace) = &mut self.trace {
            trace.active = &trace.key == key;
        }
    }

    fn end(&mut self) {
        if let Some(trace) = &mut self.trace {
            trace.active = false;
        }
    }

    fn tracing(&self) -> bool {
        self.trace.as_ref().is_some_and(|t| t.active)
    }

    fn note(&mut self, rule: &'static str, outcome: String) {
        if let Some(trace) = self.trace.as_mut().filter(|t| t.active) {
            trace.steps.push(Step { rule, outcome });
        }
    }

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
        self.diagnostics.sort();
        self.diagnostics.dedup();
        let steps = self
            .trace
            .take()
            .map(|trace| trace.steps)
            .unwrap_or_default();
        let translation = Translation {
            desired: self.desired,
            exports: self.exports,
            diagnostics: self.diagnostics,
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
        let holds = |key: &ObjectKey| {
            self.source_services.get(&key.key_ref()).is_some_and(|s| {
                labels::is_owned_by(&s.metadata, self.link)
                    && s.spec
                        .cluster_ip
                        .as_deref()
                        .is_some_and(|ip| ip.parse::<IpAddr>().is_ok())
            })
        };
        let decided = admission::admit(self.link, holds, &mut self.desired, &objects);
        for (export, admission) in decided {
            let Some(outcome) = self.exports.get_mut(&export) else {
                continue;
            };
            let diagnostic = match admission {
                admission::Admission::Refused(diagnostic) => {
                    *outcome = Self::not_mirrored();
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
            // Decided over the whole link, after the export's own steps: noted last.
            if let Some(trace) = self.trace.as_mut().filter(|t| t.key == export) {
                trace.steps.push(Step {
                    rule: "SPEC §8 limits",
                    outcome: format!("{} (LimitExceeded)", diagnostic.message),
                });
            }
            let found = self.export_diagnostics.entry(export).or_default();
            found.push(diagnostic.clone());
            found.sort();
            self.diagnostics.push(diagnostic);
        }
    }

    fn diag(
        &mut self,
        reason: Reason,
        severity: Severity,
        kind: Kind,
        key: &ObjectKey,
        msg: String,
    ) -> &mut Diagnostic {
        self.diagnostics
            .push(Diagnostic::new(reason, severity, kind, key.clone(), msg));
        self.diagnostics.last_mut().expect("just pushed")
    }

    fn not_mirrored() -> ExportOutcome {
        ExportOutcome::new(MirrorMode::NotMirrored, None)
    }

    /// SPEC §2 and §9: which selector exports `svc`, if any. Gateway mode wins over remote
    /// discovery when both match.
    fn select(&mut self, svc: &Service) -> Option<Selection> {
        let labels = &svc.metadata.labels;
        let (export, remote) = (
            self.link.export_selector(),
            self.link.remote_discovery_selector(),
        );
        let gateway = export.matches(labels);
        let flat = remote.matches(labels);
        step!(
            self,
            "SPEC §2 export selector",
            "{}",
            verdict(export, gateway)
        );
        step!(
            self,
            "SPEC §9 remote-discovery selector",
            "{}",
            verdict(remote, flat)
        );
        match (gateway, flat) {
            (true, true) => {
                let message = format!(
                    "matches both the export selector `{export}` and the remote-discovery selector \
                     `{remote}`; mirrored in gateway mode"
                );
                step!(self, "SPEC §9 both selectors", "{message} (InvalidService)");
                self.diag(
                    Reason::InvalidService,
                    Severity::Warning,
                    Kind::Service,
                    &svc.metadata.key(),
                    message,
                )
                .field = Some("metadata.labels".into());
                Some(Selection::Gateway)
            }
            (true, false) => Some(Selection::Gateway),
            (false, true) => Some(Selection::RemoteDiscovery),
            (false, false) => {
                let federated = self.link.federated_selector();
                let member = federated.matches(labels);
                step!(
                    self,
                    "SPEC §9 federated selector",
                    "{}{}",
                    verdict(federated, member),
                    if member {
                        ": a member of the federated Service, which `federate` computes across links"
                    } else {
                        ""
                    }
                );
                step!(
                    self,
                    "SPEC §2 not exported",
                    "no selector of this link exports it (labels: {})",
                    describe_labels(labels)
                );
                None
            }
        }
    }

    /// SPEC §12: the export's hostname policy — its `svcmirror.io/hostname-policy` annotation, or
    /// the link's default; an unknown value is an `InvalidObject` warning and the default is used.
    /// A policy that cannot route through the link's gateway falls back to `hostname` with an
    /// `InvalidService` warning (SPEC §12 routing constraint).
    fn hostname_policy(&mut self, svc: &Service) -> HostnamePolicy {
        let asked = self.asked_hostname_policy(svc);
        let (applied, unroutable) = routable_policy(asked, self.link.gateway_resolution());
        if let Some(why) = unroutable {
            step!(
                self,
                "SPEC §12 routing constraint",
                "{why} (InvalidService)"
            );
            let diagnostic = self.diag(
                Reason::InvalidService,
                Severity::Warning,
                Kind::Service,
                &svc.metadata.key(),
                why,
            );
            if svc
                .metadata
                .annotations
                .get(HOSTNAME_POLICY_ANNOTATION)
                .is_some()
            {
                diagnostic.field = Some(format!(
                    "metadata.annotations[{HOSTNAME_POLICY_ANNOTATION:?}]"
                ));
            }
        }
        applied
    }

    /// The policy the export asks for: its annotation, else the link's default.
    fn asked_hostname_policy(&mut self, svc: &Service) -> HostnamePolicy {
        let default = self.link.hostname_policy();
        let Some(value) = svc.metadata.annotations.get(HOSTNAME_POLICY_ANNOTATION) else {
            step!(
                self,
                "SPEC §12 hostname policy",
                "`{default}` (the link's default; no {HOSTNAME_POLICY_ANNOTATION} annotation)"
            );
            return default;
        };
        match value.parse::<HostnamePolicy>() {
            Ok(policy) => {
                step!(
                    self,
                    "SPEC §12 hostname policy",
                    "`{policy}` (annotation {HOSTNAME_POLICY_ANNOTATION})"
                );
                policy
            }
            Err(err) => {
                let message = format!("{err}; the link's default `{default}` is used");
                step!(
                    self,
                    "SPEC §12 hostname policy",
                    "{message} (InvalidObject)"
                );
                self.diag(
                    Reason::InvalidObject,
                    Severity::Warning,
                    Kind::Service,
                    &svc.metadata.key(),
                    message,
                )
                .field = Some(format!(
                    "metadata.annotations[{HOSTNAME_POLICY_ANNOTATION:?}]"
                ));
                default
            }
        }
    }

    /// One exported Service: the rules of SPEC §5, §6, §7, §9 and §12 in the order they decide.
    fn export(
        &mut self,
        svc: &Service,
        endpoints: Option<&Endpoints>,
        selection: Selection,
    ) -> ExportOutcome {
        let key = svc.metadata.key();
        let problems = validate::service_problems(svc);
        if !problems.is_empty() {
            step!(
                self,
                "SPEC §8 invalid input",
                "invalid {}: not mirrored (InvalidObject)",
                problems
                    .iter()
                    .filter_map(|d| d.field.as_deref())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            self.diagnostics.extend(problems);
            return Self::not_mirrored();
        }
        step!(self, "SPEC §8 invalid input", "the Service is valid");
        // SPEC §8 limits: checked before any mirror is built (pods × ports never materialised).
        let over = admission::export_limits(svc, endpoints, self.link);
        if let Some(first) = over.first() {
            step!(self, "SPEC §8 limits", "{} (LimitExceeded)", first.message);
            self.diagnostics.extend(over);
            return Self::not_mirrored();
        }
        if !self.namespace_ready(&key) {
            return Self::not_mirrored();
        }
        // SPEC §6.2 (and the API server for any Service): no ports, no mirror.
        if svc.spec.ports.is_empty() {
            step!(
                self,
                "SPEC §6.2 port-less rejection",
                "no spec.ports: not mirrored (NoPorts)"
            );
            self.diag(
                Reason::NoPorts,
                Severity::Error,
                Kind::Service,
                &key,
                "Skipped mirroring service: object spec has no exposed ports".into(),
            )
            .field = Some("spec.ports".into());
            return Self::not_mirrored();
        }
        step!(self, "SPEC §5 ports", "{}", describe_ports(&svc.spec.ports));
        if selection == Selection::RemoteDiscovery {
            return self.remote_discovery_export(svc);
        }
        // SPEC §2: a gateway-less link mirrors remote-discovery (and federated) exports only.
        if self.link.gateway_addresses().is_empty() {
            let message = "the link has no gateway address: it mirrors remote-discovery and \
                           federated exports only; this gateway-mode export is not mirrored"
                .to_owned();
            step!(self, "SPEC §2 gateway-less link", "{message} (NoGateway)");
            self.diag(
                Reason::NoGateway,
                Severity::Error,
                Kind::Service,
                &key,
                message,
            )
            .field = Some("metadata.labels".into());
            return Self::not_mirrored();
        }
        // SPEC §12: the policy names pods of a headless export only; every other export reads
        // hostnames exactly as before (Linkerd's behaviour).
        let policy = if svc.is_headless() {
            self.hostname_policy(svc)
        } else {
            HostnamePolicy::Hostname
        };
        let applied = if self.link.enable_headless_services() {
            policy
        } else {
            HostnamePolicy::Hostname
        };
        let mut ep_diags = Vec::new();
        let subsets = endpoints
            .map(|ep| validate::check_endpoints(ep, applied, &mut ep_diags))
            .unwrap_or_default();
        self.diagnostics.extend(ep_diags);

        if svc.is_headless() {
            step!(
                self,
                "SPEC §6.1 headless detection",
                "spec.clusterIP is \"None\": headless"
            );
            if !self.link.enable_headless_services() {
                // SPEC §6.8.
                step!(
                    self,
                    "SPEC §6.8 enable headless services",
                    "off on this link: mirrored as ClusterIP (MirroredAsClusterIp)"
                );
                self.diag(
                    Reason::MirroredAsClusterIp,
                    Severity::Warning,
                    Kind::Service,
                    &key,
                    "headless Service mirrored as ClusterIP: headless services are not enabled on this link".into(),
                );
                return self.clusterip_export(svc, &subsets);
            }
            step!(
                self,
                "SPEC §6.8 enable headless services",
                "on for this link"
            );
            // SPEC §6.3: wait for endpoints.
            let Some(endpoints) = endpoints.filter(|_| !subsets.is_empty()) else {
                step!(
                    self,
                    "SPEC §6.3 wait for endpoints",
                    "no Endpoints (or no subsets) yet: nothing is created until they exist"
                );
                return ExportOutcome::new(MirrorMode::WaitingForEndpoints, None);
            };
            // SPEC §6.4: the named-address rule.
            if !has_named_address(&subsets) {
                let why = if policy == HostnamePolicy::Skip {
                    "its hostname policy is `skip`, so no pod is named"
                } else {
                    "none of its endpoint addresses has a hostname"
                };
                step!(
                    self,
                    "SPEC §6.4 named-address rule",
                    "no named address under hostname policy `{policy}`: mirrored as ClusterIP \
                     (MirroredAsClusterIp)"
                );
                self.diag(
                    Reason::MirroredAsClusterIp,
                    Severity::Warning,
                    Kind::Service,
                    &key,
                    format!("headless Service mirrored as ClusterIP: {why}"),
                );
                return self.clusterip_export(svc, &subsets);
            }
            step!(
                self,
                "SPEC §6.4 named-address rule",
                "named addresses under hostname policy `{policy}`: {}; the root mirror is headless",
                describe_named(&subsets)
            );
            return self.headless_export(svc, endpoints, &subsets);
        }
        step!(
            self,
            "SPEC §6.1 headless detection",
            "spec.clusterIP is {:?}: not headless",
            svc.spec.cluster_ip.as_deref().unwrap_or("")
        );
        self.clusterip_export(svc, &subsets)
    }

    /// SPEC §9 remote discovery (flat network): a ClusterIP mirror only, no Endpoints — clients
    /// reach the target's pods directly — labelled with the cluster and the exported name.
    fn remote_discovery_export(&mut self, svc: &Service) -> ExportOutcome {
        let export = svc.metadata.key();
        if svc.is_headless() {
            // SPEC §9 (Linkerd differs): Linkerd silently drops a headless export in this mode
            // when headless services are enabled. Ours is mirrored as ClusterIP — in a flat
            // network the mirror still reaches the pods through remote discovery — and the
            // diagnostic says it has no per-pod names.
            step!(
                self,
                "SPEC §9 remote discovery, headless",
                "no per-pod mirrors in remote-discovery mode: mirrored as ClusterIP \
                 (MirroredAsClusterIp)"
            );
            self.diag(
                Reason::MirroredAsClusterIp,
                Severity::Warning,
                Kind::Service,
                &export,
                "headless Service mirrored as ClusterIP: remote-discovery mode has no per-pod mirrors (Linkerd drops it)".into(),
            );
        }
        let Some(name) = self.claim_name(&RemoteRef::mirror(&export), &svc.metadata.name, "mirror")
        else {
            return Self::not_mirrored();
        };
        let mut mirror = self.mirror_service(svc, &name.name, None);
        mirror.metadata.labels.insert(
            REMOTE_DISCOVERY_LABEL.to_owned(),
            self.link.cluster_name().as_str().to_owned(),
        );
        mirror
            .metadata
            .labels
            .insert(REMOTE_SERVICE.to_owned(), export.name.clone());
        step!(
            self,
            "SPEC §9 remote discovery",
            "ClusterIP mirror `{}` labelled {REMOTE_DISCOVERY_LABEL}={}, {REMOTE_SERVICE}={}; \
             no Endpoints",
            name.name,
            self.link.cluster_name(),
            export.name
        );
        self.desired.services.insert(mirror.metadata.key(), mirror);
        ExportOutcome::new(MirrorMode::RemoteDiscovery, Some(name.name))
    }

    /// SPEC §7: a missing source namespace is created (when allowed) or the export waits for it.
    fn namespace_ready(&mut self, key: &ObjectKey) -> bool {
        let exists = self
            .source_namespaces
            .as_ref()
            .is_none_or(|all| all.contains(key.namespace.as_str()));
        if exists {
            step!(
                self,
                "SPEC §7 namespace",
                "{:?} exists in the source cluster",
                key.namespace
            );
            return true;
        }
        if self.link.create_namespaces() {
            step!(
                self,
                "SPEC §7 namespace",
                "{:?} is missing: created (namespace creation is on)",
                key.namespace
            );
            let mut ns = Namespace::new(&key.namespace);
            ns.metadata.labels = labels::ownership_labels(self.link);
            self.desired.namespaces.insert(key.namespace.clone(), ns);
            return true;
        }
        step!(
            self,
            "SPEC §7 namespace",
            "{:?} is missing in the source cluster: not mirrored until it exists (NamespaceMissing)",
            key.namespace
        );
        self.diag(
            Reason::NamespaceMissing,
            Severity::Error,
            Kind::Service,
            key,
            format!(
                "namespace {:?} does not exist in the source cluster; mirrored once it is created",
                key.namespace
            ),
        );
        false
    }

    /// Picks a mirror name and claims it; `None` (with a diagnostic) when it is taken.
    fn claim_name(&mut self, claimant: &RemoteRef, base: &str, what: &str) -> Option<MirrorName> {
        let export = &claimant.export;
        let name = mirror_name(base, self.link.cluster_name());
        let key = ObjectKey::new(&export.namespace, &name.name);
        match &name.shortened_from {
            None => step!(self, "SPEC §3 names", "{what} `{}`", name.name),
            Some(full) => step!(
                self,
                "SPEC §3 names",
                "{what} `{}`, shortened from `{full}` (NameShortened)",
                name.name
            ),
        }
        if let Some(full) = &name.shortened_from {
            self.diag(
                Reason::NameShortened,
                Severity::Warning,
                Kind::Service,
                export,
                format!(
                    "{what} name {full:?} is longer than 63 characters or not a DNS-1035 label; using {:?}",
                    name.name
                ),
            );
        }
        // SPEC §7: a name held by an object we do not own is left alone, and so is its Endpoints.
        let foreign_service = self
            .source_services
            .get(&key.key_ref())
            .is_some_and(|s| !labels::is_owned_by(&s.metadata, self.link));
        if foreign_service || self.foreign_endpoints.contains_key(&key.key_ref()) {
            let kind = if foreign_service {
                Kind::Service
            } else {
                Kind::Endpoints
            };
            // Issue 14 cross-link names: when another link's mirror holds it, say which.
            let other_link = self
                .source_services
                .get(&key.key_ref())
                .and_then(|s| labels::other_link_mirror(&s.metadata, self.link))
                .or_else(|| {
                    self.foreign_endpoints
                        .get(&key.key_ref())
                        .and_then(|meta| labels::other_link_mirror(meta, self.link))
                });
            if let Some((cluster, of)) = other_link {
                let of = of.map_or_else(String::new, |k| format!(" of {k}"));
                step!(
                    self,
                    "SPEC §7 ownership",
                    "{kind} {key} is held by link `{cluster}`'s mirror{of}: {what} skipped \
                     (NameConflict)"
                );
                self.diag(
                    Reason::NameConflict,
                    Severity::Error,
                    kind,
                    &key,
                    format!(
                        "{what} for {export} needs this name, but it is held by link \
                         `{cluster}`'s mirror{of}; left alone (two links on this source whose \
                         cluster names end alike want the same names)"
                    ),
                );
                return None;
            }
            step!(
                self,
                "SPEC §7 ownership",
                "{kind} {key} exists and is not owned by this link: left alone, {what} skipped \
                 (NameConflict)"
            );
            self.diag(
                Reason::NameConflict,
                Severity::Error,
                kind,
                &key,
                format!(
                    "{what} for {export} needs this name, but the existing {kind} is not owned by \
                     this link (labels mirror.linkerd.io/mirrored-service=true, \
                     mirror.linkerd.io/cluster-name={}); left alone",
                    self.link.cluster_name()
                ),
            );
            return None;
        }
        // SPEC §7 sticky names, then the first in (namespace, name) order; SPEC §3: two desired
        // objects with one name (a hash collision included) are a conflict, never a merge.
        match self.claims.claim(&key, claimant) {
            Ok(()) => Some(name),
            Err(refusal) => {
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
                step!(
                    self,
                    "SPEC §7 sticky names",
                    "{key}: {why} {holder}: {what} skipped (NameConflict)"
                );
                self.diag(
                    Reason::NameConflict,
                    Severity::Error,
                    Kind::Service,
                    &key,
                    format!(
                        "{what} for {} needs this name, but {why} {holder}",
                        describe_ref(claimant)
                    ),
                );
                None
            }
        }
    }

    /// SPEC §5: a ClusterIP mirror pointing at the gateway.
    fn clusterip_export(&mut self, svc: &Service, subsets: &[CheckedSubset<'_>]) -> ExportOutcome {
        let export = svc.metadata.key();
        let Some(name) = self.claim_name(&RemoteRef::mirror(&export), &svc.metadata.name, "mirror")
        else {
            return Self::not_mirrored();
        };
        let mirror = self.mirror_service(svc, &name.name, None);
        let has_ready = subsets.iter().any(|s| !s.ready.is_empty());
        step!(
            self,
            "SPEC §5 ClusterIP export",
            "mirror `{}`; its Endpoints {}",
            name.name,
            if has_ready {
                "point at the gateway (the target has a ready address)"
            } else {
                "have no subsets (the target has no ready address)"
            }
        );
        let endpoints = self.gateway_endpoints(&mirror, has_ready, &svc.spec.ports);
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
        let Some(root_name) = self.claim_name(
            &RemoteRef::mirror(&export),
            &svc.metadata.name,
            "root mirror",
        ) else {
            return Self::not_mirrored();
        };
        let mut root = self.mirror_service(svc, &root_name.name, None);
        root.spec.cluster_ip = Some(CLUSTER_IP_NONE.to_owned());
        let mut root_ep = Endpoints::new(&export.namespace, &root_name.name);
        root_ep.metadata.labels.clone_from(&root.metadata.labels);
        root_ep.metadata.annotations = self.endpoints_annotations(&root);
        // SPEC §6.5: endpoint mirrors carry the root's labels plus the root's name, and the
        // root's ports: computed once per export, the labels shared by every endpoint mirror and
        // its Endpoints (a reference count each, see `StringMap`).
        let mut mirror_labels = root.metadata.labels.clone();
        mirror_labels.insert(HEADLESS_MIRROR_SVC_NAME.to_owned(), root_name.name.clone());
        let ports = root.spec.ports.clone();
        // The root is claimed before its endpoint mirrors so they cannot take its name.
        self.desired.services.insert(root.metadata.key(), root);

        let export_fq = labels::remote_fq_name(&svc.metadata.name, &export.namespace, self.link);
        let mut endpoint_mirrors: BTreeMap<&str, (String, Option<IpAddr>)> = BTreeMap::new();
        let named = self.named_ready_addresses(&export, subsets);
        let before = self.diagnostics.len();
        // SPEC §8 limits: cut before any endpoint mirror is built.
        let named =
            admission::limit_endpoint_mirrors(named, &export, self.link, &mut self.diagnostics);
        if self.diagnostics.len() > before {
            step!(
                self,
                "SPEC §8 limits",
                "{} (LimitExceeded)",
                self.diagnostics[before].message
            );
        }
        for (hostname, ip) in named {
            let claimant = RemoteRef::endpoint_mirror(&export, hostname);
            let Some(name) = self.claim_name(&claimant, hostname, "endpoint mirror") else {
                continue;
            };
            // SPEC §6.5: the root's labels plus the root's name; only the fq-name and
            // resource-version annotations (none copied from the exported Service).
            let mut mirror = Service::new(&export.namespace, &name.name);
            mirror.metadata.labels = mirror_labels.clone();
            mirror.spec.ports.clone_from(&ports);
            mirror.metadata.annotations = StringMap::from([(
                REMOTE_SVC_FQ_NAME.to_owned(),
                format!("{hostname}.{export_fq}"),
            )]);
            // SPEC §4 (issue 14, O(changed) writes): the target Endpoints' resourceVersion when
            // the endpoint mirror is created, then kept — one pod's change must not rewrite every
            // endpoint mirror of the export.
            let kept = self.kept_resource_version(&mirror.metadata, &claimant);
            if let Some(rv) = kept.or(endpoints.metadata.resource_version.as_deref()) {
                mirror
                    .metadata
                    .annotations
                    .insert(REMOTE_RESOURCE_VERSION.to_owned(), rv.to_owned());
            }
            let ep = self.gateway_endpoints(&mirror, true, &svc.spec.ports);
            let allocated = self.allocated_ip(&mirror);
            step!(
                self,
                "SPEC §6.5 endpoint mirror",
                "{hostname} ({ip}) → `{}`, Endpoints → gateway; root Endpoints {}",
                name.name,
                match allocated {
                    Some(ip) => format!("map {hostname} to its ClusterIP {ip} (SPEC §6.6)"),
                    None => format!(
                        "map {hostname} once the source allocated its ClusterIP (SPEC §6.6: next pass)"
                    ),
                }
            );
            self.insert(mirror, ep, &export.name);
            endpoint_mirrors.insert(hostname, (name.name, allocated));
        }

        root_ep.subsets = subsets
            .iter()
            .filter_map(|subset| self.root_subset(subset, &endpoint_mirrors))
            .collect();
        root_ep.subsets.sort();
        self.emit_endpoints(root_ep, &export.name);
        let mut outcome = ExportOutcome::new(MirrorMode::Headless, Some(root_name.name));
        outcome.endpoint_mirrors = endpoint_mirrors.into_values().map(|(n, _)| n).collect();
        outcome
    }

    /// The ready addresses with a valid hostname, one per hostname (SPEC §6.7: duplicates are a
    /// `HostnameConflict`; the lowest IP keeps the name, so the choice ignores input order).
    fn named_ready_addresses<'s>(
        &mut self,
        export: &ObjectKey,
        subsets: &'s [CheckedSubset<'_>],
    ) -> Vec<(&'s str, IpAddr)> {
        let mut named: Vec<(&'s str, IpAddr)> = subsets
            .iter()
            .flat_map(|s| &s.ready)
            .filter_map(|a| a.pod_name.as_deref().map(|h| (h, a.ip)))
            .collect();
        named.sort_unstable();
        named.dedup();
        let mut out: Vec<(&'s str, IpAddr)> = Vec::with_capacity(named.len());
        for (hostname, ip) in named {
            if let Some((_, kept)) = out.last().filter(|(h, _)| *h == hostname) {
                let kept = *kept;
                step!(
                    self,
                    "SPEC §6.7 duplicate hostnames",
                    "{hostname:?} is used by {kept} and {ip}: one endpoint mirror, for {kept} \
                     (HostnameConflict)"
                );
                self.diag(
                    Reason::HostnameConflict,
                    Severity::Warning,
                    Kind::Endpoints,
                    export,
                    format!(
                        "hostname {hostname:?} is used by {kept} and {ip}; one endpoint mirror, for {kept}"
                    ),
                );
                continue;
            }
            out.push((hostname, ip));
        }
        out
    }

    /// SPEC §6.6: the subset's named ready addresses whose endpoint mirror has an IP, with the
    /// subset's own ports; `None` when no address is left.
    fn root_subset(
        &self,
        subset: &CheckedSubset<'_>,
        endpoint_mirrors: &BTreeMap<&str, (String, Option<IpAddr>)>,
    ) -> Option<EndpointSubset> {
        let mut addresses: Vec<EndpointAddress> = subset
            .ready
            .iter()
            .filter_map(|a: &CheckedAddress<'_>| {
                let hostname = a.pod_name.as_deref()?;
                let (_, ip) = endpoint_mirrors.get(hostname)?;
                // SPEC §6.6 (Linkerd differs): always `hostname`, never `targetRef.name` — the
                // pod's name under the export's hostname policy (SPEC §12).
                Some(EndpointAddress {
                    ip: ip.as_ref()?.to_string(),
                    hostname: Some(hostname.to_owned()),
                    ..EndpointAddress::default()
                })
            })
            .collect();
        if addresses.is_empty() {
            return None;
        }
        addresses.sort();
        addresses.dedup();
        let mut ports: Vec<EndpointPort> = subset.ports.iter().map(|p| (*p).clone()).collect();
        ports.sort();
        // SPEC §6.6: the hostname records stay in `addresses` while the gateway is down (only the
        // gateway addresses of §5 go not-ready): pod names keep resolving, and no negative DNS
        // answer is cached during a short outage (Linkerd's creation path: "always ready").
        Some(EndpointSubset {
            addresses,
            not_ready_addresses: Vec::new(),
            ports,
        })
    }

    /// The `remote-resource-version` of our observed endpoint mirror at `mirror`'s name, when it
    /// serves `claimant` already (SPEC §4: set at creation, then kept).
    fn kept_resource_version(&self, mirror: &ObjectMeta, claimant: &RemoteRef) -> Option<&'a str> {
        let svc = self.source_services.get(&mirror.key_ref())?;
        if labels::remote_ref(&svc.metadata, self.link).as_ref() != Some(claimant) {
            return None;
        }
        svc.metadata
            .annotations
            .get(REMOTE_RESOURCE_VERSION)
            .map(String::as_str)
    }

    /// The ClusterIP the source allocated to our endpoint mirror `mirror`, if it exists already.
    fn allocated_ip(&self, mirror: &Service) -> Option<IpAddr> {
        let svc = self.source_services.get(&mirror.metadata.key_ref())?;
        if !labels::is_owned_by(&svc.metadata, self.link) {
            return None;
        }
        svc.spec.cluster_ip.as_deref()?.parse().ok()
    }

    /// A mirror Service (SPEC §4–§5): labels and annotations copied as the spec says, ports reduced to
    /// name/protocol/port/targetPort with the API server's defaults, no selector, no clusterIP.
    fn mirror_service(&self, svc: &Service, name: &str, root: Option<&str>) -> Service {
        let export = svc.metadata.key();
        let mut mirror = Service::new(&export.namespace, name);
        mirror.metadata.labels = labels::mirror_labels(&svc.metadata.labels, self.link);
        if let Some(root) = root {
            mirror
                .metadata
                .labels
                .insert(HEADLESS_MIRROR_SVC_NAME.to_owned(), root.to_owned());
        }
        let mut annotations = labels::copied_annotations(&svc.metadata.annotations, self.link);
        annotations.insert(
            REMOTE_SVC_FQ_NAME.to_owned(),
            labels::remote_fq_name(&export.name, &export.namespace, self.link),
        );
        if let Some(rv) = &svc.metadata.resource_version {
            annotations.insert(REMOTE_RESOURCE_VERSION.to_owned(), rv.clone());
        }
        mirror.metadata.annotations = annotations;
        mirror.spec.ports = svc.spec.ports.iter().map(mirror_port).collect();
        mirror
    }

    fn endpoints_annotations(&self, mirror: &Service) -> StringMap {
        let mut annotations = BTreeMap::new();
        if let Some(fq) = mirror.metadata.annotations.get(REMOTE_SVC_FQ_NAME) {
            annotations.insert(REMOTE_SVC_FQ_NAME.to_owned(), fq.clone());
        }
        if let Some(identity) = self.link.gateway_identity() {
            annotations.insert(REMOTE_GATEWAY_IDENTITY.to_owned(), identity.to_owned());
        }
        annotations.into()
    }

    /// SPEC §5: one subset of gateway addresses with one gateway-port entry per Service port, when
    /// the target has a ready address; otherwise no subsets. Gateway down: not ready.
    fn gateway_endpoints(
        &self,
        mirror: &Service,
        has_ready: bool,
        ports: &[ServicePort],
    ) -> Endpoints {
        let mut ep = Endpoints::new(mirror.metadata.namespace(), &mirror.metadata.name);
        ep.metadata.labels.clone_from(&mirror.metadata.labels);
        ep.metadata.annotations = self.endpoints_annotations(mirror);
        if has_ready {
            let addresses: Vec<EndpointAddress> = self
                .link
                .gateway_addresses()
                .iter()
                .map(|ip| EndpointAddress {
                    ip: ip.to_string(),
                    ..EndpointAddress::default()
                })
                .collect();
            let mut ports: Vec<EndpointPort> = ports
                .iter()
                .map(|p| EndpointPort {
                    name: p.name.clone().filter(|n| !n.is_empty()),
                    port: i32::from(self.link.gateway_port()),
                    protocol: Some(effective_protocol(p.protocol.as_deref()).to_owned()),
                    app_protocol: None,
                })
                .collect();
            ports.sort();
            let (addresses, not_ready_addresses) = if self.link.gateway_alive() {
                (addresses, Vec::new())
            } else {
                (Vec::new(), addresses)
            };
            ep.subsets = vec![EndpointSubset {
                addresses,
                not_ready_addresses,
                ports,
            }];
        }
        ep
    }

    fn insert(&mut self, svc: Service, ep: Endpoints, exported: &str) {
        self.desired.services.insert(svc.metadata.key(), svc);
        self.emit_endpoints(ep, exported);
    }

    /// SPEC §12: a mirror's Endpoints as the link's endpoint API asks — the Endpoints, their
    /// EndpointSlices, or both (the Endpoints then labelled `skip-mirror`, so Kubernetes'
    /// mirroring controller does not publish every endpoint a second time).
    fn emit_endpoints(&mut self, mut ep: Endpoints, exported: &str) {
        let api = self.link.endpoints_api();
        if api.writes_slices() {
            let slices = endpoint_slices(&ep, exported, self.link);
            step!(
                self,
                "SPEC §12 EndpointSlices",
                "Endpoints `{}` as {}",
                ep.metadata.name,
                if slices.is_empty() {
                    "no slice (no address)".to_owned()
                } else {
                    slices
                        .iter()
                        .map(|s| {
                            format!(
                                "`{}` ({}, {} endpoints)",
                                s.metadata.name,
                                s.address_type,
                                s.endpoints.len()
                            )
                        })
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            );
            for slice in slices {
                let key = slice.metadata.key();
                // SPEC §3: two slices with one name (a hash collision of shortened names) are a
                // conflict for the later one, never a silent overwrite.
                if let Some(earlier) = self.desired.endpoint_slices.get(&key) {
                    let of = |s: &crate::model::EndpointSlice| {
                        s.metadata
                            .labels
                            .get(SLICE_SERVICE_NAME)
                            .cloned()
                            .unwrap_or_default()
                    };
                    let message = format!(
                        "EndpointSlice of {} needs this name, but the EndpointSlice of {} already \
                         uses it",
                        of(&slice),
                        of(earlier)
                    );
                    self.diag(
                        Reason::NameConflict,
                        Severity::Error,
                        Kind::EndpointSlice,
                        &key,
                        message,
                    );
                    continue;
                }
                self.desired.endpoint_slices.insert(key, slice);
            }
        }
        if api.writes_endpoints() {
            if api.writes_slices() {
                ep.metadata
                    .labels
                    .insert(SKIP_MIRROR.to_owned(), "true".to_owned());
            }
            self.desired.endpoints.insert(ep.metadata.key(), ep);
        }
    }
}

/// SPEC §6.4: some address, ready or not, has a (valid) hostname — under the export's hostname
/// policy (SPEC §12), its pod name.
fn has_named_address(subsets: &[CheckedSubset<'_>]) -> bool {
    subsets
        .iter()
        .flat_map(|s| s.ready.iter().chain(&s.not_ready))
        .any(|a| a.pod_name.is_some())
}

/// For `explain`: every named address as `name (ip, ready|not ready, from <field>)`.
fn describe_named(subsets: &[CheckedSubset<'_>]) -> String {
    let ready = subsets
        .iter()
        .flat_map(|s| s.ready.iter().map(|a| (a, "ready")));
    let not_ready = subsets
        .iter()
        .flat_map(|s| s.not_ready.iter().map(|a| (a, "not ready")));
    let mut named: Vec<String> = ready
        .chain(not_ready)
        .filter_map(|(a, state)| {
            let name = a.pod_name.as_deref()?;
            let from = a.source.map_or("hostname", |s| s.field());
            Some(format!("{name} ({}, {state}, from {from})", a.ip))
        })
        .collect();
    named.sort();
    named.join(", ")
}

/// For messages: `ns/name` of an export, or `pod <hostname> of ns/name`.
fn describe_ref(r: &RemoteRef) -> String {
    match &r.hostname {
        Some(hostname) => format!("pod {hostname} of {}", r.export),
        None => r.export.to_string(),
    }
}

/// SPEC §5: a mirror port keeps name, protocol, port and targetPort, with the defaults the API
/// server fills in (`TCP`, `targetPort = port`) so a re-read mirror compares equal.
pub(crate) fn mirror_port(port: &ServicePort) -> ServicePort {
    ServicePort {
        name: port.name.clone().filter(|n| !n.is_empty()),
        protocol: Some(effective_protocol(port.protocol.as_deref()).to_owned()),
        port: port.port,
        target_port: Some(
            port.target_port
                .clone()
                .unwrap_or(IntOrString::Int(port.port)),
        ),
        node_port: None,
        app_protocol: None,
    }
}
