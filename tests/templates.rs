//! Issue 13 item 2, one template per export (SPEC §6.5): the desired state keeps each endpoint
//! mirror as its export's template and its per-pod parts, and `plan` compares them with the
//! observed objects in place. These properties pin that shortcut to the field-by-field
//! comparison: over generated worlds, converged and then disturbed in every field `plan`
//! compares, the plan of the templated desired state equals the plan of the same state with every
//! object built.

mod common;

use std::collections::BTreeMap;

use common::strategies::target as arb_target;
use common::*;
use proptest::prelude::*;
use svcmirror::labels::{HEADLESS_MIRROR_SVC_NAME, REMOTE_RESOURCE_VERSION, REMOTE_SVC_FQ_NAME};
use svcmirror::model::{EndpointAddress, EndpointSubset, IntOrString, ServicePort};
use svcmirror::{
    Desired, Endpoints, EndpointsDigest, Entry, Link, Object, Operation, Service, ServiceDigest,
    SourceState, StringMap, TargetState, Templated, labels, plan, translate,
};

/// The same desired state with every entry built (what `plan` compared before templates).
fn built(desired: &Desired) -> Desired {
    let mut out = desired.clone();
    out.services = desired
        .services
        .iter()
        .map(|(k, e)| (k.clone(), Entry::Object(e.to_object(k).into_owned())))
        .collect();
    out.endpoints = desired
        .endpoints
        .iter()
        .map(|(k, e)| (k.clone(), Entry::Object(e.to_object(k).into_owned())))
        .collect();
    out
}

/// One disturbance of an observed endpoint mirror, in a field `plan` compares (or one it must
/// ignore: the server-set ClusterIP and resourceVersion).
#[derive(Debug, Clone)]
enum Disturb {
    AddLabel,
    DropLabel,
    ChangeFqName,
    DropResourceVersion,
    ChangeResourceVersion,
    AddAnnotation,
    RenamePort,
    PortTargetAsWritten,
    ReorderPorts,
    AddSelector,
    TypeNodePort,
    Headless,
    ServerFields,
    ExtraAddress,
    EmptySubsets,
    ReorderSubsets,
}

fn disturb() -> impl Strategy<Value = Disturb> {
    prop_oneof![
        Just(Disturb::AddLabel),
        Just(Disturb::DropLabel),
        Just(Disturb::ChangeFqName),
        Just(Disturb::DropResourceVersion),
        Just(Disturb::ChangeResourceVersion),
        Just(Disturb::AddAnnotation),
        Just(Disturb::RenamePort),
        Just(Disturb::PortTargetAsWritten),
        Just(Disturb::ReorderPorts),
        Just(Disturb::AddSelector),
        Just(Disturb::TypeNodePort),
        Just(Disturb::Headless),
        Just(Disturb::ServerFields),
        Just(Disturb::ExtraAddress),
        Just(Disturb::EmptySubsets),
        Just(Disturb::ReorderSubsets),
    ]
}

fn apply(source: &mut SourceState, at: usize, how: &Disturb) {
    let is_endpoint_mirror = |labels: &StringMap| labels.contains_key(HEADLESS_MIRROR_SVC_NAME);
    let services: Vec<usize> = (0..source.services.len())
        .filter(|&i| is_endpoint_mirror(&source.services[i].metadata.labels))
        .collect();
    let endpoints: Vec<usize> = (0..source.endpoints.len())
        .filter(|&i| is_endpoint_mirror(&source.endpoints[i].metadata.labels))
        .collect();
    if services.is_empty() || endpoints.is_empty() {
        return;
    }
    let s = &mut source.services[services[at % services.len()]];
    let e = &mut source.endpoints[endpoints[at % endpoints.len()]];
    match how {
        Disturb::AddLabel => {
            s.metadata.labels.insert("extra".into(), "x".into());
            e.metadata.labels.insert("extra".into(), "x".into());
        }
        Disturb::DropLabel => {
            s.metadata.labels.remove(HEADLESS_MIRROR_SVC_NAME);
            e.metadata.labels.remove(HEADLESS_MIRROR_SVC_NAME);
        }
        Disturb::ChangeFqName => {
            s.metadata.annotations.insert(
                REMOTE_SVC_FQ_NAME.into(),
                "other.web.default.svc.cluster.local".into(),
            );
            e.metadata.annotations.insert(
                REMOTE_SVC_FQ_NAME.into(),
                "other.web.default.svc.cluster.local".into(),
            );
        }
        Disturb::DropResourceVersion => {
            s.metadata.annotations.remove(REMOTE_RESOURCE_VERSION);
        }
        Disturb::ChangeResourceVersion => {
            s.metadata
                .annotations
                .insert(REMOTE_RESOURCE_VERSION.into(), "999".into());
        }
        Disturb::AddAnnotation => {
            s.metadata.annotations.insert("note".into(), "x".into());
            e.metadata.annotations.insert("note".into(), "x".into());
        }
        Disturb::RenamePort => {
            if let Some(p) = s.spec.ports.first_mut() {
                p.name = Some("renamed".into());
            }
            if let Some(p) = e.subsets.first_mut().and_then(|s| s.ports.first_mut()) {
                p.name = Some("renamed".into());
            }
        }
        Disturb::PortTargetAsWritten => {
            // The API server's default (targetPort = port): equal as stored, not as written.
            for p in &mut s.spec.ports {
                if p.target_port.is_none() {
                    p.target_port = Some(IntOrString::Int(p.port));
                }
                p.protocol.get_or_insert_with(|| "TCP".into());
            }
        }
        Disturb::ReorderPorts => s.spec.ports.reverse(),
        Disturb::AddSelector => {
            s.spec.selector = Some(BTreeMap::from([("app".into(), "x".into())]));
        }
        Disturb::TypeNodePort => s.spec.type_ = Some("NodePort".into()),
        Disturb::Headless => s.spec.cluster_ip = Some("None".into()),
        Disturb::ServerFields => {
            s.spec.cluster_ip = Some("10.43.9.9".into());
            s.metadata.resource_version = Some("12345".into());
            e.metadata.uid = Some("uid-1".into());
        }
        Disturb::ExtraAddress => {
            if let Some(subset) = e.subsets.first_mut() {
                subset.addresses.push(EndpointAddress {
                    ip: "10.9.9.9".into(),
                    ..EndpointAddress::default()
                });
            }
        }
        Disturb::EmptySubsets => e.subsets.clear(),
        Disturb::ReorderSubsets => {
            e.subsets.push(EndpointSubset::default());
            e.subsets.reverse();
        }
    }
    // Ports the property must not trip over: an endpoint mirror always has some.
    if s.spec.ports.is_empty() {
        s.spec.ports.push(ServicePort {
            port: 80,
            ..ServicePort::default()
        });
    }
}

/// The world `target` converged by the fake, then disturbed by `disturbances`, and what the link
/// desires against it: the set-up of both properties below.
fn disturbed(
    target: &TargetState,
    disturbances: &[(usize, Disturb)],
) -> (Link, SourceState, Desired) {
    let link = link();
    let mut f = fake();
    converge(&link, target, &mut f);
    let mut source = f.state();
    for (at, how) in disturbances {
        apply(&mut source, *at, how);
    }
    let desired = translate(&link, target, &source).desired;
    (link, source, desired)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// The templated plan is the field-by-field plan, on a converged source disturbed in up to
    /// four endpoint mirrors (and, with no disturbance, both plan nothing).
    #[test]
    fn a_templated_plan_equals_the_field_by_field_plan(
        target in arb_target(),
        disturbances in prop::collection::vec((any::<usize>(), disturb()), 0..4),
    ) {
        let (link, source, desired) = disturbed(&target, &disturbances);
        let templated = plan(&link, &desired, &source);
        let reference = plan(&link, &built(&desired), &source);
        prop_assert_eq!(&templated, &reference);
        if disturbances.is_empty() {
            prop_assert!(templated.is_empty(), "{:?}", templated.operations);
        }
    }

    /// Issue 13 item 3, desired side: an entry's digests (an endpoint mirror's from its
    /// template's, digested once, and its own annotations) are those of the object it builds;
    /// and against the disturbed source, the groups they name changed are exactly the groups of
    /// the field-by-field plan's update at that key (none when it plans nothing there).
    #[test]
    fn entry_digests_name_the_groups_the_plan_updates(
        target in arb_target(),
        disturbances in prop::collection::vec((any::<usize>(), disturb()), 0..4),
    ) {
        let (link, source, desired) = disturbed(&target, &disturbances);
        let reference = plan(&link, &built(&desired), &source);
        let updated = |key: &svcmirror::ObjectKey, service: bool| {
            reference.operations.iter().find_map(|op| match op {
                Operation::Update { object: Object::Service(o), changed, .. }
                    if service && &o.metadata.key() == key => Some(changed.clone()),
                Operation::Update { object: Object::Endpoints(o), changed, .. }
                    if !service && &o.metadata.key() == key => Some(changed.clone()),
                _ => None,
            })
        };
        let touched = |key: &svcmirror::ObjectKey| {
            reference.operations.iter().any(|op| &op.key() == key)
        };
        for (key, entry) in &desired.services {
            prop_assert_eq!(entry.digest(), entry.to_object(key).digest());
            let Some(have) = source.services.iter().find(|s| &s.metadata.key() == key) else {
                continue;
            };
            if !labels::is_owned_by(&have.metadata, &link) || have.is_headless() != entry.is_headless() {
                continue;
            }
            let changes = entry.digest().changes(&ServiceDigest::of(have));
            prop_assert_eq!(
                &Service::record_changes(entry, &have.metadata, &ServiceDigest::of(have)),
                &changes,
                "a record's groups (maps compared, the rest by digest) are the digests'"
            );
            match updated(key, true) {
                Some(changed) => prop_assert_eq!(changes, changed),
                None if !touched(key) => prop_assert!(changes.is_empty(), "{key}: {changes:?}"),
                None => {}
            }
        }
        for (key, entry) in &desired.endpoints {
            prop_assert_eq!(entry.digest(), entry.to_object(key).digest());
            let Some(have) = source.endpoints.iter().find(|e| &e.metadata.key() == key) else {
                continue;
            };
            if !labels::is_owned_by(&have.metadata, &link) {
                continue;
            }
            let changes = entry.digest().changes(&EndpointsDigest::of(have));
            prop_assert_eq!(
                &Endpoints::record_changes(entry, &have.metadata, &EndpointsDigest::of(have)),
                &changes,
                "a record's groups (maps compared, the rest by digest) are the digests'"
            );
            match updated(key, false) {
                Some(changed) => prop_assert_eq!(changes, changed),
                None if !touched(key) => prop_assert!(changes.is_empty(), "{key}: {changes:?}"),
                None => {}
            }
        }
    }
}

/// The seed's StatefulSet (SPEC §11, the walkthrough): its three endpoint mirrors are kept as
/// one template, and building them gives the objects the walkthrough shows.
#[test]
fn the_seed_statefulset_keeps_one_template_for_its_endpoint_mirrors() {
    let link = link();
    let mut f = fake();
    converge(&link, &seed_target(), &mut f);
    let desired = translate(&link, &seed_target(), &f.state()).desired;
    let mirrors: Vec<_> = desired
        .services
        .iter()
        .filter_map(|(k, e)| match e {
            Entry::EndpointMirror(m) => Some((k.clone(), m.clone())),
            Entry::Object(_) => None,
        })
        .collect();
    assert_eq!(
        mirrors
            .iter()
            .map(|(k, _)| k.name.as_str())
            .collect::<Vec<_>>(),
        ["nginx-set-0-west", "nginx-set-1-west", "nginx-set-2-west"]
    );
    let first = mirrors[0].1.template();
    assert!(
        mirrors
            .iter()
            .all(|(_, m)| std::ptr::eq(m.template(), first)),
        "one shared template"
    );
    assert_eq!(
        mirrors[1].1.fq_name(),
        "nginx-set-1.nginx-svc.default.svc.cluster.local"
    );
    let svc = desired.service(&mirrors[1].0).expect("built");
    assert_eq!(
        svc.metadata.labels[HEADLESS_MIRROR_SVC_NAME],
        "nginx-svc-west"
    );
    assert_eq!(
        svc.spec.cluster_ip, None,
        "ClusterIP, allocated by the source"
    );
    let ep = desired.endpoints_object(&mirrors[1].0).expect("built");
    assert_eq!(ep.subsets[0].addresses[0].ip, "172.18.0.4", "the gateway");
}
