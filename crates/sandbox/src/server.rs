//! Starting and stopping the sandbox: [`Sandbox::start`] binds, builds the axum app (REST +
//! admin + streaming), runs the simulator ticker, and returns a [`SandboxHandle`] with the
//! URLs, the credentials, admin controls and graceful shutdown.

use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rust_decimal::Decimal;
use scalper_ig_wire::history::Activity;
use scalper_model::{Epic, MarketStatus, Price, Quote, Timestamp};
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::bus::{self, BusEvent, StreamFault};
use crate::catalog::{self, ProductKind};
use crate::clock::SimClock;
use crate::config::{Credentials, SandboxConfig};
use crate::dealing::World;
use crate::error::{ApiError, SandboxError};
use crate::faults::{FaultSpec, FaultSpecError};
use crate::market::{self, MarketRt, Source};
use crate::sim::MarketSim;
use crate::state::{Account, AccountSnapshot, State, StateSnapshot};
use crate::stream::{self, QuoteSnapshot, StreamAuthorizer, StreamContext};

/// A REST request as the sandbox saw it arrive.
#[derive(Debug, Clone)]
pub struct RequestSeen {
    /// `POST`, `GET`, …; a `POST` with IG's `_method: DELETE` header shows as `DELETE`.
    pub method: String,
    /// The matched route, e.g. `/gateway/deal/positions/otc`.
    pub path: String,
    /// When the middleware saw it (`std::time::Instant`, comparable with the caller's clock).
    pub at: std::time::Instant,
}

/// Shared server internals.
#[derive(Debug)]
pub(crate) struct Inner {
    pub cfg: SandboxConfig,
    st: Mutex<State>,
    pub bus: broadcast::Sender<BusEvent>,
    /// Every REST request as it arrives, for benchmarks and tests ([`SandboxHandle::watch_requests`]).
    pub requests: broadcast::Sender<RequestSeen>,
    pub req_seq: AtomicU64,
    /// The simulator's clock (its speed can change while the sandbox runs).
    clock: Mutex<SimClock>,
    pub stream_url: String,
    /// The address the sandbox listens on (the admin API accepts it as `Host`).
    pub addr: SocketAddr,
}

impl Inner {
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.st.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` on the dealing world under the lock, then publishes its bus events.
    pub fn with<R>(&self, f: impl FnOnce(&mut World<'_>) -> R) -> R {
        let mut out = Vec::new();
        let r = {
            let mut st = self.lock();
            let mut w = World {
                st: &mut st,
                cfg: &self.cfg,
                out: &mut out,
                now: Instant::now(),
            };
            f(&mut w)
        };
        for ev in out {
            let _ = self.bus.send(ev);
        }
        r
    }

    fn clock(&self) -> MutexGuard<'_, SimClock> {
        self.clock.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The simulated time the ticker should have reached now, and the clock's speed.
    fn sim_target(&self) -> (Timestamp, f64) {
        let c = self.clock();
        (c.at(Instant::now()), c.speed())
    }

    /// Advances every market to `until` (at most `cap` quotes each), running triggers.
    fn advance(&self, until: Timestamp, cap: usize) {
        self.with(|w| {
            let epics: Vec<String> = w.st.markets.keys().cloned().collect();
            for epic in epics {
                for _ in 0..cap {
                    let Some(q) =
                        w.st.markets
                            .get_mut(&epic)
                            .and_then(|m| m.next_before(until))
                    else {
                        break;
                    };
                    publish_quote(w, &q);
                    follow(w, &q, None);
                }
            }
            if until > w.st.sim_now {
                w.st.sim_now = until;
            }
            let now = w.now;
            w.st.confirms.retain(|_, c| c.expires > now);
        });
    }

    pub fn snapshot(&self) -> StateSnapshot {
        self.with(|w| {
            let accounts =
                w.st.accounts
                    .values()
                    .map(|a| AccountSnapshot {
                        account_id: a.id.clone(),
                        account_type: a.kind.as_ig().into(),
                        balance: a.balance,
                        profit_loss: a.positions.iter().map(|p| w.upl(p)).sum(),
                        positions: a.positions.clone(),
                        working_orders: a.orders.clone(),
                        ledger: a.ledger.clone(),
                    })
                    .collect();
            StateSnapshot {
                sessions: w.st.sessions.len(),
                oauth_tokens: w.st.oauth.len(),
                logins: w.st.logins.clone(),
                requests: w.st.requests.clone(),
                accounts,
                faults_fired: w.st.faults.fired.clone(),
                faults_armed: w.st.faults.rules().len(),
                sim_time: w.st.sim_now,
            }
        })
    }

    pub fn step(&self, epic: Option<&str>, ticks: u32) -> Result<Vec<Quote>, ApiError> {
        self.with(|w| {
            // An epic quoted from an underlying steps the underlying (and so every epic of
            // its market).
            let epics: Vec<String> = match epic {
                Some(e) => match w.st.markets.get(e) {
                    Some(m) => vec![m.leader().unwrap_or(e).to_string()],
                    None => return Err(ApiError::not_found("error.public-api.epic-not-found")),
                },
                None => {
                    w.st.markets
                        .iter()
                        .filter(|(_, m)| m.leader().is_none())
                        .map(|(e, _)| e.clone())
                        .collect()
                }
            };
            let mut last = Vec::new();
            for e in epics {
                for _ in 0..ticks {
                    let Some(m) = w.st.markets.get_mut(&e) else {
                        break;
                    };
                    let q = m.step();
                    if q.ts > w.st.sim_now {
                        w.st.sim_now = q.ts;
                    }
                    publish_quote(w, &q);
                    let quoted = follow(w, &q, None);
                    last.push(q);
                    last.extend(quoted);
                }
            }
            if let Some(e) = epic {
                last.retain(|q| q.epic.as_str() == e);
            }
            Ok(last)
        })
    }

    pub fn set_price(&self, epic: &str, bid: Price, offer: Price) -> Result<Quote, ApiError> {
        if offer < bid {
            return Err(ApiError::bad_request("invalid.request.offer-below-bid"));
        }
        crate::dealing::check_numbers(&[
            ("bid", Some(bid.value())),
            ("offer", Some(offer.value())),
        ])?;
        self.with(|w| {
            let ts = w.st.sim_now.plus_millis(1);
            w.st.sim_now = ts;
            let m =
                w.st.markets
                    .get_mut(epic)
                    .ok_or_else(|| ApiError::not_found("error.public-api.epic-not-found"))?;
            tracing::info!(epic, %bid, %offer, "admin: price set");
            // The market moves as one: an epic quoted from an underlying sets the underlying
            // (and so its other epics) to match, and itself exactly as asked.
            let under = match &m.source {
                crate::market::Source::Follow(f) => {
                    let (b, o) = f.underlying_price(bid.value(), offer.value());
                    Some((f.leader.clone(), Price::new(b), Price::new(o.max(b))))
                }
                _ => None,
            };
            let q = m.set_quote(bid, offer, ts);
            if let Some((leader, b, o)) = under {
                if let Some(lq) = w.st.markets.get_mut(&leader).map(|l| l.set_quote(b, o, ts)) {
                    publish_quote(w, &lq);
                    follow(w, &lq, Some(epic));
                }
            } else {
                follow(w, &q, None);
            }
            publish_quote(w, &q);
            Ok(q)
        })
    }

    pub fn set_market_status(
        &self,
        epic: &str,
        status: Option<MarketStatus>,
    ) -> Result<(), ApiError> {
        self.with(|w| {
            let m =
                w.st.markets
                    .get_mut(epic)
                    .ok_or_else(|| ApiError::not_found("error.public-api.epic-not-found"))?;
            tracing::warn!(epic, status = ?status, "admin: market status override");
            m.status_override = status;
            let q = m.last.clone();
            publish_quote(w, &q);
            Ok(())
        })
    }

    pub fn set_min_stop_distance(&self, epic: &str, points: Decimal) -> Result<(), ApiError> {
        if points < Decimal::ZERO || points > Decimal::from(100_000) {
            return Err(ApiError::bad_request(
                "error.sandbox.invalid-min-stop-distance",
            ));
        }
        self.with(|w| {
            let m =
                w.st.markets
                    .get_mut(epic)
                    .ok_or_else(|| ApiError::not_found("error.public-api.epic-not-found"))?;
            tracing::warn!(epic, %points, "admin: minimum stop distance changed");
            m.entry.min_stop_distance = points;
            Ok(())
        })
    }

    pub fn inject(&self, spec: FaultSpec) {
        if spec == FaultSpec::default() {
            return;
        }
        tracing::warn!(?spec, "fault injection armed");
        self.lock().faults.add(spec);
    }

    pub fn invalidate_tokens(&self) -> usize {
        let n = self.lock().invalidate_tokens();
        tracing::warn!(
            tokens = n,
            fault = "invalidate-tokens",
            "injected fault: all tokens invalidated"
        );
        n
    }

    pub fn stream_fault(&self, fault: StreamFault) {
        tracing::warn!(?fault, "injected stream fault");
        let _ = self.bus.send(BusEvent::StreamFault(fault));
    }

    /// Whether a CST/XST pair is live for `account` (streaming login).
    /// The account of a live CST/XST pair in `password` (`CST-…|XST-…`), if `user` is empty
    /// or names that account.
    fn stream_login_account(&self, user: &str, password: &str) -> Option<String> {
        let (cst, xst) = password.strip_prefix("CST-")?.split_once("|XST-")?;
        let st = self.lock();
        st.sessions
            .get(cst)
            .filter(|s| {
                // IG identifies the account by the tokens; clients such as trading_ig's stream
                // service send no LS_user at all.
                s.xst == xst
                    && (user.is_empty() || s.account == user)
                    && crate::rest::session_alive(&self.cfg, s, Instant::now())
            })
            .map(|s| s.account.clone())
    }
}

/// Publishes a price (with the market's status) and runs its triggers.
/// Quotes and publishes the epics that follow the underlying of `q` (all but `except`),
/// returning their quotes.
fn follow(w: &mut World<'_>, q: &Quote, except: Option<&str>) -> Vec<Quote> {
    let Some(epics) = w.st.followers.get_mut(q.epic.as_str()).map(std::mem::take) else {
        return Vec::new();
    };
    let mut out = Vec::with_capacity(epics.len());
    for e in epics.iter().filter(|e| Some(e.as_str()) != except) {
        if let Some(fq) = w.st.markets.get_mut(e).and_then(|m| m.follow(q)) {
            publish_quote(w, &fq);
            out.push(fq);
        }
    }
    if let Some(slot) = w.st.followers.get_mut(q.epic.as_str()) {
        *slot = epics;
    }
    out
}

fn publish_quote(w: &mut World<'_>, q: &Quote) {
    let status =
        w.st.markets
            .get(q.epic.as_str())
            .map_or(MarketStatus::Tradeable, |m| {
                m.status_at(w.cfg, w.st.sim_now)
            });
    w.out.push(BusEvent::Price {
        epic: q.epic.clone(),
        bid: q.bid,
        offer: q.offer,
        ts: q.ts,
        status,
    });
    w.on_quote(q);
}

#[derive(Debug)]
struct StreamAuth(std::sync::Weak<Inner>);

impl StreamAuthorizer for StreamAuth {
    fn check(&self, user: &str, password: &str) -> bool {
        self.account(user, password).is_some()
    }

    fn account(&self, user: &str, password: &str) -> Option<String> {
        self.0
            .upgrade()
            .and_then(|i| i.stream_login_account(user, password))
    }

    fn quote(&self, epic: &Epic) -> Option<QuoteSnapshot> {
        let inner = self.0.upgrade()?;
        let st = inner.lock();
        let m = st.markets.get(epic.as_str())?;
        // The CHART scales' forming bars, as `/prices` serves them.
        let candles = [1_000, 60_000, 300_000, 3_600_000]
            .into_iter()
            .filter_map(|period| {
                let start = crate::market::bar_start(m.last.ts.millis(), period);
                let b = crate::backfill::range(
                    &inner.cfg,
                    m,
                    inner.cfg.seed,
                    period,
                    start,
                    Some(start),
                )
                .pop()?;
                Some(stream::CandleSeed {
                    period,
                    start: b.start,
                    bid: [b.open.0, b.high.0, b.low.0, b.close.0],
                    ofr: [b.open.1, b.high.1, b.low.1, b.close.1],
                    ticks: b.ticks,
                })
            })
            .collect();
        Some(QuoteSnapshot {
            candles,
            volume: m.entry.class != scalper_model::catalogue::AssetClass::Fx,
            bid: m.last.bid,
            offer: m.last.offer,
            ts: m.last.ts,
            status: m.status_at(&inner.cfg, st.sim_now),
            decimals: m.entry.decimals,
            day_open: m.day_open,
            day_high: m.high,
            day_low: m.low,
        })
    }

    fn account_fields(&self, account: &str) -> Option<Vec<(&'static str, String)>> {
        let inner = self.0.upgrade()?;
        inner.with(|w| {
            w.st.accounts
                .contains_key(account)
                .then(|| w.account_fields(account))
        })
    }
}

/// The sandbox server.
#[derive(Debug)]
pub struct Sandbox;

impl Sandbox {
    /// Binds, starts the REST/streaming server and the simulator, and returns its handle.
    pub async fn start(config: SandboxConfig) -> Result<SandboxHandle, SandboxError> {
        if !(config.speed >= 0.0 && config.speed.is_finite()) {
            return Err(SandboxError::Config(format!(
                "speed must be >= 0, got {}",
                config.speed
            )));
        }
        if catalog::gbp_rate(&config.currency).is_none() {
            return Err(SandboxError::Config(format!(
                "unsupported account currency {:?} (use GBP, USD, EUR, JPY, AUD or CHF)",
                config.currency
            )));
        }
        if !config.bind.is_loopback() && !config.allow_remote {
            return Err(SandboxError::NonLoopbackBind { addr: config.bind });
        }
        let addr = SocketAddr::new(config.bind, config.port);
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| SandboxError::Bind {
                addr: addr.to_string(),
                source,
            })?;
        let local = listener.local_addr().map_err(|source| SandboxError::Bind {
            addr: addr.to_string(),
            source,
        })?;
        if !config.bind.is_loopback() {
            tracing::warn!(%local, "sandbox bound to a NON-loopback address: anyone on the network can reach it");
        }
        let start = config.start_time.unwrap_or_else(crate::clock::wall_now);
        // Anchored at the moment `start` is read: the warm-up history below takes a while, and
        // the simulated clock must not lag wall time by it.
        let anchored = Instant::now();
        let st = build_state(&config, start)?;
        let stream_url = format!("http://{local}");
        let inner = Arc::new(Inner {
            st: Mutex::new(st),
            bus: bus::channel(),
            requests: broadcast::channel(1024).0,
            req_seq: AtomicU64::new(0),
            clock: Mutex::new(SimClock::new(anchored, start, config.speed)),
            stream_url: stream_url.clone(),
            addr: local,
            cfg: config,
        });
        inner.inject(inner.cfg.faults.clone());
        let stream_ctx = StreamContext {
            bus: inner.bus.clone(),
            auth: Arc::new(StreamAuth(Arc::downgrade(&inner))),
            keepalive: inner.cfg.stream_keepalive,
            max_frequency: inner.cfg.stream_max_frequency,
        };
        let app = crate::rest::router(inner.clone()).merge(stream::router(stream_ctx));
        let (stop_tx, mut stop_rx) = watch::channel(false);
        let server_stop = stop_tx.subscribe();
        let limits = crate::conn::Limits {
            header_read_timeout: inner.cfg.header_read_timeout,
            idle_timeout: inner.cfg.idle_timeout,
            max_connections: inner.cfg.max_connections,
        };
        let server = tokio::spawn(crate::conn::serve(listener, app, limits, server_stop));
        let ticker_inner = inner.clone();
        let ticker = tokio::spawn(async move {
            let mut iv = tokio::time::interval(Duration::from_millis(25));
            iv.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                tokio::select! {
                    _ = iv.tick() => {}
                    _ = stop_rx.wait_for(|s| *s) => break,
                }
                let (target, speed) = ticker_inner.sim_target();
                if speed > 0.0 {
                    ticker_inner.advance(target, 10_000);
                } else {
                    let now = Instant::now();
                    ticker_inner.lock().confirms.retain(|_, c| c.expires > now);
                }
            }
        });
        tracing::info!(rest = %format!("{stream_url}/gateway/deal"), "sandbox listening");
        Ok(SandboxHandle {
            inner,
            addr: local,
            stop: stop_tx,
            tasks: Mutex::new(vec![server, ticker]),
        })
    }
}

fn build_state(cfg: &SandboxConfig, start: Timestamp) -> Result<State, SandboxError> {
    let mut st = State::new(cfg.seed, start);
    let replay = match &cfg.replay {
        Some(r) => Some((r.epic.clone(), market::load_replay(&r.path)?)),
        None => None,
    };
    let warm_start = start.plus_millis(-(cfg.warmup.as_millis() as i64));
    for (i, entry) in catalog::catalogue_for(&cfg.currency)
        .into_iter()
        .enumerate()
    {
        let replayed = replay.as_ref().is_some_and(|(e, _)| *e == entry.epic);
        let leader = (entry.underlying != entry.epic && !replayed)
            .then(|| st.markets.get(entry.underlying.as_str()))
            .flatten();
        if let Some(leader) = leader {
            // Quoted from the market's underlying (its CFD epic), as IG does.
            let m = MarketRt::new(
                entry.clone(),
                Source::Follow(market::Follow::new(leader, &entry)),
                warm_start,
            );
            st.followers
                .entry(entry.underlying.as_str().to_string())
                .or_default()
                .push(entry.epic.as_str().to_string());
            st.markets.insert(entry.epic.as_str().to_string(), m);
            continue;
        }
        let source = match &replay {
            Some((epic, quotes)) if *epic == entry.epic => {
                let first = quotes[0].0;
                let last = quotes[quotes.len() - 1].0;
                Source::Replay {
                    quotes: quotes.clone(),
                    idx: 0,
                    offset: start.millis() - first,
                    period: (last - first).max(1) + 1,
                }
            }
            _ => Source::Sim(Box::new(MarketSim::new(
                entry.sim_params(),
                cfg.seed.wrapping_mul(1_000_003).wrapping_add(i as u64),
                warm_start,
            ))),
        };
        let m = MarketRt::new(entry, source, warm_start);
        st.markets.insert(m.entry.epic.as_str().to_string(), m);
    }
    // The warm-up: each underlying's quotes, and its followers quoted from them.
    let epics: Vec<String> = st.markets.keys().cloned().collect();
    for epic in epics {
        while let Some(q) = st.markets.get_mut(&epic).and_then(|m| m.next_before(start)) {
            for f in st.followers.get(&epic).into_iter().flatten() {
                if let Some(m) = st.markets.get_mut(f) {
                    m.follow(&q);
                }
            }
        }
    }
    for (id, name, kind) in [
        ("SANDBOX-CFD", "CFD", ProductKind::Cfd),
        ("SANDBOX-SB", "Spread bet", ProductKind::SpreadBet),
    ] {
        st.accounts.insert(
            id.into(),
            Account {
                id: id.into(),
                name: name.into(),
                kind,
                balance: cfg.starting_balance,
                positions: Vec::new(),
                orders: Vec::new(),
                ledger: Vec::new(),
                activities: Vec::<Activity>::new(),
                transactions: Vec::new(),
                trailing_stops_enabled: true,
            },
        );
    }
    if !st.accounts.contains_key(&cfg.default_account) {
        return Err(SandboxError::Config(format!(
            "unknown default account {:?} (use {} or {})",
            cfg.default_account,
            crate::config::CFD_ACCOUNT,
            crate::config::SPREAD_BET_ACCOUNT
        )));
    }
    st.preferred.insert(
        cfg.credentials.username.clone(),
        cfg.default_account.clone(),
    );
    if let Some(u) = &cfg.spread_bet_user {
        st.preferred
            .insert(u.clone(), crate::config::SPREAD_BET_ACCOUNT.into());
    }
    Ok(st)
}

/// A running sandbox.
#[derive(Debug)]
pub struct SandboxHandle {
    inner: Arc<Inner>,
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl SandboxHandle {
    /// `http://127.0.0.1:PORT/gateway/deal`
    pub fn rest_url(&self) -> String {
        format!("http://{}/gateway/deal", self.addr)
    }
    /// `http://127.0.0.1:PORT` (the `lightstreamerEndpoint`).
    pub fn stream_url(&self) -> String {
        self.inner.stream_url.clone()
    }
    /// `http://127.0.0.1:PORT/sandbox` (admin API).
    pub fn admin_url(&self) -> String {
        format!("http://{}/sandbox", self.addr)
    }
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
    pub fn credentials(&self) -> &Credentials {
        &self.inner.cfg.credentials
    }
    pub fn config(&self) -> &SandboxConfig {
        &self.inner.cfg
    }
    /// The default (CFD) and spread-bet account ids.
    pub fn account_ids(&self) -> (&'static str, &'static str) {
        ("SANDBOX-CFD", "SANDBOX-SB")
    }
    /// A subscription to the internal event bus (prices, trades, account updates).
    pub fn subscribe(&self) -> broadcast::Receiver<BusEvent> {
        self.inner.bus.subscribe()
    }
    /// Every REST request from now on, as it arrives (before faults and handlers): method,
    /// matched path and the instant it was seen. Nothing is recorded while nobody watches.
    pub fn watch_requests(&self) -> broadcast::Receiver<RequestSeen> {
        self.inner.requests.subscribe()
    }
    /// Sessions, logins, requests per endpoint, positions, ledger and balances.
    pub fn state(&self) -> StateSnapshot {
        self.inner.snapshot()
    }
    /// Arms faults written in the `--faults` grammar.
    pub fn inject_faults(&self, spec: &str) -> Result<(), FaultSpecError> {
        self.inner.inject(FaultSpec::parse(spec)?);
        Ok(())
    }
    /// Disarms every fault.
    pub fn clear_faults(&self) {
        self.inner.lock().faults.clear();
    }
    /// Invalidates every token now (IG's weekend maintenance); returns how many.
    pub fn invalidate_tokens(&self) -> usize {
        self.inner.invalidate_tokens()
    }
    /// Sends a streaming fault to the Lightstreamer side.
    pub fn stream_fault(&self, fault: StreamFault) {
        self.inner.stream_fault(fault);
    }
    /// Forces a price now (runs stops, limits and working orders).
    pub fn set_price(&self, epic: &Epic, bid: Decimal, offer: Decimal) -> Result<Quote, ApiError> {
        self.inner
            .set_price(epic.as_str(), Price::new(bid), Price::new(offer))
    }
    /// Changes the simulator's speed (simulated seconds per real second; 0 pauses it) from now
    /// on; simulated time goes on from where it is. A harness runs the market at real speed
    /// while an engine restarts, so that a restart costs the simulated minutes it would in
    /// reality, not hours of accelerated time.
    pub fn set_speed(&self, speed: f64) -> Result<(), SandboxError> {
        if !(speed >= 0.0 && speed.is_finite()) {
            return Err(SandboxError::Config(format!(
                "speed must be >= 0, got {speed}"
            )));
        }
        self.inner.clock().set_speed(Instant::now(), speed);
        Ok(())
    }
    /// Moves simulated time forward to `to` at once, as if nothing traded in between: every
    /// simulated market keeps its last price and quotes it at `to`, then goes on at the
    /// current speed; stops and orders see that quote. For soaks that skip the quiet hours
    /// of a simulated week. A time at or before now, or a replayed market, is refused.
    pub fn jump(&self, to: Timestamp) -> Result<(), SandboxError> {
        let (now, speed) = self.inner.sim_target();
        if to <= now {
            return Err(SandboxError::Config(format!(
                "cannot jump back: {to} is not after the simulated time {now}"
            )));
        }
        self.inner.with(|w| {
            if w.st
                .markets
                .values()
                .any(|m| matches!(m.source, crate::market::Source::Replay { .. }))
            {
                return Err(SandboxError::Config(
                    "a replayed market cannot jump in time".into(),
                ));
            }
            let epics: Vec<String> = w.st.markets.keys().cloned().collect();
            for epic in epics {
                let Some(m) = w.st.markets.get_mut(&epic) else {
                    continue;
                };
                let (bid, offer) = (m.last.bid, m.last.offer);
                let q = m.set_quote(bid, offer, to);
                publish_quote(w, &q);
            }
            w.st.sim_now = to;
            Ok(())
        })?;
        *self.inner.clock() = SimClock::new(Instant::now(), to, speed);
        Ok(())
    }
    /// Produces the next `ticks` simulated quotes of one epic (or all), whatever the speed.
    pub fn step(&self, epic: Option<&Epic>, ticks: u32) -> Result<Vec<Quote>, ApiError> {
        self.inner.step(epic.map(Epic::as_str), ticks)
    }
    /// The latest quote of an epic.
    pub fn quote(&self, epic: &Epic) -> Option<Quote> {
        self.inner
            .lock()
            .markets
            .get(epic.as_str())
            .map(|m| m.last.clone())
    }
    /// The activity history (`/history/activity`) of one deal of an account, oldest first:
    /// its opening, amendments and its close (by the client, or by IG itself: channel
    /// `SYSTEM`, with the close level and the position's stop and limit).
    pub fn deal_activities(&self, account: &str, deal_id: &str) -> Vec<Activity> {
        self.inner
            .lock()
            .accounts
            .get(account)
            .map(|a| {
                a.activities
                    .iter()
                    .filter(|x| x.deal_id.as_deref() == Some(deal_id))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }
    /// Overrides a market's status (`None` returns it to the schedule).
    pub fn set_market_status(
        &self,
        epic: &Epic,
        status: Option<MarketStatus>,
    ) -> Result<(), ApiError> {
        self.inner.set_market_status(epic.as_str(), status)
    }
    /// Changes a market's minimum stop/limit distance in points (`/markets/{epic}` shows it;
    /// orders closer than it are rejected), as IG does during the day.
    pub fn set_min_stop_distance(&self, epic: &Epic, points: Decimal) -> Result<(), ApiError> {
        self.inner.set_min_stop_distance(epic.as_str(), points)
    }
    /// Stops the server gracefully and waits for its tasks.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let tasks = std::mem::take(&mut *self.tasks.lock().unwrap_or_else(PoisonError::into_inner));
        for mut t in tasks {
            // Long-lived streaming connections must not hold shutdown forever.
            if tokio::time::timeout(Duration::from_secs(2), &mut t)
                .await
                .is_err()
            {
                t.abort();
            }
        }
    }
    /// Runs until Ctrl-C, then shuts down gracefully.
    pub async fn run_until_ctrl_c(self) -> std::io::Result<()> {
        let r = tokio::signal::ctrl_c().await;
        tracing::info!("Ctrl-C: sandbox shutting down");
        self.shutdown().await;
        r
    }
}
