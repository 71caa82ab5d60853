//! The log of `svcmirror run` (and `unlink --yes`): `tracing` to stderr, as text (no ANSI colour
//! codes unless stderr is a terminal) or one JSON object per line, at `--log-level` unless
//! `RUST_LOG` says otherwise.
//!
//! Every message is written in words for an operator: the cluster (`source` or `target`), the verb,
//! the object and the HTTP status — never a Rust `Debug` dump.

use std::fmt;
use std::io::IsTerminal;

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// `2026-11-28T17:00:00.000Z  INFO svcmirror: created Service default/web-west …`.
    Text,
    /// One JSON object per line: `timestamp`, `level`, `target`, `message` and the fields.
    Json,
}

/// The log options shared by the commands that talk to clusters.
#[derive(clap::Args, Debug, Clone)]
pub struct LogArgs {
    /// Log format on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Log level (error, warn, info, debug, trace) or a `RUST_LOG`-style filter. `RUST_LOG`, when
    /// set, takes precedence.
    #[arg(long, value_name = "LEVEL", default_value = "info")]
    pub log_level: String,
}

/// The filter: `RUST_LOG` when set and valid, else `--log-level`.
fn filter(level: &str) -> anyhow::Result<tracing_subscriber::EnvFilter> {
    if let Ok(filter) = tracing_subscriber::EnvFilter::try_from_default_env() {
        return Ok(filter);
    }
    tracing_subscriber::EnvFilter::try_new(level)
        .map_err(|e| anyhow::anyhow!("--log-level {level:?}: {e}"))
}

/// Installs the subscriber (a second call keeps the first one).
///
/// # Errors
/// An unparsable `--log-level`.
pub fn init(args: &LogArgs) -> anyhow::Result<()> {
    let filter = filter(&args.log_level)?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let _ = match args.log_format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.event_format(Json).try_init(),
    };
    Ok(())
}

/// One JSON object per event (the subscriber's `json` feature is not in the build).
pub struct Json;

impl<S, N> FormatEvent<S, N> for Json
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        let mut fields = JsonFields::default();
        fields.map.insert("timestamp".into(), rfc3339_now().into());
        fields
            .map
            .insert("level".into(), meta.level().as_str().into());
        fields.map.insert("target".into(), meta.target().into());
        event.record(&mut fields);
        writeln!(writer, "{}", serde_json::Value::Object(fields.map))
    }
}

#[derive(Default)]
struct JsonFields {
    map: serde_json::Map<String, serde_json::Value>,
}

impl Visit for JsonFields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.map
            .insert(field.name().to_owned(), format!("{value:?}").into());
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.map.insert(field.name().to_owned(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.map.insert(field.name().to_owned(), value.into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.map.insert(field.name().to_owned(), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.map.insert(field.name().to_owned(), value.into());
    }
}

/// Now as RFC 3339 UTC with milliseconds (the log's only clock reading).
fn rfc3339_now() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    rfc3339(now.as_secs(), now.subsec_millis())
}

/// Seconds since the epoch as `YYYY-MM-DDTHH:MM:SS.mmmZ` (civil-from-days, proleptic Gregorian).
fn rfc3339(secs: u64, millis: u32) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_of_known_instants() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00.000Z");
        // 2024-02-29T12:34:56Z (a leap day): `date -u -d 2024-02-29T12:34:56Z +%s`.
        assert_eq!(rfc3339(1_709_210_096, 7), "2024-02-29T12:34:56.007Z");
    }

    #[test]
    fn a_bad_log_level_names_the_flag() {
        if std::env::var_os("RUST_LOG").is_some() {
            return; // RUST_LOG takes precedence over the flag.
        }
        let err = filter("info,=[").map(drop).unwrap_err().to_string();
        assert!(err.starts_with("--log-level"), "{err}");
    }
}
