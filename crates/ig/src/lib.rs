//! IG Markets client: typed errors, session manager, rate limiting, dealing, conversion of IG's
//! wire models (`scalper_ig_wire`) into domain types, and the Lightstreamer (TLCP) streaming
//! client.
//!
//! Start with [`IgConfig::new`] and [`IgClient::new`]; every request goes through the session
//! manager (single-flight login, v3 refresh, token-error recovery). Dealing calls return a
//! [`DealOutcome`] and never resend a request whose outcome is unknown.

pub mod broker;
pub mod client;
pub mod config;
pub mod confirms;
pub mod convert;
pub mod dealing;
pub mod endpoints;
pub mod error;
mod http;
mod maintenance;
pub mod orders;
pub mod rate;
mod session;
pub mod stats;
pub mod stream;
pub mod types;

pub use broker::IgBroker;
pub use client::{IgClient, StreamCredentials};
pub use config::{Environment, IgConfig, RetryPolicy, SessionVersion};
pub use confirms::ConfirmHub;
pub use dealing::{
    CloseRequest, DealOutcome, OpenRequest, Resolution, TimeInForce, WorkingOrderRequest,
};
pub use endpoints::{ActivityQuery, PriceQuery, TransactionQuery};
pub use error::{AllowanceKind, IgError, TokenKind};
pub use stats::{SessionState, SessionStats};
pub use types::{Allowances, Confirmation, DealStatus, Market, OpenPosition, SessionInfo};
