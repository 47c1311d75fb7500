//! Instrument economics: what a price move is worth, in which currency, and what margin a
//! position needs, built from IG's market details ([`MarketTerms`]).
//!
//! The one rule, used by the backtest, the sim/paper broker, risk sizing and the sandbox:
//!
//! ```text
//! P&L (instrument currency) = (exit - entry) x direction / point_size   [points]
//!                             x value_per_point                          [currency per point per unit]
//!                             x size                                     [contracts, or £ per point]
//! P&L (account currency)    = the above x account_rate, rounded to the account currency's
//!                             minor unit (half away from zero), as IG books it at the close.
//! ```
//!
//! A CFD's value per point is `valueOfOnePip`, else `contractSize x onePipMeans`
//! (EUR/USD: 100,000 x 0.0001 = 10 USD; USD/JPY: 100,000 x 0.01 = 1,000 JPY). A spread bet's
//! size is already money per point: its value per point is 1 in the bet's currency.

use std::fmt;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

use crate::{DealingRules, Money, Size};

/// Whether an instrument is dealt as a CFD (contracts) or a spread bet (money per point).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ProductKind {
    #[default]
    Cfd,
    SpreadBet,
}

impl ProductKind {
    /// IG's account type for this product (`CFD`, `SPREADBET`).
    pub fn as_ig(self) -> &'static str {
        match self {
            Self::Cfd => "CFD",
            Self::SpreadBet => "SPREADBET",
        }
    }
}

/// Which price convention a price series or an instrument definition uses: market prices
/// (EUR/USD 1.08123) or IG's scaled levels (10812.3, `scalingFactor` 10000).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PriceScale {
    #[default]
    Market,
    Ig,
}

impl PriceScale {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Market => "market",
            Self::Ig => "ig",
        }
    }
}

impl std::str::FromStr for PriceScale {
    type Err = EconomicsError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "market" => Ok(Self::Market),
            "ig" => Ok(Self::Ig),
            other => Err(EconomicsError::Invalid {
                field: "price scale",
                message: format!("{other:?}: use `market` (1.08123) or `ig` (10812.3)"),
            }),
        }
    }
}

/// One of IG's margin deposit bands: positions sized between `min` and `max` (exclusive)
/// need `percent` of their notional as deposit for that slice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarginBand {
    pub min: Size,
    /// `None`: no upper bound.
    pub max: Option<Size>,
    pub percent: Decimal,
}

/// IG's margin: a factor in percent of notional, refined by deposit bands when IG gives them.
/// A factor of zero and no bands means "no margin modelled".
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MarginRules {
    pub factor_percent: Decimal,
    #[serde(default)]
    pub bands: Vec<MarginBand>,
}

impl MarginRules {
    /// A flat factor in percent.
    pub fn percent(factor: Decimal) -> Self {
        Self {
            factor_percent: factor,
            bands: Vec::new(),
        }
    }

    /// True when no margin is required.
    pub fn is_none(&self) -> bool {
        self.factor_percent.is_zero() && self.bands.is_empty()
    }

    /// The deposit of `size` units whose notional per unit is `per_unit`: each band's slice
    /// of the size at that band's percentage (IG's tiered bands), else the flat factor.
    pub fn deposit(&self, size: Size, per_unit: Decimal) -> Decimal {
        let size = size.value().abs();
        if self.bands.is_empty() {
            return size * per_unit * self.factor_percent / Decimal::ONE_HUNDRED;
        }
        let mut total = Decimal::ZERO;
        for b in &self.bands {
            let lo = b.min.value();
            let hi = b.max.map_or(size, |m| m.value().min(size));
            if hi > lo {
                total += (hi - lo) * per_unit * b.percent / Decimal::ONE_HUNDRED;
            }
        }
        total
    }
}

/// Why market terms cannot make an instrument.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EconomicsError {
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
}

fn invalid(field: &'static str, message: impl Into<String>) -> EconomicsError {
    EconomicsError::Invalid {
        field,
        message: message.into(),
    }
}

/// An instrument's economics as IG's market details give them, in domain units (the `ig`
/// crate parses IG's strings into this; the sandbox and the built-in catalogue fill it in).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarketTerms {
    pub kind: ProductKind,
    /// IG's `scalingFactor`: IG levels per market-price unit (10000 for EUR/USD, 1 for indices).
    pub scaling_factor: Decimal,
    /// IG's `onePipMeans`, in market-price units (0.0001 for EUR/USD, 1 for Germany 40).
    pub one_pip_means: Decimal,
    /// IG's `valueOfOnePip` when it gives one (currency per point per unit of size).
    pub value_of_one_pip: Option<Decimal>,
    /// IG's `contractSize` (100,000 for an FX CFD; absent for spread bets).
    pub contract_size: Option<Decimal>,
    /// IG's `lotSize`.
    pub lot_size: Option<Decimal>,
    /// Currency of P&L (the instrument's default currency).
    pub currency: String,
    /// The account's currency and IG's `exchangeRate` (account units per unit of `currency`).
    pub account_currency: String,
    pub exchange_rate: Option<Decimal>,
    pub margin: MarginRules,
    pub rules: DealingRules,
    pub expiry: String,
}

impl MarketTerms {
    /// Price units per point in `scale`.
    pub fn point_size(&self, scale: PriceScale) -> Decimal {
        match scale {
            PriceScale::Market => self.one_pip_means,
            PriceScale::Ig => self.one_pip_means * self.scaling_factor,
        }
    }

    /// Money per point per unit of size, in `currency`.
    pub fn value_per_point(&self) -> Result<Decimal, EconomicsError> {
        if let Some(v) = self.value_of_one_pip.filter(|v| *v > Decimal::ZERO) {
            return Ok(v);
        }
        match (self.kind, self.contract_size) {
            (ProductKind::SpreadBet, _) => Ok(Decimal::ONE),
            (ProductKind::Cfd, Some(c)) if c > Decimal::ZERO => c
                .checked_mul(self.one_pip_means)
                .ok_or_else(|| invalid("contractSize", "contract size x one pip overflows")),
            (ProductKind::Cfd, _) => Err(invalid(
                "valueOfOnePip",
                "a CFD needs valueOfOnePip or contractSize",
            )),
        }
    }
}

/// IG's margin close-out level: positions are closed when equity falls below this percentage
/// of the margin they need.
pub const CLOSE_OUT_PERCENT: Decimal = Decimal::from_parts(50, 0, 0, false, 0);

/// IG's margin close-out rule: true when `equity` (balance and open P&L) is below
/// [`CLOSE_OUT_PERCENT`] of the `used` margin of the open positions (and some is used). The
/// sandbox's ledger, backtests and paper runs all close out on it.
pub fn below_close_out(equity: Money, used: Money) -> bool {
    used.value() > Decimal::ZERO
        && equity.value() * Decimal::ONE_HUNDRED < used.value() * CLOSE_OUT_PERCENT
}

/// Decimal places of a currency's minor unit (IG books JPY in whole yen).
pub fn currency_decimals(code: &str) -> u32 {
    match code {
        "JPY" | "KRW" | "HUF" | "ISK" | "CLP" => 0,
        _ => 2,
    }
}

/// Rounds `amount` to `currency`'s minor unit, half away from zero.
pub fn round_to_currency(amount: Money, currency: &str) -> Money {
    Money::new(amount.value().round_dp_with_strategy(
        currency_decimals(currency),
        RoundingStrategy::MidpointAwayFromZero,
    ))
}

/// An amount with its currency, shown with the currency's decimals and thousands separators:
/// `-1,100 JPY`, `12,345.60 GBP`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Amount<'a> {
    pub value: Money,
    pub currency: &'a str,
}

impl<'a> Amount<'a> {
    pub fn new(value: Money, currency: &'a str) -> Self {
        Self { value, currency }
    }
}

impl fmt::Display for Amount<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dp = currency_decimals(self.currency);
        let v = round_to_currency(self.value, self.currency).value();
        f.write_str(&group_thousands(v, dp))?;
        if self.currency.is_empty() {
            Ok(())
        } else {
            write!(f, " {}", self.currency)
        }
    }
}

/// `value` rounded to `dp` decimals (half away from zero) with thousands separators and no
/// currency: `-1,100`, `12,345.60` (an [`Amount`] without its code, e.g. an axis label).
pub fn group_thousands(value: Decimal, dp: u32) -> String {
    let v = value.round_dp_with_strategy(dp, RoundingStrategy::MidpointAwayFromZero);
    let text = format!("{:.*}", dp as usize, v.abs());
    let (int, frac) = text
        .split_once('.')
        .map_or((text.as_str(), ""), |(i, f)| (i, f));
    let mut out = String::with_capacity(int.len() + int.len() / 3 + frac.len() + 2);
    if v.is_sign_negative() && !v.is_zero() {
        out.push('-');
    }
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if !frac.is_empty() {
        out.push('.');
        out.push_str(frac);
    }
    out
}

/// Fixed conversion rates between currencies, each given as account-neutral GBP per unit
/// (illustrative defaults; the sandbox serves these as IG's `exchangeRate`, backtests use them
/// unless a rate is configured).
pub const DEFAULT_GBP_RATES: &[(&str, Decimal)] = &[
    ("GBP", Decimal::ONE),
    ("USD", rust_decimal_macros::dec!(0.79)),
    ("EUR", rust_decimal_macros::dec!(0.85)),
    ("JPY", rust_decimal_macros::dec!(0.0053)),
    ("AUD", rust_decimal_macros::dec!(0.52)),
    ("CHF", rust_decimal_macros::dec!(0.90)),
    ("CAD", rust_decimal_macros::dec!(0.58)),
    ("NZD", rust_decimal_macros::dec!(0.48)),
];

/// Units of `to` per unit of `from` with [`DEFAULT_GBP_RATES`] (`None` for an unknown currency).
pub fn default_rate(from: &str, to: &str) -> Option<Decimal> {
    if from == to {
        return Some(Decimal::ONE);
    }
    let gbp = |c: &str| {
        DEFAULT_GBP_RATES
            .iter()
            .find(|(code, _)| *code == c)
            .map(|(_, r)| *r)
    };
    gbp(from)?.checked_div(gbp(to)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn amounts_print_with_currency_decimals() {
        let a = |v: Decimal, c| Amount::new(Money::new(v), c).to_string();
        assert_eq!(a(dec!(-1100), "JPY"), "-1,100 JPY");
        assert_eq!(a(dec!(-1100.4), "JPY"), "-1,100 JPY");
        assert_eq!(a(dec!(12345.6), "GBP"), "12,345.60 GBP");
        assert_eq!(a(dec!(-9.8), "USD"), "-9.80 USD");
        assert_eq!(a(dec!(0.004), "USD"), "0.00 USD");
        assert_eq!(a(dec!(-0.004), "USD"), "0.00 USD");
        assert_eq!(a(dec!(211), "EUR"), "211.00 EUR");
        assert_eq!(a(dec!(1234567), "USD"), "1,234,567.00 USD");
    }

    #[test]
    fn tiered_margin_bands() {
        // The fixture's bands: 0-495 at 10%, 495-990 at 15%, 990-2722.5 at 20%, above at 30%.
        let m = MarginRules {
            factor_percent: dec!(10),
            bands: vec![
                MarginBand {
                    min: Size::new(dec!(0)),
                    max: Some(Size::new(dec!(495))),
                    percent: dec!(10),
                },
                MarginBand {
                    min: Size::new(dec!(495)),
                    max: Some(Size::new(dec!(990))),
                    percent: dec!(15),
                },
                MarginBand {
                    min: Size::new(dec!(990)),
                    max: None,
                    percent: dec!(20),
                },
            ],
        };
        // 600 units at 100 per unit: 495 x 100 x 10% + 105 x 100 x 15% = 4950 + 1575.
        assert_eq!(m.deposit(Size::new(dec!(600)), dec!(100)), dec!(6525));
        assert_eq!(m.deposit(Size::new(dec!(1)), dec!(100)), dec!(10));
        assert_eq!(
            MarginRules::percent(dec!(5)).deposit(Size::new(dec!(2)), dec!(18000)),
            dec!(1800)
        );
        assert!(MarginRules::default().is_none());
    }

    #[test]
    fn value_per_point_from_terms() {
        let terms = MarketTerms {
            kind: ProductKind::Cfd,
            scaling_factor: dec!(100),
            one_pip_means: dec!(0.01),
            value_of_one_pip: None,
            contract_size: Some(dec!(100000)),
            lot_size: Some(dec!(1)),
            currency: "JPY".into(),
            account_currency: "JPY".into(),
            exchange_rate: None,
            margin: MarginRules::percent(dec!(3.33)),
            rules: crate::market::default_fx_rules(),
            expiry: "-".into(),
        };
        assert_eq!(terms.value_per_point(), Ok(dec!(1000)));
        assert_eq!(terms.point_size(PriceScale::Market), dec!(0.01));
        assert_eq!(terms.point_size(PriceScale::Ig), dec!(1));
        let sb = MarketTerms {
            kind: ProductKind::SpreadBet,
            contract_size: None,
            ..terms.clone()
        };
        assert_eq!(sb.value_per_point(), Ok(dec!(1)));
        let bad = MarketTerms {
            contract_size: None,
            ..terms
        };
        assert!(bad.value_per_point().is_err());
    }

    #[test]
    fn default_rates_cross() {
        assert_eq!(default_rate("USD", "GBP"), Some(dec!(0.79)));
        assert_eq!(default_rate("GBP", "GBP"), Some(dec!(1)));
        assert_eq!(default_rate("XXX", "GBP"), None);
        assert_eq!(
            default_rate("EUR", "USD").map(|r| r.round_dp(4)),
            Some(dec!(1.0759))
        );
    }

    #[test]
    fn close_out_below_half_the_margin() {
        let m = Money::new;
        assert!(
            !below_close_out(m(dec!(50)), m(dec!(100))),
            "exactly 50% holds"
        );
        assert!(below_close_out(m(dec!(49.99)), m(dec!(100))));
        assert!(below_close_out(m(dec!(-5)), m(dec!(100))));
        assert!(!below_close_out(m(dec!(-5)), m(dec!(0))), "no margin used");
    }
}
