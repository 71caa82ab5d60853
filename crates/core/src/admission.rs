//! SPEC §8 (limits, and one bad export never fails the link): the link's [`Limits`] applied to one
//! export, and what the source API server would refuse of it, decided before anything is written.
//!
//! Three checks, each where it bounds the most work: [`export_limits`] before any mirror is built
//! (ports per mirror; an upper bound of a root mirror's Endpoints), `limit_endpoint_mirrors` before
//! any endpoint mirror is built, and `admit` once an export's objects exist (annotation and object
//! size, the link's ClusterIP budget). A refused export is that export's `LimitExceeded` error
//! diagnostic; the rest of the link converges.
//!
//! [`Limits`]: crate::limits::Limits

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::decision::Decision;
use crate::diagnostics::{Diagnostic, Reason, Severity};
use crate::endpoint_slices::MAX_ENDPOINTS_PER_SLICE;
use crate::labels::{HEADLESS_MIRROR_SVC_NAME, SLICE_SERVICE_NAME};
use crate::limits::{
    Limit, PORT_BYTES, SLICE_PORTS, annotation_bytes, endpoints_bytes_with, map_bytes,
    pairs_annotation_bytes, pairs_bytes, root_record_bytes, root_slice_record_bytes,
    service_bytes_with, slice_bytes_with, string_bytes,
};
use crate::link::Link;
use crate::model::{EndpointPort, Endpoints, Kind, ObjectKey, Service, StringMap};
use crate::state::Desired;
use crate::template::{EndpointMirror, EndpointMirrorTemplate, Entry};

/// The rule `explain` names for every limit.
pub(crate) const RULE: &str = "SPEC §8 limits";

/// SPEC §8 limits, checked before any mirror is built, so that the pods × ports an export could
/// cost are never materialised and the decision does not depend on what the source holds (a
/// root mirror's Endpoints grow in the second pass, as ClusterIPs are allocated: a check of the
/// built objects alone would refuse the export in one pass and admit it in the next):
/// - the exported Service's ports, and the ports of each subset of its Endpoints (a root
///   mirror's Endpoints copy them, and every endpoint mirror carries the Service's), at most
///   `limits.portsPerMirror` — and at most the EndpointSlice's 100 when the link writes slices;
/// - for a headless export, an upper bound of its root mirror's Endpoints (and largest
///   EndpointSlice) once every endpoint mirror has its ClusterIP, at most `limits.objectBytes`.
///
/// Over a limit, the export is not mirrored.
#[must_use]
pub fn export_limits(svc: &Service, endpoints: Option<&Endpoints>, link: &Link) -> Vec<Diagnostic> {
    let limits = link.limits();
    let mut max = limits.count(Limit::PortsPerMirror);
    let slices = link.endpoints_api().writes_slices();
    if slices {
        max = max.min(SLICE_PORTS as usize);
    }
    let over = |kind: Kind, key: ObjectKey, field: String, count: usize| {
        let mut message = limits.exceeded(
            Limit::PortsPerMirror,
            count as u64,
            "the export is not mirrored",
        );
        if slices && limits.count(Limit::PortsPerMirror) > max {
            message.push_str(&format!(
                " (an EndpointSlice holds at most {SLICE_PORTS} ports, whatever the limit says)"
            ));
        }
        Diagnostic::new(Reason::LimitExceeded, Severity::Error, kind, key, message).at(field)
    };
    if svc.spec.ports.len() > max {
        return vec![over(
            Kind::Service,
            svc.metadata.key(),
            "spec.ports".to_owned(),
            svc.spec.ports.len(),
        )];
    }
    let Some(ep) = endpoints else {
        return Vec::new();
    };
    if let Some((i, subset)) = ep
        .subsets
        .iter()
        .enumerate()
        .find(|(_, subset)| subset.ports.len() > max)
    {
        return vec![over(
            Kind::Endpoints,
            ep.metadata.key(),
            format!("subsets[{i}].ports"),
            subset.ports.len(),
        )];
    }
    if !(svc.is_headless() && link.enable_headless_services()) {
        return Vec::new();
    }
    // Every ready address may be named (under some hostname policy) and so become a record of the
    // root mirror, up to the endpoint-mirror limit; every subset with one keeps its ports.
    let ready: usize = ep.subsets.iter().map(|s| s.addresses.len()).sum();
    let records = ready.min(limits.count(Limit::EndpointMirrorsPerExport)) as u64;
    // The longest IP and pod name any record can have: a hostname, a targetRef name or a dashed
    // IP (at most 39 characters), never more than a DNS label's 63; a usable IP has at most 45.
    let addresses = ep.subsets.iter().flat_map(|s| &s.addresses);
    let ip_len = addresses
        .clone()
        .map(|a| a.ip.len())
        .max()
        .unwrap_or(0)
        .min(45) as u64;
    let name_len = addresses
        .flat_map(|a| {
            [
                a.hostname.as_deref(),
                a.target_ref.as_ref().and_then(|r| r.name.as_deref()),
            ]
        })
        .flatten()
        .map(str::len)
        .fold(39, usize::max)
        .min(63) as u64;
    let ports = |ports: &[EndpointPort]| -> u64 {
        ports
            .iter()
            .map(|p| PORT_BYTES + p.app_protocol.as_deref().map_or(0, |a| a.len() as u64 * 6))
            .sum()
    };
    // The root's labels are the Service's (some dropped) plus ours; its annotations ours only.
    let meta = 2048 + map_bytes(&svc.metadata.labels);
    let endpoints_bound = meta
        + records * root_record_bytes(ip_len, name_len)
        + ep.subsets
            .iter()
            .filter(|s| !s.addresses.is_empty())
            .map(|s| 64 + ports(&s.ports))
            .sum::<u64>();
    let slice_bound = meta
        + records.min(MAX_ENDPOINTS_PER_SLICE as u64) * root_slice_record_bytes(ip_len, name_len)
        + ep.subsets
            .iter()
            .map(|s| ports(&s.ports))
            .max()
            .unwrap_or(0);
    let bound = if slices {
        slice_bound.max(if link.endpoints_api().writes_endpoints() {
            endpoints_bound
        } else {
            0
        })
    } else {
        endpoints_bound
    };
    if bound <= limits.get(Limit::ObjectBytes) {
        return Vec::new();
    }
    vec![
        Diagnostic::new(
            Reason::LimitExceeded,
            Severity::Error,
            Kind::Endpoints,
            ep.metadata.key(),
            limits.exceeded(
                Limit::ObjectBytes,
                bound,
                &format!(
                    "the root mirror's {} for {records} named pods could be that large (an upper \
                     bound); the export is not mirrored",
                    if slices {
                        "EndpointSlices"
                    } else {
                        "Endpoints"
                    }
                ),
            ),
        )
        .at("subsets"),
    ]
}

/// SPEC §8 limits: the first `limits.endpointMirrorsPerExport` named ready addresses (sorted by
/// name, as they come) get endpoint mirrors; the rest are cut, before any endpoint mirror is
/// built, with one `LimitExceeded` error for the export.
pub(crate) fn limit_endpoint_mirrors<T>(
    mut named: Vec<T>,
    export: &ObjectKey,
    link: &Link,
) -> (Vec<T>, Option<Decision>) {
    let limits = link.limits();
    let max = limits.count(Limit::EndpointMirrorsPerExport);
    if named.len() <= max {
        return (named, None);
    }
    let decision = Decision::new(
        RULE,
        Diagnostic::new(
            Reason::LimitExceeded,
            Severity::Error,
            Kind::Endpoints,
            export.clone(),
            limits.exceeded(
                Limit::EndpointMirrorsPerExport,
                named.len() as u64,
                &format!(
                    "only the first {max} by name get endpoint mirrors and a record in the root \
                     mirror's Endpoints"
                ),
            ),
        )
        .at("subsets"),
    );
    named.truncate(max);
    (named, Some(decision))
}

/// One export's objects in [`Desired`], as [`admit`] sees them.
#[derive(Debug)]
pub(crate) struct ExportObjects {
    /// The exported Service.
    pub export: ObjectKey,
    /// Its Services, each with a same-named Endpoints when the link writes them.
    pub names: Vec<ObjectKey>,
    /// Its EndpointSlices.
    pub slices: Vec<ObjectKey>,
}

/// What [`admit`] decided about one export.
#[derive(Debug)]
pub(crate) enum Admission {
    /// Not mirrored: its objects were removed from the desired state.
    Refused(Diagnostic),
    /// Mirrored without these endpoint mirrors (their Services, Endpoints and slices were removed
    /// from the desired state; none had a ClusterIP yet, so no root names them).
    Cut {
        /// The names of the endpoint mirrors left out.
        endpoint_mirrors: BTreeSet<String>,
        /// The slices left out with them.
        slices: BTreeSet<ObjectKey>,
        /// Why.
        diagnostic: Diagnostic,
    },
}

/// SPEC §8: what the source API server would refuse of one export (an object whose annotations
/// exceed `limits.annotationBytes`, or whose size exceeds `limits.objectBytes`: refused), and the
/// link's ClusterIP budget (`limits.clusterIPsPerLink`). The budget never takes a ClusterIP back:
/// every ClusterIP an export already holds in the source (`holds`) is counted first, so no
/// newcomer evicts a live mirror (even when the budget was lowered below what is held). Then, in
/// (namespace, name) order, each export's ClusterIPs still to allocate must fit in what is left: a
/// new export that does not fit is refused whole; a live headless export gets the endpoint mirrors
/// that fit (by name) and the others are cut.
pub(crate) fn admit(
    link: &Link,
    holds: impl Fn(&ObjectKey) -> bool,
    desired: &mut Desired,
    exports: &[ExportObjects],
) -> Vec<(ObjectKey, Admission)> {
    let limits = link.limits();
    let mut decided: Vec<(ObjectKey, Admission)> = Vec::new();
    // (export, its ClusterIPs held, its ClusterIPs to allocate)
    let mut candidates: Vec<(&ExportObjects, usize, Vec<&ObjectKey>)> = Vec::new();
    for export in exports {
        if let Some(problem) = object_problem(link, desired, export) {
            decided.push((export.export.clone(), Admission::Refused(problem)));
            continue;
        }
        let (held, new): (Vec<&ObjectKey>, Vec<&ObjectKey>) = export
            .names
            .iter()
            .filter(|k| desired.services.get(*k).is_some_and(|s| !s.is_headless()))
            .partition(|k| holds(k));
        candidates.push((export, held.len(), new));
    }
    let budget = limits.count(Limit::ClusterIpsPerLink);
    let mut used: usize = candidates.iter().map(|(_, held, _)| held).sum();
    for (export, held, new) in candidates {
        let room = budget.saturating_sub(used);
        if new.len() <= room {
            used += new.len();
            continue;
        }
        let only_endpoint_mirrors = new.iter().all(|k| {
            desired
                .services
                .get(*k)
                .is_some_and(|s| s.labels().contains_key(HEADLESS_MIRROR_SVC_NAME))
        });
        let consequence = if held > 0 && only_endpoint_mirrors {
            format!(
                "{} of its {} new endpoint mirrors fit and are made (by name); the others are \
                 not",
                room,
                new.len()
            )
        } else {
            format!(
                "this export needs {} and the link holds {used}; not mirrored",
                new.len()
            )
        };
        let diagnostic = Diagnostic::new(
            Reason::LimitExceeded,
            Severity::Error,
            Kind::Service,
            export.export.clone(),
            limits.exceeded(
                Limit::ClusterIpsPerLink,
                (used + new.len()) as u64,
                &consequence,
            ),
        );
        if held > 0 && only_endpoint_mirrors {
            // `names` are sorted: the first that fit are kept.
            let cut: BTreeSet<String> = new[room..].iter().map(|k| k.name.clone()).collect();
            used += room;
            let slices: BTreeSet<ObjectKey> = export
                .slices
                .iter()
                .filter(|k| {
                    desired.endpoint_slices.get(*k).is_some_and(|s| {
                        s.metadata
                            .labels
                            .get(SLICE_SERVICE_NAME)
                            .is_some_and(|svc| cut.contains(svc))
                    })
                })
                .cloned()
                .collect();
            for name in &cut {
                let key = ObjectKey::new(&export.export.namespace, name);
                desired.services.remove(&key);
                desired.endpoints.remove(&key);
            }
            for key in &slices {
                desired.endpoint_slices.remove(key);
            }
            decided.push((
                export.export.clone(),
                Admission::Cut {
                    endpoint_mirrors: cut,
                    slices,
                    diagnostic,
                },
            ));
        } else {
            decided.push((export.export.clone(), Admission::Refused(diagnostic)));
        }
    }
    let gone: BTreeSet<&ObjectKey> = decided
        .iter()
        .filter(|(_, a)| matches!(a, Admission::Refused(_)))
        .map(|(k, _)| k)
        .collect();
    for export in exports.iter().filter(|e| gone.contains(&e.export)) {
        for key in &export.names {
            desired.services.remove(key);
            desired.endpoints.remove(key);
        }
        for key in &export.slices {
            desired.endpoint_slices.remove(key);
        }
    }
    decided.sort_by(|a, b| a.0.cmp(&b.0));
    decided
}

/// The first of an export's objects the source API server would refuse for its annotations or
/// its size. An export's objects share their label maps (copy on write: the root's with its
/// Endpoints, the endpoint mirrors' with each other and theirs), so a shared map is measured once
/// per export ([`SharedSizes`]) and each object adds only its own parts.
fn object_problem(link: &Link, desired: &Desired, export: &ExportObjects) -> Option<Diagnostic> {
    let mut json = SharedSizes::new(map_bytes);
    let mut annotations = SharedSizes::new(annotation_bytes);
    let mut bare = BareSizes::default();
    let limits = link.limits();
    let services = export.names.iter().filter_map(|k| {
        Some(match desired.services.get(k)? {
            Entry::Object(s) => ToSize::Service(s),
            Entry::EndpointMirror(m) => ToSize::EndpointMirror(Kind::Service, k, m),
        })
    });
    let endpoints = export.names.iter().filter_map(|k| {
        Some(match desired.endpoints.get(k)? {
            Entry::Object(e) => ToSize::Endpoints(e),
            Entry::EndpointMirror(m) => ToSize::EndpointMirror(Kind::Endpoints, k, m),
        })
    });
    let slices = export
        .slices
        .iter()
        .filter_map(|k| desired.endpoint_slices.get(k))
        .map(ToSize::Slice);
    services.chain(endpoints).chain(slices).find_map(|object| {
        let (kind, key) = object.kind_and_key();
        let annotation_bytes = match &object {
            ToSize::EndpointMirror(kind, _, m) => {
                pairs_annotation_bytes(m.annotation_pairs(*kind).into_iter().flatten())
            }
            _ => object.annotations().map_or(0, |a| annotations.measure(a)),
        };
        let (limit, actual, field) = if annotation_bytes > limits.get(Limit::AnnotationBytes) {
            (
                Limit::AnnotationBytes,
                annotation_bytes,
                "metadata.annotations",
            )
        } else {
            let mut size = |m: &StringMap| json.measure(m);
            let bytes = match &object {
                ToSize::Service(s) => service_bytes_with(s, &mut size),
                ToSize::Endpoints(e) => endpoints_bytes_with(e, &mut size),
                ToSize::Slice(e) => slice_bytes_with(e, &mut size),
                ToSize::EndpointMirror(kind, key, m) => bare.bytes(*kind, key, m, &mut size),
            };
            if bytes <= limits.get(Limit::ObjectBytes) {
                return None;
            }
            (Limit::ObjectBytes, bytes, "")
        };
        let message = limits.exceeded(
            limit,
            actual,
            &format!("the source API server would refuse {kind} {key}; the export is not mirrored"),
        );
        let d = Diagnostic::new(
            Reason::LimitExceeded,
            Severity::Error,
            Kind::Service,
            export.export.clone(),
            message,
        );
        Some(if field.is_empty() { d } else { d.at(field) })
    })
}

/// SPEC §8 sizes of an export's endpoint mirrors: the size of their template's bare Service and
/// Endpoints ([`EndpointMirrorTemplate::bare`]: no name, no annotations), measured once per
/// template; an endpoint mirror is that plus its name and its annotations (the estimate is a
/// sum over fields, so this is exactly the built object's size: tested below).
#[derive(Default)]
struct BareSizes {
    /// (template, Service bytes, Endpoints bytes)
    seen: Option<(Arc<EndpointMirrorTemplate>, u64, u64)>,
}

impl BareSizes {
    /// The size of the endpoint mirror `mirror`'s object of `kind` at `key`, as built.
    fn bytes(
        &mut self,
        kind: Kind,
        key: &ObjectKey,
        mirror: &EndpointMirror,
        size: &mut impl FnMut(&StringMap) -> u64,
    ) -> u64 {
        self.of(kind, key, mirror, size) + string_bytes(&key.name) - string_bytes("")
            + pairs_bytes(mirror.annotation_pairs(kind).into_iter().flatten())
            - pairs_bytes([])
    }

    fn of(
        &mut self,
        kind: Kind,
        key: &ObjectKey,
        mirror: &EndpointMirror,
        size: &mut impl FnMut(&StringMap) -> u64,
    ) -> u64 {
        let known = self
            .seen
            .as_ref()
            .filter(|(t, _, _)| std::ptr::eq(Arc::as_ptr(t), mirror.template()));
        let (_, service, endpoints) = match known {
            Some(seen) => seen,
            None => {
                let (s, e) = mirror.template().bare(&key.namespace);
                let sizes = (
                    mirror.shared_template(),
                    service_bytes_with(&s, size),
                    endpoints_bytes_with(&e, size),
                );
                self.seen.insert(sizes)
            }
        };
        if kind == Kind::Service {
            *service
        } else {
            *endpoints
        }
    }
}

/// One object [`object_problem`] sizes.
enum ToSize<'a> {
    Service(&'a Service),
    Endpoints(&'a Endpoints),
    Slice(&'a crate::model::EndpointSlice),
    /// An endpoint mirror's Service or Endpoints, sized without building it.
    EndpointMirror(Kind, &'a ObjectKey, &'a EndpointMirror),
}

impl ToSize<'_> {
    fn kind_and_key(&self) -> (Kind, ObjectKey) {
        match self {
            Self::Service(s) => (Kind::Service, s.metadata.key()),
            Self::Endpoints(e) => (Kind::Endpoints, e.metadata.key()),
            Self::Slice(e) => (Kind::EndpointSlice, e.metadata.key()),
            Self::EndpointMirror(kind, key, _) => (*kind, (*key).clone()),
        }
    }

    /// The annotations of a built object.
    fn annotations(&self) -> Option<&StringMap> {
        match self {
            Self::Service(s) => Some(&s.metadata.annotations),
            Self::Endpoints(e) => Some(&e.metadata.annotations),
            Self::Slice(e) => Some(&e.metadata.annotations),
            Self::EndpointMirror(..) => None,
        }
    }
}

/// A measure of `StringMap`s that reuses what it measured for a map shared by several objects
/// (same entries, so the same size). A map no other clone shares is measured every time: it is
/// that object's own part. Holds at most [`SharedSizes::MAX`] maps, so a lookup stays cheap.
struct SharedSizes {
    measure: fn(&StringMap) -> u64,
    seen: Vec<(StringMap, u64)>,
}

impl SharedSizes {
    /// An export shares a handful of maps (the root's labels, its endpoint mirrors' labels).
    const MAX: usize = 8;

    fn new(measure: fn(&StringMap) -> u64) -> Self {
        Self {
            measure,
            seen: Vec::new(),
        }
    }

    fn measure(&mut self, map: &StringMap) -> u64 {
        if !map.is_shared() {
            return (self.measure)(map);
        }
        if let Some((_, size)) = self.seen.iter().find(|(seen, _)| seen.shares_with(map)) {
            return *size;
        }
        let size = (self.measure)(map);
        if self.seen.len() < Self::MAX {
            self.seen.push((map.clone(), size));
        }
        size
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::{endpoints_bytes, service_bytes};

    fn labels(n: usize) -> StringMap {
        (0..n)
            .map(|i| {
                (
                    format!("app.kubernetes.io/label-{i}"),
                    format!("value-\"{i}\""),
                )
            })
            .collect()
    }

    /// SPEC §8 object size of an endpoint mirror kept as a template: its bare template plus its
    /// name and annotations is the size of the built object (Service and Endpoints), with and
    /// without a kept resourceVersion and a gateway identity, for names and values that need
    /// escaping.
    #[test]
    fn an_endpoint_mirror_is_sized_as_its_built_object() {
        use crate::model::{EndpointAddress, EndpointSubset, ServicePort};
        use crate::template::Templated;
        let mut svc = Service::new("ns", "sample");
        svc.metadata.labels = labels(5);
        svc.spec.ports = vec![ServicePort {
            name: Some("http".into()),
            port: 80,
            ..ServicePort::default()
        }];
        for identity in [None, Some("gw.\"id\"")] {
            let mut ep = Endpoints::new("ns", "sample");
            ep.metadata.labels = svc.metadata.labels.clone();
            if let Some(id) = identity {
                ep.metadata.annotations.insert(
                    crate::labels::REMOTE_GATEWAY_IDENTITY.to_owned(),
                    id.to_owned(),
                );
            }
            ep.subsets = vec![EndpointSubset {
                addresses: vec![EndpointAddress {
                    ip: "172.18.0.4".into(),
                    ..EndpointAddress::default()
                }],
                ..EndpointSubset::default()
            }];
            let template = Arc::new(EndpointMirrorTemplate::new(&svc, &ep));
            for (name, rv) in [("web-0-west", Some("12\"3")), ("a\u{1}b", None)] {
                let mirror = EndpointMirror::new(
                    Arc::clone(&template),
                    format!("{name}.web.ns.svc.cluster.local"),
                    rv,
                );
                let key = ObjectKey::new("ns", name);
                let mut bare = BareSizes::default();
                let mut size = map_bytes;
                assert_eq!(
                    bare.bytes(Kind::Service, &key, &mirror, &mut size),
                    service_bytes(&Service::build(&mirror, &key))
                );
                assert_eq!(
                    bare.bytes(Kind::Endpoints, &key, &mirror, &mut size),
                    endpoints_bytes(&Endpoints::build(&mirror, &key))
                );
            }
        }
    }

    /// SPEC §8 object size: measuring a shared map once gives every object the size measuring it
    /// each time gives, and a map changed after it was shared (copy on write) is measured anew.
    #[test]
    fn shared_label_maps_are_measured_once_with_the_same_sizes() {
        let shared = labels(12);
        let mut sizes = SharedSizes::new(map_bytes);
        let mut objects = Vec::new();
        for i in 0..5 {
            let mut svc = Service::new("ns", &format!("m-{i}"));
            svc.metadata.labels = shared.clone();
            let mut ep = Endpoints::new("ns", &format!("m-{i}"));
            ep.metadata.labels = shared.clone();
            objects.push((svc, ep));
        }
        // One endpoint mirror whose labels were changed: its own copy, not the shared size.
        objects[2]
            .0
            .metadata
            .labels
            .insert("extra".to_owned(), "x".repeat(40));
        for (svc, ep) in &objects {
            let mut size = |m: &StringMap| sizes.measure(m);
            assert_eq!(service_bytes_with(svc, &mut size), service_bytes(svc));
            assert_eq!(endpoints_bytes_with(ep, &mut size), endpoints_bytes(ep));
        }
        assert_eq!(sizes.seen.len(), 1, "one shared map, measured once");
        assert!(
            service_bytes(&objects[2].0) > service_bytes(&objects[1].0),
            "the changed map is larger"
        );
    }
}
