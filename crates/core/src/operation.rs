//! SPEC §7: what [`crate::plan()`] hands back — operations, the dependencies between them, and
//! findings — as plain data that every applier (the driver, the fake, the CLI) reads the same way.

use serde::Serialize;

use crate::diagnostics::Diagnostic;
use crate::model::{Kind, Object, ObjectKey, ObjectMeta};

/// What an update or a delete requires of the object it writes: that it is still the one
/// observed (Kubernetes' `Precondition` of a delete, and the resourceVersion of an optimistic
/// update). Every backend reads it from the [`Operation`]; none rebuilds it. Its two fields are
/// Kubernetes' own, so it is plain data, built with a struct literal or [`Precondition::observed`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize)]
pub struct Precondition {
    /// The observed `metadata.uid`: never write a newer object of the same name.
    pub uid: Option<String>,
    /// The observed `metadata.resourceVersion`: never write over a change not seen.
    pub resource_version: Option<String>,
}

impl Precondition {
    /// The precondition that `meta` is still the object observed.
    #[must_use]
    pub fn observed(meta: &ObjectMeta) -> Self {
        Self {
            uid: meta.uid.clone(),
            resource_version: meta.resource_version.clone(),
        }
    }
}

/// Why an object is deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum DeleteReason {
    /// Ours, but no longer desired (un-export, target deleted, pod gone, …).
    Orphan,
    /// The mirror changes between ClusterIP and headless: clusterIP is immutable, so it is deleted
    /// and re-created.
    TypeChange,
    /// SPEC §7 sticky names: the name now goes to another export than the one the object serves;
    /// it is deleted and re-created, so no live mirror changes the export it serves.
    Reassigned,
}

/// One change to the source cluster. More kinds of change may come (a server-side apply patch):
/// match with a wildcard arm.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "lowercase")]
#[non_exhaustive]
pub enum Operation {
    /// Create `object`.
    Create {
        /// The object to create.
        object: Object,
    },
    /// Replace an object we own by `object`, whose `metadata.resourceVersion` is the observed one
    /// (an optimistic-concurrency precondition) and whose server-set fields are preserved.
    Update {
        /// The new object.
        object: Object,
        /// The field groups that differ (`metadata.labels`, `spec.ports`, `subsets`, …).
        changed: Vec<&'static str>,
        /// The observed object's uid and resourceVersion (the latter also in `object`).
        precondition: Precondition,
    },
    /// Delete an object we own.
    Delete {
        /// Its kind.
        kind: Kind,
        /// Its key.
        key: ObjectKey,
        /// The observed uid and resourceVersion: never delete a newer object of the same name.
        #[serde(flatten)]
        precondition: Precondition,
        /// Why.
        reason: DeleteReason,
    },
}

impl Operation {
    /// `create`, `update` or `delete`.
    #[must_use]
    pub fn action(&self) -> &'static str {
        match self {
            Self::Create { .. } => "create",
            Self::Update { .. } => "update",
            Self::Delete { .. } => "delete",
        }
    }

    /// The kind of the object concerned.
    #[must_use]
    pub fn kind(&self) -> Kind {
        match self {
            Self::Create { object } | Self::Update { object, .. } => object.kind(),
            Self::Delete { kind, .. } => *kind,
        }
    }

    /// What an update or a delete requires of the object it writes (`None` for a create).
    #[must_use]
    pub fn precondition(&self) -> Option<&Precondition> {
        match self {
            Self::Create { .. } => None,
            Self::Update { precondition, .. } | Self::Delete { precondition, .. } => {
                Some(precondition)
            }
        }
    }

    /// The key of the object concerned.
    #[must_use]
    pub fn key(&self) -> ObjectKey {
        match self {
            Self::Create { object } | Self::Update { object, .. } => object.key(),
            Self::Delete { key, .. } => key.clone(),
        }
    }
}

/// The result of [`plan`](crate::plan()): operations in the order they must be applied, the dependencies
/// between them, and findings.
///
/// **Applying a plan** (the contract every applier keeps, the driver's apply loop and
/// `FakeCluster::apply_plan` included): apply `operations` in order; skip an operation when an
/// operation it depends on ([`Plan::prerequisites`]) did not succeed in this pass (it failed, its
/// outcome is unknown, or it was itself skipped). A skipped operation is planned again by the next
/// pass, against what the source then holds. Order alone is not enough: under partial failure a
/// later operation may be unsafe although an earlier one merely failed.
///
/// The dependencies (SPEC §7, safe ordering under partial failure): every delete of an endpoint
/// mirror's Service, Endpoints or EndpointSlice depends on every write to its root mirror's
/// Endpoints and EndpointSlices in the same plan. An endpoint mirror's ClusterIP is freed when
/// its Service is deleted, and the API server may hand it to any new Service: as long as a root
/// Endpoints may still name it (its update failed), the endpoint mirror stays. So a root never
/// points at a freed ClusterIP.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// Operations, in a safe order: namespaces; deletions for type changes; endpoint mirror Services
    /// before root/ClusterIP mirrors; Services before Endpoints, Endpoints before EndpointSlices;
    /// orphan deletions last, endpoint mirrors' after every other.
    pub operations: Vec<Operation>,
    /// Which operation must have succeeded before which, sorted; each points backwards
    /// (`on < operation`). See [`Plan`].
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dependencies: Vec<Dependency>,
    /// Findings (name conflicts).
    pub diagnostics: Vec<Diagnostic>,
}

/// `operations[operation]` may only be applied once `operations[on]` succeeded in the same pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Dependency {
    /// The index of the dependent operation.
    pub operation: usize,
    /// The index of the operation it waits for; always smaller.
    pub on: usize,
}

impl Plan {
    /// True when the source already holds the desired state.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.operations.is_empty()
    }

    /// The indices of the operations `operations[index]` depends on (each smaller than `index`).
    pub fn prerequisites(&self, index: usize) -> impl Iterator<Item = usize> + '_ {
        let start = self.dependencies.partition_point(|d| d.operation < index);
        self.dependencies[start..]
            .iter()
            .take_while(move |d| d.operation == index)
            .map(|d| d.on)
    }
}
