//! SPEC §2: why a `LinkSpec` does not make a link ([`LinkError`]), and the small readers of
//! Linkerd's string-typed fields that every part of the spec shares.

use std::fmt;

use serde::Deserializer;
use serde::de;

use crate::names::InvalidClusterName;

pub(crate) const PORT_RANGE: &str = "a port between 1 and 65535";

/// A set value: `None` for absent or empty (Go's zero value).
pub(crate) fn set(value: Option<&String>) -> Option<&str> {
    value.map(String::as_str).filter(|v| !v.is_empty())
}

pub(crate) fn parse_port(text: &str) -> Option<u16> {
    text.trim().parse::<u16>().ok().filter(|p| *p > 0)
}

pub(crate) fn invalid(field: &'static str, value: &str, expected: &'static str) -> LinkError {
    LinkError::InvalidField {
        field,
        value: value.chars().take(256).collect(),
        expected,
    }
}

/// A string field Linkerd types as a string but that YAML may carry as a number (`4143`).
pub(crate) fn string_or_number<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<String>, D::Error> {
    struct Visitor;
    impl de::Visitor<'_> for Visitor {
        type Value = Option<String>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string or a number")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(v.to_owned()))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }
    d.deserialize_any(Visitor)
}

/// Why a link could not be built from its [`LinkSpec`](crate::LinkSpec).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LinkError {
    /// `targetClusterName` is absent or empty.
    #[error("targetClusterName is required")]
    MissingClusterName,
    /// The cluster name is not a DNS-1123 label.
    #[error("targetClusterName: {0}")]
    ClusterName(#[from] InvalidClusterName),
    /// The cluster domain is not a DNS name.
    #[error("targetClusterDomain: {0:?} is not a DNS name")]
    ClusterDomain(String),
    /// A field whose value does not parse.
    #[error("{field}: {value:?} is not {expected}")]
    InvalidField {
        /// The field, as written in the Link (`gatewayPort`, `probeSpec.period`).
        field: &'static str,
        /// The value (truncated).
        value: String,
        /// What was expected.
        expected: &'static str,
    },
    /// A `gatewayAddress` entry that is neither an IP nor a DNS name.
    #[error("gatewayAddress: {0:?} is neither an IP address nor a DNS name")]
    GatewayAddress(String),
    /// A gateway DNS name the adapter could not resolve.
    #[error("gatewayAddress: the name {name:?} does not resolve: {reason}")]
    UnresolvedGatewayName {
        /// The name.
        name: String,
        /// Why, as the resolver said.
        reason: String,
    },
    /// A manifest that is not a Linkerd `Link`.
    #[error(
        "not a Linkerd Link: apiVersion {api_version:?}, kind {kind:?} (expected kind Link, \
         apiVersion multicluster.linkerd.io/v1alpha1, v1alpha2 or v1alpha3)"
    )]
    NotALink {
        /// The manifest's `apiVersion`.
        api_version: String,
        /// The manifest's `kind`.
        kind: String,
    },
}
