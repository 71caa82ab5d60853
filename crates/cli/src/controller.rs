//! `svcmirror run`: the mirror controller between two live clusters.
//!
//! Glue only: it builds two kube clients, the link, the reconcile driver of `svcmirror-backend`
//! over `svcmirror-kube`'s adapters (each wrapped in [`Observed`]: every request logged and
//! measured), and runs it while this replica holds the leader Lease. It serves `/healthz`,
//! `/readyz` and Prometheus `/metrics` ([`crate::admin`]), logs with `tracing`
//! ([`crate::logging`]), and stops on SIGTERM or Ctrl-C (releasing the Lease). It decides nothing
//! about mirroring.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use futures::future::BoxFuture;
use svcmirror_backend::{Driver, DriverConfig, DriverStatus, TokioClock};
use svcmirror_core::{Diagnostic, Link, Severity, TargetEndpoints};
use svcmirror_kube::client::Timeouts;
use svcmirror_kube::fence::Fence;
use svcmirror_kube::lease::{LeaderElector, LeaseConfig};
use svcmirror_kube::link_resource::LinkResource;
use svcmirror_kube::{KubeSource, KubeTarget};
use tokio::sync::watch;

use crate::admin::{Shared, serve_http};
use crate::args::LinkArgs;
use crate::clusters::{Connected, connect};
use crate::link_mode::Followed;
use crate::metrics::{Cluster, Registry};
use crate::observe::Observed;

/// Options of `svcmirror run`.
#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// Kubeconfig of the target cluster (where Services are exported), e.g. the `kubeconfig` key of
    /// Linkerd's `cluster-credentials-<cluster>` Secret mounted as a file. Not with
    /// `--link-name`, which reads that Secret itself.
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "link_name",
        conflicts_with = "link_name"
    )]
    pub target_kubeconfig: Option<PathBuf>,
    /// SPEC §2.2: follow Linkerd's `Link` resource NAME in the source cluster (as Linkerd's
    /// service mirror does): its spec is the link (flags given beside it override its fields),
    /// an edit reconfigures, a deletion stops mirroring (the mirrors stay); the target's
    /// kubeconfig is the `kubeconfig` key of the Secret it names (`clusterCredentialsSecret`,
    /// default `cluster-credentials-<targetClusterName>`), re-read when it changes; each export's
    /// conditions are written into the Link's status.
    #[arg(long, value_name = "NAME", conflicts_with = "link_file")]
    pub link_name: Option<String>,
    /// Namespace of the `--link-name` Link and its credentials Secret.
    #[arg(long, value_name = "NAMESPACE", default_value = svcmirror_kube::link_resource::DEFAULT_LINK_NAMESPACE)]
    pub link_namespace: String,
    /// Context to use in the target kubeconfig (its current context by default).
    #[arg(long, value_name = "NAME")]
    pub target_context: Option<String>,
    /// Kubeconfig of the source cluster (where mirrors are written). By default the in-cluster
    /// service account; outside a cluster, `$KUBECONFIG` or `~/.kube/config`.
    #[arg(long, value_name = "FILE")]
    pub source_kubeconfig: Option<PathBuf>,
    /// Context to use in the source kubeconfig.
    #[arg(long, value_name = "NAME")]
    pub source_context: Option<String>,
    /// The link: `--link FILE` (a Linkerd Link manifest or a bare spec) and/or flags.
    #[command(flatten)]
    pub link: LinkArgs,
    /// Where the target's endpoints are read from: endpoints (core/v1 Endpoints), slices
    /// (discovery.k8s.io/v1 EndpointSlices), or auto (a Service's Endpoints, else its slices; the
    /// target credentials then need list/watch on endpointslices).
    #[arg(long, value_name = "KIND", default_value_t = TargetEndpoints::Auto,
          value_parser = |s: &str| s.parse::<TargetEndpoints>())]
    pub target_endpoints: TargetEndpoints,
    /// Interval of the periodic full resync (`300`, `300s`, `5m`, `1m30s`, `1h`; at least 10s).
    /// `/healthz` fails when the leader's loop made no progress for 3 periods plus a minute.
    #[arg(long, value_name = "DURATION", default_value = "300s", value_parser = crate::flags::duration)]
    pub resync_period: Duration,
    /// Accept a `--resync-period` below 10s (tests that watch several resyncs go by).
    #[arg(long, hide = true)]
    pub allow_short_resync: bool,
    /// Address of the HTTP server for /healthz, /readyz and /metrics (`:9990` listens on every
    /// IPv4 address).
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:9990", value_parser = crate::flags::listen_addr)]
    pub metrics_addr: SocketAddr,
    /// Name of the leader-election Lease (default `svcmirror-<cluster-name>`).
    #[arg(long, value_name = "NAME")]
    pub lease_name: Option<String>,
    /// Namespace of the leader-election Lease (default: the source client's namespace, i.e. the
    /// pod's own in a cluster).
    #[arg(long, value_name = "NAMESPACE")]
    pub lease_namespace: Option<String>,
    /// Run without leader election (one replica only, e.g. on a laptop).
    #[arg(long)]
    pub no_leader_election: bool,
    #[command(flatten)]
    pub log: crate::logging::LogArgs,
    /// Confine the source to these namespaces (comma-separated, repeatable): Services, Endpoints
    /// and EndpointSlices are listed there only and each Namespace is read by name, so RoleBindings
    /// in those namespaces suffice (deploy/rbac-source-namespaced.yaml). Exports elsewhere are
    /// reported NamespaceMissing. Incompatible with createNamespaces.
    #[arg(long, value_name = "NS,...", value_delimiter = ',')]
    pub namespaces: Vec<String>,
    /// On SIGTERM, how long the reconcile in flight may take to finish (a type flip re-creates
    /// the mirror it deleted) before the controller exits anyway.
    #[arg(long, value_name = "DURATION", default_value = "20s", value_parser = crate::flags::duration)]
    pub shutdown_grace: Duration,
    /// SPEC §2.1: the gateway probe.
    #[command(flatten)]
    pub probe: crate::probe::ProbeArgs,
}

/// The link from `--link` and the flags (SPEC §2: one `LinkSpec`), its warnings logged.
fn read_link(args: &RunArgs) -> anyhow::Result<Link> {
    let link = args.link.build()?;
    for warning in link.warnings() {
        tracing::warn!("{warning}");
    }
    Ok(link)
}

/// Runs the controller until SIGTERM or Ctrl-C.
pub fn run(args: RunArgs) -> anyhow::Result<()> {
    crate::flags::check_resync_period(args.resync_period, args.allow_short_resync)
        .map_err(anyhow::Error::msg)?;
    crate::logging::init(&args.log)?;
    // SPEC §2.2: with --link-name the link is read from the cluster, once running.
    let link = match args.link_name {
        Some(_) => None,
        None => Some(read_link(&args)?),
    };
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the tokio runtime")?
        .block_on(controller(args, link))
}

/// This replica's identity in the Lease: `$POD_NAME`, else the hostname.
fn identity() -> String {
    std::env::var("POD_NAME")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
        })
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| format!("svcmirror-{}", std::process::id()))
}

/// What a session needs besides its link and target: shared by every session of the process.
struct Ctx {
    source_cluster: Observed<KubeSource>,
    source_client: kube::Client,
    registry: Arc<Registry>,
    shared: Arc<Mutex<Shared>>,
    config: DriverConfig,
    target_endpoints: TargetEndpoints,
    probe: crate::probe::ProbeArgs,
    namespaces: Vec<String>,
    /// The leader lease's fence (none without leader election): the Link status write obeys it.
    fence: Option<Fence>,
}

async fn controller(args: RunArgs, link: Option<Link>) -> anyhow::Result<()> {
    // `--link FILE` / flags: one link and one target for the life of the process.
    let fixed = match link {
        Some(link) => {
            let path = args
                .target_kubeconfig
                .as_deref()
                .context("--target-kubeconfig is required without --link-name")?;
            let target = connect(Some(path), args.target_context.as_deref())
                .await
                .context("target cluster client")?;
            check_confinement(&args.namespaces, &link)?;
            Some((link, target))
        }
        None => None,
    };
    let source = connect(
        args.source_kubeconfig.as_deref(),
        args.source_context.as_deref(),
    )
    .await
    .context("source cluster client")?;
    // SPEC §2.2 `--link-name`: the link and the target's credentials come from the source cluster.
    let followed = match &args.link_name {
        Some(name) => Some(Followed {
            resource: LinkResource::new(source.client.clone(), &args.link_namespace, name),
            id: format!("{}/{name}", args.link_namespace),
            namespace: args.link_namespace.clone(),
            overrides: args.link.spec()?,
            target_context: args.target_context.clone(),
            gateway_down: args.link.gateway_down,
        }),
        None => None,
    };
    let lease_suffix = match (&fixed, &args.link_name) {
        (Some((link, _)), _) => link.cluster_name().as_str().to_owned(),
        (None, Some(name)) => name.clone(),
        (None, None) => anyhow::bail!("the link is required: --link-name, --link FILE or flags"),
    };

    // Fencing (issue 14): with leader election, writes are allowed only while the lease is held
    // with margin; without it, this is the only replica and writes are never fenced.
    let fence = Fence::new();
    let mut source_adapter = KubeSource::new(source.client.clone());
    if !args.no_leader_election {
        source_adapter = source_adapter.with_fence(fence.clone());
    }
    if !args.namespaces.is_empty() {
        tracing::info!(namespaces = ?args.namespaces, "source confined to namespaces {:?}", args.namespaces);
        source_adapter = source_adapter.with_namespaces(args.namespaces.iter().cloned());
    }
    let registry = Arc::new(Registry::default());
    let source_cluster = Observed::new(
        source_adapter,
        Cluster::Source,
        &source.server,
        registry.clone(),
    );

    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutting down");
        let _ = stop_tx.send(true);
    });

    let shared = Arc::new(Mutex::new(Shared {
        // Progress is at least one resync per period: three missed in a row, plus time for a
        // slow full list, is a stuck loop.
        stuck_after: args.resync_period * 3 + Duration::from_secs(60),
        registry: registry.clone(),
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

    let mut config = DriverConfig::default();
    config.resync_interval = args.resync_period;
    let ctx = Arc::new(Ctx {
        source_cluster,
        source_client: source.client.clone(),
        registry,
        shared: shared.clone(),
        config,
        target_endpoints: args.target_endpoints,
        probe: args.probe.clone(),
        namespaces: args.namespaces.clone(),
        fence: (!args.no_leader_election).then(|| fence.clone()),
    });
    let source_server = source.server.clone();

    let identity = identity();
    let mut elector = (!args.no_leader_election).then(|| {
        let lease = LeaseConfig::new(
            &args
                .lease_name
                .clone()
                .unwrap_or_else(|| format!("svcmirror-{lease_suffix}")),
            args.lease_namespace
                .as_deref()
                .unwrap_or(source.client.default_namespace()),
            &identity,
        );
        tracing::info!(
            lease = %lease.name, namespace = %lease.namespace, identity = %lease.identity,
            "leader election on Lease {}/{} as {}: only the holder writes",
            lease.namespace, lease.name, lease.identity
        );
        LeaderElector::new(source.client.clone(), lease).with_fence(fence.clone())
    });

    loop {
        if let Some(elector) = elector.as_mut() {
            tokio::select! {
                () = elector.acquire() => {}
                () = stopped(stop_rx.clone()) => break,
            }
            tracing::info!(leader = %identity, "acquired the lease: this replica ({identity}) is the leader and writes");
        }
        {
            let mut shared = shared.lock().expect("lock");
            shared.leader = true;
            shared.acquisitions += 1;
        }
        // SIGTERM: the driver finishes the reconcile in flight, within the shutdown grace.
        let grace = args.shutdown_grace;
        let mut stop = stop_rx.clone();
        let work = async {
            let run = async {
                match (&fixed, &followed) {
                    (Some((link, target)), _) => {
                        session(
                            ctx.clone(),
                            &source_server,
                            link.clone(),
                            target.clone(),
                            stop_rx.clone(),
                            None,
                        )
                        .await;
                    }
                    (None, Some(followed)) => {
                        crate::link_mode::follow(
                            followed,
                            |link, target, stop| {
                                session(
                                    ctx.clone(),
                                    &source_server,
                                    link,
                                    target,
                                    stop,
                                    Some(followed.resource.clone()),
                                )
                            },
                            stopped(stop_rx.clone()),
                        )
                        .await;
                    }
                    (None, None) => {}
                }
            };
            tokio::pin!(run);
            tokio::select! {
                () = &mut run => {}
                () = async {
                    let _ = stop.wait_for(|stop| *stop).await;
                    tokio::time::sleep(grace).await;
                } => tracing::warn!(?grace, "the reconcile in flight did not finish within the shutdown grace"),
            }
        };
        // The lease is renewed on its own task (crate::leader), never beside the reconciles.
        let lost = match elector.take() {
            Some(held) => {
                let (held, term) = crate::leader::lead(held, work).await;
                elector = Some(held);
                matches!(term, crate::leader::Term::Lost)
            }
            None => {
                work.await;
                false
            }
        };
        shared.lock().expect("lock").driver_stopped();
        if !lost {
            break;
        }
        // The driver future was dropped above: no request of it is sent any more.
        tracing::warn!(
            "lost the lease: this replica stopped writing and waits to acquire it again"
        );
    }
    if let Some(elector) = elector.as_mut()
        && let Err(e) = elector.release().await
    {
        tracing::warn!(error = %e, "releasing the lease failed ({e}); it expires on its own");
    }
    tracing::info!("stopped");
    Ok(())
}

/// One mirroring session: the driver for `link` between the source and `target`, until `stop`
/// is set (or its sender dropped). With `status_to` (`--link-name`), the per-export conditions go
/// into that Link's status. Dropping the future drops the driver, the prober's stop switch and
/// the status writer: nothing of it writes any more.
fn session(
    ctx: Arc<Ctx>,
    source_server: &str,
    link: Link,
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
        // The prober lives as long as this session (its stop switch is dropped with it).
        let (_probe_stop, probe_stop) = watch::channel(false);
        let liveness = spawn_prober(&ctx, &link, probe_stop);
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
        tokio::select! {
            () = driver.run(stopped(stop)) => {}
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
fn check_confinement(namespaces: &[String], link: &Link) -> anyhow::Result<()> {
    anyhow::ensure!(
        namespaces.is_empty() || !link.create_namespaces(),
        "--namespaces confines the source to existing namespaces: createNamespaces needs \
         cluster-wide access"
    );
    for ns in namespaces {
        anyhow::ensure!(
            svcmirror_core::names::is_dns1123_label(ns),
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
    stop: watch::Receiver<bool>,
) -> Option<watch::Receiver<bool>> {
    if ctx.probe.no_probe {
        return None;
    }
    let cluster = link.cluster_name().as_str().to_owned();
    let metrics = Arc::new(crate::probe::ProbeMetrics::new(&cluster));
    ctx.shared.lock().expect("lock").probe = Some(metrics.clone());
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

/// Completes once the stop flag is set.
async fn stopped(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SPEC §2.2: `--link-name` replaces `--target-kubeconfig` (the Secret holds it) and
    /// `--link FILE`; its namespace defaults to Linkerd's; flags beside it stay (overrides).
    #[test]
    fn link_name_reads_the_target_from_the_link_and_excludes_a_link_file() {
        use clap::Parser;
        #[derive(clap::Parser)]
        struct Wrapper {
            #[command(flatten)]
            run: RunArgs,
        }
        let parsed =
            Wrapper::try_parse_from(["svcmirror", "--link-name=west", "--gateway-port=4180"])
                .expect("parses");
        assert_eq!(parsed.run.link_name.as_deref(), Some("west"));
        assert_eq!(parsed.run.link_namespace, "linkerd-multicluster");
        assert_eq!(parsed.run.target_kubeconfig, None);
        assert_eq!(
            parsed
                .run
                .link
                .spec()
                .expect("spec")
                .gateway_port
                .as_deref(),
            Some("4180")
        );
        for conflicting in [
            ["--link-name=west", "--target-kubeconfig=k"],
            ["--link-name=west", "--link=l.yaml"],
        ] {
            let args = ["svcmirror"].into_iter().chain(conflicting);
            assert!(Wrapper::try_parse_from(args).is_err(), "{conflicting:?}");
        }
        assert!(
            Wrapper::try_parse_from(["svcmirror", "--cluster-name=west"]).is_err(),
            "without --link-name the target kubeconfig is required"
        );
    }

    #[test]
    fn namespaces_flag_confines_the_source_and_refuses_namespace_creation() {
        use clap::Parser;
        #[derive(clap::Parser)]
        struct Wrapper {
            #[command(flatten)]
            run: RunArgs,
        }
        let parsed = Wrapper::try_parse_from([
            "svcmirror",
            "--target-kubeconfig=k",
            "--cluster-name=west",
            "--gateway-address=172.18.0.4",
            "--namespaces=default,apps",
            "--namespaces=db",
        ])
        .expect("parses");
        assert_eq!(parsed.run.namespaces, ["default", "apps", "db"]);
        assert_eq!(parsed.run.shutdown_grace, Duration::from_secs(20));
        let link = |create| {
            Link::builder("west")
                .gateway_address("172.18.0.4".parse().expect("ip"))
                .create_namespaces(create)
                .build()
                .expect("link")
        };
        assert!(check_confinement(&parsed.run.namespaces, &link(false)).is_ok());
        let err = check_confinement(&parsed.run.namespaces, &link(true)).expect_err("refused");
        assert!(err.to_string().contains("createNamespaces"), "{err}");
        assert!(check_confinement(&[], &link(true)).is_ok());
        assert!(check_confinement(&["Not_A_Namespace".to_owned()], &link(false)).is_err());
    }
}
