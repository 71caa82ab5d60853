//! Bytes → documents: format detection, the YAML budget, and error translation.

use serde::Deserialize;
use serde_saphyr::{Budget, Spanned};

use crate::document::{Document, Entry, Shape};
use crate::{Limits, Location, SnapshotError};

/// Deepest nesting accepted, in YAML and in JSON (where it is serde_json's own recursion limit).
/// A Kubernetes List of Endpoints nests 8 levels; 128 leaves room for any real object while
/// keeping recursion, and the drop of what it built, far from the stack's end.
const MAX_DEPTH: usize = 128;

/// What one input document became, and where it starts when the parser says so.
pub(crate) struct Parsed {
    pub(crate) location: Option<Location>,
    pub(crate) document: Document,
}

impl Parsed {
    fn holds_only_objects(&self) -> bool {
        !self
            .document
            .entries
            .iter()
            .any(|entry| matches!(entry, Entry::NotAnObject(_)))
    }
}

/// Stack for the parsing thread. Parsing recurses once per nesting level, up to [`MAX_DEPTH`];
/// unoptimized builds spend about 25 KiB of stack per level (3.2 MiB in all), more than the
/// 2 MiB of a tokio worker or a test thread. Only the pages actually touched are committed.
const PARSER_STACK_BYTES: usize = 32 * 1024 * 1024;

/// Detects the format and reads every document, on a thread of its own whose stack holds
/// [`MAX_DEPTH`] levels whatever the caller's thread has left. `bytes` is already within
/// `limits.max_bytes`.
pub(crate) fn documents(
    bytes: &[u8],
    origin: &str,
    limits: &Limits,
) -> Result<Vec<Parsed>, SnapshotError> {
    std::thread::scope(|scope| {
        let parser = std::thread::Builder::new()
            .name("svcmirror-snapshot-parse".into())
            .stack_size(PARSER_STACK_BYTES)
            .spawn_scoped(scope, || documents_here(bytes, origin, limits))
            .map_err(|source| SnapshotError::Io {
                origin: origin.to_owned(),
                source,
            })?;
        parser
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

fn documents_here(
    bytes: &[u8],
    origin: &str,
    limits: &Limits,
) -> Result<Vec<Parsed>, SnapshotError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        None => Ok(Vec::new()),
        Some(b'{' | b'[') => json(bytes, origin).or_else(|json_error| {
            // A YAML flow document (`{kind: Service, …}`) also starts with `{`: give it a
            // chance, but report the JSON error if it is not YAML either.
            // Anything short of usable objects means it was broken JSON after all.
            match json_error {
                SnapshotError::Syntax { .. } => match yaml(bytes, origin, limits) {
                    Ok(documents) if documents.iter().all(Parsed::holds_only_objects) => {
                        Ok(documents)
                    }
                    _ => Err(json_error),
                },
                other => Err(other),
            }
        }),
        Some(_) => yaml(bytes, origin, limits),
    }
}

fn json(bytes: &[u8], origin: &str) -> Result<Vec<Parsed>, SnapshotError> {
    // The typed fast path first; on any trouble the reference reader below decides, so that
    // every outcome (objects, diagnostics, errors and their positions) stays the reference's.
    if let Ok(document) = Document::from_json_fast(bytes) {
        return Ok(vec![Parsed {
            location: None,
            document,
        }]);
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let document = Document::deserialize(&mut deserializer)
        .and_then(|document| deserializer.end().map(|()| document))
        .map_err(|err| json_error(&err, origin))?;
    Ok(vec![Parsed {
        location: None,
        document,
    }])
}

fn json_error(err: &serde_json::Error, origin: &str) -> SnapshotError {
    let location = (err.line() > 0).then(|| Location {
        line: err.line() as u64,
        column: err.column() as u64,
    });
    // serde_json appends the position to every message; we print our own.
    let full = err.to_string();
    let suffix = format!(" at line {} column {}", err.line(), err.column());
    let message = full.strip_suffix(&suffix).unwrap_or(&full).to_owned();
    if message.starts_with("recursion limit exceeded") {
        SnapshotError::TooComplex {
            origin: origin.to_owned(),
            location,
            message: format!("nested deeper than {MAX_DEPTH} levels"),
        }
    } else {
        SnapshotError::Syntax {
            origin: origin.to_owned(),
            format: "JSON",
            location,
            message,
        }
    }
}

fn yaml(bytes: &[u8], origin: &str, limits: &Limits) -> Result<Vec<Parsed>, SnapshotError> {
    let spanned: Vec<Spanned<Document>> =
        serde_saphyr::from_slice_multiple_with_options(bytes, yaml_options(bytes.len(), limits))
            .map_err(|err| yaml_error(&err, origin, limits))?;
    Ok(spanned
        .into_iter()
        .map(
            |Spanned {
                 value, referenced, ..
             }| {
                let location = (referenced.line() > 0).then(|| Location {
                    line: referenced.line(),
                    column: referenced.column(),
                });
                let document = if value.shape == Shape::Sequence {
                    // kubectl reads a YAML document as one object; a sequence is not one.
                    Document {
                        shape: Shape::Single,
                        entries: vec![Entry::NotAnObject("a sequence".into())],
                    }
                } else {
                    value
                };
                Parsed { location, document }
            },
        )
        .collect())
}

/// serde-saphyr's budget, set deliberately rather than left at its defaults (which refuse a
/// 10 000-object file).
///
/// Without aliases, every parser event costs input bytes (at most two events per byte, as in
/// `[:,:]`), so event, node and scalar budgets proportional to the input accept any real file
/// that fits `limits.max_bytes` — 10 000 Services and 10 000 Endpoints of 10 addresses included.
/// What is left to stop is amplification: aliases ("billion laughs") are capped by the replay
/// limits, and nesting by [`MAX_DEPTH`]. kubectl never writes aliases, so the caps are small.
fn yaml_options(input_len: usize, limits: &Limits) -> serde_saphyr::Options {
    const SLACK: usize = 64 * 1024;
    let proportional = input_len.saturating_mul(4).saturating_add(SLACK);

    let mut budget = Budget::default();
    budget.max_reader_input_bytes = usize::try_from(limits.max_bytes).ok();
    budget.max_events = proportional;
    budget.max_nodes = proportional;
    // Tags expand (`!!str` is recorded as `tag:yaml.org,2002:str`), hence the same factor.
    budget.max_total_scalar_bytes = proportional;
    budget.max_depth = MAX_DEPTH;
    budget.flow_nesting_limit = MAX_DEPTH;
    budget.max_documents = limits.max_objects.saturating_add(1);
    budget.max_anchors = 10_000;
    budget.max_aliases = 10_000;
    budget.max_recorded_anchor_events = 100_000;
    budget.max_recorded_anchor_bytes = 16 * 1024 * 1024;
    budget.max_merge_keys = 10_000;

    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    options.alias_limits.max_total_replayed_events = 100_000;
    options.alias_limits.max_replay_stack_depth = 16;
    options.alias_limits.max_alias_expansions_per_anchor = 10_000;
    options.emit_comments = false;
    options.with_snippet = false;
    options
}

fn yaml_error(err: &serde_saphyr::Error, origin: &str, limits: &Limits) -> SnapshotError {
    use serde_saphyr::budget::BudgetBreach;
    use serde_saphyr::granit_parser::ErrorKind;
    use serde_saphyr::{Error as E, ExternalMessageSource};

    let location = err.location().filter(|l| l.line() > 0).map(|l| Location {
        line: l.line(),
        column: l.column(),
    });
    // An error met while replaying an alias comes wrapped; what matters is the error inside.
    let mut cause = err;
    while let E::AliasError { error, .. } | E::WithSnippet { error, .. } = cause {
        cause = error;
    }
    let too_complex = |message: String| SnapshotError::TooComplex {
        origin: origin.to_owned(),
        location,
        message,
    };
    let syntax = |message: String| SnapshotError::Syntax {
        origin: origin.to_owned(),
        format: "YAML",
        location,
        message,
    };
    match cause {
        E::Budget {
            breach: BudgetBreach::Documents { .. },
            ..
        } => too_complex(format!("more than {} documents", limits.max_objects)),
        E::Budget {
            breach: BudgetBreach::Depth { .. },
            ..
        } => too_complex(format!("nested deeper than {MAX_DEPTH} levels")),
        E::ExternalMessage { source, .. }
            if matches!(&**source, ExternalMessageSource::Parser(scan)
                if matches!(scan.kind(), ErrorKind::RecursionLimitExceeded)) =>
        {
            too_complex(format!("nested deeper than {MAX_DEPTH} levels"))
        }
        E::Budget { .. }
        | E::AliasReplayCounterOverflow { .. }
        | E::AliasReplayLimitExceeded { .. }
        | E::AliasExpansionLimitExceeded { .. }
        | E::AliasReplayStackDepthExceeded { .. } => too_complex(format!(
            // The budget grows with the input: only alias expansion can exceed it.
            "YAML aliases expand beyond what the input size allows ({})",
            without_position(cause)
        )),
        E::InvalidUtf8Input => syntax("not UTF-8".to_owned()),
        _ => syntax(without_position(cause)),
    }
}

/// serde-saphyr's message without the ` at line L, column C` it appends (we print our own
/// position) and without advice about its own options (the user cannot set them).
fn without_position(err: &serde_saphyr::Error) -> String {
    let mut message = err.to_string();
    if let Some(l) = err.location() {
        let suffix = format!(" at line {}, column {}", l.line(), l.column());
        if let Some(kept) = message.strip_suffix(&suffix) {
            message.truncate(kept.len());
        }
    }
    if let Some(advice) = message.find(", set DuplicateKeyPolicy") {
        message.truncate(advice);
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_budget_grows_with_the_input() {
        let small = yaml_options(1_000, &Limits::default()).budget.unwrap();
        let large = yaml_options(40_000_000, &Limits::default()).budget.unwrap();
        // Two events per input byte at most, four allowed.
        assert!(large.max_events >= 80_000_000);
        assert!(large.max_nodes >= 80_000_000);
        assert!(small.max_events < large.max_events);
        assert_eq!(large.max_depth, MAX_DEPTH);
        assert_eq!(large.max_documents, 200_001);
    }

    #[test]
    fn format_is_detected_from_the_first_byte() {
        let json = "\u{feff} \n {\"apiVersion\": \"v1\", \"kind\": \"Service\"}";
        let parsed = documents(json.as_bytes(), "x", &Limits::default()).unwrap();
        // JSON documents carry no location; YAML ones do.
        assert_eq!(parsed[0].location, None);
        let yaml = "apiVersion: v1\nkind: Service\n";
        let parsed = documents(yaml.as_bytes(), "x", &Limits::default()).unwrap();
        assert_eq!(parsed[0].location, Some(Location { line: 1, column: 1 }));
    }

    #[test]
    fn broken_json_reports_the_json_error() {
        let err = documents(b"{\"kind\": \"Service\",}", "x.json", &Limits::default())
            .err()
            .unwrap();
        assert!(
            matches!(err, SnapshotError::Syntax { format: "JSON", .. }),
            "{err:?}"
        );
    }
}
