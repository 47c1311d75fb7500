//! Lightstreamer (TLCP) streaming client for IG: prices, candles, trade confirmations and
//! position/order/account updates as typed events, kept alive across LOOP, drops, silence,
//! END and expired tokens.
//!
//! ```no_run
//! # async fn demo<C: scalper_ig::stream::StreamCredentialSource>(creds: std::sync::Arc<C>) {
//! use scalper_ig::stream::{StreamClient, StreamConfig, Subscription};
//! let epic = scalper_model::Epic::new("CS.D.EURUSD.CFD.IP").unwrap();
//! let (client, mut rx) = StreamClient::start(
//!     StreamConfig::default(),
//!     creds,
//!     [Subscription::Price(epic), Subscription::Trade],
//! );
//! loop {
//!     tokio::select! {
//!         Some(q) = rx.quotes.recv() => println!("{} {} {}", q.epic, q.bid, q.offer),
//!         Some(ev) = rx.events.recv() => println!("{ev:?}"),
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
pub mod tlcp;
pub mod trade;
pub mod update;

pub use crate::StreamCredentials;
pub use client::{StreamClient, StreamConfig, StreamReceivers, StreamStopped};
pub use conn::ConnError;
pub use creds::StreamCredentialSource;
pub use engine::quote_event;
pub use events::{AccountUpdate, QuoteReceiver, StreamEvent, StreamStatus};
pub use items::{ChartScale, Mode, Subscription};
pub use secrecy::SecretString;
pub use trade::{
    AffectedDeal, PositionUpdate, TradeConfirm, TradeDecodeError, UpdateStatus, WorkingOrderUpdate,
};

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Everything but RFC 3986 unreserved characters is percent-encoded in TLCP form values.
const FORM: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Percent-encodes a TLCP request parameter value (`|` -> `%7C`, space -> `%20`).
pub fn encode_form_value(v: &str) -> String {
    utf8_percent_encode(v, FORM).to_string()
}
