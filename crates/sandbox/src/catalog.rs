//! The sandbox's instrument catalogue, built from the model's built-in markets: FX, index and
//! gold CFD (`CS.D.EURUSD.CFD.IP`, `IX.D.DAX.IFMM.IP`) and spread-bet (`CS.D.EURUSD.TODAY.IP`,
//! `IX.D.DAX.DAILY.IP`) epics with IG-like dealing rules, and fixed FX rates for converting
//! P&L into the account currency.
//!
//! Prices are quoted as IG quotes FX: scaled (EUR/USD 1.08123 is quoted 10812.3, scaling factor
//! 10000, `onePipMeans` "0.0001 USD/EUR"), so one point is one quoted unit.

use rust_decimal::Decimal;
use scalper_model::catalogue::{AssetClass, MarketSpec, MARKETS};
use scalper_model::{Epic, Instrument, PriceScale};

pub use scalper_model::ProductKind;

use crate::sim::{MarketSim, SimParams};

/// One tradeable epic.
#[derive(Debug, Clone)]
pub struct CatalogEntry {
    pub epic: Epic,
    pub name: String,
    pub kind: ProductKind,
    pub class: AssetClass,
    /// `"-"` for CFDs, `"DFB"` for daily-funded bets.
    pub expiry: &'static str,
    /// Base and quote currency of an FX pair (`base` is empty for indices and gold).
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
    /// Weekly trading hours (the market's own zone).
    pub hours: scalper_model::hours::TradingHours,
    /// The economics of this epic on the sandbox's account (IG-scaled prices): the one P&L
    /// and margin arithmetic of [`scalper_model::economics`].
    pub economics: Instrument,
}

impl CatalogEntry {
    /// The domain view (what the IG client derives from `/markets/{epic}`).
    pub fn instrument(&self) -> Instrument {
        self.economics.clone()
    }

    /// IG's `onePipMeans` text (`0.0001 USD/EUR`, `1 Index Point`).
    pub fn one_pip_means(&self) -> String {
        match self.class {
            AssetClass::Fx => format!("{} {}/{}", self.one_pip, self.quote, self.base),
            AssetClass::Index => format!("{} Index Point", self.one_pip),
            AssetClass::Commodity => format!("{} {}", self.one_pip, self.quote),
        }
    }

    /// IG's `instrumentType`.
    pub fn instrument_type(&self) -> &'static str {
        match self.class {
            AssetClass::Fx => "CURRENCIES",
            AssetClass::Index => "INDICES",
            AssetClass::Commodity => "COMMODITIES",
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

/// The markets the sandbox serves: the first five FX pairs of the catalogue, the indices and
/// Spot Gold.
fn served(m: &MarketSpec) -> bool {
    matches!(
        m.friendly,
        "EUR_USD" | "GBP_USD" | "USD_JPY" | "AUD_USD" | "EUR_GBP"
    ) || m.class != AssetClass::Fx
}

/// The full catalogue on a GBP account.
pub fn catalogue() -> Vec<CatalogEntry> {
    catalogue_for("GBP")
}

/// The full catalogue, with economics for an account in `account_currency`: for each market a
/// CFD epic then a spread-bet epic.
pub fn catalogue_for(account_currency: &str) -> Vec<CatalogEntry> {
    let mut out = Vec::new();
    for m in MARKETS.iter().filter(|m| served(m)) {
        for kind in [ProductKind::Cfd, ProductKind::SpreadBet] {
            let Ok(epic) = Epic::new(m.epic_str(kind)) else {
                continue;
            };
            // Spread bets are staked in pounds on the sandbox's spread-bet account.
            let currency: &'static str = match kind {
                ProductKind::Cfd => m.currency,
                ProductKind::SpreadBet => "GBP",
            };
            let rate = convert(Decimal::ONE, currency, account_currency);
            let Ok(mut terms) = m.terms(kind, account_currency, rate) else {
                continue;
            };
            terms.currency = currency.to_string();
            let Ok(economics) =
                Instrument::from_terms(epic.clone(), m.name, &terms, PriceScale::Ig)
            else {
                continue;
            };
            let name = match (kind, m.class) {
                (ProductKind::Cfd, AssetClass::Fx) => format!("{} Mini", m.name),
                (ProductKind::Cfd, _) => format!("{} Cash", m.name),
                (ProductKind::SpreadBet, _) => format!("{} (£1 Contract)", m.name),
            };
            let point_ig = m.one_pip_means * m.scaling_factor;
            out.push(CatalogEntry {
                epic,
                name,
                kind,
                class: m.class,
                expiry: if kind == ProductKind::Cfd { "-" } else { "DFB" },
                base: m.base,
                quote: m.currency,
                decimals: m.ig_decimals,
                scaling_factor: m.scaling_factor,
                one_pip: m.one_pip_means,
                value_per_point: economics.value_per_point,
                contract_size: economics.contract_size.unwrap_or(Decimal::ONE),
                currency,
                min_deal_size: terms.rules.min_deal_size.value(),
                size_step: terms.rules.size_step,
                min_stop_distance: m.min_stop_points,
                max_stop_distance: m.max_stop_points,
                margin_factor_pct: m.margin_percent,
                start_mid: m.typical_mid * m.scaling_factor,
                base_spread: m.typical_spread_points * point_ig,
                hours: m.trading_hours(),
                economics,
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

/// Units of GBP per unit of `currency` (fixed, illustrative rates:
/// [`scalper_model::economics::DEFAULT_GBP_RATES`]).
pub fn gbp_rate(currency: &str) -> Option<Decimal> {
    scalper_model::economics::default_rate(currency, "GBP")
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
    use rust_decimal_macros::dec;

    #[test]
    fn catalogue_has_cfd_and_spread_bet_epics() {
        let c = catalogue();
        assert_eq!(c.len(), 20);
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
        assert!(simulator(&Epic::new("IX.D.FTSE.DAILY.IP").unwrap(), 1, q.ts).is_some());
        assert!(simulator(&Epic::new("IX.D.NOPE.DAILY.IP").unwrap(), 1, q.ts).is_none());
    }

    #[test]
    fn conversion_uses_fixed_rates() {
        assert_eq!(convert(dec!(100), "USD", "GBP"), Some(dec!(79)));
        assert_eq!(convert(dec!(5), "GBP", "GBP"), Some(dec!(5)));
        assert_eq!(convert(dec!(5), "XXX", "GBP"), None);
    }
}
