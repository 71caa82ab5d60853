//! The sans-IO [`Reconciler`] on its own: no async, no clock, no I/O. Each test feeds it inputs
//! with an explicit `now`, answers the requests it hands out from an in-memory fake (or with a
//! scripted error), and checks what it handed out, when it wants to wake up, and what it reported.
//! Deterministic: time is a number the test chooses.

mod bench;
#[path = "../common/mod.rs"]
mod common;
mod failures;

use std::time::Duration;

use bench::*;
use common::{
    GATEWAY, assert_clusterip_mirror, endpoints, exported, key, link, nginx, nginx_endpoints,
};
use svcmirror_backend::{
    ApiError, DriverConfig, Output, Reconciler, Request, Response, Scope, TargetEvent,
};
use svcmirror_core::model::{Kind, Object};
use svcmirror_core::{MAX_PASSES, Operation, plan, translate};

/// SPEC §6: a one-export reconcile of a new headless export hands out exactly the core's plan, in
/// its order (creates of the root and endpoint mirrors first), then the root Endpoints pointed at
/// the ClusterIPs the source allocated, then nothing: the two-pass contract, round three empty.
#[test]
fn a_one_export_reconcile_hands_out_the_core_plan_in_order() {
    let mut clusters = Clusters::new();
    let mut r = Reconciler::new(link(), DriverConfig::default());
    r.relist();
    drive(&mut r, &mut clusters, Duration::ZERO, no_errors);

    clusters
        .target
        .create(Object::Service(nginx("default")))
        .expect("service");
    let ep = nginx_endpoints("default", 2);
    clusters
        .target
        .create(Object::Endpoints(ep.clone()))
        .expect("endpoints");

    r.handle_target_event(
        Duration::ZERO,
        TargetEvent::ServiceApplied(nginx("default")),
    );
    drive(&mut r, &mut clusters, Duration::ZERO, no_errors);
    // The first round's plan, as the core computes it against the target and the source.
    let source = clusters.source.state();
    let translation = translate(&link(), &clusters.target.target_state(), &source);
    let first = plan(&link(), &translation.desired, &source);
    assert!(!first.operations.is_empty());
    r.handle_target_event(Duration::ZERO, TargetEvent::EndpointsApplied(ep));
    let run = drive(&mut r, &mut clusters, Duration::ZERO, no_errors);
    let writes = run.writes();
    let (pass_one, pass_two) = writes.split_at(first.operations.len().min(writes.len()));
    assert_eq!(
        pass_one
            .iter()
            .map(|op| (op.action(), op.kind(), op.key()))
            .collect::<Vec<_>>(),
        first
            .operations
            .iter()
            .map(|op| (op.action(), op.kind(), op.key()))
            .collect::<Vec<_>>()
    );
    assert_dependency_order(&first, pass_one);
    // Round two: the root Endpoints learns the endpoint mirrors' ClusterIPs (SPEC §6).
    assert_eq!(
        pass_two
            .iter()
            .map(|op| (op.action(), op.kind(), op.key()))
            .collect::<Vec<_>>(),
        [("update", Kind::Endpoints, key("default", "nginx-svc-west"))]
    );
    let outcome = run.outcome();
    assert_eq!(outcome.scope, Scope::Export(key("default", "nginx-svc")));
    assert!(
        outcome.complete && !outcome.pass_limit_reached,
        "{outcome:?}"
    );
    assert_eq!(
        outcome.passes as usize,
        MAX_PASSES + 1,
        "two rounds write, the third is empty"
    );
    assert!(run.requests.iter().all(|r| matches!(r, Request::Apply(_))));
    assert_eq!(
        r.stats().requests,
        r.stats().writes + 2,
        "the relist's two lists"
    );
}

/// The convergence contract, with its bound: a whole-link reconcile against a source that answers
/// every request applies in at most `MAX_PASSES` rounds and the next plans nothing; a second
/// reconcile hands out nothing at all.
#[test]
fn a_whole_link_reconcile_converges_within_the_two_pass_bound() {
    let mut clusters = Clusters::seeded(3);
    let mut r = Reconciler::new(link(), DriverConfig::default());
    r.relist();
    drive(&mut r, &mut clusters, Duration::ZERO, no_errors);
    r.full_reconcile();
    let run = drive(&mut r, &mut clusters, Duration::ZERO, no_errors);
    let outcome = run.outcome();
    assert!(outcome.complete, "{outcome:?}");
    assert!(outcome.passes as usize <= MAX_PASSES + 1, "{outcome:?}");
    assert_eq!(outcome.writes, run.writes().len() as u64);

    r.full_reconcile();
    let again = drive(&mut r, &mut clusters, Duration::ZERO, no_errors);
    assert!(again.requests.is_empty(), "{:?}", again.requests);
    assert_eq!(again.outcome().passes, 1);
    assert!(again.outcome().complete);
}

/// A write answered `Unavailable` is not handed out again until `now` + the backoff of its first
/// retry (half to all of `Backoff::initial`, jittered by the seeded generator), which
/// `poll_timeout` names; at that time the same request goes out under a new id.
#[test]
fn unavailable_schedules_a_retry_at_now_plus_backoff() {
    let mut clusters = Clusters::seeded(1);
    let mut r = Reconciler::new(link(), DriverConfig::default());
    r.relist();
    drive(&mut r, &mut clusters, Duration::ZERO, no_errors);
    r.full_reconcile();
    let now = Duration::from_secs(1000);
    let (first_id, first) = r.poll_operation().expect("a first write");
    assert!(matches!(first, Request::Apply(_)));
    assert_eq!(r.poll_operation(), None, "one request out at a time");
    r.handle_applied(now, first_id, Err(ApiError::Unavailable("503".into())));

    let due = r.poll_timeout().expect("a retry deadline");
    let initial = DriverConfig::default().retry.initial;
    assert!(due >= now + initial / 2 && due <= now + initial, "{due:?}");
    assert_eq!(r.poll_operation(), None, "nothing before the deadline");
    r.handle_timeout(due - Duration::from_nanos(1));
    assert_eq!(r.poll_operation(), None, "nothing before the deadline");
    r.handle_timeout(due);
    let (retry_id, retry) = r.poll_operation().expect("the retry");
    assert_eq!(retry, first);
    assert_ne!(retry_id, first_id);
    assert_eq!(r.poll_timeout(), None);
    // The first try's late answer is ignored; the retry's counts.
    r.handle_applied(due, first_id, Err(ApiError::Unavailable("late".into())));
    assert_eq!(r.stats().retries, 1);
    let result = clusters.answer(&retry);
    r.handle_applied(due, retry_id, result);
    let run = drive(&mut r, &mut clusters, due, no_errors);
    assert!(run.outcome().complete);
    assert_eq!(r.stats().failed_requests, 1);

    // The same seed, the same deadline: the jitter is the reconciler's own, seeded.
    let mut twin = Reconciler::new(link(), DriverConfig::default());
    let mut twin_clusters = Clusters::seeded(1);
    twin.relist();
    drive(&mut twin, &mut twin_clusters, Duration::ZERO, no_errors);
    twin.full_reconcile();
    let (id, _) = twin.poll_operation().expect("a first write");
    twin.handle_applied(now, id, Err(ApiError::Unavailable("503".into())));
    assert_eq!(twin.poll_timeout(), Some(due));
}

/// SPEC §7 (dependencies of a plan): pod `nginx-set-1` goes away, so the root Endpoints drops it
/// and its endpoint mirror is deleted — but only after the root no longer names its ClusterIP.
/// When the root's update fails for good, the endpoint mirror's deletes are never handed out, and
/// the failure is reported.
#[test]
fn an_operation_whose_prerequisite_failed_is_never_handed_out() {
    let mut clusters = Clusters::seeded(2);
    let mut r = converged(&mut clusters);
    let root = key("default", "nginx-svc-west");
    let freed = key("default", "nginx-set-1-west");
    let fewer = nginx_endpoints("default", 1);
    let refused = |request: &Request, _: &mut Clusters| match request {
        Request::Apply(Operation::Update { object, .. })
            if object.kind() == Kind::Endpoints && object.key() == root =>
        {
            Some(Err(ApiError::Invalid {
                kind: Kind::Endpoints,
                key: object.key(),
                field: "subsets".into(),
                message: "scripted".into(),
            }))
        }
        _ => None,
    };
    r.handle_target_event(Duration::ZERO, TargetEvent::EndpointsApplied(fewer.clone()));
    let run = drive(&mut r, &mut clusters, Duration::ZERO, refused);
    assert!(
        run.writes()
            .iter()
            .any(|op| op.action() == "update" && op.key() == root),
        "the root's update was tried: {:?}",
        run.requests
    );
    assert!(
        !run.writes()
            .iter()
            .any(|op| op.action() == "delete" && op.key() == freed),
        "{:?}",
        run.requests
    );
    assert!(clusters.source.get(Kind::Service, &freed).is_some());
    let outcome = run.outcome();
    assert!(!outcome.complete, "{outcome:?}");
    let failures = r.status().failures;
    assert_eq!(
        failures
            .iter()
            .map(|f| (f.action, f.kind, f.key.clone()))
            .collect::<Vec<_>>(),
        [("update", Kind::Endpoints, root.clone())]
    );

    // Once the root accepts the update, the endpoint mirror goes.
    r.handle_target_event(Duration::ZERO, TargetEvent::EndpointsApplied(fewer));
    let run = drive(&mut r, &mut clusters, Duration::ZERO, no_errors);
    assert!(run.outcome().complete);
    assert!(clusters.source.get(Kind::Service, &freed).is_none());
    assert!(r.status().failures.is_empty());
}

/// A create answered `Conflict` (the name taken meanwhile) is not sent again: the object is read,
/// and the next round plans against what is there (SPEC §7: a foreign object keeps its name).
#[test]
fn a_conflict_is_answered_by_a_reread_then_a_new_plan() {
    let mut clusters = Clusters::seeded(1);
    let mut r = Reconciler::new(link(), DriverConfig::default());
    r.relist();
    drive(&mut r, &mut clusters, Duration::ZERO, no_errors);
    // Someone else's Service takes web-west after the list.
    let foreign = exported("default", "web-west", false, &HTTP);
    clusters
        .source
        .create(Object::Service(foreign))
        .expect("foreign");
    r.full_reconcile();
    let run = drive(&mut r, &mut clusters, Duration::ZERO, no_errors);
    let web_west = key("default", "web-west");
    let creates = run
        .writes()
        .iter()
        .filter(|op| op.action() == "create" && op.key() == web_west)
        .count();
    assert_eq!(creates, 1, "sent once, never again: {:?}", run.requests);
    assert!(run.requests.contains(&Request::Get {
        kind: Kind::Service,
        key: web_west.clone(),
    }));
    assert_eq!(r.stats().conflicts, 1);
    assert_eq!(r.stats().rereads, 1);
    assert!(
        r.diagnostics().iter().any(|d| d.object == web_west),
        "{:?}",
        r.diagnostics()
    );
}

/// A list failing for good ends the relist with the error (after the retries of a retryable
/// one), and the status says so until a list succeeds.
#[test]
fn a_list_that_fails_for_good_is_reported_and_cleared_by_the_next() {
    let mut clusters = Clusters::seeded(1);
    let mut r = Reconciler::new(link(), DriverConfig::default());
    r.relist();
    let run = drive(&mut r, &mut clusters, Duration::ZERO, |request, _| {
        (*request == Request::ListSource).then(|| Err(ApiError::Unavailable("503".into())))
    });
    let attempts = DriverConfig::default().retry.max_attempts as usize;
    assert_eq!(
        run.requests
            .iter()
            .filter(|r| **r == Request::ListSource)
            .count(),
        attempts
    );
    assert!(run.now > Duration::ZERO, "it waited between tries");
    assert!(matches!(run.outputs.last(), Some(Output::Relisted(Err(_)))));
    assert!(r.status().list_error.is_some());
    r.relist();
    let run = drive(&mut r, &mut clusters, run.now, no_errors);
    assert_eq!(run.outputs.last(), Some(&Output::Relisted(Ok(()))));
    assert!(r.status().list_error.is_none());
}

/// An answer of the wrong kind (a source list for a target list) counts as a failed try: the
/// request is retried, never taken for what it is not.
#[test]
fn an_answer_of_the_wrong_kind_is_a_failed_try() {
    let mut clusters = Clusters::seeded(1);
    let mut r = Reconciler::new(link(), DriverConfig::default());
    r.relist();
    let (id, request) = r.poll_operation().expect("list");
    assert_eq!(request, Request::ListTarget);
    r.handle_applied(
        Duration::ZERO,
        id,
        Ok(Response::SourceListed(clusters.source.state())),
    );
    assert_eq!(r.stats().failed_requests, 1);
    assert_eq!(r.stats().relists, 0);
    let run = drive(&mut r, &mut clusters, Duration::ZERO, no_errors);
    assert_eq!(run.requests, [Request::ListTarget, Request::ListSource]);
    assert_eq!(r.stats().relists, 1);
}

/// SPEC §2.1: a liveness the link already has is no news (nothing handed out, `Unchanged`); a
/// change reconciles the whole link, moving the gateway addresses of every mirror Endpoints.
#[test]
fn only_a_change_of_gateway_liveness_reconciles() {
    let mut w = Bench::new(DriverConfig::default());
    w.resync();
    w.put_clusterip("web");
    let alive = w.r.link().gateway_alive();
    w.r.set_gateway_alive(alive);
    let run = drive(&mut w.r, &mut w.c, w.now, no_errors);
    assert!(run.requests.is_empty(), "{:?}", run.requests);
    assert_eq!(run.outputs, [Output::Unchanged]);

    w.r.set_gateway_alive(!alive);
    let run = drive(&mut w.r, &mut w.c, w.now, no_errors);
    let outcome = run.outcome();
    assert_eq!(outcome.scope, Scope::Link);
    assert!(outcome.complete, "{outcome:?}");
    assert_eq!(
        run.writes()
            .iter()
            .map(|op| (op.action(), op.kind(), op.key()))
            .collect::<Vec<_>>(),
        [("update", Kind::Endpoints, key("default", "web-west"))]
    );
    assert_eq!(w.r.link().gateway_alive(), !alive);
}

/// SPEC §7 (F15): `default/a` (headless, pod hostname `b`) holds endpoint mirror `b-west`, which
/// the ClusterIP export `b` is denied. When `a`'s pod is renamed, the one-export reconcile of `a`
/// frees `b-west`; as `b` is not in its scope, the same command goes on with the whole link, and
/// `b` gets its mirror — one outcome, two reconciles.
#[test]
fn a_freed_name_another_export_was_denied_widens_to_the_whole_link() {
    let mut w = Bench::new(DriverConfig::default());
    w.resync();
    w.put(Object::Service(exported("default", "a", true, &HTTP)));
    w.put(Object::Endpoints(endpoints(
        "default",
        "a",
        &[("b", "10.42.0.61")],
        &HTTP,
    )));
    w.put_clusterip("b");
    assert!(
        w.r.diagnostics()
            .iter()
            .any(|d| d.object == key("default", "b-west")),
        "b is denied b-west: {:?}",
        w.r.diagnostics()
    );
    let reconciles = w.r.stats().reconciles;
    let renamed = stored_endpoints(&mut w, "a", "c");
    w.r.handle_target_event(w.now, TargetEvent::EndpointsApplied(renamed));
    let run = drive(&mut w.r, &mut w.c, w.now, no_errors);
    let started = run
        .outputs
        .iter()
        .filter(|o| **o == Output::ReconcileStarted)
        .count();
    assert_eq!(started, 2, "the export's reconcile, then the whole link's");
    assert_eq!(w.r.stats().reconciles, reconciles + 2);
    let outcome = run.outcome();
    assert_eq!(outcome.scope, Scope::Link);
    assert!(outcome.complete, "{outcome:?}");
    assert_clusterip_mirror(&w.c.source, "default", "b", &HTTP, GATEWAY);
    assert!(w.r.diagnostics().is_empty(), "{:?}", w.r.diagnostics());
    w.assert_converged();
}

/// Renames the single pod of target Endpoints `default/<name>` to `hostname`; the stored object.
fn stored_endpoints(w: &mut Bench, name: &str, hostname: &str) -> svcmirror_core::model::Endpoints {
    let mut ep = endpoints("default", name, &[(hostname, "10.42.0.61")], &HTTP);
    if let Some(Object::Endpoints(old)) = w.c.target.get(Kind::Endpoints, &key("default", name)) {
        ep.metadata.resource_version = old.metadata.resource_version;
    }
    match w.c.target.update(Object::Endpoints(ep)).expect("update") {
        Object::Endpoints(e) => e,
        other => panic!("{other:?}"),
    }
}
