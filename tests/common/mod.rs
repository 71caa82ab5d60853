//! Builders for target objects, and `converge` ([`svcmirror::drive()`] on the fake), shared by the
//! root tests.
#![allow(dead_code)]

pub mod strategies;

use std::net::IpAddr;

use svcmirror::model::{
    EndpointAddress, EndpointPort, EndpointSubset, Endpoints, IntOrString, ObjectReference,
    Service, ServicePort,
};
use svcmirror::{
    Apply, Diagnostic, Driven, Link, LinkBuilder, Operation, Plan, Refusal, SourceState,
    TargetState, drive,
};
use svcmirror_backend::ApiError;
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
    TargetState::new(
        vec![
            svc("default", "nginx-svc")
                .headless()
                .exported()
                .label("app", "nginx")
                .port("http", 80)
                .build(),
        ],
        vec![seed_endpoints(3)],
    )
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

/// Result of [`svcmirror::drive()`] on the fake: the converged source and every plan applied.
pub struct Converged {
    pub source: SourceState,
    pub diagnostics: Vec<Diagnostic>,
    /// Non-empty plans applied before the plan became empty.
    pub passes: usize,
    pub plans: Vec<Plan>,
}

/// The fake, keeping what each applying pass listed and planned (for tests that look at passes).
pub struct Recorder<'a> {
    pub fake: &'a mut FakeCluster,
    /// The source each non-empty plan was made from, and the plan.
    pub passes: Vec<(SourceState, Plan)>,
}

impl Apply for Recorder<'_> {
    type Error = ApiError;

    fn list(&mut self) -> SourceState {
        self.fake.list()
    }

    fn apply(&mut self, operation: Operation) -> Result<(), Refusal<ApiError>> {
        Apply::apply(self.fake, operation)
    }

    fn planned(&mut self, source: &SourceState, _: &mut Vec<Diagnostic>, plan: &mut Plan) {
        if !plan.is_empty() {
            self.passes.push((source.clone(), plan.clone()));
        }
    }
}

/// [`svcmirror::drive()`] on `fake`, keeping each pass; panics if the fake refuses an operation
/// or the convergence contract is broken (more than `MAX_PASSES` applying passes).
pub fn record(
    link: &Link,
    target: &TargetState,
    fake: &mut FakeCluster,
) -> (Driven, Vec<(SourceState, Plan)>) {
    let mut recorder = Recorder {
        fake,
        passes: Vec::new(),
    };
    let driven = drive(link, target, &mut recorder).unwrap_or_else(|e| {
        panic!(
            "{e}: {:#?}",
            recorder
                .passes
                .iter()
                .map(|p| &p.1.operations)
                .collect::<Vec<_>>()
        )
    });
    assert!(
        driven.refused.is_empty(),
        "the fake accepts every planned operation: {:?}",
        driven.refused
    );
    (driven, recorder.passes)
}

/// Drives `fake` to the desired state of `target` ([`record`]).
pub fn converge(link: &Link, target: &TargetState, fake: &mut FakeCluster) -> Converged {
    let (driven, passes) = record(link, target, fake);
    let mut diagnostics = driven.diagnostics;
    diagnostics.sort();
    Converged {
        source: fake.state(),
        diagnostics,
        passes: driven.passes,
        plans: passes.into_iter().map(|(_, plan)| plan).collect(),
    }
}

/// A fake source with the `default` (always there) and `other` namespaces.
pub fn fake() -> FakeCluster {
    let mut fake = FakeCluster::default();
    fake.create_namespace("other").expect("namespace");
    fake
}

/// An address without hostname whose `targetRef` is the Pod `pod` (a pod behind a headless
/// Service that is not its StatefulSet's `serviceName`: linkerd#10916).
pub fn pod_addr(ip: &str, pod: &str) -> EndpointAddress {
    EndpointAddress {
        ip: ip.into(),
        hostname: None,
        node_name: Some("k3d-west-server-0".into()),
        target_ref: Some(ObjectReference {
            kind: Some("Pod".into()),
            name: Some(pod.into()),
            namespace: Some("default".into()),
            ..ObjectReference::default()
        }),
    }
}

/// One SPEC.md §11 translation case: its name, link, target, and the exported Service it is
/// about.
pub struct SpecCase {
    pub name: &'static str,
    pub link: Link,
    pub target: TargetState,
    pub service: svcmirror::ObjectKey,
}

fn headless_nginx() -> Svc {
    svc("default", "nginx-svc")
        .headless()
        .exported()
        .port("http", 80)
}

/// Every SPEC.md §11 translation case (and the seed): the situations of tests/translate_cases.rs.
pub fn spec_translation_cases() -> Vec<SpecCase> {
    let key = |ns: &str, name: &str| svcmirror::ObjectKey::new(ns, name);
    let nginx = key("default", "nginx-svc");
    let one = |ready: Vec<EndpointAddress>, not_ready: Vec<EndpointAddress>| {
        TargetState::new(
            vec![headless_nginx().build()],
            vec![
                eps("default", "nginx-svc")
                    .subset(ready, not_ready, vec![eport("http", 80)])
                    .build(),
            ],
        )
    };
    let web = |ready: Vec<EndpointAddress>, not_ready: Vec<EndpointAddress>, with_eps: bool| {
        TargetState::new(
            vec![svc("default", "web").exported().port("http", 8080).build()],
            if with_eps {
                vec![
                    eps("default", "web")
                        .subset(ready, not_ready, vec![eport("http", 8080)])
                        .build(),
                ]
            } else {
                vec![]
            },
        )
    };
    let long = "a-very-long-statefulset-governing-service-name-for-kafka-brok";
    let mut cases = vec![
        SpecCase {
            name: "seed-walkthrough",
            link: link(),
            target: seed_target(),
            service: nginx.clone(),
        },
        SpecCase {
            name: "clusterip-export",
            link: link(),
            target: web(vec![addr("10.42.1.5", None)], vec![], true),
            service: key("default", "web"),
        },
        SpecCase {
            name: "headless-disabled",
            link: west()
                .enable_headless_services(false)
                .build()
                .expect("link"),
            target: seed_target(),
            service: nginx.clone(),
        },
        SpecCase {
            name: "no-named-addresses",
            link: link(),
            target: one(vec![addr("10.42.0.7", None)], vec![]),
            service: nginx.clone(),
        },
        SpecCase {
            name: "mixed-named-and-unnamed",
            link: link(),
            target: one(
                vec![
                    addr("10.42.0.31", Some("nginx-set-0")),
                    addr("10.42.0.40", None),
                ],
                vec![],
            ),
            service: nginx.clone(),
        },
        SpecCase {
            name: "named-only-not-ready",
            link: link(),
            target: one(vec![], vec![addr("10.42.0.31", Some("nginx-set-0"))]),
            service: nginx.clone(),
        },
    ];
    let mut portless = seed_target();
    portless.services[0].spec.ports.clear();
    portless
        .services
        .push(svc("default", "web").exported().port("http", 80).build());
    cases.push(SpecCase {
        name: "portless-headless",
        link: link(),
        target: portless,
        service: nginx.clone(),
    });
    cases.push(SpecCase {
        name: "not-exported",
        link: link(),
        target: TargetState::new(
            vec![
                svc("default", "no-label").port("http", 80).build(),
                svc("default", "other-value")
                    .label("mirror.linkerd.io/exported", "false")
                    .port("http", 80)
                    .build(),
            ],
            vec![],
        ),
        service: key("default", "other-value"),
    });
    cases.push(SpecCase {
        name: "empty-endpoints",
        link: link(),
        target: web(vec![], vec![addr("10.42.1.5", None)], true),
        service: key("default", "web"),
    });
    let mut no_eps = seed_target();
    no_eps.endpoints.clear();
    cases.push(SpecCase {
        name: "no-endpoints-yet",
        link: link(),
        target: no_eps,
        service: nginx.clone(),
    });
    let mut two_ns = seed_target();
    two_ns.services.push(
        svc("other", "nginx-svc")
            .headless()
            .exported()
            .port("http", 80)
            .build(),
    );
    let mut other = seed_endpoints(1);
    other.metadata.namespace = "other".into();
    two_ns.endpoints.push(other);
    cases.push(SpecCase {
        name: "two-namespaces-same-name",
        link: link(),
        target: two_ns,
        service: key("other", "nginx-svc"),
    });
    cases.push(SpecCase {
        name: "two-subsets-different-ports",
        link: link(),
        target: TargetState::new(
            vec![headless_nginx().build()],
            vec![
                eps("default", "nginx-svc")
                    .subset(
                        vec![addr("10.42.0.31", Some("nginx-set-0"))],
                        vec![],
                        vec![eport("http", 80)],
                    )
                    .subset(
                        vec![addr("10.42.0.32", Some("nginx-set-1"))],
                        vec![],
                        vec![eport("http", 8080)],
                    )
                    .build(),
            ],
        ),
        service: nginx.clone(),
    });
    let mut multi = seed_target();
    multi.services[0] = headless_nginx().port("metrics", 9090).build();
    multi.endpoints[0].subsets[0]
        .ports
        .push(eport("metrics", 9090));
    cases.push(SpecCase {
        name: "multi-port",
        link: link(),
        target: multi,
        service: nginx.clone(),
    });
    cases.push(SpecCase {
        name: "gateway-identity-set",
        link: west()
            .gateway_identity(
                "linkerd-gateway.linkerd-multicluster.serviceaccount.identity.linkerd.cluster.local",
            )
            .build()
            .expect("link"),
        target: seed_target(),
        service: nginx.clone(),
    });
    cases.push(SpecCase {
        name: "gateway-identity-unset",
        link: link(),
        target: TargetState::new(
            vec![svc("default", "web").exported().port("http", 80).build()],
            vec![],
        ),
        service: key("default", "web"),
    });
    cases.push(SpecCase {
        name: "gateway-down",
        link: west().gateway_alive(false).build().expect("link"),
        target: seed_target(),
        service: nginx.clone(),
    });
    cases.push(SpecCase {
        name: "several-gateway-addresses",
        link: west()
            .gateway_address(ip("172.18.0.5"))
            .gateway_address(ip("172.18.0.3"))
            .build()
            .expect("link"),
        target: seed_target(),
        service: nginx.clone(),
    });
    cases.push(SpecCase {
        name: "ipv6-gateway",
        link: Link::builder("west")
            .gateway_address(ip("fd00:10::4"))
            .enable_headless_services(true)
            .build()
            .expect("link"),
        target: seed_target(),
        service: nginx.clone(),
    });
    cases.push(SpecCase {
        name: "long-names",
        link: link(),
        target: TargetState::new(
            vec![
                svc("default", long)
                    .headless()
                    .exported()
                    .port("kafka", 9092)
                    .build(),
            ],
            vec![
                eps("default", long)
                    .subset(
                        vec![addr("10.42.0.31", Some(&format!("{long}-0")))],
                        vec![],
                        vec![eport("kafka", 9092)],
                    )
                    .build(),
            ],
        ),
        service: key("default", long),
    });
    cases.push(SpecCase {
        name: "invalid-hostname",
        link: link(),
        target: one(
            vec![
                addr("10.42.0.31", Some("nginx-set-0")),
                addr("10.42.0.32", Some("Nginx_Set.1")),
            ],
            vec![],
        ),
        service: nginx.clone(),
    });
    cases.push(SpecCase {
        name: "duplicate-hostname",
        link: link(),
        target: one(
            vec![
                addr("10.42.0.39", Some("nginx-set-0")),
                addr("10.42.0.31", Some("nginx-set-0")),
            ],
            vec![],
        ),
        service: nginx.clone(),
    });
    let mut excluded = seed_target();
    excluded.services[0] = headless_nginx()
        .label("app", "nginx")
        .label("team.example.com/name", "web")
        .label("mirror.linkerd.io/something", "x")
        .annotation("internal.example.com/owner", "alice")
        .annotation("config.linkerd.io/opaque-ports", "80")
        .annotation("service.kubernetes.io/topology-mode", "Auto")
        .annotation("example.com/kept", "yes")
        .build();
    cases.push(SpecCase {
        name: "excluded-labels-annotations",
        link: west()
            .exclude_label(svcmirror::KeyPattern::new("team.example.com/*"))
            .exclude_annotation(svcmirror::KeyPattern::new("internal.example.com/owner"))
            .exclude_annotation(svcmirror::KeyPattern::new("config.linkerd.io/*"))
            .build()
            .expect("link"),
        target: excluded,
        service: nginx,
    });
    cases
}
