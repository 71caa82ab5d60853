//! `svcmirror explain <namespace>/<name>`: what the link does with one target Service, and why.
//!
//! Presentation only: the decision path, objects, operations and conditions all come from
//! `svcmirror_core::explain`, which records the steps `translate` itself takes (SPEC §12), so this
//! output can never drift from what `translate`/`plan` do.
//!
//! Exit codes: 0 explained (exported or not); 1 the Service does not exist in `--target` (stdout
//! stays empty), or it is exported and something about it is an error (rejected, conflict); 2 input
//! unusable, as for every command.

use std::io::Write;

use clap::Args;
use svcmirror_core::model::{Object, ObjectKey};
use svcmirror_core::{Diagnostic, Explanation, Link, Severity, SourceState, TargetState, explain};

use crate::args::{Inputs, PlanFormat};

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The target Service, `<namespace>/<name>` (namespace `default` when omitted).
    #[arg(value_name = "NAMESPACE/NAME")]
    pub service: String,
    #[command(flatten)]
    pub inputs: Inputs,
    /// Output format: readable text, or the explanation as JSON.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = PlanFormat::Text)]
    pub output: PlanFormat,
}

/// Parses `<namespace>/<name>` (or `<name>`, in `default`).
fn parse_key(text: &str) -> anyhow::Result<ObjectKey> {
    let (namespace, name) = text.split_once('/').unwrap_or(("default", text));
    if namespace.is_empty() || name.is_empty() || name.contains('/') {
        anyhow::bail!("{text:?} is not <namespace>/<name>");
    }
    Ok(ObjectKey::new(namespace, name))
}

/// Explains `args.service`; returns whether the exit code is 1. `input_diagnostics` are the
/// snapshot reader's findings (a malformed object is one reason a Service "does not exist").
pub fn run(
    args: &ExplainArgs,
    link: &Link,
    target: &TargetState,
    source: &SourceState,
    input_diagnostics: &[Diagnostic],
) -> anyhow::Result<bool> {
    let key = parse_key(&args.service)?;
    let Some(explanation) = explain(link, target, source, &key) else {
        for d in input_diagnostics.iter().filter(|d| d.object == key) {
            eprintln!("{d}");
        }
        eprintln!(
            "svcmirror: no Service {key} in --target {}",
            args.inputs.targets.join(", ")
        );
        return Ok(true);
    };
    let mut out = std::io::stdout().lock();
    match args.output {
        PlanFormat::Text => text(&explanation, link, &mut out)?,
        PlanFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &explanation)?;
            writeln!(out)?;
        }
    }
    out.flush()?;
    Ok(explanation.exported()
        && explanation
            .diagnostics
            .iter()
            .any(|d| d.severity == Severity::Error))
}

fn text(e: &Explanation, link: &Link, out: &mut impl Write) -> std::io::Result<()> {
    let cluster = link.cluster_name();
    match &e.outcome {
        Some(outcome) => writeln!(
            out,
            "{}: exported by link {cluster}, mode {:?}",
            e.service, outcome.mode
        )?,
        None => writeln!(out, "{}: not exported by link {cluster}", e.service)?,
    }
    writeln!(out, "\ndecision path:")?;
    for (i, step) in e.steps.iter().enumerate() {
        writeln!(out, "  {:>2}. {}: {}", i + 1, step.rule, step.outcome)?;
    }
    if !e.exported() {
        return Ok(());
    }
    writeln!(out, "\nobjects:")?;
    if e.objects.is_empty() {
        writeln!(out, "  (none)")?;
    }
    for object in &e.objects {
        writeln!(out, "  {}", describe(object))?;
    }
    writeln!(out, "\nplan:")?;
    if e.operations.is_empty() {
        writeln!(out, "  (nothing to do: the source holds these objects)")?;
    }
    for op in &e.operations {
        writeln!(out, "  {} {} {}", op.action(), op.kind(), op.key())?;
    }
    writeln!(out, "\nconditions:")?;
    for c in &e.conditions {
        writeln!(out, "  {c}")?;
    }
    if !e.diagnostics.is_empty() {
        writeln!(out, "\ndiagnostics:")?;
        for d in &e.diagnostics {
            writeln!(out, "  {d}")?;
        }
    }
    Ok(())
}

fn describe(object: &Object) -> String {
    match object {
        Object::Namespace(ns) => format!("Namespace {}", ns.metadata.name),
        Object::Service(svc) => {
            let ports: Vec<String> = svc
                .spec
                .ports
                .iter()
                .map(|p| format!("{}/{}", p.port, p.protocol.as_deref().unwrap_or("TCP")))
                .collect();
            let kind = if svc.is_headless() {
                "headless"
            } else {
                "ClusterIP"
            };
            format!(
                "Service {} ({kind}, {})",
                svc.metadata.key(),
                ports.join(",")
            )
        }
        Object::Endpoints(ep) => {
            let addresses: Vec<String> = ep
                .subsets
                .iter()
                .flat_map(|s| s.addresses.iter().chain(&s.not_ready_addresses))
                .map(|a| match &a.hostname {
                    Some(h) => format!("{h}={}", a.ip),
                    None => a.ip.clone(),
                })
                .collect();
            if addresses.is_empty() {
                format!("Endpoints {} (no addresses)", ep.metadata.key())
            } else {
                format!("Endpoints {} → {}", ep.metadata.key(), addresses.join(", "))
            }
        }
        Object::EndpointSlice(slice) => format!(
            "EndpointSlice {} ({}) → {}",
            slice.metadata.key(),
            slice.address_type,
            crate::render::slice_line(slice)
        ),
    }
}
