//! Domain views the client returns, built from wire models in `wire::convert`. IG's spellings
//! stop here: ids are typed, numbers are decimals, statuses are enums.

use rust_decimal::Decimal;
use scalper_model::{
    AccountId, DealId, DealReference, Direction, Epic, Instrument, MarketStatus, Price, Quote,
    Size, Timestamp,
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
    /// IG's `scalingFactor`: how many IG level units make one unit of the market price
    /// (10000 for FX CFDs quoted as 10812.3 for 1.08123; 1 when IG sends none).
    pub scaling_factor: Decimal,
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
    /// IG's `createdDateUTC` as sent.
    pub created_utc: Option<String>,
    pub expiry: Option<String>,
}

/// `dealStatus` of a confirmation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DealStatus {
    Accepted,
    Rejected,
    Other(String),
}

/// A deal confirmation in domain terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirmation {
    pub deal_reference: DealReference,
    pub deal_id: Option<DealId>,
    pub status: DealStatus,
    /// `SUCCESS` or the rejection reason, as IG spells it.
    pub reason: Option<String>,
    /// Position status (`OPEN`, `CLOSED`, ...), as IG spells it.
    pub position_status: Option<String>,
    pub epic: Option<Epic>,
    pub direction: Option<Direction>,
    pub level: Option<Price>,
    pub size: Option<Size>,
    pub stop_level: Option<Price>,
    pub limit_level: Option<Price>,
    pub profit: Option<Decimal>,
    pub profit_currency: Option<String>,
    pub affected_deals: Vec<(DealId, String)>,
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
