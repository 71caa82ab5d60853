//! The Dockerfile (docker does not run here): read for the essentials an operator relies on —
//! multi-stage, a `--locked` release build of this package, a distroless static runtime running
//! as the non-root user the Deployment expects, and the binary path and version the Deployment
//! uses.

use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The instructions: continuation lines joined, comments and blank lines dropped.
fn instructions() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(root().join("Dockerfile")).expect("a Dockerfile");
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || (line.is_empty() && current.is_empty()) {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(part) => current.push_str(part),
            None => {
                current.push_str(line);
                let (word, rest) = current.split_once(' ').unwrap_or((&current, ""));
                out.push((word.to_uppercase(), rest.trim().to_owned()));
                current.clear();
            }
        }
    }
    out
}

#[test]
fn multi_stage_locked_release_build_on_a_static_nonroot_runtime() {
    let steps = instructions();
    let stages: Vec<&String> = steps
        .iter()
        .filter(|(w, _)| w == "FROM")
        .map(|(_, r)| r)
        .collect();
    assert!(stages.len() >= 2, "multi-stage: {stages:?}");
    assert!(
        stages[0].starts_with("rust:") && stages[0].contains(" AS builder"),
        "{stages:?}"
    );
    let runtime = stages.last().expect("a runtime stage");
    assert!(
        runtime.starts_with("gcr.io/distroless/static") && runtime.ends_with(":nonroot"),
        "runtime: {runtime}"
    );
    let build = steps
        .iter()
        .find(|(w, r)| w == "RUN" && r.contains("cargo build"))
        .map(|(_, r)| r)
        .expect("a cargo build");
    for part in ["--locked", "--release", "-p svcmirror-cli"] {
        assert!(build.contains(part), "{part} missing: {build}");
    }
    // The runtime stage runs as the Deployment's runAsUser (distroless `nonroot` is 65532).
    let last_from = steps.iter().rposition(|(w, _)| w == "FROM").expect("FROM");
    let user = steps[last_from..]
        .iter()
        .find(|(w, _)| w == "USER")
        .map(|(_, r)| r.clone())
        .expect("USER in the runtime stage");
    assert!(user == "65532:65532" || user == "nonroot", "{user}");
    let deployment =
        std::fs::read_to_string(root().join("deploy/deployment.yaml")).expect("deployment");
    assert!(
        deployment.contains("runAsUser: 65532"),
        "the Deployment runs as 65532"
    );
    // The Deployment gives only `args` (run …): the image's ENTRYPOINT is the binary.
    let entrypoint = steps
        .iter()
        .find(|(w, _)| w == "ENTRYPOINT")
        .map(|(_, r)| r.clone())
        .expect("ENTRYPOINT");
    assert_eq!(entrypoint, r#"["/usr/local/bin/svcmirror"]"#);
    assert!(
        steps.iter().any(|(w, r)| w == "COPY"
            && r.contains("--from=builder")
            && r.ends_with(" /usr/local/bin/svcmirror")),
        "the binary is copied from the builder to the ENTRYPOINT's path"
    );
    assert!(
        !deployment.contains("command:"),
        "the Deployment keeps the ENTRYPOINT"
    );
    let image = format!("image: svcmirror:{}", env!("CARGO_PKG_VERSION"));
    assert!(
        deployment.contains(&image),
        "the Deployment runs this version: {image}"
    );
}

#[test]
fn dockerignore_leaves_build_output_out_of_the_context() {
    let ignore = std::fs::read_to_string(root().join(".dockerignore")).expect(".dockerignore");
    for entry in ["target/", ".git/"] {
        assert!(
            ignore.lines().any(|l| l.trim() == entry),
            "{entry} not ignored"
        );
    }
}
