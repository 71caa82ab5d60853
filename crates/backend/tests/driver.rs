//! The driver's own behaviour: retries and backoff, re-reads on conflicts and unknown outcomes,
//! failure reporting, the pass cap, scoping of one-export reconciles and their fallback, link
//! changes, and the `run` loop over a real (fake) watch.

mod common;

use std::time::Duration;

use common::*;
use svcmirror_backend::{Scope, TargetEvent};
use svcmirror_core::Reason;
use svcmirror_core::labels::HEADLESS_MIRROR_SVC_NAME;
use svcmirror_core::model::{Kind, Object, Service};
use svcmirror_fake::FaultConfig;

const HTTP: [(&str, i32); 1] = [("http", 80)];

/// A ClusterIP export `default/<name>` with one ready address.
async fn put_clusterip(w: &mut World, name: &str) {
    w.put_service(exported("default", name, false, &HTTP)).await;
    w.put_endpoints(endpoints("default", name, &[("", "10.42.0.50")], &HTTP))
        .await;
}

#[tokio::test]
async fn already_exists_from_an_unseen_foreign_object_becomes_a_name_conflict() {
    let mut w = World::new(link());
    w.start().await;
    // Created after the driver listed: its cache does not know.
    let mut foreign = Service::new("default", "web-west");
    foreign.spec.ports = exported("default", "x", false, &[("pg", 5432)]).spec.ports;
    w.seed_foreign(Object::Service(foreign));
    let before = w.service("default", "web-west");
    put_clusterip(&mut w, "web").await;
    assert_eq!(w.driver.stats().conflicts, 1);
    assert_eq!(w.service("default", "web-west"), before);
    assert!(
        w.endpoints_of("default", "web-west").is_none(),
        "no Endpoints for someone else's Service"
    );
    assert!(
        w.driver
            .diagnostics()
            .iter()
            .any(|d| d.reason == Reason::NameConflict && d.object == key("default", "web-west"))
    );
    w.assert_converged().await;
}

#[tokio::test]
async fn a_conflict_on_update_rereads_and_replans() {
    let mut w = World::new(link());
    w.start().await;
    put_clusterip(&mut w, "web").await;
    // Someone touches our Endpoints (an annotation): our cached resourceVersion is now stale.
    w.admin(&[], |source| {
        let Some(Object::Endpoints(mut ep)) =
            source.get(Kind::Endpoints, &key("default", "web-west"))
        else {
            panic!("endpoints")
        };
        ep.metadata
            .annotations
            .insert("touched-by".into(), "someone".into());
        source.update(Object::Endpoints(ep)).expect("update");
    });
    let moved = svcmirror_core::Link::builder("west")
        .gateway_address(ip("172.18.0.9"))
        .enable_headless_services(true)
        .build()
        .expect("link");
    w.link = moved.clone();
    let outcome = w.driver.set_link(moved).await;
    assert!(outcome.complete, "{outcome:?}");
    assert_eq!(w.driver.stats().conflicts, 1);
    assert_eq!(w.driver.stats().rereads, 1);
    assert_clusterip_mirror(&w, "default", "web", &HTTP, "172.18.0.9");
    let ep = w.endpoints_of("default", "web-west").expect("endpoints");
    assert!(
        !ep.metadata.annotations.contains_key("touched-by"),
        "the mirror is ours to correct"
    );
}

#[tokio::test]
async fn not_found_on_delete_is_success() {
    let mut w = World::new(link());
    w.start().await;
    put_clusterip(&mut w, "web").await;
    w.admin(&[(Kind::Endpoints, key("default", "web-west"))], |source| {
        source
            .delete(
                Kind::Endpoints,
                &key("default", "web-west"),
                &Default::default(),
            )
            .expect("delete");
    });
    let outcome = w.delete_service("default", "web").await;
    assert!(outcome.complete);
    assert!(w.driver.status().failures.is_empty());
    assert_eq!(w.owned_names("default"), (vec![], vec![]));
}

#[tokio::test]
async fn an_event_reconciles_only_its_export() {
    let mut w = World::new(link());
    w.start().await;
    put_clusterip(&mut w, "web").await;
    put_clusterip(&mut w, "api").await;
    // api is un-exported in the target, but the driver is not told.
    w.target
        .lock()
        .delete(Kind::Service, &key("default", "api"), &Default::default())
        .expect("delete");
    // An event about web: api's mirrors are out of scope and stay.
    w.put_endpoints(endpoints("default", "web", &[("", "10.42.0.51")], &HTTP))
        .await;
    assert!(w.service("default", "api-west").is_some());
    assert_eq!(
        w.driver.stats().full_reconciles,
        1,
        "only the start was whole-link"
    );
    // The next resync sees the target as it is.
    w.resync().await;
    assert!(w.service("default", "api-west").is_none());
    assert_clusterip_mirror(&w, "default", "web", &HTTP, GATEWAY);
}

/// `default/a` (headless, pod hostname `b`) wants endpoint mirror `b-west`; `default/b`
/// (ClusterIP) wants mirror `b-west` too. The whole-link translation gives it to `a` (first in
/// order); an event about `b` alone cannot decide, so it falls back to the whole link.
#[tokio::test]
async fn an_ambiguous_name_falls_back_to_the_whole_link_and_a_freed_name_is_reassigned() {
    let mut w = World::new(link());
    w.start().await;
    w.put_service(exported("default", "a", true, &HTTP)).await;
    w.put_endpoints(endpoints("default", "a", &[("b", "10.42.0.61")], &HTTP))
        .await;
    let endpoint_mirror = w
        .service("default", "b-west")
        .expect("endpoint mirror of a");
    assert_eq!(
        endpoint_mirror
            .metadata
            .labels
            .get(HEADLESS_MIRROR_SVC_NAME)
            .map(String::as_str),
        Some("a-west")
    );
    put_clusterip(&mut w, "b").await;
    assert_eq!(
        w.driver.stats().fallbacks,
        2,
        "both events about b fell back"
    );
    assert_eq!(
        w.service("default", "b-west"),
        Some(endpoint_mirror),
        "a keeps b-west"
    );
    assert!(
        w.driver
            .diagnostics()
            .iter()
            .any(|d| d.reason == Reason::NameConflict && d.object == key("default", "b-west")),
        "{:#?}",
        w.driver.diagnostics()
    );
    w.assert_converged().await;

    // a's pod is renamed: b-west is freed, and b, denied it before, gets it at once.
    w.put_endpoints(endpoints("default", "a", &[("c", "10.42.0.61")], &HTTP))
        .await;
    let mirror = w.service("default", "b-west").expect("mirror of b");
    assert!(
        !mirror
            .metadata
            .labels
            .contains_key(HEADLESS_MIRROR_SVC_NAME)
    );
    assert_clusterip_mirror(&w, "default", "b", &HTTP, GATEWAY);
    assert!(
        !w.driver
            .diagnostics()
            .iter()
            .any(|d| d.reason == Reason::NameConflict)
    );
    w.assert_converged().await;
}

#[tokio::test]
async fn a_restarted_watch_replaces_the_target_cache() {
    let mut w = World::new(link());
    w.start().await;
    put_clusterip(&mut w, "web").await;
    w.target
        .lock()
        .delete(Kind::Service, &key("default", "web"), &Default::default())
        .expect("delete");
    let target = w.target.lock().target_state();
    let outcome = w.handle(TargetEvent::Restarted(target)).await;
    assert_eq!(outcome.scope, Scope::Link);
    assert_eq!(w.owned_names("default"), (vec![], vec![]));
}

#[tokio::test]
async fn a_new_cluster_name_removes_the_old_mirrors() {
    let mut w = World::new(link());
    w.start().await;
    put_clusterip(&mut w, "web").await;
    let north = svcmirror_core::Link::builder("north")
        .gateway_address(ip(GATEWAY))
        .enable_headless_services(true)
        .build()
        .expect("link");
    let outcome = w.driver.set_link(north.clone()).await;
    assert!(outcome.complete);
    w.forget_writes();
    assert_eq!(
        w.owned_names("default"),
        (vec![], vec![]),
        "nothing of west is left"
    );
    assert!(w.service("default", "web-north").is_some());
    w.link = north;
    w.assert_converged().await;
}

#[tokio::test]
async fn a_missing_namespace_is_created_when_the_link_allows_it() {
    let creating = west().create_namespaces(true).build().expect("link");
    let mut w = World::new(creating.clone());
    w.start().await;
    w.put_service(exported("apps", "api", false, &HTTP)).await;
    w.put_endpoints(endpoints("apps", "api", &[("", "10.42.1.10")], &HTTP))
        .await;
    let Some(Object::Namespace(ns)) = w.source.lock().get(Kind::Namespace, &key("", "apps")) else {
        panic!("namespace apps was not created")
    };
    assert!(svcmirror_core::labels::is_owned(
        &ns.metadata.labels,
        &creating
    ));
    assert_clusterip_mirror(&w, "apps", "api", &HTTP, GATEWAY);
    w.assert_converged().await;
}

#[tokio::test]
async fn status_is_published_to_subscribers() {
    let mut w = World::new(link());
    let status = w.driver.subscribe();
    w.start().await;
    put_clusterip(&mut w, "web").await;
    let seen = status.borrow().clone();
    assert_eq!(seen, w.driver.status());
    assert_eq!(seen.stats.creates, 2);
}

// ---------------------------------------------------------------------------------------------
// run

/// The loop over a real (fake) watch: initial list and reconcile, events, a watch restart
/// (relist), and the periodic resync repairing drift the watch cannot see. No real sleeping: the
/// test waits for the fake's watches to settle and advances a virtual clock.
#[tokio::test]
async fn run_follows_the_watch_relists_after_a_restart_and_resyncs_periodically() {
    let mut w = World::new(link()).with_manual_resync();
    w.put_service_quietly(nginx("default"));
    w.put_endpoints_quietly(nginx_endpoints("default", 3));
    let (target, source, clock) = (w.target.clone(), w.source.clone(), w.clock.clone());
    let mut status = w.driver.subscribe();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let script = async move {
        // Started: listed, reconciled, watching.
        target.watches_settled(1).await;
        assert!(
            source
                .lock()
                .get(Kind::Service, &key("default", "nginx-set-2-west"))
                .is_some()
        );

        // Events.
        put_quietly(&target, Object::Endpoints(nginx_endpoints("default", 4)));
        target.watches_settled(1).await;
        assert!(
            source
                .lock()
                .get(Kind::Service, &key("default", "nginx-set-3-west"))
                .is_some()
        );

        // The API server closes the watch; what happens next is seen after a relist.
        target.lock().restart_watches();
        target.watches_settled(1).await;
        put_quietly(&target, Object::Endpoints(nginx_endpoints("default", 2)));
        target.watches_settled(1).await;
        assert!(
            source
                .lock()
                .get(Kind::Service, &key("default", "nginx-set-2-west"))
                .is_none()
        );

        // Drift in the source: only the periodic resync sees it.
        source
            .lock()
            .delete(
                Kind::Endpoints,
                &key("default", "nginx-set-0-west"),
                &Default::default(),
            )
            .expect("delete");
        let relists = status.borrow().stats.relists;
        clock.advance(Duration::from_secs(300));
        status
            .wait_for(|s| s.stats.relists > relists && s.stats.reconciles > 0)
            .await
            .expect("status");
        target.watches_settled(1).await;
        assert!(
            source
                .lock()
                .get(Kind::Endpoints, &key("default", "nginx-set-0-west"))
                .is_some()
        );
        stop.send(()).expect("stop");
    };
    let run = w.driver.run(async {
        stopped.await.ok();
    });
    tokio::join!(run, script);
    let stats = *w.driver.stats();
    assert!(stats.watch_restarts >= 1, "{stats:?}");
    assert!(stats.relists >= 3, "start, restart, resync: {stats:?}");
    assert_eq!(stats.events, 2, "{stats:?}");
    w.assert_converged().await;
}

/// The same loop with 30 % of source requests failing and the target's watch restarting at
/// random: the source still ends in the desired state.
#[tokio::test]
async fn run_converges_under_request_faults_and_watch_restarts() {
    for seed in [1, 7, 99] {
        let mut w = World::new(link()).with_manual_resync();
        w.with_faults(Some(FaultConfig::new(0.3, seed)));
        w.target
            .lock()
            .set_faults(Some(FaultConfig::new(0.0, seed).watch_restarts(0.3)));
        let target = w.target.clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let script = async move {
            target.watches_settled(1).await;
            put_quietly(&target, Object::Service(nginx("default")));
            put_quietly(&target, Object::Endpoints(nginx_endpoints("default", 3)));
            target.watches_settled(1).await;
            put_quietly(&target, Object::Endpoints(nginx_endpoints("default", 4)));
            target.watches_settled(1).await;
            put_quietly(
                &target,
                Object::Service(exported("default", "web", false, &HTTP)),
            );
            put_quietly(
                &target,
                Object::Endpoints(endpoints("default", "web", &[("", "10.42.0.50")], &HTTP)),
            );
            target.watches_settled(1).await;
            stop.send(()).expect("stop");
        };
        let run = w.driver.run(async {
            stopped.await.ok();
        });
        tokio::join!(run, script);
        w.target.lock().set_faults(None);
        assert_headless_mirror(
            &w,
            "default",
            "nginx-svc",
            &["nginx-set-0", "nginx-set-1", "nginx-set-2", "nginx-set-3"],
            &HTTP,
            &HTTP,
            GATEWAY,
        );
        assert_clusterip_mirror(&w, "default", "web", &HTTP, GATEWAY);
        w.assert_converged().await;
    }
}
