//! The accept loop: one hyper connection per socket with a header-read timeout, an idle timeout
//! for keep-alive connections with nothing in flight, and a cap on open connections (at the cap
//! the longest-idle connection is closed to make room; with none idle the newcomer is refused).
//! Every request body is read in full here, before any handler runs, so that a handler that
//! ignores its body (IG's `DELETE` endpoints, `_method: DELETE`) cannot leave unread bytes that
//! would end the keep-alive connection under the next request.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::{watch, Notify};
use tokio::time::Instant;
use tower::ServiceExt as _;

/// Connection limits (from [`crate::SandboxConfig`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
}

/// The largest request body the sandbox reads (axum's default limit for its extractors); a
/// larger one is answered 413 `invalid.input.body-too-large` and the connection closed.
pub(crate) const MAX_BODY: usize = 2 * 1024 * 1024;

/// Reads the whole body of `req` (up to [`MAX_BODY`]) and hands the request on with it, or
/// answers 413 when it is larger, or 400 when the client broke off sending it.
async fn with_body_read(
    req: hyper::Request<hyper::body::Incoming>,
) -> Result<axum::extract::Request, axum::response::Response> {
    use axum::response::IntoResponse as _;
    let (parts, body) = req.into_parts();
    match axum::body::to_bytes(Body::new(body), MAX_BODY).await {
        Ok(bytes) => Ok(axum::extract::Request::from_parts(parts, Body::from(bytes))),
        Err(e) => {
            let too_large = std::error::Error::source(&e)
                .is_some_and(<dyn std::error::Error>::is::<http_body_util::LengthLimitError>);
            let (status, code) = if too_large {
                (
                    axum::http::StatusCode::PAYLOAD_TOO_LARGE,
                    "invalid.input.body-too-large",
                )
            } else {
                (axum::http::StatusCode::BAD_REQUEST, "invalid.input")
            };
            tracing::debug!(error = %e, "request body not read");
            let mut resp = (
                status,
                [(axum::http::header::CONTENT_TYPE, "application/json")],
                format!("{{\"errorCode\":\"{code}\"}}"),
            )
                .into_response();
            // The rest of the body is still on the wire: this connection cannot be reused.
            resp.headers_mut().insert(
                axum::http::header::CONNECTION,
                axum::http::HeaderValue::from_static("close"),
            );
            Err(resp)
        }
    }
}

/// One open connection, as the watchdog and the cap see it.
#[derive(Debug)]
struct Conn {
    /// Requests whose response body is not finished yet.
    in_flight: AtomicUsize,
    /// Whether a request ever arrived (before: header-read timeout; after: idle timeout).
    served: AtomicBool,
    /// Milliseconds since `epoch` when the connection last became idle.
    idle_since_ms: AtomicU64,
    epoch: Instant,
    close: Notify,
}

impl Conn {
    fn new() -> Self {
        Self {
            in_flight: AtomicUsize::new(0),
            served: AtomicBool::new(false),
            idle_since_ms: AtomicU64::new(0),
            epoch: Instant::now(),
            close: Notify::new(),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// How long the connection has been idle (zero while a request is in flight).
    fn idle_for(&self) -> Duration {
        if self.in_flight.load(Ordering::SeqCst) > 0 {
            return Duration::ZERO;
        }
        let since = self.idle_since_ms.load(Ordering::SeqCst);
        Duration::from_millis(self.now_ms().saturating_sub(since))
    }

    fn begin(self: &Arc<Self>) -> InFlight {
        self.served.store(true, Ordering::SeqCst);
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        InFlight(self.clone())
    }
}

/// Held by a response body until it is finished or dropped.
#[derive(Debug)]
struct InFlight(Arc<Conn>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0
            .idle_since_ms
            .store(self.0.now_ms(), Ordering::SeqCst);
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A response body that keeps its connection counted as busy until it ends.
struct Tracked {
    body: Body,
    _busy: InFlight,
}

impl HttpBody for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// The open connections, for the cap.
#[derive(Debug, Default)]
struct Registry {
    conns: Mutex<HashMap<u64, Arc<Conn>>>,
    next: AtomicU64,
}

impl Registry {
    /// Registers a new connection, closing the longest-idle one at the cap. `None`: the cap is
    /// reached and every connection is busy.
    fn admit(&self, max: usize) -> Option<(u64, Arc<Conn>)> {
        let mut conns = self.conns.lock().unwrap_or_else(PoisonError::into_inner);
        if conns.len() >= max {
            let victim = conns
                .iter()
                .map(|(id, c)| (*id, c.idle_for()))
                .filter(|(_, idle)| !idle.is_zero())
                .max_by_key(|(_, idle)| *idle)
                .map(|(id, _)| id);
            let c = conns.remove(&victim?)?;
            tracing::debug!("connection cap reached: closing the longest-idle connection");
            c.close.notify_one();
        }
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let conn = Arc::new(Conn::new());
        conns.insert(id, conn.clone());
        Some((id, conn))
    }

    fn remove(&self, id: u64) {
        self.conns
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&id);
    }
}

/// Accepts connections until `stop` turns true, serving each with `app`.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
) {
    let registry = Arc::new(Registry::default());
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.wait_for(|s| *s) => return,
        };
        let tcp = match accepted {
            Ok((tcp, _)) => tcp,
            Err(e) => {
                // Out of file descriptors or a transient accept error: back off briefly.
                tracing::warn!(error = %e, "sandbox cannot accept a connection");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        // Nagle off: a streamed quote must not wait for the client's delayed ACK.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::warn!(error = %e, "cannot turn Nagle's algorithm off");
        }
        let Some((id, conn)) = registry.admit(limits.max_connections.max(1)) else {
            tracing::warn!(
                max = limits.max_connections,
                "connection refused: every connection slot is busy"
            );
            drop(tcp);
            continue;
        };
        let registry = registry.clone();
        let app = app.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            serve_one(tcp, app, conn, limits, stop).await;
            registry.remove(id);
        });
    }
}

async fn serve_one(
    tcp: tokio::net::TcpStream,
    app: Router,
    conn: Arc<Conn>,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
) {
    let svc_conn = conn.clone();
    let svc = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
        let busy = svc_conn.begin();
        let app = app.clone();
        async move {
            let resp = match with_body_read(req).await {
                Ok(req) => app.oneshot(req).await?,
                Err(refused) => refused,
            };
            Ok::<_, std::convert::Infallible>(
                resp.map(|body| Body::new(Tracked { body, _busy: busy })),
            )
        }
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let served = builder.serve_connection_with_upgrades(TokioIo::new(tcp), svc);
    tokio::pin!(served);
    let tick =
        (limits.header_read_timeout.min(limits.idle_timeout) / 4).max(Duration::from_millis(10));
    let mut watchdog = tokio::time::interval(tick);
    watchdog.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            r = served.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                return;
            }
            () = conn.close.notified() => return,
            _ = watchdog.tick() => {
                let limit = if conn.served.load(Ordering::SeqCst) {
                    limits.idle_timeout
                } else {
                    limits.header_read_timeout
                };
                if conn.idle_for() >= limit {
                    tracing::debug!(limit_ms = limit.as_millis() as u64, "closing an idle connection");
                    return;
                }
            }
            stopping = stop.wait_for(|s| *s) => {
                drop(stopping);
                break;
            }
        }
    }
    served.as_mut().graceful_shutdown();
    let _ = tokio::time::timeout(Duration::from_secs(2), served.as_mut()).await;
}
