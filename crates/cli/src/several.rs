//! `svcmirror plan` with several `--link` files on one source (SPEC §9, issue 11 deliverable 5):
//! [`merge`] makes one plan of the links' plans against the one observed source (the command,
//! `crate::run`, then adds the federated Services of all links: `crate::federation`, the
//! multi-writer rule). A leaf: it knows plans, not commands.
//!
//! A name two links want in the same plan is kept by the earlier `--link` — as `translate`
//! (`crate::converge::converge_links`) and the controllers do: the link that creates it first
//! keeps it (SPEC §7) — and the later link's operations on it are dropped with a NameConflict
//! error naming both links: never two writes of one object. A Namespace both links create is
//! one create.

use std::collections::{BTreeMap, BTreeSet};

use svcmirror_core::labels::SLICE_SERVICE_NAME;
use svcmirror_core::model::{Kind, Object, ObjectKey};
use svcmirror_core::{Dependency, Diagnostic, Operation, Plan, Reason, Severity};

/// Merges the plans of several links (in the order given) into one: each link's operations in
/// its own order, its dependencies moved along. An object a later link also writes stays the
/// earlier link's: the later link's operation on it, and whatever depends on that operation, is
/// dropped, with a NameConflict error for the later link (second value, one list per link). A
/// Namespace several links create is created once, silently (it is no link's).
#[must_use]
pub fn merge(plans: Vec<Plan>, labels: &[&str]) -> (Plan, Vec<Vec<Diagnostic>>) {
    let mut merged = Plan::default();
    let mut clashes: Vec<Vec<Diagnostic>> = vec![Vec::new(); plans.len()];
    // Which link writes each object, by (kind, key).
    let mut writer: BTreeMap<(Kind, ObjectKey), usize> = BTreeMap::new();
    for (i, plan) in plans.into_iter().enumerate() {
        let mut prerequisites: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for d in &plan.dependencies {
            prerequisites.entry(d.operation).or_default().push(d.on);
        }
        // Index in this plan → index in the merged plan (None: dropped).
        let mut moved: Vec<Option<usize>> = Vec::with_capacity(plan.operations.len());
        let mut dropped_keys: BTreeSet<(Kind, ObjectKey)> = BTreeSet::new();
        for (j, operation) in plan.operations.into_iter().enumerate() {
            let id = (operation.kind(), operation.key());
            // A slice of a Service this link does not get is not written either (the plan
            // orders Services before their slices).
            let of_dropped_service = slice_service(&operation).is_some_and(|service| {
                dropped_keys.contains(&(Kind::Service, ObjectKey::new(&id.1.namespace, service)))
            });
            let waits_on_dropped = of_dropped_service
                || prerequisites
                    .get(&j)
                    .is_some_and(|on| on.iter().any(|&k| moved[k].is_none()));
            let earlier = writer.get(&id).copied().filter(|&w| w != i);
            match earlier {
                Some(_) if id.0 == Kind::Namespace => moved.push(None),
                Some(w) => {
                    moved.push(None);
                    if dropped_keys.insert(id.clone()) {
                        clashes[i].push(Diagnostic::new(
                            Reason::NameConflict,
                            Severity::Error,
                            id.0,
                            id.1.clone(),
                            format!(
                                "{} wants this name too and was given first: it keeps it (SPEC §7: \
                                 the link that creates a name first keeps it); not written for \
                                 {}",
                                labels[w], labels[i]
                            ),
                        ));
                    }
                }
                None if waits_on_dropped => moved.push(None),
                None => {
                    writer.insert(id, i);
                    moved.push(Some(merged.operations.len()));
                    merged.operations.push(operation);
                }
            }
        }
        for d in plan.dependencies {
            if let (Some(Some(operation)), Some(Some(on))) =
                (moved.get(d.operation), moved.get(d.on))
            {
                merged.dependencies.push(Dependency {
                    operation: *operation,
                    on: *on,
                });
            }
        }
        merged.diagnostics.extend(plan.diagnostics);
    }
    merged.dependencies.sort_unstable();
    (merged, clashes)
}

/// The Service an EndpointSlice written by `operation` belongs to (its
/// `kubernetes.io/service-name` label).
fn slice_service(operation: &Operation) -> Option<&str> {
    match operation {
        Operation::Create {
            object: Object::EndpointSlice(slice),
        }
        | Operation::Update {
            object: Object::EndpointSlice(slice),
            ..
        } => slice
            .metadata
            .labels
            .get(SLICE_SERVICE_NAME)
            .map(String::as_str),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use svcmirror_core::EndpointSlice;
    use svcmirror_core::model::{Namespace, Service};

    fn create(kind: Kind, name: &str) -> Operation {
        let object = match kind {
            Kind::Namespace => Object::Namespace(Namespace::new(name)),
            Kind::EndpointSlice => {
                let mut slice = EndpointSlice::new("default", name, "IPv4");
                let service = name.rsplit_once('-').map_or(name, |(s, _)| s);
                slice
                    .metadata
                    .labels
                    .insert(SLICE_SERVICE_NAME.into(), service.into());
                Object::EndpointSlice(slice)
            }
            _ => Object::Service(Service::new("default", name)),
        };
        Operation::Create { object }
    }

    /// Issue 11 deliverable 5: a name two links want is written once, for the earlier link; the
    /// later one gets a NameConflict naming both, and what depended on its dropped write goes
    /// too, as does a slice of the dropped Service. A shared Namespace is created once, without
    /// a finding.
    #[test]
    fn a_clash_is_reported_for_the_later_link_and_never_written_twice() {
        let first = Plan {
            operations: vec![
                create(Kind::Namespace, "apps"),
                create(Kind::Service, "x-us-west"),
            ],
            ..Plan::default()
        };
        let second = Plan {
            operations: vec![
                create(Kind::Namespace, "apps"),
                create(Kind::Service, "x-us-west"),
                create(Kind::Service, "after-the-clash"),
                create(Kind::Service, "y-us-west"),
                create(Kind::EndpointSlice, "x-us-west-1a2b3"),
            ],
            dependencies: vec![Dependency {
                operation: 2,
                on: 1,
            }],
            ..Plan::default()
        };
        let (merged, clashes) = merge(vec![first, second], &["link west", "link us-west"]);
        let keys: Vec<String> = merged
            .operations
            .iter()
            .map(|o| format!("{} {}", o.kind(), o.key()))
            .collect();
        assert_eq!(
            keys,
            [
                "Namespace apps",
                "Service default/x-us-west",
                "Service default/y-us-west"
            ]
        );
        assert!(clashes[0].is_empty());
        assert_eq!(clashes[1].len(), 1);
        let clash = &clashes[1][0];
        assert_eq!(
            (clash.reason, clash.severity),
            (Reason::NameConflict, Severity::Error)
        );
        assert!(
            clash.message.contains("link west") && clash.message.contains("link us-west"),
            "{clash:?}"
        );
    }

    /// Dependencies follow their operations to their new places.
    #[test]
    fn dependencies_are_moved_with_their_operations() {
        let one = Plan {
            operations: vec![create(Kind::Service, "a"), create(Kind::Service, "b")],
            dependencies: vec![Dependency {
                operation: 1,
                on: 0,
            }],
            ..Plan::default()
        };
        let two = one.clone();
        let two = Plan {
            operations: vec![create(Kind::Service, "c"), create(Kind::Service, "d")],
            ..two
        };
        let (merged, _) = merge(vec![one, two], &["link a", "link b"]);
        assert_eq!(
            merged.dependencies,
            [
                Dependency {
                    operation: 1,
                    on: 0
                },
                Dependency {
                    operation: 3,
                    on: 2
                }
            ]
        );
    }
}
