//! The store and the verbs: what `kube-apiserver` does with a create, update or delete of a
//! Service, Endpoints, EndpointSlice or Namespace, minus everything svcmirror does not model.

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::IpNet;
use svcmirror_backend::{ApiError, Precondition};
use svcmirror_core::model::{
    CLUSTER_IP_NONE, EndpointSlice, Endpoints, Kind, Namespace, Object, ObjectKey, ObjectMeta,
    Service,
};
use svcmirror_core::{Operation, Plan, SourceState, TargetState};

use crate::allocator::{ClusterIpAllocator, Refusal};
use crate::faults::{Fault, FaultConfig, Faults};
use crate::stats::{Stats, Verb};
use crate::validation::{self, FieldError};
use crate::watch::{WatchEvent, WatchHub, WatchPoll};

/// The `metadata.creationTimestamp` of every object: the fake has no clock.
pub const CREATION_TIMESTAMP: &str = "2024-01-01T00:00:00Z";

/// The namespace every cluster has, created by [`FakeCluster::new`]; it cannot be deleted.
const DEFAULT_NAMESPACE: &str = "default";

/// An in-memory cluster holding Namespaces, Services, Endpoints and EndpointSlices, answering like
/// the API server.
///
/// A new cluster holds the `default` Namespace (as every real cluster does) and nothing else; the
/// first address after the network address of the service CIDR is reserved (it belongs to the
/// `kubernetes` Service in a real cluster) but no `kubernetes` Service is stored.
///
/// The synchronous methods [`create`](Self::create), [`update`](Self::update),
/// [`delete`](Self::delete), [`apply`](Self::apply) and [`apply_plan`](Self::apply_plan) are API
/// requests. [`get`](Self::get), [`state`](Self::state) and [`target_state`](Self::target_state)
/// are a test's view of the store: never failing, never counted.
#[derive(Debug)]
pub struct FakeCluster {
    allocator: ClusterIpAllocator,
    namespaces: BTreeMap<String, Namespace>,
    services: BTreeMap<ObjectKey, Service>,
    endpoints: BTreeMap<ObjectKey, Endpoints>,
    endpoint_slices: BTreeMap<ObjectKey, EndpointSlice>,
    /// The last resourceVersion handed out; every write takes the next one.
    resource_version: u64,
    /// The last uid handed out.
    uids: u64,
    /// Every write, in order, with its resourceVersion.
    log: Vec<(u64, WatchEvent)>,
    stats: Stats,
    faults: Option<Faults>,
    hub: WatchHub,
    /// Inside [`FakeCluster::restore`]: given uids and creationTimestamps are kept.
    restoring: bool,
}

impl Default for FakeCluster {
    /// A cluster with k3s' service CIDR, `10.43.0.0/16`.
    fn default() -> Self {
        Self::new(IpNet::V4(
            ipnet::Ipv4Net::new(std::net::Ipv4Addr::new(10, 43, 0, 0), 16).expect("valid prefix"),
        ))
    }
}

/// The outcome of [`FakeCluster::apply_plan`]: one result per operation, in plan order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplyReport {
    /// `results[i]` is the outcome of `plan.operations[i]`; an operation that was not sent
    /// because an operation it depends on failed has that operation's error.
    pub results: Vec<Result<(), ApiError>>,
    /// The indices of the operations not sent because a prerequisite failed ([`Plan`]).
    pub skipped: Vec<usize>,
}

impl ApplyReport {
    /// True when every operation succeeded.
    #[must_use]
    pub fn is_success(&self) -> bool {
        self.results.iter().all(Result::is_ok)
    }

    /// The failed operations: their index in the plan and the error.
    pub fn errors(&self) -> impl Iterator<Item = (usize, &ApiError)> {
        self.results
            .iter()
            .enumerate()
            .filter_map(|(i, r)| r.as_ref().err().map(|e| (i, e)))
    }
}

impl FakeCluster {
    /// An empty cluster (plus the `default` Namespace) allocating ClusterIPs from `service_cidr`
    /// (IPv4 or IPv6; host bits are ignored).
    #[must_use]
    pub fn new(service_cidr: IpNet) -> Self {
        let mut cluster = Self {
            allocator: ClusterIpAllocator::new(service_cidr),
            namespaces: BTreeMap::new(),
            services: BTreeMap::new(),
            endpoints: BTreeMap::new(),
            endpoint_slices: BTreeMap::new(),
            resource_version: 0,
            uids: 0,
            log: Vec::new(),
            stats: Stats::default(),
            faults: None,
            hub: WatchHub::default(),
            restoring: false,
        };
        cluster
            .create_namespace_object(Namespace::new(DEFAULT_NAMESPACE))
            .expect("the default namespace is valid");
        cluster
    }

    /// The service CIDR ClusterIPs are allocated from.
    #[must_use]
    pub fn service_cidr(&self) -> IpNet {
        self.allocator.cidr()
    }

    /// The current resourceVersion of the whole store (that of the last write).
    #[must_use]
    pub fn resource_version(&self) -> u64 {
        self.resource_version
    }

    /// Loads `state` (e.g. a snapshot of a real cluster) as an etcd restore would: stored as the
    /// objects are, without counting requests, injecting faults or validating — a snapshot of
    /// another cluster may hold what this fake refuses to create (ExternalName or dual-stack
    /// Services, ClusterIPs from another service CIDR). Only the API server's defaults are applied.
    /// A `spec.clusterIP` inside this fake's CIDR is reserved so it is never handed out again; one
    /// outside it is kept as it is; a non-headless Service without one gets one allocated. uids and
    /// creationTimestamps are kept; resourceVersions are the fake's own. Namespaces that already
    /// exist are kept. When `state.namespaces` is `None` (unknown: "every namespace exists"), the
    /// namespaces the objects live in are created.
    ///
    /// # Errors
    /// `AlreadyExists` for an object already stored (or twice in `state`), `NotFound` of the
    /// Namespace for an object outside the listed namespaces, `Unavailable` when the CIDR is full;
    /// what came before stays restored.
    pub fn restore(&mut self, state: SourceState) -> Result<(), ApiError> {
        self.restoring = true;
        let result = self.restore_objects(state);
        self.restoring = false;
        result
    }

    fn restore_objects(&mut self, state: SourceState) -> Result<(), ApiError> {
        let namespaces: Vec<Namespace> = match state.namespaces {
            Some(namespaces) => namespaces,
            None => state
                .services
                .iter()
                .map(|s| s.metadata.namespace().to_owned())
                .chain(
                    state
                        .endpoints
                        .iter()
                        .map(|e| e.metadata.namespace().to_owned()),
                )
                .chain(
                    state
                        .endpoint_slices
                        .iter()
                        .map(|e| e.metadata.namespace().to_owned()),
                )
                .collect::<std::collections::BTreeSet<_>>()
                .iter()
                .map(|name| Namespace::new(name))
                .collect(),
        };
        for mut ns in namespaces {
            if self.namespaces.contains_key(&ns.metadata.name) {
                continue;
            }
            ns.metadata.resource_version = None;
            self.create_namespace_object(ns)?;
        }
        for svc in state.services {
            self.restore_service(svc)?;
        }
        for mut ep in state.endpoints {
            let key = ep.metadata.key();
            ep.metadata.namespace.clone_from(&key.namespace);
            validation::default_endpoints(&mut ep);
            self.require_namespace(&key.namespace)?;
            if self.endpoints.contains_key(&key) {
                return Err(already_exists(Kind::Endpoints, &key));
            }
            self.stamp_uid(&mut ep.metadata.uid);
            ep.metadata.resource_version = Some(self.next_resource_version());
            self.stamp_creation(&mut ep.metadata.creation_timestamp);
            self.endpoints.insert(key, ep.clone());
            self.record(WatchEvent::Added(Object::Endpoints(ep)));
        }
        for mut slice in state.endpoint_slices {
            let key = slice.metadata.key();
            slice.metadata.namespace.clone_from(&key.namespace);
            validation::default_endpoint_slice(&mut slice);
            self.require_namespace(&key.namespace)?;
            if self.endpoint_slices.contains_key(&key) {
                return Err(already_exists(Kind::EndpointSlice, &key));
            }
            self.stamp_uid(&mut slice.metadata.uid);
            slice.metadata.resource_version = Some(self.next_resource_version());
            self.stamp_creation(&mut slice.metadata.creation_timestamp);
            self.endpoint_slices.insert(key, slice.clone());
            self.record(WatchEvent::Added(Object::EndpointSlice(slice)));
        }
        Ok(())
    }

    fn restore_service(&mut self, mut svc: Service) -> Result<(), ApiError> {
        let key = svc.metadata.key();
        svc.metadata.namespace.clone_from(&key.namespace);
        validation::default_service(&mut svc);
        self.require_namespace(&key.namespace)?;
        if self.services.contains_key(&key) {
            return Err(already_exists(Kind::Service, &key));
        }
        match svc.spec.cluster_ip.as_deref() {
            Some(CLUSTER_IP_NONE) => {}
            Some(ip) => {
                if let Ok(ip) = ip.parse::<IpAddr>() {
                    // Outside the CIDR, or already held: kept as it is (a snapshot is what it is).
                    let _ = self.allocator.reserve(ip, &key);
                }
            }
            None if svc.spec.type_.as_deref() != Some("ExternalName") => {
                // What `create` answers too: the API server's "range is full", typed.
                let ip = self
                    .allocator
                    .allocate(&key)
                    .map_err(|_| ApiError::RangeFull {
                        kind: Kind::Service,
                        key: key.clone(),
                        message:
                            "Internal error occurred: failed to allocate a serviceIP: range is full"
                                .to_owned(),
                    })?;
                svc.spec.cluster_ip = Some(ip.to_string());
            }
            None => {}
        }
        if svc.spec.cluster_ips.is_empty() {
            svc.spec.cluster_ips.extend(svc.spec.cluster_ip.clone());
        }
        self.stamp_uid(&mut svc.metadata.uid);
        svc.metadata.resource_version = Some(self.next_resource_version());
        self.stamp_creation(&mut svc.metadata.creation_timestamp);
        self.services.insert(key, svc.clone());
        self.record(WatchEvent::Added(Object::Service(svc)));
        Ok(())
    }

    /// Every write after `resource_version`, in order, each with its resourceVersion: what a
    /// watch started at that resourceVersion reports. `events_since(0)` is the whole history.
    #[must_use]
    pub fn events_since(&self, resource_version: u64) -> Vec<(u64, WatchEvent)> {
        let start = self.log.partition_point(|(rv, _)| *rv <= resource_version);
        self.log[start..].to_vec()
    }

    /// The requests served so far.
    #[must_use]
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Injects faults into the requests that follow (see [`FaultConfig`]); builder style.
    #[must_use]
    pub fn with_faults(mut self, config: FaultConfig) -> Self {
        self.set_faults(Some(config));
        self
    }

    /// Starts (from the configuration's seed) or stops (`None`) fault injection. Setting up a
    /// scenario without faults and then turning them on is the usual way to test a controller.
    pub fn set_faults(&mut self, config: Option<FaultConfig>) {
        self.faults = config.map(Faults::new);
    }

    /// Serves one request: counts it, decides whether a fault is injected, runs `verb_impl`.
    fn request<T>(
        &mut self,
        verb: Verb,
        kind: Kind,
        key: &ObjectKey,
        verb_impl: impl FnOnce(&mut Self) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        self.stats.count(verb);
        let result = match self.faults.as_mut().and_then(|f| f.draw(verb)) {
            None => verb_impl(self),
            Some(fault) => {
                self.stats.injected_faults += 1;
                if fault == Fault::TimeoutAfter {
                    // The write happens; its response is lost on the way back.
                    let _lost = verb_impl(self);
                }
                Err(fault.into_error(verb, kind, key))
            }
        };
        if result.is_err() {
            self.stats.failed_requests += 1;
        }
        result
    }

    /// Lists everything (a request, unlike [`state`](Self::state)): what the `list` of the
    /// cluster traits serves.
    pub(crate) fn list_request(&mut self) -> Result<SourceState, ApiError> {
        self.request(Verb::List, Kind::Service, &ObjectKey::new("", "*"), |c| {
            Ok(c.state())
        })
    }

    /// Reads one object (a request, unlike [`get`](Self::get)).
    pub(crate) fn get_request(
        &mut self,
        kind: Kind,
        key: &ObjectKey,
    ) -> Result<Option<Object>, ApiError> {
        self.request(Verb::Get, kind, key, |c| Ok(c.get(kind, key)))
    }

    fn record(&mut self, event: WatchEvent) {
        self.log.push((self.resource_version, event));
        self.hub.wrote();
    }

    /// Drops the history of writes so far, as the API server's compaction does: open watches end
    /// at their next poll (their consumers relist, as after a `410 Gone`) and
    /// [`events_since`](Self::events_since) reports only later writes. The stored objects are
    /// untouched. Without it a long-lived fake keeps a copy of every object ever written (at
    /// cluster scale, the CLI's in-memory source would hold each mirror twice).
    pub fn compact_history(&mut self) {
        self.log = Vec::new();
        self.hub.restart();
    }

    /// Ends every open watch stream (of [`FakeHandle`](crate::FakeHandle)): the next time each
    /// is polled it ends, as when the API server closes watches (restart, compaction), and its
    /// consumer must relist.
    pub fn restart_watches(&mut self) {
        self.hub.restart();
    }

    /// Opens a watch from the current resourceVersion (a request: counted, and it may fail).
    pub(crate) fn open_watch(&mut self) -> Result<OpenWatch, ApiError> {
        self.request(Verb::Watch, Kind::Service, &ObjectKey::new("", "*"), |c| {
            let (id, alive, writes) = c.hub.open(c.resource_version);
            Ok(OpenWatch { id, alive, writes })
        })
    }

    /// What watch `id` has not seen yet. With fault injection, each event about to be delivered
    /// may restart the watch instead.
    pub(crate) fn poll_watch(&mut self, id: u64) -> WatchPoll {
        let faults = &mut self.faults;
        self.hub.poll(id, &self.log, || {
            faults.as_mut().is_some_and(Faults::draw_watch_restart)
        })
    }

    pub(crate) fn close_watch(&mut self, id: u64) {
        self.hub.close(id);
    }

    pub(crate) fn watches_settled(&self, min_watchers: usize) -> bool {
        self.hub.settled(min_watchers, self.resource_version)
    }

    pub(crate) fn subscribe_watch_progress(&self) -> tokio::sync::watch::Receiver<u64> {
        self.hub.subscribe_progress()
    }

    /// Creates the Namespace `name` (a request, like [`create`](Self::create)).
    ///
    /// # Errors
    /// `AlreadyExists`, or `Invalid` when `name` is not a DNS-1123 label.
    pub fn create_namespace(&mut self, name: &str) -> Result<Namespace, ApiError> {
        match self.create(Object::Namespace(Namespace::new(name)))? {
            Object::Namespace(ns) => Ok(ns),
            _ => unreachable!("create returns the kind it was given"),
        }
    }

    /// Creates `object` and returns it as stored: uid, resourceVersion, creationTimestamp set,
    /// defaults applied, a ClusterIP allocated to a non-headless Service without one.
    ///
    /// # Errors
    /// `Invalid` (with the field path) when the server would reject the object or the requested
    /// `spec.clusterIP` is outside the CIDR or taken, `NotFound` (of the Namespace) when its
    /// namespace does not exist, `AlreadyExists` when the name is taken, `RangeFull` when the
    /// service CIDR is full, `TooLarge` (413) when the object is over 1.5 MiB as JSON (etcd's
    /// request limit).
    pub fn create(&mut self, object: Object) -> Result<Object, ApiError> {
        let (kind, key) = (object.kind(), object.key());
        self.request(Verb::Create, kind, &key, |c| c.create_object(object))
    }

    fn create_object(&mut self, object: Object) -> Result<Object, ApiError> {
        match object {
            Object::Namespace(ns) => self.create_namespace_object(ns).map(Object::Namespace),
            Object::Service(svc) => self.create_service(svc).map(Object::Service),
            Object::Endpoints(ep) => self.create_plain(ep).map(Object::Endpoints),
            Object::EndpointSlice(slice) => self.create_plain(slice).map(Object::EndpointSlice),
        }
    }

    /// Replaces the stored object with `object` and returns it as stored. An update that changes
    /// nothing is not a write: the stored object (and resourceVersion) is returned unchanged.
    ///
    /// # Errors
    /// `NotFound` when absent; `Conflict` when `metadata.resourceVersion` (or `uid`) is set and
    /// is not the stored one; `Invalid` as for [`create`](Self::create), and with field
    /// `spec.clusterIP` when the update changes the ClusterIP (it is immutable; an update without
    /// one keeps the stored one).
    pub fn update(&mut self, object: Object) -> Result<Object, ApiError> {
        let (kind, key) = (object.kind(), object.key());
        self.request(Verb::Update, kind, &key, |c| c.update_object(object))
    }

    fn update_object(&mut self, object: Object) -> Result<Object, ApiError> {
        match object {
            Object::Namespace(ns) => self.update_namespace(ns).map(Object::Namespace),
            Object::Service(svc) => self.update_service(svc).map(Object::Service),
            Object::Endpoints(ep) => self.update_plain(ep).map(Object::Endpoints),
            Object::EndpointSlice(slice) => self.update_plain(slice).map(Object::EndpointSlice),
        }
    }

    /// Deletes an object. A Service's ClusterIP is released. Deleting a Namespace deletes what it
    /// holds (at once: the fake has no finalizers). Nothing else is cascaded: there are no
    /// controllers, so a Service's Endpoints stay.
    ///
    /// # Errors
    /// `NotFound` when absent, `Conflict` when a precondition (uid, resourceVersion) does not
    /// match, `Forbidden` for the `default` Namespace.
    pub fn delete(
        &mut self,
        kind: Kind,
        key: &ObjectKey,
        preconditions: &Precondition,
    ) -> Result<(), ApiError> {
        self.request(Verb::Delete, kind, key, |c| {
            c.delete_object(kind, key, preconditions)
        })
    }

    fn delete_object(
        &mut self,
        kind: Kind,
        key: &ObjectKey,
        preconditions: &Precondition,
    ) -> Result<(), ApiError> {
        let meta = match kind {
            Kind::Namespace => self.namespaces.get(&key.name).map(|ns| {
                (
                    ns.metadata.uid.clone(),
                    ns.metadata.resource_version.clone(),
                )
            }),
            Kind::Service => self
                .services
                .get(key)
                .map(|s| (s.metadata.uid.clone(), s.metadata.resource_version.clone())),
            Kind::Endpoints => self
                .endpoints
                .get(key)
                .map(|e| (e.metadata.uid.clone(), e.metadata.resource_version.clone())),
            Kind::EndpointSlice => self
                .endpoint_slices
                .get(key)
                .map(|e| (e.metadata.uid.clone(), e.metadata.resource_version.clone())),
        };
        let Some((uid, resource_version)) = meta else {
            return Err(not_found(kind, key));
        };
        if let Some(want) = &preconditions.uid
            && uid.as_ref() != Some(want)
        {
            return Err(conflict(
                kind,
                key,
                format!(
                    "Precondition failed: UID in precondition: {want}, UID in object meta: {}",
                    uid.unwrap_or_default()
                ),
            ));
        }
        if let Some(want) = &preconditions.resource_version
            && resource_version.as_ref() != Some(want)
        {
            return Err(conflict(
                kind,
                key,
                format!(
                    "Precondition failed: ResourceVersion in precondition: {want}, \
                     ResourceVersion in meta: {}",
                    resource_version.unwrap_or_default()
                ),
            ));
        }
        match kind {
            Kind::Namespace => {
                if key.name == DEFAULT_NAMESPACE {
                    return Err(ApiError::Forbidden(format!(
                        "namespaces \"{DEFAULT_NAMESPACE}\" is forbidden: this namespace may not be deleted"
                    )));
                }
                let held: Vec<ObjectKey> = self
                    .endpoints
                    .keys()
                    .filter(|k| k.namespace == key.name)
                    .cloned()
                    .collect();
                for k in held {
                    self.remove_endpoints(&k);
                }
                let held: Vec<ObjectKey> = self
                    .endpoint_slices
                    .keys()
                    .filter(|k| k.namespace == key.name)
                    .cloned()
                    .collect();
                for k in held {
                    self.remove_endpoint_slice(&k);
                }
                let held: Vec<ObjectKey> = self
                    .services
                    .keys()
                    .filter(|k| k.namespace == key.name)
                    .cloned()
                    .collect();
                for k in held {
                    self.remove_service(&k);
                }
                if let Some(mut ns) = self.namespaces.remove(&key.name) {
                    ns.metadata.resource_version = Some(self.next_resource_version());
                    self.record(WatchEvent::Deleted(Object::Namespace(ns)));
                }
            }
            Kind::Service => {
                self.remove_service(key);
            }
            Kind::Endpoints => {
                self.remove_endpoints(key);
            }
            Kind::EndpointSlice => {
                self.remove_endpoint_slice(key);
            }
        }
        Ok(())
    }

    /// The stored object of `kind` at `key` (a Namespace's key has an empty namespace).
    #[must_use]
    pub fn get(&self, kind: Kind, key: &ObjectKey) -> Option<Object> {
        match kind {
            Kind::Namespace => self
                .namespaces
                .get(&key.name)
                .cloned()
                .map(Object::Namespace),
            Kind::Service => self.services.get(key).cloned().map(Object::Service),
            Kind::Endpoints => self.endpoints.get(key).cloned().map(Object::Endpoints),
            Kind::EndpointSlice => self
                .endpoint_slices
                .get(key)
                .cloned()
                .map(Object::EndpointSlice),
        }
    }

    /// Everything stored, as the source cluster's state: namespaces known (`Some`), every list
    /// sorted by key.
    #[must_use]
    pub fn state(&self) -> SourceState {
        SourceState::new(
            self.services.values().cloned().collect(),
            self.endpoints.values().cloned().collect(),
        )
        .with_endpoint_slices(self.endpoint_slices.values().cloned().collect())
        .with_namespaces(Some(self.namespaces.values().cloned().collect()))
    }

    /// Everything stored, moved out as the source cluster's state: [`state`](Self::state)
    /// without the copy, for a caller done with the cluster.
    #[must_use]
    pub fn into_state(self) -> SourceState {
        SourceState::new(
            self.services.into_values().collect(),
            self.endpoints.into_values().collect(),
        )
        .with_endpoint_slices(self.endpoint_slices.into_values().collect())
        .with_namespaces(Some(self.namespaces.into_values().collect()))
    }

    /// The stored Services and Endpoints, as a target cluster's state, sorted by key.
    #[must_use]
    pub fn target_state(&self) -> TargetState {
        TargetState::new(
            self.services.values().cloned().collect(),
            self.endpoints.values().cloned().collect(),
        )
    }

    /// Performs one planned operation (an operation kind it does not know is
    /// [`ApiError::Unsupported`]): `Create` → [`create`](Self::create), `Update` →
    /// [`update`](Self::update), `Delete` → [`delete`](Self::delete) with the operation's uid and
    /// resourceVersion as preconditions.
    ///
    /// # Errors
    /// Those of the verb.
    pub fn apply(&mut self, operation: &Operation) -> Result<(), ApiError> {
        match operation {
            Operation::Create { object } => self.create(object.clone()).map(drop),
            Operation::Update { object, .. } => self.update(object.clone()).map(drop),
            Operation::Delete {
                kind,
                key,
                precondition,
                ..
            } => self.delete(*kind, key, precondition),
            other => Err(unsupported(other)),
        }
    }

    /// [`apply`](Self::apply), taking the operation's object instead of copying it.
    ///
    /// # Errors
    /// Those of the verb.
    pub fn apply_owned(&mut self, operation: Operation) -> Result<(), ApiError> {
        match operation {
            Operation::Create { object } => self.create(object).map(drop),
            Operation::Update { object, .. } => self.update(object).map(drop),
            other => self.apply(&other),
        }
    }

    /// Applies every operation of `plan` in order, carrying on after a failure (as a controller
    /// would, to retry later), and reports each outcome. As [`Plan`] requires, an operation whose
    /// prerequisite failed is not sent.
    pub fn apply_plan(&mut self, plan: &Plan) -> ApplyReport {
        let mut report = ApplyReport::default();
        for (i, op) in plan.operations.iter().enumerate() {
            let failed = plan
                .prerequisites(i)
                .find_map(|on| report.results[on].as_ref().err().cloned());
            let result = match failed {
                Some(error) => {
                    report.skipped.push(i);
                    Err(error)
                }
                None => self.apply(op),
            };
            report.results.push(result);
        }
        report
    }

    // --- the verbs, per kind -------------------------------------------------------------

    fn create_namespace_object(&mut self, mut ns: Namespace) -> Result<Namespace, ApiError> {
        let key = ObjectKey::new("", &ns.metadata.name);
        validation::namespace(&ns).map_err(|e| e.into_api(Kind::Namespace, &key))?;
        reject_resource_version_on_create(
            ns.metadata.resource_version.as_ref(),
            Kind::Namespace,
            &key,
        )?;
        if self.namespaces.contains_key(&key.name) {
            return Err(already_exists(Kind::Namespace, &key));
        }
        self.stamp_uid(&mut ns.metadata.uid);
        ns.metadata.resource_version = Some(self.next_resource_version());
        self.namespaces.insert(key.name, ns.clone());
        self.record(WatchEvent::Added(Object::Namespace(ns.clone())));
        Ok(ns)
    }

    fn update_namespace(&mut self, mut ns: Namespace) -> Result<Namespace, ApiError> {
        let key = ObjectKey::new("", &ns.metadata.name);
        let stored = self
            .namespaces
            .get(&key.name)
            .ok_or_else(|| not_found(Kind::Namespace, &key))?;
        check_current(
            Kind::Namespace,
            &key,
            (&ns.metadata.uid, &ns.metadata.resource_version),
            (&stored.metadata.uid, &stored.metadata.resource_version),
        )?;
        validation::namespace(&ns).map_err(|e| e.into_api(Kind::Namespace, &key))?;
        ns.metadata.uid.clone_from(&stored.metadata.uid);
        ns.metadata
            .resource_version
            .clone_from(&stored.metadata.resource_version);
        if &ns == stored {
            return Ok(ns);
        }
        ns.metadata.resource_version = Some(self.next_resource_version());
        self.namespaces.insert(key.name, ns.clone());
        self.record(WatchEvent::Modified(Object::Namespace(ns.clone())));
        Ok(ns)
    }

    fn create_service(&mut self, mut svc: Service) -> Result<Service, ApiError> {
        let key = svc.metadata.key();
        svc.metadata.namespace.clone_from(&key.namespace);
        validation::default_service(&mut svc);
        validation::service(&svc).map_err(|e| e.into_api(Kind::Service, &key))?;
        validation::object_size(&svc, Kind::Service, &key)?;
        reject_resource_version_on_create(
            svc.metadata.resource_version.as_ref(),
            Kind::Service,
            &key,
        )?;
        self.require_namespace(&key.namespace)?;
        if self.services.contains_key(&key) {
            return Err(already_exists(Kind::Service, &key));
        }
        let ip = match svc.spec.cluster_ip.as_deref() {
            Some(CLUSTER_IP_NONE) => CLUSTER_IP_NONE.to_owned(),
            Some(requested) => {
                // Validation made sure it parses.
                let ip: IpAddr = requested.parse().map_err(|_| {
                    FieldError::new("spec.clusterIP", "must be a valid IP address")
                        .into_api(Kind::Service, &key)
                })?;
                self.allocator.reserve(ip, &key).map_err(|refusal| {
                    let message = match refusal {
                        Refusal::Taken => format!("{ip}: provided IP is already allocated"),
                        Refusal::OutOfRange | Refusal::Full => format!(
                            "{ip}: provided IP is not in the valid range. The range of valid IPs is {}",
                            self.allocator.cidr()
                        ),
                    };
                    FieldError::new("spec.clusterIP", message).into_api(Kind::Service, &key)
                })?;
                ip.to_string()
            }
            None => self
                .allocator
                .allocate(&key)
                .map_err(|_| ApiError::RangeFull {
                    kind: Kind::Service,
                    key: key.clone(),
                    message:
                        "Internal error occurred: failed to allocate a serviceIP: range is full"
                            .to_owned(),
                })?
                .to_string(),
        };
        svc.spec.cluster_ip = Some(ip.clone());
        svc.spec.cluster_ips = vec![ip];
        self.stamp_uid(&mut svc.metadata.uid);
        svc.metadata.resource_version = Some(self.next_resource_version());
        self.stamp_creation(&mut svc.metadata.creation_timestamp);
        self.services.insert(key, svc.clone());
        self.record(WatchEvent::Added(Object::Service(svc.clone())));
        Ok(svc)
    }

    fn update_service(&mut self, mut svc: Service) -> Result<Service, ApiError> {
        let key = svc.metadata.key();
        let stored = self
            .services
            .get(&key)
            .ok_or_else(|| not_found(Kind::Service, &key))?;
        check_current(
            Kind::Service,
            &key,
            (&svc.metadata.uid, &svc.metadata.resource_version),
            (&stored.metadata.uid, &stored.metadata.resource_version),
        )?;
        svc.metadata.namespace.clone_from(&key.namespace);
        validation::default_service(&mut svc);
        // clusterIP is immutable; leaving it out keeps the allocated one.
        match &svc.spec.cluster_ip {
            None => {
                svc.spec.cluster_ip.clone_from(&stored.spec.cluster_ip);
                svc.spec.cluster_ips.clone_from(&stored.spec.cluster_ips);
            }
            Some(ip) if Some(ip) != stored.spec.cluster_ip.as_ref() => {
                return Err(FieldError::new(
                    "spec.clusterIP",
                    format!(
                        "{ip:?}: field is immutable (stored: {})",
                        stored.spec.cluster_ip.as_deref().unwrap_or_default()
                    ),
                )
                .into_api(Kind::Service, &key));
            }
            Some(_) if svc.spec.cluster_ips.is_empty() => {
                svc.spec.cluster_ips.clone_from(&stored.spec.cluster_ips);
            }
            Some(_) => {}
        }
        validation::service(&svc).map_err(|e| e.into_api(Kind::Service, &key))?;
        validation::object_size(&svc, Kind::Service, &key)?;
        svc.metadata.uid.clone_from(&stored.metadata.uid);
        svc.metadata
            .resource_version
            .clone_from(&stored.metadata.resource_version);
        svc.metadata
            .creation_timestamp
            .clone_from(&stored.metadata.creation_timestamp);
        if &svc == stored {
            return Ok(svc);
        }
        svc.metadata.resource_version = Some(self.next_resource_version());
        self.services.insert(key, svc.clone());
        self.record(WatchEvent::Modified(Object::Service(svc.clone())));
        Ok(svc)
    }

    /// Create of a kind stored as written ([`Plain`]: Endpoints, EndpointSlices).
    fn create_plain<T: Plain>(&mut self, mut object: T) -> Result<T, ApiError> {
        let key = object.meta().key();
        object.meta_mut().namespace.clone_from(&key.namespace);
        object.admit().map_err(|e| e.into_api(T::KIND, &key))?;
        validation::object_size(&object, T::KIND, &key)?;
        reject_resource_version_on_create(object.meta().resource_version.as_ref(), T::KIND, &key)?;
        self.require_namespace(&key.namespace)?;
        if T::store(self).contains_key(&key) {
            return Err(already_exists(T::KIND, &key));
        }
        self.stamp_uid(&mut object.meta_mut().uid);
        object.meta_mut().resource_version = Some(self.next_resource_version());
        self.stamp_creation(&mut object.meta_mut().creation_timestamp);
        T::store_mut(self).insert(key, object.clone());
        self.record(WatchEvent::Added(object.clone().into_object()));
        Ok(object)
    }

    /// Update of a kind stored as written: preconditions, defaulting and validation, immutable
    /// fields, server-set fields kept; an update that changes nothing is not a write.
    fn update_plain<T: Plain>(&mut self, mut object: T) -> Result<T, ApiError> {
        let key = object.meta().key();
        let unchanged = {
            let stored = T::store(self)
                .get(&key)
                .ok_or_else(|| not_found(T::KIND, &key))?;
            let (meta, kept) = (object.meta(), stored.meta());
            check_current(
                T::KIND,
                &key,
                (&meta.uid, &meta.resource_version),
                (&kept.uid, &kept.resource_version),
            )?;
            object.meta_mut().namespace.clone_from(&key.namespace);
            object
                .admit()
                .and_then(|()| object.check_update(stored))
                .map_err(|e| e.into_api(T::KIND, &key))?;
            validation::object_size(&object, T::KIND, &key)?;
            let meta = object.meta_mut();
            meta.uid.clone_from(&kept.uid);
            meta.resource_version.clone_from(&kept.resource_version);
            meta.creation_timestamp.clone_from(&kept.creation_timestamp);
            &object == stored
        };
        if unchanged {
            return Ok(object);
        }
        object.meta_mut().resource_version = Some(self.next_resource_version());
        T::store_mut(self).insert(key, object.clone());
        self.record(WatchEvent::Modified(object.clone().into_object()));
        Ok(object)
    }

    fn remove_endpoint_slice(&mut self, key: &ObjectKey) -> Option<EndpointSlice> {
        let mut slice = self.endpoint_slices.remove(key)?;
        slice.metadata.resource_version = Some(self.next_resource_version());
        self.record(WatchEvent::Deleted(Object::EndpointSlice(slice.clone())));
        Some(slice)
    }

    fn remove_service(&mut self, key: &ObjectKey) -> Option<Service> {
        let mut svc = self.services.remove(key)?;
        if let Some(ip) = svc
            .spec
            .cluster_ip
            .as_deref()
            .and_then(|ip| ip.parse().ok())
        {
            self.allocator.release(ip);
        }
        svc.metadata.resource_version = Some(self.next_resource_version());
        self.record(WatchEvent::Deleted(Object::Service(svc.clone())));
        Some(svc)
    }

    fn remove_endpoints(&mut self, key: &ObjectKey) -> Option<Endpoints> {
        let mut ep = self.endpoints.remove(key)?;
        ep.metadata.resource_version = Some(self.next_resource_version());
        self.record(WatchEvent::Deleted(Object::Endpoints(ep.clone())));
        Some(ep)
    }

    fn require_namespace(&self, namespace: &str) -> Result<(), ApiError> {
        if self.namespaces.contains_key(namespace) {
            Ok(())
        } else {
            Err(not_found(Kind::Namespace, &ObjectKey::new("", namespace)))
        }
    }

    fn next_resource_version(&mut self) -> String {
        self.resource_version += 1;
        self.resource_version.to_string()
    }

    /// A new uid, or the given one while restoring.
    fn stamp_uid(&mut self, uid: &mut Option<String>) {
        if !(self.restoring && uid.as_deref().is_some_and(|u| !u.is_empty())) {
            *uid = Some(self.next_uid());
        }
    }

    /// The fixed creationTimestamp, or the given one while restoring.
    fn stamp_creation(&self, ts: &mut Option<String>) {
        if !(self.restoring && ts.as_deref().is_some_and(|t| !t.is_empty())) {
            *ts = Some(CREATION_TIMESTAMP.to_owned());
        }
    }

    fn next_uid(&mut self) -> String {
        self.uids += 1;
        let n = self.uids;
        format!(
            "00000000-0000-0000-{:04x}-{:012x}",
            (n >> 48) & 0xffff,
            n & 0xffff_ffff_ffff
        )
    }
}

/// A registered watch: its id, its liveness flag (cleared when the stream is dropped), and the
/// signal of new writes.
pub(crate) struct OpenWatch {
    pub(crate) id: u64,
    pub(crate) alive: std::sync::Arc<std::sync::atomic::AtomicBool>,
    pub(crate) writes: tokio::sync::watch::Receiver<u64>,
}

/// An update's `(uid, resourceVersion)`, when given, must be the stored ones.
fn check_current(
    kind: Kind,
    key: &ObjectKey,
    given: (&Option<String>, &Option<String>),
    stored: (&Option<String>, &Option<String>),
) -> Result<(), ApiError> {
    if let Some(uid) = given.0
        && Some(uid) != stored.0.as_ref()
    {
        return Err(conflict(
            kind,
            key,
            format!(
                "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                stored.0.as_deref().unwrap_or_default()
            ),
        ));
    }
    if let Some(rv) = given.1
        && Some(rv) != stored.1.as_ref()
    {
        return Err(conflict(
            kind,
            key,
            "the object has been modified; please apply your changes to the latest version \
             and try again"
                .to_owned(),
        ));
    }
    Ok(())
}

/// A kind the fake stores as written, with the same create and update rules (Endpoints and
/// EndpointSlices; Services are not: they hold a ClusterIP).
trait Plain: Clone + PartialEq + serde::Serialize {
    const KIND: Kind;
    fn meta(&self) -> &ObjectMeta;
    fn meta_mut(&mut self) -> &mut ObjectMeta;
    fn store(cluster: &FakeCluster) -> &BTreeMap<ObjectKey, Self>;
    fn store_mut(cluster: &mut FakeCluster) -> &mut BTreeMap<ObjectKey, Self>;
    /// The API server's defaulting, then its validation.
    fn admit(&mut self) -> Result<(), FieldError>;
    /// What an update may not change (beyond validation).
    fn check_update(&self, _stored: &Self) -> Result<(), FieldError> {
        Ok(())
    }
    fn into_object(self) -> Object;
}

impl Plain for Endpoints {
    const KIND: Kind = Kind::Endpoints;

    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }

    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }

    fn store(cluster: &FakeCluster) -> &BTreeMap<ObjectKey, Self> {
        &cluster.endpoints
    }

    fn store_mut(cluster: &mut FakeCluster) -> &mut BTreeMap<ObjectKey, Self> {
        &mut cluster.endpoints
    }

    fn admit(&mut self) -> Result<(), FieldError> {
        validation::default_endpoints(self);
        validation::endpoints(self)
    }

    fn into_object(self) -> Object {
        Object::Endpoints(self)
    }
}

impl Plain for EndpointSlice {
    const KIND: Kind = Kind::EndpointSlice;

    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }

    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }

    fn store(cluster: &FakeCluster) -> &BTreeMap<ObjectKey, Self> {
        &cluster.endpoint_slices
    }

    fn store_mut(cluster: &mut FakeCluster) -> &mut BTreeMap<ObjectKey, Self> {
        &mut cluster.endpoint_slices
    }

    fn admit(&mut self) -> Result<(), FieldError> {
        validation::default_endpoint_slice(self);
        validation::endpoint_slice(self)
    }

    /// addressType is immutable.
    fn check_update(&self, stored: &Self) -> Result<(), FieldError> {
        if self.address_type == stored.address_type {
            return Ok(());
        }
        Err(FieldError::new(
            "addressType",
            format!(
                "{:?}: field is immutable (stored: {:?})",
                self.address_type, stored.address_type
            ),
        ))
    }

    fn into_object(self) -> Object {
        Object::EndpointSlice(self)
    }
}

fn reject_resource_version_on_create(
    rv: Option<&String>,
    kind: Kind,
    key: &ObjectKey,
) -> Result<(), ApiError> {
    match rv {
        Some(rv) if !rv.is_empty() => Err(FieldError::new(
            "metadata.resourceVersion",
            "resourceVersion should not be set on objects to be created",
        )
        .into_api(kind, key)),
        _ => Ok(()),
    }
}

fn not_found(kind: Kind, key: &ObjectKey) -> ApiError {
    ApiError::NotFound {
        kind,
        key: key.clone(),
    }
}

fn already_exists(kind: Kind, key: &ObjectKey) -> ApiError {
    ApiError::AlreadyExists {
        kind,
        key: key.clone(),
    }
}

fn conflict(kind: Kind, key: &ObjectKey, message: String) -> ApiError {
    ApiError::Conflict {
        kind,
        key: key.clone(),
        message,
    }
}

/// What the fake answers an [`Operation`] added to the core after it was written.
fn unsupported(operation: &Operation) -> ApiError {
    ApiError::Unsupported {
        action: operation.action(),
        kind: operation.kind(),
        key: operation.key(),
    }
}
