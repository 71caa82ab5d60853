//! The test bench of the driver: `svcmirror-fake` clusters behind the backend traits, a clock that
//! never sleeps, builders for the seed's objects, and the invariants every scenario ends with.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use svcmirror_backend::{
    Clock, Driver, DriverConfig, ExportStatus, Precondition, ReconcileOutcome, TargetEvent,
};
use svcmirror_core::labels::{self, HEADLESS_MIRROR_SVC_NAME};
use svcmirror_core::model::{
    EndpointAddress, EndpointPort, EndpointSubset, Endpoints, IntOrString, Kind, Object, ObjectKey,
    ObjectReference, Service, ServicePort,
};
use svcmirror_core::{
    ConditionStatus, ConditionType, Link, LinkBuilder, SourceState, SourceStore, plan, translate,
};
use svcmirror_fake::{FakeCluster, FakeHandle, FaultConfig, WatchEvent};
use tokio::sync::watch;

// ---------------------------------------------------------------------------------------------
// Clusters

/// `(hostname, ip)` addresses and `(name, port)` ports of an Endpoints object.
pub type EndpointView = (Vec<(String, String)>, Vec<(String, i32)>);

/// A clock for tests. Sleeps shorter than `manual_from` (backoff) return at once; longer ones
/// (the periodic resync) wait until the test [`advance`](Self::advance)s virtual time past them.
/// Every requested sleep is recorded.
pub struct TestClock {
    pub slept: Mutex<Vec<Duration>>,
    manual_from: Duration,
    now: watch::Sender<Duration>,
}

impl Default for TestClock {
    /// Every sleep returns at once.
    fn default() -> Self {
        Self::manual_from(Duration::MAX)
    }
}

impl TestClock {
    pub fn manual_from(threshold: Duration) -> Self {
        Self {
            slept: Mutex::default(),
            manual_from: threshold,
            now: watch::channel(Duration::ZERO).0,
        }
    }

    /// Moves virtual time forward, waking the sleeps that are due.
    pub fn advance(&self, by: Duration) {
        self.now.send_modify(|now| *now += by);
    }

    pub fn slept(&self) -> Vec<Duration> {
        self.slept.lock().expect("clock").clone()
    }
}

impl Clock for TestClock {
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        self.slept.lock().expect("clock").push(duration);
        if duration < self.manual_from {
            return futures::future::ready(()).boxed();
        }
        let mut now = self.now.subscribe();
        let deadline = *now.borrow() + duration;
        async move {
            while *now.borrow_and_update() < deadline {
                if now.changed().await.is_err() {
                    return;
                }
            }
        }
        .boxed()
    }
}

pub type TestDriver = Driver<FakeHandle, FakeHandle, Arc<TestClock>>;

// ---------------------------------------------------------------------------------------------
// Objects

pub const EXPORTED: (&str, &str) = ("mirror.linkerd.io/exported", "true");
pub const GATEWAY: &str = "172.18.0.4";

/// The seed's link: cluster `west`, gateway 172.18.0.4:4143, headless services enabled.
pub fn west() -> LinkBuilder {
    Link::builder("west")
        .gateway_address(ip(GATEWAY))
        .enable_headless_services(true)
}

pub fn link() -> Link {
    west().build().expect("valid link")
}

pub fn ip(s: &str) -> IpAddr {
    s.parse().expect("ip")
}

pub fn key(ns: &str, name: &str) -> ObjectKey {
    ObjectKey::new(ns, name)
}

/// An exported Service with the given ports (`None` clusterIP: the target allocates one).
pub fn exported(ns: &str, name: &str, headless: bool, ports: &[(&str, i32)]) -> Service {
    let mut s = Service::new(ns, name);
    s.metadata
        .labels
        .insert(EXPORTED.0.into(), EXPORTED.1.into());
    s.metadata.labels.insert("app".into(), name.into());
    if headless {
        s.spec.cluster_ip = Some("None".into());
    }
    s.spec.ports = ports
        .iter()
        .map(|(n, p)| ServicePort {
            name: (!n.is_empty()).then(|| (*n).to_owned()),
            protocol: Some("TCP".into()),
            port: *p,
            target_port: Some(IntOrString::Int(*p)),
            ..ServicePort::default()
        })
        .collect();
    s
}

/// The seed's `nginx-svc`: headless, `http` 80/TCP, exported.
pub fn nginx(ns: &str) -> Service {
    exported(ns, "nginx-svc", true, &[("http", 80)])
}

/// Endpoints whose ready addresses are `(hostname, ip)`, with `ports`.
pub fn endpoints(ns: &str, name: &str, ready: &[(&str, &str)], ports: &[(&str, i32)]) -> Endpoints {
    let mut e = Endpoints::new(ns, name);
    e.subsets = vec![EndpointSubset {
        addresses: ready
            .iter()
            .map(|(h, i)| EndpointAddress {
                ip: (*i).into(),
                hostname: (!h.is_empty()).then(|| (*h).to_owned()),
                node_name: Some("k3d-west-server-0".into()),
                target_ref: (!h.is_empty()).then(|| ObjectReference {
                    kind: Some("Pod".into()),
                    name: Some((*h).into()),
                    namespace: Some(ns.into()),
                    ..ObjectReference::default()
                }),
            })
            .collect(),
        not_ready_addresses: vec![],
        ports: ports
            .iter()
            .map(|(n, p)| EndpointPort {
                name: (!n.is_empty()).then(|| (*n).to_owned()),
                port: *p,
                protocol: Some("TCP".into()),
                app_protocol: None,
            })
            .collect(),
    }];
    e
}

/// `nginx-set-0..pods` at 10.42.0.31…, port `http` 80.
pub fn nginx_endpoints(ns: &str, pods: usize) -> Endpoints {
    let names: Vec<(String, String)> = (0..pods)
        .map(|i| (format!("nginx-set-{i}"), format!("10.42.0.{}", 31 + i)))
        .collect();
    let ready: Vec<(&str, &str)> = names
        .iter()
        .map(|(h, i)| (h.as_str(), i.as_str()))
        .collect();
    endpoints(ns, "nginx-svc", &ready, &[("http", 80)])
}

/// Ownership labels of `cluster` and an fq annotation: what another link's mirror looks like.
pub fn mirror_of_link(cluster: &str, ns: &str, name: &str, fq: &str) -> (Service, Endpoints) {
    let mut svc = exported(ns, name, false, &[("http", 80)]);
    svc.metadata.labels.clear();
    svc.metadata
        .labels
        .insert(labels::MIRRORED_SERVICE.into(), "true".into());
    svc.metadata
        .labels
        .insert(labels::CLUSTER_NAME.into(), cluster.into());
    svc.metadata
        .annotations
        .insert(labels::REMOTE_SVC_FQ_NAME.into(), fq.into());
    let mut ep = Endpoints::new(ns, name);
    ep.metadata.labels = svc.metadata.labels.clone();
    ep.metadata.annotations = svc.metadata.annotations.clone();
    ep.subsets = endpoints(ns, name, &[("", "172.18.0.99")], &[("http", 4143)]).subsets;
    (svc, ep)
}

// ---------------------------------------------------------------------------------------------
// The world

/// A source and a target fake (namespaces `default` and `other` in both), a driver between them,
/// and what the test did to them.
pub struct World {
    pub link: Link,
    pub source: FakeHandle,
    pub target: FakeHandle,
    pub clock: Arc<TestClock>,
    pub driver: TestDriver,
    pub faults: Option<FaultConfig>,
    /// Source resourceVersion once the test's own setup was written: every later write is the
    /// driver's (or the test's `admin` actions, listed in `admin_keys`).
    setup_rv: u64,
    /// Objects the test wrote to the source that the driver must never touch.
    pub foreign: BTreeSet<(Kind, ObjectKey)>,
    /// Whether every step must complete (see `settle`).
    pub strict: bool,
    /// Keys the test itself wrote to the source after setup.
    admin_keys: BTreeSet<(Kind, ObjectKey)>,
}

impl World {
    pub fn new(link: Link) -> Self {
        let mut source = FakeCluster::default();
        let mut target = FakeCluster::new("10.96.0.0/16".parse().expect("cidr"));
        source.create_namespace("other").expect("ns");
        target.create_namespace("other").expect("ns");
        target.create_namespace("apps").expect("ns");
        let setup_rv = source.resource_version();
        let source = FakeHandle::new(source);
        let target = FakeHandle::new(target);
        let clock = Arc::new(TestClock::default());
        let driver = Driver::new(link.clone(), source.clone(), target.clone(), clock.clone())
            .with_config(DriverConfig::default());
        Self {
            link,
            source,
            target,
            clock,
            driver,
            faults: None,
            setup_rv,
            foreign: BTreeSet::new(),
            admin_keys: BTreeSet::new(),
            strict: true,
        }
    }

    /// The same world with a clock whose resync timer waits for [`TestClock::advance`] (backoff
    /// sleeps still return at once), for tests of [`Driver::run`].
    pub fn with_manual_resync(mut self) -> Self {
        let config = DriverConfig::default();
        self.clock = Arc::new(TestClock::manual_from(config.resync_interval));
        self.driver = Driver::new(
            self.link.clone(),
            self.source.clone(),
            self.target.clone(),
            self.clock.clone(),
        )
        .with_config(config);
        self
    }

    /// Writes an object to the source before the driver runs; it must never be touched.
    pub fn seed_foreign(&mut self, object: Object) {
        self.foreign.insert((object.kind(), object.key()));
        let mut fake = self.source.lock();
        fake.set_faults(None);
        fake.create(object).expect("seed object");
        fake.set_faults(self.faults);
        self.setup_rv = fake.resource_version();
    }

    /// Turns fault injection on the source on (from now on).
    pub fn with_faults(&mut self, config: Option<FaultConfig>) {
        self.faults = config;
        self.source.lock().set_faults(config);
    }

    /// Something an administrator does to the source, without faults.
    pub fn admin<R>(
        &mut self,
        keys: &[(Kind, ObjectKey)],
        f: impl FnOnce(&mut FakeCluster) -> R,
    ) -> R {
        self.admin_keys.extend(keys.iter().cloned());
        let mut fake = self.source.lock();
        fake.set_faults(None);
        let r = f(&mut fake);
        fake.set_faults(self.faults);
        r
    }

    pub fn faulty(&self) -> bool {
        self.faults.is_some()
    }

    /// The first list and whole-link reconcile.
    pub async fn start(&mut self) -> ReconcileOutcome {
        let outcome = self.driver.resync().await.expect("lists never fail here");
        self.settle(outcome)
    }

    /// Every step must leave the source complete, faults or not: the driver retries, re-reads
    /// and re-plans within one reconcile (no resync is needed to finish). Tests of failures turn
    /// `strict` off.
    fn settle(&self, outcome: ReconcileOutcome) -> ReconcileOutcome {
        if self.strict {
            assert!(
                outcome.complete,
                "the reconcile did not finish: {outcome:?}"
            );
        }
        outcome
    }

    pub async fn handle(&mut self, event: TargetEvent) -> ReconcileOutcome {
        let outcome = self.driver.handle(event).await;
        self.settle(outcome)
    }

    pub async fn resync(&mut self) -> ReconcileOutcome {
        let outcome = self.driver.resync().await.expect("lists never fail here");
        self.settle(outcome)
    }

    /// Creates or replaces a Service in the target and tells the driver.
    pub async fn put_service(&mut self, mut svc: Service) -> ReconcileOutcome {
        let stored = {
            let mut target = self.target.lock();
            let key = svc.metadata.key();
            let stored = match target.get(Kind::Service, &key) {
                Some(Object::Service(old)) if old.is_headless() == svc.is_headless() => {
                    svc.metadata.resource_version = old.metadata.resource_version.clone();
                    svc.spec.cluster_ip = old.spec.cluster_ip.clone();
                    target.update(Object::Service(svc))
                }
                Some(_) => {
                    // clusterIP is immutable: Kubernetes users delete and re-create.
                    target
                        .delete(Kind::Service, &key, &Precondition::default())
                        .expect("delete");
                    target.create(Object::Service(svc))
                }
                None => target.create(Object::Service(svc)),
            };
            match stored.expect("target accepts the service") {
                Object::Service(s) => s,
                _ => unreachable!(),
            }
        };
        self.handle(TargetEvent::ServiceApplied(stored)).await
    }

    /// Creates or replaces an Endpoints object in the target and tells the driver.
    pub async fn put_endpoints(&mut self, mut ep: Endpoints) -> ReconcileOutcome {
        let stored = {
            let mut target = self.target.lock();
            let key = ep.metadata.key();
            let stored = match target.get(Kind::Endpoints, &key) {
                Some(old) => {
                    ep.metadata.resource_version = match old {
                        Object::Endpoints(old) => old.metadata.resource_version,
                        _ => unreachable!(),
                    };
                    target.update(Object::Endpoints(ep))
                }
                None => target.create(Object::Endpoints(ep)),
            };
            match stored.expect("target accepts the endpoints") {
                Object::Endpoints(e) => e,
                _ => unreachable!(),
            }
        };
        self.handle(TargetEvent::EndpointsApplied(stored)).await
    }

    pub async fn delete_service(&mut self, ns: &str, name: &str) -> ReconcileOutcome {
        self.target
            .lock()
            .delete(Kind::Service, &key(ns, name), &Precondition::default())
            .expect("delete");
        self.handle(TargetEvent::ServiceDeleted(key(ns, name)))
            .await
    }

    pub async fn delete_endpoints(&mut self, ns: &str, name: &str) -> ReconcileOutcome {
        self.target
            .lock()
            .delete(Kind::Endpoints, &key(ns, name), &Precondition::default())
            .expect("delete");
        self.handle(TargetEvent::EndpointsDeleted(key(ns, name)))
            .await
    }

    /// Writes a Service to the target without telling the driver (a `run` test's watch will).
    pub fn put_service_quietly(&self, svc: Service) {
        put_quietly(&self.target, Object::Service(svc));
    }

    /// Writes Endpoints to the target without telling the driver.
    pub fn put_endpoints_quietly(&self, ep: Endpoints) {
        put_quietly(&self.target, Object::Endpoints(ep));
    }

    /// The seed: `nginx-svc` and its three pods in `ns`.
    pub async fn seed(&mut self, ns: &str) {
        self.put_service(nginx(ns)).await;
        self.put_endpoints(nginx_endpoints(ns, 3)).await;
    }

    pub fn source_state(&self) -> SourceState {
        self.source.lock().state()
    }

    pub fn service(&self, ns: &str, name: &str) -> Option<Service> {
        Mirrors::service(self, ns, name)
    }

    pub fn endpoints_of(&self, ns: &str, name: &str) -> Option<Endpoints> {
        Mirrors::endpoints_of(self, ns, name)
    }

    /// Names of the objects this link owns in `ns`: (services, endpoints).
    pub fn owned_names(&self, ns: &str) -> (Vec<String>, Vec<String>) {
        let state = self.source_state();
        let owned = |m: &svcmirror_core::model::ObjectMeta| {
            m.namespace() == ns && labels::is_owned_by(m, &self.link)
        };
        (
            state
                .services
                .iter()
                .filter(|s| owned(&s.metadata))
                .map(|s| s.metadata.name.clone())
                .collect(),
            state
                .endpoints
                .iter()
                .filter(|e| owned(&e.metadata))
                .map(|e| e.metadata.name.clone())
                .collect(),
        )
    }

    /// Asserts what must hold after every step:
    /// - the source holds the desired state of the whole link (a fresh plan is empty);
    /// - the driver's cache is what the source holds;
    /// - every write since setup was of an object carrying this link's labels, and none touched a
    ///   foreign object;
    /// - a resync of this converged state writes nothing.
    pub async fn assert_converged(&mut self) {
        let source = self.source_state();
        let target = self.target.lock().target_state();
        let translation = translate(&self.link, &target, &source);
        let p = plan(&self.link, &translation.desired, &source);
        assert!(p.is_empty(), "not converged: {:#?}", p.operations);
        assert_eq!(
            self.driver.cached_source().without_server_fields(),
            SourceStore::from_state(source.clone()).without_server_fields(),
            "the driver's cache differs from the source"
        );
        self.assert_only_owned_writes();
        let writes = self.driver.stats().writes;
        let rv = self.source.lock().resource_version();
        let outcome = self.driver.resync().await.expect("lists never fail here");
        if !self.faulty() {
            assert!(outcome.complete, "{outcome:?}");
        }
        assert_eq!(
            self.driver.stats().writes,
            writes,
            "a resync of a converged state wrote"
        );
        assert_eq!(
            self.source.lock().resource_version(),
            rv,
            "a resync of a converged state wrote"
        );
    }

    /// Checks only the writes that follow (after a change of cluster name, say).
    pub fn forget_writes(&mut self) {
        self.setup_rv = self.source.lock().resource_version();
    }

    pub fn assert_only_owned_writes(&self) {
        let events = self.source.lock().events_since(self.setup_rv);
        for (_, event) in events {
            let object = event.object();
            let id = (object.kind(), object.key());
            if self.admin_keys.contains(&id) {
                continue;
            }
            assert!(
                !self.foreign.contains(&id),
                "a foreign object was written: {event:?}"
            );
            let labels = match object {
                Object::Namespace(ns) => &ns.metadata.labels,
                Object::Service(s) => &s.metadata.labels,
                Object::Endpoints(e) => &e.metadata.labels,
                Object::EndpointSlice(e) => &e.metadata.labels,
            };
            assert!(
                labels::is_owned(labels, &self.link),
                "an object without this link's labels was written: {event:?}"
            );
            if let WatchEvent::Modified(_) | WatchEvent::Deleted(_) = event {
                // Only objects the driver owns are ever changed (checked via labels above).
            }
        }
    }
}

/// The source without server-set bookkeeping (uid, resourceVersion, creationTimestamp), for
/// comparing runs. ClusterIPs are kept: the fake allocates them from a hash of the name.
pub fn normalized(state: &SourceState) -> SourceState {
    let mut s = state.clone();
    for svc in &mut s.services {
        svc.metadata.uid = None;
        svc.metadata.resource_version = None;
        svc.metadata.creation_timestamp = None;
    }
    for ep in &mut s.endpoints {
        ep.metadata.uid = None;
        ep.metadata.resource_version = None;
        ep.metadata.creation_timestamp = None;
    }
    for ns in s.namespaces.iter_mut().flatten() {
        ns.metadata.uid = None;
        ns.metadata.resource_version = None;
    }
    s
}

// ---------------------------------------------------------------------------------------------
// Expectations

/// Where the expectations read the mirrors: a [`World`]'s source, or a source fake.
pub trait Mirrors {
    fn service(&self, ns: &str, name: &str) -> Option<Service>;
    fn endpoints_of(&self, ns: &str, name: &str) -> Option<Endpoints>;
    fn service_cidr(&self) -> ipnet::IpNet;
}

impl Mirrors for FakeCluster {
    fn service(&self, ns: &str, name: &str) -> Option<Service> {
        match self.get(Kind::Service, &key(ns, name)) {
            Some(Object::Service(s)) => Some(s),
            _ => None,
        }
    }
    fn endpoints_of(&self, ns: &str, name: &str) -> Option<Endpoints> {
        match self.get(Kind::Endpoints, &key(ns, name)) {
            Some(Object::Endpoints(e)) => Some(e),
            _ => None,
        }
    }
    fn service_cidr(&self) -> ipnet::IpNet {
        FakeCluster::service_cidr(self)
    }
}

impl Mirrors for World {
    fn service(&self, ns: &str, name: &str) -> Option<Service> {
        Mirrors::service(&*self.source.lock(), ns, name)
    }
    fn endpoints_of(&self, ns: &str, name: &str) -> Option<Endpoints> {
        Mirrors::endpoints_of(&*self.source.lock(), ns, name)
    }
    fn service_cidr(&self) -> ipnet::IpNet {
        self.source.lock().service_cidr()
    }
}

/// `(type, status, reason)` of each condition.
pub fn summary(status: &ExportStatus) -> Vec<(ConditionType, ConditionStatus, String)> {
    status
        .conditions
        .iter()
        .map(|c| (c.type_, c.status, c.reason.clone()))
        .collect()
}

/// SPEC §12: the conditions of an export mirrored as it should be.
pub fn healthy(mirrored_reason: &str) -> Vec<(ConditionType, ConditionStatus, String)> {
    vec![
        (ConditionType::Valid, ConditionStatus::True, "Valid".into()),
        (
            ConditionType::Mirrored,
            ConditionStatus::True,
            mirrored_reason.into(),
        ),
        (
            ConditionType::Conflict,
            ConditionStatus::False,
            "NoConflicts".into(),
        ),
    ]
}

/// The ports of a Service as `(name, port)`.
pub fn service_ports(s: &Service) -> Vec<(String, i32)> {
    let mut v: Vec<_> = s
        .spec
        .ports
        .iter()
        .map(|p| (p.name.clone().unwrap_or_default(), p.port))
        .collect();
    v.sort();
    v
}

/// The addresses of an Endpoints object as `(hostname, ip)`, and its ports as `(name, port)`.
pub fn endpoint_view(e: &Endpoints) -> EndpointView {
    let mut addresses = Vec::new();
    let mut ports = Vec::new();
    for s in &e.subsets {
        for a in &s.addresses {
            addresses.push((a.hostname.clone().unwrap_or_default(), a.ip.clone()));
        }
        for p in &s.ports {
            ports.push((p.name.clone().unwrap_or_default(), p.port));
        }
    }
    addresses.sort();
    ports.sort();
    ports.dedup();
    (addresses, ports)
}

fn owned_ports(ports: &[(&str, i32)]) -> Vec<(String, i32)> {
    let mut v: Vec<_> = ports.iter().map(|(n, p)| ((*n).to_owned(), *p)).collect();
    v.sort();
    v
}

/// SPEC §6: the headless mirror of `export` in `ns`: a headless root with `ports`, one ClusterIP
/// endpoint mirror per hostname with the same ports and Endpoints at the gateway, and root
/// Endpoints mapping each hostname to its endpoint mirror's allocated IP with `endpoint_ports`.
pub fn assert_headless_mirror(
    w: &impl Mirrors,
    ns: &str,
    export: &str,
    hostnames: &[&str],
    ports: &[(&str, i32)],
    endpoint_ports: &[(&str, i32)],
    gateway: &str,
) {
    let root_name = format!("{export}-west");
    let root = w
        .service(ns, &root_name)
        .unwrap_or_else(|| panic!("root mirror {ns}/{root_name}"));
    assert!(root.is_headless(), "{root:?}");
    assert_eq!(service_ports(&root), owned_ports(ports));
    let mut expected_root_addresses = Vec::new();
    for h in hostnames {
        let name = format!("{h}-west");
        let svc = w
            .service(ns, &name)
            .unwrap_or_else(|| panic!("endpoint mirror {ns}/{name}"));
        assert!(!svc.is_headless());
        let cluster_ip: IpAddr = svc
            .spec
            .cluster_ip
            .as_deref()
            .expect("allocated")
            .parse()
            .expect("ip");
        assert!(w.service_cidr().contains(&cluster_ip));
        assert_eq!(service_ports(&svc), owned_ports(ports), "{name}");
        assert_eq!(
            svc.metadata
                .labels
                .get(HEADLESS_MIRROR_SVC_NAME)
                .map(String::as_str),
            Some(root_name.as_str())
        );
        let ep = w
            .endpoints_of(ns, &name)
            .unwrap_or_else(|| panic!("endpoints {ns}/{name}"));
        let gateway_ports: Vec<(&str, i32)> = ports.iter().map(|(n, _)| (*n, 4143)).collect();
        assert_eq!(
            endpoint_view(&ep),
            (
                vec![(String::new(), gateway.to_owned())],
                owned_ports(&gateway_ports)
            ),
            "{name}"
        );
        expected_root_addresses.push(((*h).to_owned(), cluster_ip.to_string()));
    }
    expected_root_addresses.sort();
    let root_ep = w.endpoints_of(ns, &root_name).expect("root endpoints");
    assert_eq!(
        endpoint_view(&root_ep),
        (expected_root_addresses, owned_ports(endpoint_ports))
    );
}

/// SPEC §5: a ClusterIP mirror with `ports` whose Endpoints point at the gateway.
pub fn assert_clusterip_mirror(
    w: &impl Mirrors,
    ns: &str,
    export: &str,
    ports: &[(&str, i32)],
    gateway: &str,
) {
    let name = format!("{export}-west");
    let svc = w
        .service(ns, &name)
        .unwrap_or_else(|| panic!("mirror {ns}/{name}"));
    assert!(!svc.is_headless());
    assert!(svc.spec.cluster_ip.is_some());
    assert_eq!(service_ports(&svc), owned_ports(ports));
    let ep = w.endpoints_of(ns, &name).expect("mirror endpoints");
    let gateway_ports: Vec<(&str, i32)> = ports.iter().map(|(n, _)| (*n, 4143)).collect();
    assert_eq!(
        endpoint_view(&ep),
        (
            vec![(String::new(), gateway.to_owned())],
            owned_ports(&gateway_ports)
        )
    );
}

/// Sorted owned names, for `assert_eq!` against literals.
pub fn names(v: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = v.iter().map(|s| (*s).to_owned()).collect();
    v.sort();
    v
}

/// Creates or updates `object` in a target fake (keeping resourceVersion and clusterIP).
pub fn put_quietly(target: &FakeHandle, mut object: Object) {
    let mut fake = target.lock();
    match (fake.get(object.kind(), &object.key()), &mut object) {
        (Some(Object::Service(old)), Object::Service(new)) => {
            new.metadata.resource_version = old.metadata.resource_version;
            new.spec.cluster_ip = old.spec.cluster_ip;
            fake.update(object).expect("update");
        }
        (Some(Object::Endpoints(old)), Object::Endpoints(new)) => {
            new.metadata.resource_version = old.metadata.resource_version;
            fake.update(object).expect("update");
        }
        (None, _) => {
            fake.create(object).expect("create");
        }
        _ => unreachable!("same kind"),
    }
}
