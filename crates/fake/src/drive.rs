//! [`FakeCluster`] as the source [`svcmirror_core::drive()`] applies plans to.
//!
//! The loop and its convergence contract live in the core ([`svcmirror_core::drive`]); this is
//! only how the in-memory API server answers it: what it refuses for one object (invalid, too
//! large, out of ClusterIPs) is that object's diagnostic, any other error ends the drive. It
//! makes no mirroring decision.

use svcmirror_backend::ApiError;
use svcmirror_core::{Apply, Diagnostic, Operation, Reason, Refusal, Severity, SourceState};

use crate::cluster::FakeCluster;

impl Apply for FakeCluster {
    type Error = ApiError;

    fn list(&mut self) -> SourceState {
        self.state()
    }

    fn apply(&mut self, operation: Operation) -> Result<(), Refusal<ApiError>> {
        let (action, kind, key) = (operation.action(), operation.kind(), operation.key());
        match self.apply_owned(operation) {
            Ok(()) => Ok(()),
            Err(
                error @ (ApiError::Invalid { .. }
                | ApiError::TooLarge { .. }
                | ApiError::RangeFull { .. }),
            ) => {
                let reason = if matches!(error, ApiError::RangeFull { .. }) {
                    Reason::LimitExceeded
                } else {
                    Reason::InvalidObject
                };
                let message =
                    format!("the in-memory API server refused {action} {kind} {key}: {error}");
                Err(Refusal::Refused(Diagnostic::new(
                    reason,
                    Severity::Error,
                    kind,
                    key,
                    message,
                )))
            }
            Err(error) => Err(Refusal::Failed(error)),
        }
    }
}
