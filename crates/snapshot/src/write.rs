//! Objects → a `v1` `List` manifest that `kubectl apply -f` and `kubectl create -f` read back.

use std::borrow::Borrow;
use std::cell::Cell;
use std::io::{self, BufWriter, Write};

use serde::{Serialize, Serializer};
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
/// prints; the items are serialized straight from the iterator, one after the other.
#[derive(Serialize)]
#[serde(rename_all = "camelCase", bound = "Items<I>: Serialize")]
struct List<I> {
    api_version: &'static str,
    kind: &'static str,
    items: Items<I>,
}

/// The items of a [`List`], taken from an iterator as they are written (`Serialize` borrows, the
/// iterator must be consumed: hence the `Cell`). Serialized once.
struct Items<I>(Cell<Option<I>>);

impl<I> Serialize for Items<I>
where
    I: Iterator,
    I::Item: Borrow<Object>,
{
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let Some(items) = self.0.take() else {
            return Err(serde::ser::Error::custom(
                "the List's items were already written",
            ));
        };
        serializer.collect_seq(items.map(Item))
    }
}

/// An owned or borrowed [`Object`], serialized as the object.
struct Item<B>(B);

impl<B: Borrow<Object>> Serialize for Item<B> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.borrow().serialize(serializer)
    }
}

/// Writes `objects` as one `v1` `List` to `out`, in the given order.
///
/// `objects` is anything that yields objects or references to them — a slice, a `&Vec`, or an
/// iterator that moves each object out of a larger state, so that nothing but the object being
/// written is held twice. The output is streamed through a buffer (no intermediate `String` of
/// the whole manifest) and flushed before returning.
///
/// # Errors
/// What `out` returns, or [`io::ErrorKind::Other`] if an object cannot be serialized (which the
/// core's types never cause).
pub fn write_list<I>(objects: I, format: Format, out: &mut impl Write) -> io::Result<()>
where
    I: IntoIterator,
    I::Item: Borrow<Object>,
{
    let list = List {
        api_version: "v1",
        kind: "List",
        items: Items(Cell::new(Some(objects.into_iter()))),
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
