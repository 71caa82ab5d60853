//! # svcmirror (the command)
//!
//! `svcmirror translate|plan|explain|simulate|demo`: the mirror computed offline from `kubectl get -o yaml|json`
//! snapshots, with the in-memory fake standing in for the source cluster; `svcmirror run`: the
//! controller between two live clusters; `svcmirror local`: the source cluster's own federated
//! members (SPEC §9); `link`, `unlink` and `check`: an operator's tools for a link.
//!
//! This binary is presentation only: it reads files (svcmirror-snapshot), calls the core
//! (`translate`, `plan`), applies plans to the fake (svcmirror-fake) and prints. It must never decide
//! anything about mirroring, and never print a partial result: inputs are read and checked in full
//! before anything goes to stdout.
//!
//! Exit codes: 0 everything exported was mirrored; 1 output produced but something was rejected or
//! conflicts (one stderr line each); 2 input unusable (stderr names the file and position, stdout
//! stays empty).

mod admin;
mod args;
mod check;
mod check_gateway;
mod check_link;
mod check_names;
mod checklist;
mod clusters;
mod command;
mod controller;
mod converge;
mod demo;
mod explain;
mod federation;
mod flags;
mod gateway_dns;
mod leader;
mod link_file;
mod link_manifests;
mod link_mode;
mod link_print;
mod link_watch;
mod local;
mod local_run;
mod logging;
mod metrics;
mod observe;
mod permissions;
mod probe;
mod render;
mod run;
mod session;
mod several;
mod simulate;
mod unlink;
mod yaml;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};

fn main() -> ExitCode {
    let matches = command::Cli::command().get_matches();
    let cli = command::Cli::from_arg_matches(&matches)
        .and_then(|cli| command::check_link_targets(&matches).map(|()| cli))
        .unwrap_or_else(|e| e.exit());
    match run::run(cli) {
        Ok(outcome) => outcome.exit_code(),
        // `svcmirror translate … | head`: the reader left, which is not an error of the input.
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("svcmirror: {err:#}");
            ExitCode::from(2)
        }
    }
}

/// Whether writing stdout failed because its reader closed the pipe (EPIPE).
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            || matches!(
                cause.downcast_ref::<svcmirror_snapshot::SnapshotError>(),
                Some(svcmirror_snapshot::SnapshotError::Io { source, .. })
                    if source.kind() == std::io::ErrorKind::BrokenPipe
            )
    })
}
