//! Every Service of a cluster, listed and watched: what `svcmirror local` (SPEC §9, the local
//! member writer) reads of the source cluster — its own federated members and the federated
//! Services, in one collection. Transport only: which of them are members, and what to write, is
//! `svcmirror-core`'s decision.
//!
//! RBAC: `list` and `watch` on `services`, cluster-wide.

use futures::StreamExt;
use futures::stream::BoxStream;
use k8s_openapi::api::core::v1 as k8s;
use kube::api::{Api, ListParams};
use kube::runtime::{WatchStreamExt, watcher};
use svcmirror_backend::ApiError;
use svcmirror_core::model::{Kind, Service};

use crate::client::Timeouts;
use crate::convert;
use crate::source::list_all;

/// Every Service of the cluster (all namespaces, paged by 500).
///
/// # Errors
/// The list failed (mapped as every request of this crate is).
pub async fn list_services(client: &kube::Client) -> Result<Vec<Service>, ApiError> {
    let items = list_all(
        &Api::<k8s::Service>::all(client.clone()),
        &ListParams::default(),
        Kind::Service,
    )
    .await?;
    Ok(items.into_iter().map(convert::service_from_k8s).collect())
}

/// One item per change of any Service in the cluster (and per re-list), as kube-runtime's watcher
/// sees them (with its default backoff, resuming on its own after an error, which is yielded).
/// What changed is not said: a change is the cue to list again.
pub fn watch_services(client: kube::Client) -> BoxStream<'static, Result<(), ApiError>> {
    watcher(Api::<k8s::Service>::all(client), watch_config())
        .default_backoff()
        .map(|event| {
            event
                .map(|_| ())
                .map_err(|e| ApiError::Unavailable(format!("watch of services: {e}")))
        })
        .boxed()
}

/// Issue 14: the server ends a quiet watch ([`Timeouts::watch_timeout_secs`]) before the
/// client's read timeout would call it dead (an ERROR line and a reconnect every minute).
fn watch_config() -> watcher::Config {
    watcher::Config::default().timeout(Timeouts::default().watch_timeout_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A quiet watch of every Service is ended by the server (50 s) before the client's read
    /// timeout (60 s), as the target's watches are.
    #[test]
    fn the_server_ends_a_quiet_watch_before_the_read_timeout() {
        let timeout = watch_config().timeout.expect("a timeoutSeconds");
        assert_eq!(timeout, 50);
        assert!(u64::from(timeout) < Timeouts::default().read.as_secs());
    }
}
