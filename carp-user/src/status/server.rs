//! The two servers: the status socket (a unix stream socket, one request
//! line, one answer) and the optional Prometheus endpoint (HTTP/1.1,
//! `GET /metrics`). docs/status.md describes both protocols.
//!
//! Both read the latest [`Snapshot`] from a `watch` channel: the daemon
//! only ever holds the sender and never waits for a client. Each
//! connection runs on its own task, reads a bounded request within a
//! timeout, gets a clone of the snapshot (so the channel is never held
//! while rendering), answers and closes. A fixed number of connections
//! may be open at once; beyond that new ones are closed at once.
//!
//! The metrics endpoint uses hyper's HTTP/1 server (with hyper-util's
//! tokio glue) rather than a hand-written parser: it adds eight small
//! crates of the hyper project, and gives a well-tested request parser
//! with the limits needed here (`max_header_size` answers an oversized
//! head with 431, `header_read_timeout` closes slow clients).

use std::{
    convert::Infallible,
    io,
    net::SocketAddr,
    os::unix::fs::{DirBuilderExt as _, FileTypeExt as _, MetadataExt as _, PermissionsExt as _},
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use bytes::Bytes;
use http_body_util::Full;
use hyper::{
    Method, Request, Response, StatusCode,
    body::Incoming,
    header::{ALLOW, CONNECTION, CONTENT_TYPE, HeaderValue},
    server::conn::http1,
    service::service_fn,
};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::{TcpListener, UnixListener, UnixStream},
    sync::{Semaphore, watch},
    time::timeout,
};

use super::{
    render::{Format, render_prometheus},
    snapshot::Snapshot,
};

/// Longest status request read, newline included.
pub const MAX_STATUS_REQUEST: usize = 64;
/// Longest HTTP request head (request line and headers) accepted.
pub const MAX_HTTP_HEAD: usize = 8 * 1024;
/// Time a client has to send its request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
/// Time a client has to take the answer.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest life of one metrics connection, request and answer.
const HTTP_CONNECTION_TIMEOUT: Duration = Duration::from_secs(10);
/// Input read after an answer, so that closing does not reset the
/// connection, at most this much…
const MAX_DRAIN: usize = 4096;
/// …for at most this long.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(1);
/// Connections served at once, per server.
const MAX_CONNECTIONS: usize = 16;
/// Pause after a failed accept (e.g. out of file descriptors), so a
/// persistent failure does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// The `Content-Type` of the text exposition format.
pub const PROMETHEUS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Who may use the status socket: the socket file's permission bits
/// (connecting needs write permission) and optionally its group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SocketAccess {
    /// Permission bits, e.g. 0o600 (root only) or 0o660 with a group.
    pub mode: u32,
    /// A group id to give the socket file; None keeps the daemon's.
    pub group: Option<u32>,
}

impl SocketAccess {
    /// Only the daemon's user (root) may connect: mode 0600.
    pub const ROOT_ONLY: Self = Self {
        mode: 0o600,
        group: None,
    };
}

impl Default for SocketAccess {
    fn default() -> Self {
        Self::ROOT_ONLY
    }
}

/// Why a server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot create {path}, the status socket's directory: {source}")]
    CreateDir { path: PathBuf, source: io::Error },
    #[error("cannot inspect {path}: {source}")]
    Inspect { path: PathBuf, source: io::Error },
    #[error("{path} exists and is not a socket: refusing to replace it")]
    NotASocket { path: PathBuf },
    #[error(
        "another process answers on {path} (is another xcarp running?): refusing to replace it"
    )]
    InUse { path: PathBuf },
    #[error("cannot remove the stale socket {path}: {source}")]
    RemoveStale { path: PathBuf, source: io::Error },
    #[error("cannot bind the status socket {path}: {source}")]
    BindUnix { path: PathBuf, source: io::Error },
    #[error("cannot set the owner or mode of the status socket {path}: {source}")]
    Permissions { path: PathBuf, source: io::Error },
    #[error("cannot bind the metrics endpoint {addr}: {source}")]
    BindTcp { addr: SocketAddr, source: io::Error },
    #[error("cannot use the metrics listener: {0}")]
    Listener(io::Error),
}

// ---------------------------------------------------------------------------
// Status socket

/// A bound status socket, not yet answering. Dropping it (or the future of
/// [`StatusServer::serve`]) removes the socket file, if it is still the
/// one it bound.
#[derive(Debug)]
pub struct StatusServer {
    listener: UnixListener,
    guard: SocketFileGuard,
}

impl StatusServer {
    /// Binds the status socket at `path` with `access`.
    ///
    /// Creates the parent directory (mode 0755) if needed. An existing
    /// file at `path` is replaced only if it is a socket nobody answers on
    /// (left by a daemon that died); a live socket or any other file is an
    /// error. The socket is bound in a private (0700) directory beside
    /// `path`, given its mode and group there, and only then linked into
    /// place, so nobody can connect before its permissions are final.
    ///
    /// Must be called within a tokio runtime.
    pub async fn bind(path: &Path, access: SocketAccess) -> Result<Self, ServeError> {
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
            _ => PathBuf::from("."),
        };
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(&dir)
            .map_err(|source| ServeError::CreateDir {
                path: dir.clone(),
                source,
            })?;
        remove_stale_socket(path).await?;

        // Unique per bind, so that two binds in one process never share it.
        static BINDS: AtomicU64 = AtomicU64::new(0);
        let staging = dir.join(format!(
            ".xcarp-status.{}.{}",
            std::process::id(),
            BINDS.fetch_add(1, Ordering::Relaxed)
        ));
        let staged = staging.join("s");
        let listener = bind_staged(&staging, &staged, access);
        let result = listener.and_then(|listener| {
            // A hard link never replaces a file: if another daemon put a
            // socket there since the check above, this one gives way.
            std::fs::hard_link(&staged, path).map_err(|source| {
                if source.kind() == io::ErrorKind::AlreadyExists {
                    ServeError::InUse {
                        path: path.to_owned(),
                    }
                } else {
                    ServeError::BindUnix {
                        path: path.to_owned(),
                        source,
                    }
                }
            })?;
            let meta = std::fs::symlink_metadata(path).map_err(|source| ServeError::Inspect {
                path: path.to_owned(),
                source,
            })?;
            Ok(Self {
                listener,
                guard: SocketFileGuard {
                    path: path.to_owned(),
                    dev: meta.dev(),
                    ino: meta.ino(),
                },
            })
        });
        // Only the link at `path` stays; the staging directory is ours.
        let _ = std::fs::remove_file(&staged);
        let _ = std::fs::remove_dir(&staging);
        result
    }

    /// Where the socket is.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.guard.path
    }

    /// Answers connections until the snapshot channel's sender is
    /// dropped, then removes the socket file.
    pub async fn serve(self, mut snapshots: watch::Receiver<Snapshot>) -> Result<(), ServeError> {
        let limit = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        let name = format!("status socket {}", self.path().display());
        loop {
            let Some((stream, permit)) = next_connection(&mut snapshots, &limit, &name, || async {
                self.listener.accept().await.map(|(stream, _)| stream)
            })
            .await
            else {
                return Ok(());
            };
            let snapshots = snapshots.clone();
            tokio::spawn(async move {
                if let Err(e) = answer_status(stream, &snapshots).await {
                    tracing::debug!("status socket: {e}");
                }
                drop(permit);
            });
        }
    }
}

/// The next connection a server should answer, with its place among the
/// [`MAX_CONNECTIONS`]; None once the snapshot channel's sender is gone
/// (the daemon stopped). A failed accept is logged and retried after a
/// pause; a connection over the limit is closed at once rather than queued.
async fn next_connection<S, F>(
    snapshots: &mut watch::Receiver<Snapshot>,
    limit: &Arc<Semaphore>,
    name: &str,
    mut accept: impl FnMut() -> F,
) -> Option<(S, tokio::sync::OwnedSemaphorePermit)>
where
    F: std::future::Future<Output = io::Result<S>>,
{
    loop {
        let accepted = tokio::select! {
            accepted = accept() => accepted,
            changed = snapshots.changed() => {
                if changed.is_err() {
                    return None;
                }
                continue;
            }
        };
        let stream = match accepted {
            Ok(stream) => stream,
            Err(e) => {
                tracing::warn!("{name}: accept failed: {e}");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        match Arc::clone(limit).try_acquire_owned() {
            Ok(permit) => return Some((stream, permit)),
            Err(_) => tracing::debug!("{name}: too many connections, one refused"),
        }
    }
}

/// Binds the status socket at `path` with `access` ([`StatusServer::bind`])
/// and answers on it ([`StatusServer::serve`]) until the sender of
/// `snapshots` is dropped.
pub async fn serve_status(
    path: &Path,
    access: SocketAccess,
    snapshots: watch::Receiver<Snapshot>,
) -> Result<(), ServeError> {
    StatusServer::bind(path, access)
        .await?
        .serve(snapshots)
        .await
}

/// Refuses a live socket or a file that is not a socket at `path`;
/// removes a socket nobody answers on.
async fn remove_stale_socket(path: &Path) -> Result<(), ServeError> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(ServeError::Inspect {
                path: path.to_owned(),
                source,
            });
        }
    };
    if !meta.file_type().is_socket() {
        return Err(ServeError::NotASocket {
            path: path.to_owned(),
        });
    }
    match timeout(REQUEST_TIMEOUT, UnixStream::connect(path)).await {
        // Answered, or accepted and too busy to answer: alive.
        Ok(Ok(_)) | Err(_) => Err(ServeError::InUse {
            path: path.to_owned(),
        }),
        Ok(Err(e)) if e.kind() == io::ErrorKind::ConnectionRefused => std::fs::remove_file(path)
            .map_err(|source| ServeError::RemoveStale {
                path: path.to_owned(),
                source,
            }),
        Ok(Err(source)) => Err(ServeError::Inspect {
            path: path.to_owned(),
            source,
        }),
    }
}

/// Binds `staged` inside a fresh 0700 directory `staging` and gives it
/// `access`.
fn bind_staged(
    staging: &Path,
    staged: &Path,
    access: SocketAccess,
) -> Result<UnixListener, ServeError> {
    // A leftover from a daemon that had our pid and died mid-bind.
    let _ = std::fs::remove_file(staged);
    let _ = std::fs::remove_dir(staging);
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(staging)
        .map_err(|source| ServeError::CreateDir {
            path: staging.to_owned(),
            source,
        })?;
    let listener = UnixListener::bind(staged).map_err(|source| ServeError::BindUnix {
        path: staged.to_owned(),
        source,
    })?;
    let permissions = |source| ServeError::Permissions {
        path: staged.to_owned(),
        source,
    };
    if let Some(gid) = access.group {
        std::os::unix::fs::chown(staged, None, Some(gid)).map_err(permissions)?;
    }
    std::fs::set_permissions(staged, std::fs::Permissions::from_mode(access.mode & 0o777))
        .map_err(permissions)?;
    Ok(listener)
}

/// Removes the socket file when dropped, unless it was replaced since.
#[derive(Debug)]
struct SocketFileGuard {
    path: PathBuf,
    dev: u64,
    ino: u64,
}

impl Drop for SocketFileGuard {
    fn drop(&mut self) {
        if let Ok(meta) = std::fs::symlink_metadata(&self.path)
            && meta.dev() == self.dev
            && meta.ino() == self.ino
        {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// One status connection: read the request line, answer, close.
async fn answer_status(
    mut stream: UnixStream,
    snapshots: &watch::Receiver<Snapshot>,
) -> io::Result<()> {
    let reply = match timeout(REQUEST_TIMEOUT, read_request(&mut stream)).await {
        Err(_) => format!(
            "error: no request within {} s; send one line: text, json or prometheus\n",
            REQUEST_TIMEOUT.as_secs()
        ),
        Ok(Err(e)) => return Err(e),
        Ok(Ok(None)) => format!(
            "error: request longer than {MAX_STATUS_REQUEST} bytes; \
             send one line: text, json or prometheus\n"
        ),
        Ok(Ok(Some(request))) => match Format::from_request(&request) {
            Some(format) => {
                // Clone, so that the channel is not held while rendering.
                let snapshot = snapshots.borrow().clone();
                format.render(&snapshot)
            }
            None => "error: unknown request; send one line: text, json or prometheus\n".to_owned(),
        },
    };
    timeout(WRITE_TIMEOUT, async {
        stream.write_all(reply.as_bytes()).await?;
        stream.shutdown().await
    })
    .await
    .map_err(|_| {
        io::Error::new(
            io::ErrorKind::TimedOut,
            "client too slow to read the answer",
        )
    })??;
    // Closing with unread input makes the kernel reset the connection, and
    // the client may then lose the answer: read what is left of an
    // over-long request first (bounded; the client closes once it has read
    // the answer).
    let mut rest = [0u8; 512];
    let mut drained = 0;
    let _ = timeout(DRAIN_TIMEOUT, async {
        while drained < MAX_DRAIN {
            match stream.read(&mut rest).await {
                Ok(0) | Err(_) => break,
                Ok(n) => drained += n,
            }
        }
    })
    .await;
    Ok(())
}

/// The request: the bytes before the first newline, or all of them at
/// end of stream. None when [`MAX_STATUS_REQUEST`] bytes hold no newline.
async fn read_request(stream: &mut UnixStream) -> io::Result<Option<String>> {
    let mut buf = [0u8; MAX_STATUS_REQUEST];
    let mut len = 0;
    while len < buf.len() {
        let n = stream.read(&mut buf[len..]).await?;
        if n == 0 {
            break;
        }
        len += n;
        if let Some(end) = buf[..len].iter().position(|b| *b == b'\n') {
            return Ok(Some(String::from_utf8_lossy(&buf[..end]).into_owned()));
        }
    }
    if len == buf.len() {
        return Ok(None);
    }
    Ok(Some(String::from_utf8_lossy(&buf[..len]).into_owned()))
}

// ---------------------------------------------------------------------------
// Metrics endpoint

/// A bound metrics endpoint, not yet answering.
#[derive(Debug)]
pub struct MetricsServer {
    listener: TcpListener,
    addr: SocketAddr,
}

impl MetricsServer {
    /// Binds the endpoint at `addr` (port 0 picks a free port; see
    /// [`MetricsServer::local_addr`]).
    pub async fn bind(addr: SocketAddr) -> Result<Self, ServeError> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| ServeError::BindTcp { addr, source })?;
        Self::from_tokio(listener)
    }

    /// Uses a listener bound elsewhere. Must be called within a tokio
    /// runtime.
    pub fn from_std(listener: std::net::TcpListener) -> Result<Self, ServeError> {
        listener
            .set_nonblocking(true)
            .map_err(ServeError::Listener)?;
        Self::from_tokio(TcpListener::from_std(listener).map_err(ServeError::Listener)?)
    }

    fn from_tokio(listener: TcpListener) -> Result<Self, ServeError> {
        let addr = listener.local_addr().map_err(ServeError::Listener)?;
        Ok(Self { listener, addr })
    }

    /// The address it is bound to.
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Answers `GET /metrics` until the snapshot channel's sender is
    /// dropped.
    pub async fn serve(self, mut snapshots: watch::Receiver<Snapshot>) -> Result<(), ServeError> {
        let limit = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        let mut http = http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(REQUEST_TIMEOUT)
            .max_header_size(MAX_HTTP_HEAD)
            .max_headers(64)
            .keep_alive(false);
        let name = format!("metrics endpoint {}", self.addr);
        loop {
            let Some((stream, permit)) = next_connection(&mut snapshots, &limit, &name, || async {
                self.listener.accept().await.map(|(stream, _)| stream)
            })
            .await
            else {
                return Ok(());
            };
            let snapshots = snapshots.clone();
            let connection = http.serve_connection(
                TokioIo::new(stream),
                service_fn(move |request| {
                    let response = metrics_response(&request, &snapshots);
                    async move { Ok::<_, Infallible>(response) }
                }),
            );
            tokio::spawn(async move {
                match timeout(HTTP_CONNECTION_TIMEOUT, connection).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => tracing::debug!("metrics endpoint: {e}"),
                    Err(_) => tracing::debug!("metrics endpoint: connection timed out"),
                }
                drop(permit);
            });
        }
    }
}

/// Binds the metrics endpoint at `addr` ([`MetricsServer::bind`]) and
/// answers on it ([`MetricsServer::serve`]) until the sender of
/// `snapshots` is dropped.
pub async fn serve_metrics(
    addr: SocketAddr,
    snapshots: watch::Receiver<Snapshot>,
) -> Result<(), ServeError> {
    MetricsServer::bind(addr).await?.serve(snapshots).await
}

/// `GET /metrics` (or `HEAD`): the exposition; another method on
/// `/metrics`: 405; any other path: 404.
fn metrics_response(
    request: &Request<Incoming>,
    snapshots: &watch::Receiver<Snapshot>,
) -> Response<Full<Bytes>> {
    let (status, content_type, body) = if request.uri().path() != "/metrics" {
        (
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "not found: xcarp serves metrics at /metrics\n".to_owned(),
        )
    } else if request.method() == Method::GET || request.method() == Method::HEAD {
        let snapshot = snapshots.borrow().clone();
        (
            StatusCode::OK,
            PROMETHEUS_CONTENT_TYPE,
            render_prometheus(&snapshot),
        )
    } else {
        (
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain; charset=utf-8",
            "method not allowed: use GET\n".to_owned(),
        )
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(CONNECTION, HeaderValue::from_static("close"));
    if status == StatusCode::METHOD_NOT_ALLOWED {
        headers.insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
    }
    response
}
