//! [`KubeTarget`]: the target cluster (where Services are exported) over the Kubernetes API.

use std::collections::BTreeMap;

use futures::stream::{self, BoxStream, StreamExt};
use k8s_openapi::api::core::v1 as k8s;
use kube::api::{Api, ListParams};
use kube::runtime::{WatchStreamExt, watcher};
use svcmirror_backend::{ApiError, StatusEvent, TargetCluster, TargetEvent};
use svcmirror_core::model::{Endpoints, Kind, ObjectKey, Service};
use svcmirror_core::{LabelSelector, TargetState};

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
            watch_timeout_secs: Timeouts::default().watch_timeout_secs(),
        }
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
        let services = list_all(&svc_api, &svc_params, Kind::Service);
        let endpoints = list_all(&ep_api, &ep_params, Kind::Endpoints);
        let (services, endpoints) = futures::try_join!(services, endpoints)?;
        Ok(TargetState {
            services: services
                .into_iter()
                .map(convert::service_from_k8s)
                .collect(),
            endpoints: endpoints
                .into_iter()
                .map(convert::endpoints_from_k8s)
                .collect(),
        })
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
        let endpoints = watcher(
            Api::<k8s::Endpoints>::all(self.client.clone()),
            watcher::Config::default().timeout(self.watch_timeout_secs),
        )
        .default_backoff()
        .map(|r| {
            r.map(|e| Change::Endpoints(map_event(e, convert::endpoints_from_k8s)))
                .tag(Kind::Endpoints)
        });
        stream::select(services, endpoints)
            .scan(WatchState::default(), |state, item| {
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

/// The merge of both watchers into [`TargetEvent`]s: nothing until both kinds are listed once,
/// then `Restarted` with the whole state, then single changes (and `Restarted` on every re-list).
#[derive(Debug, Default)]
pub(crate) struct WatchState {
    services: KindState<Service>,
    endpoints: KindState<Endpoints>,
}

impl WatchState {
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
                Step::Applied(e) => Some(TargetEvent::EndpointsApplied(e)),
                Step::Deleted(k) => Some(TargetEvent::EndpointsDeleted(k)),
                Step::Quiet => return None,
            },
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
        self.services.listed && self.endpoints.listed
    }

    fn state(&self) -> TargetState {
        TargetState {
            services: self.services.current.values().cloned().collect(),
            endpoints: self.endpoints.current.values().cloned().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc(name: &str) -> Service {
        Service::new("default", name)
    }

    fn ep(name: &str) -> Endpoints {
        Endpoints::new("default", name)
    }

    #[test]
    fn first_restart_waits_for_both_initial_lists() {
        let mut state = WatchState::default();
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
            Some(TargetEvent::Restarted(TargetState {
                services: vec![svc("a")],
                endpoints: vec![ep("a")],
            }))
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
        let mut state = WatchState::default();
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
            Some(TargetEvent::Restarted(TargetState {
                services: vec![svc("b")],
                endpoints: vec![ep("a")],
            }))
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
