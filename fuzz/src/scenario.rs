//! Whole scenarios built from the target objects of `input.rs` and the links of
//! `link_input.rs`: what the source already holds (Services, Endpoints, EndpointSlices and
//! Namespaces: ours, another link's, the federation's, Kubernetes' slice mirroring's, nobody's),
//! event sequences for the reconcile driver, and several links for federation.

use arbitrary::Arbitrary;
use svcmirror_core::labels::{
    CLUSTER_NAME, FEDERATED, HEADLESS_MIRROR_SVC_NAME, MIRRORED_SERVICE, REMOTE_SVC_FQ_NAME,
    SLICE_MANAGED_BY, SLICE_MANAGER, SLICE_SERVICE_NAME,
};
use svcmirror_core::model::{
    Endpoint, EndpointSlice, EndpointSlicePort, Endpoints, Namespace, Object, ObjectKey, Service,
};
use svcmirror_core::{Link, StringMap, TargetState};
use svcmirror_fake::FakeCluster;
use svcmirror_testkit::Step;

use crate::input::{Hostname, Label, NAMESPACES, Name, Ns, SPort, Subset, TargetService};
use crate::link_input::{LinkInput, SelectorInput};
use crate::shaped::{ExportInput, ShapedExport, target_of};

/// Input of the `translate` target: a link and the target cluster's objects.
#[derive(Debug, Clone, Arbitrary)]
pub struct TranslateInput {
    /// The link.
    pub link: LinkInput,
    /// The target's Services and their Endpoints.
    pub exports: Vec<ExportInput>,
}

impl TranslateInput {
    /// The target cluster's state, in input order.
    #[must_use]
    pub fn target(&self) -> TargetState {
        target_of(&self.exports)
    }
}

/// Whose an observed source object is.
#[derive(Debug, Clone, Copy, Arbitrary)]
pub enum Owner {
    /// This link's ownership labels.
    Ours,
    /// Another link's (`cluster-name: north`).
    OtherLink,
    /// No labels at all: someone else's object.
    Nobody,
    /// `mirrored-service: "false"` with our cluster name.
    MirroredFalse,
    /// Only `cluster-name: <ours>`.
    OnlyClusterName,
    /// Ours, as an endpoint mirror of some root.
    OursEndpointMirror,
    /// Our labels, copied by Kubernetes' EndpointSlice mirroring controller onto a slice it
    /// manages (`managed-by: endpointslicemirroring-controller.k8s.io`): not ours.
    CopiedByMirroring,
    /// The federation's (`svcmirror.io/federated`, no `cluster-name`).
    Federation,
}

/// An object already in the source cluster.
#[derive(Debug, Clone, Arbitrary)]
pub struct ObservedObject {
    ns: Ns,
    name: Name,
    /// Name it `<name>-<cluster>`, as a mirror would be.
    mirror_suffix: bool,
    owner: Owner,
    /// Which objects: a Service, its Endpoints, an EndpointSlice `<name>-ipv4` (Endpoints when
    /// none is chosen).
    service: bool,
    endpoints: bool,
    slice: bool,
    /// A headless Service (a stale root mirror when the export is now ClusterIP, or the reverse).
    headless: bool,
    /// `remote-svc-fq-name`: `[<hostname>.]<name>.<ns>.svc.cluster.local`, the export it serves.
    serves: Option<(Name, Option<Hostname>)>,
    ports: Vec<SPort>,
    subsets: Vec<Subset>,
    labels: Vec<Label>,
}

impl ObservedObject {
    /// The objects this stands for, as they would be created in the source.
    #[must_use]
    pub fn build(&self, link: &Link) -> Vec<Object> {
        let cluster = link.cluster_name().as_str();
        let mut name = self.name.build();
        if self.mirror_suffix {
            name = format!("{name}-{cluster}");
        }
        let ns = self.ns.build();
        let mut labels: StringMap = self.labels.iter().map(Label::build).collect();
        owner_labels(&mut labels, self.owner, cluster);
        let mut annotations = StringMap::new();
        if let Some((export, host)) = &self.serves {
            let host = host
                .as_ref()
                .map(|h| format!("{}.", h.build()))
                .unwrap_or_default();
            annotations.insert(
                REMOTE_SVC_FQ_NAME.into(),
                format!(
                    "{host}{}.{ns}.svc.{}",
                    export.build(),
                    link.cluster_domain()
                ),
            );
        }
        let mut out = Vec::new();
        if self.service {
            let mut svc = Service::new(ns, &name);
            svc.metadata.labels.clone_from(&labels);
            svc.metadata.annotations.clone_from(&annotations);
            if self.headless {
                svc.spec.cluster_ip = Some("None".into());
            }
            svc.spec.ports = self.ports.iter().take(4).map(SPort::build).collect();
            out.push(Object::Service(svc));
        }
        if self.endpoints || !(self.service || self.slice) {
            let mut ep = Endpoints::new(ns, &name);
            ep.metadata.labels.clone_from(&labels);
            ep.metadata.annotations.clone_from(&annotations);
            ep.subsets = self
                .subsets
                .iter()
                .take(3)
                .map(Subset::build_small)
                .collect();
            out.push(Object::Endpoints(ep));
        }
        if self.slice {
            let mut slice = EndpointSlice::new(ns, &format!("{name}-ipv4"), "IPv4");
            slice.metadata.labels = labels;
            slice
                .metadata
                .labels
                .insert(SLICE_SERVICE_NAME.into(), name.clone());
            if let Owner::Ours | Owner::OursEndpointMirror = self.owner {
                slice
                    .metadata
                    .labels
                    .insert(SLICE_MANAGED_BY.into(), SLICE_MANAGER.into());
            }
            slice.metadata.annotations = annotations;
            slice.endpoints = vec![Endpoint {
                addresses: vec!["172.18.0.4".into()],
                ..Endpoint::default()
            }];
            slice.ports = vec![EndpointSlicePort {
                name: Some("http".into()),
                protocol: Some("TCP".into()),
                port: Some(4143),
                app_protocol: None,
            }];
            out.push(Object::EndpointSlice(slice));
        }
        out
    }
}

fn owner_labels(labels: &mut StringMap, owner: Owner, cluster: &str) {
    let set = |labels: &mut StringMap, k: &str, v: &str| {
        labels.insert(k.to_owned(), v.to_owned());
    };
    match owner {
        Owner::Ours => {
            set(labels, MIRRORED_SERVICE, "true");
            set(labels, CLUSTER_NAME, cluster);
        }
        Owner::OtherLink => {
            set(labels, MIRRORED_SERVICE, "true");
            set(labels, CLUSTER_NAME, "north");
        }
        Owner::Nobody => {
            labels.remove(MIRRORED_SERVICE);
            labels.remove(CLUSTER_NAME);
        }
        Owner::MirroredFalse => {
            set(labels, MIRRORED_SERVICE, "false");
            set(labels, CLUSTER_NAME, cluster);
        }
        Owner::OnlyClusterName => {
            labels.remove(MIRRORED_SERVICE);
            set(labels, CLUSTER_NAME, cluster);
        }
        Owner::OursEndpointMirror => {
            set(labels, MIRRORED_SERVICE, "true");
            set(labels, CLUSTER_NAME, cluster);
            set(
                labels,
                HEADLESS_MIRROR_SVC_NAME,
                &format!("nginx-svc-{cluster}"),
            );
        }
        Owner::CopiedByMirroring => {
            set(labels, MIRRORED_SERVICE, "true");
            set(labels, CLUSTER_NAME, cluster);
            set(
                labels,
                SLICE_MANAGED_BY,
                "endpointslicemirroring-controller.k8s.io",
            );
        }
        Owner::Federation => {
            set(labels, MIRRORED_SERVICE, "true");
            set(labels, FEDERATED, "true");
            labels.remove(CLUSTER_NAME);
        }
    }
}

/// A Namespace already in the source.
#[derive(Debug, Clone, Copy, Arbitrary)]
pub struct ObservedNamespace {
    ns: Ns,
    owner: Owner,
}

/// A fake source with the `default` and `other` namespaces, then `namespaces` and `observed`
/// (what the API server refuses is simply not there).
#[must_use]
pub fn source_fake(
    link: &Link,
    namespaces: &[ObservedNamespace],
    observed: &[ObservedObject],
) -> FakeCluster {
    let mut fake = FakeCluster::default();
    let _ = fake.create_namespace("other");
    for n in namespaces.iter().take(4) {
        let mut ns = Namespace::new(n.ns.build());
        owner_labels(
            &mut ns.metadata.labels,
            n.owner,
            link.cluster_name().as_str(),
        );
        let _ = fake.create(Object::Namespace(ns));
    }
    for o in observed.iter().take(12) {
        for object in o.build(link) {
            let _ = fake.create(object);
        }
    }
    fake
}

/// Input of the `plan` target: a target (whose translation is the desired state), what the
/// source held before, and optionally the target this link mirrored before (so the source holds
/// live mirrors, with their `remote-svc-fq-name`, that newcomers may want).
#[derive(Debug, Clone, Arbitrary)]
pub struct PlanInput {
    /// The link and the target.
    pub translate: TranslateInput,
    /// Exports mirrored (to convergence) before the target changed to `translate`'s.
    pub previous: Vec<ExportInput>,
    /// Namespaces in the source before.
    pub namespaces: Vec<ObservedNamespace>,
    /// The source's objects before the plan.
    pub observed: Vec<ObservedObject>,
}

/// One step of a driver event sequence.
#[derive(Debug, Clone, Arbitrary)]
pub enum EventInput {
    /// Create or replace a target Service.
    Service(TargetService),
    /// Create or replace an Endpoints object (at most 3 small subsets).
    Endpoints(Ns, Name, Vec<Subset>),
    /// A Service and its Endpoints, as two events.
    Export(TargetService, Vec<Subset>),
    /// Delete a Service (of a known name).
    DeleteService(Ns, Name),
    /// Delete an Endpoints object.
    DeleteEndpoints(Ns, Name),
    /// A well-formed Service and its Endpoints, as two events (or one, without pods).
    Shaped(ShapedExport),
    /// The periodic resync.
    Resync,
    /// The watch restarted (the whole target handed over).
    Restart,
}

impl EventInput {
    fn steps(&self) -> Vec<Step> {
        let endpoints = |ns: &str, name: &str, subsets: &[Subset]| {
            let mut ep = Endpoints::new(ns, name);
            ep.subsets = subsets.iter().take(3).map(Subset::build_small).collect();
            Step::ApplyEndpoints(ep)
        };
        match self {
            Self::Service(s) => vec![Step::ApplyService(s.build())],
            Self::Endpoints(ns, name, subsets) => {
                vec![endpoints(ns.build(), &name.build(), subsets)]
            }
            Self::Export(s, subsets) => {
                let svc = s.build();
                let ep = endpoints(&svc.metadata.namespace, &svc.metadata.name, subsets);
                vec![Step::ApplyService(svc), ep]
            }
            Self::DeleteService(ns, name) => {
                vec![Step::DeleteService(ObjectKey::new(
                    ns.build(),
                    &name.build(),
                ))]
            }
            Self::DeleteEndpoints(ns, name) => {
                vec![Step::DeleteEndpoints(ObjectKey::new(
                    ns.build(),
                    &name.build(),
                ))]
            }
            Self::Shaped(s) => {
                let (svc, ep) = s.build();
                std::iter::once(Step::ApplyService(svc))
                    .chain(ep.map(Step::ApplyEndpoints))
                    .collect()
            }
            Self::Resync => vec![Step::Resync],
            Self::Restart => vec![Step::Restart],
        }
    }
}

/// Input of the `reconcile` target: a link, what the source holds, and a sequence of target
/// changes handed to the driver one event at a time.
#[derive(Debug, Clone, Arbitrary)]
pub struct ReconcileInput {
    /// The link.
    pub link: LinkInput,
    /// Namespaces in the source before.
    pub namespaces: Vec<ObservedNamespace>,
    /// The source's objects before.
    pub observed: Vec<ObservedObject>,
    /// The target changes (at most 12 events).
    pub events: Vec<EventInput>,
}

impl ReconcileInput {
    /// The driver steps.
    #[must_use]
    pub fn steps(&self) -> Vec<Step> {
        self.events
            .iter()
            .take(12)
            .flat_map(EventInput::steps)
            .collect()
    }
}

/// A target fake holding every namespace the generator names that the API server accepts.
#[must_use]
pub fn target_fake() -> FakeCluster {
    let mut fake = FakeCluster::default();
    for ns in NAMESPACES {
        if ns != "default" {
            let _ = fake.create_namespace(ns);
        }
    }
    fake
}

/// Input of the `federate` target: up to three links with their targets, maybe local members,
/// and what the source holds.
#[derive(Debug, Clone, Arbitrary)]
pub struct FederateInput {
    /// The links and what each target cluster holds.
    pub remotes: Vec<(LinkInput, Vec<ExportInput>)>,
    /// The local federated selector and the local cluster's Services.
    pub local: Option<(SelectorInput, Vec<ExportInput>)>,
    /// Namespaces in the source before.
    pub namespaces: Vec<ObservedNamespace>,
    /// The source's objects before (their owner's cluster is the first link's).
    pub observed: Vec<ObservedObject>,
}
