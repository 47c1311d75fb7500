//! [`EngineConfig`]: strategy per instrument, risk limits, kill-switch behaviour and the
//! broker-failure policy. TOML-loadable with `deny_unknown_fields`; every field has a
//! documented default, so an empty file is a valid configuration.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{NaiveTime, Weekday};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use serde::{Deserialize, Serialize};

use crate::error::ConfigError;
use crate::strategy::StrategyConfig;

/// The engine's configuration (the `[engine]` part of the scalper config file).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EngineConfig {
    /// Prefix of our deal references (1-10 characters of `A-Z a-z 0-9 _ -`). Default `SCALP`.
    pub deal_ref_prefix: String,
    /// Seed of the deal references' random part. Default 0; live runners pass a per-run
    /// value, backtests keep a fixed one so trade lists are bit-identical.
    pub seed: u64,
    /// Strategy used for every instrument without its own. Default: the built-in `scalper`.
    pub strategy: StrategyConfig,
    /// Per-instrument overrides, keyed by friendly name (`EUR_USD`) or epic.
    pub instruments: BTreeMap<String, InstrumentConfig>,
    pub risk: RiskConfig,
    pub kill_switch: KillSwitchConfig,
    /// What to do when the broker fails for good. Default `halt`.
    pub on_broker_failure: BrokerFailurePolicy,
    /// How often to retry resolving an unknown outcome, in ms. Default 2000.
    pub resolve_retry_ms: i64,
    /// A trailing stop is amended only when it moves by at least this many points. Default 1.
    pub trailing_step_points: Decimal,
    /// What a live run does with open positions when it ends by its duration (or loses its
    /// price stream). Default `flatten`.
    pub at_end: AtEnd,
    /// How often a live run compares the broker's positions with its own, in ms (also after
    /// every stream reconnection). Default 60000.
    pub reconcile_interval_ms: i64,
    /// How often a live run reads each market's dealing rules and status again, in ms (IG
    /// changes minimum stop distances during the day; also after a status change on the
    /// stream). Default 300000; at least 10000.
    pub market_refresh_ms: i64,
    /// Scheduled flattens (`[[engine.schedule]]`): weekend close, rollover, any local time.
    pub schedule: Vec<crate::schedule::FlattenAt>,
    /// News blackouts (`[engine.news]`).
    pub news: crate::news::NewsConfig,
    /// Market hours, holidays and pre-close flattening (`[engine.calendar]`).
    pub calendar: crate::calendar::CalendarConfig,
}

/// What a live run does with open positions when it ends by its duration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AtEnd {
    /// Close every position before exiting.
    #[default]
    Flatten,
    /// Leave them open with their broker stops and limits; each is listed at WARN and in the
    /// summary.
    Leave,
}

impl AtEnd {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Flatten => "flatten",
            Self::Leave => "leave",
        }
    }
}

impl FromStr for AtEnd {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "flatten" => Ok(Self::Flatten),
            "leave" => Ok(Self::Leave),
            other => Err(format!(
                "unknown at-end policy {other:?} (flatten or leave)"
            )),
        }
    }
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            deal_ref_prefix: "SCALP".to_string(),
            seed: 0,
            strategy: StrategyConfig::default(),
            instruments: BTreeMap::new(),
            risk: RiskConfig::default(),
            kill_switch: KillSwitchConfig::default(),
            on_broker_failure: BrokerFailurePolicy::Halt,
            resolve_retry_ms: 2000,
            trailing_step_points: Decimal::ONE,
            at_end: AtEnd::Flatten,
            reconcile_interval_ms: 60_000,
            market_refresh_ms: 300_000,
            schedule: Vec::new(),
            news: crate::news::NewsConfig::default(),
            calendar: crate::calendar::CalendarConfig::default(),
        }
    }
}

/// Per-instrument settings.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InstrumentConfig {
    /// This instrument's strategy (default: the top-level `strategy`).
    pub strategy: Option<StrategyConfig>,
    /// Overrides `risk.max_spread_points` for this instrument.
    pub max_spread_points: Option<Decimal>,
}

/// Kill-switch behaviour.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KillSwitchConfig {
    /// On halt, close every position (`true`, default) or leave them with their stops.
    pub close_positions: bool,
}

impl Default for KillSwitchConfig {
    fn default() -> Self {
        Self {
            close_positions: true,
        }
    }
}

/// The policy when the broker becomes unusable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BrokerFailurePolicy {
    /// Stop entries, keep managing open positions, log at ERROR and report "nothing left to
    /// manage" once no position remains, so the runner exits non-zero.
    #[default]
    Halt,
    /// Switch to paper trading: logged at ERROR, shown in the status and summary, and every
    /// later trade is marked paper. Only when configured.
    Paper,
}

/// How much to risk per trade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum RiskPerTrade {
    /// Percent of current equity (`{ percent = 0.5 }`).
    Percent(Decimal),
    /// A fixed amount in account currency (`{ amount = 50 }`).
    Amount(Decimal),
}

/// Risk limits. Every refusal is reported with its reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RiskConfig {
    /// Risk per trade, used to size from the stop distance. Default `{ percent = 0.5 }`.
    pub risk_per_trade: RiskPerTrade,
    /// Upper bound on any deal size (after sizing). Default none.
    pub max_size: Option<Decimal>,
    /// Maximum positions open (or being opened) across instruments. Default 3.
    pub max_open_positions: u32,
    /// Maximum positions per instrument. Default 1.
    pub max_open_per_instrument: u32,
    /// Maximum entries per session day (restored after a restart). Default 50.
    pub max_trades_per_day: u32,
    /// Maximum spread at entry, in points. Default 5.
    pub max_spread_points: Option<Decimal>,
    /// Entries only inside these windows (any of them). Default: empty = always.
    pub trading_hours: Vec<TradingWindow>,
    /// After this many consecutive losses on an instrument, pause it. Default 3 (0: never).
    pub cooldown_after_losses: u32,
    /// Length of that pause in ms. Default 300000 (5 minutes).
    pub cooldown_ms: i64,
    /// No entries when the last quote is older than this (ms). Default 5000.
    pub stale_quote_ms: i64,
    /// No entries on an instrument for this long after the broker rejected an entry there
    /// (ms), so a refused order is not resent on every quote. Default 10000; 0 disables.
    pub reject_cooldown_ms: i64,
    /// Daily loss limit in account currency (realised plus open P&L): when reached, close
    /// everything and lock trading until the next session day. Default 500. `None`: off.
    pub daily_loss_limit: Option<Decimal>,
    /// Time zone of the session day (IANA name). Default `UTC`.
    pub session_timezone: String,
    /// Local time at which a session day starts, `HH:MM`. Default `00:00`.
    pub session_start: HhMm,
    /// Maximum leverage: the notional of every open position plus the entry's, in account
    /// currency, over equity. Default none.
    pub max_leverage: Option<Decimal>,
    /// Maximum net exposure per currency, in account currency (long EUR/USD and long EUR/GBP
    /// are both long EUR); an entry that would take a currency past it is refused unless it
    /// reduces that currency's exposure. Default none.
    pub max_currency_exposure: Option<Decimal>,
}

impl Default for RiskConfig {
    fn default() -> Self {
        Self {
            risk_per_trade: RiskPerTrade::Percent(dec!(0.5)),
            max_size: None,
            max_open_positions: 3,
            max_open_per_instrument: 1,
            max_trades_per_day: 50,
            max_spread_points: Some(dec!(5)),
            trading_hours: Vec::new(),
            cooldown_after_losses: 3,
            cooldown_ms: 300_000,
            stale_quote_ms: 5_000,
            reject_cooldown_ms: 10_000,
            daily_loss_limit: Some(dec!(500)),
            session_timezone: "UTC".to_string(),
            session_start: HhMm(NaiveTime::MIN),
            max_leverage: None,
            max_currency_exposure: None,
        }
    }
}

/// A trading window `start..end` in local time of `timezone` on `days` (all days when empty).
/// `end <= start` spans midnight (`22:00`..`02:00`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TradingWindow {
    pub start: HhMm,
    pub end: HhMm,
    #[serde(default = "utc")]
    pub timezone: String,
    #[serde(default)]
    pub days: Vec<Weekday>,
}

fn utc() -> String {
    "UTC".to_string()
}

/// A local time of day written `HH:MM` (or `HH:MM:SS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct HhMm(pub NaiveTime);

impl FromStr for HhMm {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        NaiveTime::parse_from_str(s.trim(), "%H:%M")
            .or_else(|_| NaiveTime::parse_from_str(s.trim(), "%H:%M:%S"))
            .map(HhMm)
            .map_err(|_| ConfigError::Invalid {
                field: "time of day".to_string(),
                message: format!("{s:?} is not HH:MM"),
            })
    }
}

impl TryFrom<String> for HhMm {
    type Error = ConfigError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<HhMm> for String {
    fn from(t: HhMm) -> String {
        t.to_string()
    }
}

impl fmt::Display for HhMm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%H:%M"))
    }
}

/// Parses an IANA time-zone name.
pub fn parse_tz(name: &str) -> Result<chrono_tz::Tz, ConfigError> {
    name.trim()
        .parse::<chrono_tz::Tz>()
        .map_err(|_| ConfigError::UnknownTimeZone {
            name: name.to_string(),
        })
}

impl EngineConfig {
    /// Parses TOML text (the engine section) and validates it.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let cfg: Self = toml::from_str(text).map_err(|e| ConfigError::Parse {
            message: e.to_string().trim().to_string(),
        })?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// The configuration as TOML text that [`EngineConfig::from_toml`] reads back to the same
    /// value (a run keeps it in its journal for `scalper replay`).
    pub fn to_toml(&self) -> Result<String, ConfigError> {
        toml::to_string(self).map_err(|e| ConfigError::Parse {
            message: e.to_string(),
        })
    }

    /// Checks ranges and names; called by [`EngineConfig::from_toml`] and `Engine::new`.
    pub fn validate(&self) -> Result<(), ConfigError> {
        crate::broker::DealRefGen::new(&self.deal_ref_prefix, self.seed).map_err(|e| {
            ConfigError::Invalid {
                field: "deal_ref_prefix".into(),
                message: e.to_string(),
            }
        })?;
        self.strategy.validate()?;
        for (name, inst) in &self.instruments {
            if scalper_model::market::resolve_instrument(name).is_none() {
                return Err(ConfigError::UnknownInstrument { name: name.clone() });
            }
            if let Some(s) = &inst.strategy {
                s.validate()?;
            }
            positive_opt(
                &format!("instruments.{name}.max_spread_points"),
                inst.max_spread_points,
            )?;
        }
        if self.resolve_retry_ms <= 0 {
            return Err(invalid("resolve_retry_ms", "must be > 0"));
        }
        if self.trailing_step_points < Decimal::ZERO {
            return Err(invalid("trailing_step_points", "must be >= 0"));
        }
        if self.reconcile_interval_ms < 1000 {
            return Err(invalid(
                "reconcile_interval_ms",
                "must be >= 1000 (each reconciliation reads /positions from IG)",
            ));
        }
        crate::schedule::Schedule::new(&self.schedule, &self.news, &self.calendar)?;
        if self.market_refresh_ms < 10_000 {
            return Err(invalid(
                "market_refresh_ms",
                "must be >= 10000 (each refresh reads every market's details from IG)",
            ));
        }
        self.risk.validate()
    }
}

fn invalid(field: &str, message: &str) -> ConfigError {
    ConfigError::Invalid {
        field: field.to_string(),
        message: message.to_string(),
    }
}

fn positive_opt(field: &str, v: Option<Decimal>) -> Result<(), ConfigError> {
    match v {
        Some(d) if d <= Decimal::ZERO => Err(invalid(field, "must be > 0")),
        _ => Ok(()),
    }
}

impl RiskConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        match self.risk_per_trade {
            RiskPerTrade::Percent(p) if p <= Decimal::ZERO || p > dec!(100) => {
                return Err(invalid(
                    "risk.risk_per_trade.percent",
                    "must be in (0, 100]",
                ));
            }
            RiskPerTrade::Amount(a) if a <= Decimal::ZERO => {
                return Err(invalid("risk.risk_per_trade.amount", "must be > 0"));
            }
            _ => {}
        }
        positive_opt("risk.max_size", self.max_size)?;
        positive_opt("risk.max_spread_points", self.max_spread_points)?;
        positive_opt("risk.daily_loss_limit", self.daily_loss_limit)?;
        positive_opt("risk.max_leverage", self.max_leverage)?;
        positive_opt("risk.max_currency_exposure", self.max_currency_exposure)?;
        if self.max_open_positions == 0 {
            return Err(invalid("risk.max_open_positions", "must be >= 1"));
        }
        if self.max_open_per_instrument == 0 {
            return Err(invalid("risk.max_open_per_instrument", "must be >= 1"));
        }
        if self.reject_cooldown_ms < 0 {
            return Err(invalid("risk.reject_cooldown_ms", "must be >= 0"));
        }
        if self.cooldown_ms < 0 {
            return Err(invalid("risk.cooldown_ms", "must be >= 0"));
        }
        if self.stale_quote_ms <= 0 {
            return Err(invalid("risk.stale_quote_ms", "must be > 0"));
        }
        parse_tz(&self.session_timezone)?;
        for w in &self.trading_hours {
            parse_tz(&w.timezone)?;
            if w.start == w.end {
                return Err(invalid("risk.trading_hours", "a window needs start != end"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_toml_is_the_default() {
        assert_eq!(
            EngineConfig::from_toml("").unwrap(),
            EngineConfig::default()
        );
    }

    #[test]
    fn full_toml_parses() {
        let text = r#"
            deal_ref_prefix = "BT"
            on_broker_failure = "paper"
            strategy = { kind = "ema-cross", fast = 5, slow = 20, size = 2 }
            [instruments.EUR_USD]
            strategy = { kind = "scalper", fast_period = 12 }
            max_spread_points = 1.5
            [risk]
            risk_per_trade = { amount = 25 }
            session_timezone = "Europe/London"
            session_start = "22:00"
            trading_hours = [{ start = "07:00", end = "17:30", timezone = "Europe/London", days = ["Mon", "Tue"] }]
            [kill_switch]
            close_positions = false
        "#;
        let cfg = EngineConfig::from_toml(text).unwrap();
        assert_eq!(cfg.on_broker_failure, BrokerFailurePolicy::Paper);
        assert_eq!(cfg.risk.risk_per_trade, RiskPerTrade::Amount(dec!(25)));
        assert_eq!(
            cfg.risk.trading_hours[0].days,
            vec![Weekday::Mon, Weekday::Tue]
        );
        assert!(!cfg.kill_switch.close_positions);
        assert_eq!(cfg.risk.session_start.to_string(), "22:00");
        let StrategyConfig::Scalper(s) = cfg.instruments["EUR_USD"].strategy.clone().unwrap()
        else {
            panic!("expected scalper")
        };
        assert_eq!(s.fast_period, 12);
    }

    #[test]
    fn clear_errors() {
        let table = [
            ("bogus = 1", "unknown field `bogus`"),
            ("[risk]\nmax_open_positions = 0", "risk.max_open_positions"),
            ("[risk]\nsession_timezone = \"Mars/Base\"", "Mars/Base"),
            ("[risk]\nsession_start = \"25:00\"", "not HH:MM"),
            ("strategy = { kind = \"nope\" }", "unknown variant `nope`"),
            (
                "strategy = { kind = \"sma-cross\", fats = 3 }",
                "unknown field `fats`",
            ),
            (
                "strategy = { kind = \"sma-cross\", fast = 30, slow = 10 }",
                "fast",
            ),
            ("[instruments.NOPE]", "NOPE"),
            ("deal_ref_prefix = \"has space\"", "deal_ref_prefix"),
            ("on_broker_failure = \"retry\"", "unknown variant `retry`"),
        ];
        for (text, needle) in table {
            let err = EngineConfig::from_toml(text).unwrap_err().to_string();
            assert!(err.contains(needle), "{text:?}: {err}");
        }
    }
}
