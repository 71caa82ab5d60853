//! `svcmirror local`: the local member writer (SPEC §9) as a controller against the source
//! cluster only — Linkerd's `local-service-mirror` Deployment (`linkerd multicluster install`).
//!
//! It watches every Service of the source; at each change (and every resync period) it lists
//! them, hands them to the core ([`crate::local::local_share`]: `federate_as(Local)` then
//! `plan_federated`) and applies the plan through the kube source adapter wrapped in
//! [`Observed`] (one INFO line per write naming the cluster, one WARN per failed request). The
//! plan only ever touches federated Services (the core's ownership); a link's controller
//! (`svcmirror run`) writes the `<name>@<cluster>` entries of the same Services, and the two
//! meet through `409 Conflict` and a re-read. A headless member is refused with the core's
//! `InvalidService`, logged once per change of the findings. Leader election as `run`'s
//! ([`crate::leader`]), Lease `svcmirror-local` by default.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use futures::StreamExt;
use svcmirror_backend::{ApiError, DriverStatus, SourceCluster};
use svcmirror_core::{Diagnostic, LabelSelector, Operation, SourceState};
use svcmirror_kube::KubeSource;
use svcmirror_kube::fence::Fence;
use tokio::sync::watch;

use crate::admin::{Shared, serve_http};
use crate::clusters::connect;
use crate::metrics::{Cluster, Registry};
use crate::observe::Observed;
use crate::session::stopped;

/// Options of `svcmirror local`.
#[derive(clap::Args, Debug)]
pub struct LocalArgs {
    /// Kubeconfig of the source cluster (whose own Services are the local members, and where the
    /// federated Services are written). By default the in-cluster service account; outside a
    /// cluster, `$KUBECONFIG` or `~/.kube/config`.
    #[arg(long, value_name = "FILE")]
    pub source_kubeconfig: Option<PathBuf>,
    /// Context to use in the source kubeconfig.
    #[arg(long, value_name = "NAME")]
    pub source_context: Option<String>,
    /// Label selector of the local members (Linkerd's `-federated-service-selector`; give the
    /// same as the links' `federatedServiceSelector`).
    #[arg(long, value_name = "SELECTOR", alias = "federated-selector",
          default_value = crate::local::DEFAULT_LOCAL_SELECTOR,
          value_parser = crate::local::parse_selector)]
    pub federated_service_selector: LabelSelector,
    /// Interval of the periodic full resync (`300s`, `5m`; at least 10s).
    #[arg(long, value_name = "DURATION", default_value = "300s", value_parser = crate::flags::duration)]
    pub resync_period: Duration,
    /// Accept a `--resync-period` below 10s (tests that watch several resyncs go by).
    #[arg(long, hide = true)]
    pub allow_short_resync: bool,
    /// Address of the HTTP server for /healthz, /readyz and /metrics.
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:9990", value_parser = crate::flags::listen_addr)]
    pub metrics_addr: SocketAddr,
    /// Name of the leader-election Lease (Linkerd's is `local-service-mirror-write`).
    #[arg(long, value_name = "NAME", default_value = "svcmirror-local")]
    pub lease_name: String,
    /// Namespace of the leader-election Lease (default: the source client's namespace, i.e. the
    /// pod's own in a cluster).
    #[arg(long, value_name = "NAMESPACE")]
    pub lease_namespace: Option<String>,
    /// Run without leader election (one replica only).
    #[arg(long)]
    pub no_leader_election: bool,
    #[command(flatten)]
    pub log: crate::logging::LogArgs,
}

/// Re-reads after a `409 Conflict` (another writer changed the federated Service between our
/// list and our write) before waiting for the next change.
const CONFLICT_PASSES: usize = 3;

/// Runs the local member writer until SIGTERM or Ctrl-C.
pub fn run(args: LocalArgs) -> anyhow::Result<()> {
    crate::flags::check_resync_period(args.resync_period, args.allow_short_resync)
        .map_err(anyhow::Error::msg)?;
    crate::logging::init(&args.log)?;
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the tokio runtime")?
        .block_on(controller(args))
}

/// What one writer pass needs.
struct Writer {
    client: kube::Client,
    source: Observed<KubeSource>,
    registry: Arc<Registry>,
    selector: LabelSelector,
    server: String,
}

async fn controller(args: LocalArgs) -> anyhow::Result<()> {
    let source = connect(
        args.source_kubeconfig.as_deref(),
        args.source_context.as_deref(),
    )
    .await
    .context("source cluster client")?;
    let fence = Fence::new();
    let mut adapter = KubeSource::new(source.client.clone());
    if !args.no_leader_election {
        adapter = adapter.with_fence(fence.clone());
    }
    let registry = Arc::new(Registry::default());
    let writer = Writer {
        client: source.client.clone(),
        source: Observed::new(adapter, Cluster::Source, &source.server, registry.clone()),
        registry: registry.clone(),
        selector: args.federated_service_selector.clone(),
        server: source.server.clone(),
    };
    tracing::info!(
        selector = %args.federated_service_selector, server = %source.server,
        "local member writer: Services of the source cluster ({}) selected by {} join their \
         <name>-federated Service as multicluster.linkerd.io/local-discovery",
        source.server, args.federated_service_selector
    );

    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        crate::controller::wait_for_signal().await;
        tracing::info!("shutting down");
        let _ = stop_tx.send(true);
    });
    let shared = Arc::new(Mutex::new(Shared {
        stuck_after: args.resync_period * 3 + Duration::from_secs(60),
        registry,
        ..Shared::default()
    }));
    let listener = tokio::net::TcpListener::bind(args.metrics_addr)
        .await
        .with_context(|| format!("binding --metrics-addr {}", args.metrics_addr))?;
    tracing::info!(addr = %args.metrics_addr, "serving /healthz, /readyz and /metrics on {}", args.metrics_addr);
    tokio::spawn(serve_http(
        listener,
        shared.clone(),
        stopped(stop_rx.clone()),
    ));

    let identity = crate::controller::identity();
    let mut elector = crate::leader::elector(
        !args.no_leader_election,
        &source.client,
        &args.lease_name,
        args.lease_namespace.as_deref(),
        &identity,
        &fence,
    );
    loop {
        if !crate::leader::acquire(&mut elector, &identity, stopped(stop_rx.clone())).await {
            break;
        }
        shared.lock().expect("lock").became_leader();
        let work = lead(&writer, &shared, args.resync_period, stop_rx.clone());
        // The lease is renewed on its own task (crate::leader), never beside the work.
        let lost = crate::leader::term(&mut elector, work).await;
        shared.lock().expect("lock").driver_stopped();
        if !lost {
            break;
        }
    }
    crate::leader::release(elector).await;
    tracing::info!("stopped");
    Ok(())
}

/// The writer's loop while leading: a pass at start, at every change of a Service and every
/// resync period, until `stop`.
async fn lead(
    writer: &Writer,
    shared: &Arc<Mutex<Shared>>,
    resync: Duration,
    stop: watch::Receiver<bool>,
) {
    let (status_tx, status_rx) = watch::channel(DriverStatus::default());
    shared.lock().expect("lock").status = Some(status_rx);
    let mut status = DriverStatus::default();
    let mut changes = svcmirror_kube::services::watch_services(writer.client.clone());
    let mut logged: Vec<Diagnostic> = Vec::new();
    let stopped_now = stopped(stop);
    tokio::pin!(stopped_now);
    loop {
        reconcile(writer, &mut status, &mut logged).await;
        shared.lock().expect("lock").last_progress = Some(Instant::now());
        let _ = status_tx.send(status.clone());
        tokio::select! {
            () = &mut stopped_now => return,
            () = tokio::time::sleep(resync) => {}
            change = changes.next() => match change {
                Some(Ok(())) => status.stats.events += 1,
                Some(Err(e)) => {
                    status.stats.watch_restarts += 1;
                    writer.registry.request(Cluster::Source, "watch", crate::observe::result_label(&e), None);
                    tracing::error!(
                        cluster = "source", server = %writer.server,
                        "source cluster ({}): watch services in all namespaces failed: {}; retrying with backoff",
                        writer.server, crate::observe::status_words(&e)
                    );
                }
                None => changes = svcmirror_kube::services::watch_services(writer.client.clone()),
            },
        }
        // A burst of changes is one pass: what is already queued is taken now.
        while let Some(Some(Ok(()))) = futures::FutureExt::now_or_never(changes.next()) {
            status.stats.events += 1;
        }
    }
}

/// One whole reconcile: list, plan, apply; again after a conflict (bounded).
async fn reconcile(writer: &Writer, status: &mut DriverStatus, logged: &mut Vec<Diagnostic>) {
    status.stats.reconciles += 1;
    status.stats.full_reconciles += 1;
    for _ in 0..CONFLICT_PASSES {
        status.stats.passes += 1;
        let started = Instant::now();
        let listed = svcmirror_kube::services::list_services(&writer.client).await;
        let label = listed
            .as_ref()
            .map_or_else(crate::observe::result_label, |_| "ok");
        writer
            .registry
            .request(Cluster::Source, "list", label, Some(started.elapsed()));
        status.stats.requests += 1;
        let services = match listed {
            Ok(services) => {
                status.stats.relists += 1;
                status.list_error = None;
                services
            }
            Err(e) => {
                tracing::error!(
                    cluster = "source", server = %writer.server,
                    "source cluster ({}): list services in all namespaces failed: {}; retrying at the next change or resync",
                    writer.server, crate::observe::status_words(&e)
                );
                return;
            }
        };
        let source = SourceState::new(services, Vec::new());
        let (translation, plan) = crate::local::local_share(&writer.selector, &source);
        let mut found = translation.diagnostics;
        found.extend(plan.diagnostics);
        found.sort();
        found.dedup();
        // SPEC §9/§10: each finding (a headless member's InvalidService…) once, when it appears.
        for d in found.iter().filter(|d| !logged.contains(d)) {
            tracing::warn!(reason = ?d.reason, object = %d.object, "{d}");
        }
        logged.clone_from(&found);
        status.diagnostics = found;
        let mut conflicted = false;
        for op in plan.operations {
            status.stats.requests += 1;
            let result = apply(&writer.source, op).await;
            match result {
                Ok(()) => status.stats.writes += 1,
                Err(ApiError::Conflict { .. } | ApiError::AlreadyExists { .. }) => {
                    status.stats.conflicts += 1;
                    conflicted = true;
                }
                Err(_) => status.stats.failed_requests += 1,
            }
        }
        if !conflicted {
            return;
        }
    }
}

/// Sends one planned operation (Observed logs it, or its failure).
async fn apply(source: &Observed<KubeSource>, op: Operation) -> Result<(), ApiError> {
    match op {
        Operation::Create { object } => source.create(&object).await.map(drop),
        Operation::Update { object, .. } => source.update(&object).await.map(drop),
        Operation::Delete {
            kind,
            key,
            precondition,
            ..
        } => source.delete(kind, &key, &precondition).await,
        other => Err(ApiError::Unsupported {
            action: other.action(),
            kind: other.kind(),
            key: other.key(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(clap::Parser)]
    struct Wrapper {
        #[command(flatten)]
        local: LocalArgs,
    }

    /// Linkerd's defaults: the federated selector `mirror.linkerd.io/federated=member`; the
    /// Lease is this writer's own (not a link's); a selector that does not parse is refused.
    #[test]
    fn defaults_are_linkerds_and_a_bad_selector_is_refused() {
        let parsed = Wrapper::try_parse_from(["svcmirror"]).expect("parses");
        assert_eq!(
            parsed.local.federated_service_selector.to_string(),
            "mirror.linkerd.io/federated=member"
        );
        assert_eq!(parsed.local.lease_name, "svcmirror-local");
        assert_eq!(parsed.local.resync_period, Duration::from_secs(300));
        let custom = Wrapper::try_parse_from(["svcmirror", "--federated-selector", "tier=fed"])
            .expect("the alias parses");
        assert_eq!(
            custom.local.federated_service_selector.to_string(),
            "tier=fed"
        );
        assert!(
            Wrapper::try_parse_from(["svcmirror", "--federated-service-selector", "a in b"])
                .is_err()
        );
    }
}
