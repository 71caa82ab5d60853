//! `svcmirror run`: the gateway prober (SPEC §2.1).
//!
//! Every probe period it sends `GET http://<gateway address>:<probe port><probe path>` with the
//! probe timeout (to each gateway address in turn, until one answers 200: the addresses are one
//! gateway behind a load balancer), feeds the result to the core's pure decision
//! ([`ProbeState::observe`]: dead after `failureThreshold` consecutive failures, alive after one
//! success), and on a transition publishes the new liveness to the driver (which reconciles every
//! mirror Endpoints of the link) and reports it. It decides nothing itself.
//!
//! Metrics keep Linkerd's names and labels (`multicluster/service-mirror/metrics.go`), so its
//! dashboards keep working: `gateway_alive`, `gateway_latency` (gauges), `gateway_probes`
//! (counter, `probe_successful`), `gateway_probe_latency_ms` (histogram, Linkerd's buckets), all
//! labelled `target_cluster_name`.

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::FutureExt;
use http::{Request, StatusCode};
use svcmirror_core::{GatewayProbe, ProbeResult, ProbeState, Transition};
use tokio::sync::watch;

/// The `--probe-*` flags of `svcmirror run`: each overrides that field of the Link's `probeSpec`
/// (SPEC §2.1; one front door for the settings and their Linkerd defaults: the Link's).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ProbeArgs {
    /// Gateway probe port (overrides the Link's probeSpec.port; default 4191).
    #[arg(long, value_name = "N")]
    pub probe_port: Option<u16>,
    /// Gateway probe path (probeSpec.path; default /ready).
    #[arg(long, value_name = "PATH")]
    pub probe_path: Option<String>,
    /// Time between two probes (probeSpec.period, a Go duration: `3s`, `500ms`; default 3s).
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    pub probe_period: Option<Duration>,
    /// Time a probe may take (probeSpec.timeout; default 30s).
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    pub probe_timeout: Option<Duration>,
    /// Consecutive failures after which the gateway is dead (probeSpec.failureThreshold;
    /// default 3).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub probe_failure_threshold: Option<u32>,
    /// Do not probe: the gateway stays alive (or down, with --gateway-down).
    #[arg(long)]
    pub no_probe: bool,
}

fn duration(text: &str) -> Result<Duration, String> {
    svcmirror_core::parse_duration(text)
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("{text:?} is not a duration like 3s, 500ms or 1m"))
}

impl ProbeArgs {
    /// The probe the prober runs: the link's, each flag given over its field.
    #[must_use]
    pub fn spec(&self, link: &GatewayProbe) -> GatewayProbe {
        let mut spec = link.clone();
        if let Some(port) = self.probe_port {
            spec.port = port;
        }
        if let Some(path) = &self.probe_path {
            spec.path.clone_from(path);
        }
        spec.period = self.probe_period.unwrap_or(spec.period);
        spec.timeout = self.probe_timeout.unwrap_or(spec.timeout);
        spec.failure_threshold = self
            .probe_failure_threshold
            .unwrap_or(spec.failure_threshold);
        spec
    }
}

/// Linkerd's `gateway_probe_latency_ms` buckets.
const LATENCY_BUCKETS_MS: [f64; 25] = [
    1.0, 2.0, 3.0, 4.0, 5.0, 10.0, 20.0, 30.0, 40.0, 50.0, 100.0, 200.0, 300.0, 400.0, 500.0,
    1000.0, 2000.0, 3000.0, 4000.0, 5000.0, 10000.0, 20000.0, 30000.0, 40000.0, 50000.0,
];

/// The prober's counters, rendered into `/metrics`.
#[derive(Debug)]
pub struct ProbeMetrics {
    cluster: String,
    counters: Mutex<Counters>,
}

#[derive(Debug)]
struct Counters {
    alive: bool,
    successes: u64,
    failures: u64,
    last_latency_ms: f64,
    /// Observations per bucket (not cumulative), and the sum and count of successful latencies.
    buckets: [u64; LATENCY_BUCKETS_MS.len()],
    sum_ms: f64,
    count: u64,
}

impl ProbeMetrics {
    /// Metrics for the link to `cluster`, the gateway alive (SPEC §2: the default).
    #[must_use]
    pub fn new(cluster: &str) -> Self {
        Self {
            cluster: cluster.to_owned(),
            counters: Mutex::new(Counters {
                alive: true,
                successes: 0,
                failures: 0,
                last_latency_ms: 0.0,
                buckets: [0; LATENCY_BUCKETS_MS.len()],
                sum_ms: 0.0,
                count: 0,
            }),
        }
    }

    /// Records one probe round (Linkerd records latency for successes only).
    fn record(&self, result: ProbeResult, latency: Duration, alive: bool) {
        let mut c = self.counters.lock().expect("probe metrics");
        c.alive = alive;
        match result {
            ProbeResult::Success => {
                let ms = latency.as_secs_f64() * 1000.0;
                c.successes += 1;
                c.last_latency_ms = ms;
                c.sum_ms += ms;
                c.count += 1;
                if let Some(i) = LATENCY_BUCKETS_MS.iter().position(|b| ms <= *b) {
                    c.buckets[i] += 1;
                }
            }
            ProbeResult::Failure => c.failures += 1,
        }
    }

    /// The Prometheus text exposition of the prober's metrics.
    pub fn render(&self, out: &mut String) {
        let c = self.counters.lock().expect("probe metrics");
        let cluster = format!("target_cluster_name=\"{}\"", self.cluster);
        let _ = writeln!(
            out,
            "# HELP gateway_alive A gauge which is 1 if the gateway is alive and 0 if it is not.\n\
             # TYPE gateway_alive gauge\ngateway_alive{{{cluster}}} {}",
            u8::from(c.alive)
        );
        let _ = writeln!(
            out,
            "# HELP gateway_latency A gauge which is the latency of the last probe to the gateway.\n\
             # TYPE gateway_latency gauge\ngateway_latency{{{cluster}}} {}",
            c.last_latency_ms
        );
        let _ = writeln!(
            out,
            "# HELP gateway_probes A counter for the number of actual performed probes to a gateway\n\
             # TYPE gateway_probes counter\n\
             gateway_probes{{{cluster},probe_successful=\"true\"}} {}\n\
             gateway_probes{{{cluster},probe_successful=\"false\"}} {}",
            c.successes, c.failures
        );
        let _ = writeln!(
            out,
            "# HELP gateway_probe_latency_ms A histogram of latencies to a gateway in a target cluster.\n\
             # TYPE gateway_probe_latency_ms histogram"
        );
        let mut cumulative = 0;
        for (bound, n) in LATENCY_BUCKETS_MS.iter().zip(c.buckets) {
            cumulative += n;
            let _ = writeln!(
                out,
                "gateway_probe_latency_ms_bucket{{{cluster},le=\"{bound}\"}} {cumulative}"
            );
        }
        let _ = writeln!(
            out,
            "gateway_probe_latency_ms_bucket{{{cluster},le=\"+Inf\"}} {}\n\
             gateway_probe_latency_ms_sum{{{cluster}}} {}\n\
             gateway_probe_latency_ms_count{{{cluster}}} {}",
            c.count, c.sum_ms, c.count
        );
    }
}

/// Why one probe got no HTTP status (said in words by its `Display`, for `svcmirror check`).
#[derive(Debug)]
#[non_exhaustive]
pub enum ProbeFailure {
    /// The TCP connection failed (refused, unreachable, …).
    Connect(std::io::Error),
    /// Connected, but no HTTP response came (the peer closed, or spoke something else).
    Http(String),
    /// Nothing within the probe timeout.
    Timeout(Duration),
}

impl std::fmt::Display for ProbeFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Connect(e) => write!(f, "cannot connect: {e}"),
            Self::Http(e) => write!(f, "no HTTP answer: {e}"),
            Self::Timeout(t) => write!(f, "no answer within the probe timeout ({t:?})"),
        }
    }
}

impl std::error::Error for ProbeFailure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Connect(e) => Some(e),
            Self::Http(_) | Self::Timeout(_) => None,
        }
    }
}

/// One `GET http://<addr><path>` within `timeout`: the HTTP status it answered, or why none.
///
/// # Errors
/// No HTTP status within `timeout` ([`ProbeFailure`]).
pub async fn probe_status(
    addr: SocketAddr,
    path: &str,
    timeout: Duration,
) -> Result<StatusCode, ProbeFailure> {
    let attempt = async {
        let stream = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(ProbeFailure::Connect)?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .map_err(|e| ProbeFailure::Http(e.to_string()))?;
        tokio::spawn(connection.map(|_| ()));
        let request = Request::get(path)
            .header(http::header::HOST, addr.to_string())
            .body(String::new())
            .map_err(|e| ProbeFailure::Http(e.to_string()))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| ProbeFailure::Http(e.to_string()))?;
        Ok(response.status())
    };
    tokio::time::timeout(timeout, attempt)
        .await
        .unwrap_or(Err(ProbeFailure::Timeout(timeout)))
}

/// One `GET http://<addr><path>` within `timeout`: a success only for HTTP 200 (Linkerd's
/// `doProbe`).
pub async fn probe_once(addr: SocketAddr, path: &str, timeout: Duration) -> ProbeResult {
    match probe_status(addr, path, timeout).await {
        Ok(StatusCode::OK) => ProbeResult::Success,
        _ => ProbeResult::Failure,
    }
}

/// Probes `gateways` every `spec.period` until `stop` completes. Each round's result goes to the
/// core's decision; the liveness is published on `alive` (the driver's
/// [`with_gateway_liveness`](svcmirror_backend::Driver::with_gateway_liveness)) and every
/// transition is handed to `on_transition`.
pub async fn run(
    spec: GatewayProbe,
    gateways: Vec<IpAddr>,
    metrics: Arc<ProbeMetrics>,
    alive: watch::Sender<bool>,
    mut on_transition: impl FnMut(Transition),
    stop: impl std::future::Future<Output = ()>,
) {
    let stop = stop.fuse();
    futures::pin_mut!(stop);
    let mut ticker = tokio::time::interval(spec.period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Starts from the published liveness (SPEC §2: alive, unless `--gateway-down`).
    let mut state = ProbeState {
        alive: *alive.borrow(),
        ..ProbeState::default()
    };
    loop {
        tokio::select! {
            () = &mut stop => return,
            _ = ticker.tick() => {}
        }
        let start = Instant::now();
        let mut result = ProbeResult::Failure;
        for ip in &gateways {
            let addr = SocketAddr::new(*ip, spec.port);
            result = probe_once(addr, &spec.path, spec.timeout).await;
            if result == ProbeResult::Success {
                break;
            }
        }
        let (next, transition) = state.observe(spec.failure_threshold, result);
        state = next;
        metrics.record(result, start.elapsed(), state.alive);
        if let Some(transition) = transition {
            alive.send_replace(state.alive);
            on_transition(transition);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;
    use svcmirror_backend::{Driver, DriverConfig, TokioClock};
    use svcmirror_core::model::{
        EndpointAddress, EndpointPort, EndpointSubset, Endpoints, Object, ObjectKey, Service,
        ServicePort,
    };
    use svcmirror_core::{Link, SourceState};
    use svcmirror_fake::{FakeCluster, FakeHandle};

    /// SPEC §2.1, one front door: the prober runs the Link's probeSpec (Linkerd's defaults for
    /// what it leaves out), and a `--probe-*` flag overrides only its own field.
    #[test]
    fn the_links_probe_spec_is_honoured_and_flags_override_it() {
        let link = crate::link_file::parse_spec(
            "targetClusterName: west\ngatewayAddress: 172.18.0.4\n\
             probeSpec: {port: \"4192\", path: /live, period: 7s, failureThreshold: \"5\"}\n",
        )
        .expect("spec");
        let link = Link::from_spec(&link, crate::link_file::resolve).expect("link");
        let none = ProbeArgs::default();
        let probe = none.spec(link.gateway_probe());
        assert_eq!(
            (
                probe.port,
                probe.path.as_str(),
                probe.period,
                probe.failure_threshold
            ),
            (4192, "/live", Duration::from_secs(7), 5)
        );
        assert_eq!(probe.timeout, Duration::from_secs(30), "Linkerd's default");
        let flags = ProbeArgs {
            probe_period: Some(Duration::from_millis(500)),
            ..ProbeArgs::default()
        };
        let probe = flags.spec(link.gateway_probe());
        assert_eq!(
            (probe.port, probe.path.as_str(), probe.period),
            (4192, "/live", Duration::from_millis(500))
        );
    }

    /// A gateway on 127.0.0.1 (port 0) whose `/ready` answers 200 while `healthy`, else 503.
    async fn gateway(healthy: Arc<AtomicBool>) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let healthy = healthy.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req: Request<_>| {
                        let ok = healthy.load(Ordering::SeqCst) && req.uri().path() == "/ready";
                        let status = if ok {
                            StatusCode::OK
                        } else {
                            StatusCode::SERVICE_UNAVAILABLE
                        };
                        let _: &Request<hyper::body::Incoming> = &req;
                        async move {
                            Ok::<_, Infallible>(
                                http::Response::builder()
                                    .status(status)
                                    .body(String::new())
                                    .expect("response"),
                            )
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        addr
    }

    fn export() -> (Service, Endpoints) {
        let mut svc = Service::new("default", "web");
        svc.metadata
            .labels
            .insert("mirror.linkerd.io/exported".into(), "true".into());
        svc.spec.ports.push(ServicePort {
            name: Some("http".into()),
            port: 80,
            ..ServicePort::default()
        });
        let mut ep = Endpoints::new("default", "web");
        ep.subsets = vec![EndpointSubset {
            addresses: vec![EndpointAddress {
                ip: "10.42.0.5".into(),
                ..EndpointAddress::default()
            }],
            not_ready_addresses: vec![],
            ports: vec![EndpointPort {
                name: Some("http".into()),
                port: 80,
                protocol: Some("TCP".into()),
                app_protocol: None,
            }],
        }];
        (svc, ep)
    }

    /// (ready, not ready) gateway addresses of the mirror `web-west`, once it exists.
    fn mirror_addresses(source: &FakeHandle) -> Option<(usize, usize)> {
        let state: SourceState = source.lock().state();
        let ep = state.endpoints_at(&ObjectKey::new("default", "web-west"))?;
        let subset = ep.subsets.first()?;
        Some((subset.addresses.len(), subset.not_ready_addresses.len()))
    }

    /// Polls (bounded, no timing assertion) until `source`'s mirror has `want`.
    async fn wait_for(source: &FakeHandle, want: (usize, usize)) {
        for _ in 0..1000 {
            if mirror_addresses(source) == Some(want) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!(
            "mirror never reached {want:?}: {:?}",
            mirror_addresses(source)
        );
    }

    /// SPEC §2.1 end to end: a real HTTP gateway on loopback flips from healthy to failing and
    /// back; the prober's decision reaches the running driver, whose mirror Endpoints go
    /// not-ready and ready again; metrics and transitions follow.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn gateway_flips_and_mirror_endpoints_follow() {
        let healthy = Arc::new(AtomicBool::new(true));
        let gateway_addr = gateway(healthy.clone()).await;
        assert_eq!(
            probe_once(gateway_addr, "/ready", Duration::from_secs(5)).await,
            ProbeResult::Success
        );
        assert_eq!(
            probe_once(gateway_addr, "/other", Duration::from_secs(5)).await,
            ProbeResult::Failure
        );

        // The mirrors point at the gateway's public address (an API server refuses a loopback
        // IP in Endpoints); the prober reaches the same gateway on loopback here.
        let link = Link::builder("west")
            .gateway_address("172.18.0.4".parse().expect("ip"))
            .build()
            .expect("link");
        let target = FakeHandle::from(FakeCluster::default());
        let (svc, ep) = export();
        target.lock().create(Object::Service(svc)).expect("svc");
        target.lock().create(Object::Endpoints(ep)).expect("ep");
        let source = FakeHandle::from(FakeCluster::default());

        let (alive_tx, alive_rx) = watch::channel(true);
        let (stop_tx, stop_rx) = watch::channel(false);
        let stopped = |mut rx: watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|s| *s).await;
        };
        let mut driver = Driver::new(link, source.clone(), target.clone(), TokioClock)
            .with_config(DriverConfig::default())
            .with_gateway_liveness(alive_rx);
        let driver_task = tokio::spawn({
            let stop = stopped(stop_rx.clone());
            async move { driver.run(stop).await }
        });
        let spec = ProbeArgs {
            probe_port: Some(gateway_addr.port()),
            probe_period: Some(Duration::from_millis(20)),
            probe_timeout: Some(Duration::from_secs(2)),
            probe_failure_threshold: Some(2),
            ..ProbeArgs::default()
        }
        .spec(&GatewayProbe::from_spec(None).expect("defaults"));
        let metrics = Arc::new(ProbeMetrics::new("west"));
        let transitions = Arc::new(Mutex::new(Vec::new()));
        let prober = tokio::spawn(run(
            spec,
            vec![gateway_addr.ip()],
            metrics.clone(),
            alive_tx,
            {
                let transitions = transitions.clone();
                move |t| transitions.lock().expect("lock").push(t)
            },
            stopped(stop_rx.clone()),
        ));

        wait_for(&source, (1, 0)).await;
        healthy.store(false, Ordering::SeqCst);
        wait_for(&source, (0, 1)).await;
        healthy.store(true, Ordering::SeqCst);
        wait_for(&source, (1, 0)).await;

        stop_tx.send_replace(true);
        prober.await.expect("prober");
        driver_task.await.expect("driver");
        assert_eq!(
            *transitions.lock().expect("lock"),
            [Transition::Dead, Transition::Alive]
        );
        let mut text = String::new();
        metrics.render(&mut text);
        assert!(
            text.contains("gateway_alive{target_cluster_name=\"west\"} 1"),
            "{text}"
        );
        assert!(
            !text.contains("probe_successful=\"false\"} 0"),
            "failures were counted: {text}"
        );
        assert!(
            text.contains(
                "gateway_probe_latency_ms_bucket{target_cluster_name=\"west\",le=\"+Inf\"}"
            )
        );
    }
}
