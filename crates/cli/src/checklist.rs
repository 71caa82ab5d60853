//! The checklist `svcmirror check` prints on stdout, in `linkerd check`'s marks: `√` passed,
//! `×` failed (exit 1), `‼` a warning (does not fail), `-` a check skipped (on request, or not permitted to
//! the account it runs as). A leaf:
//! the check modules use it, it uses none of them.

/// The lines printed so far, and whether one failed.
#[derive(Debug, Default)]
pub struct Checklist {
    /// A `×` line was printed.
    pub failed: bool,
}

impl Checklist {
    /// A check that passed.
    pub fn ok(&mut self, what: &str) {
        println!("√ {what}");
    }

    /// A check that failed, with what to do about it.
    pub fn fail(&mut self, what: &str, hint: &str) {
        self.failed = true;
        println!("× {what}\n    {hint}");
    }

    /// A warning: worth a look, not a failure.
    pub fn warn(&mut self, what: &str, hint: &str) {
        println!("‼ {what}\n    {hint}");
    }

    /// A check not run, on request or for want of permission (not a failure).
    pub fn skip(&mut self, what: &str) {
        println!("- {what}");
    }
}
