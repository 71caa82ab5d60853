//! SPEC §3: the names of mirror objects, within the API server's 63-character budget.

use std::fmt;

use serde::{Serialize, Serializer};

/// Longest DNS label Kubernetes accepts.
pub const MAX_LABEL_LEN: usize = 63;

/// Hex digits of the stable hash appended to a shortened name: 64 bits (SPEC §3).
pub const HASH_LEN: usize = 16;

/// True for an RFC 1123 label: lowercase alphanumerics and `-`, starting and ending alphanumeric,
/// 1–63 characters. Namespaces, hostnames and cluster names are such labels.
#[must_use]
pub fn is_dns1123_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= MAX_LABEL_LEN
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

/// True for an RFC 1035 label: an RFC 1123 label that starts with a letter. Service names are such
/// labels.
#[must_use]
pub fn is_dns1035_label(s: &str) -> bool {
    is_dns1123_label(s) && s.as_bytes()[0].is_ascii_lowercase()
}

/// A target cluster name: a valid DNS-1123 label (SPEC §2), used as the name suffix and in labels.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClusterName(String);

/// A cluster name that is not a DNS-1123 label.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "cluster name {0:?} is not a DNS-1123 label (lowercase letters, digits and '-', \
     starting and ending with a letter or digit, at most 63 characters)"
)]
pub struct InvalidClusterName(pub String);

impl ClusterName {
    /// Validates `name` as a DNS-1123 label.
    ///
    /// # Errors
    /// [`InvalidClusterName`] when it is not one.
    pub fn new(name: &str) -> Result<Self, InvalidClusterName> {
        if is_dns1123_label(name) {
            Ok(Self(name.to_owned()))
        } else {
            Err(InvalidClusterName(name.to_owned()))
        }
    }

    /// The name as a string.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for ClusterName {
    type Err = InvalidClusterName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl fmt::Display for ClusterName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for ClusterName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

/// The name chosen for a mirror object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MirrorName {
    /// A valid DNS-1035 label of at most 63 characters.
    pub name: String,
    /// The Linkerd form `<base>-<cluster>` when it differs from `name` (it did not fit).
    pub shortened_from: Option<String>,
}

/// SPEC §3: `<base>-<cluster>` when that is a valid DNS-1035 label of ≤ 63 characters; otherwise a
/// shortened form `<truncated base>-<cluster>-<hash>` (or `<truncated full>-<hash>` when the cluster
/// name leaves no room), where the hash is a stable digest of the full intended name, so distinct
/// intended names get distinct results. `base` must already be a DNS-1123 label (callers check and
/// report `InvalidHostname`/`InvalidObject` otherwise); a base starting with a digit gets an `x` prefix.
#[must_use]
pub fn mirror_name(base: &str, cluster: &ClusterName) -> MirrorName {
    let full = format!("{base}-{cluster}");
    if is_dns1035_label(&full) {
        return MirrorName {
            name: full,
            shortened_from: None,
        };
    }
    let hash = stable_hash_hex(&full);
    // Callers pass DNS labels; anything else (an invalid name the core reports elsewhere) still
    // gets a valid label: a character a label cannot hold becomes `-` (finding F13). The hash of
    // the full intended name keeps distinct inputs apart. Identity for a valid label.
    let base = &label_chars(base);
    let full_clean = label_chars(&full);
    // A DNS-1035 label must start with a letter; a hostname may start with a digit.
    let starts_well = |s: &str| s.as_bytes().first().is_some_and(u8::is_ascii_lowercase);
    let lead = if starts_well(trim_dashes(base)) {
        ""
    } else {
        "x"
    };
    let suffix = format!("-{cluster}-{hash}");
    let room = MAX_LABEL_LEN.saturating_sub(lead.len() + suffix.len());
    let name = if room >= 1 {
        format!("{lead}{}{suffix}", trim_dashes(truncate(base, room)))
    } else {
        let lead = if starts_well(trim_dashes(&full_clean)) {
            ""
        } else {
            "x"
        };
        let room = MAX_LABEL_LEN - lead.len() - 1 - HASH_LEN;
        format!("{lead}{}-{hash}", trim_dashes(truncate(&full_clean, room)))
    };
    debug_assert!(is_dns1035_label(&name), "{name}");
    MirrorName {
        name,
        shortened_from: Some(full),
    }
}

/// SPEC §12: the name of one of a mirror's EndpointSlices, `<mirror>-<suffix>` (the suffix is
/// `ipv4`, `ipv6`, `ipv4-2`…), deterministic — never `generateName` — and, like every mirror name,
/// a DNS label of at most 63 characters: when it does not fit, the mirror name is truncated and a
/// stable hash of the full name keeps distinct names distinct.
#[must_use]
pub fn slice_name(mirror: &str, suffix: &str) -> String {
    let full = format!("{mirror}-{suffix}");
    if full.len() <= MAX_LABEL_LEN {
        return full;
    }
    let hash = stable_hash_hex(&full);
    let room = MAX_LABEL_LEN.saturating_sub(suffix.len() + HASH_LEN + 2);
    format!("{}-{hash}-{suffix}", trim_dashes(truncate(mirror, room)))
}

/// `s` with every character a DNS label cannot hold replaced by `-` (the same string for a label).
fn label_chars(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

fn truncate(s: &str, max: usize) -> &str {
    // Callers pass DNS labels: ASCII only, so any byte index is a char boundary.
    &s[..s.len().min(max)]
}

fn trim_dashes(s: &str) -> &str {
    s.trim_end_matches('-')
}

/// SPEC §3: the first 64 bits of SHA-256 of `s`, as [`HASH_LEN`] lowercase hex digits. SHA-256
/// (RustCrypto's `sha2`, a reviewed implementation) is fixed by its definition, so a name hashes the
/// same on every platform, Rust version and release of ours; 64 bits put a chance collision out of
/// practical reach (issue 14: the former 40-bit FNV-1a was collided in under a second). A hash
/// cannot promise distinct names, so collisions are also detected (`claims.rs`).
#[must_use]
pub fn stable_hash_hex(s: &str) -> String {
    use sha2::{Digest, Sha256};
    use std::fmt::Write;
    let digest = Sha256::digest(s.as_bytes());
    let mut hex = String::with_capacity(HASH_LEN);
    for byte in &digest[..HASH_LEN / 2] {
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

/// Issue 14, cross-link names (SPEC §3): on one source, the links whose cluster name ends with
/// `-<another link's cluster name>` can want the same mirror name — `payments-us` mirrored by the
/// link of `west` and `payments` mirrored by the link of `us-west` both want `payments-us-west`,
/// and whichever is created first holds it. One warning per such pair, about the mirror names at
/// risk (`*-us-west`, field `targetClusterName`); sorted, each pair once.
#[must_use]
pub fn cluster_name_overlaps(clusters: &[ClusterName]) -> Vec<crate::diagnostics::Diagnostic> {
    let mut out = Vec::new();
    for longer in clusters {
        for shorter in clusters {
            let Some(head) = longer.as_str().strip_suffix(shorter.as_str()) else {
                continue;
            };
            let Some(head) = head.strip_suffix('-').filter(|h| !h.is_empty()) else {
                continue;
            };
            out.push(
                crate::diagnostics::Diagnostic::new(
                    crate::diagnostics::Reason::NameConflict,
                    crate::diagnostics::Severity::Warning,
                    crate::model::Kind::Service,
                    crate::model::ObjectKey::new("", &format!("*-{longer}")),
                    format!(
                        "the cluster names of two links on this source overlap: `{longer}` ends \
                         with `-{shorter}`, so an export `<name>-{head}` of `{shorter}` and an export \
                         `<name>` of `{longer}` both want the mirror `<name>-{longer}`; whichever \
                         is created first keeps it and the other gets NameConflict. Rename one \
                         link's cluster"
                    ),
                )
                .at("targetClusterName"),
            );
        }
    }
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Finding F13 (fuzz `reconcile`): a name that is no label (a dotted pod or Service name,
    /// uppercase, a leading dash) never yields an invalid mirror name, and distinct inputs stay
    /// distinct.
    #[test]
    fn finding_f13_any_base_yields_a_valid_distinct_label() {
        let west = ClusterName::new("west").expect("cluster");
        let mut seen = std::collections::BTreeSet::new();
        for base in [
            "1sing.6v", "1sing-6v", "a.b", "A", "-x", ".", "", "x_y", "émile", "9",
        ] {
            let n = mirror_name(base, &west).name;
            assert!(is_dns1035_label(&n), "{base:?} -> {n}");
            assert!(seen.insert(n.clone()), "{base:?} -> {n} collides");
        }
    }

    fn west() -> ClusterName {
        ClusterName::new("west").expect("valid")
    }

    #[test]
    fn dns_labels() {
        assert!(is_dns1123_label("nginx-set-0"));
        assert!(is_dns1123_label("0abc"));
        assert!(!is_dns1035_label("0abc"));
        assert!(is_dns1035_label("a"));
        for bad in ["", "-a", "a-", "A", "a_b", "a.b", &"a".repeat(64)] {
            assert!(!is_dns1123_label(bad), "{bad}");
        }
        assert!(is_dns1123_label(&"a".repeat(63)));
    }

    #[test]
    fn cluster_name_is_validated() {
        assert!(ClusterName::new("west").is_ok());
        let err = ClusterName::new("West_1").expect_err("invalid");
        assert!(err.to_string().contains("West_1"));
    }

    #[test]
    fn linkerd_form_is_kept_when_it_fits() {
        let n = mirror_name("nginx-svc", &west());
        assert_eq!(n.name, "nginx-svc-west");
        assert_eq!(n.shortened_from, None);
    }

    #[test]
    fn long_names_are_shortened_and_distinct() {
        let a = "a".repeat(60);
        let b = format!("{}b", "a".repeat(59));
        let na = mirror_name(&a, &west());
        let nb = mirror_name(&b, &west());
        assert!(
            na.name.len() <= 63 && is_dns1035_label(&na.name),
            "{}",
            na.name
        );
        assert!(
            na.name
                .ends_with(&format!("-west-{}", stable_hash_hex(&format!("{a}-west"))))
        );
        assert_ne!(na.name, nb.name);
        assert_eq!(na.shortened_from.as_deref(), Some(&*format!("{a}-west")));
    }

    #[test]
    fn digit_leading_hostname_gets_a_letter() {
        let n = mirror_name("10-42-0-7", &west());
        assert!(is_dns1035_label(&n.name), "{}", n.name);
        assert!(n.name.starts_with("x10-42-0-7-west-"));
    }

    #[test]
    fn very_long_cluster_name_still_fits() {
        let cluster = ClusterName::new(&"c".repeat(63)).expect("valid");
        let n = mirror_name("svc", &cluster);
        assert!(
            is_dns1035_label(&n.name) && n.name.len() <= 63,
            "{}",
            n.name
        );
    }

    #[test]
    fn slice_names_fit_and_stay_distinct() {
        assert_eq!(slice_name("web-west", "ipv4"), "web-west-ipv4");
        let long = mirror_name(&"a".repeat(60), &west()).name;
        let (a, b) = (slice_name(&long, "ipv4"), slice_name(&long, "ipv4-2"));
        for n in [&a, &b] {
            assert!(is_dns1035_label(n) && n.len() <= 63, "{n}");
        }
        assert_ne!(a, b);
        assert!(a.ends_with("-ipv4") && b.ends_with("-ipv4-2"));
    }

    #[test]
    fn hash_is_sha256_cut_to_64_bits() {
        // FIPS 180-2 test vector: SHA-256("abc") = ba7816bf8f01cfea414140de5dae2223…
        assert_eq!(stable_hash_hex("abc"), "ba7816bf8f01cfea");
        assert_eq!(HASH_LEN * 4, 64);
    }

    /// Issue 14 cross-link names: `us-west` ends with `-west`; `west` vs `northwest` and a cluster
    /// against itself do not overlap.
    #[test]
    fn overlapping_cluster_names_are_warned() {
        let names: Vec<ClusterName> = ["west", "us-west", "northwest", "east"]
            .iter()
            .map(|n| ClusterName::new(n).expect("valid"))
            .collect();
        let found = cluster_name_overlaps(&names);
        assert_eq!(found.len(), 1, "{found:#?}");
        let d = &found[0];
        assert_eq!(d.object.name, "*-us-west");
        assert_eq!(d.field.as_deref(), Some("targetClusterName"));
        assert!(d.message.contains("`<name>-us` of `west`"), "{}", d.message);
        assert!(cluster_name_overlaps(&names[..1]).is_empty());
    }
}
