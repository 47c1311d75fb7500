//! scalper-sdk: the stable surface for writing strategies.
//!
//! A strategy is a plain value implementing [`Strategy`]: quotes, bars, fills and timers come
//! in with a [`StrategyContext`] (the instrument, the time, the net position and the number of
//! open trades); [`Intent`]s ([`Entry`], exits) go out. Risk approves or refuses every entry
//! and only the engine acts, so the same strategy runs unchanged in backtests, sweeps, paper,
//! the sandbox and live. Each instrument gets its own instance from a [`StrategyFactory`]:
//! per-instrument state is the strategy's own fields. Strategies must be deterministic (no
//! clock reads, no I/O, no randomness but a seeded one).
//!
//! Indicators ([`Ema`], [`Sma`], [`Atr`], [`CandleBuilder`]) and [`mid_f64`] (the mid price as
//! the f64 every built-in uses) are the ones the built-in strategies use; the built-ins
//! (`ema-cross`, `sma-cross`, `scalper`) are written against exactly this API.
//!
//! ```
//! use scalper_sdk::prelude::*;
//!
//! /// Buys once the mid rises above `level`.
//! #[derive(Debug)]
//! struct Breakout { level: f64, done: bool }
//!
//! #[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
//! #[serde(default, deny_unknown_fields)]
//! struct BreakoutParams { level: f64 }
//! impl StrategyParams for BreakoutParams {}
//!
//! impl Strategy for Breakout {
//!     fn name(&self) -> &'static str { "breakout" }
//!     fn uses_timer(&self) -> bool { false }
//!     fn on_quote(&mut self, quote: &Quote, ctx: &StrategyContext<'_>) -> Vec<Intent> {
//!         if self.done || ctx.position.is_some() || mid_f64(quote) <= self.level {
//!             return Vec::new();
//!         }
//!         self.done = true;
//!         vec![Intent::Enter(Entry::new(Direction::Buy, "breakout").with_size(Size::new(Decimal::ONE)))]
//!     }
//! }
//!
//! // Known by name to the CLI (`scalper_cli::main_with`), backtests, sweeps and live runs:
//! register(factory("breakout", |p: BreakoutParams, _inst| Breakout { level: p.level, done: false }))?;
//! # Ok::<(), scalper_sdk::ConfigError>(())
//! ```

pub use rust_decimal::Decimal;
pub use scalper_engine::strategy::{
    factory, invalid, lookup, mid_f64, points_from_f64, register, strategy_names, to_f64, Atr,
    CandleBuilder, CustomStrategy, Ema, Entry, Fill, Intent, Sma, StopKind, Strategy,
    StrategyConfig, StrategyContext, StrategyFactory, StrategyParams,
};
pub use scalper_engine::ConfigError;
pub use scalper_model::{Candle, Direction, Instrument, Points, Price, Quote, Size, Timestamp};

/// Everything a strategy file usually needs: `use scalper_sdk::prelude::*;`.
pub mod prelude {
    pub use super::{
        factory, mid_f64, register, Atr, Candle, CandleBuilder, ConfigError, Decimal, Direction,
        Ema, Entry, Fill, Instrument, Intent, Points, Price, Quote, Size, Sma, StopKind, Strategy,
        StrategyContext, StrategyFactory, StrategyParams, Timestamp,
    };
}
