//! Replays the committed seed corpora (`fuzz/corpus/<target>/`) through the fuzz targets' checks,
//! on stable and without cargo-fuzz, so CI runs every seed (and every regression added to the
//! corpus) on each commit. The bytes of a `translate`/`plan` seed are decoded exactly as libFuzzer
//! decodes them for the target (`arbitrary_take_rest`).
//!
//! Seeds that reproduce a finding fixed on a branch not merged yet ([`PENDING`]) are left out of
//! the replay and replayed by the ignored `pending_finding_seeds` instead.

use std::path::{Path, PathBuf};

use arbitrary::{Arbitrary, Unstructured};
use svcmirror_fuzz::{
    FederateInput, PlanInput, PlanOutcome, ReconcileInput, TranslateInput, check_federate,
    check_parse_snapshot, check_plan, check_reconcile, check_translate, tolerate_pending_findings,
};

/// Name prefixes of the seeds that reproduce findings fixed on other branches (fuzz/README.md,
/// "Findings"). After the merge, empty this list: the seeds then replay with the rest.
const PENDING: [&str; 1] = [
    // F17 (fuzz/README.md): the repurposing check and a forged 64-character hostname in
    // `remote-svc-fq-name`; not fixed yet.
    "regression-f17-",
];

fn pending(path: &Path) -> bool {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    PENDING.iter().any(|p| name.starts_with(p))
}

fn seeds(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("dir entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).expect("read seed");
            (p, bytes)
        })
        .collect()
}

/// Runs `check` on every seed of `target` but the pending ones, naming the seed that fails. An
/// input that shows a pending finding (F8–F10, in any seed) stops being checked there.
fn replay(target: &str, min_seeds: usize, check: impl Fn(&[u8])) {
    tolerate_pending_findings(true);
    let seeds: Vec<_> = seeds(target)
        .into_iter()
        .filter(|(p, _)| !pending(p))
        .collect();
    assert!(
        seeds.len() >= min_seeds,
        "{target}: only {} seeds; the committed corpus is missing",
        seeds.len()
    );
    for (path, bytes) in seeds {
        if let Err(panic) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(&bytes)))
        {
            eprintln!("seed {} fails", path.display());
            std::panic::resume_unwind(panic);
        }
    }
}

#[test]
fn parse_snapshot_seeds() {
    replay("parse_snapshot", 20, check_parse_snapshot);
}

#[test]
fn translate_seeds() {
    replay("translate", 5, |bytes| {
        if let Ok(input) = TranslateInput::arbitrary_take_rest(Unstructured::new(bytes)) {
            check_translate(&input);
        }
    });
}

#[test]
fn plan_seeds() {
    let converged = std::cell::Cell::new(0);
    replay("plan", 5, |bytes| {
        if let Ok(input) = PlanInput::arbitrary_take_rest(Unstructured::new(bytes))
            && let PlanOutcome::Converged { passes } = check_plan(&input)
        {
            assert!(passes <= 3);
            converged.set(converged.get() + 1);
        }
    });
    assert!(
        converged.get() >= 3,
        "only {} plan seeds were checked to the end",
        converged.get()
    );
}

#[test]
fn reconcile_seeds() {
    let handled = std::cell::Cell::new(0);
    replay("reconcile", 5, |bytes| {
        if let Ok(input) = ReconcileInput::arbitrary_take_rest(Unstructured::new(bytes)) {
            handled.set(handled.get() + check_reconcile(&input));
        }
    });
    assert!(
        handled.get() >= 3,
        "only {} driver steps were replayed: the seeds reach no event",
        handled.get()
    );
}

#[test]
fn federate_seeds() {
    replay("federate", 5, |bytes| {
        if let Ok(input) = FederateInput::arbitrary_take_rest(Unstructured::new(bytes)) {
            check_federate(&input);
        }
    });
}

/// The seeds of findings F8–F10, F15 and F16 (fuzz/README.md) pass their target's checks, none
/// tolerated.
#[test]
fn finding_seeds_f8_to_f10_f15_f16_pass() {
    tolerate_pending_findings(false);
    let finding = |p: &Path| {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        [
            "regression-f8-",
            "regression-f9-",
            "regression-f10-",
            "regression-f15-",
        ]
        .iter()
        .any(|f| name.starts_with(f))
    };
    let mut replayed = 0;
    for target in ["plan", "reconcile"] {
        for (path, bytes) in seeds(target).into_iter().filter(|(p, _)| finding(p)) {
            eprintln!("replaying {}", path.display());
            let u = Unstructured::new(&bytes);
            match target {
                "plan" => {
                    let input = PlanInput::arbitrary_take_rest(u).expect("a plan input");
                    let _ = check_plan(&input);
                }
                _ => {
                    let input = ReconcileInput::arbitrary_take_rest(u).expect("a reconcile input");
                    let _ = check_reconcile(&input);
                }
            }
            replayed += 1;
        }
    }
    assert!(replayed >= 3, "only {replayed} finding seeds");
}
