//! Wall-clock reads for the stream (the one place this module may read the time): receive
//! times for items that carry no UTC timestamp, and gap events.

use scalper_model::Timestamp;

/// Now, as UTC epoch milliseconds.
#[allow(clippy::disallowed_methods)]
pub fn now() -> Timestamp {
    Timestamp::from_datetime(chrono::Utc::now())
}
