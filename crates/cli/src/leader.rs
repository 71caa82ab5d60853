//! Leading while holding the Lease (issue 14): the renewals run on **their own task**, so a
//! CPU-bound reconcile on the driver's task can never delay them past the renew deadline, and
//! the elector's [`Fence`](svcmirror_kube::fence::Fence) stops the source adapter's writes the
//! moment the lease is no longer held with margin — even before this task notices it lost.

use std::future::Future;

use svcmirror_kube::fence::Fence;
use svcmirror_kube::lease::{LeaderElector, LeaseConfig};
use tokio::sync::oneshot;

/// What became of a term as leader.
pub enum Term<T> {
    /// `work` finished (a shutdown) while the lease was held.
    Finished(T),
    /// The lease was lost; `work` was dropped (its writes were already fenced).
    Lost,
}

/// Runs `work` while `elector` renews the lease on a spawned task. Hands the elector back (to
/// acquire again, or to release the lease) with what happened.
pub async fn lead<F: Future>(
    mut elector: LeaderElector,
    work: F,
) -> (LeaderElector, Term<F::Output>) {
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let mut holder = tokio::spawn(async move {
        let lost = {
            let hold = elector.hold();
            tokio::select! {
                () = hold => true,
                _ = stop_rx => false,
            }
        };
        (elector, lost)
    });
    tokio::select! {
        output = work => {
            let _ = stop_tx.send(());
            let (elector, _) = holder.await.expect("the lease task does not panic");
            (elector, Term::Finished(output))
        }
        held = &mut holder => {
            let (elector, _) = held.expect("the lease task does not panic");
            (elector, Term::Lost)
        }
    }
}

/// One term of a controller's main loop: runs `work` while holding the lease (renewed by
/// [`lead`]), or simply runs it without leader election. True when the lease was lost, the
/// work dropped, and the replica should wait to acquire it again; logs that.
pub async fn term<F: Future<Output = ()>>(elector: &mut Option<LeaderElector>, work: F) -> bool {
    let lost = match elector.take() {
        Some(held) => {
            let (held, term) = lead(held, work).await;
            *elector = Some(held);
            matches!(term, Term::Lost)
        }
        None => {
            work.await;
            false
        }
    };
    if lost {
        // The work future was dropped above: no request of it is sent any more.
        tracing::warn!(
            "lost the lease: this replica stopped writing and waits to acquire it again"
        );
    }
    lost
}

/// Hands the lease over at shutdown (a successor need not wait for it to expire).
pub async fn release(elector: Option<LeaderElector>) {
    if let Some(mut elector) = elector
        && let Err(e) = elector.release().await
    {
        tracing::warn!(error = %e, "releasing the lease failed ({e}); it expires on its own");
    }
}

/// The elector of Lease `name` in `namespace` (default: the source client's namespace) as
/// `identity`, its writes fenced by `fence`; `None` without leader election. Says once which
/// Lease it contends for, as whom.
pub fn elector(
    enabled: bool,
    client: &kube::Client,
    name: &str,
    namespace: Option<&str>,
    identity: &str,
    fence: &Fence,
) -> Option<LeaderElector> {
    if !enabled {
        return None;
    }
    let lease = LeaseConfig::new(
        name,
        namespace.unwrap_or(client.default_namespace()),
        identity,
    );
    tracing::info!(
        lease = %lease.name, namespace = %lease.namespace, identity = %lease.identity,
        "leader election on Lease {}/{} as {}: only the holder writes",
        lease.namespace, lease.name, lease.identity
    );
    Some(LeaderElector::new(client.clone(), lease).with_fence(fence.clone()))
}

/// Waits until this replica holds the lease (at once without leader election), and says so.
/// False when `stop` came first.
pub async fn acquire<S: Future<Output = ()>>(
    elector: &mut Option<LeaderElector>,
    identity: &str,
    stop: S,
) -> bool {
    if let Some(elector) = elector.as_mut() {
        tokio::select! {
            () = elector.acquire() => {}
            () = stop => return false,
        }
        tracing::info!(leader = %identity, "acquired the lease: this replica ({identity}) is the leader and writes");
    }
    true
}
