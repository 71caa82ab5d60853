//! SPEC §3 and §7: who gets a mirror name. A name one of our objects in the source already serves
//! stays with that export (sticky names); among the rest, the first claim in (namespace, name)
//! order wins; and two claims for one name — a hash collision included — are detected, never
//! merged. The claims of one translation, and the check every claim goes through.

use std::collections::{BTreeMap, BTreeSet};

use crate::labels::{self, RemoteRef};
use crate::link::Link;
use crate::model::ObjectKey;
use crate::view::SourceView;

/// Why a claim was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// SPEC §7 sticky names: our object of this name in the source serves these other exports
    /// (one, unless its Service and Endpoints disagree), which still want it.
    Held(Vec<ObjectKey>),
    /// SPEC §3 collision: an earlier claim of this translation took the name for this.
    Claimed(RemoteRef),
}

/// The mirror names claimed in one translation (SPEC §3, §7). Build it with the names the source's
/// objects already serve ([`NameClaims::new`]), then [`claim`](NameClaims::claim) every desired
/// name in the order of SPEC §7.
#[derive(Debug, Clone, Default)]
pub struct NameClaims {
    /// SPEC §7 sticky names: the exports our objects in the source serve, by their name.
    held: BTreeMap<ObjectKey, Vec<ObjectKey>>,
    /// Held names whose holders no longer want them (found by an earlier round of the
    /// translation): free for anyone.
    released: BTreeSet<ObjectKey>,
    /// The names claimed so far, and for what.
    claimed: BTreeMap<ObjectKey, RemoteRef>,
    /// Held names refused to a newcomer.
    refused: BTreeSet<ObjectKey>,
}

impl NameClaims {
    /// The claims of a translation for `link` against `source`: every name our Services and
    /// Endpoints in the source serve (their `remote-svc-fq-name`, [`labels::remote_ref`]) is held
    /// by that export, except the `released` ones.
    #[must_use]
    pub fn new(
        link: &Link,
        source: &(impl SourceView + ?Sized),
        released: BTreeSet<ObjectKey>,
    ) -> Self {
        let mut held: BTreeMap<ObjectKey, Vec<ObjectKey>> = BTreeMap::new();
        let metas = source
            .each_service()
            .map(|s| s.metadata())
            .chain(source.each_endpoints().map(|e| e.metadata()));
        for meta in metas {
            if let Some(serves) = labels::remote_ref(meta, link) {
                let holders = held.entry(meta.key()).or_default();
                if !holders.contains(&serves.export) {
                    holders.push(serves.export);
                    holders.sort();
                }
            }
        }
        Self {
            held,
            released,
            ..Self::default()
        }
    }

    /// Claims the name `key` for `claimant`. Refused when another export holds it in the source
    /// (SPEC §7) or an earlier claim took it (SPEC §3: a collision is a conflict for the later
    /// claim, never a merge). Claiming a name again for the same claimant is allowed.
    ///
    /// # Errors
    /// The [`Refusal`], naming the holder.
    pub fn claim(&mut self, key: &ObjectKey, claimant: &RemoteRef) -> Result<(), Refusal> {
        if let Some(earlier) = self.claimed.get(key) {
            return if earlier == claimant {
                Ok(())
            } else {
                Err(Refusal::Claimed(earlier.clone()))
            };
        }
        if let Some(holders) = self.held.get(key)
            && !self.released.contains(key)
            && !holders.contains(&claimant.export)
        {
            self.refused.insert(key.clone());
            return Err(Refusal::Held(holders.clone()));
        }
        self.claimed.insert(key.clone(), claimant.clone());
        Ok(())
    }

    /// The held names refused to a newcomer whose holders did not claim them in this round: once
    /// the whole translation has run, they are known to be unwanted by their holders, and a next
    /// round (with them released) gives them to the newcomer. Empty when nothing changes.
    #[must_use]
    pub fn unwanted_refusals(&self) -> BTreeSet<ObjectKey> {
        self.refused
            .iter()
            .filter(|key| !self.claimed.contains_key(*key))
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::{CLUSTER_NAME, MIRRORED_SERVICE, REMOTE_SVC_FQ_NAME};
    use crate::model::Service;
    use crate::state::SourceState;

    fn key(ns: &str, name: &str) -> ObjectKey {
        ObjectKey::new(ns, name)
    }

    fn link() -> Link {
        Link::builder("west")
            .gateway_address("172.18.0.4".parse().expect("ip"))
            .build()
            .expect("link")
    }

    /// SPEC §3 collision detection, with a forced collision: two different desired objects
    /// mapped to one name (as two hostnames whose shortened names share a hash would be). The
    /// later claim is refused and names the earlier one; nothing is merged.
    #[test]
    fn a_forced_collision_is_a_conflict_for_the_later_claim() {
        let mut claims = NameClaims::default();
        let name = key("default", "kafka-broker-west-0123456789abcdef");
        let first = RemoteRef::endpoint_mirror(&key("default", "kafka"), "broker-a");
        let second = RemoteRef::endpoint_mirror(&key("default", "kafka"), "broker-b");
        assert_eq!(claims.claim(&name, &first), Ok(()));
        assert_eq!(
            claims.claim(&name, &second),
            Err(Refusal::Claimed(first.clone()))
        );
        assert_eq!(claims.claim(&name, &first), Ok(()), "idempotent");
        let other_export = RemoteRef::mirror(&key("default", "kafka-broker"));
        assert_eq!(
            claims.claim(&name, &other_export),
            Err(Refusal::Claimed(first))
        );
    }

    /// SPEC §7 sticky names: a name our mirror of `default/web` holds is refused to
    /// `default/aaa`, allowed to `default/web`, and free once released.
    #[test]
    fn a_held_name_stays_with_its_export_until_released() {
        let mut live = Service::new("default", "web-west");
        for (k, v) in [(MIRRORED_SERVICE, "true"), (CLUSTER_NAME, "west")] {
            live.metadata.labels.insert(k.into(), v.into());
        }
        live.metadata.annotations.insert(
            REMOTE_SVC_FQ_NAME.into(),
            "web.default.svc.cluster.local".into(),
        );
        let source = SourceState::new(vec![live], Vec::new());
        let name = key("default", "web-west");
        let web = RemoteRef::mirror(&key("default", "web"));
        let newcomer = RemoteRef::endpoint_mirror(&key("default", "aaa"), "web");

        let mut claims = NameClaims::new(&link(), &source, BTreeSet::new());
        assert_eq!(
            claims.claim(&name, &newcomer),
            Err(Refusal::Held(vec![key("default", "web")]))
        );
        assert_eq!(claims.unwanted_refusals(), BTreeSet::from([name.clone()]));
        assert_eq!(claims.claim(&name, &web), Ok(()));
        assert!(claims.unwanted_refusals().is_empty(), "the holder wants it");

        let mut next = NameClaims::new(&link(), &source, BTreeSet::from([name.clone()]));
        assert_eq!(next.claim(&name, &newcomer), Ok(()));
    }
}
