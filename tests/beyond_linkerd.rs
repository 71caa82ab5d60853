//! SPEC.md §9 and §12, beyond Linkerd: hostname policies (linkerd#10916), remote-discovery and
//! federated modes, status conditions and `explain`. Each test is named after what it covers;
//! converged sources and explanations are insta snapshots, and the rule is asserted as well.

mod common;

use std::collections::BTreeMap;

use common::*;
use serde::Serialize;
use svcmirror::labels::{
    CLUSTER_NAME, FEDERATED, LOCAL_DISCOVERY_ANNOTATION, MIRRORED_SERVICE,
    REMOTE_DISCOVERY_ANNOTATION, REMOTE_DISCOVERY_LABEL, REMOTE_SERVICE,
};
use svcmirror::model::{Endpoints, Object, Service};
use svcmirror::{
    ConditionStatus, ConditionType, GatewayResolution, HostnamePolicy, LabelSelector, Link,
    MirrorMode, ObjectKey, Operation, Reason, Severity, SourceState, TargetState, conditions,
    explain, federate, is_dns1035_label, plan, plan_federated, translate,
};

#[derive(Serialize)]
struct View {
    passes: usize,
    diagnostics: Vec<String>,
    objects: Vec<Object>,
}

/// Converges `target` on a fresh fake and snapshots the result under `name`.
fn case(name: &str, link: &Link, target: &TargetState) -> Converged {
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

fn endpoints<'a>(s: &'a SourceState, name: &str) -> Option<&'a Endpoints> {
    s.endpoints.iter().find(|x| x.metadata.name == name)
}

fn names(s: &SourceState) -> Vec<&str> {
    s.services
        .iter()
        .map(|x| x.metadata.name.as_str())
        .collect()
}

fn reasons(c: &Converged) -> Vec<Reason> {
    c.diagnostics.iter().map(|d| d.reason).collect()
}

fn root_hostnames(ep: &Endpoints) -> Vec<(&str, &str)> {
    ep.subsets
        .iter()
        .flat_map(|s| &s.addresses)
        .map(|a| (a.hostname.as_deref().unwrap_or(""), a.ip.as_str()))
        .collect()
}

/// A StatefulSet's pods behind a headless Service that is *not* its `serviceName`: no hostname,
/// only `targetRef` (linkerd#10916).
fn unnamed_pods(policy: Option<&str>) -> TargetState {
    let mut s = svc("default", "web-headless")
        .headless()
        .exported()
        .port("http", 8080);
    if let Some(p) = policy {
        s = s.annotation("svcmirror.io/hostname-policy", p);
    }
    TargetState::new(
        vec![s.build()],
        vec![
            eps("default", "web-headless")
                .subset(
                    vec![
                        pod_addr("10.42.0.7", "web-0"),
                        pod_addr("10.42.0.8", "web-1"),
                    ],
                    vec![],
                    vec![eport("http", 8080)],
                )
                .build(),
        ],
    )
}

// ---- SPEC §12 hostname policy -------------------------------------------------------------------

/// A link whose gateway resolves endpoint mirror names by DNS, so that every hostname policy routes
/// (SPEC §12 routing constraint); Linkerd's gateway (the default) routes `hostname` names only.
fn dns_link() -> Link {
    west()
        .gateway_resolution(GatewayResolution::Dns)
        .build()
        .expect("link")
}

#[test]
fn unroutable_policies_behind_linkerds_gateway_fall_back_to_hostname() {
    // SPEC §12 routing constraint: through Linkerd's gateway, `web-0.web-headless.default.svc…`
    // resolves only to an address whose Endpoints `hostname` is `web-0` (linkerd2
    // filtered_listener_group.go `filterAddresses`). These pods have none, so no endpoint mirror is
    // made to look healthy: the export is mirrored as ClusterIP, and the diagnostic says why.
    for policy in ["target-ref", "dashed-ip"] {
        let c = converge(&link(), &unnamed_pods(Some(policy)), &mut fake());
        assert_eq!(names(&c.source), ["web-headless-west"], "{policy}");
        assert!(
            !service(&c.source, "web-headless-west").is_headless(),
            "{policy}"
        );
        assert_eq!(
            reasons(&c),
            [Reason::MirroredAsClusterIp, Reason::InvalidService],
            "{policy}"
        );
        let d = &c.diagnostics[1];
        assert_eq!(d.severity, Severity::Warning);
        assert_eq!(
            d.field.as_deref(),
            Some(r#"metadata.annotations["svcmirror.io/hostname-policy"]"#)
        );
        assert!(
            d.message.contains(policy) && d.message.contains("gateway resolution to `dns`"),
            "{}",
            d.message
        );
    }
    // A pod that has a hostname still routes, and is still mirrored, under either policy.
    let mut target = unnamed_pods(Some("dashed-ip"));
    target.endpoints[0].subsets[0]
        .addresses
        .push(addr("10.42.0.9", Some("web-2")));
    let c = converge(&link(), &target, &mut fake());
    assert_eq!(names(&c.source), ["web-2-west", "web-headless-west"]);
}

#[test]
fn target_ref_policy_mirrors_pods_without_hostnames_by_pod_name() {
    let c = case(
        "target-ref-policy",
        &dns_link(),
        &unnamed_pods(Some("target-ref")),
    );
    assert_eq!(
        names(&c.source),
        ["web-0-west", "web-1-west", "web-headless-west"]
    );
    assert!(service(&c.source, "web-headless-west").is_headless());
    let root = endpoints(&c.source, "web-headless-west").expect("root Endpoints");
    for pod in ["web-0", "web-1"] {
        let ip = service(&c.source, &format!("{pod}-west"))
            .spec
            .cluster_ip
            .clone()
            .expect("allocated");
        // `<pod>.web-headless-west.default.svc.cluster.local` resolves to the endpoint mirror.
        assert!(
            root_hostnames(root).contains(&(pod, ip.as_str())),
            "{root:?}"
        );
    }
    assert!(c.diagnostics.is_empty(), "{:?}", c.diagnostics);
}

#[test]
fn link_default_hostname_policy_applies_without_annotation() {
    let link = west()
        .gateway_resolution(GatewayResolution::Dns)
        .hostname_policy(HostnamePolicy::TargetRef)
        .build()
        .expect("link");
    let c = converge(&link, &unnamed_pods(None), &mut fake());
    assert_eq!(
        names(&c.source),
        ["web-0-west", "web-1-west", "web-headless-west"]
    );
}

#[test]
fn default_hostname_policy_is_linkerds_and_ignores_target_ref() {
    let c = converge(&link(), &unnamed_pods(None), &mut fake());
    assert_eq!(names(&c.source), ["web-headless-west"]);
    assert!(!service(&c.source, "web-headless-west").is_headless());
    assert_eq!(reasons(&c), [Reason::MirroredAsClusterIp]);
}

#[test]
fn dashed_ip_policy_names_pods_by_dashed_ip() {
    let target = TargetState::new(
        vec![
            svc("default", "db")
                .headless()
                .exported()
                .annotation("svcmirror.io/hostname-policy", "dashed-ip")
                .port("pg", 5432)
                .build(),
        ],
        vec![
            eps("default", "db")
                .subset(
                    vec![
                        addr("10.42.0.7", None),
                        addr("fd00::7", None),
                        addr("::1", None),
                        addr("10.42.0.9", Some("db-2")),
                    ],
                    vec![],
                    vec![eport("pg", 5432)],
                )
                .build(),
        ],
    );
    let c = case("dashed-ip-policy", &dns_link(), &target);
    // IPv4 dashed names start with a digit: the mirror name gets a letter (SPEC §3) and stays a
    // valid DNS-1035 label; IPv6 `fd00--7` fits as is; a hostname still wins.
    for s in &c.source.services {
        assert!(is_dns1035_label(&s.metadata.name), "{}", s.metadata.name);
    }
    let ipv4 = c
        .source
        .services
        .iter()
        .find(|s| s.metadata.name.starts_with("x10-42-0-7-west-"))
        .expect("endpoint mirror of 10.42.0.7");
    assert!(names(&c.source).contains(&"fd00--7-west"));
    assert!(names(&c.source).contains(&"db-2-west"));
    let root = endpoints(&c.source, "db-west").expect("root Endpoints");
    let hostnames: Vec<&str> = root_hostnames(root).iter().map(|(h, _)| *h).collect();
    assert_eq!(hostnames.len(), 3);
    for h in ["10-42-0-7", "fd00--7", "db-2"] {
        assert!(hostnames.contains(&h), "{hostnames:?}");
    }
    assert!(
        root_hostnames(root).contains(&("10-42-0-7", ipv4.spec.cluster_ip.as_deref().expect("ip")))
    );
    // `::1` dashes to `--1`, not a DNS label: InvalidHostname naming the ip field.
    let bad = c
        .diagnostics
        .iter()
        .find(|d| d.reason == Reason::InvalidHostname)
        .expect("InvalidHostname");
    assert_eq!(bad.field.as_deref(), Some("subsets[0].addresses[2].ip"));
    assert!(bad.message.contains("\"--1\""), "{}", bad.message);
    assert!(reasons(&c).contains(&Reason::NameShortened));
}

#[test]
fn skip_policy_mirrors_headless_export_as_clusterip() {
    let mut target = seed_target();
    target.services[0]
        .metadata
        .annotations
        .insert("svcmirror.io/hostname-policy".into(), "skip".into());
    let c = case("skip-policy", &dns_link(), &target);
    assert_eq!(names(&c.source), ["nginx-svc-west"]);
    assert!(!service(&c.source, "nginx-svc-west").is_headless());
    let d = &c.diagnostics[0];
    assert_eq!(reasons(&c), [Reason::MirroredAsClusterIp]);
    assert!(d.message.contains("`skip`"), "{}", d.message);
}

#[test]
fn invalid_policy_value_is_invalid_object_and_link_default_applies() {
    let link = west()
        .gateway_resolution(GatewayResolution::Dns)
        .hostname_policy(HostnamePolicy::TargetRef)
        .build()
        .expect("link");
    let c = case(
        "invalid-policy-value",
        &link,
        &unnamed_pods(Some("pod-name")),
    );
    // Mirrored with the link's default (target-ref), not with Linkerd's.
    assert_eq!(
        names(&c.source),
        ["web-0-west", "web-1-west", "web-headless-west"]
    );
    let d = &c.diagnostics[0];
    assert_eq!(reasons(&c), [Reason::InvalidObject]);
    assert_eq!(d.severity, Severity::Warning);
    assert_eq!(
        d.field.as_deref(),
        Some(r#"metadata.annotations["svcmirror.io/hostname-policy"]"#)
    );
    assert!(d.message.contains("\"pod-name\""), "{}", d.message);
}

#[test]
fn policy_names_keep_hostname_conflicts() {
    // A pod named `web-0` by targetRef and another whose hostname is `web-0`.
    let mut target = unnamed_pods(Some("target-ref"));
    target.endpoints[0].subsets[0]
        .addresses
        .push(addr("10.42.0.9", Some("web-0")));
    let c = converge(&dns_link(), &target, &mut fake());
    assert_eq!(reasons(&c), [Reason::HostnameConflict]);
    assert_eq!(
        names(&c.source),
        ["web-0-west", "web-1-west", "web-headless-west"]
    );
}

// ---- SPEC §9 remote discovery ---------------------------------------------------------------------

fn flat(name: &str) -> common::Svc {
    svc("default", name)
        .label("mirror.linkerd.io/exported", "remote-discovery")
        .label("app", name)
        .port("http", 80)
}

#[test]
fn remote_discovery_mirrors_clusterip_service_without_endpoints() {
    let target = TargetState::new(
        vec![flat("web").build()],
        vec![
            eps("default", "web")
                .subset(
                    vec![addr("10.42.1.5", None)],
                    vec![],
                    vec![eport("http", 80)],
                )
                .build(),
        ],
    );
    let c = case("remote-discovery-clusterip", &link(), &target);
    assert_eq!(names(&c.source), ["web-west"]);
    let mirror = service(&c.source, "web-west");
    assert!(!mirror.is_headless());
    assert_eq!(mirror.metadata.labels[REMOTE_DISCOVERY_LABEL], "west");
    assert_eq!(mirror.metadata.labels[REMOTE_SERVICE], "web");
    assert_eq!(mirror.metadata.labels[CLUSTER_NAME], "west");
    assert!(
        c.source.endpoints.is_empty(),
        "no Endpoints in remote discovery"
    );
    assert!(c.diagnostics.is_empty());
    let t = translate(&link(), &target, &c.source);
    assert_eq!(
        t.exports[&ObjectKey::new("default", "web")].mode,
        MirrorMode::RemoteDiscovery
    );
}

#[test]
fn remote_discovery_headless_is_mirrored_as_clusterip() {
    let target = TargetState::new(
        vec![flat("nginx-svc").headless().build()],
        vec![seed_endpoints(2)],
    );
    let c = case("remote-discovery-headless", &link(), &target);
    assert_eq!(names(&c.source), ["nginx-svc-west"]);
    assert!(!service(&c.source, "nginx-svc-west").is_headless());
    assert!(c.source.endpoints.is_empty());
    assert_eq!(reasons(&c), [Reason::MirroredAsClusterIp]);
    assert!(c.diagnostics[0].message.contains("remote-discovery"));
}

#[test]
fn both_selectors_gateway_mode_wins() {
    let link = west()
        .remote_discovery_selector(LabelSelector::parse("network=flat").expect("selector"))
        .build()
        .expect("link");
    let target = TargetState::new(
        vec![
            svc("default", "web")
                .exported()
                .label("network", "flat")
                .port("http", 80)
                .build(),
        ],
        vec![
            eps("default", "web")
                .subset(
                    vec![addr("10.42.1.5", None)],
                    vec![],
                    vec![eport("http", 80)],
                )
                .build(),
        ],
    );
    let c = case("both-selectors", &link, &target);
    let mirror = service(&c.source, "web-west");
    assert!(!mirror.metadata.labels.contains_key(REMOTE_DISCOVERY_LABEL));
    assert_eq!(
        endpoints(&c.source, "web-west")
            .expect("gateway Endpoints")
            .subsets[0]
            .addresses[0]
            .ip,
        "172.18.0.4"
    );
    assert_eq!(reasons(&c), [Reason::InvalidService]);
    assert_eq!(c.diagnostics[0].severity, Severity::Warning);
}

#[test]
fn gateway_to_remote_discovery_deletes_the_mirror_endpoints() {
    let gateway = TargetState::new(
        vec![svc("default", "web").exported().port("http", 80).build()],
        vec![],
    );
    let mut f = fake();
    converge(&link(), &gateway, &mut f);
    let flat_target = TargetState::new(vec![flat("web").build()], vec![]);
    let source = f.state();
    let t = translate(&link(), &flat_target, &source);
    let p = plan(&link(), &t.desired, &source);
    let ops: Vec<String> = p
        .operations
        .iter()
        .map(|op| format!("{} {} {}", op.action(), op.kind(), op.key()))
        .collect();
    assert_eq!(
        ops,
        [
            "update Service default/web-west",
            "delete Endpoints default/web-west"
        ]
    );
}

// ---- SPEC §9 federated ------------------------------------------------------------------------------

fn member(name: &str) -> common::Svc {
    svc("default", name)
        .label("mirror.linkerd.io/federated", "member")
        .label("app", name)
}

fn cluster(name: &str) -> Link {
    Link::builder(name)
        .gateway_address(ip("172.18.0.4"))
        .build()
        .expect("link")
}

fn only(services: Vec<Service>) -> TargetState {
    TargetState::new(services, vec![])
}

#[test]
fn federated_across_two_clusters_with_local_member_and_headless_member_rejected() {
    let (west, east, north) = (cluster("west"), cluster("east"), cluster("north"));
    let west_state = only(vec![
        member("web").port("http", 80).port("admin", 9000).build(),
        svc("default", "not-a-member")
            .exported()
            .port("http", 80)
            .build(),
    ]);
    let east_state = only(vec![
        member("web")
            .label("region", "east")
            .port("http", 80)
            .port("grpc", 9090)
            .build(),
    ]);
    // A headless member cannot join; a port defined differently is kept as first seen.
    let north_state = only(vec![member("web").headless().port("http", 80).build()]);
    let local_state = only(vec![
        member("web")
            .annotation("example.com/owner", "local")
            .port("http", 80)
            .port("admin", 9001)
            .build(),
    ]);
    let local_selector = LabelSelector::default_federated();
    // Input order does not matter; east listed twice (two links to one cluster) counts once.
    let t = federate(
        &[
            (&north, &north_state),
            (&west, &west_state),
            (&east, &east_state),
            (&east, &east_state),
        ],
        Some((&local_selector, &local_state)),
        &fake().state(),
    );
    let reversed = federate(
        &[
            (&east, &east_state),
            (&west, &west_state),
            (&north, &north_state),
        ],
        Some((&local_selector, &local_state)),
        &fake().state(),
    );
    assert_eq!(t, reversed);
    insta::assert_yaml_snapshot!("federated-two-clusters-local-member", t);

    let key = ObjectKey::new("default", "web-federated");
    let fed = t.desired.service(&key).expect("desired");
    assert_eq!(
        fed.metadata.annotations[REMOTE_DISCOVERY_ANNOTATION],
        "web@east,web@west"
    );
    assert_eq!(fed.metadata.annotations[LOCAL_DISCOVERY_ANNOTATION], "web");
    assert_eq!(fed.metadata.labels[MIRRORED_SERVICE], "true");
    assert_eq!(fed.metadata.labels[FEDERATED], "true");
    assert!(!fed.metadata.labels.contains_key(CLUSTER_NAME));
    assert!(
        !fed.metadata
            .labels
            .keys()
            .any(|k| k.starts_with("mirror.linkerd.io/f"))
    );
    let ports: Vec<(&str, i32)> = fed
        .spec
        .ports
        .iter()
        .map(|p| (p.name.as_deref().unwrap_or(""), p.port))
        .collect();
    // SPEC §9 (Linkerd: the oldest member's ports): the lead's, the local member's here.
    assert_eq!(ports, [("http", 80), ("admin", 9001)]);
    assert!(
        t.desired.endpoints.is_empty(),
        "no Endpoints for a federated Service"
    );
    assert_eq!(t.desired.services.len(), 1);

    let found: Vec<(Reason, Severity)> = t
        .diagnostics
        .iter()
        .map(|d| (d.reason, d.severity))
        .collect();
    assert_eq!(
        found,
        [
            (Reason::InvalidService, Severity::Warning),
            (Reason::InvalidService, Severity::Warning),
            (Reason::InvalidService, Severity::Error)
        ]
    );
    assert!(
        t.diagnostics[2].message.contains("headless"),
        "{}",
        t.diagnostics[2].message
    );
    assert!(t.diagnostics[2].message.contains("north"));
    assert!(t.diagnostics[0].message.contains("east") && t.diagnostics[0].message.contains("grpc"));
    assert!(
        t.diagnostics[1].message.contains("west") && t.diagnostics[1].message.contains("admin")
    );
    let web = ObjectKey::new("default", "web");
    assert_eq!(t.exports[&web].mode, MirrorMode::Federated);
    assert_eq!(t.exports.len(), 1, "not-a-member is no member");
}

#[test]
fn federated_only_headless_members_yields_nothing() {
    let west = cluster("west");
    let state = only(vec![member("db").headless().port("pg", 5432).build()]);
    let t = federate(&[(&west, &state)], None, &SourceState::default());
    assert!(t.desired.is_empty());
    assert_eq!(
        t.exports[&ObjectKey::new("default", "db")].mode,
        MirrorMode::NotMirrored
    );
    assert_eq!(t.diagnostics[0].reason, Reason::InvalidService);
    assert_eq!(t.diagnostics[0].field.as_deref(), Some("spec.clusterIP"));
}

/// The source holds a mirror of link `west` and a federated Service; nothing is desired any more.
fn mixed_source() -> SourceState {
    let west = cluster("west");
    let mirrors = translate(
        &west,
        &only(vec![
            svc("default", "web").exported().port("http", 80).build(),
        ]),
        &SourceState::default(),
    );
    let federated = federate(
        &[(&west, &only(vec![member("web").port("http", 80).build()]))],
        None,
        &SourceState::default(),
    );
    let mut source = SourceState::default();
    for (i, object) in mirrors
        .desired
        .objects()
        .into_iter()
        .chain(federated.desired.objects())
        .enumerate()
    {
        match object {
            Object::Service(mut s) => {
                s.metadata.uid = Some(format!("uid-{i}"));
                source.services.push(s);
            }
            Object::Endpoints(e) => source.endpoints.push(e),
            Object::EndpointSlice(e) => source.endpoint_slices.push(e),
            Object::Namespace(_) => {}
        }
    }
    source
}

fn deleted(p: &svcmirror::Plan) -> Vec<String> {
    p.operations
        .iter()
        .map(|op| match op {
            Operation::Delete { kind, key, .. } => format!("{kind} {key}"),
            other => panic!("unexpected {other:?}"),
        })
        .collect()
}

#[test]
fn federated_and_per_link_ownership_are_disjoint() {
    let source = mixed_source();
    assert_eq!(names(&source), ["web-west", "web-federated"]);
    // Link west, nothing exported any more: its mirror goes, the federated Service stays.
    let west = cluster("west");
    let t = translate(&west, &TargetState::default(), &source);
    assert_eq!(
        deleted(&plan(&west, &t.desired, &source)),
        ["Endpoints default/web-west", "Service default/web-west"]
    );
    // No member any more: the federated Service goes, the link's mirror stays.
    let f = federate(&[(&west, &TargetState::default())], None, &source);
    assert_eq!(
        deleted(&plan_federated(&f.desired, &source)),
        ["Service default/web-federated"]
    );
    // A link to a cluster called `federated` wants `web-federated` too: each side sees the other's
    // object as foreign and leaves it alone.
    let called_federated = cluster("federated");
    let target = only(vec![
        svc("default", "web").exported().port("http", 80).build(),
    ]);
    let t = translate(&called_federated, &target, &source);
    assert!(t.desired.services.is_empty());
    assert_eq!(t.diagnostics[0].reason, Reason::NameConflict);
    assert!(plan(&called_federated, &t.desired, &source).is_empty());
    let mut linked = source.clone();
    linked
        .services
        .retain(|s| s.metadata.name != "web-federated");
    let mirror = translate(&called_federated, &target, &SourceState::default());
    linked.services.extend(mirror.desired.into_services());
    let f = federate(
        &[(&west, &only(vec![member("web").port("http", 80).build()]))],
        None,
        &linked,
    );
    assert!(f.desired.services.is_empty());
    assert_eq!(f.diagnostics[0].reason, Reason::NameConflict);
    assert!(plan_federated(&f.desired, &linked).is_empty());
}

#[test]
fn federated_plan_never_deletes_a_link_mirror_even_one_carrying_the_federated_label() {
    // A target Service that happens to carry `svcmirror.io/federated: "true"`: its link mirror
    // copies the label, and only `cluster-name` tells the two ownerships apart.
    let west = cluster("west");
    let target = only(vec![
        svc("default", "web")
            .exported()
            .label(FEDERATED, "true")
            .port("http", 80)
            .build(),
    ]);
    let mirrors = translate(&west, &target, &SourceState::default());
    let mut source = SourceState::default();
    source.services.extend(mirrors.desired.into_services());
    assert_eq!(source.services[0].metadata.labels[FEDERATED], "true");
    let f = federate(&[(&west, &TargetState::default())], None, &source);
    assert!(plan_federated(&f.desired, &source).is_empty());
}

// ---- SPEC §12 status -------------------------------------------------------------------------------

fn condition_lines(
    all: &BTreeMap<ObjectKey, Vec<svcmirror::Condition>>,
) -> BTreeMap<String, Vec<String>> {
    all.iter()
        .map(|(k, cs)| (k.to_string(), cs.iter().map(ToString::to_string).collect()))
        .collect()
}

fn status_of(
    all: &BTreeMap<ObjectKey, Vec<svcmirror::Condition>>,
    key: &ObjectKey,
    type_: ConditionType,
) -> (ConditionStatus, String) {
    let c = all[key]
        .iter()
        .find(|c| c.type_ == type_)
        .expect("condition");
    (c.status, c.reason.clone())
}

#[test]
fn conditions_for_every_spec_translation_case() {
    let mut all = BTreeMap::new();
    for case in spec_translation_cases() {
        let c = converge(&case.link, &case.target, &mut fake());
        let t = translate(&case.link, &case.target, &c.source);
        let p = plan(&case.link, &t.desired, &c.source);
        assert!(p.is_empty(), "{}: converged", case.name);
        all.insert(case.name, condition_lines(&conditions(&t, &p)));
        let cs = conditions(&t, &p);
        let mirrored = |key: &ObjectKey| status_of(&cs, key, ConditionType::Mirrored);
        match case.name {
            "not-exported" => assert!(cs.is_empty()),
            "portless-headless" => {
                assert_eq!(
                    status_of(&cs, &case.service, ConditionType::Valid),
                    (ConditionStatus::False, "NoPorts".into())
                );
                assert_eq!(
                    mirrored(&case.service),
                    (ConditionStatus::False, "NoPorts".into())
                );
            }
            "no-endpoints-yet" => assert_eq!(
                mirrored(&case.service),
                (ConditionStatus::False, "WaitingForEndpoints".into())
            ),
            "duplicate-hostname" => assert_eq!(
                status_of(&cs, &case.service, ConditionType::Conflict),
                (ConditionStatus::True, "HostnameConflict".into())
            ),
            "invalid-hostname" => assert_eq!(
                status_of(&cs, &case.service, ConditionType::Valid),
                (ConditionStatus::False, "InvalidHostname".into())
            ),
            "headless-disabled" | "no-named-addresses" => assert_eq!(
                mirrored(&case.service),
                (ConditionStatus::True, "MirroredAsClusterIp".into())
            ),
            // Honest status: a headless export mirrored as specified is Mirrored=True.
            _ => assert_eq!(
                mirrored(&case.service),
                (ConditionStatus::True, "Mirrored".into()),
                "{}",
                case.name
            ),
        }
    }
    insta::assert_yaml_snapshot!("conditions-spec-translation-cases", all);
}

#[test]
fn conditions_pending_until_converged() {
    let seed = ObjectKey::new("default", "nginx-svc");
    let empty = fake().state();
    let t = translate(&link(), &seed_target(), &empty);
    let p = plan(&link(), &t.desired, &empty);
    let (status, reason) = status_of(&conditions(&t, &p), &seed, ConditionType::Mirrored);
    assert_eq!(
        (status, reason.as_str()),
        (ConditionStatus::False, "Pending")
    );
    // After pass 1 the root Endpoints still lack the hostnames: still pending.
    let mut f = fake();
    for op in &p.operations {
        f.apply(op).expect("applies");
    }
    let source = f.state();
    let t = translate(&link(), &seed_target(), &source);
    let p = plan(&link(), &t.desired, &source);
    let cs = conditions(&t, &p);
    assert_eq!(
        status_of(&cs, &seed, ConditionType::Mirrored),
        (ConditionStatus::False, "Pending".into())
    );
    assert!(
        cs[&seed][1]
            .message
            .contains("update Endpoints default/nginx-svc-west")
    );
}

#[test]
fn conditions_name_conflict_and_namespace_missing() {
    let mut foreign = svc("default", "web-west").build();
    foreign
        .metadata
        .labels
        .insert("app".into(), "theirs".into());
    let source = SourceState::new(vec![foreign], vec![])
        .with_namespaces(Some(vec![svcmirror::model::Namespace::new("default")]));
    let target = only(vec![
        svc("default", "web").exported().port("http", 80).build(),
        svc("missing", "api").exported().port("http", 80).build(),
    ]);
    let t = translate(&link(), &target, &source);
    let p = plan(&link(), &t.desired, &source);
    let cs = conditions(&t, &p);
    let web = ObjectKey::new("default", "web");
    let api = ObjectKey::new("missing", "api");
    assert_eq!(
        status_of(&cs, &web, ConditionType::Mirrored),
        (ConditionStatus::False, "NameConflict".into())
    );
    assert_eq!(
        status_of(&cs, &web, ConditionType::Conflict),
        (ConditionStatus::True, "NameConflict".into())
    );
    assert_eq!(
        status_of(&cs, &api, ConditionType::Mirrored),
        (ConditionStatus::False, "NamespaceMissing".into())
    );
    assert_eq!(
        status_of(&cs, &api, ConditionType::Valid),
        (ConditionStatus::True, "Valid".into())
    );
    let json = serde_json::to_value(&cs[&web][0]).expect("serializes");
    assert_eq!(json["type"], "Valid");
    assert_eq!(json["status"], "True");
}

// ---- SPEC §12 explain --------------------------------------------------------------------------------

#[derive(Serialize)]
struct ExplainView {
    service: String,
    exported: bool,
    mode: Option<MirrorMode>,
    steps: Vec<String>,
    objects: Vec<String>,
    operations: Vec<String>,
    conditions: Vec<String>,
    diagnostics: Vec<String>,
}

fn explain_view(e: &svcmirror::Explanation) -> ExplainView {
    ExplainView {
        service: e.service.to_string(),
        exported: e.exported(),
        mode: e.outcome.as_ref().map(|o| o.mode),
        steps: e
            .steps
            .iter()
            .map(|s| format!("{}: {}", s.rule, s.outcome))
            .collect(),
        objects: e
            .objects
            .iter()
            .map(|o| format!("{} {}", o.kind(), o.key()))
            .collect(),
        operations: e
            .operations
            .iter()
            .map(|op| format!("{} {} {}", op.action(), op.kind(), op.key()))
            .collect(),
        conditions: e.conditions.iter().map(ToString::to_string).collect(),
        diagnostics: e.diagnostics.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn explain_every_spec_translation_case() {
    for case in spec_translation_cases() {
        // What a user sees first: the link against a source that holds no mirror yet.
        let source = fake().state();
        let e = explain(&case.link, &case.target, &source, &case.service).expect("exists");
        let t = translate(&case.link, &case.target, &source);
        // The explanation is translate's own record: it cannot disagree with it.
        assert_eq!(
            e.outcome.as_ref(),
            t.exports.get(&case.service),
            "{}",
            case.name
        );
        assert_eq!(
            e.exported(),
            case.name != "not-exported",
            "{}: {:?}",
            case.name,
            e.steps
        );
        assert!(!e.steps.is_empty(), "{}", case.name);
        insta::assert_yaml_snapshot!(format!("explain-{}", case.name), explain_view(&e));
    }
}

#[test]
fn explain_after_convergence_reports_mirrored_headless() {
    let c = converge(&link(), &seed_target(), &mut fake());
    let key = ObjectKey::new("default", "nginx-svc");
    let e = explain(&link(), &seed_target(), &c.source, &key).expect("exists");
    assert!(e.operations.is_empty());
    let mirrored = &e.conditions[1];
    assert_eq!(
        (mirrored.type_, mirrored.status, mirrored.reason.as_str()),
        (ConditionType::Mirrored, ConditionStatus::True, "Mirrored")
    );
    let allocated = service(&c.source, "nginx-set-0-west")
        .spec
        .cluster_ip
        .clone()
        .expect("ip");
    assert!(
        e.steps
            .iter()
            .any(|s| s.rule.starts_with("SPEC §6.5") && s.outcome.contains(&allocated)),
        "{:?}",
        e.steps
    );
    assert_eq!(e.objects.len(), 8, "4 Services and their Endpoints");
}

#[test]
fn explain_not_exported_names_selectors_and_labels_and_unknown_is_none() {
    let target = only(vec![member("web").port("http", 80).build()]);
    let source = fake().state();
    let e = explain(&link(), &target, &source, &ObjectKey::new("default", "web")).expect("exists");
    assert!(!e.exported());
    let text: Vec<String> = e
        .steps
        .iter()
        .map(|s| format!("{}: {}", s.rule, s.outcome))
        .collect();
    assert_eq!(
        text,
        [
            "SPEC §2 export selector: `mirror.linkerd.io/exported=true` does not match",
            "SPEC §9 remote-discovery selector: `mirror.linkerd.io/exported=remote-discovery` does not match",
            "SPEC §9 federated selector: `mirror.linkerd.io/federated=member` matches: a member of the federated Service, which `federate` computes across links",
            "SPEC §2 not exported: no selector of this link exports it (labels: app=web, mirror.linkerd.io/federated=member)",
        ]
    );
    assert!(e.conditions.is_empty() && e.objects.is_empty());
    assert!(
        explain(
            &link(),
            &target,
            &source,
            &ObjectKey::new("default", "nope")
        )
        .is_none()
    );
}

#[test]
fn explain_hostname_policy_and_remote_discovery() {
    let source = fake().state();
    let key = ObjectKey::new("default", "web-headless");
    let e = explain(
        &dns_link(),
        &unnamed_pods(Some("target-ref")),
        &source,
        &key,
    )
    .expect("exists");
    let policy = e
        .steps
        .iter()
        .find(|s| s.rule == "SPEC §12 hostname policy")
        .expect("policy step");
    assert_eq!(
        policy.outcome,
        "`target-ref` (annotation svcmirror.io/hostname-policy)"
    );
    let named = e
        .steps
        .iter()
        .find(|s| s.rule == "SPEC §6.4 named-address rule")
        .expect("named step");
    assert!(
        named
            .outcome
            .contains("web-0 (10.42.0.7, ready, from targetRef.name)"),
        "{}",
        named.outcome
    );

    let flat_target = only(vec![flat("web").build()]);
    let e = explain(
        &link(),
        &flat_target,
        &source,
        &ObjectKey::new("default", "web"),
    )
    .expect("exists");
    assert_eq!(
        e.outcome.as_ref().map(|o| o.mode),
        Some(MirrorMode::RemoteDiscovery)
    );
    assert!(e.steps.iter().any(|s| s.rule == "SPEC §9 remote discovery"));
    assert_eq!(e.objects.len(), 1, "a Service, no Endpoints");
}
