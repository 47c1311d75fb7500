//! `ema-cross` reference strategy (issue #7): EMAs of the mid price per quote with
//! `alpha = 2/(n+1)`, each seeded with the first mid; no trading until the slow average has
//! seen `slow` quotes; target long when fast > slow, short when fast < slow, unchanged on
//! equality; on a target change, close the opposite position and open `size` the new way
//! (each flip trades 2 × size). The runner closes the position at the last quote
//! (`Command::CloseAll`).

use rust_decimal::Decimal;
use scalper_model::{Direction, Quote, Size};
use serde::{Deserialize, Serialize};

use super::{invalid, Ema, Entry, Intent, Strategy, StrategyContext};
use crate::error::ConfigError;

/// Parameters of `ema-cross`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmaCrossConfig {
    /// Fast EMA length in quotes. Default 10.
    pub fast: u32,
    /// Slow EMA length in quotes. Default 30.
    pub slow: u32,
    /// Deal size of each position. Default 1.
    pub size: Decimal,
}

impl Default for EmaCrossConfig {
    fn default() -> Self {
        Self {
            fast: 10,
            slow: 30,
            size: Decimal::ONE,
        }
    }
}

impl EmaCrossConfig {
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
        Ok(())
    }
}

/// The `ema-cross` strategy.
#[derive(Debug, Clone)]
pub struct EmaCross {
    cfg: EmaCrossConfig,
    fast: Ema,
    slow: Ema,
    target: Option<Direction>,
}

impl EmaCross {
    pub fn new(cfg: EmaCrossConfig) -> Self {
        Self {
            fast: Ema::new(cfg.fast),
            slow: Ema::new(cfg.slow),
            cfg,
            target: None,
        }
    }
}

impl Strategy for EmaCross {
    fn name(&self) -> &'static str {
        "ema-cross"
    }

    fn uses_timer(&self) -> bool {
        false
    }

    fn on_quote(&mut self, quote: &Quote, _ctx: &StrategyContext<'_>) -> Vec<Intent> {
        let mid = super::mid_f64(quote);
        let fast = self.fast.update(mid);
        let slow = self.slow.update(mid);
        if self.slow.count() < u64::from(self.cfg.slow) {
            return Vec::new();
        }
        let target = if fast > slow {
            Some(Direction::Buy)
        } else if fast < slow {
            Some(Direction::Sell)
        } else {
            self.target
        };
        if target == self.target {
            return Vec::new();
        }
        let Some(dir) = target else {
            return Vec::new();
        };
        let mut out = Vec::with_capacity(2);
        if self.target.is_some() {
            out.push(Intent::Exit {
                direction: Some(dir.opposite()),
                reason: "ema-cross flip".to_string(),
            });
        }
        self.target = target;
        out.push(Intent::Enter(Entry {
            direction: dir,
            size: Some(Size::new(self.cfg.size)),
            stop_distance: None,
            limit_distance: None,
            trailing_distance: None,
            max_hold_ms: None,
            stop_kind: super::StopKind::Normal,
            // Static text: a flip every few dozen quotes must not pay for float formatting
            // (the levels are in the trade's entry price and the EMAs are reproducible).
            reason: match dir {
                Direction::Buy => "ema-cross: fast EMA above slow".to_string(),
                Direction::Sell => "ema-cross: fast EMA below slow".to_string(),
            },
        }));
        out
    }
}

impl super::StrategyParams for EmaCrossConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        EmaCrossConfig::validate(self)
    }
}
