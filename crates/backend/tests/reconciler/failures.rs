//! Retries, failures and the pass cap, against a scripted source (moved here from the driver's
//! tests: the sync API names each wait and each request, so no scripted cluster or recording
//! clock is needed).

use std::time::Duration;

use svcmirror_backend::{ApiError, DriverConfig, EventType, Scope};
use svcmirror_core::model::{Kind, Object};
use svcmirror_core::{ConditionStatus, ConditionType};

use crate::bench::{Bench, HTTP, rule};
use crate::common::{
    GATEWAY, Mirrors, assert_clusterip_mirror, exported, healthy, key, nginx, nginx_endpoints,
    summary,
};

fn unavailable() -> ApiError {
    ApiError::Unavailable("scripted: etcd leader changed".into())
}

/// A retryable error is retried after a capped, jittered, exponential backoff: each wait between
/// half and all of `min(max, initial · 2ⁿ)`, not all at the ceiling.
#[test]
fn retryable_errors_are_retried_with_capped_jittered_backoff() {
    let mut config = DriverConfig::default();
    config.retry.initial = Duration::from_millis(100);
    config.retry.max = Duration::from_millis(400);
    let mut w = Bench::new(config);
    w.resync();
    w.faults
        .rules
        .push(rule("create", Kind::Service, "web-west", 5, unavailable()));
    w.put_clusterip("web");
    assert_clusterip_mirror(&w.c.source, "default", "web", &HTTP, GATEWAY);
    assert_eq!(w.faults.left(), 0);
    assert_eq!(w.r.stats().retries, 5);
    assert_eq!(w.waits.len(), 5, "{:?}", w.waits);
    let ceilings = [100, 200, 400, 400, 400].map(Duration::from_millis);
    for (d, ceiling) in w.waits.iter().zip(ceilings) {
        assert!(*d >= ceiling / 2 && *d <= ceiling, "{:?}", w.waits);
    }
    // Jittered: not all equal to the ceiling.
    assert!(
        w.waits.iter().zip(ceilings).any(|(d, c)| *d != c),
        "{:?}",
        w.waits
    );
    w.assert_converged();
}

#[test]
fn exhausted_retries_are_reported_and_other_exports_proceed() {
    let mut w = Bench::new(DriverConfig::default());
    w.strict = false;
    w.resync();
    w.faults.rules.push(rule(
        "create",
        Kind::Service,
        "web-west",
        100,
        unavailable(),
    ));
    w.put_clusterip("web");
    w.put_clusterip("api");
    let outcome = w.resync();
    assert!(!outcome.complete);
    assert!(
        !outcome.pass_limit_reached,
        "given up, not looping: {outcome:?}"
    );
    assert!(Mirrors::service(&w.c.source, "default", "web-west").is_none());
    assert_clusterip_mirror(&w.c.source, "default", "api", &HTTP, GATEWAY);
    let status = w.r.status();
    assert_eq!(status.failures.len(), 1, "{:#?}", status.failures);
    let failure = &status.failures[0];
    assert_eq!(
        (failure.action, failure.kind, &failure.key),
        ("create", Kind::Service, &key("default", "web-west"))
    );
    assert!(matches!(failure.error, ApiError::Unavailable(_)));
    assert!(w.r.stats().operation_failures >= 1);

    // The API server recovers: the next resync finishes and clears the failure.
    w.faults.rules.clear();
    let outcome = w.resync();
    assert!(outcome.complete, "{outcome:?}");
    assert!(w.r.status().failures.is_empty());
    assert_clusterip_mirror(&w.c.source, "default", "web", &HTTP, GATEWAY);
}

#[test]
fn invalid_is_reported_without_retry_and_other_exports_proceed() {
    let mut w = Bench::new(DriverConfig::default());
    w.strict = false;
    w.resync();
    let invalid = ApiError::Invalid {
        kind: Kind::Service,
        key: key("default", "web-west"),
        field: "spec.ports[0].port".into(),
        message: "scripted".into(),
    };
    // Twice: the Service event and the Endpoints event each try once.
    w.faults.rules.push(rule(
        "create",
        Kind::Service,
        "web-west",
        2,
        invalid.clone(),
    ));
    w.faults.rules.push(rule(
        "create",
        Kind::Endpoints,
        "api-west",
        1,
        ApiError::Forbidden("scripted: no RBAC".into()),
    ));
    w.put_clusterip("web");
    w.put_clusterip("zeta");
    w.put(Object::Service(exported("default", "api", false, &HTTP)));
    assert!(w.waits.is_empty(), "non-retryable errors are not retried");
    assert_eq!(w.r.stats().retries, 0);
    let failures = w.r.status().failures;
    let got: Vec<_> = failures
        .iter()
        .map(|f| (f.action, f.kind, f.key.name.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("create", Kind::Service, "web-west"),
            ("create", Kind::Endpoints, "api-west")
        ]
    );
    assert_eq!(failures[0].error, invalid);
    // Same key's Endpoints were not written after its Service failed.
    assert!(Mirrors::endpoints_of(&w.c.source, "default", "web-west").is_none());
    assert_clusterip_mirror(&w.c.source, "default", "zeta", &HTTP, GATEWAY);
    assert!(Mirrors::service(&w.c.source, "default", "api-west").is_some());

    let outcome = w.resync();
    assert!(outcome.complete, "{outcome:?}");
    assert!(w.r.status().failures.is_empty());
    w.assert_converged();
}

#[test]
fn a_timed_out_create_is_reread_not_sent_again() {
    let mut w = Bench::new(DriverConfig::default());
    w.resync();
    let creates = w.c.source.stats().creates;
    let mut timeout = rule(
        "create",
        Kind::Service,
        "web-west",
        1,
        ApiError::Timeout("scripted: response lost".into()),
    );
    timeout.after = true;
    w.faults.rules.push(timeout);
    w.put_clusterip("web");
    assert_clusterip_mirror(&w.c.source, "default", "web", &HTTP, GATEWAY);
    let stats = *w.r.stats();
    assert_eq!(stats.rereads, 1);
    assert_eq!(stats.conflicts, 0, "the create was not sent again");
    assert_eq!(
        w.c.source.stats().creates - creates,
        2,
        "web-west and its Endpoints, once each"
    );
    w.assert_converged();
}

#[test]
fn the_pass_cap_stops_a_reconcile_that_cannot_converge_and_reports_it() {
    let mut config = DriverConfig::default();
    config.max_passes = 4;
    let mut w = Bench::new(config);
    w.strict = false;
    w.resync();
    w.put_clusterip("web");
    w.faults.ignore_updates = true;
    let mut svc = exported("default", "web", false, &[("http", 8080)]);
    svc.metadata.labels.insert("tier".into(), "front".into());
    let outcome = w.put(Object::Service(svc));
    assert!(outcome.pass_limit_reached, "{outcome:?}");
    assert!(!outcome.complete);
    assert_eq!(outcome.passes, 4);
    let status = w.r.status();
    assert_eq!(status.stats.unconverged, 1);
    assert_eq!(status.unconverged, [Scope::Export(key("default", "web"))]);

    w.faults.ignore_updates = false;
    let outcome = w.resync();
    assert!(outcome.complete);
    assert!(w.r.status().unconverged.is_empty());
}

/// SPEC §12: a write given up leaves the export `Mirrored=False, Pending` (and a Warning Event);
/// the next reconcile that succeeds reports it healthy (and a Normal Event).
#[test]
fn a_write_given_up_reports_mirrored_false_pending_then_recovers() {
    let mut w = Bench::new(DriverConfig::default());
    w.strict = false;
    w.resync();
    w.faults.rules.push(rule(
        "create",
        Kind::Service,
        "web-west",
        1,
        ApiError::Forbidden("scripted: quota".into()),
    ));
    let outcome = w.put(Object::Service(exported("default", "web", false, &HTTP)));
    assert!(!outcome.complete);
    let mirrored = w
        .status_of("web")
        .condition(ConditionType::Mirrored)
        .cloned()
        .expect("Mirrored");
    assert_eq!(
        (mirrored.status, mirrored.reason.as_str()),
        (ConditionStatus::False, "Pending"),
        "{mirrored}"
    );
    assert_eq!(
        w.events(),
        [("default/web".into(), EventType::Warning, "Pending".into())]
    );
    w.resync();
    assert_eq!(summary(&w.status_of("web")), healthy("Mirrored"));
    assert_eq!(
        w.events().last(),
        Some(&("default/web".into(), EventType::Normal, "Mirrored".into()))
    );
}

/// SPEC §6/§7: when the root Endpoints of a scaled-down headless export cannot be updated, the
/// endpoint mirror it still names must not be deleted — its ClusterIP would be free for any new
/// Service while the root points at it — and the export is not reported `Mirrored`. Once the
/// update goes through, the scale-down finishes.
#[test]
fn a_refused_root_update_keeps_the_endpoint_mirrors_it_names() {
    let mut w = Bench::new(DriverConfig::default());
    w.strict = false;
    w.resync();
    w.put(Object::Service(nginx("default")));
    w.put(Object::Endpoints(nginx_endpoints("default", 3)));
    w.faults.rules.push(rule(
        "update",
        Kind::Endpoints,
        "nginx-svc-west",
        usize::MAX,
        ApiError::Invalid {
            kind: Kind::Endpoints,
            key: key("default", "nginx-svc-west"),
            field: "subsets".into(),
            message: "scripted: refused".into(),
        },
    ));
    let outcome = w.put(Object::Endpoints(nginx_endpoints("default", 2)));
    assert!(
        !outcome.complete && !outcome.pass_limit_reached,
        "{outcome:?}"
    );
    // Invariant: every ClusterIP a root Endpoints names is held by a Service of the source.
    let source = w.c.source.state();
    for root in &source.endpoints {
        for address in root.subsets.iter().flat_map(|s| &s.addresses) {
            if address.hostname.is_some() {
                assert!(
                    source
                        .services
                        .iter()
                        .any(|s| s.spec.cluster_ip.as_deref() == Some(address.ip.as_str())),
                    "{} names {} ({:?}), which no Service holds",
                    root.metadata.key(),
                    address.ip,
                    address.hostname
                );
            }
        }
    }
    assert!(Mirrors::service(&w.c.source, "default", "nginx-set-2-west").is_some());
    assert!(Mirrors::endpoints_of(&w.c.source, "default", "nginx-set-2-west").is_some());
    let mirrored = w
        .status_of("nginx-svc")
        .condition(ConditionType::Mirrored)
        .cloned()
        .expect("Mirrored");
    assert_eq!(mirrored.status, ConditionStatus::False, "{mirrored}");
    w.faults.rules.clear();
    w.resync();
    assert!(Mirrors::service(&w.c.source, "default", "nginx-set-2-west").is_none());
    assert_eq!(summary(&w.status_of("nginx-svc")), healthy("Mirrored"));
}

/// SPEC §8: "range is full" is never retried (it was: 1.8 M requests in 300 s); the export waits
/// for the next reconcile and says so.
#[test]
fn range_full_is_not_retried() {
    let mut w = Bench::new(DriverConfig::default());
    w.strict = false;
    w.resync();
    let retries = w.r.stats().retries;
    w.faults.rules.push(rule(
        "create",
        Kind::Service,
        "web-west",
        usize::MAX,
        ApiError::RangeFull {
            kind: Kind::Service,
            key: key("default", "web-west"),
            message: "Internal error occurred: failed to allocate a serviceIP: range is full"
                .into(),
        },
    ));
    let outcome = w.put(Object::Service(exported("default", "web", false, &HTTP)));
    assert!(!outcome.complete);
    assert_eq!(w.r.stats().retries, retries, "not retried");
    let failures = w.r.status().failures;
    assert!(
        failures
            .iter()
            .any(|f| matches!(f.error, ApiError::RangeFull { .. })),
        "{failures:?}"
    );
}
