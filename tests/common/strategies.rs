//! proptest strategies for whole clusters, built from the builders of `common`: target states
//! (exports of every shape SPEC §5–§6 distinguishes) and observed source states (foreign objects,
//! other links' objects, our own stale or orphaned mirrors).

use proptest::prelude::*;
use svcmirror::labels::{CLUSTER_NAME, HEADLESS_MIRROR_SVC_NAME, MIRRORED_SERVICE};
use svcmirror::model::{EndpointAddress, Endpoints, Object, Service};
use svcmirror::{ObjectKey, TargetState};

use super::{addr, eport, eps, svc};

/// Export names; the long one needs shortening (SPEC §3 `long-names`), `nginx-set-0` collides with
/// an endpoint mirror's base.
pub const NAMES: [&str; 5] = [
    "web",
    "db",
    "nginx-svc",
    "nginx-set-0",
    "a-rather-long-service-name-that-will-not-fit-with-a-suffix",
];
/// Hostnames, one invalid (`invalid-hostname`).
pub const HOSTS: [&str; 6] = [
    "nginx-set-0",
    "nginx-set-1",
    "web-0",
    "db-0",
    "x",
    "Bad_Host",
];
/// Namespaces that exist in [`super::fake`].
pub const NAMESPACES: [&str; 2] = ["default", "other"];

/// One address: a pod IP (now and then one that is not an IP: `invalid-ip`), maybe a hostname.
pub fn address() -> impl Strategy<Value = EndpointAddress> {
    (
        0u8..12,
        prop::option::of(prop::sample::select(&HOSTS[..])),
        prop::bool::weighted(0.05),
    )
        .prop_map(|(last, host, bad_ip)| {
            let ip = if bad_ip {
                "999.0.0.1".to_owned()
            } else {
                format!("10.42.0.{last}")
            };
            let mut a = addr(&ip, host);
            a.target_ref = None;
            a
        })
}

/// One exported (or not) Service and maybe its Endpoints: headless or ClusterIP, 0–2 ports,
/// named and unnamed, ready and not-ready addresses, no Endpoints yet or empty subsets.
pub fn export() -> impl Strategy<Value = (Service, Option<Endpoints>)> {
    (
        prop::sample::select(&NAMES[..]),
        prop::sample::select(&NAMESPACES[..]),
        any::<bool>(),
        prop::bool::weighted(0.85),
        0usize..3,
        prop::option::weighted(
            0.85,
            prop::collection::vec(
                (
                    prop::collection::vec(address(), 0..4),
                    prop::collection::vec(address(), 0..2),
                ),
                0..3,
            ),
        ),
    )
        .prop_map(|(name, ns, headless, exported, ports, subsets)| {
            let mut s = svc(ns, name);
            if headless {
                s = s.headless();
            }
            if exported {
                s = s.exported();
            }
            for p in 0..ports {
                s = s.port(&format!("p{p}"), 80 + i32::try_from(p).unwrap_or(0));
            }
            let ep = subsets.map(|subsets| {
                let mut e = eps(ns, name);
                for (ready, not_ready) in subsets {
                    e = e.subset(ready, not_ready, vec![eport("p0", 80)]);
                }
                e.build()
            });
            (s.build(), ep)
        })
}

/// A target cluster: up to 5 exports, one object per key as in a real cluster.
pub fn target() -> impl Strategy<Value = TargetState> {
    prop::collection::vec(export(), 0..5).prop_map(|exports| {
        let mut t = TargetState::default();
        for (s, e) in exports {
            if t.services
                .iter()
                .any(|x| x.metadata.key() == s.metadata.key())
            {
                continue;
            }
            t.services.push(s);
            t.endpoints.extend(e);
        }
        t
    })
}

/// The same target with every exported Service's type flipped (ClusterIP ↔ headless): SPEC §11
/// `clusterip-to-headless` / `headless-to-clusterip` for all of them at once.
#[must_use]
pub fn flipped(target: &TargetState) -> TargetState {
    let mut t = target.clone();
    for s in &mut t.services {
        s.spec.cluster_ip = Some(if s.is_headless() {
            "10.96.0.10".to_owned()
        } else {
            "None".to_owned()
        });
    }
    t
}

/// Who an object already in the source belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// This link (`west`): an orphan or stale mirror.
    Ours,
    /// Another link (`north`): `other-link-untouched`.
    OtherLink,
    /// Nobody we know: `foreign-object-same-name`.
    Foreign,
}

/// An object already in the source before the reconcile: a Service, its Endpoints or both, at a
/// name a mirror of [`NAMES`]/[`HOSTS`] wants (or a plain export name), of either type.
#[derive(Debug, Clone)]
pub struct Observed {
    /// Namespace and name.
    pub key: ObjectKey,
    /// Whose it is.
    pub owner: Owner,
    /// A headless Service (stale type when the export is now ClusterIP, or the reverse).
    pub headless: bool,
    /// Create the Service.
    pub service: bool,
    /// Create the Endpoints.
    pub endpoints: bool,
    /// Label it as an endpoint mirror (`headless-mirror-svc-name`).
    pub endpoint_mirror: bool,
    /// Its (stale) port.
    pub port: i32,
}

impl Observed {
    /// The objects to create in the source.
    #[must_use]
    pub fn objects(&self) -> Vec<Object> {
        let mut s = svc(&self.key.namespace, &self.key.name).port("http", self.port);
        s.0.metadata.resource_version = None;
        s.0.spec.cluster_ip = None;
        if self.headless {
            s = s.headless();
        }
        match self.owner {
            Owner::Ours => {
                s = s
                    .label(MIRRORED_SERVICE, "true")
                    .label(CLUSTER_NAME, "west")
            }
            Owner::OtherLink => {
                s = s
                    .label(MIRRORED_SERVICE, "true")
                    .label(CLUSTER_NAME, "north");
            }
            Owner::Foreign => s = s.label("app", "someone-else"),
        }
        if self.endpoint_mirror {
            s = s.label(HEADLESS_MIRROR_SVC_NAME, "nginx-svc-west");
        }
        let service = s.build();
        let mut e = eps(&self.key.namespace, &self.key.name)
            .subset(
                vec![addr("172.18.0.9", None)],
                vec![],
                vec![eport("http", 4143)],
            )
            .build();
        e.metadata.resource_version = None;
        e.metadata.labels.clone_from(&service.metadata.labels);
        let mut out = Vec::new();
        if self.service {
            out.push(Object::Service(service));
        }
        if self.endpoints || !self.service {
            out.push(Object::Endpoints(e));
        }
        out
    }
}

/// One observed object, named like a mirror (`<export>-west`, `<hostname>-west`) most of the time.
pub fn observed() -> impl Strategy<Value = Observed> {
    let names: Vec<String> = NAMES
        .iter()
        .chain(&HOSTS[..5])
        .map(|n| format!("{n}-west"))
        .chain(["web", "unrelated"].map(str::to_owned))
        .collect();
    (
        prop::sample::select(names),
        prop::sample::select(&NAMESPACES[..]),
        prop::sample::select(&[Owner::Ours, Owner::Ours, Owner::OtherLink, Owner::Foreign][..]),
        any::<bool>(),
        0u8..3,
        any::<bool>(),
        prop::sample::select(&[80, 81, 9999][..]),
    )
        .prop_map(
            |(name, ns, owner, headless, which, endpoint_mirror, port)| Observed {
                key: ObjectKey::new(ns, &name),
                owner,
                headless,
                service: which != 1,
                endpoints: which != 0,
                endpoint_mirror,
                port,
            },
        )
}

/// A source start state: up to 6 observed objects.
pub fn observed_state() -> impl Strategy<Value = Vec<Observed>> {
    prop::collection::vec(observed(), 0..6)
}
