//! IG's vocabulary in one place, shared by the IG client (`scalper-ig`) and the IG-compatible
//! sandbox (`scalper-sandbox`): serde models of IG's REST JSON, the `errorCode` table, deal
//! reject reasons, IG's time and resolution spellings, and the Lightstreamer TLCP codec.
//!
//! The models mirror IG exactly: requests and responses are both `Serialize + Deserialize`
//! (the sandbox serves what the client reads), unknown fields are ignored, every nullable
//! field is an `Option`, and IG's enum-like values stay `String`s so a new value never breaks
//! parsing. Conversion into domain types lives in the client; nothing here does I/O.

pub mod accounts;
pub mod application;
pub mod confirms;
pub mod errors;
pub mod history;
pub mod markets;
pub mod num;
pub mod positions;
pub mod prices;
pub mod reject;
pub mod resolution;
pub mod session;
pub mod time;
pub mod tlcp;
pub mod working_orders;

pub use errors::{classify, ErrorBody, ErrorClass};
pub use resolution::Resolution;
