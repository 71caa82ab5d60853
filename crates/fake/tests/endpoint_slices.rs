//! The fake stores `discovery.k8s.io/v1` EndpointSlices as the API server does: defaulting,
//! validation, resourceVersion and conflicts, watch events, restore, the cluster traits.

use svcmirror_backend::{ApiError, Precondition, SourceCluster};
use svcmirror_core::SourceState;
use svcmirror_core::model::{
    Endpoint, EndpointConditions, EndpointSlice, EndpointSlicePort, Kind, Object, ObjectKey,
};
use svcmirror_fake::{FakeCluster, FakeHandle, WatchEvent};

fn slice(name: &str, family: &str, addresses: &[&str]) -> EndpointSlice {
    let mut s = EndpointSlice::new("default", name, family);
    s.endpoints = addresses
        .iter()
        .map(|a| Endpoint {
            addresses: vec![(*a).to_owned()],
            conditions: EndpointConditions {
                ready: Some(true),
                ..EndpointConditions::default()
            },
            ..Endpoint::default()
        })
        .collect();
    s.ports.push(EndpointSlicePort {
        port: Some(4143),
        ..EndpointSlicePort::default()
    });
    s
}

fn key(name: &str) -> ObjectKey {
    ObjectKey::new("default", name)
}

fn stored(c: &FakeCluster, name: &str) -> EndpointSlice {
    match c.get(Kind::EndpointSlice, &key(name)) {
        Some(Object::EndpointSlice(s)) => s,
        other => panic!("{other:?}"),
    }
}

fn invalid_field(err: ApiError) -> String {
    match err {
        ApiError::Invalid {
            kind: Kind::EndpointSlice,
            field,
            ..
        } => field,
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn create_defaults_ports_and_stamps_metadata_then_update_and_delete() {
    let mut c = FakeCluster::default();
    c.create(Object::EndpointSlice(slice(
        "web-west-ipv4",
        "IPv4",
        &["172.18.0.4"],
    )))
    .expect("created");
    let s = stored(&c, "web-west-ipv4");
    // The API server's defaults: port name "" and protocol TCP.
    assert_eq!(s.ports[0].name.as_deref(), Some(""));
    assert_eq!(s.ports[0].protocol.as_deref(), Some("TCP"));
    assert!(s.metadata.uid.is_some() && s.metadata.resource_version.is_some());
    assert_eq!(c.state().endpoint_slices.len(), 1);

    // Same name again: AlreadyExists.
    let again = c
        .create(Object::EndpointSlice(slice(
            "web-west-ipv4",
            "IPv4",
            &["172.18.0.4"],
        )))
        .unwrap_err();
    assert!(matches!(
        again,
        ApiError::AlreadyExists {
            kind: Kind::EndpointSlice,
            ..
        }
    ));

    // A stale resourceVersion is a Conflict; the current one updates.
    let mut stale = s.clone();
    stale.metadata.resource_version = Some("1".into());
    stale.endpoints[0].conditions.ready = Some(false);
    assert!(matches!(
        c.update(Object::EndpointSlice(stale.clone())).unwrap_err(),
        ApiError::Conflict { .. }
    ));
    stale
        .metadata
        .resource_version
        .clone_from(&s.metadata.resource_version);
    c.update(Object::EndpointSlice(stale)).expect("updated");
    let updated = stored(&c, "web-west-ipv4");
    assert_eq!(updated.endpoints[0].conditions.ready, Some(false));
    assert_ne!(
        updated.metadata.resource_version,
        s.metadata.resource_version
    );

    // addressType is immutable.
    let mut flipped = updated.clone();
    flipped.address_type = "IPv6".into();
    flipped.endpoints[0].addresses = vec!["fd00::4".into()];
    assert_eq!(
        invalid_field(c.update(Object::EndpointSlice(flipped)).unwrap_err()),
        "addressType"
    );

    // Delete with a wrong uid precondition is refused; with the right one it goes.
    let wrong = Precondition {
        uid: Some("other".into()),
        resource_version: None,
    };
    assert!(matches!(
        c.delete(Kind::EndpointSlice, &key("web-west-ipv4"), &wrong),
        Err(ApiError::Conflict { .. })
    ));
    c.delete(
        Kind::EndpointSlice,
        &key("web-west-ipv4"),
        &Precondition {
            uid: updated.metadata.uid.clone(),
            resource_version: updated.metadata.resource_version.clone(),
        },
    )
    .expect("deleted");
    assert!(c.get(Kind::EndpointSlice, &key("web-west-ipv4")).is_none());

    // Every write was a watch event of the slice.
    let kinds: Vec<&str> = c
        .events_since(0)
        .iter()
        .filter(|(_, e)| e.object().kind() == Kind::EndpointSlice)
        .map(|(_, e)| match e {
            WatchEvent::Added(_) => "added",
            WatchEvent::Modified(_) => "modified",
            WatchEvent::Deleted(_) => "deleted",
        })
        .collect();
    assert_eq!(kinds, ["added", "modified", "deleted"]);
}

#[test]
fn validation_is_the_api_servers() {
    let mut c = FakeCluster::default();
    let mut reject =
        |s: EndpointSlice| invalid_field(c.create(Object::EndpointSlice(s)).unwrap_err());

    assert_eq!(
        reject(slice("Web_West", "IPv4", &["10.0.0.1"])),
        "metadata.name"
    );
    assert_eq!(
        reject(slice(&"a".repeat(254), "IPv4", &["10.0.0.1"])),
        "metadata.name"
    );
    assert_eq!(reject(slice("web", "IPv5", &["10.0.0.1"])), "addressType");
    assert_eq!(
        reject(slice("web", "IPv4", &["fd00::1"])),
        "endpoints[0].addresses[0]"
    );
    assert_eq!(
        reject(slice("web", "IPv6", &["10.0.0.1"])),
        "endpoints[0].addresses[0]"
    );
    assert_eq!(
        reject(slice("web", "IPv4", &["10.0.0.1", "10.0.0.999"])),
        "endpoints[1].addresses[0]"
    );
    let many: Vec<String> = (0..1001)
        .map(|i| format!("10.0.{}.{}", i / 250, i % 250 + 1))
        .collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    assert_eq!(reject(slice("web", "IPv4", &many)), "endpoints");
    let mut port0 = slice("web", "IPv4", &["10.0.0.1"]);
    port0.ports[0].port = Some(0);
    assert_eq!(reject(port0), "ports[0].port");
    let mut high = slice("web", "IPv4", &["10.0.0.1"]);
    high.ports[0].port = Some(65536);
    assert_eq!(reject(high), "ports[0].port");
    let mut hostname = slice("web", "IPv4", &["10.0.0.1"]);
    hostname.endpoints[0].hostname = Some("web.0".into());
    assert_eq!(reject(hostname), "endpoints[0].hostname");

    // Exactly 1000 endpoints, IPv6 addresses in an IPv6 slice: accepted.
    let thousand = many[..1000].to_vec();
    c.create(Object::EndpointSlice(slice("web-ipv4", "IPv4", &thousand)))
        .expect("1000 endpoints fit");
    c.create(Object::EndpointSlice(slice(
        "web-ipv6",
        "IPv6",
        &["fd00::1"],
    )))
    .expect("an IPv6 slice");
}

#[test]
fn restore_keeps_slices_and_deleting_a_namespace_deletes_them() {
    let mut c = FakeCluster::default();
    let mut s = slice("web-ipv4", "IPv4", &["10.0.0.1"]);
    s.metadata.namespace = "apps".into();
    s.metadata.uid = Some("kept".into());
    c.restore(SourceState::new(Vec::new(), Vec::new()).with_endpoint_slices(vec![s]))
        .expect("restored");
    let state = c.state();
    assert!(
        state.has_namespace("apps"),
        "the slice's namespace is created"
    );
    assert_eq!(
        state.endpoint_slices[0].metadata.uid.as_deref(),
        Some("kept")
    );
    assert_eq!(c.stats().requests, 0);
    c.delete(
        Kind::Namespace,
        &ObjectKey::new("", "apps"),
        &Precondition::default(),
    )
    .expect("namespace deleted");
    assert!(c.state().endpoint_slices.is_empty());
}

#[tokio::test]
async fn the_source_cluster_trait_lists_and_writes_slices() {
    let handle = FakeHandle::default();
    let created = SourceCluster::create(
        &handle,
        &Object::EndpointSlice(slice("web-ipv4", "IPv4", &["10.0.0.1"])),
    )
    .await
    .expect("created");
    assert_eq!(created.kind(), Kind::EndpointSlice);
    let listed = SourceCluster::list(&handle).await.expect("listed");
    assert_eq!(listed.endpoint_slices.len(), 1);
    let got = SourceCluster::get(&handle, Kind::EndpointSlice, &key("web-ipv4"))
        .await
        .expect("read");
    assert_eq!(got, Some(created));
    SourceCluster::delete(
        &handle,
        Kind::EndpointSlice,
        &key("web-ipv4"),
        &Precondition::default(),
    )
    .await
    .expect("deleted");
    assert!(handle.lock().state().endpoint_slices.is_empty());
}
