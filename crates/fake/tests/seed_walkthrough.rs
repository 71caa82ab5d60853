//! SPEC §11 `seed-walkthrough`, end to end through two fakes: west (target) holds the headless
//! `default/nginx-svc` and its StatefulSet Endpoints; east (source) receives the mirrors and
//! allocates their ClusterIPs. [`drive`] (translate, plan, apply) until nothing is left to do.

use std::collections::BTreeMap;

use svcmirror_backend::ApiError;
use svcmirror_core::model::{
    EndpointAddress, EndpointPort, EndpointSubset, Endpoints, Kind, Object, ObjectKey,
    ObjectReference, Service, ServicePort,
};
use svcmirror_core::{Apply, Diagnostic, Link, Operation, Plan, Refusal, SourceState, drive};
use svcmirror_fake::FakeCluster;

const GATEWAY: &str = "172.18.0.4";

fn west() -> FakeCluster {
    let mut west = FakeCluster::default();
    let mut svc = Service::new("default", "nginx-svc");
    svc.metadata
        .labels
        .insert("mirror.linkerd.io/exported".into(), "true".into());
    svc.spec.cluster_ip = Some("None".into());
    svc.spec.ports.push(ServicePort {
        name: Some("http".into()),
        protocol: Some("TCP".into()),
        port: 80,
        ..ServicePort::default()
    });
    west.create(Object::Service(svc)).expect("west Service");
    let mut ep = Endpoints::new("default", "nginx-svc");
    ep.subsets.push(EndpointSubset {
        addresses: (0..3)
            .map(|n| EndpointAddress {
                ip: format!("10.42.0.{}", 31 + n),
                hostname: Some(format!("nginx-set-{n}")),
                target_ref: Some(ObjectReference {
                    kind: Some("Pod".into()),
                    name: Some(format!("nginx-set-{n}")),
                    namespace: Some("default".into()),
                    ..ObjectReference::default()
                }),
                ..EndpointAddress::default()
            })
            .collect(),
        ports: vec![EndpointPort {
            name: Some("http".into()),
            port: 80,
            protocol: Some("TCP".into()),
            ..EndpointPort::default()
        }],
        ..EndpointSubset::default()
    });
    west.create(Object::Endpoints(ep)).expect("west Endpoints");
    west
}

fn link() -> Link {
    Link::builder("west")
        .gateway_address(GATEWAY.parse().expect("IP"))
        .enable_headless_services(true)
        .build()
        .expect("valid link")
}

/// East, keeping every non-empty plan [`drive`] applies to it.
struct Recording<'a> {
    east: &'a mut FakeCluster,
    plans: Vec<Plan>,
}

impl Apply for Recording<'_> {
    type Error = ApiError;

    fn list(&mut self) -> SourceState {
        self.east.list()
    }

    fn apply(&mut self, operation: Operation) -> Result<(), Refusal<ApiError>> {
        Apply::apply(self.east, operation)
    }

    fn planned(&mut self, _: &SourceState, _: &mut Vec<Diagnostic>, plan: &mut Plan) {
        if !plan.is_empty() {
            self.plans.push(plan.clone());
        }
    }
}

/// The controller's loop ([`drive`]) from west to east; the plans it applied.
fn mirror(link: &Link, west: &FakeCluster, east: &mut FakeCluster) -> Vec<Plan> {
    let mut recording = Recording {
        east,
        plans: Vec::new(),
    };
    let driven = drive(link, &west.target_state(), &mut recording).expect("converges");
    assert!(
        driven.refused.is_empty(),
        "east refused: {:?}",
        driven.refused
    );
    recording.plans
}

fn service(east: &FakeCluster, name: &str) -> Service {
    match east.get(Kind::Service, &ObjectKey::new("default", name)) {
        Some(Object::Service(s)) => s,
        other => panic!("Service {name}: {other:?}"),
    }
}

fn endpoints(east: &FakeCluster, name: &str) -> Endpoints {
    match east.get(Kind::Endpoints, &ObjectKey::new("default", name)) {
        Some(Object::Endpoints(e)) => e,
        other => panic!("Endpoints {name}: {other:?}"),
    }
}

#[test]
fn seed_walkthrough_converges_and_root_endpoints_point_at_the_allocated_ips() {
    let west = west();
    let mut east = FakeCluster::default();
    let link = link();

    let plans = mirror(&link, &west, &mut east);
    // SPEC §6.6: two passes; the second is where the allocated IPs enter the root mirror's
    // Endpoints.
    assert_eq!(plans.len(), 2, "{plans:#?}");
    assert!(
        plans[1]
            .operations
            .iter()
            .any(|op| op.key() == ObjectKey::new("default", "nginx-svc-west")
                && op.kind() == Kind::Endpoints),
        "{plans:#?}"
    );
    let writes_before = east.stats().writes;
    let again = mirror(&link, &west, &mut east);
    assert!(again.is_empty(), "{again:#?}");
    assert_eq!(east.stats().writes, writes_before);

    // The root mirror is headless.
    let root = service(&east, "nginx-svc-west");
    assert!(root.is_headless());

    // Each endpoint mirror got a ClusterIP from east's CIDR, distinct from the others, and its
    // Endpoints point at the gateway.
    let mut allocated: BTreeMap<String, String> = BTreeMap::new();
    for n in 0..3 {
        let name = format!("nginx-set-{n}-west");
        let mirror = service(&east, &name);
        let ip = mirror.spec.cluster_ip.clone().expect("allocated");
        assert!(
            east.service_cidr()
                .contains(&ip.parse::<std::net::IpAddr>().unwrap())
        );
        let ep = endpoints(&east, &name);
        let gateways: Vec<&str> = ep
            .subsets
            .iter()
            .flat_map(|s| s.addresses.iter().map(|a| a.ip.as_str()))
            .collect();
        assert_eq!(gateways, [GATEWAY], "{name}");
        allocated.insert(format!("nginx-set-{n}"), ip);
    }
    let mut distinct: Vec<&String> = allocated.values().collect();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 3);

    // The root Endpoints map each hostname to its endpoint mirror's ClusterIP.
    let root_ep = endpoints(&east, "nginx-svc-west");
    let mapped: BTreeMap<String, String> = root_ep
        .subsets
        .iter()
        .flat_map(|s| s.addresses.iter())
        .map(|a| (a.hostname.clone().expect("hostname"), a.ip.clone()))
        .collect();
    assert_eq!(mapped, allocated);
    println!("allocated by east: {allocated:?}");
    assert_eq!(root_ep.subsets[0].ports[0].port, 80);
}

#[test]
fn seed_walkthrough_allocates_the_same_ips_every_time() {
    let run = || {
        let west = west();
        let mut east = FakeCluster::default();
        let link = link();
        mirror(&link, &west, &mut east);
        east.state()
    };
    assert_eq!(run(), run());
}
