//! The whole-link reconcile (translate → plan → apply on the fake) and the invariants every pass
//! of it must keep: the fake accepts everything planned, no live mirror is repurposed, no steering
//! key is copied, nothing foreign is touched; and its contract: an empty plan within the bound,
//! with no orphan left (SPEC §6.6, §7).

use std::collections::{BTreeMap, BTreeSet};

use svcmirror_core::labels::parse_remote_fq_name;
use svcmirror_core::model::{Kind, ObjectKey};
use svcmirror_core::{
    Apply, Desired, Diagnostic, DriveError, Driven, ExportOutcome, LabelSelector, Link, MirrorMode,
    Operation, Plan, Reason, Refusal, Severity, SourceState, TargetState, Translation, drive,
    drive_federated, is_dns1123_label, mirror_name,
};
use svcmirror_fake::FakeCluster;

use crate::fields::{annotations, fq_name, labels};
use crate::finding::{Check, Finding};
use crate::ownership::{Owner, find, foreign_objects, foreign_unchanged, nothing_foreign_touched};

/// SPEC §6.6: translate → plan → apply reaches an empty plan after at most two non-empty plans
/// (the second points a headless root at the ClusterIPs the source allocated in the first): the
/// core's [`svcmirror_core::MAX_PASSES`], the bound [`drive`] keeps.
pub const CONTRACT_PASSES: usize = svcmirror_core::MAX_PASSES;

/// The value generators give target labels and annotations under a deny-listed key (SPEC §4), so
/// that [`no_steering_key_copied`] can tell a copied value from one svcmirror sets itself.
pub const STEERING_MARKER: &str = "steer-me";

/// SPEC §4 copy deny-list: keys that change how Kubernetes, kube-proxy, EndpointSlice mirroring
/// or Linkerd treat an object.
#[must_use]
pub fn is_steering_key(key: &str) -> bool {
    const PREFIXES: [&str; 4] = [
        "mirror.linkerd.io/",
        "multicluster.linkerd.io/",
        "endpointslice.kubernetes.io/",
        "service.kubernetes.io/",
    ];
    key == "kubernetes.io/service-name" || PREFIXES.iter().any(|p| key.starts_with(p))
}

/// Applies `plan` to `fake` in order.
///
/// # Errors
/// [`Check::FakeRefused`] at the first operation the fake (the API server's rules) refuses.
pub fn apply_accepted(fake: &mut FakeCluster, plan: &Plan) -> Result<(), Finding> {
    for op in &plan.operations {
        fake.apply(op).map_err(|e| {
            Finding::new(
                Check::FakeRefused,
                format!(
                    "the fake refused planned {} {} {}: {e}",
                    op.action(),
                    op.kind(),
                    op.key()
                ),
            )
        })?;
    }
    Ok(())
}

/// Whether the object at `key`, whose `remote-svc-fq-name` is `fq`, serves a live export: one that
/// still wants mirror objects (SPEC §7: a name stays with its export *while it is desired*; an
/// export waiting for Endpoints, or refused, wants none, and its names may go to a newcomer by a
/// delete and re-create). An endpoint mirror's name is wanted while its export still lists it.
pub(crate) fn serves_live_export(
    link: &Link,
    exports: &BTreeMap<ObjectKey, ExportOutcome>,
    fq: &str,
    key: &ObjectKey,
) -> bool {
    // SPEC §4: the core's own decoder of what it wrote.
    let Some(remote) = parse_remote_fq_name(fq, link.cluster_domain()) else {
        return false;
    };
    let Some(outcome) = exports.get(&remote.export) else {
        return false;
    };
    let wants_objects = !matches!(
        outcome.mode,
        MirrorMode::WaitingForEndpoints | MirrorMode::NotMirrored
    );
    // The object is what its fq says only if that fq names it: a mirror is named after its
    // export, an endpoint mirror after its pod (SPEC §3, §6). An fq that names another object (a
    // forged or hand-edited annotation, finding F17: a 64-character "hostname" no pod can have)
    // serves nobody, and correcting it repurposes nothing.
    let named_after = remote.hostname.as_deref().unwrap_or(&remote.export.name);
    if !is_dns1123_label(named_after)
        || mirror_name(named_after, link.cluster_name()).name != key.name
    {
        return false;
    }
    let endpoint_mirror = remote.hostname.is_some();
    wants_objects && (!endpoint_mirror || outcome.endpoint_mirrors.contains(&key.name))
}

/// SPEC §7 "Sticky names": no plan changes which export a live mirror serves. An update of an
/// owned object — or a delete and re-create of it in one plan — must not change its
/// `remote-svc-fq-name` away from an export that is still exported (`exports`, the translation's
/// exports: every Service the link selects, mirrored or denied).
///
/// # Errors
/// [`Check::MirrorRepurposed`], naming the object, the export it served and the new one.
pub fn no_live_mirror_repurposed(
    link: &Link,
    source: &SourceState,
    exports: &BTreeMap<ObjectKey, ExportOutcome>,
    plan: &Plan,
) -> Result<(), Finding> {
    let live = |fq: &str, key: &ObjectKey| serves_live_export(link, exports, fq, key);
    let owner = Owner::Link(link);
    // What a delete freed in this plan: (kind, key) → the fq name it served.
    let mut freed: BTreeMap<(Kind, ObjectKey), String> = BTreeMap::new();
    for op in &plan.operations {
        let id = (op.kind(), op.key());
        let before = match op {
            Operation::Update { .. } => find(source, id.0, &id.1)
                .filter(|o| owner.owns(o))
                .and_then(|o| fq_name(&o).cloned()),
            Operation::Create { .. } => freed.remove(&id),
            Operation::Delete { kind, key, .. } => {
                if let Some(fq) = find(source, *kind, key).as_ref().and_then(fq_name) {
                    freed.insert(id.clone(), fq.clone());
                }
                None
            }
            _ => None,
        };
        let after = match op {
            Operation::Update { object, .. } | Operation::Create { object } => fq_name(object),
            _ => None,
        };
        if let (Some(was), Some(now)) = (before, after)
            && &was != now
            && live(&was, &id.1)
        {
            return Err(Finding::new(
                Check::MirrorRepurposed,
                format!(
                    "{} of {} {} moves it from {was} (still exported) to {now}",
                    op.action(),
                    id.0,
                    id.1
                ),
            ));
        }
    }
    Ok(())
}

/// SPEC §4 copy deny-list: no desired object carries a deny-listed label or annotation whose
/// value is [`STEERING_MARKER`] (which only a target object can have put there).
///
/// # Errors
/// [`Check::SteeringKeyCopied`], naming the object and the key.
pub fn no_steering_key_copied(desired: &Desired) -> Result<(), Finding> {
    for object in desired.objects() {
        let maps = [
            ("label", Some(labels(&object))),
            ("annotation", annotations(&object)),
        ];
        for (what, map) in maps.into_iter().filter_map(|(w, m)| Some((w, m?))) {
            if let Some((k, _)) = map
                .iter()
                .find(|(k, v)| v.as_str() == STEERING_MARKER && is_steering_key(k))
            {
                return Err(Finding::new(
                    Check::SteeringKeyCopied,
                    format!(
                        "{} {} carries the target's {what} {k:?}",
                        object.kind(),
                        object.key()
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// SPEC §7 "Orphans": after a converged reconcile every object `owner` owns in `source` is
/// desired (Namespaces excepted: a created namespace is left in place; for the federation only
/// Services: it writes nothing else, SPEC §9).
///
/// # Errors
/// [`Check::Orphan`], naming the object.
pub fn no_orphan(owner: Owner<'_>, desired: &Desired, source: &SourceState) -> Result<(), Finding> {
    let keys = desired.keys();
    match source
        .objects()
        .into_iter()
        .filter(|o| match owner {
            Owner::Link(_) => o.kind() != Kind::Namespace,
            Owner::Federation => o.kind() == Kind::Service,
        })
        .filter(|o| owner.owns(o))
        .find(|o| !keys.contains(&(o.kind(), o.key())))
    {
        Some(o) => Err(Finding::new(
            Check::Orphan,
            format!("{} {} survived a converged reconcile", o.kind(), o.key()),
        )),
        None => Ok(()),
    }
}

/// One non-empty pass of a [`converge`]: what the source held, and the plan made from it.
#[derive(Debug, Clone)]
pub struct Pass {
    /// The source the plan was made from.
    pub source: SourceState,
    /// The plan (applied).
    pub plan: Plan,
}

/// How a [`converge`] ended.
#[derive(Debug, Clone)]
pub struct Converged {
    /// Non-empty plans applied before the plan was empty.
    pub passes: usize,
    /// The source once converged.
    pub source: SourceState,
    /// The translation that planned nothing.
    pub translation: Translation,
    /// Every non-empty pass, in order.
    pub steps: Vec<Pass>,
    /// False when it stopped at a refusal of the fake that the checks skip (a known finding):
    /// the source is then not what the link wants.
    pub complete: bool,
}

/// Which invariants [`converge_checking`] checks: all of them, or all but some — a test that
/// must stay green while a known finding is fixed on another branch says which one it skips.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Checks {
    skipped: BTreeSet<Check>,
}

impl Checks {
    /// Every check.
    #[must_use]
    pub fn all() -> Self {
        Self::default()
    }

    /// The same checks but `check`.
    #[must_use]
    pub fn except(mut self, check: Check) -> Self {
        self.skipped.insert(check);
        self
    }

    /// Whether `check` runs.
    #[must_use]
    pub fn runs(&self, check: Check) -> bool {
        !self.skipped.contains(&check)
    }

    /// `result` unless its finding is of a skipped check.
    ///
    /// # Errors
    /// The finding of a check that runs.
    pub fn filter(&self, result: Result<(), Finding>) -> Result<(), Finding> {
        match result {
            Err(f) if self.runs(f.check) => Err(f),
            _ => Ok(()),
        }
    }
}

/// The whole-link reconcile of `link` for `target` on `fake`: the core's [`drive`] (the one
/// translate → plan → apply loop), checking on every pass: [`no_steering_key_copied`],
/// [`nothing_foreign_touched`], [`no_live_mirror_repurposed`], [`apply_accepted`]; and at the
/// end: an empty plan after at most `bound` non-empty ones — and never more than the core's
/// contract, [`CONTRACT_PASSES`], which [`drive`] enforces from any start state —, [`no_orphan`],
/// [`foreign_unchanged`].
///
/// # Errors
/// The first [`Finding`].
pub fn converge(
    link: &Link,
    target: &TargetState,
    fake: &mut FakeCluster,
    bound: usize,
) -> Result<Converged, Finding> {
    converge_checking(link, target, fake, bound, &Checks::all())
}

/// [`converge`] with only the `checks` that run (the bound is always checked).
///
/// # Errors
/// The first [`Finding`] of a check that runs.
pub fn converge_checking(
    link: &Link,
    target: &TargetState,
    fake: &mut FakeCluster,
    bound: usize,
    checks: &Checks,
) -> Result<Converged, Finding> {
    converge_with(Owner::Link(link), checks, fake, bound, |checked| {
        drive(link, target, checked)
    })
}

/// [`converge_checking`] for the federated Services (SPEC §9): [`federate`](svcmirror_core::federate) every link's target (and the
/// local members) → [`plan_federated`](svcmirror_core::plan_federated) → apply, with the federation's ownership; the per-link
/// repurposing check does not apply (a federated Service serves a name, not one export).
///
/// # Errors
/// The first [`Finding`].
pub fn converge_federated(
    remotes: &[(&Link, &TargetState)],
    local: Option<(&LabelSelector, &TargetState)>,
    fake: &mut FakeCluster,
    bound: usize,
    checks: &Checks,
) -> Result<Converged, Finding> {
    converge_with(Owner::Federation, checks, fake, bound, |checked| {
        drive_federated(remotes, local, checked)
    })
}

fn converge_with(
    owner: Owner<'_>,
    checks: &Checks,
    fake: &mut FakeCluster,
    bound: usize,
    drive: impl FnOnce(&mut Checked<'_, '_>) -> Result<Driven, DriveError<Finding>>,
) -> Result<Converged, Finding> {
    let foreign_before = foreign_objects(owner, &fake.state());
    let mut checked = Checked {
        fake,
        owner,
        checks,
        bound,
        steps: Vec::new(),
        last: None,
        finding: None,
        stopped: false,
    };
    let driven = drive(&mut checked);
    let Checked {
        fake,
        steps,
        last,
        finding,
        stopped,
        ..
    } = checked;
    if let Some(finding) = finding {
        return Err(finding);
    }
    match driven {
        Ok(_) => {}
        Err(DriveError::Failed { error, .. }) => return Err(error),
        // SPEC §6.6: the core's own bound ([`MAX_PASSES`]) was broken.
        Err(e) => return Err(Finding::new(Check::NoConvergence, e.to_string())),
    }
    let Some((source, translation)) = last else {
        return Err(Finding::new(
            Check::NoConvergence,
            "the drive translated nothing".to_owned(),
        ));
    };
    if stopped {
        return Ok(Converged {
            passes: steps.len(),
            source: fake.state(),
            translation,
            steps,
            complete: false,
        });
    }
    checks.filter(no_orphan(owner, &translation.desired, &source))?;
    checks.filter(foreign_unchanged(
        &foreign_before,
        &foreign_objects(owner, &source),
    ))?;
    Ok(Converged {
        passes: steps.len(),
        source,
        translation,
        steps,
        complete: true,
    })
}

/// The fake as [`drive`] sees it, checking every pass: each translation in
/// [`Apply::translated`], each plan in [`Apply::planned`] before it is applied. A finding ends
/// the drive (the plan is emptied, so the core's loop returns) and is reported by
/// [`converge_with`]; so does a refusal the checks skip, after the rest of its plan is applied
/// as a controller would.
struct Checked<'f, 'l> {
    fake: &'f mut FakeCluster,
    owner: Owner<'l>,
    checks: &'f Checks,
    bound: usize,
    steps: Vec<Pass>,
    /// The last translation checked, and the source it was made from.
    last: Option<(SourceState, Translation)>,
    finding: Option<Finding>,
    /// A refusal of the fake that the checks skip stopped the reconcile.
    stopped: bool,
}

impl Checked<'_, '_> {
    fn ended(&self) -> bool {
        self.finding.is_some() || self.stopped
    }

    /// The first finding of the checks that run on `plan`, which `source` was planned from.
    fn check_plan(&self, source: &SourceState, plan: &Plan) -> Result<(), Finding> {
        let checks = self.checks;
        if self.steps.len() == self.bound {
            let still: Vec<String> = plan
                .operations
                .iter()
                .map(|op| format!("{} {} {}", op.action(), op.kind(), op.key()))
                .collect();
            return Err(Finding::new(
                Check::NoConvergence,
                format!(
                    "no empty plan after {} passes; still planned: {still:?}",
                    self.bound
                ),
            ));
        }
        checks.filter(nothing_foreign_touched(self.owner, source, plan))?;
        if let (Owner::Link(link), Some((_, translation))) = (self.owner, &self.last) {
            checks.filter(no_live_mirror_repurposed(
                link,
                source,
                &translation.exports,
                plan,
            ))?;
        }
        checks.filter(no_delete_after_create(plan))
    }
}

impl Apply for Checked<'_, '_> {
    type Error = Finding;

    fn list(&mut self) -> SourceState {
        self.fake.state()
    }

    fn translated(&mut self, source: &SourceState, translation: &Translation) {
        if self.ended() {
            return;
        }
        if let Err(f) = self
            .checks
            .filter(no_steering_key_copied(&translation.desired))
        {
            self.finding = Some(f);
            return;
        }
        self.last = Some((source.clone(), translation.clone()));
    }

    fn planned(&mut self, source: &SourceState, _: &mut Vec<Diagnostic>, plan: &mut Plan) {
        if !self.ended() && !plan.is_empty() {
            match self.check_plan(source, plan) {
                Ok(()) => self.steps.push(Pass {
                    source: source.clone(),
                    plan: plan.clone(),
                }),
                Err(f) => self.finding = Some(f),
            }
        }
        if self.ended() {
            // Nothing more is applied: an empty plan ends the drive.
            plan.operations.clear();
            plan.dependencies.clear();
        }
    }

    fn apply(&mut self, operation: Operation) -> Result<(), Refusal<Finding>> {
        let (action, kind, key) = (operation.action(), operation.kind(), operation.key());
        match self.fake.apply_owned(operation) {
            Ok(()) => Ok(()),
            Err(e) if self.checks.runs(Check::FakeRefused) => Err(Refusal::Failed(Finding::new(
                Check::FakeRefused,
                format!("the fake refused planned {action} {kind} {key}: {e}"),
            ))),
            // A known refusal (its check skipped): the rest of the plan is applied as a
            // controller would, and the reconcile is not judged further.
            Err(e) => {
                self.stopped = true;
                Err(Refusal::Refused(Diagnostic::new(
                    Reason::InvalidObject,
                    Severity::Error,
                    kind,
                    key,
                    e.to_string(),
                )))
            }
        }
    }
}

/// Within one plan, an object is never deleted after it was created (SPEC §7 "Type flip":
/// delete, then create).
fn no_delete_after_create(p: &Plan) -> Result<(), Finding> {
    let mut created: BTreeSet<(Kind, ObjectKey)> = BTreeSet::new();
    for op in &p.operations {
        match op {
            Operation::Create { object } => {
                created.insert((object.kind(), object.key()));
            }
            Operation::Delete { kind, key, .. } if created.contains(&(*kind, key.clone())) => {
                return Err(Finding::new(
                    Check::NoConvergence,
                    format!("{kind} {key} deleted after it was created in the same plan"),
                ));
            }
            _ => {}
        }
    }
    Ok(())
}
