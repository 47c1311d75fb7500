//! Serde models mirroring IG's REST JSON, one file per area. Requests and responses are both
//! `Serialize + Deserialize` (the sandbox serves them), unknown fields are ignored, every
//! nullable field is an `Option`, and IG's enum-like values stay `String`s so new values never
//! break parsing. Conversion into domain types lives only in [`convert`].

pub mod accounts;
pub mod application;
pub mod confirms;
pub mod convert;
pub mod errors;
pub mod history;
pub mod markets;
pub mod num;
pub mod positions;
pub mod prices;
pub mod session;
pub mod working_orders;
