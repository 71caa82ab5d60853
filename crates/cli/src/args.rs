//! Command-line arguments shared by several subcommands: the inputs of the offline commands, the
//! link's flags ([`LinkArgs`]), output formats. A leaf: the subcommands import it, it imports
//! none of them (the command tree is `command.rs`).

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use svcmirror_core::{GatewayAddresses, LabelSelector, Link, LinkSpec, TargetEndpoints};

#[derive(Debug, Args)]
pub struct Inputs {
    /// Target cluster snapshot: `kubectl get svc,endpoints -A -o yaml|json` output (`-` for stdin).
    /// With several `--link` files (translate, plan, simulate), one `--target` per link, each
    /// right after (or right before) its `--link`: `--link west.yaml --target west.json --link
    /// north.yaml --target north.json`.
    #[arg(long = "target", value_name = "FILE", required = true)]
    pub targets: Vec<String>,
    /// Source cluster snapshot (what it already holds); an empty cluster when absent.
    #[arg(long, value_name = "FILE")]
    pub source: Option<String>,
    /// Service CIDR of the in-memory source cluster, which allocates the mirrors' ClusterIPs (a
    /// /16 holds 65 534: use a /12 for a cluster-scale input).
    #[arg(long, value_name = "CIDR", default_value = "10.43.0.0/16")]
    pub service_cidr: ipnet::IpNet,
    /// Refuse an input file larger than this many bytes (a guard against reading something that
    /// is not a snapshot; raise it for a cluster-scale source snapshot).
    #[arg(long, value_name = "BYTES", default_value_t = svcmirror_snapshot::Limits::default().max_bytes)]
    pub max_input_bytes: u64,
    /// Refuse an input holding more objects than this (List items and YAML documents).
    #[arg(long, value_name = "COUNT", default_value_t = svcmirror_snapshot::Limits::default().max_objects)]
    pub max_input_objects: usize,
    /// Where the target's endpoints are read from: endpoints (core/v1 Endpoints), slices
    /// (discovery.k8s.io/v1 EndpointSlices, label kubernetes.io/service-name), or auto (a
    /// Service's Endpoints, else its slices).
    #[arg(long, value_name = "KIND", default_value_t = TargetEndpoints::Auto,
          value_parser = parse_target_endpoints)]
    pub target_endpoints: TargetEndpoints,
    #[command(flatten)]
    pub link: LinkArgs,
    /// SPEC §9, the local member, as `svcmirror local` writes it: the --source snapshot's own
    /// Services picked by SELECTOR (default mirror.linkerd.io/federated=member) join their
    /// `<name>-federated` Service as `multicluster.linkerd.io/local-discovery: <name>`, beside
    /// the links' `<name>@<cluster>` entries (and lead it: its labels and ports). Needs --source:
    /// the source snapshot is the local cluster.
    #[arg(long, value_name = "SELECTOR", num_args = 0..=1, requires = "source",
          default_missing_value = svcmirror_core::DEFAULT_FEDERATED_SELECTOR,
          value_parser = parse_label_selector)]
    pub local_members: Option<LabelSelector>,
}

fn parse_label_selector(text: &str) -> Result<LabelSelector, String> {
    LabelSelector::parse(text).map_err(|e| format!("not a label selector: {e}"))
}

fn parse_target_endpoints(text: &str) -> Result<TargetEndpoints, String> {
    text.parse()
}

#[derive(Debug, Args)]
pub struct TranslateArgs {
    #[command(flatten)]
    pub inputs: Inputs,
    /// Print one stderr line with the wall time of each phase: `timings: parse=<ms>ms
    /// translate=<ms>ms plan=<ms>ms render=<ms>ms apply=<ms>ms` (translate and plan summed over
    /// passes; apply is the in-memory source's share).
    #[arg(long)]
    pub timings: bool,
    /// Leave out what the API server sets (uid, resourceVersion, creationTimestamp, generation,
    /// managedFields, a Service's allocated clusterIP/clusterIPs) so that `kubectl apply -f`
    /// accepts the output. The root Endpoints of a headless mirror still carry the in-memory
    /// source's ClusterIPs: the controller corrects them on its first reconcile.
    #[arg(long)]
    pub for_apply: bool,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = ListFormat::Yaml)]
    pub output: ListFormat,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub inputs: Inputs,
    /// Print one stderr line with the wall time of each phase: `timings: parse=<ms>ms
    /// translate=<ms>ms plan=<ms>ms render=<ms>ms`.
    #[arg(long)]
    pub timings: bool,
    /// Exit 1 when the plan has operations (like `kubectl diff`): 0 means the source is
    /// converged. Without it, plan exits 1 only when something exported was rejected.
    #[arg(long)]
    pub exit_code: bool,
    /// Output format: a readable diff, or JSON.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = PlanFormat::Text)]
    pub output: PlanFormat,
}

#[derive(Debug, Args)]
pub struct SimulateArgs {
    #[command(flatten)]
    pub inputs: Inputs,
    /// Fraction of the source's API requests that fail, from 0.0 to 1.0 (both included).
    #[arg(long, value_name = "F", default_value_t = 0.0, allow_negative_numbers = true,
          value_parser = crate::flags::fraction)]
    pub fault_rate: f64,
    /// Seed of the injected faults.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub seed: u64,
    /// Output format: a summary, or JSON `{"objects": <List>, "stats": {...}}`.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = PlanFormat::Text)]
    pub output: PlanFormat,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ListFormat {
    Yaml,
    Json,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PlanFormat {
    Text,
    Json,
}

/// The link (SPEC §2): `--link FILE` and flags, each flag overriding that field of the file.
#[derive(Debug, Args)]
pub struct LinkArgs {
    /// The link: a Linkerd `Link` manifest (`multicluster.linkerd.io/v1alpha1`–`v1alpha3`, alone
    /// or in the output of `linkerd multicluster link`) or a bare Link `spec` (YAML or JSON). A
    /// flag given beside it overrides that field. translate, plan and simulate take several
    /// (SPEC §9: one source, several links), each paired with the `--target` next to it; a flag
    /// then overrides that field of every link (but --cluster-name, which names one).
    // The id stays `link_file` (one id for every `conflicts_with` naming it).
    #[arg(id = "link_file", long = "link", value_name = "FILE")]
    pub link_files: Vec<PathBuf>,
    /// Target cluster name (a DNS-1123 label): the `-<name>` suffix of every mirror
    /// (`targetClusterName`).
    #[arg(long, value_name = "NAME")]
    pub cluster_name: Option<String>,
    /// Gateway address: an IP or a DNS name (resolved by the system resolver; `run` re-resolves
    /// it every resync period), or several, comma-separated; repeatable (`gatewayAddress`). None: a gateway-less link, which mirrors
    /// remote-discovery and federated exports only.
    #[arg(long = "gateway-address", value_name = "ADDR")]
    pub gateway_addresses: Vec<String>,
    /// Port every mirror's Endpoints use (`gatewayPort`; default 4143).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub gateway_port: Option<u16>,
    /// Gateway identity, annotated on every mirror Endpoints (`gatewayIdentity`).
    #[arg(long, value_name = "ID")]
    pub gateway_identity: Option<String>,
    /// Target cluster DNS domain (`targetClusterDomain`; default cluster.local).
    #[arg(long, value_name = "D")]
    pub cluster_domain: Option<String>,
    /// Mirror headless Services as headless, with one endpoint mirror per named pod (Linkerd's
    /// enableHeadlessServices); `=false` overrides a file's `true`.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub enable_headless_services: Option<bool>,
    /// Label selector of exported Services, gateway mode (`selector`, kubectl syntax; default
    /// mirror.linkerd.io/exported=true; empty exports nothing).
    #[arg(long, value_name = "SELECTOR")]
    pub selector: Option<String>,
    /// Label selector of Services mirrored in remote-discovery mode (`remoteDiscoverySelector`;
    /// default mirror.linkerd.io/exported=remote-discovery; empty selects nothing).
    #[arg(long, value_name = "SELECTOR")]
    pub remote_discovery_selector: Option<String>,
    /// Label selector of federated Service members (`federatedServiceSelector`; default
    /// mirror.linkerd.io/federated=member; empty selects nothing).
    #[arg(long, value_name = "SELECTOR", alias = "federated-selector")]
    pub federated_service_selector: Option<String>,
    /// Label key (or `prefix/*`) never copied onto mirrors; repeatable; replaces the file's
    /// `excludedLabels`.
    #[arg(long, value_name = "KEY", value_parser = crate::flags::key_pattern)]
    pub exclude_label: Vec<String>,
    /// Annotation key (or `prefix/*`) never copied onto mirrors; repeatable; replaces the file's
    /// `excludedAnnotations`.
    #[arg(long, value_name = "KEY", value_parser = crate::flags::key_pattern)]
    pub exclude_annotation: Vec<String>,
    /// Create missing source namespaces (labelled as mirrored) instead of skipping their exports
    /// (`createNamespaces`).
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub create_namespaces: Option<bool>,
    /// Treat the gateway as down: every mirror address becomes not ready.
    #[arg(long)]
    pub gateway_down: bool,
    /// How pods of headless exports are named when the Service has no svcmirror.io/hostname-policy
    /// annotation: hostname (Linkerd), target-ref (pod name), dashed-ip (CoreDNS), skip
    /// (`hostnamePolicy`; default hostname).
    #[arg(long, value_name = "POLICY",
          value_parser = ["hostname", "target-ref", "dashed-ip", "skip"])]
    pub hostname_policy: Option<String>,
    /// How the target's gateway resolves endpoint mirror names: destination (Linkerd's gateway:
    /// only pods with a hostname route, so target-ref and dashed-ip fall back to hostname) or dns
    /// (a gateway that resolves <pod>.<svc>.<ns>.svc names by DNS: every policy routes)
    /// (`gatewayResolution`; default destination).
    #[arg(long, value_name = "RESOLUTION", value_parser = ["destination", "dns"])]
    pub gateway_resolution: Option<String>,
    /// Which endpoint API mirrors are written with: endpoints (core/v1 Endpoints, Linkerd's),
    /// slices (discovery.k8s.io/v1 EndpointSlices managed by svcmirror.io), or both
    /// (`endpointsApi`; default endpoints).
    #[arg(long, value_name = "API", value_parser = ["endpoints", "slices", "both"])]
    pub endpoints_api: Option<String>,
}

impl LinkArgs {
    /// The fields the flags set, as a partial spec (SPEC §2: flags produce a `LinkSpec`).
    pub fn spec(&self) -> anyhow::Result<LinkSpec> {
        let selector = |flag: &str, text: &Option<String>| {
            text.as_deref()
                .map(|t| LabelSelector::parse(t).map_err(|e| anyhow::anyhow!("--{flag}: {e}")))
                .transpose()
        };
        let mut spec = LinkSpec::default();
        spec.target_cluster_name.clone_from(&self.cluster_name);
        spec.target_cluster_domain.clone_from(&self.cluster_domain);
        if !self.gateway_addresses.is_empty() {
            spec.gateway_address = Some(GatewayAddresses::parse(&self.gateway_addresses.join(",")));
        }
        spec.gateway_port = self.gateway_port.map(|p| p.to_string());
        spec.gateway_identity.clone_from(&self.gateway_identity);
        spec.selector = selector("selector", &self.selector)?;
        spec.remote_discovery_selector =
            selector("remote-discovery-selector", &self.remote_discovery_selector)?;
        spec.federated_service_selector = selector(
            "federated-service-selector",
            &self.federated_service_selector,
        )?;
        spec.excluded_labels = (!self.exclude_label.is_empty()).then(|| self.exclude_label.clone());
        spec.excluded_annotations =
            (!self.exclude_annotation.is_empty()).then(|| self.exclude_annotation.clone());
        spec.enable_headless_services = self.enable_headless_services;
        spec.create_namespaces = self.create_namespaces;
        spec.hostname_policy = self
            .hostname_policy
            .as_deref()
            .map(str::parse)
            .transpose()
            .map_err(|e| anyhow::anyhow!("--hostname-policy: {e}"))?;
        spec.endpoints_api = self
            .endpoints_api
            .as_deref()
            .map(str::parse)
            .transpose()
            .map_err(|e| anyhow::anyhow!("--endpoints-api: {e}"))?;
        spec.gateway_resolution = self
            .gateway_resolution
            .as_deref()
            .map(str::parse)
            .transpose()
            .map_err(|e| anyhow::anyhow!("--gateway-resolution: {e}"))?;
        Ok(spec)
    }

    /// The one `--link` file, if any.
    ///
    /// # Errors
    /// `--link` given several times: this command takes one link.
    pub fn link_file(&self) -> anyhow::Result<Option<&Path>> {
        match &self.link_files[..] {
            [] => Ok(None),
            [one] => Ok(Some(one)),
            several => anyhow::bail!(
                "--link is given {} times: this command takes one link (translate, plan and \
                 simulate take several, each with its --target; run one `svcmirror run` per link)",
                several.len()
            ),
        }
    }

    /// The link file's spec (if any) with the flags' fields over it.
    pub fn merged_spec(&self) -> anyhow::Result<LinkSpec> {
        let file = match self.link_file()? {
            Some(path) => crate::link_file::read_spec(path)?,
            None => LinkSpec::default(),
        };
        Ok(file.overridden_by(self.spec()?))
    }

    /// The link: file and flags merged, gateway names resolved by the system resolver.
    pub fn build(&self) -> anyhow::Result<Link> {
        Ok(self.build_with(crate::gateway_dns::system())?.0)
    }

    /// The link: file and flags merged, gateway names resolved by `resolver`; and the names,
    /// when there are any, for `run` to re-resolve every resync period.
    pub fn build_with(
        &self,
        resolver: crate::gateway_dns::Resolver,
    ) -> anyhow::Result<(Link, Option<crate::gateway_dns::GatewayNames>)> {
        let spec = self.merged_spec()?;
        self.finish(spec, self.link_file()?, resolver)
    }

    /// Every link given — each `--link` file with the flags' fields over it, or the flags alone
    /// — with the file it came from, gateway names resolved by the system resolver.
    ///
    /// # Errors
    /// A file that cannot be read or is no valid link (the error names it), `--cluster-name`
    /// beside several files, or two links of one cluster name (they would own the same mirrors).
    pub fn build_all(&self) -> anyhow::Result<Vec<(Option<PathBuf>, Link)>> {
        if self.link_files.len() < 2 {
            return Ok(vec![(
                self.link_file()?.map(Path::to_path_buf),
                self.build()?,
            )]);
        }
        if self.cluster_name.is_some() {
            anyhow::bail!(
                "--cluster-name names one link: with several --link files, each file names its \
                 cluster (targetClusterName)"
            );
        }
        let flags = self.spec()?;
        let mut links: Vec<(Option<PathBuf>, Link)> = Vec::new();
        for path in &self.link_files {
            let spec = crate::link_file::read_spec(path)?.overridden_by(flags.clone());
            let (link, _) = self.finish(spec, Some(path), crate::gateway_dns::system())?;
            // SPEC §2: a source holds one link per cluster name; two would own (and rewrite) the
            // same mirrors.
            if let Some((Some(other), _)) = links
                .iter()
                .find(|(_, l)| l.cluster_name() == link.cluster_name())
            {
                anyhow::bail!(
                    "--link {} and --link {} both name cluster `{}`: a source holds one link per \
                     target cluster (their mirrors would be the same objects)",
                    other.display(),
                    path.display(),
                    link.cluster_name().as_str()
                );
            }
            links.push((Some(path.clone()), link));
        }
        Ok(links)
    }

    /// The link `spec` describes (from `file`, if any, and the flags), checked and resolved.
    fn finish(
        &self,
        spec: LinkSpec,
        file: Option<&Path>,
        resolver: crate::gateway_dns::Resolver,
    ) -> anyhow::Result<(Link, Option<crate::gateway_dns::GatewayNames>)> {
        if spec
            .target_cluster_name
            .as_deref()
            .is_none_or(str::is_empty)
        {
            match file {
                Some(path) => anyhow::bail!(
                    "--link {}: targetClusterName is required (or --cluster-name)",
                    path.display()
                ),
                None => anyhow::bail!(
                    "the link is required: --link FILE (a Linkerd Link), or --cluster-name \
                     (with --gateway-address for gateway mode)"
                ),
            }
        }
        let (link, names) =
            crate::gateway_dns::GatewayNames::first(spec, resolver).map_err(|e| match file {
                Some(path) => {
                    anyhow::anyhow!("the link (--link {} and flags): {e}", path.display())
                }
                None => anyhow::anyhow!("the link: {e}"),
            })?;
        Ok((link.with_gateway_alive(!self.gateway_down), names))
    }
}
