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
    watcher(Api::<k8s::Service>::all(client), watcher::Config::default())
        .default_backoff()
        .map(|event| {
            event
                .map(|_| ())
                .map_err(|e| ApiError::Unavailable(format!("watch of services: {e}")))
        })
        .boxed()
}
