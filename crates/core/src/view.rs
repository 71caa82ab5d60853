//! How the core reads its inputs (issue 13, STYLE "the inputs are the store"): four small
//! read-only traits that both forms of an input implement — the lists a file or a List call gives
//! ([`crate::TargetState`], [`crate::SourceState`]) and the keyed stores a controller keeps
//! ([`crate::TargetStore`], [`crate::SourceStore`]) — so [`crate::translate()`],
//! [`crate::plan()`], [`crate::federate()`] and [`crate::explain()`] read a store in place instead
//! of a `Vec` cloned out of it.
//!
//! [`TargetLookup`] and [`SourceLookup`] find one object by key (what
//! [`crate::translate_export`] needs); [`TargetView`] and [`SourceView`] add the walk over every
//! object of a kind, **in a defined order**: a list's own order, a store's key order. A store and
//! its snapshot (`TargetStore::state`, which lists by key) are therefore walked alike, and a
//! diagnostic's field path, which points into the input by position, is the same for both.
//!
//! The source is read as [`ObservedService`]/[`ObservedEndpoints`]/[`ObservedSlice`] (issue 13
//! item 3): a list hands out its full objects, a store its compact records
//! ([`crate::record`]).
//!
//! A leaf: it imports only the model and the observed forms.

use crate::model::{Endpoints, Namespace, ObjectKey, Service};
use crate::record::{ObservedEndpoints, ObservedService, ObservedSlice};

/// The target's objects, by key.
pub trait TargetLookup {
    /// The target Service at `key`.
    fn service(&self, key: &ObjectKey) -> Option<&Service>;
    /// The target Endpoints at `key`.
    fn endpoints(&self, key: &ObjectKey) -> Option<&Endpoints>;
}

/// The source's objects, by key: what a translation reads of it (SPEC §6.6 allocated ClusterIPs,
/// §7 names held and namespaces).
pub trait SourceLookup {
    /// The source Service at `key`.
    fn service(&self, key: &ObjectKey) -> Option<ObservedService<'_>>;
    /// The source Endpoints at `key`.
    fn endpoints(&self, key: &ObjectKey) -> Option<ObservedEndpoints<'_>>;
    /// Every source Namespace, when listed (`None`: unknown, every namespace exists).
    fn namespaces(&self) -> Option<Vec<Namespace>>;
}

/// The whole target, as [`crate::translate()`] walks it: every Service and every Endpoints, each
/// in the input's order (a list's own, a store's by key).
pub trait TargetView: TargetLookup {
    /// Every target Service, in order.
    fn each_service(&self) -> impl Iterator<Item = &Service>;
    /// Every target Endpoints, in order.
    fn each_endpoints(&self) -> impl Iterator<Item = &Endpoints>;
}

/// The whole observed source, as [`crate::translate()`] and [`crate::plan()`] walk it: every
/// object of each kind in the input's order, and the namespaces.
pub trait SourceView: SourceLookup {
    /// Every source Service, in order.
    fn each_service(&self) -> impl Iterator<Item = ObservedService<'_>>;
    /// Every source Endpoints, in order.
    fn each_endpoints(&self) -> impl Iterator<Item = ObservedEndpoints<'_>>;
    /// Every source EndpointSlice, in order (none when unknown: then no slice of ours is seen,
    /// so none is deleted).
    fn each_endpoint_slice(&self) -> impl Iterator<Item = ObservedSlice<'_>>;
    /// The names of the source's Namespaces, when listed (`None`: unknown, every namespace
    /// exists).
    fn namespace_names(&self) -> Option<impl Iterator<Item = &str>>;
    /// Whether `namespace` exists (always true when the namespaces are unknown).
    fn has_namespace(&self, namespace: &str) -> bool {
        self.namespace_names()
            .is_none_or(|mut names| names.any(|n| n == namespace))
    }
}

// A reference reads as what it refers to, so `translate(&link, &&target, …)` and iterator
// adaptors over `&TargetState` keep working (generics do not auto-deref).
impl<T: TargetLookup + ?Sized> TargetLookup for &T {
    fn service(&self, key: &ObjectKey) -> Option<&Service> {
        (**self).service(key)
    }
    fn endpoints(&self, key: &ObjectKey) -> Option<&Endpoints> {
        (**self).endpoints(key)
    }
}

impl<T: TargetView + ?Sized> TargetView for &T {
    fn each_service(&self) -> impl Iterator<Item = &Service> {
        (**self).each_service()
    }
    fn each_endpoints(&self) -> impl Iterator<Item = &Endpoints> {
        (**self).each_endpoints()
    }
}

impl<S: SourceLookup + ?Sized> SourceLookup for &S {
    fn service(&self, key: &ObjectKey) -> Option<ObservedService<'_>> {
        (**self).service(key)
    }
    fn endpoints(&self, key: &ObjectKey) -> Option<ObservedEndpoints<'_>> {
        (**self).endpoints(key)
    }
    fn namespaces(&self) -> Option<Vec<Namespace>> {
        (**self).namespaces()
    }
}

impl<S: SourceView + ?Sized> SourceView for &S {
    fn each_service(&self) -> impl Iterator<Item = ObservedService<'_>> {
        (**self).each_service()
    }
    fn each_endpoints(&self) -> impl Iterator<Item = ObservedEndpoints<'_>> {
        (**self).each_endpoints()
    }
    fn each_endpoint_slice(&self) -> impl Iterator<Item = ObservedSlice<'_>> {
        (**self).each_endpoint_slice()
    }
    fn namespace_names(&self) -> Option<impl Iterator<Item = &str>> {
        (**self).namespace_names()
    }
    fn has_namespace(&self, namespace: &str) -> bool {
        (**self).has_namespace(namespace)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A source of one Namespace and nothing else, relying on the trait's own `has_namespace`.
    struct OneNamespace(Option<Namespace>);

    impl SourceLookup for OneNamespace {
        fn service(&self, _: &ObjectKey) -> Option<ObservedService<'_>> {
            None
        }
        fn endpoints(&self, _: &ObjectKey) -> Option<ObservedEndpoints<'_>> {
            None
        }
        fn namespaces(&self) -> Option<Vec<Namespace>> {
            self.0.clone().map(|ns| vec![ns])
        }
    }

    impl SourceView for OneNamespace {
        fn each_service(&self) -> impl Iterator<Item = ObservedService<'_>> {
            std::iter::empty()
        }
        fn each_endpoints(&self) -> impl Iterator<Item = ObservedEndpoints<'_>> {
            std::iter::empty()
        }
        fn each_endpoint_slice(&self) -> impl Iterator<Item = ObservedSlice<'_>> {
            std::iter::empty()
        }
        fn namespace_names(&self) -> Option<impl Iterator<Item = &str>> {
            self.0
                .as_ref()
                .map(|ns| std::iter::once(ns.metadata.name.as_str()))
        }
    }

    /// SPEC §7 `NamespaceMissing` reads `has_namespace`: listed namespaces are the only ones
    /// that exist; unknown ones (`None`) all do — for any source, and through a reference.
    #[test]
    fn a_namespace_exists_when_listed_or_when_none_are_known() {
        let listed = OneNamespace(Some(Namespace::new("data")));
        assert!(listed.has_namespace("data"));
        assert!(!listed.has_namespace("default"));
        let by_ref = &listed;
        assert!(
            SourceView::has_namespace(&by_ref, "data"),
            "a reference reads alike"
        );
        assert!(OneNamespace(None).has_namespace("default"));
    }
}
