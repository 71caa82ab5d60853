//! Request counters, so tests can assert what a controller asked for (e.g. "a restart with every
//! mirror in place writes nothing").

/// The verbs the fake serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verb {
    Create,
    Update,
    Delete,
    Get,
    List,
    Watch,
}

impl Verb {
    pub(crate) fn is_write(self) -> bool {
        matches!(self, Self::Create | Self::Update | Self::Delete)
    }
}

/// Requests served by a [`FakeCluster`](crate::FakeCluster) since it was created. A request is
/// counted whether it succeeded or not; injected faults count as failed requests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Every request.
    pub requests: u64,
    /// `get`, `list` and `watch` requests.
    pub reads: u64,
    /// `create`, `update` and `delete` requests (including updates that changed nothing).
    pub writes: u64,
    /// Requests answered with an error (injected or not).
    pub failed_requests: u64,
    /// Of which injected by the fault configuration.
    pub injected_faults: u64,
    /// `create` requests.
    pub creates: u64,
    /// `update` requests.
    pub updates: u64,
    /// `delete` requests.
    pub deletes: u64,
    /// `get` requests.
    pub gets: u64,
    /// `list` requests.
    pub lists: u64,
    /// `watch` requests (streams opened, including re-opened ones after a restart).
    pub watches: u64,
}

impl Stats {
    pub(crate) fn count(&mut self, verb: Verb) {
        self.requests += 1;
        if verb.is_write() {
            self.writes += 1;
        } else {
            self.reads += 1;
        }
        *match verb {
            Verb::Create => &mut self.creates,
            Verb::Update => &mut self.updates,
            Verb::Delete => &mut self.deletes,
            Verb::Get => &mut self.gets,
            Verb::List => &mut self.lists,
            Verb::Watch => &mut self.watches,
        } += 1;
    }
}
