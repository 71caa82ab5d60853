//! The process's own metrics: API requests by cluster, verb and result, their durations, and the
//! writes to the source — recorded by [`crate::observe`] around every request, so they outlive a
//! leadership (the driver's counters restart with each driver) — plus the Prometheus text format.
//!
//! Prometheus conventions: base units in names (`_seconds`), `_total` on counters, every family
//! with its HELP and TYPE, label values escaped.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

use svcmirror_backend::{DURATION_BUCKETS, DurationHistogram};

/// Which cluster a request went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Cluster {
    /// Where mirrors are written (and the Lease lives).
    Source,
    /// Where Services are exported (and status Events are recorded).
    Target,
}

impl Cluster {
    /// `source` or `target`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Source => "source",
            Self::Target => "target",
        }
    }
}

impl std::fmt::Display for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `_bucket` (cumulative, then `+Inf`), `_sum` and `_count` samples of `histogram` under
/// `labels` (`k="v",…`, possibly empty).
pub fn write_histogram(out: &mut String, name: &str, labels: &str, histogram: &DurationHistogram) {
    let sep = if labels.is_empty() { "" } else { "," };
    let mut cumulative = 0;
    for (bound, n) in DURATION_BUCKETS.iter().zip(histogram.buckets) {
        cumulative += n;
        let _ = writeln!(
            out,
            "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {cumulative}"
        );
    }
    let _ = writeln!(
        out,
        "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}",
        histogram.count
    );
    let braces = if labels.is_empty() {
        String::new()
    } else {
        format!("{{{labels}}}")
    };
    let _ = writeln!(
        out,
        "{name}_sum{braces} {}",
        histogram.sum_micros as f64 / 1e6
    );
    let _ = writeln!(out, "{name}_count{braces} {}", histogram.count);
}

#[derive(Debug, Default)]
struct Recorded {
    /// Requests by cluster, verb and result (`ok`, `forbidden`, …).
    requests: BTreeMap<(Cluster, &'static str, &'static str), u64>,
    /// Request durations by cluster and verb.
    durations: BTreeMap<(Cluster, &'static str), DurationHistogram>,
    /// Successful writes to the source by action and kind.
    writes: BTreeMap<(&'static str, String), u64>,
}

/// What [`crate::observe`] records; shared by the drivers of every leadership and the HTTP server.
#[derive(Debug, Default)]
pub struct Registry {
    recorded: Mutex<Recorded>,
}

impl Registry {
    /// One request to `cluster` and how it ended.
    /// `took` is `None` for a watch that broke (a stream has no request duration).
    pub fn request(
        &self,
        cluster: Cluster,
        verb: &'static str,
        result: &'static str,
        took: Option<Duration>,
    ) {
        let mut recorded = self.recorded.lock().expect("metrics lock");
        *recorded
            .requests
            .entry((cluster, verb, result))
            .or_default() += 1;
        if let Some(took) = took {
            recorded
                .durations
                .entry((cluster, verb))
                .or_default()
                .observe(took);
        }
    }

    /// One successful write to the source.
    pub fn write(&self, action: &'static str, kind: &str) {
        let mut recorded = self.recorded.lock().expect("metrics lock");
        *recorded
            .writes
            .entry((action, kind.to_owned()))
            .or_default() += 1;
    }

    /// The request families in the text format.
    pub fn render(&self, out: &mut String) {
        let recorded = self.recorded.lock().expect("metrics lock");
        family(
            out,
            "svcmirror_api_requests_total",
            "counter",
            "API requests by cluster (source or target), verb and result (ok, not_found, conflict, already_exists, invalid, forbidden, unavailable, timeout).",
        );
        for ((cluster, verb, result), n) in &recorded.requests {
            let _ = writeln!(
                out,
                "svcmirror_api_requests_total{{cluster=\"{cluster}\",verb=\"{verb}\",result=\"{result}\"}} {n}"
            );
        }
        let mut failed: BTreeMap<Cluster, u64> =
            BTreeMap::from([(Cluster::Source, 0), (Cluster::Target, 0)]);
        for ((cluster, _, result), n) in &recorded.requests {
            if *result != "ok" {
                *failed.entry(*cluster).or_default() += n;
            }
        }
        family(
            out,
            "svcmirror_api_failed_requests_total",
            "counter",
            "API requests that returned an error, by the cluster they went to (retries included).",
        );
        for (cluster, n) in failed {
            let _ = writeln!(
                out,
                "svcmirror_api_failed_requests_total{{cluster=\"{cluster}\"}} {n}"
            );
        }
        family(
            out,
            "svcmirror_api_request_duration_seconds",
            "histogram",
            "Duration of API requests by cluster and verb (a create includes its read of the name).",
        );
        for ((cluster, verb), histogram) in &recorded.durations {
            write_histogram(
                out,
                "svcmirror_api_request_duration_seconds",
                &format!("cluster=\"{cluster}\",verb=\"{verb}\""),
                histogram,
            );
        }
        family(
            out,
            "svcmirror_writes_total",
            "counter",
            "Objects written to the source cluster, by action (create, update, delete) and kind.",
        );
        for ((action, kind), n) in &recorded.writes {
            let _ = writeln!(
                out,
                "svcmirror_writes_total{{cluster=\"source\",action=\"{action}\",kind=\"{kind}\"}} {n}"
            );
        }
    }
}

/// The HELP and TYPE lines of a family.
pub fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// A Prometheus label value: backslash, double quote and newline escaped.
pub fn label_value(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_and_end_with_inf() {
        let mut h = DurationHistogram::default();
        h.observe(Duration::from_millis(3));
        h.observe(Duration::from_millis(70));
        h.observe(Duration::from_secs(60));
        let mut out = String::new();
        write_histogram(&mut out, "x_seconds", "verb=\"get\"", &h);
        assert!(
            out.contains("x_seconds_bucket{verb=\"get\",le=\"0.005\"} 1\n"),
            "{out}"
        );
        assert!(
            out.contains("x_seconds_bucket{verb=\"get\",le=\"0.05\"} 1\n"),
            "{out}"
        );
        assert!(
            out.contains("x_seconds_bucket{verb=\"get\",le=\"0.1\"} 2\n"),
            "{out}"
        );
        assert!(
            out.contains("x_seconds_bucket{verb=\"get\",le=\"10\"} 2\n"),
            "{out}"
        );
        assert!(
            out.contains("x_seconds_bucket{verb=\"get\",le=\"+Inf\"} 3\n"),
            "{out}"
        );
        assert!(
            out.contains("x_seconds_bucket{verb=\"get\",le=\"30\"} 2\n"),
            "{out}"
        );
        assert!(out.contains("x_seconds_count{verb=\"get\"} 3\n"), "{out}");
        assert!(
            out.contains("x_seconds_sum{verb=\"get\"} 60.073\n"),
            "{out}"
        );
    }

    /// Issue 12: failed requests are counted by the cluster they went to (the old help text said
    /// "requests to the source" although every one of them went to the target).
    #[test]
    fn failed_requests_are_labelled_by_cluster() {
        let registry = Registry::default();
        for _ in 0..3 {
            registry.request(Cluster::Target, "list", "forbidden", None);
        }
        registry.request(Cluster::Source, "list", "ok", Some(Duration::ZERO));
        registry.write("create", "Service");
        let mut out = String::new();
        registry.render(&mut out);
        for line in [
            "svcmirror_api_failed_requests_total{cluster=\"target\"} 3\n",
            "svcmirror_api_failed_requests_total{cluster=\"source\"} 0\n",
            "svcmirror_api_requests_total{cluster=\"target\",verb=\"list\",result=\"forbidden\"} 3\n",
            "svcmirror_api_requests_total{cluster=\"source\",verb=\"list\",result=\"ok\"} 1\n",
            "svcmirror_writes_total{cluster=\"source\",action=\"create\",kind=\"Service\"} 1\n",
            "# TYPE svcmirror_api_request_duration_seconds histogram\n",
        ] {
            assert!(out.contains(line), "missing {line:?} in\n{out}");
        }
        assert!(!out.contains("requests to the source"), "{out}");
    }
}
