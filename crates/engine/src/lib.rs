//! scalper-engine: the deterministic trading core. One synchronous
//! [`Engine::process`](engine::Engine::process) turns events (quotes, timers, broker reports,
//! commands) into actions (broker commands, journal/log records). Strategies and risk return
//! values; brokers sit behind the [`Broker`] trait; the paper/sim broker fills from quotes or
//! bars with IG's dealing rules. No I/O, no async runtime, no clock reads.
//!
//! Every runner (backtest, paper, sandbox, live) orders events through the one
//! [`driver::Driver`]: broker reports caused by an event first, then the event, then what they
//! lead to, with a write-ahead hook before every broker command. The backtest's venue is the
//! [`SimBroker`] ([`sim::step`]); the live runtime's venue is its execution task (crate
//! `scalper-live`).

pub mod action;
pub mod broker;
pub mod calendar;
pub mod clock;
pub mod config;
pub mod driver;
pub mod engine;
pub mod error;
pub mod event;
pub mod margin;
pub mod news;
pub mod risk;
pub mod schedule;
pub mod sim;
pub mod strategy;

pub use action::{Action, ClosedTrade, HaltReason, LogLevel, OpenedTrade, ReducedTrade, Refusal};
pub use broker::{Broker, DealRefGen};
pub use clock::{Clock, ManualClock};
pub use config::{
    AtEnd, BrokerFailurePolicy, EngineConfig, InstrumentConfig, KillSwitchConfig, RiskConfig,
    RiskPerTrade, TradingWindow,
};
pub use driver::{Driver, Venue};
pub use engine::{
    Engine, EngineInit, EngineSummary, MarketView, RestoredPosition, Trade, CLOSED_KEPT,
};
pub use error::{ConfigError, EngineError};
pub use event::{
    AmendOrder, BrokerCommand, BrokerEvent, CloseCause, CloseOrder, Command, EngineEvent,
    FailureKind, OpenOrder,
};
pub use margin::{below_close_out, MarginWatch, CLOSE_OUT_PERCENT};
pub use risk::{Approved, Decision, RiskInput, RiskManager};
pub use sim::{step, step_quote, SimBroker, SimConfig, SimPosition};
pub use strategy::{
    Entry, Fill, Intent, ScalperConfig, StopKind, StopType, Strategy, StrategyConfig,
    StrategyContext, TrailingBy,
};
