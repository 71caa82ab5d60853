//! The command line: `svcmirror <command>` and each subcommand's arguments. The top of the
//! argument modules: it names every subcommand's `*Args`; they share [`crate::args`].

use clap::{Parser, Subcommand};

use crate::args::{PlanArgs, SimulateArgs, TranslateArgs};

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
#[allow(clippy::large_enum_variant)] // parsed once per process: boxing saves nothing
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
    /// Run the local member writer in the source cluster (SPEC §9; Linkerd's
    /// `local-service-mirror`): each Service of the source selected by
    /// --federated-service-selector joins its `<name>-federated` Service as
    /// `multicluster.linkerd.io/local-discovery: <name>`, beside the entries the links' `run`
    /// controllers write. One per source cluster, not per link (deploy/local.yaml).
    Local(crate::local_run::LocalArgs),
    /// Check a link like `linkerd multicluster check`: both API servers, the Link (--link-name),
    /// every permission the controller needs, the gateway probe, name conflicts, mirrors without
    /// endpoints (exit 1 on a failure).
    Check(crate::check::CheckArgs),
    /// Delete every object a link owns in the source cluster (a dry run unless --yes), and say
    /// what to delete for the link itself.
    Unlink(crate::unlink::UnlinkArgs),
    /// Print everything the source cluster needs for a link, like `linkerd multicluster link`:
    /// the target's credentials Secret, the Link, the controller's ServiceAccount, RBAC and
    /// Deployment (`| kubectl apply -f -`); with --target-rbac, what the target needs.
    Link(Box<crate::link_print::LinkPrintArgs>),
}

/// Several `--link` files (translate, plan, simulate): each `--target` must sit next to its
/// `--link` (`--link a --target ta --link b --target tb`, or each `--target` first), so that the
/// pairing a reader sees is the one used — the i-th `--link` with the i-th `--target`.
///
/// # Errors
/// The `--link` and `--target` occurrences do not alternate, as a usage error (exit 2).
pub fn check_link_targets(matches: &clap::ArgMatches) -> Result<(), clap::Error> {
    let Some((name, sub)) = matches
        .subcommand()
        .filter(|(name, _)| ["translate", "plan", "simulate", "explain"].contains(name))
    else {
        return Ok(());
    };
    let indices = |id: &str| -> Vec<usize> {
        sub.try_get_raw(id)
            .ok()
            .flatten()
            .and_then(|_| sub.indices_of(id))
            .map(Iterator::collect)
            .unwrap_or_default()
    };
    let links = indices("link_file");
    if links.len() < 2 {
        return Ok(());
    }
    let targets = indices("targets");
    let mut all: Vec<(usize, bool)> = links
        .iter()
        .map(|&i| (i, true))
        .chain(targets.iter().map(|&i| (i, false)))
        .collect();
    all.sort_unstable();
    let alternate = all.windows(2).all(|w| w[0].1 != w[1].1);
    if links.len() == targets.len() && alternate {
        return Ok(());
    }
    Err(<Cli as clap::CommandFactory>::command().error(
        clap::error::ErrorKind::ArgumentConflict,
        format!(
            "{name}: {} --link and {} --target: give each --link its own --target, next to it \
             (--link west.yaml --target west.json --link north.yaml --target north.json)",
            links.len(),
            targets.len()
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use svcmirror_core::Link;

    fn link_of(args: &[&str]) -> Link {
        let cli = Cli::try_parse_from(
            ["svcmirror", "plan", "--target", "t.yaml"]
                .iter()
                .chain(args),
        )
        .expect("parses");
        let Command::Plan(plan) = cli.command else {
            unreachable!("plan")
        };
        plan.inputs.link.build().expect("valid link")
    }

    /// SPEC §2: flags and a Linkerd Link file are two roads to one `LinkSpec`, hence one `Link`.
    #[test]
    fn flag_built_and_file_built_links_are_equal() {
        let file = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/linkerd-mc-link-west.yaml"
        );
        let from_file = link_of(&["--link", file]);
        let from_flags = link_of(&[
            "--cluster-name",
            "west",
            "--gateway-address",
            "172.18.0.4",
            "--gateway-identity",
            "linkerd-gateway.linkerd-multicluster.serviceaccount.identity.linkerd.cluster.local",
        ]);
        assert_eq!(from_file, from_flags);
        assert_eq!(from_file.gateway_probe().port, 4191);
        // A flag beside the file wins, field by field; `=false` overrides a file's `true`.
        let over = link_of(&[
            "--link",
            file,
            "--gateway-port",
            "4180",
            "--remote-discovery-selector",
            "tier=flat",
            "--federated-service-selector",
            "",
            "--enable-headless-services=false",
        ]);
        assert_eq!(over.gateway_port(), 4180);
        assert_eq!(over.gateway_identity(), from_file.gateway_identity());
        assert_eq!(over.remote_discovery_selector().to_string(), "tier=flat");
        assert!(over.federated_selector().is_empty());
        assert!(!over.enable_headless_services());
    }

    fn pairing(args: &[&str]) -> Result<(), clap::Error> {
        use clap::CommandFactory;
        let matches = Cli::command()
            .try_get_matches_from(["svcmirror", "translate"].iter().chain(args))
            .expect("parses");
        check_link_targets(&matches)
    }

    /// Issue 11 deliverable 5: several links pair with the `--target` next to each; a list
    /// that does not alternate (which `--target` is whose?) is a usage error.
    #[test]
    fn each_link_file_pairs_with_the_target_next_to_it() {
        let ok: [&[&str]; 4] = [
            &[
                "--link", "w.yaml", "--target", "w.json", "--link", "n.yaml", "--target", "n.json",
            ],
            &[
                "--target", "w.json", "--link", "w.yaml", "--target", "n.json", "--link", "n.yaml",
            ],
            &["--target", "w.json", "--link", "w.yaml"],
            &["--target", "w.json", "--cluster-name", "west"],
        ];
        for args in ok {
            assert!(pairing(args).is_ok(), "{args:?}");
        }
        let bad: [&[&str]; 3] = [
            &[
                "--link", "w.yaml", "--link", "n.yaml", "--target", "w.json", "--target", "n.json",
            ],
            &["--link", "w.yaml", "--target", "w.json", "--link", "n.yaml"],
            &[
                "--link", "w.yaml", "--target", "w.json", "--target", "x.json", "--link", "n.yaml",
            ],
        ];
        for args in bad {
            let err = pairing(args).expect_err("ambiguous pairing");
            assert!(err.to_string().contains("its own --target"), "{err}");
        }
    }
}
