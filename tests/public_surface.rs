//! Issue 13 (a small public surface), checked: ARCHITECTURE.md promises that `svcmirror-core`
//! exposes two modules — `model` and `labels` — and re-exports everything else at its root, and
//! that every label and annotation key lives in `labels`; and that the public input types can grow
//! (`#[non_exhaustive]`, built by constructors). A tidy test, so a new `pub mod`, a key defined
//! elsewhere or an input struct an embedder must spell out fails here rather than in review.

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

/// Issue 13 (public input types can grow): every public struct an embedder builds as input is
/// `#[non_exhaustive]`, so a field added later breaks nobody.
#[test]
fn public_input_types_are_non_exhaustive() {
    let inputs = [
        ("state.rs", "TargetState"),
        ("state.rs", "SourceState"),
        ("link_spec.rs", "LinkSpec"),
        ("link_spec.rs", "LinkManifest"),
        ("limits.rs", "Limits"),
        ("probe_spec.rs", "ProbeSpec"),
        ("probe_spec.rs", "GatewayProbe"),
    ];
    for (file, name) in inputs {
        let text = fs::read_to_string(core_src().join(file)).expect("core source");
        let at = text
            .find(&format!("pub struct {name} "))
            .unwrap_or_else(|| panic!("{name} in {file}"));
        let attributes: Vec<&str> = text[..at]
            .lines()
            .rev()
            .take_while(|l| l.starts_with("#[") || l.starts_with("///"))
            .collect();
        assert!(
            attributes.contains(&"#[non_exhaustive]"),
            "{name} is not #[non_exhaustive]"
        );
    }
}

/// Issue 13 (public input types can grow): the lists are built by constructors — what an
/// embedder outside the core can still write — and the keyed stores are read by the core as
/// the lists are.
#[test]
fn input_lists_have_constructors_and_stores_read_alike() {
    use svcmirror::model::{Namespace, Service, ServicePort};
    use svcmirror::{Link, SourceState, SourceStore, TargetState, TargetStore, translate};

    let mut web = Service::new("default", "web");
    web.metadata
        .labels
        .insert("mirror.linkerd.io/exported".into(), "true".into());
    web.spec.ports.push(ServicePort {
        port: 80,
        ..ServicePort::default()
    });
    let target = TargetState::new(vec![web], vec![]);
    let source = SourceState::new(vec![], vec![])
        .with_endpoint_slices(vec![])
        .with_namespaces(Some(vec![Namespace::new("other")]));
    assert!(!source.has_namespace("default"), "namespaces listed");
    let link = Link::builder("west")
        .gateway_address("172.18.0.4".parse().expect("ip"))
        .build()
        .expect("link");
    let listed = translate(&link, &target, &source);
    let stored = translate(
        &link,
        &TargetStore::from_state(target),
        &SourceStore::from_state(source),
    );
    assert_eq!(listed, stored);
    assert!(
        listed
            .diagnostics
            .iter()
            .any(|d| d.reason == svcmirror::Reason::NamespaceMissing),
        "{:?}",
        listed.diagnostics
    );
}
