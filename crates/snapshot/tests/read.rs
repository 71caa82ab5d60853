//! Reading `kubectl get -o yaml|json` output: every accepted shape, malformed objects, and the
//! inputs that must be refused as a whole.

use svcmirror_core::model::{IntOrString, Kind, ObjectKey};
use svcmirror_core::{Reason, Severity, TargetEndpoints};
use svcmirror_snapshot::{Limits, Location, Snapshot, SnapshotError, parse, read};

fn data(name: &str) -> String {
    format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn ok(input: &str) -> Snapshot {
    parse(input.as_bytes(), "test.yaml", &Limits::default())
        .unwrap_or_else(|err| panic!("expected a snapshot, got: {err}"))
}

/// Each diagnostic as its one stderr line.
fn diagnostic_lines(snapshot: &Snapshot) -> Vec<String> {
    snapshot
        .diagnostics
        .iter()
        .map(ToString::to_string)
        .collect()
}

fn err(input: &str) -> SnapshotError {
    match parse(input.as_bytes(), "test.yaml", &Limits::default()) {
        Ok(snapshot) => panic!("expected an error, got {snapshot:?}"),
        Err(err) => err,
    }
}

const SERVICE_LIST_YAML: &str = "\
apiVersion: v1
kind: ServiceList
metadata:
  resourceVersion: \"1234\"
items:
- apiVersion: v1
  kind: Service
  metadata:
    name: web
    namespace: shop
    labels:
      mirror.linkerd.io/exported: \"true\"
  spec:
    clusterIP: 10.43.0.10
    ports:
    - name: http
      port: 80
      targetPort: http
- apiVersion: v1
  kind: Service
  metadata:
    name: db
  spec:
    clusterIP: None
    ports:
    - port: 5432
      targetPort: 5432
";

#[test]
fn seed_walkthrough_west_endpoints() {
    let snapshot = read(&data("seed-west-endpoints.yaml"), &Limits::default()).unwrap();
    assert!(
        snapshot.diagnostics.is_empty(),
        "{:?}",
        snapshot.diagnostics
    );
    assert!(snapshot.services.is_empty());
    let [endpoints] = snapshot.endpoints.as_slice() else {
        panic!("one Endpoints expected: {:?}", snapshot.endpoints)
    };
    assert_eq!(
        endpoints.metadata.key(),
        ObjectKey::new("default", "nginx-svc")
    );
    assert_eq!(
        endpoints.metadata.resource_version.as_deref(),
        Some("114900")
    );
    assert_eq!(
        endpoints
            .metadata
            .labels
            .get("service.kubernetes.io/headless")
            .map(String::as_str),
        Some("")
    );
    let [subset] = endpoints.subsets.as_slice() else {
        panic!("one subset expected")
    };
    let hostnames: Vec<_> = subset
        .addresses
        .iter()
        .map(|a| a.hostname.as_deref().unwrap())
        .collect();
    assert_eq!(hostnames, ["nginx-set-0", "nginx-set-1", "nginx-set-2"]);
    let first = &subset.addresses[0];
    assert_eq!(first.ip, "10.42.0.31");
    assert_eq!(first.node_name.as_deref(), Some("k3d-west-server-0"));
    let target = first.target_ref.as_ref().unwrap();
    assert_eq!(target.kind.as_deref(), Some("Pod"));
    assert_eq!(target.name.as_deref(), Some("nginx-set-0"));
    assert_eq!(
        target.uid.as_deref(),
        Some("7049f1c1-55dc-4b7b-a598-27003409d274")
    );
    assert_eq!(subset.ports.len(), 1);
    assert_eq!(subset.ports[0].port, 80);
    assert_eq!(subset.ports[0].name.as_deref(), Some("http"));
    assert_eq!(subset.ports[0].protocol.as_deref(), Some("TCP"));
}

#[test]
fn list_yaml() {
    let snapshot = ok(SERVICE_LIST_YAML);
    assert!(snapshot.diagnostics.is_empty());
    let keys: Vec<_> = snapshot.services.iter().map(|s| s.metadata.key()).collect();
    assert_eq!(
        keys,
        [
            ObjectKey::new("shop", "web"),
            ObjectKey::new("default", "db")
        ]
    );
    let web = &snapshot.services[0];
    assert_eq!(web.spec.cluster_ip.as_deref(), Some("10.43.0.10"));
    assert_eq!(
        web.spec.ports[0].target_port,
        Some(IntOrString::String("http".into()))
    );
    assert_eq!(
        web.metadata
            .labels
            .get("mirror.linkerd.io/exported")
            .map(String::as_str),
        Some("true")
    );
    assert!(snapshot.services[1].is_headless());
    assert_eq!(
        snapshot.services[1].spec.ports[0].target_port,
        Some(IntOrString::Int(5432))
    );
}

#[test]
fn list_json() {
    let json = r#"{
    "apiVersion": "v1",
    "items": [
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": "shop", "labels": {"kubernetes.io/metadata.name": "shop"}},
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Active"}
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web", "namespace": "shop", "uid": "u-1",
                         "creationTimestamp": "2026-01-01T00:00:00Z"},
            "spec": {"clusterIP": "10.43.0.10", "clusterIPs": ["10.43.0.10"],
                     "ports": [{"port": 80, "protocol": "TCP", "targetPort": 8080}],
                     "type": "ClusterIP"}
        },
        {
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": {"name": "web", "namespace": "shop"},
            "subsets": [{"addresses": [{"ip": "10.42.0.7"}],
                         "notReadyAddresses": [{"ip": "10.42.0.8"}],
                         "ports": [{"port": 8080, "protocol": "TCP"}]}]
        }
    ],
    "kind": "List",
    "metadata": {"resourceVersion": ""}
}"#;
    let snapshot = ok(json);
    assert!(snapshot.diagnostics.is_empty());
    assert_eq!(snapshot.namespaces.len(), 1);
    assert_eq!(snapshot.namespaces[0].metadata.name, "shop");
    assert_eq!(snapshot.services.len(), 1);
    assert_eq!(snapshot.services[0].spec.cluster_ips, ["10.43.0.10"]);
    assert_eq!(snapshot.services[0].metadata.uid.as_deref(), Some("u-1"));
    assert_eq!(snapshot.endpoints.len(), 1);
    assert_eq!(
        snapshot.endpoints[0].subsets[0].not_ready_addresses[0].ip,
        "10.42.0.8"
    );
}

#[test]
fn multi_document_yaml() {
    let yaml = "\
---
apiVersion: v1
kind: Namespace
metadata:
  name: shop
---
# a comment between documents
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec: {ports: [{port: 80}]}
---
apiVersion: v1
kind: Endpoints
metadata: {name: web, namespace: shop}
subsets: []
---
";
    let snapshot = ok(yaml);
    assert!(snapshot.diagnostics.is_empty());
    assert_eq!(snapshot.namespaces.len(), 1);
    assert_eq!(snapshot.services.len(), 1);
    assert_eq!(snapshot.endpoints.len(), 1);
    assert_eq!(
        snapshot.endpoints[0].metadata.key(),
        ObjectKey::new("shop", "web")
    );
}

#[test]
fn multi_document_yaml_with_lists_inside() {
    let yaml = format!(
        "{SERVICE_LIST_YAML}---\n{}",
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n"
    );
    let snapshot = ok(&yaml);
    assert_eq!(snapshot.services.len(), 2);
    assert_eq!(snapshot.namespaces.len(), 1);
}

#[test]
fn single_object_yaml_and_json() {
    let yaml =
        ok("apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  clusterIP: None\n");
    assert_eq!(yaml.services.len(), 1);
    assert!(yaml.services[0].is_headless());

    let json = ok(
        r#"  {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}, "spec": {"clusterIP": "None"}}"#,
    );
    assert_eq!(json, yaml);
}

#[test]
fn json_array_of_objects() {
    let json = r#"[
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a"}},
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}},
        {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "a"}}
    ]"#;
    let snapshot = ok(json);
    assert_eq!(snapshot.services.len(), 1);
    assert_eq!(snapshot.endpoints.len(), 1);
}

#[test]
fn yaml_flow_document_starting_with_a_brace() {
    let snapshot = ok("{apiVersion: v1, kind: Service, metadata: {name: web}}\n");
    assert_eq!(snapshot.services[0].metadata.name, "web");
}

#[test]
fn kubectl_get_all_dump_skips_other_kinds() {
    let snapshot = read(&data("get-all.yaml"), &Limits::default()).unwrap();
    assert!(
        snapshot.diagnostics.is_empty(),
        "{:?}",
        snapshot.diagnostics
    );
    assert!(snapshot.endpoints.is_empty());
    assert!(snapshot.namespaces.is_empty());
    let [service] = snapshot.services.as_slice() else {
        panic!("{:?}", snapshot.services)
    };
    assert_eq!(
        service.metadata.key(),
        ObjectKey::new("default", "nginx-svc")
    );
    assert!(service.is_headless());
}

#[test]
fn only_core_v1_kinds_and_discovery_v1_endpoint_slices_are_read() {
    // A Knative Service is a `Service` too, but not ours; a v1beta1 slice is not read either,
    // and that is said (SPEC §8: it may be a mistake).
    let yaml = "\
apiVersion: serving.knative.dev/v1
kind: Service
metadata: {name: hello}
spec: {template: {spec: {containers: [{image: hello}]}}}
---
apiVersion: discovery.k8s.io/v1beta1
kind: EndpointSlice
metadata: {name: web-old}
addressType: IPv4
endpoints: [{addresses: [10.42.0.8]}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-abcde}
addressType: IPv4
endpoints: [{addresses: [10.42.0.7], conditions: {ready: true}}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {port: eighty}
";
    let mut snapshot = ok(yaml);
    let slices = std::mem::take(&mut snapshot.endpoint_slices);
    let diagnostics = std::mem::take(&mut snapshot.diagnostics);
    assert_eq!(snapshot, Snapshot::default());
    let [warning] = diagnostics.as_slice() else {
        panic!("{diagnostics:?}")
    };
    assert_eq!(
        warning.to_string(),
        "warning: InvalidObject EndpointSlice default/web-old apiVersion: skipped: \
         \"discovery.k8s.io/v1beta1\" is not discovery.k8s.io/v1, the only apiVersion read for \
         kind EndpointSlice"
    );
    let [slice] = slices.as_slice() else {
        panic!("{slices:?}")
    };
    assert_eq!(slice.metadata.key(), ObjectKey::new("default", "web-abcde"));
    assert_eq!(slice.endpoints[0].addresses, ["10.42.0.7"]);
    assert_eq!(slice.endpoints[0].conditions.ready, Some(true));
    // The source state holds them; the target reads Endpoints only.
    let source = ok(yaml).into_source();
    assert_eq!(source.endpoint_slices.len(), 1);
    assert_eq!(
        ok(yaml).into_target(),
        svcmirror_core::TargetState::default()
    );
}

#[test]
fn wrong_typed_fields_are_diagnostics_and_the_rest_is_kept() {
    // SPEC §8: a malformed object is reported with its field path and dropped; nothing else is.
    let yaml = "\
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Service
  metadata: {name: bad-port}
  spec:
    ports:
    - port: 443
    - port: eighty
- apiVersion: v1
  kind: Service
  metadata: {name: good, namespace: shop}
  spec: {ports: [{port: 80}]}
- apiVersion: v1
  kind: Endpoints
  metadata: {name: bad-subsets, namespace: shop}
  subsets: 5
- apiVersion: v1
  kind: Endpoints
  metadata: {name: bad-ip, namespace: shop}
  subsets:
  - addresses:
    - ip: 10.42.0.1
    - ip: [10, 42, 0, 2]
- apiVersion: v1
  kind: Endpoints
  metadata: {name: good, namespace: shop}
  subsets: [{addresses: [{ip: 10.42.0.9}], ports: [{port: 80}]}]
- apiVersion: v1
  kind: Service
  metadata:
    name: bad-labels
    namespace: shop
    labels: {team: 7}
- apiVersion: v1
  kind: Namespace
  metadata: {name: 12}
";
    let snapshot = ok(yaml);
    let services: Vec<_> = snapshot.services.iter().map(|s| s.metadata.key()).collect();
    assert_eq!(services, [ObjectKey::new("shop", "good")]);
    let endpoints: Vec<_> = snapshot
        .endpoints
        .iter()
        .map(|e| e.metadata.key())
        .collect();
    assert_eq!(endpoints, [ObjectKey::new("shop", "good")]);
    assert!(snapshot.namespaces.is_empty());

    let found: Vec<_> = snapshot
        .diagnostics
        .iter()
        .map(|d| {
            (
                d.kind,
                d.object.to_string(),
                d.field.as_deref().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            (
                Kind::Service,
                "default/bad-port".to_owned(),
                "spec.ports[1].port"
            ),
            (Kind::Endpoints, "shop/bad-subsets".to_owned(), "subsets"),
            (
                Kind::Endpoints,
                "shop/bad-ip".to_owned(),
                "subsets[0].addresses[1].ip"
            ),
            (
                Kind::Service,
                "shop/bad-labels".to_owned(),
                "metadata.labels.team"
            ),
            (Kind::Namespace, "<unnamed>".to_owned(), "metadata.name"),
        ]
    );
    for diagnostic in &snapshot.diagnostics {
        assert_eq!(diagnostic.reason, Reason::InvalidObject);
        assert_eq!(diagnostic.severity, Severity::Error);
    }
    let port = &snapshot.diagnostics[0];
    assert!(
        port.message.contains("string \"eighty\""),
        "{}",
        port.message
    );
    assert!(
        port.message.contains("a port must be an integer 1-65535"),
        "{}",
        port.message
    );
    assert!(
        snapshot.diagnostics[1]
            .message
            .contains("expected a sequence"),
        "{}",
        snapshot.diagnostics[1].message
    );
    assert!(
        snapshot.diagnostics[2]
            .message
            .contains("expected a string"),
        "{}",
        snapshot.diagnostics[2].message
    );
    assert_eq!(
        port.to_string(),
        format!(
            "error: InvalidObject Service default/bad-port spec.ports[1].port: {}",
            port.message
        )
    );
}

#[test]
fn wrong_typed_field_in_json() {
    let json = r#"{"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a"}, "spec": {"ports": [{"port": "eighty"}]}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "b"}, "spec": {"ports": [{"port": 80}]}}
    ]}"#;
    let snapshot = ok(json);
    assert_eq!(snapshot.services.len(), 1);
    assert_eq!(snapshot.services[0].metadata.name, "b");
    assert_eq!(snapshot.diagnostics.len(), 1);
    assert_eq!(
        snapshot.diagnostics[0].field.as_deref(),
        Some("spec.ports[0].port")
    );
    assert_eq!(
        snapshot.diagnostics[0].object,
        ObjectKey::new("default", "a")
    );
}

#[test]
fn malformed_object_with_unreadable_name_still_reports() {
    let snapshot = ok("apiVersion: v1\nkind: Service\nmetadata: 5\n");
    assert!(snapshot.services.is_empty());
    let [diagnostic] = snapshot.diagnostics.as_slice() else {
        panic!()
    };
    assert_eq!(diagnostic.object, ObjectKey::new("default", "<unnamed>"));
    assert_eq!(diagnostic.field.as_deref(), Some("metadata"));
    assert_eq!(
        diagnostic.message,
        "not read: invalid type: integer `5`, expected a mapping (document 1, line 1)"
    );
}

/// SPEC §8: an object without a name is named by where it is, in YAML and in JSON (whichever
/// reader reads the item).
#[test]
fn objects_without_a_name_are_named_by_where_they_are() {
    let yaml = "\
apiVersion: v1
kind: Service
metadata: {name: a}
spec: {ports: [{port: 80}]}
---
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Pod
- apiVersion: v1
  kind: Endpoints
  metadata: {namespace: shop}
";
    let snapshot = ok(yaml);
    assert_eq!(snapshot.services.len(), 1);
    assert_eq!(
        diagnostic_lines(&snapshot),
        [
            "error: InvalidObject Endpoints shop/<unnamed> metadata.name: not read: \
          required field missing (items[1] of document 2, line 11)"
        ]
    );
    let json = "{\"apiVersion\": \"v1\", \"kind\": \"List\", \"items\": [\n\
                {\"apiVersion\": \"v1\", \"kind\": \"Namespace\", \"metadata\": {\"name\": \"shop\"}},\n\
                {\"apiVersion\": \"v1\", \"kind\": \"Service\", \"spec\": {}}]}";
    assert_eq!(
        diagnostic_lines(&ok(json)),
        [
            "error: InvalidObject Service default/<unnamed> metadata.name: not read: \
          required field missing (items[1] of document 1, line 3)"
        ]
    );
}

#[test]
fn empty_input() {
    for input in ["", "  \n\t\n", "# nothing here\n", "---\n---\n", "\u{feff}"] {
        match err(input) {
            SnapshotError::Empty { origin } => assert_eq!(origin, "test.yaml"),
            other => panic!("{input:?}: expected Empty, got {other}"),
        }
    }
    assert_eq!(
        err("").to_string(),
        "test.yaml: empty input: no YAML or JSON document"
    );
}

#[test]
fn scalar_document_is_not_an_object() {
    for (input, what) in [
        ("hello\n", "a string"),
        ("42\n", "a number"),
        ("true\n", "a boolean"),
        ("\"quoted\"\n", "a string"),
    ] {
        match err(input) {
            SnapshotError::NotAnObject { reason, .. } => assert_eq!(reason, what, "{input:?}"),
            other => panic!("{input:?}: expected NotAnObject, got {other}"),
        }
    }
}

#[test]
fn sequence_document_is_not_an_object_in_yaml() {
    let error = err("- apiVersion: v1\n  kind: Service\n  metadata: {name: a}\n");
    assert!(
        matches!(&error, SnapshotError::NotAnObject { reason, .. } if reason == "a sequence"),
        "{error}"
    );
}

#[test]
fn mapping_without_kind_is_an_error() {
    let yaml = "\
apiVersion: v1
kind: Service
metadata: {name: a}
---
apiVersion: v1
metadata: {name: b}
";
    let error = err(yaml);
    assert!(
        matches!(&error, SnapshotError::NotAnObject { position, reason, .. }
            if position == "document 2" && reason == "a mapping without kind"),
        "{error:?}"
    );
    assert_eq!(error.location(), Some(Location { line: 5, column: 1 }));
    assert_eq!(
        error.to_string(),
        "test.yaml:5:1: document 2 is not a Kubernetes object: a mapping without kind"
    );
}

#[test]
fn mapping_without_api_version_is_an_error() {
    let error = err(r#"{"kind": "Service", "metadata": {"name": "a"}}"#);
    assert_eq!(
        error.to_string(),
        "test.yaml: the document is not a Kubernetes object: a mapping without apiVersion"
    );
}

#[test]
fn list_item_that_is_not_an_object_is_an_error() {
    let yaml = "\
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Service
  metadata: {name: a}
- just a string
";
    let error = err(yaml);
    assert!(
        matches!(&error, SnapshotError::NotAnObject { position, reason, .. }
            if position == "items[1] of the document" && reason == "a string"),
        "{error:?}"
    );
    let error = err("apiVersion: v1\nkind: List\nitems:\n- {metadata: {name: a}}\n");
    assert!(
        error.to_string().contains(
            "items[0] of the document is not a Kubernetes object: a mapping without kind"
        ),
        "{error}"
    );
    let error = err("apiVersion: v1\nkind: List\nitems: 3\n");
    assert!(
        error.to_string().contains("a List whose items is a number"),
        "{error}"
    );
}

/// The error points at the value at fault (`items`, or the item), not at the document.
#[test]
fn list_faults_point_at_the_value() {
    let error = err("apiVersion: v1\nkind: List\nitems: {a: b}\n");
    assert_eq!(
        error.to_string(),
        "test.yaml:3:8: the document is not a Kubernetes object: \
         a List whose items is a mapping, not a sequence"
    );
    let error = err("apiVersion: v1\nkind: Service\nmetadata: {name: a}\n---\n\
                     apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n- 42\n");
    assert_eq!(
        error.to_string(),
        "test.yaml:10:3: items[1] of document 2 is not a Kubernetes object: a number"
    );
    let error = err("{\"apiVersion\": \"v1\", \"kind\": \"List\",\n \"items\": \"none\"}");
    assert_eq!(
        error.to_string(),
        "test.yaml:2:11: the document is not a Kubernetes object: \
         a List whose items is a string, not a sequence"
    );
    let error = err(
        "{\"apiVersion\": \"v1\", \"kind\": \"List\", \"items\": [\n  {\"apiVersion\": \"v1\", \"kind\": \"Pod\"},\n  [1]]}",
    );
    assert_eq!(
        error.to_string(),
        "test.yaml:3:3: items[1] of the document is not a Kubernetes object: a sequence"
    );
}

#[test]
fn empty_list_is_an_empty_snapshot() {
    assert_eq!(
        ok("apiVersion: v1\nkind: List\nitems: []\n"),
        Snapshot::default()
    );
    assert_eq!(
        ok(r#"{"apiVersion": "v1", "kind": "List", "metadata": {}}"#),
        Snapshot::default()
    );
}

#[test]
fn yaml_syntax_error_has_line_and_column() {
    let yaml = "apiVersion: v1\nkind: Service\nmetadata:\n  name: [web\n  namespace: shop\n";
    let error = err(yaml);
    assert!(
        matches!(error, SnapshotError::Syntax { format: "YAML", .. }),
        "{error:?}"
    );
    let location = error.location().expect("a location");
    assert!(location.line >= 4, "{location}");
    assert!(
        error
            .to_string()
            .starts_with(&format!("test.yaml:{location}: not valid YAML: ")),
        "{error}"
    );
}

#[test]
fn duplicate_keys_are_a_syntax_error() {
    let error = err("apiVersion: v1\nkind: Service\nkind: Endpoints\n");
    assert_eq!(
        error.to_string(),
        "test.yaml:3:1: not valid YAML: duplicate mapping key: kind"
    );
}

#[test]
fn json_syntax_error_has_line_and_column() {
    let json = "{\n  \"apiVersion\": \"v1\",\n  \"kind\": ,\n}";
    let error = err(json);
    assert!(
        matches!(error, SnapshotError::Syntax { format: "JSON", .. }),
        "{error:?}"
    );
    assert_eq!(
        error.location(),
        Some(Location {
            line: 3,
            column: 11
        })
    );
    assert_eq!(
        error.to_string(),
        "test.yaml:3:11: not valid JSON: expected value"
    );
}

#[test]
fn trailing_garbage_after_json_is_an_error() {
    let error = err(r#"{"apiVersion": "v1", "kind": "List", "items": []} {"#);
    assert!(matches!(error, SnapshotError::Syntax { .. }), "{error:?}");
}

#[test]
fn invalid_utf8_is_an_error() {
    let error = parse(
        b"apiVersion: v1\nkind: \xff\xfe\n",
        "bin",
        &Limits::default(),
    )
    .unwrap_err();
    assert!(matches!(error, SnapshotError::Syntax { .. }), "{error:?}");
}

#[test]
fn unreadable_file_names_the_file() {
    let path = data("does-not-exist.yaml");
    let error = read(&path, &Limits::default()).unwrap_err();
    assert!(matches!(error, SnapshotError::Io { .. }), "{error:?}");
    assert!(
        error
            .to_string()
            .starts_with(&format!("{path}: cannot read: ")),
        "{error}"
    );
}

#[test]
fn into_target_and_into_source() {
    let target = ok(SERVICE_LIST_YAML).into_target();
    assert_eq!(target.services.len(), 2);

    let without_namespaces = ok(SERVICE_LIST_YAML).into_source();
    assert_eq!(without_namespaces.namespaces, None);
    assert!(without_namespaces.has_namespace("anything"));

    let with_namespaces = ok(&format!(
        "{SERVICE_LIST_YAML}---\napiVersion: v1\nkind: Namespace\nmetadata: {{name: shop}}\n"
    ))
    .into_source();
    assert_eq!(with_namespaces.services.len(), 2);
    assert_eq!(with_namespaces.namespaces.as_ref().map(Vec::len), Some(1));
    assert!(with_namespaces.has_namespace("shop"));
    assert!(!with_namespaces.has_namespace("default"));

    // A malformed Namespace still says the input lists namespaces.
    let only_bad = ok("apiVersion: v1\nkind: Namespace\nmetadata: {name: [x]}\n").into_source();
    assert_eq!(only_bad.namespaces, Some(vec![]));
}

/// Finding F4 of the issue-5 fuzzing: serde reads a sequence as a struct by position; kubectl
/// never writes that, so it is an InvalidObject with the field, not a mirrored Service.
#[test]
fn a_sequence_where_a_mapping_belongs_is_a_diagnostic() {
    let snapshot = ok(
        "apiVersion: v1\nkind: Service\nmetadata: [bad, default]\nspec: {ports: [{port: 80}]}\n",
    );
    assert!(snapshot.services.is_empty());
    assert_eq!(snapshot.diagnostics[0].field.as_deref(), Some("metadata"));
    let snapshot = ok(
        "apiVersion: v1\nkind: Endpoints\nmetadata: {name: e}\nsubsets: [{addresses: [[10.0.0.1]]}]\n",
    );
    assert!(snapshot.endpoints.is_empty());
    assert_eq!(
        snapshot.diagnostics[0].field.as_deref(),
        Some("subsets[0].addresses[0]")
    );
}

/// SPEC §12: the target's endpoints come from its Endpoints, its EndpointSlices, or (auto, the
/// default of `into_target`) a Service's Endpoints when it has one and its slices otherwise.
#[test]
fn target_endpoints_from_endpoints_or_slices() {
    let input = "\
apiVersion: v1
kind: Endpoints
metadata: {name: api, namespace: shop, resourceVersion: \"1\"}
subsets: [{addresses: [{ip: 10.0.0.1}], ports: [{port: 80}]}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-x1
  namespace: shop
  resourceVersion: \"7\"
  labels: {kubernetes.io/service-name: web}
addressType: IPv4
endpoints: [{addresses: [10.0.0.2], conditions: {ready: false}}]
ports: [{port: 8080}]
";
    let keys = |mode| {
        ok(input)
            .into_target_with(mode)
            .endpoints
            .iter()
            .map(|e| e.metadata.key())
            .collect::<Vec<_>>()
    };
    let (api, web) = (ObjectKey::new("shop", "api"), ObjectKey::new("shop", "web"));
    assert_eq!(keys(TargetEndpoints::Endpoints), std::slice::from_ref(&api));
    assert_eq!(keys(TargetEndpoints::Slices), std::slice::from_ref(&web));
    assert_eq!(keys(TargetEndpoints::Auto), [api, web]);
    let target = ok(input).into_target();
    let web = &target.endpoints[1];
    assert_eq!(web.metadata.resource_version.as_deref(), Some("7"));
    assert_eq!(web.subsets[0].not_ready_addresses[0].ip, "10.0.0.2");
    assert_eq!(web.subsets[0].ports[0].port, 8080);
}
