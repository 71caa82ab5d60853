//! The offline commands' converge: [`svcmirror_core::drive()`] on the in-memory fake, with the
//! link's SPEC §9 federated Services, and `--timings`. A leaf: `run` and `demo` both call it.

use std::time::{Duration, Instant};

use svcmirror_backend::ApiError;
use svcmirror_core::{
    Apply, Diagnostic, DriveError, Link, Operation, Phase, Plan, Refusal, SourceState, TargetState,
    drive,
};
use svcmirror_fake::FakeCluster;

/// The source once mirroring has converged, and what was found on the way.
pub struct Converged {
    pub source: SourceState,
    pub diagnostics: Vec<Diagnostic>,
}

/// [`svcmirror_core::drive()`] on the fake, with the link's SPEC §9 federated Services added to
/// every plan; the converged store is moved out. The convergence contract and its bound are the
/// core's ([`svcmirror_core::drive`]).
pub fn converge(link: &Link, target: &TargetState, fake: FakeCluster) -> anyhow::Result<Converged> {
    converge_timed(link, target, fake, &mut Timings::default())
}

/// [`converge`], adding the time spent in the core and in the fake to `timings`.
///
/// At cluster scale memory is what limits this loop: the fake keeps no write history, and the
/// converged store is moved out, not listed (the drive itself drops the listed source and the
/// translation once the plan is made, and moves the plan's objects into the fake).
pub fn converge_timed(
    link: &Link,
    target: &TargetState,
    mut fake: FakeCluster,
    timings: &mut Timings,
) -> anyhow::Result<Converged> {
    fake.compact_history();
    let mut source = CliSource {
        fake: &mut fake,
        link,
        target,
        timings,
        current: None,
    };
    // SPEC §8 (one bad export never fails the link): what the API server refuses for one object
    // is that object's diagnostic (exit 1); the drive does not send it again, nor what depends on
    // it. The core foresees these refusals; this keeps a missed one from failing the whole run.
    let driven = drive(link, target, &mut source).map_err(|e| match e {
        DriveError::Failed {
            action,
            kind,
            key,
            error,
        } => anyhow::Error::new(error).context(format!(
            "the in-memory API server rejected {action} {kind} {key}"
        )),
        e => anyhow::Error::new(e),
    })?;
    let mut diagnostics = driven.diagnostics;
    diagnostics.extend(driven.refused.into_values());
    Ok(Converged {
        source: Timings::time(&mut timings.apply, || fake.into_state()),
        diagnostics,
    })
}

/// The fake as the CLI drives it: it adds the federated Services to each plan, forgets its write
/// history after each pass, and charges each phase's wall time to `timings`.
struct CliSource<'a> {
    fake: &'a mut FakeCluster,
    link: &'a Link,
    target: &'a TargetState,
    timings: &'a mut Timings,
    current: Option<(Phase, Instant)>,
}

impl Apply for CliSource<'_> {
    type Error = ApiError;

    fn list(&mut self) -> SourceState {
        self.fake.list()
    }

    fn apply(&mut self, operation: Operation) -> Result<(), Refusal<ApiError>> {
        Apply::apply(self.fake, operation)
    }

    fn planned(
        &mut self,
        source: &SourceState,
        diagnostics: &mut Vec<Diagnostic>,
        plan: &mut Plan,
    ) {
        // SPEC §9: and the federated Services of the link.
        let links = [(self.link, self.target)];
        crate::federation::add_to(&links, source, diagnostics, plan);
    }

    fn phase(&mut self, phase: Phase) {
        let now = Instant::now();
        if let Some((previous, start)) = self.current.take() {
            let slot = match previous {
                Phase::Translate => &mut self.timings.translate,
                Phase::Plan => &mut self.timings.plan,
                _ => &mut self.timings.apply,
            };
            *slot += now - start;
            if previous == Phase::Apply {
                self.fake.compact_history();
            }
        }
        if phase != Phase::Done {
            self.current = Some((phase, now));
        }
    }
}

/// `--timings`: wall time per phase. The clock is read here, never in the core.
#[derive(Debug, Default)]
pub struct Timings {
    /// Reading the inputs into the model (and loading the in-memory source).
    pub parse: Duration,
    /// `translate`, summed over passes.
    pub translate: Duration,
    /// `plan`, summed over passes.
    pub plan: Duration,
    /// The in-memory source: applying plans and listing its state.
    pub apply: Duration,
    /// Writing the output.
    pub render: Duration,
}

impl Timings {
    pub fn time<R>(slot: &mut Duration, f: impl FnOnce() -> R) -> R {
        let start = Instant::now();
        let result = f();
        *slot += start.elapsed();
        result
    }

    pub fn print(&self, with_apply: bool) {
        let ms = |d: Duration| format!("{:.1}ms", d.as_secs_f64() * 1000.0);
        let apply = if with_apply {
            format!(" apply={}", ms(self.apply))
        } else {
            String::new()
        };
        eprintln!(
            "timings: parse={} translate={} plan={} render={}{apply}",
            ms(self.parse),
            ms(self.translate),
            ms(self.plan),
            ms(self.render),
        );
    }
}
