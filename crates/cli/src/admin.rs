//! The admin HTTP server of `svcmirror run`: `/healthz`, `/readyz` and Prometheus `/metrics`.
//!
//! - `/healthz` is 200 unless this replica leads and its reconcile loop made no progress (no
//!   status published: no relist, reconcile or watch restart) for [`Shared::stuck_after`] — then
//!   503, so the liveness probe restarts a stuck process. The clock is a parameter ([`respond`]).
//! - `/readyz`: a standby replica is ready; the leader once its first full reconcile finished.
//! - `/metrics`: the driver's counters summed over every leadership of this process, the request
//!   metrics of [`crate::metrics::Registry`], and — only from a leader whose first full
//!   reconcile finished — the gauges about exports (a standby, or a new leader still listing,
//!   exposes none rather than zeros: aggregate with `max` over replicas).

use std::convert::Infallible;
use std::fmt::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::FutureExt;
use http::{Request, Response, StatusCode};
use svcmirror_backend::{DriverStats, DriverStatus};
use tokio::sync::watch;

use crate::metrics::{Registry, family, label_value, write_histogram};

/// What the HTTP server reports.
#[derive(Default)]
pub struct Shared {
    /// The running driver's status, while this replica leads.
    pub status: Option<watch::Receiver<DriverStatus>>,
    /// Whether this replica holds the Lease (always true without leader election).
    pub leader: bool,
    /// How many times this replica acquired the Lease.
    pub acquisitions: u64,
    /// The counters of the drivers of earlier leaderships, summed: counters never go back.
    pub past: DriverStats,
    /// When the running driver last published a status (progress of its loop).
    pub last_progress: Option<Instant>,
    /// `/healthz` fails when a leader's loop made no progress for this long (zero: never).
    pub stuck_after: Duration,
    /// Request metrics, kept across leaderships.
    pub registry: Arc<Registry>,
    /// The gateway prober's metrics (SPEC §2.1), while it runs.
    pub probe: Option<Arc<crate::probe::ProbeMetrics>>,
}

impl Shared {
    /// This replica leads (it acquired the lease, or runs without leader election).
    pub fn became_leader(&mut self) {
        self.leader = true;
        self.acquisitions += 1;
    }

    /// The running driver stopped (leadership lost, or shutting down): its counters join `past`.
    pub fn driver_stopped(&mut self) {
        if let Some(rx) = self.status.take() {
            self.past = sum(&self.past, &rx.borrow().stats);
        }
        self.leader = false;
        self.last_progress = None;
    }
}

/// `a + b`, for the counters `/metrics` exposes.
fn sum(a: &DriverStats, b: &DriverStats) -> DriverStats {
    let mut s = *a;
    s.events += b.events;
    s.reconciles += b.reconciles;
    s.full_reconciles += b.full_reconciles;
    s.relists += b.relists;
    s.watch_restarts += b.watch_restarts;
    s.retries += b.retries;
    s.conflicts += b.conflicts;
    s.unconverged += b.unconverged;
    s.operation_failures += b.operation_failures;
    s.status_events += b.status_events;
    s.status_event_failures += b.status_event_failures;
    s.reconcile_duration = a.reconcile_duration.merged(&b.reconcile_duration);
    s
}

/// Serves `shared` on `listener` until `stop` completes.
pub async fn serve_http(
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
                let response = respond(req.uri().path(), &shared, Instant::now());
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

/// The answer to `GET path` at `now`.
pub fn respond(path: &str, shared: &Mutex<Shared>, now: Instant) -> Response<String> {
    let shared = shared.lock().expect("lock");
    let status = shared.status.as_ref().map(|rx| rx.borrow().clone());
    match path {
        "/healthz" => {
            let idle = shared
                .last_progress
                .filter(|_| shared.leader && !shared.stuck_after.is_zero())
                .map(|at| now.saturating_duration_since(at));
            match idle {
                Some(idle) if idle > shared.stuck_after => text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "text/plain",
                    format!(
                        "stuck: the reconcile loop made no progress for {}s (limit {}s)\n",
                        idle.as_secs(),
                        shared.stuck_after.as_secs()
                    ),
                ),
                _ => text(StatusCode::OK, "text/plain", "ok\n".to_owned()),
            }
        }
        "/readyz" => {
            // A standby replica is ready (it is healthy and waiting); the leader is ready once its
            // first full reconcile finished.
            let ready = !shared.leader || status.is_some_and(|s| s.stats.full_reconciles > 0);
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
        "/metrics" => text(StatusCode::OK, "text/plain; version=0.0.4", {
            let mut body = metrics(&shared, status.as_ref());
            if let Some(probe) = &shared.probe {
                probe.render(&mut body);
            }
            body
        }),
        _ => text(
            StatusCode::NOT_FOUND,
            "text/plain",
            "not found\n".to_owned(),
        ),
    }
}

/// Prometheus text exposition.
fn metrics(shared: &Shared, status: Option<&DriverStatus>) -> String {
    let mut out = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, samples: &[(String, u64)]| {
        family(&mut out, name, kind, help);
        for (labels, value) in samples {
            let _ = writeln!(out, "{name}{labels} {value}");
        }
    };
    metric(
        "svcmirror_build_info",
        "gauge",
        "Always 1; the version of this svcmirror binary as a label.",
        &[(format!("{{version=\"{}\"}}", env!("CARGO_PKG_VERSION")), 1)],
    );
    metric(
        "svcmirror_leader",
        "gauge",
        "1 while this replica holds the lease and writes.",
        &[(String::new(), u64::from(shared.leader))],
    );
    metric(
        "svcmirror_lease_acquisitions_total",
        "counter",
        "Times this replica acquired the lease.",
        &[(String::new(), shared.acquisitions)],
    );
    let current = status.map(|s| s.stats).unwrap_or_default();
    let stats = sum(&shared.past, &current);
    let counters: [(&str, &str, u64); 10] = [
        (
            "svcmirror_reconciles_total",
            "Reconciles (one export or the whole link), over every leadership of this process.",
            stats.reconciles,
        ),
        (
            "svcmirror_full_reconciles_total",
            "Whole-link reconciles.",
            stats.full_reconciles,
        ),
        (
            "svcmirror_target_events_total",
            "Watch events from the target cluster handled.",
            stats.events,
        ),
        (
            "svcmirror_relists_total",
            "Successful lists of both clusters.",
            stats.relists,
        ),
        (
            "svcmirror_watch_restarts_total",
            "Restarts of the target cluster's watch.",
            stats.watch_restarts,
        ),
        (
            "svcmirror_api_retries_total",
            "Requests sent again after a retryable failure (either cluster).",
            stats.retries,
        ),
        (
            "svcmirror_operation_failures_total",
            "Writes to the source cluster given up (not retryable, or retries exhausted).",
            stats.operation_failures,
        ),
        (
            "svcmirror_unconverged_reconciles_total",
            "Reconciles that hit the pass limit.",
            stats.unconverged,
        ),
        (
            "svcmirror_status_events_total",
            "Events recorded on exported Services in the target cluster (one per change of conditions).",
            stats.status_events,
        ),
        (
            "svcmirror_status_event_failures_total",
            "Events the target cluster refused (not retried).",
            stats.status_event_failures,
        ),
    ];
    for (name, help, value) in counters {
        metric(name, "counter", help, &[(String::new(), value)]);
    }
    family(
        &mut out,
        "svcmirror_reconcile_duration_seconds",
        "histogram",
        "Duration of reconciles (one export or the whole link, writes included), over every leadership.",
    );
    write_histogram(
        &mut out,
        "svcmirror_reconcile_duration_seconds",
        "",
        &stats.reconcile_duration,
    );
    shared.registry.render(&mut out);
    // Only a leader whose first full reconcile finished knows the exports: anything else would
    // report every mode as 0, which a dashboard cannot tell from "nothing is mirrored".
    if let Some(status) = status.filter(|s| shared.leader && s.stats.full_reconciles > 0) {
        export_gauges(&mut out, status);
    }
    out
}

/// The gauges about the exports, from the leader's status.
fn export_gauges(out: &mut String, status: &DriverStatus) {
    let mut metric = |name: &str, help: &str, samples: &[(String, u64)]| {
        family(out, name, "gauge", help);
        for (labels, value) in samples {
            let _ = writeln!(out, "{name}{labels} {value}");
        }
    };
    let mut by_reason: std::collections::BTreeMap<String, u64> = std::collections::BTreeMap::new();
    for d in &status.diagnostics {
        *by_reason
            .entry(format!(
                "{{reason=\"{}\",severity=\"{}\"}}",
                d.reason, d.severity
            ))
            .or_default() += 1;
    }
    metric(
        "svcmirror_diagnostics",
        "Current findings of the core (exports mirrored differently or not at all), by reason.",
        &by_reason.into_iter().collect::<Vec<_>>(),
    );
    // SPEC §12: every mode is reported, zero included, so a dashboard sees a mode empty out.
    let by_mode = status.exports_by_mode();
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
        "Exported Services by how they are mirrored (waiting: headless without Endpoints yet).",
        &modes,
    );
    let conditions: Vec<(String, u64)> = status
        .condition_counts()
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
        .collect();
    metric(
        "svcmirror_export_condition",
        "Exported Services by condition (Valid, Mirrored, Conflict), status and reason.",
        &conditions,
    );
    metric(
        "svcmirror_failing_objects",
        "Objects whose last write failed for good.",
        &[(String::new(), status.failures.len() as u64)],
    );
    metric(
        "svcmirror_unconverged_scopes",
        "Exports (or the whole link) left unconverged, retried by the next resync.",
        &[(String::new(), status.unconverged.len() as u64)],
    );
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

#[cfg(test)]
mod tests {
    use super::*;
    use svcmirror_backend::ExportStatus;
    use svcmirror_core::model::ObjectKey;
    use svcmirror_core::{Condition, ConditionType, ExportOutcome, MirrorMode};

    #[test]
    fn readiness_and_metrics() {
        let shared = Mutex::new(Shared::default());
        assert_eq!(
            respond("/healthz", &shared, Instant::now()).status(),
            StatusCode::OK
        );
        // A standby replica is ready.
        assert_eq!(
            respond("/readyz", &shared, Instant::now()).status(),
            StatusCode::OK
        );
        let (tx, rx) = watch::channel(DriverStatus::default());
        {
            let mut s = shared.lock().expect("lock");
            s.status = Some(rx);
            s.leader = true;
        }
        assert_eq!(
            respond("/readyz", &shared, Instant::now()).status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
        let mut status = DriverStatus::default();
        status.stats.full_reconciles = 1;
        status.stats.creates = 7;
        tx.send_replace(status);
        assert_eq!(
            respond("/readyz", &shared, Instant::now()).status(),
            StatusCode::OK
        );
        let body = respond("/metrics", &shared, Instant::now()).into_body();
        assert_exposition_format(&body);
        assert!(body.contains("svcmirror_leader 1\n"), "{body}");
        assert!(body.contains("svcmirror_build_info{version=\""), "{body}");
        assert!(
            body.contains("# TYPE svcmirror_reconciles_total counter\n"),
            "{body}"
        );
        assert_eq!(
            respond("/nope", &shared, Instant::now()).status(),
            StatusCode::NOT_FOUND
        );
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
                assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
                if kind == "counter" {
                    assert!(name.ends_with("_total"), "a counter without _total: {line}");
                }
                continue;
            }
            let (series, value) = line.rsplit_once(' ').expect("sample value");
            assert!(value.parse::<f64>().is_ok(), "{line}");
            let name = series.split('{').next().unwrap_or_default();
            let base = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|suffix| name.strip_suffix(suffix).filter(|b| *b == family))
                .unwrap_or(name);
            assert_eq!(base, family, "sample outside its family: {line}");
            if let Some(labels) = series.strip_prefix(name).filter(|l| !l.is_empty()) {
                assert!(labels.starts_with('{') && labels.ends_with('}'), "{line}");
                for pair in labels[1..labels.len() - 1].split(',') {
                    let (key, value) = pair.split_once('=').expect("label=value");
                    // Label values here never contain a comma.
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
        status.stats.full_reconciles = 1;
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
        let body = respond("/metrics", &shared, Instant::now()).into_body();
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
        // A standby replica (no driver) exposes no export gauges: zeros would read as "nothing
        // is mirrored" (issue 12). Its counters still include its past leaderships.
        shared.lock().expect("lock").driver_stopped();
        let standby = respond("/metrics", &shared, Instant::now()).into_body();
        assert_exposition_format(&standby);
        assert!(
            !standby.contains("svcmirror_mirrored_services{"),
            "{standby}"
        );
        assert!(
            standby.contains("svcmirror_status_events_total 4\n"),
            "{standby}"
        );
        assert_eq!(label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}

/// Issue 12: `/healthz` reports a stuck loop — no progress of the leader's reconcile loop within
/// `stuck_after` — on an injected clock, without sleeping.
#[cfg(test)]
mod health {
    use super::*;

    #[test]
    fn healthz_fails_when_the_leaders_loop_made_no_progress() {
        let start = Instant::now();
        let (_tx, rx) = watch::channel(DriverStatus::default());
        let shared = Mutex::new(Shared {
            status: Some(rx),
            leader: true,
            last_progress: Some(start),
            stuck_after: Duration::from_secs(900),
            ..Shared::default()
        });
        let at = |secs| respond("/healthz", &shared, start + Duration::from_secs(secs));
        assert_eq!(at(0).status(), StatusCode::OK);
        assert_eq!(at(900).status(), StatusCode::OK);
        let stuck = at(901);
        assert_eq!(stuck.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            stuck.body().contains("no progress for 901s"),
            "{}",
            stuck.body()
        );
        // Progress resets it.
        shared.lock().expect("lock").last_progress = Some(start + Duration::from_secs(900));
        assert_eq!(at(1000).status(), StatusCode::OK);
        // A standby has no loop to be stuck.
        shared.lock().expect("lock").driver_stopped();
        assert_eq!(at(100_000).status(), StatusCode::OK);
    }

    /// Issue 12: counters restarted at 0 whenever leadership changed (each leadership has a new
    /// driver): they are summed over leaderships.
    #[test]
    fn counters_survive_a_leader_change() {
        let shared = Mutex::new(Shared::default());
        for reconciles in [5, 3] {
            let mut status = DriverStatus::default();
            status.stats.reconciles = reconciles;
            status
                .stats
                .reconcile_duration
                .observe(Duration::from_millis(20));
            let (_tx, rx) = watch::channel(status);
            let mut s = shared.lock().expect("lock");
            s.status = Some(rx);
            s.leader = true;
            drop(s);
            shared.lock().expect("lock").driver_stopped();
        }
        let (_tx, rx) = watch::channel(DriverStatus::default());
        shared.lock().expect("lock").status = Some(rx);
        let body = respond("/metrics", &shared, Instant::now()).into_body();
        assert!(body.contains("svcmirror_reconciles_total 8\n"), "{body}");
        assert!(
            body.contains("svcmirror_reconcile_duration_seconds_bucket{le=\"0.025\"} 2\n")
                && body.contains("svcmirror_reconcile_duration_seconds_count 2\n"),
            "{body}"
        );
    }
}
