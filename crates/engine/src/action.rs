//! What the engine asks the outside world to do: broker commands, journal/log records (every
//! refusal carries its reason), halts and the end-of-work signal.

use std::fmt;

use rust_decimal::Decimal;
use scalper_model::economics::Amount;
use scalper_model::{DealId, DealReference, Direction, Epic, Money, Price, Size, Timestamp};
use serde::{Deserialize, Serialize};

use crate::event::{BrokerCommand, CloseCause};

/// One output of [`crate::Engine::process`], in the order it must be carried out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Send this to the broker (journal it first: write-ahead).
    Broker(BrokerCommand),
    /// Risk (or the engine) refused a strategy intent.
    Refused {
        epic: Epic,
        direction: Option<Direction>,
        reason: Refusal,
    },
    /// A position opened (for the journal and status line).
    TradeOpened(OpenedTrade),
    /// A position closed.
    TradeClosed(ClosedTrade),
    /// Part of a position closed; the rest stays open under the same deal id.
    TradeReduced(ReducedTrade),
    /// A log record with a level and an optional epic.
    Log {
        level: LogLevel,
        epic: Option<Epic>,
        message: String,
    },
    /// New entries are stopped (kill switch, daily loss limit, broker failure).
    Halted { reason: HaltReason },
    /// A manual halt was lifted, or a new session day unlocked the daily loss limit.
    Resumed { reason: String },
    /// The broker failed and `on_broker_failure = "paper"`: the runner must route every later
    /// command to the paper broker; every later trade is marked `paper`.
    PaperFallback { detail: String },
    /// The engine is halted for a broker failure and no trade may still hold a position:
    /// nothing is left to manage, the runner should exit with a non-zero code.
    NothingLeftToManage { reason: HaltReason },
}

/// Severity of an [`Action::Log`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogLevel {
    Info,
    Warn,
    Error,
}

/// Why the engine stopped taking new entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HaltReason {
    /// The kill switch (`Command::Halt`).
    KillSwitch,
    /// The daily loss limit was reached; trading resumes on the next session day.
    DailyLossLimit,
    /// The broker failed and `on_broker_failure = "halt"`.
    BrokerFailure,
}

impl fmt::Display for HaltReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::KillSwitch => "kill switch",
            Self::DailyLossLimit => "daily loss limit reached",
            Self::BrokerFailure => "broker failure",
        })
    }
}

/// Why an intent was refused. `Display` gives the sentence that goes into the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum Refusal {
    Halted {
        reason: HaltReason,
    },
    MarketNotTradeable {
        status: String,
    },
    OutsideTradingHours,
    /// Inside the no-entry window of a scheduled flatten (`[[engine.schedule]]`).
    ScheduledFlatten {
        name: String,
    },
    /// Inside a news event's window (`[engine.news]`).
    NewsBlackout {
        event: String,
    },
    /// The market is closed by its hours or a holiday (`[engine.calendar]`).
    MarketClosed {
        opens: Option<Timestamp>,
    },
    /// The market closes within `no_entries_before_close_min`.
    MarketClosing {
        closes: Timestamp,
    },
    NoQuote,
    StreamGap,
    StaleQuote {
        age_ms: i64,
        max_ms: i64,
    },
    SpreadTooWide {
        spread: Decimal,
        max: Decimal,
    },
    MaxOpenPositions {
        open: u32,
        max: u32,
    },
    MaxOpenPerInstrument {
        open: u32,
        max: u32,
    },
    MaxTradesPerDay {
        trades: u32,
        max: u32,
    },
    Cooldown {
        losses: u32,
        until: Timestamp,
    },
    /// The broker rejected an entry on this instrument recently.
    RecentlyRejected {
        until: Timestamp,
    },
    OutcomeUnknownPending {
        deal_ref: DealReference,
    },
    /// Two entries on this instrument are not confirmed yet (a flip's and its replacement):
    /// a strategy flipping faster than the broker confirms cannot stack up entries, each to
    /// be closed as soon as it opens, behind the allowance.
    EntryInFlight {
        deal_ref: DealReference,
    },
    NoStopToSizeFrom,
    SizeBelowMinimum {
        size: Size,
        min: Size,
    },
    StopTooFar {
        distance: Decimal,
        max: Decimal,
    },
    /// The strategy asked for a guaranteed or broker-side trailing stop that the market (or,
    /// for trailing stops, the account's preferences) does not offer.
    StopKindUnavailable {
        kind: String,
    },
    /// A guaranteed or broker-side trailing stop needs a stop distance.
    StopKindNeedsDistance {
        kind: String,
    },
    /// The margin the entry needs is more than the account has available (equity including
    /// open P&L, less the margin of open positions), in account currency.
    InsufficientMargin {
        required: Money,
        available: Money,
        /// The account currency of both amounts.
        #[serde(default)]
        currency: String,
    },
    /// Open notional plus the entry's over equity would pass `max_leverage`.
    MaxLeverage {
        leverage: Decimal,
        max: Decimal,
    },
    /// The entry would take `currency`'s net exposure past `max_currency_exposure`.
    MaxCurrencyExposure {
        currency: String,
        exposure: Money,
        max: Money,
    },
    /// The broker refused `size` on this instrument for insufficient funds, and no position
    /// has closed since: that size (or more) is not tried again until margin frees up.
    BrokerRefusedFunds {
        size: Size,
    },
    NothingToClose,
}

impl Refusal {
    /// The rule's name, as serialised in `rule` (`size_below_minimum`, ...).
    pub fn rule(&self) -> &'static str {
        match self {
            Self::Halted { .. } => "halted",
            Self::MarketNotTradeable { .. } => "market_not_tradeable",
            Self::OutsideTradingHours => "outside_trading_hours",
            Self::ScheduledFlatten { .. } => "scheduled_flatten",
            Self::NewsBlackout { .. } => "news_blackout",
            Self::MarketClosed { .. } => "market_closed",
            Self::MarketClosing { .. } => "market_closing",
            Self::NoQuote => "no_quote",
            Self::StreamGap => "stream_gap",
            Self::StaleQuote { .. } => "stale_quote",
            Self::SpreadTooWide { .. } => "spread_too_wide",
            Self::MaxOpenPositions { .. } => "max_open_positions",
            Self::MaxOpenPerInstrument { .. } => "max_open_per_instrument",
            Self::MaxTradesPerDay { .. } => "max_trades_per_day",
            Self::Cooldown { .. } => "cooldown",
            Self::RecentlyRejected { .. } => "recently_rejected",
            Self::OutcomeUnknownPending { .. } => "outcome_unknown_pending",
            Self::EntryInFlight { .. } => "entry_in_flight",
            Self::NoStopToSizeFrom => "no_stop_to_size_from",
            Self::SizeBelowMinimum { .. } => "size_below_minimum",
            Self::InsufficientMargin { .. } => "insufficient_margin",
            Self::BrokerRefusedFunds { .. } => "broker_refused_funds",
            Self::MaxLeverage { .. } => "max_leverage",
            Self::MaxCurrencyExposure { .. } => "max_currency_exposure",
            Self::StopTooFar { .. } => "stop_too_far",
            Self::StopKindUnavailable { .. } => "stop_kind_unavailable",
            Self::StopKindNeedsDistance { .. } => "stop_kind_needs_distance",
            Self::NothingToClose => "nothing_to_close",
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Halted { reason } => write!(f, "halted: {reason}"),
            Self::MarketNotTradeable { status } => write!(f, "market not tradeable ({status})"),
            Self::OutsideTradingHours => f.write_str("outside trading hours"),
            Self::ScheduledFlatten { name } => {
                write!(f, "no entries around the scheduled flatten ({name})")
            }
            Self::NewsBlackout { event } => write!(f, "news blackout: {event}"),
            Self::MarketClosed { opens: Some(t) } => {
                write!(f, "market closed by its hours (opens {t})")
            }
            Self::MarketClosed { opens: None } => {
                f.write_str("market closed by its hours (no opening within a week)")
            }
            Self::MarketClosing { closes } => write!(f, "market closes at {closes}"),
            Self::NoQuote => f.write_str("no quote yet"),
            Self::StreamGap => f.write_str("price stream gap: waiting for a fresh quote"),
            Self::StaleQuote { age_ms, max_ms } => {
                write!(f, "last quote is {age_ms} ms old (max {max_ms} ms)")
            }
            Self::SpreadTooWide { spread, max } => write!(
                f,
                "spread {} points above maximum {} points",
                spread.normalize(),
                max.normalize()
            ),
            Self::MaxOpenPositions { open, max } => {
                write!(f, "{open} positions open (max {max})")
            }
            Self::MaxOpenPerInstrument { open, max } => {
                write!(f, "{open} positions open on this instrument (max {max})")
            }
            Self::MaxTradesPerDay { trades, max } => {
                write!(f, "{trades} trades today (max {max})")
            }
            Self::RecentlyRejected { until } => {
                write!(f, "the broker rejected an entry; no entries until {until}")
            }
            Self::Cooldown { losses, until } => {
                write!(
                    f,
                    "cooldown after {losses} consecutive losses until {until}"
                )
            }
            Self::EntryInFlight { deal_ref } => {
                write!(
                    f,
                    "entries on this instrument not confirmed yet (latest {deal_ref}): no third in flight"
                )
            }
            Self::OutcomeUnknownPending { deal_ref } => {
                write!(
                    f,
                    "outcome of {deal_ref} unknown: no new entry until resolved"
                )
            }
            Self::NoStopToSizeFrom => {
                f.write_str("no stop distance and no fixed size: cannot size the trade")
            }
            Self::SizeBelowMinimum { size, min } => {
                write!(f, "size {size} below the minimum deal size {min}")
            }
            Self::InsufficientMargin {
                required,
                available,
                currency,
            } => write!(
                f,
                "margin {} needed, {} available: entry not sent",
                Amount::new(*required, currency),
                Amount::new(*available, currency)
            ),
            Self::MaxLeverage { leverage, max } => write!(
                f,
                "leverage would be {}:1, above the maximum {}:1",
                leverage.round_dp(2).normalize(),
                max.normalize()
            ),
            Self::MaxCurrencyExposure {
                currency,
                exposure,
                max,
            } => write!(
                f,
                "net {currency} exposure would be {}, beyond the maximum {}",
                exposure.round_cents(),
                max.round_cents()
            ),
            Self::BrokerRefusedFunds { size } => write!(
                f,
                "the broker refused size {size} for insufficient funds; not tried again until a position closes and frees margin"
            ),
            Self::StopTooFar { distance, max } => write!(
                f,
                "stop distance {} points beyond the maximum {} points",
                distance.normalize(),
                max.normalize()
            ),
            Self::StopKindUnavailable { kind } if kind == "trailing" => f.write_str(
                "trailing stops are not available at the broker for this market or account (IG: the market's trailingStopsPreference, the account's trailingStopsEnabled preference); use trailing = \"engine\"",
            ),
            Self::StopKindUnavailable { kind } => {
                write!(f, "{kind} stops are not offered on this market")
            }
            Self::StopKindNeedsDistance { kind } => {
                write!(f, "a {kind} stop needs a stop distance")
            }
            Self::NothingToClose => f.write_str("no open position to close"),
        }
    }
}

/// A position the broker opened for us.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenedTrade {
    /// Engine trade number (1, 2, ...), stable for the whole run.
    pub trade_id: u64,
    pub deal_ref: DealReference,
    pub deal_id: DealId,
    pub epic: Epic,
    pub direction: Direction,
    pub size: Size,
    pub level: Price,
    pub stop_level: Option<Price>,
    pub limit_level: Option<Price>,
    pub at: Timestamp,
    /// True when the trade went to the paper broker after a fallback (or in a paper run).
    pub paper: bool,
}

/// Part of a position closed (`Intent::Reduce`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReducedTrade {
    pub trade_id: u64,
    pub deal_ref: DealReference,
    pub deal_id: DealId,
    pub epic: Epic,
    pub direction: Direction,
    /// The size closed now.
    pub closed_size: Size,
    /// The size still open.
    pub remaining: Size,
    pub level: Price,
    /// P&L of the closed part, in account currency.
    pub pnl: Money,
    pub at: Timestamp,
    pub reason: String,
}

/// A finished round trip. After partial closes, `size` is the part closed at the exit and
/// `pnl` the whole trade's P&L (the partial closes' included).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClosedTrade {
    pub trade_id: u64,
    pub deal_ref: DealReference,
    pub deal_id: DealId,
    pub epic: Epic,
    pub direction: Direction,
    pub size: Size,
    pub entry_time: Timestamp,
    pub entry_price: Price,
    pub exit_time: Timestamp,
    pub exit_price: Price,
    /// Realised P&L (broker-reported when available, else computed from levels).
    pub pnl: Money,
    pub cause: CloseCause,
    /// Why the engine closed it (signal, max hold, ...), empty for broker-side closes.
    pub reason: String,
    pub paper: bool,
}

impl ClosedTrade {
    /// Holding time in milliseconds.
    pub fn holding_ms(&self) -> i64 {
        self.exit_time.since(self.entry_time)
    }
    pub fn is_win(&self) -> bool {
        self.pnl > Money::ZERO
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_refusal_names_its_rule_as_serialised() {
        let t = Timestamp::from_millis(0);
        let all = [
            Refusal::Halted {
                reason: HaltReason::KillSwitch,
            },
            Refusal::MarketNotTradeable {
                status: "CLOSED".into(),
            },
            Refusal::OutsideTradingHours,
            Refusal::ScheduledFlatten {
                name: "weekend".into(),
            },
            Refusal::NewsBlackout {
                event: "NFP (USD)".into(),
            },
            Refusal::MarketClosed { opens: Some(t) },
            Refusal::MarketClosing { closes: t },
            Refusal::NoQuote,
            Refusal::StreamGap,
            Refusal::StaleQuote {
                age_ms: 1,
                max_ms: 0,
            },
            Refusal::SpreadTooWide {
                spread: Decimal::ONE,
                max: Decimal::ZERO,
            },
            Refusal::MaxOpenPositions { open: 1, max: 1 },
            Refusal::MaxOpenPerInstrument { open: 1, max: 1 },
            Refusal::MaxTradesPerDay { trades: 1, max: 1 },
            Refusal::Cooldown {
                losses: 3,
                until: t,
            },
            Refusal::RecentlyRejected { until: t },
            Refusal::OutcomeUnknownPending {
                deal_ref: DealReference::new("R-1").unwrap(),
            },
            Refusal::NoStopToSizeFrom,
            Refusal::SizeBelowMinimum {
                size: Size::ZERO,
                min: Size::new(Decimal::ONE),
            },
            Refusal::StopTooFar {
                distance: Decimal::TEN,
                max: Decimal::ONE,
            },
            Refusal::InsufficientMargin {
                required: Money::new(Decimal::TEN),
                available: Money::ZERO,
                currency: "GBP".into(),
            },
            Refusal::BrokerRefusedFunds {
                size: Size::new(Decimal::ONE),
            },
            Refusal::MaxLeverage {
                leverage: Decimal::TEN,
                max: Decimal::ONE,
            },
            Refusal::MaxCurrencyExposure {
                currency: "EUR".into(),
                exposure: Money::new(Decimal::TEN),
                max: Money::ZERO,
            },
            Refusal::NothingToClose,
        ];
        for r in all {
            let v = serde_json::to_value(&r).unwrap();
            assert_eq!(v["rule"], r.rule(), "{r:?}");
        }
    }
}
