//! Load test of the IG-compatible sandbox: many concurrent REST client sessions and streaming
//! clients against one in-process sandbox, through the project's own client (`IgClient`,
//! `stream::StreamClient`).
//!
//! - SESSIONS REST sessions (v2 and v3 alternately), each its own login, loop for SECS seconds:
//!   `GET /positions`, `GET /markets/{epic}`, `GET /accounts`, and every `DEAL_EVERY`-th round
//!   a small market open, `GET /confirms/{ref}`, its close and `GET /confirms/{ref}`.
//! - STREAMS stream clients (each its own REST login as credential source), each subscribed to
//!   PRICE for three epics plus TRADE, counting updates.
//!
//! Reports requests/s, latency p50/p99/max per request kind, errors by kind, stream updates/s
//! (total, per client, slowest client), gaps and reconnects, TRADE completeness (every client
//! must see the CONFIRMS and OPU of every deal) and the process's memory (the sandbox runs in
//! this process). Prints a table and one JSON line; exits 1 if anything failed.
//!
//! Run: `cargo bench -p scalper-ig --bench sandbox_load [-- --sessions 200 --streams 200 --secs 20]`
//! or with `LOAD_SESSIONS`, `LOAD_STREAMS`, `LOAD_SECS`, `LOAD_DEAL_EVERY`, `LOAD_THINK_MS`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr
)]

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rust_decimal_macros::dec;
use scalper_ig::stream::{StreamClient, StreamConfig, StreamEvent, StreamStatus, Subscription};
use scalper_ig::{
    CloseRequest, DealOutcome, DealStatus, Environment, IgClient, IgConfig, IgError, OpenRequest,
    RetryPolicy, SessionVersion,
};
use scalper_model::{Direction, Epic, Size};
use scalper_sandbox::bus::BusEvent;
use scalper_sandbox::{MarketSchedule, Sandbox, SandboxConfig, SandboxHandle};
use tokio::sync::{broadcast, watch};
use tokio::time::Instant;

/// The epics the sessions read and deal and the streams subscribe to, with their currency.
const EPICS: [(&str, &str); 3] = [
    ("CS.D.EURUSD.CFD.IP", "USD"),
    ("CS.D.GBPUSD.CFD.IP", "USD"),
    ("CS.D.USDJPY.CFD.IP", "JPY"),
];

/// Stream subscriptions per client (3 PRICE + TRADE).
const SUBS_PER_STREAM: u64 = 4;

/// When each price (epic, timestamp) was published on the sandbox's bus.
type Published = Arc<Mutex<HashMap<(String, i64), Instant>>>;

/// Records the publication instant of every price on the bus, on a dedicated OS thread (so
/// the busy tokio workers do not delay it), until `stop` is set. The thread's result is how
/// many bus events it missed (lagged).
fn spawn_bus_listener(
    sb: &SandboxHandle,
    published: Published,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<u64> {
    let mut bus = sb.subscribe();
    std::thread::spawn(move || {
        let mut lagged = 0;
        // Prices arrive every few ms, so the flag is seen promptly.
        while !stop.load(Ordering::Relaxed) {
            match bus.blocking_recv() {
                Ok(BusEvent::Price { epic, ts, .. }) => {
                    let now = Instant::now();
                    published
                        .lock()
                        .unwrap()
                        .insert((epic.as_str().to_string(), ts.millis()), now);
                }
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(n)) => lagged += n,
                Err(broadcast::error::RecvError::Closed) => break,
            }
        }
        lagged
    })
}

/// How long the setup phases (logins, stream subscriptions) and the TRADE drain may take.
const SETUP_DEADLINE: Duration = Duration::from_secs(60);
const DRAIN_DEADLINE: Duration = Duration::from_secs(20);

#[derive(Debug, Clone, Copy)]
struct Params {
    sessions: usize,
    streams: usize,
    secs: u64,
    deal_every: u64,
    think_ms: u64,
}

/// `--name N`, `--name=N` or `LOAD_NAME=N`, else `default`.
fn param(args: &[String], name: &str, default: u64) -> u64 {
    let flag = format!("--{name}");
    let mut found = None;
    for (i, a) in args.iter().enumerate() {
        if *a == flag {
            found = args.get(i + 1).cloned();
        } else if let Some(v) = a.strip_prefix(&format!("{flag}=")) {
            found = Some(v.to_string());
        }
    }
    let env = format!("LOAD_{}", name.replace('-', "_").to_uppercase());
    let raw = found.or_else(|| std::env::var(env).ok());
    match raw {
        Some(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("--{name}: not a number: {v:?}")),
        None => default,
    }
}

impl Params {
    fn from_env() -> Self {
        // cargo bench passes `--bench`; unknown arguments are ignored.
        let args: Vec<String> = std::env::args().skip(1).collect();
        Self {
            sessions: param(&args, "sessions", 50) as usize,
            streams: param(&args, "streams", 50) as usize,
            secs: param(&args, "secs", 20).max(1),
            deal_every: param(&args, "deal-every", 5).max(1),
            think_ms: param(&args, "think-ms", 0),
        }
    }
}

/// A field of `/proc/self/status` in KiB (`VmRSS`, `VmHWM`).
fn proc_kib(key: &str) -> u64 {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return 0;
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

// ---------------------------------------------------------------------------------------------
// REST sessions

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Login,
    Positions,
    Market,
    Accounts,
    Open,
    Close,
    Confirm,
    Logout,
}

impl Kind {
    const ALL: [Kind; 8] = [
        Kind::Login,
        Kind::Positions,
        Kind::Market,
        Kind::Accounts,
        Kind::Open,
        Kind::Close,
        Kind::Confirm,
        Kind::Logout,
    ];
    fn name(self) -> &'static str {
        match self {
            Kind::Login => "login (POST /session v2|v3)",
            Kind::Positions => "GET /positions",
            Kind::Market => "GET /markets/{epic}",
            Kind::Accounts => "GET /accounts",
            Kind::Open => "open (POST /positions/otc+confirm)",
            Kind::Close => "close (DELETE /positions/otc+confirm)",
            Kind::Confirm => "GET /confirms/{ref}",
            Kind::Logout => "logout (DELETE /session)",
        }
    }
    fn key(self) -> &'static str {
        match self {
            Kind::Login => "login",
            Kind::Positions => "positions",
            Kind::Market => "market",
            Kind::Accounts => "accounts",
            Kind::Open => "open",
            Kind::Close => "close",
            Kind::Confirm => "confirm",
            Kind::Logout => "logout",
        }
    }
    /// Part of the timed load window (login and logout are before and after it).
    fn in_window(self) -> bool {
        !matches!(self, Kind::Login | Kind::Logout)
    }
}

/// Latencies (µs) and errors of one or more sessions.
#[derive(Debug, Default)]
struct Record {
    lat: BTreeMap<Kind, Vec<u32>>,
    errors: BTreeMap<String, u64>,
    /// Dealing requests answered with a confirm (each must appear on every TRADE stream).
    confirms_expected: u64,
    /// Accepted opens and closes (each gives one OPU on every TRADE stream).
    opu_expected: u64,
}

impl Record {
    fn error(&mut self, kind: Kind, detail: &str) {
        let mut d: String = detail.chars().take(120).collect();
        if detail.len() > d.len() {
            d.push('…');
        }
        *self
            .errors
            .entry(format!("{}: {d}", kind.key()))
            .or_default() += 1;
    }

    fn time(&mut self, kind: Kind, since: Instant) {
        let us = since.elapsed().as_micros().min(u128::from(u32::MAX)) as u32;
        self.lat.entry(kind).or_default().push(us);
    }

    /// Records the latency of `r` and its error, if any; returns the value.
    fn check<T>(&mut self, kind: Kind, since: Instant, r: Result<T, IgError>) -> Option<T> {
        self.time(kind, since);
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.error(kind, &e.to_string());
                None
            }
        }
    }

    fn merge(&mut self, other: Record) {
        for (k, mut v) in other.lat {
            self.lat.entry(k).or_default().append(&mut v);
        }
        for (k, n) in other.errors {
            *self.errors.entry(k).or_default() += n;
        }
        self.confirms_expected += other.confirms_expected;
        self.opu_expected += other.opu_expected;
    }
}

fn client(sb: &SandboxHandle, version: SessionVersion) -> IgClient {
    let c = sb.credentials();
    let once = RetryPolicy {
        max_attempts: 1,
        base_delay: Duration::ZERO,
        max_delay: Duration::ZERO,
        jitter: false,
    };
    let mut cfg = IgConfig::new(
        Environment::Demo,
        c.username.clone(),
        c.password.clone(),
        c.api_key.clone(),
    )
    .with_api_url(sb.rest_url())
    .with_session_version(version);
    // Every failure must surface: no client-side retries, no client-side rate limiting.
    cfg.login_retry = once;
    cfg.relogin_retry = once;
    cfg.read_retry = once;
    cfg.allowance_retry = once;
    cfg.rate_limit = false;
    cfg.fetch_allowances = false;
    cfg.confirm_timeout = Duration::from_secs(5);
    cfg.confirm_poll_interval = Duration::from_millis(50);
    IgClient::new(cfg).unwrap()
}

fn version(i: usize) -> SessionVersion {
    if i % 2 == 0 {
        SessionVersion::V2
    } else {
        SessionVersion::V3
    }
}

/// The accepted deal's id, or an error recorded against `kind`.
fn accepted(rec: &mut Record, kind: Kind, outcome: Option<DealOutcome>) -> Option<String> {
    match outcome? {
        DealOutcome::Accepted {
            deal_id: Some(id), ..
        } => {
            rec.confirms_expected += 1;
            rec.opu_expected += 1;
            Some(id.as_str().to_string())
        }
        DealOutcome::Rejected { reason, .. } => {
            rec.confirms_expected += 1;
            rec.error(kind, &format!("rejected: {reason}"));
            None
        }
        other => {
            rec.error(kind, &format!("{other:?}"));
            None
        }
    }
}

async fn confirm_check(rec: &mut Record, c: &IgClient, reference: &scalper_model::DealReference) {
    let t = Instant::now();
    if let Some(conf) = rec.check(Kind::Confirm, t, c.confirm(reference).await) {
        if conf.status != DealStatus::Accepted {
            rec.error(Kind::Confirm, &format!("status {:?}", conf.status));
        }
    }
}

/// One open + confirm + close + confirm cycle on `epic`.
async fn deal_cycle(rec: &mut Record, c: &IgClient, round: u64, epic: &Epic, currency: &str) {
    let direction = if round % 2 == 0 {
        Direction::Buy
    } else {
        Direction::Sell
    };
    let size = Size::new(dec!(0.5));
    let mut open = OpenRequest::market(epic.clone(), direction, size, currency);
    // Independent positions per session: never net against another session's position.
    open.force_open = true;
    let reference = c.next_deal_reference().unwrap();
    open.deal_reference = Some(reference.clone());
    let t = Instant::now();
    let outcome = rec.check(Kind::Open, t, c.open_position(&open).await);
    let Some(deal_id) = accepted(rec, Kind::Open, outcome) else {
        return;
    };
    confirm_check(rec, c, &reference).await;
    let reference = c.next_deal_reference().unwrap();
    let close = CloseRequest {
        deal_id: scalper_model::DealId::new(deal_id).unwrap(),
        position_direction: direction,
        size,
        time_in_force: None,
        deal_reference: Some(reference.clone()),
    };
    let t = Instant::now();
    let outcome = rec.check(Kind::Close, t, c.close_position(&close).await);
    if accepted(rec, Kind::Close, outcome).is_some() {
        confirm_check(rec, c, &reference).await;
    }
}

/// The session's load loop until `deadline`.
async fn session_loop(
    id: usize,
    c: IgClient,
    epics: Arc<Vec<Epic>>,
    deadline: Instant,
    p: Params,
) -> Record {
    let mut rec = Record::default();
    let mut round = id as u64;
    while Instant::now() < deadline {
        let (epic, currency) = (
            &epics[round as usize % epics.len()],
            EPICS[round as usize % EPICS.len()].1,
        );
        let t = Instant::now();
        rec.check(Kind::Positions, t, c.positions().await);
        let t = Instant::now();
        rec.check(Kind::Market, t, c.market(epic).await);
        let t = Instant::now();
        rec.check(Kind::Accounts, t, c.accounts().await);
        if round % p.deal_every == 0 && Instant::now() < deadline {
            deal_cycle(&mut rec, &c, round / p.deal_every, epic, currency).await;
        }
        if p.think_ms > 0 {
            tokio::time::sleep(Duration::from_millis(p.think_ms)).await;
        }
        round += 1;
    }
    rec
}

// ---------------------------------------------------------------------------------------------
// Stream clients

#[derive(Debug, Default)]
struct StreamCounters {
    quotes: AtomicU64,
    confirms: AtomicU64,
    opus: AtomicU64,
    subscribed: AtomicU64,
    connected: AtomicU64,
    gaps: AtomicU64,
    reconnects: AtomicU64,
    errors: Mutex<Vec<String>>,
}

impl StreamCounters {
    fn error(&self, e: String) {
        self.errors.lock().unwrap().push(e);
    }
}

#[derive(Debug, Default)]
struct StreamResult {
    /// Delivery latency (µs) of each quote during the window: from its publication on the
    /// sandbox's bus (seen by an in-process bus listener) to its receipt by this client.
    delivery_us: Vec<u32>,
    /// Longest time without a quote during the window.
    max_silence: Duration,
    /// Quotes received that the bus listener had not seen (should be 0).
    unmatched: u64,
    coalesced: u64,
    ready_after: Option<Duration>,
}

async fn stream_task(
    i: usize,
    sb_client: IgClient,
    epics: Arc<Vec<Epic>>,
    counters: Arc<StreamCounters>,
    measuring: Arc<AtomicBool>,
    published: Published,
    mut stop: watch::Receiver<bool>,
) -> StreamResult {
    let started = Instant::now();
    let mut subs: Vec<Subscription> = epics.iter().cloned().map(Subscription::Price).collect();
    subs.push(Subscription::Trade);
    let (client, mut rx) = StreamClient::start(StreamConfig::default(), Arc::new(sb_client), subs);
    let mut res = StreamResult::default();
    let mut last_quote: Option<Instant> = None;
    loop {
        tokio::select! {
            _ = stop.wait_for(|s| *s) => break,
            q = rx.quotes.recv() => {
                let Some(q) = q else {
                    counters.error(format!("stream {i}: quote channel closed"));
                    break;
                };
                counters.quotes.fetch_add(1, Ordering::Relaxed);
                if measuring.load(Ordering::Relaxed) {
                    let now = Instant::now();
                    let sent = published.lock().unwrap().get(&(q.epic.as_str().to_string(), q.ts.millis())).copied();
                    match sent {
                        Some(sent) => res.delivery_us.push(now.saturating_duration_since(sent).as_micros().min(u128::from(u32::MAX)) as u32),
                        None => res.unmatched += 1,
                    }
                    if let Some(prev) = last_quote {
                        res.max_silence = res.max_silence.max(now - prev);
                    }
                    last_quote = Some(now);
                }
            }
            ev = rx.events.recv() => {
                let Some(ev) = ev else {
                    counters.error(format!("stream {i}: event channel closed"));
                    break;
                };
                match ev {
                    StreamEvent::Confirm(_) => { counters.confirms.fetch_add(1, Ordering::Relaxed); }
                    StreamEvent::Position(_) => { counters.opus.fetch_add(1, Ordering::Relaxed); }
                    StreamEvent::Subscribed(_) => {
                        if counters.subscribed.fetch_add(1, Ordering::Relaxed) + 1 == SUBS_PER_STREAM {
                            res.ready_after = Some(started.elapsed());
                        }
                    }
                    StreamEvent::Status(StreamStatus::Connected { .. }) => {
                        if counters.connected.fetch_add(1, Ordering::Relaxed) > 0 {
                            counters.reconnects.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    StreamEvent::Status(StreamStatus::Gap { reason, .. }) => {
                        counters.gaps.fetch_add(1, Ordering::Relaxed);
                        counters.error(format!("stream gap: {reason}"));
                    }
                    StreamEvent::Status(StreamStatus::Reconnecting { .. })
                    | StreamEvent::MarketStatus { .. } | StreamEvent::WorkingOrder(_) | StreamEvent::Account { .. } | StreamEvent::Candle { .. } => {}
                    other => counters.error(format!("stream event: {other:?}")),
                }
            }
        }
    }
    res.coalesced = rx.quotes.coalesced();
    client.shutdown().await;
    res
}

// ---------------------------------------------------------------------------------------------
// Statistics and output

#[derive(Debug, Clone, Copy, Default)]
struct Pct {
    n: usize,
    p50: f64,
    p99: f64,
    max: f64,
}

/// Percentiles (nearest rank) of `v`, scaled by `scale` (e.g. µs -> ms = 0.001).
fn pct(v: &mut [u32], scale: f64) -> Pct {
    if v.is_empty() {
        return Pct::default();
    }
    v.sort_unstable();
    let at = |q: f64| {
        let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
        f64::from(v[rank - 1]) * scale
    };
    Pct {
        n: v.len(),
        p50: at(0.50),
        p99: at(0.99),
        max: f64::from(v[v.len() - 1]) * scale,
    }
}

fn json_pct(p: Pct) -> serde_json::Value {
    serde_json::json!({"n": p.n, "p50": round3(p.p50), "p99": round3(p.p99), "max": round3(p.max)})
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Polls `cond` every 20 ms until it holds or `deadline` passes; returns whether it held.
async fn wait_until(deadline: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + deadline;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[derive(Debug, Default)]
struct Memory {
    start: u64,
    sandbox_up: u64,
    ready: u64,
    samples: Vec<(f64, u64)>,
    end_load: u64,
    after_close: u64,
    after_shutdown: u64,
    peak: u64,
}

#[allow(clippy::too_many_lines)]
async fn run(p: Params) -> bool {
    let mut mem = Memory {
        start: proc_kib("VmRSS"),
        ..Memory::default()
    };
    let sb = Sandbox::start(SandboxConfig {
        schedule: MarketSchedule::AlwaysOpen,
        rate_limits: None,
        // Enough margin for every session to hold a position at once.
        starting_balance: dec!(100_000_000),
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    mem.sandbox_up = proc_kib("VmRSS");
    let epics: Arc<Vec<Epic>> =
        Arc::new(EPICS.iter().map(|(e, _)| Epic::new(*e).unwrap()).collect());
    let mut total = Record::default();
    let mut setup_errors: Vec<String> = Vec::new();

    // Logins, all at once.
    let mut logins = Vec::new();
    for i in 0..p.sessions {
        let c = client(&sb, version(i));
        logins.push(tokio::spawn(async move {
            let mut rec = Record::default();
            let t = Instant::now();
            let r = tokio::time::timeout(SETUP_DEADLINE, c.login()).await;
            let r = r.unwrap_or_else(|_| {
                Err(IgError::Config {
                    detail: "login timed out".into(),
                })
            });
            let ok = rec.check(Kind::Login, t, r).is_some();
            (c, ok, rec)
        }));
    }
    let mut sessions = Vec::new();
    for h in logins {
        let (c, ok, rec) = h.await.unwrap();
        total.merge(rec);
        if ok {
            sessions.push(c);
        }
    }

    // Stream clients, each with its own REST login; wait until all are subscribed.
    let measuring = Arc::new(AtomicBool::new(false));
    let (stop_tx, stop_rx) = watch::channel(false);
    let published: Published = Arc::default();
    let listener_stop = Arc::new(AtomicBool::new(false));
    let listener = spawn_bus_listener(&sb, published.clone(), listener_stop.clone());
    let mut streams = Vec::new();
    for i in 0..p.streams {
        let counters = Arc::new(StreamCounters::default());
        let task = tokio::spawn(stream_task(
            i,
            client(&sb, version(i)),
            epics.clone(),
            counters.clone(),
            measuring.clone(),
            published.clone(),
            stop_rx.clone(),
        ));
        streams.push((counters, task));
    }
    let all_subscribed = wait_until(SETUP_DEADLINE, || {
        streams
            .iter()
            .all(|(c, _)| c.subscribed.load(Ordering::Relaxed) >= SUBS_PER_STREAM)
    })
    .await;
    if !all_subscribed {
        let n = streams
            .iter()
            .filter(|(c, _)| c.subscribed.load(Ordering::Relaxed) < SUBS_PER_STREAM)
            .count();
        setup_errors.push(format!(
            "{n} stream clients not subscribed within {SETUP_DEADLINE:?}"
        ));
    }
    mem.ready = proc_kib("VmRSS");

    // The load window.
    let snapshot = |streams: &[(Arc<StreamCounters>, _)]| -> Vec<(u64, u64)> {
        streams
            .iter()
            .map(
                |(c, _): &(Arc<StreamCounters>, tokio::task::JoinHandle<StreamResult>)| {
                    (
                        c.quotes.load(Ordering::Relaxed),
                        c.confirms.load(Ordering::Relaxed) + c.opus.load(Ordering::Relaxed),
                    )
                },
            )
            .collect()
    };
    let window = Duration::from_secs(p.secs);
    let before = snapshot(&streams);
    let http_before: u64 = sessions.iter().map(|c| c.stats().requests).sum();
    measuring.store(true, Ordering::Relaxed);
    let load_start = Instant::now();
    let deadline = load_start + window;
    let sampler = tokio::spawn(async move {
        let mut samples = Vec::new();
        while Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(250)).await;
            samples.push((load_start.elapsed().as_secs_f64(), proc_kib("VmRSS")));
        }
        samples
    });
    let mut loops = Vec::new();
    for (i, c) in sessions.iter().enumerate() {
        loops.push(tokio::spawn(session_loop(
            i,
            c.clone(),
            epics.clone(),
            deadline,
            p,
        )));
    }
    let mut window_rec = Record::default();
    for h in loops {
        window_rec.merge(h.await.unwrap());
    }
    let elapsed = load_start.elapsed();
    measuring.store(false, Ordering::Relaxed);
    let after = snapshot(&streams);
    let http_window = sessions.iter().map(|c| c.stats().requests).sum::<u64>() - http_before;
    mem.samples = sampler.await.unwrap();
    mem.end_load = proc_kib("VmRSS");

    // Every TRADE stream must see the CONFIRMS and OPU of every deal.
    let (want_confirms, want_opus) = (window_rec.confirms_expected, window_rec.opu_expected);
    let trade_complete = wait_until(DRAIN_DEADLINE, || {
        streams.iter().all(|(c, _)| {
            c.confirms.load(Ordering::Relaxed) >= want_confirms
                && c.opus.load(Ordering::Relaxed) >= want_opus
        })
    })
    .await;
    let min_confirms = streams
        .iter()
        .map(|(c, _)| c.confirms.load(Ordering::Relaxed))
        .min()
        .unwrap_or(0);
    let max_confirms = streams
        .iter()
        .map(|(c, _)| c.confirms.load(Ordering::Relaxed))
        .max()
        .unwrap_or(0);
    let min_opus = streams
        .iter()
        .map(|(c, _)| c.opus.load(Ordering::Relaxed))
        .min()
        .unwrap_or(0);
    let max_opus = streams
        .iter()
        .map(|(c, _)| c.opus.load(Ordering::Relaxed))
        .max()
        .unwrap_or(0);
    if p.streams > 0 && (!trade_complete || max_confirms > want_confirms || max_opus > want_opus) {
        setup_errors.push(format!(
            "TRADE updates per stream client: CONFIRMS {min_confirms}..{max_confirms} of {want_confirms}, OPU {min_opus}..{max_opus} of {want_opus}"
        ));
    }
    let state = sb.state();
    let open_positions: usize = state.accounts.iter().map(|a| a.positions.len()).sum();
    if open_positions != 0 {
        setup_errors.push(format!("{open_positions} positions left open"));
    }
    let sandbox_requests: u64 = state.requests.values().sum();
    let client_http: u64 = sessions.iter().map(|c| c.stats().requests).sum();
    let hidden: u64 = sessions
        .iter()
        .map(|c| {
            let s = c.stats();
            s.token_errors + s.allowance_backoffs + s.login_attempts.saturating_sub(s.logins)
        })
        .sum();
    if hidden > 0 {
        setup_errors.push(format!(
            "{hidden} token errors, failed logins or allowance backoffs inside the client"
        ));
    }

    // Close: streams, then logouts.
    stop_tx.send(true).unwrap();
    let mut stream_results = Vec::new();
    for (c, task) in &mut streams {
        stream_results.push(task.await.unwrap());
        let errs = std::mem::take(&mut *c.errors.lock().unwrap());
        for e in errs {
            *total.errors.entry(format!("stream: {e}")).or_default() += 1;
        }
    }
    listener_stop.store(true, Ordering::Relaxed);
    let bus_lagged = listener.join().unwrap();
    if bus_lagged > 0 {
        *total
            .errors
            .entry(format!("bench bus listener lagged by {bus_lagged} events"))
            .or_default() += 1;
    }
    let mut logouts = Vec::new();
    for c in sessions.clone() {
        logouts.push(tokio::spawn(async move {
            let mut rec = Record::default();
            let t = Instant::now();
            rec.check(Kind::Logout, t, c.logout().await);
            rec
        }));
    }
    for h in logouts {
        total.merge(h.await.unwrap());
    }
    drop(sessions);
    mem.after_close = proc_kib("VmRSS");
    sb.shutdown().await;
    mem.after_shutdown = proc_kib("VmRSS");
    mem.peak = proc_kib("VmHWM");
    total.merge(window_rec);
    for e in setup_errors {
        *total.errors.entry(e).or_default() += 1;
    }

    // Figures.
    let secs = elapsed.as_secs_f64();
    let mut rows = Vec::new();
    let mut requests = 0u64;
    for kind in Kind::ALL {
        let mut v = total.lat.remove(&kind).unwrap_or_default();
        let errors: u64 = total
            .errors
            .iter()
            .filter(|(k, _)| k.starts_with(&format!("{}:", kind.key())))
            .map(|(_, n)| *n)
            .sum();
        let stats = pct(&mut v, 0.001);
        if kind.in_window() {
            requests += stats.n as u64;
        }
        rows.push((kind, stats, errors));
    }
    let errors_total: u64 = total.errors.values().sum();
    let per_client: Vec<(u64, u64)> = before
        .iter()
        .zip(&after)
        .map(|(b, a)| (a.0 - b.0, a.1 - b.1))
        .collect();
    let quotes_window: u64 = per_client.iter().map(|c| c.0).sum();
    let trade_window: u64 = per_client.iter().map(|c| c.1).sum();
    let min_client = per_client.iter().map(|c| c.0 + c.1).min().unwrap_or(0);
    let gaps: u64 = streams
        .iter()
        .map(|(c, _)| c.gaps.load(Ordering::Relaxed))
        .sum();
    let reconnects: u64 = streams
        .iter()
        .map(|(c, _)| c.reconnects.load(Ordering::Relaxed))
        .sum();
    let coalesced: u64 = stream_results.iter().map(|r| r.coalesced).sum();
    let max_silence = stream_results
        .iter()
        .map(|r| r.max_silence)
        .max()
        .unwrap_or_default();
    let mut ages: Vec<u32> = stream_results
        .iter_mut()
        .flat_map(|r| std::mem::take(&mut r.delivery_us))
        .collect();
    let age = pct(&mut ages, 0.001);
    let unmatched: u64 = stream_results.iter().map(|r| r.unmatched).sum();
    let mut ready: Vec<u32> = stream_results
        .iter()
        .filter_map(|r| r.ready_after.map(|d| d.as_micros() as u32))
        .collect();
    let ready = pct(&mut ready, 0.001);
    let updates_per_s = (quotes_window + trade_window) as f64 / secs;
    let per_client_per_s = if p.streams == 0 {
        0.0
    } else {
        updates_per_s / p.streams as f64
    };
    mem.peak = mem
        .peak
        .max(mem.samples.iter().map(|s| s.1).max().unwrap_or(0));

    let mut out = String::new();
    let _ = writeln!(
        out,
        "\nsandbox load: {} REST sessions ({} v2, {} v3), {} stream clients (3 PRICE + TRADE), {:.1} s window, deal every {} rounds, think {} ms, {} tokio workers",
        p.sessions,
        p.sessions.div_ceil(2),
        p.sessions / 2,
        p.streams,
        secs,
        p.deal_every,
        p.think_ms,
        std::thread::available_parallelism().map_or(0, std::num::NonZero::get),
    );
    let _ = writeln!(
        out,
        "{:<38} {:>8} {:>9} {:>9} {:>9} {:>9} {:>7}",
        "request", "count", "req/s", "p50 ms", "p99 ms", "max ms", "errors"
    );
    for (kind, s, e) in &rows {
        let rate = if kind.in_window() {
            format!("{:.0}", s.n as f64 / secs)
        } else {
            "-".into()
        };
        let _ = writeln!(
            out,
            "{:<38} {:>8} {:>9} {:>9.2} {:>9.2} {:>9.2} {:>7}",
            kind.name(),
            s.n,
            rate,
            s.p50,
            s.p99,
            s.max,
            e
        );
    }
    let _ = writeln!(
        out,
        "{:<38} {:>8} {:>9.0}",
        "total client calls in window",
        requests,
        requests as f64 / secs,
    );
    let _ = writeln!(
        out,
        "{:<38} {:>8} {:>9.0}   (incl. the client's own /confirms polls; HTTP requests all run: clients {}, sandbox served {} incl. stream logins)",
        "HTTP requests in window",
        http_window,
        http_window as f64 / secs,
        client_http,
        sandbox_requests
    );
    let _ = writeln!(
        out,
        "streams: {updates_per_s:.0} updates/s total, {per_client_per_s:.1}/s per client; slowest client {min_client} updates in the window; quotes {quotes_window} + TRADE {trade_window} (coalesced {coalesced}); every client got CONFIRMS {min_confirms}..{max_confirms} of {want_confirms} and OPU {min_opus}..{max_opus} of {want_opus}"
    );
    let _ = writeln!(
        out,
        "streams: gaps {gaps}, reconnects {reconnects}; quote delivery (bus -> client) p50 {:.1} ms p99 {:.1} ms max {:.1} ms ({unmatched} unmatched); longest silence {:.0} ms; subscribed after p50 {:.0} ms p99 {:.0} ms max {:.0} ms",
        age.p50, age.p99, age.max, max_silence.as_secs_f64() * 1000.0, ready.p50, ready.p99, ready.max
    );
    let q = |f: f64| {
        mem.samples
            .get(((mem.samples.len() as f64 * f) as usize).min(mem.samples.len().saturating_sub(1)))
            .map_or(0, |s| s.1)
    };
    let _ = writeln!(
        out,
        "memory VmRSS MiB: start {:.1}, sandbox up {:.1}, clients ready {:.1}, window 25%/50%/75% {:.1}/{:.1}/{:.1}, end of load {:.1}, after stream close + logout {:.1}, after sandbox shutdown {:.1}; peak (VmHWM) {:.1}",
        mib(mem.start), mib(mem.sandbox_up), mib(mem.ready), mib(q(0.25)), mib(q(0.5)), mib(q(0.75)),
        mib(mem.end_load), mib(mem.after_close), mib(mem.after_shutdown), mib(mem.peak)
    );
    if errors_total == 0 {
        let _ = writeln!(out, "errors: none");
    } else {
        let _ = writeln!(out, "ERRORS: {errors_total}");
        for (k, n) in &total.errors {
            let _ = writeln!(out, "  {n:>6}  {k}");
        }
    }
    print!("{out}");

    let mut lat = serde_json::Map::new();
    for (kind, s, e) in &rows {
        let mut v = json_pct(*s);
        v["errors"] = (*e).into();
        lat.insert(kind.key().into(), v);
    }
    let json = serde_json::json!({
        "bench": "sandbox_load",
        "sessions": p.sessions,
        "streams": p.streams,
        "secs": round3(secs),
        "requests": requests,
        "req_per_s": round3(requests as f64 / secs),
        "http_requests_window": http_window,
        "http_req_per_s": round3(http_window as f64 / secs),
        "client_http_requests": client_http,
        "sandbox_requests": sandbox_requests,
        "latency_ms": lat,
        "errors": errors_total,
        "error_kinds": total.errors,
        "stream": {
            "updates_per_s": round3(updates_per_s),
            "updates_per_s_per_client": round3(per_client_per_s),
            "min_client_updates": min_client,
            "quotes": quotes_window,
            "trade_updates": trade_window,
            "coalesced": coalesced,
            "confirms_expected": want_confirms,
            "confirms_min": min_confirms,
            "opu_expected": want_opus,
            "opu_min": min_opus,
            "gaps": gaps,
            "reconnects": reconnects,
            "quote_delivery_ms": json_pct(age),
            "quote_unmatched": unmatched,
            "max_silence_ms": round3(max_silence.as_secs_f64() * 1000.0),
        },
        "rss_kib": {
            "start": mem.start,
            "sandbox_up": mem.sandbox_up,
            "ready": mem.ready,
            "end_load": mem.end_load,
            "after_close": mem.after_close,
            "after_shutdown": mem.after_shutdown,
            "peak_hwm": mem.peak,
        },
    });
    println!("{json}");
    errors_total == 0
}

fn main() {
    let p = Params::from_env();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let ok = rt.block_on(run(p));
    rt.shutdown_timeout(Duration::from_secs(5));
    if !ok {
        std::process::exit(1);
    }
}
