//! scalper-observe: a running engine seen and steered from outside. An HTTP server (axum) on
//! loopback by default serves `/metrics` (OpenMetrics text, from `prometheus-client`),
//! `/health` and `/health/ready`, `/api/status` (JSON), the live page at `/` (fed by
//! server-sent events from `/api/events`) and, when a control token is
//! configured, `POST /api/halt|flatten|resume`; [`service`] sends systemd notifications.
//!
//! Everything is read from the run's [`TelemetryView`] (a status snapshot the event loop
//! publishes at most every 250 ms, and atomic latency histograms); control actions reach the
//! loop through its bounded control channel. The loop never waits for this crate.

pub mod control;
pub mod http;
pub mod metrics;
pub mod page;
#[cfg(unix)]
pub mod service;

use std::net::SocketAddr;

use secrecy::SecretString;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use scalper_live::TelemetryView;

/// Where and how to serve.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// The address to listen on; port 0 picks a free one ([`Server::local_addr`] says which).
    pub addr: SocketAddr,
    /// Permit an address other than loopback (anyone who can reach it sees the run).
    pub allow_remote: bool,
    /// The bearer token of the control endpoints; `None`: no control endpoints at all.
    pub control_token: Option<SecretString>,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ObserveError {
    #[error("--http {addr}: not a loopback address; anyone who can reach it would see the run (and control it with the token). Add --http-allow-remote to permit it")]
    NonLoopback { addr: SocketAddr },
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("the control token is empty: set SCALPER_CONTROL_TOKEN to a long random value, or unset it to serve no control endpoints")]
    EmptyToken,
}

/// A running server; stops when [`Server::shutdown`] is called or the handle is dropped.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Server {
    /// Binds `cfg.addr` (refusing a non-loopback one unless allowed) and serves `view`.
    pub async fn start(cfg: HttpConfig, view: TelemetryView) -> Result<Self, ObserveError> {
        if !cfg.addr.ip().is_loopback() && !cfg.allow_remote {
            return Err(ObserveError::NonLoopback { addr: cfg.addr });
        }
        let token = match cfg.control_token {
            Some(t) => Some(control::Token::new(&t).ok_or(ObserveError::EmptyToken)?),
            None => None,
        };
        let listener = tokio::net::TcpListener::bind(cfg.addr)
            .await
            .map_err(|source| ObserveError::Bind {
                addr: cfg.addr,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| ObserveError::Bind {
            addr: cfg.addr,
            source,
        })?;
        if !addr.ip().is_loopback() {
            tracing::warn!(%addr, "the HTTP server listens on a non-loopback address (--http-allow-remote): anyone who can reach it sees the run");
        }
        let control = token.is_some();
        let app = http::router(view, token);
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let served = axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await;
            if let Err(e) = served {
                tracing::error!(error = %e, "the HTTP server stopped");
            }
        });
        tracing::info!(%addr, control, "HTTP server listening (/metrics, /health, /api/status)");
        Ok(Self {
            addr,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// The address it listens on (with the port chosen for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, lets requests in progress finish (at most 2 s), and returns.
    pub async fn shutdown(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(mut t) = self.task.take() {
            if tokio::time::timeout(std::time::Duration::from_secs(2), &mut t)
                .await
                .is_err()
            {
                t.abort();
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}
