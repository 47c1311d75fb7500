//! Instruments, their dealing rules, and the closed sets IG uses around them.

use std::fmt;

use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use serde::{Deserialize, Serialize};

use crate::economics::{
    round_to_currency, EconomicsError, MarginRules, MarketTerms, PriceScale, ProductKind,
};
use crate::{Epic, Money, Points, Price, Size};

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
    /// Guaranteed stops on this market (IG's `controlledRiskAllowed`, its
    /// `minControlledRiskStopDistance` and `limitedRiskPremium`); `None`: not offered.
    #[serde(default)]
    pub guaranteed_stop: Option<GuaranteedStopRules>,
    /// IG's `trailingStopsPreference` is `AVAILABLE` (and, once the live runtime has read the
    /// account's preferences, trailing stops are enabled for the account).
    #[serde(default)]
    pub trailing_stops: bool,
    /// Smallest trailing-stop increment, in points (IG's `minStepDistance`).
    #[serde(default)]
    pub min_trailing_step: Option<Points>,
}

/// What a guaranteed stop takes on a market.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuaranteedStopRules {
    /// The nearest a guaranteed stop may be to the price, in points.
    pub min_distance: Points,
    /// The premium IG charges when the guaranteed stop is triggered (nothing otherwise).
    pub premium: StopPremium,
}

/// A guaranteed-stop premium as IG states it (`limitedRiskPremium {unit, value}`): points per
/// unit of size, or a percentage of the deal's value (size × level).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "unit", content = "value", rename_all = "snake_case")]
pub enum StopPremium {
    Points(Decimal),
    Percent(Decimal),
}

impl StopPremium {
    /// The premium in points for a deal at `level` (prices with `point_size` price units per
    /// point): a percentage premium is that share of the level counted in points.
    pub fn points_at(&self, level: Price, point_size: Decimal) -> Points {
        match *self {
            Self::Points(p) => Points::new(p),
            Self::Percent(pct) if !point_size.is_zero() => {
                Points::new(pct / Decimal::ONE_HUNDRED * level.value() / point_size)
            }
            Self::Percent(_) => Points::ZERO,
        }
    }
}

/// An instrument as scalper uses it: epic, friendly name, price scaling, economics (see
/// [`crate::economics`]) and dealing rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instrument {
    pub epic: Epic,
    pub name: String,
    /// Price units per point in the prices this instrument is fed, e.g. 0.0001 for EUR/USD
    /// quoted as 1.08123, 1 for IG's scaled 10812.3.
    pub point_size: Decimal,
    /// Money per point per unit of size, in `currency` (10 USD for an EUR/USD CFD, 1,000 JPY
    /// for USD/JPY, 1 for a spread bet whose size is money per point).
    pub value_per_point: Decimal,
    /// Currency of P&L (the instrument's quote/settlement currency).
    pub currency: String,
    /// The account's currency (empty: the same as `currency`).
    #[serde(default)]
    pub account_currency: String,
    /// Account currency per unit of `currency` (IG's `instrument.currencies[].exchangeRate`);
    /// 1 when `currency` is the account currency.
    #[serde(default = "one")]
    pub account_rate: Decimal,
    /// Expiry to send with deals: `-` for CFDs, `DFB` for daily funded spread bets.
    pub expiry: String,
    pub rules: DealingRules,
    /// CFD or spread bet.
    #[serde(default)]
    pub kind: ProductKind,
    /// IG's contract size (CFDs), for display; P&L uses `value_per_point`.
    #[serde(default)]
    pub contract_size: Option<Decimal>,
    /// Margin factor and deposit bands (none: no margin modelled).
    #[serde(default)]
    pub margin: MarginRules,
}

impl Instrument {
    /// The instrument described by IG-style market terms, for prices in `scale`.
    pub fn from_terms(
        epic: Epic,
        name: impl Into<String>,
        terms: &MarketTerms,
        scale: PriceScale,
    ) -> Result<Self, EconomicsError> {
        let bad = |field, message: &str| EconomicsError::Invalid {
            field,
            message: format!("{epic}: {message}"),
        };
        if terms.one_pip_means <= Decimal::ZERO {
            return Err(bad("onePipMeans", "must be > 0"));
        }
        if terms.scaling_factor <= Decimal::ZERO {
            return Err(bad("scalingFactor", "must be > 0"));
        }
        if terms.currency.is_empty() {
            return Err(bad("currencies", "no currency"));
        }
        let value_per_point = terms.value_per_point()?;
        let account_currency = terms.account_currency.clone();
        let account_rate = match terms.exchange_rate {
            Some(r) if r > Decimal::ZERO => r,
            Some(_) => return Err(bad("exchangeRate", "must be > 0")),
            None if account_currency.is_empty() || account_currency == terms.currency => {
                Decimal::ONE
            }
            None => {
                return Err(bad(
                    "exchangeRate",
                    &format!("no rate from {} to {account_currency}", terms.currency),
                ))
            }
        };
        Ok(Self {
            epic,
            name: name.into(),
            point_size: terms.point_size(scale).normalize(),
            value_per_point,
            currency: terms.currency.clone(),
            account_currency,
            account_rate,
            expiry: terms.expiry.clone(),
            rules: terms.rules.clone(),
            kind: terms.kind,
            contract_size: terms.contract_size,
            margin: terms.margin.clone(),
        })
    }

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
    /// The account's currency: empty when unknown (a rate from IG's market details but no
    /// account currency given), which rounds to two decimals.
    pub fn account_currency(&self) -> &str {
        if !self.account_currency.is_empty() {
            &self.account_currency
        } else if self.account_rate == Decimal::ONE {
            &self.currency
        } else {
            ""
        }
    }
    /// Money per point per unit of size, in account currency (unrounded: for sizing).
    pub fn account_value_per_point(&self) -> Decimal {
        self.value_per_point * self.account_rate
    }
    /// P&L in the instrument's currency, exact: points x value per point x size.
    pub fn pnl_in_currency(
        &self,
        direction: Direction,
        size: Size,
        entry: Price,
        exit: Price,
    ) -> Money {
        let diff = (exit - entry) * direction.sign();
        self.to_points(diff).money(size, self.value_per_point)
    }
    /// Converts an amount in the instrument's currency into the account currency at
    /// `account_rate`, rounded to the account currency's minor unit as IG books it.
    pub fn to_account(&self, amount: Money) -> Money {
        let converted = if self.account_rate == Decimal::ONE {
            amount
        } else {
            Money::new(amount.value() * self.account_rate)
        };
        round_to_currency(converted, self.account_currency())
    }
    /// P&L in account currency of a position opened at `entry` and valued at `exit`: the one
    /// P&L function (see [`crate::economics`]).
    pub fn pnl(&self, direction: Direction, size: Size, entry: Price, exit: Price) -> Money {
        self.to_account(self.pnl_in_currency(direction, size, entry, exit))
    }
    /// Notional value of one unit of size at `level`, in the instrument's currency
    /// (`level / point_size x value_per_point`: 108,000 USD for one EUR/USD CFD at 1.08).
    pub fn notional_per_unit(&self, level: Price) -> Decimal {
        if self.point_size.is_zero() {
            return Decimal::ZERO;
        }
        level.value().abs() / self.point_size * self.value_per_point
    }
    /// Margin (deposit) of `size` at `level`, in account currency, rounded to its minor unit.
    pub fn margin_for(&self, size: Size, level: Price) -> Money {
        if self.margin.is_none() {
            return Money::ZERO;
        }
        let deposit = self.margin.deposit(size, self.notional_per_unit(level));
        self.to_account(Money::new(deposit))
    }
}

fn one() -> Decimal {
    Decimal::ONE
}

/// The friendly names of the built-in markets (`EUR_USD`, `GER40`, ...), see
/// [`crate::catalogue`].
pub fn friendly_names() -> impl Iterator<Item = &'static str> {
    crate::catalogue::MARKETS.iter().map(|m| m.friendly)
}

/// Resolves a friendly name or alias (case-insensitive, `EUR_USD`, `EURUSD`, `EUR/USD`,
/// `GER40`, `DAX`) to its CFD epic, or takes an epic as is. Returns `None` when the input is
/// neither a known name nor a syntactically valid epic.
pub fn resolve_instrument(input: &str) -> Option<Epic> {
    if let Some(m) = crate::catalogue::by_name(input) {
        return Epic::new(m.cfd_epic).ok();
    }
    if input.contains('.') {
        return Epic::new(input.trim()).ok();
    }
    None
}

/// The friendly name of a built-in CFD epic, if it has one.
pub fn friendly_name(epic: &Epic) -> Option<&'static str> {
    match crate::catalogue::by_epic(epic) {
        Some((m, ProductKind::Cfd)) => Some(m.friendly),
        _ => None,
    }
}

/// Typical rules of an IG FX mini CFD, used where no market details are available yet.
pub fn default_fx_rules() -> DealingRules {
    DealingRules {
        min_deal_size: Size::new(dec!(0.5)),
        size_step: dec!(0.01),
        min_stop_distance: Points::new(dec!(2)),
        max_stop_distance: None,
        guaranteed_stop: None,
        trailing_stops: false,
        min_trailing_step: None,
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
            account_currency: String::new(),
            account_rate: Decimal::ONE,
            expiry: "-".into(),
            rules: default_fx_rules(),
            kind: ProductKind::Cfd,
            contract_size: Some(dec!(100000)),
            margin: MarginRules::default(),
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
            account_currency: "GBP".into(),
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
