//! Time and randomness, injected: the driver never reads a clock or an entropy source itself, so
//! tests drive it deterministically and never really sleep.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::FutureExt;
use futures::future::BoxFuture;

/// Something that can wait. The driver sleeps only through this trait: between retries, before a
/// relist after a broken watch, and for the periodic resync.
pub trait Clock: Send + Sync {
    /// A future that completes once `duration` has passed (on this clock).
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()>;

    /// Now, on this clock, to measure how long a reconcile takes
    /// ([`DriverStats::reconcile_duration`](crate::DriverStats::reconcile_duration)); `None` (the
    /// default) for a clock that cannot tell: nothing is measured.
    fn now(&self) -> Option<Instant> {
        None
    }
}

impl<C: Clock + ?Sized> Clock for Arc<C> {
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        (**self).sleep(duration)
    }
    fn now(&self) -> Option<Instant> {
        (**self).now()
    }
}

/// The real clock: `tokio::time::sleep` (needs a tokio runtime with the time driver enabled).
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioClock;

impl Clock for TokioClock {
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        tokio::time::sleep(duration).boxed()
    }
    fn now(&self) -> Option<Instant> {
        Some(tokio::time::Instant::now().into_std())
    }
}

/// Upper bounds, in seconds, of the buckets of a [`DurationHistogram`].
pub const DURATION_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// A histogram of durations that only grows: counts per bucket of [`DURATION_BUCKETS`] (not
/// cumulative; beyond the last bucket only in `count`), count and sum.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DurationHistogram {
    /// Observations in each bucket: ≤ its bound and > the previous one.
    pub buckets: [u64; DURATION_BUCKETS.len()],
    /// Observations.
    pub count: u64,
    /// Their sum, in microseconds.
    pub sum_micros: u64,
}

impl DurationHistogram {
    /// Records one duration.
    pub fn observe(&mut self, value: Duration) {
        let secs = value.as_secs_f64();
        if let Some(i) = DURATION_BUCKETS.iter().position(|bound| secs <= *bound) {
            self.buckets[i] += 1;
        }
        self.count += 1;
        self.sum_micros = self
            .sum_micros
            .saturating_add(u64::try_from(value.as_micros()).unwrap_or(u64::MAX));
    }

    /// Both histograms' observations.
    #[must_use]
    pub fn merged(&self, other: &Self) -> Self {
        let mut out = *self;
        for (a, b) in out.buckets.iter_mut().zip(other.buckets) {
            *a += b;
        }
        out.count += other.count;
        out.sum_micros = out.sum_micros.saturating_add(other.sum_micros);
        out
    }
}

/// Capped exponential backoff with jitter for retryable API errors.
///
/// Attempt `n` (0-based) waits between half and all of `min(max, initial · 2ⁿ)` ("equal jitter"),
/// so concurrent drivers do not retry in lockstep yet the wait never collapses to zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Backoff {
    /// The first delay before jitter.
    pub initial: Duration,
    /// The largest delay before jitter.
    pub max: Duration,
    /// How many times one request is sent at most (the first try included) before it is reported
    /// as failed.
    pub max_attempts: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(10),
            max_attempts: 8,
        }
    }
}

impl Backoff {
    /// The delay before retry number `attempt` (0 for the first retry), jittered with `rng`.
    pub(crate) fn delay(&self, attempt: u32, rng: &mut SplitMix64) -> Duration {
        let factor = 1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX);
        let capped = self.initial.saturating_mul(factor).min(self.max);
        let half = capped / 2;
        let spread = u64::try_from((capped - half).as_nanos()).unwrap_or(u64::MAX);
        half + Duration::from_nanos(rng.below(spread.saturating_add(1)))
    }
}

/// SplitMix64 (Steele, Lea, Flood 2014): a tiny, seedable, well-mixed generator, fixed by its
/// definition, so a seed gives the same numbers on every platform and release. The driver uses it
/// for backoff jitter; `svcmirror-fake` for its injected faults. Not for anything cryptographic.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator starting from `seed`.
    #[must_use]
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..bound` (0 when `bound` is 0).
    pub fn below(&mut self, bound: u64) -> u64 {
        if bound == 0 {
            0
        } else {
            self.next_u64() % bound
        }
    }

    /// Uniform in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        // 53 random bits are exactly representable.
        #[allow(clippy::cast_precision_loss)]
        let x = (self.next_u64() >> 11) as f64;
        x / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_matches_the_reference_sequence() {
        // Reference values for seed 1234567 (from the published C implementation).
        let mut rng = SplitMix64::new(1_234_567);
        assert_eq!(rng.next_u64(), 6_457_827_717_110_365_317);
        assert_eq!(rng.next_u64(), 3_203_168_211_198_807_973);
    }

    #[test]
    fn backoff_grows_exponentially_is_capped_and_jittered_within_bounds() {
        let backoff = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(1),
            max_attempts: 10,
        };
        let mut rng = SplitMix64::new(7);
        for attempt in 0..12 {
            let ceiling = (Duration::from_millis(100) * 2u32.pow(attempt.min(20)))
                .min(Duration::from_secs(1));
            for _ in 0..50 {
                let d = backoff.delay(attempt, &mut rng);
                assert!(d >= ceiling / 2 && d <= ceiling, "attempt {attempt}: {d:?}");
            }
        }
        // Huge attempt numbers do not overflow.
        assert!(backoff.delay(u32::MAX, &mut rng) <= Duration::from_secs(1));
    }

    #[test]
    fn same_seed_same_jitter() {
        let backoff = Backoff::default();
        let (mut a, mut b) = (SplitMix64::new(42), SplitMix64::new(42));
        for attempt in 0..8 {
            assert_eq!(
                backoff.delay(attempt, &mut a),
                backoff.delay(attempt, &mut b)
            );
        }
    }
}
