//! The counting `#[global_allocator]` of the `targets` bench: `System`, wrapped by `stats_alloc`
//! (the workspace forbids `unsafe_code`, so the `GlobalAlloc` impl is that crate's). Live bytes
//! are the bytes requested and not yet freed (`Layout::size`, reallocations included), not the
//! allocator's own overhead per chunk: the same measure on both sides of every ratio.

use std::alloc::System;

use stats_alloc::{INSTRUMENTED_SYSTEM, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Bytes allocated and not freed, now.
pub fn live_bytes() -> i64 {
    let stats = GLOBAL.stats();
    let live = i128::try_from(stats.bytes_allocated).unwrap_or(i128::MAX)
        - i128::try_from(stats.bytes_deallocated).unwrap_or(i128::MAX);
    i64::try_from(live).unwrap_or(i64::MAX)
}

/// Allocations made so far (reallocations not counted).
pub fn allocations() -> u64 {
    GLOBAL.stats().allocations as u64
}

/// Builds `T` and returns it with the live bytes it added: (live after) − (live before). `build`
/// must drop whatever of its input it does not keep, so that only `T` is counted.
pub fn held<T>(build: impl FnOnce() -> T) -> (T, i64) {
    let before = live_bytes();
    let value = build();
    let after = live_bytes();
    (value, after - before)
}
