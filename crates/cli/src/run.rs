//! The subcommands: read inputs, call the core, apply to the fake, print.

use std::collections::BTreeSet;
use std::io::Write;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use svcmirror_core::ClusterName;
use svcmirror_core::cluster_name_overlaps;
use svcmirror_core::model::{Kind, ObjectKey};
use svcmirror_core::{
    Diagnostic, Link, Object, Severity, SourceState, TargetEndpoints, TargetState, plan, translate,
};
use svcmirror_fake::FakeCluster;
use svcmirror_snapshot::{Format, InputBudget, Limits, Snapshot, SnapshotError};

use crate::args::{Inputs, ListFormat, PlanFormat};
use crate::command::{Cli, Command};
use crate::converge::{Timings, converge_links, converge_timed};
use crate::{demo, render};

/// What a successful run found: decides the exit code.
pub struct Outcome {
    rejected: bool,
}

impl Outcome {
    pub fn exit_code(&self) -> ExitCode {
        if self.rejected {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        }
    }
}

pub fn run(cli: Cli) -> anyhow::Result<Outcome> {
    match cli.command {
        Command::Translate(args) => {
            let mut timings = Timings::default();
            let (loaded, fake) = Timings::time(&mut timings.parse, || {
                let loaded = Loaded::read(&args.inputs)?;
                let fake = loaded.source_cluster()?;
                anyhow::Ok((loaded, fake))
            })?;
            // SPEC §9: several links converge on one source, each link's findings its own.
            let (source, found) = match &loaded.links[..] {
                [one] => {
                    let converged = converge_timed(
                        &one.link,
                        &one.target,
                        args.inputs.local_members.as_ref(),
                        fake,
                        &mut timings,
                    )?;
                    (converged.source, vec![converged.diagnostics])
                }
                _ => {
                    let converged = converge_links(
                        &loaded.pairs(),
                        args.inputs.local_members.as_ref(),
                        fake,
                        &mut timings,
                    )?;
                    (converged.source, converged.diagnostics)
                }
            };
            let format = match args.output {
                ListFormat::Yaml => Format::Yaml,
                ListFormat::Json => Format::Json,
            };
            Timings::time(&mut timings.render, || {
                let mut out = std::io::stdout().lock();
                // Moved out one at a time as it is written, never cloned nor gathered: the
                // converged source is the largest thing this command holds.
                let objects = into_objects(source);
                if args.for_apply {
                    svcmirror_snapshot::write_list(
                        objects.map(render::for_apply),
                        format,
                        &mut out,
                    )?;
                } else {
                    svcmirror_snapshot::write_list(objects, format, &mut out)?;
                }
                out.flush()
            })?;
            if args.timings {
                timings.print(true);
            }
            Ok(loaded.report(Vec::new(), found))
        }
        Command::Plan(args) => {
            let mut timings = Timings::default();
            let (loaded, source) = Timings::time(&mut timings.parse, || {
                let loaded = Loaded::read(&args.inputs)?;
                let source = loaded.source_cluster()?.state();
                anyhow::Ok((loaded, source))
            })?;
            if loaded.links.len() > 1 {
                return plan_links(&args, loaded, &source, timings);
            }
            let (link, target) = loaded.pairs()[0];
            let translation =
                Timings::time(&mut timings.translate, || translate(link, target, &source));
            let mut translation = translation;
            let plan = Timings::time(&mut timings.plan, || {
                let mut plan = plan(link, &translation.desired, &source);
                // SPEC §9: and the federated Services of the link.
                let links = [(link, target)];
                crate::federation::add_to(
                    &links,
                    args.inputs.local_members.as_ref(),
                    &source,
                    &mut translation.diagnostics,
                    &mut plan,
                );
                plan
            });
            let render_start = Instant::now();
            let mut out = std::io::stdout().lock();
            match args.output {
                PlanFormat::Text => render::plan_text(&plan, &source, &mut out)?,
                PlanFormat::Json => {
                    let diagnostics: Vec<&Diagnostic> = loaded
                        .diagnostics
                        .iter()
                        .chain(&loaded.links[0].diagnostics)
                        .chain(&translation.diagnostics)
                        .chain(&plan.diagnostics)
                        .collect();
                    render::plan_json(&plan, &diagnostics, &mut out)?;
                }
            }
            out.flush()?;
            timings.render = render_start.elapsed();
            if args.timings {
                timings.print(false);
            }
            let pending = !plan.operations.is_empty();
            let outcome = loaded.report(
                Vec::new(),
                vec![
                    translation
                        .diagnostics
                        .into_iter()
                        .chain(plan.diagnostics)
                        .collect(),
                ],
            );
            // `--exit-code`: like `kubectl diff`, 1 when there is something to apply.
            Ok(Outcome {
                rejected: outcome.rejected || (args.exit_code && pending),
            })
        }
        Command::Explain(args) => {
            let loaded = Loaded::read(&args.inputs)?;
            let source = loaded.source_cluster()?.state();
            let [one] = &loaded.links[..] else {
                anyhow::bail!("explain takes one link: give one --link and one --target");
            };
            let input: Vec<Diagnostic> = loaded
                .diagnostics
                .iter()
                .chain(&one.diagnostics)
                .cloned()
                .collect();
            let rejected = crate::explain::run(&args, &one.link, &one.target, &source, &input)?;
            Ok(Outcome { rejected })
        }
        Command::Simulate(args) => {
            let loaded = Loaded::read(&args.inputs)?;
            let faults = (args.fault_rate > 0.0)
                .then(|| svcmirror_fake::FaultConfig::new(args.fault_rate, args.seed));
            let links: Vec<(Link, TargetState)> = loaded
                .links
                .iter()
                .map(|l| (l.link.clone(), l.target.clone()))
                .collect();
            let sim = crate::simulate::simulate(
                links,
                loaded.source_cluster()?,
                faults,
                args.inputs.local_members.as_ref(),
            )?;
            let mut out = std::io::stdout().lock();
            match args.output {
                PlanFormat::Text => crate::simulate::write_summary(&sim, &mut out)?,
                PlanFormat::Json => crate::simulate::write_json(&sim, &mut out)?,
            }
            out.flush()?;
            for failure in &sim.failures {
                eprintln!(
                    "error: {} {} {} failed: {}",
                    failure.action, failure.kind, failure.key, failure.error
                );
            }
            let found = sim.diagnostics.clone();
            let outcome = loaded.report(sim.local_diagnostics.clone(), found);
            Ok(Outcome {
                rejected: outcome.rejected || !sim.failures.is_empty() || !sim.stats.converged,
            })
        }
        Command::Demo => {
            demo::run(&mut std::io::stdout().lock())?;
            Ok(Outcome { rejected: false })
        }
        Command::Run(args) => {
            crate::controller::run(args)?;
            Ok(Outcome { rejected: false })
        }
        Command::Local(args) => {
            crate::local_run::run(args)?;
            Ok(Outcome { rejected: false })
        }
        Command::Check(args) => Ok(Outcome {
            rejected: crate::check::run(args)?,
        }),
        Command::Unlink(args) => Ok(Outcome {
            rejected: crate::unlink::run(args)?,
        }),
        Command::Link(args) => Ok(Outcome {
            rejected: crate::link_print::run(*args)?,
        }),
    }
}

/// `svcmirror plan` for several links (SPEC §9): prints the merged plan, reports each link's findings
/// after its label.
fn plan_links(
    args: &crate::args::PlanArgs,
    loaded: Loaded,
    source: &SourceState,
    mut timings: Timings,
) -> anyhow::Result<Outcome> {
    let mut found: Vec<Vec<Diagnostic>> = Vec::new();
    let mut plans = Vec::new();
    for input in &loaded.links {
        let translation = Timings::time(&mut timings.translate, || {
            translate(&input.link, &input.target, source)
        });
        let mut plan = Timings::time(&mut timings.plan, || {
            plan(&input.link, &translation.desired, source)
        });
        let mut diagnostics = translation.diagnostics;
        diagnostics.append(&mut plan.diagnostics);
        found.push(diagnostics);
        plans.push(plan);
    }
    let labels: Vec<&str> = loaded.links.iter().map(|l| l.label.as_str()).collect();
    let (mut plan, clashes) = crate::several::merge(plans, &labels);
    for (found, clashes) in found.iter_mut().zip(clashes) {
        found.extend(clashes);
    }
    let mut shared = Vec::new();
    Timings::time(&mut timings.plan, || {
        // SPEC §9: the federated Services of every link, each link one writer.
        crate::federation::add_to(
            &loaded.pairs(),
            args.inputs.local_members.as_ref(),
            source,
            &mut shared,
            &mut plan,
        );
    });
    shared.append(&mut plan.diagnostics);
    let render_start = Instant::now();
    let mut out = std::io::stdout().lock();
    match args.output {
        PlanFormat::Text => render::plan_text(&plan, source, &mut out)?,
        PlanFormat::Json => {
            let diagnostics: Vec<&Diagnostic> = loaded
                .diagnostics
                .iter()
                .chain(
                    loaded
                        .links
                        .iter()
                        .zip(&found)
                        .flat_map(|(l, found)| l.diagnostics.iter().chain(found)),
                )
                .chain(&shared)
                .collect();
            render::plan_json(&plan, &diagnostics, &mut out)?;
        }
    }
    out.flush()?;
    timings.render = render_start.elapsed();
    if args.timings {
        timings.print(false);
    }
    let pending = !plan.operations.is_empty();
    let outcome = loaded.report(shared, found);
    Ok(Outcome {
        rejected: outcome.rejected || (args.exit_code && pending),
    })
}

/// Prints each diagnostic on one stderr line, those of one link of several after `label: `;
/// errors make the exit code 1.
fn report<'a>(diagnostics: impl IntoIterator<Item = (Option<&'a str>, Diagnostic)>) -> Outcome {
    let all: BTreeSet<(Option<&str>, Diagnostic)> = diagnostics.into_iter().collect();
    for (label, d) in &all {
        match label {
            Some(label) => eprintln!("{label}: {d}"),
            None => eprintln!("{d}"),
        }
    }
    Outcome {
        rejected: all.iter().any(|(_, d)| d.severity == Severity::Error),
    }
}

/// SPEC §12: a note when the target has gateway-mode exports but no endpoint object of the kind
/// `--target-endpoints` reads (so every mirror would be empty), naming what it does hold.
fn no_endpoint_objects(
    link: &Link,
    target: &Snapshot,
    path: &str,
    inputs: &Inputs,
) -> Option<String> {
    let exported = target
        .services
        .iter()
        .filter(|s| link.export_selector().matches(&s.metadata.labels))
        .count();
    let (endpoints, slices) = (target.endpoints.len(), target.endpoint_slices.len());
    let (none, kind) = match inputs.target_endpoints {
        TargetEndpoints::Endpoints => (endpoints == 0, "Endpoints"),
        TargetEndpoints::Slices => (slices == 0, "EndpointSlices"),
        TargetEndpoints::Auto => (endpoints == 0 && slices == 0, "Endpoints or EndpointSlices"),
    };
    (exported > 0 && none).then(|| {
        format!(
            "warning: {}: {exported} exported Service(s) but no {kind} (--target-endpoints {}; \
             the input holds {endpoints} Endpoints and {slices} EndpointSlices): their mirrors \
             have no ready address; `kubectl get all` leaves them out: dump the target with \
             `kubectl get ns,svc,endpoints,endpointslices -A -o yaml`",
            path, inputs.target_endpoints
        )
    })
}

/// The addresses of a Service range (saturating: an IPv6 /64 holds 2^64).
fn range_addresses(cidr: ipnet::IpNet) -> u64 {
    let host_bits = u32::from(cidr.max_prefix_len() - cidr.prefix_len());
    1_u64.checked_shl(host_bits).unwrap_or(u64::MAX)
}

/// One link given, with its target: read and checked in full.
struct LinkInput {
    pub link: Link,
    /// `link <cluster> (--link FILE)`: what its findings are prefixed with when there are
    /// several links.
    pub label: String,
    pub target: TargetState,
    /// The target snapshot's findings.
    pub diagnostics: Vec<Diagnostic>,
}

/// Inputs read and checked in full, before anything is printed.
struct Loaded {
    /// Every link, in the order given (SPEC §9: one source, several links).
    pub links: Vec<LinkInput>,
    source: Option<Snapshot>,
    service_cidr: ipnet::IpNet,
    /// The source snapshot's findings.
    pub diagnostics: Vec<Diagnostic>,
}

impl Loaded {
    fn read(inputs: &Inputs) -> anyhow::Result<Self> {
        let built = inputs.link.build_all()?;
        if built.len() != inputs.targets.len() {
            anyhow::bail!(
                "{} link(s) but {} --target: give one --target per --link, next to it \
                 (--link west.yaml --target west.json --link north.yaml --target north.json)",
                built.len(),
                inputs.targets.len()
            );
        }
        let several = built.len() > 1;
        let limits = Limits::default()
            .with_max_bytes(inputs.max_input_bytes)
            .with_max_objects(inputs.max_input_objects);
        let read = |path: &str| {
            svcmirror_snapshot::read(path, &limits).map_err(|e| match e {
                SnapshotError::TooLarge { .. } => {
                    anyhow::anyhow!("{e} (raise it with --max-input-bytes)")
                }
                SnapshotError::TooManyObjects { .. } => {
                    anyhow::anyhow!("{e} (raise it with --max-input-objects)")
                }
                // A YAML stream counts its documents against the same limit.
                SnapshotError::TooComplex {
                    budget: InputBudget::Documents,
                    ..
                } => {
                    anyhow::anyhow!("{e} (raise it with --max-input-objects)")
                }
                e => e.into(),
            })
        };
        let mut links = Vec::new();
        for ((file, link), path) in built.into_iter().zip(&inputs.targets) {
            // SPEC §8: the ClusterIP budget is a budget of the in-memory source's Service range.
            let link = link.with_service_range(range_addresses(inputs.service_cidr));
            let label = match &file {
                Some(file) => format!(
                    "link {} (--link {})",
                    link.cluster_name().as_str(),
                    file.display()
                ),
                None => format!("link {}", link.cluster_name().as_str()),
            };
            let prefix = if several {
                format!("{label}: ")
            } else {
                String::new()
            };
            for warning in link.warnings() {
                eprintln!("{prefix}warning: {warning}");
            }
            let target = read(path)?;
            if let Some(note) = no_endpoint_objects(&link, &target, path, inputs) {
                eprintln!("{prefix}{note}");
            }
            links.push(LinkInput {
                diagnostics: target.diagnostics.clone(),
                target: target.into_target_with(inputs.target_endpoints),
                link,
                label,
            });
        }
        let source = inputs.source.as_deref().map(read).transpose()?;
        let mut diagnostics = source
            .as_ref()
            .map(|s| s.diagnostics.clone())
            .unwrap_or_default();
        // SPEC §3 cross-link names: links whose cluster names end alike can want one name.
        let clusters: Vec<ClusterName> = links
            .iter()
            .map(|l| l.link.cluster_name().clone())
            .collect();
        diagnostics.extend(cluster_name_overlaps(&clusters));
        Ok(Self {
            links,
            source,
            service_cidr: inputs.service_cidr,
            diagnostics,
        })
    }

    /// Every link with its target.
    pub fn pairs(&self) -> Vec<(&Link, &TargetState)> {
        self.links.iter().map(|l| (&l.link, &l.target)).collect()
    }

    /// Prints the inputs' findings, `shared` (the federation's) and each link's `found` (in the
    /// order of [`Loaded::links`]), those of one link of several after its label.
    pub fn report(&self, shared: Vec<Diagnostic>, found: Vec<Vec<Diagnostic>>) -> Outcome {
        let several = self.links.len() > 1;
        let of_links = self
            .links
            .iter()
            .zip(found.into_iter().chain(std::iter::repeat_with(Vec::new)));
        report(
            self.diagnostics
                .iter()
                .cloned()
                .chain(shared)
                .map(|d| (None, d))
                .chain(of_links.flat_map(|(link, found)| {
                    let label = several.then_some(link.label.as_str());
                    link.diagnostics
                        .iter()
                        .cloned()
                        .chain(found)
                        .map(move |d| (label, d))
                })),
        )
    }

    /// The fake source: loaded with the source snapshot as it is, or empty with the target's
    /// namespaces (and the source's, when its snapshot lists no Namespace objects).
    fn source_cluster(&self) -> anyhow::Result<FakeCluster> {
        let mut fake = FakeCluster::new(self.service_cidr);
        let state = self
            .source
            .clone()
            .map(Snapshot::into_source)
            .unwrap_or_default();
        if state.namespaces.is_none() {
            let namespaces: BTreeSet<String> = self
                .links
                .iter()
                .flat_map(|l| &l.target.services)
                .map(|s| s.metadata.namespace().to_owned())
                .chain(
                    state
                        .services
                        .iter()
                        .map(|s| s.metadata.namespace().to_owned()),
                )
                .chain(
                    state
                        .endpoints
                        .iter()
                        .map(|e| e.metadata.namespace().to_owned()),
                )
                .collect();
            // A namespace name the API server refuses is not created: the core reports the
            // objects in it as invalid, and the rest of the input is still mirrored.
            for ns in namespaces {
                if svcmirror_core::is_dns1123_label(&ns)
                    && fake
                        .get(Kind::Namespace, &ObjectKey::new("", &ns))
                        .is_none()
                {
                    fake.create_namespace(&ns)
                        .with_context(|| format!("namespace {ns}"))?;
                }
            }
        }
        fake.restore(state).context("--source")?;
        Ok(fake)
    }
}

/// Every object of `state`, moved out one at a time, in the order of [`SourceState::objects`]:
/// by kind (Namespaces, Services, Endpoints, EndpointSlices), then by key.
fn into_objects(mut state: SourceState) -> impl Iterator<Item = Object> {
    let mut namespaces = state.namespaces.take().unwrap_or_default();
    namespaces.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    // Compared through borrowed keys: `ObjectKey` orders by namespace, then name.
    let by_key = |a: &svcmirror_core::model::ObjectMeta, b: &svcmirror_core::model::ObjectMeta| {
        (a.namespace(), a.name.as_str()).cmp(&(b.namespace(), b.name.as_str()))
    };
    state
        .services
        .sort_by(|a, b| by_key(&a.metadata, &b.metadata));
    state
        .endpoints
        .sort_by(|a, b| by_key(&a.metadata, &b.metadata));
    state
        .endpoint_slices
        .sort_by(|a, b| by_key(&a.metadata, &b.metadata));
    namespaces
        .into_iter()
        .map(Object::Namespace)
        .chain(state.services.into_iter().map(Object::Service))
        .chain(state.endpoints.into_iter().map(Object::Endpoints))
        .chain(state.endpoint_slices.into_iter().map(Object::EndpointSlice))
}
