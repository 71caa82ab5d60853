//! Issue 14 ("a watch that fails right after its list loops without backoff"): whether the target
//! watch proved healthy, and so whether the next relist waits. A watch proves healthy when it
//! delivers a change after its own initial list (its first `Restarted`), or lives through a resync
//! interval; while watches keep breaking before that, each relist waits one backoff step longer,
//! so a broken watch never relists both clusters in a tight loop. Pure bookkeeping: the caller
//! draws the delay ([`Reconciler::relist_backoff`](crate::Reconciler::relist_backoff)).

/// The health of the watches of one run loop.
#[derive(Debug, Default)]
pub(crate) struct WatchHealth {
    /// Consecutive watches (or lists) that broke before proving healthy.
    quiet_restarts: u32,
    /// Whether the current watch proved healthy.
    delivered: bool,
    /// Whether the current watch has delivered nothing yet.
    first: bool,
}

impl WatchHealth {
    /// The backoff attempt to wait before the next watch and relist, if any.
    pub(crate) fn backoff_attempt(&self) -> Option<u32> {
        self.quiet_restarts.checked_sub(1)
    }

    /// The relist before a watch failed: the next one waits longer.
    pub(crate) fn list_failed(&mut self) {
        self.quiet_restarts = self.quiet_restarts.saturating_add(1);
    }

    /// A watch started (and its relist succeeded).
    pub(crate) fn started(&mut self) {
        self.delivered = false;
        self.first = true;
    }

    /// The watch delivered an event; its own first `Restarted` (its initial list) is no proof.
    pub(crate) fn delivered(&mut self, restarted: bool) {
        if !(self.first && restarted) {
            self.delivered = true;
        }
        self.first = false;
    }

    /// The watch lived through a resync interval.
    pub(crate) fn lived_through_resync(&mut self) {
        self.delivered = true;
    }

    /// The watch ended or failed.
    pub(crate) fn ended(&mut self) {
        self.quiet_restarts = if self.delivered {
            0
        } else {
            self.quiet_restarts.saturating_add(1)
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 14: watches that break right after their initial list back off further each time.
    #[test]
    fn watches_that_break_after_their_initial_list_back_off_further_each_time() {
        let mut health = WatchHealth::default();
        assert_eq!(
            health.backoff_attempt(),
            None,
            "the first watch starts at once"
        );
        for attempt in 0..3 {
            health.started();
            health.delivered(true); // the watcher's initial list
            health.ended();
            assert_eq!(health.backoff_attempt(), Some(attempt));
        }
    }

    /// A watch that delivered a change, or lived through a resync, resets the backoff.
    #[test]
    fn a_watch_that_proved_healthy_resets_the_backoff() {
        let mut health = WatchHealth::default();
        health.list_failed();
        health.list_failed();
        assert_eq!(health.backoff_attempt(), Some(1));
        health.started();
        health.delivered(true);
        health.delivered(false);
        health.ended();
        assert_eq!(health.backoff_attempt(), None);

        health.list_failed();
        health.started();
        health.lived_through_resync();
        health.ended();
        assert_eq!(health.backoff_attempt(), None);

        // A `Restarted` that is not the watch's first (a relist within it) is a change.
        health.list_failed();
        health.started();
        health.delivered(true);
        health.delivered(true);
        health.ended();
        assert_eq!(health.backoff_attempt(), None);
    }
}
