//! Instruments, their dealing rules, and the closed sets IG uses around them.

use std::fmt;

use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use serde::{Deserialize, Serialize};

use crate::{Epic, Points, Price, Size};

/// Side of a deal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Direction {
    Buy,
    Sell,
}

impl Direction {
    #[must_use]
    pub fn opposite(self) -> Self {
        match self {
            Self::Buy => Self::Sell,
            Self::Sell => Self::Buy,
        }
    }
    /// +1 for buy, -1 for sell.
    pub fn sign(self) -> Decimal {
        match self {
            Self::Buy => Decimal::ONE,
            Self::Sell => Decimal::NEGATIVE_ONE,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Buy => "BUY",
            Self::Sell => "SELL",
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Order type for opening or closing deals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum OrderType {
    Market,
    Limit,
    Stop,
}

/// IG's market status (v3 `snapshot.marketStatus`), with a catch-all for values IG adds later.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MarketStatus {
    Tradeable,
    Closed,
    EditsOnly,
    Offline,
    OnAuction,
    OnAuctionNoEdits,
    Suspended,
    ClosingsOnly,
    DealNoEdit,
    #[serde(untagged)]
    Other(String),
}

impl MarketStatus {
    pub fn is_tradeable(&self) -> bool {
        matches!(self, Self::Tradeable)
    }
    /// IG's spelling.
    pub fn as_ig(&self) -> &str {
        match self {
            Self::Tradeable => "TRADEABLE",
            Self::Closed => "CLOSED",
            Self::EditsOnly => "EDITS_ONLY",
            Self::Offline => "OFFLINE",
            Self::OnAuction => "ON_AUCTION",
            Self::OnAuctionNoEdits => "ON_AUCTION_NO_EDITS",
            Self::Suspended => "SUSPENDED",
            Self::ClosingsOnly => "CLOSINGS_ONLY",
            Self::DealNoEdit => "DEAL_NO_EDIT",
            Self::Other(s) => s,
        }
    }
    /// Parses IG's spelling; unknown values are kept, not rejected.
    pub fn from_ig(s: &str) -> Self {
        match s.trim() {
            "TRADEABLE" => Self::Tradeable,
            "CLOSED" => Self::Closed,
            "EDITS_ONLY" => Self::EditsOnly,
            "OFFLINE" => Self::Offline,
            "ON_AUCTION" => Self::OnAuction,
            "ON_AUCTION_NO_EDITS" => Self::OnAuctionNoEdits,
            "SUSPENDED" => Self::Suspended,
            "CLOSINGS_ONLY" => Self::ClosingsOnly,
            "DEAL_NO_EDIT" => Self::DealNoEdit,
            other => Self::Other(other.to_string()),
        }
    }
}

impl fmt::Display for MarketStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_ig())
    }
}

/// The dealing rules that sizing and validation need, in domain units.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DealingRules {
    /// Smallest deal size.
    pub min_deal_size: Size,
    /// Sizes must be multiples of this step (IG does not publish one for most FX CFDs; we use
    /// the minimum size's precision).
    pub size_step: Decimal,
    /// Minimum distance of a normal stop or limit from the current price, in points.
    pub min_stop_distance: Points,
    /// Maximum stop or limit distance, in points (if IG gives one).
    pub max_stop_distance: Option<Points>,
}

/// An instrument as scalper uses it: epic, friendly name, price scaling and dealing rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instrument {
    pub epic: Epic,
    pub name: String,
    /// Price units per point, e.g. 0.0001 for EUR/USD quoted as 1.08123.
    pub point_size: Decimal,
    /// Money per point per unit of size, in `currency`.
    pub value_per_point: Decimal,
    /// Currency of P&L (the instrument's quote/settlement currency).
    pub currency: String,
    /// Account currency per unit of `currency` (IG's `instrument.currencies[].exchangeRate`);
    /// 1 when `currency` is the account currency, or when no rate is known (backtests report
    /// in the instrument's currency).
    #[serde(default = "one")]
    pub account_rate: Decimal,
    /// Expiry to send with deals: `-` for CFDs, `DFB` for daily funded spread bets.
    pub expiry: String,
    pub rules: DealingRules,
}

impl Instrument {
    /// Converts a raw price difference into points.
    pub fn to_points(&self, price_diff: Decimal) -> Points {
        if self.point_size.is_zero() {
            return Points::new(price_diff);
        }
        Points::new(price_diff / self.point_size)
    }
    /// Converts points into a raw price difference.
    pub fn from_points(&self, points: Points) -> Decimal {
        points.value() * self.point_size
    }
    /// Money per point per unit of size, in account currency.
    pub fn account_value_per_point(&self) -> Decimal {
        self.value_per_point * self.account_rate
    }
    /// P&L in account currency of a position opened at `entry` and valued at `exit`.
    pub fn pnl(&self, direction: Direction, size: Size, entry: Price, exit: Price) -> crate::Money {
        let diff = (exit - entry) * direction.sign();
        self.to_points(diff)
            .money(size, self.account_value_per_point())
    }
}

fn one() -> Decimal {
    Decimal::ONE
}

/// A friendly instrument name (`EUR_USD`) and the IG CFD epic it maps to by default.
pub const FRIENDLY_EPICS: &[(&str, &str)] = &[
    ("EUR_USD", "CS.D.EURUSD.CFD.IP"),
    ("GBP_USD", "CS.D.GBPUSD.CFD.IP"),
    ("USD_JPY", "CS.D.USDJPY.CFD.IP"),
    ("AUD_USD", "CS.D.AUDUSD.CFD.IP"),
    ("EUR_GBP", "CS.D.EURGBP.CFD.IP"),
    ("USD_CHF", "CS.D.USDCHF.CFD.IP"),
    ("USD_CAD", "CS.D.USDCAD.CFD.IP"),
    ("NZD_USD", "CS.D.NZDUSD.CFD.IP"),
    ("EUR_JPY", "CS.D.EURJPY.CFD.IP"),
    ("GBP_JPY", "CS.D.GBPJPY.CFD.IP"),
];

/// Resolves a friendly name (case-insensitive, `EUR_USD`, `EURUSD` or `EUR/USD`) or an epic.
/// Returns `None` when the input is neither a known name nor a syntactically valid epic.
pub fn resolve_instrument(input: &str) -> Option<Epic> {
    let norm: String = input
        .trim()
        .to_ascii_uppercase()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    for (name, epic) in FRIENDLY_EPICS {
        let n: String = name.chars().filter(char::is_ascii_alphanumeric).collect();
        if n == norm {
            return Epic::new(*epic).ok();
        }
    }
    if input.contains('.') {
        return Epic::new(input.trim()).ok();
    }
    None
}

/// The friendly name of a default epic, if it has one.
pub fn friendly_name(epic: &Epic) -> Option<&'static str> {
    FRIENDLY_EPICS
        .iter()
        .find(|(_, e)| *e == epic.as_str())
        .map(|(n, _)| *n)
}

/// Typical rules of an IG FX mini CFD, used where no market details are available yet.
pub fn default_fx_rules() -> DealingRules {
    DealingRules {
        min_deal_size: Size::new(dec!(0.5)),
        size_step: dec!(0.01),
        min_stop_distance: Points::new(dec!(2)),
        max_stop_distance: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_friendly_names_and_epics() {
        assert_eq!(
            resolve_instrument("eur_usd").unwrap().as_str(),
            "CS.D.EURUSD.CFD.IP"
        );
        assert_eq!(
            resolve_instrument("EUR/USD").unwrap().as_str(),
            "CS.D.EURUSD.CFD.IP"
        );
        assert_eq!(
            resolve_instrument("IX.D.FTSE.DAILY.IP").unwrap().as_str(),
            "IX.D.FTSE.DAILY.IP"
        );
        assert!(resolve_instrument("NOPE").is_none());
    }

    #[test]
    fn market_status_roundtrip_and_unknown() {
        assert_eq!(MarketStatus::from_ig("EDITS_ONLY"), MarketStatus::EditsOnly);
        let other = MarketStatus::from_ig("NEW_STATE");
        assert_eq!(other.as_ig(), "NEW_STATE");
        let s: MarketStatus = serde_json::from_str("\"TRADEABLE\"").unwrap();
        assert!(s.is_tradeable());
        let s: MarketStatus = serde_json::from_str("\"WHATEVER\"").unwrap();
        assert_eq!(s, MarketStatus::Other("WHATEVER".into()));
    }

    #[test]
    fn pnl_in_points_and_money() {
        let inst = Instrument {
            epic: Epic::new("CS.D.EURUSD.CFD.IP").unwrap(),
            name: "EUR/USD".into(),
            point_size: dec!(0.0001),
            value_per_point: dec!(10),
            currency: "USD".into(),
            account_rate: Decimal::ONE,
            expiry: "-".into(),
            rules: default_fx_rules(),
        };
        let pnl = inst.pnl(
            Direction::Sell,
            Size::new(dec!(2)),
            Price::new(dec!(1.08150)),
            Price::new(dec!(1.08100)),
        );
        assert_eq!(pnl.value(), dec!(100));
        // In a GBP account at 0.79 GBP per USD.
        let gbp = Instrument {
            account_rate: dec!(0.79),
            ..inst
        };
        let pnl = gbp.pnl(
            Direction::Sell,
            Size::new(dec!(2)),
            Price::new(dec!(1.08150)),
            Price::new(dec!(1.08100)),
        );
        assert_eq!(pnl.value(), dec!(79));
    }
}
