//! Embedding the reconciler with your own kube client: `svcmirror-backend`'s `Driver` over
//! `svcmirror-kube`'s `KubeTarget` and `KubeSource`, each built from a `kube::Client` you
//! configure (timeouts, credentials, proxies are yours).
//!
//! It compiles with every build of the workspace (`cargo build --examples`, or `cargo test`);
//! running it needs two clusters:
//!
//! ```text
//! cargo run -p svcmirror-kube --example embed_kube -- TARGET_KUBECONFIG SOURCE_KUBECONFIG
//! ```
//!
//! Without them it says so and exits successfully. Given them, it mirrors the target's exported
//! Services into the source once ([`mirror_once`], a whole-link reconcile) and prints the
//! outcome; a controller calls `Driver::run` instead, which watches the target and reconciles
//! until shut down. svcmirror-kube's `embed_example` test runs [`mirror_once`] against two
//! loopback API servers backed by the in-memory fake.
//!
//! The k8s-openapi version feature: libraries (svcmirror-kube included) enable none; the final
//! binary enables exactly one (`svcmirror` pins `v1_33`). This example borrows svcmirror-kube's
//! dev-dependency, which pins the same one. Your binary adds
//! `k8s-openapi = { version = "0.29", features = ["v1_33"] }` (or the version of your clusters).

use std::error::Error;

use svcmirror_backend::{Driver, DriverError, ReconcileOutcome, TokioClock};
use svcmirror_core::{Diagnostic, Link};
use svcmirror_kube::{KubeSource, KubeTarget};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(target), Some(source)) = (args.next(), args.next()) else {
        eprintln!(
            "embed_kube: not run — it needs a cluster. Pass TARGET_KUBECONFIG SOURCE_KUBECONFIG \
             (the cluster whose Services are exported, then the one the mirrors are written to)."
        );
        return Ok(());
    };

    // SPEC §2: the link. A real embedder reads Linkerd's `Link` (`svcmirror_core::LinkSpec`).
    let link = Link::builder("west")
        .gateway_address([172, 18, 0, 4].into())
        .enable_headless_services(true)
        .build()?;
    let (outcome, diagnostics) =
        mirror_once(link, client(&target).await?, client(&source).await?).await?;
    println!(
        "{} passes, {} writes, converged: {}",
        outcome.passes, outcome.writes, outcome.complete
    );
    for diagnostic in &diagnostics {
        println!("diagnostic: {diagnostic}");
    }
    Ok(())
}

/// What an embedder calls: one whole-link reconcile of `link` (list both clusters, translate,
/// plan, apply until converged) from the `target` cluster's exported Services to the `source`
/// cluster, over clients it built itself. A controller keeps the driver and calls
/// `Driver::run` instead, which watches the target and reconciles until shut down.
///
/// # Errors
/// When a cluster cannot be listed.
pub async fn mirror_once(
    link: Link,
    target: kube::Client,
    source: kube::Client,
) -> Result<(ReconcileOutcome, Vec<Diagnostic>), DriverError> {
    let target = KubeTarget::for_link(target, &link);
    let source = KubeSource::new(source);
    let mut driver = Driver::new(link, source, target, TokioClock);
    let outcome = driver.resync().await?;
    Ok((outcome, driver.status().diagnostics))
}

/// A `kube::Client` from a kubeconfig file: where an embedder sets its own timeouts, TLS and
/// credentials (`svcmirror_kube::client` has the ones `svcmirror run` uses).
async fn client(kubeconfig: &str) -> Result<kube::Client, Box<dyn Error>> {
    let kubeconfig = kube::config::Kubeconfig::read_from(kubeconfig)?;
    let config = kube::Config::from_custom_kubeconfig(
        kubeconfig,
        &kube::config::KubeConfigOptions::default(),
    )
    .await?;
    Ok(kube::Client::try_from(config)?)
}
