//! The sandbox's instrument catalogue: FX CFD (`CS.D.EURUSD.CFD.IP`) and spread-bet
//! (`CS.D.EURUSD.TODAY.IP`) epics with IG-like dealing rules, and fixed FX rates for converting
//! P&L into the account currency.
//!
//! Prices are quoted as IG quotes FX: scaled (EUR/USD 1.08123 is quoted 10812.3, scaling factor
//! 10000, `onePipMeans` "0.0001 USD/EUR"), so one point is one quoted unit.

use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use scalper_model::{Epic, Instrument, Points, Size};

use crate::sim::{MarketSim, SimParams};

/// Whether an epic is dealt on a CFD or a spread-bet account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProductKind {
    Cfd,
    SpreadBet,
}

impl ProductKind {
    pub fn as_ig(self) -> &'static str {
        match self {
            Self::Cfd => "CFD",
            Self::SpreadBet => "SPREADBET",
        }
    }
}

/// One tradeable epic.
#[derive(Debug, Clone)]
pub struct CatalogEntry {
    pub epic: Epic,
    pub name: String,
    pub kind: ProductKind,
    /// `"-"` for CFDs, `"DFB"` for daily-funded bets.
    pub expiry: &'static str,
    pub base: &'static str,
    pub quote: &'static str,
    /// Decimal places of quoted (scaled) prices.
    pub decimals: u32,
    pub scaling_factor: Decimal,
    /// `onePipMeans` in real price units.
    pub one_pip: Decimal,
    /// Profit per point per unit of size, in `currency`.
    pub value_per_point: Decimal,
    pub contract_size: Decimal,
    pub currency: &'static str,
    pub min_deal_size: Decimal,
    pub size_step: Decimal,
    pub min_stop_distance: Decimal,
    pub max_stop_distance: Decimal,
    pub margin_factor_pct: Decimal,
    pub start_mid: Decimal,
    pub base_spread: Decimal,
}

impl CatalogEntry {
    /// The domain view (what the IG client derives from `/markets/{epic}`).
    pub fn instrument(&self) -> Instrument {
        Instrument {
            epic: self.epic.clone(),
            name: self.name.clone(),
            point_size: Decimal::ONE,
            value_per_point: self.value_per_point,
            currency: self.currency.to_string(),
            // What `/markets/{epic}` serves as `exchangeRate` for a GBP account.
            account_rate: gbp_rate(self.currency).unwrap_or(Decimal::ONE),
            expiry: self.expiry.to_string(),
            rules: scalper_model::DealingRules {
                min_deal_size: Size::new(self.min_deal_size),
                size_step: self.size_step,
                min_stop_distance: Points::new(self.min_stop_distance),
                max_stop_distance: Some(Points::new(self.max_stop_distance)),
            },
        }
    }

    /// Simulator parameters for this epic.
    pub fn sim_params(&self) -> SimParams {
        SimParams {
            epic: self.epic.clone(),
            decimals: self.decimals,
            start_mid: self.start_mid,
            base_spread: self.base_spread,
            mean_tick_ms: 300.0,
            // ~0.5% daily volatility spread over 86 400 s.
            vol_per_sqrt_sec: 0.005 / 86_400_f64.sqrt(),
        }
    }
}

struct Pair {
    code: &'static str,
    name: &'static str,
    base: &'static str,
    quote: &'static str,
    scaling: Decimal,
    one_pip: Decimal,
    mid: Decimal,
    spread: Decimal,
}

const PAIRS: &[Pair] = &[
    Pair {
        code: "EURUSD",
        name: "EUR/USD",
        base: "EUR",
        quote: "USD",
        scaling: dec!(10000),
        one_pip: dec!(0.0001),
        mid: dec!(10812.0),
        spread: dec!(0.6),
    },
    Pair {
        code: "GBPUSD",
        name: "GBP/USD",
        base: "GBP",
        quote: "USD",
        scaling: dec!(10000),
        one_pip: dec!(0.0001),
        mid: dec!(12705.0),
        spread: dec!(0.9),
    },
    Pair {
        code: "USDJPY",
        name: "USD/JPY",
        base: "USD",
        quote: "JPY",
        scaling: dec!(100),
        one_pip: dec!(0.01),
        mid: dec!(15110.0),
        spread: dec!(0.7),
    },
    Pair {
        code: "AUDUSD",
        name: "AUD/USD",
        base: "AUD",
        quote: "USD",
        scaling: dec!(10000),
        one_pip: dec!(0.0001),
        mid: dec!(6550.0),
        spread: dec!(0.6),
    },
    Pair {
        code: "EURGBP",
        name: "EUR/GBP",
        base: "EUR",
        quote: "GBP",
        scaling: dec!(10000),
        one_pip: dec!(0.0001),
        mid: dec!(8510.0),
        spread: dec!(0.9),
    },
];

/// The full catalogue: for each pair a CFD epic then a spread-bet epic.
pub fn catalogue() -> Vec<CatalogEntry> {
    let mut out = Vec::new();
    for p in PAIRS {
        // Standard CFD: 100 000 units of the base currency, so a point is worth
        // 100 000 * onePipMeans in the quote currency (10 USD for EUR/USD).
        let contract = dec!(100000);
        for (kind, suffix, expiry) in [
            (ProductKind::Cfd, "CFD", "-"),
            (ProductKind::SpreadBet, "TODAY", "DFB"),
        ] {
            let Ok(epic) = Epic::new(format!("CS.D.{}.{}.IP", p.code, suffix)) else {
                continue;
            };
            let (vpp, currency, name) = match kind {
                ProductKind::Cfd => (contract * p.one_pip, p.quote, format!("{} Mini", p.name)),
                ProductKind::SpreadBet => {
                    (Decimal::ONE, "GBP", format!("{} (£1 Contract)", p.name))
                }
            };
            out.push(CatalogEntry {
                epic,
                name,
                kind,
                expiry,
                base: p.base,
                quote: p.quote,
                decimals: 1,
                scaling_factor: p.scaling,
                one_pip: p.one_pip,
                value_per_point: vpp,
                contract_size: if kind == ProductKind::Cfd {
                    contract
                } else {
                    Decimal::ONE
                },
                currency,
                min_deal_size: dec!(0.5),
                size_step: dec!(0.1),
                min_stop_distance: dec!(2),
                max_stop_distance: dec!(5000),
                margin_factor_pct: dec!(3.33),
                start_mid: p.mid,
                base_spread: p.spread,
            });
        }
    }
    out
}

/// A standalone simulator for a catalogue epic (CFD or spread bet), e.g. for `scalper synth`.
/// `None` for an epic outside the catalogue.
pub fn simulator(epic: &Epic, seed: u64, start: scalper_model::Timestamp) -> Option<MarketSim> {
    let e = catalogue().into_iter().find(|e| &e.epic == epic)?;
    Some(MarketSim::new(e.sim_params(), seed, start))
}

/// Units of GBP per unit of `currency` (fixed, illustrative rates).
pub fn gbp_rate(currency: &str) -> Option<Decimal> {
    Some(match currency {
        "GBP" => Decimal::ONE,
        "USD" => dec!(0.79),
        "EUR" => dec!(0.85),
        "JPY" => dec!(0.0053),
        "AUD" => dec!(0.52),
        "CHF" => dec!(0.90),
        _ => return None,
    })
}

/// Converts `amount` in `from` into `to` with the fixed rates (`None` for an unknown currency).
pub fn convert(amount: Decimal, from: &str, to: &str) -> Option<Decimal> {
    if from == to {
        return Some(amount);
    }
    Some(amount * gbp_rate(from)? / gbp_rate(to)?)
}

/// The currency symbol IG shows next to amounts.
pub fn currency_symbol(code: &str) -> &'static str {
    match code {
        "GBP" => "£",
        "USD" => "$",
        "EUR" => "E",
        "JPY" => "¥",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_has_cfd_and_spread_bet_epics() {
        let c = catalogue();
        assert_eq!(c.len(), 10);
        let eur = c
            .iter()
            .find(|e| e.epic.as_str() == "CS.D.EURUSD.CFD.IP")
            .unwrap();
        assert_eq!(eur.value_per_point, dec!(10));
        assert_eq!(eur.currency, "USD");
        let sb = c
            .iter()
            .find(|e| e.epic.as_str() == "CS.D.EURUSD.TODAY.IP")
            .unwrap();
        assert_eq!(sb.expiry, "DFB");
        assert_eq!(sb.kind, ProductKind::SpreadBet);
        let jpy = c
            .iter()
            .find(|e| e.epic.as_str() == "CS.D.USDJPY.CFD.IP")
            .unwrap();
        assert_eq!(jpy.value_per_point, dec!(1000));
    }

    #[test]
    fn standalone_simulator_for_catalogue_epics() {
        let epic = Epic::new("CS.D.USDJPY.TODAY.IP").unwrap();
        let mut sim = simulator(&epic, 1, scalper_model::Timestamp::from_millis(0)).unwrap();
        let q = sim.next_quote();
        assert_eq!(q.epic, epic);
        assert!((q.mid().value() - dec!(15110)).abs() < dec!(50));
        assert!(simulator(&Epic::new("IX.D.FTSE.DAILY.IP").unwrap(), 1, q.ts).is_none());
    }

    #[test]
    fn conversion_uses_fixed_rates() {
        assert_eq!(convert(dec!(100), "USD", "GBP"), Some(dec!(79)));
        assert_eq!(convert(dec!(5), "GBP", "GBP"), Some(dec!(5)));
        assert_eq!(convert(dec!(5), "XXX", "GBP"), None);
    }
}
