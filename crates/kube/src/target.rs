//! [`KubeTarget`]: the target cluster (where Services are exported) over the Kubernetes API.

use std::collections::BTreeMap;

use futures::stream::{self, BoxStream, StreamExt};
use k8s_openapi::api::core::v1 as k8s;
use k8s_openapi::api::discovery::v1 as discovery;
use kube::api::{Api, ListParams};
use kube::runtime::{WatchStreamExt, watcher};
use svcmirror_backend::{ApiError, StatusEvent, TargetCluster, TargetEvent};
use svcmirror_core::labels::SLICE_SERVICE_NAME;
use svcmirror_core::model::{EndpointSlice, Endpoints, Kind, ObjectKey, Service};
use svcmirror_core::{
    LabelSelector, TargetEndpoints, TargetState, endpoints_from_slices, target_endpoints,
};

use crate::client::Timeouts;
use crate::convert;
use crate::error::{map_error, map_status};
use crate::source::list_all;

/// The target cluster over kube-rs: lists and watches Services and Endpoints in all namespaces.
///
/// - **Services** are listed and watched with the link's export selector applied server-side
///   (`labelSelector=` rendered in kubectl syntax by [`LabelSelector`]'s `Display`), so the
///   controller never holds the target's other Services. The selector is sent as it is: an empty
///   selector selects every Service on the server, and the core then exports none of them (SPEC §2
///   is the core's business, not the transport's).
/// - **Endpoints** carry no export label, so *all* Endpoints are listed and watched. Restricting
///   them to the namespaces of exported Services would need one watch per namespace, restarted
///   whenever the set of exported namespaces changes, for a saving that only matters on very
///   large clusters; RBAC needs `list`/`watch` on endpoints cluster-wide either way.
/// - **EndpointSlices** (SPEC §12, with [`KubeTarget::with_target_endpoints`] `slices` or `auto`):
///   every slice with a `kubernetes.io/service-name` label is listed and watched, and a Service's
///   slices reach the driver as the one Endpoints view the core computes from them
///   ([`endpoints_from_slices`]); in `auto`, only for a Service without Endpoints. RBAC then
///   needs `list`/`watch` on `discovery.k8s.io` endpointslices.
///
/// The watch stream merges both watchers (kube-runtime's, with its default backoff) and yields
/// [`TargetEvent::Restarted`] with the complete state once both initial lists are in, and again
/// whenever either watcher re-lists (the other kind's part comes from what the stream last saw).
/// Watch errors are yielded as they happen; the watchers then resume on their own.
///
/// It writes one thing: status Events on exported Services
/// ([`TargetCluster::record_event`], `core/v1`, see the `events` module).
#[derive(Clone)]
pub struct KubeTarget {
    client: kube::Client,
    selector: String,
    endpoints_from: TargetEndpoints,
    /// `timeoutSeconds` of both watches: shorter than the client's read timeout (see
    /// [`Timeouts::watch_timeout_secs`]).
    watch_timeout_secs: u32,
}

impl std::fmt::Debug for KubeTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeTarget")
            .field("selector", &self.selector)
            .finish_non_exhaustive()
    }
}

impl KubeTarget {
    /// A target cluster talking through `client`, whose Services are filtered server-side by
    /// `export_selector` (the link's).
    #[must_use]
    pub fn new(client: kube::Client, export_selector: &LabelSelector) -> Self {
        Self {
            client,
            selector: export_selector.to_string(),
            endpoints_from: TargetEndpoints::Endpoints,
            watch_timeout_secs: Timeouts::default().watch_timeout_secs(),
        }
    }

    /// A target cluster for `link`: its export selector server-side when that is the only
    /// selector the link uses; with a remote-discovery or federated selector (SPEC §9; both set by
    /// default), every Service, as Linkerd's informer does — Kubernetes cannot OR two selectors,
    /// and the core picks each Service's mode.
    #[must_use]
    pub fn for_link(client: kube::Client, link: &svcmirror_core::Link) -> Self {
        Self {
            client,
            selector: server_selector(link),
            endpoints_from: TargetEndpoints::Endpoints,
            watch_timeout_secs: Timeouts::default().watch_timeout_secs(),
        }
    }

    /// Where the target's endpoints are read from (SPEC §12): Endpoints only (the default of
    /// [`KubeTarget::new`], Linkerd's), EndpointSlices only, or a Service's Endpoints when it has
    /// one and its slices otherwise.
    #[must_use]
    pub fn with_target_endpoints(mut self, from: TargetEndpoints) -> Self {
        self.endpoints_from = from;
        self
    }

    /// The same target with watches ended by the server before `timeouts.read` (the client's).
    #[must_use]
    pub fn with_timeouts(mut self, timeouts: &Timeouts) -> Self {
        self.watch_timeout_secs = timeouts.watch_timeout_secs();
        self
    }

    /// The label selector sent with every Service list and watch.
    #[must_use]
    pub fn label_selector(&self) -> &str {
        &self.selector
    }
}

#[async_trait::async_trait]
impl TargetCluster for KubeTarget {
    async fn list(&self) -> Result<TargetState, ApiError> {
        let (svc_api, ep_api) = (
            Api::<k8s::Service>::all(self.client.clone()),
            Api::<k8s::Endpoints>::all(self.client.clone()),
        );
        let (svc_params, ep_params) = (
            ListParams::default().labels(&self.selector),
            ListParams::default(),
        );
        let from = self.endpoints_from;
        let services = list_all(&svc_api, &svc_params, Kind::Service);
        let endpoints = async {
            if from == TargetEndpoints::Slices {
                return Ok(Vec::new());
            }
            list_all(&ep_api, &ep_params, Kind::Endpoints).await
        };
        let slices = async {
            if from == TargetEndpoints::Endpoints {
                return Ok(Vec::new());
            }
            let api = Api::<discovery::EndpointSlice>::all(self.client.clone());
            let params = ListParams::default().labels(SLICE_SERVICE_NAME);
            list_all(&api, &params, Kind::EndpointSlice).await
        };
        let (services, endpoints, slices) = futures::try_join!(services, endpoints, slices)?;
        let slices: Vec<EndpointSlice> = slices
            .into_iter()
            .map(convert::endpoint_slice_from_k8s)
            .collect();
        Ok(TargetState::new(
            services
                .into_iter()
                .map(convert::service_from_k8s)
                .collect(),
            target_endpoints(
                from,
                endpoints
                    .into_iter()
                    .map(convert::endpoints_from_k8s)
                    .collect(),
                &slices,
            ),
        ))
    }

    fn watch(&self) -> BoxStream<'static, Result<TargetEvent, ApiError>> {
        let services = watcher(
            Api::<k8s::Service>::all(self.client.clone()),
            watcher::Config::default()
                .labels(&self.selector)
                .timeout(self.watch_timeout_secs),
        )
        .default_backoff()
        .map(|r| {
            r.map(|e| Change::Service(map_event(e, convert::service_from_k8s)))
                .tag(Kind::Service)
        });
        let from = self.endpoints_from;
        let endpoints = (from != TargetEndpoints::Slices).then(|| {
            watcher(
                Api::<k8s::Endpoints>::all(self.client.clone()),
                watcher::Config::default().timeout(self.watch_timeout_secs),
            )
            .default_backoff()
            .map(|r| {
                r.map(|e| Change::Endpoints(map_event(e, convert::endpoints_from_k8s)))
                    .tag(Kind::Endpoints)
            })
            .boxed()
        });
        let slices = (from != TargetEndpoints::Endpoints).then(|| {
            watcher(
                Api::<discovery::EndpointSlice>::all(self.client.clone()),
                watcher::Config::default()
                    .labels(SLICE_SERVICE_NAME)
                    .timeout(self.watch_timeout_secs),
            )
            .default_backoff()
            .map(|r| {
                r.map(|e| Change::Slice(map_event(e, convert::endpoint_slice_from_k8s)))
                    .tag(Kind::EndpointSlice)
            })
            .boxed()
        });
        let endpoint_kinds = stream::select_all(endpoints.into_iter().chain(slices));
        stream::select(services, endpoint_kinds)
            .scan(WatchState::new(from), |state, item| {
                let out = match item {
                    Ok(change) => state.on_change(change).map(Ok),
                    Err((kind, err)) => Some(Err(map_watch_error(&err, kind))),
                };
                futures::future::ready(Some(out))
            })
            .filter_map(futures::future::ready)
            .boxed()
    }

    /// Creates a `core/v1` Event on the exported Service (refreshing it when the same report
    /// exists already): the target credentials need `create` and `patch` on `events`.
    async fn record_event(&self, event: &StatusEvent) -> Result<(), ApiError> {
        crate::events::record(&self.client, event).await
    }
}

/// A watcher error, tagged with the kind being watched.
type TaggedError = (Kind, watcher::Error);

trait TagKind<T> {
    fn tag(self, kind: Kind) -> Result<T, TaggedError>;
}

impl<T> TagKind<T> for Result<T, watcher::Error> {
    fn tag(self, kind: Kind) -> Result<T, TaggedError> {
        self.map_err(|e| (kind, e))
    }
}

fn map_watch_error(err: &watcher::Error, kind: Kind) -> ApiError {
    let key = ObjectKey::new("", "");
    match err {
        watcher::Error::InitialListFailed(e)
        | watcher::Error::WatchStartFailed(e)
        | watcher::Error::WatchFailed(e) => map_error(e, kind, &key),
        watcher::Error::WatchError(status) => map_status(status, kind, &key),
        watcher::Error::NoResourceVersion => ApiError::Unavailable(err.to_string()),
    }
}

/// A watcher event with the object already converted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Event<T> {
    Init,
    InitApply(T),
    InitDone,
    Apply(T),
    Delete(T),
}

fn map_event<K, T>(event: watcher::Event<K>, convert: fn(K) -> T) -> Event<T> {
    match event {
        watcher::Event::Init => Event::Init,
        watcher::Event::InitApply(k) => Event::InitApply(convert(k)),
        watcher::Event::InitDone => Event::InitDone,
        watcher::Event::Apply(k) => Event::Apply(convert(k)),
        watcher::Event::Delete(k) => Event::Delete(convert(k)),
    }
}

/// One event of either watcher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Change {
    Service(Event<Service>),
    Endpoints(Event<Endpoints>),
    Slice(Event<EndpointSlice>),
}

/// What one watcher has seen: the objects as of its last complete list plus later events, and
/// the list being received (between `Init` and `InitDone`).
#[derive(Debug)]
struct KindState<T> {
    current: BTreeMap<ObjectKey, T>,
    pending: Option<BTreeMap<ObjectKey, T>>,
    listed: bool,
}

impl<T> Default for KindState<T> {
    fn default() -> Self {
        Self {
            current: BTreeMap::new(),
            pending: None,
            listed: false,
        }
    }
}

/// What an event did to one kind's view.
enum Step<T> {
    /// A complete list just came in.
    Relisted,
    /// One object changed (outside a list).
    Applied(T),
    /// One object went away (outside a list).
    Deleted(ObjectKey),
    /// Nothing to report (an object of a list in progress).
    Quiet,
}

impl<T: Clone> KindState<T> {
    fn on_event(&mut self, event: Event<T>, key_of: fn(&T) -> ObjectKey) -> Step<T> {
        match event {
            Event::Init => {
                self.pending = Some(BTreeMap::new());
                Step::Quiet
            }
            Event::InitApply(obj) => {
                self.pending
                    .get_or_insert_with(BTreeMap::new)
                    .insert(key_of(&obj), obj);
                Step::Quiet
            }
            Event::InitDone => {
                self.current = self.pending.take().unwrap_or_default();
                self.listed = true;
                Step::Relisted
            }
            Event::Apply(obj) => {
                self.current.insert(key_of(&obj), obj.clone());
                Step::Applied(obj)
            }
            Event::Delete(obj) => {
                let key = key_of(&obj);
                self.current.remove(&key);
                Step::Deleted(key)
            }
        }
    }
}

/// The merge of the watchers into [`TargetEvent`]s: nothing until every watched kind is listed
/// once, then `Restarted` with the whole state, then single changes (and `Restarted` on every
/// re-list). A change to an Endpoints or a slice is reported as the Service's Endpoints view
/// ([`WatchState::endpoints_view`]).
#[derive(Debug, Default)]
pub(crate) struct WatchState {
    services: KindState<Service>,
    endpoints: KindState<Endpoints>,
    slices: KindState<EndpointSlice>,
    from: TargetEndpoints,
}

impl WatchState {
    /// The state of watchers reading endpoints as `from` says: a kind that is not watched counts
    /// as listed (and empty).
    pub(crate) fn new(from: TargetEndpoints) -> Self {
        let mut state = Self {
            from,
            ..Self::default()
        };
        state.endpoints.listed = from == TargetEndpoints::Slices;
        state.slices.listed = from == TargetEndpoints::Endpoints;
        state
    }

    /// The Service `key`'s endpoints as the driver sees them: its Endpoints (unless `from` is
    /// `slices`), else the view of its slices (unless `from` is `endpoints`); `None` when neither.
    fn endpoints_view(&self, key: &ObjectKey) -> Option<Endpoints> {
        if self.from != TargetEndpoints::Slices
            && let Some(ep) = self.endpoints.current.get(key)
        {
            return Some(ep.clone());
        }
        if self.from == TargetEndpoints::Endpoints {
            return None;
        }
        // Slices are keyed by their own name: look through the Service's namespace only.
        let start = ObjectKey::new(&key.namespace, "");
        let slices: Vec<&EndpointSlice> = self
            .slices
            .current
            .range(start..)
            .take_while(|(k, _)| k.namespace == key.namespace)
            .map(|(_, s)| s)
            .filter(|s| s.metadata.labels.get(SLICE_SERVICE_NAME) == Some(&key.name))
            .collect();
        (!slices.is_empty()).then(|| endpoints_from_slices(key, &slices))
    }

    /// The event telling the driver about the Service `key`'s endpoints now.
    fn endpoints_event(&self, key: ObjectKey) -> TargetEvent {
        match self.endpoints_view(&key) {
            Some(ep) => TargetEvent::EndpointsApplied(ep),
            None => TargetEvent::EndpointsDeleted(key),
        }
    }

    pub(crate) fn on_change(&mut self, change: Change) -> Option<TargetEvent> {
        let was_ready = self.ready();
        let event = match change {
            Change::Service(e) => match self.services.on_event(e, |s| s.metadata.key()) {
                Step::Relisted => None,
                Step::Applied(s) => Some(TargetEvent::ServiceApplied(s)),
                Step::Deleted(k) => Some(TargetEvent::ServiceDeleted(k)),
                Step::Quiet => return None,
            },
            Change::Endpoints(e) => match self.endpoints.on_event(e, |e| e.metadata.key()) {
                Step::Relisted => None,
                Step::Applied(e) => Some(self.endpoints_event(e.metadata.key())),
                Step::Deleted(k) => Some(self.endpoints_event(k)),
                Step::Quiet => return None,
            },
            Change::Slice(e) => {
                // The Service the slice belongs to, read before the slice is forgotten.
                let service = match &e {
                    Event::Apply(s) | Event::Delete(s) => s
                        .metadata
                        .labels
                        .get(SLICE_SERVICE_NAME)
                        .map(|name| ObjectKey::new(s.metadata.namespace(), name)),
                    _ => None,
                };
                match self.slices.on_event(e, |s| s.metadata.key()) {
                    Step::Relisted => None,
                    Step::Applied(_) | Step::Deleted(_) => Some(self.endpoints_event(service?)),
                    Step::Quiet => return None,
                }
            }
        };
        if !self.ready() {
            return None;
        }
        match event {
            Some(event) if was_ready => Some(event),
            // A re-list, or the moment the second kind's first list completed.
            _ => Some(TargetEvent::Restarted(self.state())),
        }
    }

    fn ready(&self) -> bool {
        self.services.listed && self.endpoints.listed && self.slices.listed
    }

    fn state(&self) -> TargetState {
        let slices: Vec<EndpointSlice> = self.slices.current.values().cloned().collect();
        TargetState::new(
            self.services.current.values().cloned().collect(),
            target_endpoints(
                self.from,
                self.endpoints.current.values().cloned().collect(),
                &slices,
            ),
        )
    }
}

/// What [`KubeTarget::for_link`] sends: the export selector alone, or nothing (every Service)
/// when the link also mirrors remote-discovery or federated members.
fn server_selector(link: &svcmirror_core::Link) -> String {
    if link.remote_discovery_selector().is_empty() && link.federated_selector().is_empty() {
        link.export_selector().to_string()
    } else {
        String::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SPEC §9: members of the other selectors must reach the core.
    #[test]
    fn server_selector_is_the_export_selector_only_when_it_is_the_only_one() {
        let builder = || {
            svcmirror_core::Link::builder("west").gateway_address("172.18.0.4".parse().expect("ip"))
        };
        let default = builder().build().expect("link");
        assert_eq!(server_selector(&default), "");
        let export_only = builder()
            .remote_discovery_selector(LabelSelector::default())
            .federated_selector(LabelSelector::default())
            .build()
            .expect("link");
        assert_eq!(
            server_selector(&export_only),
            "mirror.linkerd.io/exported=true"
        );
    }

    fn svc(name: &str) -> Service {
        Service::new("default", name)
    }

    fn ep(name: &str) -> Endpoints {
        Endpoints::new("default", name)
    }

    #[test]
    fn first_restart_waits_for_both_initial_lists() {
        let mut state = WatchState::new(TargetEndpoints::Endpoints);
        assert_eq!(state.on_change(Change::Service(Event::Init)), None);
        assert_eq!(
            state.on_change(Change::Service(Event::InitApply(svc("a")))),
            None
        );
        assert_eq!(state.on_change(Change::Service(Event::InitDone)), None);
        assert_eq!(state.on_change(Change::Endpoints(Event::Init)), None);
        assert_eq!(
            state.on_change(Change::Endpoints(Event::InitApply(ep("a")))),
            None
        );
        assert_eq!(
            state.on_change(Change::Endpoints(Event::InitDone)),
            Some(TargetEvent::Restarted(TargetState::new(
                vec![svc("a")],
                vec![ep("a")]
            )))
        );
        assert_eq!(
            state.on_change(Change::Service(Event::Apply(svc("b")))),
            Some(TargetEvent::ServiceApplied(svc("b")))
        );
        assert_eq!(
            state.on_change(Change::Endpoints(Event::Delete(ep("a")))),
            Some(TargetEvent::EndpointsDeleted(ObjectKey::new(
                "default", "a"
            )))
        );
    }

    #[test]
    fn relist_of_one_kind_restarts_with_the_other_kinds_last_view() {
        let mut state = WatchState::new(TargetEndpoints::Endpoints);
        for change in [
            Change::Service(Event::Init),
            Change::Service(Event::InitApply(svc("a"))),
            Change::Service(Event::InitDone),
            Change::Endpoints(Event::Init),
            Change::Endpoints(Event::InitDone),
            Change::Endpoints(Event::Apply(ep("a"))),
        ] {
            let _ = state.on_change(change);
        }
        // Services re-list (e.g. after a 410 Gone): "a" is gone, "b" appeared.
        assert_eq!(state.on_change(Change::Service(Event::Init)), None);
        assert_eq!(
            state.on_change(Change::Service(Event::InitApply(svc("b")))),
            None
        );
        assert_eq!(
            state.on_change(Change::Service(Event::InitDone)),
            Some(TargetEvent::Restarted(TargetState::new(
                vec![svc("b")],
                vec![ep("a")]
            )))
        );
    }

    fn slice(name: &str, service: &str, ip: &str) -> EndpointSlice {
        let mut slice = EndpointSlice::new("default", name, "IPv4");
        slice
            .metadata
            .labels
            .insert(SLICE_SERVICE_NAME.into(), service.into());
        slice.endpoints = vec![svcmirror_core::model::Endpoint {
            addresses: vec![ip.into()],
            ..Default::default()
        }];
        slice
    }

    fn view(service: &str, slices: &[&EndpointSlice]) -> Endpoints {
        endpoints_from_slices(&ObjectKey::new("default", service), slices)
    }

    /// SPEC §12 (auto): a Service without Endpoints is read from its slices, in the first state
    /// and on every change of one of its slices; an Endpoints, once there, wins.
    #[test]
    fn auto_reads_a_services_slices_when_it_has_no_endpoints() {
        let mut state = WatchState::new(TargetEndpoints::Auto);
        let a1 = slice("a-1", "a", "10.0.0.1");
        for change in [
            Change::Service(Event::Init),
            Change::Service(Event::InitApply(svc("a"))),
            Change::Service(Event::InitDone),
            Change::Endpoints(Event::Init),
            Change::Endpoints(Event::InitDone),
            Change::Slice(Event::Init),
            Change::Slice(Event::InitApply(a1.clone())),
        ] {
            assert_eq!(state.on_change(change), None);
        }
        assert_eq!(
            state.on_change(Change::Slice(Event::InitDone)),
            Some(TargetEvent::Restarted(TargetState::new(
                vec![svc("a")],
                vec![view("a", &[&a1])]
            )))
        );
        let a2 = slice("a-2", "a", "10.0.0.2");
        assert_eq!(
            state.on_change(Change::Slice(Event::Apply(a2.clone()))),
            Some(TargetEvent::EndpointsApplied(view("a", &[&a1, &a2])))
        );
        assert_eq!(
            state.on_change(Change::Slice(Event::Delete(a1.clone()))),
            Some(TargetEvent::EndpointsApplied(view("a", &[&a2])))
        );
        // An Endpoints appears: it is what the driver sees from now on, slices or not.
        assert_eq!(
            state.on_change(Change::Endpoints(Event::Apply(ep("a")))),
            Some(TargetEvent::EndpointsApplied(ep("a")))
        );
        assert_eq!(
            state.on_change(Change::Slice(Event::Apply(a1.clone()))),
            Some(TargetEvent::EndpointsApplied(ep("a")))
        );
        // It goes: the slices speak again; they go: nothing is left.
        assert_eq!(
            state.on_change(Change::Endpoints(Event::Delete(ep("a")))),
            Some(TargetEvent::EndpointsApplied(view("a", &[&a1, &a2])))
        );
        let _ = state.on_change(Change::Slice(Event::Delete(a1)));
        assert_eq!(
            state.on_change(Change::Slice(Event::Delete(a2))),
            Some(TargetEvent::EndpointsDeleted(ObjectKey::new(
                "default", "a"
            )))
        );
    }

    /// SPEC §12 (slices): Endpoints are not watched, so the slices' first list is enough.
    #[test]
    fn slices_mode_needs_no_endpoints_list() {
        let mut state = WatchState::new(TargetEndpoints::Slices);
        let _ = state.on_change(Change::Service(Event::Init));
        let _ = state.on_change(Change::Service(Event::InitDone));
        let _ = state.on_change(Change::Slice(Event::Init));
        assert_eq!(
            state.on_change(Change::Slice(Event::InitDone)),
            Some(TargetEvent::Restarted(TargetState::default()))
        );
    }

    #[test]
    fn watch_errors_map_to_api_errors() {
        let status = kube::core::Status::failure("too old", "Expired").with_code(410);
        let err = watcher::Error::WatchError(status.boxed());
        assert!(matches!(
            map_watch_error(&err, Kind::Service),
            ApiError::Unavailable(_)
        ));
        let err = watcher::Error::NoResourceVersion;
        assert!(matches!(
            map_watch_error(&err, Kind::Endpoints),
            ApiError::Unavailable(_)
        ));
    }
}
