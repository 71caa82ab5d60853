//! Reaching the two clusters of a link (`run`, `unlink`, `check`): the flags that say where
//! ([`ClusterArgs`], shared by `run` and `check`), and a kube client from a
//! kubeconfig/context, the in-cluster service account, or the environment — and the API server's
//! URL, which every log line and check names.

use std::path::{Path, PathBuf};

use anyhow::Context;
use svcmirror_kube::client::{Credentials, Timeouts, reloading_client};

/// Where a link's two clusters are reached (`run`, `check`): the target by a kubeconfig file or,
/// with `--link-name`, by the Secret Linkerd's `Link` resource names; the source by a kubeconfig
/// or the in-cluster service account.
#[derive(clap::Args, Debug)]
pub struct ClusterArgs {
    /// Kubeconfig of the target cluster (where Services are exported), e.g. the `kubeconfig` key of
    /// Linkerd's `cluster-credentials-<cluster>` Secret mounted as a file. Not with
    /// `--link-name`, which reads that Secret itself.
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "link_name",
        conflicts_with = "link_name"
    )]
    pub target_kubeconfig: Option<PathBuf>,
    /// SPEC §2.2: follow Linkerd's `Link` resource NAME in the source cluster (as Linkerd's
    /// service mirror does): its spec is the link (flags given beside it override its fields),
    /// an edit reconfigures, a deletion stops mirroring (the mirrors stay); the target's
    /// kubeconfig is the `kubeconfig` key of the Secret it names (`clusterCredentialsSecret`,
    /// default `cluster-credentials-<targetClusterName>`), re-read when it changes; each export's
    /// conditions are written into the Link's status. `check` checks the link as that mode runs
    /// it, with the permissions it needs besides.
    #[arg(long, value_name = "NAME", conflicts_with = "link_file")]
    pub link_name: Option<String>,
    /// Namespace of the `--link-name` Link and its credentials Secret.
    #[arg(long, value_name = "NAMESPACE", default_value = svcmirror_kube::link_resource::DEFAULT_LINK_NAMESPACE)]
    pub link_namespace: String,
    /// Context to use in the target kubeconfig (its current context by default).
    #[arg(long, value_name = "NAME")]
    pub target_context: Option<String>,
    /// Kubeconfig of the source cluster (where mirrors are written). By default the in-cluster
    /// service account; outside a cluster, `$KUBECONFIG` or `~/.kube/config`. `check` checks the
    /// permissions of *its* user: run it with the controller's service account.
    #[arg(long, value_name = "FILE")]
    pub source_kubeconfig: Option<PathBuf>,
    /// Context to use in the source kubeconfig.
    #[arg(long, value_name = "NAME")]
    pub source_context: Option<String>,
}

/// A client and the API server it talks to.
#[derive(Clone)]
pub struct Connected {
    /// The client.
    pub client: kube::Client,
    /// The API server's URL (`https://10.0.0.1:6443`).
    pub server: String,
}

/// A client for `kubeconfig` (its `context`, else its current one); without a file, the
/// in-cluster service account in a pod, else `$KUBECONFIG` or `~/.kube/config`.
///
/// # Errors
/// An unreadable or invalid kubeconfig, an unknown context.
pub async fn connect(
    kubeconfig: Option<&Path>,
    context: Option<&str>,
) -> anyhow::Result<Connected> {
    let options = kube::config::KubeConfigOptions {
        context: context.map(str::to_owned),
        ..kube::config::KubeConfigOptions::default()
    };
    let config = match kubeconfig {
        Some(path) => {
            let kubeconfig = kube::config::Kubeconfig::read_from(path)
                .with_context(|| format!("reading kubeconfig {}", path.display()))?;
            kube::Config::from_custom_kubeconfig(kubeconfig, &options)
                .await
                .with_context(|| format!("kubeconfig {}", path.display()))?
        }
        None if context.is_some() => kube::Config::from_kubeconfig(&options).await?,
        None if std::env::var_os("KUBERNETES_SERVICE_HOST").is_some() => kube::Config::incluster()?,
        None => kube::Config::infer().await?,
    };
    let server = config
        .cluster_url
        .to_string()
        .trim_end_matches('/')
        .to_owned();
    // Issue 14: every request has connect/read/write timeouts, and the credentials are re-read on
    // a 401 and when the kubeconfig file changes (`svcmirror_kube::client`).
    let credentials = match (kubeconfig, context) {
        (Some(path), _) => Credentials::Kubeconfig {
            path: path.to_owned(),
            context: context.map(str::to_owned),
        },
        (None, Some(context)) => Credentials::Context(context.to_owned()),
        (None, None) if std::env::var_os("KUBERNETES_SERVICE_HOST").is_some() => {
            Credentials::InCluster
        }
        (None, None) => Credentials::Infer,
    };
    let (client, _reloads) = reloading_client(credentials, Timeouts::default()).await?;
    Ok(Connected { client, server })
}

/// A client for the kubeconfig `text` (its `context`, else its current one): the target's
/// credentials read from the Link's Secret (SPEC §2.2, `run --link-name`). A rotated Secret
/// builds a new client, so no reloading is needed here.
///
/// # Errors
/// The text is not a kubeconfig, or names no usable context.
pub async fn connect_kubeconfig_text(
    text: &[u8],
    context: Option<&str>,
) -> anyhow::Result<Connected> {
    let text = std::str::from_utf8(text).context("the kubeconfig is not UTF-8")?;
    let kubeconfig = kube::config::Kubeconfig::from_yaml(text).context("not a kubeconfig")?;
    let options = kube::config::KubeConfigOptions {
        context: context.map(str::to_owned),
        ..kube::config::KubeConfigOptions::default()
    };
    let mut config = kube::Config::from_custom_kubeconfig(kubeconfig, &options).await?;
    Timeouts::default().apply(&mut config);
    let server = config
        .cluster_url
        .to_string()
        .trim_end_matches('/')
        .to_owned();
    let client = kube::Client::try_from(config)?;
    Ok(Connected { client, server })
}
