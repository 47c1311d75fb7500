//! IG's date and time spellings, to and from [`Timestamp`] (UTC milliseconds). IG's "local"
//! formats are the account's local time; scalper treats them as UTC (the sandbox's zone) and
//! reads the `...UTC` fields whenever IG sends them.

use chrono::{DateTime, NaiveDateTime, Utc};
use scalper_model::Timestamp;

fn dt(ts: Timestamp) -> DateTime<Utc> {
    ts.to_datetime().unwrap_or_default()
}

/// `yyyy/MM/dd HH:mm:ss:SSS` (`createdDate` of positions and working orders).
pub fn local_ms(ts: Timestamp) -> String {
    dt(ts).format("%Y/%m/%d %H:%M:%S:%3f").to_string()
}

/// `yyyy/MM/dd HH:mm:ss` (`snapshotTime` of price bars, `goodTillDate`, transaction dates).
pub fn local_s(ts: Timestamp) -> String {
    dt(ts).format("%Y/%m/%d %H:%M:%S").to_string()
}

/// `yyyy-MM-ddTHH:mm:ss` (`snapshotTimeUTC`, `createdDateUTC`, and the `from`/`to` query
/// parameters of `/prices` and `/history`).
pub fn utc_s(ts: Timestamp) -> String {
    dt(ts).format("%Y-%m-%dT%H:%M:%S").to_string()
}

/// `HH:mm:ss` (`updateTime` of market snapshots and the MARKET stream's `UPDATE_TIME`).
pub fn time_of_day(ts: Timestamp) -> String {
    dt(ts).format("%H:%M:%S").to_string()
}

/// Parses `yyyy-MM-ddTHH:mm:ss` with an optional fraction (`snapshotTimeUTC`, activity
/// dates). `None` for anything else.
pub fn parse_utc(s: &str) -> Option<Timestamp> {
    let s = s.trim();
    let dt = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S")
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f"))
        .ok()?;
    Some(Timestamp::from_datetime(dt.and_utc()))
}

/// Parses a time as IG's requests and histories spell it: `yyyy-MM-ddTHH:mm:ss` (with optional
/// fraction, trailing `Z` or RFC 3339 offset), `yyyy-MM-ddTHH:mm`, `yyyy/MM/dd HH:mm:ss`
/// (optionally `:SSS`), `yyyy-MM-dd HH:mm:ss`, `yyyy/MM/dd HH:mm`, or epoch milliseconds.
pub fn parse_time(s: &str) -> Option<Timestamp> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(Timestamp::from_millis(t.timestamp_millis()));
    }
    let s = s.trim_end_matches('Z');
    if let Ok(ms) = s.parse::<i64>() {
        return Some(Timestamp::from_millis(ms));
    }
    [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y/%m/%d %H:%M:%S:%3f",
        "%Y/%m/%d %H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
        "%Y/%m/%d %H:%M",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
    .map(|n| Timestamp::from_datetime(n.and_utc()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses() {
        let ts = Timestamp::from_millis(1_767_225_600_123);
        assert_eq!(local_ms(ts), "2026/01/01 00:00:00:123");
        assert_eq!(local_s(ts), "2026/01/01 00:00:00");
        assert_eq!(utc_s(ts), "2026-01-01T00:00:00");
        assert_eq!(time_of_day(ts), "00:00:00");
        let s = Some(Timestamp::from_millis(1_767_225_600_000));
        for text in [
            "2026-01-01T00:00:00",
            "2026-01-01T00:00:00Z",
            "2026-01-01T01:00:00+01:00",
            "2026/01/01 00:00:00",
            "2026-01-01 00:00:00",
            "2026/01/01 00:00",
            "1767225600000",
        ] {
            assert_eq!(parse_time(text), s, "{text}");
        }
        assert_eq!(parse_time("2026-01-01T00:00:00.123"), Some(ts));
        assert_eq!(parse_time("2026/01/01 00:00:00:123"), Some(ts));
        assert_eq!(parse_time("2026-01-01T00:00"), s);
        assert_eq!(parse_time(&local_ms(ts)), Some(ts));
        assert_eq!(parse_time("nope"), None);
        assert_eq!(parse_utc("2026-01-01T00:00:00"), s);
        assert_eq!(parse_utc("2026-01-01T00:00:00.123"), Some(ts));
        assert_eq!(parse_utc("2026/01/01 00:00:00"), None);
    }

    proptest::proptest! {
        /// Every second-precision time survives IG's UTC spelling.
        #[test]
        fn utc_round_trip(secs in 0i64..8_000_000_000) {
            let ts = Timestamp::from_millis(secs * 1000);
            proptest::prop_assert_eq!(parse_utc(&utc_s(ts)), Some(ts));
            proptest::prop_assert_eq!(parse_time(&local_s(ts)), Some(ts));
        }
    }
}
