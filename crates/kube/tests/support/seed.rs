//! The seed walkthrough (SPEC §11 `seed-walkthrough`) for the loopback API server: west's
//! exported headless `nginx-svc`, its link, and the check that east holds its mirrors.

use std::collections::BTreeMap;
use std::net::IpAddr;

use svcmirror_core::Link;
use svcmirror_core::model::{
    EndpointAddress, EndpointPort, EndpointSubset, Endpoints, Kind, Object, ObjectKey, Service,
    ServicePort,
};
use svcmirror_fake::FakeCluster;

pub fn west() -> FakeCluster {
    let mut west = FakeCluster::default();
    let mut svc = Service::new("default", "nginx-svc");
    svc.metadata
        .labels
        .insert("mirror.linkerd.io/exported".into(), "true".into());
    svc.metadata.labels.insert("app".into(), "nginx".into());
    svc.spec.cluster_ip = Some("None".into());
    svc.spec.ports.push(ServicePort {
        name: Some("http".into()),
        port: 80,
        protocol: Some("TCP".into()),
        ..ServicePort::default()
    });
    west.create(Object::Service(svc)).expect("west Service");
    // A Service that is not exported: never listed by the adapter (server-side selector).
    let mut other = Service::new("default", "internal");
    other.spec.ports.push(ServicePort {
        port: 8080,
        ..ServicePort::default()
    });
    west.create(Object::Service(other))
        .expect("west internal Service");
    west.create(Object::Endpoints(nginx_endpoints(3)))
        .expect("west Endpoints");
    west
}

pub fn nginx_endpoints(replicas: u8) -> Endpoints {
    let mut ep = Endpoints::new("default", "nginx-svc");
    ep.subsets.push(EndpointSubset {
        addresses: (0..replicas)
            .map(|i| EndpointAddress {
                ip: format!("10.42.0.{}", 5 + i),
                hostname: Some(format!("nginx-set-{i}")),
                ..EndpointAddress::default()
            })
            .collect(),
        not_ready_addresses: Vec::new(),
        ports: vec![EndpointPort {
            name: Some("http".into()),
            port: 80,
            protocol: Some("TCP".into()),
            app_protocol: None,
        }],
    });
    ep
}

pub fn link() -> Link {
    Link::builder("west")
        .gateway_address("172.18.0.4".parse().expect("ip"))
        .enable_headless_services(true)
        .build()
        .expect("link")
}

/// Whether east holds the seed walkthrough's mirrors for `replicas` pods; `Err` says what is
/// missing (for the failure message).
pub fn seed_mirrored(east: &FakeCluster, replicas: u8) -> Result<(), String> {
    let service = |name: &str| match east.get(Kind::Service, &ObjectKey::new("default", name)) {
        Some(Object::Service(s)) => Ok(s),
        _ => Err(format!("no Service {name}")),
    };
    let endpoints = |name: &str| match east.get(Kind::Endpoints, &ObjectKey::new("default", name)) {
        Some(Object::Endpoints(e)) => Ok(e),
        _ => Err(format!("no Endpoints {name}")),
    };
    let root = service("nginx-svc-west")?;
    if !root.is_headless() {
        return Err("nginx-svc-west is not headless".into());
    }
    let mut expected_root = BTreeMap::new();
    for i in 0..replicas {
        let name = format!("nginx-set-{i}-west");
        let mirror = service(&name)?;
        let ip: IpAddr = mirror
            .spec
            .cluster_ip
            .as_deref()
            .and_then(|ip| ip.parse().ok())
            .ok_or(format!("{name} has no ClusterIP"))?;
        if !east.service_cidr().contains(&ip) {
            return Err(format!("{name}: {ip} outside the source CIDR"));
        }
        let ep = endpoints(&name)?;
        let gateway = ep.subsets.first().map(|s| {
            (
                s.addresses.iter().map(|a| a.ip.clone()).collect::<Vec<_>>(),
                s.ports.iter().map(|p| p.port).collect::<Vec<_>>(),
            )
        });
        if gateway != Some((vec!["172.18.0.4".to_owned()], vec![4143])) {
            return Err(format!(
                "{name} Endpoints do not point at the gateway: {gateway:?}"
            ));
        }
        expected_root.insert(format!("nginx-set-{i}"), ip.to_string());
    }
    if service(&format!("nginx-set-{replicas}-west")).is_ok() {
        return Err(format!("nginx-set-{replicas}-west still exists"));
    }
    let root_ep = endpoints("nginx-svc-west")?;
    let actual: BTreeMap<String, String> = root_ep
        .subsets
        .iter()
        .flat_map(|s| &s.addresses)
        .filter_map(|a| a.hostname.clone().map(|h| (h, a.ip.clone())))
        .collect();
    if actual != expected_root {
        return Err(format!("root Endpoints {actual:?}, want {expected_root:?}"));
    }
    if service("internal-west").is_ok() {
        return Err("a Service that is not exported was mirrored".into());
    }
    Ok(())
}
