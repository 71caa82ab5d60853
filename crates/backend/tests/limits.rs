//! SPEC §8 limits through the driver: its one-export reconciles see one export, so near the
//! link's ClusterIP budget they must let the whole link decide.

mod common;

use common::*;
use svcmirror_core::Limits;

const HTTP: [(&str, i32); 1] = [("http", 80)];

/// Exports arriving one event at a time never take the link past `limits.clusterIPsPerLink`,
/// and the ones refused are the later ones, whatever the event order.
#[tokio::test]
async fn events_one_export_at_a_time_never_overrun_the_cluster_ip_budget() {
    let mut limits = Limits::default();
    limits.cluster_ips_per_link = Some(3);
    limits.endpoint_mirrors_per_export = 1;
    let mut w = World::new(west().limits(limits).build().expect("link"));
    w.start().await;
    for name in ["e", "d", "c", "b", "a"] {
        w.put_service(exported("default", name, false, &HTTP)).await;
        let held = w
            .source_state()
            .services
            .iter()
            .filter(|s| !s.is_headless())
            .count();
        assert!(held <= 3, "{held} ClusterIPs after {name}");
    }
    let (services, _) = w.owned_names("default");
    assert_eq!(
        services,
        ["c-west", "d-west", "e-west"],
        "held ones are kept"
    );
    assert!(w.driver.stats().fallbacks > 0);
    w.resync().await;
    let (services, _) = w.owned_names("default");
    assert_eq!(
        services,
        ["c-west", "d-west", "e-west"],
        "a resync changes nothing"
    );
}
