//! Builders for target objects and a converge loop over the fake, shared by the root tests.
#![allow(dead_code)]

use std::net::IpAddr;

use svcmirror::model::{
    EndpointAddress, EndpointPort, EndpointSubset, Endpoints, IntOrString, ObjectReference,
    Service, ServicePort,
};
use svcmirror::{Diagnostic, Link, LinkBuilder, Plan, SourceState, TargetState, plan, translate};
use svcmirror_fake::FakeCluster;

pub const EXPORTED: (&str, &str) = ("mirror.linkerd.io/exported", "true");

/// The seed's link: cluster `west`, gateway 172.18.0.4:4143, headless services enabled.
pub fn west() -> LinkBuilder {
    Link::builder("west")
        .gateway_address(ip("172.18.0.4"))
        .enable_headless_services(true)
}

pub fn link() -> Link {
    west().build().expect("valid link")
}

pub fn ip(s: &str) -> IpAddr {
    s.parse().expect("ip")
}

pub struct Svc(pub Service);

pub fn svc(ns: &str, name: &str) -> Svc {
    let mut s = Service::new(ns, name);
    s.metadata.resource_version = Some("1000".into());
    s.spec.cluster_ip = Some("10.96.0.10".into());
    Svc(s)
}

impl Svc {
    pub fn exported(self) -> Self {
        self.label(EXPORTED.0, EXPORTED.1)
    }
    pub fn headless(mut self) -> Self {
        self.0.spec.cluster_ip = Some("None".into());
        self
    }
    pub fn label(mut self, k: &str, v: &str) -> Self {
        self.0.metadata.labels.insert(k.into(), v.into());
        self
    }
    pub fn annotation(mut self, k: &str, v: &str) -> Self {
        self.0.metadata.annotations.insert(k.into(), v.into());
        self
    }
    pub fn port(mut self, name: &str, port: i32) -> Self {
        self.0.spec.ports.push(ServicePort {
            name: (!name.is_empty()).then(|| name.to_owned()),
            protocol: Some("TCP".into()),
            port,
            target_port: Some(IntOrString::Int(port)),
            ..ServicePort::default()
        });
        self
    }
    pub fn version(mut self, rv: &str) -> Self {
        self.0.metadata.resource_version = Some(rv.into());
        self
    }
    pub fn build(self) -> Service {
        self.0
    }
}

pub struct Eps(pub Endpoints);

pub fn eps(ns: &str, name: &str) -> Eps {
    let mut e = Endpoints::new(ns, name);
    e.metadata.resource_version = Some("2000".into());
    Eps(e)
}

pub fn addr(ip: &str, hostname: Option<&str>) -> EndpointAddress {
    EndpointAddress {
        ip: ip.into(),
        hostname: hostname.map(str::to_owned),
        node_name: Some("k3d-west-server-0".into()),
        target_ref: hostname.map(|h| ObjectReference {
            kind: Some("Pod".into()),
            name: Some(h.into()),
            namespace: Some("default".into()),
            ..ObjectReference::default()
        }),
    }
}

pub fn eport(name: &str, port: i32) -> EndpointPort {
    EndpointPort {
        name: (!name.is_empty()).then(|| name.to_owned()),
        port,
        protocol: Some("TCP".into()),
        app_protocol: None,
    }
}

impl Eps {
    /// A subset: ready addresses, not-ready addresses, ports.
    pub fn subset(
        mut self,
        ready: Vec<EndpointAddress>,
        not_ready: Vec<EndpointAddress>,
        ports: Vec<EndpointPort>,
    ) -> Self {
        self.0.subsets.push(EndpointSubset {
            addresses: ready,
            not_ready_addresses: not_ready,
            ports,
        });
        self
    }
    pub fn version(mut self, rv: &str) -> Self {
        self.0.metadata.resource_version = Some(rv.into());
        self
    }
    pub fn build(self) -> Endpoints {
        self.0
    }
}

/// The seed: west's `default/nginx-svc` (headless, 80/TCP, exported) with three StatefulSet pods.
pub fn seed_target() -> TargetState {
    TargetState {
        services: vec![
            svc("default", "nginx-svc")
                .headless()
                .exported()
                .label("app", "nginx")
                .port("http", 80)
                .build(),
        ],
        endpoints: vec![seed_endpoints(3)],
    }
}

/// `default/nginx-svc` Endpoints with `pods` ready StatefulSet pods nginx-set-0…
pub fn seed_endpoints(pods: usize) -> Endpoints {
    let ready = (0..pods)
        .map(|i| {
            addr(
                &format!("10.42.0.{}", 31 + i),
                Some(&format!("nginx-set-{i}")),
            )
        })
        .collect();
    eps("default", "nginx-svc")
        .subset(ready, vec![], vec![eport("http", 80)])
        .build()
}

/// Result of driving translate → plan → apply on the fake until the plan is empty.
pub struct Converged {
    pub source: SourceState,
    pub diagnostics: Vec<Diagnostic>,
    /// Non-empty plans applied before the plan became empty.
    pub passes: usize,
    pub plans: Vec<Plan>,
}

/// Drives `fake` to the desired state of `target`; panics if it takes more than 5 passes or an
/// operation fails.
pub fn converge(link: &Link, target: &TargetState, fake: &mut FakeCluster) -> Converged {
    let mut plans = Vec::new();
    for _ in 0..5 {
        let source = fake.state();
        let translation = translate(link, target, &source);
        let p = plan(link, &translation.desired, &source);
        if p.is_empty() {
            let mut diagnostics = translation.diagnostics;
            diagnostics.extend(p.diagnostics);
            diagnostics.sort();
            return Converged {
                source,
                diagnostics,
                passes: plans.len(),
                plans,
            };
        }
        for op in &p.operations {
            fake.apply(op)
                .expect("the fake accepts every planned operation");
        }
        plans.push(p);
    }
    panic!("did not converge in 5 passes: {plans:#?}");
}

/// A fake source with the `default` (always there) and `other` namespaces.
pub fn fake() -> FakeCluster {
    let mut fake = FakeCluster::default();
    fake.create_namespace("other").expect("namespace");
    fake
}
