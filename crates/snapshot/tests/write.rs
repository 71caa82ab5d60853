//! Writing manifests: what comes out reads back as the same objects, and YAML 1.1 look-alikes
//! stay strings.

use std::collections::BTreeMap;
use std::io;

use svcmirror_core::Object;
use svcmirror_core::model::{
    EndpointAddress, EndpointPort, EndpointSubset, Endpoints, IntOrString, Namespace,
    ObjectReference, Service, ServicePort,
};
use svcmirror_snapshot::{Format, Limits, Snapshot, parse, write_list, write_object};

/// Label values YAML 1.1 readers (kubectl's included) would take for booleans, numbers or null.
const TRICKY: [&str; 16] = [
    "true", "false", "yes", "no", "on", "off", "y", "n", "0755", "1_000", "1e3", "null", "~", "",
    "12:30", "0x1F",
];

fn objects() -> Vec<Object> {
    let mut namespace = Namespace::new("shop");
    namespace
        .metadata
        .labels
        .insert("mirrored-service".into(), "true".into());

    let mut service = Service::new("shop", "web-west");
    service.metadata.labels = TRICKY
        .iter()
        .enumerate()
        .map(|(i, value)| (format!("example.com/v{i}"), (*value).to_owned()))
        .collect();
    service.metadata.annotations.insert(
        "kubectl.kubernetes.io/last-applied-configuration".into(),
        format!(
            "{{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"note\":\"{}\"}}\n",
            "long ".repeat(30)
        ),
    );
    service.metadata.annotations.insert(
        "multi".into(),
        "line one\nline two\n\ttabbed: 'x' \"y\"".into(),
    );
    service.spec.cluster_ip = Some("None".into());
    service.spec.ports = vec![
        ServicePort {
            name: Some("http".into()),
            protocol: Some("TCP".into()),
            port: 80,
            target_port: Some(IntOrString::String("http".into())),
            ..ServicePort::default()
        },
        ServicePort {
            name: Some("admin".into()),
            port: 9990,
            target_port: Some(IntOrString::Int(9990)),
            ..ServicePort::default()
        },
    ];
    service.spec.selector = Some(BTreeMap::new());

    let mut endpoints = Endpoints::new("shop", "web-west");
    endpoints.subsets = vec![EndpointSubset {
        addresses: vec![EndpointAddress {
            ip: "172.18.0.4".into(),
            hostname: Some("nginx-set-0".into()),
            node_name: Some("k3d-west-server-0".into()),
            target_ref: Some(ObjectReference {
                kind: Some("Pod".into()),
                name: Some("nginx-set-0".into()),
                namespace: Some("default".into()),
                uid: Some("7049f1c1-55dc-4b7b-a598-27003409d274".into()),
                resource_version: Some("114743".into()),
            }),
        }],
        not_ready_addresses: vec![EndpointAddress {
            ip: "fd00::1".into(),
            ..EndpointAddress::default()
        }],
        ports: vec![EndpointPort {
            name: Some("http".into()),
            port: 80,
            ..EndpointPort::default()
        }],
    }];

    vec![
        Object::Namespace(namespace),
        Object::Service(service),
        Object::Endpoints(endpoints),
    ]
}

fn written(objects: &[Object], format: Format) -> String {
    let mut out = Vec::new();
    write_list(objects, format, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

fn read_back(text: &str) -> Snapshot {
    parse(text.as_bytes(), "written", &Limits::default()).unwrap()
}

fn as_objects(snapshot: Snapshot) -> Vec<Object> {
    assert!(
        snapshot.diagnostics.is_empty(),
        "{:?}",
        snapshot.diagnostics
    );
    let namespaces = snapshot.namespaces.into_iter().map(Object::Namespace);
    let services = snapshot.services.into_iter().map(Object::Service);
    let endpoints = snapshot.endpoints.into_iter().map(Object::Endpoints);
    namespaces.chain(services).chain(endpoints).collect()
}

#[test]
fn yaml_round_trip() {
    let objects = objects();
    let yaml = written(&objects, Format::Yaml);
    assert_eq!(as_objects(read_back(&yaml)), objects, "{yaml}");
}

#[test]
fn json_round_trip() {
    let objects = objects();
    let json = written(&objects, Format::Json);
    assert_eq!(as_objects(read_back(&json)), objects, "{json}");
}

#[test]
fn yaml_is_a_v1_list_without_metadata() {
    let yaml = written(&objects(), Format::Yaml);
    assert!(
        yaml.starts_with("apiVersion: v1\nkind: List\nitems:\n"),
        "{yaml}"
    );
    assert!(!yaml.contains("\nmetadata: {}"), "{yaml}");
    assert!(!yaml.starts_with("---"), "{yaml}");
    assert!(yaml.ends_with('\n'), "{yaml}");
}

#[test]
fn json_is_a_pretty_v1_list_without_metadata() {
    let json = written(&objects(), Format::Json);
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value["apiVersion"], "v1");
    assert_eq!(value["kind"], "List");
    assert_eq!(value["items"].as_array().map(Vec::len), Some(3));
    assert!(value.get("metadata").is_none());
    assert!(json.starts_with("{\n  \"apiVersion\": \"v1\",\n"), "{json}");
    assert!(json.ends_with("}\n"), "{json}");
}

#[test]
fn yaml_quotes_strings_that_yaml_1_1_would_retype() {
    let yaml = written(&objects(), Format::Yaml);
    for (i, value) in TRICKY.iter().enumerate() {
        let line = yaml
            .lines()
            .find(|line| line.trim_start().starts_with(&format!("example.com/v{i}:")))
            .unwrap_or_else(|| panic!("no line for {value:?} in\n{yaml}"));
        let written_value = line.split_once(": ").map_or("", |(_, v)| v);
        assert!(
            written_value.starts_with('\'') || written_value.starts_with('"'),
            "{value:?} is not quoted: {line:?}"
        );
    }
    // The headless mirror's `clusterIP: None` is a plain string for YAML 1.1 and 1.2 alike.
    assert!(yaml.contains("clusterIP: None\n"), "{yaml}");
}

#[test]
fn empty_list() {
    assert_eq!(
        written(&[], Format::Yaml),
        "apiVersion: v1\nkind: List\nitems: []\n"
    );
    let json = written(&[], Format::Json);
    assert_eq!(
        json,
        "{\n  \"apiVersion\": \"v1\",\n  \"kind\": \"List\",\n  \"items\": []\n}\n"
    );
    assert_eq!(read_back(&json), Snapshot::default());
}

/// A writer that accepts `room` bytes, then fails.
struct Full {
    room: usize,
}

impl io::Write for Full {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.room == 0 {
            return Err(io::Error::new(io::ErrorKind::StorageFull, "disk full"));
        }
        let n = buf.len().min(self.room);
        self.room -= n;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn write_errors_are_returned() {
    for format in [Format::Yaml, Format::Json] {
        let error = write_list(objects(), format, &mut Full { room: 100 }).unwrap_err();
        assert_eq!(
            error.kind(),
            io::ErrorKind::StorageFull,
            "{format:?}: {error}"
        );
    }
}

#[test]
fn a_single_object_is_written_bare_and_reads_back() {
    for object in objects() {
        for format in [Format::Yaml, Format::Json] {
            let mut out = Vec::new();
            write_object(&object, format, &mut out).expect("write");
            let text = String::from_utf8(out).expect("utf8");
            assert!(
                !text.contains("kind: List") && !text.contains("\"List\""),
                "{text}"
            );
            assert_eq!(as_objects(read_back(&text)), vec![object.clone()]);
        }
    }
}
