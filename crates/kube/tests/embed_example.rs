//! Issue 13 (embedding, shown): the example `examples/embed_kube.rs` does what README
//! "Embedding" says — the reconciler over `kube::Client`s the embedder built — against two
//! loopback API servers backed by the in-memory fake (SPEC §11 `seed-walkthrough`).

mod support;

#[path = "../../../examples/embed_kube.rs"]
#[allow(dead_code, reason = "the example's main is run by cargo run, not here")]
mod embed_kube;

use svcmirror_core::model::{Kind, ObjectKey};
use svcmirror_fake::FakeCluster;

use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kube_embedding_example_mirrors_the_seed() {
    let west = ApiServer::new(west());
    let east = ApiServer::new(FakeCluster::default());
    let (west_addr, east_addr) = (spawn(west).await, spawn(east.clone()).await);

    let (outcome, diagnostics) =
        embed_kube::mirror_once(link(), client(west_addr), client(east_addr))
            .await
            .expect("lists both clusters");
    assert!(outcome.complete, "{outcome:?}");
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    let mirrored = east.lock();
    for name in ["nginx-svc-west", "nginx-set-0-west", "nginx-set-2-west"] {
        let key = ObjectKey::new("default", name);
        assert!(
            mirrored.get(Kind::Service, &key).is_some(),
            "Service {name}"
        );
        assert!(
            mirrored.get(Kind::Endpoints, &key).is_some(),
            "Endpoints {name}"
        );
    }
}
