//! Tidy (STYLE.md habit 11, issue 13 "no file imports another that imports it back"): a crate's
//! root file (`lib.rs`, `main.rs`) declares every module, so a module that imports an item
//! *defined* in the root imports a file that imports it back — a circle; so does, in the import
//! graph, one that takes a re-exported item by its root path (`crate::Item`) instead of from its
//! module (`crate::module::Item`). Shared items live in a leaf module that the root re-exports (the backend's `cluster`, the test-kit's `finding` and
//! `fields`, the snapshot reader's `limits`). Checked over every crate of the workspace, the
//! facade and the fuzz harness, so a new `crate::Item` of the root fails here, not in review.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

/// The root file of every crate: its modules are the files beside and below it.
fn crate_roots() -> Vec<PathBuf> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut roots = vec![
        workspace.join("src/lib.rs"),
        workspace.join("fuzz/src/lib.rs"),
    ];
    for entry in fs::read_dir(workspace.join("crates")).expect("crates/") {
        let src = entry.expect("entry").path().join("src");
        for root in ["lib.rs", "main.rs"] {
            if src.join(root).is_file() {
                roots.push(src.join(root));
            }
        }
    }
    roots
}

/// The names of the items `root` defines at its top level (not those it re-exports).
fn defined_items(root: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in root.lines() {
        let mut rest = line;
        for prefix in ["pub(crate) ", "pub "] {
            rest = rest.strip_prefix(prefix).unwrap_or(rest);
        }
        for keyword in [
            "struct ",
            "enum ",
            "trait ",
            "fn ",
            "async fn ",
            "const ",
            "static ",
            "type ",
            "union ",
        ] {
            if let Some(after) = rest.strip_prefix(keyword) {
                let name: String = after
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    names.insert(name);
                }
            }
        }
    }
    names
}

/// The modules `root` declares (`mod a;`, `pub mod a;`, `pub(crate) mod a;`).
fn declared_modules(root: &str) -> BTreeSet<String> {
    root.lines()
        .filter_map(|line| {
            let mut rest = line;
            for prefix in ["pub(crate) ", "pub "] {
                rest = rest.strip_prefix(prefix).unwrap_or(rest);
            }
            rest.strip_prefix("mod ")?
                .strip_suffix(';')
                .map(str::to_owned)
        })
        .collect()
}

/// The first segments of every `crate::…` path in `module` (comments skipped): `crate::a::B` gives
/// `a`, `crate::{a::B, C}` gives `a` and `C`.
fn crate_paths(module: &str) -> Vec<String> {
    let code: String = module
        .lines()
        .map(|l| l.split_once("//").map_or(l, |(code, _)| code))
        .collect::<Vec<_>>()
        .join("\n");
    let mut out = Vec::new();
    let mut rest = code.as_str();
    while let Some(at) = rest.find("crate::") {
        let preceded = rest[..at]
            .chars()
            .last()
            .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$');
        rest = &rest[at + "crate::".len()..];
        if preceded {
            continue; // `svcmirror_crate::` or a macro's `$crate::`, not `crate::`
        }
        let group = if let Some(inner) = rest.strip_prefix('{') {
            let mut depth = 1;
            let end = inner
                .char_indices()
                .find(|(_, c)| {
                    match c {
                        '{' => depth += 1,
                        '}' => depth -= 1,
                        _ => {}
                    }
                    depth == 0
                })
                .map_or(inner.len(), |(i, _)| i);
            top_level_items(&inner[..end])
        } else {
            vec![rest]
        };
        for item in group {
            let first: String = item
                .trim()
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !first.is_empty() {
                out.push(first);
            }
        }
    }
    out
}

/// The comma-separated items of a `{…}` group, nested groups kept whole.
fn top_level_items(group: &str) -> Vec<&str> {
    let (mut items, mut depth, mut start) = (Vec::new(), 0, 0);
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&group[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&group[start..]);
    items
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("source dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The imports of a crate root by its modules, as `module: crate::Item`: of an item the root
/// defines, anywhere; and, outside test modules, of anything but a module (an item the root
/// re-exports is imported from the module that defines it, so the module does not import the
/// root either).
fn imports_of_the_root(root: &Path) -> Vec<String> {
    let root_text = fs::read_to_string(root).expect("root file");
    let (defined, modules) = (defined_items(&root_text), declared_modules(&root_text));
    let mut files = Vec::new();
    rust_files(root.parent().expect("src/"), &mut files);
    let mut found = Vec::new();
    for file in files.iter().filter(|f| f.as_path() != root) {
        let text = fs::read_to_string(file).expect("module");
        let shipped = text.split("#[cfg(test)]").next().unwrap_or_default();
        let through_root = crate_paths(shipped)
            .into_iter()
            .filter(|name| !modules.contains(name));
        let of_root = crate_paths(&text)
            .into_iter()
            .filter(|name| defined.contains(name));
        let names: BTreeSet<String> = through_root.chain(of_root).collect();
        for name in names {
            found.push(format!("{}: crate::{name}", file.display()));
        }
    }
    found
}

/// No module imports an item defined in its crate's root file, nor (outside tests) one the root
/// only re-exports.
#[test]
fn no_module_imports_its_crate_root() {
    let mut found = Vec::new();
    for root in crate_roots() {
        found.extend(imports_of_the_root(&root));
    }
    assert!(
        found.is_empty(),
        "modules importing their crate root (an item defined there: move it to a leaf module the \
         root re-exports; an item re-exported there: import it from its module):\n{}",
        found.join("\n")
    );
}

/// The check itself finds what it must: the backend's lib.rs ↔ reconciler circle as it was.
#[test]
fn the_check_finds_an_import_of_a_root_item() {
    let root = "mod reconciler;\npub use reconciler::Reconciler;\npub enum TargetEvent {}\n\
                pub trait SourceCluster {}\nfn helper() {}\n";
    assert_eq!(
        defined_items(root),
        ["SourceCluster", "TargetEvent", "helper"]
            .map(str::to_owned)
            .into()
    );
    let module = "use crate::cache::{SourceCache, TargetCache};\n\
                  use crate::{TargetEvent, scope};\n\
                  // crate::SourceCluster in a comment is no import\n\
                  fn f(e: crate::TargetEvent) -> svcmirror_crate::X {}\n";
    assert_eq!(
        crate_paths(module),
        ["cache", "TargetEvent", "scope", "TargetEvent"]
    );
    assert_eq!(
        declared_modules(root),
        BTreeSet::from(["reconciler".to_owned()])
    );
}
