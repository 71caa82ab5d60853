//! The stores' tests (issue 13, the inputs are the store): their indexes and counts follow
//! every write, and the core reads them as it reads their snapshots.

use super::*;
use crate::labels::{HEADLESS_MIRROR_SVC_NAME, REMOTE_SVC_FQ_NAME};
use crate::model::Namespace;
use crate::state::SourceState;

fn mirror(root: Option<&str>, ns: &str, name: &str, fq: &str) -> Service {
    let mut svc = Service::new(ns, name);
    svc.metadata
        .annotations
        .insert(REMOTE_SVC_FQ_NAME.into(), fq.into());
    if let Some(root) = root {
        svc.metadata
            .labels
            .insert(HEADLESS_MIRROR_SVC_NAME.into(), root.into());
    }
    svc
}

fn annotated(cache: &SourceStore, ns: &str, export: &str) -> Vec<String> {
    cache
        .annotated_for(&ObjectKey::new(ns, export))
        .map(|(kind, key)| format!("{kind:?} {key}"))
        .collect()
}

/// Issue 13 (the inputs are the store): the export and root indexes follow every upsert
/// and removal.
#[test]
fn indexes_follow_every_write() {
    let mut cache = SourceStore::from_state(SourceState::new(
        vec![
            mirror(None, "b", "web-west", "web.b.svc.cluster.local"),
            mirror(
                Some("web-west"),
                "b",
                "web-0-west",
                "web-0.web.b.svc.cluster.local",
            ),
            mirror(None, "c", "web-west", "web.b.svc.cluster.local"),
        ],
        Vec::new(),
    ));
    let mut ep = Endpoints::new("b", "web-west");
    ep.metadata
        .annotations
        .insert(REMOTE_SVC_FQ_NAME.into(), "web.b.svc.cluster.local".into());
    cache.upsert(Object::Endpoints(ep));
    assert_eq!(
        annotated(&cache, "b", "web"),
        [
            "Service b/web-0-west",
            "Service b/web-west",
            "Endpoints b/web-west"
        ]
    );
    // Indexed in its own namespace: labels::export_of rejects it, the index need not.
    assert_eq!(annotated(&cache, "c", "web"), ["Service c/web-west"]);
    let roots: Vec<String> = cache
        .labelled_with_root("b", "web-west")
        .map(|(_, key)| key.to_string())
        .collect();
    assert_eq!(roots, ["b/web-0-west"]);

    // A new version that names another export moves; a deleted object leaves.
    cache.upsert(Object::Service(mirror(
        None,
        "b",
        "web-west",
        "api.b.svc.cluster.local",
    )));
    cache.remove(Kind::Endpoints, &ObjectKey::new("b", "web-west"));
    assert_eq!(annotated(&cache, "b", "web"), ["Service b/web-0-west"]);
    assert_eq!(annotated(&cache, "b", "api"), ["Service b/web-west"]);
    cache.remove(Kind::Service, &ObjectKey::new("b", "web-0-west"));
    assert!(annotated(&cache, "b", "web").is_empty());
    assert_eq!(cache.labelled_with_root("b", "web-west").count(), 0);
    assert!(cache.by_root.is_empty());
    assert_eq!(
        cache
            .service(&ObjectKey::new("b", "web-west"))
            .map(|s| s.metadata().name.as_str()),
        Some("web-west")
    );
}

/// Issue 13 (the inputs are the store): a store built from objects as they come, or from a
/// snapshot, holds the same; updates replace in place and removals forget, and the snapshot
/// taken back is sorted by key whatever the input order.
#[test]
fn stores_upsert_remove_and_collect() {
    let mut web = Service::new("b", "web");
    let api = Service::new("a", "api");
    let ep = Endpoints::new("b", "web");
    let collected: TargetStore = [
        Object::Service(web.clone()),
        Object::Endpoints(ep.clone()),
        Object::Service(api.clone()),
    ]
    .into_iter()
    .collect();
    let snapshot = TargetState::new(vec![web.clone(), api.clone()], vec![ep.clone()]);
    assert_eq!(collected, TargetStore::from_state(snapshot));
    assert_eq!(
        collected.state().services,
        [api.clone(), web.clone()],
        "sorted by key"
    );
    let mut target = collected;
    web.metadata.resource_version = Some("2".to_owned());
    target.upsert(Object::Service(web.clone()));
    assert_eq!(target.service(&web.metadata.key()), Some(&web));
    target.remove(Kind::Endpoints, &ep.metadata.key());
    assert_eq!(target.endpoints(&ep.metadata.key()), None);
    assert_eq!(target.export_state(&web.metadata.key()).services, [web]);

    let source: SourceStore = [
        Object::Namespace(Namespace::new("a")),
        Object::Service(api.clone()),
    ]
    .into_iter()
    .collect();
    let namespaces: Vec<String> = source
        .namespace_list()
        .expect("listed")
        .into_iter()
        .map(|ns| ns.metadata.name)
        .collect();
    assert_eq!(namespaces, ["a"]);
    assert_eq!(
        source,
        SourceStore::from_state(
            SourceState::new(vec![api], Vec::new())
                .with_namespaces(Some(vec![Namespace::new("a")]))
        ),
        "a store equals the store of its objects as a list"
    );
    assert_eq!(
        SourceStore::default().namespace_list(),
        None,
        "unknown, not empty"
    );
}

fn pods(ns: &str, name: &str, hosts: &[&str]) -> Endpoints {
    use crate::model::{EndpointAddress, EndpointSubset};
    let mut ep = Endpoints::new(ns, name);
    ep.subsets = vec![EndpointSubset {
        addresses: hosts
            .iter()
            .enumerate()
            .map(|(i, h)| EndpointAddress {
                ip: format!("10.42.0.{i}"),
                hostname: Some((*h).into()),
                ..EndpointAddress::default()
            })
            .collect(),
        ..EndpointSubset::default()
    }];
    ep
}

/// F16 (SPEC §7): the count of exports per mirror-name base follows every event, so a free
/// name is contested exactly while another export's Service name or pod hostname is its base.
#[test]
fn contested_bases_follow_the_target() {
    let (aaa, a) = (
        ObjectKey::new("default", "aaa"),
        ObjectKey::new("default", "a"),
    );
    let mut cache = TargetStore::default();
    cache.upsert(Object::Service(Service::new("default", "aaa")));
    cache.upsert(Object::Endpoints(pods("default", "aaa", &["a", "web"])));
    assert!(!cache.contested(&aaa, "a"), "nobody else wants `a` yet");
    cache.upsert(Object::Service(Service::new("default", "a")));
    assert!(
        cache.contested(&aaa, "a"),
        "Service `a`'s mirror is named after `a`"
    );
    assert!(
        cache.contested(&a, "a"),
        "and so is aaa's pod `a`'s endpoint mirror"
    );
    assert!(!cache.contested(&aaa, "web"));
    assert!(
        !cache.contested(&ObjectKey::new("other", "aaa"), "a"),
        "another namespace never contests"
    );
    cache.upsert(Object::Endpoints(pods("default", "aaa", &["web"])));
    assert!(!cache.contested(&a, "a"), "aaa no longer has pod `a`");
    cache.upsert(Object::Endpoints(pods("default", "a", &["web"])));
    assert!(cache.contested(&aaa, "web"));
    cache.remove(Kind::Service, &a);
    assert!(
        cache.contested(&aaa, "web"),
        "a's Endpoints still name pod `web`"
    );
    cache.remove(Kind::Endpoints, &a);
    assert!(!cache.contested(&aaa, "web"));
    let rebuilt = TargetStore::from_state(cache.state());
    assert_eq!(
        rebuilt.bases, cache.bases,
        "a relist counts as the events did"
    );
}

/// Issue 13 (the inputs are the store): `translate` and `plan` read the stores in place and
/// give what their snapshots give, findings and field paths included — here a Service with an
/// invalid port (`spec.ports[1].port`) and a mirror name held by a foreign Service (SPEC §7
/// `NameConflict`), inserted out of key order.
#[test]
fn the_stores_translate_and_plan_as_their_snapshots() {
    use crate::link::Link;
    use crate::model::ServicePort;
    use crate::plan::plan;
    use crate::translate::translate;
    let link = Link::builder("west")
        .gateway_address("172.18.0.4".parse().expect("ip"))
        .build()
        .expect("link");
    let exported = |name: &str, ports: &[i32]| {
        let mut svc = Service::new("default", name);
        svc.metadata
            .labels
            .insert("mirror.linkerd.io/exported".into(), "true".into());
        svc.spec.ports = ports
            .iter()
            .map(|p| ServicePort {
                name: Some(format!("p{p}")),
                port: *p,
                ..ServicePort::default()
            })
            .collect();
        Object::Service(svc)
    };
    let target: TargetStore = [
        exported("web", &[80]),
        exported("bad", &[80, 0]),
        exported("api", &[8080]),
    ]
    .into_iter()
    .collect();
    let source_list = SourceState::new(vec![Service::new("default", "api-west")], Vec::new())
        .with_namespaces(Some(vec![Namespace::new("default")]));
    let source = SourceStore::from_state(source_list.clone());
    let target_list = target.state();
    let by_store = translate(&link, &target, &source);
    let by_list = translate(&link, &target_list, &source_list);
    assert_eq!(format!("{by_store:?}"), format!("{by_list:?}"));
    let planned = plan(&link, &by_store.desired, &source);
    assert_eq!(
        format!("{planned:?}"),
        format!("{:?}", plan(&link, &by_list.desired, &source_list))
    );
    let paths: Vec<_> = by_store
        .diagnostics
        .iter()
        .filter_map(|d| d.field.as_deref())
        .collect();
    assert!(paths.contains(&"spec.ports[1].port"), "{paths:?}");
    assert!(
        by_store
            .diagnostics
            .iter()
            .any(|d| d.reason == crate::diagnostics::Reason::NameConflict
                && d.object.name == "api-west"),
        "{:?}",
        by_store.diagnostics
    );
}

/// Issue 13 item 3: the source store keeps records, and the records of an export's mirrors share
/// one label map (SPEC §6.5: they carry the same labels); the map is forgotten with the last
/// record that holds it, and a record reads back its object's metadata and ClusterIP.
#[test]
fn records_share_equal_label_maps_until_the_last_one_goes() {
    let labelled = |name: &str| {
        let mut svc = Service::new("ns", name);
        svc.metadata.labels.insert(
            "mirror.linkerd.io/mirrored-service".to_owned(),
            "true".to_owned(),
        );
        svc.spec.cluster_ip = Some("10.43.0.7".to_owned());
        svc
    };
    let mut store = SourceStore::default();
    store.upsert(Object::Service(labelled("a")));
    store.upsert(Object::Service(labelled("b")));
    let (a, b) = (ObjectKey::new("ns", "a"), ObjectKey::new("ns", "b"));
    let labels = |key: &ObjectKey| store.service(key).expect("held").metadata().labels.clone();
    assert!(labels(&a).shares_with(&labels(&b)), "one map for both");
    assert_eq!(store.labels.len(), 1);
    let held = store.service(&a).expect("held");
    assert!(held.full().is_none(), "a record");
    assert_eq!(held.cluster_ip(), Some("10.43.0.7"));
    assert_eq!(held.metadata().name, "a");
    store.remove(Kind::Service, &a);
    assert_eq!(store.labels.len(), 1, "b still holds it");
    store.upsert(Object::Service(Service::new("ns", "b")));
    assert!(store.labels.is_empty(), "nothing holds it any more");
}

/// A record reads back `spec.clusterIPs` as its object held it — `[clusterIP]` (held once),
/// empty, or another list — since `plan` copies it into an update (SPEC §6.6).
#[test]
fn a_record_reads_back_its_cluster_ips() {
    let ip = "10.43.0.7".to_owned();
    for ips in [
        vec![ip.clone()],
        Vec::new(),
        vec![ip.clone(), "fd00::7".to_owned()],
        vec!["10.43.0.8".to_owned()],
    ] {
        let mut svc = Service::new("ns", "a");
        svc.spec.cluster_ip = Some(ip.clone());
        svc.spec.cluster_ips.clone_from(&ips);
        let store: SourceStore = [Object::Service(svc)].into_iter().collect();
        let held = store.service(&ObjectKey::new("ns", "a")).expect("held");
        assert!(held.full().is_none(), "a record");
        assert_eq!(held.cluster_ips(), ips.as_slice());
    }
    let mut none = Service::new("ns", "b");
    none.spec.cluster_ips = vec![ip];
    let store: SourceStore = [Object::Service(none)].into_iter().collect();
    let held = store.service(&ObjectKey::new("ns", "b")).expect("held");
    assert_eq!(
        held.cluster_ips(),
        ["10.43.0.7"],
        "no clusterIP: the list as held"
    );
    assert_eq!(held.cluster_ip(), None);
}
