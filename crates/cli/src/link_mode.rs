//! `svcmirror run --link-name NAME`: the link is Linkerd's `Link` resource in the source cluster
//! (SPEC §2.2), followed live.
//!
//! [`follow`] watches the Link and the credentials Secret it names, feeds both to the sans-IO
//! [`LinkSupervisor`], and runs what it answers: (re)start a mirroring session with the Link's
//! spec (flags given beside `--link-name` override its fields) and a target client built from the
//! Secret's `kubeconfig`, or stop it (a deleted Link: the mirrors stay). A restart is a whole-link
//! reconcile like any other change (SPEC §7). [`report_status`] writes the per-export conditions
//! into the Link's `status` (Linkerd v1alpha3's shape), only when they change. What a session
//! does is the caller's (`crate::controller`); nothing here decides anything about mirroring.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::{Stream, StreamExt};
use svcmirror_backend::DriverStatus;
use svcmirror_core::{Link, LinkSpec};
use svcmirror_kube::fence::Fence;
use svcmirror_kube::link_resource::{LinkEvent, LinkResource, LinkStatus, link_status};
use tokio::sync::watch;

use crate::clusters::{Connected, connect_kubeconfig_text};
use crate::gateway_dns::GatewayNames;
use crate::link_watch::{Command, LinkSupervisor, StopReason};

/// The Link followed, and what the command line sets beside it.
pub struct Followed {
    /// The Link and its Secrets, in the source cluster.
    pub resource: LinkResource,
    /// `namespace/name` of the Link, for the log.
    pub id: String,
    /// The Link's namespace (its credentials Secret lives there).
    pub namespace: String,
    /// Fields the flags set: they override the Link's.
    pub overrides: LinkSpec,
    /// `--target-context`: the context used in the Secret's kubeconfig.
    pub target_context: Option<String>,
    /// `--gateway-down`.
    pub gateway_down: bool,
    /// SPEC §2: resolves the Link's gateway DNS names (at each start, then every resync period).
    pub resolver: crate::gateway_dns::Resolver,
    /// `--resync-period`: how soon a start that failed on an unresolved gateway name is retried.
    pub retry_after: Duration,
}

/// SPEC §2.2: the credentials Secret a spec names — `clusterCredentialsSecret`, else Linkerd's
/// `cluster-credentials-<targetClusterName>`.
#[must_use]
pub fn credentials_secret(spec: &LinkSpec) -> String {
    match spec.cluster_credentials_secret.as_deref() {
        Some(secret) if !secret.is_empty() => secret.to_owned(),
        _ => format!(
            "cluster-credentials-{}",
            spec.target_cluster_name.as_deref().unwrap_or_default()
        ),
    }
}

/// The spec of a Link manifest as the API server returns it, the flags' fields over it.
///
/// # Errors
/// Not a Linkerd `Link`, or an unknown or mistyped field (named with its path).
pub fn spec_of(manifest: &serde_json::Value, overrides: &LinkSpec) -> anyhow::Result<LinkSpec> {
    let spec = crate::link_file::parse_spec(&manifest.to_string())?;
    Ok(spec.overridden_by(overrides.clone()))
}

/// A running session: its stop switch and its future (polled here, so that dropping [`follow`]
/// — a lost lease — drops it and no request of it is sent any more).
type Session = (watch::Sender<bool>, BoxFuture<'static, ()>);

type Credentials =
    Pin<Box<dyn Stream<Item = Result<Option<Vec<u8>>, kube::runtime::watcher::Error>> + Send>>;

/// Follows the Link until `stop` completes. `start(link, names, target, stop)` is one mirroring
/// session (`names`: the link's gateway DNS names, to re-resolve), which must end soon after its `stop` is set (or its sender dropped).
pub async fn follow<F>(followed: &Followed, mut start: F, stop: impl Future<Output = ()>)
where
    F: FnMut(
        Link,
        Option<GatewayNames>,
        Connected,
        watch::Receiver<bool>,
    ) -> BoxFuture<'static, ()>,
{
    let id = &followed.id;
    tracing::info!(link = %id, "following the Link {id}: mirroring starts once it and its credentials Secret are read");
    let mut links = Box::pin(followed.resource.watch());
    let mut secret: Option<String> = None;
    let mut credentials: Option<Credentials> = None;
    let mut supervisor = LinkSupervisor::<LinkSpec>::default();
    let mut session: Option<Session> = None;
    // A start that failed on a gateway name DNS did not resolve: retried every `retry_after`
    // (a DNS hiccup at a restart must not stop mirroring until the next edit of the Link).
    let mut retry: Option<(LinkSpec, Vec<u8>, Pin<Box<tokio::time::Sleep>>)> = None;
    tokio::pin!(stop);
    loop {
        let command = tokio::select! {
            () = &mut stop => break,
            () = async {
                match retry.as_mut() {
                    Some((_, _, timer)) => timer.await,
                    None => std::future::pending().await,
                }
            } => match retry.take() {
                Some((spec, kubeconfig, _)) => Command::Start { spec, kubeconfig },
                None => Command::Nothing,
            },
            () = async { if let Some((_, run)) = session.as_mut() { run.await } }, if session.is_some() => {
                session = None;
                Command::Nothing
            }
            event = links.next() => match event {
                Some(Ok(LinkEvent::Applied(manifest))) => match spec_of(&manifest, &followed.overrides) {
                    Ok(spec) => {
                        let name = credentials_secret(&spec);
                        if secret.as_ref() != Some(&name) {
                            // SPEC §2.2: a missing Secret is reported and waited for (its
                            // watch sees it appear).
                            if let Err(e) = followed.resource.credentials(&name).await {
                                tracing::error!(link = %id, secret = %name, "{e}: mirroring waits for Secret {}/{name}", followed.namespace);
                            }
                            credentials = Some(Box::pin(followed.resource.watch_credentials(&name)));
                            secret = Some(name);
                        }
                        supervisor.handle_link(Some(spec))
                    }
                    Err(e) => {
                        tracing::error!(link = %id, "the Link {id} is not usable: {e:#}; nothing changes until it is fixed");
                        Command::Nothing
                    }
                },
                Some(Ok(LinkEvent::Deleted)) => supervisor.handle_link(None),
                Some(Err(e)) => {
                    tracing::warn!(link = %id, "watching the Link {id}: {e}; retrying");
                    Command::Nothing
                }
                None => break,
            },
            update = async {
                match credentials.as_mut() {
                    Some(stream) => stream.next().await,
                    None => std::future::pending().await,
                }
            } => {
                let name = secret.clone().unwrap_or_default();
                match update {
                    Some(Ok(Some(kubeconfig))) => supervisor.handle_credentials(Some(kubeconfig)),
                    Some(Ok(None)) => {
                        tracing::error!(link = %id, secret = %name, "the credentials Secret {}/{name} is gone or has no `kubeconfig` key: mirroring waits for it", followed.namespace);
                        supervisor.handle_credentials(None)
                    }
                    Some(Err(e)) => {
                        tracing::error!(link = %id, secret = %name, "watching the credentials Secret {}/{name}: {e}; retrying", followed.namespace);
                        Command::Nothing
                    }
                    None => {
                        credentials = None;
                        Command::Nothing
                    }
                }
            }
        };
        match command {
            Command::Nothing => {}
            Command::Stop(reason) => {
                retry = None;
                end(session.take()).await;
                match reason {
                    StopReason::LinkDeleted => {
                        tracing::warn!(link = %id, "the Link {id} was deleted: mirroring stopped, the mirrors stay (`svcmirror unlink` removes them)")
                    }
                    StopReason::CredentialsMissing => {
                        tracing::warn!(link = %id, "no target credentials: mirroring stopped, the mirrors stay")
                    }
                }
            }
            Command::Start { spec, kubeconfig } => {
                end(session.take()).await;
                retry = None;
                match begin(followed, &spec, &kubeconfig, &mut start).await {
                    Ok(started) => session = started,
                    Err(Unresolved) => {
                        let timer = Box::pin(tokio::time::sleep(followed.retry_after));
                        retry = Some((spec, kubeconfig, timer));
                    }
                }
            }
        }
    }
    end(session).await;
}

/// A gateway name did not resolve: the start is worth retrying.
struct Unresolved;

/// Builds the link and the target client of a `Start`, and starts the session (or logs why not:
/// `Ok(None)` waits for an edit, [`Unresolved`] is retried).
async fn begin<F>(
    followed: &Followed,
    spec: &LinkSpec,
    kubeconfig: &[u8],
    start: &mut F,
) -> Result<Option<Session>, Unresolved>
where
    F: FnMut(
        Link,
        Option<GatewayNames>,
        Connected,
        watch::Receiver<bool>,
    ) -> BoxFuture<'static, ()>,
{
    let id = &followed.id;
    // The gateway's DNS names are resolved here, at every (re)start of the session, and then
    // every resync period by the session.
    let (link, names) = match GatewayNames::first(spec.clone(), followed.resolver.clone()) {
        Ok((link, names)) => (link.with_gateway_alive(!followed.gateway_down), names),
        Err(e @ svcmirror_core::LinkError::UnresolvedGatewayName { .. }) => {
            tracing::error!(link = %id, "the Link {id}: {e}; mirroring stays stopped (the mirrors stay) and the name is resolved again in {:?}", followed.retry_after);
            return Err(Unresolved);
        }
        Err(e) => {
            tracing::error!(link = %id, "the Link {id} (and flags): {e}; nothing is mirrored until it is fixed");
            return Ok(None);
        }
    };
    for warning in link.warnings() {
        tracing::warn!(link = %id, "{warning}");
    }
    let target = match connect_kubeconfig_text(kubeconfig, followed.target_context.as_deref()).await
    {
        Ok(target) => target,
        Err(e) => {
            tracing::error!(link = %id, secret = %credentials_secret(spec), "the kubeconfig of Secret {}/{}: {e:#}", followed.namespace, credentials_secret(spec));
            return Ok(None);
        }
    };
    tracing::info!(link = %id, target = %target.server, gateway_port = link.gateway_port(), "mirroring with the Link {id}");
    let (stop_tx, stop_rx) = watch::channel(false);
    Ok(Some((stop_tx, start(link, names, target, stop_rx))))
}

/// Stops a session and waits for it to end (its reconcile in flight finishes).
async fn end(session: Option<Session>) {
    if let Some((stop, run)) = session {
        let _ = stop.send(true);
        run.await;
    }
}

/// How long the status writer lets a burst of changes settle before it writes.
const STATUS_DEBOUNCE: Duration = Duration::from_millis(500);

/// Writes the running driver's per-export conditions into the Link's `status`, whenever they
/// change, until the driver is gone (deliverable "status where Linkerd users look").
/// With leader election the patch is fenced like every write (issue 14): refused unless the lease
/// is held with margin, and retried at the next change.
pub async fn report_status(
    resource: LinkResource,
    mut status: watch::Receiver<DriverStatus>,
    fence: Option<Fence>,
) {
    let mut previous: LinkStatus = resource.status().await.unwrap_or_default();
    loop {
        let exports = status.borrow_and_update().exports.clone();
        let now = serde_json::to_value(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            k8s_openapi::jiff::Timestamp::now(),
        ))
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
        let next = link_status(&exports, &previous, &now);
        let fenced = fence.as_ref().is_some_and(|f| f.check().is_err());
        if next != previous && !fenced {
            match resource.patch_status(&next).await {
                Ok(()) => previous = next,
                Err(e) => {
                    tracing::warn!("writing the Link's status: {e}; retrying at the next change")
                }
            }
        }
        if status.changed().await.is_err() {
            return;
        }
        tokio::time::sleep(STATUS_DEBOUNCE).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SPEC §2.2: Linkerd's default Secret name, and the Link's own when set.
    #[test]
    fn the_credentials_secret_is_the_links_or_linkerds_default() {
        let manifest = |secret: Option<&str>| {
            let mut spec =
                serde_json::json!({"targetClusterName": "west", "gatewayAddress": "172.18.0.4"});
            if let Some(secret) = secret {
                spec["clusterCredentialsSecret"] = secret.into();
            }
            serde_json::json!({"apiVersion": "multicluster.linkerd.io/v1alpha3", "kind": "Link",
                "metadata": {"name": "west", "namespace": "linkerd-multicluster", "uid": "u",
                             "resourceVersion": "7"},
                "spec": spec,
                "status": {"mirrorServices": []}})
        };
        let none = LinkSpec::default();
        let spec = spec_of(&manifest(None), &none).expect("a Link as served");
        assert_eq!(credentials_secret(&spec), "cluster-credentials-west");
        let spec = spec_of(&manifest(Some("west-creds")), &none).expect("a Link");
        assert_eq!(credentials_secret(&spec), "west-creds");
    }

    /// A flag beside `--link-name` overrides that field of the Link (as beside `--link FILE`).
    #[test]
    fn flags_override_the_links_fields() {
        let manifest = serde_json::json!({"apiVersion": "multicluster.linkerd.io/v1alpha3",
            "kind": "Link", "metadata": {"name": "west"},
            "spec": {"targetClusterName": "west", "gatewayAddress": "172.18.0.4",
                     "gatewayPort": "4143"}});
        let mut overrides = LinkSpec::default();
        overrides.gateway_port = Some("4180".into());
        let spec = spec_of(&manifest, &overrides).expect("a Link");
        assert_eq!(spec.gateway_port.as_deref(), Some("4180"));
        assert_eq!(spec.target_cluster_name.as_deref(), Some("west"));
        let err = spec_of(
            &serde_json::json!({"apiVersion": "v1", "kind": "Secret"}),
            &overrides,
        )
        .expect_err("not a Link");
        assert!(err.to_string().contains("Link"), "{err:#}");
    }
}
