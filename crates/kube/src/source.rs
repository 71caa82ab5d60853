//! [`KubeSource`]: the source cluster (where mirrors are written) over the Kubernetes API.

use async_trait::async_trait;
use k8s_openapi::api::core::v1 as k8s;
use k8s_openapi::api::discovery::v1 as discovery;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use serde::Serialize;
use serde::de::DeserializeOwned;
use svcmirror_backend::{ApiError, Preconditions, SourceCluster};
use svcmirror_core::SourceState;
use svcmirror_core::model::{Kind, Namespace, Object, ObjectKey};

use crate::convert;
use crate::error::map_error;

/// The field manager of every write (server-side apply's `fieldManager`).
pub const FIELD_MANAGER: &str = "svcmirror";

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
///   namespaces cluster-wide.
/// - **create** reads the name first and answers `AlreadyExists` when anything holds it, then
///   writes with server-side apply (see below). The read-then-apply window is a race only with a
///   third party creating the very same name in between; the apply then fails with `Conflict` if
///   that party's manager owns a field we set differently, and otherwise the object ends up shared.
///   A plain `POST` would close the window, but would make the fields managed by an `Update`
///   entry, which a later apply by the same manager cannot remove (a dropped label or port would
///   then stay forever).
/// - **update** is a server-side apply of the whole object carrying `metadata.resourceVersion`,
///   so a stale object is rejected with `Conflict` (optimistic concurrency) rather than merged.
/// - Every apply uses field manager [`FIELD_MANAGER`] and never `force`: a field owned by another
///   manager with a different value is a `Conflict`, never clobbered.
/// - **delete** passes the uid/resourceVersion [`Preconditions`] to the server.
#[derive(Clone)]
pub struct KubeSource {
    client: kube::Client,
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
        Self { client }
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
        api.patch(
            &key.name,
            &PatchParams::apply(FIELD_MANAGER),
            &Patch::Apply(body),
        )
        .await
        .map_err(|e| map_error(&e, kind, key))
    }

    async fn exists(&self, kind: Kind, key: &ObjectKey) -> Result<bool, ApiError> {
        Ok(self.get(kind, key).await?.is_some())
    }

    /// Writes `object` with server-side apply. `fresh` is true for a create: server-set fields
    /// (uid, resourceVersion) are not sent, so the apply cannot be mistaken for an update.
    async fn write(&self, object: &Object, fresh: bool) -> Result<Object, ApiError> {
        let key = object.key();
        let kind = object.kind();
        match object {
            Object::Namespace(ns) => {
                let mut body = convert::namespace_to_k8s(ns);
                strip_server_fields(&mut body.metadata, fresh);
                let api: Api<k8s::Namespace> = Api::all(self.client.clone());
                let stored = self.apply(&api, kind, &key, &body).await?;
                Ok(Object::Namespace(convert::namespace_from_k8s(stored)))
            }
            Object::Service(svc) => {
                let mut body = convert::service_to_k8s(svc);
                strip_server_fields(&mut body.metadata, fresh);
                let api = self.namespaced(&key.namespace);
                let stored = self.apply(&api, kind, &key, &body).await?;
                Ok(Object::Service(convert::service_from_k8s(stored)))
            }
            Object::Endpoints(ep) => {
                let mut body = convert::endpoints_to_k8s(ep);
                strip_server_fields(&mut body.metadata, fresh);
                let api = self.namespaced(&key.namespace);
                let stored = self.apply(&api, kind, &key, &body).await?;
                Ok(Object::Endpoints(convert::endpoints_from_k8s(stored)))
            }
            Object::EndpointSlice(slice) => {
                let mut body = convert::endpoint_slice_to_k8s(slice);
                strip_server_fields(&mut body.metadata, fresh);
                let api = self.namespaced(&key.namespace);
                let stored = self.apply(&api, kind, &key, &body).await?;
                Ok(Object::EndpointSlice(convert::endpoint_slice_from_k8s(
                    stored,
                )))
            }
        }
    }
}

/// `creationTimestamp` is never sent; on a create neither are uid and resourceVersion.
fn strip_server_fields(
    meta: &mut k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    fresh: bool,
) {
    meta.creation_timestamp = None;
    if fresh {
        meta.uid = None;
        meta.resource_version = None;
    }
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
        let params = ListParams::default();
        let (svc_api, ep_api, slice_api, ns_api) = (
            Api::<k8s::Service>::all(self.client.clone()),
            Api::<k8s::Endpoints>::all(self.client.clone()),
            Api::<discovery::EndpointSlice>::all(self.client.clone()),
            Api::<k8s::Namespace>::all(self.client.clone()),
        );
        let services = list_all(&svc_api, &params, Kind::Service);
        let endpoints = list_all(&ep_api, &params, Kind::Endpoints);
        let slices = list_all(&slice_api, &params, Kind::EndpointSlice);
        let namespaces = list_all(&ns_api, &params, Kind::Namespace);
        let (services, endpoints, slices, namespaces) =
            futures::try_join!(services, endpoints, slices, namespaces)?;
        Ok(SourceState {
            services: services
                .into_iter()
                .map(convert::service_from_k8s)
                .collect(),
            endpoints: endpoints
                .into_iter()
                .map(convert::endpoints_from_k8s)
                .collect(),
            endpoint_slices: slices
                .into_iter()
                .map(convert::endpoint_slice_from_k8s)
                .collect(),
            namespaces: Some(
                namespaces
                    .into_iter()
                    .map(convert::namespace_from_k8s)
                    .collect::<Vec<Namespace>>(),
            ),
        })
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
        if self.exists(kind, &key).await? {
            return Err(ApiError::AlreadyExists { kind, key });
        }
        self.write(object, true).await
    }

    async fn update(&self, object: &Object) -> Result<Object, ApiError> {
        self.write(object, false).await
    }

    async fn delete(
        &self,
        kind: Kind,
        key: &ObjectKey,
        preconditions: &Preconditions,
    ) -> Result<(), ApiError> {
        let mut params = DeleteParams::default();
        if preconditions.uid.is_some() || preconditions.resource_version.is_some() {
            params = params.preconditions(kube::api::Preconditions {
                uid: preconditions.uid.clone(),
                resource_version: preconditions.resource_version.clone(),
            });
        }
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
