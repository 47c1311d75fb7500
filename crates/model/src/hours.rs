//! When a market trades: weekly sessions in the market's own time zone, holidays (closed days
//! and early closes), and IG's `openingHours` (daily windows in the account's time zone).
//!
//! Sessions are written in the zone whose clock the market follows, so clock changes come out
//! right by construction: FX opens Sunday 17:00 and closes Friday 17:00 *New York* time, which
//! is 22:00 London most of the year and 21:00 London in the weeks when the US has changed its
//! clocks and the UK has not (March and October/November).
//!
//! Everything here is pure: the caller passes the instant.

use std::fmt;

use chrono::{Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Timelike, Weekday};
use chrono_tz::Tz;

use crate::Timestamp;

/// One weekly session: opens on `day` at `open` (local) and closes `close_after_days` later at
/// `close` (local).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WeeklySession {
    pub day: Weekday,
    pub open: NaiveTime,
    pub close_after_days: u8,
    pub close: NaiveTime,
}

/// A day a market keeps other hours: closed all day (`early_close: None`), or closing early at
/// a local time. `date` is the market's local date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Holiday {
    pub date: NaiveDate,
    pub early_close: Option<NaiveTime>,
}

/// A half-open interval `[open, close)` of trading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub open: Timestamp,
    pub close: Timestamp,
}

impl Window {
    fn contains(&self, ts: Timestamp) -> bool {
        self.open <= ts && ts < self.close
    }
}

/// A market's weekly trading hours in its own time zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TradingHours {
    pub tz: Tz,
    pub sessions: Vec<WeeklySession>,
}

/// An `openingHours` time IG sent that is not `HH:MM`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadHours(pub String);

impl fmt::Display for BadHours {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "opening hours {:?} are not HH:MM", self.0)
    }
}

impl std::error::Error for BadHours {}

/// How far around an instant sessions are expanded (local days each way): a session lasts at
/// most a week, so this covers the one holding the instant and the next one after it.
const SPAN_DAYS: i64 = 9;

fn hm(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).unwrap_or(NaiveTime::MIN)
}

/// `time` on local `date` in `tz` as an instant: the earlier of an ambiguous time, the first
/// valid minute after a time skipped by a clock change.
pub fn local_instant(tz: Tz, date: NaiveDate, time: NaiveTime) -> Option<Timestamp> {
    let naive = date.and_time(time);
    tz.from_local_datetime(&naive)
        .earliest()
        .or_else(|| {
            tz.from_local_datetime(&(naive + Duration::hours(1)))
                .earliest()
        })
        .map(|dt| Timestamp::from_datetime(dt.with_timezone(&chrono::Utc)))
}

fn local_date(tz: Tz, ts: Timestamp) -> NaiveDate {
    ts.to_datetime()
        .unwrap_or_default()
        .with_timezone(&tz)
        .date_naive()
}

impl TradingHours {
    /// FX as IG deals it: Sunday 17:00 to Friday 17:00 New York time.
    pub fn fx() -> Self {
        Self {
            tz: chrono_tz::America::New_York,
            sessions: vec![WeeklySession {
                day: Weekday::Sun,
                open: hm(17, 0),
                close_after_days: 5,
                close: hm(17, 0),
            }],
        }
    }

    /// A market that trades from `open` on one day to `close` the next, Sunday to Thursday
    /// evenings (local), with a daily break between: US index futures and gold follow the CME
    /// day, 18:00 to 17:00 New York time.
    pub fn overnight(tz: Tz, open: NaiveTime, close: NaiveTime) -> Self {
        let days = [
            Weekday::Sun,
            Weekday::Mon,
            Weekday::Tue,
            Weekday::Wed,
            Weekday::Thu,
        ];
        Self {
            tz,
            sessions: days
                .iter()
                .map(|&day| WeeklySession {
                    day,
                    open,
                    close_after_days: 1,
                    close,
                })
                .collect(),
        }
    }

    /// Monday to Friday from `open` to `close` the same local day.
    pub fn weekdays(tz: Tz, open: NaiveTime, close: NaiveTime) -> Self {
        let days = [
            Weekday::Mon,
            Weekday::Tue,
            Weekday::Wed,
            Weekday::Thu,
            Weekday::Fri,
        ];
        Self {
            tz,
            sessions: days
                .iter()
                .map(|&day| WeeklySession {
                    day,
                    open,
                    close_after_days: 0,
                    close,
                })
                .collect(),
        }
    }

    /// Every day, around the clock (a market IG reports no hours for and that has no weekly
    /// rule of its own).
    pub fn always() -> Self {
        Self {
            tz: chrono_tz::UTC,
            sessions: Vec::new(),
        }
    }

    pub fn is_always(&self) -> bool {
        self.sessions.is_empty()
    }

    /// IG's `openingHours.marketTimes` (`openTime`, `closeTime`, `HH:MM` in `tz`, the account's
    /// zone): each window every day; a window whose close is at or before its open runs past
    /// midnight, and a close of `23:59` means midnight. No windows, or `00:00`-`23:59`: always
    /// open.
    pub fn from_ig<'a>(
        times: impl IntoIterator<Item = (&'a str, &'a str)>,
        tz: Tz,
    ) -> Result<Self, BadHours> {
        let parse = |s: &str| {
            NaiveTime::parse_from_str(s.trim(), "%H:%M").map_err(|_| BadHours(s.to_string()))
        };
        let mut sessions = Vec::new();
        for (open, close) in times {
            let o = parse(open)?;
            let mut c = parse(close)?;
            if c.hour() == 23 && c.minute() == 59 {
                c = NaiveTime::MIN;
            }
            if o == NaiveTime::MIN && c == NaiveTime::MIN {
                // The whole day, every day.
                return Ok(Self {
                    tz,
                    sessions: Vec::new(),
                });
            }
            let after = u8::from(c <= o);
            for day in [
                Weekday::Mon,
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
                Weekday::Fri,
                Weekday::Sat,
                Weekday::Sun,
            ] {
                sessions.push(WeeklySession {
                    day,
                    open: o,
                    close_after_days: after,
                    close: c,
                });
            }
        }
        Ok(Self { tz, sessions })
    }

    /// The trading windows that overlap the days around `at`, holidays applied, in time
    /// order and merged where they touch.
    pub fn windows(&self, at: Timestamp, holidays: &[Holiday]) -> Vec<Window> {
        let today = local_date(self.tz, at);
        let mut out = Vec::new();
        if self.is_always() {
            let from = today - Duration::days(SPAN_DAYS);
            let to = today + Duration::days(SPAN_DAYS);
            if let (Some(open), Some(close)) = (
                local_instant(self.tz, from, NaiveTime::MIN),
                local_instant(self.tz, to, NaiveTime::MIN),
            ) {
                out.push(Window { open, close });
            }
        } else {
            for d in -SPAN_DAYS..=SPAN_DAYS {
                let Some(date) = today.checked_add_signed(Duration::days(d)) else {
                    continue;
                };
                for s in self.sessions.iter().filter(|s| s.day == date.weekday()) {
                    let close_date = date + Duration::days(i64::from(s.close_after_days));
                    if let (Some(open), Some(close)) = (
                        local_instant(self.tz, date, s.open),
                        local_instant(self.tz, close_date, s.close),
                    ) {
                        if open < close {
                            out.push(Window { open, close });
                        }
                    }
                }
            }
        }
        for h in holidays {
            let Some(day_end) = local_instant(self.tz, h.date + Duration::days(1), NaiveTime::MIN)
            else {
                continue;
            };
            let from = match h.early_close {
                Some(t) => local_instant(self.tz, h.date, t),
                None => local_instant(self.tz, h.date, NaiveTime::MIN),
            };
            if let Some(from) = from {
                out = cut(out, from, day_end);
            }
        }
        merge(out)
    }

    /// Whether the market trades at `ts`.
    pub fn is_open(&self, ts: Timestamp, holidays: &[Holiday]) -> bool {
        self.current(ts, holidays).is_some()
    }

    /// The window holding `ts`, if the market is open.
    pub fn current(&self, ts: Timestamp, holidays: &[Holiday]) -> Option<Window> {
        self.windows(ts, holidays)
            .into_iter()
            .find(|w| w.contains(ts))
    }

    /// The next opening strictly after `ts` (within about a week).
    pub fn next_open(&self, ts: Timestamp, holidays: &[Holiday]) -> Option<Timestamp> {
        self.windows(ts, holidays)
            .into_iter()
            .map(|w| w.open)
            .find(|&o| o > ts)
    }

    /// The daily pattern of these hours as IG's `marketTimes` pairs (`HH:MM` in `out_tz`), read
    /// off the Wednesday of the week of `at`: a window running past midnight is one pair whose
    /// close is before its open (`23:00`-`22:00`), a market open all day is `00:00`-`23:59`.
    /// Weekends and holidays are not in it (IG's market status says those).
    pub fn ig_daily_times(&self, at: Timestamp, out_tz: Tz) -> Vec<(String, String)> {
        let today = local_date(out_tz, at);
        let back = i64::from(today.weekday().num_days_from_monday()) - 2;
        let wed = today - Duration::days(back);
        let (Some(day_start), Some(day_end)) = (
            local_instant(out_tz, wed, NaiveTime::MIN),
            local_instant(out_tz, wed + Duration::days(1), NaiveTime::MIN),
        ) else {
            return Vec::new();
        };
        let fmt_at = |ts: Timestamp| {
            ts.to_datetime()
                .unwrap_or_default()
                .with_timezone(&out_tz)
                .format("%H:%M")
                .to_string()
        };
        let mut out: Vec<(String, String)> = Vec::new();
        for w in self
            .windows(day_start, &[])
            .into_iter()
            .filter(|w| w.open < day_end && w.close > day_start)
        {
            if w.open <= day_start && w.close >= day_end {
                return vec![("00:00".into(), "23:59".into())];
            }
            let pair = (fmt_at(w.open), fmt_at(w.close));
            if !out.contains(&pair) {
                out.push(pair);
            }
        }
        out
    }

    /// These hours and `other`'s both: open only when both are.
    pub fn windows_both(
        &self,
        other: &TradingHours,
        at: Timestamp,
        holidays: &[Holiday],
    ) -> Vec<Window> {
        let a = self.windows(at, holidays);
        let b = other.windows(at, holidays);
        let mut out = Vec::new();
        for x in &a {
            for y in &b {
                let open = x.open.max(y.open);
                let close = x.close.min(y.close);
                if open < close {
                    out.push(Window { open, close });
                }
            }
        }
        out.sort_by_key(|w| w.open);
        merge(out)
    }
}

/// Removes `[from, to)` from every window.
fn cut(windows: Vec<Window>, from: Timestamp, to: Timestamp) -> Vec<Window> {
    let mut out = Vec::with_capacity(windows.len() + 1);
    for w in windows {
        if w.close <= from || w.open >= to {
            out.push(w);
            continue;
        }
        if w.open < from {
            out.push(Window {
                open: w.open,
                close: from,
            });
        }
        if w.close > to {
            out.push(Window {
                open: to,
                close: w.close,
            });
        }
    }
    out
}

fn merge(mut windows: Vec<Window>) -> Vec<Window> {
    windows.sort_by_key(|w| w.open);
    let mut out: Vec<Window> = Vec::with_capacity(windows.len());
    for w in windows {
        match out.last_mut() {
            Some(last) if w.open <= last.close => last.close = last.close.max(w.close),
            _ => out.push(w),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> Timestamp {
        let dt = chrono::DateTime::parse_from_rfc3339(s).expect("test time");
        Timestamp::from_datetime(dt.with_timezone(&chrono::Utc))
    }

    #[test]
    fn fx_closes_at_22_london_in_winter_and_summer_and_21_in_the_gap_weeks() {
        let fx = TradingHours::fx();
        // Winter (GMT, New York EST): Friday 9 January 2026 closes 22:00 UTC.
        assert!(fx.is_open(utc("2026-01-09T21:59:00Z"), &[]));
        assert!(!fx.is_open(utc("2026-01-09T22:00:00Z"), &[]));
        // Summer (BST, EDT): Friday 12 June 2026 closes 21:00 UTC = 22:00 London.
        assert!(fx.is_open(utc("2026-06-12T20:59:00Z"), &[]));
        assert!(!fx.is_open(utc("2026-06-12T21:00:00Z"), &[]));
        // The US changed on 8 March 2026, the UK on 29 March: on Friday 13 March the close is
        // 17:00 EDT = 21:00 UTC = 21:00 London (GMT), an hour early for a London trader.
        assert!(!fx.is_open(utc("2026-03-13T21:00:00Z"), &[]));
        assert!(fx.is_open(utc("2026-03-13T20:59:00Z"), &[]));
        // And it reopens Sunday 15 March 21:00 UTC, an hour before London's usual 22:00.
        assert!(!fx.is_open(utc("2026-03-15T20:59:00Z"), &[]));
        assert!(fx.is_open(utc("2026-03-15T21:00:00Z"), &[]));
        // Saturday is closed.
        assert!(!fx.is_open(utc("2026-01-10T12:00:00Z"), &[]));
    }

    #[test]
    fn current_window_ends_at_the_weekend_close_and_next_open_is_sunday() {
        let fx = TradingHours::fx();
        let w = fx.current(utc("2026-01-07T10:00:00Z"), &[]).expect("open");
        assert_eq!(w.close, utc("2026-01-09T22:00:00Z"));
        assert_eq!(
            fx.next_open(utc("2026-01-10T10:00:00Z"), &[]),
            Some(utc("2026-01-11T22:00:00Z"))
        );
    }

    #[test]
    fn a_holiday_closes_the_day_and_an_early_close_cuts_it() {
        let ger = TradingHours::weekdays(chrono_tz::Europe::Berlin, hm(8, 0), hm(22, 0));
        let xmas = Holiday {
            date: NaiveDate::from_ymd_opt(2026, 12, 25).expect("date"),
            early_close: None,
        };
        let eve = Holiday {
            date: NaiveDate::from_ymd_opt(2026, 12, 24).expect("date"),
            early_close: Some(hm(14, 0)),
        };
        let hols = [xmas, eve];
        // 24 December: open until 14:00 Berlin (13:00 UTC) only.
        assert!(ger.is_open(utc("2026-12-24T12:59:00Z"), &hols));
        assert!(!ger.is_open(utc("2026-12-24T13:00:00Z"), &hols));
        assert_eq!(
            ger.current(utc("2026-12-24T10:00:00Z"), &hols)
                .map(|w| w.close),
            Some(utc("2026-12-24T13:00:00Z"))
        );
        // 25 December closed; without the holiday it would be open.
        assert!(!ger.is_open(utc("2026-12-25T10:00:00Z"), &hols));
        assert!(ger.is_open(utc("2026-12-25T10:00:00Z"), &[]));
        assert_eq!(
            ger.next_open(utc("2026-12-25T10:00:00Z"), &hols),
            Some(utc("2026-12-28T07:00:00Z"))
        );
    }

    #[test]
    fn ig_opening_hours_round_trip_through_market_times() {
        let london = chrono_tz::Europe::London;
        let h = TradingHours::from_ig([("07:00", "17:00")], london).expect("valid");
        assert!(h.is_open(utc("2026-01-07T16:59:00Z"), &[]));
        assert!(!h.is_open(utc("2026-01-07T17:00:00Z"), &[]));
        assert!(!h.is_open(utc("2026-01-07T06:59:00Z"), &[]));
        // In summer the same local window is an hour earlier in UTC.
        assert!(!h.is_open(utc("2026-07-07T16:00:00Z"), &[]));
        assert_eq!(
            h.ig_daily_times(utc("2026-01-07T12:00:00Z"), london),
            vec![("07:00".to_string(), "17:00".to_string())]
        );
        // A window over midnight, and "23:59" as midnight.
        let night = TradingHours::from_ig([("22:00", "06:00")], london).expect("valid");
        assert!(night.is_open(utc("2026-01-07T23:30:00Z"), &[]));
        assert!(night.is_open(utc("2026-01-08T05:59:00Z"), &[]));
        assert!(!night.is_open(utc("2026-01-08T06:00:00Z"), &[]));
        let full = TradingHours::from_ig([("00:00", "23:59")], london).expect("valid");
        assert!(full.is_open(utc("2026-01-07T23:59:30Z"), &[]));
        assert_eq!(
            TradingHours::from_ig([("7am", "17:00")], london),
            Err(BadHours("7am".into()))
        );
    }

    #[test]
    fn daily_patterns_for_ig_market_times() {
        let london = chrono_tz::Europe::London;
        let at = utc("2026-01-10T12:00:00Z"); // a Saturday: the pattern is still the week's
        assert_eq!(
            TradingHours::fx().ig_daily_times(at, london),
            vec![("00:00".to_string(), "23:59".to_string())]
        );
        let gold = TradingHours::overnight(chrono_tz::America::New_York, hm(18, 0), hm(17, 0));
        assert_eq!(
            gold.ig_daily_times(at, london),
            vec![("23:00".to_string(), "22:00".to_string())]
        );
        let ger = TradingHours::weekdays(chrono_tz::Europe::Berlin, hm(1, 15), hm(22, 0));
        assert_eq!(
            ger.ig_daily_times(at, london),
            vec![("00:15".to_string(), "21:00".to_string())]
        );
        // Read back, the pattern gives the same daily windows.
        let back = TradingHours::from_ig([("23:00", "22:00")], london).expect("valid");
        assert!(!back.is_open(utc("2026-01-07T22:30:00Z"), &[]));
        assert!(back.is_open(utc("2026-01-07T23:30:00Z"), &[]));
    }

    #[test]
    fn both_intersects_ig_windows_with_the_weekly_rule() {
        let london = chrono_tz::Europe::London;
        let ig = TradingHours::from_ig([("00:00", "23:59")], london).expect("valid");
        let fx = TradingHours::fx();
        let at = utc("2026-01-10T12:00:00Z");
        let w = ig.windows_both(&fx, at, &[]);
        assert!(!w.iter().any(|w| w.open <= at && at < w.close));
    }
}
