//! Domain views the client returns, built from IG's wire models in [`crate::convert`]. IG's
//! spellings stop here: ids are typed, numbers are decimals, times are timestamps, statuses and
//! reasons are enums.

use rust_decimal::Decimal;
use scalper_model::{
    AccountId, Candle, DealId, DealReference, Direction, Epic, Instrument, MarketStatus, Money,
    OrderType, Points, Price, Quote, RejectReason, Size, Timestamp,
};

/// A market as `GET /markets/{epic}` describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Market {
    pub instrument: Instrument,
    pub status: MarketStatus,
    pub bid: Option<Price>,
    pub offer: Option<Price>,
    /// IG's `updateTime` (local `HH:mm:ss`), as sent.
    pub update_time: Option<String>,
    /// Whether IG streams prices for this market.
    pub streaming_prices_available: bool,
    /// IG's `openingHours.marketTimes` (`HH:MM` pairs in the account's zone); empty when IG
    /// gives none (markets open around the clock on weekdays, such as FX).
    pub opening_hours: Vec<(String, String)>,
    /// IG's `scalingFactor`: how many IG level units make one unit of the market price
    /// (10000 for FX CFDs quoted as 10812.3 for 1.08123; 1 when IG sends none).
    pub scaling_factor: Decimal,
}

/// A market a search found (`GET /markets?searchTerm=`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MarketHit {
    pub epic: Epic,
    pub name: String,
    /// IG's `instrumentType` (`CURRENCIES`, `INDICES`, `COMMODITIES`, ...).
    pub instrument_type: String,
    pub expiry: String,
    pub status: MarketStatus,
    pub bid: Option<Price>,
    pub offer: Option<Price>,
}

impl Market {
    /// Spread in points (`None` without both sides).
    pub fn spread_points(&self) -> Option<Decimal> {
        match (self.bid, self.offer) {
            (Some(b), Some(o)) => Some(self.instrument.to_points(o - b).value()),
            _ => None,
        }
    }

    /// The snapshot as a quote stamped `ts` (the snapshot carries no usable date).
    pub fn quote(&self, ts: Timestamp) -> Option<Quote> {
        Some(Quote {
            epic: self.instrument.epic.clone(),
            bid: self.bid?,
            offer: self.offer?,
            ts,
        })
    }
}

/// An open position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenPosition {
    pub deal_id: DealId,
    pub deal_reference: Option<DealReference>,
    pub epic: Epic,
    pub direction: Direction,
    pub size: Size,
    pub level: Price,
    pub stop_level: Option<Price>,
    pub limit_level: Option<Price>,
    pub currency: Option<String>,
    /// When the position was opened (IG's `createdDateUTC`, else `createdDate`).
    pub created: Option<Timestamp>,
    pub expiry: Option<String>,
}

/// `dealStatus` of a confirmation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DealStatus {
    Accepted,
    Rejected,
    Other(String),
}

/// What a confirmed deal did to a position or working order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PositionStatus {
    Opened,
    Amended,
    PartiallyClosed,
    Closed,
    Deleted,
    /// A status scalper does not know, as IG spelt it.
    Other(String),
}

/// A deal confirmation in domain terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirmation {
    pub deal_reference: DealReference,
    pub deal_id: Option<DealId>,
    pub status: DealStatus,
    /// Why the deal was rejected (`None` when accepted).
    pub reject_reason: Option<RejectReason>,
    /// What the deal did to its position or order.
    pub position_status: Option<PositionStatus>,
    pub epic: Option<Epic>,
    pub direction: Option<Direction>,
    pub level: Option<Price>,
    pub size: Option<Size>,
    pub stop_level: Option<Price>,
    pub limit_level: Option<Price>,
    pub profit: Option<Decimal>,
    pub profit_currency: Option<String>,
    pub affected_deals: Vec<(DealId, PositionStatus)>,
}

/// Request allowances per minute (IG's FAQ defaults, replaced by `/operations/application`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allowances {
    /// Per-account trading requests per minute.
    pub trading_per_minute: u32,
    /// Per-account non-trading requests per minute.
    pub non_trading_per_minute: u32,
    /// Per-application non-trading requests per minute.
    pub application_per_minute: u32,
    /// Historical price points per week.
    pub historical_points_per_week: u32,
}

impl Default for Allowances {
    fn default() -> Self {
        Self {
            trading_per_minute: 100,
            non_trading_per_minute: 30,
            application_per_minute: 60,
            historical_points_per_week: 10_000,
        }
    }
}

/// What a login established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    pub account_id: Option<AccountId>,
    pub client_id: Option<String>,
    pub lightstreamer_endpoint: Option<String>,
    pub currency: Option<String>,
}

/// One account of the login (`GET /accounts`), with its balance when IG gives one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub account_id: AccountId,
    pub name: Option<String>,
    /// The account IG logs in to by default.
    pub preferred: bool,
    pub currency: Option<String>,
    pub balance: Option<Balance>,
    /// IG's `accountType`: `CFD`, `SPREADBET` or `PHYSICAL`.
    pub account_type: Option<String>,
}

/// Balance figures of an account, in its currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Balance {
    pub balance: Option<Money>,
    pub deposit: Option<Money>,
    pub profit_loss: Option<Money>,
    pub available: Option<Money>,
}

/// A working (entry) order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkingOrder {
    pub deal_id: DealId,
    pub epic: Option<Epic>,
    pub direction: Option<Direction>,
    /// `Limit` or `Stop` (`Market` when IG sends a type scalper does not know).
    pub order_type: Option<OrderType>,
    pub size: Option<Size>,
    pub level: Option<Price>,
    pub stop_distance: Option<Points>,
    pub limit_distance: Option<Points>,
    pub currency: Option<String>,
    pub created: Option<Timestamp>,
    /// `None`: good till cancelled.
    pub good_till: Option<Timestamp>,
}

/// One page of price history (`GET /prices/{epic}` v3).
#[derive(Debug, Clone, PartialEq)]
pub struct PricePage {
    /// Mid-price bars with the spread at the open, oldest first.
    pub candles: Vec<Candle>,
    pub allowance: Option<HistoricalAllowance>,
    /// Pages of the query (1 when IG does not page).
    pub total_pages: u64,
}

/// The weekly historical-data allowance after a price request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoricalAllowance {
    /// Price points left.
    pub remaining: Option<i64>,
    pub total: Option<i64>,
    /// Seconds until the allowance resets.
    pub resets_in_secs: Option<i64>,
}

/// One entry of the account's activity history (`GET /history/activity` v3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activity {
    pub at: Option<Timestamp>,
    pub epic: Option<Epic>,
    pub deal_id: Option<DealId>,
    pub deal_reference: Option<DealReference>,
    pub description: Option<String>,
    /// Who acted: `SYSTEM` (IG: a stop, a limit, a margin close-out), `PUBLIC_WEB_API` /
    /// `PUBLIC_FIX_API` (an API client), `WEB`, `MOBILE`, `DEALER`.
    pub channel: Option<String>,
    pub direction: Option<Direction>,
    pub level: Option<Price>,
    pub size: Option<Size>,
    pub stop_level: Option<Price>,
    pub limit_level: Option<Price>,
}

/// The deal that closed a position, from the activity history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseLevel {
    pub level: Price,
    /// When IG executed it, if its date was readable.
    pub at: Option<Timestamp>,
    /// Who closed it, as IG records it (see [`Activity::channel`]).
    pub channel: Option<String>,
    /// IG's own description of the activity.
    pub description: Option<String>,
}

/// One transaction of the account (`GET /history/transactions` v2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transaction {
    pub at: Option<Timestamp>,
    pub instrument_name: Option<String>,
    /// IG's reference of the transaction (not a deal id or deal reference).
    pub reference: Option<String>,
    pub open_level: Option<Price>,
    pub close_level: Option<Price>,
    /// Signed: negative for a sell.
    pub size: Option<Decimal>,
    /// Realised profit or loss in `currency`.
    pub profit_and_loss: Option<Money>,
    pub currency: Option<String>,
    /// A cash movement (deposit, withdrawal, fee) rather than a deal.
    pub cash: bool,
}
