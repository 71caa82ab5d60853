//! SPEC §12 (honest status), wired: the driver publishes every export's outcome and conditions
//! (`DriverStatus::exports`), keeps them per scope, and records an Event in the target cluster
//! when — and only when — an export's conditions change.

mod common;

use std::sync::Arc;

use async_trait::async_trait;
use common::*;
use futures::stream::BoxStream;
use svcmirror_backend::{
    ApiError, Driver, EventType, ExportStatus, StatusEvent, TargetCluster, TargetEvent,
};
use svcmirror_core::model::{Kind, Object, ObjectKey};
use svcmirror_core::{ConditionStatus, ConditionType, MirrorMode, TargetState};
use svcmirror_fake::FakeHandle;

const HTTP: [(&str, i32); 1] = [("http", 80)];

fn status_of(w: &World, ns: &str, name: &str) -> Arc<ExportStatus> {
    w.driver
        .exports()
        .get(&key(ns, name))
        .unwrap_or_else(|| panic!("no status for {ns}/{name}: {:#?}", w.driver.exports()))
        .clone()
}

/// `(service, type, reason)` of the Events recorded in the target so far.
fn events(w: &World) -> Vec<(String, EventType, String)> {
    w.target
        .recorded_events()
        .into_iter()
        .map(|e| (e.service.to_string(), e.type_, e.reason))
        .collect()
}

fn target_uid(w: &World, ns: &str, name: &str) -> Option<String> {
    match w.target.lock().get(Kind::Service, &key(ns, name)) {
        Some(Object::Service(s)) => s.metadata.uid,
        _ => None,
    }
}

#[tokio::test]
async fn seed_nginx_svc_is_mirrored_true_and_headless_is_reported_healthy() {
    let mut w = World::new(link());
    w.start().await;
    assert!(w.driver.exports().is_empty());
    w.seed("default").await;

    let status = status_of(&w, "default", "nginx-svc");
    assert_eq!(status.outcome.mode, MirrorMode::Headless);
    assert_eq!(status.mode_name(), "headless");
    assert_eq!(status.outcome.mirror.as_deref(), Some("nginx-svc-west"));
    // Linkerd reports every mirrored headless Service as failed; the spec's mirror is healthy.
    assert_eq!(summary(&status), healthy("Mirrored"));
    let mirrored = status.condition(ConditionType::Mirrored).expect("Mirrored");
    assert!(
        mirrored.message.contains("3 endpoint mirror(s)"),
        "{mirrored}"
    );
    // What `subscribe()` hands a metrics endpoint is the same.
    let published = w.driver.subscribe().borrow().clone();
    assert_eq!(published.exports, *w.driver.exports());
    assert_eq!(
        published.exports_by_mode().into_iter().collect::<Vec<_>>(),
        [("headless", 1)]
    );

    // The Service, before its Endpoints, waited (Normal); then it was mirrored (Normal).
    assert_eq!(
        events(&w),
        [
            (
                "default/nginx-svc".into(),
                EventType::Normal,
                "WaitingForEndpoints".into()
            ),
            (
                "default/nginx-svc".into(),
                EventType::Normal,
                "Mirrored".into()
            ),
        ]
    );
    let last = w.target.recorded_events().pop().expect("an event");
    assert_eq!(last.service, key("default", "nginx-svc"));
    assert!(last.uid.is_some());
    assert_eq!(last.uid, target_uid(&w, "default", "nginx-svc"));
    assert!(last.resource_version.is_some());
    assert!(last.name.starts_with("nginx-svc."), "{}", last.name);
    assert!(
        last.message.starts_with("Mirrored=True: "),
        "{}",
        last.message
    );
    assert_eq!(w.driver.stats().status_events, 2);
    w.assert_converged().await;
}

#[tokio::test]
async fn resync_of_a_converged_state_records_no_event() {
    let mut w = World::new(link());
    w.start().await;
    w.seed("default").await;
    w.put_service(exported("default", "web", false, &HTTP))
        .await;
    let before = w.target.recorded_events();
    let exports = w.driver.exports().clone();
    assert_eq!(before.len(), 3, "{before:#?}");
    for _ in 0..3 {
        w.resync().await;
    }
    // An event that changes nothing the conditions say records nothing either.
    w.put_endpoints(nginx_endpoints("default", 3)).await;
    w.put_service(exported("default", "web", false, &HTTP))
        .await;
    assert_eq!(
        w.target.recorded_events(),
        before,
        "a quiet cluster wrote Events"
    );
    assert_eq!(w.driver.stats().status_events, 3);
    assert_eq!(*w.driver.exports(), exports);
}

/// A restart over a converged source must not send one Normal Event per export (thousands of
/// writes to the target for a quiet cluster); Warnings are still reported.
#[tokio::test]
async fn a_restarted_driver_records_no_event_for_healthy_exports() {
    let mut w = World::new(link());
    w.start().await;
    w.seed("default").await;
    w.put_service(exported("default", "portless", true, &[]))
        .await;
    let before = w.target.recorded_events().len();
    let mut restarted = Driver::new(link(), w.source.clone(), w.target.clone(), w.clock.clone());
    restarted.resync().await.expect("lists");
    let after = w.target.recorded_events();
    let new: Vec<_> = after[before..]
        .iter()
        .map(|e| (e.service.to_string(), e.type_))
        .collect();
    assert_eq!(new, [("default/portless".to_owned(), EventType::Warning)]);
    assert_eq!(
        summary(&restarted.exports()[&key("default", "nginx-svc")]),
        healthy("Mirrored")
    );
}

#[tokio::test]
async fn portless_headless_export_is_valid_false_no_ports() {
    let mut w = World::new(link());
    w.start().await;
    w.put_service(exported("default", "portless", true, &[]))
        .await;
    w.put_endpoints(endpoints(
        "default",
        "portless",
        &[("portless-0", "10.42.0.40")],
        &[],
    ))
    .await;
    let status = status_of(&w, "default", "portless");
    let valid = status.condition(ConditionType::Valid).expect("Valid");
    assert_eq!(
        (valid.status, valid.reason.as_str()),
        (ConditionStatus::False, "NoPorts"),
        "{:#?}",
        status.conditions
    );
    let last = w.target.recorded_events().pop().expect("an event");
    assert_eq!(
        (last.type_, last.reason.as_str()),
        (EventType::Warning, "NoPorts")
    );
    assert_eq!(last.service, key("default", "portless"));
}

#[tokio::test]
async fn foreign_object_holding_the_mirror_name_is_conflict_true() {
    let mut w = World::new(link());
    let mut foreign = exported("default", "web-west", false, &[("pg", 5432)]);
    foreign.metadata.labels.clear();
    w.seed_foreign(Object::Service(foreign));
    w.start().await;
    w.put_service(exported("default", "web", false, &HTTP))
        .await;

    let status = status_of(&w, "default", "web");
    let by_type = |t| {
        let c = status.condition(t).expect("condition");
        (c.status, c.reason.clone())
    };
    assert_eq!(
        by_type(ConditionType::Conflict),
        (ConditionStatus::True, "NameConflict".into())
    );
    assert_eq!(
        by_type(ConditionType::Mirrored),
        (ConditionStatus::False, "NameConflict".into())
    );
    assert_eq!(
        by_type(ConditionType::Valid),
        (ConditionStatus::True, "Valid".into())
    );
    assert_eq!(
        events(&w),
        [(
            "default/web".into(),
            EventType::Warning,
            "NameConflict".into()
        )]
    );
    let status = w.driver.status();
    let counts = status.condition_counts();
    assert_eq!(
        counts.get(&(
            ConditionType::Conflict,
            ConditionStatus::True,
            "NameConflict"
        )),
        Some(&1)
    );
}

#[tokio::test]
async fn unexport_and_target_deletion_remove_the_entry_and_record_nothing() {
    let mut w = World::new(link());
    w.start().await;
    w.seed("default").await;
    w.put_service(exported("default", "web", false, &HTTP))
        .await;
    let recorded = w.target.recorded_events().len();

    let mut unexported = nginx("default");
    unexported.metadata.labels.remove(EXPORTED.0);
    w.put_service(unexported).await;
    assert!(
        !w.driver
            .exports()
            .contains_key(&key("default", "nginx-svc"))
    );
    assert!(w.driver.exports().contains_key(&key("default", "web")));

    w.delete_service("default", "web").await;
    assert!(w.driver.exports().is_empty(), "{:#?}", w.driver.exports());
    assert!(w.driver.subscribe().borrow().exports.is_empty());
    assert_eq!(w.target.recorded_events().len(), recorded);
    w.assert_converged().await;
}

#[tokio::test]
async fn an_event_for_one_export_leaves_the_others_entries_untouched() {
    let mut w = World::new(link());
    w.start().await;
    w.seed("default").await;
    w.put_service(exported("other", "web", false, &HTTP)).await;
    let web = status_of(&w, "other", "web");
    let nginx_before = status_of(&w, "default", "nginx-svc");

    // A scale-down of nginx-svc is a one-export reconcile.
    let outcome = w.put_endpoints(nginx_endpoints("default", 2)).await;
    assert_eq!(
        outcome.scope,
        svcmirror_backend::Scope::Export(key("default", "nginx-svc"))
    );
    let nginx_after = status_of(&w, "default", "nginx-svc");
    assert_eq!(nginx_after.outcome.endpoint_mirrors.len(), 2);
    assert_ne!(nginx_after, nginx_before);
    // The other export's entry is the very same value: not recomputed, not replaced.
    assert!(Arc::ptr_eq(&web, &status_of(&w, "other", "web")));
    let last = w.target.recorded_events().pop().expect("an event");
    assert_eq!(last.service, key("default", "nginx-svc"));
    assert!(
        last.message.contains("2 endpoint mirror(s)"),
        "{}",
        last.message
    );
}

#[tokio::test]
async fn a_whole_link_reconcile_replaces_every_entry() {
    let mut w = World::new(link());
    w.start().await;
    w.seed("default").await;
    w.put_service(exported("default", "web", false, &HTTP))
        .await;
    // Changes the driver is not told about; the resync's relist sees them.
    let mut unexported = exported("default", "web", false, &HTTP);
    unexported.metadata.labels.remove(EXPORTED.0);
    w.put_service_quietly(unexported);
    w.put_service_quietly(exported("other", "api", false, &HTTP));
    w.resync().await;
    let keys: Vec<ObjectKey> = w.driver.exports().keys().cloned().collect();
    assert_eq!(keys, [key("default", "nginx-svc"), key("other", "api")]);
    assert_eq!(summary(&status_of(&w, "other", "api")), healthy("Mirrored"));
}

/// A target whose Event API refuses every Event.
#[derive(Clone)]
struct RefusingEvents(FakeHandle);

#[async_trait]
impl TargetCluster for RefusingEvents {
    async fn list(&self) -> Result<TargetState, ApiError> {
        self.0.list().await
    }
    fn watch(&self) -> BoxStream<'static, Result<TargetEvent, ApiError>> {
        self.0.watch()
    }
    async fn record_event(&self, _event: &StatusEvent) -> Result<(), ApiError> {
        Err(ApiError::Forbidden("events is forbidden".into()))
    }
}

#[tokio::test]
async fn refused_events_are_counted_and_never_fail_the_reconcile() {
    let w = World::new(link());
    let mut driver = Driver::new(
        link(),
        w.source.clone(),
        RefusingEvents(w.target.clone()),
        w.clock.clone(),
    );
    // The first whole-link reconcile after a start reports no healthy export (see
    // `a_restarted_driver_records_no_event_for_healthy_exports`): start from an empty target.
    driver.resync().await.expect("lists");
    put_quietly(
        &w.target,
        Object::Service(exported("default", "web", false, &HTTP)),
    );
    let outcome = driver.resync().await.expect("lists");
    assert!(outcome.complete, "{outcome:?}");
    assert_eq!(driver.stats().status_event_failures, 1);
    assert_eq!(driver.stats().status_events, 0);
    assert_eq!(
        summary(&driver.exports()[&key("default", "web")]),
        healthy("Mirrored")
    );
    // Not retried by a resync that changes nothing.
    driver.resync().await.expect("lists");
    assert_eq!(driver.stats().status_event_failures, 1);
}

/// The snapshot a subscriber (the controller's /metrics) sees is updated in place, export by
/// export; after every kind of step it must equal the driver's own full status.
#[tokio::test]
async fn the_published_snapshot_always_equals_the_full_status() {
    let mut w = World::new(link());
    let rx = w.driver.subscribe();
    let check = |w: &World, step: &str| {
        assert_eq!(*rx.borrow(), w.driver.status(), "after {step}");
    };
    w.start().await;
    check(&w, "start");
    w.seed("default").await;
    check(&w, "seed");
    w.put_service(exported("other", "web", false, &HTTP)).await;
    check(&w, "a new export");
    let web = Arc::clone(&rx.borrow().exports[&key("other", "web")]);
    w.put_endpoints(nginx_endpoints("default", 2)).await;
    check(&w, "a one-export reconcile");
    assert!(
        Arc::ptr_eq(&web, &rx.borrow().exports[&key("other", "web")]),
        "an untouched export keeps its published entry"
    );
    let mut unexported = exported("other", "web", false, &HTTP);
    unexported.metadata.labels.remove(EXPORTED.0);
    w.put_service(unexported).await;
    check(&w, "an unexport");
    assert!(!rx.borrow().exports.contains_key(&key("other", "web")));
    w.put_service_quietly(exported("other", "api", false, &HTTP));
    w.resync().await;
    check(&w, "a whole-link resync");
    assert!(rx.borrow().exports.contains_key(&key("other", "api")));
    w.delete_service("default", "nginx-svc").await;
    check(&w, "a target deletion");
}
