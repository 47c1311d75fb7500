//! Wall-clock access (the one place the sandbox reads it) and IG's date formats.

use chrono::{DateTime, NaiveDateTime, Utc};
use scalper_model::Timestamp;

/// Wall-clock now; used only for the simulator's default start time.
#[allow(clippy::disallowed_methods)]
pub fn wall_now() -> Timestamp {
    Timestamp::from_datetime(Utc::now())
}

fn dt(ts: Timestamp) -> DateTime<Utc> {
    ts.to_datetime().unwrap_or_default()
}

/// IG's local-time format with millis (`2026/11/26 21:04:39:123`); the sandbox's local zone is UTC.
pub fn local_ms(ts: Timestamp) -> String {
    dt(ts).format("%Y/%m/%d %H:%M:%S:%3f").to_string()
}

/// IG's `yyyy/MM/dd HH:mm:ss` (price snapshot local time).
pub fn local_s(ts: Timestamp) -> String {
    dt(ts).format("%Y/%m/%d %H:%M:%S").to_string()
}

/// IG's UTC format `yyyy-MM-ddTHH:mm:ss`.
pub fn utc_s(ts: Timestamp) -> String {
    dt(ts).format("%Y-%m-%dT%H:%M:%S").to_string()
}

/// `HH:mm:ss` update time.
pub fn time_of_day(ts: Timestamp) -> String {
    dt(ts).format("%H:%M:%S").to_string()
}

/// Parses `yyyy-MM-ddTHH:mm:ss` (optionally with millis or a trailing `Z`), `yyyy/MM/dd HH:mm:ss`
/// or epoch milliseconds.
pub fn parse_time(s: &str) -> Option<Timestamp> {
    let s = s.trim().trim_end_matches('Z');
    if let Ok(ms) = s.parse::<i64>() {
        return Some(Timestamp::from_millis(ms));
    }
    for f in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y/%m/%d %H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
        "%Y/%m/%d %H:%M",
    ] {
        if let Ok(n) = NaiveDateTime::parse_from_str(s, f) {
            return Some(Timestamp::from_datetime(n.and_utc()));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses() {
        let ts = Timestamp::from_millis(1_767_225_600_123);
        assert_eq!(local_ms(ts), "2026/01/01 00:00:00:123");
        assert_eq!(utc_s(ts), "2026-01-01T00:00:00");
        assert_eq!(
            parse_time("2026-01-01T00:00:00"),
            Some(Timestamp::from_millis(1_767_225_600_000))
        );
        assert_eq!(
            parse_time("2026/01/01 00:00:00"),
            Some(Timestamp::from_millis(1_767_225_600_000))
        );
        assert_eq!(parse_time("nope"), None);
    }
}
