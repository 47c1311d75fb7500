//! The engine's observable state: trades in flight, the run summary, per-instrument views and
//! the initial state restored after a restart.

use chrono::NaiveDate;
use rust_decimal_macros::dec;
use scalper_model::{
    DealId, DealReference, DealState, Direction, Epic, MarketStatus, Money, Points, Price, Quote,
    Size, Timestamp,
};
use serde::{Deserialize, Serialize};

use super::{counts_as_open, Engine};
use crate::action::{ClosedTrade, HaltReason};

/// Initial state: account equity, what the journal knows about today (so that the daily loss
/// limit and the trade count survive a restart), and the positions open at the broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineInit {
    /// Equity for percent-of-equity sizing (the account balance). Default 10000.
    pub equity: Money,
    /// Realised P&L of the current session day so far.
    pub day_realised_pnl: Money,
    /// Entries made in the current session day so far.
    pub day_trades: u32,
    /// The session day those two values belong to (see `RiskManager::session_day`); `None`
    /// means "the day of the first event". Values of another day are discarded.
    pub day: Option<NaiveDate>,
    /// The broker is a paper broker: every trade is marked paper.
    pub paper: bool,
    /// Positions open at the broker when the engine starts (the journal's open trades after
    /// reconciliation): managed from the first event on, counted in every position limit.
    pub positions: Vec<RestoredPosition>,
    /// The number of the engine's next trade. A live run passes the journal's next trade id,
    /// so a trade has one number in the log, the summary and the journal. Default: after the
    /// restored positions.
    pub first_trade_id: Option<u64>,
}

/// A position open at the broker that the engine takes over at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoredPosition {
    pub epic: Epic,
    pub direction: Direction,
    pub size: Size,
    /// The journal's reference for it (ours, or `ADOPT-...` for an adopted position).
    pub deal_reference: DealReference,
    pub deal_id: DealId,
    pub level: Price,
    pub opened_at: Option<Timestamp>,
    pub stop_level: Option<Price>,
    pub limit_level: Option<Price>,
    /// Found at the broker without an order of ours (adopted by reconciliation). It counts in
    /// the limits and the daily loss, and the kill switch and the loss limit close it; strategy
    /// exits never do: it may be the trader's own.
    pub adopted: bool,
    /// Its number in the journal (`None`: numbered after the others).
    pub trade_id: Option<u64>,
    /// The stop the broker keeps, as the journal knows it (see [`Trade::stop_kind`]).
    pub stop_kind: crate::strategy::StopKind,
    /// The guaranteed-stop premium fixed at the fill (see [`Trade::premium_points`]); `None`
    /// for a guaranteed stop takes the market's premium at the entry level.
    pub premium_points: Option<Points>,
    /// P&L its partial closes realised before the restart (see [`Trade::partial_pnl`]): in
    /// the day's realised P&L already, and in the trade's P&L when the rest closes.
    pub partial_pnl: Money,
}

impl Default for EngineInit {
    fn default() -> Self {
        Self {
            equity: Money::new(dec!(10000)),
            day_realised_pnl: Money::ZERO,
            day_trades: 0,
            day: None,
            paper: false,
            positions: Vec::new(),
            first_trade_id: None,
        }
    }
}

/// A trade the engine is working on (not yet rejected or closed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trade {
    pub trade_id: u64,
    pub epic: Epic,
    pub direction: Direction,
    pub size: Size,
    pub state: DealState,
    pub open_ref: DealReference,
    pub close_ref: Option<DealReference>,
    pub deal_id: Option<DealId>,
    pub entry_level: Option<Price>,
    pub entry_time: Option<Timestamp>,
    pub stop_distance: Option<Points>,
    pub limit_distance: Option<Points>,
    pub stop_level: Option<Price>,
    pub limit_level: Option<Price>,
    pub trailing_distance: Option<Points>,
    /// Best price since entry (bid for longs, offer for shorts), for the trailing stop.
    pub best_price: Option<Price>,
    pub max_hold_ms: Option<i64>,
    pub submitted_at: Timestamp,
    pub paper: bool,
    pub reason: String,
    /// Why the engine is closing (or wants to close) it.
    pub close_reason: Option<String>,
    /// Close as soon as the entry fills (exit, kill switch or loss limit while in flight).
    pub close_when_open: Option<String>,
    /// Earliest time to retry a refused close.
    pub close_retry_at: Option<Timestamp>,
    /// The reference whose outcome is unknown (opening or closing request).
    pub unknown_ref: Option<DealReference>,
    pub last_resolve_at: Option<Timestamp>,
    /// Stop level before the last amendment, restored if the amendment is refused.
    pub prev_stop_level: Option<Price>,
    /// Taken over from the broker at start without an order of ours (see
    /// [`RestoredPosition::adopted`]): strategy exits leave it alone.
    #[serde(default)]
    pub adopted: bool,
    /// The stop the broker keeps: a broker-side trailing stop is never amended by the engine,
    /// a triggered guaranteed stop costs the market's premium.
    #[serde(default)]
    pub stop_kind: crate::strategy::StopKind,
    /// The guaranteed-stop premium in points, fixed at the fill (charged only when the stop
    /// is triggered).
    #[serde(default)]
    pub premium_points: Option<Points>,
    /// A partial close in flight: its reference, size and reason.
    #[serde(default)]
    pub reducing: Option<(DealReference, Size, String)>,
    /// P&L already realised by partial closes.
    #[serde(default)]
    pub partial_pnl: Money,
}

/// Run totals for the status line and the summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineSummary {
    /// Closed round trips.
    pub trades: u64,
    pub wins: u64,
    pub losses: u64,
    /// Realised P&L of the run.
    pub pnl: Money,
    /// Largest peak-to-trough fall of realised P&L (a positive amount).
    pub max_drawdown: Money,
    pub open_positions: u32,
    pub paper_fallback: bool,
    pub halted: Option<HaltReason>,
    pub unknown_outcomes_resolved: u64,
    pub refusals: u64,
    pub day_pnl: Money,
    pub day_trades: u32,
    pub equity: Money,
}

/// A read-only view of one instrument's state.
#[derive(Debug, Clone, Copy)]
pub struct MarketView<'a> {
    pub epic: &'a Epic,
    pub strategy: &'static str,
    pub last_quote: Option<&'a Quote>,
    pub status: &'a MarketStatus,
    /// The dealing rules the next order is checked against.
    pub rules: &'a scalper_model::DealingRules,
    /// The instrument (points, value per point, account conversion).
    pub instrument: &'a scalper_model::Instrument,
    pub stream_gap: bool,
    pub consecutive_losses: u32,
    pub cooldown_until: Option<Timestamp>,
    pub open_trades: u32,
}

impl Engine {
    /// Totals so far.
    pub fn summary(&self) -> EngineSummary {
        EngineSummary {
            trades: self.closed_total,
            wins: self.wins,
            losses: self.losses,
            pnl: self.realised,
            max_drawdown: self.max_drawdown,
            open_positions: self.open_positions(),
            paper_fallback: self.paper_fallback,
            halted: self.halted(),
            unknown_outcomes_resolved: self.unknown_resolved,
            refusals: self.refusals,
            day_pnl: self.day_pnl,
            day_trades: self.day_trades,
            equity: self.equity(),
        }
    }

    /// Trades in flight or open (rejected and closed trades are gone from here).
    pub fn trades(&self) -> &[Trade] {
        &self.trades
    }

    /// The most recent closed round trips, in closing order: every one of a run's first
    /// [`super::CLOSED_KEPT`], then at least the last `CLOSED_KEPT` (the engine's memory must
    /// not grow with a long run; every close is also reported as `Action::TradeClosed`).
    pub fn closed_trades(&self) -> &[ClosedTrade] {
        &self.closed
    }

    /// How many recent closed round trips [`Engine::closed_trades`] keeps (default
    /// [`super::CLOSED_KEPT`]); 0 keeps none, for callers that follow `Action::TradeClosed`
    /// themselves (a backtest's report). [`Engine::summary`] counts every trade either way.
    pub fn set_closed_history(&mut self, kept: usize) {
        self.closed_kept = kept;
        if kept == 0 {
            self.closed = Vec::new();
        }
    }

    /// Trades that may hold a position at the broker (submitted, unknown, open, closing).
    pub fn open_positions(&self) -> u32 {
        self.trades
            .iter()
            .filter(|t| t.state.may_hold_position())
            .count() as u32
    }

    /// Starting equity plus realised P&L.
    pub fn equity(&self) -> Money {
        self.equity_start + self.realised
    }

    pub fn paper_fallback(&self) -> bool {
        self.paper_fallback
    }

    /// The engine's current time (latest event timestamp seen).
    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// The current session day, once an event with a timestamp was seen.
    pub fn session_day(&self) -> Option<NaiveDate> {
        self.day
    }

    pub fn risk(&self) -> &crate::risk::RiskManager {
        &self.risk
    }

    /// Epics the engine trades, in configuration order.
    pub fn epics(&self) -> impl Iterator<Item = &Epic> {
        self.markets.iter().map(|m| &m.instrument.epic)
    }

    /// One instrument's state.
    pub fn market(&self, epic: &Epic) -> Option<MarketView<'_>> {
        let m = self.markets.iter().find(|m| m.instrument.epic == *epic)?;
        Some(MarketView {
            epic: &m.instrument.epic,
            strategy: m.strategy.name(),
            last_quote: m.last_quote.as_ref(),
            status: &m.status,
            rules: &m.instrument.rules,
            instrument: &m.instrument,
            stream_gap: m.stream_gap,
            consecutive_losses: m.consecutive_losses,
            cooldown_until: m.cooldown_until,
            open_trades: self
                .trades
                .iter()
                .filter(|t| t.epic == *epic && counts_as_open(t))
                .count() as u32,
        })
    }
}
