//! `svcmirror run`: the mirror controller between two live clusters.
//!
//! Glue only: it builds two kube clients, the link, the reconcile driver of `svcmirror-backend`
//! over `svcmirror-kube`'s adapters (each wrapped in [`Observed`]: every request logged and
//! measured), and runs it while this replica holds the leader Lease. It serves `/healthz`,
//! `/readyz` and Prometheus `/metrics` ([`crate::admin`]), logs with `tracing`
//! ([`crate::logging`]), and stops on SIGTERM or Ctrl-C (releasing the Lease). The link is fixed
//! (`--link FILE`, flags: one [`crate::session`]) or Linkerd's `Link` resource followed live
//! (`--link-name`: [`crate::link_mode`] runs one session per Link version and credentials). It
//! decides nothing about mirroring.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use svcmirror_backend::DriverConfig;
use svcmirror_core::{Link, TargetEndpoints};
use svcmirror_kube::KubeSource;
use svcmirror_kube::fence::Fence;
use svcmirror_kube::link_resource::LinkResource;
use tokio::sync::watch;

use crate::admin::{Shared, serve_http};
use crate::args::LinkArgs;
use crate::clusters::connect;
use crate::gateway_dns::GatewayNames;
use crate::link_mode::Followed;
use crate::metrics::{Cluster, Registry};
use crate::observe::Observed;
use crate::session::{Ctx, check_confinement, session, stopped};

/// Options of `svcmirror run`.
#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// Where the target and the source are reached.
    #[command(flatten)]
    pub clusters: crate::clusters::ClusterArgs,
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
    /// Resolve gateway DNS names from this file (`/etc/hosts` format, re-read at every
    /// resolution) instead of the system resolver: tests change the answer between resyncs.
    #[arg(long, value_name = "FILE", hide = true)]
    pub gateway_hosts: Option<PathBuf>,
}

impl RunArgs {
    /// SPEC §2: what resolves the gateway's DNS names (at start and every resync period).
    fn resolver(&self) -> crate::gateway_dns::Resolver {
        match &self.gateway_hosts {
            Some(path) => crate::gateway_dns::hosts_file(path.clone()),
            None => crate::gateway_dns::system(),
        }
    }
}

/// The link from `--link` and the flags (SPEC §2: one `LinkSpec`), its warnings logged, and its
/// gateway DNS names (re-resolved every resync period).
fn read_link(args: &RunArgs) -> anyhow::Result<(Link, Option<GatewayNames>)> {
    let (link, names) = args.link.build_with(args.resolver())?;
    for warning in link.warnings() {
        tracing::warn!("{warning}");
    }
    Ok((link, names))
}

/// Runs the controller until SIGTERM or Ctrl-C.
pub fn run(args: RunArgs) -> anyhow::Result<()> {
    crate::flags::check_resync_period(args.resync_period, args.allow_short_resync)
        .map_err(anyhow::Error::msg)?;
    crate::logging::init(&args.log)?;
    // SPEC §2.2: with --link-name the link is read from the cluster, once running.
    let link = match args.clusters.link_name {
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
pub(crate) fn identity() -> String {
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

async fn controller(
    args: RunArgs,
    link: Option<(Link, Option<GatewayNames>)>,
) -> anyhow::Result<()> {
    // `--link FILE` / flags: one link and one target for the life of the process.
    let fixed = match link {
        Some((link, names)) => {
            let path = args
                .clusters
                .target_kubeconfig
                .as_deref()
                .context("--target-kubeconfig is required without --link-name")?;
            let target = connect(Some(path), args.clusters.target_context.as_deref())
                .await
                .context("target cluster client")?;
            check_confinement(&args.namespaces, &link)?;
            Some((link, names, target))
        }
        None => None,
    };
    let source = connect(
        args.clusters.source_kubeconfig.as_deref(),
        args.clusters.source_context.as_deref(),
    )
    .await
    .context("source cluster client")?;
    // SPEC §2.2 `--link-name`: the link and the target's credentials come from the source cluster.
    let followed = match &args.clusters.link_name {
        Some(name) => Some(Followed {
            resource: LinkResource::new(source.client.clone(), &args.clusters.link_namespace, name),
            id: format!("{}/{name}", args.clusters.link_namespace),
            namespace: args.clusters.link_namespace.clone(),
            overrides: args.link.spec()?,
            target_context: args.clusters.target_context.clone(),
            gateway_down: args.link.gateway_down,
            resolver: args.resolver(),
            retry_after: args.resync_period,
        }),
        None => None,
    };
    let lease_suffix = match (&fixed, &args.clusters.link_name) {
        (Some((link, _, _)), _) => link.cluster_name().as_str().to_owned(),
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
    let lease_name = args
        .lease_name
        .clone()
        .unwrap_or_else(|| format!("svcmirror-{lease_suffix}"));
    let mut elector = crate::leader::elector(
        !args.no_leader_election,
        &source.client,
        &lease_name,
        args.lease_namespace.as_deref(),
        &identity,
        &fence,
    );

    loop {
        if !crate::leader::acquire(&mut elector, &identity, stopped(stop_rx.clone())).await {
            break;
        }
        shared.lock().expect("lock").became_leader();
        // SIGTERM: the driver finishes the reconcile in flight, within the shutdown grace.
        let grace = args.shutdown_grace;
        let mut stop = stop_rx.clone();
        let work = async {
            let run = async {
                match (&fixed, &followed) {
                    (Some((link, names, target)), _) => {
                        session(
                            ctx.clone(),
                            &source_server,
                            link.clone(),
                            names.clone(),
                            target.clone(),
                            stop_rx.clone(),
                            None,
                        )
                        .await;
                    }
                    (None, Some(followed)) => {
                        crate::link_mode::follow(
                            followed,
                            |link, names, target, stop| {
                                session(
                                    ctx.clone(),
                                    &source_server,
                                    link,
                                    names,
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

pub(crate) async fn wait_for_signal() {
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
        assert_eq!(parsed.run.clusters.link_name.as_deref(), Some("west"));
        assert_eq!(parsed.run.clusters.link_namespace, "linkerd-multicluster");
        assert_eq!(parsed.run.clusters.target_kubeconfig, None);
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
