//! SPEC §9, federated Services with several writers (`federate_as`): Linkerd's federated
//! scenarios (`multicluster/service-mirror/cluster_watcher_mirroring_test.go`: "federated service
//! created / joined / left", "local federated service created / joined / left", handled by
//! `handleCreateFederatedService`, `handleFederatedServiceJoin` and `…Leave` in
//! `cluster_watcher.go`), each writer seeing only its own cluster, on a fake source; and the
//! agreement with `federate`, which sees every cluster at once.

mod common;

use common::*;
use svcmirror::labels::{LOCAL_DISCOVERY_ANNOTATION, REMOTE_DISCOVERY_ANNOTATION};
use svcmirror::model::Service;
use svcmirror::{
    Apply, FederationWriter, LabelSelector, Link, MirrorMode, ObjectKey, Operation, Reason,
    Refusal, SourceState, TargetState, drive_federated_as, federate, federate_as, plan_federated,
};
use svcmirror_backend::ApiError;
use svcmirror_fake::FakeCluster;

fn member(name: &str) -> Svc {
    svc("default", name)
        .label("mirror.linkerd.io/federated", "member")
        .label("app", name)
}

fn cluster(name: &str) -> Link {
    Link::builder(name)
        .gateway_address(ip("172.18.0.4"))
        .build()
        .expect("link")
}

fn only(services: Vec<Service>) -> TargetState {
    TargetState::new(services, vec![])
}

/// Runs `writer` once on `fake` until its plan is empty; returns how many writes it made.
/// One writer's federated Services to convergence: the core's `drive_federated_as` on the fake,
/// counting the writes; panics if the fake refuses one or the contract's bound is broken.
fn write(writer: FederationWriter<'_>, members: &TargetState, fake: &mut FakeCluster) -> usize {
    let mut counting = Counting { fake, writes: 0 };
    drive_federated_as(writer, members, &mut counting)
        .expect("a writer settles within the contract, and the fake accepts its plan");
    counting.writes
}

/// The fake, counting the operations applied to it.
struct Counting<'a> {
    fake: &'a mut FakeCluster,
    writes: usize,
}

impl Apply for Counting<'_> {
    type Error = ApiError;

    fn list(&mut self) -> SourceState {
        self.fake.state()
    }

    fn apply(&mut self, operation: Operation) -> Result<(), Refusal<ApiError>> {
        self.writes += 1;
        self.fake.apply_owned(operation).map_err(Refusal::Failed)
    }
}

fn federated(fake: &FakeCluster) -> Option<Service> {
    fake.state()
        .service(&ObjectKey::new("default", "web-federated"))
        .cloned()
}

fn annotation(svc: &Service, key: &str) -> Option<String> {
    svc.metadata.annotations.get(key).cloned()
}

/// Linkerd's "federated service created": the first member creates `web-federated`, listing
/// itself, with its ports and labels; no Endpoints.
#[test]
fn federated_created_by_first_member() {
    let west = cluster("west");
    let mut fake = fake();
    let target = only(vec![member("web").port("http", 80).build()]);
    assert!(write(FederationWriter::Link(&west), &target, &mut fake) > 0);
    let fed = federated(&fake).expect("created");
    assert_eq!(
        annotation(&fed, REMOTE_DISCOVERY_ANNOTATION).as_deref(),
        Some("web@west")
    );
    assert_eq!(
        fed.metadata.labels.get("app").map(String::as_str),
        Some("web")
    );
    assert_eq!(fed.spec.ports.len(), 1);
    assert!(fake.state().endpoints.is_empty());
    let t = federate_as(FederationWriter::Link(&west), &target, &fake.state());
    assert_eq!(
        t.exports[&ObjectKey::new("default", "web")].mode,
        MirrorMode::Federated
    );
}

/// Linkerd's "remote service joins federated service": a second link adds its own entry and
/// keeps the first's; the lead (`east` < `west`) owns labels and ports, whoever writes first.
#[test]
fn federated_joined_by_second_link_both_orders_agree() {
    let (west, east) = (cluster("west"), cluster("east"));
    let west_target = only(vec![
        member("web").label("tier", "w").port("http", 80).build(),
    ]);
    let east_target = only(vec![
        member("web")
            .label("tier", "e")
            .port("http", 80)
            .port("grpc", 9090)
            .build(),
    ]);
    let mut results = Vec::new();
    for west_first in [true, false] {
        let mut fake = fake();
        let order: [(&Link, &TargetState); 2] = if west_first {
            [(&west, &west_target), (&east, &east_target)]
        } else {
            [(&east, &east_target), (&west, &west_target)]
        };
        for (link, target) in order {
            write(FederationWriter::Link(link), target, &mut fake);
        }
        // Settled: a further round of both writes nothing (no flapping).
        for (link, target) in order {
            assert_eq!(write(FederationWriter::Link(link), target, &mut fake), 0);
        }
        let fed = federated(&fake).expect("federated");
        assert_eq!(
            annotation(&fed, REMOTE_DISCOVERY_ANNOTATION).as_deref(),
            Some("web@east,web@west")
        );
        assert_eq!(
            fed.metadata.labels.get("tier").map(String::as_str),
            Some("e")
        );
        assert_eq!(fed.spec.ports.len(), 2, "the lead's (east's) ports");
        results.push((
            fed.metadata.labels,
            fed.metadata.annotations,
            fed.spec.ports,
        ));
    }
    assert_eq!(results[0], results[1]);
}

/// Once every writer has run, the source holds what `federate` computes from all targets at once.
#[test]
fn federated_writers_agree_with_federate_of_all_links() {
    let (west, east) = (cluster("west"), cluster("east"));
    let west_target = only(vec![
        member("web").port("http", 80).build(),
        member("api").port("grpc", 9090).build(),
    ]);
    let east_target = only(vec![member("web").label("x", "y").port("http", 80).build()]);
    let mut fake = fake();
    write(FederationWriter::Link(&west), &west_target, &mut fake);
    write(FederationWriter::Link(&east), &east_target, &mut fake);
    let all = federate(
        &[(&west, &west_target), (&east, &east_target)],
        None,
        &fake.state(),
    );
    assert!(plan_federated(&all.desired, &fake.state()).is_empty());
    assert_eq!(all.desired.services.len(), 2);
}

/// Linkerd's "remote service leaves federated service": the leaving link removes only its own
/// entry; the last one to leave deletes the federated Service.
#[test]
fn federated_left_removes_own_entry_then_deletes() {
    let (west, east) = (cluster("west"), cluster("east"));
    let target = only(vec![member("web").port("http", 80).build()]);
    let mut fake = fake();
    write(FederationWriter::Link(&west), &target, &mut fake);
    write(FederationWriter::Link(&east), &target, &mut fake);
    // West's member is unlabelled: west leaves.
    let unlabelled = only(vec![svc("default", "web").port("http", 80).build()]);
    assert_eq!(
        write(FederationWriter::Link(&west), &unlabelled, &mut fake),
        1
    );
    let fed = federated(&fake).expect("east is still a member");
    assert_eq!(
        annotation(&fed, REMOTE_DISCOVERY_ANNOTATION).as_deref(),
        Some("web@east")
    );
    // West again with nothing: no change (it has no part any more).
    assert_eq!(
        write(
            FederationWriter::Link(&west),
            &TargetState::default(),
            &mut fake
        ),
        0
    );
    // East's Service is deleted: the last member leaves, the federated Service goes.
    assert_eq!(
        write(
            FederationWriter::Link(&east),
            &TargetState::default(),
            &mut fake
        ),
        1
    );
    assert!(federated(&fake).is_none());
}

/// Linkerd's local member scenarios: created (local-discovery only), joined (beside remote
/// members; the local member is the lead), left (its entry removed, the remote ones kept).
#[test]
fn federated_local_member_created_joined_left() {
    let west = cluster("west");
    let selector = LabelSelector::default_federated();
    let local_target = only(vec![
        member("web")
            .label("tier", "local")
            .port("http", 80)
            .build(),
    ]);
    let west_target = only(vec![
        member("web").label("tier", "west").port("http", 80).build(),
    ]);

    // Created: only the local member.
    let mut fake = fake();
    write(FederationWriter::Local(&selector), &local_target, &mut fake);
    let fed = federated(&fake).expect("created");
    assert_eq!(
        annotation(&fed, LOCAL_DISCOVERY_ANNOTATION).as_deref(),
        Some("web")
    );
    assert_eq!(annotation(&fed, REMOTE_DISCOVERY_ANNOTATION), None);

    // Joined: west joins; the local member stays the lead (its labels).
    write(FederationWriter::Link(&west), &west_target, &mut fake);
    let fed = federated(&fake).expect("joined");
    assert_eq!(
        annotation(&fed, LOCAL_DISCOVERY_ANNOTATION).as_deref(),
        Some("web")
    );
    assert_eq!(
        annotation(&fed, REMOTE_DISCOVERY_ANNOTATION).as_deref(),
        Some("web@west")
    );
    assert_eq!(
        fed.metadata.labels.get("tier").map(String::as_str),
        Some("local")
    );
    assert_eq!(
        write(FederationWriter::Local(&selector), &local_target, &mut fake),
        0
    );

    // Left: the local member is unlabelled; west's entry stays.
    write(
        FederationWriter::Local(&selector),
        &TargetState::default(),
        &mut fake,
    );
    let fed = federated(&fake).expect("west remains");
    assert_eq!(annotation(&fed, LOCAL_DISCOVERY_ANNOTATION), None);
    assert_eq!(
        annotation(&fed, REMOTE_DISCOVERY_ANNOTATION).as_deref(),
        Some("web@west")
    );
    // West, now the lead, writes its own labels at its next reconcile.
    assert_eq!(
        write(FederationWriter::Link(&west), &west_target, &mut fake),
        1
    );
    let fed = federated(&fake).expect("west remains");
    assert_eq!(
        fed.metadata.labels.get("tier").map(String::as_str),
        Some("west")
    );
}

/// SPEC §9, the local writer's members are the source's own Services: with a selector outside
/// `mirror.linkerd.io/` (which the copy deny-list keeps off mirrors), `web-federated` carries the
/// member's copied label, and the local writer, handed the whole source, must not make it a member
/// of `web-federated-federated` (found by `svcmirror local`'s tests).
#[test]
fn federated_service_never_joins_as_a_local_member() {
    let selector = LabelSelector::parse("tier=federated").expect("selector");
    let local = only(vec![
        svc("default", "web")
            .label("tier", "federated")
            .port("http", 80)
            .build(),
    ]);
    let mut fake = fake();
    write(FederationWriter::Local(&selector), &local, &mut fake);
    let fed = federated(&fake).expect("created");
    assert_eq!(
        fed.metadata.labels.get("tier").map(String::as_str),
        Some("federated"),
        "the copied label that makes it match"
    );
    // The local writer sees the whole source now: the member and its own federated Service.
    let mut whole = local.clone();
    whole.services.extend(fake.state().services.clone());
    assert_eq!(
        write(FederationWriter::Local(&selector), &whole, &mut fake),
        0,
        "nothing to write: web-federated is no member"
    );
    assert_eq!(
        fake.state()
            .service(&ObjectKey::new("default", "web-federated-federated")),
        None
    );
}

/// A headless member cannot join (Linkerd: "Headless service cannot join federated service"),
/// and a writer never touches a federated Service it has no part in.
#[test]
fn federated_headless_member_rejected_and_others_untouched() {
    let (west, east) = (cluster("west"), cluster("east"));
    let mut fake = fake();
    write(
        FederationWriter::Link(&east),
        &only(vec![member("web").port("http", 80).build()]),
        &mut fake,
    );
    let before = federated(&fake);
    let headless = only(vec![member("web").headless().port("http", 80).build()]);
    let t = federate_as(FederationWriter::Link(&west), &headless, &fake.state());
    assert!(
        t.diagnostics
            .iter()
            .any(|d| d.reason == Reason::InvalidService)
    );
    assert_eq!(
        t.exports[&ObjectKey::new("default", "web")].mode,
        MirrorMode::NotMirrored
    );
    assert!(plan_federated(&t.desired, &fake.state()).is_empty());
    assert_eq!(federated(&fake), before);
    let empty = federate_as(
        FederationWriter::Link(&west),
        &TargetState::default(),
        &SourceState::default(),
    );
    assert!(empty.desired.services.is_empty());
}

mod writers_property {
    use super::*;
    use proptest::prelude::*;

    const CLUSTERS: [&str; 4] = ["east", "north", "south", "west"];

    /// One cluster's target: which of `web`/`api` it federates, with a label and a port that
    /// vary per cluster (so the lead's fields are visible).
    fn arb_target() -> impl Strategy<Value = TargetState> {
        (any::<bool>(), any::<bool>(), 0u8..3, 0u8..2).prop_map(|(web, api, tier, port)| {
            let mut services = Vec::new();
            for (present, name) in [(web, "web"), (api, "api")] {
                if present {
                    services.push(
                        member(name)
                            .label("tier", &tier.to_string())
                            .port("http", 80 + i32::from(port))
                            .build(),
                    );
                }
            }
            only(services)
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 96, failure_persistence: None, ..ProptestConfig::default() })]

        /// SPEC §9, several writers: whatever the source held before (an earlier state of the
        /// same clusters) and whatever order the writers run in, two rounds of every writer
        /// leave exactly what `federate` computes from all targets, and a third round writes
        /// nothing (no flapping). One round sets every entry, but not always the lead's fields:
        /// when the lead left after its successor ran, the successor writes them at its next
        /// reconcile (Linkerd keeps the old oldest member's metadata the same way).
        #[test]
        fn two_rounds_of_writers_in_any_order_equal_federate_of_all(
            before in proptest::collection::vec(arb_target(), 4),
            after in proptest::collection::vec(arb_target(), 4),
            order in Just((0..4usize).collect::<Vec<_>>()).prop_shuffle(),
        ) {
            let links: Vec<Link> = CLUSTERS.iter().map(|c| cluster(c)).collect();
            let mut fake = fake();
            for (link, target) in links.iter().zip(&before) {
                write(FederationWriter::Link(link), target, &mut fake);
            }
            for _ in 0..2 {
                for &i in &order {
                    write(FederationWriter::Link(&links[i]), &after[i], &mut fake);
                }
            }
            let pairs: Vec<(&Link, &TargetState)> = links.iter().zip(&after).collect();
            let all = federate(&pairs, None, &fake.state());
            prop_assert!(
                plan_federated(&all.desired, &fake.state()).is_empty(),
                "{:#?}",
                plan_federated(&all.desired, &fake.state()).operations
            );
            for &i in &order {
                prop_assert_eq!(write(FederationWriter::Link(&links[i]), &after[i], &mut fake), 0);
            }
        }
    }
}
