//! # svcmirror-fake
//!
//! An in-memory Kubernetes cluster holding Namespaces, Services and Endpoints, for tests, the
//! `svcmirror` CLI and the reconcile driver's tests. It plays both roles of a link: the **source**
//! cluster (mirrors are written to it; it allocates their ClusterIPs) and the **target** cluster
//! (it holds exported Services and Endpoints).
//!
//! [`FakeCluster`] is the store with a synchronous API; its verbs answer as `kube-apiserver` would:
//! server-set fields (uid, resourceVersion, creationTimestamp), defaulting (`type: ClusterIP`,
//! `protocol: TCP`, `targetPort: <port>`), deterministic ClusterIP allocation from the service
//! CIDR, immutable `spec.clusterIP`, optimistic concurrency (`Conflict` on a stale
//! resourceVersion or a failed delete precondition), `AlreadyExists`, `NotFound`, and validation
//! errors that name the field (`spec.ports[0].port`).
//!
//! **What it must never do**: behave like the core. It makes no mirroring decision: it does not
//! know what a mirror is, reads no `mirror.linkerd.io` label, and runs no controller (no Endpoints
//! are derived from selectors, nothing is garbage-collected). It is the API server, never
//! `svcmirror-core`. It also reads no clock and draws no real randomness: the same requests give
//! the same objects, IPs, resourceVersions and injected faults.
//!
//! Around the store:
//! - **Watch**: every write is a [`WatchEvent`] with its resourceVersion
//!   ([`FakeCluster::events_since`]).
//! - **Counters**: [`FakeCluster::stats`] counts requests by verb and outcome ([`Stats`]).
//! - **Faults**: [`FaultConfig`] makes a seeded fraction of requests fail with `Conflict`,
//!   `Unavailable` or `Timeout` (some timeouts after the write took effect), and can end watches
//!   so their consumers must relist.
//! - **Drive**: `FakeCluster` implements [`svcmirror_core::Apply`], so
//!   [`svcmirror_core::drive()`] (the one translate → plan → apply loop) runs against it; what it
//!   refuses for one object becomes that object's diagnostic.
//! - **Traits**: [`FakeHandle`] (`Arc<Mutex<FakeCluster>>`) implements
//!   [`SourceCluster`](svcmirror_backend::SourceCluster) and
//!   [`TargetCluster`](svcmirror_backend::TargetCluster) for the reconcile driver;
//!   [`FakeHandle::watches_settled`] tells a test, without sleeping, that a watch consumer has
//!   taken every event written so far.
//!
//! ```
//! use svcmirror_core::model::{Object, Service, ServicePort};
//! use svcmirror_fake::FakeCluster;
//!
//! let mut cluster = FakeCluster::default(); // service CIDR 10.43.0.0/16, like k3s
//! let mut svc = Service::new("default", "web");
//! svc.spec.ports.push(ServicePort { port: 80, ..Default::default() });
//! let Object::Service(stored) = cluster.create(Object::Service(svc)).unwrap() else {
//!     unreachable!()
//! };
//! let ip: std::net::IpAddr = stored.spec.cluster_ip.as_deref().unwrap().parse().unwrap();
//! assert!(cluster.service_cidr().contains(&ip));
//! assert_eq!(stored.spec.ports[0].protocol.as_deref(), Some("TCP"));
//! assert_eq!(cluster.state().services.len(), 1);
//! ```
#![deny(missing_docs)]

mod allocator;
mod answer;
mod cluster;
mod drive;
mod faults;
mod handle;
mod stats;
mod validation;
mod watch;

pub use cluster::{ApplyReport, CREATION_TIMESTAMP, FakeCluster};
pub use faults::FaultConfig;
pub use handle::FakeHandle;
pub use stats::Stats;
pub use watch::WatchEvent;
