//! SPEC §7: the observed source as [`crate::plan()`] reads it — every Service, Endpoints and
//! EndpointSlice by borrowed `(namespace, name)`, and the namespaces — indexed once per plan from
//! either form of the input ([`SourceView`]: a list's objects or a store's records), without
//! cloning an object.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::ObjectMeta;
use crate::record::{ObservedEndpoints, ObservedService, ObservedSlice};
use crate::view::SourceView;

/// The source as a plan reads it, indexed once by borrowed `(namespace, name)`: no object is
/// cloned and no key allocated, whether the source is a list or a store.
pub(crate) struct Observed<'s> {
    pub(crate) services: BTreeMap<(&'s str, &'s str), ObservedService<'s>>,
    pub(crate) endpoints: BTreeMap<(&'s str, &'s str), ObservedEndpoints<'s>>,
    pub(crate) slices: BTreeMap<(&'s str, &'s str), ObservedSlice<'s>>,
    /// `None` when the source's namespaces are unknown.
    pub(crate) namespaces: Option<BTreeSet<&'s str>>,
}

impl<'s> Observed<'s> {
    /// The Services and Endpoints of `source` that are `relevant`, and its namespaces; no
    /// EndpointSlices (see [`Observed::with_slices`]).
    pub(crate) fn of(
        source: &'s (impl SourceView + ?Sized),
        relevant: impl Fn(&ObjectMeta) -> bool,
    ) -> Self {
        Self {
            services: source
                .each_service()
                .filter(|s| relevant(s.metadata()))
                .map(|s| (s.metadata().key_ref(), s))
                .collect(),
            endpoints: source
                .each_endpoints()
                .filter(|e| relevant(e.metadata()))
                .map(|e| (e.metadata().key_ref(), e))
                .collect(),
            slices: BTreeMap::new(),
            namespaces: source.namespace_names().map(Iterator::collect),
        }
    }

    /// With every EndpointSlice of `source`.
    pub(crate) fn with_slices(mut self, source: &'s (impl SourceView + ?Sized)) -> Self {
        self.slices = source
            .each_endpoint_slice()
            .map(|e| (e.metadata().key_ref(), e))
            .collect();
        self
    }
}
