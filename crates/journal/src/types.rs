//! Plain records the engine hands to the journal, and the rows the journal gives back.
//! Money and prices are decimals (stored as exact TEXT); times are UTC epoch milliseconds.

use std::fmt;

use rust_decimal::Decimal;
use scalper_model::{
    DealId, DealReference, DealState, Direction, Epic, Money, OrderType, Price, Size, Timestamp,
};
use serde::{Deserialize, Serialize};

/// The journal's own id of a trade (SQLite rowid), stable for `show <id>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TradeId(pub i64);

impl fmt::Display for TradeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// An approved entry, journaled BEFORE its dealing request is sent (write-ahead).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Intent {
    pub ts: Timestamp,
    /// Our own reference, sent with the request so the outcome can be found after a crash.
    pub deal_reference: DealReference,
    pub epic: Epic,
    pub direction: Direction,
    pub size: Size,
    pub order_type: OrderType,
    /// Order level for limit/stop orders; `None` for market orders.
    pub level: Option<Price>,
    pub stop_level: Option<Price>,
    pub limit_level: Option<Price>,
    /// True for paper trades (including after a broker fallback to paper).
    pub paper: bool,
    /// Strategy name, for reports.
    pub strategy: Option<String>,
}

/// The broker's answer to an opening request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ConfirmOutcome {
    Accepted {
        deal_id: DealId,
        level: Option<Price>,
    },
    Rejected {
        reason: String,
    },
    /// Timeout, 5xx or a lost response: the outcome is not known yet.
    Unknown {
        detail: String,
    },
}

/// A position seen open (position list, OPU or a paper fill).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fill {
    pub ts: Timestamp,
    pub deal_id: DealId,
    pub level: Price,
    pub size: Size,
    /// The stop and limit the position opened with (their levels are known only at the fill);
    /// `None` keeps what the journal has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_level: Option<Price>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit_level: Option<Price>,
}

/// A new stop and/or limit on an open position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Amendment {
    pub ts: Timestamp,
    pub stop_level: Option<Price>,
    pub limit_level: Option<Price>,
}

/// A position closed (by us, by its stop or limit, or by the broker), with exact P&L.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Close {
    pub ts: Timestamp,
    pub level: Price,
    /// Realised P&L of the position in account currency, before fees.
    pub pnl: Money,
    /// Commissions and charges for this trade (positive = cost).
    pub fees: Money,
    /// Why: "target", "stop", "timeout", "kill_switch", "daily_loss_limit", "external"...
    pub reason: String,
}

/// Part of a position closed; the rest stays open under the same deal id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartialClose {
    pub ts: Timestamp,
    /// The close request's own reference.
    pub close_reference: DealReference,
    pub level: Price,
    /// The size closed.
    pub size: Size,
    /// The size still open.
    pub remaining: Size,
    /// Realised P&L of the part closed, in account currency.
    pub pnl: Money,
    pub reason: String,
}

/// The kind of stop the broker keeps for a trade, so a restarted engine manages it as the
/// engine that opened it did: a triggered guaranteed stop costs its premium, a trailing stop
/// is the broker's to move. Journaled at the fill (`Journal::record_stop_kind`); a trade
/// without one has a normal stop (or was journaled before the kind was kept).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StopKind {
    #[default]
    Normal,
    /// The premium in points fixed at the fill (charged only when the stop is triggered),
    /// when the market's rules gave one.
    Guaranteed { premium_points: Option<Decimal> },
    /// The broker's trailing stop moves in steps of `increment` points.
    Trailing { increment: Decimal },
}

/// A run's set-up, journaled with its start: enough to run the same engine over the quotes it
/// received (`scalper replay`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunSetup {
    /// The engine configuration (`[engine]`, as the run used it), as TOML.
    pub config: String,
    /// The instruments as the broker described them at the start (dealing rules, point
    /// value, the account's conversion rate).
    pub instruments: Vec<scalper_model::Instrument>,
    /// The equity the run sized with at the start.
    pub equity: Money,
    /// Local wall clock (epoch ms) when the run started: the first quote a replay feeds was
    /// received after it.
    pub started_wall_ms: i64,
    /// The journal id of the run's first trade: trades from it on (up to the next run's) are
    /// this run's.
    pub first_trade_id: u64,
    /// Positions the run took over at its start (opened by an earlier run): a replay cannot
    /// follow them.
    #[serde(default)]
    pub positions_taken_over: u32,
    /// Paper trading (fills simulated from the live quotes).
    #[serde(default)]
    pub paper: bool,
    /// The session day's totals the run started with (risk limits count them): realised
    /// P&L, entries, and the day they belong to (`YYYY-MM-DD`).
    #[serde(default)]
    pub day_realised_pnl: Money,
    #[serde(default)]
    pub day_trades: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub day: Option<String>,
}

/// The quotes a run's engine never saw (see `SystemEvent::EngineStop`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedQuotes {
    /// How many in all.
    pub total: u64,
    /// Each one's instrument and IG time, in the order they were skipped (the first 100,000
    /// when there were more).
    pub quotes: Vec<(Epic, Timestamp)>,
}

/// Events that do not belong to one trade.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SystemEvent {
    /// Risk refused an intent (nothing was sent).
    RiskRefusal {
        epic: Epic,
        direction: Option<Direction>,
        size: Option<Size>,
        reason: String,
    },
    /// The kill switch was triggered.
    KillSwitch {
        reason: String,
        close_positions: bool,
    },
    /// The broker failed and the configured policy acted (halt, or switch to paper).
    BrokerFallback {
        policy: String,
        reason: String,
    },
    /// The daily loss limit locked trading.
    DailyLossLimit {
        realised: Money,
        limit: Money,
    },
    Login {
        account: Option<String>,
    },
    Refresh,
    TokenErrorRecovered {
        detail: String,
    },
    StreamGap {
        gap_ms: i64,
    },
    StreamReconnect {
        attempt: u32,
    },
    /// Engine start and stop, for reading the journal later.
    EngineStart {
        mode: String,
        /// The account's currency as the broker reported it at the start: every amount the
        /// journal holds for this run is in it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        currency: Option<String>,
        /// What `scalper replay` needs to run the same engine again (absent in journals
        /// written before replay existed).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        setup: Option<Box<RunSetup>>,
    },
    EngineStop {
        reason: String,
        /// Local wall clock (epoch ms) when trading stopped (before the wind-down): the
        /// last quote a replay feeds was received before it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ended_wall_ms: Option<i64>,
        /// Local wall clock (epoch ms) when the run's one-second timer started (its timer
        /// events came every second from then).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timer_started_wall_ms: Option<i64>,
        /// Quotes the run received but the engine never saw (a newer quote of the same
        /// instrument replaced each before the engine read it): a replay leaves them out.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        skipped_quotes: Option<SkippedQuotes>,
    },
    /// An in-run comparison of the broker's positions with the engine's that found a
    /// difference: closes the stream did not report (booked at IG's level) and positions the
    /// run does not manage.
    InRunReconciliation {
        trigger: String,
        closes_booked: u32,
        unknown_at_broker: Vec<String>,
    },
    /// An operator's control action (`halt`, `flatten`, `resume`) and where it came from
    /// (e.g. `http 127.0.0.1:50312`), with the halt in force after it.
    Control {
        action: String,
        source: String,
        halted_after: Option<String>,
    },
    /// A live trade compared with its shadow-paper twin (`run --shadow`): one per closed pair,
    /// or per trade only one side made.
    ShadowTrade(Box<ShadowTrade>),
}

impl SystemEvent {
    /// The stored `kind` column.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::RiskRefusal { .. } => "risk_refusal",
            Self::KillSwitch { .. } => "kill_switch",
            Self::BrokerFallback { .. } => "broker_fallback",
            Self::DailyLossLimit { .. } => "daily_loss_limit",
            Self::Login { .. } => "login",
            Self::Refresh => "refresh",
            Self::TokenErrorRecovered { .. } => "token_error_recovered",
            Self::StreamGap { .. } => "stream_gap",
            Self::StreamReconnect { .. } => "stream_reconnect",
            Self::EngineStart { .. } => "engine_start",
            Self::EngineStop { .. } => "engine_stop",
            Self::InRunReconciliation { .. } => "in_run_reconciliation",
            Self::Control { .. } => "control",
            Self::ShadowTrade(_) => "shadow_trade",
        }
    }
}

/// Which sides of a shadow comparison made the trade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShadowOutcome {
    /// Live and shadow both entered on the same decision and both closed.
    Paired,
    /// Only the live engine made this trade (an extra trade against paper).
    LiveOnly,
    /// Only the shadow made this trade: live missed it (decided otherwise, or its entry was
    /// refused by the broker).
    ShadowOnly,
}

impl ShadowOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Paired => "paired",
            Self::LiveOnly => "live_only",
            Self::ShadowOnly => "shadow_only",
        }
    }
}

/// One side of a shadow comparison: a closed round trip.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShadowLeg {
    /// The engine's trade number on that side (live trade ids are the journal's).
    pub trade_id: u64,
    pub size: Size,
    pub entry: Price,
    pub exit: Price,
    pub opened_at: Timestamp,
    pub closed_at: Timestamp,
    /// Realised P&L in the account currency.
    pub pnl: Money,
}

/// A live trade and its shadow-paper twin (`run --shadow`). Differences are signed against
/// live: positive points mean live filled worse than paper; `pnl_difference` is live less
/// shadow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShadowTrade {
    pub epic: Epic,
    pub direction: Direction,
    pub outcome: ShadowOutcome,
    /// The time of the quote (or event) the entry was decided on.
    pub decided_at: Timestamp,
    pub live: Option<ShadowLeg>,
    pub shadow: Option<ShadowLeg>,
    /// Both sides decided on the same quote (false: live's entry was sent after a broker
    /// report, e.g. the second half of a flip, and was paired with paper's earlier one).
    #[serde(default)]
    pub same_quote: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry_slippage_points: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_slippage_points: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pnl_difference: Option<Money>,
    /// From the decision to live's fill, in the run's (quote) clock; paper fills at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry_delay_ms: Option<i64>,
}

/// How a trade was executed, as far as it is known (every field optional: paper fills,
/// adopted positions and trades journaled before this record existed lack some). Times are
/// the local wall clock in ms, except `signal_at` (the deciding quote's own time, IG's).
/// Slippage is signed against us: positive means filled worse than the quote decided on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Execution {
    /// The quote the strategy decided on (IG's time, bid and offer).
    pub signal_at: Option<Timestamp>,
    pub signal_bid: Option<Price>,
    pub signal_ask: Option<Price>,
    /// The spread of that quote, in points.
    pub entry_spread: Option<Decimal>,
    /// The opening request left, IG acknowledged it (the deal reference came back), and the
    /// outcome was confirmed.
    pub sent_at: Option<Timestamp>,
    pub acked_at: Option<Timestamp>,
    pub confirmed_at: Option<Timestamp>,
    /// Fill level against the signal quote's side (offer for a buy, bid for a sell), in
    /// points and in the account currency for the trade's size.
    pub slippage_points: Option<Decimal>,
    pub slippage: Option<Money>,
    /// The spread when the trade closed, in points, and the close's slippage against the
    /// quote it was sent on (only for closes the engine sent).
    pub exit_spread: Option<Decimal>,
    pub exit_slippage_points: Option<Decimal>,
    /// The quote a close the engine sent was decided on (IG's time).
    #[serde(default)]
    pub exit_signal_at: Option<Timestamp>,
}

impl Execution {
    /// Sent to confirmed, when both are known.
    pub fn latency_ms(&self) -> Option<i64> {
        Some(self.confirmed_at?.millis() - self.sent_at?.millis())
    }
}

/// A trade as the journal knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trade {
    pub id: TradeId,
    pub deal_reference: DealReference,
    pub epic: Epic,
    pub direction: Direction,
    pub size: Size,
    pub order_type: OrderType,
    pub stop_level: Option<Price>,
    pub limit_level: Option<Price>,
    pub paper: bool,
    /// True when reconciliation adopted a position the journal did not know.
    pub adopted: bool,
    pub strategy: Option<String>,
    pub state: DealState,
    pub deal_id: Option<DealId>,
    pub open_level: Option<Price>,
    pub close_level: Option<Price>,
    /// `None` until closed, and for an external close whose P&L is still pending.
    pub pnl: Option<Money>,
    pub fees: Money,
    pub created_at: Timestamp,
    pub opened_at: Option<Timestamp>,
    pub closed_at: Option<Timestamp>,
    /// Rejection reason, or close reason.
    pub reason: Option<String>,
    /// How it was executed (see [`Execution`]).
    #[serde(default)]
    pub execution: Execution,
    /// The broker's kind of stop (see [`StopKind`]).
    #[serde(default)]
    pub stop_kind: StopKind,
}

impl Trade {
    /// P&L after fees, when known.
    pub fn net_pnl(&self) -> Option<Money> {
        self.pnl.map(|p| p - self.fees)
    }
}

impl fmt::Display for Trade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let opt = |p: Option<Price>| p.map_or_else(|| "-".to_string(), |p| p.to_string());
        write!(
            f,
            "#{:<5} {} {:<20} {:<4} {:>8} {:<9} open {:>10} close {:>10} pnl {:>10}{}{}",
            self.id,
            self.created_at,
            self.epic,
            self.direction,
            self.size.to_string(),
            format!("{:?}", self.state).to_lowercase(),
            opt(self.open_level),
            opt(self.close_level),
            self.pnl.map_or_else(|| "-".to_string(), |p| p.to_string()),
            if self.paper { " [paper]" } else { "" },
            if self.adopted { " [adopted]" } else { "" },
        )
    }
}

/// One journaled event (of a trade or of the system), with its JSON detail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventRecord {
    pub seq: i64,
    pub ts: Timestamp,
    pub kind: String,
    pub trade_id: Option<TradeId>,
    pub detail: serde_json::Value,
}

impl fmt::Display for EventRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {:<22} {}", self.ts, self.kind, self.detail)
    }
}

/// A trade with its full event history (`scalper journal show <id>`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TradeDetail {
    pub trade: Trade,
    pub events: Vec<EventRecord>,
}

impl fmt::Display for TradeDetail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.trade)?;
        writeln!(f, "  deal reference {}", self.trade.deal_reference)?;
        if let Some(id) = &self.trade.deal_id {
            writeln!(f, "  deal id        {id}")?;
        }
        if let Some(r) = &self.trade.reason {
            writeln!(f, "  reason         {r}")?;
        }
        for e in &self.events {
            writeln!(f, "  {e}")?;
        }
        Ok(())
    }
}

/// Which trades to list. `Default` lists everything, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TradeFilter {
    /// Trades created at or after.
    pub from: Option<Timestamp>,
    /// Trades created before.
    pub to: Option<Timestamp>,
    pub epic: Option<Epic>,
    pub state: Option<DealState>,
    /// Most recent N (still returned oldest first).
    pub limit: Option<u32>,
}

/// Realised results and counts in one trading day (or any window), for risk limits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayStats {
    /// P&L realised in the window (before fees): trades closed in it, and partial closes made
    /// in it (a trade's partial closes count on the day they were made, as the engine books
    /// them, and its P&L at the close less them).
    pub realised_pnl: Money,
    pub fees: Money,
    /// Entries sent in the window (every intent that was not rejected).
    pub trades_opened: u32,
    pub trades_closed: u32,
    pub wins: u32,
    pub losses: u32,
    /// Closed trades whose P&L is not yet known (closed externally, pending).
    pub pnl_pending: u32,
}

impl DayStats {
    /// `realised_pnl - fees`.
    pub fn net_pnl(&self) -> Money {
        self.realised_pnl - self.fees
    }
}
