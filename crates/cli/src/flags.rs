//! Value parsers of flags whose syntax clap does not know: durations (`1m30s`), listen addresses
//! (`:9990`), fractions (`--fault-rate`) and label or annotation keys. Each error says what is
//! accepted; clap names the flag.

use std::net::SocketAddr;
use std::time::Duration;

/// The shortest `--resync-period`: each resync lists both clusters in full.
pub const MIN_RESYNC_PERIOD: Duration = Duration::from_secs(10);

/// `300`, `300s`, `5m`, `1h`, `1500ms`, `1m30s`, `1h2m3s`: numbers with units, summed; a bare
/// number is seconds.
pub fn duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let wrong = || format!("{text:?} is not a duration like 300s, 5m, 1m30s or 1h");
    if text.is_empty() {
        return Err(wrong());
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().map(Duration::from_secs).map_err(|_| wrong());
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(wrong)?;
        if digits == 0 {
            return Err(wrong());
        }
        let n: u64 = rest[..digits].parse().map_err(|_| wrong())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let part = match &rest[..unit_len] {
            "ms" => Duration::from_millis(n),
            "s" => Duration::from_secs(n),
            "m" => Duration::from_secs(n.saturating_mul(60)),
            "h" => Duration::from_secs(n.saturating_mul(3600)),
            _ => return Err(format!("{text:?}: units are ms, s, m and h (e.g. 1m30s)")),
        };
        total = total.saturating_add(part);
        rest = &rest[unit_len..];
    }
    Ok(total)
}

/// `--resync-period`: a [`duration`] of at least [`MIN_RESYNC_PERIOD`], unless `allow_short`
/// (the hidden `--allow-short-resync`, for tests that watch several resyncs go by).
pub fn check_resync_period(period: Duration, allow_short: bool) -> Result<Duration, String> {
    if period.is_zero() {
        return Err("--resync-period must be more than 0".to_owned());
    }
    if period < MIN_RESYNC_PERIOD && !allow_short {
        return Err(format!(
            "--resync-period {period:?} is below the minimum of {}s: every resync lists both \
             clusters in full",
            MIN_RESYNC_PERIOD.as_secs()
        ));
    }
    Ok(period)
}

/// `HOST:PORT`, `[::]:PORT`, or `:PORT` for every IPv4 address (like Go's `net.Listen`).
pub fn listen_addr(text: &str) -> Result<SocketAddr, String> {
    let full = match text.strip_prefix(':') {
        Some(port) => format!("0.0.0.0:{port}"),
        None => text.to_owned(),
    };
    full.parse()
        .map_err(|_| format!("{text:?} is not an address like 0.0.0.0:9990, [::]:9990 or :9990"))
}

/// A fraction from 0.0 to 1.0, both included.
pub fn fraction(text: &str) -> Result<f64, String> {
    let value: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a number from 0.0 to 1.0"))?;
    if !(0.0..=1.0).contains(&value) {
        return Err(format!("{text} is outside 0.0–1.0"));
    }
    Ok(value)
}

/// A label or annotation key (`app`, `example.com/team`), or `prefix/*` for every key under a
/// prefix; anything the API server would refuse as a key is refused here.
pub fn key_pattern(text: &str) -> Result<String, String> {
    let key = text
        .strip_suffix("/*")
        .map_or(text.to_owned(), |prefix| format!("{prefix}/x"));
    if svcmirror_core::is_qualified_name(&key) {
        Ok(text.to_owned())
    } else {
        Err(format!(
            "{text:?} is not a label or annotation key (`name` or `prefix/name`: alphanumerics, \
             '-', '_', '.', at most 63, starting and ending alphanumeric), nor `prefix/*`"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_with_units_summed() {
        assert_eq!(duration("300"), Ok(Duration::from_secs(300)));
        assert_eq!(duration("300s"), Ok(Duration::from_secs(300)));
        assert_eq!(duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(duration("1500ms"), Ok(Duration::from_millis(1500)));
        // Issue 12: `1m30s` was refused.
        assert_eq!(duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(duration("1h2m3s"), Ok(Duration::from_secs(3723)));
        assert!(duration("5 parsecs").is_err());
        assert!(duration("").is_err());
        assert!(duration("m").is_err());
        assert!(duration("5d").is_err());
    }

    /// Issue 12: `--resync-period 1ms` was accepted (56 full lists a second).
    #[test]
    fn resync_period_has_a_minimum() {
        let check = |text: &str, allow_short| check_resync_period(duration(text)?, allow_short);
        assert!(check("1ms", false).unwrap_err().contains("minimum of 10s"));
        assert!(check("0", false).is_err());
        assert!(check("0", true).is_err(), "never a busy loop");
        assert_eq!(check("1s", true), Ok(Duration::from_secs(1)));
        assert_eq!(check("10s", false), Ok(Duration::from_secs(10)));
        assert_eq!(check("1m30s", false), Ok(Duration::from_secs(90)));
    }

    #[test]
    fn listen_addresses_with_an_empty_host() {
        assert_eq!(listen_addr(":9990"), Ok("0.0.0.0:9990".parse().unwrap()));
        assert_eq!(listen_addr("[::]:9990"), Ok("[::]:9990".parse().unwrap()));
        assert!(listen_addr("9990").is_err());
    }

    #[test]
    fn fractions_include_both_ends() {
        assert_eq!(fraction("1.0"), Ok(1.0));
        assert_eq!(fraction("0"), Ok(0.0));
        assert!(fraction("-0.1").unwrap_err().contains("outside 0.0–1.0"));
        assert!(fraction("1.5").is_err());
        assert!(fraction("NaN").is_err());
    }

    #[test]
    fn label_keys() {
        assert!(key_pattern("app").is_ok());
        assert!(key_pattern("example.com/team").is_ok());
        assert!(key_pattern("example.com/*").is_ok());
        assert!(key_pattern("Bad Key").is_err());
        assert!(key_pattern("/x").is_err());
        assert!(key_pattern("a/b/c").is_err());
    }
}
