//! Lightstreamer (TLCP) server for the sandbox: WebSocket and HTTP-streaming transports serving
//! PRICE, MARKET, CHART, TRADE and ACCOUNT items from the sandbox's event bus.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast;

use crate::bus::BusEvent;

/// Checks a Lightstreamer login (`LS_user`, `LS_password` = `CST-…|XST-…`) against the sandbox's
/// live REST sessions. Implemented by the REST side's session store.
pub trait StreamAuthorizer: Send + Sync + 'static {
    /// True when `password` carries a live CST/XST pair for account `user`.
    fn check(&self, user: &str, password: &str) -> bool;
}

/// Everything the streaming server needs from the rest of the sandbox.
#[derive(Clone)]
pub struct StreamContext {
    pub bus: broadcast::Sender<BusEvent>,
    pub auth: Arc<dyn StreamAuthorizer>,
    /// Keep-alive interval announced in `CONOK` (PROBE when idle).
    pub keepalive: Duration,
}

impl std::fmt::Debug for StreamContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamContext")
            .field("keepalive", &self.keepalive)
            .finish_non_exhaustive()
    }
}

/// The streaming routes (`/lightstreamer` WebSocket and `/lightstreamer/*.txt`), to be merged
/// into the sandbox's axum app at the server root.
pub fn router(ctx: StreamContext) -> axum::Router {
    let _ = ctx;
    axum::Router::new()
}
