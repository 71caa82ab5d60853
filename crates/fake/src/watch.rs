//! Watch events: every write the store performs, as the API server's watch reports it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use svcmirror_core::model::Object;

/// One change to the store, as a Kubernetes watch reports it. The object carries the
/// resourceVersion of the change (for `Deleted`, the resourceVersion of the deletion).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchEvent {
    /// The object was created.
    Added(Object),
    /// The object was replaced.
    Modified(Object),
    /// The object was deleted; this is its last state.
    Deleted(Object),
}

impl WatchEvent {
    /// The object concerned.
    #[must_use]
    pub fn object(&self) -> &Object {
        match self {
            Self::Added(o) | Self::Modified(o) | Self::Deleted(o) => o,
        }
    }
}

/// The open watch streams of a cluster, and the signals that wake them and those waiting for
/// them (no sleeping anywhere: every wake-up is caused by a write or a watcher's progress).
#[derive(Debug)]
pub(crate) struct WatchHub {
    /// Bumped on every write and every restart: wakes waiting watch streams.
    writes: tokio::sync::watch::Sender<u64>,
    /// Bumped when a watcher opens, ends or catches up: wakes [`crate::FakeHandle::watches_settled`].
    progress: tokio::sync::watch::Sender<u64>,
    watchers: BTreeMap<u64, Watcher>,
    next_id: u64,
    /// Incremented by a restart: every watcher of an older epoch ends.
    epoch: u64,
}

#[derive(Debug)]
struct Watcher {
    /// The resourceVersion of the last event handed to the stream.
    cursor: u64,
    epoch: u64,
    /// The stream found nothing new and is waiting for the next write.
    waiting: bool,
    /// False once the stream was dropped (it may not have been able to unregister).
    alive: Arc<AtomicBool>,
}

/// What a watch stream gets when it asks for more.
#[derive(Debug)]
pub(crate) enum WatchPoll {
    /// New events (possibly only Namespace ones).
    Events(Vec<WatchEvent>),
    /// Nothing new: wait for the next write.
    Waiting,
    /// The watch was restarted: the stream ends and its consumer must relist.
    Ended,
}

impl Default for WatchHub {
    fn default() -> Self {
        Self {
            writes: tokio::sync::watch::Sender::new(0),
            progress: tokio::sync::watch::Sender::new(0),
            watchers: BTreeMap::new(),
            next_id: 0,
            epoch: 0,
        }
    }
}

impl WatchHub {
    pub(crate) fn wrote(&self) {
        self.writes.send_modify(|n| *n += 1);
    }

    fn progressed(&self) {
        self.progress.send_modify(|n| *n += 1);
    }

    /// Registers a watcher starting after `resource_version`.
    pub(crate) fn open(
        &mut self,
        resource_version: u64,
    ) -> (u64, Arc<AtomicBool>, tokio::sync::watch::Receiver<u64>) {
        self.next_id += 1;
        let alive = Arc::new(AtomicBool::new(true));
        self.watchers.insert(
            self.next_id,
            Watcher {
                cursor: resource_version,
                epoch: self.epoch,
                waiting: false,
                alive: Arc::clone(&alive),
            },
        );
        self.progressed();
        (self.next_id, alive, self.writes.subscribe())
    }

    pub(crate) fn close(&mut self, id: u64) {
        if self.watchers.remove(&id).is_some() {
            self.progressed();
        }
    }

    /// Ends every open watch at its next poll.
    pub(crate) fn restart(&mut self) {
        self.epoch += 1;
        self.wrote();
        self.progressed();
    }

    /// Hands watcher `id` what was logged after its cursor. `restart` is asked once per event
    /// about to be delivered (fault injection); a `true` ends the watch instead.
    pub(crate) fn poll(
        &mut self,
        id: u64,
        log: &[(u64, WatchEvent)],
        mut restart: impl FnMut() -> bool,
    ) -> WatchPoll {
        let Some(&Watcher { cursor, epoch, .. }) = self.watchers.get(&id) else {
            return WatchPoll::Ended;
        };
        if epoch != self.epoch {
            self.close(id);
            return WatchPoll::Ended;
        }
        let new = &log[log.partition_point(|(rv, _)| *rv <= cursor)..];
        let Some(&(last, _)) = new.last() else {
            if let Some(w) = self.watchers.get_mut(&id) {
                w.waiting = true;
            }
            self.progressed();
            return WatchPoll::Waiting;
        };
        if new.iter().any(|_| restart()) {
            self.close(id);
            return WatchPoll::Ended;
        }
        if let Some(w) = self.watchers.get_mut(&id) {
            w.cursor = last;
            w.waiting = false;
        }
        WatchPoll::Events(new.iter().map(|(_, e)| e.clone()).collect())
    }

    /// At least `min` watchers are open and each has been handed everything up to
    /// `resource_version` and asked for more since.
    pub(crate) fn settled(&self, min: usize, resource_version: u64) -> bool {
        let live: Vec<&Watcher> = self
            .watchers
            .values()
            .filter(|w| w.alive.load(Ordering::SeqCst) && w.epoch == self.epoch)
            .collect();
        live.len() >= min
            && live
                .iter()
                .all(|w| w.waiting && w.cursor >= resource_version)
    }

    pub(crate) fn subscribe_progress(&self) -> tokio::sync::watch::Receiver<u64> {
        self.progress.subscribe()
    }
}
