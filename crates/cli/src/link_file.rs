//! `--link FILE` (SPEC §2): a Linkerd `Link` manifest — alone, or among the documents
//! `linkerd multicluster link` prints — or a bare `LinkSpec`, read into a `LinkSpec`; and the
//! resolver of gateway DNS names the core asks for (the adapter resolves, the core keeps IPs).

use std::net::{IpAddr, ToSocketAddrs};
use std::path::Path;

use anyhow::Context;
use serde_json::Value;
use svcmirror_core::{LinkManifest, LinkSpec};

/// Keys of the `--link` file of svcmirror 0.1, which was not Linkerd's shape, and what replaced
/// them: named in the error, so that an old file is easy to fix.
const OLD_KEYS: [(&str, &str); 4] = [
    ("clusterName", "targetClusterName"),
    ("clusterDomain", "targetClusterDomain"),
    (
        "gatewayAddresses",
        "gatewayAddress (comma-separated, or a list)",
    ),
    (
        "gatewayAlive",
        "nothing: the gateway probe decides (or --gateway-down)",
    ),
];

/// Reads the link file at `path`.
///
/// # Errors
/// The file cannot be read, is not YAML/JSON, holds no (or several) `kind: Link` documents, is
/// not a Linkerd `Link`, or has an unknown or mistyped field (named with its path).
pub fn read_spec(path: &Path) -> anyhow::Result<LinkSpec> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading --link {}", path.display()))?;
    parse_spec(&text).with_context(|| format!("--link {}", path.display()))
}

/// Parses a link file's text (see [`read_spec`]).
pub fn parse_spec(text: &str) -> anyhow::Result<LinkSpec> {
    let documents: Vec<Value> = match serde_saphyr::from_multiple(text) {
        Ok(documents) => documents,
        // `linkerd multicluster link -o json` prints its JSON documents one after the other.
        Err(yaml) => serde_json::Deserializer::from_str(text)
            .into_iter::<Value>()
            .collect::<Result<_, _>>()
            .map_err(|_| yaml)
            .context("not YAML or JSON")?,
    };
    let documents: Vec<Value> = documents.into_iter().filter(|d| !d.is_null()).collect();
    let is_manifest = |d: &Value| d.get("kind").is_some() || d.get("apiVersion").is_some();
    let document = if documents.iter().any(is_manifest) {
        // `linkerd multicluster link` prints a Secret, the Link, RBAC and a Deployment: take
        // the Link.
        let mut links: Vec<Value> = documents
            .into_iter()
            .filter(|d| d.get("kind").and_then(Value::as_str) == Some("Link"))
            .collect();
        match links.len() {
            0 => anyhow::bail!("no document of kind Link"),
            1 => links.remove(0),
            n => anyhow::bail!("{n} documents of kind Link: give one link per --link"),
        }
    } else {
        match documents.len() {
            0 => anyhow::bail!("empty"),
            1 => documents.into_iter().next().unwrap_or_default(),
            n => anyhow::bail!("{n} documents: expected one Link (or one bare spec)"),
        }
    };
    if is_manifest(&document) {
        let manifest: LinkManifest = deserialize(document)?;
        Ok(manifest.into_spec()?)
    } else {
        deserialize(document)
    }
}

/// Deserializes with the path of the faulty field in the error (`spec.probeSpec.port: …`).
fn deserialize<T: serde::de::DeserializeOwned>(document: Value) -> anyhow::Result<T> {
    serde_path_to_error::deserialize(document).map_err(|err| {
        // Issue 13 (no matching on text): the hint is chosen by where the error is, the last
        // key of its path, not by serde's words. An old key is no field of a Linkerd Link (the
        // Link and its spec deny unknown fields), so an error at one is its being unknown.
        let hint = match err.path().iter().next_back() {
            Some(serde_path_to_error::Segment::Map { key }) => OLD_KEYS
                .iter()
                .find(|(old, _)| old == key)
                .map(|(old, new)| {
                    format!(" ({old} is svcmirror 0.1's key; Linkerd's Link uses {new})")
                })
                .unwrap_or_default(),
            _ => String::new(),
        };
        let path = err.path().to_string();
        let inner = err.inner().to_string();
        if path == "." {
            anyhow::anyhow!("{inner}{hint}")
        } else {
            anyhow::anyhow!("{path}: {inner}{hint}")
        }
    })
}

/// Resolves a gateway DNS name with the system resolver (`ToSocketAddrs`).
///
/// # Errors
/// The resolver's error, as text, for the core's `UnresolvedGatewayName`.
pub fn resolve(name: &str) -> Result<Vec<IpAddr>, String> {
    let addresses = (name, 0_u16).to_socket_addrs().map_err(|e| e.to_string())?;
    let mut ips: Vec<IpAddr> = addresses.map(|a| a.ip()).collect();
    ips.sort_unstable();
    ips.dedup();
    Ok(ips)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_spec_and_manifest() {
        let bare =
            parse_spec("targetClusterName: west\ngatewayAddress: 172.18.0.4\n").expect("bare spec");
        let manifest = parse_spec(
            "apiVersion: multicluster.linkerd.io/v1alpha3\nkind: Link\nmetadata:\n  name: west\n\
             spec:\n  targetClusterName: west\n  gatewayAddress: 172.18.0.4\nstatus: {}\n",
        )
        .expect("manifest");
        assert_eq!(bare, manifest);
    }

    #[test]
    fn unknown_field_named_with_its_path() {
        let err = parse_spec(
            "apiVersion: multicluster.linkerd.io/v1alpha3\nkind: Link\n\
             spec:\n  targetClusterName: west\n  probeSpec:\n    perod: 3s\n",
        )
        .expect_err("unknown field");
        let text = format!("{err:#}");
        assert!(text.contains("spec.probeSpec"), "{text}");
        assert!(text.contains("unknown field `perod`"), "{text}");
    }

    /// The old private keys are refused with the Linkerd name to use, in a bare spec and in a
    /// Link's `spec`, the field named with its path; another unknown key gets no such hint.
    #[test]
    fn old_keys_name_their_replacement() {
        let err = parse_spec("clusterName: west\n").expect_err("old key");
        assert!(format!("{err:#}").contains("targetClusterName"), "{err:#}");
        for (old, new) in OLD_KEYS {
            let bare = format!("{old}: x\n");
            let manifest = format!(
                "apiVersion: multicluster.linkerd.io/v1alpha3\nkind: Link\nspec:\n  {bare}"
            );
            for (text, path) in [(bare, old.to_owned()), (manifest, format!("spec.{old}"))] {
                let err = format!("{:#}", parse_spec(&text).expect_err("old key"));
                assert!(
                    err.contains(&format!("{path}: unknown field `{old}`")),
                    "{err}"
                );
                assert!(
                    err.contains(&format!(
                        "({old} is svcmirror 0.1's key; Linkerd's Link uses {new})"
                    )),
                    "{err}"
                );
            }
        }
        let err = format!(
            "{:#}",
            parse_spec("clusterNom: west\n").expect_err("unknown")
        );
        assert!(err.contains("unknown field `clusterNom`"), "{err}");
        assert!(!err.contains("svcmirror 0.1"), "{err}");
    }

    #[test]
    fn other_kinds_and_several_links_refused() {
        assert!(parse_spec("apiVersion: v1\nkind: Secret\n").is_err());
        let two = "kind: Link\napiVersion: multicluster.linkerd.io/v1alpha3\nspec: {}\n---\n\
                   kind: Link\napiVersion: multicluster.linkerd.io/v1alpha3\nspec: {}\n";
        assert!(parse_spec(two).is_err());
        let wrong = parse_spec("apiVersion: multicluster.linkerd.io/v9\nkind: Link\nspec: {}\n")
            .expect_err("v9");
        assert!(
            format!("{wrong:#}").contains("not a Linkerd Link"),
            "{wrong:#}"
        );
    }

    /// `linkerd multicluster link -o json` writes its documents one after the other.
    #[test]
    fn json_documents_one_after_the_other() {
        let text = r#"{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "c"}}
{"apiVersion": "multicluster.linkerd.io/v1alpha3", "kind": "Link",
 "spec": {"targetClusterName": "west", "gatewayPort": "4143"}, "status": {}}
"#;
        let spec = parse_spec(text).expect("the Link");
        assert_eq!(spec.target_cluster_name.as_deref(), Some("west"));
    }

    #[test]
    fn localhost_resolves_and_nonsense_does_not() {
        assert!(!resolve("localhost").expect("localhost resolves").is_empty());
        assert!(resolve("no-such-host.invalid").is_err());
    }

    /// The link in `deploy/deployment.yaml`'s ConfigMap is a valid `--link` file.
    #[test]
    fn deployed_link_config_map_parses() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy/deployment.yaml");
        let text = std::fs::read_to_string(path).expect("deploy/deployment.yaml");
        let documents: Vec<Value> = serde_saphyr::from_multiple(&text).expect("yaml");
        let link = documents
            .iter()
            .find_map(|d| d["data"]["link.yaml"].as_str())
            .expect("the ConfigMap's link.yaml");
        let spec = parse_spec(link).expect("a LinkSpec");
        let link = svcmirror_core::Link::from_spec_ips(&spec).expect("a valid link");
        assert_eq!(link.cluster_name().as_str(), "west");
        assert!(link.enable_headless_services());
    }
}
