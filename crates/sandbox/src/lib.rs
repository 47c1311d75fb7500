//! An IG-compatible broker on loopback: REST, Lightstreamer streaming, a market simulator and
//! fault injection. Used by tests, benchmarks and `scalper demo`.
//!
//! Start it with [`Sandbox::start`]`(`[`SandboxConfig`]`)`; the [`SandboxHandle`] gives the REST
//! URL (`http://127.0.0.1:PORT/gateway/deal`), the streaming URL, the credentials, admin controls
//! (state snapshot, fault injection, price control) and graceful shutdown. The admin HTTP API is
//! documented in `rest/admin.rs`, the fault grammar in [`faults`].

mod backfill;
pub mod bus;
pub mod catalog;
pub mod clock;
pub mod config;
mod conn;
mod dealing;
pub mod error;
pub mod faults;
pub mod market;
mod orders;
mod rest;
mod server;
pub mod sim;
pub mod state;
pub mod stream;
mod triggers;
mod working_orders;

/// The hand-computed money table shared with the model and backtest tests.
#[cfg(test)]
#[path = "../../model/tests/common/money_cases.rs"]
mod money_cases;

pub use config::{Credentials, MarketHoliday, MarketSchedule, RateLimits, Replay, SandboxConfig};
pub use error::{ApiError, SandboxError};
pub use faults::{FaultSpec, FaultSpecError};
pub use server::{RequestSeen, Sandbox, SandboxHandle};
pub use sim::{MarketSim, SimParams};
pub use state::{AccountSnapshot, StateSnapshot};
