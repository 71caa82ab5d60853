//! The offline commands' converge: [`svcmirror_core::drive()`] on the in-memory fake, with the
//! link's SPEC §9 federated Services, and `--timings`; several links on one source in rounds
//! until one writes nothing ([`converge_links`]). A leaf: `run` and `demo` both call it.

use std::time::{Duration, Instant};

use svcmirror_backend::ApiError;
use svcmirror_core::{
    Apply, Diagnostic, DriveError, LabelSelector, Link, Operation, Phase, Plan, Refusal,
    SourceState, TargetState, drive,
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
    converge_timed(link, target, None, fake, &mut Timings::default())
}

/// [`converge`], adding the time spent in the core and in the fake to `timings`.
///
/// At cluster scale memory is what limits this loop: the fake keeps no write history, and the
/// converged store is moved out, not listed (the drive itself drops the listed source and the
/// translation once the plan is made, and moves the plan's objects into the fake).
/// `local`: the source's own federated members' selector (`--local-members`, SPEC §9), a writer
/// planned with the link's.
pub fn converge_timed(
    link: &Link,
    target: &TargetState,
    local: Option<&LabelSelector>,
    mut fake: FakeCluster,
    timings: &mut Timings,
) -> anyhow::Result<Converged> {
    fake.compact_history();
    let diagnostics = drive_on(link, target, local, &mut fake, timings)?;
    Ok(Converged {
        source: Timings::time(&mut timings.apply, || fake.into_state()),
        diagnostics,
    })
}

/// [`svcmirror_core::drive()`] of one link on `fake`: its findings.
fn drive_on(
    link: &Link,
    target: &TargetState,
    local: Option<&LabelSelector>,
    fake: &mut FakeCluster,
    timings: &mut Timings,
) -> anyhow::Result<Vec<Diagnostic>> {
    let mut source = CliSource {
        fake,
        link,
        target,
        local,
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
    Ok(diagnostics)
}

/// Rounds of [`converge_links`] that may write before one must write nothing: the first writes
/// every link's mirrors and its entry of each federated Service; the second lets a link see what
/// the later ones wrote (it writes nothing unless two writers disagree); one more is slack.
pub const MAX_LINK_ROUNDS: usize = 3;

/// Several links converged on one source (SPEC §9): what each found, in the order given.
pub struct ConvergedLinks {
    pub source: SourceState,
    /// Each link's findings from the last (quiet) round, in the order of the links.
    pub diagnostics: Vec<Vec<Diagnostic>>,
}

/// Several links on one source, as their controllers (one per link) converge: rounds of
/// [`svcmirror_core::drive()`], one link after the other in the order given, each link adding
/// only its own share of the federated Services (the multi-writer rule, `federate_as`), until a
/// whole round writes nothing — the proof that no two writers flap. A name two links want is
/// kept by the link that created it first (the earlier `--link`); the other gets the core's
/// NameConflict (SPEC §7), never an overwrite.
///
/// # Errors
/// The in-memory source failed, or a round still wrote after [`MAX_LINK_ROUNDS`] (the links
/// flap), naming the links that wrote.
pub fn converge_links(
    links: &[(&Link, &TargetState)],
    local: Option<&LabelSelector>,
    mut fake: FakeCluster,
    timings: &mut Timings,
) -> anyhow::Result<ConvergedLinks> {
    fake.compact_history();
    let mut diagnostics = vec![Vec::new(); links.len()];
    let mut writers = Vec::new();
    for _ in 0..=MAX_LINK_ROUNDS {
        writers.clear();
        for (i, (link, target)) in links.iter().enumerate() {
            let before = fake.resource_version();
            diagnostics[i] = drive_on(link, target, local, &mut fake, timings)?;
            if fake.resource_version() != before {
                writers.push(link.cluster_name().as_str());
            }
        }
        if writers.is_empty() {
            return Ok(ConvergedLinks {
                source: Timings::time(&mut timings.apply, || fake.into_state()),
                diagnostics,
            });
        }
    }
    anyhow::bail!(
        "the links did not converge on one source in {MAX_LINK_ROUNDS} rounds: link(s) {} still \
         wrote in the last one (two writers flap)",
        writers.join(", ")
    )
}

/// The fake as the CLI drives it: it adds the federated Services to each plan, forgets its write
/// history after each pass, and charges each phase's wall time to `timings`.
struct CliSource<'a> {
    fake: &'a mut FakeCluster,
    link: &'a Link,
    target: &'a TargetState,
    /// `--local-members`: the local member writer's selector (SPEC §9).
    local: Option<&'a LabelSelector>,
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
        // SPEC §9: and the federated Services of the link (and of the local members).
        let links = [(self.link, self.target)];
        crate::federation::add_to(&links, self.local, source, diagnostics, plan);
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
