//! `svcmirror run`: the mirror controller between two live clusters.
//!
//! Glue only: it builds two kube clients, the link, the reconcile driver of `svcmirror-backend`
//! over `svcmirror-kube`'s adapters, and runs it while this replica holds the leader Lease. It
//! serves `/healthz`, `/readyz` and Prometheus `/metrics`, logs with `tracing` (`RUST_LOG`), and
//! stops on SIGTERM or Ctrl-C (releasing the Lease). It decides nothing about mirroring.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use futures::FutureExt;
use http::{Request, Response, StatusCode};
use serde::Deserialize;
use svcmirror_backend::{Driver, DriverConfig, DriverStatus, TokioClock};
use svcmirror_core::link::{DEFAULT_CLUSTER_DOMAIN, DEFAULT_GATEWAY_PORT, KeyPattern};
use svcmirror_core::{LabelSelector, Link};
use svcmirror_kube::client::{Credentials, Timeouts, reloading_client};
use svcmirror_kube::fence::Fence;
use svcmirror_kube::lease::{LeaderElector, LeaseConfig};
use svcmirror_kube::{KubeSource, KubeTarget};
use tokio::sync::watch;

use crate::args::LinkArgs;

/// Options of `svcmirror run`.
#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// Kubeconfig of the target cluster (where Services are exported), e.g. the `kubeconfig` key of
    /// Linkerd's `cluster-credentials-<cluster>` Secret mounted as a file.
    #[arg(long, value_name = "FILE")]
    pub target_kubeconfig: PathBuf,
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
    /// The link as a YAML file instead of flags (fields: clusterName, gatewayAddresses, and
    /// optionally clusterDomain, gatewayPort, gatewayIdentity, selector {matchLabels,
    /// matchExpressions}, enableHeadlessServices, excludedLabels, excludedAnnotations,
    /// createNamespaces, gatewayAlive).
    #[arg(long = "link", value_name = "FILE", conflicts_with_all = ["cluster_name", "gateway_addresses"])]
    pub link_file: Option<PathBuf>,
    #[command(flatten)]
    pub link: Option<LinkArgs>,
    /// Interval of the periodic full resync (`300`, `300s`, `5m`, `1h`).
    #[arg(long, value_name = "DURATION", default_value = "300s", value_parser = parse_duration)]
    pub resync_period: Duration,
    /// Address of the HTTP server for /healthz, /readyz and /metrics.
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:9990")]
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
    /// Confine the source to these namespaces (comma-separated, repeatable): Services, Endpoints
    /// and EndpointSlices are listed there only and each Namespace is read by name, so RoleBindings
    /// in those namespaces suffice (deploy/rbac-source-namespaced.yaml). Exports elsewhere are
    /// reported NamespaceMissing. Incompatible with createNamespaces.
    #[arg(long, value_name = "NS,...", value_delimiter = ',')]
    pub namespaces: Vec<String>,
    /// On SIGTERM, how long the reconcile in flight may take to finish (a type flip re-creates
    /// the mirror it deleted) before the controller exits anyway.
    #[arg(long, value_name = "DURATION", default_value = "20s", value_parser = parse_duration)]
    pub shutdown_grace: Duration,
}

/// The `--link` file: a Link-like YAML document (SPEC §2), camelCase like Linkerd's Link CR.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct LinkFile {
    /// Target cluster name (required).
    cluster_name: String,
    /// Gateway IPs (required, at least one).
    gateway_addresses: Vec<IpAddr>,
    #[serde(default)]
    cluster_domain: Option<String>,
    #[serde(default)]
    gateway_port: Option<u16>,
    #[serde(default)]
    gateway_identity: Option<String>,
    /// Export selector; `mirror.linkerd.io/exported=true` when absent.
    #[serde(default)]
    selector: Option<LabelSelector>,
    #[serde(default)]
    enable_headless_services: bool,
    #[serde(default)]
    excluded_labels: Vec<String>,
    #[serde(default)]
    excluded_annotations: Vec<String>,
    #[serde(default)]
    create_namespaces: bool,
    #[serde(default = "yes")]
    gateway_alive: bool,
    /// `endpoints` (default), `slices` or `both` (SPEC §12).
    #[serde(default)]
    endpoints_api: svcmirror_core::EndpointsApi,
}

fn yes() -> bool {
    true
}

impl LinkFile {
    fn build(self) -> anyhow::Result<Link> {
        let mut builder = Link::builder(&self.cluster_name)
            .gateway_addresses(self.gateway_addresses)
            .gateway_port(self.gateway_port.unwrap_or(DEFAULT_GATEWAY_PORT))
            .gateway_identity(self.gateway_identity.as_deref().unwrap_or(""))
            .cluster_domain(
                self.cluster_domain
                    .as_deref()
                    .unwrap_or(DEFAULT_CLUSTER_DOMAIN),
            )
            .export_selector(self.selector.unwrap_or_else(LabelSelector::default_export))
            .enable_headless_services(self.enable_headless_services)
            .create_namespaces(self.create_namespaces)
            .gateway_alive(self.gateway_alive)
            .endpoints_api(self.endpoints_api);
        for key in &self.excluded_labels {
            builder = builder.exclude_label(KeyPattern::new(key));
        }
        for key in &self.excluded_annotations {
            builder = builder.exclude_annotation(KeyPattern::new(key));
        }
        Ok(builder.build()?)
    }
}

fn read_link(args: &RunArgs) -> anyhow::Result<Link> {
    match (&args.link_file, &args.link) {
        (Some(path), _) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading --link {}", path.display()))?;
            let file: LinkFile = serde_saphyr::from_str(&text)
                .with_context(|| format!("parsing --link {}", path.display()))?;
            file.build()
                .with_context(|| format!("--link {}", path.display()))
        }
        (None, Some(flags)) => flags.build(),
        (None, None) => {
            anyhow::bail!(
                "the link is required: --link FILE, or --cluster-name and --gateway-address"
            )
        }
    }
}

/// `300`, `300s`, `5m`, `1h`, `1500ms`.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 300s, 5m or 1h"))?;
    let duration = match unit {
        "" | "s" => Duration::from_secs(n),
        "ms" => Duration::from_millis(n),
        "m" => Duration::from_secs(n.saturating_mul(60)),
        "h" => Duration::from_secs(n.saturating_mul(3600)),
        _ => return Err(format!("{text:?}: unit must be ms, s, m or h")),
    };
    if duration.is_zero() {
        return Err("the duration must not be zero".to_owned());
    }
    Ok(duration)
}

/// Runs the controller until SIGTERM or Ctrl-C.
pub fn run(args: RunArgs) -> anyhow::Result<()> {
    init_tracing();
    let link = read_link(&args)?;
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the tokio runtime")?
        .block_on(controller(args, link))
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // A second call (tests) keeps the first subscriber.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// A client whose every request has connect/read/write timeouts and whose credentials are
/// re-read on 401 and when the kubeconfig file changes (issue 14; `svcmirror_kube::client`).
async fn client(kubeconfig: Option<&Path>, context: Option<&str>) -> anyhow::Result<kube::Client> {
    let credentials = match (kubeconfig, context) {
        (Some(path), _) => Credentials::Kubeconfig {
            path: path.to_owned(),
            context: context.map(str::to_owned),
        },
        (None, Some(context)) => Credentials::Context(context.to_owned()),
        (None, None) if std::env::var_os("KUBERNETES_SERVICE_HOST").is_some() => {
            Credentials::InCluster
        }
        (None, None) => Credentials::Infer,
    };
    let (client, _reloads) = reloading_client(credentials, Timeouts::default()).await?;
    Ok(client)
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

/// What the HTTP server reports.
#[derive(Default)]
struct Shared {
    /// The running driver's status, while this replica leads.
    status: Option<watch::Receiver<DriverStatus>>,
    /// Whether this replica holds the Lease (always true without leader election).
    leader: bool,
    /// How many times this replica acquired the Lease.
    acquisitions: u64,
}

async fn controller(args: RunArgs, link: Link) -> anyhow::Result<()> {
    let target_client = client(
        Some(&args.target_kubeconfig),
        args.target_context.as_deref(),
    )
    .await
    .context("target cluster client")?;
    let source_client = client(
        args.source_kubeconfig.as_deref(),
        args.source_context.as_deref(),
    )
    .await
    .context("source cluster client")?;
    check_confinement(&args.namespaces, &link)?;
    // Fencing (issue 14): with leader election, writes are allowed only while the lease is held
    // with margin; without it, this is the only replica and writes are never fenced.
    let fence = Fence::new();
    let mut source = KubeSource::new(source_client.clone());
    if !args.no_leader_election {
        source = source.with_fence(fence.clone());
    }
    if !args.namespaces.is_empty() {
        tracing::info!(namespaces = ?args.namespaces, "source confined to namespaces");
        source = source.with_namespaces(args.namespaces.iter().cloned());
    }
    let target =
        KubeTarget::new(target_client, link.export_selector()).with_timeouts(&Timeouts::default());
    tracing::info!(
        cluster = %link.cluster_name().as_str(),
        selector = %target.label_selector(),
        "starting the mirror controller"
    );

    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutting down");
        let _ = stop_tx.send(true);
    });

    let shared = Arc::new(Mutex::new(Shared::default()));
    let listener = tokio::net::TcpListener::bind(args.metrics_addr)
        .await
        .with_context(|| format!("binding --metrics-addr {}", args.metrics_addr))?;
    tracing::info!(addr = %args.metrics_addr, "serving /healthz, /readyz and /metrics");
    tokio::spawn(serve_http(
        listener,
        shared.clone(),
        stopped(stop_rx.clone()),
    ));

    let mut config = DriverConfig::default();
    config.resync_interval = args.resync_period;

    let mut elector = (!args.no_leader_election).then(|| {
        let lease = LeaseConfig::new(
            &args
                .lease_name
                .clone()
                .unwrap_or_else(|| format!("svcmirror-{}", link.cluster_name().as_str())),
            args.lease_namespace
                .as_deref()
                .unwrap_or(source_client.default_namespace()),
            &identity(),
        );
        tracing::info!(lease = %lease.name, namespace = %lease.namespace, identity = %lease.identity, "leader election");
        LeaderElector::new(source_client.clone(), lease).with_fence(fence.clone())
    });

    loop {
        if let Some(elector) = elector.as_mut() {
            tokio::select! {
                () = elector.acquire() => {}
                () = stopped(stop_rx.clone()) => break,
            }
            tracing::info!("acquired the lease: this replica writes");
        }
        let mut driver = Driver::new(link.clone(), source.clone(), target.clone(), TokioClock)
            .with_config(config.clone());
        {
            let mut shared = shared.lock().expect("lock");
            shared.status = Some(driver.subscribe());
            shared.leader = true;
            shared.acquisitions += 1;
        }
        // SIGTERM: the driver finishes the reconcile in flight, within the shutdown grace.
        let grace = args.shutdown_grace;
        let mut stop = stop_rx.clone();
        let work = async {
            let run = driver.run(stopped(stop_rx.clone()));
            tokio::pin!(run);
            tokio::select! {
                () = &mut run => {}
                () = async {
                    let _ = stop.wait_for(|stop| *stop).await;
                    tokio::time::sleep(grace).await;
                } => tracing::warn!(?grace, "the reconcile in flight did not finish within the shutdown grace"),
            }
        };
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
        {
            let mut shared = shared.lock().expect("lock");
            shared.status = None;
            shared.leader = false;
        }
        if !lost {
            break;
        }
        // The driver future was dropped above: no request of it is sent any more.
        tracing::warn!("lost the lease: stopped writing; waiting to acquire it again");
    }
    if let Some(elector) = elector.as_mut()
        && let Err(e) = elector.release().await
    {
        tracing::warn!(error = %e, "releasing the lease failed; it expires on its own");
    }
    tracing::info!("stopped");
    Ok(())
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

async fn serve_http(
    listener: tokio::net::TcpListener,
    shared: Arc<Mutex<Shared>>,
    stop: impl std::future::Future<Output = ()>,
) {
    let stop = stop.fuse();
    futures::pin_mut!(stop);
    loop {
        let accepted = tokio::select! {
            () = &mut stop => return,
            accepted = listener.accept() => accepted,
        };
        let Ok((stream, _)) = accepted else { continue };
        let shared = shared.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                let response = respond(req.uri().path(), &shared);
                async move { Ok::<_, Infallible>(response) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });
    }
}

fn text(code: StatusCode, content_type: &str, body: String) -> Response<String> {
    Response::builder()
        .status(code)
        .header(http::header::CONTENT_TYPE, content_type)
        .body(body)
        .unwrap_or_default()
}

fn respond(path: &str, shared: &Mutex<Shared>) -> Response<String> {
    let (status, leader, acquisitions) = {
        let shared = shared.lock().expect("lock");
        (
            shared.status.as_ref().map(|rx| rx.borrow().clone()),
            shared.leader,
            shared.acquisitions,
        )
    };
    match path {
        "/healthz" => text(StatusCode::OK, "text/plain", "ok\n".to_owned()),
        "/readyz" => {
            // A standby replica is ready (it is healthy and waiting); the leader is ready once its
            // first full reconcile finished.
            let ready = !leader || status.is_some_and(|s| s.stats.full_reconciles > 0);
            if ready {
                text(StatusCode::OK, "text/plain", "ready\n".to_owned())
            } else {
                text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "text/plain",
                    "first reconcile not finished\n".to_owned(),
                )
            }
        }
        "/metrics" => text(
            StatusCode::OK,
            "text/plain; version=0.0.4",
            metrics(status.as_ref(), leader, acquisitions),
        ),
        _ => text(
            StatusCode::NOT_FOUND,
            "text/plain",
            "not found\n".to_owned(),
        ),
    }
}

/// Prometheus text exposition of the driver's status.
fn metrics(status: Option<&DriverStatus>, leader: bool, acquisitions: u64) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, samples: &[(String, u64)]| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        for (labels, value) in samples {
            let _ = writeln!(out, "{name}{labels} {value}");
        }
    };
    metric(
        "svcmirror_leader",
        "gauge",
        "1 while this replica holds the lease and writes.",
        &[(String::new(), u64::from(leader))],
    );
    metric(
        "svcmirror_lease_acquisitions_total",
        "counter",
        "Times this replica acquired the lease.",
        &[(String::new(), acquisitions)],
    );
    let stats = status.map(|s| s.stats).unwrap_or_default();
    let counters: [(&str, &str, u64); 12] = [
        (
            "svcmirror_reconciles_total",
            "Reconciles (one export or the whole link).",
            stats.reconciles,
        ),
        (
            "svcmirror_full_reconciles_total",
            "Whole-link reconciles.",
            stats.full_reconciles,
        ),
        (
            "svcmirror_target_events_total",
            "Target watch events handled.",
            stats.events,
        ),
        (
            "svcmirror_relists_total",
            "Lists of both clusters.",
            stats.relists,
        ),
        (
            "svcmirror_watch_restarts_total",
            "Target watch restarts.",
            stats.watch_restarts,
        ),
        (
            "svcmirror_api_requests_total",
            "Requests to the source cluster.",
            stats.requests,
        ),
        (
            "svcmirror_api_retries_total",
            "Retried requests.",
            stats.retries,
        ),
        (
            "svcmirror_api_failed_requests_total",
            "Requests that failed for good.",
            stats.failed_requests,
        ),
        (
            "svcmirror_api_conflicts_total",
            "Conflict and AlreadyExists answers.",
            stats.conflicts,
        ),
        (
            "svcmirror_unconverged_reconciles_total",
            "Reconciles that hit the pass limit.",
            stats.unconverged,
        ),
        (
            "svcmirror_status_events_total",
            "Events recorded on exported Services in the target (one per change of conditions).",
            stats.status_events,
        ),
        (
            "svcmirror_status_event_failures_total",
            "Events the target refused (not retried).",
            stats.status_event_failures,
        ),
    ];
    for (name, help, value) in counters {
        metric(name, "counter", help, &[(String::new(), value)]);
    }
    metric(
        "svcmirror_api_writes_total",
        "counter",
        "Writes to the source cluster, by verb.",
        &[
            ("{verb=\"create\"}".to_owned(), stats.creates),
            ("{verb=\"update\"}".to_owned(), stats.updates),
            ("{verb=\"delete\"}".to_owned(), stats.deletes),
        ],
    );
    let mut by_reason: std::collections::BTreeMap<String, u64> = std::collections::BTreeMap::new();
    for d in status.map(|s| s.diagnostics.as_slice()).unwrap_or_default() {
        *by_reason
            .entry(format!(
                "{{reason=\"{:?}\",severity=\"{:?}\"}}",
                d.reason, d.severity
            ))
            .or_default() += 1;
    }
    metric(
        "svcmirror_diagnostics",
        "gauge",
        "Current findings of the core (exports mirrored differently or not at all), by reason.",
        &by_reason.into_iter().collect::<Vec<_>>(),
    );
    // SPEC §12: every mode is reported, zero included, so a dashboard sees a mode empty out.
    let by_mode = status
        .map(DriverStatus::exports_by_mode)
        .unwrap_or_default();
    let mut modes: Vec<(String, u64)> = MODES
        .iter()
        .map(|mode| {
            let n = by_mode.get(mode).copied().unwrap_or(0);
            (format!("{{mode=\"{mode}\"}}"), n as u64)
        })
        .collect();
    modes.extend(
        by_mode
            .iter()
            .filter(|(mode, _)| !MODES.contains(mode))
            .map(|(mode, n)| (format!("{{mode=\"{mode}\"}}"), *n as u64)),
    );
    metric(
        "svcmirror_mirrored_services",
        "gauge",
        "Exported Services by how they are mirrored (waiting: headless without Endpoints yet).",
        &modes,
    );
    let conditions: Vec<(String, u64)> = status
        .map(|s| {
            s.condition_counts()
                .into_iter()
                .map(|((condition, value, reason), n)| {
                    (
                        format!(
                            "{{condition=\"{condition:?}\",status=\"{value:?}\",reason=\"{}\"}}",
                            label_value(reason)
                        ),
                        n as u64,
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    metric(
        "svcmirror_export_condition",
        "gauge",
        "Exported Services by condition (Valid, Mirrored, Conflict), status and reason.",
        &conditions,
    );
    metric(
        "svcmirror_failing_objects",
        "gauge",
        "Objects whose last write failed for good.",
        &[(String::new(), status.map_or(0, |s| s.failures.len() as u64))],
    );
    metric(
        "svcmirror_unconverged_scopes",
        "gauge",
        "Exports (or the whole link) left unconverged, retried by the next resync.",
        &[(
            String::new(),
            status.map_or(0, |s| s.unconverged.len() as u64),
        )],
    );
    out
}

/// The modes `svcmirror_mirrored_services` always reports
/// ([`svcmirror_backend::ExportStatus::mode_name`]).
const MODES: [&str; 5] = [
    "headless",
    "clusterip",
    "remote-discovery",
    "waiting",
    "not-mirrored",
];

/// A Prometheus label value: backslash, double quote and newline escaped.
fn label_value(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use svcmirror_backend::ExportStatus;
    use svcmirror_core::model::ObjectKey;
    use svcmirror_core::{Condition, ConditionType, ExportOutcome, MirrorMode};

    #[test]
    fn durations() {
        assert_eq!(parse_duration("300"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("300s"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("1500ms"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("0").is_err());
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn link_file_with_defaults_and_selector() {
        let file: LinkFile = serde_saphyr::from_str(
            "clusterName: west\ngatewayAddresses: [172.18.0.4]\nenableHeadlessServices: true\n\
             selector:\n  matchLabels:\n    mirror.linkerd.io/exported: \"true\"\n",
        )
        .expect("parses");
        let link = file.build().expect("valid");
        assert_eq!(link.cluster_name().as_str(), "west");
        assert_eq!(link.gateway_port(), 4143);
        assert!(link.enable_headless_services() && link.gateway_alive());
        assert_eq!(
            link.export_selector().to_string(),
            "mirror.linkerd.io/exported=true"
        );
        assert!(serde_saphyr::from_str::<LinkFile>("clusterName: west\nbogus: 1\n").is_err());
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

    #[test]
    fn link_file_endpoints_api() {
        let link = |extra: &str| {
            serde_saphyr::from_str::<LinkFile>(&format!(
                "clusterName: west\ngatewayAddresses: [172.18.0.4]\n{extra}"
            ))
            .map(|f| f.build().expect("valid").endpoints_api())
        };
        assert_eq!(link("").ok(), Some(svcmirror_core::EndpointsApi::Endpoints));
        assert_eq!(
            link("endpointsApi: both\n").ok(),
            Some(svcmirror_core::EndpointsApi::Both)
        );
        assert!(link("endpointsApi: slice\n").is_err());
    }

    #[test]
    fn readiness_and_metrics() {
        let shared = Mutex::new(Shared::default());
        assert_eq!(respond("/healthz", &shared).status(), StatusCode::OK);
        // A standby replica is ready.
        assert_eq!(respond("/readyz", &shared).status(), StatusCode::OK);
        let (tx, rx) = watch::channel(DriverStatus::default());
        {
            let mut s = shared.lock().expect("lock");
            s.status = Some(rx);
            s.leader = true;
        }
        assert_eq!(
            respond("/readyz", &shared).status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
        let mut status = DriverStatus::default();
        status.stats.full_reconciles = 1;
        status.stats.creates = 7;
        tx.send_replace(status);
        assert_eq!(respond("/readyz", &shared).status(), StatusCode::OK);
        let body = respond("/metrics", &shared).into_body();
        assert_exposition_format(&body);
        assert!(body.contains("svcmirror_leader 1\n"), "{body}");
        assert!(
            body.contains("svcmirror_api_writes_total{verb=\"create\"} 7\n"),
            "{body}"
        );
        assert!(
            body.contains("# TYPE svcmirror_reconciles_total counter\n"),
            "{body}"
        );
        assert_eq!(respond("/nope", &shared).status(), StatusCode::NOT_FOUND);
    }

    fn export(
        mode: MirrorMode,
        mirrored: (bool, &str),
        conflict: (bool, &str),
    ) -> Arc<ExportStatus> {
        let condition = |type_, status: bool, reason: &str| Condition {
            type_,
            status: status.into(),
            reason: reason.into(),
            message: String::new(),
        };
        let outcome = ExportOutcome {
            mode,
            mirror: None,
            endpoint_mirrors: Vec::new(),
            endpoint_slices: Vec::new(),
        };
        Arc::new(ExportStatus::new(
            outcome,
            vec![
                condition(ConditionType::Valid, true, "Valid"),
                condition(ConditionType::Mirrored, mirrored.0, mirrored.1),
                condition(ConditionType::Conflict, conflict.0, conflict.1),
            ],
        ))
    }

    /// Every sample line is `name{labels} value`, preceded by the HELP and TYPE of its family.
    fn assert_exposition_format(body: &str) {
        let mut family = String::new();
        for line in body.lines() {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                family = rest.split(' ').next().unwrap_or_default().to_owned();
                continue;
            }
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').expect("TYPE name kind");
                assert_eq!(name, family, "TYPE without HELP: {line}");
                assert!(["counter", "gauge"].contains(&kind), "{line}");
                continue;
            }
            let (series, value) = line.rsplit_once(' ').expect("sample value");
            assert!(value.parse::<u64>().is_ok(), "{line}");
            let name = series.split('{').next().unwrap_or_default();
            assert_eq!(name, family, "sample outside its family: {line}");
            if let Some(labels) = series.strip_prefix(name).filter(|l| !l.is_empty()) {
                assert!(labels.starts_with('{') && labels.ends_with('}'), "{line}");
                for pair in labels[1..labels.len() - 1].split(',') {
                    let (key, value) = pair.split_once('=').expect("label=value");
                    assert!(
                        key.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                        "{line}"
                    );
                    assert!(value.starts_with('"') && value.ends_with('"'), "{line}");
                }
            }
        }
    }

    #[test]
    fn metrics_count_exports_by_mode_and_by_condition() {
        let shared = Mutex::new(Shared::default());
        let (tx, rx) = watch::channel(DriverStatus::default());
        {
            let mut s = shared.lock().expect("lock");
            s.status = Some(rx);
            s.leader = true;
        }
        let mut status = DriverStatus::default();
        status.stats.status_events = 4;
        let healthy = (false, "NoConflicts");
        for (name, export) in [
            (
                "nginx-svc",
                export(MirrorMode::Headless, (true, "Mirrored"), healthy),
            ),
            (
                "pg",
                export(MirrorMode::Headless, (true, "Mirrored"), healthy),
            ),
            (
                "web",
                export(MirrorMode::ClusterIp, (true, "Mirrored"), healthy),
            ),
            (
                "api",
                export(
                    MirrorMode::NotMirrored,
                    (false, "NameConflict"),
                    (true, "NameConflict"),
                ),
            ),
        ] {
            status
                .exports
                .insert(ObjectKey::new("default", name), export);
        }
        tx.send_replace(status);
        let body = respond("/metrics", &shared).into_body();
        assert_exposition_format(&body);
        for line in [
            "# TYPE svcmirror_mirrored_services gauge\n",
            "svcmirror_mirrored_services{mode=\"headless\"} 2\n",
            "svcmirror_mirrored_services{mode=\"clusterip\"} 1\n",
            "svcmirror_mirrored_services{mode=\"remote-discovery\"} 0\n",
            "svcmirror_mirrored_services{mode=\"waiting\"} 0\n",
            "svcmirror_mirrored_services{mode=\"not-mirrored\"} 1\n",
            "# TYPE svcmirror_export_condition gauge\n",
            "svcmirror_export_condition{condition=\"Valid\",status=\"True\",reason=\"Valid\"} 4\n",
            "svcmirror_export_condition{condition=\"Mirrored\",status=\"True\",reason=\"Mirrored\"} 3\n",
            "svcmirror_export_condition{condition=\"Mirrored\",status=\"False\",reason=\"NameConflict\"} 1\n",
            "svcmirror_export_condition{condition=\"Conflict\",status=\"True\",reason=\"NameConflict\"} 1\n",
            "svcmirror_export_condition{condition=\"Conflict\",status=\"False\",reason=\"NoConflicts\"} 3\n",
            "svcmirror_status_events_total 4\n",
        ] {
            assert!(body.contains(line), "missing {line:?} in\n{body}");
        }
        // A standby replica (no driver) still exposes every mode, at zero.
        let standby = metrics(None, false, 0);
        assert_exposition_format(&standby);
        assert!(standby.contains("svcmirror_mirrored_services{mode=\"headless\"} 0\n"));
        assert_eq!(label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
