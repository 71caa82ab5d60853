//! Building kube clients that survive failure (issue 14): explicit timeouts on every request, and
//! credentials that are re-read when they are rotated.
//!
//! **Timeouts.** kube-client's `Config` has no read timeout by default, so a connection that is
//! silently dropped (or a server that accepts and never answers) hangs a request — a list, a write
//! of the driver, a lease renewal — until the operating system gives up, minutes later.
//! [`Timeouts`] sets connect, read and write timeouts on every request. The read timeout counts
//! from when a request was written (`reset_reader_on_write`), not from when its pooled connection
//! went idle. A watch is a request whose response stays silent while nothing changes, so the
//! watches ask the server to end them after [`Timeouts::watch_timeout_secs`] — shorter than the
//! read timeout by a margin — and a quiet but healthy watch always ends (and is resumed by
//! kube-runtime from its last resourceVersion) before the client would call it dead; a watch on a
//! dead connection is detected within the read timeout.
//!
//! **Rotation.** [`reloading_client`] builds a client whose transport re-reads its credentials —
//! the kubeconfig file (a mounted Secret that is rotated in place), or the in-cluster service
//! account — when the server answers `401 Unauthorized` (logged at `warn`, then the next request
//! uses the new credentials), and when the kubeconfig file changes (checked at most every
//! [`RECHECK`]). A bound service-account token expires; this is what lets the controller keep
//! running across its refreshes without a restart.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime};

use futures::future::BoxFuture;
use http::{Request, Response, StatusCode};
use kube::client::Body;

/// How often, at most, a kubeconfig file is checked for a change.
pub const RECHECK: Duration = Duration::from_secs(10);

/// Connect, read and write timeouts of every request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Timeouts {
    /// Establishing a TCP (and TLS) connection.
    pub connect: Duration,
    /// Waiting for the next bytes of a response once the request was written. Watches are ended
    /// by the server before this (see [`Timeouts::watch_timeout_secs`]).
    pub read: Duration,
    /// Writing a request.
    pub write: Duration,
}

impl Default for Timeouts {
    /// 10 s to connect, 60 s to read, 30 s to write. A list of 10 000 objects starts answering
    /// well within 60 s; a watch is ended by the server after 50 s.
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(10),
            read: Duration::from_secs(60),
            write: Duration::from_secs(30),
        }
    }
}

impl Timeouts {
    /// Short timeouts, for tests of a hanging server.
    #[must_use]
    pub fn new(connect: Duration, read: Duration, write: Duration) -> Self {
        Self {
            connect,
            read,
            write,
        }
    }

    /// Sets these timeouts on `config`.
    pub fn apply(&self, config: &mut kube::Config) {
        config.connect_timeout = Some(self.connect);
        config.read_timeout = Some(self.read);
        config.write_timeout = Some(self.write);
        // The read timeout counts from the request, not from when a pooled connection went idle.
        config.reset_reader_on_write = true;
    }

    /// The `timeoutSeconds` of every watch: five sixths of the read timeout (50 s by default), at
    /// least 1 s. The server ends a quiet watch then, before the client's read timeout would
    /// call the connection dead; kube-runtime resumes it from its last resourceVersion (no
    /// relist), so a short watch costs one request, not a list.
    #[must_use]
    pub fn watch_timeout_secs(&self) -> u32 {
        let secs = self.read.as_secs() * 5 / 6;
        u32::try_from(secs.max(1)).unwrap_or(u32::MAX)
    }
}

/// Where a client's credentials come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// A kubeconfig file (and optionally a context in it): re-read when it changes or on 401.
    Kubeconfig {
        /// The file.
        path: PathBuf,
        /// The context (its current context when `None`).
        context: Option<String>,
    },
    /// `$KUBECONFIG` / `~/.kube/config` with this context.
    Context(String),
    /// The pod's service account (its token file is also re-read by kube-client every minute).
    InCluster,
    /// kube-client's inference: the local kubeconfig, else the pod's service account.
    Infer,
}

impl std::fmt::Display for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Kubeconfig { path, .. } => write!(f, "kubeconfig {}", path.display()),
            Self::Context(context) => write!(f, "kubeconfig context {context}"),
            Self::InCluster => f.write_str("the in-cluster service account"),
            Self::Infer => f.write_str("the inferred kubeconfig or service account"),
        }
    }
}

/// Credentials that could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("loading {credentials}: {message}")]
pub struct CredentialsError {
    /// What was being loaded.
    pub credentials: String,
    /// Why it failed.
    pub message: String,
}

impl Credentials {
    /// Loads a `kube::Config` with `timeouts`.
    ///
    /// # Errors
    /// The file cannot be read or parsed, the context does not exist, or no in-cluster
    /// environment is found.
    pub async fn config(&self, timeouts: &Timeouts) -> Result<kube::Config, CredentialsError> {
        let error = |e: &dyn std::fmt::Display| CredentialsError {
            credentials: self.to_string(),
            message: e.to_string(),
        };
        let mut config = match self {
            Self::Kubeconfig { path, context } => {
                let kubeconfig =
                    kube::config::Kubeconfig::read_from(path).map_err(|e| error(&e))?;
                let options = kube::config::KubeConfigOptions {
                    context: context.clone(),
                    ..kube::config::KubeConfigOptions::default()
                };
                kube::Config::from_custom_kubeconfig(kubeconfig, &options)
                    .await
                    .map_err(|e| error(&e))?
            }
            Self::Context(context) => {
                let options = kube::config::KubeConfigOptions {
                    context: Some(context.clone()),
                    ..kube::config::KubeConfigOptions::default()
                };
                kube::Config::from_kubeconfig(&options)
                    .await
                    .map_err(|e| error(&e))?
            }
            Self::InCluster => kube::Config::incluster().map_err(|e| error(&e))?,
            Self::Infer => kube::Config::infer().await.map_err(|e| error(&e))?,
        };
        timeouts.apply(&mut config);
        Ok(config)
    }

    fn file(&self) -> Option<&Path> {
        match self {
            Self::Kubeconfig { path, .. } => Some(path),
            _ => None,
        }
    }
}

/// A file's modification time and length: a rotated Secret volume changes at least one.
fn stamp(path: Option<&Path>) -> Option<(SystemTime, u64)> {
    let meta = std::fs::metadata(path?).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

/// A kube client with `timeouts` whose credentials are re-read on `401 Unauthorized` and when the
/// kubeconfig file changes (see the module docs).
///
/// # Errors
/// The credentials cannot be loaded now.
pub async fn reloading_client(
    credentials: Credentials,
    timeouts: Timeouts,
) -> Result<(kube::Client, Reloads), CredentialsError> {
    let config = credentials.config(&timeouts).await?;
    let default_namespace = config.default_namespace.clone();
    let client = kube::Client::try_from(config).map_err(|e| CredentialsError {
        credentials: credentials.to_string(),
        message: e.to_string(),
    })?;
    let reloads = Reloads::default();
    let service = Reloading {
        shared: Arc::new(Shared {
            stamp: Mutex::new((stamp(credentials.file()), Instant::now())),
            credentials,
            timeouts,
            current: Mutex::new((0, client)),
            reloads: reloads.clone(),
        }),
    };
    Ok((kube::Client::new(service, default_namespace), reloads))
}

/// How many times a client's credentials were re-read (for tests and metrics).
#[derive(Debug, Clone, Default)]
pub struct Reloads(Arc<AtomicU64>);

impl Reloads {
    /// Successful reloads so far.
    #[must_use]
    pub fn count(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

struct Shared {
    credentials: Credentials,
    timeouts: Timeouts,
    /// The client in use and its generation.
    current: Mutex<(u64, kube::Client)>,
    /// The kubeconfig file's stamp as last loaded, and when it was last checked.
    stamp: Mutex<(Option<(SystemTime, u64)>, Instant)>,
    reloads: Reloads,
}

impl Shared {
    fn current(&self) -> (u64, kube::Client) {
        let current = self
            .current
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        (current.0, current.1.clone())
    }

    /// Whether the kubeconfig file changed since it was loaded (checked at most every RECHECK).
    fn file_changed(&self) -> bool {
        let Some(path) = self.credentials.file() else {
            return false;
        };
        let mut stamped = self
            .stamp
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if stamped.1.elapsed() < RECHECK {
            return false;
        }
        stamped.1 = Instant::now();
        let now = stamp(Some(path));
        now.is_some() && now != stamped.0
    }

    /// Re-reads the credentials and swaps the client, unless another request did since
    /// generation `seen`.
    async fn reload(&self, seen: u64, why: &str) {
        if self.current().0 != seen {
            return;
        }
        let file_stamp = stamp(self.credentials.file());
        let loaded = self
            .credentials
            .config(&self.timeouts)
            .await
            .and_then(|config| {
                kube::Client::try_from(config).map_err(|e| CredentialsError {
                    credentials: self.credentials.to_string(),
                    message: e.to_string(),
                })
            });
        match loaded {
            Ok(client) => {
                {
                    let mut current = self
                        .current
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    if current.0 != seen {
                        return;
                    }
                    *current = (seen + 1, client);
                }
                self.stamp
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .0 = file_stamp;
                self.reloads.0.fetch_add(1, Ordering::Relaxed);
                tracing::info!(credentials = %self.credentials, reason = why, "credentials re-read");
            }
            Err(e) => {
                tracing::warn!(error = %e, reason = why, "re-reading the credentials failed; keeping the current ones");
            }
        }
    }
}

/// The transport of a [`reloading_client`]: each request goes through the current client.
#[derive(Clone)]
struct Reloading {
    shared: Arc<Shared>,
}

impl tower::Service<Request<Body>> for Reloading {
    type Response = Response<Body>;
    type Error = kube::Error;
    type Future = BoxFuture<'static, Result<Response<Body>, kube::Error>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let shared = self.shared.clone();
        Box::pin(async move {
            if shared.file_changed() {
                let (seen, _) = shared.current();
                shared.reload(seen, "the kubeconfig file changed").await;
            }
            let (generation, client) = shared.current();
            let response = client.send(request).await?;
            if response.status() == StatusCode::UNAUTHORIZED {
                tracing::warn!(
                    credentials = %shared.credentials,
                    "401 Unauthorized: the credentials were rejected (expired or rotated); re-reading them"
                );
                shared.reload(generation, "401 Unauthorized").await;
            }
            Ok(response)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watches_end_before_the_read_timeout() {
        let t = Timeouts::default();
        assert_eq!(t.watch_timeout_secs(), 50);
        assert!(u64::from(t.watch_timeout_secs()) < t.read.as_secs());
        let short = Timeouts::new(
            Duration::from_secs(1),
            Duration::from_millis(300),
            Duration::from_secs(1),
        );
        assert_eq!(short.watch_timeout_secs(), 1);
    }

    #[test]
    fn timeouts_are_set_on_the_config() {
        let mut config = kube::Config::new("http://127.0.0.1:1".parse().expect("url"));
        assert_eq!(
            config.read_timeout, None,
            "kube-client's default: no read timeout"
        );
        Timeouts::default().apply(&mut config);
        assert_eq!(config.connect_timeout, Some(Duration::from_secs(10)));
        assert_eq!(config.read_timeout, Some(Duration::from_secs(60)));
        assert_eq!(config.write_timeout, Some(Duration::from_secs(30)));
        assert!(config.reset_reader_on_write);
    }
}
