//! `svcmirror unlink`: removes a link's mirrors from the source cluster — every object this link
//! owns (the core's ownership rule: the link's labels and, for slices, `managed-by`), never
//! anything else. A dry run by default: the plan is printed and nothing is deleted; `--yes`
//! deletes through the controller's own driver ([`svcmirror_backend::Driver::remove_all`]).
//! Namespaces the link created are left in place. Then it prints what to delete for the link
//! itself: every object `svcmirror link` prints for it (the controller's Deployment, its ConfigMap
//! or Link resource, the credentials Secret, the Lease, the ServiceAccount and its RBAC).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use futures::stream::BoxStream;
use svcmirror_backend::{ApiError, Driver, SourceCluster, TargetCluster, TargetEvent, TokioClock};
use svcmirror_core::{Desired, Link, TargetState, plan};
use svcmirror_kube::KubeSource;

use crate::clusters::connect;
use crate::metrics::{Cluster, Registry};
use crate::observe::Observed;

/// Options of `svcmirror unlink`.
#[derive(clap::Args, Debug)]
pub struct UnlinkArgs {
    /// The link's target cluster name: the mirrors labelled `mirror.linkerd.io/cluster-name` with
    /// it are removed.
    #[arg(long, value_name = "NAME")]
    pub cluster_name: String,
    /// Kubeconfig of the source cluster (default: in-cluster, `$KUBECONFIG`, `~/.kube/config`).
    #[arg(long, value_name = "FILE")]
    pub source_kubeconfig: Option<PathBuf>,
    /// Context to use in the source kubeconfig.
    #[arg(long, value_name = "NAME")]
    pub source_context: Option<String>,
    /// Namespace of the controller in the source (`svcmirror link --namespace`): where the
    /// link's own objects are, for the deletions printed at the end.
    #[arg(long, value_name = "NAMESPACE", default_value = "svcmirror")]
    pub namespace: String,
    /// Delete them. Without it, only the plan is printed.
    #[arg(long)]
    pub yes: bool,
    #[command(flatten)]
    pub log: crate::logging::LogArgs,
}

/// A target with nothing exported: the driver then plans the removal of everything it owns.
struct NothingExported;

#[async_trait::async_trait]
impl TargetCluster for NothingExported {
    async fn list(&self) -> Result<TargetState, ApiError> {
        Ok(TargetState::default())
    }
    fn watch(&self) -> BoxStream<'static, Result<TargetEvent, ApiError>> {
        Box::pin(futures::stream::empty())
    }
}

/// Runs it; `Ok(true)` when a deletion failed (exit 1).
pub fn run(args: UnlinkArgs) -> anyhow::Result<bool> {
    crate::logging::init(&args.log)?;
    // SPEC: ownership is by cluster name; the gateway plays no part in a plan against an empty
    // desired state (192.0.2.1 is a documentation address, never written).
    let link = Link::builder(&args.cluster_name)
        .gateway_address(std::net::IpAddr::from([192, 0, 2, 1]))
        .build()
        .map_err(|e| anyhow::anyhow!("--cluster-name: {e}"))?;
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")?
        .block_on(unlink(args, link))
}

async fn unlink(args: UnlinkArgs, link: Link) -> anyhow::Result<bool> {
    let source = connect(
        args.source_kubeconfig.as_deref(),
        args.source_context.as_deref(),
    )
    .await
    .context("source cluster client")?;
    let cluster = link.cluster_name().as_str().to_owned();
    let observed = Observed::new(
        KubeSource::new(source.client.clone()),
        Cluster::Source,
        &source.server,
        Arc::new(Registry::default()),
    );
    let state = observed
        .list()
        .await
        .map_err(|e| anyhow::anyhow!("listing the source cluster {}: {e}", source.server))?;
    let removal = plan(&link, &Desired::default(), &state);
    let mut out = std::io::stdout().lock();
    println!(
        "Objects of link {cluster} in the source cluster {}:",
        source.server
    );
    crate::render::plan_text(&removal, &state, &mut out)?;
    drop(out);
    let mut failed = false;
    if removal.operations.is_empty() {
        println!("Nothing to delete.");
    } else if args.yes {
        let mut driver = Driver::new(link, observed, NothingExported, TokioClock);
        driver.relist().await.map_err(|e| anyhow::anyhow!("{e}"))?;
        let outcome = driver.remove_all().await;
        let failures = driver.status().failures;
        println!("Deleted {} object(s).", outcome.writes);
        for failure in &failures {
            println!(
                "error: {} {} {} failed: {}",
                failure.action, failure.kind, failure.key, failure.error
            );
        }
        failed = !failures.is_empty() || !outcome.complete;
    } else {
        println!(
            "Dry run: nothing was deleted. Run again with --yes to delete these {} object(s).",
            removal.operations.len()
        );
    }
    // Every object `svcmirror link` prints for this link, whichever of its options were used
    // (absent ones are ignored); the Link resource on its own line, as Linkerd's CRD may be
    // missing (kubectl refuses a whole command naming an unknown type).
    let ns = &args.namespace;
    println!(
        "\nStop the controller first, or it writes the mirrors again. For the link itself, delete \
         in the source:\n  kubectl -n {ns} delete --ignore-not-found deployment/svcmirror-{cluster} \
         configmap/svcmirror-link-{cluster} secret/cluster-credentials-{cluster} \
         lease/svcmirror-{cluster} serviceaccount/svcmirror-{cluster} \
         role/svcmirror-lease-{cluster} rolebinding/svcmirror-lease-{cluster} \
         role/svcmirror-link-{cluster} rolebinding/svcmirror-link-{cluster}\n  kubectl delete \
         --ignore-not-found clusterrole,clusterrolebinding svcmirror-source-{cluster} \
         svcmirror-source-create-namespaces-{cluster}\n  kubectl -n {ns} delete --ignore-not-found \
         link.multicluster.linkerd.io/{cluster}    # printed with --link-resource\nand in the \
         target, the controller's credentials (`svcmirror link --target-rbac`: \
         serviceaccount/svcmirror-remote-{cluster}, clusterrole and clusterrolebinding \
         svcmirror-target-{cluster}). Namespaces the link created are left in place."
    );
    Ok(failed)
}
