//! Bytes → documents: format detection, the YAML budget, and error translation.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_saphyr::{Budget, Spanned};

use crate::document::{Document, Shape};
use crate::entry::{Entry, UNNAMED};
use crate::error::InputBudget;
use crate::error::{Location, SnapshotError};
use crate::limits::Limits;
use svcmirror_core::Diagnostic;

/// Deepest nesting accepted, in YAML and in JSON (where it is serde_json's own recursion limit).
/// A Kubernetes List of Endpoints nests 8 levels; 128 leaves room for any real object while
/// keeping recursion, and the drop of what it built, far from the stack's end.
const MAX_DEPTH: usize = 128;

/// What one input document became, and where it starts when the parser says so.
pub(crate) struct Parsed {
    pub(crate) location: Option<Location>,
    pub(crate) document: Document,
    /// Where its `items` and their elements are, when one of them is not an object (found only
    /// then, by a second reading of the input).
    pub(crate) places: Places,
}

impl Parsed {
    fn holds_only_objects(&self) -> bool {
        !self
            .document
            .entries
            .iter()
            .any(|entry| matches!(entry, Entry::NotAnObject(_)))
    }

    /// Whether something will be reported by where it is: a value that is not an object, or
    /// an object without a name.
    fn needs_places(&self) -> bool {
        let unnamed = |d: &Diagnostic| d.object.name == UNNAMED;
        self.document.entries.iter().any(|entry| match entry {
            Entry::NotAnObject(_) => true,
            Entry::Invalid(d) => unnamed(d),
            Entry::Noted(_, notes) => notes.iter().any(unnamed),
            _ => false,
        })
    }
}

/// Where a document's objects are: the value of its `items`, and each element of that value (or
/// of the document, a top-level JSON array). Empty when unknown.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Places {
    pub(crate) items: Option<Location>,
    pub(crate) elements: Vec<Location>,
}

/// The UTF-8 byte order mark, skipped at the start of the input.
const BOM: &[u8] = b"\xEF\xBB\xBF";

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
    let input = Input {
        bom: bytes.starts_with(BOM),
        origin,
    };
    let bytes = bytes.strip_prefix(BOM).unwrap_or(bytes);
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        None => Ok(Vec::new()),
        Some(b'{' | b'[') => json(bytes, origin).or_else(|json_error| {
            // A YAML flow document (`{kind: Service, …}`) also starts with `{`: give it a
            // chance, but report the JSON error if it is not YAML either.
            // Anything short of usable objects means it was broken JSON after all.
            match json_error {
                SnapshotError::Syntax { .. } => match yaml(bytes, &input, limits) {
                    Ok(documents) if documents.iter().all(Parsed::holds_only_objects) => {
                        Ok(documents)
                    }
                    _ => Err(json_error),
                },
                other => Err(other),
            }
        }),
        Some(_) => yaml(bytes, &input, limits),
    }
    .map(|mut documents| {
        if documents.iter().any(Parsed::needs_places) {
            locate(bytes, &mut documents, limits);
        }
        documents
    })
}

/// Fills in [`Parsed::places`], by reading the input again (as JSON if it reads as JSON, else
/// as YAML): only done when something is to be reported by where it is, so it costs nothing
/// otherwise.
fn locate(bytes: &[u8], documents: &mut [Parsed], limits: &Limits) {
    if let [document] = documents
        && let Some(places) = json_places(bytes)
    {
        document.places = places;
        return;
    }
    let options = yaml_options(bytes.len(), limits);
    if let Ok(all) = serde_saphyr::from_slice_multiple_with_options::<YamlPlaces>(bytes, options)
        && all.len() == documents.len()
    {
        for (parsed, places) in documents.iter_mut().zip(all) {
            parsed.places = places.0;
        }
    }
}

/// Where `items` and its elements (or the elements of a top-level array) are, in a JSON text.
fn json_places(bytes: &[u8]) -> Option<Places> {
    use serde_json::value::RawValue;

    #[derive(Deserialize)]
    struct List<'a> {
        #[serde(borrow)]
        items: Option<&'a RawValue>,
    }
    let at = |raw: &RawValue| {
        let offset = (raw.get().as_ptr() as usize).checked_sub(bytes.as_ptr() as usize)?;
        location_of(bytes, offset)
    };
    let elements = |raw: &RawValue| -> Vec<Location> {
        serde_json::from_str::<Vec<&RawValue>>(raw.get())
            .map(|all| all.into_iter().filter_map(at).collect())
            .unwrap_or_default()
    };
    let top: &RawValue = serde_json::from_slice(bytes).ok()?;
    if top.get().starts_with('[') {
        return Some(Places {
            items: None,
            elements: elements(top),
        });
    }
    let items = serde_json::from_str::<List<'_>>(top.get()).ok()?.items?;
    Some(Places {
        items: at(items),
        elements: elements(items),
    })
}

/// Line and column (in characters, as editors count them) of a byte offset.
fn location_of(bytes: &[u8], offset: usize) -> Option<Location> {
    let before = bytes.get(..offset)?;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let column = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count()
        + 1;
    Some(Location {
        line: line as u64,
        column: column as u64,
    })
}

/// [`Places`] of a YAML document: a visitor that accepts any document, spans `items` and each of
/// its elements, and skips the rest.
struct YamlPlaces(Places);

impl<'de> Deserialize<'de> for YamlPlaces {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(PlacesVisitor).map(YamlPlaces)
    }
}

/// The elements of `items`, spanned.
struct Elements(Vec<Location>);

impl<'de> Deserialize<'de> for Elements {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ElementsVisitor).map(Elements)
    }
}

fn spanned_location(span: serde_saphyr::Location) -> Option<Location> {
    (span.line() > 0).then(|| Location {
        line: span.line(),
        column: span.column(),
    })
}

/// A visitor whose value is `Default` for anything but what `visit_map` / `visit_seq` look at.
macro_rules! default_for_the_rest {
    () => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok(Self::Value::default())
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok(Self::Value::default())
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok(Self::Value::default())
        }
        fn visit_i128<E: de::Error>(self, _: i128) -> Result<Self::Value, E> {
            Ok(Self::Value::default())
        }
        fn visit_u128<E: de::Error>(self, _: u128) -> Result<Self::Value, E> {
            Ok(Self::Value::default())
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok(Self::Value::default())
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Ok(Self::Value::default())
        }
        fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<Self::Value, E> {
            Ok(Self::Value::default())
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Self::Value::default())
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Self::Value::default())
        }
    };
}

struct PlacesVisitor;

impl<'de> Visitor<'de> for PlacesVisitor {
    type Value = Places;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML document")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Places, A::Error> {
        let mut places = Places::default();
        while let Some(key) = map.next_key::<serde_json::Value>()? {
            if key == "items" {
                let items = map.next_value::<Spanned<Elements>>()?;
                places = Places {
                    items: spanned_location(items.referenced),
                    elements: items.value.0,
                };
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(places)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Places, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Places::default())
    }

    default_for_the_rest!();
}

struct ElementsVisitor;

impl<'de> Visitor<'de> for ElementsVisitor {
    type Value = Vec<Location>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<Location>, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Vec::new())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Location>, A::Error> {
        let mut elements = Vec::new();
        while let Some(element) = seq.next_element::<Spanned<IgnoredAny>>()? {
            // An element without a known position ends the list: later ones would be misplaced.
            let Some(at) = spanned_location(element.referenced) else {
                break;
            };
            elements.push(at);
        }
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(elements)
    }

    default_for_the_rest!();
}

fn json(bytes: &[u8], origin: &str) -> Result<Vec<Parsed>, SnapshotError> {
    // The typed fast path first; on any trouble the reference reader below decides, so that
    // every outcome (objects, diagnostics, errors and their positions) stays the reference's.
    if let Ok(document) = Document::from_json_fast(bytes) {
        return Ok(vec![Parsed {
            location: None,
            document,
            places: Places::default(),
        }]);
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let document = Document::deserialize(&mut deserializer)
        .and_then(|document| deserializer.end().map(|()| document))
        .map_err(|err| json_error(&err, origin))?;
    Ok(vec![Parsed {
        location: None,
        document,
        places: Places::default(),
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
            budget: InputBudget::Depth,
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

/// The input as a whole, for error messages.
struct Input<'a> {
    /// Whether a byte order mark was skipped: byte offsets count it.
    bom: bool,
    /// The file name.
    origin: &'a str,
}

/// `bytes` is the input without its byte order mark.
fn yaml(bytes: &[u8], input: &Input<'_>, limits: &Limits) -> Result<Vec<Parsed>, SnapshotError> {
    let spanned: Vec<Spanned<Document>> =
        serde_saphyr::from_slice_multiple_with_options(bytes, yaml_options(bytes.len(), limits))
            .map_err(|err| yaml_error(&err, bytes, input, limits))?;
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
                    Document::single(Entry::NotAnObject("a sequence".into()))
                } else {
                    value
                };
                Parsed {
                    location,
                    document,
                    places: Places::default(),
                }
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

fn yaml_error(
    err: &serde_saphyr::Error,
    bytes: &[u8],
    input: &Input<'_>,
    limits: &Limits,
) -> SnapshotError {
    let origin = input.origin;
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
    let too_complex = |budget: InputBudget, message: String| SnapshotError::TooComplex {
        origin: origin.to_owned(),
        location,
        budget,
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
        } => too_complex(
            InputBudget::Documents,
            format!("more than {} documents", limits.max_objects),
        ),
        E::Budget {
            breach: BudgetBreach::Depth { .. },
            ..
        } => too_complex(
            InputBudget::Depth,
            format!("nested deeper than {MAX_DEPTH} levels"),
        ),
        E::ExternalMessage { source, .. }
            if matches!(&**source, ExternalMessageSource::Parser(scan)
                if matches!(scan.kind(), ErrorKind::RecursionLimitExceeded)) =>
        {
            too_complex(
                InputBudget::Depth,
                format!("nested deeper than {MAX_DEPTH} levels"),
            )
        }
        E::Budget { breach, .. } => too_complex(
            InputBudget::Expansion,
            budget_breach(breach, bytes.len(), limits),
        ),
        E::AliasReplayCounterOverflow { .. } => too_complex(
            InputBudget::Expansion,
            "YAML aliases (`*name`) expand to more than can be counted".to_owned(),
        ),
        E::AliasReplayLimitExceeded {
            max_total_replayed_events,
            ..
        } => too_complex(
            InputBudget::Expansion,
            format!(
                "YAML aliases (`*name`) replay more than {max_total_replayed_events} parser events \
             in all (the limit on alias expansion)"
            ),
        ),
        E::AliasExpansionLimitExceeded {
            max_expansions_per_anchor,
            ..
        } => too_complex(
            InputBudget::Expansion,
            format!(
                "one YAML anchor (`&name`) is expanded by aliases more than \
             {max_expansions_per_anchor} times (the limit per anchor)"
            ),
        ),
        E::AliasReplayStackDepthExceeded { max_depth, .. } => too_complex(
            InputBudget::Expansion,
            format!(
                "YAML aliases (`*name`) nest inside each other more than {max_depth} deep \
             (the limit on alias nesting)"
            ),
        ),
        E::InvalidUtf8Input => {
            let (location, message) = invalid_utf8(bytes, if input.bom { BOM.len() } else { 0 });
            SnapshotError::Syntax {
                origin: origin.to_owned(),
                format: "YAML",
                location,
                message,
            }
        }
        _ => syntax(without_position(cause)),
    }
}

/// Which YAML budget was exceeded, in words; the caps are those of [`yaml_options`]. Only alias
/// expansion can exceed the budgets that grow with the input, so most breaches are alias bombs.
fn budget_breach(
    breach: &serde_saphyr::budget::BudgetBreach,
    input_len: usize,
    limits: &Limits,
) -> String {
    use serde_saphyr::budget::BudgetBreach as B;

    let budget = yaml_options(input_len, limits).budget.unwrap_or_default();
    let expand = |what: String| {
        format!(
            "YAML aliases (`*name`) expand this {input_len}-byte input to more than {what}, the \
             limit for its size (4 per input byte, plus 65536)"
        )
    };
    match breach {
        B::Events { .. } => expand(format!("{} parser events", budget.max_events)),
        B::Nodes { .. } => expand(format!("{} values", budget.max_nodes)),
        B::ScalarBytes { .. } => expand(format!(
            "{} bytes of scalars",
            budget.max_total_scalar_bytes
        )),
        B::Aliases { .. } => format!(
            "more than {} YAML aliases (`*name`), the limit",
            budget.max_aliases
        ),
        B::Anchors { .. } => format!(
            "more than {} YAML anchors (`&name`), the limit",
            budget.max_anchors
        ),
        B::MergeKeys { .. } => format!(
            "more than {} YAML merge keys (`<<`), the limit",
            budget.max_merge_keys
        ),
        B::RecordedAnchorEvents { .. } => format!(
            "YAML anchors (`&name`) hold more than {} parser events for aliases to replay, \
             the limit on anchors",
            budget.max_recorded_anchor_events
        ),
        B::RecordedAnchorBytes { .. } => format!(
            "YAML anchors (`&name`) hold more than {} bytes for aliases to replay, the limit \
             on anchors",
            budget.max_recorded_anchor_bytes
        ),
        B::Documents { .. } => format!("more than {} documents", limits.max_objects),
        B::Depth { .. } => format!("nested deeper than {MAX_DEPTH} levels"),
        B::InputBytes { .. } => {
            format!("input larger than the limit of {} bytes", limits.max_bytes)
        }
        // The rest cannot happen with our options; say which budget it was, not its internals.
        other => format!("over the YAML parser's budget ({})", breach_name(other)),
    }
}

/// The budget's name, without the counters serde-saphyr's `Debug` shows.
fn breach_name(breach: &serde_saphyr::budget::BudgetBreach) -> String {
    let debug = format!("{breach:?}");
    let end = debug
        .find(|c: char| !c.is_ascii_alphanumeric())
        .unwrap_or(debug.len());
    debug[..end].to_owned()
}

/// Where the first byte that is not UTF-8 is (line and column as an editor counts them, and the
/// byte offset in the file, whose first `bom` bytes were skipped), and what is wrong with it.
fn invalid_utf8(text: &[u8], bom: usize) -> (Option<Location>, String) {
    let Err(err) = std::str::from_utf8(text) else {
        return (None, "not UTF-8".to_owned());
    };
    let valid = &text[..err.valid_up_to()];
    let line_start = valid.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let line = valid.iter().filter(|&&b| b == b'\n').count() + 1;
    let column = std::str::from_utf8(&valid[line_start..]).map_or(0, |s| s.chars().count()) + 1;
    let offset = bom + err.valid_up_to();
    let byte = text.get(err.valid_up_to()).copied().unwrap_or_default();
    let message = match err.error_len() {
        Some(_) => format!("byte 0x{byte:02X} (byte offset {offset}) is not UTF-8"),
        None => format!("the input ends inside a UTF-8 character (byte offset {offset})"),
    };
    (
        Some(Location {
            line: line as u64,
            column: column as u64,
        }),
        message,
    )
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

    #[test]
    fn invalid_utf8_names_line_column_and_byte() {
        let err = documents(
            b"apiVersion: v1\nkind: Service\nmetadata: {name: caf\xE9}\n",
            "x.yaml",
            &Limits::default(),
        )
        .err()
        .unwrap();
        assert_eq!(
            err.to_string(),
            "x.yaml:3:21: not valid YAML: byte 0xE9 (byte offset 49) is not UTF-8"
        );
        // After a byte order mark: the column as an editor shows it, the offset in the file.
        let err = documents(b"\xEF\xBB\xBFkind: \xC3", "x.yaml", &Limits::default())
            .err()
            .unwrap();
        assert_eq!(
            err.to_string(),
            "x.yaml:1:7: not valid YAML: the input ends inside a UTF-8 character (byte offset 9)"
        );
    }

    #[test]
    fn alias_bombs_are_refused_in_plain_words() {
        let mut yaml = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for (name, previous) in [("b", "a"), ("c", "b"), ("d", "c"), ("e", "d"), ("f", "e")] {
            let refs = vec![format!("*{previous}"); 10].join(", ");
            yaml.push_str(&format!("{name}: &{name} [{refs}]\n"));
        }
        let err = documents(yaml.as_bytes(), "bomb.yaml", &Limits::default())
            .err()
            .unwrap();
        let message = err.to_string();
        assert!(matches!(err, SnapshotError::TooComplex { .. }), "{err:?}");
        assert!(message.starts_with("bomb.yaml:"), "{message}");
        assert!(
            message.contains(": refused: YAML aliases (`*name`) expand this "),
            "{message}"
        );
        assert!(!message.contains("Events {"), "{message}");
    }
}
