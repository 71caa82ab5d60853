//! SPEC.md §11 translation cases, end to end: translate → plan → apply on the fake until converged.
//! Each test is named after its case; the converged source is an insta snapshot, and the rule the
//! case is about is asserted explicitly as well.

mod common;

use common::*;
use serde::Serialize;
use svcmirror::model::{Endpoints, Object, Service};
use svcmirror::{Link, Reason, SourceState, TargetState};

#[derive(Serialize)]
struct View {
    passes: usize,
    diagnostics: Vec<String>,
    objects: Vec<Object>,
}

/// Converges `target` on a fresh fake and snapshots the result under the case's name.
fn case(name: &str, link: &Link, target: &TargetState) -> common::Converged {
    let mut f = fake();
    let c = converge(link, target, &mut f);
    assert!(c.passes <= 2, "{name}: converged in {} passes", c.passes);
    let view = View {
        passes: c.passes,
        diagnostics: c.diagnostics.iter().map(ToString::to_string).collect(),
        objects: c.source.objects(),
    };
    insta::assert_yaml_snapshot!(name, view);
    c
}

fn service<'a>(s: &'a SourceState, name: &str) -> &'a Service {
    s.services
        .iter()
        .find(|x| x.metadata.name == name)
        .unwrap_or_else(|| panic!("no Service {name}"))
}

fn endpoints<'a>(s: &'a SourceState, name: &str) -> &'a Endpoints {
    s.endpoints
        .iter()
        .find(|x| x.metadata.name == name)
        .unwrap_or_else(|| panic!("no Endpoints {name}"))
}

fn names(s: &SourceState) -> Vec<&str> {
    s.services
        .iter()
        .map(|x| x.metadata.name.as_str())
        .collect()
}

fn reasons(c: &common::Converged) -> Vec<Reason> {
    c.diagnostics.iter().map(|d| d.reason).collect()
}

#[test]
fn seed_walkthrough() {
    let c = case("seed-walkthrough", &link(), &seed_target());
    assert_eq!(
        names(&c.source),
        [
            "nginx-set-0-west",
            "nginx-set-1-west",
            "nginx-set-2-west",
            "nginx-svc-west"
        ]
    );
    assert!(service(&c.source, "nginx-svc-west").is_headless());
    let root = endpoints(&c.source, "nginx-svc-west");
    assert_eq!(root.subsets.len(), 1);
    for i in 0..3 {
        let mirror = service(&c.source, &format!("nginx-set-{i}-west"));
        let cluster_ip = mirror.spec.cluster_ip.clone().expect("allocated");
        assert!(cluster_ip.starts_with("10.43."), "{cluster_ip}");
        // The root maps each hostname to the ClusterIP its endpoint mirror got.
        assert!(root.subsets[0].addresses.iter().any(|a| {
            a.hostname.as_deref() == Some(&format!("nginx-set-{i}")) && a.ip == cluster_ip
        }));
        // Each endpoint mirror points at the gateway.
        let ep = endpoints(&c.source, &format!("nginx-set-{i}-west"));
        assert_eq!(ep.subsets[0].addresses[0].ip, "172.18.0.4");
        assert_eq!(ep.subsets[0].ports[0].port, 4143);
    }
    assert_eq!(
        c.passes, 2,
        "two-phase: endpoint mirror IPs are known after pass 1"
    );
    assert!(c.diagnostics.is_empty());
}

#[test]
fn clusterip_export() {
    let target = TargetState::new(
        vec![svc("default", "web").exported().port("http", 8080).build()],
        vec![
            eps("default", "web")
                .subset(
                    vec![addr("10.42.1.5", None)],
                    vec![],
                    vec![eport("http", 8080)],
                )
                .build(),
        ],
    );
    let c = case("clusterip-export", &link(), &target);
    let mirror = service(&c.source, "web-west");
    assert!(!mirror.is_headless());
    assert_eq!(mirror.spec.selector, None);
    let ep = endpoints(&c.source, "web-west");
    assert_eq!(ep.subsets[0].addresses[0].ip, "172.18.0.4");
    assert_eq!(ep.subsets[0].ports[0].port, 4143);
    assert_eq!(ep.subsets[0].ports[0].name.as_deref(), Some("http"));
    assert_eq!(c.passes, 1);
}

#[test]
fn headless_disabled() {
    let link = west()
        .enable_headless_services(false)
        .build()
        .expect("link");
    let c = case("headless-disabled", &link, &seed_target());
    assert_eq!(names(&c.source), ["nginx-svc-west"]);
    assert!(!service(&c.source, "nginx-svc-west").is_headless());
    assert_eq!(reasons(&c), [Reason::MirroredAsClusterIp]);
}

#[test]
fn no_named_addresses() {
    let target = TargetState::new(
        vec![
            svc("default", "db")
                .headless()
                .exported()
                .port("pg", 5432)
                .build(),
        ],
        vec![
            eps("default", "db")
                .subset(
                    vec![addr("10.42.0.7", None)],
                    vec![],
                    vec![eport("pg", 5432)],
                )
                .build(),
        ],
    );
    let c = case("no-named-addresses", &link(), &target);
    assert_eq!(names(&c.source), ["db-west"]);
    assert!(!service(&c.source, "db-west").is_headless());
    assert_eq!(reasons(&c), [Reason::MirroredAsClusterIp]);
}

#[test]
fn mixed_named_and_unnamed() {
    let target = TargetState::new(
        vec![
            svc("default", "nginx-svc")
                .headless()
                .exported()
                .port("http", 80)
                .build(),
        ],
        vec![
            eps("default", "nginx-svc")
                .subset(
                    vec![
                        addr("10.42.0.31", Some("nginx-set-0")),
                        addr("10.42.0.40", None),
                    ],
                    vec![],
                    vec![eport("http", 80)],
                )
                .build(),
        ],
    );
    let c = case("mixed-named-and-unnamed", &link(), &target);
    assert_eq!(names(&c.source), ["nginx-set-0-west", "nginx-svc-west"]);
    let root = endpoints(&c.source, "nginx-svc-west");
    assert_eq!(
        root.subsets[0].addresses.len(),
        1,
        "unnamed address contributes nothing"
    );
}

#[test]
fn named_only_not_ready() {
    let target = TargetState::new(
        vec![
            svc("default", "nginx-svc")
                .headless()
                .exported()
                .port("http", 80)
                .build(),
        ],
        vec![
            eps("default", "nginx-svc")
                .subset(
                    vec![],
                    vec![addr("10.42.0.31", Some("nginx-set-0"))],
                    vec![eport("http", 80)],
                )
                .build(),
        ],
    );
    let c = case("named-only-not-ready", &link(), &target);
    // A not-ready named address makes the root headless, but gets no endpoint mirror.
    assert_eq!(names(&c.source), ["nginx-svc-west"]);
    assert!(service(&c.source, "nginx-svc-west").is_headless());
    assert!(endpoints(&c.source, "nginx-svc-west").subsets.is_empty());
}

#[test]
fn portless_headless() {
    let mut target = seed_target();
    target.services[0].spec.ports.clear();
    target
        .services
        .push(svc("default", "web").exported().port("http", 80).build());
    let c = case("portless-headless", &link(), &target);
    assert_eq!(
        names(&c.source),
        ["web-west"],
        "everything else is mirrored"
    );
    let d = &c.diagnostics[0];
    assert_eq!(d.reason, Reason::NoPorts);
    assert_eq!(d.object.to_string(), "default/nginx-svc");
    assert_eq!(d.field.as_deref(), Some("spec.ports"));
}

#[test]
fn not_exported() {
    let target = TargetState::new(
        vec![
            svc("default", "no-label").port("http", 80).build(),
            // Not `remote-discovery`: that value selects flat-network mode (SPEC §9), covered
            // in tests/beyond_linkerd.rs.
            svc("default", "other-value")
                .label("mirror.linkerd.io/exported", "false")
                .port("http", 80)
                .build(),
        ],
        vec![],
    );
    let c = case("not-exported", &link(), &target);
    assert!(c.source.services.is_empty());
    // An empty selector exports nothing, even a Service carrying the usual label.
    let empty = west()
        .export_selector(svcmirror::LabelSelector::default())
        .build()
        .expect("link");
    let c = converge(&empty, &seed_target(), &mut fake());
    assert!(c.source.services.is_empty());
}

#[test]
fn empty_endpoints() {
    // ClusterIP export whose Endpoints has no ready address: mirror with no subsets.
    let target = TargetState::new(
        vec![svc("default", "web").exported().port("http", 80).build()],
        vec![
            eps("default", "web")
                .subset(
                    vec![],
                    vec![addr("10.42.1.5", None)],
                    vec![eport("http", 80)],
                )
                .build(),
        ],
    );
    let c = case("empty-endpoints", &link(), &target);
    assert!(endpoints(&c.source, "web-west").subsets.is_empty());
}

#[test]
fn no_endpoints_yet() {
    let mut target = seed_target();
    target.endpoints.clear();
    let c = case("no-endpoints-yet", &link(), &target);
    assert!(
        c.source.services.is_empty(),
        "a headless export waits for its Endpoints"
    );
    assert!(c.diagnostics.is_empty());
}

#[test]
fn two_namespaces_same_name() {
    let mut target = seed_target();
    target.services.push(
        svc("other", "nginx-svc")
            .headless()
            .exported()
            .port("http", 80)
            .build(),
    );
    let mut other = seed_endpoints(1);
    other.metadata.namespace = "other".into();
    target.endpoints.push(other);
    let c = case("two-namespaces-same-name", &link(), &target);
    let in_ns = |ns: &str| {
        c.source
            .services
            .iter()
            .filter(|s| s.metadata.namespace == ns)
            .count()
    };
    assert_eq!((in_ns("default"), in_ns("other")), (4, 2));
}

#[test]
fn two_subsets_different_ports() {
    let target = TargetState::new(
        vec![
            svc("default", "nginx-svc")
                .headless()
                .exported()
                .port("http", 80)
                .build(),
        ],
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
    );
    let c = case("two-subsets-different-ports", &link(), &target);
    let root = endpoints(&c.source, "nginx-svc-west");
    let ports: Vec<i32> = root.subsets.iter().map(|s| s.ports[0].port).collect();
    assert_eq!(root.subsets.len(), 2);
    assert!(ports.contains(&80) && ports.contains(&8080), "{ports:?}");
}

#[test]
fn multi_port() {
    let mut target = seed_target();
    target.services[0] = svc("default", "nginx-svc")
        .headless()
        .exported()
        .port("http", 80)
        .port("metrics", 9090)
        .build();
    target.endpoints[0].subsets[0]
        .ports
        .push(eport("metrics", 9090));
    let c = case("multi-port", &link(), &target);
    for name in ["nginx-svc-west", "nginx-set-0-west"] {
        assert_eq!(service(&c.source, name).spec.ports.len(), 2, "{name}");
    }
    let ep = endpoints(&c.source, "nginx-set-0-west");
    assert!(ep.subsets[0].ports.iter().all(|p| p.port == 4143));
    assert_eq!(ep.subsets[0].ports.len(), 2);
}

#[test]
fn gateway_identity_set() {
    let link = west()
        .gateway_identity(
            "linkerd-gateway.linkerd-multicluster.serviceaccount.identity.linkerd.cluster.local",
        )
        .build()
        .expect("link");
    let c = case("gateway-identity-set", &link, &seed_target());
    for ep in &c.source.endpoints {
        assert!(
            ep.metadata
                .annotations
                .contains_key("mirror.linkerd.io/remote-gateway-identity"),
            "{}",
            ep.metadata.name
        );
    }
}

#[test]
fn gateway_identity_unset() {
    let target = TargetState::new(
        vec![svc("default", "web").exported().port("http", 80).build()],
        vec![],
    );
    let c = case("gateway-identity-unset", &link(), &target);
    assert!(c.source.endpoints.iter().all(|ep| {
        !ep.metadata
            .annotations
            .contains_key("mirror.linkerd.io/remote-gateway-identity")
    }));
}

#[test]
fn gateway_down() {
    let link = west().gateway_alive(false).build().expect("link");
    let c = case("gateway-down", &link, &seed_target());
    for ep in &c.source.endpoints {
        for s in &ep.subsets {
            if ep.metadata.name == "nginx-svc-west" {
                // SPEC §6.6: the root mirror's hostname records stay published.
                assert_eq!(s.addresses.len(), 3, "{}", ep.metadata.name);
                assert!(s.not_ready_addresses.is_empty(), "{}", ep.metadata.name);
                continue;
            }
            assert!(s.addresses.is_empty(), "{}", ep.metadata.name);
            assert!(!s.not_ready_addresses.is_empty(), "{}", ep.metadata.name);
        }
    }
}

#[test]
fn several_gateway_addresses() {
    let link = west()
        .gateway_address(ip("172.18.0.5"))
        .gateway_address(ip("172.18.0.3"))
        .build()
        .expect("link");
    let c = case("several-gateway-addresses", &link, &seed_target());
    let ep = endpoints(&c.source, "nginx-set-0-west");
    let ips: Vec<&str> = ep.subsets[0]
        .addresses
        .iter()
        .map(|a| a.ip.as_str())
        .collect();
    assert_eq!(ips, ["172.18.0.3", "172.18.0.4", "172.18.0.5"]);
}

#[test]
fn ipv6_gateway() {
    let link = Link::builder("west")
        .gateway_address(ip("fd00:10::4"))
        .enable_headless_services(true)
        .build()
        .expect("link");
    let c = case("ipv6-gateway", &link, &seed_target());
    assert_eq!(
        endpoints(&c.source, "nginx-set-0-west").subsets[0].addresses[0].ip,
        "fd00:10::4"
    );
}

#[test]
fn long_names() {
    let long = "a-very-long-statefulset-governing-service-name-for-kafka-brok";
    let host = format!("{long}-0");
    let target = TargetState::new(
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
                    vec![addr("10.42.0.31", Some(&host))],
                    vec![],
                    vec![eport("kafka", 9092)],
                )
                .build(),
        ],
    );
    let c = case("long-names", &link(), &target);
    for s in &c.source.services {
        assert!(s.metadata.name.len() <= 63, "{}", s.metadata.name);
    }
    assert_eq!(c.source.services.len(), 2);
    assert!(reasons(&c).iter().all(|r| *r == Reason::NameShortened));
    assert_eq!(c.diagnostics.len(), 2);
    // The root Endpoints still names the pod by its real hostname.
    let root = c
        .source
        .endpoints
        .iter()
        .find(|e| {
            e.subsets
                .iter()
                .any(|s| s.addresses.iter().any(|a| a.hostname.is_some()))
        })
        .expect("root endpoints");
    assert_eq!(
        root.subsets[0].addresses[0].hostname.as_deref(),
        Some(&*host)
    );
}

#[test]
fn invalid_hostname() {
    let target = TargetState::new(
        vec![
            svc("default", "nginx-svc")
                .headless()
                .exported()
                .port("http", 80)
                .build(),
        ],
        vec![
            eps("default", "nginx-svc")
                .subset(
                    vec![
                        addr("10.42.0.31", Some("nginx-set-0")),
                        addr("10.42.0.32", Some("Nginx_Set.1")),
                    ],
                    vec![],
                    vec![eport("http", 80)],
                )
                .build(),
        ],
    );
    let c = case("invalid-hostname", &link(), &target);
    assert_eq!(names(&c.source), ["nginx-set-0-west", "nginx-svc-west"]);
    let d = &c.diagnostics[0];
    assert_eq!(d.reason, Reason::InvalidHostname);
    assert_eq!(d.field.as_deref(), Some("subsets[0].addresses[1].hostname"));
}

#[test]
fn duplicate_hostname() {
    let target = TargetState::new(
        vec![
            svc("default", "nginx-svc")
                .headless()
                .exported()
                .port("http", 80)
                .build(),
        ],
        vec![
            eps("default", "nginx-svc")
                .subset(
                    vec![
                        addr("10.42.0.39", Some("nginx-set-0")),
                        addr("10.42.0.31", Some("nginx-set-0")),
                    ],
                    vec![],
                    vec![eport("http", 80)],
                )
                .build(),
        ],
    );
    let c = case("duplicate-hostname", &link(), &target);
    assert_eq!(names(&c.source), ["nginx-set-0-west", "nginx-svc-west"]);
    assert_eq!(reasons(&c), [Reason::HostnameConflict]);
    assert_eq!(
        endpoints(&c.source, "nginx-svc-west").subsets[0]
            .addresses
            .len(),
        1
    );
}

#[test]
fn excluded_labels_annotations() {
    let link = west()
        .exclude_label(svcmirror::KeyPattern::new("team.example.com/*"))
        .exclude_annotation(svcmirror::KeyPattern::new("internal.example.com/owner"))
        .exclude_annotation(svcmirror::KeyPattern::new("config.linkerd.io/*"))
        .build()
        .expect("link");
    let mut target = seed_target();
    target.services[0] = svc("default", "nginx-svc")
        .headless()
        .exported()
        .port("http", 80)
        .label("app", "nginx")
        .label("team.example.com/name", "web")
        .label("mirror.linkerd.io/something", "x")
        .annotation("internal.example.com/owner", "alice")
        .annotation("config.linkerd.io/opaque-ports", "80")
        .annotation("service.kubernetes.io/topology-mode", "Auto")
        .annotation("example.com/kept", "yes")
        .build();
    let c = case("excluded-labels-annotations", &link, &target);
    let root = service(&c.source, "nginx-svc-west");
    let labels: Vec<&str> = root.metadata.labels.keys().map(String::as_str).collect();
    assert_eq!(
        labels,
        [
            "app",
            "mirror.linkerd.io/cluster-name",
            "mirror.linkerd.io/mirrored-service"
        ]
    );
    let annotations: Vec<&str> = root
        .metadata
        .annotations
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        annotations,
        [
            "config.linkerd.io/opaque-ports",
            "example.com/kept",
            "mirror.linkerd.io/remote-resource-version",
            "mirror.linkerd.io/remote-svc-fq-name"
        ]
    );
}
