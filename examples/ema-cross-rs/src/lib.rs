//! `ema-cross-rs`: the built-in `ema-cross` written again outside the engine, against
//! `scalper-sdk` only: EMAs of the mid with `alpha = 2/(n+1)`, seeded with the first mid; no
//! trading until the slow one has seen `slow` quotes; long when fast > slow, short when
//! fast < slow; on a change, close the other side and open `size` the new way. It gives the
//! built-in's trade-list hash on the same data (`tests/hash.rs`).

use scalper_sdk::prelude::*;
use serde::{Deserialize, Serialize};

/// Parameters: the same names and defaults as the built-in's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Params {
    pub fast: u32,
    pub slow: u32,
    pub size: Decimal,
}

impl Default for Params {
    fn default() -> Self {
        Self {
            fast: 10,
            slow: 30,
            size: Decimal::ONE,
        }
    }
}

impl StrategyParams for Params {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.fast == 0 || self.fast >= self.slow {
            return Err(scalper_sdk::invalid("fast", "must be >= 1 and below slow"));
        }
        if self.size <= Decimal::ZERO {
            return Err(scalper_sdk::invalid("size", "must be > 0"));
        }
        Ok(())
    }
}

/// The strategy: one instance per instrument.
#[derive(Debug)]
pub struct EmaCrossRs {
    params: Params,
    fast: Ema,
    slow: Ema,
    target: Option<Direction>,
}

impl EmaCrossRs {
    pub fn new(params: Params) -> Self {
        Self {
            fast: Ema::new(params.fast),
            slow: Ema::new(params.slow),
            params,
            target: None,
        }
    }
}

impl Strategy for EmaCrossRs {
    fn name(&self) -> &'static str {
        "ema-cross-rs"
    }

    fn uses_timer(&self) -> bool {
        false
    }

    fn on_quote(&mut self, quote: &Quote, _ctx: &StrategyContext<'_>) -> Vec<Intent> {
        let mid = mid_f64(quote);
        let (fast, slow) = (self.fast.update(mid), self.slow.update(mid));
        if self.slow.count() < u64::from(self.params.slow) {
            return Vec::new();
        }
        let target = if fast > slow {
            Some(Direction::Buy)
        } else if fast < slow {
            Some(Direction::Sell)
        } else {
            self.target
        };
        let Some(dir) = target.filter(|_| target != self.target) else {
            return Vec::new();
        };
        let mut out = Vec::with_capacity(2);
        if self.target.is_some() {
            out.push(Intent::exit(Some(dir.opposite()), "ema-cross-rs flip"));
        }
        self.target = target;
        out.push(Intent::Enter(
            Entry::new(dir, "ema-cross-rs").with_size(Size::new(self.params.size)),
        ));
        out
    }
}

/// The factory that makes `ema-cross-rs` known by name.
pub fn ema_cross_rs() -> std::sync::Arc<dyn StrategyFactory> {
    factory("ema-cross-rs", |p: Params, _instrument| EmaCrossRs::new(p))
}
