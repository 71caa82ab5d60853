//! Embedding the core alone: `translate` and `plan` on in-memory objects, the plan printed.
//!
//! No cluster, no async runtime, no I/O: `svcmirror-core` (here through the `svcmirror` facade) is
//! pure. Run it with `cargo run --example embed_core`. A controller of your own feeds the same two
//! functions what its informers hold, and applies the operations with its own client (or hands
//! an implementation of `svcmirror::Apply` to `svcmirror::drive`, the one loop that applies
//! plans until the source converges).

use svcmirror::model::{
    EndpointAddress, EndpointPort, EndpointSubset, Endpoints, Service, ServicePort,
};
use svcmirror::{Link, Operation, SourceState, TargetState, plan, translate};

fn main() {
    // SPEC §2: the link, as `linkerd multicluster link` would describe it.
    let link = Link::builder("west")
        .gateway_address([172, 18, 0, 4].into())
        .enable_headless_services(true)
        .build()
        .expect("a valid link");

    // The target cluster: one exported headless Service with two StatefulSet pods.
    let mut nginx = Service::new("default", "nginx-svc");
    nginx
        .metadata
        .labels
        .insert("mirror.linkerd.io/exported".into(), "true".into());
    nginx.spec.cluster_ip = Some("None".into());
    nginx.spec.ports.push(ServicePort {
        name: Some("http".into()),
        port: 80,
        ..ServicePort::default()
    });
    let mut endpoints = Endpoints::new("default", "nginx-svc");
    endpoints.subsets.push(EndpointSubset {
        addresses: (0..2)
            .map(|i| EndpointAddress {
                ip: format!("10.42.0.{}", 31 + i),
                hostname: Some(format!("nginx-set-{i}")),
                ..EndpointAddress::default()
            })
            .collect(),
        ports: vec![EndpointPort {
            name: Some("http".into()),
            port: 80,
            ..EndpointPort::default()
        }],
        ..EndpointSubset::default()
    });
    let target = TargetState::new(vec![nginx], vec![endpoints]);

    // The source cluster holds nothing yet.
    let source = SourceState::default();
    let translation = translate(&link, &target, &source);
    let plan = plan(&link, &translation.desired, &source);

    for diagnostic in translation.diagnostics.iter().chain(&plan.diagnostics) {
        println!("diagnostic: {diagnostic}");
    }
    for (index, op) in plan.operations.iter().enumerate() {
        let after: Vec<usize> = plan.prerequisites(index).collect();
        // `Operation` is #[non_exhaustive]: a wildcard arm keeps this compiling when it grows.
        let detail = match op {
            Operation::Update { changed, .. } => format!(" ({})", changed.join(", ")),
            Operation::Delete { reason, .. } => format!(" ({reason:?})"),
            _ => String::new(),
        };
        println!(
            "{index}: {} {} {}{detail}{}",
            op.action(),
            op.kind(),
            op.key(),
            if after.is_empty() {
                String::new()
            } else {
                format!(" after {after:?}")
            }
        );
    }
    println!("{} operations", plan.operations.len());
}
