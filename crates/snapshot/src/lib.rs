//! # svcmirror-snapshot
//!
//! Reads `kubectl get -o yaml|json` output into svcmirror's model, and writes manifests back.
//!
//! - [`parse`] / [`read`]: YAML or JSON — one object, a `List` (or `ServiceList`…), several
//!   `---`-separated YAML documents, or a JSON array — into a [`Snapshot`] of `v1` Services,
//!   Endpoints and Namespaces and `discovery.k8s.io/v1` EndpointSlices. Other kinds (Pods,
//!   Deployments…) are skipped, so a `kubectl get all -o yaml` dump reads as is; one that looks
//!   like a mistake for a kind that is read (`kind: service`, a `v2` Service) is skipped with a
//!   warning at `kind` or `apiVersion`.
//! - [`write_list`]: objects → one `v1` `List` in YAML or JSON that kubectl reads back unchanged.
//!
//! A malformed object (a field of the wrong type) does not spoil the input: it is dropped and
//! reported as a [`Diagnostic`] with reason [`InvalidObject`](svcmirror_core::Reason::InvalidObject)
//! and its field path (`spec.ports[0].port`), as SPEC §8 asks. A required field that is missing
//! is reported as such (`metadata.name`, a Service port's `port`), not read as `""` or `0`; an
//! Endpoints address without `ip` or port without `port` is dropped, the rest kept. An object
//! without a name is called `<unnamed>`, and its diagnostic says where it is in the input. Only
//! an input that cannot be read at all is a [`SnapshotError`]: not YAML/JSON, empty, a document
//! that is not a Kubernetes object, or over the [`Limits`] (including YAML alias bombs and deep
//! nesting).
//!
//! **What this crate must never do**: decide anything about mirroring (exports, headlessness,
//! names — that is `svcmirror-core`'s job; this crate only converts and moves bytes), or panic,
//! whatever the input.
//!
//! ```
//! use svcmirror_snapshot::{Format, Limits, parse, write_list};
//! use svcmirror_core::Object;
//!
//! let yaml = b"apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  ports: [{port: 80}]\n";
//! let snapshot = parse(yaml, "web.yaml", &Limits::default()).unwrap();
//! assert_eq!(snapshot.services[0].metadata.namespace(), "default");
//! assert!(snapshot.diagnostics.is_empty());
//!
//! let objects: Vec<Object> = snapshot.services.into_iter().map(Object::Service).collect();
//! let mut out = Vec::new();
//! write_list(&objects, Format::Yaml, &mut out).unwrap();
//! assert!(String::from_utf8(out).unwrap().starts_with("apiVersion: v1\nkind: List\n"));
//! ```
#![deny(missing_docs)]

mod document;
mod entry;
mod error;
mod fast;
mod limits;
mod parse;
mod write;

use std::io::Read;

use svcmirror_core::model::{EndpointSlice, Endpoints, Kind, Namespace, Service};
use svcmirror_core::{
    Diagnostic, Severity, SourceState, TargetEndpoints, TargetState, target_endpoints,
};

use crate::document::Shape;
use crate::entry::Entry;
pub use crate::error::{InputBudget, Location, SnapshotError};
pub use crate::limits::Limits;
pub use crate::write::{Format, write_list, write_object};

/// The `v1` objects of one input, in input order, and what was wrong with the rest.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Every well-formed `v1` Service.
    pub services: Vec<Service>,
    /// Every well-formed `v1` Endpoints.
    pub endpoints: Vec<Endpoints>,
    /// Every well-formed `v1` Namespace.
    pub namespaces: Vec<Namespace>,
    /// Every well-formed `discovery.k8s.io/v1` EndpointSlice: part of the source state (the
    /// slices svcmirror wrote, and others' that hold names it wants), and in the target the
    /// endpoints of a Service without Endpoints ([`Snapshot::into_target_with`]).
    pub endpoint_slices: Vec<EndpointSlice>,
    /// What was wrong with the input, all with reason
    /// [`InvalidObject`](svcmirror_core::Reason::InvalidObject): an error per malformed `v1`
    /// Service, Endpoints or Namespace (or EndpointSlice), which is left out of the lists above;
    /// an error per address or port dropped from an Endpoints for a missing `ip` or `port`; a
    /// warning per skipped object whose `kind` or `apiVersion` looks like a mistake for one that
    /// is read (`kind: service`, `apiVersion: v2`). An object without a name is named
    /// `<unnamed>`, and the message says where it is (`items[3] of document 1`).
    pub diagnostics: Vec<Diagnostic>,
}

impl Snapshot {
    /// The snapshot as the target cluster's state, each Service's endpoints read as
    /// [`TargetEndpoints::Auto`] says: its Endpoints (as Linkerd reads them), else its
    /// EndpointSlices (SPEC §12). Its Namespaces are not needed.
    #[must_use]
    pub fn into_target(self) -> TargetState {
        self.into_target_with(TargetEndpoints::Auto)
    }

    /// The snapshot as the target cluster's state, its endpoints read from its Endpoints, its
    /// EndpointSlices, or either ([`svcmirror_core::target_endpoints`], SPEC §12).
    #[must_use]
    pub fn into_target_with(self, mode: TargetEndpoints) -> TargetState {
        TargetState::new(
            self.services,
            target_endpoints(mode, self.endpoints, &self.endpoint_slices),
        )
    }

    /// The snapshot as the source cluster's state. Namespaces are known (`Some`) only when the
    /// input held at least one Namespace object, malformed ones included; otherwise they are
    /// unknown (`None`) and every namespace is assumed to exist.
    #[must_use]
    pub fn into_source(self) -> SourceState {
        // A malformed Namespace counts (an error), a skipped look-alike does not (a warning).
        let listed_namespaces = !self.namespaces.is_empty()
            || self
                .diagnostics
                .iter()
                .any(|d| d.kind == Kind::Namespace && d.severity == Severity::Error);
        SourceState::new(self.services, self.endpoints)
            .with_endpoint_slices(self.endpoint_slices)
            .with_namespaces(listed_namespaces.then_some(self.namespaces))
    }
}

/// Reads `kubectl get -o yaml|json` output.
///
/// The format is detected from the first non-whitespace byte: `{` or `[` is JSON, anything else
/// YAML (a `{`-document that is not JSON but is YAML flow style is read as YAML). `origin` names
/// the input in errors (a file name). Objects come out in input order.
///
/// Parsing runs on a short-lived helper thread with a 32 MiB stack (reserved, committed only as
/// used), so that nesting up to the 128-level limit cannot overflow the caller's stack, whatever
/// its size and the build profile.
///
/// # Errors
/// When the input cannot be used at all: see [`SnapshotError`]. Malformed objects are not errors
/// but [`Snapshot::diagnostics`].
pub fn parse(bytes: &[u8], origin: &str, limits: &Limits) -> Result<Snapshot, SnapshotError> {
    if u64::try_from(bytes.len()).map_or(true, |len| len > limits.max_bytes) {
        return Err(SnapshotError::TooLarge {
            origin: origin.to_owned(),
            max_bytes: limits.max_bytes,
        });
    }
    let documents = parse::documents(bytes, origin, limits)?;
    if documents.is_empty() {
        return Err(SnapshotError::Empty {
            origin: origin.to_owned(),
        });
    }
    let objects: usize = documents.iter().map(|d| d.document.entries.len()).sum();
    if objects > limits.max_objects {
        return Err(SnapshotError::TooManyObjects {
            origin: origin.to_owned(),
            max_objects: limits.max_objects,
        });
    }

    let several = documents.len() > 1;
    let mut snapshot = Snapshot::default();
    for (n, parsed) in documents.into_iter().enumerate() {
        let shape = parsed.document.shape;
        let items_not_a_list = parsed.document.items_not_a_list;
        // Where item `i` is: which document or element, and its line:column when known.
        let position = |i: usize, document: String| match shape {
            Shape::Single => document,
            Shape::List => format!("items[{i}] of {document}"),
            Shape::Sequence => format!("[{i}] of {document}"),
        };
        let location = |i: usize| match shape {
            Shape::Single if items_not_a_list => parsed.places.items.or(parsed.location),
            Shape::Single => parsed.location,
            Shape::List | Shape::Sequence => parsed.places.elements.get(i).copied(),
        };
        for (i, entry) in parsed.document.entries.into_iter().enumerate() {
            let (entry, notes) = match entry {
                Entry::Noted(entry, notes) => (*entry, notes),
                entry => (entry, Vec::new()),
            };
            let mut diagnostics = notes;
            match entry {
                Entry::Service(service) => snapshot.services.push(service),
                Entry::Endpoints(endpoints) => snapshot.endpoints.push(endpoints),
                Entry::Namespace(namespace) => snapshot.namespaces.push(namespace),
                Entry::EndpointSlice(slice) => snapshot.endpoint_slices.push(slice),
                Entry::Invalid(diagnostic) => diagnostics.push(diagnostic),
                Entry::Skipped | Entry::Noted(..) => {}
                Entry::NotAnObject(reason) => {
                    let document = if several {
                        format!("document {}", n + 1)
                    } else {
                        "the document".to_owned()
                    };
                    return Err(SnapshotError::NotAnObject {
                        origin: origin.to_owned(),
                        // Point at the faulty value itself when it could be found.
                        location: location(i).or(parsed.location),
                        position: position(i, document),
                        reason,
                    });
                }
            }
            for mut diagnostic in diagnostics {
                // SPEC §8: an object without a name is still named, by where it is.
                if diagnostic.object.name == entry::UNNAMED {
                    let at = position(i, format!("document {}", n + 1));
                    diagnostic.message = match location(i) {
                        Some(l) => format!("{} ({at}, line {})", diagnostic.message, l.line),
                        None => format!("{} ({at})", diagnostic.message),
                    };
                }
                snapshot.diagnostics.push(diagnostic);
            }
        }
    }
    Ok(snapshot)
}

/// Reads the file at `path` (`-` for standard input, named `<stdin>` in errors) with [`parse`].
///
/// No more than `limits.max_bytes + 1` bytes are ever read into memory.
///
/// # Errors
/// [`SnapshotError::Io`] when the file cannot be read, then as [`parse`].
pub fn read(path: &str, limits: &Limits) -> Result<Snapshot, SnapshotError> {
    let (origin, bytes) = if path == "-" {
        let origin = "<stdin>";
        (
            origin,
            read_at_most(std::io::stdin().lock(), origin, limits)?,
        )
    } else {
        let file = std::fs::File::open(path).map_err(|source| SnapshotError::Io {
            origin: path.to_owned(),
            source,
        })?;
        // The file's size, when known, sizes the buffer once: no doubling (a 72 MB snapshot
        // would otherwise grow through 64 MiB to a 128 MiB buffer, copying as it goes).
        let size = file.metadata().map_or(0, |m| m.len());
        (path, read_at_most_sized(file, size, path, limits)?)
    };
    parse(&bytes, origin, limits)
}

/// Reads at most one byte more than allowed, so that [`parse`] can tell "too large" without the
/// whole (perhaps endless) stream in memory.
fn read_at_most(
    reader: impl Read,
    origin: &str,
    limits: &Limits,
) -> Result<Vec<u8>, SnapshotError> {
    read_at_most_sized(reader, 0, origin, limits)
}

/// [`read_at_most`] into a buffer sized for `size_hint` bytes (capped by the limit).
fn read_at_most_sized(
    reader: impl Read,
    size_hint: u64,
    origin: &str,
    limits: &Limits,
) -> Result<Vec<u8>, SnapshotError> {
    let capacity = size_hint.min(limits.max_bytes).saturating_add(1);
    let mut bytes = Vec::with_capacity(usize::try_from(capacity).unwrap_or(0));
    reader
        .take(limits.max_bytes.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|source| SnapshotError::Io {
            origin: origin.to_owned(),
            source,
        })?;
    Ok(bytes)
}
