//! SPEC §2 `gatewayAddress`: gateway DNS names are resolved here, in the adapter, and
//! re-resolved at every resync; the core keeps taking IPs.
//!
//! A [`Resolver`] is injected (the system resolver in production, a hosts-format file with
//! `svcmirror run --gateway-hosts FILE`, a closure in tests), so nothing here needs DNS to be
//! tested. [`GatewayNames`] remembers the spec of a running link and each name's last good
//! answer: [`GatewayNames::again`] rebuilds the link through the one front door
//! (`Link::from_spec`), a name that fails to resolve keeping its last good addresses (a DNS
//! hiccup never drops every mirror's gateway). [`changed`] is the decision the session acts on:
//! a different *set* of addresses (order and repeats do not count) is a new link.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use svcmirror_core::{Link, LinkError, LinkSpec};

/// Turns a gateway DNS name into its IPs (the core's `resolve` argument), or says why not.
pub type Resolver = Arc<dyn Fn(&str) -> Result<Vec<IpAddr>, String> + Send + Sync>;

/// The system resolver (`getaddrinfo`: `/etc/hosts`, then DNS).
#[must_use]
pub fn system() -> Resolver {
    Arc::new(crate::link_file::resolve)
}

/// A resolver that reads `path` — `/etc/hosts` format: `<IP> <name> [<name>…]`, `#` comments —
/// at every resolution, so that an edit of the file is a changed DNS answer. A name the file
/// does not list does not resolve.
#[must_use]
pub fn hosts_file(path: PathBuf) -> Resolver {
    Arc::new(move |name: &str| {
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("reading {}: {e}", path.display()))?;
        let ips = hosts_lookup(&text, name);
        if ips.is_empty() {
            Err(format!("{name} is not in {}", path.display()))
        } else {
            Ok(ips)
        }
    })
}

/// The IPs `text` (hosts format) gives `name` (case-insensitive, a trailing dot ignored).
fn hosts_lookup(text: &str, name: &str) -> Vec<IpAddr> {
    let wanted = name.trim_end_matches('.');
    let mut ips: BTreeSet<IpAddr> = BTreeSet::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or_default();
        let mut fields = line.split_whitespace();
        let Some(Ok(ip)) = fields.next().map(str::parse::<IpAddr>) else {
            continue;
        };
        if fields.any(|n| n.trim_end_matches('.').eq_ignore_ascii_case(wanted)) {
            ips.insert(ip);
        }
    }
    ips.into_iter().collect()
}

/// Whether `rebuilt` gateway addresses differ from `current` as sets: the decision to rebuild
/// the running link. A DNS server that answers in another order (round robin) changes nothing.
#[must_use]
pub fn changed(current: &[IpAddr], rebuilt: &[IpAddr]) -> bool {
    let set = |ips: &[IpAddr]| ips.iter().copied().collect::<BTreeSet<IpAddr>>();
    set(current) != set(rebuilt)
}

/// A gateway name whose re-resolution failed: its last good addresses were kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kept {
    /// The name.
    pub host: String,
    /// The resolver's error.
    pub error: String,
    /// The addresses kept (its last good answer).
    pub addresses: Vec<IpAddr>,
}

/// The spec of a running link whose `gatewayAddress` holds DNS names, and each name's last good
/// answer.
#[derive(Clone)]
pub struct GatewayNames {
    spec: LinkSpec,
    resolver: Resolver,
    last_good: BTreeMap<String, Vec<IpAddr>>,
}

impl std::fmt::Debug for GatewayNames {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayNames")
            .field("last_good", &self.last_good)
            .finish_non_exhaustive()
    }
}

impl GatewayNames {
    /// Builds the link `spec` describes, resolving its gateway names with `resolver` (a name
    /// that does not resolve is an error: there is no last good answer yet). The names, if the
    /// spec has any, come back to be re-resolved at every resync.
    ///
    /// # Errors
    /// As `Link::from_spec`.
    pub fn first(spec: LinkSpec, resolver: Resolver) -> Result<(Link, Option<Self>), LinkError> {
        let mut last_good = BTreeMap::new();
        let link = Link::from_spec(&spec, |name| {
            let ips = resolver(name)?;
            last_good.insert(name.to_owned(), ips.clone());
            Ok(ips)
        })?;
        let names = (!last_good.is_empty()).then_some(Self {
            spec,
            resolver,
            last_good,
        });
        Ok((link, names))
    }

    /// Resolves every name again and rebuilds the link through `Link::from_spec`. A name that
    /// fails (or answers nothing) keeps its last good addresses and is reported in the second
    /// value; the link is never built with fewer gateways because DNS hiccupped.
    ///
    /// # Errors
    /// As `Link::from_spec` (only when a name has no last good answer, which `first` rules out).
    pub fn again(&mut self) -> (Result<Link, LinkError>, Vec<Kept>) {
        let mut kept = Vec::new();
        let (resolver, last_good) = (&self.resolver, &mut self.last_good);
        let link = Link::from_spec(&self.spec, |name| match resolver(name) {
            Ok(ips) if !ips.is_empty() => {
                last_good.insert(name.to_owned(), ips.clone());
                Ok(ips)
            }
            answer => {
                let error = answer.err().unwrap_or_else(|| "no address".to_owned());
                match last_good.get(name) {
                    Some(ips) => {
                        kept.push(Kept {
                            host: name.to_owned(),
                            error,
                            addresses: ips.clone(),
                        });
                        Ok(ips.clone())
                    }
                    None => Err(error),
                }
            }
        });
        (link, kept)
    }
}

/// Addresses as one comma-separated string, for the log.
#[must_use]
pub fn list(ips: &[IpAddr]) -> String {
    ips.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use svcmirror_core::GatewayAddresses;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    fn spec(addresses: &str) -> LinkSpec {
        let mut spec = LinkSpec::default();
        spec.target_cluster_name = Some("west".into());
        spec.gateway_address = Some(GatewayAddresses::parse(addresses));
        spec
    }

    /// A resolver whose answer the test changes between resyncs (`None`: the name fails).
    fn scripted(answer: &Arc<Mutex<Option<Vec<IpAddr>>>>) -> Resolver {
        let answer = Arc::clone(answer);
        Arc::new(move |name: &str| {
            assert_eq!(
                name, "gw.west.example",
                "only names are resolved, never IPs"
            );
            answer
                .lock()
                .expect("lock")
                .clone()
                .ok_or_else(|| "SERVFAIL".to_owned())
        })
    }

    /// The pure decision: another set of addresses rebuilds the link; another order or a
    /// repeat does not.
    #[test]
    fn only_a_different_set_of_addresses_is_a_change() {
        let (a, b, c) = (ip("192.0.2.10"), ip("192.0.2.11"), ip("2001:db8::1"));
        assert!(!changed(&[a, b], &[b, a]), "round-robin order");
        assert!(!changed(&[a, b], &[a, b, a]), "a repeated answer");
        assert!(changed(&[a], &[b]), "moved");
        assert!(changed(&[a], &[a, c]), "one more");
        assert!(changed(&[a, b], &[a]), "one fewer");
        assert!(!changed(&[], &[]));
    }

    /// SPEC §2 (deliverable 3): the answer changes between resyncs → the rebuilt link has the
    /// new addresses; a failure keeps the last good ones and names the host.
    #[test]
    fn re_resolution_follows_the_answer_and_keeps_the_last_good_one_on_failure() {
        let answer = Arc::new(Mutex::new(Some(vec![ip("192.0.2.10")])));
        let (link, names) =
            GatewayNames::first(spec("gw.west.example,172.18.0.4"), scripted(&answer))
                .expect("resolves");
        let mut names = names.expect("the spec has a name");
        assert_eq!(
            link.gateway_addresses(),
            [ip("172.18.0.4"), ip("192.0.2.10")]
        );

        // The same answer: the same link.
        let (again, kept) = names.again();
        assert_eq!(again.expect("link"), link);
        assert!(kept.is_empty());

        // The load balancer moved.
        *answer.lock().expect("lock") = Some(vec![ip("192.0.2.12"), ip("192.0.2.11")]);
        let (moved, kept) = names.again();
        let moved = moved.expect("link");
        assert!(kept.is_empty());
        assert!(changed(link.gateway_addresses(), moved.gateway_addresses()));
        assert_eq!(
            moved.gateway_addresses(),
            [ip("172.18.0.4"), ip("192.0.2.11"), ip("192.0.2.12")]
        );
        assert_eq!(
            moved.cluster_name(),
            link.cluster_name(),
            "only addresses change"
        );

        // DNS fails, then answers nothing: the last good addresses stay, the host is named.
        for failure in [None, Some(vec![])] {
            *answer.lock().expect("lock") = failure;
            let (kept_link, kept) = names.again();
            assert_eq!(kept_link.expect("link"), moved);
            assert_eq!(kept.len(), 1);
            assert_eq!(kept[0].host, "gw.west.example");
            assert_eq!(kept[0].addresses, [ip("192.0.2.12"), ip("192.0.2.11")]);
        }
    }

    /// With no last good answer (the first resolution) a failing name is the core's error.
    #[test]
    fn the_first_resolution_fails_loudly() {
        let answer = Arc::new(Mutex::new(None));
        let err = GatewayNames::first(spec("gw.west.example"), scripted(&answer))
            .expect_err("does not resolve");
        assert!(err.to_string().contains("gw.west.example"), "{err}");
        // IPs only: nothing to re-resolve.
        let (_, names) = GatewayNames::first(spec("172.18.0.4"), scripted(&answer)).expect("ok");
        assert!(names.is_none());
    }

    #[test]
    fn hosts_file_format() {
        let text = "# gateways\n192.0.2.10 gw.west.example other\n\
                    192.0.2.11\tGW.west.example. # a second A record\nnot-an-ip gw.west.example\n";
        assert_eq!(
            hosts_lookup(text, "gw.west.example"),
            [ip("192.0.2.10"), ip("192.0.2.11")]
        );
        assert!(hosts_lookup(text, "gw.north.example").is_empty());
        let dir = std::env::temp_dir().join(format!("svcmirror-hosts-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("hosts");
        std::fs::write(&path, text).expect("write");
        let resolve = hosts_file(path.clone());
        assert_eq!(resolve("other").expect("listed"), [ip("192.0.2.10")]);
        let err = resolve("gw.north.example").expect_err("not listed");
        assert!(err.contains("is not in"), "{err}");
        std::fs::remove_file(&path).expect("rm");
        assert!(resolve("other").is_err(), "a missing file resolves nothing");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
