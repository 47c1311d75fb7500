//! Wall-clock access: the one place the sandbox reads it. (IG's date formats are in
//! `scalper_ig_wire::time`.)

use chrono::Utc;
use scalper_model::Timestamp;

/// Wall-clock now; used only for the simulator's default start time.
#[allow(clippy::disallowed_methods)]
pub fn wall_now() -> Timestamp {
    Timestamp::from_datetime(Utc::now())
}
