//! Lightstreamer (TLCP) server for the sandbox: WebSocket and HTTP-streaming transports serving
//! PRICE, MARKET, CHART, TRADE and ACCOUNT items from the sandbox's event bus.

mod http;
mod items;
mod session;
pub use session::MAX_FREQUENCY;
mod websocket;
mod ws;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rust_decimal::Decimal;
use scalper_model::{Epic, MarketStatus, Price, Timestamp};
use tokio::sync::{broadcast, mpsc};

use crate::bus::{BusEvent, StreamFault};
use scalper_ig_wire::tlcp::{Form, Message};
use session::{Out, SessionCmd, SessionTask};

/// Checks a Lightstreamer login (`LS_user`, `LS_password` = `CST-…|XST-…`) against the sandbox's
/// live REST sessions. Implemented by the REST side's session store.
pub trait StreamAuthorizer: Send + Sync + 'static {
    /// True when `password` carries a live CST/XST pair for account `user`.
    fn check(&self, user: &str, password: &str) -> bool;

    /// The account the login belongs to, when it is valid. IG identifies the account by the
    /// tokens, so an empty `user` (trading_ig's stream service sends none) is resolved from
    /// them by implementations that can; the default requires `user`.
    fn account(&self, user: &str, password: &str) -> Option<String> {
        self.check(user, password).then(|| user.to_string())
    }

    /// A market's current price and day statistics, which a new PRICE, MARKET or CHART
    /// subscription starts from (IG answers MERGE subscriptions with a snapshot). `None` when
    /// unknown; the server then uses the last price it saw on the bus, if any.
    fn quote(&self, _epic: &Epic) -> Option<QuoteSnapshot> {
        None
    }

    /// An account's ACCOUNT item values now (IG's field names), the snapshot of a new
    /// subscription. `None` sends no snapshot.
    fn account_fields(&self, _account: &str) -> Option<Vec<(&'static str, String)>> {
        None
    }
}

/// A market as a new subscription's snapshot sees it: top of book and the day's mid
/// statistics (open, high, low), so that PRICE, MARKET and CHART items agree with REST.
#[derive(Debug, Clone)]
pub struct QuoteSnapshot {
    pub bid: Price,
    pub offer: Price,
    pub ts: Timestamp,
    pub status: MarketStatus,
    /// Decimal places of the market's prices (day statistics are rounded to them).
    pub decimals: u32,
    pub day_open: Decimal,
    pub day_high: Decimal,
    pub day_low: Decimal,
    /// The forming bars holding `ts` (CHART candle snapshots), as `/prices` has them.
    pub candles: Vec<CandleSeed>,
    /// CHART items report tick volume (`LTV`); IG leaves FX without.
    pub volume: bool,
}

/// A forming candle of `period` ms: bid and offer open, high, low, close and the tick count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CandleSeed {
    pub period: i64,
    pub start: i64,
    pub bid: [Decimal; 4],
    pub ofr: [Decimal; 4],
    pub ticks: u64,
}

/// Everything the streaming server needs from the rest of the sandbox.
#[derive(Clone)]
pub struct StreamContext {
    pub bus: broadcast::Sender<BusEvent>,
    pub auth: Arc<dyn StreamAuthorizer>,
    /// Keep-alive interval announced in `CONOK` (PROBE when idle).
    pub keepalive: Duration,
    /// The most updates a second a MERGE price item gets (IG's server: 20, `MAX_FREQUENCY`);
    /// `None` sends every update at once, unless the client asks for fewer.
    pub max_frequency: Option<f64>,
}

impl std::fmt::Debug for StreamContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamContext")
            .field("keepalive", &self.keepalive)
            .field("max_frequency", &self.max_frequency)
            .finish_non_exhaustive()
    }
}

/// The streaming routes (`/lightstreamer` WebSocket and `/lightstreamer/*.txt`), to be merged
/// into the sandbox's axum app at the server root.
pub fn router(ctx: StreamContext) -> axum::Router {
    let registry = Registry::new(ctx);
    if tokio::runtime::Handle::try_current().is_ok() {
        registry.start_listener();
    }
    axum::Router::new()
        .route("/lightstreamer", axum::routing::get(ws::upgrade))
        .route(
            "/lightstreamer/create_session.txt",
            axum::routing::post(http::create_session),
        )
        .route(
            "/lightstreamer/bind_session.txt",
            axum::routing::post(http::bind_session),
        )
        .route(
            "/lightstreamer/control.txt",
            axum::routing::post(http::control),
        )
        .with_state(registry)
}

/// The latest price per epic (snapshots for new subscriptions).
#[derive(Debug, Clone)]
pub(crate) struct Latest {
    pub bid: Price,
    pub offer: Price,
    pub ts: Timestamp,
    pub status: MarketStatus,
}

/// Shared server state: live sessions, fault counters and the latest prices.
pub(crate) struct Registry {
    ctx: StreamContext,
    sessions: Mutex<HashMap<String, mpsc::Sender<SessionCmd>>>,
    latest: Mutex<HashMap<Epic, Latest>>,
    /// Subscriptions still to refuse (`StreamFault::RefuseSubscriptions`).
    pub(crate) refuse: AtomicU32,
    next_id: AtomicU64,
    listener: Mutex<Option<broadcast::Receiver<BusEvent>>>,
    listening: AtomicBool,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry").finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Why a create/bind failed: the `CONERR` notification to send.
pub(crate) type ConErr = Message;

impl Registry {
    fn new(ctx: StreamContext) -> Arc<Self> {
        let rx = ctx.bus.subscribe();
        Arc::new(Self {
            ctx,
            sessions: Mutex::new(HashMap::new()),
            latest: Mutex::new(HashMap::new()),
            refuse: AtomicU32::new(0),
            next_id: AtomicU64::new(1),
            listener: Mutex::new(Some(rx)),
            listening: AtomicBool::new(false),
        })
    }

    /// Starts the bus listener (faults, latest prices) once; called from inside the runtime.
    pub(crate) fn start_listener(self: &Arc<Self>) {
        if self.listening.swap(true, Ordering::SeqCst) {
            return;
        }
        let Some(mut rx) = lock(&self.listener).take() else {
            return;
        };
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                let ev = match rx.recv().await {
                    Ok(ev) => ev,
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return,
                };
                let Some(reg) = weak.upgrade() else { return };
                match ev {
                    BusEvent::Price {
                        epic,
                        bid,
                        offer,
                        ts,
                        status,
                    } => {
                        lock(&reg.latest).insert(
                            epic,
                            Latest {
                                bid,
                                offer,
                                ts,
                                status,
                            },
                        );
                    }
                    BusEvent::StreamFault(StreamFault::RefuseSubscriptions { count }) => {
                        reg.refuse.fetch_add(count, Ordering::SeqCst);
                    }
                    BusEvent::StreamFault(f) => {
                        let sessions: Vec<_> = lock(&reg.sessions).values().cloned().collect();
                        for s in sessions {
                            let _ = s.send(SessionCmd::Fault(f.clone())).await;
                        }
                    }
                    _ => {}
                }
            }
        });
    }

    pub(crate) fn remove(&self, id: &str) {
        lock(&self.sessions).remove(id);
    }

    fn session(&self, id: &str) -> Option<mpsc::Sender<SessionCmd>> {
        lock(&self.sessions).get(id).cloned()
    }

    fn keepalive_param(form: &Form) -> Option<Duration> {
        form.number("LS_keepalive_millis")
            .map(Duration::from_millis)
    }

    /// `create_session`: checks the login and starts a session bound to `sink`.
    pub(crate) async fn create(
        self: &Arc<Self>,
        form: &Form,
        sink: mpsc::Sender<Out>,
    ) -> Result<String, ConErr> {
        self.start_listener();
        let user = form.get("LS_user").unwrap_or("");
        let password = form.get("LS_password").unwrap_or("");
        let Some(account) = self.ctx.auth.account(user, password) else {
            tracing::info!(user, "stream login refused (CONERR 1)");
            return Err(Message::ConErr {
                code: 1,
                message: "User/password check failed".into(),
            });
        };
        let n = self.next_id.fetch_add(1, Ordering::SeqCst);
        let id = format!("S{n:x}T{:x}", rand::random::<u32>());
        let (tx, rx) = mpsc::channel(256);
        let task = SessionTask::new(id.clone(), account, self.ctx.keepalive, self.clone());
        lock(&self.sessions).insert(id.clone(), tx.clone());
        tokio::spawn(task.run(rx, self.ctx.bus.subscribe()));
        tx.send(SessionCmd::Bind {
            sink,
            keepalive: Self::keepalive_param(form),
            polling: form.flag("LS_polling"),
        })
        .await
        .map_err(|_| Message::ConErr {
            code: 21,
            message: "Session ended".into(),
        })?;
        Ok(id)
    }

    /// `bind_session`: attaches `sink` to an existing session (`CONERR,20` when unknown).
    pub(crate) async fn bind(
        &self,
        form: &Form,
        sink: mpsc::Sender<Out>,
    ) -> Result<String, ConErr> {
        let id = form.get("LS_session").unwrap_or("").to_string();
        let not_found = || Message::ConErr {
            code: 20,
            message: "Session not found".into(),
        };
        let Some(s) = self.session(&id) else {
            return Err(not_found());
        };
        s.send(SessionCmd::Bind {
            sink,
            keepalive: Self::keepalive_param(form),
            polling: form.flag("LS_polling"),
        })
        .await
        .map_err(|_| not_found())?;
        Ok(id)
    }

    /// A control request for session `id`; `reply` gets the REQOK/REQERR line (else it goes
    /// on the stream). Errors are the line to answer with.
    pub(crate) async fn control(
        &self,
        id: &str,
        form: Form,
        reply: Option<tokio::sync::oneshot::Sender<String>>,
    ) -> Result<(), Message> {
        let not_found = Message::ReqErr {
            req_id: form.number("LS_reqId").unwrap_or(0),
            code: 20,
            message: "Session not found".into(),
        };
        let Some(s) = self.session(id) else {
            return Err(not_found);
        };
        s.send(SessionCmd::Control { form, reply })
            .await
            .map_err(|_| not_found)
    }

    /// The latest price of `epic` seen on the bus.
    pub(crate) fn latest(&self, epic: &Epic) -> Option<Latest> {
        lock(&self.latest).get(epic).cloned()
    }

    /// The snapshot a new subscription to `epic` starts from: the last price seen on the bus
    /// (so that it is not counted twice by the session's own bus receiver), with the day
    /// statistics of the sandbox's market; either alone when the other is missing.
    pub(crate) fn snapshot(&self, epic: &Epic) -> Option<QuoteSnapshot> {
        let backend = self.ctx.auth.quote(epic);
        match (self.latest(epic), backend) {
            (Some(l), Some(b)) => Some(QuoteSnapshot {
                bid: l.bid,
                offer: l.offer,
                ts: l.ts,
                status: l.status,
                // The market's bars hold ticks the bus has not delivered yet unless both are
                // at the same tick: then the candles start from the tick alone.
                candles: if l.ts == b.ts { b.candles } else { Vec::new() },
                ..b
            }),
            (Some(l), None) => {
                let mid = (l.bid.value() + l.offer.value()) / Decimal::TWO;
                Some(QuoteSnapshot {
                    bid: l.bid,
                    offer: l.offer,
                    ts: l.ts,
                    status: l.status,
                    decimals: 28, // rust_decimal's maximum scale: no rounding
                    day_open: mid,
                    day_high: mid,
                    day_low: mid,
                    candles: Vec::new(),
                    volume: false,
                })
            }
            (None, b) => b,
        }
    }

    /// The ACCOUNT snapshot of `account`, if the sandbox provides one.
    pub(crate) fn account_fields(&self, account: &str) -> Option<Vec<(&'static str, String)>> {
        self.ctx.auth.account_fields(account)
    }
}
