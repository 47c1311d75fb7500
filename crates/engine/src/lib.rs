//! scalper-engine: the deterministic trading core. One synchronous
//! [`Engine::process`](engine::Engine::process) turns events (quotes, timers, broker reports,
//! commands) into actions (broker commands, journal/log records). Strategies and risk return
//! values; brokers sit behind the [`Broker`] trait; the paper/sim broker fills from quotes or
//! bars with IG's dealing rules. No I/O, no async runtime, no clock reads.
//!
//! Runner contract (live, paper and backtest alike):
//!
//! ```text
//! for each event (one bounded channel, single writer):
//!     if Quote(q):  feed broker.on_quote(&q) to the engine first, as EngineEvent::Broker
//!     for action in engine.process(event):
//!         Broker(cmd)          -> journal it (write-ahead), then broker.execute(cmd).await,
//!                                 and feed every returned BrokerEvent back to the engine
//!         Refused / Log        -> log (level and reason included)
//!         TradeOpened / Closed -> journal, status line
//!         Halted / Resumed     -> status line
//!         PaperFallback        -> route later commands to a paper broker
//!         NothingLeftToManage  -> exit non-zero
//! send EngineEvent::Timer(clock.now()) about once a second.
//! ```
//!
//! Backtests use [`sim::step`], which does exactly this synchronously with a [`SimBroker`].

pub mod action;
pub mod broker;
pub mod clock;
pub mod config;
pub mod engine;
pub mod error;
pub mod event;
pub mod risk;
pub mod sim;
pub mod strategy;

pub use action::{Action, ClosedTrade, HaltReason, LogLevel, OpenedTrade, Refusal};
pub use broker::{Broker, DealRefGen};
pub use clock::{Clock, ManualClock};
pub use config::{
    BrokerFailurePolicy, EngineConfig, InstrumentConfig, KillSwitchConfig, RiskConfig,
    RiskPerTrade, TradingWindow,
};
pub use engine::{
    Engine, EngineInit, EngineSummary, MarketView, RestoredPosition, Trade, CLOSED_KEPT,
};
pub use error::{ConfigError, EngineError};
pub use event::{
    AmendOrder, BrokerCommand, BrokerEvent, CloseCause, CloseOrder, Command, EngineEvent,
    FailureKind, OpenOrder,
};
pub use risk::{Approved, Decision, RiskInput, RiskManager};
pub use sim::{step, step_quote, SimBroker, SimConfig, SimPosition};
pub use strategy::{Entry, Fill, Intent, Strategy, StrategyConfig, StrategyContext};
