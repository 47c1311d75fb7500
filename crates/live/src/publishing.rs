//! The event loop's side of [`crate::telemetry`]: counts quotes per instrument, keeps the
//! latest errors and closed trades, and builds a [`StatusSnapshot`] from the engine at most
//! every [`PUBLISH_EVERY`]. Only present when the caller asked for telemetry.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant};

use scalper_engine::{Action, Engine, LogLevel};
use scalper_ig::stream::StreamStatus;
use scalper_ig::SessionStats;
use scalper_model::{Epic, Instrument, Money, Quote, Timestamp};

use crate::telemetry::{
    notes, AllowanceView, ClosedTradeView, ErrorNote, ExposureView, InstrumentView, OrderTally,
    PnlView, PositionView, RunPhase, SessionView, StatusSnapshot, StreamView, Telemetry,
    ERRORS_KEPT, PUBLISH_EVERY, RECENT_TRADES_KEPT,
};

/// Per instrument: quotes counted and when the last one came.
#[derive(Debug, Default)]
struct QuoteTally {
    quotes: u64,
    last_wall: Option<Instant>,
}

/// What the loop needs besides the engine to build a snapshot.
#[derive(Debug)]
pub(crate) struct LoopView<'a> {
    pub engine: &'a Engine,
    pub stats: &'a SessionStats,
    pub headroom: scalper_ig::rate::Headroom,
    pub orders: &'a OrderTally,
    pub refusals: &'a BTreeMap<String, crate::RefusalCount>,
    pub quotes: u64,
    pub reconnects: u64,
    pub paper: bool,
    pub now: Timestamp,
}

/// Builds and publishes the run's snapshots.
#[derive(Debug)]
pub(crate) struct Publisher {
    telemetry: Telemetry,
    started: Instant,
    last_published: Option<Instant>,
    point_sizes: HashMap<Epic, rust_decimal::Decimal>,
    quotes: HashMap<Epic, QuoteTally>,
    stream_state: &'static str,
    errors: VecDeque<ErrorNote>,
    recent: VecDeque<ClosedTradeView>,
    currency: Option<String>,
}

impl Publisher {
    /// `currency`: the account's, as the broker reported it (else the instruments' account
    /// currency, when known); `day_curve`: today's realised equity curve from the journal.
    pub fn new(
        telemetry: Telemetry,
        instruments: &[Instrument],
        currency: Option<String>,
        day_curve: Vec<(Timestamp, Money)>,
    ) -> Self {
        telemetry.curve.seed(day_curve);
        let currency = currency.or_else(|| {
            instruments
                .iter()
                .map(Instrument::account_currency)
                .find(|c| !c.is_empty())
                .map(str::to_string)
        });
        Self {
            telemetry,
            started: Instant::now(),
            last_published: None,
            point_sizes: instruments
                .iter()
                .map(|i| (i.epic.clone(), i.point_size))
                .collect(),
            quotes: HashMap::new(),
            stream_state: "connecting",
            errors: VecDeque::new(),
            recent: VecDeque::new(),
            currency,
        }
    }

    /// A quote arrived (before the engine sees it).
    pub fn quote(&mut self, q: &Quote) {
        let now = Instant::now();
        match self.quotes.get_mut(&q.epic) {
            Some(t) => {
                t.quotes += 1;
                t.last_wall = Some(now);
            }
            None => {
                self.quotes.insert(
                    q.epic.clone(),
                    QuoteTally {
                        quotes: 1,
                        last_wall: Some(now),
                    },
                );
            }
        }
    }

    /// The engine's time for one event.
    pub fn decision(&self, took: Duration) {
        self.telemetry.decision.record(took);
    }

    /// An action the engine produced: closed trades and warnings are kept.
    pub fn action(&mut self, a: &Action, now: Timestamp) {
        match a {
            Action::TradeClosed(t) => {
                push_bounded(
                    &mut self.recent,
                    ClosedTradeView {
                        trade_id: t.trade_id,
                        epic: t.epic.to_string(),
                        direction: t.direction.as_str(),
                        size: t.size.to_string(),
                        entry: t.entry_price.to_string(),
                        exit: t.exit_price.to_string(),
                        pnl: t.pnl,
                        closed_at: t.exit_time,
                        cause: format!("{:?}", t.cause).to_lowercase(),
                    },
                    RECENT_TRADES_KEPT,
                );
            }
            Action::Log {
                level: LogLevel::Warn | LogLevel::Error,
                epic,
                message,
            } => {
                let message = match epic {
                    Some(e) => format!("{e}: {message}"),
                    None => message.clone(),
                };
                self.error(now, message);
            }
            Action::Halted { reason } => self.error(now, format!("new entries halted: {reason}")),
            Action::PaperFallback { detail } => {
                self.error(now, format!("{}{detail}", notes::PAPER_FALLBACK));
            }
            _ => {}
        }
    }

    /// A warning or error worth showing an operator.
    pub fn error(&mut self, at: Timestamp, message: String) {
        push_bounded(
            &mut self.errors,
            ErrorNote {
                at: Some(at),
                message,
            },
            ERRORS_KEPT,
        );
    }

    /// A note from before the first quote (start-up), without a time.
    pub fn note(&mut self, message: String) {
        push_bounded(
            &mut self.errors,
            ErrorNote { at: None, message },
            ERRORS_KEPT,
        );
    }

    pub fn stream_status(&mut self, st: &StreamStatus) {
        self.stream_state = match st {
            StreamStatus::Connected { .. } => "connected",
            StreamStatus::Gap { .. } => "gap",
            StreamStatus::Reconnecting { .. } => "reconnecting",
            StreamStatus::SessionRefused { .. } => "refused",
            StreamStatus::CredentialsUnavailable { .. } => "credentials_unavailable",
            StreamStatus::Stopped => "stopped",
        };
    }

    /// Whether a snapshot is due (the last one is at least [`PUBLISH_EVERY`] old).
    pub fn due(&self) -> bool {
        self.last_published
            .is_none_or(|t| t.elapsed() >= PUBLISH_EVERY)
    }

    /// Builds the snapshot and publishes it.
    pub fn publish(&mut self, phase: RunPhase, v: &LoopView<'_>) {
        let now_wall = Instant::now();
        self.last_published = Some(now_wall);
        let snapshot = self.snapshot(phase, v, now_wall);
        self.telemetry
            .curve
            .push(v.engine.session_day(), v.now, snapshot.pnl.day_total);
        self.telemetry.publish(snapshot);
    }

    fn snapshot(&self, phase: RunPhase, v: &LoopView<'_>, now_wall: Instant) -> StatusSnapshot {
        let engine = v.engine;
        let s = engine.summary();
        let open_pnl: HashMap<u64, Money> = engine
            .open_pnl()
            .map(|(t, pnl)| (t.trade_id, pnl))
            .collect();
        let positions = engine
            .trades()
            .iter()
            .filter(|t| t.state.may_hold_position())
            .map(|t| PositionView {
                trade_id: t.trade_id,
                deal_id: t.deal_id.as_ref().map(ToString::to_string),
                epic: t.epic.to_string(),
                direction: t.direction.as_str(),
                size: t.size.to_string(),
                state: format!("{:?}", t.state).to_lowercase(),
                entry_level: t.entry_level.map(|p| p.to_string()),
                stop_level: t.stop_level.map(|p| p.to_string()),
                limit_level: t.limit_level.map(|p| p.to_string()),
                opened_at: t.entry_time,
                unrealised_pnl: open_pnl.get(&t.trade_id).copied(),
                paper: t.paper,
                adopted: t.adopted,
            })
            .collect();
        let unrealised = open_pnl.values().fold(Money::ZERO, |a, b| a + *b);
        StatusSnapshot {
            phase,
            at: Some(v.now),
            uptime_s: self.started.elapsed().as_secs_f64(),
            paper: v.paper,
            halted: s.halted.map(|h| h.to_string()),
            session: session_view(v.stats, v.headroom),
            stream: StreamView {
                state: self.stream_state.to_string(),
                reconnects: v.reconnects,
                quotes: v.quotes,
            },
            instruments: self.instruments(engine),
            positions,
            pnl: PnlView {
                currency: self.currency.clone(),
                realised: s.pnl,
                unrealised,
                day_realised: s.day_pnl,
                day_trades: s.day_trades,
                day_total: s.day_pnl + unrealised,
                equity: s.equity,
                max_drawdown: s.max_drawdown,
                trades: s.trades,
                wins: s.wins,
                losses: s.losses,
            },
            orders: v.orders.clone(),
            refusals: v
                .refusals
                .iter()
                .map(|(rule, c)| (rule.clone(), c.count))
                .collect(),
            unresolved: engine
                .trades()
                .iter()
                .filter(|t| t.unknown_ref.is_some())
                .count() as u32,
            unknown_outcomes_resolved: s.unknown_outcomes_resolved,
            recent_trades: self.recent.clone(),
            exposure: exposure_view(engine),
            last_errors: self.errors.clone(),
            heartbeat: Some(now_wall),
        }
    }

    fn instruments(&self, engine: &Engine) -> Vec<InstrumentView> {
        engine
            .epics()
            .map(|epic| {
                let tally = self.quotes.get(epic);
                let q = engine.market(epic).and_then(|m| m.last_quote);
                let spread = q.and_then(|q| {
                    let point = self.point_sizes.get(epic)?;
                    (!point.is_zero()).then(|| ((q.offer - q.bid) / *point).normalize())
                });
                InstrumentView {
                    epic: epic.to_string(),
                    quotes: tally.map_or(0, |t| t.quotes),
                    bid: q.map(|q| q.bid.to_string()),
                    offer: q.map(|q| q.offer.to_string()),
                    spread_points: spread,
                    last_quote_at: q.map(|q| q.ts),
                    last_quote_wall: tally.and_then(|t| t.last_wall),
                }
            })
            .collect()
    }
}

fn exposure_view(engine: &Engine) -> ExposureView {
    let e = engine.exposure();
    ExposureView {
        gross: e.gross,
        by_currency: e.by_currency.into_iter().collect(),
        by_instrument: e
            .by_instrument
            .into_iter()
            .map(|(epic, m)| (epic.to_string(), m))
            .collect(),
    }
}

fn session_view(stats: &SessionStats, h: scalper_ig::rate::Headroom) -> SessionView {
    SessionView {
        state: stats.state.as_str().to_string(),
        version: format!("{:?}", stats.session_version).to_lowercase(),
        account_id: stats.account_id.clone(),
        token_age_s: stats.token_age.map(|d| d.as_secs()),
        logins: stats.logins,
        refreshes: stats.refreshes,
        token_errors: stats.token_errors,
        token_errors_recovered: stats.token_errors_recovered,
        allowance_backoffs: stats.allowance_backoffs,
        requests: stats.requests,
        allowance: AllowanceView {
            trading: h.trading,
            trading_limit: h.trading_limit,
            non_trading: h.non_trading,
            non_trading_limit: h.non_trading_limit,
            waiting: h.waiting,
        },
    }
}

fn push_bounded<T>(q: &mut VecDeque<T>, item: T, cap: usize) {
    if q.len() == cap {
        q.pop_front();
    }
    q.push_back(item);
}
