//! `svcmirror check`: like `linkerd multicluster check`, a checklist on stdout for one link — both
//! API servers reachable, the link valid (with `--link-name`, the Link resource and its
//! credentials Secret read as `run --link-name` reads them: `check_link`), every permission the
//! controller needs in that mode granted (`permissions::needed`, asked with
//! SelfSubjectAccessReview, as the credentials the controller uses), the gateway answering its
//! probe (`check_gateway`), and the mirrors healthy: no name conflicts, no mirror without
//! endpoints, nothing left to apply, no cluster name of a link on the source ending with
//! `-<another>` (`check_names`). Exit 1 when a check fails (`×`); a warning (`‼`) does not fail.

use anyhow::Context;
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use kube::api::{Api, PostParams};
use svcmirror_backend::{SourceCluster, TargetCluster};
use svcmirror_core::{Link, Reason, SourceState, TargetEndpoints, TargetState, plan, translate};
use svcmirror_kube::{KubeSource, KubeTarget};

use crate::args::LinkArgs;
use crate::checklist::Checklist;
use crate::clusters::{Connected, connect};
use crate::metrics::Cluster;
use crate::permissions::{LinkRef, Permission, needed};

/// Options of `svcmirror check`.
#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    /// Where the target and the source are reached, as for `run`.
    #[command(flatten)]
    pub clusters: crate::clusters::ClusterArgs,
    /// Namespace of the leader-election Lease (`svcmirror`); `-` when the controller runs
    /// without leader election.
    #[arg(long, value_name = "NAMESPACE", default_value = "svcmirror")]
    pub lease_namespace: String,
    #[command(flatten)]
    pub link: LinkArgs,
    /// Where the target's endpoints are read from, as for `run`: endpoints, slices, or auto.
    #[arg(long, value_name = "KIND", default_value_t = TargetEndpoints::Auto,
          value_parser = |s: &str| s.parse::<TargetEndpoints>())]
    pub target_endpoints: TargetEndpoints,
    /// The source is confined to these namespaces, as for `run --namespaces`
    /// (deploy/rbac-source-namespaced.yaml): permissions are asked, and the source listed, there.
    #[arg(long, value_name = "NS,...", value_delimiter = ',')]
    pub namespaces: Vec<String>,
    /// The gateway probe (SPEC §2.1): the Link's probeSpec, these flags over it, as for `run`.
    #[command(flatten)]
    pub probe: crate::probe::ProbeArgs,
}

/// Runs the checks; `Ok(true)` when one failed (exit 1).
pub fn run(args: CheckArgs) -> anyhow::Result<bool> {
    // SPEC §2.2: with --link-name the link is read from the source cluster, as `run` does.
    let link = match args.clusters.link_name {
        Some(_) => None,
        None => Some(args.link.build()?),
    };
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")?
        .block_on(check(args, link))
}

/// Whether `connected`'s API server answers: a checklist line.
async fn answers(list: &mut Checklist, cluster: Cluster, connected: &Connected) -> bool {
    match connected.client.apiserver_version().await {
        Ok(info) => {
            list.ok(&format!(
                "the {cluster} API server {} answers ({})",
                connected.server, info.git_version
            ));
            true
        }
        Err(e) => {
            list.fail(
                &format!("the {cluster} API server {} answers", connected.server),
                &svcmirror_kube::describe(&e),
            );
            false
        }
    }
}

async fn check(args: CheckArgs, link: Option<Link>) -> anyhow::Result<bool> {
    let mut list = Checklist::default();
    let source = connect(
        args.clusters.source_kubeconfig.as_deref(),
        args.clusters.source_context.as_deref(),
    )
    .await
    .context("source cluster client")?;
    let (link, followed, target, source_answers) = match (link, &args.clusters.link_name) {
        (Some(link), _) => {
            println!("svcmirror check: link {}", link.cluster_name().as_str());
            let path = args
                .clusters
                .target_kubeconfig
                .as_deref()
                .context("--target-kubeconfig is required without --link-name")?;
            let target = connect(Some(path), args.clusters.target_context.as_deref())
                .await
                .context("target cluster client")?;
            // Both API servers are asked even when the source does not answer.
            let source_answers = answers(&mut list, Cluster::Source, &source).await;
            (link, None, target, source_answers)
        }
        (None, Some(name)) => {
            println!(
                "svcmirror check: Link {}/{name}",
                args.clusters.link_namespace
            );
            // The link and the target's credentials are in the source: nothing goes on without it.
            if !answers(&mut list, Cluster::Source, &source).await {
                return Ok(summary(&list));
            }
            let wanted = crate::check_link::Wanted {
                namespace: &args.clusters.link_namespace,
                name,
                overrides: &args.link.spec()?,
                target_context: args.clusters.target_context.as_deref(),
                gateway_down: args.link.gateway_down,
            };
            let Some(read) = crate::check_link::read(&mut list, &source, &wanted).await else {
                return Ok(summary(&list));
            };
            (read.link, Some(read.followed), read.target, true)
        }
        (None, None) => anyhow::bail!("the link is required: --link-name, --link FILE or flags"),
    };
    for warning in link.warnings() {
        list.warn("the link is as intended", &warning.to_string());
    }
    list.ok(&format!(
        "the link is valid ({}, selector {})",
        gateway(&link),
        link.export_selector()
    ));
    let target_answers = answers(&mut list, Cluster::Target, &target).await;
    if !(source_answers && target_answers) {
        return Ok(summary(&list));
    }
    if source.server == target.server {
        list.fail(
            "the source and target are different clusters",
            &format!(
                "both kubeconfigs name {}: the controller would mirror the cluster into itself",
                source.server
            ),
        );
    }
    let lease = (args.lease_namespace != "-").then_some(args.lease_namespace.as_str());
    let mut permissions = needed(&link, lease, followed.as_ref());
    if !args.namespaces.is_empty() {
        permissions = crate::permissions::confined(permissions, &args.namespaces);
    }
    for permission in permissions {
        let connected = match permission.cluster {
            Cluster::Source => &source,
            Cluster::Target => &target,
        };
        allowed(&mut list, connected, &permission, followed.as_ref()).await;
    }
    crate::check_gateway::probe_gateway(&mut list, &link, &args.probe).await;
    let mut source_adapter = KubeSource::new(source.client.clone());
    if !args.namespaces.is_empty() {
        source_adapter = source_adapter.with_namespaces(args.namespaces.iter().cloned());
    }
    mirrors(
        &mut list,
        &link,
        &source_adapter,
        &target,
        args.target_endpoints,
    )
    .await;
    cross_link(
        &mut list,
        &link,
        &source,
        &args.clusters.link_namespace,
        &args.namespaces,
    )
    .await;
    Ok(summary(&list))
}

/// The link's gateway in words: its addresses and port, or none.
fn gateway(link: &Link) -> String {
    let addresses: Vec<String> = link
        .gateway_addresses()
        .iter()
        .map(ToString::to_string)
        .collect();
    if addresses.is_empty() {
        "no gateway: remote discovery / federated only".to_owned()
    } else {
        format!(
            "gateway {} port {}",
            addresses.join(","),
            link.gateway_port()
        )
    }
}

fn summary(list: &Checklist) -> bool {
    if list.failed {
        println!("\nStatus check results are ×");
    } else {
        println!("\nStatus check results are √");
    }
    list.failed
}

/// Asks `connected`'s API server whether its user may do `permission`.
async fn allowed(
    list: &mut Checklist,
    connected: &Connected,
    permission: &Permission,
    followed: Option<&LinkRef>,
) {
    let Permission {
        cluster,
        group,
        resource,
        verb,
        namespace,
        name,
        why,
    } = permission;
    let mut scope = namespace
        .as_ref()
        .map_or("cluster-wide".to_owned(), |ns| format!("in namespace {ns}"));
    if let Some(name) = name {
        scope = format!("{name} {scope}");
    }
    // A subresource is asked about as such (`links/status`: resource links, subresource status).
    let (plural, subresource) = match resource.split_once('/') {
        Some((plural, sub)) => (plural, Some(sub.to_owned())),
        None => (*resource, None),
    };
    let file = match (cluster, name) {
        (Cluster::Source, Some(_)) if followed.is_some() => "rbac-link".to_owned(),
        _ => format!("rbac-{cluster}"),
    };
    // kubectl's spelling: `services`, `leases.coordination.k8s.io`, `links.<group>/status`.
    let what = format!(
        "{cluster}: may {verb} {plural}{}{} {scope} ({why})",
        if group.is_empty() {
            String::new()
        } else {
            format!(".{group}")
        },
        subresource
            .as_ref()
            .map(|sub| format!("/{sub}"))
            .unwrap_or_default()
    );
    let review = SelfSubjectAccessReview {
        spec: SelfSubjectAccessReviewSpec {
            resource_attributes: Some(ResourceAttributes {
                group: Some((*group).to_owned()),
                resource: Some(plural.to_owned()),
                subresource: subresource.clone(),
                verb: Some((*verb).to_owned()),
                namespace: namespace.clone(),
                name: name.clone(),
                ..ResourceAttributes::default()
            }),
            ..SelfSubjectAccessReviewSpec::default()
        },
        ..SelfSubjectAccessReview::default()
    };
    let api: Api<SelfSubjectAccessReview> = Api::all(connected.client.clone());
    match api.create(&PostParams::default(), &review).await {
        Ok(answer) => match answer.status {
            Some(status) if status.allowed => list.ok(&what),
            status => list.fail(
                &what,
                &format!(
                    "denied{}: grant it (deploy/{file}.yaml)",
                    status
                        .and_then(|s| s.reason)
                        .map(|r| format!(" ({r})"))
                        .unwrap_or_default()
                ),
            ),
        },
        Err(e) => list.fail(
            &what,
            &format!("the access review failed: {}", svcmirror_kube::describe(&e)),
        ),
    }
}

/// Lists both clusters and compares what the source holds with what the link wants there.
async fn mirrors(
    list: &mut Checklist,
    link: &Link,
    source: &KubeSource,
    target: &Connected,
    endpoints_from: TargetEndpoints,
) {
    // The target as `run` reads it: every mode's members (SPEC §9), endpoints from where the
    // controller takes them — what the controller computes is what the source is compared with.
    let target_state: TargetState = match KubeTarget::for_link(target.client.clone(), link)
        .with_target_endpoints(endpoints_from)
        .list()
        .await
    {
        Ok(state) => state,
        Err(e) => {
            return list.fail("the target's exported Services are listed", &e.to_string());
        }
    };
    let source_state: SourceState = match source.list().await {
        Ok(state) => state,
        Err(e) => return list.fail("the source's Services are listed", &e.to_string()),
    };
    let translation = translate(link, &target_state, &source_state);
    let plan = plan(link, &translation.desired, &source_state);
    list.ok(&format!(
        "{} exported Service(s) in the target",
        translation.exports.len()
    ));
    let conflicts: Vec<String> = translation
        .diagnostics
        .iter()
        .chain(&plan.diagnostics)
        .filter(|d| d.reason == Reason::NameConflict)
        .map(|d| format!("{} {}", d.kind, d.object))
        .collect();
    if conflicts.is_empty() {
        list.ok("no name conflicts");
    } else {
        list.fail(
            &format!("no name conflicts: {} name(s) taken", conflicts.len()),
            &format!(
                "taken by objects this link does not own (rename or delete them): {}",
                conflicts.join(", ")
            ),
        );
    }
    // A mirror whose Endpoints should carry addresses but hold none in the source: clients of
    // the mirror get no endpoints.
    let mut empty: Vec<String> = Vec::new();
    for (key, desired) in &translation.desired.endpoints {
        let wants = desired
            .to_object(key)
            .subsets
            .iter()
            .any(|s| !s.addresses.is_empty());
        let has = source_state
            .endpoints
            .iter()
            .find(|e| e.metadata.key() == *key)
            .is_some_and(|e| e.subsets.iter().any(|s| !s.addresses.is_empty()));
        if wants && !has {
            empty.push(key.to_string());
        }
    }
    for key in translation.desired.endpoint_slices.keys() {
        if !source_state
            .endpoint_slices
            .iter()
            .any(|s| s.metadata.key() == *key)
        {
            empty.push(format!("{key} (EndpointSlice)"));
        }
    }
    if empty.is_empty() {
        list.ok("every mirror has its endpoints");
    } else {
        list.fail(
            &format!("every mirror has its endpoints: {} without", empty.len()),
            &format!(
                "{} — is the controller running and leading? (its log and /metrics say)",
                empty.join(", ")
            ),
        );
    }
    if plan.operations.is_empty() {
        list.ok("the source holds the mirrored state");
    } else {
        list.warn(
            &format!(
                "the source holds the mirrored state: {} operation(s) pending",
                plan.operations.len()
            ),
            "the controller applies them on its next reconcile; `svcmirror plan` shows them",
        );
    }
}

/// Issue 14 deliverable 4: the other links' cluster names on this source (a warning, not a
/// failure: the names are only at risk). The Links are listed in all namespaces, or, when that
/// is forbidden to this account (the controller's Role reads its own Link only), in the link's
/// namespace; the line says which.
async fn cross_link(
    list: &mut Checklist,
    link: &Link,
    source: &Connected,
    namespace: &str,
    confined: &[String],
) {
    use crate::check_names::LinksListed;
    let found = crate::check_names::cross_link_names(
        &source.client,
        link.cluster_name().as_str(),
        namespace,
        confined,
    )
    .await;
    for unlisted in &found.unlisted {
        list.warn(
            "the source's other links are listed",
            &format!("{unlisted} (cross-link names not checked against them)"),
        );
    }
    match &found.links {
        LinksListed::AllNamespaces => list.ok("the source's Links are listed in all namespaces"),
        LinksListed::Namespace(ns) => list.ok(&format!(
            "the source's Links are listed in namespace {ns} only (listing them in all \
             namespaces is forbidden to this account)"
        )),
        // Expected for the controller's least-privilege account: not a warning, but said.
        LinksListed::Forbidden(everywhere, here) => list.skip(&format!(
            "the source's other Links not listed (checked against the mirrors' labels only): \
             forbidden to this account in all namespaces ({everywhere}) and in namespace \
             {namespace} ({here})"
        )),
        LinksListed::None => {}
    }
    if found.warnings.is_empty() {
        list.ok(&format!(
            "no cluster name of a link on this source ends with another's ({})",
            found.clusters.join(", ")
        ));
    }
    for warning in &found.warnings {
        list.warn("the links' cluster names do not overlap", warning);
    }
}
