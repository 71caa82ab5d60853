//! The fake answers like the API server: server-set fields, defaulting, allocation, optimistic
//! concurrency and validation.

use std::net::IpAddr;

use svcmirror_backend::{ApiError, Precondition};
use svcmirror_core::model::{
    EndpointAddress, EndpointPort, EndpointSubset, Endpoints, IntOrString, Kind, Object, ObjectKey,
    Service, ServicePort,
};
use svcmirror_core::{DeleteReason, Operation, Plan};
use svcmirror_fake::{CREATION_TIMESTAMP, FakeCluster};

fn svc(ns: &str, name: &str) -> Service {
    let mut s = Service::new(ns, name);
    s.spec.ports.push(ServicePort {
        port: 80,
        ..ServicePort::default()
    });
    s
}

fn headless(ns: &str, name: &str) -> Service {
    let mut s = svc(ns, name);
    s.spec.cluster_ip = Some("None".into());
    s
}

fn eps(ns: &str, name: &str, ips: &[&str]) -> Endpoints {
    let mut e = Endpoints::new(ns, name);
    e.subsets.push(EndpointSubset {
        addresses: ips
            .iter()
            .map(|ip| EndpointAddress {
                ip: (*ip).to_owned(),
                ..EndpointAddress::default()
            })
            .collect(),
        ports: vec![EndpointPort {
            port: 80,
            ..EndpointPort::default()
        }],
        ..EndpointSubset::default()
    });
    e
}

fn create_svc(c: &mut FakeCluster, s: Service) -> Result<Service, ApiError> {
    c.create(Object::Service(s)).map(|o| match o {
        Object::Service(s) => s,
        other => panic!("created a Service, got {other:?}"),
    })
}

fn cluster_ip(s: &Service) -> IpAddr {
    s.spec
        .cluster_ip
        .as_deref()
        .expect("allocated")
        .parse()
        .expect("an IP")
}

fn key(ns: &str, name: &str) -> ObjectKey {
    ObjectKey::new(ns, name)
}

fn invalid_field(err: ApiError) -> String {
    match err {
        ApiError::Invalid { field, .. } => field,
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn create_sets_server_fields_and_defaults() {
    let mut c = FakeCluster::default();
    let s = create_svc(&mut c, svc("default", "web")).unwrap();
    assert_eq!(
        s.metadata.uid.as_deref(),
        Some("00000000-0000-0000-0000-000000000002")
    );
    assert_eq!(s.metadata.resource_version.as_deref(), Some("2"));
    assert_eq!(
        s.metadata.creation_timestamp.as_deref(),
        Some(CREATION_TIMESTAMP)
    );
    assert_eq!(s.spec.type_.as_deref(), Some("ClusterIP"));
    assert_eq!(s.spec.ports[0].protocol.as_deref(), Some("TCP"));
    assert_eq!(s.spec.ports[0].target_port, Some(IntOrString::Int(80)));
    assert_eq!(s.spec.cluster_ips, vec![s.spec.cluster_ip.clone().unwrap()]);
    assert_eq!(c.resource_version(), 2);
    assert_eq!(
        c.get(Kind::Service, &key("default", "web")),
        Some(Object::Service(s))
    );

    let e = c
        .create(Object::Endpoints(eps("default", "web", &["10.42.0.5"])))
        .unwrap();
    let Object::Endpoints(e) = e else { panic!() };
    assert_eq!(e.subsets[0].ports[0].protocol.as_deref(), Some("TCP"));
    assert_eq!(e.metadata.resource_version.as_deref(), Some("3"));
}

#[test]
fn allocation_is_in_cidr_deterministic_and_independent_of_creation_order() {
    let names = ["a", "b", "nginx-set-0-west", "nginx-set-1-west", "zz"];
    let mut forward = FakeCluster::default();
    let mut backward = FakeCluster::default();
    let mut ips_f = Vec::new();
    let mut ips_b = Vec::new();
    for n in names {
        ips_f.push((
            n,
            cluster_ip(&create_svc(&mut forward, svc("default", n)).unwrap()),
        ));
    }
    for n in names.iter().rev() {
        ips_b.push((
            *n,
            cluster_ip(&create_svc(&mut backward, svc("default", n)).unwrap()),
        ));
    }
    ips_b.reverse();
    assert_eq!(ips_f, ips_b);
    let cidr = forward.service_cidr();
    for (n, ip) in &ips_f {
        assert!(cidr.contains(ip), "{n}: {ip} outside {cidr}");
        assert_ne!(*ip, "10.43.0.0".parse::<IpAddr>().unwrap());
        assert_ne!(*ip, "10.43.0.1".parse::<IpAddr>().unwrap());
        assert_ne!(*ip, "10.43.255.255".parse::<IpAddr>().unwrap());
    }
    let mut distinct: Vec<_> = ips_f.iter().map(|(_, ip)| *ip).collect();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), names.len());
}

#[test]
fn every_usable_ip_is_handed_out_once_then_the_range_is_full_and_a_delete_frees_one() {
    // /28: 16 addresses minus network, .1 and broadcast.
    let mut c = FakeCluster::new("10.96.0.0/28".parse().unwrap());
    let mut ips = Vec::new();
    for i in 0..13 {
        ips.push(cluster_ip(
            &create_svc(&mut c, svc("default", &format!("s{i}"))).unwrap(),
        ));
    }
    ips.sort();
    let want: Vec<IpAddr> = (2..=14)
        .map(|i| format!("10.96.0.{i}").parse().unwrap())
        .collect();
    assert_eq!(ips, want);
    let full = create_svc(&mut c, svc("default", "one-more")).unwrap_err();
    // SPEC §8: the API server's "range is full", a distinct error that is never retried.
    assert!(
        matches!(&full, ApiError::RangeFull { message, .. } if message.contains("range is full")),
        "{full:?}"
    );
    assert!(!full.is_retryable());
    // Headless Services need no IP.
    create_svc(&mut c, headless("default", "no-ip")).unwrap();

    let victim = c.get(Kind::Service, &key("default", "s7")).unwrap();
    let Object::Service(victim) = victim else {
        panic!()
    };
    c.delete(
        Kind::Service,
        &key("default", "s7"),
        &Precondition::default(),
    )
    .unwrap();
    let again = create_svc(&mut c, svc("default", "one-more")).unwrap();
    assert_eq!(cluster_ip(&again), cluster_ip(&victim));
}

#[test]
fn released_ip_can_be_requested_again() {
    let mut c = FakeCluster::default();
    let first = create_svc(&mut c, svc("default", "web")).unwrap();
    let ip = first.spec.cluster_ip.clone();
    let mut taker = svc("default", "taker");
    taker.spec.cluster_ip.clone_from(&ip);
    assert_eq!(
        invalid_field(create_svc(&mut c, taker.clone()).unwrap_err()),
        "spec.clusterIP"
    );
    c.delete(
        Kind::Service,
        &key("default", "web"),
        &Precondition::default(),
    )
    .unwrap();
    assert_eq!(create_svc(&mut c, taker).unwrap().spec.cluster_ip, ip);
}

#[test]
fn requested_cluster_ip_must_be_inside_the_cidr_and_not_reserved() {
    let mut c = FakeCluster::default();
    for bad in [
        "10.44.0.9",
        "10.43.0.0",
        "10.43.0.1",
        "10.43.255.255",
        "fd00::9",
    ] {
        let mut s = svc("default", "web");
        s.spec.cluster_ip = Some(bad.into());
        assert_eq!(
            invalid_field(create_svc(&mut c, s).unwrap_err()),
            "spec.clusterIP",
            "{bad}"
        );
    }
    let mut s = svc("default", "web");
    s.spec.cluster_ip = Some("not-an-ip".into());
    assert_eq!(
        invalid_field(create_svc(&mut c, s).unwrap_err()),
        "spec.clusterIP"
    );
    let mut s = svc("default", "web");
    s.spec.cluster_ip = Some("10.43.7.7".into());
    assert_eq!(
        create_svc(&mut c, s).unwrap().spec.cluster_ip.as_deref(),
        Some("10.43.7.7")
    );
}

#[test]
fn cluster_ip_is_immutable_and_kept_when_left_out() {
    let mut c = FakeCluster::default();
    let stored = create_svc(&mut c, svc("default", "web")).unwrap();

    let mut change = stored.clone();
    change.spec.cluster_ip = Some("10.43.9.9".into());
    change.spec.cluster_ips = vec![];
    let err = c.update(Object::Service(change)).unwrap_err();
    assert_eq!(invalid_field(err), "spec.clusterIP");

    let mut to_headless = stored.clone();
    to_headless.spec.cluster_ip = Some("None".into());
    to_headless.spec.cluster_ips = vec![];
    assert_eq!(
        invalid_field(c.update(Object::Service(to_headless)).unwrap_err()),
        "spec.clusterIP"
    );

    let mut omit = stored.clone();
    omit.spec.cluster_ip = None;
    omit.spec.cluster_ips = vec![];
    omit.metadata.labels.insert("tier".into(), "web".into());
    let Object::Service(updated) = c.update(Object::Service(omit)).unwrap() else {
        panic!()
    };
    assert_eq!(updated.spec.cluster_ip, stored.spec.cluster_ip);
    assert_eq!(updated.spec.cluster_ips, stored.spec.cluster_ips);
    assert_eq!(updated.metadata.uid, stored.metadata.uid);
    assert_ne!(
        updated.metadata.resource_version,
        stored.metadata.resource_version
    );
}

#[test]
fn an_update_that_changes_nothing_is_not_a_write() {
    let mut c = FakeCluster::default();
    let stored = create_svc(&mut c, svc("default", "web")).unwrap();
    let before = c.resource_version();
    let again = c.update(Object::Service(stored.clone())).unwrap();
    assert_eq!(again, Object::Service(stored));
    assert_eq!(c.resource_version(), before);
}

#[test]
fn stale_resource_version_or_uid_is_a_conflict() {
    let mut c = FakeCluster::default();
    let v1 = create_svc(&mut c, svc("default", "web")).unwrap();
    let mut v2 = v1.clone();
    v2.metadata.labels.insert("a".into(), "b".into());
    c.update(Object::Service(v2)).unwrap();

    let mut stale = v1.clone();
    stale.metadata.labels.insert("c".into(), "d".into());
    assert!(matches!(
        c.update(Object::Service(stale.clone())).unwrap_err(),
        ApiError::Conflict {
            kind: Kind::Service,
            ..
        }
    ));
    // Without a resourceVersion the update is unconditional (Services allow it).
    stale.metadata.resource_version = None;
    c.update(Object::Service(stale)).unwrap();

    let mut wrong_uid = v1.clone();
    wrong_uid.metadata.resource_version = None;
    wrong_uid.metadata.uid = Some("someone-else".into());
    assert!(matches!(
        c.update(Object::Service(wrong_uid)).unwrap_err(),
        ApiError::Conflict { .. }
    ));
}

#[test]
fn delete_preconditions_must_match() {
    let mut c = FakeCluster::default();
    let v1 = create_svc(&mut c, svc("default", "web")).unwrap();
    let k = key("default", "web");
    let stale_rv = Precondition {
        uid: v1.metadata.uid.clone(),
        resource_version: Some("1".into()),
    };
    assert!(matches!(
        c.delete(Kind::Service, &k, &stale_rv).unwrap_err(),
        ApiError::Conflict { .. }
    ));
    let other_uid = Precondition {
        uid: Some("00000000-0000-0000-0000-0000000000ff".into()),
        resource_version: None,
    };
    assert!(matches!(
        c.delete(Kind::Service, &k, &other_uid).unwrap_err(),
        ApiError::Conflict { .. }
    ));
    assert!(c.get(Kind::Service, &k).is_some());
    let exact = Precondition {
        uid: v1.metadata.uid.clone(),
        resource_version: v1.metadata.resource_version.clone(),
    };
    c.delete(Kind::Service, &k, &exact).unwrap();
    assert!(c.get(Kind::Service, &k).is_none());
}

#[test]
fn already_exists_and_not_found() {
    let mut c = FakeCluster::default();
    create_svc(&mut c, svc("default", "web")).unwrap();
    assert_eq!(
        create_svc(&mut c, svc("default", "web")).unwrap_err(),
        ApiError::AlreadyExists {
            kind: Kind::Service,
            key: key("default", "web")
        }
    );
    let missing = key("default", "nope");
    assert_eq!(
        c.update(Object::Service(svc("default", "nope")))
            .unwrap_err(),
        ApiError::NotFound {
            kind: Kind::Service,
            key: missing.clone()
        }
    );
    assert_eq!(
        c.delete(Kind::Endpoints, &missing, &Precondition::default())
            .unwrap_err(),
        ApiError::NotFound {
            kind: Kind::Endpoints,
            key: missing
        }
    );
    assert!(matches!(
        c.create_namespace("default").unwrap_err(),
        ApiError::AlreadyExists { .. }
    ));
}

#[test]
fn creating_in_a_missing_namespace_is_not_found_of_the_namespace() {
    let mut c = FakeCluster::default();
    let ns_key = ObjectKey::new("", "apps");
    assert_eq!(
        create_svc(&mut c, svc("apps", "web")).unwrap_err(),
        ApiError::NotFound {
            kind: Kind::Namespace,
            key: ns_key.clone()
        }
    );
    assert_eq!(
        c.create(Object::Endpoints(eps("apps", "web", &["10.42.0.1"])))
            .unwrap_err(),
        ApiError::NotFound {
            kind: Kind::Namespace,
            key: ns_key
        }
    );
    c.create_namespace("apps").unwrap();
    create_svc(&mut c, svc("apps", "web")).unwrap();
}

#[test]
fn deleting_a_namespace_deletes_its_objects_and_frees_their_ips() {
    let mut c = FakeCluster::new("10.0.0.0/29".parse().unwrap());
    c.create_namespace("apps").unwrap();
    for i in 0..5 {
        create_svc(&mut c, svc("apps", &format!("s{i}"))).unwrap();
    }
    c.create(Object::Endpoints(eps("apps", "s0", &["10.42.0.1"])))
        .unwrap();
    assert!(matches!(
        create_svc(&mut c, svc("default", "x")).unwrap_err(),
        ApiError::RangeFull { .. }
    ));
    c.delete(
        Kind::Namespace,
        &ObjectKey::new("", "apps"),
        &Precondition::default(),
    )
    .unwrap();
    let state = c.state();
    assert!(state.services.is_empty() && state.endpoints.is_empty());
    assert!(!state.has_namespace("apps"));
    create_svc(&mut c, svc("default", "x")).unwrap();
    assert!(matches!(
        c.delete(
            Kind::Namespace,
            &ObjectKey::new("", "default"),
            &Precondition::default()
        ),
        Err(ApiError::Forbidden(_))
    ));
}

#[test]
fn validation_errors_name_the_field() {
    let mut c = FakeCluster::default();
    let cases: Vec<(&str, Service)> = vec![
        ("metadata.name", svc("default", "1web")),
        ("metadata.name", svc("default", "Web")),
        ("metadata.name", svc("default", &"a".repeat(64))),
        ("metadata.namespace", svc("Bad_NS", "web")),
        ("spec.ports", Service::new("default", "web")),
        ("spec.ports[0].port", {
            let mut s = svc("default", "web");
            s.spec.ports[0].port = 0;
            s
        }),
        ("spec.ports[0].port", {
            let mut s = svc("default", "web");
            s.spec.ports[0].port = 65536;
            s
        }),
        ("spec.ports[0].protocol", {
            let mut s = svc("default", "web");
            s.spec.ports[0].protocol = Some("HTTP".into());
            s
        }),
        ("spec.ports[0].name", {
            let mut s = svc("default", "web");
            s.spec.ports.push(ServicePort {
                name: Some("b".into()),
                port: 81,
                ..ServicePort::default()
            });
            s
        }),
        ("spec.ports[1].name", {
            let mut s = svc("default", "web");
            s.spec.ports[0].name = Some("a".into());
            s.spec.ports.push(ServicePort {
                name: Some("a".into()),
                port: 81,
                ..ServicePort::default()
            });
            s
        }),
        ("spec.ports[1]", {
            let mut s = svc("default", "web");
            s.spec.ports[0].name = Some("a".into());
            s.spec.ports.push(ServicePort {
                name: Some("b".into()),
                port: 80,
                ..ServicePort::default()
            });
            s
        }),
        ("spec.ports[0].targetPort", {
            let mut s = svc("default", "web");
            s.spec.ports[0].target_port = Some(IntOrString::Int(70000));
            s
        }),
        ("spec.type", {
            let mut s = svc("default", "web");
            s.spec.type_ = Some("ExternalName".into());
            s
        }),
        ("metadata.labels", {
            let mut s = svc("default", "web");
            s.metadata.labels.insert("ok".into(), "not ok".into());
            s
        }),
    ];
    for (field, s) in cases {
        let name = s.metadata.name.clone();
        assert_eq!(
            invalid_field(create_svc(&mut c, s).unwrap_err()),
            field,
            "service {name}"
        );
    }
    // A headless Service may have no ports.
    let mut portless = Service::new("default", "portless");
    portless.spec.cluster_ip = Some("None".into());
    create_svc(&mut c, portless).unwrap();
    assert!(
        c.state()
            .services
            .iter()
            .all(|s| s.metadata.name == "portless")
    );

    let endpoint_cases: Vec<(&str, Endpoints)> = vec![
        ("metadata.name", eps("default", "Web", &["10.42.0.1"])),
        (
            "subsets[0].addresses[1].ip",
            eps("default", "web", &["10.42.0.1", "10.42.0.300"]),
        ),
        (
            "subsets[0].addresses[0].ip",
            eps("default", "web", &["127.0.0.1"]),
        ),
        ("subsets[0].addresses[0].hostname", {
            let mut e = eps("default", "web", &["10.42.0.1"]);
            e.subsets[0].addresses[0].hostname = Some("Nginx_0".into());
            e
        }),
        ("subsets[0].notReadyAddresses[0].ip", {
            let mut e = eps("default", "web", &["10.42.0.1"]);
            e.subsets[0].not_ready_addresses.push(EndpointAddress {
                ip: "x".into(),
                ..EndpointAddress::default()
            });
            e
        }),
        ("subsets[0].ports[0].port", {
            let mut e = eps("default", "web", &["10.42.0.1"]);
            e.subsets[0].ports[0].port = -1;
            e
        }),
        ("subsets[0].ports[0].protocol", {
            let mut e = eps("default", "web", &["10.42.0.1"]);
            e.subsets[0].ports[0].protocol = Some("tcp".into());
            e
        }),
        ("subsets[0].ports[1].name", {
            let mut e = eps("default", "web", &["10.42.0.1"]);
            e.subsets[0].ports[0].name = Some("http".into());
            e.subsets[0].ports.push(EndpointPort {
                port: 81,
                ..EndpointPort::default()
            });
            e
        }),
        ("subsets[0]", {
            let mut e = eps("default", "web", &[]);
            e.subsets[0].addresses.clear();
            e
        }),
    ];
    for (field, e) in endpoint_cases {
        let err = c.create(Object::Endpoints(e)).unwrap_err();
        assert_eq!(invalid_field(err), field);
    }
    let ipv6 = eps("default", "web", &["fd00:10:42::5"]);
    c.create(Object::Endpoints(ipv6)).unwrap();
    assert_eq!(
        invalid_field(c.create_namespace("Apps").unwrap_err()),
        "metadata.name"
    );
}

#[test]
fn ipv6_service_cidr() {
    let cidr: ipnet::IpNet = "fd00:10:96::/108".parse().unwrap();
    let mut c = FakeCluster::new(cidr);
    let a = cluster_ip(&create_svc(&mut c, svc("default", "a")).unwrap());
    let b = cluster_ip(&create_svc(&mut c, svc("default", "b")).unwrap());
    assert!(a.is_ipv6() && cidr.contains(&a) && cidr.contains(&b) && a != b);
    assert_ne!(a, "fd00:10:96::1".parse::<IpAddr>().unwrap());
    let mut v4 = svc("default", "v4");
    v4.spec.cluster_ip = Some("10.43.0.10".into());
    assert_eq!(
        invalid_field(create_svc(&mut c, v4).unwrap_err()),
        "spec.clusterIP"
    );
    let mut pinned = svc("default", "pinned");
    pinned.spec.cluster_ip = Some("fd00:10:96::abc".into());
    assert_eq!(
        create_svc(&mut c, pinned)
            .unwrap()
            .spec
            .cluster_ip
            .as_deref(),
        Some("fd00:10:96::abc")
    );
}

#[test]
fn apply_plan_keeps_going_after_a_failure_and_reports_each_operation() {
    let mut c = FakeCluster::default();
    let plan = Plan {
        operations: vec![
            Operation::Create {
                object: Object::Service(svc("default", "a")),
            },
            Operation::Create {
                object: Object::Service(svc("missing", "b")),
            },
            Operation::Delete {
                kind: Kind::Service,
                key: key("default", "ghost"),
                precondition: Precondition::default(),
                reason: DeleteReason::Orphan,
            },
            Operation::Create {
                object: Object::Endpoints(eps("default", "a", &["10.42.0.9"])),
            },
        ],
        ..Plan::default()
    };
    let report = c.apply_plan(&plan);
    assert!(!report.is_success());
    let failed: Vec<usize> = report.errors().map(|(i, _)| i).collect();
    assert_eq!(failed, vec![1, 2]);
    assert!(c.get(Kind::Endpoints, &key("default", "a")).is_some());
}

#[test]
fn state_is_sorted_and_knows_its_namespaces() {
    let mut c = FakeCluster::default();
    c.create_namespace("b").unwrap();
    c.create_namespace("a").unwrap();
    for (ns, n) in [("b", "x"), ("a", "y"), ("a", "b"), ("default", "z")] {
        create_svc(&mut c, svc(ns, n)).unwrap();
    }
    let state = c.state();
    let keys: Vec<String> = state
        .services
        .iter()
        .map(|s| s.metadata.key().to_string())
        .collect();
    assert_eq!(keys, ["a/b", "a/y", "b/x", "default/z"]);
    let namespaces: Vec<&str> = state
        .namespaces
        .as_ref()
        .unwrap()
        .iter()
        .map(|n| n.metadata.name.as_str())
        .collect();
    assert_eq!(namespaces, ["a", "b", "default"]);
}

#[test]
fn restore_loads_a_snapshot_keeping_cluster_ips_and_uids() {
    let mut c = FakeCluster::default();
    let mut kubernetes = svc("default", "kubernetes");
    kubernetes.spec.cluster_ip = Some("10.43.0.1".into());
    let mut web = svc("apps", "web");
    web.spec.cluster_ip = Some("10.43.12.34".into());
    web.metadata.uid = Some("6f1c2d1e-0000-4000-8000-000000000abc".into());
    web.metadata.resource_version = Some("98765".into());
    web.metadata.creation_timestamp = Some("2023-05-06T07:08:09Z".into());
    let mut ep = eps("apps", "web", &["10.42.1.1"]);
    ep.metadata.resource_version = Some("98766".into());
    c.restore(svcmirror_core::SourceState::new(
        vec![kubernetes, web],
        vec![ep],
    ))
    .unwrap();
    assert_eq!(c.stats().requests, 0, "restoring is set-up, not requests");
    let state = c.state();
    assert!(state.has_namespace("apps"));
    let web = state.service(&key("apps", "web")).unwrap();
    assert_eq!(web.spec.cluster_ip.as_deref(), Some("10.43.12.34"));
    assert_eq!(
        web.metadata.uid.as_deref(),
        Some("6f1c2d1e-0000-4000-8000-000000000abc")
    );
    assert_eq!(
        web.metadata.creation_timestamp.as_deref(),
        Some("2023-05-06T07:08:09Z")
    );
    let rv: u64 = web
        .metadata
        .resource_version
        .as_deref()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        rv <= c.resource_version(),
        "resourceVersions are the fake's own"
    );
    let kubernetes = state.service(&key("default", "kubernetes")).unwrap();
    assert_eq!(kubernetes.spec.cluster_ip.as_deref(), Some("10.43.0.1"));

    // After restoring, creates behave as usual: a restored IP is taken.
    let mut taker = svc("default", "taker");
    taker.spec.cluster_ip = Some("10.43.12.34".into());
    assert_eq!(
        invalid_field(create_svc(&mut c, taker).unwrap_err()),
        "spec.clusterIP"
    );
    let mut fresh = svc("default", "fresh");
    fresh.metadata.uid = Some("client-set".into());
    let fresh = create_svc(&mut c, fresh).unwrap();
    assert_ne!(
        fresh.metadata.uid.as_deref(),
        Some("client-set"),
        "only restore keeps uids"
    );
}

#[test]
fn restore_stores_a_foreign_snapshot_as_it_is() {
    let mut c = FakeCluster::default();
    // A snapshot of a cluster with another service CIDR, and a kind this fake would not create.
    let mut a = svc("default", "a");
    a.spec.cluster_ip = Some("10.96.7.7".into());
    let mut external = svc("default", "ext");
    external.spec.type_ = Some("ExternalName".into());
    external.spec.ports.clear();
    c.restore(svcmirror_core::SourceState::new(vec![a, external], vec![]))
        .unwrap();
    let state = c.state();
    assert_eq!(
        state.services[0].spec.cluster_ip.as_deref(),
        Some("10.96.7.7")
    );
    assert_eq!(state.services[1].spec.cluster_ip, None);
    // Twice the same object is refused.
    let err = c
        .restore(svcmirror_core::SourceState::new(
            vec![svc("default", "a")],
            vec![],
        ))
        .unwrap_err();
    assert!(matches!(err, ApiError::AlreadyExists { .. }), "{err:?}");
    let err = c
        .restore(
            svcmirror_core::SourceState::new(vec![svc("elsewhere", "c")], vec![])
                .with_namespaces(Some(vec![])),
        )
        .unwrap_err();
    assert!(
        matches!(
            err,
            ApiError::NotFound {
                kind: Kind::Namespace,
                ..
            }
        ),
        "{err:?}"
    );
}

/// SPEC §8: restoring a snapshot whose Services need more ClusterIPs than the range holds is the
/// same typed "range is full" a create gets (never retried), not a retryable `Unavailable`.
#[test]
fn restoring_more_services_than_the_range_holds_is_range_full() {
    let mut c = FakeCluster::new("10.96.0.0/30".parse().unwrap());
    let state = svcmirror_core::SourceState::new(
        (0..4).map(|i| svc("default", &format!("s{i}"))).collect(),
        Vec::new(),
    );
    let full = c.restore(state).unwrap_err();
    assert!(
        matches!(&full, ApiError::RangeFull { message, .. } if message.contains("range is full")),
        "{full:?}"
    );
    assert!(!full.is_retryable());
}
