//! SPEC §7: the field groups of each kind that `plan` compares and writes, named once, in `plan`'s
//! order and words (an update's `changed`). Whether a group differs is found three ways — field by
//! field against a full object (`changes`), by digests (`fingerprint`), against a store's record
//! (`template`'s `record_changes`) — and each way names what it found here, so the three cannot
//! drift apart. A leaf: it imports nothing.

/// Which groups of a Service differ.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ServiceGroups {
    pub(crate) labels: bool,
    pub(crate) annotations: bool,
    pub(crate) ports: bool,
    /// The observed Service holds a selector (a mirror never has one: always removed).
    pub(crate) selector: bool,
    pub(crate) type_: bool,
}

impl ServiceGroups {
    /// The names of the groups that differ, in order.
    pub(crate) fn named(self) -> Vec<&'static str> {
        named(&[
            ("metadata.labels", self.labels),
            ("metadata.annotations", self.annotations),
            ("spec.ports", self.ports),
            ("spec.selector", self.selector),
            ("spec.type", self.type_),
        ])
    }
}

/// Which groups of an Endpoints object differ.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EndpointsGroups {
    pub(crate) labels: bool,
    pub(crate) annotations: bool,
    pub(crate) subsets: bool,
}

impl EndpointsGroups {
    /// The names of the groups that differ, in order.
    pub(crate) fn named(self) -> Vec<&'static str> {
        named(&[
            ("metadata.labels", self.labels),
            ("metadata.annotations", self.annotations),
            ("subsets", self.subsets),
        ])
    }
}

/// Which groups of an EndpointSlice differ.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SliceGroups {
    pub(crate) labels: bool,
    pub(crate) annotations: bool,
    pub(crate) address_type: bool,
    pub(crate) endpoints: bool,
    pub(crate) ports: bool,
}

impl SliceGroups {
    /// The names of the groups that differ, in order.
    pub(crate) fn named(self) -> Vec<&'static str> {
        named(&[
            ("metadata.labels", self.labels),
            ("metadata.annotations", self.annotations),
            ("addressType", self.address_type),
            ("endpoints", self.endpoints),
            ("ports", self.ports),
        ])
    }
}

fn named(groups: &[(&'static str, bool)]) -> Vec<&'static str> {
    groups
        .iter()
        .filter(|(_, differs)| *differs)
        .map(|(name, _)| *name)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names and their order are `plan`'s (an update's `changed`, SPEC §7).
    #[test]
    fn groups_are_named_in_plan_order() {
        let all = ServiceGroups {
            labels: true,
            annotations: true,
            ports: true,
            selector: true,
            type_: true,
        };
        assert_eq!(
            all.named(),
            [
                "metadata.labels",
                "metadata.annotations",
                "spec.ports",
                "spec.selector",
                "spec.type"
            ]
        );
        let some = EndpointsGroups {
            labels: false,
            annotations: true,
            subsets: true,
        };
        assert_eq!(some.named(), ["metadata.annotations", "subsets"]);
        let none = SliceGroups {
            labels: false,
            annotations: false,
            address_type: false,
            endpoints: false,
            ports: false,
        };
        assert!(none.named().is_empty());
    }
}
