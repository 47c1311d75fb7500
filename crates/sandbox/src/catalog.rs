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
    /// The market's CFD epic, whose price path every epic of the market (CFD, mini, spread
    /// bet) is quoted from, as IG quotes them from one underlying.
    pub underlying: Epic,
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
/// CFD epic then a spread-bet epic; then the FX mini CFDs (`CS.D.EURUSD.MINI.IP`), last so
/// that the other epics keep their simulator seeds.
pub fn catalogue_for(account_currency: &str) -> Vec<CatalogEntry> {
    let served: Vec<&MarketSpec> = MARKETS.iter().filter(|m| served(m)).collect();
    let mut out = Vec::new();
    for m in &served {
        for kind in [ProductKind::Cfd, ProductKind::SpreadBet] {
            out.extend(entry(
                m,
                kind,
                m.epic_str(kind),
                m.contract_size,
                account_currency,
            ));
        }
    }
    for m in served.iter().filter(|m| m.class == AssetClass::Fx) {
        let mini = m.cfd_epic.replace(".CFD.IP", ".MINI.IP");
        let contract = m.contract_size / Decimal::TEN;
        out.extend(entry(
            m,
            ProductKind::Cfd,
            &mini,
            contract,
            account_currency,
        ));
    }
    out
}

/// IG's instrument name of a market's epic. IG names the standard FX CFD (`.CFD.IP`, 100,000
/// base units a contract) and the daily-funded FX bet by the pair alone ("EUR/USD"), the
/// 10,000-unit mini CFD "EUR/USD Mini", undated index markets "… Cash" with a CFD's value
/// per point in brackets ("FTSE 100 Cash (£1)"), and Spot Gold "Spot Gold" (trading_ig's
/// recorded `CS.D.CFDGOLD.CFDGC.IP`).
fn ig_name(m: &MarketSpec, kind: ProductKind, mini: bool, currency: &str, vpp: Decimal) -> String {
    match (m.class, kind) {
        (AssetClass::Fx, _) if mini => format!("{} Mini", m.name),
        (AssetClass::Index, ProductKind::Cfd) => format!(
            "{} Cash ({}{})",
            m.name,
            currency_symbol(currency),
            vpp.normalize()
        ),
        (AssetClass::Index, ProductKind::SpreadBet) => format!("{} Cash", m.name),
        _ => m.name.to_string(),
    }
}

/// One epic of market `m` as `kind`, with `contract_size` (CFDs) on an `account_currency`
/// account; `None` if the model refuses its terms.
fn entry(
    m: &MarketSpec,
    kind: ProductKind,
    epic: &str,
    contract_size: Decimal,
    account_currency: &str,
) -> Option<CatalogEntry> {
    let epic = Epic::new(epic).ok()?;
    // Spread bets are staked in pounds on the sandbox's spread-bet account.
    let currency: &'static str = match kind {
        ProductKind::Cfd => m.currency,
        ProductKind::SpreadBet => "GBP",
    };
    let rate = convert(Decimal::ONE, currency, account_currency);
    let mut terms = m.terms(kind, account_currency, rate).ok()?;
    terms.currency = currency.to_string();
    if kind == ProductKind::Cfd {
        terms.contract_size = Some(contract_size);
    }
    let economics = Instrument::from_terms(epic.clone(), m.name, &terms, PriceScale::Ig).ok()?;
    let mini = contract_size != m.contract_size;
    let name = ig_name(m, kind, mini, currency, economics.value_per_point);
    let point_ig = m.one_pip_means * m.scaling_factor;
    Some(CatalogEntry {
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
        underlying: Epic::new(m.cfd_epic).ok()?,
    })
}

/// The model's epic for a catalogue epic: a mini CFD is its market's CFD (same hours, same
/// holidays).
pub fn model_epic(epic: &Epic) -> Epic {
    epic.as_str()
        .strip_suffix(".MINI.IP")
        .and_then(|code| Epic::new(format!("{code}.CFD.IP")).ok())
        .unwrap_or_else(|| epic.clone())
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
        assert_eq!(c.len(), 25);
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
    fn names_and_contracts_as_ig_gives_them() {
        let c = catalogue();
        let get = |epic: &str| c.iter().find(|e| e.epic.as_str() == epic).unwrap();
        let cfd = get("CS.D.EURUSD.CFD.IP");
        assert_eq!(
            (cfd.name.as_str(), cfd.contract_size),
            ("EUR/USD", dec!(100000))
        );
        let mini = get("CS.D.EURUSD.MINI.IP");
        assert_eq!(
            (mini.name.as_str(), mini.contract_size),
            ("EUR/USD Mini", dec!(10000))
        );
        assert_eq!(mini.value_per_point, dec!(1));
        assert_eq!(
            (mini.kind, mini.expiry, mini.currency),
            (ProductKind::Cfd, "-", "USD")
        );
        assert_eq!(get("CS.D.EURUSD.TODAY.IP").name, "EUR/USD");
        assert_eq!(get("CS.D.USDJPY.MINI.IP").value_per_point, dec!(100));
        assert_eq!(get("IX.D.FTSE.IFE.IP").name, "FTSE 100 Cash (£1)");
        assert_eq!(get("IX.D.FTSE.DAILY.IP").name, "FTSE 100 Cash");
        assert_eq!(get("CS.D.CFDGOLD.CFDGC.IP").name, "Spot Gold");
        let e = |s: &str| Epic::new(s).unwrap();
        assert_eq!(
            model_epic(&e("CS.D.GBPUSD.MINI.IP")),
            e("CS.D.GBPUSD.CFD.IP")
        );
        assert_eq!(
            model_epic(&e("IX.D.FTSE.DAILY.IP")),
            e("IX.D.FTSE.DAILY.IP")
        );
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
