//! # svcmirror-core
//!
//! The side-effect-free heart of svcmirror: Linkerd's multicluster service mirror (headless
//! Services and StatefulSets included) as two pure functions.
//!
//! - [`translate`]: a [`Link`], the target cluster's Services and Endpoints, and what the source
//!   cluster already holds → the [`Desired`] source objects, per-export outcomes and
//!   [`Diagnostic`]s.
//! - [`plan()`]: desired state and the observed source → ordered [`Operation`]s (create / update /
//!   delete) that only ever touch objects this link owns.
//!
//! # The public surface
//! Two modules are public: [`model`] (the Kubernetes objects, with Kubernetes' JSON names) and
//! [`labels`] (every label and annotation key svcmirror reads or writes, ownership, and the
//! `remote-svc-fq-name` encoder with its decoder). Everything else is re-exported here, at the
//! root, which is the one path embedders import: [`Link`] and [`LinkSpec`] (SPEC §2, the link's
//! front door), [`translate()`], [`plan()`] and [`Operation`] (with its [`Precondition`]),
//! [`drive()`] (the one translate → plan → apply loop and its two-pass contract,
//! [`MAX_PASSES`]), [`federate()`] (SPEC §9), [`explain()`], [`conditions`] (SPEC §12) and the
//! name rules of SPEC §3 ([`mirror_name`], [`is_dns1035_label`]). The modules themselves are
//! private and laid out like `SPEC.md` (ARCHITECTURE.md's code map), so they can be split or
//! renamed without breaking an embedder. Enums that will grow ([`Operation`], [`Reason`],
//! [`DriveError`], …) are `#[non_exhaustive]`: match them with a wildcard arm.
//!
//! # Depending on it
//! `svcmirror-core = { git = "…" }` (or the `svcmirror` facade, which re-exports it); Rust 1.89
//! or later (`rust-version`), edition 2024. It has no Kubernetes, YAML or async dependency, so
//! there is no k8s-openapi version feature to pick for it. `examples/embed_core.rs` (`cargo run
//! --example embed_core`) embeds it alone; README "Embedding" also shows the reconciler with a
//! kube client of your own.
//!
//! **What this crate must never do**: I/O, read a clock, draw random numbers, spawn tasks or
//! depend on an async runtime, kube or a YAML library. Its output is a function of its input alone
//! and does not depend on input order. Adapters (files, the in-memory fake, kube-rs) move data in and
//! out; every decision is made here.
//!
//! ```
//! use svcmirror_core::{Link, SourceState, TargetState, plan, translate};
//! use svcmirror_core::model::{Service, ServicePort};
//!
//! let link = Link::builder("west")
//!     .gateway_address("172.18.0.4".parse().unwrap())
//!     .build()
//!     .unwrap();
//! let mut svc = Service::new("default", "web");
//! svc.metadata.labels.insert("mirror.linkerd.io/exported".into(), "true".into());
//! svc.spec.ports.push(ServicePort { port: 80, ..Default::default() });
//! let target = TargetState::new(vec![svc], vec![]);
//! let source = SourceState::default();
//!
//! let translation = translate(&link, &target, &source);
//! assert!(translation.desired.services.keys().any(|k| k.name == "web-west"));
//! let plan = plan(&link, &translation.desired, &source);
//! assert_eq!(plan.operations.len(), 2); // create Service and Endpoints web-west
//! ```
#![deny(missing_docs)]

pub(crate) mod admission;
mod changes;
pub(crate) mod claims;
mod cluster_ip;
mod decision;
pub(crate) mod diagnostics;
pub(crate) mod drive;
pub(crate) mod endpoint_slices;
pub(crate) mod explain;
pub(crate) mod federate;
pub(crate) mod federation_writer;
pub(crate) mod fingerprint;
mod groups;
mod headless;
pub(crate) mod hostname_policy;
pub mod labels;
pub(crate) mod limits;
pub(crate) mod link;
mod link_builder;
mod link_error;
pub(crate) mod link_spec;
pub mod model;
pub(crate) mod names;
mod observed;
pub(crate) mod one_export;
pub(crate) mod operation;
mod ownership;
pub(crate) mod plan;
pub(crate) mod probe;
mod probe_spec;
pub(crate) mod record;
mod remote_discovery;
mod selector;
mod source_index;
pub(crate) mod source_store;
pub(crate) mod state;
pub(crate) mod status;
pub(crate) mod store;
pub(crate) mod template;
mod trace;
pub(crate) mod translate;
pub(crate) mod validate;
mod view;

pub use diagnostics::{Diagnostic, Reason, Severity};
pub use drive::{
    Apply, DriveError, Driven, MAX_PASSES, Phase, PlanSummary, Refusal, drive, drive_federated,
    drive_federated_as,
};
pub use endpoint_slices::{TargetEndpoints, endpoints_from_slices, target_endpoints};
pub use explain::{Explanation, explain};
pub use federate::federate;
pub use federation_writer::{FederationWriter, federate_as, federated_key};
pub use fingerprint::{EndpointsDigest, ServiceDigest, SliceDigest};
pub use hostname_policy::{
    GatewayResolution, HostnamePolicy, UnknownGatewayResolution, UnknownHostnamePolicy,
};
pub use limits::{
    DEFAULT_CLUSTER_IPS_PER_LINK, Limit, Limits, MAX_RANGE_CLUSTER_IPS_PER_LINK, range_budget,
};
pub use link::{
    EndpointsApi, GatewayAddresses, GatewayProbe, KeyPattern, LabelSelector,
    LabelSelectorRequirement, Link, LinkError, LinkWarning, ProbeSpec, SelectorOperator,
};
pub use link_builder::LinkBuilder;
pub use link_spec::{DEFAULT_FEDERATED_SELECTOR, LinkManifest, LinkSpec, UnknownEndpointsApi};
pub use model::{EndpointSlice, Endpoints, Kind, Object, ObjectKey, Service, StringMap};
pub use names::{
    ClusterName, HASH_LEN, InvalidClusterName, MirrorName, cluster_name_overlaps, is_dns1035_label,
    is_dns1123_label, mirror_name, stable_hash_hex,
};
pub use one_export::{translate_export, wanted_names};
pub use plan::{DeleteReason, Dependency, Operation, Plan, Precondition, plan, plan_federated};
pub use probe::{ProbeResult, ProbeState, Transition, parse_duration};
pub use record::{
    EndpointsRecord, ObservedEndpoints, ObservedService, ObservedSlice, ServiceRecord, SliceRecord,
};
pub use selector::SelectorParseError;
pub use state::{Desired, SourceState, TargetState};
pub use status::{Condition, ConditionStatus, ConditionType, conditions};
pub use store::{SourceStore, TargetStore};
pub use template::{EndpointMirror, EndpointMirrorTemplate, Entry, Templated};
pub use trace::Step;
pub use translate::{ExportOutcome, MirrorMode, Translation, translate};
pub use validate::is_qualified_name;
pub use view::{SourceLookup, SourceView, TargetLookup, TargetView};
