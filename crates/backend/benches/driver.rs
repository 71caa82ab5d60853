//! The reconcile driver at cluster scale, on `svcmirror-fake` clusters in a tokio current-thread
//! runtime (world: `crates/core/benches/world/mod.rs`):
//!
//! - `incremental_one_endpoints_changed`: [`Driver::handle`] of one changed Endpoints (a new
//!   resourceVersion and one pod's new IP, flipping between two versions), the driver's
//!   incremental path — which writes nothing since SPEC §4's O(changed) rule; and `…_subscribed`, the same with a status
//!   subscriber (the controller's /metrics), whose snapshot is kept up to date;
//! - `full_translate_and_plan`: what that path avoids — the core's `translate` + `plan` of the whole
//!   world against the converged source;
//! - `resync_unchanged`: [`Driver::resync`] (relist both clusters, reconcile the whole link) of a
//!   converged world, which must write nothing (checked on the fake's counters).
//!
//! `cargo bench -p svcmirror-backend --bench driver`

use std::hint::black_box;
use std::net::Ipv4Addr;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use ipnet::{IpNet, Ipv4Net};
use svcmirror_backend::{Driver, TargetEvent, TokioClock};
use svcmirror_core::model::{Endpoints, ObjectKey};
use svcmirror_core::{SourceState, plan, translate};
use svcmirror_fake::{FakeCluster, FakeHandle};

#[path = "../../core/benches/world/mod.rs"]
mod world;

fn cidr(a: u8, b: u8, prefix: u8) -> IpNet {
    IpNet::V4(Ipv4Net::new(Ipv4Addr::new(a, b, 0, 0), prefix).expect("prefix"))
}

fn driver(c: &mut Criterion) {
    let size = world::Size::from_env();
    let link = world::link();
    let target_state = world::target(size);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");

    // Target: the world. Source: its namespaces, with room for 100 000+ ClusterIPs.
    let mut target = FakeCluster::new(cidr(10, 96, 12));
    target
        .restore(SourceState::new(
            target_state.services.clone(),
            target_state.endpoints.clone(),
        ))
        .expect("the world is valid");
    let mut source = FakeCluster::new(cidr(10, 32, 12));
    for i in 0..size.namespaces {
        source
            .create_namespace(&format!("team-{i:02}"))
            .expect("namespace");
    }
    let source = FakeHandle::new(source);
    let target = FakeHandle::new(target);
    let mut driver = Driver::new(link.clone(), source.clone(), target.clone(), TokioClock);

    // Converge once, then check (outside the timed loops) that a resync writes nothing.
    let first = rt.block_on(driver.resync()).expect("lists");
    assert!(first.complete, "{first:?}");
    let converged = source.lock().state();
    assert_eq!(
        converged.services.len() + converged.endpoints.len(),
        world::mirrored_objects(size)
    );
    let writes_before = source.lock().stats().writes;
    let again = rt.block_on(driver.resync()).expect("lists");
    assert_eq!(again.writes, 0, "{again:?}");
    assert_eq!(
        source.lock().stats().writes,
        writes_before,
        "a resync wrote"
    );

    // One export's Endpoints in two versions: new resourceVersion, pod 3 on a new IP.
    let original: Endpoints = target_state.endpoints[0].clone();
    let mut changed = original.clone();
    changed.metadata.resource_version = Some("99999999".into());
    if let Some(address) = changed.subsets[0].addresses.get_mut(3.min(size.pods - 1)) {
        address.ip = "10.42.255.254".into();
    }
    let export: ObjectKey = original.metadata.key();
    let mut flip = false;
    let mut event = move || {
        flip = !flip;
        TargetEvent::EndpointsApplied(if flip {
            changed.clone()
        } else {
            original.clone()
        })
    };
    // SPEC §4 / issue 14 "O(changed) writes": endpoint mirrors point at the gateway and keep
    // their creation-time `remote-resource-version`, so a pod that moved to a new IP changes
    // nothing in the source: the incremental path reads, translates and plans one export, and
    // writes nothing.
    let probe = rt.block_on(driver.handle(event()));
    assert!(probe.complete && probe.writes == 0, "{probe:?}");
    let probe = rt.block_on(driver.handle(event()));
    assert!(probe.complete && probe.writes == 0, "{probe:?}");
    let fallbacks = driver.stats().fallbacks;
    let full_before = driver.stats().full_reconciles;

    let mut group = c.benchmark_group(format!("driver/{}", size.label()));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("incremental_one_endpoints_changed", |b| {
        b.iter(|| rt.block_on(driver.handle(black_box(event()))));
    });
    // The same with a status subscriber, as `svcmirror run` has (for /metrics): the published
    // snapshot is updated in place, so this must cost about the same.
    let status = driver.subscribe();
    group.bench_function("incremental_one_endpoints_changed_subscribed", |b| {
        b.iter(|| rt.block_on(driver.handle(black_box(event()))));
    });
    assert_eq!(
        *status.borrow(),
        driver.status(),
        "the published snapshot fell behind"
    );
    drop(status);
    assert_eq!(
        (driver.stats().fallbacks, driver.stats().full_reconciles),
        (fallbacks, full_before),
        "the incremental path of {export} fell back to a whole-link reconcile"
    );
    // Leave the world converged at its original version for what follows.
    let settled = rt.block_on(driver.resync()).expect("lists");
    assert!(settled.complete);

    let source_state = source.lock().state();
    let target_now = target.lock().target_state();
    group.bench_function("full_translate_and_plan", |b| {
        b.iter(|| {
            let translation = translate(&link, black_box(&target_now), black_box(&source_state));
            plan(&link, &translation.desired, &source_state)
        });
    });

    let writes_before = source.lock().stats().writes;
    group.bench_function("resync_unchanged", |b| {
        b.iter(|| rt.block_on(driver.resync()).expect("lists"));
    });
    assert_eq!(
        source.lock().stats().writes,
        writes_before,
        "a resync of an unchanged world wrote"
    );
    group.finish();
}

criterion_group!(benches, driver);
criterion_main!(benches);
