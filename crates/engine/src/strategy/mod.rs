//! The [`Strategy`] trait (quotes, candles, fills and timers in; [`Intent`]s out), the
//! built-in strategies, their TOML configuration ([`StrategyConfig`]) and the registry of
//! strategies defined outside the engine ([`register`], [`StrategyFactory`]). This module is
//! the public strategy API: `scalper-sdk` re-exports it, and the built-ins use nothing else.

mod builders;
mod candles;
mod ema_cross;
mod indicators;
mod registry;
mod scalper;
mod sma_cross;

use rust_decimal::Decimal;
use scalper_model::{Candle, Direction, Instrument, Points, Price, Quote, Size, Timestamp};
use serde::{Deserialize, Serialize};

pub use candles::CandleBuilder;
pub use ema_cross::{EmaCross, EmaCrossConfig};
pub use indicators::{Atr, Ema, Sma};
pub use registry::{
    factory, lookup, register, strategy_names, CustomStrategy, StrategyFactory, StrategyParams,
};
pub use scalper::{Scalper, ScalperConfig, StopType, TrailingBy};
pub use sma_cross::{SmaCross, SmaCrossConfig};

use crate::error::ConfigError;

/// What a strategy wants. Risk approves or refuses every entry; only the engine acts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "intent", rename_all = "snake_case")]
pub enum Intent {
    /// Open a position.
    Enter(Entry),
    /// Close positions on this instrument: those of `direction`, or all when `None`.
    Exit {
        direction: Option<Direction>,
        reason: String,
    },
    /// Close part of the positions on this instrument (those of `direction`, or all when
    /// `None`): `fraction` of each one's size, rounded down to the market's size step. A part
    /// below the minimum deal size is not sent; a remainder below it closes the whole
    /// position.
    Reduce {
        direction: Option<Direction>,
        fraction: Decimal,
        reason: String,
    },
}

/// An entry request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub direction: Direction,
    /// Fixed size; `None` lets risk size the trade from `stop_distance`.
    pub size: Option<Size>,
    /// Stop distance in points (widened to the market minimum by risk).
    pub stop_distance: Option<Points>,
    /// Target distance in points (widened to the market minimum by risk).
    pub limit_distance: Option<Points>,
    /// Trail the stop this many points behind the best price since entry (engine-managed:
    /// sent as stop amendments, so paper and IG behave the same).
    pub trailing_distance: Option<Points>,
    /// Close the position after this long, in milliseconds.
    pub max_hold_ms: Option<i64>,
    /// Human-readable reason, logged and journaled.
    pub reason: String,
    /// What kind of stop the broker keeps (a normal one unless the strategy asks).
    #[serde(default, skip_serializing_if = "StopKind::is_normal")]
    pub stop_kind: StopKind,
}

/// The kind of stop the broker keeps for a position.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StopKind {
    /// A normal stop: filled at the first price at or beyond it (gaps slip).
    #[default]
    Normal,
    /// A guaranteed stop: filled exactly at its level whatever the gap, for the market's
    /// premium when it is triggered; no nearer than the market's guaranteed minimum.
    Guaranteed,
    /// A trailing stop kept by the broker (IG's `trailingStop`): it starts `stop_distance`
    /// from the fill and follows the price in steps of `increment` points (at least the
    /// market's minimum step). The engine sends no amendments for it.
    Trailing { increment: Points },
}

impl StopKind {
    pub fn is_normal(&self) -> bool {
        matches!(self, Self::Normal)
    }
}

/// What a strategy may look at besides the market data it is given.
#[derive(Debug, Clone, Copy)]
pub struct StrategyContext<'a> {
    pub instrument: &'a Instrument,
    pub now: Timestamp,
    /// Net side of the positions open or being opened on this instrument (`None`: flat).
    pub position: Option<Direction>,
    /// Number of trades on this instrument that are open or in flight (excluding closing).
    pub open_trades: u32,
}

/// A fill the strategy may want to know about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fill {
    pub direction: Direction,
    pub size: Size,
    pub level: Price,
    pub at: Timestamp,
    /// True when this fill closed a position, false when it opened one.
    pub closing: bool,
}

/// A trading strategy. Implement `on_quote` (and `on_candle` for bar data); the rest is
/// optional. Strategies are pure: no I/O, no clock reads, deterministic for a given input.
pub trait Strategy: Send + std::fmt::Debug {
    /// Short name for logs (`scalper`, `ema-cross`, ...).
    fn name(&self) -> &'static str;
    /// A new quote for this strategy's instrument.
    fn on_quote(&mut self, quote: &Quote, ctx: &StrategyContext<'_>) -> Vec<Intent>;
    /// A completed bar (bar-data backtests). Default: nothing.
    fn on_candle(&mut self, _candle: &Candle, _ctx: &StrategyContext<'_>) -> Vec<Intent> {
        Vec::new()
    }
    /// One of this instrument's positions opened or closed. Default: nothing.
    fn on_fill(&mut self, _fill: &Fill, _ctx: &StrategyContext<'_>) {}
    /// Time passed without a quote. Default: nothing.
    fn on_timer(&mut self, _now: Timestamp, _ctx: &StrategyContext<'_>) -> Vec<Intent> {
        Vec::new()
    }
    /// False when [`Strategy::on_timer`] never does anything, so that a backtest may skip
    /// timer events nothing else needs (see [`Engine::timer_has_work`](crate::Engine::timer_has_work)).
    /// Default: true (a strategy that overrides `on_timer` needs no more).
    fn uses_timer(&self) -> bool {
        true
    }
}

/// Strategy choice and parameters, as written in TOML:
/// `strategy = { kind = "ema-cross", fast = 10, slow = 30, size = 1 }`. A `kind` that is not
/// built in names a strategy [`register`]ed in this process (`Custom`).
#[derive(Debug, Clone, PartialEq)]
pub enum StrategyConfig {
    Scalper(ScalperConfig),
    EmaCross(EmaCrossConfig),
    SmaCross(SmaCrossConfig),
    /// A registered strategy and its parameters.
    Custom(CustomStrategy),
}

/// The built-in configurations' serde form (the TOML schema of `kind = "..."`).
#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
enum Builtin {
    Scalper(ScalperConfig),
    EmaCross(EmaCrossConfig),
    SmaCross(SmaCrossConfig),
}

#[derive(Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
enum BuiltinRef<'a> {
    Scalper(&'a ScalperConfig),
    EmaCross(&'a EmaCrossConfig),
    SmaCross(&'a SmaCrossConfig),
}

impl Serialize for StrategyConfig {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Scalper(c) => BuiltinRef::Scalper(c).serialize(s),
            Self::EmaCross(c) => BuiltinRef::EmaCross(c).serialize(s),
            Self::SmaCross(c) => BuiltinRef::SmaCross(c).serialize(s),
            Self::Custom(c) => {
                let mut table = c.params().clone();
                table.insert("kind".into(), toml::Value::String(c.name().to_string()));
                table.serialize(s)
            }
        }
    }
}

impl<'de> Deserialize<'de> for StrategyConfig {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let mut table = toml::Table::deserialize(d)?;
        let kind = match table.get("kind") {
            Some(toml::Value::String(k)) => k.clone(),
            Some(_) => return Err(D::Error::custom("strategy `kind` must be a string")),
            None => return Err(D::Error::missing_field("kind")),
        };
        if BUILTIN_NAMES.contains(&kind.as_str()) {
            let builtin: Builtin = toml::Value::Table(table)
                .try_into()
                .map_err(|e: toml::de::Error| D::Error::custom(e.message()))?;
            return Ok(match builtin {
                Builtin::Scalper(c) => Self::Scalper(c),
                Builtin::EmaCross(c) => Self::EmaCross(c),
                Builtin::SmaCross(c) => Self::SmaCross(c),
            });
        }
        table.remove("kind");
        CustomStrategy::with_params(&kind, table)
            .map(Self::Custom)
            .ok_or_else(|| {
                D::Error::custom(format!(
                    "unknown variant `{kind}`, expected one of {}",
                    strategy_names().join(", ")
                ))
            })
    }
}

impl Default for StrategyConfig {
    fn default() -> Self {
        Self::Scalper(ScalperConfig::default())
    }
}

/// The built-in strategies' names.
pub const BUILTIN_NAMES: &[&str] = &["scalper", "ema-cross", "sma-cross"];

/// Names of the built-in strategies (registered ones: [`strategy_names`]).
pub const STRATEGY_NAMES: &[&str] = BUILTIN_NAMES;

impl StrategyConfig {
    /// The default configuration of a strategy by name: a built-in (`scalper`, `ema-cross`,
    /// `sma-cross`) or a [`register`]ed one.
    pub fn from_name(name: &str) -> Result<Self, ConfigError> {
        match registry::normalise(name).as_str() {
            "scalper" => Ok(Self::Scalper(ScalperConfig::default())),
            "ema-cross" => Ok(Self::EmaCross(EmaCrossConfig::default())),
            "sma-cross" => Ok(Self::SmaCross(SmaCrossConfig::default())),
            _ => CustomStrategy::named(name)
                .map(Self::Custom)
                .ok_or_else(|| ConfigError::UnknownStrategy {
                    name: name.to_string(),
                    known: strategy_names().join(", "),
                }),
        }
    }

    /// The strategy's name.
    pub fn name(&self) -> &str {
        match self {
            Self::Scalper(_) => "scalper",
            Self::EmaCross(_) => "ema-cross",
            Self::SmaCross(_) => "sma-cross",
            Self::Custom(c) => c.name(),
        }
    }

    /// Sets one parameter from text (`--set fast=5`): the value is parsed as a TOML value
    /// (`5`, `1.5`, `true`, `"x"`); a bare word that is not valid TOML is taken as a string.
    /// Unknown keys and ill-typed values are errors naming the key.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), ConfigError> {
        self.set_unvalidated(key, value)?;
        self.validate()
    }

    /// [`StrategyConfig::set`] without the range checks, for setting several parameters that
    /// are only valid together (`fast=50` then `slow=200`): call [`StrategyConfig::validate`]
    /// after the last one.
    pub fn set_unvalidated(&mut self, key: &str, value: &str) -> Result<(), ConfigError> {
        let parsed: toml::Value = toml::from_str::<toml::Table>(&format!("v = {value}"))
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or_else(|| toml::Value::String(value.to_string()));
        let mut table = toml::Table::try_from(&*self).map_err(|e| ConfigError::Invalid {
            field: key.to_string(),
            message: e.to_string(),
        })?;
        table.insert(key.trim().to_string(), parsed);
        *self = table
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Invalid {
                field: key.to_string(),
                message: e.message().to_string(),
            })?;
        Ok(())
    }

    /// Checks parameter ranges.
    pub fn validate(&self) -> Result<(), ConfigError> {
        match self {
            Self::Scalper(c) => c.validate(),
            Self::EmaCross(c) => c.validate(),
            Self::SmaCross(c) => c.validate(),
            Self::Custom(c) => c.validate(),
        }
    }

    /// Builds the strategy for one instrument (a registered strategy's factory may refuse).
    pub fn build(&self, instrument: &Instrument) -> Result<Box<dyn Strategy>, ConfigError> {
        Ok(match self {
            Self::Scalper(c) => Box::new(Scalper::new(c.clone(), instrument)),
            Self::EmaCross(c) => Box::new(EmaCross::new(c.clone())),
            Self::SmaCross(c) => Box::new(SmaCross::new(c.clone())),
            Self::Custom(c) => c.build(instrument)?,
        })
    }
}

/// A [`ConfigError::Invalid`] naming a parameter, for [`StrategyParams::validate`].
pub fn invalid(field: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        field: field.to_string(),
        message: message.into(),
    }
}

/// Powers of ten as f64 (exact up to 1e22).
const POW10: [f64; 29] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22, 1e23, 1e24, 1e25, 1e26, 1e27, 1e28,
];

/// Mid price of a quote as f64 for indicators (avoids a decimal division per quote): the
/// f64 nearest the exact mid, the same bits in every strategy and language binding.
///
/// Prices of one feed share a scale: then the mid is the exact integer sum of the mantissas
/// over `2 × 10^scale`, one division and one rounding (the f64 nearest the true mid).
#[allow(clippy::inline_always)] // measured: once per quote, a call costs a fifth of it
#[inline(always)]
pub fn mid_f64(q: &Quote) -> f64 {
    let (b, o) = (q.bid.value().unpack(), q.offer.value().unpack());
    if b.scale == o.scale && b.scale <= 22 && b.hi == 0 && o.hi == 0 && !b.negative && !o.negative {
        let mb = (u64::from(b.mid) << 32) | u64::from(b.lo);
        let mo = (u64::from(o.mid) << 32) | u64::from(o.lo);
        // Below 2^53 the sum converts exactly; 2 × 10^scale is exact for scale <= 22.
        if let Some(sum) = mb.checked_add(mo).filter(|s| *s < 1 << 53) {
            return sum as f64 / (2.0 * POW10[b.scale as usize]);
        }
    }
    mid_f64_general(q)
}

/// [`mid_f64`] for mixed scales, negative or very large prices.
#[cold]
#[inline(never)]
fn mid_f64_general(q: &Quote) -> f64 {
    (to_f64(q.bid.value()) + to_f64(q.offer.value())) * 0.5
}

/// Decimal to f64 within a few ulps: mantissa × 10^-scale (a product, not a division), for
/// estimates with a margin (the daily-loss pre-check), never for indicators or money.
pub(crate) fn approx_f64(d: Decimal) -> f64 {
    const NEG_POW10: [f64; 29] = [
        1e0, 1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9, 1e-10, 1e-11, 1e-12, 1e-13,
        1e-14, 1e-15, 1e-16, 1e-17, 1e-18, 1e-19, 1e-20, 1e-21, 1e-22, 1e-23, 1e-24, 1e-25, 1e-26,
        1e-27, 1e-28,
    ];
    let parts = d.unpack();
    let Some(unit) = NEG_POW10.get(parts.scale as usize) else {
        return to_f64(d);
    };
    let mantissa =
        (u128::from(parts.hi) << 64) | (u128::from(parts.mid) << 32) | u128::from(parts.lo);
    let magnitude = if parts.hi == 0 {
        // Below 2^64: one conversion, no 128-bit library call.
        (mantissa as u64) as f64
    } else {
        mantissa as f64
    } * unit;
    if parts.negative {
        -magnitude
    } else {
        magnitude
    }
}

/// Decimal to f64 for indicators: mantissa / 10^scale (one rounding, no 128-bit division).
pub fn to_f64(d: Decimal) -> f64 {
    let scale = d.scale() as usize;
    if let Some(p) = POW10.get(scale) {
        // A mantissa within 64 bits converts without the i128 -> f64 libcall; same
        // rounding (to nearest), and zero stays +0.0 as `mantissa() as f64` gives it.
        let u = d.unpack();
        if u.hi == 0 {
            let m = (u64::from(u.mid) << 32) | u64::from(u.lo);
            let f = m as f64;
            return if u.negative && m != 0 { -f } else { f } / p;
        }
        d.mantissa() as f64 / p
    } else {
        use rust_decimal::prelude::ToPrimitive;
        d.to_f64().unwrap_or(0.0)
    }
}

/// Converts an f64 number of points (indicator output) into decimal points, rounded to 0.1
/// (half to even) from the decimal nearest the f64 (`Decimal::try_from`).
pub fn points_from_f64(p: f64) -> Option<Points> {
    if !p.is_finite() || p <= 0.0 {
        return None;
    }
    // Fast path, same result: away from a midpoint, the rounding of `10p` in f64 is the
    // rounding of the exact value (the f64 error is below 1e-9 here, the margin 1e-6).
    // Integers keep the slow path (their decimal has scale 0, not 1).
    if p < 1e6 {
        let t = p * 10.0;
        let r = t.round();
        if (t - r).abs() < 0.5 - 1e-6 && r % 10.0 != 0.0 {
            return Some(Points::new(Decimal::new(r as i64, 1)));
        }
    }
    let d = Decimal::try_from(p).ok()?;
    Some(Points::new(d.round_dp(1)))
}

/// Appends `x` with `dp` decimals (`dp` <= 9), exactly as `format!("{x:.dp$}")` would,
/// without the formatting machinery on the common path (strategies build a reason for
/// every entry they propose, and most are refused by risk).
pub fn push_fixed(out: &mut String, value: f64, dp: usize) {
    const POW10: [f64; 10] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9];
    use std::fmt::Write;
    let Some(&scale) = POW10.get(dp) else {
        let _ = write!(out, "{value:.dp$}");
        return;
    };
    let scaled = value.abs() * scale;
    let rounded = scaled.round();
    // Near a midpoint, beyond 1e11 (f64 error of `scaled` above 1e-5), non-finite (NaN
    // fails `is_finite`), or a negative value that rounds to zero ("-0.00"): the formatter
    // decides.
    let plain = scaled.is_finite()
        && scaled < 1e11
        && (scaled - rounded).abs() < 0.5 - 1e-3
        && !(rounded == 0.0 && value.is_sign_negative());
    if !plain {
        let _ = write!(out, "{value:.dp$}");
        return;
    }
    let digits = rounded as u64;
    let unit = 10u64.pow(dp as u32);
    let mut buf = [0u8; 32];
    let mut at = buf.len();
    let mut frac = digits % unit;
    for _ in 0..dp {
        at -= 1;
        buf[at] = b'0' + (frac % 10) as u8;
        frac /= 10;
    }
    if dp > 0 {
        at -= 1;
        buf[at] = b'.';
    }
    let mut int = digits / unit;
    loop {
        at -= 1;
        buf[at] = b'0' + (int % 10) as u8;
        int /= 10;
        if int == 0 {
            break;
        }
    }
    if value.is_sign_negative() {
        out.push('-');
    }
    out.push_str(std::str::from_utf8(&buf[at..]).unwrap_or_default());
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn to_f64_is_the_mantissa_conversion() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let mut values = vec![Decimal::ZERO, -Decimal::ZERO, Decimal::MAX, Decimal::MIN];
        // Scales up to 15: 10^scale is exact both here and in `to_f64`.
        for _ in 0..100_000 {
            let m: i64 = rng.gen();
            values.push(Decimal::new(m, rng.gen_range(0..=15)));
            values.push(Decimal::from_i128_with_scale(
                i128::from(m) << rng.gen_range(0..30),
                rng.gen_range(0..=15),
            ));
        }
        for d in values {
            let want = d.mantissa() as f64 / 10f64.powi(i32::try_from(d.scale()).unwrap_or(0));
            assert_eq!(to_f64(d).to_bits(), want.to_bits(), "{d}");
        }
    }

    #[test]
    fn fast_paths_match_the_slow_ones() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let slow_points = |p: f64| {
            Decimal::try_from(p)
                .ok()
                .map(|d| Points::new(d.round_dp(1)))
        };
        let mut values: Vec<f64> = vec![
            0.05,
            0.15,
            0.25,
            0.35,
            0.45,
            0.5,
            0.75,
            1.0,
            1.05,
            2.25,
            2.35,
            9.95,
            10.0,
            12.5,
            0.125,
            0.375,
            1e-9,
            0.049_999_999,
            99.95,
            1e6,
            123_456.75,
            0.0,
            -0.0,
            -0.001,
            -0.005,
            -1.005,
            1.005,
            2.675,
            f64::NAN,
            f64::INFINITY,
            -1.5,
            1e12,
            1e11 - 0.5,
        ];
        for _ in 0..200_000 {
            let scale = [1e-3, 1.0, 10.0, 1000.0, 1e7][rng.gen_range(0..5)];
            values.push(rng.gen_range(-1.0..1.0) * scale);
            // Decimals with few digits hit the midpoints.
            values.push(f64::from(rng.gen_range(-100_000..100_000)) / 1000.0);
        }
        for &p in &values {
            let slow = if p.is_finite() && p > 0.0 {
                slow_points(p)
            } else {
                None
            };
            let fast = points_from_f64(p);
            assert_eq!(fast, slow, "{p:?}");
            assert_eq!(
                fast.map(|f| f.value().scale()),
                slow.map(|f| f.value().scale()),
                "{p:?}"
            );
            for dp in [0, 1, 2, 6] {
                let mut s = String::from("x");
                push_fixed(&mut s, p, dp);
                assert_eq!(s, format!("x{p:.dp$}"), "{p:?} dp {dp}");
            }
        }
    }

    #[test]
    fn mid_f64_is_the_nearest_f64_to_the_exact_mid() {
        use rand::{Rng, SeedableRng};
        use scalper_model::{Epic, Price, Quote, Timestamp};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
        let epic = Epic::new("CS.D.EURUSD.CFD.IP").unwrap();
        let quote = |bid: Decimal, offer: Decimal| Quote {
            epic: epic.clone(),
            bid: Price::new(bid),
            offer: Price::new(offer),
            ts: Timestamp::from_millis(0),
        };
        for _ in 0..100_000 {
            let scale = rng.gen_range(0..=12);
            let bid: i64 = rng.gen_range(0..1_000_000_000_000);
            let offer = bid + rng.gen_range(0..1_000_000);
            let (b, o) = (Decimal::new(bid, scale), Decimal::new(offer, scale));
            // The exact mid as a decimal, then its nearest f64 (rust_decimal's conversion
            // of a decimal with up to 28 digits).
            let exact: f64 = ((b + o) / Decimal::TWO).to_string().parse().unwrap();
            assert_eq!(mid_f64(&quote(b, o)).to_bits(), exact.to_bits(), "{b} {o}");
        }
        // Mixed scales and negative prices take the general path.
        let m = mid_f64(&quote(dec!(1.1), dec!(1.30)));
        assert!((m - 1.2).abs() < 1e-15);
        let m = mid_f64(&quote(dec!(-2), dec!(-1)));
        assert!((m + 1.5).abs() < 1e-15);
    }

    #[test]
    fn approx_f64_is_within_a_few_ulps() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(4);
        for _ in 0..100_000 {
            let m: i64 = rng.gen();
            let d = Decimal::new(m >> rng.gen_range(0..63), rng.gen_range(0..=28));
            let (exact, approx) = (to_f64(d), approx_f64(d));
            assert!(
                (exact - approx).abs() <= exact.abs() * 1e-15,
                "{d}: {exact} vs {approx}"
            );
        }
        for d in [Decimal::MAX, Decimal::MIN] {
            assert!((approx_f64(d) - to_f64(d)).abs() <= to_f64(d).abs() * 1e-15);
        }
    }

    #[test]
    fn to_f64_matches_the_decimal() {
        for (d, f) in [
            (dec!(1.08123), 1.08123),
            (dec!(-0.5), -0.5),
            (dec!(0), 0.0),
            (dec!(150.25), 150.25),
            (dec!(12345678901234567890), 12_345_678_901_234_567_890.0),
            (dec!(-0.000000001), -0.000_000_001),
        ] {
            assert!(
                (to_f64(d) - f).abs() <= f.abs() * 1e-15,
                "{d} -> {}",
                to_f64(d)
            );
        }
    }
}
