//! [`FakeCluster`] answering the requests of the backend's sans-IO [`Reconciler`] directly, as
//! the API server would: what a synchronous pump — a test or a bench that drives the reconciler
//! without async — sends each request to. Only the mapping of a request to the fake's list, get,
//! create, update and delete; no decision.
//!
//! [`Reconciler`]: svcmirror_backend::Reconciler

use svcmirror_backend::{ApiError, Request, Response};
use svcmirror_core::Operation;

use crate::cluster::FakeCluster;

impl FakeCluster {
    /// The answer to `request`, this cluster being the one the request is for (the target's list
    /// for [`Request::ListTarget`], the source for the others).
    ///
    /// # Errors
    /// What the in-memory API server refuses (see [`FakeCluster::create`] and its siblings); an
    /// operation or request added to the backend after this was written is
    /// [`ApiError::Unsupported`] / [`ApiError::Unavailable`].
    pub fn answer(&mut self, request: Request) -> Result<Response, ApiError> {
        match request {
            Request::ListTarget => Ok(Response::TargetListed(self.target_state())),
            Request::ListSource => Ok(Response::SourceListed(self.state())),
            Request::Get { kind, key } => Ok(Response::Read(self.get(kind, &key))),
            Request::Apply(Operation::Create { object }) => {
                self.create(object).map(Response::Stored)
            }
            Request::Apply(Operation::Update { object, .. }) => {
                self.update(object).map(Response::Stored)
            }
            Request::Apply(Operation::Delete {
                kind,
                key,
                precondition,
                ..
            }) => self
                .delete(kind, &key, &precondition)
                .map(|()| Response::Deleted),
            Request::Apply(other) => Err(ApiError::Unsupported {
                action: other.action(),
                kind: other.kind(),
                key: other.key(),
            }),
            other => Err(ApiError::Unavailable(format!(
                "the in-memory API server cannot answer {other:?}"
            ))),
        }
    }
}
