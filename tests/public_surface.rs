//! Issue 13 (a small public surface), checked: ARCHITECTURE.md promises that `svcmirror-core`
//! exposes two modules — `model` and `labels` — and re-exports everything else at its root, and
//! that every label and annotation key lives in `labels`. A tidy test, so a new `pub mod` or a
//! key defined elsewhere fails here rather than in review.

use std::fs;
use std::path::Path;

fn core_src() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/core/src")
}

/// Only `model` and `labels` are public modules of the core.
#[test]
fn the_core_has_two_public_modules() {
    let lib = fs::read_to_string(core_src().join("lib.rs")).expect("core lib.rs");
    let public: Vec<&str> = lib
        .lines()
        .filter_map(|l| l.trim().strip_prefix("pub mod "))
        .map(|m| m.trim_end_matches(';'))
        .collect();
    assert_eq!(
        public,
        ["labels", "model"],
        "public modules of svcmirror-core"
    );
}

/// Every key constant (`<domain>/<name>`, no `=` — selectors are not keys, API versions are
/// not keys) defined outside `labels.rs` is re-exported by `labels.rs`.
#[test]
fn every_label_key_is_in_the_labels_module() {
    let labels = fs::read_to_string(core_src().join("labels.rs")).expect("labels.rs");
    for entry in fs::read_dir(core_src()).expect("core src") {
        let path = entry.expect("entry").path();
        if path.file_name().is_some_and(|n| n == "labels.rs") {
            continue;
        }
        let text = fs::read_to_string(&path).expect("source");
        for line in text.lines() {
            let Some(rest) = line.trim().strip_prefix("pub const ") else {
                continue;
            };
            let Some((name, value)) = rest.split_once(": &str = \"") else {
                continue;
            };
            let value = value.trim_end_matches("\";");
            let is_key = value.contains(".io/")
                && !value.contains('=')
                && !value.contains("/v1")
                && !value.contains(' ');
            if is_key {
                assert!(
                    labels.contains(name),
                    "{name} ({value}) in {} is a label key outside svcmirror_core::labels",
                    path.display()
                );
            }
        }
    }
}
