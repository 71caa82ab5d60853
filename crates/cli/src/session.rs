//! One mirroring session of `svcmirror run`: the reconcile driver for one link between the source
//! and one target, with its gateway prober, its progress watcher (findings logged once, `/healthz`
//! progress) and, with `--link-name`, the writer of the Link's status. `crate::controller` runs
//! one for the life of the process (`--link FILE`/flags) or one per Link version and credentials
//! (`crate::link_mode`), always inside the leader's work: dropping it stops every write of it.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use futures::future::BoxFuture;
use svcmirror_backend::{Driver, DriverConfig, DriverStatus, TokioClock};
use svcmirror_core::{Diagnostic, Link, Severity, TargetEndpoints};
use svcmirror_kube::client::Timeouts;
use svcmirror_kube::fence::Fence;
use svcmirror_kube::link_resource::LinkResource;
use svcmirror_kube::{KubeSource, KubeTarget};
use tokio::sync::watch;

use crate::admin::Shared;
use crate::clusters::Connected;
use crate::gateway_dns::GatewayNames;
use crate::metrics::{Cluster, Registry};
use crate::observe::Observed;

/// What a session needs besides its link and target: shared by every session of the process.
pub struct Ctx {
    pub source_cluster: Observed<KubeSource>,
    pub source_client: kube::Client,
    pub registry: Arc<Registry>,
    pub shared: Arc<Mutex<Shared>>,
    pub config: DriverConfig,
    pub target_endpoints: TargetEndpoints,
    pub probe: crate::probe::ProbeArgs,
    pub namespaces: Vec<String>,
    /// The leader lease's fence (none without leader election): the Link status write obeys it.
    pub fence: Option<Fence>,
}

/// One mirroring session: the driver for `link` between the source and `target`, until `stop`
/// is set (or its sender dropped). With `status_to` (`--link-name`), the per-export conditions go
/// into that Link's status. With `names` (the link's gateway DNS names), they are re-resolved
/// every resync period and a changed set of addresses is applied to the running driver
/// (SPEC §2). Dropping the future drops the driver, the prober's stop switch and the status
/// writer: nothing of it writes any more.
pub fn session(
    ctx: Arc<Ctx>,
    source_server: &str,
    link: Link,
    names: Option<GatewayNames>,
    target: Connected,
    stop: watch::Receiver<bool>,
    status_to: Option<LinkResource>,
) -> BoxFuture<'static, ()> {
    let source_server = source_server.to_owned();
    Box::pin(async move {
        let cluster_name = link.cluster_name().as_str().to_owned();
        tracing::info!(
            link = %cluster_name,
            source = %source_server,
            target = %target.server,
            selector = %link.export_selector(),
            "starting the mirror controller for link {cluster_name}: exported Services of the target \
             cluster ({}) are mirrored into the source cluster ({})",
            target.server,
            source_server,
        );
        if target.server == source_server {
            tracing::warn!(
                server = %source_server,
                "the source and target kubeconfigs point at the same API server ({}): this mirrors the \
                 cluster into itself; check --target-kubeconfig",
                source_server
            );
        }
        if let Err(e) = check_confinement(&ctx.namespaces, &link) {
            tracing::error!("{e}: nothing is mirrored until the Link is fixed");
            stopped(stop).await;
            return;
        }
        let target_cluster = Observed::new(
            // SPEC §9: remote-discovery and federated members too (see `KubeTarget::for_link`).
            KubeTarget::for_link(target.client.clone(), &link)
                .with_target_endpoints(ctx.target_endpoints)
                .with_timeouts(&Timeouts::default()),
            Cluster::Target,
            &target.server,
            ctx.registry.clone(),
        );
        // The prober lives as long as this session (its stop switch is dropped with it), or
        // until the gateway addresses change.
        let metrics = (!ctx.probe.no_probe).then(|| {
            let metrics = Arc::new(crate::probe::ProbeMetrics::new(
                link.cluster_name().as_str(),
            ));
            ctx.shared.lock().expect("lock").probe = Some(metrics.clone());
            metrics
        });
        let (mut probe_stop, probe_stopped) = watch::channel(false);
        let liveness = spawn_prober(&ctx, &link, metrics.clone(), probe_stopped);
        // SPEC §2: the gateway names, re-resolved every resync period (a task of this session).
        let (rebuilt_tx, mut rebuilt) = watch::channel(None::<Link>);
        let _resolver = names.map(|names| {
            AbortOnDrop(tokio::spawn(re_resolve(
                names,
                link.gateway_addresses().to_vec(),
                ctx.config.resync_interval,
                rebuilt_tx,
            )))
        });
        let mut driver = Driver::new(link, ctx.source_cluster.clone(), target_cluster, TokioClock)
            .with_config(ctx.config.clone());
        if let Some(liveness) = liveness {
            driver = driver.with_gateway_liveness(liveness);
        }
        let status = driver.subscribe();
        {
            let mut shared = ctx.shared.lock().expect("lock");
            shared.status = Some(status.clone());
            shared.leader = true;
            shared.last_progress = Some(Instant::now());
        }
        let progress = tokio::spawn(watch_progress(status.clone(), ctx.shared.clone()));
        let fence = ctx.fence.clone();
        let report = async move {
            if let Some(resource) = status_to {
                crate::link_mode::report_status(resource, status, fence).await;
            }
            std::future::pending::<()>().await;
        };
        let mirror = async {
            loop {
                // The driver finishes the reconcile in flight before it returns (issue 14).
                let rebuilt_link = async {
                    // No names to re-resolve (the sender is gone): never.
                    if rebuilt.changed().await.is_err() {
                        std::future::pending::<()>().await;
                    }
                };
                let interrupted = async {
                    tokio::select! {
                        () = stopped(stop.clone()) => {}
                        () = rebuilt_link => {}
                    }
                };
                driver.run(interrupted).await;
                if *stop.borrow() || stop.has_changed().is_err() {
                    return;
                }
                let Some(next) = rebuilt.borrow_and_update().clone() else {
                    continue;
                };
                // The new addresses are probed from the decision standing (SPEC §2.1).
                let alive = driver.link().gateway_alive();
                let next = next.with_gateway_alive(alive);
                // Dropping the old prober's switch stops it.
                let (new_switch, probe_stopped) = watch::channel(false);
                drop(std::mem::replace(&mut probe_stop, new_switch));
                if let Some(liveness) = spawn_prober(&ctx, &next, metrics.clone(), probe_stopped) {
                    driver = driver.with_gateway_liveness(liveness);
                }
                // A Link edit's road: a whole-link reconcile rewrites every mirror Endpoints.
                let _ = driver.set_link(next).await;
            }
        };
        tokio::select! {
            () = mirror => {}
            () = report => {}
        }
        progress.abort();
        let mut shared = ctx.shared.lock().expect("lock");
        // Its counters join the past; the replica still leads (the next session may follow).
        shared.driver_stopped();
        shared.leader = true;
    })
}

/// Follows the running driver's status: marks progress for `/healthz`, and logs each finding of
/// the core once, when it appears (a name conflict, an export refused) and when it is resolved.
async fn watch_progress(mut status: watch::Receiver<DriverStatus>, shared: Arc<Mutex<Shared>>) {
    let mut known: BTreeSet<Diagnostic> = BTreeSet::new();
    let mut list_error: Option<String> = None;
    loop {
        let (diagnostics, error) = {
            let status = status.borrow_and_update();
            (
                status.diagnostics.iter().cloned().collect::<BTreeSet<_>>(),
                status.list_error.as_ref().map(ToString::to_string),
            )
        };
        shared.lock().expect("lock").last_progress = Some(Instant::now());
        for d in diagnostics.difference(&known) {
            log_finding(d);
        }
        for d in known.difference(&diagnostics) {
            tracing::info!(reason = %d.reason, kind = %d.kind, object = %d.object, "resolved: {} {} {}", d.reason, d.kind, d.object);
        }
        known = diagnostics;
        if error.is_none() && list_error.is_some() {
            tracing::info!("both clusters are listed again: reconciling");
        }
        list_error = error;
        if status.changed().await.is_err() {
            return;
        }
    }
}

/// One finding of the core as a log line: errors (an export not mirrored) are warnings of the
/// process, warnings (mirrored differently) are info.
fn log_finding(d: &Diagnostic) {
    match d.severity {
        Severity::Error => tracing::warn!(
            reason = %d.reason, kind = %d.kind, object = %d.object,
            "not mirrored: {d}"
        ),
        _ => tracing::info!(
            reason = %d.reason, kind = %d.kind, object = %d.object,
            "mirrored with a finding: {d}"
        ),
    }
}

/// `--namespaces` (issue 14, least privilege) confines the source to namespaces that exist:
/// creating one needs cluster-wide access, which the namespaced RBAC does not grant.
pub fn check_confinement(namespaces: &[String], link: &Link) -> anyhow::Result<()> {
    anyhow::ensure!(
        namespaces.is_empty() || !link.create_namespaces(),
        "--namespaces confines the source to existing namespaces: createNamespaces needs \
         cluster-wide access"
    );
    for ns in namespaces {
        anyhow::ensure!(
            svcmirror_core::is_dns1123_label(ns),
            "--namespaces: {ns:?} is not a namespace name"
        );
    }
    Ok(())
}

/// SPEC §2.1: starts the gateway prober (unless `--no-probe`) with the link's probeSpec, the
/// `--probe-*` flags over it; its decisions go to the driver through the returned receiver, its
/// metrics to `/metrics`, its transitions to an Event. It stops when `stop` is set or dropped.
fn spawn_prober(
    ctx: &Ctx,
    link: &Link,
    metrics: Option<Arc<crate::probe::ProbeMetrics>>,
    stop: watch::Receiver<bool>,
) -> Option<watch::Receiver<bool>> {
    let metrics = metrics?;
    let cluster = link.cluster_name().as_str().to_owned();
    let (alive_tx, alive_rx) = watch::channel(link.gateway_alive());
    let (client, namespace) = (
        ctx.source_client.clone(),
        ctx.source_client.default_namespace().to_owned(),
    );
    let on_transition = move |transition| {
        tracing::warn!(cluster = %cluster, ?transition, "gateway liveness changed");
        tokio::spawn(svcmirror_kube::record_gateway_transition(
            client.clone(),
            namespace.clone(),
            cluster.clone(),
            transition,
        ));
    };
    tokio::spawn(crate::probe::run(
        ctx.probe.spec(link.gateway_probe()),
        link.gateway_addresses().to_vec(),
        metrics,
        alive_tx,
        on_transition,
        stopped(stop),
    ));
    Some(alive_rx)
}

/// SPEC §2: every `period`, resolves the link's gateway names again; a changed set of addresses
/// (order-insensitive) is sent as the rebuilt link. A name that fails keeps its last good
/// addresses, with a WARN naming it and the cluster. Ends when the session drops `rebuilt`.
async fn re_resolve(
    mut names: GatewayNames,
    mut current: Vec<std::net::IpAddr>,
    period: std::time::Duration,
    rebuilt: watch::Sender<Option<Link>>,
) {
    // The first tick is at once: a session that starts from an older answer (a lease acquired
    // again) catches up before its first resync.
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = rebuilt.closed() => return,
            _ = ticker.tick() => {}
        }
        // `getaddrinfo` blocks: off the runtime's workers.
        let Ok((back, (link, kept))) = tokio::task::spawn_blocking(move || {
            let answer = names.again();
            (names, answer)
        })
        .await
        else {
            return;
        };
        names = back;
        let link = match link {
            Ok(link) => link,
            Err(e) => {
                tracing::warn!("re-resolving the gateway: {e}; the link keeps its addresses");
                continue;
            }
        };
        let cluster = link.cluster_name().as_str().to_owned();
        for k in &kept {
            tracing::warn!(
                cluster = %cluster, host = %k.host, error = %k.error,
                "gateway name {} of link {cluster} did not resolve ({}): keeping its last \
                 addresses {}",
                k.host, k.error, crate::gateway_dns::list(&k.addresses)
            );
        }
        if !crate::gateway_dns::changed(&current, link.gateway_addresses()) {
            continue;
        }
        let new = link.gateway_addresses().to_vec();
        tracing::info!(
            cluster = %cluster, old = %crate::gateway_dns::list(&current),
            new = %crate::gateway_dns::list(&new),
            "gateway addresses of link {cluster} changed from {} to {} (DNS): every mirror's \
             Endpoints is rewritten",
            crate::gateway_dns::list(&current), crate::gateway_dns::list(&new)
        );
        current = new;
        if rebuilt.send(Some(link)).is_err() {
            return;
        }
    }
}

/// Aborts a task when dropped (the session's re-resolver ends with the session).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Completes once the stop flag is set.
pub async fn stopped(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}
