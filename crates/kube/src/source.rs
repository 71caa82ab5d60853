//! [`KubeSource`]: the source cluster (where mirrors are written) over the Kubernetes API.

use async_trait::async_trait;
use k8s_openapi::api::core::v1 as k8s;
use k8s_openapi::api::discovery::v1 as discovery;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use serde::Serialize;
use serde::de::DeserializeOwned;
use svcmirror_backend::{ApiError, Precondition, SourceCluster};
use svcmirror_core::SourceState;
use svcmirror_core::model::{Kind, Namespace, Object, ObjectKey};

use crate::convert;
use crate::error::{is_field_manager_conflict, map_error};
use crate::fence::Fence;
use crate::write_fields::{FIELD_MANAGER, strip_server_fields};

/// Page size of every list request.
pub(crate) const PAGE_SIZE: u32 = 500;

/// The source cluster over kube-rs: lists, reads and writes Services, Endpoints,
/// `discovery.k8s.io/v1` EndpointSlices and Namespaces.
///
/// - **list** reads every Service, Endpoints and EndpointSlice of the cluster (all namespaces,
///   paged by 500) and every Namespace. Listing *all* of them, not only the ones labelled as
///   mirrors, is deliberate: the core must see a foreign object that holds a name a mirror would
///   take to report `NameConflict` instead of planning a write. Slices are listed whatever the
///   link's endpoints API, so switching a link from slices back to Endpoints finds (and the core
///   deletes) the slices it wrote. RBAC: `list` on services, endpoints, endpointslices and
///   namespaces cluster-wide. **Confined** ([`with_namespaces`](Self::with_namespaces), issue 14
///   least privilege): Services, Endpoints and EndpointSlices are listed in those namespaces only,
///   and each of those Namespaces is read by name, which a RoleBinding in that namespace allows
///   (`deploy/rbac-source-namespaced.yaml`); exports in other namespaces then find no namespace
///   and are reported `NamespaceMissing` by the core.
/// - **create** is a `POST` (field manager [`FIELD_MANAGER`]): the API server refuses it with
///   `AlreadyExists` when anything holds the name, atomically, so a create never adopts an object a
///   third party made between our list and our write (issue 14: a GET-then-apply could). The POST
///   records our fields under an `Update` entry of `managedFields`, which a later apply by the same
///   manager cannot prune (a dropped label or port would stay forever); so the create then hands
///   those fields to our `Apply` entry with one merge patch of `metadata.managedFields`,
///   conditional on the resourceVersion the POST returned (client-go's `csaupgrade` does the same
///   for `kubectl apply --server-side`). If that second request fails the object is still created
///   and ours; only pruning of fields it later drops is affected, and the failure is logged.
/// - **update** is a server-side apply of the whole object carrying `metadata.resourceVersion`,
///   so a stale object is rejected with `Conflict` (optimistic concurrency) rather than merged.
/// - Every apply uses field manager [`FIELD_MANAGER`]; a field owned by another manager with a
///   different value is a `Conflict`, never clobbered — except on an object carrying a link's
///   ownership labels, whose update is re-applied with `force` at the same resourceVersion
///   (issue 12: adopting mirrors Linkerd's service mirror wrote, in place).
/// - **delete** passes the uid/resourceVersion [`Precondition`] to the server.
/// - **Fenced** ([`with_fence`](Self::with_fence)): every create, update and delete is refused
///   with [`ApiError::Fenced`] before it is sent unless the leader lease is held with margin, and
///   is cut off (`Timeout`: outcome unknown) when the renew deadline passes while it is in flight.
#[derive(Clone)]
pub struct KubeSource {
    client: kube::Client,
    fence: Option<Fence>,
    namespaces: Option<Vec<String>>,
}

impl std::fmt::Debug for KubeSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeSource").finish_non_exhaustive()
    }
}

impl KubeSource {
    /// A source cluster talking through `client`.
    #[must_use]
    pub fn new(client: kube::Client) -> Self {
        Self {
            client,
            fence: None,
            namespaces: None,
        }
    }

    /// The same source whose writes are allowed only while `fence` is open (the leader lease is
    /// held with margin; see [`crate::fence`]).
    #[must_use]
    pub fn with_fence(mut self, fence: Fence) -> Self {
        self.fence = Some(fence);
        self
    }

    /// The same source confined to `namespaces`: lists read only those (see the type's docs).
    #[must_use]
    pub fn with_namespaces(mut self, namespaces: impl IntoIterator<Item = String>) -> Self {
        let mut namespaces: Vec<String> = namespaces.into_iter().collect();
        namespaces.sort();
        namespaces.dedup();
        self.namespaces = Some(namespaces);
        self
    }

    /// Runs `write` if the fence allows it, cut off at the renew deadline.
    async fn fenced<T>(
        &self,
        kind: Kind,
        key: &ObjectKey,
        write: impl std::future::Future<Output = Result<T, ApiError>>,
    ) -> Result<T, ApiError> {
        let Some(fence) = &self.fence else {
            return write.await;
        };
        let remaining = fence.check()?;
        tokio::time::timeout(remaining, write)
            .await
            .unwrap_or_else(|_| {
                Err(ApiError::Timeout(format!(
                    "{kind} {key}: cut off at the leader lease's renew deadline; its outcome is unknown"
                )))
            })
    }

    /// Lists `K` in every namespace, or in each confined namespace.
    async fn list_kind<K>(&self, kind: Kind) -> Result<Vec<K>, ApiError>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>
            + Clone
            + DeserializeOwned
            + std::fmt::Debug,
        <K as kube::Resource>::DynamicType: Default,
    {
        let params = ListParams::default();
        let Some(namespaces) = &self.namespaces else {
            return list_all(&Api::<K>::all(self.client.clone()), &params, kind).await;
        };
        let mut items = Vec::new();
        for ns in namespaces {
            items.extend(list_all(&self.namespaced::<K>(ns), &params, kind).await?);
        }
        Ok(items)
    }

    /// Every Namespace, or each confined namespace that exists (read by name).
    async fn list_namespaces(&self) -> Result<Vec<k8s::Namespace>, ApiError> {
        let api = Api::<k8s::Namespace>::all(self.client.clone());
        let Some(namespaces) = &self.namespaces else {
            return list_all(&api, &ListParams::default(), Kind::Namespace).await;
        };
        let mut items = Vec::new();
        for ns in namespaces {
            let found = api
                .get_opt(ns)
                .await
                .map_err(|e| map_error(&e, Kind::Namespace, &ObjectKey::new("", ns)))?;
            items.extend(found);
        }
        Ok(items)
    }

    fn namespaced<K>(&self, namespace: &str) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        <K as kube::Resource>::DynamicType: Default,
    {
        Api::namespaced(self.client.clone(), namespace)
    }

    async fn apply<K>(
        &self,
        api: &Api<K>,
        kind: Kind,
        key: &ObjectKey,
        body: &K,
    ) -> Result<K, ApiError>
    where
        K: kube::Resource + Clone + DeserializeOwned + Serialize + std::fmt::Debug,
    {
        let first = api
            .patch(
                &key.name,
                &PatchParams::apply(FIELD_MANAGER),
                &Patch::Apply(body),
            )
            .await;
        match first {
            // Issue 12 (migration from Linkerd's service mirror): Linkerd writes its mirrors with
            // Update, so its field manager holds their fields and our first apply of a changed
            // value is a field-manager conflict. The object is ours by its labels (the core only
            // plans updates of objects carrying this link's ownership labels, and the body
            // carries them), and the body's resourceVersion still makes the API server refuse a
            // forced apply to any other version than the one judged ours: take the fields over
            // in place — never delete and re-create (no traffic gap), never for a stranger.
            Err(kube::Error::Api(status))
                if is_field_manager_conflict(&status)
                    && carries_ownership_labels(body.meta())
                    && body.meta().resource_version.is_some() =>
            {
                tracing::info!(
                    kind = %kind,
                    object = %key,
                    "taking over fields held by another field manager (a mirror written by \
                     Linkerd's service mirror): {}",
                    status.message
                );
                api.patch(
                    &key.name,
                    &PatchParams::apply(FIELD_MANAGER).force(),
                    &Patch::Apply(body),
                )
                .await
                .map_err(|e| map_error(&e, kind, key))
            }
            other => other.map_err(|e| map_error(&e, kind, key)),
        }
    }

    /// Writes `object` with server-side apply, carrying its resourceVersion (an update).
    async fn write(&self, object: &Object) -> Result<Object, ApiError> {
        let key = object.key();
        let kind = object.kind();
        match object {
            Object::Namespace(ns) => {
                let mut body = convert::namespace_to_k8s(ns);
                strip_server_fields(&mut body.metadata, false);
                let api: Api<k8s::Namespace> = Api::all(self.client.clone());
                let stored = self.apply(&api, kind, &key, &body).await?;
                Ok(Object::Namespace(convert::namespace_from_k8s(stored)))
            }
            Object::Service(svc) => {
                let mut body = convert::service_to_k8s(svc);
                strip_server_fields(&mut body.metadata, false);
                let api = self.namespaced(&key.namespace);
                let stored = self.apply(&api, kind, &key, &body).await?;
                Ok(Object::Service(convert::service_from_k8s(stored)))
            }
            Object::Endpoints(ep) => {
                let mut body = convert::endpoints_to_k8s(ep);
                strip_server_fields(&mut body.metadata, false);
                let api = self.namespaced(&key.namespace);
                let stored = self.apply(&api, kind, &key, &body).await?;
                Ok(Object::Endpoints(convert::endpoints_from_k8s(stored)))
            }
            Object::EndpointSlice(slice) => {
                let mut body = convert::endpoint_slice_to_k8s(slice);
                strip_server_fields(&mut body.metadata, false);
                let api = self.namespaced(&key.namespace);
                let stored = self.apply(&api, kind, &key, &body).await?;
                Ok(Object::EndpointSlice(convert::endpoint_slice_from_k8s(
                    stored,
                )))
            }
        }
    }
    async fn delete_unfenced(
        &self,
        kind: Kind,
        key: &ObjectKey,
        params: &DeleteParams,
    ) -> Result<(), ApiError> {
        let params = params.clone();
        let err = |e: kube::Error| map_error(&e, kind, key);
        match kind {
            Kind::Namespace => Api::<k8s::Namespace>::all(self.client.clone())
                .delete(&key.name, &params)
                .await
                .map(drop)
                .map_err(err),
            Kind::Service => self
                .namespaced::<k8s::Service>(&key.namespace)
                .delete(&key.name, &params)
                .await
                .map(drop)
                .map_err(err),
            Kind::Endpoints => self
                .namespaced::<k8s::Endpoints>(&key.namespace)
                .delete(&key.name, &params)
                .await
                .map(drop)
                .map_err(err),
            Kind::EndpointSlice => self
                .namespaced::<discovery::EndpointSlice>(&key.namespace)
                .delete(&key.name, &params)
                .await
                .map(drop)
                .map_err(err),
        }
    }
}

/// Whether an object carries a link's ownership labels (`mirror.linkerd.io/cluster-name`, or the
/// slice manager `svcmirror.io`): the only objects whose fields an apply may force.
fn carries_ownership_labels(
    meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
) -> bool {
    meta.labels.as_ref().is_some_and(|labels| {
        labels
            .get(svcmirror_core::labels::CLUSTER_NAME)
            .is_some_and(|v| !v.is_empty())
            || labels
                .get(svcmirror_core::labels::SLICE_MANAGED_BY)
                .map(String::as_str)
                == Some(svcmirror_core::labels::SLICE_MANAGER)
    })
}

/// Lists every object of `api`, following `continue` tokens.
pub(crate) async fn list_all<K>(
    api: &Api<K>,
    params: &ListParams,
    kind: Kind,
) -> Result<Vec<K>, ApiError>
where
    K: kube::Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    let mut items = Vec::new();
    let mut params = params.clone().limit(PAGE_SIZE);
    loop {
        let page = api
            .list(&params)
            .await
            .map_err(|e| map_error(&e, kind, &ObjectKey::new("", "")))?;
        items.extend(page.items);
        match page.metadata.continue_.filter(|token| !token.is_empty()) {
            Some(token) => params = params.continue_token(&token),
            None => return Ok(items),
        }
    }
}

#[async_trait]
impl SourceCluster for KubeSource {
    async fn list(&self) -> Result<SourceState, ApiError> {
        let services = self.list_kind::<k8s::Service>(Kind::Service);
        let endpoints = self.list_kind::<k8s::Endpoints>(Kind::Endpoints);
        let slices = self.list_kind::<discovery::EndpointSlice>(Kind::EndpointSlice);
        let namespaces = self.list_namespaces();
        let (services, endpoints, slices, namespaces) =
            futures::try_join!(services, endpoints, slices, namespaces)?;
        Ok(SourceState::new(
            services
                .into_iter()
                .map(convert::service_from_k8s)
                .collect(),
            endpoints
                .into_iter()
                .map(convert::endpoints_from_k8s)
                .collect(),
        )
        .with_endpoint_slices(
            slices
                .into_iter()
                .map(convert::endpoint_slice_from_k8s)
                .collect(),
        )
        .with_namespaces(Some(
            namespaces
                .into_iter()
                .map(convert::namespace_from_k8s)
                .collect::<Vec<Namespace>>(),
        )))
    }

    async fn get(&self, kind: Kind, key: &ObjectKey) -> Result<Option<Object>, ApiError> {
        let err = |e: kube::Error| map_error(&e, kind, key);
        Ok(match kind {
            Kind::Namespace => Api::<k8s::Namespace>::all(self.client.clone())
                .get_opt(&key.name)
                .await
                .map_err(err)?
                .map(|ns| Object::Namespace(convert::namespace_from_k8s(ns))),
            Kind::Service => self
                .namespaced::<k8s::Service>(&key.namespace)
                .get_opt(&key.name)
                .await
                .map_err(err)?
                .map(|svc| Object::Service(convert::service_from_k8s(svc))),
            Kind::Endpoints => self
                .namespaced::<k8s::Endpoints>(&key.namespace)
                .get_opt(&key.name)
                .await
                .map_err(err)?
                .map(|ep| Object::Endpoints(convert::endpoints_from_k8s(ep))),
            Kind::EndpointSlice => self
                .namespaced::<discovery::EndpointSlice>(&key.namespace)
                .get_opt(&key.name)
                .await
                .map_err(err)?
                .map(|slice| Object::EndpointSlice(convert::endpoint_slice_from_k8s(slice))),
        })
    }

    async fn create(&self, object: &Object) -> Result<Object, ApiError> {
        let (kind, key) = (object.kind(), object.key());
        self.fenced(kind, &key, crate::create::create(&self.client, object))
            .await
    }

    async fn update(&self, object: &Object) -> Result<Object, ApiError> {
        let (kind, key) = (object.kind(), object.key());
        self.fenced(kind, &key, self.write(object)).await
    }

    async fn delete(
        &self,
        kind: Kind,
        key: &ObjectKey,
        preconditions: &Precondition,
    ) -> Result<(), ApiError> {
        let mut params = DeleteParams::default();
        if preconditions.uid.is_some() || preconditions.resource_version.is_some() {
            params = params.preconditions(kube::api::Preconditions {
                uid: preconditions.uid.clone(),
                resource_version: preconditions.resource_version.clone(),
            });
        }
        self.fenced(kind, key, self.delete_unfenced(kind, key, &params))
            .await
    }
}
