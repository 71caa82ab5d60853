//! SPEC §7: from desired state and what the source holds to an ordered list of operations.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use crate::changes::{compare, endpoints_changes, service_changes, slice_changes};
use crate::diagnostics::{Diagnostic, Reason, Severity};
use crate::fingerprint::SliceDigest;
use crate::labels::{self, HEADLESS_MIRROR_SVC_NAME, SLICE_SERVICE_NAME};
use crate::link::Link;
use crate::model::{Endpoints, Kind, Object, ObjectKey, ObjectMeta, Service};
use crate::observed::Observed;
use crate::record::{ObservedEndpoints, ObservedService, ObservedSlice};
use crate::state::Desired;
use crate::template::{Entry, Templated};
use crate::view::SourceView;

pub use crate::operation::{DeleteReason, Dependency, Operation, Plan, Precondition};

/// Plans the operations that make `source` hold `desired` for `link` (SPEC §7).
///
/// Ownership is absolute: only objects carrying this link's labels
/// (`mirror.linkerd.io/mirrored-service=true`, `mirror.linkerd.io/cluster-name=<cluster>`) are
/// updated or deleted. A desired name held by anything else is a `NameConflict`, and neither that
/// Service nor its same-named Endpoints is written. Owned objects that are not desired are deleted,
/// per namespace. Identical objects (ignoring server-set fields) yield no operation.
///
/// `source` is read in place ([`SourceView`]): a [`crate::SourceState`]'s lists or a
/// [`crate::SourceStore`] of records, which plans exactly as the list of its objects sorted by
/// key does (a record is compared by digests, issue 13 item 3).
#[must_use]
pub fn plan(link: &Link, desired: &Desired, source: &(impl SourceView + ?Sized)) -> Plan {
    let observed = Observed::of(source, |_| true).with_slices(source);
    plan_for(Owner::Link(link), desired, observed)
}

/// Plans the operations that make `source` hold the federated Services `desired` (from
/// [`crate::federate()`]; SPEC §9), by the rules of [`plan`] with the federation's ownership: only
/// objects labelled `mirror.linkerd.io/mirrored-service=true` and `svcmirror.io/federated=true`
/// *without* `mirror.linkerd.io/cluster-name` are updated or deleted. The two ownerships are
/// disjoint, so this plan never touches a link's mirror and a link's plan never touches a
/// federated Service.
#[must_use]
pub fn plan_federated(desired: &Desired, source: &(impl SourceView + ?Sized)) -> Plan {
    // Only the federation's own objects and whatever holds a desired name can matter: planned
    // against those alone, the result is the same, without indexing (and keying every foreign
    // object of) a source that holds every link's mirrors.
    let wanted: BTreeSet<(&str, &str)> = desired
        .services
        .keys()
        .chain(desired.endpoints.keys())
        .map(ObjectKey::key_ref)
        .collect();
    let relevant = |meta: &ObjectMeta| {
        wanted.contains(&meta.key_ref()) || labels::is_federation_owned(&meta.labels)
    };
    // The federated Services have no EndpointSlices (SPEC §9): none is indexed.
    plan_for(Owner::Federation, desired, Observed::of(source, relevant))
}

/// Whose objects a plan may update or delete (SPEC §7, §9).
#[derive(Clone, Copy)]
enum Owner<'a> {
    /// One link's mirrors.
    Link(&'a Link),
    /// The federated Services.
    Federation,
}

impl Owner<'_> {
    fn owns(self, meta: &ObjectMeta) -> bool {
        match self {
            Self::Link(link) => labels::is_owned_by(meta, link),
            Self::Federation => labels::is_federation_owned(&meta.labels),
        }
    }

    /// SPEC §12: a slice is ours only when it also says it is managed by svcmirror
    /// ([`labels::is_owned_slice`]): the mirroring controller copies our ownership labels.
    fn owns_slice(self, meta: &ObjectMeta) -> bool {
        self.owns(meta) && labels::is_svcmirror_slice(&meta.labels)
    }

    /// SPEC §7: whether `want` would make our object `have` serve another export than it does
    /// (both `remote-svc-fq-name`s decode and name different exports).
    fn reassigns<T: Templated>(self, have: &ObjectMeta, key: &ObjectKey, want: &Entry<T>) -> bool {
        let Self::Link(link) = self else {
            return false;
        };
        match (
            labels::remote_ref(have, link),
            labels::remote_ref_of(want.labels(), &key.namespace, want.fq_name(), link),
        ) {
            (Some(have), Some(want)) => have.export != want.export,
            _ => false,
        }
    }

    /// [`Owner::reassigns`] for a slice (always built).
    fn reassigns_slice(self, have: &ObjectMeta, want: &ObjectMeta) -> bool {
        let Self::Link(link) = self else {
            return false;
        };
        match (
            labels::remote_ref(have, link),
            labels::remote_ref(want, link),
        ) {
            (Some(have), Some(want)) => have.export != want.export,
            _ => false,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Link(_) => "this link",
            Self::Federation => "the federation",
        }
    }
}

fn plan_for(owner: Owner<'_>, desired: &Desired, source: Observed<'_>) -> Plan {
    let Observed {
        services,
        endpoints,
        slices,
        namespaces,
    } = source;
    let mut out = Plan::default();
    let mut phases = Phases::default();

    for ns in desired.namespaces.values() {
        if namespaces
            .as_ref()
            .is_some_and(|all| !all.contains(ns.metadata.name.as_str()))
        {
            phases.namespaces.push(Operation::Create {
                object: Object::Namespace(ns.clone()),
            });
        }
    }

    // SPEC §7: a desired name held by an object we do not own blocks the Service and its
    // Endpoints. Only foreign objects are looked up (by an allocated key): ours never block.
    let mut blocked: BTreeMap<ObjectKey, Kind> = BTreeMap::new();
    let foreign = services
        .values()
        .map(|s| s.metadata())
        .filter(|meta| !owner.owns(meta))
        .map(|meta| (Kind::Service, meta))
        .chain(
            endpoints
                .values()
                .map(|e| e.metadata())
                .filter(|meta| !owner.owns(meta))
                .map(|meta| (Kind::Endpoints, meta)),
        );
    for (kind, meta) in foreign {
        let key = meta.key();
        if desired.services.contains_key(&key) || desired.endpoints.contains_key(&key) {
            // A foreign Service is named over a foreign Endpoints of the same name.
            blocked.entry(key).or_insert(kind);
        }
    }
    for (key, kind) in &blocked {
        out.diagnostics.push(Diagnostic::new(
            Reason::NameConflict,
            Severity::Error,
            *kind,
            key.clone(),
            format!(
                "a {kind} with this name exists and is not owned by {}; neither it nor its \
                 same-named Service/Endpoints is written",
                owner.name()
            ),
        ));
    }

    // Each kind: the desired objects and the source's, walked together in key order.
    let mut orphan_services = Vec::new();
    let mut type_changed: BTreeMap<&ObjectKey, DeleteReason> = BTreeMap::new();
    for pair in outer_join(&desired.services, &services) {
        let Some((key, want, have)) = pair.desired_or_orphan(
            Kind::Service,
            ObservedService::metadata,
            |meta| owner.owns(meta),
            &mut orphan_services,
        ) else {
            continue;
        };
        if blocked.contains_key(key) {
            continue;
        }
        let phase = if want.labels().contains_key(HEADLESS_MIRROR_SVC_NAME) {
            &mut phases.endpoint_mirror_services
        } else {
            &mut phases.mirror_services
        };
        match have {
            None => phase.push(Operation::Create {
                object: Object::Service(want.to_object(key).into_owned()),
            }),
            Some(have)
                if have.is_headless() != want.is_headless()
                    || owner.reassigns(have.metadata(), key, want) =>
            {
                let reason = if have.is_headless() == want.is_headless() {
                    DeleteReason::Reassigned
                } else {
                    DeleteReason::TypeChange
                };
                type_changed.insert(key, reason);
                phases
                    .type_change_deletes
                    .push(delete(Kind::Service, have.metadata(), reason));
                phase.push(Operation::Create {
                    object: Object::Service(want.to_object(key).into_owned()),
                });
            }
            Some(have) => {
                if let Some((mut object, changed)) = compare(
                    key,
                    want,
                    have.full(),
                    || Service::record_changes(want, have.metadata(), &have.digest()),
                    service_changes,
                ) {
                    keep_server_fields(&mut object.metadata, have.metadata());
                    object.spec.cluster_ip = have.cluster_ip().map(str::to_owned);
                    object.spec.cluster_ips = have.cluster_ips().to_vec();
                    phase.push(Operation::Update {
                        object: Object::Service(object),
                        changed,
                        precondition: Precondition::observed(have.metadata()),
                    });
                }
            }
        }
    }

    let mut orphan_endpoints = Vec::new();
    for pair in outer_join(&desired.endpoints, &endpoints) {
        let Some((key, want, have)) = pair.desired_or_orphan(
            Kind::Endpoints,
            ObservedEndpoints::metadata,
            |meta| owner.owns(meta),
            &mut orphan_endpoints,
        ) else {
            continue;
        };
        if blocked.contains_key(key) {
            continue;
        }
        let phase = if want.labels().contains_key(HEADLESS_MIRROR_SVC_NAME) {
            &mut phases.endpoint_mirror_endpoints
        } else {
            &mut phases.mirror_endpoints
        };
        match have {
            None => phase.push(Operation::Create {
                object: Object::Endpoints(want.to_object(key).into_owned()),
            }),
            Some(have)
                if type_changed.contains_key(key)
                    || owner.reassigns(have.metadata(), key, want) =>
            {
                // The Service is re-created; its Endpoints go and come with it.
                let reason = type_changed
                    .get(key)
                    .copied()
                    .unwrap_or(DeleteReason::Reassigned);
                phases
                    .type_change_deletes
                    .push(delete(Kind::Endpoints, have.metadata(), reason));
                phase.push(Operation::Create {
                    object: Object::Endpoints(want.to_object(key).into_owned()),
                });
            }
            Some(have) => {
                if let Some((mut object, changed)) = compare(
                    key,
                    want,
                    have.full(),
                    || Endpoints::record_changes(want, have.metadata(), &have.digest()),
                    endpoints_changes,
                ) {
                    keep_server_fields(&mut object.metadata, have.metadata());
                    phase.push(Operation::Update {
                        object: Object::Endpoints(object),
                        changed,
                        precondition: Precondition::observed(have.metadata()),
                    });
                }
            }
        }
    }

    // SPEC §12: slices as Endpoints — never for a blocked Service (that would hijack someone
    // else's traffic), never over a slice that is not ours.
    let mut orphan_slices = Vec::new();
    for pair in outer_join(&desired.endpoint_slices, &slices) {
        let Some((key, want, have)) = pair.desired_or_orphan(
            Kind::EndpointSlice,
            ObservedSlice::metadata,
            |meta| owner.owns_slice(meta),
            &mut orphan_slices,
        ) else {
            continue;
        };
        let service = want
            .metadata
            .labels
            .get(SLICE_SERVICE_NAME)
            .filter(|_| !blocked.is_empty())
            .map(|name| ObjectKey::new(&key.namespace, name));
        if service.is_some_and(|s| blocked.contains_key(&s)) {
            continue;
        }
        let phase = if want.metadata.labels.contains_key(HEADLESS_MIRROR_SVC_NAME) {
            &mut phases.endpoint_mirror_slices
        } else {
            &mut phases.mirror_slices
        };
        match have {
            None => phase.push(Operation::Create {
                object: Object::EndpointSlice(want.clone()),
            }),
            Some(have) if !owner.owns_slice(have.metadata()) => {
                out.diagnostics.push(Diagnostic::new(
                    Reason::NameConflict,
                    Severity::Error,
                    Kind::EndpointSlice,
                    key.clone(),
                    format!(
                        "an EndpointSlice with this name exists and is not owned by {} \
                         (managed-by {:?}); left alone",
                        owner.name(),
                        have.metadata()
                            .labels
                            .get(labels::SLICE_MANAGED_BY)
                            .map_or("", String::as_str)
                    ),
                ));
            }
            Some(have) if owner.reassigns_slice(have.metadata(), &want.metadata) => {
                // SPEC §7: a slice changes export only with its re-created mirror.
                phases.type_change_deletes.push(delete(
                    Kind::EndpointSlice,
                    have.metadata(),
                    DeleteReason::Reassigned,
                ));
                phase.push(Operation::Create {
                    object: Object::EndpointSlice(want.clone()),
                });
            }
            Some(have) => {
                let changed = match have.full() {
                    Some(full) => slice_changes(want, full),
                    None => SliceDigest::of(want).changes(&have.digest()),
                };
                if !changed.is_empty() {
                    let mut object = want.clone();
                    keep_server_fields(&mut object.metadata, have.metadata());
                    phase.push(Operation::Update {
                        object: Object::EndpointSlice(object),
                        changed,
                        precondition: Precondition::observed(have.metadata()),
                    });
                }
            }
        }
    }

    // Orphans: ours, not desired. Endpoints and slices first, so no Service is left pointing
    // nowhere; endpoint mirrors' after everything else, so that their deletes can wait for the
    // root's writes (see `Plan`).
    let of_endpoint_mirror = |op: &Operation| {
        let key = op.key();
        let meta = match op.kind() {
            Kind::Service => services.get(&key.key_ref()).map(|s| s.metadata()),
            Kind::Endpoints => endpoints.get(&key.key_ref()).map(|e| e.metadata()),
            Kind::EndpointSlice => slices.get(&key.key_ref()).map(|e| e.metadata()),
            Kind::Namespace => None,
        };
        meta.and_then(|m| m.labels.get(HEADLESS_MIRROR_SVC_NAME))
            .map(|root| (key.namespace, root.clone()))
    };
    let mut endpoint_mirror_deletes = Vec::new();
    for op in orphan_endpoints
        .into_iter()
        .chain(orphan_slices)
        .chain(orphan_services)
    {
        match of_endpoint_mirror(&op) {
            Some(root) => endpoint_mirror_deletes.push((op, root)),
            None => phases.orphan_deletes.push(op),
        }
    }

    out.operations = phases.into_operations();
    // SPEC §7 (safe ordering under partial failure): an endpoint mirror's delete waits for every
    // write to its root's Endpoints and EndpointSlices.
    // Keyed by owned names: the operations are appended to below.
    let mut root_writes: BTreeMap<(String, String), Vec<usize>> = BTreeMap::new();
    for (i, op) in out.operations.iter().enumerate() {
        let root = match op {
            Operation::Create { object } | Operation::Update { object, .. } => match object {
                Object::Endpoints(e) => Some(e.metadata.key_ref()),
                Object::EndpointSlice(e) => e
                    .metadata
                    .labels
                    .get(SLICE_SERVICE_NAME)
                    .map(|svc| (e.metadata.namespace(), svc.as_str())),
                _ => None,
            },
            Operation::Delete { kind, key, .. } => match kind {
                Kind::Endpoints => endpoints
                    .get(&key.key_ref())
                    .map(|e| e.metadata().key_ref()),
                Kind::EndpointSlice => slices.get(&key.key_ref()).and_then(|e| {
                    let meta = e.metadata();
                    meta.labels
                        .get(SLICE_SERVICE_NAME)
                        .map(|svc| (meta.namespace(), svc.as_str()))
                }),
                _ => None,
            },
        };
        if let Some((namespace, name)) = root {
            root_writes
                .entry((namespace.to_owned(), name.to_owned()))
                .or_default()
                .push(i);
        }
    }
    for (op, (namespace, root)) in endpoint_mirror_deletes {
        let index = out.operations.len();
        if let Some(writes) = root_writes.get(&(namespace, root)) {
            out.dependencies.extend(writes.iter().map(|&on| Dependency {
                operation: index,
                on,
            }));
        }
        out.operations.push(op);
    }
    out.dependencies.sort();
    out.diagnostics.sort();
    out
}

/// One key of a full outer join of the desired objects of a kind with the source's.
enum Pair<'d, D, T> {
    /// Desired, not in the source.
    Desired(&'d ObjectKey, &'d D),
    /// Desired and in the source.
    Both(&'d ObjectKey, &'d D, T),
    /// In the source, not desired.
    Source(T),
}

impl<'d, D, T: Copy> Pair<'d, D, T> {
    /// The desired object, with the source's at its key if any; `None` for an object only the
    /// source holds, which is queued in `orphans` for deletion when it is ours.
    fn desired_or_orphan<'s>(
        self,
        kind: Kind,
        meta: impl Fn(T) -> &'s ObjectMeta,
        ours: impl Fn(&ObjectMeta) -> bool,
        orphans: &mut Vec<Operation>,
    ) -> Option<(&'d ObjectKey, &'d D, Option<T>)> {
        match self {
            Self::Desired(key, want) => Some((key, want, None)),
            Self::Both(key, want, have) => Some((key, want, Some(have))),
            Self::Source(have) => {
                if ours(meta(have)) {
                    orphans.push(delete(kind, meta(have), DeleteReason::Orphan));
                }
                None
            }
        }
    }
}

/// Walks `desired` and the indexed `source` together, in key order (both order by namespace,
/// then name): each object meets its counterpart without a lookup or an allocated key.
fn outer_join<'d, 's, D, T: Copy>(
    desired: &'d BTreeMap<ObjectKey, D>,
    source: &'d BTreeMap<(&'s str, &'s str), T>,
) -> impl Iterator<Item = Pair<'d, D, T>> {
    let mut want = desired.iter().peekable();
    let mut have = source.iter().peekable();
    std::iter::from_fn(move || {
        let order = match (want.peek(), have.peek()) {
            (None, None) => return None,
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (Some((key, _)), Some((at, _))) => key.key_ref().cmp(at),
        };
        Some(match order {
            Ordering::Less => {
                let (key, w) = want.next()?;
                Pair::Desired(key, w)
            }
            Ordering::Greater => Pair::Source(*have.next()?.1),
            Ordering::Equal => {
                let (key, w) = want.next()?;
                Pair::Both(key, w, *have.next()?.1)
            }
        })
    })
}

#[derive(Default)]
struct Phases {
    namespaces: Vec<Operation>,
    type_change_deletes: Vec<Operation>,
    endpoint_mirror_services: Vec<Operation>,
    mirror_services: Vec<Operation>,
    endpoint_mirror_endpoints: Vec<Operation>,
    mirror_endpoints: Vec<Operation>,
    endpoint_mirror_slices: Vec<Operation>,
    mirror_slices: Vec<Operation>,
    orphan_deletes: Vec<Operation>,
}

impl Phases {
    fn into_operations(mut self) -> Vec<Operation> {
        // Within the type-change deletions, Endpoints go before their Service.
        self.type_change_deletes.sort_by(|a, b| {
            (a.key(), std::cmp::Reverse(a.kind())).cmp(&(b.key(), std::cmp::Reverse(b.kind())))
        });
        [
            self.namespaces,
            self.type_change_deletes,
            self.endpoint_mirror_services,
            self.mirror_services,
            self.endpoint_mirror_endpoints,
            self.mirror_endpoints,
            self.endpoint_mirror_slices,
            self.mirror_slices,
            self.orphan_deletes,
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}

/// An update carries the observed resourceVersion (the optimistic-concurrency precondition) and
/// keeps what the server set: uid and creationTimestamp.
fn keep_server_fields(want: &mut ObjectMeta, have: &ObjectMeta) {
    want.resource_version.clone_from(&have.resource_version);
    want.uid.clone_from(&have.uid);
    want.creation_timestamp.clone_from(&have.creation_timestamp);
}

fn delete(kind: Kind, meta: &ObjectMeta, reason: DeleteReason) -> Operation {
    Operation::Delete {
        kind,
        key: meta.key(),
        precondition: Precondition::observed(meta),
        reason,
    }
}
