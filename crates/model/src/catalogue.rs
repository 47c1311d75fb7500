//! The built-in markets: FX pairs, indices and Spot Gold with IG-like economics (contract
//! sizes, values per point, dealing rules, margin factors) on both the CFD and the spread-bet
//! account. Friendly names (`EUR_USD`, `GER40`) resolve to their IG epics here; backtests and
//! the sandbox build their instruments from these specs.

use rust_decimal::Decimal;
use rust_decimal_macros::dec;

use crate::economics::{default_rate, MarginRules, MarketTerms, PriceScale, ProductKind};
use crate::hours::TradingHours;
use crate::{DealingRules, EconomicsError, Epic, Instrument, Points, Size};

/// The kind of market.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AssetClass {
    Fx,
    Index,
    Commodity,
}

/// One built-in market, with its CFD and spread-bet forms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarketSpec {
    /// Friendly name (`EUR_USD`, `GER40`).
    pub friendly: &'static str,
    /// Other accepted names (`DAX`, `DE40`).
    pub aliases: &'static [&'static str],
    /// Display name (`EUR/USD`, `Germany 40`).
    pub name: &'static str,
    pub class: AssetClass,
    pub cfd_epic: &'static str,
    pub spread_bet_epic: &'static str,
    /// Base currency of an FX pair (empty otherwise).
    pub base: &'static str,
    /// Currency of the CFD's P&L (the quote currency).
    pub currency: &'static str,
    /// IG's `onePipMeans`, in market-price units.
    pub one_pip_means: Decimal,
    /// IG's `scalingFactor` (IG levels per market-price unit).
    pub scaling_factor: Decimal,
    /// CFD contract size (value per point = contract size x one pip).
    pub contract_size: Decimal,
    pub cfd_min_size: Decimal,
    pub spread_bet_min_size: Decimal,
    pub size_step: Decimal,
    /// Minimum normal stop or limit distance, in points.
    pub min_stop_points: Decimal,
    pub max_stop_points: Decimal,
    /// Margin factor in percent (IG's retail tiers: 3.33% major FX, 5% major indices and gold).
    pub margin_percent: Decimal,
    /// Decimal places of IG's quoted levels.
    pub ig_decimals: u32,
    /// A typical mid price (market units) and spread (points), for simulators.
    pub typical_mid: Decimal,
    pub typical_spread_points: Decimal,
    /// IG-like opening hours (see [`MarketSpec::trading_hours`]).
    pub hours: HoursRule,
}

/// The weekly hours of a built-in market, in the zone whose clock it follows (IG's own hours
/// differ in detail and change; these are close enough for simulation and checks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoursRule {
    /// Sunday 17:00 to Friday 17:00 New York time.
    Fx,
    /// Sunday to Thursday from `open` to `close` the next day, New York time (CME-like day
    /// with a daily break).
    NewYorkOvernight { open: (u32, u32), close: (u32, u32) },
    /// Monday to Friday, same day, in London.
    LondonWeekdays { open: (u32, u32), close: (u32, u32) },
    /// Monday to Friday, same day, in Frankfurt.
    FrankfurtWeekdays { open: (u32, u32), close: (u32, u32) },
}

const FX_HOURS: HoursRule = HoursRule::Fx;
const CME_DAY: HoursRule = HoursRule::NewYorkOvernight {
    open: (18, 0),
    close: (17, 0),
};

macro_rules! fx {
    ($friendly:literal, $name:literal, $code:literal, $base:literal, $quote:literal, $pip:expr, $scale:expr, $mid:expr, $spread:expr) => {
        MarketSpec {
            friendly: $friendly,
            aliases: &[],
            name: $name,
            class: AssetClass::Fx,
            cfd_epic: concat!("CS.D.", $code, ".CFD.IP"),
            spread_bet_epic: concat!("CS.D.", $code, ".TODAY.IP"),
            base: $base,
            currency: $quote,
            one_pip_means: $pip,
            scaling_factor: $scale,
            contract_size: dec!(100000),
            cfd_min_size: dec!(0.5),
            spread_bet_min_size: dec!(0.5),
            size_step: dec!(0.1),
            min_stop_points: dec!(2),
            max_stop_points: dec!(5000),
            margin_percent: dec!(3.33),
            ig_decimals: 1,
            typical_mid: $mid,
            typical_spread_points: $spread,
            hours: FX_HOURS,
        }
    };
}

/// Every built-in market. FX first (in the order of the original ten names), then indices and
/// gold.
pub const MARKETS: &[MarketSpec] = &[
    fx!(
        "EUR_USD",
        "EUR/USD",
        "EURUSD",
        "EUR",
        "USD",
        dec!(0.0001),
        dec!(10000),
        dec!(1.0812),
        dec!(0.6)
    ),
    fx!(
        "GBP_USD",
        "GBP/USD",
        "GBPUSD",
        "GBP",
        "USD",
        dec!(0.0001),
        dec!(10000),
        dec!(1.2705),
        dec!(0.9)
    ),
    fx!(
        "USD_JPY",
        "USD/JPY",
        "USDJPY",
        "USD",
        "JPY",
        dec!(0.01),
        dec!(100),
        dec!(151.10),
        dec!(0.7)
    ),
    fx!(
        "AUD_USD",
        "AUD/USD",
        "AUDUSD",
        "AUD",
        "USD",
        dec!(0.0001),
        dec!(10000),
        dec!(0.6550),
        dec!(0.6)
    ),
    fx!(
        "EUR_GBP",
        "EUR/GBP",
        "EURGBP",
        "EUR",
        "GBP",
        dec!(0.0001),
        dec!(10000),
        dec!(0.8510),
        dec!(0.9)
    ),
    fx!(
        "USD_CHF",
        "USD/CHF",
        "USDCHF",
        "USD",
        "CHF",
        dec!(0.0001),
        dec!(10000),
        dec!(0.9050),
        dec!(1.5)
    ),
    fx!(
        "USD_CAD",
        "USD/CAD",
        "USDCAD",
        "USD",
        "CAD",
        dec!(0.0001),
        dec!(10000),
        dec!(1.3650),
        dec!(1.7)
    ),
    fx!(
        "NZD_USD",
        "NZD/USD",
        "NZDUSD",
        "NZD",
        "USD",
        dec!(0.0001),
        dec!(10000),
        dec!(0.6050),
        dec!(1.5)
    ),
    fx!(
        "EUR_JPY",
        "EUR/JPY",
        "EURJPY",
        "EUR",
        "JPY",
        dec!(0.01),
        dec!(100),
        dec!(163.40),
        dec!(1.5)
    ),
    fx!(
        "GBP_JPY",
        "GBP/JPY",
        "GBPJPY",
        "GBP",
        "JPY",
        dec!(0.01),
        dec!(100),
        dec!(191.90),
        dec!(2.5)
    ),
    MarketSpec {
        friendly: "GER40",
        aliases: &["GERMANY40", "DE40", "DAX"],
        name: "Germany 40",
        class: AssetClass::Index,
        cfd_epic: "IX.D.DAX.IFMM.IP",
        spread_bet_epic: "IX.D.DAX.DAILY.IP",
        base: "",
        currency: "EUR",
        one_pip_means: Decimal::ONE,
        scaling_factor: Decimal::ONE,
        contract_size: Decimal::ONE,
        cfd_min_size: Decimal::ONE,
        spread_bet_min_size: dec!(0.5),
        size_step: dec!(0.1),
        min_stop_points: dec!(4),
        max_stop_points: dec!(2000),
        margin_percent: dec!(5),
        ig_decimals: 1,
        typical_mid: dec!(18500),
        typical_spread_points: dec!(1.2),
        hours: HoursRule::FrankfurtWeekdays {
            open: (1, 15),
            close: (22, 0),
        },
    },
    MarketSpec {
        friendly: "US500",
        aliases: &["SPX", "SP500"],
        name: "US 500",
        class: AssetClass::Index,
        cfd_epic: "IX.D.SPTRD.IFE.IP",
        spread_bet_epic: "IX.D.SPTRD.DAILY.IP",
        base: "",
        currency: "USD",
        one_pip_means: Decimal::ONE,
        scaling_factor: Decimal::ONE,
        contract_size: Decimal::ONE,
        cfd_min_size: Decimal::ONE,
        spread_bet_min_size: dec!(0.5),
        size_step: dec!(0.1),
        min_stop_points: dec!(1),
        max_stop_points: dec!(1000),
        margin_percent: dec!(5),
        ig_decimals: 1,
        typical_mid: dec!(5200),
        typical_spread_points: dec!(0.4),
        hours: CME_DAY,
    },
    MarketSpec {
        friendly: "WALL_ST",
        aliases: &["WALLSTREET", "US30", "DOW"],
        name: "Wall Street",
        class: AssetClass::Index,
        cfd_epic: "IX.D.DOW.IFE.IP",
        spread_bet_epic: "IX.D.DOW.DAILY.IP",
        base: "",
        currency: "USD",
        one_pip_means: Decimal::ONE,
        scaling_factor: Decimal::ONE,
        contract_size: Decimal::ONE,
        cfd_min_size: Decimal::ONE,
        spread_bet_min_size: dec!(0.5),
        size_step: dec!(0.1),
        min_stop_points: dec!(4),
        max_stop_points: dec!(4000),
        margin_percent: dec!(5),
        ig_decimals: 1,
        typical_mid: dec!(39000),
        typical_spread_points: dec!(2.4),
        hours: CME_DAY,
    },
    MarketSpec {
        friendly: "FTSE100",
        aliases: &["UK100", "FTSE"],
        name: "FTSE 100",
        class: AssetClass::Index,
        cfd_epic: "IX.D.FTSE.IFE.IP",
        spread_bet_epic: "IX.D.FTSE.DAILY.IP",
        base: "",
        currency: "GBP",
        one_pip_means: Decimal::ONE,
        scaling_factor: Decimal::ONE,
        contract_size: Decimal::ONE,
        cfd_min_size: Decimal::ONE,
        spread_bet_min_size: dec!(0.5),
        size_step: dec!(0.1),
        min_stop_points: dec!(2),
        max_stop_points: dec!(1000),
        margin_percent: dec!(5),
        ig_decimals: 1,
        typical_mid: dec!(8100),
        typical_spread_points: dec!(1.0),
        hours: HoursRule::LondonWeekdays {
            open: (1, 0),
            close: (21, 0),
        },
    },
    MarketSpec {
        friendly: "GOLD",
        aliases: &["SPOT_GOLD", "XAU_USD", "XAUUSD"],
        name: "Spot Gold",
        class: AssetClass::Commodity,
        cfd_epic: "CS.D.CFDGOLD.CFDGC.IP",
        spread_bet_epic: "CS.D.USCGC.TODAY.IP",
        base: "",
        currency: "USD",
        one_pip_means: Decimal::ONE,
        scaling_factor: Decimal::ONE,
        contract_size: dec!(100),
        cfd_min_size: dec!(0.1),
        spread_bet_min_size: dec!(0.5),
        size_step: dec!(0.01),
        min_stop_points: dec!(1),
        max_stop_points: dec!(500),
        margin_percent: dec!(5),
        ig_decimals: 1,
        typical_mid: dec!(2350),
        typical_spread_points: dec!(0.3),
        hours: CME_DAY,
    },
];

impl MarketSpec {
    /// This market's weekly trading hours.
    pub fn trading_hours(&self) -> TradingHours {
        let t = |(h, m): (u32, u32)| {
            chrono::NaiveTime::from_hms_opt(h, m, 0).unwrap_or(chrono::NaiveTime::MIN)
        };
        match self.hours {
            HoursRule::Fx => TradingHours::fx(),
            HoursRule::NewYorkOvernight { open, close } => {
                TradingHours::overnight(chrono_tz::America::New_York, t(open), t(close))
            }
            HoursRule::LondonWeekdays { open, close } => {
                TradingHours::weekdays(chrono_tz::Europe::London, t(open), t(close))
            }
            HoursRule::FrankfurtWeekdays { open, close } => {
                TradingHours::weekdays(chrono_tz::Europe::Berlin, t(open), t(close))
            }
        }
    }

    /// The epic of `kind`.
    /// Guaranteed stops as the sandbox offers them on this market: no nearer than five times
    /// the normal minimum, for a premium of half the normal minimum in points when triggered.
    /// These are the sandbox's figures: IG publishes its own per market and changes them.
    pub fn guaranteed_stop(&self) -> crate::GuaranteedStopRules {
        crate::GuaranteedStopRules {
            min_distance: Points::new(self.min_stop_points * Decimal::from(5)),
            premium: crate::StopPremium::Points(self.min_stop_points / Decimal::TWO),
        }
    }

    pub fn epic_str(&self, kind: ProductKind) -> &'static str {
        match kind {
            ProductKind::Cfd => self.cfd_epic,
            ProductKind::SpreadBet => self.spread_bet_epic,
        }
    }

    /// IG's market details for this market as `kind` on an account in `account_currency`
    /// (`rate`: account units per unit of the instrument's currency; `None`: the built-in
    /// fixed rate).
    pub fn terms(
        &self,
        kind: ProductKind,
        account_currency: &str,
        rate: Option<Decimal>,
    ) -> Result<MarketTerms, EconomicsError> {
        // A spread bet is in the account's currency (£ per point on a GBP account).
        let currency = match kind {
            ProductKind::Cfd => self.currency,
            ProductKind::SpreadBet => account_currency,
        };
        let exchange_rate = match rate {
            Some(r) => Some(r),
            None => Some(default_rate(currency, account_currency).ok_or_else(|| {
                EconomicsError::Invalid {
                    field: "exchangeRate",
                    message: format!("no built-in rate from {currency} to {account_currency}"),
                }
            })?),
        };
        let min = match kind {
            ProductKind::Cfd => self.cfd_min_size,
            ProductKind::SpreadBet => self.spread_bet_min_size,
        };
        Ok(MarketTerms {
            kind,
            scaling_factor: self.scaling_factor,
            one_pip_means: self.one_pip_means,
            value_of_one_pip: None,
            contract_size: (kind == ProductKind::Cfd).then_some(self.contract_size),
            lot_size: Some(Decimal::ONE),
            currency: currency.to_string(),
            account_currency: account_currency.to_string(),
            exchange_rate,
            margin: MarginRules::percent(self.margin_percent),
            rules: DealingRules {
                min_deal_size: Size::new(min),
                size_step: self.size_step,
                min_stop_distance: Points::new(self.min_stop_points),
                max_stop_distance: Some(Points::new(self.max_stop_points)),
                guaranteed_stop: Some(self.guaranteed_stop()),
                trailing_stops: true,
                min_trailing_step: Some(Points::new(Decimal::ONE)),
            },
            expiry: match kind {
                ProductKind::Cfd => "-".to_string(),
                ProductKind::SpreadBet => "DFB".to_string(),
            },
        })
    }

    /// The instrument for prices in `scale` (see [`MarketSpec::terms`]).
    pub fn instrument(
        &self,
        kind: ProductKind,
        scale: PriceScale,
        account_currency: &str,
        rate: Option<Decimal>,
    ) -> Result<Instrument, EconomicsError> {
        let epic = Epic::new(self.epic_str(kind)).map_err(|e| EconomicsError::Invalid {
            field: "epic",
            message: e.to_string(),
        })?;
        let terms = self.terms(kind, account_currency, rate)?;
        Instrument::from_terms(epic, self.name, &terms, scale)
    }
}

/// The FX mini CFDs (`CS.D.EURUSD.MINI.IP`): each FX market's CFD on a tenth of the contract
/// (10,000 units of the base currency, so a tenth of the value per point), named as IG names
/// it ("EUR/USD Mini") and known by the market's friendly name. Their spread bet is the
/// market's.
pub fn minis() -> &'static [MarketSpec] {
    static MINIS: std::sync::LazyLock<Vec<MarketSpec>> = std::sync::LazyLock::new(|| {
        // Built once for the process: the leaked strings are the table's own.
        let name = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
        MARKETS
            .iter()
            .filter(|m| m.class == AssetClass::Fx)
            .filter_map(|m| {
                let code = m.cfd_epic.strip_suffix(".CFD.IP")?;
                Some(MarketSpec {
                    cfd_epic: name(format!("{code}.MINI.IP")),
                    name: name(format!("{} Mini", m.name)),
                    contract_size: m.contract_size / Decimal::TEN,
                    ..m.clone()
                })
            })
            .collect()
    });
    &MINIS
}

fn squash(s: &str) -> String {
    s.trim()
        .to_ascii_uppercase()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect()
}

/// The epic of the same built-in market for an account dealing `kind`, when `epic` is the
/// other kind's (`CS.D.EURUSD.CFD.IP` on a spread-bet account is `CS.D.EURUSD.TODAY.IP`).
pub fn epic_for_account(epic: &Epic, kind: ProductKind) -> Option<Epic> {
    let (spec, k) = by_epic(epic)?;
    if k == kind {
        return None;
    }
    Epic::new(spec.epic_str(kind)).ok()
}

/// Whether two epics are the same market: equal, or the CFD, mini and spread-bet epics of
/// one built-in market.
pub fn same_market(a: &Epic, b: &Epic) -> bool {
    a == b
        || matches!((by_epic(a), by_epic(b)), (Some((x, _)), Some((y, _))) if x.friendly == y.friendly)
}

/// The built-in market of a friendly name or alias (case and separators ignored:
/// `eur_usd`, `EUR/USD`, `ger40`, `dax`).
pub fn by_name(input: &str) -> Option<&'static MarketSpec> {
    let norm = squash(input);
    MARKETS
        .iter()
        .find(|m| squash(m.friendly) == norm || m.aliases.iter().any(|a| squash(a) == norm))
}

/// The built-in market of an epic, and whether the epic is its CFD or its spread bet. An FX
/// mini CFD's market is its entry of [`minis`] (the CFD's terms on a tenth of the contract).
pub fn by_epic(epic: &Epic) -> Option<(&'static MarketSpec, ProductKind)> {
    MARKETS.iter().chain(minis()).find_map(|m| {
        if m.cfd_epic == epic.as_str() {
            Some((m, ProductKind::Cfd))
        } else if m.spread_bet_epic == epic.as_str() {
            Some((m, ProductKind::SpreadBet))
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Direction, Money, Price};

    #[test]
    fn names_aliases_and_epics() {
        assert_eq!(by_name("ger40").unwrap().cfd_epic, "IX.D.DAX.IFMM.IP");
        assert_eq!(by_name("DAX").unwrap().friendly, "GER40");
        assert_eq!(by_name("eur/usd").unwrap().friendly, "EUR_USD");
        assert_eq!(by_name("wall st").unwrap().friendly, "WALL_ST");
        assert!(by_name("nope").is_none());
        let sb = Epic::new("CS.D.GBPUSD.TODAY.IP").unwrap();
        let (m, kind) = by_epic(&sb).unwrap();
        assert_eq!((m.friendly, kind), ("GBP_USD", ProductKind::SpreadBet));
        for m in MARKETS {
            for kind in [ProductKind::Cfd, ProductKind::SpreadBet] {
                for scale in [PriceScale::Market, PriceScale::Ig] {
                    let i = m.instrument(kind, scale, "GBP", None).unwrap();
                    assert!(i.value_per_point > Decimal::ZERO, "{}", m.friendly);
                    assert!(i.point_size > Decimal::ZERO, "{}", m.friendly);
                }
            }
        }
    }

    #[test]
    fn fx_minis_are_known_by_their_market() {
        let mini = Epic::new("CS.D.EURUSD.MINI.IP").unwrap();
        let (m, kind) = by_epic(&mini).unwrap();
        assert_eq!(
            (m.friendly, m.name, kind),
            ("EUR_USD", "EUR/USD Mini", ProductKind::Cfd)
        );
        let i = m
            .instrument(ProductKind::Cfd, PriceScale::Market, "USD", None)
            .unwrap();
        assert_eq!(i.epic, mini);
        assert_eq!(i.contract_size, Some(dec!(10000)));
        assert_eq!(i.value_per_point, dec!(1));
        let cfd = Epic::new("CS.D.EURUSD.CFD.IP").unwrap();
        let dfb = Epic::new("CS.D.EURUSD.TODAY.IP").unwrap();
        assert!(same_market(&mini, &cfd) && same_market(&mini, &dfb));
        assert!(!same_market(
            &mini,
            &Epic::new("CS.D.GBPUSD.MINI.IP").unwrap()
        ));
        assert_eq!(
            epic_for_account(&mini, ProductKind::SpreadBet),
            Some(dfb.clone())
        );
        assert_eq!(epic_for_account(&mini, ProductKind::Cfd), None);
        // The standard CFD and the spread bet keep their own terms.
        assert_eq!(by_epic(&cfd).unwrap().0.contract_size, dec!(100000));
        assert_eq!(by_epic(&dfb).unwrap().1, ProductKind::SpreadBet);
        assert_eq!(crate::market::friendly_name(&mini), Some("EUR_USD"));
        let fx = MARKETS.iter().filter(|m| m.class == AssetClass::Fx).count();
        assert_eq!(minis().len(), fx);
        assert!(minis()
            .iter()
            .all(|m| by_epic(&Epic::new(m.cfd_epic).unwrap()).is_some()));
        // Friendly names stay one per market.
        assert_eq!(by_name("EUR_USD").unwrap().cfd_epic, "CS.D.EURUSD.CFD.IP");
    }

    #[test]
    fn values_per_point() {
        let cfd = |n: &str| {
            by_name(n)
                .unwrap()
                .instrument(
                    ProductKind::Cfd,
                    PriceScale::Market,
                    by_name(n).unwrap().currency,
                    None,
                )
                .unwrap()
        };
        assert_eq!(cfd("EUR_USD").value_per_point, dec!(10));
        assert_eq!(cfd("USD_JPY").value_per_point, dec!(1000));
        assert_eq!(cfd("GER40").value_per_point, dec!(1));
        assert_eq!(cfd("GOLD").value_per_point, dec!(100));
        // The USD/JPY trade: BUY 1 at 151.107, out at 151.096: -1.1 points x 1,000.
        let jpy = cfd("USD_JPY");
        let pnl = jpy.pnl(
            Direction::Buy,
            Size::new(dec!(1)),
            Price::new(dec!(151.107)),
            Price::new(dec!(151.096)),
        );
        assert_eq!(pnl, Money::new(dec!(-1100)));
    }
}
