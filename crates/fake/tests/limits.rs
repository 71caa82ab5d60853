//! The API server's limits, as the fake enforces them (issue 14: "the fake enforces the real API
//! server's limits so tests see what a cluster would refuse"): total annotations ≤ 256 KiB (422),
//! objects ≤ 1.5 MiB (413, etcd's request limit), validation before size.

use svcmirror_backend::ApiError;
use svcmirror_core::model::{
    EndpointAddress, EndpointPort, EndpointSubset, Endpoints, Kind, Object, ObjectKey, Service,
    ServicePort,
};
use svcmirror_fake::FakeCluster;

fn svc(name: &str) -> Service {
    let mut s = Service::new("default", name);
    s.spec.ports.push(ServicePort {
        name: Some("http".into()),
        port: 80,
        ..ServicePort::default()
    });
    s
}

#[test]
fn annotations_over_256_kib_are_invalid_and_at_the_limit_are_stored() {
    let mut c = FakeCluster::default();
    let key = "example.com/blob";
    let mut at_limit = svc("fits");
    at_limit
        .metadata
        .annotations
        .insert(key.into(), "a".repeat(256 * 1024 - key.len()));
    c.create(Object::Service(at_limit))
        .expect("exactly 256 KiB");
    let mut over = svc("over");
    over.metadata
        .annotations
        .insert(key.into(), "a".repeat(256 * 1024 - key.len() + 1));
    let err = c.create(Object::Service(over)).expect_err("one byte over");
    assert!(
        matches!(&err, ApiError::Invalid { field, message, .. }
            if field == "metadata.annotations" && message.contains("262144 bytes")),
        "{err:?}"
    );
    assert!(!err.is_retryable());
}

#[test]
fn objects_over_one_and_a_half_mib_are_too_large() {
    let mut c = FakeCluster::default();
    let mut ep = Endpoints::new("default", "big");
    ep.subsets = vec![EndpointSubset {
        addresses: (0..40_000u32)
            .map(|i| EndpointAddress {
                ip: std::net::Ipv4Addr::from(0x0a2a_0000 + i).to_string(),
                hostname: Some(format!("pod-{i}")),
                ..EndpointAddress::default()
            })
            .collect(),
        ports: vec![EndpointPort {
            name: Some("http".into()),
            port: 80,
            protocol: None,
            app_protocol: None,
        }],
        ..EndpointSubset::default()
    }];
    let err = c
        .create(Object::Endpoints(ep.clone()))
        .expect_err("too large");
    assert!(
        matches!(
            &err,
            ApiError::TooLarge {
                kind: Kind::Endpoints,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(!err.is_retryable());
    ep.subsets[0].addresses.truncate(1);
    c.create(Object::Endpoints(ep.clone())).expect("small");
    // An update that makes it too large is refused as well, and the stored object stays.
    let stored = c.get(Kind::Endpoints, &ObjectKey::new("default", "big"));
    let Some(Object::Endpoints(mut grown)) = stored else {
        panic!("stored")
    };
    grown.subsets[0].addresses = (0..40_000u32)
        .map(|i| EndpointAddress {
            ip: std::net::Ipv4Addr::from(0x0a2b_0000 + i).to_string(),
            hostname: Some(format!("pod-{i}")),
            ..EndpointAddress::default()
        })
        .collect();
    assert!(matches!(
        c.update(Object::Endpoints(grown)),
        Err(ApiError::TooLarge { .. })
    ));
}

/// Issue 14, deliverable 9: the refusal the core must foresee — one port name twice in a slice.
#[test]
fn a_slice_with_one_port_name_twice_is_invalid() {
    use svcmirror_core::model::{Endpoint, EndpointSlice, EndpointSlicePort};
    let mut c = FakeCluster::default();
    let mut slice = EndpointSlice::new("default", "db-west-ipv4", "IPv4");
    slice.endpoints = vec![Endpoint {
        addresses: vec!["10.43.0.10".into()],
        ..Endpoint::default()
    }];
    slice.ports = [5432, 8080]
        .map(|port| EndpointSlicePort {
            name: Some("sql".into()),
            port: Some(port),
            protocol: None,
            app_protocol: None,
        })
        .to_vec();
    let err = c
        .create(Object::EndpointSlice(slice))
        .expect_err("duplicate port name");
    assert!(
        matches!(&err, ApiError::Invalid { field, message, .. }
            if field == "ports[1].name" && message.contains("Duplicate value")),
        "{err:?}"
    );
}
