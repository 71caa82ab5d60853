//! The core at cluster scale: `translate` of the whole world, `plan` against a converged source
//! (nothing to do) and against an empty one (create everything). Sizes: see `world.rs`.
//!
//! `cargo bench -p svcmirror-core --bench core`

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use svcmirror_core::{SourceState, plan, translate};

mod world;

fn core(c: &mut Criterion) {
    let size = world::Size::from_env();
    let link = world::link();
    let target = world::target(size);
    let converged = world::converged_source(&link, &target);
    let empty = SourceState::default();

    // Checked once, outside the timed loops: the converged source needs nothing, the empty one
    // needs every mirror.
    let desired = translate(&link, &target, &converged).desired;
    assert!(
        plan(&link, &desired, &converged).is_empty(),
        "the converged source is not up to date"
    );
    assert_eq!(
        converged.services.len() + converged.endpoints.len(),
        world::mirrored_objects(size)
    );
    let first_pass = translate(&link, &target, &empty).desired;
    assert!(!plan(&link, &first_pass, &empty).is_empty());

    let mut group = c.benchmark_group(format!("core/{}", size.label()));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("translate", |b| {
        b.iter(|| translate(&link, black_box(&target), black_box(&converged)));
    });
    group.bench_function("plan_up_to_date", |b| {
        b.iter(|| plan(&link, black_box(&desired), black_box(&converged)));
    });
    group.bench_function("plan_empty_source", |b| {
        b.iter(|| plan(&link, black_box(&first_pass), black_box(&empty)));
    });
    group.bench_function("translate_and_plan_up_to_date", |b| {
        b.iter(|| {
            let translation = translate(&link, black_box(&target), black_box(&converged));
            plan(&link, &translation.desired, &converged)
        });
    });
    group.finish();
}

criterion_group!(benches, core);
criterion_main!(benches);
