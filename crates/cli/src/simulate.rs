//! `svcmirror simulate`: the reconcile driver (the controller's own loop) against in-memory
//! clusters, with optional seeded faults, to show what the controller would do and what it costs
//! in API calls.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::time::Duration;

use anyhow::Context;
use futures::future::BoxFuture;
use serde::Serialize;
use svcmirror_backend::{Clock, Driver, Failure};
use svcmirror_core::model::Object;
use svcmirror_core::{Condition, Diagnostic, LabelSelector, Link, SourceState, TargetState};
use svcmirror_fake::{FakeCluster, FakeHandle, FaultConfig};

/// Whole-link reconciles (and resync attempts) before giving up on convergence. Each reconcile
/// already retries within itself; more rounds are only needed under heavy injected faults.
const MAX_ROUNDS: usize = 50;

/// Backoff waits cost nothing here: the simulation runs on virtual time.
struct VirtualClock;

impl Clock for VirtualClock {
    fn sleep(&self, _duration: Duration) -> BoxFuture<'static, ()> {
        Box::pin(async {})
    }
}

/// The API calls the simulation cost.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct SimulationStats {
    /// Successful writes (create, update, delete) until converged.
    pub writes: u64,
    /// Requests that failed (injected faults included).
    pub failed_requests: u64,
    /// Requests retried after a retryable error.
    pub retries: u64,
    /// Writes made by the second full resync of the converged state (0 unless something is wrong).
    pub writes_after_resync: u64,
    /// Whole-link reconciles until converged.
    pub reconciles: usize,
    /// Whether the source holds the desired state at the end.
    pub converged: bool,
}

/// The result of a simulation.
pub struct Simulation {
    /// The source cluster's objects at the end.
    pub objects: Vec<Object>,
    /// Each driver's latest findings, in the order of the links.
    pub diagnostics: Vec<Vec<Diagnostic>>,
    /// Operations the driver gave up on.
    pub failures: Vec<Failure>,
    /// SPEC §12: the conditions of every exported Service (`namespace/name`; with several
    /// links `namespace/name@cluster`), as the drivers published them after the final resync.
    pub conditions: BTreeMap<String, Vec<Condition>>,
    /// What it cost.
    pub stats: SimulationStats,
    /// The local member writer's findings (`--local-members`, SPEC §9), from its last pass.
    pub local_diagnostics: Vec<Diagnostic>,
}

/// Runs the driver of each link (from its target into the one `source`; faults, if any, hit the
/// source's requests) until a whole-link reconcile finds nothing to do, then resyncs once more.
/// Several links (SPEC §9) run one driver each, as their controllers do, in rounds of resyncs
/// until a round writes nothing: the federated Services they share settle without flapping.
///
/// `local` (`--local-members`, SPEC §9): the local member writer (`svcmirror local`) takes part
/// in every round, after the links: its writes count as the links' do.
pub fn simulate(
    links: Vec<(Link, TargetState)>,
    source: FakeCluster,
    faults: Option<FaultConfig>,
    local: Option<&LabelSelector>,
) -> anyhow::Result<Simulation> {
    let source = FakeHandle::from(match faults {
        Some(config) => source.with_faults(config),
        None => source,
    });
    let several = links.len() > 1;
    let mut drivers = Vec::new();
    for (link, target) in links {
        let target = FakeHandle::from(target_cluster(target)?);
        drivers.push(Driver::new(link, source.clone(), target, VirtualClock));
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let mut local = local.map(|selector| LocalWriter {
            selector,
            source: source.clone(),
            writes: 0,
            diagnostics: Vec::new(),
        });
        let (reconciles, converged, writes, resynced) = match (&mut drivers[..], &mut local) {
            ([driver], None) => one(driver).await,
            (drivers, local) => rounds(drivers, local.as_mut()).await,
        };
        let objects = source.lock().state().objects();
        let mut stats = SimulationStats {
            writes,
            failed_requests: 0,
            retries: 0,
            writes_after_resync: 0,
            reconciles,
            converged: converged && resynced,
        };
        let (mut diagnostics, mut failures, mut conditions) =
            (Vec::new(), Vec::new(), BTreeMap::new());
        for driver in &drivers {
            let status = driver.status();
            stats.failed_requests += status.stats.failed_requests;
            stats.retries += status.stats.retries;
            stats.writes_after_resync += status.stats.writes;
            let cluster = driver.link().cluster_name().as_str();
            // Several links may export the same Service: `ns/name@cluster`, as Linkerd names a
            // federated member.
            conditions.extend(status.exports.iter().map(|(key, export)| {
                let key = if several {
                    format!("{key}@{cluster}")
                } else {
                    key.to_string()
                };
                (key, export.conditions.clone())
            }));
            diagnostics.push(status.diagnostics);
            failures.extend(status.failures);
        }
        // The local writer's writes (SPEC §9) count as the drivers' do.
        stats.writes_after_resync += local.as_ref().map_or(0, |l| l.writes);
        stats.writes_after_resync -= writes;
        Ok(Simulation {
            objects,
            diagnostics,
            failures,
            conditions,
            stats,
            local_diagnostics: local.map(|l| l.diagnostics).unwrap_or_default(),
        })
    })
}

/// The target snapshot as an in-memory cluster.
fn target_cluster(target: TargetState) -> anyhow::Result<FakeCluster> {
    let mut cluster = FakeCluster::default();
    cluster
        .restore(SourceState::new(target.services, target.endpoints))
        .context("loading the target snapshot")?;
    Ok(cluster)
}

type SimDriver = Driver<FakeHandle, FakeHandle, VirtualClock>;

/// One link: whole-link reconciles until one is complete, then a resync. Returns (reconciles,
/// converged, writes until converged, whether the resync completed).
async fn one(driver: &mut SimDriver) -> (usize, bool, u64, bool) {
    let mut listed = false;
    for _ in 0..MAX_ROUNDS {
        if driver.relist().await.is_ok() {
            listed = true;
            break;
        }
    }
    // `--fault-rate 1.0`: nothing can be listed, so nothing is reconciled — a result of the
    // simulation (exit 1, not converged), not an unusable input.
    let mut reconciles = 0;
    let mut converged = false;
    while listed && reconciles < MAX_ROUNDS && !converged {
        reconciles += 1;
        converged = driver.full_reconcile().await.complete;
    }
    let writes = driver.stats().writes;
    let mut resynced = false;
    for _ in 0..if listed { MAX_ROUNDS } else { 0 } {
        if let Ok(outcome) = driver.resync().await {
            resynced = outcome.complete;
            break;
        }
    }
    (reconciles, converged, writes, resynced)
}

/// Several links, one driver each on the shared source: rounds in which every driver resyncs
/// (relists, then reconciles its whole link) in the order given, until a round is complete and
/// writes nothing; then one more round. Returns as [`one`].
async fn rounds(
    drivers: &mut [SimDriver],
    mut local: Option<&mut LocalWriter<'_>>,
) -> (usize, bool, u64, bool) {
    let written = |drivers: &[SimDriver], local: &Option<&mut LocalWriter<'_>>| {
        drivers.iter().map(|d| d.stats().writes).sum::<u64>()
            + local.as_ref().map_or(0, |l| l.writes)
    };
    let mut reconciles = 0;
    let mut converged = false;
    while reconciles < MAX_ROUNDS && !converged {
        reconciles += 1;
        let before = written(drivers, &local);
        let mut complete = true;
        for driver in drivers.iter_mut() {
            complete &= driver.resync().await.is_ok_and(|o| o.complete);
        }
        if let Some(local) = local.as_mut() {
            complete &= local.pass();
        }
        converged = complete && written(drivers, &local) == before;
    }
    let writes = written(drivers, &local);
    let mut resynced = converged;
    if converged {
        for driver in drivers.iter_mut() {
            resynced &= driver.resync().await.is_ok_and(|o| o.complete);
        }
        if let Some(local) = local.as_mut() {
            resynced &= local.pass();
        }
    }
    (reconciles, converged, writes, resynced)
}

/// SPEC §9: the local member writer on the simulated source — `svcmirror local`'s pass
/// ([`crate::local::local_share`]) applied to the in-memory cluster.
struct LocalWriter<'a> {
    selector: &'a LabelSelector,
    source: FakeHandle,
    /// Successful writes so far.
    writes: u64,
    /// The findings of the last pass.
    diagnostics: Vec<Diagnostic>,
}

impl LocalWriter<'_> {
    /// One pass: list, plan, apply. Whether every planned write succeeded.
    fn pass(&mut self) -> bool {
        use svcmirror_core::Apply;
        let mut fake = self.source.lock();
        let listed = Apply::list(&mut *fake);
        let (translation, plan) = crate::local::local_share(self.selector, &listed);
        self.diagnostics = translation.diagnostics;
        self.diagnostics.extend(plan.diagnostics.iter().cloned());
        let mut complete = true;
        for op in plan.operations {
            match Apply::apply(&mut *fake, op) {
                Ok(()) => self.writes += 1,
                Err(_) => complete = false,
            }
        }
        complete
    }
}

/// `{"objects": <kind: List>, "conditions": {"ns/name": [...]}, "stats": {...}}`.
pub fn write_json(sim: &Simulation, out: &mut impl Write) -> io::Result<()> {
    #[derive(Serialize)]
    struct List<'a> {
        #[serde(rename = "apiVersion")]
        api_version: &'static str,
        kind: &'static str,
        items: &'a [Object],
    }
    #[derive(Serialize)]
    struct View<'a> {
        objects: List<'a>,
        conditions: &'a BTreeMap<String, Vec<Condition>>,
        stats: SimulationStats,
    }
    let view = View {
        objects: List {
            api_version: "v1",
            kind: "List",
            items: &sim.objects,
        },
        conditions: &sim.conditions,
        stats: sim.stats,
    };
    serde_json::to_writer_pretty(&mut *out, &view)?;
    writeln!(out)
}

/// A few lines for a person (the cost, then one line of conditions per export), then east's
/// Services as `kubectl get services` shows them.
pub fn write_summary(sim: &Simulation, out: &mut impl Write) -> io::Result<()> {
    let s = sim.stats;
    writeln!(
        out,
        "{} after {} whole-link reconcile(s): {} writes, {} failed requests, {} retries; \
         a second resync wrote {}.",
        if s.converged {
            "Converged"
        } else {
            "NOT converged"
        },
        s.reconciles,
        s.writes,
        s.failed_requests,
        s.retries,
        s.writes_after_resync
    )?;
    for (export, conditions) in &sim.conditions {
        let summary: Vec<String> = conditions
            .iter()
            .map(|c| format!("{:?}={:?} ({})", c.type_, c.status, c.reason))
            .collect();
        writeln!(out, "{export}: {}", summary.join(", "))?;
    }
    writeln!(out)?;
    let services: Vec<&svcmirror_core::Service> = sim
        .objects
        .iter()
        .filter_map(|o| match o {
            Object::Service(s) => Some(s),
            _ => None,
        })
        .collect();
    crate::render::services_table(&services, out)
}
