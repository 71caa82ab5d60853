//! One YAML or JSON document, read item by item into the core model.
//!
//! A document is read with a visitor that converts every Kubernetes object as soon as it has been
//! read, so a 10 000-item List never exists as one `serde_json::Value` tree: at most one item
//! does. Each object goes through `serde_json::Value` so that a wrong-typed field fails only that
//! object, with the field path of the fault (SPEC §8).

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::entry::{Entry, describe, entry_from_object, entry_from_value, kind_and_api_version};

/// How a document holds its objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// The document is one object (or one non-object, as an [`Entry::NotAnObject`]).
    Single,
    /// A `kind: List` (or `ServiceList`…): its `items`.
    List,
    /// A top-level sequence of objects (accepted in JSON only).
    Sequence,
}

/// One document: its shape and what each of its objects became, in input order.
#[derive(Debug)]
pub(crate) struct Document {
    pub(crate) shape: Shape,
    pub(crate) entries: Vec<Entry>,
    /// The document is a List whose `items` is not a sequence: the fault is that value, not
    /// the document.
    pub(crate) items_not_a_list: bool,
}

impl Document {
    pub(crate) fn single(entry: Entry) -> Self {
        Self {
            shape: Shape::Single,
            entries: vec![entry],
            items_not_a_list: false,
        }
    }

    fn list(shape: Shape, entries: Vec<Entry>) -> Self {
        Self {
            shape,
            entries,
            items_not_a_list: false,
        }
    }
}

impl<'de> Deserialize<'de> for Document {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(DocumentVisitor { fast: false })
    }
}

impl Document {
    /// Reads a JSON document from `bytes`, taking each List item as raw text and converting it
    /// straight into the model ([`fast::entry`](crate::fast::entry)). `Err` means only "not read
    /// this way": the caller reads the input again with [`Document::deserialize`], whose outcome
    /// (objects, diagnostics or error, with its position) is the reference.
    pub(crate) fn from_json_fast(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        let mut deserializer = serde_json::Deserializer::from_slice(bytes);
        let document = deserializer.deserialize_any(DocumentVisitor { fast: true })?;
        deserializer.end()?;
        Ok(document)
    }
}

/// Reads a document; with `fast` (JSON only), List items are read as raw JSON text and converted
/// by [`crate::fast::entry`], without a [`Value`] per item.
struct DocumentVisitor {
    fast: bool,
}

impl<'de> Visitor<'de> for DocumentVisitor {
    type Value = Document;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Kubernetes object or a List")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Document, A::Error> {
        let mut fields = Map::new();
        let mut items = None;
        while let Some(key) = map.next_key::<String>()? {
            if key == "items" {
                items = Some(map.next_value_seed(ItemsVisitor { fast: self.fast })?);
            } else {
                let value = map.next_value::<Value>()?;
                fields.insert(key, value);
            }
        }
        if let Err(reason) = kind_and_api_version(&fields) {
            return Ok(Document::single(Entry::NotAnObject(reason)));
        }
        let kind = fields.get("kind").and_then(Value::as_str).unwrap_or("");
        if kind.ends_with("List") {
            return Ok(match items {
                None => Document::list(Shape::List, Vec::new()),
                Some(Items::Entries(entries)) => Document::list(Shape::List, entries),
                Some(Items::Other(value)) => Document {
                    items_not_a_list: true,
                    ..Document::single(Entry::NotAnObject(format!(
                        "a {kind} whose items is {}, not a sequence",
                        describe(&value)
                    )))
                },
            });
        }
        // Not a List: `items` means nothing to the kinds we read, so it is not put back.
        Ok(Document::single(entry_from_object(fields)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Document, A::Error> {
        Ok(Document::list(Shape::Sequence, entries(seq, self.fast)?))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Document, E> {
        Ok(Document::single(Entry::NotAnObject("a boolean".into())))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Document, E> {
        Ok(Document::single(Entry::NotAnObject("a number".into())))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Document, E> {
        Ok(Document::single(Entry::NotAnObject("a number".into())))
    }

    fn visit_i128<E: de::Error>(self, _: i128) -> Result<Document, E> {
        Ok(Document::single(Entry::NotAnObject("a number".into())))
    }

    fn visit_u128<E: de::Error>(self, _: u128) -> Result<Document, E> {
        Ok(Document::single(Entry::NotAnObject("a number".into())))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Document, E> {
        Ok(Document::single(Entry::NotAnObject("a number".into())))
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Document, E> {
        Ok(Document::single(Entry::NotAnObject("a string".into())))
    }

    fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<Document, E> {
        Ok(Document::single(Entry::NotAnObject("binary data".into())))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Document, E> {
        Ok(Document::single(Entry::NotAnObject("null".into())))
    }

    fn visit_none<E: de::Error>(self) -> Result<Document, E> {
        self.visit_unit()
    }
}

/// The `items` field of a top-level mapping: converted on the fly when it is a sequence.
enum Items {
    Entries(Vec<Entry>),
    Other(Value),
}

impl<'de> de::DeserializeSeed<'de> for ItemsVisitor {
    type Value = Items;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Items, D::Error> {
        deserializer.deserialize_any(self)
    }
}

struct ItemsVisitor {
    fast: bool,
}

/// Every element of a sequence of objects, converted as soon as it is read.
fn entries<'de, A: SeqAccess<'de>>(mut seq: A, fast: bool) -> Result<Vec<Entry>, A::Error> {
    let mut entries = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
    if fast {
        while let Some(raw) = seq.next_element::<&'de serde_json::value::RawValue>()? {
            // Any error here sends the whole input back to the reference reader.
            entries.push(crate::fast::entry(raw.get()).map_err(de::Error::custom)?);
        }
    } else {
        while let Some(value) = seq.next_element::<Value>()? {
            entries.push(entry_from_value(value));
        }
    }
    Ok(entries)
}

/// Every non-sequence `items` is kept as a [`Value`] (it matters only to say what it was).
macro_rules! keep_as_value {
    ($($method:ident($ty:ty)),* $(,)?) => {$(
        fn $method<E: de::Error>(self, v: $ty) -> Result<Items, E> {
            Ok(Items::Other(Value::from(v)))
        }
    )*};
}

impl<'de> Visitor<'de> for ItemsVisitor {
    type Value = Items;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a sequence of Kubernetes objects")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Items, A::Error> {
        Ok(Items::Entries(entries(seq, self.fast)?))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Items, A::Error> {
        let value = Value::deserialize(de::value::MapAccessDeserializer::new(map))?;
        Ok(Items::Other(value))
    }

    keep_as_value!(
        visit_bool(bool),
        visit_i64(i64),
        visit_u64(u64),
        visit_f64(f64),
        visit_str(&str),
    );

    fn visit_unit<E: de::Error>(self) -> Result<Items, E> {
        Ok(Items::Other(Value::Null))
    }

    fn visit_none<E: de::Error>(self) -> Result<Items, E> {
        self.visit_unit()
    }
}
