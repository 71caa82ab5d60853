//! Command-line arguments.

use std::net::IpAddr;

use clap::{Args, Parser, Subcommand, ValueEnum};
use svcmirror_core::link::{
    DEFAULT_CLUSTER_DOMAIN, DEFAULT_EXPORT_SELECTOR, DEFAULT_FEDERATED_SELECTOR,
    DEFAULT_REMOTE_DISCOVERY_SELECTOR, KeyPattern,
};
use svcmirror_core::{LabelSelector, Link};

/// Linkerd-compatible multicluster service mirror (headless Services and StatefulSets included):
/// computed offline from `kubectl get -o yaml|json` snapshots (translate, plan, explain, simulate,
/// demo), or run as a controller between two clusters (run), with the operator's tools for a link
/// (check, unlink).
#[derive(Debug, Parser)]
#[command(name = "svcmirror", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print every object the source cluster holds once mirroring has converged (a `kind: List`).
    ///
    /// Without --source, an empty in-memory source cluster (service CIDR 10.43.0.0/16, like k3s)
    /// with the target's namespaces stands in, so the ClusterIPs shown are ones a real API server
    /// could allocate.
    Translate(TranslateArgs),
    /// Print the operations (create / update / delete) the mirror would apply next to the source.
    ///
    /// A headless export takes two passes: endpoint mirrors first, then the root Endpoints once their
    /// ClusterIPs are allocated. `translate` shows the converged result.
    Plan(PlanArgs),
    /// Explain what the link does with one target Service, and why: the decision path (the SPEC
    /// rules, as translate applies them), the objects, the planned operations, the conditions.
    Explain(crate::explain::ExplainArgs),
    /// Run the seed walkthrough (StatefulSet nginx-set behind headless nginx-svc in west) on an
    /// embedded copy of west, and show east's view.
    Demo,
    /// Run the controller's reconcile driver against in-memory clusters until it converges, then
    /// resync once more; print the converged source and what it cost in API calls.
    ///
    /// With --fault-rate, that fraction of the source's API requests fail (409 Conflict, 500,
    /// timeouts — some after the write took effect), reproducibly for a --seed.
    Simulate(SimulateArgs),
    /// Run the mirror controller between two clusters
    Run(crate::controller::RunArgs),
    /// Check a link like `linkerd multicluster check`: both API servers, every permission the
    /// controller needs, name conflicts, mirrors without endpoints (exit 1 on a failure).
    Check(crate::check::CheckArgs),
    /// Delete every object a link owns in the source cluster (a dry run unless --yes), and say
    /// what to delete for the link itself.
    Unlink(crate::unlink::UnlinkArgs),
}

#[derive(Debug, Args)]
pub struct Inputs {
    /// Target cluster snapshot: `kubectl get svc,endpoints -A -o yaml|json` output (`-` for stdin).
    #[arg(long, value_name = "FILE")]
    pub target: String,
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
    #[command(flatten)]
    pub link: LinkArgs,
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

/// The link (SPEC §2), as flags.
#[derive(Debug, Args)]
pub struct LinkArgs {
    /// Target cluster name (a DNS-1123 label): the `-<name>` suffix of every mirror.
    #[arg(long, value_name = "NAME")]
    pub cluster_name: String,
    /// Gateway address (IPv4 or IPv6); repeat for several.
    #[arg(long = "gateway-address", value_name = "IP", required = true)]
    pub gateway_addresses: Vec<IpAddr>,
    /// Port every mirror's Endpoints use.
    #[arg(long, value_name = "N", default_value_t = 4143, value_parser = clap::value_parser!(u16).range(1..))]
    pub gateway_port: u16,
    /// Gateway identity, annotated on every mirror Endpoints.
    #[arg(long, value_name = "ID", default_value = "")]
    pub gateway_identity: String,
    /// Target cluster DNS domain.
    #[arg(long, value_name = "D", default_value = DEFAULT_CLUSTER_DOMAIN)]
    pub cluster_domain: String,
    /// Mirror headless Services as headless, with one endpoint mirror per named pod (Linkerd's
    /// enableHeadlessServices).
    #[arg(long)]
    pub enable_headless_services: bool,
    /// Label selector of exported Services (kubectl syntax; empty exports nothing).
    #[arg(long, value_name = "SELECTOR", default_value = DEFAULT_EXPORT_SELECTOR)]
    pub selector: String,
    /// Label selector of remote-discovery exports (SPEC §9: a mirror Service without Endpoints;
    /// empty: none).
    #[arg(long, value_name = "SELECTOR", default_value = DEFAULT_REMOTE_DISCOVERY_SELECTOR)]
    pub remote_discovery_selector: String,
    /// Label selector of federated members (SPEC §9: `<name>-federated`; empty: none).
    #[arg(long, value_name = "SELECTOR", default_value = DEFAULT_FEDERATED_SELECTOR)]
    pub federated_selector: String,
    /// Label key (or `prefix/*`) never copied onto mirrors; repeatable.
    #[arg(long, value_name = "KEY", value_parser = crate::flags::key_pattern)]
    pub exclude_label: Vec<String>,
    /// Annotation key (or `prefix/*`) never copied onto mirrors; repeatable.
    #[arg(long, value_name = "KEY", value_parser = crate::flags::key_pattern)]
    pub exclude_annotation: Vec<String>,
    /// Create missing source namespaces (labelled as mirrored) instead of skipping their exports.
    #[arg(long)]
    pub create_namespaces: bool,
    /// Treat the gateway as down: every mirror address becomes not ready.
    #[arg(long)]
    pub gateway_down: bool,
    /// How pods of headless exports are named when the Service has no svcmirror.io/hostname-policy
    /// annotation: hostname (Linkerd), target-ref (pod name), dashed-ip (CoreDNS), skip.
    #[arg(long, value_name = "POLICY", default_value = "hostname",
          value_parser = ["hostname", "target-ref", "dashed-ip", "skip"])]
    pub hostname_policy: String,
    /// How the target's gateway resolves endpoint mirror names: destination (Linkerd's gateway:
    /// only pods with a hostname route, so target-ref and dashed-ip fall back to hostname) or dns
    /// (a gateway that resolves <pod>.<svc>.<ns>.svc names by DNS: every policy routes).
    #[arg(long, value_name = "RESOLUTION", default_value = "destination",
          value_parser = ["destination", "dns"])]
    pub gateway_resolution: String,
    /// Which endpoint API mirrors are written with: endpoints (core/v1 Endpoints, Linkerd's),
    /// slices (discovery.k8s.io/v1 EndpointSlices managed by svcmirror.io), or both.
    #[arg(long, value_name = "API", default_value = "endpoints",
          value_parser = ["endpoints", "slices", "both"])]
    pub endpoints_api: String,
}

impl LinkArgs {
    pub fn build(&self) -> anyhow::Result<Link> {
        let selector =
            LabelSelector::parse(&self.selector).map_err(|e| anyhow::anyhow!("--selector: {e}"))?;
        let mut builder = Link::builder(&self.cluster_name)
            .gateway_addresses(self.gateway_addresses.iter().copied())
            .gateway_port(self.gateway_port)
            .gateway_identity(&self.gateway_identity)
            .cluster_domain(&self.cluster_domain)
            .enable_headless_services(self.enable_headless_services)
            .export_selector(selector)
            .create_namespaces(self.create_namespaces)
            .gateway_alive(!self.gateway_down)
            .remote_discovery_selector(
                LabelSelector::parse(&self.remote_discovery_selector)
                    .map_err(|e| anyhow::anyhow!("--remote-discovery-selector: {e}"))?,
            )
            .federated_selector(
                LabelSelector::parse(&self.federated_selector)
                    .map_err(|e| anyhow::anyhow!("--federated-selector: {e}"))?,
            );
        builder = builder.hostname_policy(
            self.hostname_policy
                .parse()
                .map_err(|e| anyhow::anyhow!("--hostname-policy: {e}"))?,
        );
        builder = builder.gateway_resolution(
            self.gateway_resolution
                .parse()
                .map_err(|e| anyhow::anyhow!("--gateway-resolution: {e}"))?,
        );
        builder = builder.endpoints_api(
            self.endpoints_api
                .parse()
                .map_err(|e| anyhow::anyhow!("--endpoints-api: {e}"))?,
        );
        for key in &self.exclude_label {
            builder = builder.exclude_label(KeyPattern::new(key));
        }
        for key in &self.exclude_annotation {
            builder = builder.exclude_annotation(KeyPattern::new(key));
        }
        Ok(builder.build()?)
    }
}
