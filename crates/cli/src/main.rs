//! # svcmirror (the command)
//!
//! `svcmirror translate|plan|explain|simulate|demo`: the mirror computed offline from `kubectl get -o yaml|json`
//! snapshots, with the in-memory fake standing in for the source cluster.
//!
//! This binary is presentation only: it reads files (svcmirror-snapshot), calls the core
//! (`translate`, `plan`), applies plans to the fake (svcmirror-fake) and prints. It must never decide
//! anything about mirroring, and never print a partial result: inputs are read and checked in full
//! before anything goes to stdout.
//!
//! Exit codes: 0 everything exported was mirrored; 1 output produced but something was rejected or
//! conflicts (one stderr line each); 2 input unusable (stderr names the file and position, stdout
//! stays empty).

mod args;
mod controller;
mod demo;
mod explain;
mod leader;
mod render;
mod run;
mod simulate;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    match run::run(cli) {
        Ok(outcome) => outcome.exit_code(),
        Err(err) => {
            eprintln!("svcmirror: {err:#}");
            ExitCode::from(2)
        }
    }
}
