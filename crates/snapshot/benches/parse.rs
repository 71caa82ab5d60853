//! The parse floor: the whole world (see `crates/core/benches/world/mod.rs`) as one compact
//! `kubectl get -o json` List, read into the core's model. Nothing else is timed.
//!
//! `cargo bench -p svcmirror-snapshot --bench parse`; with `SVCMIRROR_BENCH_WRITE=PATH` the JSON
//! is also written to `PATH` (the input of the CLI measurement in BENCHMARKS.md).

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use svcmirror_snapshot::{Limits, parse};

#[path = "../../core/benches/world/mod.rs"]
mod world;

fn parse_world(c: &mut Criterion) {
    let size = world::Size::from_env();
    let json = world::json(size);
    let limits = Limits::default();
    // Checked once, outside the timed loop: everything is read, nothing is malformed.
    let snapshot = parse(&json, "world.json", &limits).expect("parses");
    assert!(
        snapshot.diagnostics.is_empty(),
        "{:?}",
        snapshot.diagnostics
    );
    assert_eq!(snapshot.services.len(), size.headless + size.clusterip);
    assert_eq!(snapshot.endpoints.len(), size.headless + size.clusterip);
    assert_eq!(snapshot.into_target(), world::target(size));

    let mut group = c.benchmark_group(format!("snapshot/{}", size.label()));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    group.throughput(Throughput::Bytes(json.len() as u64));
    group.bench_function("parse_json", |b| {
        b.iter(|| parse(black_box(&json), "world.json", &limits).expect("parses"));
    });
    group.finish();
}

criterion_group!(benches, parse_world);
criterion_main!(benches);
