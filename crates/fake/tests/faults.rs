//! Fault injection is reproducible for a seed, hits the configured rate, and a timeout may come
//! after the write took effect.

use svcmirror_backend::{ApiError, Precondition};
use svcmirror_core::model::{Kind, Object, ObjectKey, Service, ServicePort};
use svcmirror_fake::{FakeCluster, FaultConfig};

fn svc(name: &str) -> Object {
    let mut s = Service::new("default", name);
    s.spec.ports.push(ServicePort {
        port: 80,
        ..ServicePort::default()
    });
    Object::Service(s)
}

/// A fixed workload: create, update (unconditional), delete, over and over.
fn workload(cluster: &mut FakeCluster, rounds: usize) -> Vec<Result<(), ApiError>> {
    let mut out = Vec::new();
    for i in 0..rounds {
        let name = format!("s{i}");
        out.push(cluster.create(svc(&name)).map(drop));
        let Object::Service(mut s) = svc(&name) else {
            unreachable!()
        };
        s.metadata.labels.insert("round".into(), i.to_string());
        out.push(cluster.update(Object::Service(s)).map(drop));
        out.push(cluster.delete(
            Kind::Service,
            &ObjectKey::new("default", &name),
            &Precondition::default(),
        ));
    }
    out
}

#[test]
fn the_same_seed_gives_the_same_faults_and_another_seed_others() {
    let run = |seed| {
        let mut c = FakeCluster::default().with_faults(FaultConfig::new(0.3, seed));
        let results = workload(&mut c, 200);
        (results, c.state(), c.stats())
    };
    let (a, state_a, stats_a) = run(7);
    let (b, state_b, stats_b) = run(7);
    assert_eq!(a, b);
    assert_eq!(state_a, state_b);
    assert_eq!(stats_a, stats_b);
    let (c, _, _) = run(8);
    assert_ne!(a, c);
}

#[test]
fn roughly_the_configured_fraction_of_requests_fails_with_a_mix_of_errors() {
    let mut c = FakeCluster::default().with_faults(FaultConfig::new(0.2, 2024));
    // Reads are requests too.
    let mut failures = Vec::new();
    for i in 0..2000 {
        let name = format!("s{}", i % 50);
        let r = c.create(svc(&name)).map(drop);
        failures.push(r);
        let r = c.update(svc(&name)).map(drop);
        failures.push(r);
    }
    let stats = c.stats();
    assert_eq!(stats.requests, 4000);
    let rate = stats.injected_faults as f64 / stats.requests as f64;
    assert!((0.17..0.23).contains(&rate), "injected rate {rate}");
    let injected: Vec<&ApiError> = failures
        .iter()
        .filter_map(|r| r.as_ref().err())
        .filter(|e| e.to_string().contains("injected fault"))
        .collect();
    assert_eq!(injected.len() as u64, stats.injected_faults);
    let count = |f: fn(&ApiError) -> bool| injected.iter().filter(|e| f(e)).count();
    let conflicts = count(|e| matches!(e, ApiError::Conflict { .. }));
    let unavailable = count(|e| matches!(e, ApiError::Unavailable(_)));
    let timeouts = count(|e| matches!(e, ApiError::Timeout(_)));
    assert!(
        conflicts > 0 && unavailable > 0 && timeouts > 0,
        "{conflicts} {unavailable} {timeouts}"
    );
    assert!(injected.iter().all(|e| e.is_retryable()));
}

#[test]
fn a_timeout_may_come_after_the_write_took_effect() {
    let mut c = FakeCluster::default().with_faults(FaultConfig::new(1.0, 11));
    let mut written = 0;
    let mut not_written = 0;
    for i in 0..64 {
        let name = format!("s{i}");
        let key = ObjectKey::new("default", &name);
        if let Err(ApiError::Timeout(_)) = c.create(svc(&name)) {
            if c.get(Kind::Service, &key).is_some() {
                written += 1;
            } else {
                not_written += 1;
            }
        }
    }
    assert!(written > 0, "no timeout took effect");
    assert!(not_written > 0, "every timeout took effect");
    // Every object written got an event, the timed-out ones included.
    assert_eq!(c.state().services.len(), written);
    assert_eq!(c.events_since(1).len(), written);
}

#[test]
fn conflicts_and_unavailable_write_nothing() {
    let mut c = FakeCluster::default().with_faults(FaultConfig::new(1.0, 5));
    for i in 0..64 {
        let name = format!("s{i}");
        let rv = c.resource_version();
        match c.create(svc(&name)) {
            Err(ApiError::Unavailable(_) | ApiError::Conflict { .. }) => {
                assert_eq!(c.resource_version(), rv);
            }
            Err(ApiError::Timeout(_)) => {}
            other => panic!("rate 1.0 must fail every request: {other:?}"),
        }
    }
}

#[test]
fn faults_can_be_turned_on_after_set_up_and_off_again() {
    let mut c = FakeCluster::default();
    c.create(svc("a")).unwrap();
    c.set_faults(Some(FaultConfig::new(1.0, 3)));
    assert!(c.create(svc("b")).is_err());
    c.set_faults(None);
    c.create(svc("c")).unwrap();
    assert_eq!(c.stats().injected_faults, 1);
}
