//! Serving connections (HTTP/1.1, through hyper) so that slow or idle clients cannot
//! hold the service's doors open:
//!
//! - A new connection has `server.header_read_timeout` to send its first request's
//!   headers. A kept-alive one has `server.idle_timeout` until the next request's first
//!   byte, and then `header_read_timeout` for its headers. Both are hyper's header
//!   timer, which hyper starts whenever a connection waits for a request; [`WaitTimer`]
//!   adds the idle wait to it.
//! - A request body that sends nothing for `server.body_read_timeout` fails, and the
//!   request is answered 408 (`extract`).
//! - At most `server.max_connections` are served at once. At the cap every connection
//!   is asked to close once it is between requests: one that is idle, or has not sent
//!   a whole request yet, closes at once; one in a request after its answer. New
//!   connections wait in the listen backlog until a slot frees. So `/health` is answered
//!   even when every slot is held by clients that send nothing or send slowly.
//!
//! The open connections are the gauge `postbode_http_connections`.

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio_util::task::TaskTracker;
use tower_http::timeout::TimeoutBody;
use tower_service::Service;

use crate::settings::ServerSettings;

/// Descriptors kept free for the store, outbound calls and DNS when the connection cap
/// is fitted under the process's open-file limit.
const RESERVED_FILES: u64 = 256;

/// The timeouts and the cap of [`serve`].
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    pub header_read: Duration,
    pub body_read: Duration,
    pub idle: Duration,
    pub max_connections: usize,
}

impl ConnectionLimits {
    pub fn new(settings: &ServerSettings) -> Self {
        Self {
            header_read: settings.header_read_timeout,
            body_read: settings.body_read_timeout,
            idle: settings.idle_timeout,
            max_connections: settings.max_connections,
        }
    }

    /// The cap fitted under the open-file limit: the soft limit is raised to the hard
    /// one when the cap needs it, and a cap that still does not fit (with
    /// [`RESERVED_FILES`] to spare) is lowered, with a warning. Connections beyond the
    /// limit would fail at `accept`, and the store's and outbound calls' sockets with them.
    pub fn fitted_to_open_files(mut self) -> Self {
        use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
        let wanted = self.max_connections as u64 + RESERVED_FILES;
        let limit = getrlimit(Resource::Nofile);
        let Some(current) = limit.current else {
            return self;
        };
        let mut available = current;
        if current < wanted {
            let raised = limit.maximum.map_or(wanted, |max| max.min(wanted));
            if raised > current
                && setrlimit(
                    Resource::Nofile,
                    Rlimit {
                        current: Some(raised),
                        maximum: limit.maximum,
                    },
                )
                .is_ok()
            {
                available = raised;
            }
        }
        if available < wanted {
            let fitted = available.saturating_sub(RESERVED_FILES).max(1) as usize;
            tracing::warn!(
                max_connections = self.max_connections,
                open_file_limit = available,
                serving = fitted,
                "server.max_connections does not fit under the open-file limit (ulimit -n) with room for the \
                 database and outbound calls; serving fewer connections at once"
            );
            self.max_connections = fitted;
        }
        self
    }
}

/// Serves `router` on `listener` until `shutdown` completes; then stops accepting, lets
/// each connection finish the request it is in, and returns when all have closed.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    // Bumped each time the cap is reached; each connection subscribes when it starts.
    let (shed, _) = watch::channel(0u64);
    let (stop, stopping) = watch::channel(());
    let connections = TaskTracker::new();
    tokio::pin!(shutdown);
    loop {
        let slot = match slots.clone().try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                shed.send_modify(|times| *times += 1);
                tokio::select! {
                    slot = slots.clone().acquire_owned() => match slot {
                        Ok(slot) => slot,
                        Err(_) => break,
                    },
                    () = &mut shutdown => break,
                }
            }
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_failed(&e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let connection = Connection {
            router: router.clone(),
            limits,
            peer,
            stopping: stopping.clone(),
            shed: shed.subscribe(),
            _slot: slot,
        };
        connections.spawn(connection.serve(stream));
    }
    drop(listener);
    let _ = stop.send(());
    connections.close();
    connections.wait().await;
    Ok(())
}

/// A failed `accept`: a connection that went away before it was taken is nothing; out
/// of descriptors (or memory) waits a moment for some to free, instead of spinning.
async fn accept_failed(e: &std::io::Error) {
    use std::io::ErrorKind::*;
    if matches!(e.kind(), ConnectionAborted | ConnectionReset | Interrupted) {
        return;
    }
    tracing::warn!(error = %e, "accepting a connection failed; trying again shortly");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

struct Connection {
    router: Router,
    limits: ConnectionLimits,
    peer: SocketAddr,
    stopping: watch::Receiver<()>,
    shed: watch::Receiver<u64>,
    /// Held while the connection is open: one of `max_connections`.
    _slot: OwnedSemaphorePermit,
}

impl Connection {
    async fn serve(mut self, stream: TcpStream) {
        metrics::gauge!("postbode_http_connections").increment(1.0);
        let _ = stream.set_nodelay(true);
        let read = Arc::new(AtomicU64::new(0));
        let io = TokioIo::new(Counted {
            inner: stream,
            read: read.clone(),
        });
        let (router, peer, body_read) = (self.router.clone(), self.peer, self.limits.body_read);
        // Whether a request ever reached the router: until one has, closing the
        // connection breaks no promise (hyper's graceful close would wait for its first
        // request's headers).
        let answering = Arc::new(AtomicBool::new(false));
        let started = answering.clone();
        let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
            started.store(true, Ordering::Relaxed);
            let mut request = request.map(|body| axum::body::Body::new(TimeoutBody::new(body_read, body)));
            request.extensions_mut().insert(ConnectInfo(peer));
            router.clone().call(request)
        });
        let mut builder = http1::Builder::new();
        builder
            .timer(WaitTimer {
                idle: self.limits.idle,
                read,
                first: Arc::new(AtomicBool::new(true)),
            })
            .header_read_timeout(self.limits.header_read)
            .keep_alive(true);
        let connection = builder.serve_connection(io, service);
        tokio::pin!(connection);
        let mut closing = false;
        loop {
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(peer = %self.peer, error = %e, "connection ended");
                    }
                    break;
                }
                _ = self.stopping.changed(), if !closing => {
                    connection.as_mut().graceful_shutdown();
                    closing = true;
                }
                _ = self.shed.changed(), if !closing => {
                    if !answering.load(Ordering::Relaxed) {
                        break;
                    }
                    connection.as_mut().graceful_shutdown();
                    closing = true;
                }
            }
        }
        metrics::gauge!("postbode_http_connections").decrement(1.0);
    }
}

/// A connection's socket, counting the bytes read from it, so [`WaitTimer`] can tell
/// when the next request's first byte arrived.
struct Counted {
    inner: TcpStream,
    read: Arc<AtomicU64>,
}

impl AsyncRead for Counted {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        let read = buf.filled().len() - before;
        if read > 0 {
            self.read.fetch_add(read as u64, Ordering::Relaxed);
        }
        result
    }
}

impl AsyncWrite for Counted {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// hyper's header timer for one connection. hyper asks for it each time the connection
/// waits for a request, with the deadline `now + header_read_timeout`: the first wait
/// keeps that deadline; a later one (the connection kept alive) runs `idle` until a
/// byte of the next request is read, and then the header timeout from there.
struct WaitTimer {
    idle: Duration,
    read: Arc<AtomicU64>,
    first: Arc<AtomicBool>,
}

impl hyper::rt::Timer for WaitTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        TokioTimer::new().sleep(duration)
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        if self.first.swap(false, Ordering::Relaxed) {
            return TokioTimer::new().sleep_until(deadline);
        }
        Box::pin(NextRequest {
            read: self.read.clone(),
            read_at_start: self.read.load(Ordering::Relaxed),
            header: deadline.saturating_duration_since(Instant::now()),
            started: false,
            sleep: Box::pin(tokio::time::sleep(self.idle)),
        })
    }
}

/// The wait for a kept-alive connection's next request (see [`WaitTimer`]).
struct NextRequest {
    read: Arc<AtomicU64>,
    read_at_start: u64,
    header: Duration,
    /// A byte of the request has arrived: the header timeout runs.
    started: bool,
    sleep: Pin<Box<tokio::time::Sleep>>,
}

impl Future for NextRequest {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // hyper polls this after each read that did not complete the headers.
        if !self.started && self.read.load(Ordering::Relaxed) != self.read_at_start {
            self.started = true;
            let deadline = tokio::time::Instant::now() + self.header;
            self.sleep.as_mut().reset(deadline);
        }
        self.sleep.as_mut().poll(cx)
    }
}

impl hyper::rt::Sleep for NextRequest {}
