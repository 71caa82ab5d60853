//! Issue 13 item 8: every target measured in one run, as ratios, on the bench world
//! (`crates/core/benches/world/mod.rs`, sized by `SVCMIRROR_BENCH_*`, default the 10k world).
//! A plain `fn main` (`harness = false`) that prints a Markdown table:
//!
//! 1. the denominator: a minimal serde parse of the world's JSON (`targets/minimal.rs`);
//! 2. translate + plan against the converged source (the plan must be empty) ≤ 1× (1);
//! 3. translate + plan against an empty source (create everything) ≤ 1× (1);
//! 4. controller steady-state memory — the backend's `Reconciler` after a full sync (and, for
//!    reference, the core's `TargetStore` + `SourceStore` alone) ≤ 0.15× kube-rs reflector stores
//!    of the same target and source objects; bytes counted by a counting global allocator
//!    (`targets/counting.rs`);
//! 5. one changed Endpoints (one pod's new IP in one headless export) through the `Reconciler`
//!    until it hands out nothing more, ≥ 10 000× cheaper than (2).
//!
//! Each time is the median of `SVCMIRROR_TARGETS_RUNS` runs (default 3; the lower median for an
//! even count); (5) times `SVCMIRROR_TARGETS_EVENTS` events per run (default 100) and divides.
//! Results are dropped after the clock stops, on both sides of a ratio. With
//! `SVCMIRROR_TARGETS_ONLY=parse|converged|empty|incremental` only that phase runs, once, after
//! its set-up: for `valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*phase_NAME*'`
//! (BENCHMARKS.md, "Issue 13 targets, one run").
//!
//! Only public API is used, and each call of the core or the backend is made in one place
//! ([`translate_and_plan`], [`converge`], [`reconciler_after_full_sync`], [`handle_events`],
//! [`flip_events`], [`operations`]).
//!
//! `CARGO_TARGET_DIR=/work/reltarget cargo bench -p svcmirror-kube --bench targets`

#[path = "targets/counting.rs"]
mod counting;
#[path = "targets/minimal.rs"]
mod minimal;
#[path = "targets/pump.rs"]
mod pump;
#[path = "targets/reflect.rs"]
mod reflect;
#[path = "../../core/benches/world/mod.rs"]
mod world;

use std::hint::black_box;
use std::time::{Duration, Instant};

use svcmirror_backend::{DriverConfig, Reconciler, TargetEvent};
use svcmirror_core::model::Endpoints;
use svcmirror_core::{
    Link, Plan, SourceState, SourceStore, TargetState, TargetStore, Translation, plan, translate,
};
use svcmirror_fake::FakeCluster;

use pump::{Clusters, Pumped, pump};
use reflect::{Inputs, reflectors, reflectors_as_listed};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).map_or(default, |v| {
        v.parse()
            .unwrap_or_else(|_| panic!("{name}={v}: not a number"))
    })
}

// --- the core and the backend, one call site each ------------------------------------------------

/// translate + plan of the whole link against `source`; also how long translate alone took.
#[inline(always)]
fn translate_and_plan(
    link: &Link,
    target: &TargetState,
    source: &SourceState,
) -> (Translation, Plan, Duration) {
    let start = Instant::now();
    let translation = translate(link, target, source);
    let translated = start.elapsed();
    let plan = plan(link, &translation.desired, source);
    (translation, plan, translated)
}

/// How many operations a plan holds.
fn operations(plan: &Plan) -> usize {
    plan.operations.len()
}

/// The source once the world is mirrored: the core's `drive` against the in-memory fake (a /12
/// Service range, the world's namespaces), its write history compacted.
fn converge(link: &Link, target: &TargetState, size: world::Size) -> FakeCluster {
    let mut source = FakeCluster::new("10.32.0.0/12".parse().expect("cidr"));
    for i in 0..size.namespaces {
        source
            .create_namespace(&format!("team-{i:02}"))
            .expect("namespace");
    }
    let driven = svcmirror_core::drive(link, target, &mut source)
        .unwrap_or_else(|e| panic!("the bench world does not converge: {e}"));
    assert!(driven.refused.is_empty(), "refused: {:?}", driven.refused);
    source.compact_history();
    source
}

/// A `Reconciler` that listed `target` and `source` and reconciled the whole link (nothing to
/// write: the source is converged).
fn reconciler_after_full_sync(
    link: &Link,
    target: TargetState,
    source: SourceState,
    clusters: &mut Clusters,
) -> (Reconciler, Pumped) {
    let mut r = Reconciler::new(link.clone(), DriverConfig::default());
    r.handle_relist(Duration::ZERO, target, source);
    r.full_reconcile();
    let pumped = pump(&mut r, clusters, Duration::ZERO);
    (r, pumped)
}

// --- the phases (named, never inlined: callgrind's --toggle-collect targets) ---------------------

#[inline(never)]
fn phase_parse(json: &[u8]) -> minimal::List {
    serde_json::from_slice(json).expect("the world parses")
}

#[inline(never)]
fn phase_converged(
    link: &Link,
    target: &TargetState,
    source: &SourceState,
) -> (Translation, Plan, Duration) {
    // A body of its own, so that the linker does not fold it into `phase_empty` (callgrind would
    // then find no `phase_converged` to collect).
    black_box("converged");
    translate_and_plan(link, target, source)
}

#[inline(never)]
fn phase_empty(
    link: &Link,
    target: &TargetState,
    empty: &SourceState,
) -> (Translation, Plan, Duration) {
    black_box("empty");
    translate_and_plan(link, target, empty)
}

/// Each event handed to the reconciler and pumped until it hands out nothing more.
#[inline(never)]
fn phase_incremental(
    r: &mut Reconciler,
    clusters: &mut Clusters,
    events: Vec<TargetEvent>,
) -> Pumped {
    handle_events(r, clusters, events)
}

/// Each event handed to the reconciler ([`Reconciler::handle_target_event`]) and pumped until it
/// hands out nothing more; the requests and writes of all of them.
#[inline(always)]
fn handle_events(r: &mut Reconciler, clusters: &mut Clusters, events: Vec<TargetEvent>) -> Pumped {
    let mut total = Pumped::default();
    for event in events {
        r.handle_target_event(Duration::ZERO, event);
        let pumped = pump(r, clusters, Duration::ZERO);
        total.requests += pumped.requests;
        total.writes += pumped.writes;
    }
    total
}

// --- timing --------------------------------------------------------------------------------------

/// The runs of one figure.
struct Timed {
    median: Duration,
    min: Duration,
    max: Duration,
    /// Allocations of the median run.
    allocations: u64,
}

/// Runs `f` `runs` times; `check` sees the first result. Each result is dropped after the clock
/// stopped.
fn time_runs<T>(runs: usize, mut f: impl FnMut() -> T, check: impl FnOnce(&T)) -> Timed {
    let mut samples = Vec::with_capacity(runs);
    let mut check = Some(check);
    for _ in 0..runs {
        let allocations = counting::allocations();
        let start = Instant::now();
        let out = black_box(f());
        let took = start.elapsed();
        let allocations = counting::allocations() - allocations;
        if let Some(check) = check.take() {
            check(&out);
        }
        drop(out);
        samples.push((took, allocations));
    }
    samples.sort();
    let (median, allocations) = samples[(samples.len() - 1) / 2];
    Timed {
        median,
        min: samples[0].0,
        max: samples[samples.len() - 1].0,
        allocations,
    }
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn us(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

fn mb(bytes: i64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

fn range(t: &Timed, unit: fn(Duration) -> String) -> String {
    format!("**{}** [{} – {}]", unit(t.median), unit(t.min), unit(t.max))
}

fn verdict(met: bool) -> &'static str {
    if met { "**met**" } else { "not met" }
}

// --- the incremental event -----------------------------------------------------------------------

/// `n` events of one headless export's Endpoints, alternating between a version in which one pod
/// has a new IP (and a new resourceVersion) and the original.
fn flip_events(original: &Endpoints, pods: usize, n: usize) -> Vec<TargetEvent> {
    let mut changed = original.clone();
    changed.metadata.resource_version = Some("99999999".into());
    if let Some(address) = changed
        .subsets
        .first_mut()
        .and_then(|s| s.addresses.get_mut(3.min(pods.saturating_sub(1))))
    {
        address.ip = "10.42.255.254".into();
    }
    (0..n)
        .map(|i| {
            TargetEvent::EndpointsApplied(if i % 2 == 0 {
                changed.clone()
            } else {
                original.clone()
            })
        })
        .collect()
}

/// The incremental set-up: a reconciler after a full sync of the converged world, and the
/// clusters it talks to.
fn incremental_setup(
    link: &Link,
    target: &TargetState,
    source: FakeCluster,
) -> (Reconciler, Clusters) {
    let listed = source.state();
    let mut clusters = Clusters {
        source,
        target: target.clone(),
    };
    let (r, pumped) = reconciler_after_full_sync(link, target.clone(), listed, &mut clusters);
    assert_eq!(pumped.writes, 0, "a full sync of the converged world wrote");
    (r, clusters)
}

// --- callgrind mode ------------------------------------------------------------------------------

fn only(phase: &str, size: world::Size) {
    let link = world::link();
    match phase {
        "parse" => {
            let json = world::json(size);
            let list = phase_parse(&json);
            eprintln!(
                "parse: {:?} (Services, Endpoints, addresses)",
                minimal::counts(&list)
            );
        }
        "converged" => {
            let target = world::target(size);
            let source = converge(&link, &target, size).state();
            let (_, plan, _) = phase_converged(&link, &target, &source);
            assert_eq!(
                operations(&plan),
                0,
                "the converged world has something to do"
            );
            eprintln!("converged: the plan is empty");
        }
        "empty" => {
            let target = world::target(size);
            let (_, plan, _) = phase_empty(&link, &target, &SourceState::default());
            eprintln!("empty: {} operations", operations(&plan));
        }
        "incremental" => {
            let target = world::target(size);
            let source = converge(&link, &target, size);
            let (mut r, mut clusters) = incremental_setup(&link, &target, source);
            let mut events = flip_events(&target.endpoints[0], size.pods, 3);
            let last = events.pop().expect("three events");
            warm_up_incremental(&mut r, &mut clusters, events);
            let pumped = phase_incremental(&mut r, &mut clusters, vec![last]);
            eprintln!("incremental: {pumped:?}");
        }
        other => panic!(
            "SVCMIRROR_TARGETS_ONLY={other}: expected parse, converged, empty or incremental"
        ),
    }
}

/// The warm-up events (not collected: a different name from [`phase_incremental`]).
#[inline(never)]
fn warm_up_incremental(r: &mut Reconciler, clusters: &mut Clusters, events: Vec<TargetEvent>) {
    handle_events(r, clusters, events);
}

// --- the run -------------------------------------------------------------------------------------

fn main() {
    let size = world::Size::from_env();
    if let Ok(phase) = std::env::var("SVCMIRROR_TARGETS_ONLY") {
        only(&phase, size);
        return;
    }
    let runs = env_usize("SVCMIRROR_TARGETS_RUNS", 3).max(1);
    let events = env_usize("SVCMIRROR_TARGETS_EVENTS", 100).max(2);
    let link = world::link();
    let wall = Instant::now();

    // 1. The denominator, first, on a fresh heap (the ratios are the harder for it).
    let json = world::json(size);
    let expected_addresses = size.headless * size.pods + size.clusterip * 3;
    let parse_t = time_runs(
        runs,
        || phase_parse(&json),
        |list| {
            assert_eq!(
                minimal::counts(list),
                (
                    size.headless + size.clusterip,
                    size.headless + size.clusterip,
                    expected_addresses
                )
            );
        },
    );
    eprintln!("parse done ({:.1?})", wall.elapsed());

    // Set-up: the world in the core's model, mirrored once.
    let target = world::target(size);
    let fake = converge(&link, &target, size);
    let source = fake.state();
    assert_eq!(
        source.services.len() + source.endpoints.len(),
        world::mirrored_objects(size)
    );
    minimal::assert_holds_what_a_mirror_reads(&phase_parse(&json), &target);
    eprintln!("set-up done ({:.1?})", wall.elapsed());

    // 2. Converged: nothing to do.
    let mut translate_converged = Duration::ZERO;
    let converged_t = time_runs(
        runs,
        || phase_converged(&link, &target, &source),
        |(_, plan, took)| {
            assert_eq!(
                operations(plan),
                0,
                "the converged world has something to do"
            );
            translate_converged = *took;
        },
    );
    // 3. Empty source: create everything.
    let empty = SourceState::default();
    let mut created = 0;
    let mut translate_empty = Duration::ZERO;
    let empty_t = time_runs(
        runs,
        || phase_empty(&link, &target, &empty),
        |(_, plan, took)| {
            created = operations(plan);
            translate_empty = *took;
        },
    );
    assert_eq!(created, world::mirrored_objects(size));
    eprintln!("translate + plan done ({:.1?})", wall.elapsed());

    // 4. Memory: each structure built from fresh objects, the inputs' JSON made before.
    let inputs = Inputs::new(&target, &source);
    let (stores, stores_bytes) = counting::held(|| {
        let (t, s) = inputs.core();
        (TargetStore::from_state(t), SourceStore::from_state(s))
    });
    drop(stores);
    let mut clusters = Clusters {
        source: fake,
        target: target.clone(),
    };
    let ((mut r, sync), reconciler_bytes) = counting::held(|| {
        let (t, s) = inputs.core();
        reconciler_after_full_sync(&link, t, s, &mut clusters)
    });
    assert_eq!(sync.writes, 0, "a full sync of the converged world wrote");
    // The same, but the source's objects as the core's drive made them (an export's label maps
    // shared by its mirrors, copy on write) rather than one fresh copy per object as a watch
    // delivers them: what sharing saves.
    let ((shared, _), shared_bytes) = counting::held(|| {
        let t = inputs.core_target();
        let source = converge(&link, &t, size).into_state().with_namespaces(None);
        reconciler_after_full_sync(&link, t, source, &mut clusters)
    });
    drop(shared);
    let (reflected, reflector_bytes) = counting::held(|| reflectors(&inputs));
    drop(reflected);
    let (reflected, listed_bytes) = counting::held(|| reflectors_as_listed(&json, &inputs));
    drop(reflected);
    drop(inputs);
    eprintln!("memory done ({:.1?})", wall.elapsed());

    // 5. One changed Endpoints through the reconciler (two warm-up events first).
    let warm = flip_events(&target.endpoints[0], size.pods, 2);
    warm_up_incremental(&mut r, &mut clusters, warm);
    let before = *r.stats();
    let mut pumped = Pumped::default();
    // The events are made before the clock starts; the live bytes before and after every run tell
    // whether handling them leaves anything behind (it should not: the same two versions flip).
    let live_before = counting::live_bytes();
    let mut batches: Vec<Vec<TargetEvent>> = (0..runs)
        .map(|_| flip_events(&target.endpoints[0], size.pods, events))
        .collect();
    let batches_bytes = counting::live_bytes() - live_before;
    let incremental_t = time_runs(
        runs,
        || {
            phase_incremental(
                &mut r,
                &mut clusters,
                batches.pop().expect("one batch per run"),
            )
        },
        |p| pumped = *p,
    );
    drop(batches);
    let incremental_left = counting::live_bytes() - live_before;
    let after = *r.stats();
    assert_eq!(
        (after.fallbacks, after.full_reconciles),
        (before.fallbacks, before.full_reconciles),
        "the one-export path fell back to a whole-link reconcile"
    );
    let per_event = |d: Duration| d / u32::try_from(events).expect("events fit in u32");
    let incremental = Timed {
        median: per_event(incremental_t.median),
        min: per_event(incremental_t.min),
        max: per_event(incremental_t.max),
        allocations: incremental_t.allocations / events as u64,
    };

    // The denominator again, after everything (the heap is no longer fresh): for reference.
    let parse_again = time_runs(runs, || phase_parse(&json), |_| {});
    eprintln!("all done ({:.1?})", wall.elapsed());

    let parse_s = parse_t.median.as_secs_f64();
    let ratio = |t: &Timed| t.median.as_secs_f64() / parse_s;
    let objects = 2 * (size.headless + size.clusterip) + world::mirrored_objects(size);
    let mem_ratio = reconciler_bytes as f64 / reflector_bytes as f64;
    let speedup = converged_t.median.as_secs_f64() / incremental.median.as_secs_f64();

    println!(
        "\nworld {} ({} bytes of JSON, {} mirror objects); median of {runs} runs [min – max]; \
         allocations of the median run",
        size.label(),
        json.len(),
        world::mirrored_objects(size)
    );
    println!("\n| # | figure | measured | allocations | ratio | target | |");
    println!("|---|---|---|---|---|---|---|");
    println!(
        "| 1 | minimal serde parse of the target's JSON | {} | {} | 1 (the denominator) | | |",
        range(&parse_t, ms),
        parse_t.allocations
    );
    println!(
        "| 2 | translate + plan, converged source (plan empty; translate {}) | {} | {} | **{:.2}×** (1) | ≤ 1× | {} |",
        ms(translate_converged),
        range(&converged_t, ms),
        converged_t.allocations,
        ratio(&converged_t),
        verdict(ratio(&converged_t) <= 1.0)
    );
    println!(
        "| 3 | translate + plan, empty source ({created} operations; translate {}) | {} | {} | **{:.2}×** (1) | ≤ 1× | {} |",
        ms(translate_empty),
        range(&empty_t, ms),
        empty_t.allocations,
        ratio(&empty_t),
        verdict(ratio(&empty_t) <= 1.0)
    );
    println!(
        "| 4 | `Reconciler` after a full sync ({} bytes/object of {objects}) | **{}** | | **{mem_ratio:.3}×** (4c) | ≤ 0.15× | {} |",
        reconciler_bytes / objects as i64,
        mb(reconciler_bytes),
        verdict(mem_ratio <= 0.15)
    );
    println!(
        "| 4a | `Reconciler`, the source's objects as `drive` made them (label maps shared per export) | {} | | {:.3}× (4c) | | |",
        mb(shared_bytes),
        shared_bytes as f64 / reflector_bytes as f64
    );
    println!(
        "| 4b | core stores alone (`TargetStore` + `SourceStore`) | {} | | {:.3}× (4c) | | |",
        mb(stores_bytes),
        stores_bytes as f64 / reflector_bytes as f64
    );
    println!(
        "| 4c | kube-rs reflector stores of the same objects (4 `Writer`s) | {} | | 1 | | |",
        mb(reflector_bytes)
    );
    println!(
        "| 4d | kube-rs reflectors, the target as listed (managedFields…) | {} | | {:.3}× (4c) | | |",
        mb(listed_bytes),
        listed_bytes as f64 / reflector_bytes as f64
    );
    println!(
        "| 5 | one changed Endpoints through the `Reconciler` ({} requests, {} writes in {} events) | {} | {} | **{speedup:.0}×** cheaper than (2) | ≥ 10 000× | {} |",
        pumped.requests,
        pumped.writes,
        events,
        range(&incremental, us),
        incremental.allocations,
        verdict(speedup >= 10_000.0)
    );
    println!(
        "| 5a | live bytes left behind by the {} events of (5) (the events themselves, {}, freed) | {} bytes | | | 0 | {} |",
        runs * events,
        mb(batches_bytes),
        incremental_left,
        verdict(incremental_left <= 0)
    );
    println!(
        "| – | (1) again, at the end of the run | {} | {} | {:.2}× (1) | | |",
        range(&parse_again, ms),
        parse_again.allocations,
        parse_again.median.as_secs_f64() / parse_s
    );
}
