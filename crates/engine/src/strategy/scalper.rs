//! The built-in `scalper`: EMA momentum on mid prices with an ATR volatility filter.
//!
//! Per quote: fast and slow EMAs of the mid (in quotes); momentum = (fast - slow) in points.
//! Per `bar_ms` candle of mids: ATR over `atr_period` bars, in points. Enter long when
//! momentum rises through `+entry_threshold_atr × ATR` (short: falls through the negative),
//! only when flat, the spread is at most `max_spread_points` and ATR lies within
//! `[min_atr_points, max_atr_points]`. Stop `stop_atr × ATR`, target `target_atr × ATR`,
//! optional trailing stop `trailing_atr × ATR` (each of the three may be fixed in points
//! instead: `stop_points`, `target_points`, `trailing_points`), forced exit after
//! `max_hold_ms`, and (with `exit_on_reverse`) exit when the fast EMA crosses back through the
//! slow one.

use rust_decimal::Decimal;
use scalper_model::{Direction, Instrument, Points, Quote, Size};
use serde::{Deserialize, Serialize};

use super::{
    invalid, points_from_f64, push_fixed, to_f64, Atr, Ema, Entry, Intent, StopKind, Strategy,
    StrategyContext,
};
use crate::error::ConfigError;

/// Parameters of the built-in `scalper` strategy. Defaults trade on simulated FX quotes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScalperConfig {
    /// Fast EMA of the mid price, in quotes. Default 8.
    pub fast_period: u32,
    /// Slow EMA of the mid price, in quotes. Default 21.
    pub slow_period: u32,
    /// Candle length for the volatility (ATR) measure, in ms. Default 1000.
    pub bar_ms: i64,
    /// ATR length, in candles. Default 14.
    pub atr_period: u32,
    /// Momentum (fast - slow, in points) must cross this multiple of ATR to enter. Default 0.1.
    pub entry_threshold_atr: f64,
    /// No entries while ATR is below this many points (dead market). Default 0.1.
    pub min_atr_points: f64,
    /// No entries while ATR is above this many points (disorderly market). Default 100.
    pub max_atr_points: f64,
    /// No entries while the spread is wider than this, in points. Default 3.
    pub max_spread_points: f64,
    /// Stop distance as a multiple of ATR (risk widens it to the market minimum). Default 2.
    pub stop_atr: f64,
    /// Target (limit) distance as a multiple of ATR; 0 disables the target. Default 3.
    pub target_atr: f64,
    /// Trailing-stop distance as a multiple of ATR; absent (default) = no trailing stop.
    pub trailing_atr: Option<f64>,
    /// Close a position after this long, in ms; 0 disables. Default 60000.
    pub max_hold_ms: i64,
    /// Close when the fast EMA crosses back through the slow one. Default true.
    pub exit_on_reverse: bool,
    /// Fixed deal size; absent (default) = size from risk per trade and the stop distance.
    pub size: Option<Decimal>,
    /// A fixed stop distance in points, instead of `stop_atr × ATR`.
    pub stop_points: Option<Decimal>,
    /// A fixed target distance in points, instead of `target_atr × ATR`.
    pub target_points: Option<Decimal>,
    /// A fixed trailing-stop distance in points, instead of `trailing_atr × ATR`.
    pub trailing_points: Option<Decimal>,
    /// `normal` (default) or `guaranteed`: a guaranteed stop is filled at its level whatever
    /// the gap, for the market's premium when triggered, and no nearer than its minimum.
    pub stop_type: StopType,
    /// Who trails the stop: `engine` (default; stop amendments, the same on every broker) or
    /// `broker` (IG's own trailing stop at the trailing distance: no amendments to send, and
    /// it keeps trailing while scalper is down).
    pub trailing: TrailingBy,
    /// With `trailing = "broker"`: the stop moves in steps of this many points (default and
    /// floor: the market's minimum step).
    pub trailing_step_points: Option<Decimal>,
    /// Take part of the profit: once the price is this many points in the position's favour,
    /// close `partial_close_fraction` of it (once per position). Absent (default): never.
    pub partial_close_points: Option<Decimal>,
    /// The share closed at `partial_close_points`, above 0 and below 1. Default 0.5.
    pub partial_close_fraction: Decimal,
}

/// The kind of stop a strategy puts on its positions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopType {
    #[default]
    Normal,
    Guaranteed,
}

/// Who moves a trailing stop.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrailingBy {
    #[default]
    Engine,
    Broker,
}

impl Default for ScalperConfig {
    fn default() -> Self {
        Self {
            fast_period: 8,
            slow_period: 21,
            bar_ms: 1000,
            atr_period: 14,
            entry_threshold_atr: 0.1,
            min_atr_points: 0.1,
            max_atr_points: 100.0,
            max_spread_points: 3.0,
            stop_atr: 2.0,
            target_atr: 3.0,
            trailing_atr: None,
            max_hold_ms: 60_000,
            exit_on_reverse: false,
            size: None,
            stop_points: None,
            target_points: None,
            trailing_points: None,
            stop_type: StopType::Normal,
            trailing: TrailingBy::Engine,
            trailing_step_points: None,
            partial_close_points: None,
            partial_close_fraction: rust_decimal_macros::dec!(0.5),
        }
    }
}

impl ScalperConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.fast_period == 0 || self.fast_period >= self.slow_period {
            return Err(invalid("fast_period", "must be >= 1 and below slow_period"));
        }
        if self.bar_ms <= 0 {
            return Err(invalid("bar_ms", "must be > 0"));
        }
        if self.atr_period == 0 {
            return Err(invalid("atr_period", "must be >= 1"));
        }
        let finite_nonneg = |v: f64| v.is_finite() && v >= 0.0;
        for (name, v) in [
            ("entry_threshold_atr", self.entry_threshold_atr),
            ("min_atr_points", self.min_atr_points),
            ("max_atr_points", self.max_atr_points),
            ("max_spread_points", self.max_spread_points),
            ("target_atr", self.target_atr),
        ] {
            if !finite_nonneg(v) {
                return Err(invalid(name, "must be a finite number >= 0"));
            }
        }
        if !(self.stop_atr.is_finite() && self.stop_atr > 0.0) {
            return Err(invalid("stop_atr", "must be > 0"));
        }
        if let Some(t) = self.trailing_atr {
            if !(t.is_finite() && t > 0.0) {
                return Err(invalid("trailing_atr", "must be > 0 when set"));
            }
        }
        if self.min_atr_points > self.max_atr_points {
            return Err(invalid("min_atr_points", "must not exceed max_atr_points"));
        }
        if self.max_hold_ms < 0 {
            return Err(invalid("max_hold_ms", "must be >= 0"));
        }
        if matches!(self.size, Some(s) if s <= Decimal::ZERO) {
            return Err(invalid("size", "must be > 0 when set"));
        }
        for (name, v) in [
            ("stop_points", self.stop_points),
            ("target_points", self.target_points),
            ("trailing_points", self.trailing_points),
        ] {
            if matches!(v, Some(p) if p <= Decimal::ZERO) {
                return Err(invalid(name, "must be > 0 points when set"));
            }
        }
        for (name, v) in [
            ("trailing_step_points", self.trailing_step_points),
            ("partial_close_points", self.partial_close_points),
        ] {
            if matches!(v, Some(p) if p <= Decimal::ZERO) {
                return Err(invalid(name, "must be > 0 points when set"));
            }
        }
        if self.partial_close_fraction <= Decimal::ZERO
            || self.partial_close_fraction >= Decimal::ONE
        {
            return Err(invalid(
                "partial_close_fraction",
                "must be above 0 and below 1 (the share of the position closed)",
            ));
        }
        if self.trailing == TrailingBy::Broker {
            if self.trailing_points.is_none() && self.trailing_atr.is_none() {
                return Err(invalid(
                    "trailing",
                    "\"broker\" needs a trailing distance: set trailing_points or trailing_atr",
                ));
            }
            if self.stop_type == StopType::Guaranteed {
                return Err(invalid(
                    "stop_type",
                    "a guaranteed stop cannot trail at IG: use trailing = \"engine\" or stop_type = \"normal\"",
                ));
            }
        } else if self.trailing_step_points.is_some() {
            return Err(invalid(
                "trailing_step_points",
                "applies to trailing = \"broker\" only (the engine's step is [engine] trailing_step_points)",
            ));
        }
        Ok(())
    }
}

/// Bars of f64 mids (high, low, close) aligned to multiples of the period: the same bars as
/// `CandleBuilder`, without decimal work on every quote.
#[derive(Debug, Clone)]
struct MidBars {
    period_ms: i64,
    start: Option<i64>,
    high: f64,
    low: f64,
    close: f64,
}

impl MidBars {
    fn new(period_ms: i64) -> Self {
        Self {
            period_ms: period_ms.max(1),
            start: None,
            high: 0.0,
            low: 0.0,
            close: 0.0,
        }
    }

    /// Adds a mid at `ms`; returns the finished bar when this one starts a new bar.
    fn update(&mut self, ms: i64, mid: f64) -> Option<(f64, f64, f64)> {
        let start = ms - ms.rem_euclid(self.period_ms);
        match self.start {
            Some(s) if start <= s => {
                self.high = self.high.max(mid);
                self.low = self.low.min(mid);
                self.close = mid;
                None
            }
            prev => {
                let done = prev.map(|_| (self.high, self.low, self.close));
                self.start = Some(start);
                (self.high, self.low, self.close) = (mid, mid, mid);
                done
            }
        }
    }
}

/// The `scalper` strategy for one instrument.
#[derive(Debug, Clone)]
pub struct Scalper {
    cfg: ScalperConfig,
    point: f64,
    fast: Ema,
    slow: Ema,
    bars: MidBars,
    atr: Atr,
    /// Side of the momentum signal on the previous quote (edge-triggered entries).
    prev_signal: Option<Direction>,
    exit_sent: bool,
    /// The open position's fill level (f64) and whether its partial close went out.
    entry: Option<(Direction, f64)>,
    partial_sent: bool,
}

impl Scalper {
    pub fn new(cfg: ScalperConfig, instrument: &Instrument) -> Self {
        let point = to_f64(instrument.point_size);
        Self {
            fast: Ema::new(cfg.fast_period),
            slow: Ema::new(cfg.slow_period),
            bars: MidBars::new(cfg.bar_ms),
            atr: Atr::new(cfg.atr_period),
            point: if point > 0.0 { point } else { 1.0 },
            prev_signal: None,
            exit_sent: false,
            entry: None,
            partial_sent: false,
            cfg,
        }
    }

    /// Current ATR in points, once warmed up.
    pub fn atr_points(&self) -> Option<f64> {
        self.atr.value().map(|a| a / self.point)
    }
}

impl Strategy for Scalper {
    fn name(&self) -> &'static str {
        "scalper"
    }

    fn uses_timer(&self) -> bool {
        false
    }

    fn on_fill(&mut self, fill: &super::Fill, ctx: &StrategyContext<'_>) {
        if !fill.closing {
            self.entry = Some((fill.direction, to_f64(fill.level.value())));
            self.partial_sent = false;
        } else if ctx.open_trades == 0 {
            self.entry = None;
        }
    }

    fn on_quote(&mut self, quote: &Quote, ctx: &StrategyContext<'_>) -> Vec<Intent> {
        let mid = super::mid_f64(quote);
        if let Some((high, low, close)) = self.bars.update(quote.ts.millis(), mid) {
            self.atr.update(high, low, close);
        }
        let fast = self.fast.update(mid);
        let slow = self.slow.update(mid);
        let Some(atr) = self.atr_points() else {
            return Vec::new();
        };
        if self.slow.count() < u64::from(self.cfg.slow_period) {
            return Vec::new();
        }
        let momentum = (fast - slow) / self.point;
        let threshold = self.cfg.entry_threshold_atr * atr;
        let signal = if momentum > 0.0 && momentum >= threshold {
            Some(Direction::Buy)
        } else if momentum < 0.0 && -momentum >= threshold {
            Some(Direction::Sell)
        } else {
            None
        };
        let prev = std::mem::replace(&mut self.prev_signal, signal);

        if ctx.open_trades > 0 {
            if let (Some(points), Some((side, level)), false) =
                (self.cfg.partial_close_points, self.entry, self.partial_sent)
            {
                let gain = match side {
                    Direction::Buy => to_f64(quote.bid.value()) - level,
                    Direction::Sell => level - to_f64(quote.offer.value()),
                } / self.point;
                if gain >= to_f64(points) {
                    self.partial_sent = true;
                    return vec![Intent::Reduce {
                        direction: Some(side),
                        fraction: self.cfg.partial_close_fraction,
                        reason: "partial profit target reached".to_string(),
                    }];
                }
            }
            if let Some(side) = ctx.position {
                let reversed = match side {
                    Direction::Buy => momentum < 0.0,
                    Direction::Sell => momentum > 0.0,
                };
                if self.cfg.exit_on_reverse && reversed && !self.exit_sent {
                    self.exit_sent = true;
                    return vec![Intent::Exit {
                        direction: Some(side),
                        reason: "momentum reversed".to_string(),
                    }];
                }
            }
            return Vec::new();
        }
        self.exit_sent = false;

        let Some(dir) = signal else {
            return Vec::new();
        };
        if prev == signal {
            return Vec::new();
        }
        let spread_points = to_f64(quote.spread()) / self.point;
        if spread_points > self.cfg.max_spread_points
            || atr < self.cfg.min_atr_points
            || atr > self.cfg.max_atr_points
        {
            return Vec::new();
        }
        let Some(stop) = self
            .cfg
            .stop_points
            .map(Points::new)
            .or_else(|| points_from_f64(self.cfg.stop_atr * atr))
        else {
            return Vec::new();
        };
        let trailing = self
            .cfg
            .trailing_points
            .map(Points::new)
            .or_else(|| self.cfg.trailing_atr.and_then(|t| points_from_f64(t * atr)));
        // IG keeps one stop: a broker-side trailing stop starts at the trailing distance.
        let (stop, trailing, stop_kind) = match (self.cfg.trailing, trailing, self.cfg.stop_type) {
            (TrailingBy::Broker, Some(t), _) => (
                t,
                None,
                StopKind::Trailing {
                    increment: Points::new(self.cfg.trailing_step_points.unwrap_or(Decimal::ZERO)),
                },
            ),
            (_, t, StopType::Guaranteed) => (stop, t, StopKind::Guaranteed),
            (_, t, StopType::Normal) => (stop, t, StopKind::Normal),
        };
        vec![Intent::Enter(Entry {
            direction: dir,
            size: self.cfg.size.map(Size::new),
            stop_distance: Some(stop),
            limit_distance: self
                .cfg
                .target_points
                .map(Points::new)
                .or_else(|| points_from_f64(self.cfg.target_atr * atr)),
            trailing_distance: trailing,
            stop_kind,
            max_hold_ms: (self.cfg.max_hold_ms > 0).then_some(self.cfg.max_hold_ms),
            // "momentum {momentum:.2} pts vs threshold {threshold:.2} (ATR {atr:.2} pts,
            // spread {spread_points:.2} pts)", built without the formatter.
            reason: {
                let mut r = String::with_capacity(80);
                r.push_str("momentum ");
                push_fixed(&mut r, momentum, 2);
                r.push_str(" pts vs threshold ");
                push_fixed(&mut r, threshold, 2);
                r.push_str(" (ATR ");
                push_fixed(&mut r, atr, 2);
                r.push_str(" pts, spread ");
                push_fixed(&mut r, spread_points, 2);
                r.push_str(" pts)");
                r
            },
        })]
    }
}

impl super::StrategyParams for ScalperConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        ScalperConfig::validate(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mid_bars_close_on_period_boundaries() {
        let mut b = MidBars::new(1000);
        assert_eq!(b.update(1500, 1.1), None);
        assert_eq!(b.update(1700, 1.3), None);
        assert_eq!(b.update(1999, 0.9), None);
        assert_eq!(b.update(2000, 1.0), Some((1.3, 0.9, 0.9)));
        assert_eq!(b.update(3500, 1.2), Some((1.0, 1.0, 1.0)));
    }

    #[test]
    fn invalid_parameters_are_named() {
        let bad = ScalperConfig {
            fast_period: 30,
            ..ScalperConfig::default()
        };
        assert!(bad
            .validate()
            .unwrap_err()
            .to_string()
            .contains("fast_period"));
        let bad = ScalperConfig {
            stop_atr: 0.0,
            ..ScalperConfig::default()
        };
        assert!(bad.validate().unwrap_err().to_string().contains("stop_atr"));
        assert!(ScalperConfig::default().validate().is_ok());
    }
}
