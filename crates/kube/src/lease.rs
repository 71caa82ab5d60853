//! Leader election with a `coordination.k8s.io/v1` Lease, so two replicas never write at once.
//!
//! The rule is client-go's: a lease is expired when its record (holder, renew time) has not
//! changed for `leaseDurationSeconds` **as measured on this replica's monotonic clock** from the
//! moment it first saw that record. Comparing the lease's `renewTime` with the local wall clock
//! would make the election depend on clock skew between nodes. Every write is a `replace` carrying
//! the resourceVersion that was read (or a `create`), so two candidates racing for the same
//! expired lease cannot both win: the second gets a 409.
//!
//! The holder renews every `retry_period`; if it has not renewed successfully for
//! `renew_deadline` (< the lease duration) it considers itself deposed and must stop writing
//! *before* anybody else may take the lease over.

use std::time::{Duration, Instant, SystemTime};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{Api, PostParams};

use crate::fence::Fence;

/// A failed Lease request.
#[derive(Debug, thiserror::Error)]
#[error("Lease {namespace}/{name}: {}", crate::error::describe(source))]
pub struct LeaseError {
    /// The Lease's namespace.
    pub namespace: String,
    /// The Lease's name.
    pub name: String,
    /// What kube-rs reported.
    #[source]
    pub source: kube::Error,
}

/// What this replica knows about the lease it last read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// `spec.holderIdentity`; `None` or empty when released.
    pub holder: Option<String>,
    /// `spec.leaseDurationSeconds`.
    pub lease_duration: Duration,
    /// When (on this replica's monotonic clock) the current record was first seen.
    pub seen_at: Instant,
}

/// What to do after reading the lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// No lease exists: create it, holding it.
    Create,
    /// We hold it: renew it.
    Renew,
    /// Nobody holds it, or its holder stopped renewing: take it over.
    TakeOver,
    /// Somebody else holds it and renews it: wait.
    Follow {
        /// The current holder.
        holder: String,
    },
}

/// The election rule, a pure function of the observed lease, our identity and the current instant.
#[must_use]
pub fn decide(observed: Option<&Observed>, identity: &str, now: Instant) -> Decision {
    let Some(observed) = observed else {
        return Decision::Create;
    };
    match observed.holder.as_deref() {
        Some(holder) if holder == identity => Decision::Renew,
        None | Some("") => Decision::TakeOver,
        Some(holder) => {
            if now.saturating_duration_since(observed.seen_at) >= observed.lease_duration {
                Decision::TakeOver
            } else {
                Decision::Follow {
                    holder: holder.to_owned(),
                }
            }
        }
    }
}

/// Where the lease lives and how it is held. Built by [`LeaseConfig::new`] (its fields are
/// public to adjust; `#[non_exhaustive]`, so one added later breaks no embedder, issue 13).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LeaseConfig {
    /// The Lease's name.
    pub name: String,
    /// The Lease's namespace (the controller's own).
    pub namespace: String,
    /// This replica's identity (its pod name).
    pub identity: String,
    /// How long a lease stays valid without renewal (default 15 s).
    pub lease_duration: Duration,
    /// How long the holder keeps trying to renew before it considers itself deposed (default
    /// 10 s; must be shorter than the lease duration).
    pub renew_deadline: Duration,
    /// The interval between attempts to acquire or renew (default 2 s).
    pub retry_period: Duration,
}

impl LeaseConfig {
    /// A configuration with client-go's default timings (15 s / 10 s / 2 s).
    #[must_use]
    pub fn new(name: &str, namespace: &str, identity: &str) -> Self {
        Self {
            name: name.to_owned(),
            namespace: namespace.to_owned(),
            identity: identity.to_owned(),
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }
}

/// Acquires, renews and releases one Lease, and keeps its [`Fence`] (when given one) open exactly
/// while the lease is held with margin: every successful round opens it until the round's start +
/// `renew_deadline`, a lost round closes it, a failed one lets it run out.
pub struct LeaderElector {
    api: Api<Lease>,
    config: LeaseConfig,
    fence: Option<Fence>,
    /// The resourceVersion of the record last read, and when it was first seen.
    last_seen: Option<(String, Instant)>,
    /// The other replica last seen holding the lease (logged when it changes).
    leader: Option<String>,
}

impl std::fmt::Debug for LeaderElector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeaderElector")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl LeaderElector {
    /// An elector for the Lease `config.namespace/config.name`.
    #[must_use]
    pub fn new(client: kube::Client, config: LeaseConfig) -> Self {
        Self {
            api: Api::namespaced(client, &config.namespace),
            config,
            fence: None,
            last_seen: None,
            leader: None,
        }
    }

    /// The same elector, keeping `fence` open while it holds the lease (see [`crate::fence`]).
    #[must_use]
    pub fn with_fence(mut self, fence: Fence) -> Self {
        self.fence = Some(fence);
        self
    }

    /// Now, on the fence's clock (the real monotonic clock without a fence).
    fn now(&self) -> Instant {
        self.fence.as_ref().map_or_else(Instant::now, Fence::now)
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &LeaseConfig {
        &self.config
    }

    fn error(&self, source: kube::Error) -> LeaseError {
        LeaseError {
            namespace: self.config.namespace.clone(),
            name: self.config.name.clone(),
            source,
        }
    }

    /// One round: read the lease, [`decide`], write. `Ok(true)` when this replica holds the lease
    /// afterwards; a lost race (409) is `Ok(false)`.
    ///
    /// # Errors
    /// Any other API failure.
    pub async fn try_acquire_or_renew(&mut self, now: Instant) -> Result<bool, LeaseError> {
        let held = self.round(now).await;
        if let Some(fence) = &self.fence {
            match held {
                Ok(true) => fence.renewed(now, self.config.renew_deadline),
                Ok(false) => fence.close(),
                // Unknown: the fence runs out at the renew deadline on its own.
                Err(_) => {}
            }
        }
        held
    }

    async fn round(&mut self, now: Instant) -> Result<bool, LeaseError> {
        let current = self
            .api
            .get_opt(&self.config.name)
            .await
            .map_err(|e| self.error(e))?;
        let observed = current.as_ref().map(|lease| self.observe(lease, now));
        let wall = MicroTime(
            SystemTime::now()
                .try_into()
                .unwrap_or(k8s_openapi::jiff::Timestamp::UNIX_EPOCH),
        );
        let result = match (
            decide(observed.as_ref(), &self.config.identity, now),
            current,
        ) {
            (Decision::Follow { holder }, _) => {
                // Said once per leader: a standby tells who leads.
                if self.leader.as_deref() != Some(holder.as_str()) {
                    tracing::info!(leader = %holder, "standby: {holder} holds Lease {}/{} and writes", self.config.namespace, self.config.name);
                    self.leader = Some(holder.clone());
                }
                return Ok(false);
            }
            (Decision::Create, _) | (Decision::Renew | Decision::TakeOver, None) => {
                let lease = Lease {
                    metadata: ObjectMeta {
                        name: Some(self.config.name.clone()),
                        namespace: Some(self.config.namespace.clone()),
                        ..ObjectMeta::default()
                    },
                    spec: Some(self.spec(wall.clone(), wall, 0)),
                };
                self.api.create(&PostParams::default(), &lease).await
            }
            (Decision::Renew, Some(mut lease)) => {
                let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
                spec.renew_time = Some(wall);
                spec.lease_duration_seconds = Some(secs(self.config.lease_duration));
                self.api
                    .replace(&self.config.name, &PostParams::default(), &lease)
                    .await
            }
            (Decision::TakeOver, Some(mut lease)) => {
                let transitions = lease
                    .spec
                    .as_ref()
                    .and_then(|s| s.lease_transitions)
                    .unwrap_or(0);
                lease.spec = Some(self.spec(wall.clone(), wall, transitions.saturating_add(1)));
                self.api
                    .replace(&self.config.name, &PostParams::default(), &lease)
                    .await
            }
        };
        match result {
            Ok(lease) => {
                if let Some(rv) = lease.metadata.resource_version {
                    self.last_seen = Some((rv, now));
                }
                Ok(true)
            }
            Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
            Err(e) => Err(self.error(e)),
        }
    }

    /// Gives the lease up (on shutdown) so another replica need not wait for it to expire.
    ///
    /// # Errors
    /// Any API failure; a lease held by someone else is left alone and is not an error.
    pub async fn release(&mut self) -> Result<(), LeaseError> {
        if let Some(fence) = &self.fence {
            fence.close();
        }
        let Some(mut lease) = self
            .api
            .get_opt(&self.config.name)
            .await
            .map_err(|e| self.error(e))?
        else {
            return Ok(());
        };
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        if spec.holder_identity.as_deref() != Some(self.config.identity.as_str()) {
            return Ok(());
        }
        spec.holder_identity = None;
        spec.lease_duration_seconds = Some(1);
        match self
            .api
            .replace(&self.config.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(status)) if status.code == 409 => Ok(()),
            Err(e) => Err(self.error(e)),
        }
    }

    /// Waits until this replica holds the lease, trying every `retry_period`.
    pub async fn acquire(&mut self) {
        loop {
            let now = self.now();
            match tokio::time::timeout(self.config.renew_deadline, self.try_acquire_or_renew(now))
                .await
                .unwrap_or(Ok(false))
            {
                Ok(true) => return,
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "acquiring the lease in the source cluster failed: {e}")
                }
            }
            tokio::time::sleep(self.config.retry_period).await;
        }
    }

    /// Renews the lease every `retry_period` and returns once leadership is lost: another
    /// replica holds it, or no renewal succeeded for `renew_deadline`. Each attempt is cut off at
    /// the renew deadline, so a hung connection cannot keep a deposed leader believing it leads.
    /// Run it on its own task (`tokio::spawn`), never beside CPU-bound reconciles on one task:
    /// renewals must not wait for a translate to finish.
    pub async fn hold(&mut self) {
        let mut renewed = self.now();
        loop {
            tokio::time::sleep(self.config.retry_period).await;
            let now = self.now();
            let budget = (renewed + self.config.renew_deadline).saturating_duration_since(now);
            let attempt = if budget.is_zero() {
                None
            } else {
                tokio::time::timeout(budget, self.try_acquire_or_renew(now))
                    .await
                    .ok()
            };
            match attempt {
                Some(Ok(true)) => renewed = now,
                Some(Ok(false)) => return,
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "renewing the lease in the source cluster failed: {e}");
                }
                None => tracing::warn!(
                    timeout = ?budget,
                    "renewing the lease in the source cluster timed out (no answer before the renew deadline)"
                ),
            }
            if self.now().saturating_duration_since(renewed) >= self.config.renew_deadline {
                if let Some(fence) = &self.fence {
                    fence.close();
                }
                return;
            }
        }
    }

    fn spec(&self, acquire: MicroTime, renew: MicroTime, transitions: i32) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(self.config.identity.clone()),
            lease_duration_seconds: Some(secs(self.config.lease_duration)),
            acquire_time: Some(acquire),
            renew_time: Some(renew),
            lease_transitions: Some(transitions),
            ..LeaseSpec::default()
        }
    }

    /// Records when the lease's current version was first seen, and describes it.
    fn observe(&mut self, lease: &Lease, now: Instant) -> Observed {
        let rv = lease.metadata.resource_version.clone().unwrap_or_default();
        let seen_at = match &self.last_seen {
            Some((seen_rv, at)) if *seen_rv == rv => *at,
            _ => {
                self.last_seen = Some((rv, now));
                now
            }
        };
        let spec = lease.spec.clone().unwrap_or_default();
        Observed {
            holder: spec.holder_identity,
            lease_duration: Duration::from_secs(
                u64::try_from(spec.lease_duration_seconds.unwrap_or(0)).unwrap_or(0),
            ),
            seen_at,
        }
    }
}

fn secs(d: Duration) -> i32 {
    i32::try_from(d.as_secs()).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn observed(holder: Option<&str>, seen_at: Instant) -> Observed {
        Observed {
            holder: holder.map(str::to_owned),
            lease_duration: Duration::from_secs(15),
            seen_at,
        }
    }

    #[test]
    fn no_lease_is_created() {
        assert_eq!(decide(None, "pod-a", Instant::now()), Decision::Create);
    }

    #[test]
    fn own_lease_is_renewed_even_when_late() {
        let t0 = Instant::now();
        let lease = observed(Some("pod-a"), t0);
        assert_eq!(decide(Some(&lease), "pod-a", t0), Decision::Renew);
        assert_eq!(
            decide(Some(&lease), "pod-a", t0 + Duration::from_secs(60)),
            Decision::Renew
        );
    }

    #[test]
    fn live_lease_of_another_is_followed_until_it_expires() {
        let t0 = Instant::now();
        let lease = observed(Some("pod-b"), t0);
        let follow = Decision::Follow {
            holder: "pod-b".to_owned(),
        };
        assert_eq!(decide(Some(&lease), "pod-a", t0), follow);
        assert_eq!(
            decide(Some(&lease), "pod-a", t0 + Duration::from_secs(14)),
            follow
        );
        assert_eq!(
            decide(Some(&lease), "pod-a", t0 + Duration::from_secs(15)),
            Decision::TakeOver
        );
    }

    #[test]
    fn released_lease_is_taken_over_at_once() {
        let t0 = Instant::now();
        assert_eq!(
            decide(Some(&observed(None, t0)), "pod-a", t0),
            Decision::TakeOver
        );
        assert_eq!(
            decide(Some(&observed(Some(""), t0)), "pod-a", t0),
            Decision::TakeOver
        );
    }

    #[test]
    fn expiry_is_measured_from_when_the_record_was_first_seen() {
        // A holder that keeps renewing changes the record, so `seen_at` moves on and the lease
        // never expires for the follower, whatever the wall clocks say.
        let t0 = Instant::now();
        let later = t0 + Duration::from_secs(20);
        let renewed = observed(Some("pod-b"), later);
        assert!(matches!(
            decide(Some(&renewed), "pod-a", later + Duration::from_secs(1)),
            Decision::Follow { .. }
        ));
    }
}
