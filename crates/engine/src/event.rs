//! What flows into and out of the engine: [`EngineEvent`]s in, [`BrokerCommand`]s out to a
//! [`crate::Broker`], and [`BrokerEvent`]s back from it. Plain data, no behaviour.

use scalper_model::{
    Candle, DealId, DealReference, DealingRules, Direction, Epic, MarketStatus, Money, Points,
    Price, Quote, RejectReason, Size, Timestamp,
};
use std::sync::Arc;

use crate::strategy::StopKind;

use serde::{Deserialize, Serialize};

/// One input to [`crate::Engine::process`]. The engine's notion of "now" is the latest
/// timestamp carried by a quote, candle, timer or broker event (it never goes backwards).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", content = "data", rename_all = "snake_case")]
pub enum EngineEvent {
    /// A top-of-book price update.
    Quote(Quote),
    /// A completed bar (backtests on bar data). The bar's close, with its spread when known,
    /// stands for the latest quote at `start + period_ms`.
    Candle(Candle),
    /// Time passes (the runner sends one every second or so): drives max-hold exits,
    /// stale-quote detection, session-day rollover and resolution retries.
    Timer(Timestamp),
    /// A report from the broker.
    Broker(BrokerEvent),
    /// An operator command (kill switch, resume, flatten).
    Command(Command),
    /// The price stream lost data for one epic (`Some`) or for all of them (`None`): no
    /// entries on the affected epics until a fresh quote arrives.
    StreamGap { epic: Option<Epic>, at: Timestamp },
    /// The market's dealing status changed (e.g. `TRADEABLE` -> `EDITS_ONLY`).
    MarketStatus {
        epic: Epic,
        status: MarketStatus,
        at: Timestamp,
    },
    /// What the broker says the account can still commit to new positions (IG's ACCOUNT
    /// stream, `AVAILABLE_TO_DEAL`), in account currency: the margin rule takes the smaller of
    /// this and the engine's own estimate.
    AccountFunds { available_to_deal: Money },
    /// The market's dealing rules as the broker gives them now (minimum stop distance,
    /// sizes): they apply to the next order.
    DealingRules {
        epic: Epic,
        rules: DealingRules,
        at: Timestamp,
    },
    /// The market's hours as the broker gives them (IG's `openingHours.marketTimes` pairs of
    /// `HH:MM` in the account's zone; empty when it gives none): with `[engine.calendar]`,
    /// the engine refuses entries while it is closed or about to close and flattens before
    /// long closes.
    TradingHours {
        epic: Epic,
        times: Vec<(String, String)>,
        at: Timestamp,
    },
}

/// An operator command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    /// Kill switch: stop new entries at once. `close_positions`: `Some(true)` closes every
    /// position, `Some(false)` leaves them with their stops, `None` uses
    /// `EngineConfig::kill_switch.close_positions`.
    Halt { close_positions: Option<bool> },
    /// Lift a manual halt (not a daily-loss lock and not a broker-failure halt).
    Resume,
    /// Close every position without halting (end of a backtest, ema-cross "closed at the last
    /// quote").
    CloseAll,
}

/// An instruction for the broker. Every command that deals carries the engine's own deal
/// reference, generated deterministically (prefix + seeded random part + counter).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BrokerCommand {
    /// Open a position at market.
    Open(OpenOrder),
    /// Close (part of) a position at market.
    Close(CloseOrder),
    /// Move the stop and/or limit of an open position (IG replaces both: unchanged values are
    /// sent again, `None` removes one).
    Amend(AmendOrder),
    /// Find out what happened to a request whose outcome is unknown (confirms first, then the
    /// position list) without resending it.
    Resolve { deal_ref: DealReference, epic: Epic },
}

/// A market order that opens a position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenOrder {
    pub deal_ref: DealReference,
    pub epic: Epic,
    pub direction: Direction,
    pub size: Size,
    /// Stop distance from the fill level, in points (never closer than the market minimum).
    pub stop_distance: Option<Points>,
    /// Limit (take-profit) distance from the fill level, in points.
    pub limit_distance: Option<Points>,
    /// Currency code for the deal (the instrument's currency).
    pub currency: Arc<str>,
    /// `-` for CFDs, `DFB` for daily funded bets.
    pub expiry: Arc<str>,
    /// A normal, guaranteed or broker-side trailing stop (`stop_distance` is its distance).
    #[serde(default, skip_serializing_if = "StopKind::is_normal")]
    pub stop_kind: StopKind,
}

/// A market order that closes a position by deal id. `direction` is the closing side (the
/// opposite of the position's direction).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CloseOrder {
    pub deal_ref: DealReference,
    pub deal_id: DealId,
    pub epic: Epic,
    pub direction: Direction,
    pub size: Size,
    pub expiry: Arc<str>,
}

/// New protective levels for an open position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AmendOrder {
    pub deal_id: DealId,
    pub epic: Epic,
    pub stop_level: Option<Price>,
    pub limit_level: Option<Price>,
}

/// Why a position was closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CloseCause {
    /// The stop level was hit (including a trailed stop).
    Stop,
    /// The limit (target) level was hit.
    Limit,
    /// Closed outside scalper (dealing platform, another client).
    Manual,
    /// Closed by an engine [`CloseOrder`] (signal, max hold, kill switch, loss limit, end).
    Engine,
}

impl CloseCause {
    /// The cause as logs, reports and files spell it: `stop`, `limit`, `manual`, `engine`.
    pub fn as_str(self) -> &'static str {
        match self {
            CloseCause::Stop => "stop",
            CloseCause::Limit => "limit",
            CloseCause::Manual => "manual",
            CloseCause::Engine => "engine",
        }
    }
}

impl std::fmt::Display for CloseCause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What kind of broker failure happened; the broker has already retried what it could.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// Credentials refused or the session cannot be re-established.
    Authentication,
    /// The broker cannot be reached.
    Connectivity,
    /// The account cannot deal (disabled, no funds, permissions).
    Account,
    /// Anything else that makes the broker unusable.
    Other,
}

/// A report from a broker. The IG broker maps IG's confirms, OPU updates and errors onto
/// these; the paper broker produces them from quotes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BrokerEvent {
    /// An [`OpenOrder`] was filled. Also the answer to a successful `Resolve`. An `Accepted`
    /// carrying a [`CloseOrder`]'s reference is taken as that position's close (cause
    /// `Engine`, at `level`), though brokers should prefer `PositionClosed` for closes.
    Accepted {
        deal_ref: DealReference,
        deal_id: DealId,
        /// Fill level.
        level: Price,
        /// Actual size filled.
        size: Size,
        /// Stop and limit levels as the broker set them (`None`: the engine derives them from
        /// the distances it sent).
        stop_level: Option<Price>,
        limit_level: Option<Price>,
        at: Timestamp,
    },
    /// An [`OpenOrder`] or [`CloseOrder`] was refused: the broker's dealing decision (IG
    /// `dealStatus: REJECTED`), a request the broker refused outright
    /// ([`RejectReason::Refused`]), or a resolution that proved no deal exists
    /// ([`RejectReason::NoDeal`]).
    Rejected {
        deal_ref: DealReference,
        reason: RejectReason,
        /// What the reason does not say, when there is something (see [`rejection_text`]).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
    },
    /// The outcome of the request with this reference is not known (timeout, 5xx, 405, lost
    /// response). The engine sends nothing for that trade until it is resolved.
    OutcomeUnknown {
        deal_ref: DealReference,
        detail: String,
    },
    /// A position is gone: stopped, limited, closed manually or by our [`CloseOrder`].
    PositionClosed {
        deal_id: DealId,
        /// Exit level.
        level: Price,
        /// Realised P&L in account currency when the broker reports it; otherwise the engine
        /// computes it from levels and the instrument's value per point.
        pnl: Option<Money>,
        cause: CloseCause,
        at: Timestamp,
    },
    /// Part of a position closed (a [`CloseOrder`] smaller than the position); the rest
    /// stays open under the same deal id.
    PartiallyClosed {
        deal_id: DealId,
        /// The close request's reference, when the broker reports it.
        deal_ref: Option<DealReference>,
        /// The size closed.
        size: Size,
        level: Price,
        /// Realised P&L of the closed part when the broker reports it.
        pnl: Option<Money>,
        at: Timestamp,
    },
    /// An [`AmendOrder`] took effect.
    Amended {
        deal_id: DealId,
        stop_level: Option<Price>,
        limit_level: Option<Price>,
    },
    /// An [`AmendOrder`] was refused; the old levels stand.
    AmendRejected {
        deal_id: DealId,
        reason: RejectReason,
        /// What the reason does not say, when there is something (see [`rejection_text`]).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
    },
    /// The broker is unusable (after its own retries): triggers `on_broker_failure`.
    Failure { kind: FailureKind, detail: String },
}

/// A refusal as one readable line: the reason, then the detail when there is one
/// (`"size below the minimum deal size"`, `"no deal under this reference: confirms expired"`).
/// Logs and the journal use it.
pub fn rejection_text(reason: &RejectReason, detail: Option<&str>) -> String {
    match detail {
        Some(d) if !d.is_empty() => format!("{reason}: {d}"),
        _ => reason.to_string(),
    }
}

impl EngineEvent {
    /// The timestamp this event carries, if any.
    pub fn timestamp(&self) -> Option<Timestamp> {
        match self {
            Self::Quote(q) => Some(q.ts),
            Self::Candle(c) => Some(c.start.plus_millis(c.period_ms)),
            Self::Timer(t) | Self::StreamGap { at: t, .. } | Self::MarketStatus { at: t, .. } => {
                Some(*t)
            }
            Self::Broker(
                BrokerEvent::Accepted { at, .. }
                | BrokerEvent::PositionClosed { at, .. }
                | BrokerEvent::PartiallyClosed { at, .. },
            ) => Some(*at),
            // Read at the wall clock's time: it does not move the engine's clock.
            Self::Broker(_)
            | Self::Command(_)
            | Self::DealingRules { .. }
            | Self::TradingHours { .. }
            | Self::AccountFunds { .. } => None,
        }
    }
}
