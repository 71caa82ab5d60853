//! "An incremental reconcile equals a whole-link one": the backend's reconcile
//! [`Driver`] on two fakes, fed a sequence of target changes one event at a time (each reconciled
//! for the one export it concerns, ARCHITECTURE.md "one export per event"), leaves the source
//! after every step exactly as a whole-link translate → plan → apply ([`converge`](crate::converge)) from the same
//! start would — and its writes keep the ownership and sticky-name invariants.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use futures::executor::block_on;
use futures::future::BoxFuture;
use svcmirror_backend::{Clock, Driver, Precondition, ReconcileOutcome, TargetEvent};
use svcmirror_core::model::{Endpoints, Kind, Object, ObjectKey, Service};
use svcmirror_core::{ExportOutcome, Link, SourceState, SourceStore, SourceView};
use svcmirror_fake::{FakeCluster, FakeHandle, WatchEvent};

use crate::fields::fq_name;
use crate::finding::{Check, Finding};
use crate::ownership::{Owner, find};
use crate::reconcile::{CONTRACT_PASSES, Checks, converge_checking};

/// One change in the target cluster, or one action of the loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Create or replace a Service (a headless ↔ ClusterIP change deletes and re-creates it, as
    /// users must: `clusterIP` is immutable); the driver is told `ServiceApplied`.
    ApplyService(Service),
    /// Delete a Service; the driver is told `ServiceDeleted`.
    DeleteService(ObjectKey),
    /// Create or replace an Endpoints object; the driver is told `EndpointsApplied`.
    ApplyEndpoints(Endpoints),
    /// Delete an Endpoints object; the driver is told `EndpointsDeleted`.
    DeleteEndpoints(ObjectKey),
    /// The periodic resync: relist both clusters, reconcile the whole link.
    Resync,
    /// The watch restarted: the driver is handed the whole target (`Restarted`).
    Restart,
}

/// What [`incremental_equals_whole_link`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Incremental {
    /// Steps handed to the driver.
    pub handled: usize,
    /// Steps the target refused (an invalid object, a missing namespace, a delete of nothing):
    /// no event, as in a real cluster.
    pub skipped: usize,
}

/// A clock that never waits: without fault injection the driver only sleeps between retries.
struct InstantClock;

impl Clock for InstantClock {
    fn sleep(&self, _: Duration) -> BoxFuture<'static, ()> {
        Box::pin(futures::future::ready(()))
    }
}

/// Runs `steps` through a [`Driver`] between `source` and `target` (after a first whole-link
/// resync), and after every step checks:
/// - the reconcile completed (every operation the driver wrote was accepted);
/// - its writes touched only objects of this link (created with its labels, no create on a
///   foreign Service/Endpoints name, no update or delete of anything foreign) and repurposed no
///   live mirror ([`no_live_mirror_repurposed`](crate::no_live_mirror_repurposed), on the
///   source's write history);
/// - the source equals, up to server-set fields (uid, resourceVersion, creationTimestamp), what
///   [`converge`](crate::converge) — the whole link, with all of its checks — makes of the state before the step;
/// - the driver's cache is what the source holds.
///
/// # Errors
/// The first [`Finding`].
pub fn incremental_equals_whole_link(
    link: &Link,
    source: FakeCluster,
    target: FakeCluster,
    steps: &[Step],
    checks: &Checks,
) -> Result<Incremental, Finding> {
    let source = FakeHandle::new(source);
    let target = FakeHandle::new(target);
    let mut driver: FakeDriver =
        Driver::new(link.clone(), source.clone(), target.clone(), InstantClock);
    let mut report = Incremental::default();
    let step_result = |driver: &mut FakeDriver, what: &str, run: Run| {
        let before = source.lock().state();
        let rv = source.lock().resource_version();
        let outcome = match run {
            Run::Event(event) => block_on(driver.handle(*event)),
            Run::Resync => block_on(driver.resync()).map_err(|e| {
                Finding::new(Check::FakeRefused, format!("{what}: a list failed: {e}"))
            })?,
        };
        check_step(
            link, checks, what, &before, rv, &outcome, driver, &source, &target,
        )
    };
    step_result(&mut driver, "the first resync", Run::Resync)?;
    for (i, step) in steps.iter().enumerate() {
        let Some(run) = apply_to_target(&mut target.lock(), step) else {
            report.skipped += 1;
            continue;
        };
        report.handled += 1;
        step_result(&mut driver, &format!("step {i} ({})", describe(step)), run)?;
    }
    Ok(report)
}

/// What the driver is asked to do for one step.
enum Run {
    Event(Box<TargetEvent>),
    Resync,
}

fn describe(step: &Step) -> String {
    match step {
        Step::ApplyService(s) => format!("apply Service {}", s.metadata.key()),
        Step::DeleteService(k) => format!("delete Service {k}"),
        Step::ApplyEndpoints(e) => format!("apply Endpoints {}", e.metadata.key()),
        Step::DeleteEndpoints(k) => format!("delete Endpoints {k}"),
        Step::Resync => "resync".to_owned(),
        Step::Restart => "watch restart".to_owned(),
    }
}

/// Makes the change in the target fake; `None` when the target refuses it.
fn apply_to_target(target: &mut FakeCluster, step: &Step) -> Option<Run> {
    let none = Precondition::default();
    let event = match step {
        Step::ApplyService(svc) => {
            let mut svc = svc.clone();
            svc.metadata.uid = None;
            svc.metadata.resource_version = None;
            let key = svc.metadata.key();
            match target.get(Kind::Service, &key) {
                Some(Object::Service(old)) if old.is_headless() == svc.is_headless() => {
                    svc.metadata.resource_version = old.metadata.resource_version;
                    svc.spec.cluster_ip = old.spec.cluster_ip;
                    match target.update(Object::Service(svc)).ok()? {
                        Object::Service(s) => TargetEvent::ServiceApplied(s),
                        _ => return None,
                    }
                }
                Some(_) => {
                    target.delete(Kind::Service, &key, &none).ok()?;
                    match target.create(Object::Service(svc)) {
                        Ok(Object::Service(s)) => TargetEvent::ServiceApplied(s),
                        _ => TargetEvent::ServiceDeleted(key),
                    }
                }
                None => match target.create(Object::Service(svc)).ok()? {
                    Object::Service(s) => TargetEvent::ServiceApplied(s),
                    _ => return None,
                },
            }
        }
        Step::ApplyEndpoints(ep) => {
            let mut ep = ep.clone();
            ep.metadata.uid = None;
            ep.metadata.resource_version = None;
            let stored = match target.get(Kind::Endpoints, &ep.metadata.key()) {
                Some(Object::Endpoints(old)) => {
                    ep.metadata.resource_version = old.metadata.resource_version;
                    target.update(Object::Endpoints(ep)).ok()?
                }
                _ => target.create(Object::Endpoints(ep)).ok()?,
            };
            match stored {
                Object::Endpoints(e) => TargetEvent::EndpointsApplied(e),
                _ => return None,
            }
        }
        Step::DeleteService(key) => {
            target.delete(Kind::Service, key, &none).ok()?;
            TargetEvent::ServiceDeleted(key.clone())
        }
        Step::DeleteEndpoints(key) => {
            target.delete(Kind::Endpoints, key, &none).ok()?;
            TargetEvent::EndpointsDeleted(key.clone())
        }
        Step::Resync => return Some(Run::Resync),
        Step::Restart => TargetEvent::Restarted(target.target_state()),
    };
    Some(Run::Event(Box::new(event)))
}

/// The driver under test: fakes on both sides, a clock that never waits.
type FakeDriver = Driver<FakeHandle, FakeHandle, InstantClock>;

#[allow(clippy::too_many_arguments)]
fn check_step(
    link: &Link,
    checks: &Checks,
    what: &str,
    before: &SourceState,
    rv: u64,
    outcome: &ReconcileOutcome,
    driver: &FakeDriver,
    source: &FakeHandle,
    target: &FakeHandle,
) -> Result<(), Finding> {
    if !outcome.complete {
        let failures: Vec<String> = driver
            .status()
            .failures
            .iter()
            .map(|f| format!("{} {} {}: {}", f.action, f.kind, f.key, f.error))
            .collect();
        let check = if failures.is_empty() {
            Check::NoConvergence
        } else {
            Check::FakeRefused
        };
        if !checks.runs(check) {
            // A known refusal: the two runs cannot be compared past it.
            return Ok(());
        }
        return Err(Finding::new(
            check,
            format!(
                "{what}: the driver's reconcile did not complete ({outcome:?}); failures: {failures:?}"
            ),
        ));
    }
    let after = source.lock().state();
    let writes = source.lock().events_since(rv);
    let target_state = target.lock().target_state();

    // The whole link from the same start, with every check of `converge`.
    let mut whole = FakeCluster::default();
    whole.restore(before.clone()).map_err(|e| {
        Finding::new(
            Check::IncrementalDiffers,
            format!("{what}: the state before cannot be restored into a fresh fake: {e}"),
        )
    })?;
    let w = converge_checking(link, &target_state, &mut whole, CONTRACT_PASSES, checks).map_err(
        |f| {
            Finding::new(
                f.check,
                format!("{what}, whole-link reconcile: {}", f.message),
            )
        },
    )?;
    writes_keep_invariants(link, checks, before, &w.translation.exports, &writes).map_err(|f| {
        Finding::new(
            f.check,
            format!("{what}, the driver's writes: {}", f.message),
        )
    })?;
    if !w.complete {
        // The whole link stopped at a known refusal: nothing to compare with.
        return Ok(());
    }
    let (a, b) = (normalized(&after), normalized(&w.source));
    if a != b {
        return Err(Finding::new(
            Check::IncrementalDiffers,
            format!("{what}: {}", first_difference(&a, &b)),
        ));
    }
    let cached = normalized_store(driver.cached_source());
    let listed = normalized_store(&SourceStore::from_state(a.clone()));
    if cached != listed {
        return Err(Finding::new(
            Check::IncrementalDiffers,
            format!(
                "{what}: the driver's cache differs from the source: {}",
                first_store_difference(&cached, &listed)
            ),
        ));
    }
    Ok(())
}

/// The writes of one reconcile (the source's write history), checked as a sequence: created
/// objects carry this link's labels and land on no foreign Service/Endpoints name; an object is
/// changed or deleted only if this sequence created it or it was ours before; no update (or
/// delete and re-create) moves a mirror's `remote-svc-fq-name` away from a live export.
fn writes_keep_invariants(
    link: &Link,
    checks: &Checks,
    before: &SourceState,
    exports: &BTreeMap<ObjectKey, ExportOutcome>,
    writes: &[(u64, WatchEvent)],
) -> Result<(), Finding> {
    let owner = Owner::Link(link);
    let mut created: BTreeSet<(Kind, ObjectKey)> = BTreeSet::new();
    let mut deleted: BTreeSet<(Kind, ObjectKey)> = BTreeSet::new();
    // The latest fq name seen per object (from `before`, then from the writes).
    let mut fq: BTreeMap<(Kind, ObjectKey), Option<String>> = BTreeMap::new();
    let fq_now = |fq: &BTreeMap<(Kind, ObjectKey), Option<String>>, id: &(Kind, ObjectKey)| {
        fq.get(id)
            .cloned()
            .unwrap_or_else(|| find(before, id.0, &id.1).and_then(|o| fq_name(&o).cloned()))
    };
    for (_, event) in writes {
        let object = event.object();
        let id = (object.kind(), object.key());
        // SPEC §9: the driver also writes the link's share of the federated Services, which the
        // federation owns (their invariants are the `federate` target's): a write that starts and
        // ends federation-owned is not this link's business here.
        let federation = Owner::Federation;
        let was_federation = find(before, id.0, &id.1).is_none_or(|w| federation.owns(&w));
        if federation.owns(object) && was_federation {
            continue;
        }
        let foreign =
            |message: String| checks.filter(Err(Finding::new(Check::ForeignTouched, message)));
        match event {
            WatchEvent::Added(o) => {
                if !owner.owns(o) {
                    return foreign(format!(
                        "created {} {} without this link's labels",
                        id.0, id.1
                    ));
                }
                let rivals: &[Kind] = match id.0 {
                    Kind::Service | Kind::Endpoints => &[Kind::Service, Kind::Endpoints],
                    other => &[other][..],
                };
                for rival in rivals {
                    let rid = (*rival, id.1.clone());
                    if !deleted.contains(&rid)
                        && let Some(was) = find(before, *rival, &id.1)
                        && !owner.owns(&was)
                    {
                        return foreign(format!(
                            "created {} {} on the name of a foreign {rival}",
                            id.0, id.1
                        ));
                    }
                }
                let freed = fq.get(&id).cloned().flatten();
                checks.filter(repurposed(
                    link,
                    exports,
                    "re-create",
                    &id,
                    freed,
                    fq_name(o).cloned(),
                ))?;
                created.insert(id.clone());
                fq.insert(id, fq_name(o).cloned());
            }
            WatchEvent::Modified(o) | WatchEvent::Deleted(o) => {
                if !created.contains(&id)
                    && !find(before, id.0, &id.1).is_some_and(|w| owner.owns(&w))
                {
                    return foreign(format!(
                        "wrote {} {}, which was not this link's",
                        id.0, id.1
                    ));
                }
                if let WatchEvent::Modified(_) = event {
                    if !owner.owns(o) {
                        return foreign(format!("{} {} lost this link's labels", id.0, id.1));
                    }
                    checks.filter(repurposed(
                        link,
                        exports,
                        "update",
                        &id,
                        fq_now(&fq, &id),
                        fq_name(o).cloned(),
                    ))?;
                    fq.insert(id, fq_name(o).cloned());
                } else {
                    let last = fq_now(&fq, &id);
                    fq.insert(id.clone(), last);
                    deleted.insert(id);
                }
            }
        }
    }
    Ok(())
}

/// A [`Check::MirrorRepurposed`] finding when `was` → `now` moves an object away from a live
/// export.
fn repurposed(
    link: &Link,
    exports: &BTreeMap<ObjectKey, ExportOutcome>,
    action: &str,
    id: &(Kind, ObjectKey),
    was: Option<String>,
    now: Option<String>,
) -> Result<(), Finding> {
    let (Some(was), Some(now)) = (was, now) else {
        return Ok(());
    };
    if was != now && crate::reconcile::serves_live_export(link, exports, &was, &id.1) {
        return Err(Finding::new(
            Check::MirrorRepurposed,
            format!(
                "{action} of {} {} moves it from {was} (still exported) to {now}",
                id.0, id.1
            ),
        ));
    }
    Ok(())
}

/// The source without server-set bookkeeping (uid, resourceVersion, creationTimestamp), for
/// comparing two runs. ClusterIPs stay: the fake derives them from a hash of the name.
#[must_use]
pub fn normalized(state: &SourceState) -> SourceState {
    let mut s = state.clone();
    // SPEC §9: the federation's objects are the driver's federation share, compared by the
    // `federate` checks; the whole-link reference here is the link's own translate → plan.
    let federation = |l: &svcmirror_core::StringMap| svcmirror_core::labels::is_federation_owned(l);
    s.services.retain(|o| !federation(&o.metadata.labels));
    s.endpoints.retain(|o| !federation(&o.metadata.labels));
    s.endpoint_slices
        .retain(|o| !federation(&o.metadata.labels));
    let metas = s
        .services
        .iter_mut()
        .map(|o| &mut o.metadata)
        .chain(s.endpoints.iter_mut().map(|o| &mut o.metadata))
        .chain(s.endpoint_slices.iter_mut().map(|o| &mut o.metadata));
    for m in metas {
        m.uid = None;
        m.resource_version = None;
        m.creation_timestamp = None;
    }
    for ns in s.namespaces.iter_mut().flatten() {
        ns.metadata.uid = None;
        ns.metadata.resource_version = None;
    }
    s
}

/// A store (the driver's records, issue 13 item 3) as [`normalized`] makes a list: without the
/// federation's objects and server-set bookkeeping.
#[must_use]
pub fn normalized_store(store: &SourceStore) -> SourceStore {
    let mut s = store.without_server_fields();
    s.retain_metadata(|m| !svcmirror_core::labels::is_federation_owned(&m.labels));
    s
}

/// The first object that differs between two normalized stores, for the finding's message.
fn first_store_difference(cached: &SourceStore, listed: &SourceStore) -> String {
    let services =
        |s: &SourceStore| -> Vec<String> { s.each_service().map(|o| format!("{o:?}")).collect() };
    let endpoints =
        |s: &SourceStore| -> Vec<String> { s.each_endpoints().map(|o| format!("{o:?}")).collect() };
    let slices = |s: &SourceStore| -> Vec<String> {
        s.each_endpoint_slice().map(|o| format!("{o:?}")).collect()
    };
    for (a, b) in [
        (services(cached), services(listed)),
        (endpoints(cached), endpoints(listed)),
        (slices(cached), slices(listed)),
    ] {
        if let Some((x, y)) = a.iter().zip(&b).find(|(x, y)| x != y) {
            return format!("cached {x} vs listed {y}");
        }
        if a.len() != b.len() {
            return format!("cached {} objects of a kind vs listed {}", a.len(), b.len());
        }
    }
    "the namespaces".to_owned()
}

/// The first object that differs between two normalized states, for the finding's message.
fn first_difference(incremental: &SourceState, whole: &SourceState) -> String {
    let index = |s: &SourceState| -> BTreeMap<(Kind, ObjectKey), Object> {
        s.objects()
            .into_iter()
            .map(|o| ((o.kind(), o.key()), o))
            .collect()
    };
    let (a, b) = (index(incremental), index(whole));
    for id in a.keys().chain(b.keys()) {
        match (a.get(id), b.get(id)) {
            (Some(x), Some(y)) if x == y => {}
            (x, y) => {
                return format!("{} {}: incremental {x:?}, whole link {y:?}", id.0, id.1);
            }
        }
    }
    "the states differ in namespaces known".to_owned()
}
