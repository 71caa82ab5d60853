//! `svcmirror demo`: the seed walkthrough on an embedded copy of its west cluster.

use std::io::Write;

use anyhow::Context;
use svcmirror_core::model::{Endpoints, Object, Service};
use svcmirror_core::{Link, ObjectKey};
use svcmirror_fake::FakeCluster;
use svcmirror_snapshot::{Format, Limits};

use crate::render;

/// `kubectl --context=k3d-west get svc,ep,sts -o yaml` of the walkthrough's west cluster.
const WEST: &str = include_str!("../demo/west.yaml");
const GATEWAY: &str = "172.18.0.4";
const GATEWAY_IDENTITY: &str =
    "linkerd-gateway.linkerd-multicluster.serviceaccount.identity.linkerd.cluster.local";

pub fn run(out: &mut impl Write) -> anyhow::Result<()> {
    let west =
        svcmirror_snapshot::parse(WEST.as_bytes(), "embedded west cluster", &Limits::default())?;
    let link = Link::builder("west")
        .gateway_address(GATEWAY.parse()?)
        .gateway_identity(GATEWAY_IDENTITY)
        .enable_headless_services(true)
        .build()?;
    let target = west.into_target();
    let key = ObjectKey::new("default", "nginx-svc");
    let west_endpoints = target
        .endpoints
        .iter()
        .find(|e| e.metadata.key() == key)
        .context("embedded west has no nginx-svc Endpoints")?;

    writeln!(out, "# west: the StatefulSet's headless Service, exported")?;
    writeln!(
        out,
        "$ kubectl --context=k3d-west get endpoints nginx-svc -o yaml"
    )?;
    svcmirror_snapshot::write_object(
        &Object::Endpoints(west_endpoints.clone()),
        Format::Yaml,
        out,
    )?;

    // East, as k3s creates it: the `kubernetes` Service holds 10.43.0.1.
    let mut east = FakeCluster::default();
    let mut kubernetes = Service::new("default", "kubernetes");
    kubernetes.spec.cluster_ip = Some("10.43.0.1".into());
    kubernetes.spec.ports = vec![svcmirror_core::model::ServicePort {
        name: Some("https".into()),
        protocol: Some("TCP".into()),
        port: 443,
        target_port: Some(svcmirror_core::model::IntOrString::Int(6443)),
        ..Default::default()
    }];
    east.restore(svcmirror_core::SourceState::new(
        vec![kubernetes],
        Vec::new(),
    ))?;
    let converged = crate::converge::converge(&link, &target, east)?;
    let source = converged.source;

    writeln!(out)?;
    writeln!(
        out,
        "# east: after the service mirror for link \"west\" converged"
    )?;
    writeln!(out, "$ kubectl --context=k3d-east get services")?;
    let mut services: Vec<&Service> = source.services.iter().collect();
    // kubectl sorts by name; keep the root mirror right after `kubernetes`, as in the walkthrough.
    services.sort_by_key(|s| {
        (
            s.metadata.name != "kubernetes",
            !s.is_headless(),
            s.metadata.name.clone(),
        )
    });
    render::services_table(&services, out)?;

    let root = source
        .endpoints
        .iter()
        .find(|e| e.metadata.name == "nginx-svc-west")
        .context("the root mirror's Endpoints were not created")?;
    writeln!(out)?;
    writeln!(
        out,
        "$ kubectl --context=k3d-east get endpoints nginx-svc-west -o yaml"
    )?;
    svcmirror_snapshot::write_object(&Object::Endpoints(root.clone()), Format::Yaml, out)?;

    writeln!(out)?;
    writeln!(out, "# the path of one request from a client in east")?;
    request_path(&source.services, &source.endpoints, west_endpoints, out)?;
    for d in &converged.diagnostics {
        writeln!(out, "note: {d}")?;
    }
    Ok(())
}

fn request_path(
    services: &[Service],
    endpoints: &[Endpoints],
    west: &Endpoints,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let pod = "nginx-set-0";
    let mirror = services
        .iter()
        .find(|s| s.metadata.name == format!("{pod}-west"))
        .context("endpoint mirror nginx-set-0-west missing")?;
    let mirror_ep = endpoints
        .iter()
        .find(|e| e.metadata.name == mirror.metadata.name)
        .context("endpoint mirror Endpoints missing")?;
    let gateway = mirror_ep
        .subsets
        .first()
        .and_then(|s| s.addresses.first().zip(s.ports.first()))
        .context("endpoint mirror has no gateway address")?;
    let pod_ip = west
        .subsets
        .iter()
        .flat_map(|s| &s.addresses)
        .find(|a| a.hostname.as_deref() == Some(pod))
        .map_or("?", |a| a.ip.as_str());
    let fq = mirror
        .metadata
        .annotations
        .get(svcmirror_core::labels::REMOTE_SVC_FQ_NAME)
        .map_or("?", String::as_str);
    writeln!(out, "  {pod}.nginx-svc-west.default.svc.cluster.local")?;
    writeln!(
        out,
        "  -> {} (ClusterIP of endpoint mirror {}, from the root mirror's Endpoints)",
        mirror.spec.cluster_ip.as_deref().unwrap_or("?"),
        mirror.metadata.name
    )?;
    writeln!(
        out,
        "  -> {}:{} (west's multicluster gateway)",
        gateway.0.ip, gateway.1.port
    )?;
    writeln!(
        out,
        "  -> {fq} (the gateway resolves the original destination in west)"
    )?;
    writeln!(out, "  -> {pod_ip} (pod {pod} in west)")?;
    Ok(())
}
