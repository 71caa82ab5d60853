//! `svcmirror run --link-name`: which link runs, decided from the watched `Link` resource and its
//! credentials Secret (SPEC §2.2), sans-IO.
//!
//! [`LinkSupervisor`] is fed what the watches saw (`handle_link`, `handle_credentials`) and answers
//! with what the pump must do: start (or restart) mirroring with a spec and a kubeconfig, stop, or
//! nothing. A changed spec or kubeconfig restarts mirroring, which is a whole-link reconcile like
//! any other change (SPEC §7); a deleted Link stops mirroring and leaves the mirrors in place
//! (Linkerd's `Stop(false)`); identical updates (a resync, a status patch) do nothing.

/// What the pump must do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command<S> {
    /// Stop whatever runs and start mirroring with this spec and target kubeconfig.
    Start {
        /// The link.
        spec: S,
        /// The target's kubeconfig (the Secret's `kubeconfig` key).
        kubeconfig: Vec<u8>,
    },
    /// Stop mirroring; the mirrors stay.
    Stop(StopReason),
    /// Keep going as is.
    Nothing,
}

/// Why mirroring stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// The Link was deleted (SPEC §2.2: the mirrors stay; `svcmirror unlink` removes them).
    LinkDeleted,
    /// The credentials Secret, or its `kubeconfig` key, is gone.
    CredentialsMissing,
}

/// Which link runs, from the latest Link spec and credentials seen.
#[derive(Debug)]
pub struct LinkSupervisor<S> {
    spec: Option<S>,
    credentials: Option<Vec<u8>>,
    running: Option<(S, Vec<u8>)>,
}

impl<S> Default for LinkSupervisor<S> {
    fn default() -> Self {
        Self {
            spec: None,
            credentials: None,
            running: None,
        }
    }
}

impl<S: Clone + PartialEq> LinkSupervisor<S> {
    /// The Link's spec as now seen (`None`: deleted).
    pub fn handle_link(&mut self, spec: Option<S>) -> Command<S> {
        let deleted = spec.is_none();
        self.spec = spec;
        if deleted {
            return self.stop(StopReason::LinkDeleted);
        }
        self.decide()
    }

    /// The credentials Secret's kubeconfig as now seen (`None`: the Secret or its key is gone).
    pub fn handle_credentials(&mut self, kubeconfig: Option<Vec<u8>>) -> Command<S> {
        let missing = kubeconfig.is_none();
        self.credentials = kubeconfig;
        if missing {
            return self.stop(StopReason::CredentialsMissing);
        }
        self.decide()
    }

    /// The spec mirroring runs with, if it runs.
    #[cfg(test)]
    pub fn running(&self) -> Option<&S> {
        self.running.as_ref().map(|(spec, _)| spec)
    }

    fn stop(&mut self, reason: StopReason) -> Command<S> {
        if self.running.take().is_some() {
            Command::Stop(reason)
        } else {
            Command::Nothing
        }
    }

    fn decide(&mut self) -> Command<S> {
        let (Some(spec), Some(kubeconfig)) = (&self.spec, &self.credentials) else {
            return Command::Nothing;
        };
        if self
            .running
            .as_ref()
            .is_some_and(|(s, k)| s == spec && k == kubeconfig)
        {
            return Command::Nothing;
        }
        self.running = Some((spec.clone(), kubeconfig.clone()));
        Command::Start {
            spec: spec.clone(),
            kubeconfig: kubeconfig.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start(spec: &str, kubeconfig: &str) -> Command<String> {
        Command::Start {
            spec: spec.into(),
            kubeconfig: kubeconfig.into(),
        }
    }

    #[test]
    fn starts_once_both_link_and_credentials_are_known() {
        let mut s = LinkSupervisor::default();
        assert_eq!(s.handle_link(Some("west".to_owned())), Command::Nothing);
        assert_eq!(
            s.handle_credentials(Some(b"k1".to_vec())),
            start("west", "k1")
        );
        assert_eq!(s.running().map(String::as_str), Some("west"));
        // Credentials first works too.
        let mut s = LinkSupervisor::default();
        assert_eq!(s.handle_credentials(Some(b"k1".to_vec())), Command::Nothing);
        assert_eq!(s.handle_link(Some("west".to_owned())), start("west", "k1"));
    }

    #[test]
    fn an_edit_of_the_link_or_its_credentials_restarts_and_a_repeat_does_nothing() {
        let mut s = LinkSupervisor::default();
        s.handle_link(Some("west".to_owned()));
        s.handle_credentials(Some(b"k1".to_vec()));
        assert_eq!(s.handle_link(Some("west".to_owned())), Command::Nothing);
        assert_eq!(s.handle_credentials(Some(b"k1".to_vec())), Command::Nothing);
        assert_eq!(
            s.handle_link(Some("west-2".to_owned())),
            start("west-2", "k1")
        );
        assert_eq!(
            s.handle_credentials(Some(b"k2".to_vec())),
            start("west-2", "k2"),
            "rotated credentials are picked up"
        );
    }

    #[test]
    fn a_deleted_link_stops_mirroring_and_a_recreated_one_starts_it_again() {
        // SPEC §2.2: deleting the Link stops mirroring and leaves the mirrors.
        let mut s = LinkSupervisor::default();
        s.handle_link(Some("west".to_owned()));
        s.handle_credentials(Some(b"k1".to_vec()));
        assert_eq!(s.handle_link(None), Command::Stop(StopReason::LinkDeleted));
        assert_eq!(s.running(), None);
        assert_eq!(s.handle_link(None), Command::Nothing, "stopped once");
        assert_eq!(s.handle_link(Some("west".to_owned())), start("west", "k1"));
        assert_eq!(
            s.handle_credentials(None),
            Command::Stop(StopReason::CredentialsMissing)
        );
        assert_eq!(
            s.handle_credentials(Some(b"k1".to_vec())),
            start("west", "k1")
        );
    }
}
