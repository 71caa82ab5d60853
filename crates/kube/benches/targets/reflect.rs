//! The memory comparison of the `targets` bench (issue 13 item 8, target 4): the objects as JSON
//! made once, before any count, so that each structure measured parses its own fresh copy and
//! shares nothing with the bench's objects; and kube-rs reflector stores of the same objects, the
//! reference a controller built on kube-runtime would hold.

use std::hash::Hash;

use k8s_openapi::api::core::v1 as k8s;
use kube::runtime::reflector::store::Writer;
use kube::runtime::watcher;
use serde::de::DeserializeOwned;
use svcmirror_core::{SourceState, TargetState};

/// The objects of the memory comparison as JSON (built before any count; each structure parses
/// its own fresh copy, so nothing is shared with the bench's own objects).
pub struct Inputs {
    target_services: Vec<u8>,
    target_endpoints: Vec<u8>,
    source_services: Vec<u8>,
    source_endpoints: Vec<u8>,
}

impl Inputs {
    pub fn new(target: &TargetState, source: &SourceState) -> Self {
        Self {
            target_services: json(&target.services),
            target_endpoints: json(&target.endpoints),
            source_services: json(&source.services),
            source_endpoints: json(&source.endpoints),
        }
    }

    /// The target and the source in the core's model (namespaces unknown: `None`, as for every
    /// structure compared).
    pub fn core(&self) -> (TargetState, SourceState) {
        let source = SourceState::new(parse(&self.source_services), parse(&self.source_endpoints));
        (self.core_target(), source)
    }

    pub fn core_target(&self) -> TargetState {
        TargetState::new(parse(&self.target_services), parse(&self.target_endpoints))
    }
}

fn json<T: serde::Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("serializable")
}

fn parse<T: DeserializeOwned>(json: &[u8]) -> T {
    serde_json::from_slice(json).expect("the bench's own JSON")
}

/// One kube-rs reflector store, fed as a watcher's initial list feeds it (`Init`, `InitApply` of
/// each object, `InitDone`); the objects handed in are dropped, the store keeps its copies.
fn reflect<K>(objects: Vec<K>) -> Writer<K>
where
    K: kube::Resource + Clone + 'static,
    K::DynamicType: Default + Eq + Hash + Clone,
{
    let mut writer = Writer::default();
    writer.apply_watcher_event(&watcher::Event::Init);
    for object in objects {
        writer.apply_watcher_event(&watcher::Event::InitApply(object));
    }
    writer.apply_watcher_event(&watcher::Event::InitDone);
    writer
}

/// A controller's reflectors of both clusters: the target's and the source's Services and
/// Endpoints.
pub type Reflectors = (
    Writer<k8s::Service>,
    Writer<k8s::Endpoints>,
    Writer<k8s::Service>,
    Writer<k8s::Endpoints>,
);

/// Reflectors of the same objects the core holds (converted through serde_json).
pub fn reflectors(inputs: &Inputs) -> Reflectors {
    (
        reflect(parse::<Vec<k8s::Service>>(&inputs.target_services)),
        reflect(parse::<Vec<k8s::Endpoints>>(&inputs.target_endpoints)),
        reflect(parse::<Vec<k8s::Service>>(&inputs.source_services)),
        reflect(parse::<Vec<k8s::Endpoints>>(&inputs.source_endpoints)),
    )
}

/// Reflectors of the target as the API server lists it (every field: managedFields, the
/// last-applied blob, targetRefs…) and of the same source.
pub fn reflectors_as_listed(world_json: &[u8], inputs: &Inputs) -> Reflectors {
    #[derive(serde::Deserialize)]
    struct RawList {
        items: Vec<serde_json::Value>,
    }
    let list: RawList = parse(world_json);
    let (mut services, mut endpoints) = (Vec::new(), Vec::new());
    for item in list.items {
        if item["kind"] == "Service" {
            services.push(serde_json::from_value::<k8s::Service>(item).expect("a Service"));
        } else {
            endpoints.push(serde_json::from_value::<k8s::Endpoints>(item).expect("an Endpoints"));
        }
    }
    (
        reflect(services),
        reflect(endpoints),
        reflect(parse::<Vec<k8s::Service>>(&inputs.source_services)),
        reflect(parse::<Vec<k8s::Endpoints>>(&inputs.source_endpoints)),
    )
}
