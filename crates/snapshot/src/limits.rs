//! The input budget of [`crate::parse()`] and [`crate::read()`]: a leaf the parser imports and the
//! crate root re-exports.

/// How much input [`parse`](crate::parse()) and [`read`](crate::read()) accept before refusing it.
///
/// The defaults hold a large cluster many times over (10 000 Services and 10 000 Endpoints of 10
/// addresses are about 40 MB of JSON) while keeping memory bounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Limits {
    /// Largest input, in bytes. Default: 256 MiB.
    pub max_bytes: u64,
    /// Most objects of any kind (skipped ones included), counting each List item and each
    /// single-object document; a YAML stream also may not hold more documents than this.
    /// Default: 200 000.
    pub max_objects: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_bytes: 256 * 1024 * 1024,
            max_objects: 200_000,
        }
    }
}

impl Limits {
    /// These limits with `max_bytes` changed.
    #[must_use]
    pub fn with_max_bytes(mut self, max_bytes: u64) -> Self {
        self.max_bytes = max_bytes;
        self
    }

    /// These limits with `max_objects` changed.
    #[must_use]
    pub fn with_max_objects(mut self, max_objects: usize) -> Self {
        self.max_objects = max_objects;
        self
    }
}
