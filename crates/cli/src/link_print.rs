//! `svcmirror link`: like `linkerd multicluster link`, prints (a YAML stream on stdout, for
//! `kubectl apply -f -` in the SOURCE cluster) everything the source needs for one link: the
//! credentials Secret `cluster-credentials-<cluster>` (a kubeconfig for a dedicated,
//! least-privilege ServiceAccount of the target, with a bound token), the Link (a Linkerd
//! `multicluster.linkerd.io/v1alpha3` manifest, in the ConfigMap the controller mounts, or with
//! `--link-resource` as a resource the controller follows with `run --link-name`, and a Role for
//! that), the controller's ServiceAccount, RBAC and Deployment. With
//! `--target-rbac` it prints the target side instead: the ServiceAccount and RBAC to apply in the
//! TARGET. The cluster name is in every name; nothing is hard-coded.
//!
//! Like Linkerd's `link.go`, what the flags leave out is read from the target's gateway Service
//! (`linkerd-gateway` in `linkerd-multicluster`): its LoadBalancer ingress IPs/hostnames, its
//! `mc-gateway` port (the node port for a NodePort Service), the `mirror.linkerd.io/gateway-identity`
//! annotation, and the probe: `mirror.linkerd.io/probe-path`, the `mc-probe` port and
//! `mirror.linkerd.io/probe-period` (seconds, or a duration). The token is `--token`/`--token-file`,
//! else a bound token requested with the TokenRequest API (`--token-duration`). The target is
//! contacted only for what is missing: with `--gateway-address`, `--gateway-identity` and a token
//! (or `--no-credentials`), nothing is (offline: tests, previews, GitOps).

use std::path::PathBuf;

use anyhow::{Context, bail};
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1 as k8s;
use kube::api::{Api, PostParams};
use serde_json::Value;
use svcmirror_core::labels::{GATEWAY_IDENTITY, GATEWAY_PROBE_PATH, GATEWAY_PROBE_PERIOD};
use svcmirror_core::{GatewayAddresses, LinkSpec, ProbeSpec};

use crate::args::LinkArgs;
use crate::link_manifests::{Install, Names, kubeconfig, source_manifests, target_rbac};
use crate::yaml::to_yaml;

/// Options of `svcmirror link`.
#[derive(clap::Args, Debug)]
pub struct LinkPrintArgs {
    /// Kubeconfig of the TARGET cluster (default: `$KUBECONFIG`, `~/.kube/config`).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// Context of the target in the kubeconfig (default: its current context).
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
    /// The target's API server address as the source reaches it (overrides the kubeconfig's).
    #[arg(long, value_name = "URL")]
    pub api_server_address: Option<String>,
    /// The gateway Service in the target, read for what the flags leave out.
    #[arg(long, value_name = "NAME", default_value = "linkerd-gateway")]
    pub gateway_name: String,
    /// Namespace of the gateway Service in the target.
    #[arg(long, value_name = "NAMESPACE", default_value = "linkerd-multicluster")]
    pub gateway_namespace: String,
    /// Probe port of the gateway (`probeSpec.port`; default: the Service's `mc-probe` port).
    #[arg(long, value_name = "N")]
    pub probe_port: Option<u16>,
    /// Probe path (`probeSpec.path`; default: the `mirror.linkerd.io/probe-path` annotation).
    #[arg(long, value_name = "PATH")]
    pub probe_path: Option<String>,
    /// Probe period (`probeSpec.period`, e.g. 3s; default: the `mirror.linkerd.io/probe-period`
    /// annotation).
    #[arg(long, value_name = "DURATION")]
    pub probe_period: Option<String>,
    /// A bearer token of the target's ServiceAccount (e.g. `kubectl create token`).
    #[arg(long, value_name = "TOKEN", conflicts_with = "token_file")]
    pub token: Option<String>,
    /// A file holding that token.
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// Lifetime of the token requested with the TokenRequest API when none is given.
    #[arg(long, value_name = "SECONDS", default_value_t = 86_400)]
    pub token_duration: i64,
    /// Print no credentials Secret (create it yourself, e.g. from a token refresher).
    #[arg(long)]
    pub no_credentials: bool,
    /// Print the Link as a resource (needs Linkerd's Link CRD in the source) instead of a
    /// ConfigMap: the controller follows it (`run --link-name`: an edit reconfigures, each
    /// export's conditions go into its status), with a Role to read it and its Secret.
    #[arg(long)]
    pub link_resource: bool,
    /// Print the target side instead: the ServiceAccount and RBAC to apply in the TARGET.
    #[arg(long)]
    pub target_rbac: bool,
    /// Namespace of the controller in the source.
    #[arg(long, value_name = "NAMESPACE", default_value = "svcmirror")]
    pub namespace: String,
    /// Namespace of the controller's ServiceAccount in the target.
    #[arg(long, value_name = "NAMESPACE", default_value = "svcmirror")]
    pub target_namespace: String,
    /// The controller's image.
    #[arg(long, value_name = "IMAGE", default_value = "svcmirror:0.1.0")]
    pub image: String,
    #[command(flatten)]
    pub link: LinkArgs,
}

/// Prints the manifests.
pub fn run(args: LinkPrintArgs) -> anyhow::Result<bool> {
    let mut spec = args.link.merged_spec()?;
    let Some(cluster) = spec.target_cluster_name.clone().filter(|c| !c.is_empty()) else {
        bail!("--cluster-name is required (the target cluster's name, as in Linkerd's link)");
    };
    let names = Names { cluster };
    if args.target_rbac {
        print(&target_rbac(&names, &args.target_namespace))?;
        return Ok(false);
    }
    let needs_gateway = spec.gateway_address.is_none() || spec.gateway_identity.is_none();
    let given_token = match (&args.token, &args.token_file) {
        (Some(t), _) => Some(t.trim().to_owned()),
        (None, Some(path)) => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("--token-file {}", path.display()))?
                .trim()
                .to_owned(),
        ),
        (None, None) => None,
    };
    let needs_token = !args.no_credentials && given_token.is_none();
    let (server, ca) = local_server(&args)?;
    let mut token = given_token;
    if needs_gateway || needs_token {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the tokio runtime")?;
        runtime.block_on(async {
            let target =
                crate::clusters::connect(args.kubeconfig.as_deref(), args.context.as_deref())
                    .await
                    .context("target cluster client")?;
            if needs_gateway {
                let api: Api<k8s::Service> =
                    Api::namespaced(target.client.clone(), &args.gateway_namespace);
                let gateway = api.get(&args.gateway_name).await.with_context(|| {
                    format!(
                        "reading the gateway Service {}/{} in the target {}",
                        args.gateway_namespace, args.gateway_name, target.server
                    )
                })?;
                spec = from_gateway(spec.clone(), &gateway, &args)?;
            }
            if needs_token {
                token = Some(
                    request_token(&target.client, &names, &args)
                        .await
                        .with_context(|| {
                            format!(
                                "requesting a token for {}/{} in the target {} (apply \
                                 `svcmirror link --target-rbac` there first, or pass --token)",
                                args.target_namespace,
                                names.role("remote"),
                                target.server
                            )
                        })?,
                );
            }
            anyhow::Ok(())
        })?;
    }
    // Flags win over the gateway Service (as in link.go); the probe flags too.
    if let Some(port) = args.probe_port {
        probe(&mut spec).port = Some(port.to_string());
    }
    if let Some(path) = &args.probe_path {
        probe(&mut spec).path = Some(path.clone());
    }
    if let Some(period) = &args.probe_period {
        probe(&mut spec).period = Some(period.clone());
    }
    if !args.no_credentials {
        spec.cluster_credentials_secret = Some(names.secret());
    }
    // The link must build (SPEC §2 validation) before anything is printed. Gateway names are
    // resolved by the controller in the source, not here: any name stands for a documentation
    // address (192.0.2.1) in this check, and the Link carries the name.
    svcmirror_core::Link::from_spec(&spec, |_| Ok(vec![std::net::IpAddr::from([192, 0, 2, 1])]))
        .map_err(|e| anyhow::anyhow!("the link is not valid: {e}"))?;
    let credentials = (!args.no_credentials).then(|| {
        kubeconfig(
            &names,
            server.as_deref().unwrap_or_default(),
            ca.as_deref(),
            token.as_deref().unwrap_or_default(),
        )
    });
    if credentials.is_some() && server.is_none() {
        bail!("the target's API server is unknown: pass --api-server-address or --kubeconfig");
    }
    let install = Install {
        namespace: &args.namespace,
        image: &args.image,
        link_resource: args.link_resource,
    };
    print(&source_manifests(
        &names,
        &spec,
        credentials.as_deref(),
        &install,
    )?)?;
    Ok(false)
}

fn probe(spec: &mut LinkSpec) -> &mut ProbeSpec {
    spec.probe_spec.get_or_insert_with(ProbeSpec::default)
}

fn print(docs: &[Value]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    for doc in docs {
        writeln!(out, "---")?;
        out.write_all(to_yaml(doc).as_bytes())?;
    }
    out.flush()?;
    Ok(())
}

/// The target's server URL and CA (base64) from the kubeconfig, read locally (no request).
fn local_server(args: &LinkPrintArgs) -> anyhow::Result<(Option<String>, Option<String>)> {
    let config = match &args.kubeconfig {
        Some(path) => Some(
            kube::config::Kubeconfig::read_from(path)
                .with_context(|| format!("reading kubeconfig {}", path.display()))?,
        ),
        None => kube::config::Kubeconfig::read().ok(),
    };
    let mut found = (None, None);
    if let Some(config) = config {
        let context_name = args.context.clone().or(config.current_context.clone());
        let cluster_name = config
            .contexts
            .iter()
            .find(|c| Some(&c.name) == context_name.as_ref())
            .and_then(|c| c.context.as_ref().map(|c| c.cluster.clone()));
        if let Some(cluster) = config
            .clusters
            .iter()
            .find(|c| Some(&c.name) == cluster_name.as_ref())
            .and_then(|c| c.cluster.as_ref())
        {
            found = (
                cluster.server.clone(),
                cluster.certificate_authority_data.clone(),
            );
        }
    }
    if let Some(address) = &args.api_server_address {
        found.0 = Some(address.clone());
    }
    Ok(found)
}

/// Fills what the spec lacks from the target's gateway Service, as `linkerd multicluster link`.
fn from_gateway(
    mut spec: LinkSpec,
    gateway: &k8s::Service,
    args: &LinkPrintArgs,
) -> anyhow::Result<LinkSpec> {
    let what = format!(
        "gateway Service {}/{}",
        args.gateway_namespace, args.gateway_name
    );
    let annotations = gateway.metadata.annotations.clone().unwrap_or_default();
    let spec_of = gateway.spec.clone().unwrap_or_default();
    let port_named = |name: &str| -> Option<i32> {
        spec_of.ports.iter().flatten().find_map(|p| {
            (p.name.as_deref() == Some(name)).then(|| {
                if spec_of.type_.as_deref() == Some("NodePort") {
                    p.node_port.unwrap_or(p.port)
                } else {
                    p.port
                }
            })
        })
    };
    if spec.gateway_address.is_none() {
        let addresses: Vec<String> = gateway
            .status
            .as_ref()
            .and_then(|s| s.load_balancer.as_ref())
            .and_then(|lb| lb.ingress.as_ref())
            .into_iter()
            .flatten()
            .filter_map(|i| i.ip.clone().or_else(|| i.hostname.clone()))
            .filter(|a| !a.is_empty())
            .collect();
        if addresses.is_empty() {
            bail!("{what} has no ingress addresses: pass --gateway-address");
        }
        spec.gateway_address = Some(GatewayAddresses::parse(&addresses.join(",")));
    }
    if spec.gateway_identity.is_none() {
        match annotations.get(GATEWAY_IDENTITY) {
            Some(identity) if !identity.is_empty() => {
                spec.gateway_identity = Some(identity.clone());
            }
            _ => bail!("{what} has no {GATEWAY_IDENTITY} annotation: pass --gateway-identity"),
        }
    }
    if spec.gateway_port.is_none() {
        let port = port_named("mc-gateway")
            .with_context(|| format!("{what} has no port named mc-gateway"))?;
        spec.gateway_port = Some(port.to_string());
    }
    if spec.probe_spec.is_none() {
        let mut probe = ProbeSpec::default();
        probe.path = annotations
            .get(GATEWAY_PROBE_PATH)
            .filter(|p| !p.is_empty())
            .cloned();
        probe.port = port_named("mc-probe").map(|p| p.to_string());
        // link.go: the annotation defaults to "3" (seconds); a duration is taken as it is.
        probe.period = annotations
            .get(GATEWAY_PROBE_PERIOD)
            .map(|p| match p.parse::<u64>() {
                Ok(secs) => format!("{secs}s"),
                Err(_) => p.clone(),
            });
        spec.probe_spec = Some(probe);
    }
    Ok(spec)
}

/// A bound, expiring token of the target's ServiceAccount (TokenRequest API), never a legacy
/// token Secret.
async fn request_token(
    client: &kube::Client,
    names: &Names,
    args: &LinkPrintArgs,
) -> anyhow::Result<String> {
    let api: Api<k8s::ServiceAccount> = Api::namespaced(client.clone(), &args.target_namespace);
    let request = TokenRequest {
        spec: TokenRequestSpec {
            audiences: Vec::new(),
            expiration_seconds: Some(args.token_duration),
            bound_object_ref: None,
        },
        ..TokenRequest::default()
    };
    let answer = api
        .create_token_request(&names.role("remote"), &PostParams::default(), &request)
        .await?;
    answer
        .status
        .map(|s| s.token)
        .filter(|t| !t.is_empty())
        .context("the TokenRequest answer holds no token")
}
