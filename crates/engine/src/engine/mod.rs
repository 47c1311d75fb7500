//! The deterministic core: [`Engine::process`] turns one [`EngineEvent`] into the
//! [`Action`]s it implies. Single writer, no I/O, no clock reads, no randomness beyond the
//! seeded deal-reference generator: the same events give the same actions, live or backtest.

mod orders;
mod reports;
mod state;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use scalper_model::{
    Candle, DealState, Epic, Instrument, MarketStatus, Money, Price, Quote, Timestamp,
};

use crate::action::{Action, ClosedTrade, HaltReason, LogLevel};
use crate::broker::DealRefGen;
use crate::config::EngineConfig;
use crate::error::{ConfigError, EngineError};
use crate::event::{Command, EngineEvent};
use crate::risk::RiskManager;
use crate::strategy::{Strategy, StrategyContext};

pub use state::{EngineInit, EngineSummary, MarketView, RestoredPosition, Trade};

/// How many closed round trips [`Engine::closed_trades`] keeps at least (the most recent).
pub const CLOSED_KEPT: usize = 256;

/// Per-instrument state.
#[derive(Debug)]
struct Market {
    instrument: Instrument,
    /// The instrument's currency and expiry, shared by every order (no copy per order).
    currency: std::sync::Arc<str>,
    expiry: std::sync::Arc<str>,
    /// Account money per unit of price per unit of size, as f64 (value per point × rate /
    /// point size): the daily-loss pre-check's estimate only, never booked.
    money_per_price_unit: f64,
    strategy: Box<dyn Strategy>,
    last_quote: Option<Quote>,
    status: MarketStatus,
    stream_gap: bool,
    consecutive_losses: u32,
    cooldown_until: Option<Timestamp>,
    rejected_until: Option<Timestamp>,
    /// See [`crate::risk::RiskInput::funds_refused`]; cleared when any position closes.
    funds_refused: Option<scalper_model::Size>,
    /// The broker refused a trailing stop for this account: refreshed rules keep them off.
    trailing_refused: bool,
    max_spread_points: Option<Decimal>,
}

/// Why entries are stopped (several may hold at once).
#[derive(Debug, Default, Clone, Copy)]
struct Halts {
    manual: bool,
    /// The kill switch asked to close positions (pending entries are closed when they fill).
    manual_close: bool,
    daily_loss: bool,
    broker: bool,
}

/// The trading engine. Build it with [`Engine::new`], feed it with [`Engine::process`].
#[derive(Debug)]
pub struct Engine {
    cfg: EngineConfig,
    risk: RiskManager,
    refs: DealRefGen,
    markets: Vec<Market>,
    trades: Vec<Trade>,
    /// The most recent closed round trips (between `closed_kept` and twice that).
    closed: Vec<ClosedTrade>,
    closed_kept: usize,
    closed_total: u64,
    next_trade_id: u64,
    now: Timestamp,
    started: bool,
    halts: Halts,
    paper_broker: bool,
    paper_fallback: bool,
    nothing_left_reported: bool,
    equity_start: Money,
    realised: Money,
    /// The broker's latest `AVAILABLE_TO_DEAL` (live runs with the ACCOUNT stream).
    broker_available: Option<Money>,
    peak: Money,
    max_drawdown: Money,
    wins: u64,
    losses: u64,
    refusals: u64,
    unknown_resolved: u64,
    day: Option<NaiveDate>,
    next_day_at: Timestamp,
    restored_day: Option<NaiveDate>,
    day_pnl: Money,
    day_trades: u32,
    schedule: crate::schedule::Schedule,
    /// When the schedule next needs a look (a blackout starts or ends, a flatten is due).
    next_schedule_at: Timestamp,
    /// Flattens up to this instant have been done.
    schedule_done_to: Timestamp,
    /// Market hours arrived before the first timed event: logged once the engine knows the
    /// time (the broker's, not the wall clock's).
    hours_unlogged: bool,
    /// The run is winding down ([`Engine::close_entries`]): no new entries.
    entries_closed: bool,
}

impl Engine {
    /// Builds an engine for `instruments` (from IG's market details, or the backtest's
    /// instrument definition). Each gets the strategy configured for its friendly name or
    /// epic in `cfg.instruments`, else `cfg.strategy`.
    pub fn new(
        cfg: EngineConfig,
        instruments: Vec<Instrument>,
        init: EngineInit,
    ) -> Result<Self, EngineError> {
        cfg.validate()?;
        let markets = instruments
            .into_iter()
            .map(|instrument| {
                let strategy = override_for(&cfg, &instrument.epic)
                    .and_then(|c| c.strategy.as_ref())
                    .unwrap_or(&cfg.strategy)
                    .build(&instrument)?;
                Ok((instrument, strategy))
            })
            .collect::<Result<_, ConfigError>>()?;
        Self::with_strategies(cfg, markets, init)
    }

    /// Like [`Engine::new`] with strategies supplied by the caller (custom strategies, tests).
    pub fn with_strategies(
        cfg: EngineConfig,
        markets: Vec<(Instrument, Box<dyn Strategy>)>,
        init: EngineInit,
    ) -> Result<Self, EngineError> {
        cfg.validate()?;
        if markets.is_empty() {
            return Err(EngineError::NoInstruments);
        }
        let risk = RiskManager::new(cfg.risk.clone())?;
        let refs = DealRefGen::new(&cfg.deal_ref_prefix, cfg.seed)?;
        let mut list: Vec<Market> = Vec::with_capacity(markets.len());
        for (instrument, strategy) in markets {
            if list.iter().any(|m| m.instrument.epic == instrument.epic) {
                return Err(EngineError::DuplicateInstrument {
                    epic: instrument.epic.to_string(),
                });
            }
            list.push(Market {
                money_per_price_unit: {
                    use crate::strategy::to_f64;
                    let per_point = to_f64(instrument.account_value_per_point());
                    let point = to_f64(instrument.point_size);
                    if point == 0.0 {
                        per_point
                    } else {
                        per_point / point
                    }
                },
                currency: instrument.currency.as_str().into(),
                expiry: instrument.expiry.as_str().into(),
                strategy,
                max_spread_points: override_for(&cfg, &instrument.epic)
                    .and_then(|c| c.max_spread_points),
                instrument,
                last_quote: None,
                status: MarketStatus::Tradeable,
                stream_gap: false,
                consecutive_losses: 0,
                cooldown_until: None,
                rejected_until: None,
                funds_refused: None,
                trailing_refused: false,
            });
        }
        let markets = list;
        let trades = restored_trades(&markets, init.positions, init.paper)?;
        let schedule = crate::schedule::Schedule::new(&cfg.schedule, &cfg.news, &cfg.calendar)?;
        let next_schedule_at = if schedule.is_empty() {
            Timestamp::from_millis(i64::MAX)
        } else {
            // The first timed event looks.
            Timestamp::from_millis(i64::MIN)
        };
        let after_restored = trades.iter().map(|t| t.trade_id).max().unwrap_or(0) + 1;
        let next_trade_id = init
            .first_trade_id
            .map_or(after_restored, |n| n.max(after_restored));
        Ok(Self {
            cfg,
            risk,
            refs,
            markets,
            next_trade_id,
            trades,
            closed: Vec::new(),
            closed_kept: CLOSED_KEPT,
            closed_total: 0,
            now: Timestamp::from_millis(i64::MIN),
            started: false,
            halts: Halts::default(),
            entries_closed: false,
            paper_broker: init.paper,
            paper_fallback: false,
            nothing_left_reported: false,
            equity_start: init.equity,
            realised: Money::ZERO,
            broker_available: None,
            peak: Money::ZERO,
            max_drawdown: Money::ZERO,
            wins: 0,
            losses: 0,
            refusals: 0,
            unknown_resolved: 0,
            day: None,
            next_day_at: Timestamp::from_millis(i64::MAX),
            restored_day: init.day,
            day_pnl: init.day_realised_pnl,
            day_trades: init.day_trades,
            schedule,
            next_schedule_at,
            schedule_done_to: Timestamp::from_millis(i64::MIN),
            hours_unlogged: false,
        })
    }

    /// Processes one event and returns the actions it implies, in order.
    pub fn process(&mut self, event: EngineEvent) -> Vec<Action> {
        let mut out = Vec::new();
        self.process_into(event, &mut out);
        out
    }

    /// Like [`Engine::process`], appending to `out` (no allocation when nothing happens).
    pub fn process_into(&mut self, event: EngineEvent, out: &mut Vec<Action>) {
        if let Some(t) = event.timestamp() {
            self.advance_time(t, out);
        }
        match event {
            EngineEvent::Quote(q) => self.on_quote(&q, out),
            EngineEvent::Candle(c) => self.on_candle(&c, out),
            EngineEvent::Timer(_) => self.on_timer(out),
            EngineEvent::Broker(ev) => self.on_broker_event(ev, out),
            EngineEvent::Command(c) => self.on_command(c, out),
            EngineEvent::StreamGap { epic, .. } => {
                for m in &mut self.markets {
                    if epic.as_ref().is_none_or(|e| *e == m.instrument.epic) {
                        m.stream_gap = true;
                    }
                }
                out.push(log(
                    LogLevel::Warn,
                    epic,
                    "price stream gap: no entries until a fresh quote".to_string(),
                ));
            }
            EngineEvent::MarketStatus { epic, status, .. } => {
                if let Some(m) = self.markets.iter_mut().find(|m| m.instrument.epic == epic) {
                    if m.status != status {
                        out.push(log(
                            LogLevel::Info,
                            Some(epic),
                            format!("market status {} -> {status}", m.status),
                        ));
                        m.status = status;
                    }
                }
            }
            EngineEvent::AccountFunds { available_to_deal } => {
                self.broker_available = Some(available_to_deal);
            }
            EngineEvent::DealingRules {
                epic, mut rules, ..
            } => {
                if let Some(m) = self.markets.iter_mut().find(|m| m.instrument.epic == epic) {
                    if m.trailing_refused {
                        rules.trailing_stops = false;
                    }
                    if m.instrument.rules != rules {
                        let old = &m.instrument.rules;
                        out.push(log(
                            LogLevel::Info,
                            Some(epic),
                            format!(
                                "dealing rules changed: minimum stop distance {} -> {} points, minimum size {} -> {}, maximum stop distance {} -> {}; the next order uses them",
                                old.min_stop_distance,
                                rules.min_stop_distance,
                                old.min_deal_size,
                                rules.min_deal_size,
                                old.max_stop_distance.map_or_else(|| "none".into(), |d| d.to_string()),
                                rules.max_stop_distance.map_or_else(|| "none".into(), |d| d.to_string()),
                            ),
                        ));
                        m.instrument.rules = rules;
                    }
                }
            }
            EngineEvent::TradingHours { epic, times, at } => {
                let known = self.now.millis() != i64::MIN;
                let now = if known { self.now } else { at };
                match self.schedule.calendar.set_hours(&epic, &times, now) {
                    Ok(Some(change)) => {
                        if known {
                            out.push(log(
                                LogLevel::Info,
                                Some(epic),
                                format!("market hours: {change}"),
                            ));
                        } else {
                            self.hours_unlogged = true;
                        }
                        // Look at the calendar on the next event; closes before now are not
                        // this announcement's to flatten.
                        self.next_schedule_at = Timestamp::from_millis(i64::MIN);
                        if self.schedule_done_to < now {
                            self.schedule_done_to = now;
                        }
                    }
                    Ok(None) => {}
                    Err(e) => out.push(log(LogLevel::Warn, Some(epic), e)),
                }
            }
        }
        self.check_nothing_left(out);
    }

    /// [`Engine::process_into`] for a quote the caller keeps: the same actions as
    /// `process_into(EngineEvent::Quote(q.clone()), out)`, without copying it (backtests feed
    /// every record through one reused quote).
    pub fn process_quote_into(&mut self, q: &Quote, out: &mut Vec<Action>) {
        self.advance_time(q.ts, out);
        self.on_quote(q, out);
        self.check_nothing_left(out);
    }

    #[inline]
    fn advance_time(&mut self, t: Timestamp, out: &mut Vec<Action>) {
        if t > self.now {
            self.now = t;
        }
        if self.now >= self.next_schedule_at {
            self.on_schedule(out);
        }
        // The usual event: same session day, already started.
        if self.started && self.now < self.next_day_at {
            return;
        }
        self.new_day_or_start(out);
    }

    /// A scheduled flatten is due, or a no-entry window starts or ends.
    #[cold]
    #[inline(never)]
    fn on_schedule(&mut self, out: &mut Vec<Action>) {
        if self.now.millis() == i64::MIN {
            return; // no time yet
        }
        if !self.started {
            // Flattens before the first event are not this run's.
            self.schedule_done_to = self.now;
        }
        let due: Vec<(String, Vec<usize>)> = self
            .schedule
            .due(self.schedule_done_to, self.now)
            .into_iter()
            .map(|(label, scope)| {
                let idx = (0..self.markets.len())
                    .filter(|&i| scope.covers(&self.markets[i].instrument.epic))
                    .collect();
                (label, idx)
            })
            .collect();
        for (label, markets) in due {
            let reason = format!("scheduled flatten ({label})");
            out.push(log(LogLevel::Info, None, reason.clone()));
            for idx in markets {
                self.exit(idx, None, &reason, true, out);
            }
        }
        self.schedule_done_to = self.now;
        self.schedule.calendar.refresh(self.now);
        if std::mem::take(&mut self.hours_unlogged) {
            for (epic, state) in self.schedule.calendar.describe_all(self.now) {
                out.push(log(
                    LogLevel::Info,
                    Some(epic),
                    format!("market hours: {state}"),
                ));
            }
        }
        self.next_schedule_at = self.schedule.next_change(self.now);
    }

    /// The first event, or the first of a new session day.
    #[cold]
    #[inline(never)]
    fn new_day_or_start(&mut self, out: &mut Vec<Action>) {
        if !self.started {
            self.started = true;
            let day = self.risk.session_day(self.now);
            if self.restored_day.is_some_and(|d| d != day) {
                self.day_pnl = Money::ZERO;
                self.day_trades = 0;
            }
            self.day = Some(day);
            self.next_day_at = self.risk.next_session_start(self.now);
            self.check_daily_loss(Money::ZERO, out);
        } else if self.now >= self.next_day_at {
            self.day = Some(self.risk.session_day(self.now));
            self.next_day_at = self.risk.next_session_start(self.now);
            self.day_pnl = Money::ZERO;
            self.day_trades = 0;
            if self.halts.daily_loss {
                self.halts.daily_loss = false;
                out.push(Action::Resumed {
                    reason: "new session day: daily loss limit reset".to_string(),
                });
            }
        }
    }

    fn market_index(&self, epic: &Epic) -> Option<usize> {
        self.markets.iter().position(|m| m.instrument.epic == *epic)
    }

    fn on_quote(&mut self, q: &Quote, out: &mut Vec<Action>) {
        let Some(idx) = self.market_index(&q.epic) else {
            return;
        };
        let m = &mut self.markets[idx];
        m.stream_gap = false;
        match &mut m.last_quote {
            // Updated in place: the epic is shared, not copied, on every quote.
            Some(last) => {
                last.bid = q.bid;
                last.offer = q.offer;
                last.ts = q.ts;
            }
            None => m.last_quote = Some(q.clone()),
        }
        self.manage_positions(idx, out);
        let (position, open_trades) = self.position_of(idx);
        let m = &mut self.markets[idx];
        let Some(q) = m.last_quote.as_ref() else {
            return;
        };
        let ctx = StrategyContext {
            instrument: &m.instrument,
            now: self.now,
            position,
            open_trades,
        };
        let intents = m.strategy.on_quote(q, &ctx);
        // Most quotes ask for nothing.
        if !intents.is_empty() {
            self.handle_intents(idx, intents, out);
        }
    }

    fn on_candle(&mut self, c: &Candle, out: &mut Vec<Action>) {
        let Some(idx) = self.market_index(&c.epic) else {
            return;
        };
        let spread = c.spread.unwrap_or_default();
        let half = spread / Decimal::TWO;
        let m = &mut self.markets[idx];
        m.stream_gap = false;
        m.last_quote = Some(Quote {
            epic: c.epic.clone(),
            bid: c.close - half,
            offer: c.close + half,
            ts: c.start.plus_millis(c.period_ms),
        });
        self.manage_positions(idx, out);
        let (position, open_trades) = self.position_of(idx);
        let m = &mut self.markets[idx];
        let ctx = StrategyContext {
            instrument: &m.instrument,
            now: self.now,
            position,
            open_trades,
        };
        let intents = m.strategy.on_candle(c, &ctx);
        self.handle_intents(idx, intents, out);
    }

    fn on_timer(&mut self, out: &mut Vec<Action>) {
        for idx in 0..self.markets.len() {
            self.manage_timers(idx, out);
            let (position, open_trades) = self.position_of(idx);
            let m = &mut self.markets[idx];
            let ctx = StrategyContext {
                instrument: &m.instrument,
                now: self.now,
                position,
                open_trades,
            };
            let intents = m.strategy.on_timer(self.now, &ctx);
            self.handle_intents(idx, intents, out);
        }
    }

    fn on_command(&mut self, c: Command, out: &mut Vec<Action>) {
        match c {
            Command::Halt { close_positions } => {
                let close = close_positions.unwrap_or(self.cfg.kill_switch.close_positions);
                if !self.halts.manual {
                    self.halts.manual = true;
                    out.push(Action::Halted {
                        reason: HaltReason::KillSwitch,
                    });
                    let what = if close {
                        "closing every position"
                    } else {
                        "leaving positions with their stops"
                    };
                    out.push(log(
                        LogLevel::Warn,
                        None,
                        format!("kill switch: entries stopped, {what}"),
                    ));
                }
                if close {
                    self.halts.manual_close = true;
                    self.close_all("kill switch", out);
                }
            }
            Command::Resume => {
                if self.halts.manual {
                    self.halts.manual = false;
                    self.halts.manual_close = false;
                    out.push(Action::Resumed {
                        reason: "kill switch lifted".to_string(),
                    });
                } else {
                    out.push(log(
                        LogLevel::Info,
                        None,
                        "resume: kill switch not engaged".to_string(),
                    ));
                }
            }
            Command::CloseAll => self.close_all("close all", out),
        }
    }

    /// No new entries from now on: the run is ending (its duration is over, or it was
    /// interrupted) and only waits for its closes and requests in flight. Not a halt: nothing
    /// is reported or alerted; exits, stops and closes go on as before.
    pub fn close_entries(&mut self) {
        self.entries_closed = true;
    }

    /// The current halt, most severe first.
    pub fn halted(&self) -> Option<HaltReason> {
        if self.halts.broker {
            Some(HaltReason::BrokerFailure)
        } else if self.halts.daily_loss {
            Some(HaltReason::DailyLossLimit)
        } else if self.halts.manual {
            Some(HaltReason::KillSwitch)
        } else {
            None
        }
    }

    fn check_nothing_left(&mut self, out: &mut Vec<Action>) {
        if self.halts.broker
            && !self.nothing_left_reported
            && !self.trades.iter().any(|t| t.state.may_hold_position())
        {
            self.nothing_left_reported = true;
            out.push(Action::NothingLeftToManage {
                reason: HaltReason::BrokerFailure,
            });
        }
    }

    /// Net side and number of trades on market `idx` that are open or in flight (a trade
    /// being closed does not count: it is on its way out).
    fn position_of(&self, idx: usize) -> (Option<scalper_model::Direction>, u32) {
        let epic = &self.markets[idx].instrument.epic;
        let mut side = None;
        let mut n = 0;
        for t in &self.trades {
            if t.epic == *epic && counts_as_open(t) {
                side.get_or_insert(t.direction);
                n += 1;
            }
        }
        (side, n)
    }

    /// Open positions with a price to value them at: each trade, its market, its entry level
    /// and its exit price now (the bid for a long, the offer for a short).
    fn valued_positions(&self) -> impl Iterator<Item = (&Trade, &Market, Price, Price)> {
        self.trades.iter().filter_map(|t| {
            let (Some(entry), DealState::Open | DealState::Closing) = (t.entry_level, t.state)
            else {
                return None;
            };
            let m = self.markets.iter().find(|m| m.instrument.epic == t.epic)?;
            let q = m.last_quote.as_ref()?;
            let exit = match t.direction {
                scalper_model::Direction::Buy => q.bid,
                scalper_model::Direction::Sell => q.offer,
            };
            Some((t, m, entry, exit))
        })
    }

    /// Margin the account can still commit: equity (start, realised and open P&L) less the
    /// margin of every open or pending position (at its entry level, else the last quote).
    fn available_margin(&self) -> Money {
        let mut used = Money::ZERO;
        for (t, inst, level) in self.open_at_level() {
            used += inst.margin_for(t.size, level);
        }
        let own = self.equity_start + self.realised + self.unrealised() - used;
        // The broker's figure can lag a fill by a moment and ours cannot see other positions
        // on the account: the smaller is the safe one.
        self.broker_available.map_or(own, |b| own.min(b))
    }

    /// The open (and opening) positions' notional, at their entry or the last quote: in total,
    /// net per currency and per instrument, in the account currency.
    pub fn exposure(&self) -> crate::risk::Exposure {
        let mut e = crate::risk::Exposure::default();
        for (t, inst, level) in self.open_at_level() {
            e.add(
                inst,
                t.direction,
                crate::risk::notional(inst, t.size, level),
            );
        }
        e
    }

    /// Each open (or opening) position with its instrument and the level margin and exposure
    /// are taken at: its entry, else the last quote's higher side.
    fn open_at_level(&self) -> impl Iterator<Item = (&Trade, &Instrument, Price)> {
        self.trades
            .iter()
            .filter(|t| counts_as_open(t))
            .filter_map(|t| {
                let m = self.markets.iter().find(|m| m.instrument.epic == t.epic)?;
                let level = t
                    .entry_level
                    .or_else(|| m.last_quote.as_ref().map(|q| q.offer.max(q.bid)))?;
                Some((t, &m.instrument, level))
            })
    }

    /// The account as IG's margin close-out sees it: equity (start, realised and open P&L at
    /// the latest quotes) and the margin of the open positions (at their entry levels);
    /// `None` with no position open and valued.
    pub fn margin_state(&self) -> Option<(Money, Money)> {
        let mut used = Money::ZERO;
        let mut open = Money::ZERO;
        let mut any = false;
        for (t, m, entry, exit) in self.valued_positions() {
            any = true;
            used += m.instrument.margin_for(t.size, entry);
            open += m.instrument.pnl(t.direction, t.size, entry, exit);
        }
        any.then(|| (self.equity_start + self.realised + open, used))
    }

    /// Unrealised P&L of open trades, at the bid (long) or offer (short).
    fn unrealised(&self) -> Money {
        let mut total = Money::ZERO;
        for (_, pnl) in self.open_pnl() {
            total += pnl;
        }
        total
    }

    /// Each open trade with a quote to value it at, and its unrealised P&L in account
    /// currency at the bid (long) or offer (short) of its market's last quote.
    pub fn open_pnl(&self) -> impl Iterator<Item = (&Trade, Money)> {
        self.valued_positions()
            .map(|(t, m, entry, exit)| (t, m.instrument.pnl(t.direction, t.size, entry, exit)))
    }
}

/// The engine's trades for the positions open at start, in `Open` state with the broker's stop
/// and limit. A position on an instrument the engine does not trade is an error: the caller
/// must subscribe to it (or say why it leaves it alone) before building the engine.
fn restored_trades(
    markets: &[Market],
    positions: Vec<state::RestoredPosition>,
    paper: bool,
) -> Result<Vec<Trade>, EngineError> {
    let mut trades = Vec::with_capacity(positions.len());
    for (n, p) in positions.into_iter().enumerate() {
        let Some(market) = markets.iter().find(|m| m.instrument.epic == p.epic) else {
            return Err(EngineError::PositionOnUnknownInstrument {
                epic: p.epic.to_string(),
                deal_id: p.deal_id.to_string(),
            });
        };
        let market = (p.stop_kind == crate::strategy::StopKind::Guaranteed).then_some(market);
        trades.push(Trade {
            trade_id: p.trade_id.unwrap_or(n as u64 + 1),
            epic: p.epic,
            direction: p.direction,
            size: p.size,
            state: DealState::Open,
            open_ref: p.deal_reference,
            close_ref: None,
            deal_id: Some(p.deal_id),
            entry_level: Some(p.level),
            entry_time: p.opened_at,
            stop_distance: None,
            limit_distance: None,
            stop_level: p.stop_level,
            limit_level: p.limit_level,
            trailing_distance: None,
            best_price: None,
            max_hold_ms: None,
            submitted_at: p.opened_at.unwrap_or(Timestamp::from_millis(0)),
            paper,
            reason: if p.adopted {
                "adopted from the broker at start".to_string()
            } else {
                "restored from the journal at start".to_string()
            },
            close_reason: None,
            close_when_open: None,
            close_retry_at: None,
            unknown_ref: None,
            last_resolve_at: None,
            prev_stop_level: None,
            adopted: p.adopted,
            stop_kind: p.stop_kind,
            premium_points: p.premium_points.or_else(|| premium_at(market, p.level)),
            reducing: None,
            partial_pnl: p.partial_pnl,
        });
    }
    Ok(trades)
}

/// The guaranteed-stop premium of `market` (when given) for an entry at `level`, as fixed at
/// a fill.
fn premium_at(market: Option<&Market>, level: Price) -> Option<scalper_model::Points> {
    let m = market?;
    let g = m.instrument.rules.guaranteed_stop?;
    Some(g.premium.points_at(level, m.instrument.point_size))
}

/// Trades that count toward position limits and the strategy's view of its position: open or
/// in flight, and not on their way out (closing, or to be closed as soon as they fill).
fn counts_as_open(t: &Trade) -> bool {
    t.close_when_open.is_none()
        && matches!(
            t.state,
            DealState::Intent
                | DealState::Submitted
                | DealState::Accepted
                | DealState::Unknown
                | DealState::Open
        )
}

/// The `[instruments.X]` section that names `epic` (by friendly name or epic).
fn override_for<'a>(
    cfg: &'a EngineConfig,
    epic: &Epic,
) -> Option<&'a crate::config::InstrumentConfig> {
    cfg.instruments.iter().find_map(|(name, c)| {
        (scalper_model::market::resolve_instrument(name).as_ref() == Some(epic)).then_some(c)
    })
}

#[allow(clippy::unwrap_used)] // a literal that satisfies DealId's rule
fn placeholder_id() -> scalper_model::DealId {
    scalper_model::DealId::new("UNKNOWN").unwrap()
}

fn log(level: LogLevel, epic: Option<Epic>, message: String) -> Action {
    Action::Log {
        level,
        epic,
        message,
    }
}
