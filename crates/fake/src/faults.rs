//! Fault injection: a seeded, reproducible fraction of requests fails the way a real API server
//! and network fail, so a controller's retry paths run in tests.

use svcmirror_backend::{ApiError, SplitMix64};
use svcmirror_core::model::{Kind, ObjectKey};

use crate::stats::Verb;

/// Which requests fail, and how: with probability `rate` a request fails, with a mix of
/// `Conflict` (409, updates and deletes only), `Unavailable` (500) and `Timeout`. Half of the
/// timeouts of writes happen *after* the write took effect, as real timeouts do: the client cannot
/// tell, and must re-read before it retries.
///
/// The same seed and the same sequence of requests always give the same faults (the generator is
/// SplitMix64 of `svcmirror-backend`: no clock, no OS randomness).
///
/// ```
/// use svcmirror_fake::{FakeCluster, FaultConfig};
///
/// let cluster = FakeCluster::default().with_faults(FaultConfig::new(0.1, 42));
/// # let _ = cluster;
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FaultConfig {
    rate: f64,
    seed: u64,
    watch_restart_rate: f64,
}

impl FaultConfig {
    /// `rate` (clamped to 0–1) of requests fail; `seed` fixes which ones.
    #[must_use]
    pub fn new(rate: f64, seed: u64) -> Self {
        Self {
            rate: clamp_rate(rate),
            seed,
            watch_restart_rate: 0.0,
        }
    }

    /// Also restart watches: each event a watch stream is about to deliver ends the stream
    /// instead with probability `rate` (clamped to 0–1), and its consumer must relist. Drawn from
    /// a generator of its own, so request faults do not change with it.
    #[must_use]
    pub fn watch_restarts(mut self, rate: f64) -> Self {
        self.watch_restart_rate = clamp_rate(rate);
        self
    }

    /// The fraction of requests that fail.
    #[must_use]
    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// The seed.
    #[must_use]
    pub fn seed(&self) -> u64 {
        self.seed
    }
}

fn clamp_rate(rate: f64) -> f64 {
    if rate.is_nan() {
        0.0
    } else {
        rate.clamp(0.0, 1.0)
    }
}

/// How an injected fault answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// 409: as if someone else wrote the object first. Nothing is written.
    Conflict,
    /// 500: nothing is written.
    Unavailable,
    /// The request times out before it reaches storage.
    TimeoutBefore,
    /// The request takes effect, then the response is lost.
    TimeoutAfter,
}

impl Fault {
    pub(crate) fn into_error(self, verb: Verb, kind: Kind, key: &ObjectKey) -> ApiError {
        match self {
            Self::Conflict => ApiError::Conflict {
                kind,
                key: key.clone(),
                message: "injected fault: the object has been modified; please apply your changes \
                          to the latest version and try again"
                    .to_owned(),
            },
            Self::Unavailable => ApiError::Unavailable(format!(
                "injected fault: {verb:?} {kind} {key}: Internal error occurred: etcdserver: leader changed"
            )),
            Self::TimeoutBefore => ApiError::Timeout(format!(
                "injected fault: {verb:?} {kind} {key}: the server was unable to return a response \
                 in the time allotted (nothing was written)"
            )),
            Self::TimeoutAfter => ApiError::Timeout(format!(
                "injected fault: {verb:?} {kind} {key}: the server was unable to return a response \
                 in the time allotted (the request took effect)"
            )),
        }
    }
}

/// The live fault state of a cluster: its configuration and generator.
#[derive(Debug, Clone)]
pub(crate) struct Faults {
    config: FaultConfig,
    requests: SplitMix64,
    watches: SplitMix64,
}

impl Faults {
    pub(crate) fn new(config: FaultConfig) -> Self {
        Self {
            config,
            requests: SplitMix64::new(config.seed),
            watches: SplitMix64::new(config.seed ^ 0x5741_5443_4845_5321),
        }
    }

    /// Decides the fate of one request. Two numbers are drawn for every request, failing or not,
    /// so the faults of later requests do not depend on the verbs of earlier ones.
    pub(crate) fn draw(&mut self, verb: Verb) -> Option<Fault> {
        let hit = self.requests.next_f64() < self.config.rate;
        let pick = self.requests.next_u64() % 4;
        if !hit {
            return None;
        }
        Some(match (verb, pick) {
            (Verb::Update | Verb::Delete, 0) => Fault::Conflict,
            (Verb::Create, 0) | (_, 1) => Fault::Unavailable,
            (_, 2) => Fault::TimeoutBefore,
            // A read has no effect to take: its timeouts are all "before".
            (Verb::Get | Verb::List | Verb::Watch, _) => Fault::TimeoutBefore,
            _ => Fault::TimeoutAfter,
        })
    }
}

impl Faults {
    /// Whether a watch ends instead of delivering its next event.
    pub(crate) fn draw_watch_restart(&mut self) -> bool {
        self.config.watch_restart_rate > 0.0
            && self.watches.next_f64() < self.config.watch_restart_rate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_matches_the_reference_sequence() {
        // First outputs for seed 1234567 from the reference C implementation.
        let mut g = SplitMix64::new(1_234_567);
        let got: Vec<u64> = (0..3).map(|_| g.next_u64()).collect();
        assert_eq!(
            got,
            [
                6_457_827_717_110_365_317,
                3_203_168_211_198_807_973,
                9_817_491_932_198_370_423
            ]
        );
    }

    #[test]
    fn rate_zero_never_and_rate_one_always_fails() {
        let mut never = Faults::new(FaultConfig::new(0.0, 7));
        let mut always = Faults::new(FaultConfig::new(1.0, 7));
        for _ in 0..1000 {
            assert_eq!(never.draw(Verb::Update), None);
            assert!(always.draw(Verb::Update).is_some());
        }
        assert_eq!(FaultConfig::new(f64::NAN, 1).rate(), 0.0);
        assert_eq!(FaultConfig::new(3.0, 1).rate(), 1.0);
    }

    #[test]
    fn creates_never_conflict_and_reads_never_take_effect() {
        let mut f = Faults::new(FaultConfig::new(1.0, 99));
        for _ in 0..1000 {
            assert_ne!(f.draw(Verb::Create), Some(Fault::Conflict));
            let read = f.draw(Verb::Get);
            assert!(
                matches!(read, Some(Fault::Unavailable | Fault::TimeoutBefore)),
                "{read:?}"
            );
        }
    }
}
