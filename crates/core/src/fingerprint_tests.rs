//! Issue 13 item 3, proof (a): the changed groups named from digests are exactly the groups
//! `plan`'s field-by-field comparison names, for any desired and observed object (as written, as
//! the API server stores it, and changed in any compared group).

use proptest::prelude::*;

use super::*;
use crate::changes::{endpoints_changes, service_changes, slice_changes};
use crate::model::EndpointConditions;

fn word(words: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop::sample::select(words).prop_map(str::to_owned)
}

fn opt_word(words: &'static [&'static str]) -> impl Strategy<Value = Option<String>> {
    prop::option::of(word(words))
}

fn string_map() -> impl Strategy<Value = StringMap> {
    prop::collection::vec((word(&["app", "k", "mirror"]), word(&["", "v", "w"])), 0..3).prop_map(
        |entries| {
            let mut map = StringMap::new();
            for (k, v) in entries {
                map.insert(k, v);
            }
            map
        },
    )
}

const PROTOCOLS: &[&str] = &["", "TCP", "UDP"];
const NAMES: &[&str] = &["", "http", "grpc"];

fn service_port() -> impl Strategy<Value = ServicePort> {
    (
        opt_word(NAMES),
        opt_word(PROTOCOLS),
        1i32..3,
        prop_oneof![
            Just(None),
            (1i32..3).prop_map(|n| Some(IntOrString::Int(n))),
            word(&["http", "1"]).prop_map(|s| Some(IntOrString::String(s))),
        ],
        prop::option::of(30000i32..30002),
        opt_word(&["h2"]),
    )
        .prop_map(
            |(name, protocol, port, target_port, node_port, app_protocol)| ServicePort {
                name,
                protocol,
                port,
                target_port,
                node_port,
                app_protocol,
            },
        )
}

fn service() -> impl Strategy<Value = Service> {
    (
        string_map(),
        string_map(),
        prop::collection::vec(service_port(), 0..3),
        opt_word(&["ClusterIP", "NodePort"]),
        prop::option::weighted(
            0.2,
            prop::collection::btree_map(word(&["app"]), word(&["x"]), 0..2),
        ),
        opt_word(&["10.96.0.1", "None"]),
        opt_word(&["1", "2"]),
    )
        .prop_map(
            |(labels, annotations, ports, type_, selector, cluster_ip, rv)| {
                let mut svc = Service::new("ns", "name");
                svc.metadata.labels = labels;
                svc.metadata.annotations = annotations;
                svc.metadata.resource_version = rv;
                svc.spec.ports = ports;
                svc.spec.type_ = type_;
                svc.spec.selector = selector;
                svc.spec.cluster_ip = cluster_ip;
                svc
            },
        )
}

fn address() -> impl Strategy<Value = EndpointAddress> {
    (
        word(&["10.0.0.1", "10.0.0.2"]),
        opt_word(&["web-0", "web-1"]),
        opt_word(&["node"]),
        prop::option::weighted(0.2, opt_word(&["pod"])),
    )
        .prop_map(|(ip, hostname, node_name, target)| EndpointAddress {
            ip,
            hostname,
            node_name,
            target_ref: target.map(|name| ObjectReference {
                name,
                ..ObjectReference::default()
            }),
        })
}

fn endpoints() -> impl Strategy<Value = Endpoints> {
    let port = (
        opt_word(NAMES),
        1i32..3,
        opt_word(PROTOCOLS),
        opt_word(&["h2"]),
    )
        .prop_map(|(name, port, protocol, app_protocol)| EndpointPort {
            name,
            port,
            protocol,
            app_protocol,
        });
    let subset = (
        prop::collection::vec(address(), 0..3),
        prop::collection::vec(address(), 0..2),
        prop::collection::vec(port, 0..3),
    )
        .prop_map(|(addresses, not_ready_addresses, ports)| EndpointSubset {
            addresses,
            not_ready_addresses,
            ports,
        });
    (
        string_map(),
        string_map(),
        prop::collection::vec(subset, 0..3),
    )
        .prop_map(|(labels, annotations, subsets)| {
            let mut ep = Endpoints::new("ns", "name");
            ep.metadata.labels = labels;
            ep.metadata.annotations = annotations;
            ep.subsets = subsets;
            ep
        })
}

fn endpoint_slice() -> impl Strategy<Value = EndpointSlice> {
    let endpoint = (
        prop::collection::vec(word(&["10.0.0.1", "10.0.0.2"]), 0..3),
        prop::option::of(any::<bool>()),
        prop::option::of(any::<bool>()),
        opt_word(&["web-0"]),
        opt_word(&["zone-a"]),
    )
        .prop_map(|(addresses, ready, serving, hostname, zone)| Endpoint {
            addresses,
            conditions: EndpointConditions {
                ready,
                serving,
                terminating: None,
            },
            hostname,
            zone,
            ..Endpoint::default()
        });
    let port = (
        opt_word(NAMES),
        opt_word(PROTOCOLS),
        prop::option::of(1i32..3),
    )
        .prop_map(|(name, protocol, port)| EndpointSlicePort {
            name,
            protocol,
            port,
            app_protocol: None,
        });
    (
        string_map(),
        string_map(),
        word(&["IPv4", "IPv6"]),
        prop::collection::vec(endpoint, 0..3),
        prop::collection::vec(port, 0..3),
    )
        .prop_map(|(labels, annotations, address_type, endpoints, ports)| {
            let mut slice = EndpointSlice::new("ns", "name", &address_type);
            slice.metadata.labels = labels;
            slice.metadata.annotations = annotations;
            slice.endpoints = endpoints;
            slice.ports = ports;
            slice
        })
}

/// Reorders `v` (rotated by one when `by` is odd, then reversed when `by & 2`): no plan
/// comparison sees it.
fn reorder<T>(v: &mut [T], by: usize) {
    if by % 2 == 1 && !v.is_empty() {
        v.rotate_left(1);
    }
    if by & 2 != 0 {
        v.reverse();
    }
}

/// What the API server may return for what we wrote: lists reordered, defaults filled in or
/// left out, server fields set. The plan sees no change in any of it.
fn as_stored_service(mut svc: Service, by: usize) -> Service {
    reorder(&mut svc.spec.ports, by);
    for p in &mut svc.spec.ports {
        if p.protocol.is_none() {
            p.protocol = Some("TCP".to_owned());
        }
        if p.target_port.is_none() {
            p.target_port = Some(IntOrString::Int(p.port));
        }
        if p.name.as_deref() == Some("") {
            p.name = None;
        }
    }
    if svc.spec.type_.is_none() {
        svc.spec.type_ = Some("ClusterIP".to_owned());
    }
    svc.spec.cluster_ip = Some("10.96.0.9".to_owned());
    svc.metadata.uid = Some("uid".to_owned());
    svc.metadata.resource_version = Some("9".to_owned());
    svc
}

fn as_stored_endpoints(mut ep: Endpoints, by: usize) -> Endpoints {
    reorder(&mut ep.subsets, by);
    for s in &mut ep.subsets {
        reorder(&mut s.addresses, by + 1);
        reorder(&mut s.not_ready_addresses, by);
        reorder(&mut s.ports, by);
        for p in &mut s.ports {
            p.protocol.get_or_insert_with(|| "TCP".to_owned());
        }
    }
    ep.metadata.resource_version = Some("9".to_owned());
    ep
}

fn as_stored_slice(mut slice: EndpointSlice, by: usize) -> EndpointSlice {
    reorder(&mut slice.endpoints, by);
    for e in &mut slice.endpoints {
        reorder(&mut e.addresses, by + 1);
    }
    reorder(&mut slice.ports, by);
    for p in &mut slice.ports {
        p.protocol.get_or_insert_with(|| "TCP".to_owned());
        p.name.get_or_insert_with(String::new);
    }
    slice.metadata.uid = Some("uid".to_owned());
    slice
}

/// A desired object and an observed one: unrelated, as stored, or as stored and then changed
/// by someone (one more arbitrary object's field group copied over).
fn pair<T: Clone + std::fmt::Debug, S: Strategy<Value = T>>(
    object: fn() -> S,
    as_stored: fn(T, usize) -> T,
    change: fn(&mut T, &T, u8),
) -> impl Strategy<Value = (T, T)> {
    (object(), object(), 0usize..4, 0u8..3, 0u8..8).prop_map(
        move |(want, other, by, how, group)| {
            let have = match how {
                0 => other,
                1 => as_stored(want.clone(), by),
                _ => {
                    let mut have = as_stored(want.clone(), by);
                    change(&mut have, &other, group);
                    have
                }
            };
            (want, have)
        },
    )
}

fn change_service(have: &mut Service, other: &Service, group: u8) {
    match group {
        0 => have.metadata.labels = other.metadata.labels.clone(),
        1 => have.metadata.annotations = other.metadata.annotations.clone(),
        2 => have.spec.ports.clone_from(&other.spec.ports),
        3 => have.spec.type_.clone_from(&other.spec.type_),
        4 => have.spec.selector.clone_from(&other.spec.selector),
        _ => have.spec.ports.truncate(1),
    }
}

fn change_endpoints(have: &mut Endpoints, other: &Endpoints, group: u8) {
    match group {
        0 => have.metadata.labels = other.metadata.labels.clone(),
        1 => have.metadata.annotations = other.metadata.annotations.clone(),
        2 => have.subsets.clone_from(&other.subsets),
        3 => {
            if let Some(s) = have.subsets.first_mut() {
                s.addresses.pop();
            }
        }
        _ => {
            if let Some(p) = have.subsets.iter_mut().flat_map(|s| &mut s.ports).next() {
                p.port += 1;
            }
        }
    }
}

fn change_slice(have: &mut EndpointSlice, other: &EndpointSlice, group: u8) {
    match group {
        0 => have.metadata.labels = other.metadata.labels.clone(),
        1 => have.metadata.annotations = other.metadata.annotations.clone(),
        2 => have.address_type.clone_from(&other.address_type),
        3 => have.endpoints.clone_from(&other.endpoints),
        4 => have.ports.clone_from(&other.ports),
        _ => {
            if let Some(e) = have.endpoints.first_mut() {
                e.conditions.ready = Some(!e.conditions.ready.unwrap_or(false));
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    /// Issue 13 item 3: a Service's changed groups from digests == `plan`'s field comparison
    /// (up to a 64-bit collision, see the module doc), the selector included.
    #[test]
    fn service_digests_name_the_groups_plan_compares(
        (want, have) in pair(service, as_stored_service, change_service)
    ) {
        prop_assert_eq!(
            ServiceDigest::of(&want).changes(&ServiceDigest::of(&have)),
            service_changes(&want, &have)
        );
    }

    /// Issue 13 item 3: as above, for Endpoints (subsets compared as sets).
    #[test]
    fn endpoints_digests_name_the_groups_plan_compares(
        (want, have) in pair(endpoints, as_stored_endpoints, change_endpoints)
    ) {
        prop_assert_eq!(
            EndpointsDigest::of(&want).changes(&EndpointsDigest::of(&have)),
            endpoints_changes(&want, &have)
        );
    }

    /// Issue 13 item 3: as above, for EndpointSlices (SPEC §12; endpoints and ports as sets,
    /// with the API server's defaults).
    #[test]
    fn slice_digests_name_the_groups_plan_compares(
        (want, have) in pair(endpoint_slice, as_stored_slice, change_slice)
    ) {
        prop_assert_eq!(
            SliceDigest::of(&want).changes(&SliceDigest::of(&have)),
            slice_changes(&want, &have)
        );
    }
}

/// The generators reach both answers, so the properties above test something: as stored, a
/// Service compares equal; with a port moved, only its ports differ.
#[test]
fn as_stored_is_unchanged_and_a_field_change_is_seen() {
    let mut svc = Service::new("ns", "web");
    svc.spec.ports = vec![
        ServicePort {
            name: Some("b".to_owned()),
            port: 2,
            ..ServicePort::default()
        },
        ServicePort {
            name: Some("a".to_owned()),
            port: 1,
            ..ServicePort::default()
        },
    ];
    let stored = as_stored_service(svc.clone(), 1);
    assert_ne!(svc, stored, "the stored form differs as written");
    assert!(service_changes(&svc, &stored).is_empty());
    assert_eq!(ServiceDigest::of(&svc), ServiceDigest::of(&stored));
    let mut moved = stored;
    moved.spec.ports[0].port = 3;
    assert_eq!(service_changes(&svc, &moved), ["spec.ports"]);
    assert_eq!(
        ServiceDigest::of(&svc).changes(&ServiceDigest::of(&moved)),
        ["spec.ports"]
    );
}

/// A map digested from its sorted pairs reads as the map (how an endpoint mirror's annotations
/// are digested without building them); a different value or an extra entry does not.
#[test]
fn a_map_digests_as_its_pairs() {
    let mut m = StringMap::new();
    m.insert("b".to_owned(), "2".to_owned());
    m.insert("a".to_owned(), "1".to_owned());
    assert_eq!(map(&m), map_of_pairs([("a", "1"), ("b", "2")].into_iter()));
    assert_ne!(map(&m), map_of_pairs([("a", "1"), ("b", "3")].into_iter()));
    assert_ne!(map(&m), map_of_pairs([("a", "1")].into_iter()));
    assert_eq!(map(&StringMap::new()), map_of_pairs(std::iter::empty()));
}
