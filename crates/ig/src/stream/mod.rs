//! Lightstreamer (TLCP) streaming client for IG: prices, candles, trade confirmations and
//! position/order/account updates as typed events, kept alive across LOOP, drops, silence,
//! END and expired tokens.
//!
//! Output comes on two bounded channels ([`StreamReceivers`]): quotes coalesce per epic when
//! the consumer lags (latest wins); everything else (trade updates, candles, account, status)
//! is lossless and back-pressured. Every lost connection emits one
//! [`StreamStatus::Gap`] before reconnecting; treat quotes as stale until fresh ones arrive.
//!
//! ```no_run
//! # async fn demo(ig: scalper_ig::IgClient) {
//! use std::sync::Arc;
//! use scalper_ig::stream::{StreamClient, StreamConfig, StreamEvent, Subscription};
//! let epic = scalper_model::Epic::new("CS.D.EURUSD.CFD.IP").unwrap();
//! // The REST client is the credential source (tokens, endpoint, account, re-login).
//! let (client, mut rx) = StreamClient::start(
//!     StreamConfig::default(),
//!     Arc::new(ig.clone()),
//!     [Subscription::Price(epic), Subscription::Trade],
//! );
//! loop {
//!     tokio::select! {
//!         Some(q) = rx.quotes.recv() => println!("{} {} {}", q.epic, q.bid, q.offer),
//!         Some(ev) = rx.events.recv() => match ev {
//!             StreamEvent::Confirm(c) => println!("confirm {:?}", c.deal_reference),
//!             other => println!("{other:?}"),
//!         },
//!         else => break,
//!     }
//! }
//! client.shutdown().await;
//! # }
//! ```

mod client;
mod clock;
mod conn;
pub mod convert;
mod creds;
mod engine;
mod events;
mod items;
mod runner;
pub mod trade;

pub use crate::StreamCredentials;
pub use client::{StreamClient, StreamConfig, StreamReceivers, StreamStopped};
pub use conn::ConnError;
pub use creds::StreamCredentialSource;
pub use engine::quote_event;
pub use events::{AccountUpdate, QuoteReceiver, QuoteTap, StreamEvent, StreamStatus};
pub use items::{ChartScale, Mode, Subscription};
pub use secrecy::SecretString;
pub use trade::{
    AffectedDeal, PositionUpdate, TradeConfirm, TradeDecodeError, UpdateStatus, WorkingOrderUpdate,
};
