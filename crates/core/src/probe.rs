//! SPEC §2.1: the gateway probe's alive/dead decision, a pure function of the probe results (its
//! settings are the Link's `probeSpec`, [`crate::link::GatewayProbe`]).
//!
//! Linkerd's probe worker (`multicluster/service-mirror/probe_worker.go`, `run`) counts
//! consecutive failures: the gateway is dead once they reach `failureThreshold`, alive again after
//! one success. Its watcher starts with the gateway alive ("to prevent unexpected service fail
//! fast", `cluster_watcher.go`), so a controller starts alive and the first success changes
//! nothing. The adapter sends the requests (`GET http://<gateway>:<port><path>`, 200 = success)
//! and feeds each result to [`ProbeState::observe`]; a [`Transition`] is what it acts on.

/// One probe's result, as the adapter saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeResult {
    /// HTTP 200 within the timeout.
    Success,
    /// Anything else: refused, timed out, another status.
    Failure,
}

/// A change of the gateway's liveness: the link's mirror Endpoints must be reconciled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// Dead → alive: gateway addresses back to `addresses`.
    Alive,
    /// Alive → dead: gateway addresses to `notReadyAddresses`.
    Dead,
}

/// What the probe history says so far: liveness and the current run of failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeState {
    /// Whether the gateway is considered alive.
    pub alive: bool,
    /// Consecutive failures since the last success.
    pub consecutive_failures: u32,
}

impl Default for ProbeState {
    /// Alive, no failure: Linkerd's watcher starts with the gateway alive.
    fn default() -> Self {
        Self {
            alive: true,
            consecutive_failures: 0,
        }
    }
}

impl ProbeState {
    /// SPEC §2.1: the state after `result`, and the transition it causes, if any. Dead after
    /// `failure_threshold` consecutive failures (0 counts as 1), alive after one success.
    #[must_use]
    pub fn observe(
        self,
        failure_threshold: u32,
        result: ProbeResult,
    ) -> (Self, Option<Transition>) {
        match result {
            ProbeResult::Success => {
                let next = Self {
                    alive: true,
                    consecutive_failures: 0,
                };
                (next, (!self.alive).then_some(Transition::Alive))
            }
            ProbeResult::Failure => {
                let failures = self.consecutive_failures.saturating_add(1);
                let dead = failures >= failure_threshold.max(1);
                let next = Self {
                    alive: self.alive && !dead,
                    consecutive_failures: failures,
                };
                (next, (self.alive && dead).then_some(Transition::Dead))
            }
        }
    }
}

/// The liveness after a whole history of results, from the default state: a pure function of
/// the history (SPEC §2.1).
#[must_use]
#[allow(
    dead_code,
    reason = "SPEC §2.1 stated as a function of the history; adapters fold `observe` themselves"
)]
pub fn decide(failure_threshold: u32, history: &[ProbeResult]) -> ProbeState {
    history.iter().fold(ProbeState::default(), |state, r| {
        state.observe(failure_threshold, *r).0
    })
}

/// Parses a Go duration as Linkerd's Link writes it (`3s`, `1m30s`, `500ms`, `1.5s`), or a bare
/// number of seconds: the one parser of the Link's `probeSpec` durations, also used by the
/// `--probe-*` flags (one front door for the probe settings).
pub use crate::probe_spec::parse_go_duration as parse_duration;

#[cfg(test)]
mod tests {
    use super::ProbeResult::{Failure as F, Success as S};
    use super::*;
    use std::time::Duration;

    #[test]
    fn linkerd_defaults() {
        // SPEC §2.1: one front door for the probe settings, the Link's `probeSpec`.
        let spec = crate::link::GatewayProbe::from_spec(None).expect("defaults");
        assert_eq!(
            (spec.port, spec.path.as_str(), spec.period.as_secs()),
            (4191, "/ready", 3)
        );
        assert_eq!((spec.timeout.as_secs(), spec.failure_threshold), (30, 3));
    }

    /// SPEC §2.1: dead after `failureThreshold` consecutive failures, not before.
    #[test]
    fn dead_after_threshold_consecutive_failures() {
        assert!(decide(3, &[F, F]).alive);
        assert!(!decide(3, &[F, F, F]).alive);
        // A success in between restarts the count.
        assert!(decide(3, &[F, F, S, F, F]).alive);
        assert!(!decide(3, &[F, F, S, F, F, F]).alive);
    }

    /// SPEC §2.1: alive again after one success.
    #[test]
    fn alive_after_one_success() {
        let state = decide(2, &[F, F, F, F, S]);
        assert_eq!(state, ProbeState::default());
    }

    /// Exactly one transition per change: the threshold-th failure and the first success after.
    #[test]
    fn transitions_once_per_change() {
        let history = [S, F, F, F, F, F, S, S, F, S];
        let mut state = ProbeState::default();
        let mut transitions = Vec::new();
        for (i, r) in history.iter().enumerate() {
            let (next, t) = state.observe(3, *r);
            state = next;
            if let Some(t) = t {
                transitions.push((i, t));
            }
        }
        assert_eq!(transitions, [(3, Transition::Dead), (6, Transition::Alive)]);
    }

    /// Starts alive (Linkerd's watcher): the first success is no transition, and a threshold of 0
    /// (an unparsable or zero setting) behaves as 1.
    #[test]
    fn starts_alive_and_zero_threshold_is_one() {
        assert_eq!(ProbeState::default().observe(3, S).1, None);
        let (state, t) = ProbeState::default().observe(0, F);
        assert!(!state.alive);
        assert_eq!(t, Some(Transition::Dead));
        // Failures keep counting without overflow.
        let long = ProbeState {
            alive: false,
            consecutive_failures: u32::MAX,
        };
        assert_eq!(long.observe(3, F), (long, None));
    }

    #[test]
    fn go_durations() {
        assert_eq!(parse_duration("3"), Some(Duration::from_secs(3)));
        assert_eq!(parse_duration("3s"), Some(Duration::from_secs(3)));
        assert_eq!(parse_duration("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("1.5s"), Some(Duration::from_millis(1500)));
        for bad in ["", "s", "3x", "-1s", "1..2s"] {
            assert_eq!(parse_duration(bad), None, "{bad:?}");
        }
    }
}
