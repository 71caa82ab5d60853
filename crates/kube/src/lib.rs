//! # svcmirror-kube
//!
//! The kube-rs backend of svcmirror: [`KubeSource`] and [`KubeTarget`] implement
//! `svcmirror-backend`'s [`SourceCluster`](svcmirror_backend::SourceCluster) and
//! [`TargetCluster`](svcmirror_backend::TargetCluster) over the Kubernetes API, so the reconcile
//! driver runs against real clusters exactly as it runs against the in-memory fake. [`lease`]
//! adds leader election with a `coordination.k8s.io/v1` Lease.
//!
//! It is **thin**: [`convert`] turns k8s-openapi objects into the core's model and back, field by
//! field, and the rest is transport (list, watch, get, server-side apply, delete, and `core/v1`
//! Events on exported Services when their status changes) and the mapping of HTTP failures to
//! [`ApiError`](svcmirror_backend::ApiError) ([`map_error`]).
//!
//! **What it must never do**: decide anything about mirroring. No `if` here looks at
//! headlessness, ports, names or ownership labels; what is exported, what a mirror looks like and
//! what may be written is `svcmirror-core`'s decision, and when to write is the driver's.
//!
//! **k8s-openapi version**: this library enables no `v1_*` feature of k8s-openapi (its build
//! script allows exactly one in a build): the binary that links it picks one — `svcmirror` pins
//! `v1_33`; an embedder's binary adds `k8s-openapi = { version = "0.29", features = ["v1_33"] }`
//! (or its clusters' version). `examples/embed_kube.rs` (`cargo run -p svcmirror-kube --example
//! embed_kube`) embeds the reconciler with a `kube::Client` of its own; README "Embedding" says
//! how to depend on the crates and the minimum Rust version (1.89).
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use svcmirror_backend::{SourceCluster, TargetCluster};
//! use svcmirror_core::LabelSelector;
//! use svcmirror_kube::{KubeSource, KubeTarget};
//!
//! let client = kube::Client::try_default().await?;
//! let target = KubeTarget::new(client.clone(), &LabelSelector::default_export());
//! let source = KubeSource::new(client);
//! let exported = target.list().await?; // Services filtered by `mirror.linkerd.io/exported=true`
//! let mirrors = source.list().await?;
//! # let _ = (exported, mirrors);
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

pub mod client;
pub mod convert;
mod create;
mod error;
mod events;
pub mod fence;
pub mod lease;
pub mod link_resource;
pub mod services;
mod source;
mod target;
mod write_fields;

pub use create::apply_ownership_patch;
pub use error::{describe, map_error, map_status};
pub use events::record_gateway_transition;
pub use source::KubeSource;
pub use target::KubeTarget;
pub use write_fields::FIELD_MANAGER;
