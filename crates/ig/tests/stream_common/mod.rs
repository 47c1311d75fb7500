//! Shared harness for the streaming tests: a sandbox stream server on loopback with a bus the
//! test publishes to, a credential source with re-login, and polling helpers with deadlines.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rust_decimal::Decimal;
use scalper_ig::stream::{
    SecretString, StreamClient, StreamConfig, StreamCredentialSource, StreamCredentials,
    StreamEvent, StreamReceivers, Subscription,
};
use scalper_ig::IgError;
use scalper_model::{AccountId, Epic, MarketStatus, Price, Quote, Timestamp};
use scalper_sandbox::bus::{self, BusEvent};
use scalper_sandbox::stream::{router, StreamAuthorizer, StreamContext};
use tokio::sync::broadcast;
use tokio::time::Instant;

pub const ACCOUNT: &str = "ABC123";
pub const DEADLINE: Duration = Duration::from_secs(10);

/// Accepts exactly the current token pair.
#[derive(Debug)]
pub struct Auth {
    pub valid: Mutex<(String, String)>,
}

impl StreamAuthorizer for Auth {
    fn check(&self, user: &str, password: &str) -> bool {
        let (cst, xst) = self.valid.lock().unwrap().clone();
        user == ACCOUNT && password == format!("CST-{cst}|XST-{xst}")
    }
}

/// Hands out its current tokens; a re-login copies the server's valid ones.
#[derive(Debug)]
pub struct Creds {
    pub endpoint: String,
    pub tokens: Mutex<(String, String)>,
    pub auth: Arc<Auth>,
    pub relogins: AtomicU32,
    /// Make `force_relogin` fail as IG does for a wrong password.
    pub refuse_relogin: AtomicBool,
}

impl StreamCredentialSource for Creds {
    async fn credentials(&self) -> Result<StreamCredentials, IgError> {
        let (cst, xst) = self.tokens.lock().unwrap().clone();
        Ok(StreamCredentials {
            endpoint: self.endpoint.clone(),
            account_id: AccountId::new(ACCOUNT).unwrap(),
            cst: SecretString::from(cst),
            xst: SecretString::from(xst),
        })
    }
    async fn force_relogin(&self) -> Result<(), IgError> {
        self.relogins.fetch_add(1, Ordering::SeqCst);
        if self.refuse_relogin.load(Ordering::SeqCst) {
            return Err(IgError::InvalidCredentials);
        }
        let valid = self.auth.valid.lock().unwrap().clone();
        *self.tokens.lock().unwrap() = valid;
        Ok(())
    }
}

pub struct Harness {
    pub bus: broadcast::Sender<BusEvent>,
    pub creds: Arc<Creds>,
    pub endpoint: String,
}

/// Starts the stream server with a short keep-alive.
pub async fn server(keepalive: Duration) -> Harness {
    let bus = bus::channel();
    let auth = Arc::new(Auth {
        valid: Mutex::new(("cst1".into(), "xst1".into())),
    });
    let ctx = StreamContext {
        bus: bus.clone(),
        auth: auth.clone(),
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
    let creds = Arc::new(Creds {
        endpoint: endpoint.clone(),
        tokens: Mutex::new(("cst1".into(), "xst1".into())),
        auth,
        relogins: AtomicU32::new(0),
        refuse_relogin: AtomicBool::new(false),
    });
    Harness {
        bus,
        creds,
        endpoint,
    }
}

pub fn fast_config() -> StreamConfig {
    StreamConfig {
        silence_grace: Duration::from_millis(800),
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(200),
        connect_timeout: Duration::from_secs(3),
        ..StreamConfig::default()
    }
}

pub fn epic(s: &str) -> Epic {
    Epic::new(s).unwrap()
}

pub fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

impl Harness {
    pub fn start(&self, subs: Vec<Subscription>) -> (StreamClient, StreamReceivers) {
        StreamClient::start(fast_config(), self.creds.clone(), subs)
    }

    pub fn start_with(
        &self,
        cfg: StreamConfig,
        subs: Vec<Subscription>,
    ) -> (StreamClient, StreamReceivers) {
        StreamClient::start(cfg, self.creds.clone(), subs)
    }

    pub fn price(&self, e: &Epic, bid: &str, offer: &str, ts: i64) {
        let _ = self.bus.send(BusEvent::Price {
            epic: e.clone(),
            bid: Price::new(d(bid)),
            offer: Price::new(d(offer)),
            ts: Timestamp::from_millis(ts),
            status: MarketStatus::Tradeable,
        });
    }

    /// Publishes a price for every epic every 20 ms (bid = 1.1000 + n/10000) until dropped.
    pub fn ticker(&self, epics: Vec<Epic>) -> tokio::task::JoinHandle<()> {
        let bus = self.bus.clone();
        tokio::spawn(async move {
            let mut n: i64 = 0;
            loop {
                n += 1;
                for e in &epics {
                    let bid = Decimal::new(11_000 + n, 4);
                    let _ = bus.send(BusEvent::Price {
                        epic: e.clone(),
                        bid: Price::new(bid),
                        offer: Price::new(bid + Decimal::new(2, 4)),
                        ts: Timestamp::from_millis(1_700_000_000_000 + n),
                        status: MarketStatus::Tradeable,
                    });
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    }
}

/// Waits for an event matching `pred`, skipping others; panics with the events seen.
pub async fn wait_event(
    rx: &mut StreamReceivers,
    what: &str,
    mut pred: impl FnMut(&StreamEvent) -> bool,
) -> StreamEvent {
    let deadline = Instant::now() + DEADLINE;
    let mut seen = Vec::new();
    loop {
        match tokio::time::timeout_at(deadline, rx.events.recv()).await {
            Ok(Some(ev)) if pred(&ev) => return ev,
            Ok(Some(ev)) => seen.push(format!("{ev:?}")),
            Ok(None) => panic!("event channel closed waiting for {what}; seen {seen:#?}"),
            Err(elapsed) => panic!("{elapsed} waiting for {what}; seen {seen:#?}"),
        }
    }
}

/// Waits until quotes for every epic in `epics` arrived with a timestamp after `after`.
pub async fn wait_quotes(rx: &mut StreamReceivers, epics: &[Epic], after: i64) -> Vec<Quote> {
    let deadline = Instant::now() + DEADLINE;
    let mut got: Vec<Quote> = Vec::new();
    while !epics
        .iter()
        .all(|e| got.iter().any(|q| &q.epic == e && q.ts.millis() > after))
    {
        match tokio::time::timeout_at(deadline, rx.quotes.recv()).await {
            Ok(Some(q)) => got.push(q),
            Ok(None) => panic!("quote channel closed"),
            Err(elapsed) => panic!("{elapsed} waiting for quotes of {epics:?}; got {got:?}"),
        }
    }
    got
}

/// Drains status events so the lossless channel never fills in long tests.
pub fn drain_events(rx: &mut StreamReceivers) {
    while rx.events.try_recv().is_ok() {}
}
