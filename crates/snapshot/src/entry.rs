//! What one Kubernetes object of the input becomes: the reader of a single object, through
//! `serde_json::Value` so that a wrong-typed field fails only that object, with the field path of
//! the fault (SPEC §8). A leaf of the reader: `document` (the shape of a document) and `fast` (the
//! typed fast path, which falls back here) both use it; it uses neither.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use svcmirror_core::model::{
    DISCOVERY_V1, EndpointSlice, Endpoints, Kind, Namespace, ObjectKey, Service,
};
use svcmirror_core::{Diagnostic, Reason, Severity};

/// What one object of the input became.
#[derive(Debug)]
pub(crate) enum Entry {
    Service(Service),
    Endpoints(Endpoints),
    Namespace(Namespace),
    EndpointSlice(EndpointSlice),
    /// A v1 Service, Endpoints or Namespace (or `discovery.k8s.io/v1` EndpointSlice) with a
    /// malformed field: dropped, reported.
    Invalid(Diagnostic),
    /// An object of a kind we do not mirror (Pod, Deployment…).
    Skipped,
    /// An object read (or skipped) with something to say about it: an address or port dropped
    /// because a field it requires is missing, or a `kind` or `apiVersion` that looks like a
    /// mistake for one that is read. Never wraps another `Noted`.
    Noted(Box<Entry>, Vec<Diagnostic>),
    /// Not a Kubernetes object; the reason says what it is instead.
    NotAnObject(String),
}

/// What a non-object value is, for a person.
pub(crate) fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a sequence",
        Value::Object(_) => "a mapping",
    }
}

/// `Ok` when the mapping has string `kind` and `apiVersion`, as every Kubernetes object does.
pub(crate) fn kind_and_api_version(fields: &Map<String, Value>) -> Result<(), String> {
    for field in ["kind", "apiVersion"] {
        match fields.get(field) {
            None => return Err(format!("a mapping without {field}")),
            Some(Value::String(_)) => {}
            Some(other) => return Err(format!("a mapping whose {field} is {}", describe(other))),
        }
    }
    Ok(())
}

pub(crate) fn entry_from_value(value: Value) -> Entry {
    match value {
        Value::Object(fields) => entry_from_object(fields),
        other => Entry::NotAnObject(describe(&other).to_owned()),
    }
}

pub(crate) fn entry_from_object(fields: Map<String, Value>) -> Entry {
    if let Err(reason) = kind_and_api_version(&fields) {
        return Entry::NotAnObject(reason);
    }
    // Only core/v1 Services, Endpoints and Namespaces and `discovery.k8s.io/v1` EndpointSlices
    // are read; `apps/v1` Deployments and the rest of a `kubectl get all` dump are skipped.
    let api_version = fields.get("apiVersion").and_then(Value::as_str);
    let kind = match (api_version, fields.get("kind").and_then(Value::as_str)) {
        (Some("v1"), Some("Service")) => Kind::Service,
        (Some("v1"), Some("Endpoints")) => Kind::Endpoints,
        (Some("v1"), Some("Namespace")) => Kind::Namespace,
        (Some(DISCOVERY_V1), Some("EndpointSlice")) => Kind::EndpointSlice,
        (Some(api_version), Some(kind)) => return skipped(&fields, api_version, kind),
        _ => return Entry::Skipped,
    };
    let mut value = Value::Object(fields);
    if kind == Kind::Endpoints {
        forget_null_requirements(&mut value);
    }
    let object = |fault| Entry::Invalid(invalid_object(&value, kind, fault));
    if let Some(fault) = positional_struct(&value, "").or_else(|| missing_in_object(&value, kind)) {
        return object(fault);
    }
    let converted = match kind {
        Kind::Service => typed(&value).map(Entry::Service),
        Kind::Endpoints => typed(&value).map(|endpoints| {
            let (endpoints, dropped) = drop_incomplete(endpoints, &value);
            let entry = Entry::Endpoints(endpoints);
            if dropped.is_empty() {
                entry
            } else {
                Entry::Noted(Box::new(entry), dropped)
            }
        }),
        Kind::Namespace => typed(&value).map(Entry::Namespace),
        Kind::EndpointSlice => typed(&value).map(Entry::EndpointSlice),
    };
    converted.unwrap_or_else(object)
}

/// The kinds that are read, with their `apiVersion`.
const READ_KINDS: [(&str, &str, Kind); 4] = [
    ("v1", "Service", Kind::Service),
    ("v1", "Endpoints", Kind::Endpoints),
    ("v1", "Namespace", Kind::Namespace),
    (DISCOVERY_V1, "EndpointSlice", Kind::EndpointSlice),
];

/// Whether an object of this `apiVersion` and `kind`, which is not read, looks like a mistake
/// for one that is: a kind that is read, under another `apiVersion` (`v2` Service), or a kind
/// that differs from one that is read only in case (`service`), in a built-in API group. Such
/// objects are skipped with a warning, other kinds without a word (a `kubectl get all` dump
/// holds many).
pub(crate) fn looks_read(api_version: &str, kind: &str) -> bool {
    look_alike(api_version, kind).is_some()
}

/// Whether `api_version` is of a built-in Kubernetes API group: the core group (`v1`), a group
/// without a dot (`apps/v1`) or a `*.k8s.io` one. None of them has another kind named Service,
/// Endpoints, Namespace or EndpointSlice, so such an object is a mistake; a custom resource's
/// group may (`serving.knative.dev/v1` is Knative's Service, not ours: skipped without a word).
fn built_in_group(api_version: &str) -> bool {
    match api_version.split_once('/') {
        None => true,
        Some((group, _)) => !group.contains('.') || group.ends_with(".k8s.io"),
    }
}

/// For an object that [`looks_read`]: the kind it resembles, the field at fault and why.
fn look_alike(api_version: &str, kind: &str) -> Option<(Kind, &'static str, String)> {
    if !built_in_group(api_version) {
        return None;
    }
    READ_KINDS.iter().find_map(|&(version, name, read)| {
        if kind == name && api_version != version {
            Some((
                read,
                "apiVersion",
                format!(
                    "skipped: {api_version:?} is not {version}, the only apiVersion read for \
                     kind {name}"
                ),
            ))
        } else if kind != name && kind.eq_ignore_ascii_case(name) {
            Some((
                read,
                "kind",
                format!(
                    "skipped: {kind:?} is not a kind that is read (kinds are case-sensitive: \
                     {name})"
                ),
            ))
        } else {
            None
        }
    })
}

/// A skipped object: with a warning naming the field that keeps it from being read when it
/// [`looks_read`].
fn skipped(fields: &Map<String, Value>, api_version: &str, kind: &str) -> Entry {
    match look_alike(api_version, kind) {
        Some((read, field, message)) => {
            let key = object_key(fields.get("metadata"), read);
            let warning =
                Diagnostic::new(Reason::InvalidObject, Severity::Warning, read, key, message);
            Entry::Noted(Box::new(Entry::Skipped), vec![warning.at(field)])
        }
        None => Entry::Skipped,
    }
}

/// The name of an object without one, in diagnostics (SPEC §8: the object is still named).
pub(crate) const UNNAMED: &str = "<unnamed>";

/// A field that is present and not `null`.
fn present<'v>(object: &'v Value, field: &str) -> Option<&'v Value> {
    object.get(field).filter(|v| !v.is_null())
}

/// SPEC §8 "missing required fields": a field the object cannot do without, and that serde
/// would read as its default (`""`, `0`) for the core to report as a wrong value. Here it is
/// reported as missing, and the object not read: `metadata.name` of every kind, and `port` of
/// each Service port. Wrong types are left to [`typed`].
fn missing_in_object(value: &Value, kind: Kind) -> Option<Fault> {
    let required = |field: String, what: &str| Fault {
        field: Some(field),
        message: format!("required field {what}"),
    };
    if let Some(metadata @ Value::Object(_)) = present(value, "metadata") {
        match present(metadata, "name") {
            None => return Some(required("metadata.name".to_owned(), "missing")),
            Some(Value::String(name)) if name.is_empty() => {
                return Some(required("metadata.name".to_owned(), "empty"));
            }
            Some(_) => {}
        }
    } else if present(value, "metadata").is_none() {
        return Some(required("metadata.name".to_owned(), "missing"));
    }
    if kind == Kind::Service {
        let ports = value.get("spec").and_then(|spec| spec.get("ports"));
        if let Some(Value::Array(ports)) = ports {
            for (i, port) in ports.iter().enumerate() {
                if port.is_object() && present(port, "port").is_none() {
                    return Some(required(format!("spec.ports[{i}].port"), "missing"));
                }
            }
        }
    }
    None
}

/// SPEC §8 "the bad address dropped": the addresses without `ip` and the subset ports without
/// `port` of a well-typed Endpoints object are dropped and reported as missing a required field,
/// where serde would have read them as `""` and `0`. The rest of the object is kept, as the core
/// keeps it when an address or a port has a wrong value.
fn drop_incomplete(mut endpoints: Endpoints, value: &Value) -> (Endpoints, Vec<Diagnostic>) {
    let mut dropped = Vec::new();
    let Some(Value::Array(subsets)) = value.get("subsets") else {
        return (endpoints, dropped);
    };
    let key = endpoints.metadata.key();
    let mut report = |field: String, what: &str| {
        dropped.push(
            Diagnostic::new(
                Reason::InvalidObject,
                Severity::Error,
                Kind::Endpoints,
                key.clone(),
                format!("required field missing; {what} dropped"),
            )
            .at(field),
        );
    };
    // Which elements lack the field, from the input (the typed object cannot tell `""` from
    // missing); then removed from the typed object, which has the same elements in the same order.
    let lacking = |subset: &Value, list: &str, field: &str| -> Vec<usize> {
        match subset.get(list) {
            Some(Value::Array(elements)) => elements
                .iter()
                .enumerate()
                .filter(|(_, element)| present(element, field).is_none())
                .map(|(i, _)| i)
                .collect(),
            _ => Vec::new(),
        }
    };
    for (s, (subset, typed)) in subsets.iter().zip(&mut endpoints.subsets).enumerate() {
        for (list, addresses) in [
            ("addresses", &mut typed.addresses),
            ("notReadyAddresses", &mut typed.not_ready_addresses),
        ] {
            let missing = lacking(subset, list, "ip");
            for &a in &missing {
                report(format!("subsets[{s}].{list}[{a}].ip"), "address");
            }
            remove_at(addresses, &missing);
        }
        let missing = lacking(subset, "ports", "port");
        for &p in &missing {
            report(format!("subsets[{s}].ports[{p}].port"), "port");
        }
        remove_at(&mut typed.ports, &missing);
    }
    (endpoints, dropped)
}

/// `ip: null` and `port: null` in an Endpoints are missing, as the API server reads them, for
/// [`drop_incomplete`] to report; serde would refuse them as wrong-typed.
fn forget_null_requirements(endpoints: &mut Value) {
    let Some(Value::Array(subsets)) = endpoints.get_mut("subsets") else {
        return;
    };
    for subset in subsets {
        for (list, field) in [
            ("addresses", "ip"),
            ("notReadyAddresses", "ip"),
            ("ports", "port"),
        ] {
            if let Some(Value::Array(elements)) = subset.get_mut(list) {
                for element in elements {
                    if let Value::Object(element) = element
                        && element.get(field).is_some_and(Value::is_null)
                    {
                        element.remove(field);
                    }
                }
            }
        }
    }
}

/// Removes the elements at `indexes` (ascending) from `list`.
fn remove_at<T>(list: &mut Vec<T>, indexes: &[usize]) {
    let mut i = 0;
    list.retain(|_| {
        let keep = indexes.binary_search(&i).is_err();
        i += 1;
        keep
    });
}

/// A field at fault: its path (`spec.ports[0].port`, or `None` for the object itself) and what
/// was expected.
struct Fault {
    field: Option<String>,
    message: String,
}

fn typed<T: DeserializeOwned>(value: &Value) -> Result<T, Fault> {
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        let message = match field_value(value, err.path()) {
            Some((field, found)) => wrong_value(field, found),
            None => None,
        };
        Fault {
            // serde_path_to_error writes the empty path as ".".
            field: (path != ".").then_some(path),
            message: message.unwrap_or_else(|| without_type_names(err.into_inner().to_string())),
        }
    })
}

/// serde's message without the Rust type it expected (`expected struct ObjectMeta`): a mapping,
/// as YAML and JSON users call it.
fn without_type_names(mut message: String) -> String {
    if let Some(at) = message.find("expected struct ") {
        message.truncate(at);
        message.push_str("expected a mapping");
    }
    message
}

/// The name of the field at `path` (its last mapping key) and its value in `object`.
fn field_value<'v>(
    object: &'v Value,
    path: &serde_path_to_error::Path,
) -> Option<(&'v str, &'v Value)> {
    use serde_path_to_error::Segment;

    let mut found = object;
    let mut field = None;
    for segment in path {
        match segment {
            Segment::Seq { index } => found = found.get(*index)?,
            Segment::Map { key } => {
                let (name, value) = found.as_object()?.get_key_value(key)?;
                field = Some(name.as_str());
                found = value;
            }
            Segment::Enum { .. } | Segment::Unknown => return None,
        }
    }
    Some((field?, found))
}

/// What a person needs to hear about a port-like field that serde refused, instead of serde's
/// words (`invalid type: floating point `1e+20`, expected i32`, `data did not match any variant
/// of untagged enum IntOrString`). `None` for every other field: serde's message says it well.
fn wrong_value(field: &str, found: &Value) -> Option<String> {
    let what = match found {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => format!("the string {s:?}"),
        Value::Array(_) => "a sequence".to_owned(),
        Value::Object(_) => "a mapping".to_owned(),
    };
    match field {
        // `port` of a Service or Endpoints port, an EndpointSlice port; `nodePort`.
        "port" | "nodePort" => Some(format!("a {field} must be an integer 1-65535, not {what}")),
        "targetPort" => Some(format!(
            "a targetPort must be a port number or a port name, not {what}"
        )),
        _ => None,
    }
}

/// Fields whose value is an object in the Kubernetes schema.
pub(crate) const OBJECT_FIELDS: [&str; 4] = ["metadata", "spec", "targetRef", "conditions"];
/// Fields whose value is a list of objects.
pub(crate) const OBJECT_LIST_FIELDS: [&str; 5] = [
    "subsets",
    "addresses",
    "notReadyAddresses",
    "ports",
    "endpoints",
];

/// serde accepts a sequence where a struct is expected (its positional form: `metadata: [name,
/// namespace]`). kubectl never writes that and the API server refuses it, so it is a fault rather
/// than an object read by position (finding F4 of the issue-5 fuzzing).
fn positional_struct(value: &Value, path: &str) -> Option<Fault> {
    let Value::Object(map) = value else {
        return None;
    };
    let at = |key: &str| {
        if path.is_empty() {
            key.to_owned()
        } else {
            format!("{path}.{key}")
        }
    };
    for (key, child) in map {
        let field = at(key);
        let as_struct = |v: &Value, field: String| {
            v.is_array().then(|| Fault {
                message: "invalid type: sequence, expected a mapping".to_owned(),
                field: Some(field),
            })
        };
        if OBJECT_FIELDS.contains(&key.as_str())
            && let Some(fault) = as_struct(child, field.clone())
        {
            return Some(fault);
        }
        if OBJECT_LIST_FIELDS.contains(&key.as_str())
            && let Value::Array(items) = child
        {
            for (i, item) in items.iter().enumerate() {
                let item_field = format!("{field}[{i}]");
                if let Some(fault) = as_struct(item, item_field.clone())
                    .or_else(|| positional_struct(item, &item_field))
                {
                    return Some(fault);
                }
            }
        }
        if let Some(fault) = positional_struct(child, &field) {
            return Some(fault);
        }
    }
    None
}

/// The key of an object in diagnostics, read leniently from its `metadata`: whatever is a
/// string is used, anything else counts as empty; an object without a name is [`UNNAMED`].
fn object_key(metadata: Option<&Value>, kind: Kind) -> ObjectKey {
    let metadata_str = |field: &str| {
        metadata
            .and_then(|m| m.get(field))
            .and_then(Value::as_str)
            .unwrap_or("")
    };
    let name = match metadata_str("name") {
        "" => UNNAMED,
        name => name,
    };
    match kind {
        Kind::Namespace => ObjectKey::new("", name),
        Kind::Service | Kind::Endpoints | Kind::EndpointSlice => {
            let namespace = match metadata_str("namespace") {
                "" => "default",
                namespace => namespace,
            };
            ObjectKey::new(namespace, name)
        }
    }
}

/// The diagnostic for a v1 object that could not be read.
fn invalid_object(value: &Value, kind: Kind, fault: Fault) -> Diagnostic {
    let diagnostic = Diagnostic::new(
        Reason::InvalidObject,
        Severity::Error,
        kind,
        object_key(value.get("metadata"), kind),
        format!("not read: {}", fault.message),
    );
    match fault.field {
        Some(field) => diagnostic.at(field),
        None => diagnostic,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn diagnostic(value: Value) -> Diagnostic {
        match entry_from_value(value) {
            Entry::Invalid(diagnostic) => diagnostic,
            other => panic!("expected a diagnostic, got {other:?}"),
        }
    }

    #[test]
    fn field_paths_name_sequence_indexes_in_brackets() {
        let d = diagnostic(json!({
            "apiVersion": "v1", "kind": "Endpoints",
            "metadata": {"name": "web", "namespace": "shop"},
            "subsets": [{}, {"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2", "targetRef": {"name": 7}}]}]
        }));
        assert_eq!(
            d.field.as_deref(),
            Some("subsets[1].addresses[1].targetRef.name")
        );
        assert_eq!(d.object, ObjectKey::new("shop", "web"));
        assert_eq!(d.kind, Kind::Endpoints);
        assert_eq!(
            d.message,
            "not read: invalid type: integer `7`, expected a string"
        );
    }

    #[test]
    fn target_port_of_the_wrong_type() {
        let d = diagnostic(json!({
            "apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
            "spec": {"ports": [{"port": 80, "targetPort": true}]}
        }));
        assert_eq!(d.field.as_deref(), Some("spec.ports[0].targetPort"));
        assert_eq!(d.object, ObjectKey::new("default", "web"));
        assert_eq!(
            d.message,
            "not read: a targetPort must be a port number or a port name, not true"
        );
        let d = diagnostic(json!({
            "apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
            "spec": {"ports": [{"port": 80}, {"port": 81, "targetPort": [80]}]}
        }));
        assert_eq!(
            d.to_string(),
            "error: InvalidObject Service default/web spec.ports[1].targetPort: not read: \
             a targetPort must be a port number or a port name, not a sequence"
        );
    }

    /// SPEC §8: a port that is not an integer says so, not serde's "floating point, expected i32".
    #[test]
    fn ports_that_are_not_integers() {
        for (port, what) in [
            (json!(1e20), "1e+20"),
            (json!(80.5), "80.5"),
            (json!(3_000_000_000_u64), "3000000000"),
            (json!("80"), "the string \"80\""),
            (json!({"number": 80}), "a mapping"),
        ] {
            let d = diagnostic(json!({
                "apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
                "spec": {"ports": [{"port": port}]}
            }));
            assert_eq!(d.field.as_deref(), Some("spec.ports[0].port"));
            assert_eq!(
                d.message,
                format!("not read: a port must be an integer 1-65535, not {what}")
            );
        }
        let d = diagnostic(json!({
            "apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "web"},
            "subsets": [{"ports": [{"port": 8.0}]}]
        }));
        assert_eq!(d.field.as_deref(), Some("subsets[0].ports[0].port"));
        assert_eq!(
            d.message,
            "not read: a port must be an integer 1-65535, not 8.0"
        );
        let d = diagnostic(json!({
            "apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
            "spec": {"ports": [{"port": 80, "nodePort": "x"}]}
        }));
        assert_eq!(
            d.message,
            "not read: a nodePort must be an integer 1-65535, not the string \"x\""
        );
    }

    #[test]
    fn namespace_diagnostics_have_no_namespace() {
        let d = diagnostic(json!({
            "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop", "labels": ["a"]}
        }));
        assert_eq!(d.object, ObjectKey::new("", "shop"));
        assert_eq!(d.field.as_deref(), Some("metadata.labels"));
    }

    #[test]
    fn what_is_not_an_object() {
        let reason = |value: Value| match entry_from_value(value) {
            Entry::NotAnObject(reason) => reason,
            other => panic!("{other:?}"),
        };
        assert_eq!(reason(json!([1])), "a sequence");
        assert_eq!(reason(json!(null)), "null");
        assert_eq!(
            reason(json!({"kind": "Service"})),
            "a mapping without apiVersion"
        );
        assert_eq!(
            reason(json!({"apiVersion": "v1", "kind": 3})),
            "a mapping whose kind is a number"
        );
    }

    #[test]
    fn endpoint_slices_are_read_and_field_paths_reported() {
        let value = json!({
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": "web-abc12", "namespace": "shop",
                         "labels": {"kubernetes.io/service-name": "web"}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": ["10.42.0.5"], "conditions": {"ready": true}, "hostname": "web-0"}],
            "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]
        });
        let Entry::EndpointSlice(slice) = entry_from_value(value) else {
            panic!("an EndpointSlice")
        };
        assert_eq!(slice.metadata.key(), ObjectKey::new("shop", "web-abc12"));
        assert_eq!(slice.endpoints[0].hostname.as_deref(), Some("web-0"));
        assert_eq!(slice.ports[0].port, Some(80));
        let d = diagnostic(json!({
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": "web-abc12"}, "addressType": "IPv4",
            "endpoints": [{"addresses": "10.42.0.5"}]
        }));
        assert_eq!(d.kind, Kind::EndpointSlice);
        assert_eq!(d.field.as_deref(), Some("endpoints[0].addresses"));
        assert_eq!(d.object, ObjectKey::new("default", "web-abc12"));
    }

    #[test]
    fn other_kinds_are_skipped_without_a_word() {
        for value in [
            json!({"apiVersion": "v1", "kind": "Pod", "spec": 5}),
            json!({"apiVersion": "apps/v1", "kind": "Deployment"}),
            json!({"apiVersion": "v1", "kind": "ConfigMap"}),
            json!({"apiVersion": "v1", "kind": "ServiceAccount"}),
            // Custom resources named like ours: Knative's Service.
            json!({"apiVersion": "serving.knative.dev/v1", "kind": "Service", "spec": 5}),
            json!({"apiVersion": "example.com/v1", "kind": "endpoints"}),
        ] {
            assert!(matches!(entry_from_value(value), Entry::Skipped));
        }
    }

    /// The warning of a skipped object that looks like one that is read.
    fn skipped_warning(value: Value) -> Diagnostic {
        match entry_from_value(value) {
            Entry::Noted(entry, mut notes) if matches!(*entry, Entry::Skipped) => {
                assert_eq!(notes.len(), 1, "{notes:?}");
                notes.remove(0)
            }
            other => panic!("expected a skipped object with a warning, got {other:?}"),
        }
    }

    /// SPEC §8: a kind that is read, under another apiVersion, is skipped with a warning at
    /// `apiVersion`.
    #[test]
    fn known_kinds_of_other_versions_are_skipped_with_a_warning() {
        let d = skipped_warning(json!({
            "apiVersion": "v2", "kind": "Service", "metadata": {"name": "web", "namespace": "shop"},
            "spec": {"ports": "none"}
        }));
        assert_eq!(
            d.to_string(),
            "warning: InvalidObject Service shop/web apiVersion: skipped: \"v2\" is not v1, \
             the only apiVersion read for kind Service"
        );
        for (value, kind, field) in [
            (
                json!({"apiVersion": "discovery.k8s.io/v1beta1", "kind": "EndpointSlice"}),
                Kind::EndpointSlice,
                "apiVersion",
            ),
            (
                json!({"apiVersion": "v1", "kind": "EndpointSlice"}),
                Kind::EndpointSlice,
                "apiVersion",
            ),
            (
                json!({"apiVersion": "apps/v1", "kind": "Endpoints"}),
                Kind::Endpoints,
                "apiVersion",
            ),
        ] {
            let d = skipped_warning(value);
            assert_eq!((d.kind, d.field.as_deref()), (kind, Some(field)));
            assert_eq!(d.severity, Severity::Warning);
            assert_eq!(d.object, ObjectKey::new("default", UNNAMED));
        }
    }

    /// SPEC §8: a kind that differs from one that is read only in case is skipped with a warning
    /// at `kind`.
    #[test]
    fn kinds_in_the_wrong_case_are_skipped_with_a_warning() {
        let d = skipped_warning(json!({
            "apiVersion": "v1", "kind": "service", "metadata": {"name": "web"}
        }));
        assert_eq!(
            d.to_string(),
            "warning: InvalidObject Service default/web kind: skipped: \"service\" is not a kind \
             that is read (kinds are case-sensitive: Service)"
        );
        let d = skipped_warning(
            json!({"apiVersion": "v1", "kind": "ENDPOINTS", "metadata": {"name": "web"}}),
        );
        assert_eq!(
            (d.kind, d.field.as_deref()),
            (Kind::Endpoints, Some("kind"))
        );
        let d = skipped_warning(
            json!({"apiVersion": "v1", "kind": "namespace", "metadata": {"name": "shop"}}),
        );
        assert_eq!(d.object, ObjectKey::new("", "shop"));
    }

    /// SPEC §8 "missing required fields": reported as missing, not read as `0` and then called an
    /// invalid port number.
    #[test]
    fn a_service_port_without_port_is_a_missing_field() {
        for port in [
            json!({"name": "http"}),
            json!({"name": "http", "port": null}),
        ] {
            let d = diagnostic(json!({
                "apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
                "spec": {"ports": [{"name": "a", "port": 80}, port]}
            }));
            assert_eq!(
                d.to_string(),
                "error: InvalidObject Service default/web spec.ports[1].port: \
                 not read: required field missing"
            );
        }
    }

    /// SPEC §8 "the bad address dropped": an address without `ip` or a subset port without `port`
    /// is dropped and reported as missing; the rest of the Endpoints is kept.
    #[test]
    fn endpoints_addresses_and_ports_missing_fields_are_dropped() {
        let value = json!({
            "apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "web", "namespace": "shop"},
            "subsets": [
                {"addresses": [{"ip": "10.0.0.1"}]},
                {"addresses": [{"hostname": "web-0"}, {"ip": "10.0.0.2", "hostname": "web-1"}],
                 "notReadyAddresses": [{"ip": null}],
                 "ports": [{"name": "http"}, {"name": "admin", "port": 9000}]}
            ]
        });
        let Entry::Noted(entry, notes) = entry_from_value(value) else {
            panic!("an Endpoints with notes")
        };
        let Entry::Endpoints(endpoints) = *entry else {
            panic!("an Endpoints")
        };
        let lines: Vec<String> = notes.iter().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            [
                "error: InvalidObject Endpoints shop/web subsets[1].addresses[0].ip: \
                 required field missing; address dropped",
                "error: InvalidObject Endpoints shop/web subsets[1].notReadyAddresses[0].ip: \
                 required field missing; address dropped",
                "error: InvalidObject Endpoints shop/web subsets[1].ports[0].port: \
                 required field missing; port dropped",
            ]
        );
        let kept = &endpoints.subsets[1];
        assert_eq!(kept.addresses.len(), 1);
        assert_eq!(kept.addresses[0].ip, "10.0.0.2");
        assert!(kept.not_ready_addresses.is_empty());
        assert_eq!(kept.ports.len(), 1);
        assert_eq!(kept.ports[0].port, 9000);
        assert_eq!(endpoints.subsets[0].addresses[0].ip, "10.0.0.1");
        // An explicit empty IP is a wrong value, for the core to report, not a missing one.
        let explicit = json!({
            "apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "web"},
            "subsets": [{"addresses": [{"ip": ""}]}]
        });
        assert!(matches!(entry_from_value(explicit), Entry::Endpoints(_)));
    }

    /// SPEC §8: an object without a name is reported at `metadata.name`, named `<unnamed>`.
    #[test]
    fn objects_without_a_name() {
        for (metadata, what) in [
            (None, "missing"),
            (Some(json!({"namespace": "shop"})), "missing"),
            (Some(json!({"namespace": "shop", "name": null})), "missing"),
            (Some(json!({"namespace": "shop", "name": ""})), "empty"),
        ] {
            let mut value =
                json!({"apiVersion": "v1", "kind": "Service", "spec": {"ports": [{"port": 80}]}});
            if let Some(metadata) = metadata.clone() {
                value["metadata"] = metadata;
            }
            let d = diagnostic(value);
            let namespace = if metadata.is_some() {
                "shop"
            } else {
                "default"
            };
            assert_eq!(
                d.to_string(),
                format!(
                    "error: InvalidObject Service {namespace}/<unnamed> metadata.name: \
                     not read: required field {what}"
                )
            );
        }
        let d = diagnostic(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {}}));
        assert_eq!(d.object, ObjectKey::new("", UNNAMED));
        assert_eq!(d.field.as_deref(), Some("metadata.name"));
        // A wrong-typed metadata is reported as such, and the object still named.
        let d = diagnostic(json!({"apiVersion": "v1", "kind": "Service", "metadata": "web"}));
        assert_eq!(
            d.to_string(),
            "error: InvalidObject Service default/<unnamed> metadata: \
             not read: invalid type: string \"web\", expected a mapping"
        );
    }
}
