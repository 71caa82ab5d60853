//! Issue 12 deliverable 5, migration from Linkerd's service mirror, in the core: mirrors exactly
//! as Linkerd's service mirror writes them for the seed walkthrough (its labels and annotations;
//! a headless root whose Endpoints name each endpoint mirror's ClusterIP by the pod's hostname)
//! are svcmirror's own by the ownership labels (SPEC §7), so the link converges by updating them
//! in place: no mirror is deleted or re-created (no traffic gap), and every uid survives.

mod common;

use common::*;
use svcmirror::model::{
    EndpointAddress, EndpointPort, EndpointSubset, Endpoints, Kind, Object, ObjectKey, Service,
    ServicePort,
};
use svcmirror::{Operation, plan, translate};
use svcmirror_fake::FakeCluster;

const IDENTITY: &str =
    "linkerd-gateway.linkerd-multicluster.serviceaccount.identity.linkerd.cluster.local";

/// Linkerd's labels on every mirror of cluster `west`.
fn linkerd_labels(meta: &mut svcmirror::model::ObjectMeta) {
    meta.labels
        .insert("mirror.linkerd.io/mirrored-service".into(), "true".into());
    meta.labels
        .insert("mirror.linkerd.io/cluster-name".into(), "west".into());
}

/// The source as Linkerd's service mirror leaves it for the seed (three pods).
fn linkerd_written() -> FakeCluster {
    let mut f = FakeCluster::default();
    let mut root = Service::new("default", "nginx-svc-west");
    linkerd_labels(&mut root.metadata);
    root.metadata.labels.insert("app".into(), "nginx".into());
    root.metadata.annotations.insert(
        "mirror.linkerd.io/remote-resource-version".into(),
        "1000".into(),
    );
    root.metadata.annotations.insert(
        "mirror.linkerd.io/remote-svc-fq-name".into(),
        "nginx-svc.default.svc.cluster.local".into(),
    );
    root.spec.cluster_ip = Some("None".into());
    root.spec.ports.push(ServicePort {
        name: Some("http".into()),
        port: 80,
        protocol: Some("TCP".into()),
        ..ServicePort::default()
    });
    f.create(Object::Service(root)).expect("root");
    let mut root_addresses = Vec::new();
    for i in 0..3 {
        let name = format!("nginx-set-{i}-west");
        let mut svc = Service::new("default", &name);
        linkerd_labels(&mut svc.metadata);
        svc.metadata.labels.insert(
            "mirror.linkerd.io/headless-mirror-svc-name".into(),
            "nginx-svc-west".into(),
        );
        svc.metadata.annotations.insert(
            "mirror.linkerd.io/remote-svc-fq-name".into(),
            format!("nginx-set-{i}.nginx-svc.default.svc.cluster.local"),
        );
        svc.spec.ports.push(ServicePort {
            name: Some("http".into()),
            port: 80,
            protocol: Some("TCP".into()),
            ..ServicePort::default()
        });
        let Object::Service(stored) = f.create(Object::Service(svc)).expect("mirror") else {
            panic!("a Service")
        };
        let mut ep = Endpoints::new("default", &name);
        linkerd_labels(&mut ep.metadata);
        ep.metadata.labels.insert(
            "mirror.linkerd.io/headless-mirror-svc-name".into(),
            "nginx-svc-west".into(),
        );
        ep.metadata.annotations.insert(
            "mirror.linkerd.io/remote-gateway-identity".into(),
            IDENTITY.into(),
        );
        ep.metadata.annotations.insert(
            "mirror.linkerd.io/remote-svc-fq-name".into(),
            format!("nginx-set-{i}.nginx-svc.default.svc.cluster.local"),
        );
        ep.subsets.push(EndpointSubset {
            addresses: vec![EndpointAddress {
                ip: "172.18.0.4".into(),
                ..EndpointAddress::default()
            }],
            not_ready_addresses: vec![],
            ports: vec![EndpointPort {
                name: Some("http".into()),
                port: 4143,
                protocol: Some("TCP".into()),
                app_protocol: None,
            }],
        });
        f.create(Object::Endpoints(ep)).expect("endpoint mirror");
        // Linkerd's root Endpoints: the endpoint mirror's ClusterIP, the hostname taken from
        // the target address (its targetRef.name for a StatefulSet pod).
        root_addresses.push(EndpointAddress {
            ip: stored.spec.cluster_ip.clone().expect("allocated"),
            hostname: Some(format!("nginx-set-{i}")),
            ..EndpointAddress::default()
        });
    }
    let mut root_ep = Endpoints::new("default", "nginx-svc-west");
    linkerd_labels(&mut root_ep.metadata);
    root_ep.metadata.annotations.insert(
        "mirror.linkerd.io/remote-svc-fq-name".into(),
        "nginx-svc.default.svc.cluster.local".into(),
    );
    root_ep.subsets.push(EndpointSubset {
        addresses: root_addresses,
        not_ready_addresses: vec![],
        ports: vec![EndpointPort {
            name: Some("http".into()),
            port: 80,
            protocol: Some("TCP".into()),
            app_protocol: None,
        }],
    });
    f.create(Object::Endpoints(root_ep))
        .expect("root Endpoints");
    f
}

fn uids(f: &FakeCluster) -> Vec<(String, Option<String>)> {
    let state = f.state();
    state
        .services
        .iter()
        .map(|s| {
            (
                format!("Service {}", s.metadata.key()),
                s.metadata.uid.clone(),
            )
        })
        .chain(state.endpoints.iter().map(|e| {
            (
                format!("Endpoints {}", e.metadata.key()),
                e.metadata.uid.clone(),
            )
        }))
        .collect()
}

#[test]
fn linkerd_written_mirrors_are_updated_in_place_never_deleted_or_recreated() {
    let link = link();
    let mut f = linkerd_written();
    let before = uids(&f);
    let source = f.state();
    let translation = translate(&link, &seed_target(), &source);
    assert!(
        translation
            .diagnostics
            .iter()
            .all(|d| d.reason != svcmirror::Reason::NameConflict),
        "Linkerd's mirrors are the link's own by their labels: {:#?}",
        translation.diagnostics
    );
    let first = plan(&link, &translation.desired, &source);
    assert!(
        !first.operations.is_empty(),
        "svcmirror writes more than Linkerd did (its annotations): there is something to take over"
    );
    for op in &first.operations {
        assert!(
            matches!(op, Operation::Update { .. }),
            "a Linkerd-written mirror is taken over in place, not {op:?}"
        );
    }
    let converged = converge(&link, &seed_target(), &mut f);
    assert!(converged.passes <= 2, "{} passes", converged.passes);
    assert_eq!(uids(&f), before, "no mirror was deleted or re-created");
    let Some(Object::Endpoints(root)) = f.get(
        Kind::Endpoints,
        &ObjectKey::new("default", "nginx-svc-west"),
    ) else {
        panic!("the root Endpoints is gone");
    };
    assert_eq!(root.subsets[0].addresses.len(), 3);
}
