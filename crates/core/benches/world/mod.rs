//! A cluster-scale target world for the benches, shared by the core, snapshot and backend benches
//! (each includes this file with `#[path = …] mod world;`; a directory module so cargo does not take
//! it for a bench target of its own).
//!
//! By default: 10 000 exported headless Services (StatefulSets) with 10 named pods each, and 2 000
//! exported ClusterIP Services with 3 pods each, over 20 namespaces. The objects look like
//! `kubectl get svc,endpoints -A -o json` output — `app`/`app.kubernetes.io/*` labels, a
//! `kubectl.kubernetes.io/last-applied-configuration` blob, resourceVersion, uid,
//! creationTimestamp, `managedFields`, `targetRef` with uid and resourceVersion, `nodeName` — so
//! the reader has to skip what it does not model. Everything is derived from the object's index:
//! the same size always gives the same bytes.
//!
//! Sizes come from the environment, so `cargo bench --no-run` and a smoke run stay cheap:
//! `SVCMIRROR_BENCH_HEADLESS` (10 000), `SVCMIRROR_BENCH_PODS` (10), `SVCMIRROR_BENCH_CLUSTERIP`
//! (2 000), `SVCMIRROR_BENCH_NAMESPACES` (20). With `SVCMIRROR_BENCH_WRITE=PATH`, the bench that
//! builds the JSON also writes it to `PATH` (the input of the CLI measurement in BENCHMARKS.md).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::Ipv4Addr;

use serde_json::{Value, json};
use svcmirror_core::model::{Endpoints, ObjectKey, Service};
use svcmirror_core::{Apply, Limits, Link, Object, Operation, Refusal, SourceState, TargetState};

/// How big the world is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size {
    pub headless: usize,
    pub pods: usize,
    pub clusterip: usize,
    pub namespaces: usize,
}

impl Size {
    /// The default world, or what the `SVCMIRROR_BENCH_*` variables say.
    pub fn from_env() -> Self {
        fn var(name: &str, default: usize) -> usize {
            std::env::var(name)
                .ok()
                .map(|v| {
                    v.parse()
                        .unwrap_or_else(|_| panic!("{name}={v}: not a number"))
                })
                .unwrap_or(default)
        }
        Self {
            headless: var("SVCMIRROR_BENCH_HEADLESS", 10_000),
            pods: var("SVCMIRROR_BENCH_PODS", 10),
            clusterip: var("SVCMIRROR_BENCH_CLUSTERIP", 2_000),
            namespaces: var("SVCMIRROR_BENCH_NAMESPACES", 20).max(1),
        }
    }

    /// `10000x10+2000/20`: for bench names and reports.
    pub fn label(&self) -> String {
        format!(
            "{}x{}+{}/{}",
            self.headless, self.pods, self.clusterip, self.namespaces
        )
    }
}

/// The link every bench mirrors: cluster `west`, headless services enabled.
pub fn link() -> Link {
    Link::builder("west")
        .gateway_address("172.18.0.4".parse().expect("ip"))
        .gateway_identity(
            "linkerd-gateway.linkerd-multicluster.serviceaccount.identity.linkerd.cluster.local",
        )
        .enable_headless_services(true)
        // SPEC §8: the budget of a /12 Service range (as `--service-cidr 10.32.0.0/12`), which
        // holds the world's ClusterIPs; the flat default (4096) would truncate the world.
        .limits(Limits::default().with_service_range(1 << 20))
        .build()
        .expect("link")
}

/// The target cluster's objects, as `kubectl get -o json` items, Services first.
pub fn items(size: Size) -> Vec<Value> {
    let mut items = Vec::with_capacity(2 * (size.headless + size.clusterip));
    let mut endpoints = Vec::with_capacity(size.headless + size.clusterip);
    for i in 0..size.headless {
        let w = Workload::statefulset(i, size);
        items.push(w.service());
        endpoints.push(w.endpoints());
    }
    for i in 0..size.clusterip {
        let w = Workload::deployment(i, size);
        items.push(w.service());
        endpoints.push(w.endpoints());
    }
    items.extend(endpoints);
    items
}

/// The world as one compact JSON `List`, the way `kubectl get svc,endpoints -A -o json` would
/// print it (without its indentation). Writes it to `$SVCMIRROR_BENCH_WRITE` when set.
pub fn json(size: Size) -> Vec<u8> {
    let list = json!({
        "apiVersion": "v1",
        "kind": "List",
        "items": items(size),
        "metadata": {"resourceVersion": ""},
    });
    let bytes = serde_json::to_vec(&list).expect("serializable");
    if let Ok(path) = std::env::var("SVCMIRROR_BENCH_WRITE") {
        std::fs::write(&path, &bytes).unwrap_or_else(|e| panic!("{path}: {e}"));
        eprintln!(
            "world {} written to {path} ({} bytes)",
            size.label(),
            bytes.len()
        );
    }
    bytes
}

/// The world in the core's model (what the snapshot reader makes of [`json`]).
pub fn target(size: Size) -> TargetState {
    let mut target = TargetState::default();
    for item in items(size) {
        match item["kind"].as_str() {
            Some("Service") => target
                .services
                .push(serde_json::from_value::<Service>(item).expect("a Service")),
            _ => target
                .endpoints
                .push(serde_json::from_value::<Endpoints>(item).expect("an Endpoints")),
        }
    }
    target
}

/// What the source cluster holds once `target` is mirrored: [`svcmirror_core::drive()`] on
/// [`StandIn`], a minimal stand-in for the API server (the fake is not a dependency of the
/// crates whose benches include this file: it depends on them). The caller asserts the result
/// is converged with the real `plan`.
pub fn converged_source(link: &Link, target: &TargetState) -> SourceState {
    let mut source = StandIn {
        services: BTreeMap::new(),
        endpoints: BTreeMap::new(),
        next_ip: u32::from(Ipv4Addr::new(10, 32, 0, 2)),
        version: 1,
    };
    svcmirror_core::drive(link, target, &mut source)
        .unwrap_or_else(|e| panic!("the bench world: {e}"));
    source.list()
}

/// The source API server, as little of it as the world needs: sequential ClusterIPs from
/// 10.32.0.0/12, uid and resourceVersion, `type: ClusterIP`.
pub struct StandIn {
    services: BTreeMap<ObjectKey, Service>,
    endpoints: BTreeMap<ObjectKey, Endpoints>,
    next_ip: u32,
    version: u64,
}

impl Apply for StandIn {
    type Error = String;

    fn list(&mut self) -> SourceState {
        SourceState::new(
            self.services.values().cloned().collect(),
            self.endpoints.values().cloned().collect(),
        )
    }

    fn apply(&mut self, operation: Operation) -> Result<(), Refusal<String>> {
        self.version += 1;
        let version = self.version;
        match operation {
            Operation::Create {
                object: Object::Service(mut svc),
            } => {
                if svc.spec.cluster_ip.is_none() {
                    svc.spec.cluster_ip = Some(Ipv4Addr::from(self.next_ip).to_string());
                    self.next_ip += 1;
                }
                svc.spec.type_ = Some("ClusterIP".to_owned());
                svc.metadata.uid = Some(uid("source-svc", version));
                svc.metadata.resource_version = Some(version.to_string());
                self.services.insert(svc.metadata.key(), svc);
            }
            Operation::Create {
                object: Object::Endpoints(mut ep),
            }
            | Operation::Update {
                object: Object::Endpoints(mut ep),
                ..
            } => {
                ep.metadata
                    .uid
                    .get_or_insert_with(|| uid("source-ep", version));
                ep.metadata.resource_version = Some(version.to_string());
                self.endpoints.insert(ep.metadata.key(), ep);
            }
            other => {
                return Err(Refusal::Failed(format!(
                    "the bench world does not expect {other:?}"
                )));
            }
        }
        Ok(())
    }
}

/// Number of objects the converged source holds for `size` (Services and Endpoints).
pub fn mirrored_objects(size: Size) -> usize {
    2 * (size.headless * (1 + size.pods) + size.clusterip)
}

/// One exported workload: a StatefulSet behind a headless Service, or a Deployment behind a
/// ClusterIP Service.
struct Workload {
    index: usize,
    namespace: String,
    name: String,
    headless: bool,
    pods: usize,
    ports: Vec<(&'static str, i32)>,
    component: &'static str,
}

const TIME: &str = "2026-01-12T09:14:03Z";

impl Workload {
    fn statefulset(i: usize, size: Size) -> Self {
        Self {
            index: i,
            namespace: format!("team-{:02}", i % size.namespaces),
            name: format!("db-{i:05}"),
            headless: true,
            pods: size.pods,
            ports: vec![("tcp-postgres", 5432), ("http-metrics", 9187)],
            component: "database",
        }
    }

    fn deployment(i: usize, size: Size) -> Self {
        Self {
            index: 1_000_000 + i,
            namespace: format!("team-{:02}", i % size.namespaces),
            name: format!("web-{i:05}"),
            headless: false,
            pods: 3,
            ports: vec![("http", 80), ("grpc", 9090)],
            component: "frontend",
        }
    }

    fn labels(&self) -> Value {
        json!({
            "app": self.name,
            "app.kubernetes.io/name": self.name,
            "app.kubernetes.io/instance": format!("{}-prod", self.name),
            "app.kubernetes.io/component": self.component,
            "app.kubernetes.io/part-of": "shop",
            "app.kubernetes.io/managed-by": "Helm",
            "app.kubernetes.io/version": "1.27.3",
            "helm.sh/chart": format!("{}-4.2.1", self.component),
        })
    }

    fn service_ports(&self) -> Vec<Value> {
        self.ports
            .iter()
            .map(|(name, port)| json!({"name": name, "port": port, "protocol": "TCP", "targetPort": port}))
            .collect()
    }

    fn service(&self) -> Value {
        let mut labels = self.labels();
        labels["mirror.linkerd.io/exported"] = json!("true");
        let cluster_ip = if self.headless {
            "None".to_owned()
        } else {
            let n = u32::try_from(self.index % 1_000_000).expect("small") + 10;
            Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 96, 0, 0)) + n).to_string()
        };
        let spec = json!({
            "clusterIP": cluster_ip,
            "clusterIPs": [cluster_ip],
            "internalTrafficPolicy": "Cluster",
            "ipFamilies": ["IPv4"],
            "ipFamilyPolicy": "SingleStack",
            "ports": self.service_ports(),
            "publishNotReadyAddresses": self.headless,
            "selector": {"app": self.name},
            "sessionAffinity": "None",
            "type": "ClusterIP",
        });
        let applied = json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {
                "annotations": {},
                "labels": labels,
                "name": self.name,
                "namespace": self.namespace,
            },
            "spec": {
                "clusterIP": if self.headless { json!("None") } else { Value::Null },
                "ports": self.service_ports(),
                "selector": {"app": self.name},
            },
        });
        let mut field_labels = serde_json::Map::new();
        field_labels.insert(".".into(), json!({}));
        for key in labels.as_object().expect("labels").keys() {
            field_labels.insert(format!("f:{key}"), json!({}));
        }
        let mut field_ports = serde_json::Map::new();
        for (_, port) in &self.ports {
            field_ports.insert(
                format!("k:{{\"port\":{port},\"protocol\":\"TCP\"}}"),
                json!({".": {}, "f:name": {}, "f:port": {}, "f:protocol": {}, "f:targetPort": {}}),
            );
        }
        json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {
                "annotations": {
                    "kubectl.kubernetes.io/last-applied-configuration":
                        format!("{}\n", serde_json::to_string(&applied).expect("json")),
                    "meta.helm.sh/release-name": format!("{}-prod", self.name),
                    "meta.helm.sh/release-namespace": self.namespace,
                },
                "creationTimestamp": TIME,
                "labels": labels,
                "managedFields": [{
                    "apiVersion": "v1",
                    "fieldsType": "FieldsV1",
                    "fieldsV1": {
                        "f:metadata": {
                            "f:annotations": {
                                ".": {},
                                "f:kubectl.kubernetes.io/last-applied-configuration": {},
                                "f:meta.helm.sh/release-name": {},
                                "f:meta.helm.sh/release-namespace": {},
                            },
                            "f:labels": field_labels,
                        },
                        "f:spec": {
                            "f:clusterIP": {},
                            "f:internalTrafficPolicy": {},
                            "f:ports": field_ports,
                            "f:publishNotReadyAddresses": {},
                            "f:selector": {},
                            "f:sessionAffinity": {},
                            "f:type": {},
                        },
                    },
                    "manager": "kubectl-client-side-apply",
                    "operation": "Update",
                    "time": TIME,
                }],
                "name": self.name,
                "namespace": self.namespace,
                "resourceVersion": (10_000_000 + 2 * self.index).to_string(),
                "uid": uid("svc", self.index as u64),
            },
            "spec": spec,
            "status": {"loadBalancer": {}},
        })
    }

    fn pod_name(&self, p: usize) -> String {
        if self.headless {
            format!("{}-{p}", self.name)
        } else {
            let mut hash = String::new();
            for c in uid("rs", (self.index * 16 + p) as u64)
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .take(5)
            {
                hash.push(c);
            }
            format!("{}-7d9f8b6c5-{hash}", self.name)
        }
    }

    fn endpoints(&self) -> Value {
        let addresses: Vec<Value> = (0..self.pods)
            .map(|p| {
                let n = u32::try_from((self.index % 1_000_000) * 16 + p).expect("small");
                let ip = Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 42, 0, 0)) + n);
                let pod = self.pod_name(p);
                let mut address = json!({
                    "ip": ip.to_string(),
                    "nodeName": format!("node-{:03}", (self.index + p) % 120),
                    "targetRef": {
                        "kind": "Pod",
                        "name": pod,
                        "namespace": self.namespace,
                        "resourceVersion": (20_000_000 + self.index * 16 + p).to_string(),
                        "uid": uid("pod", (self.index * 16 + p) as u64),
                    },
                });
                if self.headless {
                    address["hostname"] = json!(pod);
                }
                address
            })
            .collect();
        let ports: Vec<Value> = self
            .ports
            .iter()
            .map(|(name, port)| json!({"name": name, "port": port, "protocol": "TCP"}))
            .collect();
        let mut labels = self.labels();
        if self.headless {
            labels["service.kubernetes.io/headless"] = json!("");
        }
        let mut field_labels = serde_json::Map::new();
        field_labels.insert(".".into(), json!({}));
        for key in labels.as_object().expect("labels").keys() {
            field_labels.insert(format!("f:{key}"), json!({}));
        }
        json!({
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": {
                "annotations": {"endpoints.kubernetes.io/last-change-trigger-time": TIME},
                "creationTimestamp": TIME,
                "labels": labels,
                "managedFields": [{
                    "apiVersion": "v1",
                    "fieldsType": "FieldsV1",
                    "fieldsV1": {
                        "f:metadata": {
                            "f:annotations": {".": {}, "f:endpoints.kubernetes.io/last-change-trigger-time": {}},
                            "f:labels": field_labels,
                        },
                        "f:subsets": {},
                    },
                    "manager": "kube-controller-manager",
                    "operation": "Update",
                    "time": TIME,
                }],
                "name": self.name,
                "namespace": self.namespace,
                "resourceVersion": (10_000_001 + 2 * self.index).to_string(),
                "uid": uid("ep", self.index as u64),
            },
            "subsets": [{"addresses": addresses, "ports": ports}],
        })
    }
}

/// A UUID-shaped, deterministic uid.
pub fn uid(salt: &str, n: u64) -> String {
    // SplitMix64 over (salt, n): stable across runs and platforms.
    let mut x = n ^ salt.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let mut next = || {
        x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let (a, b) = (next(), next());
    let mut s = String::with_capacity(36);
    let _ = write!(
        s,
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        (b >> 48) & 0x3fff | 0x8000,
        b & 0xffff_ffff_ffff
    );
    s
}
