//! Options of a backtest run ([`BacktestOptions`]) and how they become the engine's
//! configuration, the instrument definition and the sim broker's fill model.

use std::path::PathBuf;

use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use scalper_engine::{EngineConfig, SimConfig, StrategyConfig};
use scalper_model::catalogue::{self, AssetClass};
use scalper_model::economics::default_rate;
use scalper_model::market::{default_fx_rules, resolve_instrument};
use scalper_model::{
    Epic, Instrument, MarginRules, Points, PriceScale, ProductKind, Size, Timestamp,
};
use serde::{Deserialize, Serialize};

use crate::data::DataOptions;
use crate::error::BacktestError;
use crate::funding::FundingOptions;
use crate::metrics::MetricsOptions;

/// The instrument traded: a friendly name (`EUR_USD`, `GER40`) or an IG epic, with optional
/// overrides. Built-in markets (see [`scalper_model::catalogue`]) take their economics from
/// the catalogue (EUR/USD: a point of 0.0001, 10 USD per point per contract; USD/JPY: 0.01
/// and 1,000 JPY; Germany 40: 1 and 1 EUR); other epics need at least `point_size`,
/// `value_per_point` and `currency`. Prices are market prices (1.08123), not IG's scaled levels.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct InstrumentSpec {
    pub name: String,
    pub point_size: Option<Decimal>,
    pub value_per_point: Option<Decimal>,
    pub currency: Option<String>,
    pub min_deal_size: Option<Decimal>,
    pub size_step: Option<Decimal>,
    pub min_stop_distance: Option<Decimal>,
    /// Margin factor in percent (default: the catalogue's; 0: no margin modelled).
    pub margin_percent: Option<Decimal>,
    /// The prices of the data: market prices (1.08123, default) or IG's scaled levels
    /// (10812.3). A built-in market's data in the other scale is refused (see
    /// [`InstrumentSpec::check_price_scale`]).
    pub price_scale: PriceScale,
}

/// The price scale of the data when every data file among `paths` (directories expanded) is
/// a recording and they agree: a recording's header says in which prices it was made, so a
/// backtest of it needs no `--price-scale`. `None` for other data, or when unreadable (the
/// loader then says why).
pub fn recorded_price_scale(paths: &[PathBuf]) -> Option<PriceScale> {
    use crate::cache::recording::{RecordedPrices, RecordingReader};
    let paths = crate::data::expand_data_paths(paths).ok()?;
    let mut scale = None;
    for path in &paths {
        let prices = RecordingReader::open(path).ok()?.info().prices;
        let this = match prices {
            RecordedPrices::IgScaled => PriceScale::Ig,
            RecordedPrices::Market => PriceScale::Market,
        };
        if scale.is_some_and(|s| s != this) {
            return None;
        }
        scale = Some(this);
    }
    scale
}

impl InstrumentSpec {
    pub fn named(name: &str) -> Self {
        Self {
            name: name.to_string(),
            ..Self::default()
        }
    }

    /// The instrument definition, on an account in the instrument's own currency.
    pub fn resolve(&self) -> Result<Instrument, BacktestError> {
        self.resolve_for(None)
    }

    /// The instrument definition, with P&L converted into `account`'s currency.
    pub fn resolve_for(
        &self,
        account: Option<&AccountConversion>,
    ) -> Result<Instrument, BacktestError> {
        let epic = resolve_instrument(&self.name)
            .ok_or_else(|| BacktestError::UnknownInstrument(self.name.clone()))?;
        let rate = account.and_then(|a| a.rate);
        if rate.is_some_and(|r| r <= Decimal::ZERO) {
            return Err(BacktestError::option("account.rate", "must be > 0"));
        }
        let mut inst = match catalogue::by_epic(&epic) {
            Some((spec, kind)) => {
                let currency = match kind {
                    ProductKind::Cfd => self.currency.as_deref().unwrap_or(spec.currency),
                    // A spread bet is in the account's currency.
                    ProductKind::SpreadBet => account.map_or("GBP", |a| a.currency.as_str()),
                };
                let account_ccy = account.map_or(currency, |a| a.currency.as_str());
                let mut terms = spec
                    .terms(kind, account_ccy, rate)
                    .map_err(|e| BacktestError::option("account", e.to_string()))?;
                terms.currency = currency.to_string();
                if rate.is_none() && kind == ProductKind::Cfd {
                    terms.exchange_rate = default_rate(currency, account_ccy);
                }
                Instrument::from_terms(epic, spec.name, &terms, self.price_scale)
                    .map_err(|e| BacktestError::option("instrument", e.to_string()))?
            }
            None => self.custom(epic, account)?,
        };
        if let Some(p) = self.point_size {
            inst.point_size = p;
        }
        if let Some(v) = self.value_per_point {
            inst.value_per_point = v;
        }
        if inst.point_size <= Decimal::ZERO {
            return Err(BacktestError::option("point_size", "must be > 0"));
        }
        if inst.value_per_point <= Decimal::ZERO {
            return Err(BacktestError::option("value_per_point", "must be > 0"));
        }
        if let Some(m) = self.min_deal_size {
            inst.rules.min_deal_size = Size::new(m);
        }
        if let Some(s) = self.size_step {
            inst.rules.size_step = s;
        }
        if let Some(d) = self.min_stop_distance {
            inst.rules.min_stop_distance = Points::new(d);
        }
        if let Some(m) = self.margin_percent {
            if m < Decimal::ZERO {
                return Err(BacktestError::option("margin_percent", "must be >= 0"));
            }
            inst.margin = MarginRules::percent(m);
        }
        Ok(inst)
    }

    /// Refuses a recording (see [`crate::cache::recording`]) of another instrument than
    /// `inst`, or in IG's scaled levels when the run takes market prices (or the reverse).
    fn check_recordings(&self, inst: &Instrument, paths: &[PathBuf]) -> Result<(), BacktestError> {
        use crate::cache::recording::{RecordedPrices, RecordingReader};
        for path in paths.iter().filter(|p| crate::cache::is_cache_file(p)) {
            let Ok(rec) = RecordingReader::open(path) else {
                continue; // a plain cache, or not readable: the loader says why
            };
            let info = rec.info();
            if info.epic != inst.epic.as_str() {
                return Err(BacktestError::option(
                    "instrument",
                    format!(
                        "{} is a recording of {}, not of {}: give --instrument {}",
                        path.display(),
                        info.epic,
                        inst.epic,
                        info.epic
                    ),
                ));
            }
            let (wanted, flag) = match info.prices {
                RecordedPrices::IgScaled => (PriceScale::Ig, "ig"),
                RecordedPrices::Market => (PriceScale::Market, "market"),
            };
            if self.price_scale != wanted {
                return Err(BacktestError::option(
                    "price_scale",
                    format!(
                        "{} was recorded in {} prices: add --price-scale {flag}",
                        path.display(),
                        if flag == "ig" {
                            "IG's scaled"
                        } else {
                            "market"
                        },
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Refuses data whose first price is far from the built-in market's typical level in the
    /// chosen scale, but near it in the other one (an IG-scaled EUR/USD file, 10812.3, given
    /// as market prices, or the reverse): it would be silently priced 10,000 times off. Data
    /// more than [`FAR_FROM_TYPICAL`] times off the typical level in every scale is refused
    /// as another market's (USD/JPY at 151 given for Germany 40).
    pub fn check_price_scale(
        &self,
        inst: &Instrument,
        first_mid: Decimal,
    ) -> Result<(), BacktestError> {
        let Some((spec, _)) = catalogue::by_epic(&inst.epic) else {
            return Ok(());
        };
        let scaling = spec.scaling_factor;
        if first_mid <= Decimal::ZERO || spec.typical_mid <= Decimal::ZERO {
            return Ok(());
        }
        let (here, other, other_name) = match self.price_scale {
            PriceScale::Market => (spec.typical_mid, spec.typical_mid * scaling, "ig"),
            PriceScale::Ig => (spec.typical_mid * scaling, spec.typical_mid, "market"),
        };
        // Distance in orders of magnitude: closer to the other scale's level than to this one's.
        let off = |level: Decimal| {
            let r = first_mid / level;
            if r >= Decimal::ONE {
                r
            } else {
                Decimal::ONE / r
            }
        };
        let scaled = scaling > Decimal::ONE;
        let nearest = if scaled {
            off(here).min(off(other))
        } else {
            off(here)
        };
        if nearest > FAR_FROM_TYPICAL {
            return Err(BacktestError::option(
                "instrument",
                format!(
                    "the data's first price {} is far from {}'s typical level ({}{}): the file \
                     looks like another market's; give --instrument the market it holds",
                    first_mid.normalize(),
                    spec.name,
                    spec.typical_mid.normalize(),
                    if scaled {
                        format!(
                            " in market prices, {} in IG's scaled levels",
                            (spec.typical_mid * scaling).normalize()
                        )
                    } else {
                        String::new()
                    }
                ),
            ));
        }
        // Much nearer the typical level of another kind of market than this one's (in either
        // scale): Germany 40 at 18,500 given as USD/JPY, whose IG-scaled level is 15,120.
        // Markets of the same kind are not compared (EUR/USD history reaches GBP/USD's levels).
        if nearest > LOOKS_LIKE_OTHER_ABOVE {
            let better = catalogue::MARKETS
                .iter()
                .filter(|m| m.class != spec.class && m.typical_mid > Decimal::ZERO)
                .flat_map(|m| [(m, m.typical_mid), (m, m.typical_mid * m.scaling_factor)])
                .map(|(m, level)| (m, off(level)))
                .filter(|(_, o)| *o <= LOOKS_LIKE_WITHIN)
                .min_by(|a, b| a.1.cmp(&b.1));
            if let Some((m, _)) = better {
                return Err(BacktestError::option(
                    "instrument",
                    format!(
                        "the data's first price {} looks like {}'s (typical {}), not {}'s \
                         (typical {}{}): give --instrument {} if the file holds {}",
                        first_mid.normalize(),
                        m.name,
                        m.typical_mid.normalize(),
                        spec.name,
                        spec.typical_mid.normalize(),
                        if scaled {
                            format!(
                                ", {} in IG's scaled levels",
                                (spec.typical_mid * scaling).normalize()
                            )
                        } else {
                            String::new()
                        },
                        m.friendly,
                        m.name,
                    ),
                ));
            }
        }
        if scaled && off(other) < off(here) {
            return Err(BacktestError::option(
                "price_scale",
                format!(
                    "the data's first price {} looks like {} prices for {} (typical {} in market \
                     prices, {} in IG's scaled levels): use --price-scale {other_name}",
                    first_mid.normalize(),
                    other_name,
                    spec.name,
                    spec.typical_mid.normalize(),
                    (spec.typical_mid * scaling).normalize()
                ),
            ));
        }
        Ok(())
    }

    /// Refuses IG price files (JSON) that declare another kind of market than `inst`
    /// (`instrumentType` INDICES for USD/JPY, say): their prices would be read on the wrong
    /// scale and economics, giving no trades or absurd P&L. Epics outside the catalogue and
    /// files that declare nothing are not checked.
    pub fn check_data_kind(
        &self,
        inst: &Instrument,
        paths: &[PathBuf],
    ) -> Result<(), BacktestError> {
        let paths = &crate::data::expand_data_paths(paths)?[..];
        self.check_recordings(inst, paths)?;
        let Some((spec, _)) = catalogue::by_epic(&inst.epic) else {
            return Ok(());
        };
        for path in paths.iter().filter(|p| crate::data::is_json(p)) {
            let Some(declared) = crate::data::instrument_type(path)? else {
                continue;
            };
            let class = match declared.as_str() {
                "CURRENCIES" => Some(AssetClass::Fx),
                "INDICES" => Some(AssetClass::Index),
                "COMMODITIES" => Some(AssetClass::Commodity),
                _ => None,
            };
            if class == Some(spec.class) {
                continue;
            }
            let kind = |c: Option<AssetClass>| match c {
                Some(AssetClass::Fx) => "a currency pair",
                Some(AssetClass::Index) => "an index",
                Some(AssetClass::Commodity) => "a commodity",
                None => "a market of another kind",
            };
            let fitting: Vec<&str> = catalogue::MARKETS
                .iter()
                .filter(|m| Some(m.class) == class)
                .map(|m| m.friendly)
                .collect();
            let advice = if fitting.is_empty() {
                "scalper has no built-in market of that kind: give its epic with --instrument \
                 and its economics"
                    .to_string()
            } else {
                format!(
                    "give --instrument the market the file was downloaded for ({})",
                    fitting.join(", ")
                )
            };
            return Err(BacktestError::option(
                "instrument",
                format!(
                    "{} is IG's price history of {} (instrumentType {declared}), not of {} ({}), \
                     {}: {advice}",
                    path.display(),
                    kind(class),
                    spec.name,
                    inst.epic,
                    kind(Some(spec.class)),
                ),
            ));
        }
        Ok(())
    }

    /// An epic outside the catalogue: everything from the overrides.
    fn custom(
        &self,
        epic: Epic,
        account: Option<&AccountConversion>,
    ) -> Result<Instrument, BacktestError> {
        let need = |what: &str| {
            BacktestError::option(
                "instrument",
                format!("{epic} is not a built-in market: give its {what}"),
            )
        };
        let point_size = self.point_size.ok_or_else(|| need("point size"))?;
        let value_per_point = self
            .value_per_point
            .ok_or_else(|| need("value per point"))?;
        let currency = self.currency.clone().ok_or_else(|| need("currency"))?;
        let account_currency = account.map_or_else(|| currency.clone(), |a| a.currency.clone());
        let account_rate = match account.and_then(|a| a.rate) {
            Some(r) => r,
            None => default_rate(&currency, &account_currency).ok_or_else(|| {
                BacktestError::option(
                    "account",
                    format!("no built-in rate from {currency} to {account_currency}: give one"),
                )
            })?,
        };
        Ok(Instrument {
            name: epic.to_string(),
            epic,
            point_size,
            value_per_point,
            currency,
            account_currency,
            account_rate,
            expiry: "-".to_string(),
            rules: default_fx_rules(),
            kind: ProductKind::Cfd,
            contract_size: None,
            margin: MarginRules::default(),
        })
    }
}

/// How many times off a built-in market's typical level (in every price scale) a data file's
/// first price may be before it is refused as another market's: far beyond what a market
/// moves in years (Germany 40 from 3,000 to 24,000), far below the gap between markets.
pub const FAR_FROM_TYPICAL: Decimal = Decimal::from_parts(10, 0, 0, false, 0);
/// Data this far (as a ratio) from the market's typical level in both scales...
const LOOKS_LIKE_OTHER_ABOVE: Decimal = Decimal::from_parts(115, 0, 0, false, 2);
/// ... and this near another kind of market's is refused as that market's.
const LOOKS_LIKE_WITHIN: Decimal = Decimal::from_parts(110, 0, 0, false, 2);

/// The account a backtest reports in: its currency and, optionally, a fixed rate (account
/// units per unit of the instrument's currency; default: the built-in fixed rates).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountConversion {
    pub currency: String,
    pub rate: Option<Decimal>,
}

/// Everything a backtest run needs. Build with `..Default::default()`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BacktestOptions {
    /// Data files, read in order (quotes or bars, not mixed).
    pub data: Vec<PathBuf>,
    pub instrument: InstrumentSpec,
    /// Strategy name (`scalper`, `ema-cross`, `sma-cross`); default: the configuration's.
    pub strategy: Option<String>,
    /// `key=value` overrides: strategy parameters (`fast=5`), or engine settings with a
    /// section (`risk.max_trades_per_day=1000`).
    pub set: Vec<String>,
    /// Engine configuration (the `[engine]` section of the config file). `None`: the default
    /// configuration with the limits that would distort a research run switched off (trades
    /// per day, daily loss limit, loss cooldown, spread filter); risk per trade unchanged.
    pub config: Option<EngineConfig>,
    /// Only records at or after `from` and before `to`.
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
    /// `None`: market orders fill on the next quote (next bar's open); `Some(0)`: on the
    /// triggering quote; `Some(ms)`: on the first quote at least `ms` later.
    pub latency_ms: Option<i64>,
    /// Adverse slippage per market fill, in points.
    pub slippage_points: Decimal,
    /// Commission per fill, percent of notional, rounded to the cent.
    pub commission_pct: Decimal,
    pub funding: Option<FundingOptions>,
    pub account: Option<AccountConversion>,
    /// Starting equity in the report currency. Default 10000.
    pub initial_equity: Decimal,
    /// Seed of deal references (default: the configuration's).
    pub seed: Option<u64>,
    /// On quote data, a `Timer` event is sent when event time passes each multiple of this
    /// many ms, as the live runner does every second (max-hold exits, retries); gaps send
    /// one timer at their last boundary. `None`: no timers. Default 1000.
    pub timer_ms: Option<i64>,
    pub data_options: DataOptions,
    pub metrics: MetricsOptions,
    /// Keep every closed trade in [`BacktestReport::trades`](crate::BacktestReport::trades).
    /// Default `false`: a run then holds no trades, so its memory stays flat however many it
    /// makes; the metrics, the trade-list hash and `trades_csv` do not need the list.
    pub keep_trades: bool,
    /// Write the trades CSV (see [`TradesCsv`](crate::output::TradesCsv)) to this file as
    /// trades close, without keeping them. The file is removed when the run fails.
    pub trades_csv: Option<PathBuf>,
    /// Keep a bounded envelope of the mid price (like the equity curve's) in
    /// [`BacktestReport::price_curve`](crate::BacktestReport::price_curve), to plot entries
    /// and exits on price. Default `false`.
    pub keep_prices: bool,
}

impl Default for BacktestOptions {
    fn default() -> Self {
        Self {
            data: Vec::new(),
            instrument: InstrumentSpec::named("EUR_USD"),
            strategy: None,
            set: Vec::new(),
            config: None,
            from: None,
            to: None,
            latency_ms: None,
            slippage_points: Decimal::ZERO,
            commission_pct: Decimal::ZERO,
            funding: None,
            account: None,
            initial_equity: dec!(10000),
            seed: None,
            timer_ms: Some(1000),
            data_options: DataOptions::default(),
            metrics: MetricsOptions::default(),
            keep_trades: false,
            trades_csv: None,
            keep_prices: false,
        }
    }
}

/// The default engine configuration for research runs (see [`BacktestOptions::config`]).
pub fn research_config() -> EngineConfig {
    let mut cfg = EngineConfig {
        deal_ref_prefix: "BT".to_string(),
        ..EngineConfig::default()
    };
    cfg.risk.max_trades_per_day = u32::MAX;
    cfg.risk.daily_loss_limit = None;
    cfg.risk.cooldown_after_losses = 0;
    cfg.risk.max_spread_points = None;
    cfg
}

/// Splits `key=value`.
pub fn parse_set(kv: &str) -> Result<(String, String), BacktestError> {
    match kv.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.trim().to_string())),
        _ => Err(BacktestError::Parameter {
            key: kv.to_string(),
            message: "expected key=value".to_string(),
        }),
    }
}

/// The engine configuration and strategy of a run, with `--strategy` and `--set` applied.
pub fn engine_setup(
    opts: &BacktestOptions,
    instrument: &Instrument,
) -> Result<(EngineConfig, StrategyConfig), BacktestError> {
    let mut cfg = opts.config.clone().unwrap_or_else(research_config);
    if let Some(seed) = opts.seed {
        cfg.seed = seed;
    }
    let inst_override = cfg.instruments.iter().find_map(|(name, c)| {
        (resolve_instrument(name).as_ref() == Some(&instrument.epic))
            .then(|| c.strategy.clone())
            .flatten()
    });
    let mut strategy = inst_override.unwrap_or_else(|| cfg.strategy.clone());
    if let Some(name) = &opts.strategy {
        let wanted = StrategyConfig::from_name(name)?;
        if wanted.name() != strategy.name() {
            strategy = wanted;
        }
    }
    for kv in &opts.set {
        let (k, v) = parse_set(kv)?;
        if k.contains('.') {
            cfg = set_engine_key(&cfg, &k, &v)?;
        } else {
            strategy
                .set_unvalidated(&k, &v)
                .map_err(|e| BacktestError::Parameter {
                    key: k.clone(),
                    message: format!("{e} (strategy {})", strategy.name()),
                })?;
        }
    }
    // Checked together, after every value is read: `--set fast=50 --set slow=200` works in
    // either order.
    strategy.validate().map_err(|e| BacktestError::Parameter {
        key: opts.set.join(" "),
        message: format!("{e} (strategy {})", strategy.name()),
    })?;
    cfg.strategy = strategy.clone();
    cfg.validate()?;
    Ok((cfg, strategy))
}

/// Sets a dotted engine key (`risk.max_open_positions=2`) through the TOML schema, so
/// unknown keys and ill-typed values get the configuration's own errors.
fn set_engine_key(
    cfg: &EngineConfig,
    key: &str,
    value: &str,
) -> Result<EngineConfig, BacktestError> {
    let err = |m: String| BacktestError::Parameter {
        key: key.to_string(),
        message: m,
    };
    let parsed: toml::Value = toml::from_str::<toml::Table>(&format!("v = {value}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(value.to_string()));
    let mut root = toml::Table::try_from(cfg).map_err(|e| err(e.to_string()))?;
    let parts: Vec<&str> = key.split('.').collect();
    let mut table = &mut root;
    for p in &parts[..parts.len() - 1] {
        table = table
            .entry((*p).to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            .as_table_mut()
            .ok_or_else(|| err(format!("`{p}` is not a section")))?;
    }
    table.insert(parts[parts.len() - 1].to_string(), parsed);
    let text = toml::to_string(&root).map_err(|e| err(e.to_string()))?;
    EngineConfig::from_toml(&text).map_err(|e| err(e.to_string()))
}

/// The sim broker's fill model for these options.
pub fn sim_config(opts: &BacktestOptions) -> Result<SimConfig, BacktestError> {
    if opts.latency_ms.is_some_and(|l| l < 0) {
        return Err(BacktestError::option("latency", "must be >= 0 ms"));
    }
    if opts.slippage_points < Decimal::ZERO {
        return Err(BacktestError::option("slippage", "must be >= 0 points"));
    }
    if opts.commission_pct < Decimal::ZERO {
        return Err(BacktestError::option("commission", "must be >= 0 %"));
    }
    Ok(SimConfig {
        latency_ms: opts.latency_ms,
        slippage_points: opts.slippage_points,
        commission_pct: opts.commission_pct,
        deal_id_prefix: "BT".to_string(),
        ..SimConfig::default()
    })
}

/// Reads an engine configuration file: its `[engine]` table when it has one, else the whole
/// file.
pub fn load_engine_config(path: &std::path::Path) -> Result<EngineConfig, BacktestError> {
    let text = std::fs::read_to_string(path).map_err(|e| BacktestError::InvalidOption {
        name: "config".to_string(),
        message: format!("cannot read {}: {e}", path.display()),
    })?;
    let table: toml::Table = toml::from_str(&text).map_err(|e| BacktestError::InvalidOption {
        name: "config".to_string(),
        message: format!("{}: {}", path.display(), e.message()),
    })?;
    let section = match table.get("engine") {
        Some(toml::Value::Table(t)) => toml::to_string(t),
        _ => toml::to_string(&table),
    }
    .map_err(|e| BacktestError::option("config", e.to_string()))?;
    Ok(EngineConfig::from_toml(&section)?)
}

/// Parses a `--from`/`--to` time: epoch s/ms or ISO-8601 (`2024-01-02`,
/// `2024-01-02T08:00:00Z`, `2024-01-02 09:00:00+01:00`); text without an offset is UTC.
pub fn parse_time(text: &str) -> Result<Timestamp, BacktestError> {
    crate::parse::parse_ts(text.as_bytes())
        .map(Timestamp::from_millis)
        .ok_or_else(|| {
            BacktestError::option(
                "time",
                format!("cannot parse {text:?}: use 2024-01-02, 2024-01-02T08:00:00Z or epoch ms"),
            )
        })
}
