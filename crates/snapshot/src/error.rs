//! Why an input could not be used at all. A malformed *object* is not an error: it becomes a
//! [`svcmirror_core::Diagnostic`] and the rest of the input is kept (SPEC §8).

use std::fmt;

/// A position in the input, 1-based, as editors show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Location {
    /// Line, starting at 1.
    pub line: u64,
    /// Column, starting at 1.
    pub column: u64,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// Formats `origin` or `origin:line:column`, the way compilers name a place in a file.
struct At<'a>(&'a str, Option<Location>);

impl fmt::Display for At<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.1 {
            Some(location) => write!(f, "{}:{location}", self.0),
            None => f.write_str(self.0),
        }
    }
}

/// Why a snapshot could not be read. Every message starts with the origin (the file name, or
/// `<stdin>`) and, when known, `:line:column`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotError {
    /// The file could not be read.
    #[error("{origin}: cannot read: {source}")]
    Io {
        /// The file name.
        origin: String,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The input is neither YAML nor JSON.
    #[error("{}: not valid {format}: {message}", At(origin, *location))]
    Syntax {
        /// The file name.
        origin: String,
        /// `YAML` or `JSON`: what the input was read as.
        format: &'static str,
        /// Where the parser gave up.
        location: Option<Location>,
        /// What the parser said.
        message: String,
    },
    /// The input holds no document at all (only whitespace, comments or `---`).
    #[error("{origin}: empty input: no YAML or JSON document")]
    Empty {
        /// The file name.
        origin: String,
    },
    /// A document (or a List item) is not a Kubernetes object: a scalar, a sequence, or a mapping
    /// without `kind` or `apiVersion`. Nothing in such an input can be trusted to mean what the
    /// user thinks, so the whole input is refused.
    #[error("{}: {position} is not a Kubernetes object: {reason}", At(origin, *location))]
    NotAnObject {
        /// The file name.
        origin: String,
        /// Where the document starts, when known.
        location: Option<Location>,
        /// Which document or item, e.g. `document 2` or `document 1, items[3]`.
        position: String,
        /// What was found instead, e.g. `a mapping without kind`.
        reason: String,
    },
    /// The input is larger than [`Limits::max_bytes`](crate::Limits::max_bytes).
    #[error("{origin}: input larger than the limit of {max_bytes} bytes")]
    TooLarge {
        /// The file name.
        origin: String,
        /// The limit that was exceeded.
        max_bytes: u64,
    },
    /// The input holds more than [`Limits::max_objects`](crate::Limits::max_objects) objects.
    #[error("{origin}: more than the limit of {max_objects} objects")]
    TooManyObjects {
        /// The file name.
        origin: String,
        /// The limit that was exceeded.
        max_objects: usize,
    },
    /// The input was refused before it could exhaust memory or stack: YAML aliases expanding to
    /// too much ("billion laughs"), nesting deeper than 128 levels, or too many documents.
    #[error("{}: refused: {message}", At(origin, *location))]
    TooComplex {
        /// The file name.
        origin: String,
        /// Where the parser stopped.
        location: Option<Location>,
        /// Which budget was exceeded: what a caller branches on.
        budget: InputBudget,
        /// Which budget was exceeded, in words.
        message: String,
    },
}

/// Which budget a [`SnapshotError::TooComplex`] input exceeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum InputBudget {
    /// A YAML stream of more documents than [`Limits::max_objects`](crate::Limits::max_objects)
    /// (the same limit as a List's items, so the same flag raises it).
    Documents,
    /// Nested deeper than the reader allows (JSON or YAML).
    Depth,
    /// YAML aliases and anchors expanding to too much ("billion laughs"), or too many of them.
    Expansion,
}

impl SnapshotError {
    /// Where in the input the error is, when known.
    #[must_use]
    pub fn location(&self) -> Option<Location> {
        match self {
            Self::Syntax { location, .. }
            | Self::NotAnObject { location, .. }
            | Self::TooComplex { location, .. } => *location,
            _ => None,
        }
    }
}
