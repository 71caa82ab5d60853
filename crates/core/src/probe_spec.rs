//! SPEC §2.1: the gateway probe — `probeSpec` as Linkerd's `Link` writes it ([`ProbeSpec`], every
//! value a string) and as the controller uses it ([`GatewayProbe`], Linkerd's defaults applied).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::link_error::{LinkError, PORT_RANGE, invalid, parse_port, set, string_or_number};

/// Linkerd's gateway probe path (`mirror.linkerd.io/probe-path`).
pub const DEFAULT_PROBE_PATH: &str = "/ready";
/// Linkerd's gateway probe port (`mc-probe`).
pub const DEFAULT_PROBE_PORT: u16 = 4191;
/// Linkerd's gateway probe period.
pub const DEFAULT_PROBE_PERIOD: Duration = Duration::from_secs(3);
/// Linkerd's probe timeout (the Link CRD's default, `30s`).
pub const DEFAULT_PROBE_TIMEOUT: Duration = Duration::from_secs(30);
/// Linkerd's probe failure threshold (the Link CRD's default, `"3"`).
pub const DEFAULT_PROBE_FAILURE_THRESHOLD: u32 = 3;

/// `probeSpec` of a Linkerd Link: every value a string, as Linkerd writes them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct ProbeSpec {
    /// `path` (default `/ready`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// `port` (default `4191`).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "string_or_number"
    )]
    pub port: Option<String>,
    /// `period`, a Go duration (default `3s`; a bare number is seconds, as Linkerd's annotation).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "string_or_number"
    )]
    pub period: Option<String>,
    /// `timeout`, a Go duration (default `30s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    /// `failureThreshold` (default `3`).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "string_or_number"
    )]
    pub failure_threshold: Option<String>,
}

impl ProbeSpec {
    pub(crate) fn overridden_by(self, over: Self) -> Self {
        Self {
            path: over.path.or(self.path),
            port: over.port.or(self.port),
            period: over.period.or(self.period),
            timeout: over.timeout.or(self.timeout),
            failure_threshold: over.failure_threshold.or(self.failure_threshold),
        }
    }
}

/// The gateway probe of a link, with SPEC §2.1's (Linkerd's) defaults applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct GatewayProbe {
    /// The HTTP path probed.
    pub path: String,
    /// The port probed on every gateway address.
    pub port: u16,
    /// Time between probes.
    pub period: Duration,
    /// Time a probe may take.
    pub timeout: Duration,
    /// Consecutive failures after which the gateway is dead.
    pub failure_threshold: u32,
}

impl GatewayProbe {
    /// The probe of `spec` (absent or empty values take their defaults).
    ///
    /// # Errors
    /// A port, duration or threshold that does not parse, naming its `probeSpec.*` field.
    pub fn from_spec(spec: Option<&ProbeSpec>) -> Result<Self, LinkError> {
        let empty = ProbeSpec::default();
        let spec = spec.unwrap_or(&empty);
        let port = match set(spec.port.as_ref()) {
            None => DEFAULT_PROBE_PORT,
            Some(p) => parse_port(p).ok_or_else(|| invalid("probeSpec.port", p, PORT_RANGE))?,
        };
        let duration = |field: &'static str, value: Option<&String>, default| match set(value) {
            None => Ok(default),
            Some(v) => parse_go_duration(v).ok_or_else(|| invalid(field, v, DURATION_SYNTAX)),
        };
        let failure_threshold =
            match set(spec.failure_threshold.as_ref()) {
                None => DEFAULT_PROBE_FAILURE_THRESHOLD,
                Some(t) => t.parse::<u32>().ok().filter(|t| *t > 0).ok_or_else(|| {
                    invalid("probeSpec.failureThreshold", t, "a positive integer")
                })?,
            };
        Ok(Self {
            path: set(spec.path.as_ref())
                .unwrap_or(DEFAULT_PROBE_PATH)
                .to_owned(),
            port,
            period: duration(
                "probeSpec.period",
                spec.period.as_ref(),
                DEFAULT_PROBE_PERIOD,
            )?,
            timeout: duration(
                "probeSpec.timeout",
                spec.timeout.as_ref(),
                DEFAULT_PROBE_TIMEOUT,
            )?,
            failure_threshold,
        })
    }
}

const DURATION_SYNTAX: &str = "a positive Go duration such as 3s, 500ms or 1m30s";

/// A Go `time.ParseDuration` subset: one or more `<number><unit>` (units `ms`, `s`, `m`, `h`,
/// decimals allowed), or a bare number of seconds (Linkerd's `probe-period` annotation). Zero and
/// negative durations are refused.
#[must_use]
pub fn parse_go_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    if let Ok(secs) = text.parse::<u64>() {
        return (secs > 0).then(|| Duration::from_secs(secs));
    }
    let mut total = 0.0_f64;
    let mut rest = text;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += number * scale;
    }
    (total > 0.0 && total < 1e9).then(|| Duration::from_secs_f64(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("3s"), Some(Duration::from_secs(3)));
        assert_eq!(parse_go_duration("3"), Some(Duration::from_secs(3)));
        assert_eq!(parse_go_duration("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_go_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_go_duration("1.5h"), Some(Duration::from_secs(5400)));
        for bad in ["", "0", "0s", "3x", "s", "-3s", "1e400s"] {
            assert_eq!(parse_go_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn probe_defaults_are_linkerds() {
        let probe = GatewayProbe::from_spec(None).expect("defaults");
        assert_eq!(
            (probe.path.as_str(), probe.port, probe.period),
            ("/ready", 4191, Duration::from_secs(3))
        );
        assert_eq!(
            (probe.timeout, probe.failure_threshold),
            (Duration::from_secs(30), 3)
        );
        let bad = ProbeSpec {
            period: Some("soon".into()),
            ..ProbeSpec::default()
        };
        assert!(matches!(
            GatewayProbe::from_spec(Some(&bad)),
            Err(LinkError::InvalidField {
                field: "probeSpec.period",
                ..
            })
        ));
    }
}
