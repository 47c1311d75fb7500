//! Shared harness for the stream server tests that speak raw TLCP: the sandbox's stream router
//! on loopback with a bus the test publishes to and one valid token pair (`cst1`/`xst1` for
//! account `ABC123`).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use rust_decimal::Decimal;
use scalper_model::{Epic, MarketStatus, Price, Timestamp};
use scalper_sandbox::bus::{self, BusEvent};
use scalper_sandbox::stream::{router, StreamAuthorizer, StreamContext};
use tokio::sync::broadcast;

pub const ACCOUNT: &str = "ABC123";
pub const DEADLINE: Duration = Duration::from_secs(10);

/// Accepts exactly `CST-cst1|XST-xst1` for [`ACCOUNT`].
#[derive(Debug)]
struct Auth;

impl StreamAuthorizer for Auth {
    fn check(&self, user: &str, password: &str) -> bool {
        user == ACCOUNT && password == "CST-cst1|XST-xst1"
    }
}

pub struct Harness {
    pub bus: broadcast::Sender<BusEvent>,
    pub endpoint: String,
}

/// Starts the stream server with the given keep-alive.
pub async fn server(keepalive: Duration) -> Harness {
    let bus = bus::channel();
    let ctx = StreamContext {
        bus: bus.clone(),
        auth: Arc::new(Auth),
        keepalive,
        max_frequency: Some(scalper_sandbox::stream::MAX_FREQUENCY),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    // Built here so that the server subscribes to the bus before the test publishes.
    let app = router(ctx);
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Harness { bus, endpoint }
}

pub fn epic(s: &str) -> Epic {
    Epic::new(s).unwrap()
}

impl Harness {
    pub fn price(&self, e: &Epic, bid: &str, offer: &str, ts: i64) {
        let _ = self.bus.send(BusEvent::Price {
            epic: e.clone(),
            bid: Price::new(Decimal::from_str(bid).unwrap()),
            offer: Price::new(Decimal::from_str(offer).unwrap()),
            ts: Timestamp::from_millis(ts),
            status: MarketStatus::Tradeable,
        });
    }
}
