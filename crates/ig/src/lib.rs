//! IG Markets client: a transport (HTTP, headers, budgets), the session manager (v2/v3 logins,
//! refresh, single-flight recovery, the fatal latch, upkeep), the domain-typed [`IgClient`]
//! with safe dealing, conversion of IG's wire models (`scalper_ig_wire`) into domain types,
//! the Lightstreamer (TLCP) streaming client and [`IgBroker`].
//!
//! Start with [`IgConfig::new`] and [`IgClient::new`]; every request goes through the session
//! manager. Dealing calls return a [`DealOutcome`] and never resend a request whose outcome is
//! unknown. Public methods take and return domain types; IG's JSON stays in `scalper_ig_wire`.

pub mod broker;
pub mod client;
pub mod config;
pub mod confirms;
pub mod convert;
pub mod dealing;
pub mod endpoints;
pub mod error;
pub mod orders;
pub mod rate;
mod scrub;
mod session;
pub mod stats;
pub mod stream;
mod transport;
pub mod types;

pub use broker::IgBroker;
pub use client::{IgClient, StreamCredentials};
pub use config::{Environment, IgConfig, RetryPolicy, SessionVersion};
pub use confirms::ConfirmHub;
pub use endpoints::{ActivityQuery, PriceQuery, TransactionQuery};
pub use error::{AllowanceKind, IgError, TokenKind};
pub use orders::{
    CloseRequest, DealOutcome, OpenRequest, PositionAmend, Resolution, TimeInForce,
    WorkingOrderAmend, WorkingOrderRequest,
};
pub use scrub::redact_url;
pub use stats::{SessionState, SessionStats};
pub use types::{
    Account, Activity, Allowances, Balance, CloseLevel, Confirmation, DealStatus,
    HistoricalAllowance, Market, MarketHit, OpenPosition, PositionStatus, PricePage, SessionInfo,
    Transaction, WorkingOrder,
};
