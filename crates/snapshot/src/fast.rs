//! The typed fast path for one JSON List item: raw text → the model, without a `Value`.
//!
//! The reference reader ([`entry_from_value`]) builds a `serde_json::Value` per item so that a
//! malformed object is reported with its field path. That costs several times the parse itself,
//! so a well-formed item is instead read twice from its raw text without building anything: a
//! [`Walk`] that reads `kind` and `apiVersion`, validates every scalar as `Value` would, and
//! looks for the positional structs the reference refuses; then, for the kinds we read, a typed
//! deserialization straight into the model. Skipped kinds are never materialised.
//!
//! Whenever this path is unsure — an item that is not a plain object with string `kind` and
//! `apiVersion`, a possible positional struct, a typed error — the item goes through the
//! reference reader, so diagnostics are exactly the reference's. A walk error (a syntax error or
//! nesting the reference would refuse) is returned, and the caller re-reads the whole input with
//! the reference reader, whose error (and its position) is the one reported.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use svcmirror_core::model::DISCOVERY_V1;

use crate::entry::{Entry, OBJECT_FIELDS, OBJECT_LIST_FIELDS, entry_from_value, looks_read};

/// Deepest nesting of an item read here (the item itself is level 1). The reference counts the
/// enclosing List and `items` too, towards its limit of 128; anything deeper than this goes back
/// to it whole, so that its verdict (accepted or refused, and where) is kept.
const MAX_ITEM_DEPTH: usize = 100;

/// One List item (or element of a top-level sequence), as raw JSON text, into an [`Entry`].
///
/// # Errors
/// When the walk fails: the caller must then use the reference reader for the whole input.
pub(crate) fn entry(text: &str) -> Result<Entry, serde_json::Error> {
    let mut head = Head::default();
    let mut deserializer = serde_json::Deserializer::from_str(text);
    Walk {
        head: &mut head,
        depth: 1,
        role: Role::Item,
    }
    .deserialize(&mut deserializer)?;
    deserializer.end()?;

    let reference = || serde_json::from_str::<Value>(text).map(entry_from_value);
    let (Some(api_version), Some(kind)) = (head.api_version, head.kind) else {
        return reference();
    };
    if head.unsure {
        return reference();
    }
    // The same kinds as the reference reads; the rest is skipped unread.
    let typed: fn(&str) -> Result<Entry, serde_json::Error> = match (api_version, kind) {
        ("v1", "Service") => |text| serde_json::from_str(text).map(Entry::Service),
        ("v1", "Endpoints") => |text| serde_json::from_str(text).map(Entry::Endpoints),
        ("v1", "Namespace") => |text| serde_json::from_str(text).map(Entry::Namespace),
        (DISCOVERY_V1, "EndpointSlice") => {
            |text| serde_json::from_str(text).map(Entry::EndpointSlice)
        }
        // A look-alike of a kind that is read is skipped with a warning: the reference's.
        _ if looks_read(api_version, kind) => return reference(),
        _ => return Ok(Entry::Skipped),
    };
    if head.positional {
        return reference();
    }
    match typed(text) {
        Ok(entry) if complete(&entry) => Ok(entry),
        _ => reference(),
    }
}

/// Whether a typed object has every field the reference reader requires ([`entry_from_value`]
/// reports a missing `metadata.name`, Service or Endpoints `port`, or address `ip`). The typed
/// object cannot tell missing from `""` or `0`, so either sends the item to the reference.
fn complete(entry: &Entry) -> bool {
    match entry {
        Entry::Service(service) => {
            !service.metadata.name.is_empty() && service.spec.ports.iter().all(|p| p.port != 0)
        }
        Entry::Endpoints(endpoints) => {
            !endpoints.metadata.name.is_empty()
                && endpoints.subsets.iter().all(|subset| {
                    subset
                        .addresses
                        .iter()
                        .chain(&subset.not_ready_addresses)
                        .all(|a| !a.ip.is_empty())
                        && subset.ports.iter().all(|p| p.port != 0)
                })
        }
        Entry::Namespace(namespace) => !namespace.metadata.name.is_empty(),
        Entry::EndpointSlice(slice) => !slice.metadata.name.is_empty(),
        _ => false,
    }
}

/// What the walk learnt about an item.
#[derive(Default)]
struct Head<'de> {
    kind: Option<&'de str>,
    api_version: Option<&'de str>,
    /// `kind` or `apiVersion` missing, repeated, escaped or not a string, or the item is not a
    /// mapping: only the reference knows what to say.
    unsure: bool,
    /// A sequence where the reference's positional check may want a mapping.
    positional: bool,
}

/// Where a value sits, as far as the walk cares.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    /// The item itself.
    Item,
    /// The value of `kind` or `apiVersion` of the item.
    Kind,
    ApiVersion,
    /// The value of a field that must be a mapping (`metadata`, `spec`…).
    Object,
    /// The value of a field that is a list of mappings (`ports`, `subsets`…).
    ObjectList,
    /// An element of such a list.
    ObjectListElement,
    Other,
}

/// Walks a value like `Value` would read it (every string and number parsed and checked), keeping
/// only what [`Head`] needs.
struct Walk<'h, 'de> {
    head: &'h mut Head<'de>,
    depth: usize,
    role: Role,
}

impl<'de> DeserializeSeed<'de> for Walk<'_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        if self.depth > MAX_ITEM_DEPTH {
            return Err(de::Error::custom("nested too deep for the fast path"));
        }
        deserializer.deserialize_any(self)
    }
}

impl Walk<'_, '_> {
    /// A scalar (or a borrowed string for anything but `kind`/`apiVersion`).
    fn scalar(self) {
        if matches!(self.role, Role::Item | Role::Kind | Role::ApiVersion) {
            self.head.unsure = true;
        }
    }
}

impl<'de> Visitor<'de> for Walk<'_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.scalar();
        Ok(())
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.scalar();
        Ok(())
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.scalar();
        Ok(())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.scalar();
        Ok(())
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<(), E> {
        let slot = match self.role {
            Role::Kind => &mut self.head.kind,
            Role::ApiVersion => &mut self.head.api_version,
            _ => {
                self.scalar();
                return Ok(());
            }
        };
        if slot.replace(v).is_some() {
            self.head.unsure = true;
        }
        Ok(())
    }

    /// A string with escapes: not borrowed, so not kept.
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        self.scalar();
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.scalar();
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let element = match self.role {
            Role::Item | Role::Kind | Role::ApiVersion => {
                self.head.unsure = true;
                Role::Other
            }
            Role::Object | Role::ObjectListElement => {
                self.head.positional = true;
                Role::Other
            }
            Role::ObjectList => Role::ObjectListElement,
            Role::Other => Role::Other,
        };
        while seq
            .next_element_seed(Walk {
                head: self.head,
                depth: self.depth + 1,
                role: element,
            })?
            .is_some()
        {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        if matches!(self.role, Role::Kind | Role::ApiVersion) {
            self.head.unsure = true;
        }
        while let Some(key) = map.next_key_seed(KeyRole)? {
            let role = match key {
                Role::Kind | Role::ApiVersion if self.role != Role::Item => Role::Other,
                role => role,
            };
            map.next_value_seed(Walk {
                head: self.head,
                depth: self.depth + 1,
                role,
            })?;
        }
        Ok(())
    }
}

/// Reads a mapping key (without allocating when it has no escapes) into the role of its value.
struct KeyRole;

impl KeyRole {
    fn of(key: &str) -> Role {
        match key {
            "kind" => Role::Kind,
            "apiVersion" => Role::ApiVersion,
            _ if OBJECT_FIELDS.contains(&key) => Role::Object,
            _ if OBJECT_LIST_FIELDS.contains(&key) => Role::ObjectList,
            _ => Role::Other,
        }
    }
}

impl<'de> DeserializeSeed<'de> for KeyRole {
    type Value = Role;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Role, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for KeyRole {
    type Value = Role;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string key")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Role, E> {
        Ok(Self::of(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fast path and the reference agree (compared through their debug form).
    fn agree(text: &str) {
        let fast = format!("{:?}", entry(text).unwrap());
        let reference = format!(
            "{:?}",
            entry_from_value(serde_json::from_str::<Value>(text).unwrap())
        );
        assert_eq!(fast, reference, "{text}");
    }

    #[test]
    fn agrees_with_the_reference() {
        for text in [
            r#"{"apiVersion":"v1","kind":"Service","metadata":{"name":"web","labels":{"a":"b"}},"spec":{"ports":[{"port":80,"targetPort":"http"}],"clusterIP":"None"}}"#,
            r#"{"apiVersion":"v1","kind":"Endpoints","metadata":{"name":"web"},"subsets":[{"addresses":[{"ip":"10.0.0.1","hostname":"web-0","targetRef":{"kind":"Pod","name":"web-0"}}],"ports":[{"port":80}]}]}"#,
            r#"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"shop"}}"#,
            r#"{"apiVersion":"v1","kind":"Pod","spec":5}"#,
            r#"{"apiVersion":"v1","kind":"Service","metadata":["web"]}"#,
            r#"{"apiVersion":"v1","kind":"Service","spec":{"ports":[[80]]}}"#,
            r#"{"apiVersion":"v1","kind":"Service","status":{"conditions":[]}}"#,
            r#"{"apiVersion":"v1","kind":"Service","metadata":{"name":"a","name":"b"}}"#,
            r#"{"apiVersion":"v1","kind":"Service","kind":"Pod"}"#,
            r#"{"apiVersion":"v1","kind":"Serv\u0069ce","metadata":{"name":"web"}}"#,
            r#"{"apiVersion":"v1","kind":"Service","spec":{"ports":[{"port":"eighty"}]}}"#,
            r#"{"apiVersion":"v1","kind":"Service","spec":{"ports":[{"port":1e20}]}}"#,
            r#"{"apiVersion":"v1","kind":"Service","spec":{"ports":[{"port":80,"targetPort":[80]}]}}"#,
            r#"{"kind":"Service"}"#,
            r#"{"apiVersion":"v1","kind":"Service","spec":{"ports":[{"name":"http"}]}}"#,
            r#"{"apiVersion":"v1","kind":"Service","metadata":{"name":"web"},"spec":{"ports":[{"port":0}]}}"#,
            r#"{"apiVersion":"v1","kind":"Endpoints","metadata":{"name":"web"},"subsets":[{"addresses":[{"hostname":"a"},{"ip":"10.0.0.1"}],"ports":[{"name":"http"}]}]}"#,
            r#"{"apiVersion":"v1","kind":"Endpoints","metadata":{"name":"web"},"subsets":[{"notReadyAddresses":[{"ip":""}]}]}"#,
            r#"{"apiVersion":"v1","kind":"Namespace","metadata":{}}"#,
            r#"{"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{"name":""}}"#,
            r#"{"apiVersion":"v2","kind":"Service","metadata":{"name":"web"}}"#,
            r#"{"apiVersion":"v1","kind":"service","metadata":{"name":"web"}}"#,
            r#"{"apiVersion":"discovery.k8s.io/v1beta1","kind":"EndpointSlice"}"#,
            r#"{"apiVersion":"v1","kind":3}"#,
            r#"[1]"#,
            r#"null"#,
        ] {
            agree(text);
        }
    }

    /// Well-formed objects stay on the fast path (`complete`); only doubtful ones go back.
    #[test]
    fn well_formed_objects_stay_on_the_fast_path() {
        let typed = |text: &str| {
            let value: Value = serde_json::from_str(text).unwrap();
            match value["kind"].as_str().unwrap() {
                "Service" => Entry::Service(serde_json::from_value(value).unwrap()),
                "Endpoints" => Entry::Endpoints(serde_json::from_value(value).unwrap()),
                "Namespace" => Entry::Namespace(serde_json::from_value(value).unwrap()),
                _ => Entry::EndpointSlice(serde_json::from_value(value).unwrap()),
            }
        };
        for text in [
            r#"{"apiVersion":"v1","kind":"Service","metadata":{"name":"web"},"spec":{"ports":[{"port":80}]}}"#,
            r#"{"apiVersion":"v1","kind":"Endpoints","metadata":{"name":"web"},"subsets":[{"addresses":[{"ip":"10.0.0.1"}],"notReadyAddresses":[{"ip":"10.0.0.2"}],"ports":[{"port":80}]}]}"#,
            r#"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"shop"}}"#,
            r#"{"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{"name":"web-1"},"addressType":"IPv4","endpoints":[]}"#,
        ] {
            assert!(complete(&typed(text)), "{text}");
        }
        for text in [
            r#"{"apiVersion":"v1","kind":"Service","metadata":{"name":""}}"#,
            r#"{"apiVersion":"v1","kind":"Service","metadata":{"name":"web"},"spec":{"ports":[{"name":"http"}]}}"#,
            r#"{"apiVersion":"v1","kind":"Endpoints","metadata":{"name":"web"},"subsets":[{"notReadyAddresses":[{"hostname":"a"}]}]}"#,
            r#"{"apiVersion":"v1","kind":"Endpoints","metadata":{"name":"web"},"subsets":[{"ports":[{"port":0}]}]}"#,
        ] {
            assert!(!complete(&typed(text)), "{text}");
        }
    }

    #[test]
    fn walk_errors_send_the_input_back() {
        assert!(entry(r#"{"apiVersion":"v1","kind":"Pod","x":"\udc00"}"#).is_err());
        let deep = format!(
            "{}{}",
            "[".repeat(MAX_ITEM_DEPTH + 1),
            "]".repeat(MAX_ITEM_DEPTH + 1)
        );
        assert!(entry(&deep).is_err());
    }
}
