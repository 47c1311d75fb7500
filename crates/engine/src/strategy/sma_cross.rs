//! `sma-cross` reference strategy (issue #7): simple averages of bar closes; when the fast
//! average crosses above the slow one (below on the previous bar, above on this one) close any
//! short and go long; when it crosses below, close any long and go short. Works on candles
//! (bar data) or on quotes aggregated into `bar_ms` candles of mid prices.

use rust_decimal::Decimal;
use scalper_model::{Candle, Direction, Quote, Size};
use serde::{Deserialize, Serialize};

use super::{invalid, to_f64, CandleBuilder, Entry, Intent, Sma, Strategy, StrategyContext};
use crate::error::ConfigError;

/// Parameters of `sma-cross`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmaCrossConfig {
    /// Fast SMA length in bars. Default 10.
    pub fast: u32,
    /// Slow SMA length in bars. Default 30.
    pub slow: u32,
    /// Deal size. Default 1.
    pub size: Decimal,
    /// Bar length when fed quotes, in ms. Default 60000.
    pub bar_ms: i64,
}

impl Default for SmaCrossConfig {
    fn default() -> Self {
        Self {
            fast: 10,
            slow: 30,
            size: Decimal::ONE,
            bar_ms: 60_000,
        }
    }
}

impl SmaCrossConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.fast == 0 || self.slow == 0 {
            return Err(invalid("fast/slow", "must be >= 1"));
        }
        if self.fast >= self.slow {
            return Err(invalid("fast", "fast must be below slow"));
        }
        if self.size <= Decimal::ZERO {
            return Err(invalid("size", "must be > 0"));
        }
        if self.bar_ms <= 0 {
            return Err(invalid("bar_ms", "must be > 0"));
        }
        Ok(())
    }
}

/// The `sma-cross` strategy.
#[derive(Debug, Clone)]
pub struct SmaCross {
    cfg: SmaCrossConfig,
    fast: Sma,
    slow: Sma,
    prev: Option<(f64, f64)>,
    bars: CandleBuilder,
}

impl SmaCross {
    pub fn new(cfg: SmaCrossConfig) -> Self {
        Self {
            fast: Sma::new(cfg.fast),
            slow: Sma::new(cfg.slow),
            prev: None,
            bars: CandleBuilder::new(cfg.bar_ms),
            cfg,
        }
    }

    fn on_close(&mut self, close: f64, ctx: &StrategyContext<'_>) -> Vec<Intent> {
        let fast = self.fast.update(close);
        let slow = self.slow.update(close);
        let (Some(fast), Some(slow)) = (fast, slow) else {
            return Vec::new();
        };
        let prev = self.prev.replace((fast, slow));
        let Some((pf, ps)) = prev else {
            return Vec::new();
        };
        let dir = if pf < ps && fast > slow {
            Direction::Buy
        } else if pf > ps && fast < slow {
            Direction::Sell
        } else {
            return Vec::new();
        };
        if ctx.position == Some(dir) {
            return Vec::new();
        }
        vec![
            Intent::Exit {
                direction: Some(dir.opposite()),
                reason: "sma-cross".to_string(),
            },
            Intent::Enter(Entry {
                direction: dir,
                size: Some(Size::new(self.cfg.size)),
                stop_distance: None,
                limit_distance: None,
                trailing_distance: None,
                max_hold_ms: None,
                stop_kind: super::StopKind::Normal,
                reason: format!("sma-cross: fast {fast:.6} crossed slow {slow:.6}"),
            }),
        ]
    }
}

impl Strategy for SmaCross {
    fn name(&self) -> &'static str {
        "sma-cross"
    }

    fn uses_timer(&self) -> bool {
        false
    }

    fn on_quote(&mut self, quote: &Quote, ctx: &StrategyContext<'_>) -> Vec<Intent> {
        match self.bars.update(quote) {
            Some(bar) => self.on_close(to_f64(bar.close.value()), ctx),
            None => Vec::new(),
        }
    }

    fn on_candle(&mut self, candle: &Candle, ctx: &StrategyContext<'_>) -> Vec<Intent> {
        self.on_close(to_f64(candle.close.value()), ctx)
    }
}

impl super::StrategyParams for SmaCrossConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        SmaCrossConfig::validate(self)
    }
}
