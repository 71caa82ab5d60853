//! Objects → a `v1` `List` manifest that `kubectl apply -f` and `kubectl create -f` read back.

use std::io::{self, BufWriter, Write};

use serde::Serialize;
use svcmirror_core::Object;

/// The manifest format [`write_list`] emits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// YAML, as `kubectl get -o yaml` writes it (block style, strings quoted when YAML 1.1 would
    /// read them as something else: `"true"`, `"yes"`, `"0755"`, `"1_000"`).
    Yaml,
    /// Pretty-printed JSON, as `kubectl get -o json` writes it.
    Json,
}

/// `{"apiVersion": "v1", "kind": "List", "items": [...]}`, without the `metadata: {}` kubectl
/// prints; the items are serialized straight from the slice, one after the other.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct List<'a> {
    api_version: &'static str,
    kind: &'static str,
    items: &'a [Object],
}

/// Writes `objects` as one `v1` `List` to `out`, in the given order.
///
/// The output is streamed through a buffer (no intermediate `String` of the whole manifest) and
/// flushed before returning.
///
/// # Errors
/// What `out` returns, or [`io::ErrorKind::Other`] if an object cannot be serialized (which the
/// core's types never cause).
pub fn write_list(objects: &[Object], format: Format, out: &mut impl Write) -> io::Result<()> {
    let list = List {
        api_version: "v1",
        kind: "List",
        items: objects,
    };
    write_value(&list, format, out)
}

/// Writes one object on its own, as `kubectl get KIND NAME -o yaml|json` prints it.
///
/// # Errors
/// As [`write_list`].
pub fn write_object(object: &Object, format: Format, out: &mut impl Write) -> io::Result<()> {
    write_value(object, format, out)
}

fn write_value(value: &impl Serialize, format: Format, out: &mut impl Write) -> io::Result<()> {
    let mut out = BufWriter::new(out);
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, value).map_err(io::Error::from)?;
            out.write_all(b"\n")?;
        }
        Format::Yaml => {
            let mut options = serde_saphyr::SerializerOptions::default();
            // Long or multi-line strings (annotations holding JSON) stay quoted scalars rather
            // than folded blocks: the plainest form every YAML reader agrees on.
            options.prefer_block_scalars = false;
            serde_saphyr::to_io_writer_with_options(&mut out, value, options).map_err(|err| {
                match err {
                    serde_saphyr::SerializeError::IO { error } => error,
                    other => io::Error::other(other.to_string()),
                }
            })?;
        }
    }
    out.flush()
}
