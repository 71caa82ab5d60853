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
//! The module layout follows `SPEC.md`: [`link`] and [`link_spec`] (§2, the `LinkSpec` front door),
//! [`names`] (§3), [`labels`] (§4),
//! [`translate`](mod@translate) (§5–§6, §9 remote discovery), [`plan`](mod@plan) and
//! [`operation`] (§7),
//! [`validate`], [`limits`] and [`admission`] (§8), [`federate`](mod@federate) (§9 federated) and
//! [`federation_writer`] (one writer's share of it), [`probe`] (§2.1, the gateway probe's
//! decision), [`diagnostics`] (§10), and
//! beyond Linkerd (§12): [`hostname_policy`], [`endpoint_slices`] (EndpointSlice output),
//! [`status`] (conditions), [`explain`](mod@explain) (the decision path for one Service).
//! [`drive()`] is the one translate → plan → apply loop, with the two-pass convergence contract.
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
//! let target = TargetState { services: vec![svc], endpoints: vec![] };
//! let source = SourceState::default();
//!
//! let translation = translate(&link, &target, &source);
//! assert!(translation.desired.services.keys().any(|k| k.name == "web-west"));
//! let plan = plan(&link, &translation.desired, &source);
//! assert_eq!(plan.operations.len(), 2); // create Service and Endpoints web-west
//! ```
#![deny(missing_docs)]

pub mod admission;
pub mod claims;
pub mod diagnostics;
pub mod drive;
pub mod endpoint_slices;
pub mod explain;
pub mod federate;
pub mod federation_writer;
pub mod hostname_policy;
pub mod labels;
pub mod limits;
pub mod link;
mod link_builder;
mod link_error;
pub mod link_spec;
pub mod model;
pub mod names;
pub mod operation;
pub mod plan;
pub mod probe;
mod probe_spec;
mod selector;
pub mod state;
pub mod status;
mod trace;
pub mod translate;
pub mod validate;

pub use diagnostics::{Diagnostic, Reason, Severity};
pub use drive::{
    Apply, DriveError, Driven, MAX_PASSES, Phase, PlanSummary, Refusal, drive, drive_federated,
};
pub use endpoint_slices::{TargetEndpoints, target_endpoints};
pub use explain::{Explanation, explain};
pub use federate::federate;
pub use federation_writer::{FederationWriter, federate_as};
pub use hostname_policy::{GatewayResolution, HostnamePolicy};
pub use limits::{Limit, Limits};
pub use link::{EndpointsApi, LabelSelector, Link, LinkError, LinkWarning};
pub use link_builder::LinkBuilder;
pub use link_spec::{LinkManifest, LinkSpec};
pub use model::{EndpointSlice, Endpoints, Kind, Object, ObjectKey, Service, StringMap};
pub use names::ClusterName;
pub use plan::{DeleteReason, Dependency, Operation, Plan, Precondition, plan, plan_federated};
pub use state::{Desired, SourceState, TargetState};
pub use status::{Condition, ConditionStatus, ConditionType, conditions};
pub use trace::Step;
pub use translate::{ExportOutcome, MirrorMode, Translation, translate};
