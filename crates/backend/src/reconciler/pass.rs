//! One round of a reconcile: the walk through a plan's operations, in the plan's order, that says
//! which operation to send next. Resumable: the reconciler asks for the next operation, sends it,
//! and reports how it ended before asking again.
//!
//! As [`Plan`] says: an operation whose prerequisite did not succeed in this round is skipped
//! (SPEC §7: an endpoint mirror is not deleted while its root Endpoints may still name its
//! ClusterIP), for the rest of the reconcile when the prerequisite failed for good. An object whose
//! request needs a re-read is skipped for the rest of this round (later operations on the same key
//! may depend on it); one that failed for good, and those of the reconcile's earlier rounds, are
//! skipped for the rest of the reconcile.

use std::collections::BTreeSet;

use svcmirror_core::Plan;
use svcmirror_core::model::ObjectKey;

/// The walk through one plan.
#[derive(Debug)]
pub(crate) struct Pass {
    pub(crate) plan: Plan,
    /// The next operation to consider.
    next: usize,
    /// Keys skipped for the rest of this round.
    skipped: BTreeSet<ObjectKey>,
    succeeded: Vec<bool>,
    /// Writes that took effect in this round.
    pub(crate) writes: u64,
}

impl Pass {
    pub(crate) fn new(plan: Plan) -> Self {
        let succeeded = vec![false; plan.operations.len()];
        Self {
            plan,
            next: 0,
            skipped: BTreeSet::new(),
            succeeded,
            writes: 0,
        }
    }

    /// The index of the next operation to send, or `None` when the round is over. `failed` holds
    /// the keys given up in this reconcile; an operation waiting for one of them is given up too.
    pub(crate) fn next_operation(&mut self, failed: &mut BTreeSet<ObjectKey>) -> Option<usize> {
        while self.next < self.plan.operations.len() {
            let index = self.next;
            self.next += 1;
            let key = self.plan.operations[index].key();
            if failed.contains(&key) || self.skipped.contains(&key) {
                continue;
            }
            let mut waiting = self
                .plan
                .prerequisites(index)
                .filter(|&on| !self.succeeded[on]);
            if let Some(on) = waiting.next() {
                if failed.contains(&self.plan.operations[on].key()) {
                    // Waits for an operation given up in this reconcile: not attempted either.
                    failed.insert(key);
                }
                continue;
            }
            return Some(index);
        }
        None
    }

    /// Operation `index` took effect (`wrote`: by a write of ours, not found already done).
    pub(crate) fn succeeded(&mut self, index: usize, wrote: bool) {
        if let Some(done) = self.succeeded.get_mut(index) {
            *done = true;
        }
        if wrote {
            self.writes += 1;
        }
    }

    /// The rest of this round leaves `key` alone (re-read, or given up).
    pub(crate) fn skip(&mut self, key: ObjectKey) {
        self.skipped.insert(key);
    }
}

#[cfg(test)]
mod tests {
    use svcmirror_core::Dependency;
    use svcmirror_core::model::{Object, Service};
    use svcmirror_core::{Operation, Plan};

    use super::*;

    /// `create a`, then `create b`, which waits for `a` (as a root's Endpoints waits for its
    /// endpoint mirrors, SPEC §6–§7).
    fn plan() -> Plan {
        let create = |name: &str| Operation::Create {
            object: Object::Service(Service::new("default", name)),
        };
        Plan {
            operations: vec![create("a"), create("b")],
            dependencies: vec![Dependency {
                operation: 1,
                on: 0,
            }],
            diagnostics: Vec::new(),
        }
    }

    #[test]
    fn operations_come_in_plan_order_once_their_prerequisites_succeeded() {
        let mut pass = Pass::new(plan());
        let mut failed = BTreeSet::new();
        assert_eq!(pass.next_operation(&mut failed), Some(0));
        pass.succeeded(0, true);
        assert_eq!(pass.next_operation(&mut failed), Some(1));
        pass.succeeded(1, false);
        assert_eq!(pass.next_operation(&mut failed), None);
        assert_eq!(pass.writes, 1, "a moot operation is no write");
        assert!(failed.is_empty());
    }

    #[test]
    fn a_dependent_of_an_operation_given_up_is_given_up_too() {
        let mut pass = Pass::new(plan());
        let mut failed = BTreeSet::new();
        assert_eq!(pass.next_operation(&mut failed), Some(0));
        let a = ObjectKey::new("default", "a");
        failed.insert(a.clone());
        pass.skip(a);
        assert_eq!(
            pass.next_operation(&mut failed),
            None,
            "b is never handed out"
        );
        assert!(failed.contains(&ObjectKey::new("default", "b")));
    }

    #[test]
    fn a_dependent_of_an_operation_being_reread_waits_for_the_next_round() {
        let mut pass = Pass::new(plan());
        let mut failed = BTreeSet::new();
        assert_eq!(pass.next_operation(&mut failed), Some(0));
        pass.skip(ObjectKey::new("default", "a"));
        assert_eq!(pass.next_operation(&mut failed), None);
        assert!(failed.is_empty(), "not given up: planned again next round");
    }
}
