//! Market hours in the engine (`[engine.calendar]`): each instrument's trading windows from
//! the broker's `openingHours` (daily windows in the account's zone) within the weekly rule of
//! the built-in market (the weekend; FX's New York close, which moves an hour in the
//! clock-change weeks) and configured holidays. When IG gives no hours (as for FX) the weekly
//! rule alone applies; when it says `00:00`-`23:59` the market has no calendar (its status
//! alone says when it is closed). No entry while a market is closed or within
//! `no_entries_before_close_min` of its close; positions are closed
//! `flatten_before_close_min` before a long close (a weekend or a holiday) when
//! `flatten_before = "long_close"`, before every close with `"every_close"`.
//!
//! The live runner announces each market's hours ([`crate::EngineEvent::TradingHours`]) at
//! start and on every market refresh; a market never announced (backtests) has no calendar.
//! Windows are expanded when hours arrive and about once a day after, so a decision only
//! scans a handful of precomputed windows.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::config::{parse_tz, HhMm};
use crate::error::ConfigError;
use scalper_model::hours::{Holiday, TradingHours, Window};
use scalper_model::{Epic, Timestamp};

/// When to flatten before a market closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlattenBefore {
    /// Before closes of more than [`LONG_CLOSE_MS`]: the weekend and holidays.
    #[default]
    LongClose,
    /// Before every close (also an index's nightly break).
    EveryClose,
    /// Never: positions are held through closes.
    Never,
}

/// `[engine.calendar]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CalendarConfig {
    /// Use market hours at all. Default true.
    pub enabled: bool,
    /// Zone of IG's `openingHours` times (the account's; IG UK accounts: London).
    pub ig_timezone: String,
    /// Apply the built-in markets' weekly hours (the weekend; FX Sunday to Friday 17:00 New
    /// York time) on top of IG's daily windows. Default true; `demo` turns it off against its
    /// always-open sandbox.
    pub weekly_rules: bool,
    /// No entries from this many minutes before a close. Default 10.
    pub no_entries_before_close_min: u32,
    /// Which closes positions are flattened before. Default `long_close`.
    pub flatten_before: FlattenBefore,
    /// How many minutes before such a close (entries are refused from then on too, whatever
    /// `no_entries_before_close_min` says). Default 5.
    pub flatten_before_close_min: u32,
    /// Closed days and early closes.
    pub holidays: Vec<HolidayConfig>,
}

impl Default for CalendarConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            ig_timezone: "Europe/London".into(),
            weekly_rules: true,
            no_entries_before_close_min: 10,
            flatten_before: FlattenBefore::LongClose,
            flatten_before_close_min: 5,
            holidays: Vec::new(),
        }
    }
}

/// One holiday: `{ date = "2026-12-25" }`, `{ date = "2026-12-24", early_close = "13:00",
/// instruments = ["GER40"] }`. The date and time are the market's own (its zone).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HolidayConfig {
    #[serde(deserialize_with = "date_ymd")]
    pub date: NaiveDate,
    #[serde(default)]
    pub early_close: Option<HhMm>,
    /// Instruments (friendly names or epics); every instrument when empty.
    #[serde(default)]
    pub instruments: Vec<String>,
    /// A name for logs (`Christmas`).
    #[serde(default)]
    pub name: Option<String>,
}

/// A `YYYY-MM-DD` date, with an error that shows what was given.
fn date_ymd<'de, D: serde::Deserializer<'de>>(d: D) -> Result<NaiveDate, D::Error> {
    let s = String::deserialize(d)?;
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|_| {
        serde::de::Error::custom(format!("{s:?} is not a date (YYYY-MM-DD, e.g. 2026-12-25)"))
    })
}

/// A close longer than this is a "long close" (12 hours: weekends and holidays, not an index's
/// nightly break).
pub const LONG_CLOSE_MS: i64 = 12 * 3_600_000;
/// Windows are expanded again this long after the last expansion.
const REEXPAND_MS: i64 = 24 * 3_600_000;
/// Longest configurable buffer before a close (minutes).
const MAX_BUFFER_MIN: u32 = 24 * 60;

/// Why the calendar refuses entries now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CalendarBlock {
    /// Closed; opens again at (if known within a week).
    Closed(Option<Timestamp>),
    /// Closes at this instant, within the no-entry buffer.
    Closing(Timestamp),
}

#[derive(Debug, Clone)]
struct Market {
    epic: Epic,
    hours: TradingHours,
    /// The built-in market's weekly rule, when it applies.
    weekly: Option<TradingHours>,
    holidays: Vec<Holiday>,
    windows: Vec<Window>,
    expanded_at: Timestamp,
}

/// The engine's calendar: markets with announced hours and their windows.
#[derive(Debug, Clone)]
pub struct Calendar {
    cfg: CalendarConfig,
    tz: chrono_tz::Tz,
    holidays: Vec<(Option<Vec<Epic>>, Holiday)>,
    markets: Vec<Market>,
}

impl Default for Calendar {
    fn default() -> Self {
        Self {
            cfg: CalendarConfig::default(),
            tz: chrono_tz::Europe::London,
            holidays: Vec::new(),
            markets: Vec::new(),
        }
    }
}

fn invalid(message: String) -> ConfigError {
    ConfigError::Invalid {
        field: "calendar".into(),
        message,
    }
}

impl Calendar {
    pub fn new(cfg: &CalendarConfig) -> Result<Self, ConfigError> {
        let tz = parse_tz(&cfg.ig_timezone)?;
        if cfg.no_entries_before_close_min > MAX_BUFFER_MIN
            || cfg.flatten_before_close_min > MAX_BUFFER_MIN
        {
            return Err(invalid(format!(
                "no_entries_before_close_min and flatten_before_close_min must be at most {MAX_BUFFER_MIN}"
            )));
        }
        let holidays = cfg
            .holidays
            .iter()
            .map(|h| {
                let epics = if h.instruments.is_empty() {
                    None
                } else {
                    Some(
                        h.instruments
                            .iter()
                            .map(|n| {
                                scalper_model::market::resolve_instrument(n).ok_or_else(|| {
                                    invalid(format!(
                                        "holiday {}: {n:?} is neither a known instrument name (GER40) nor an epic",
                                        h.date
                                    ))
                                })
                            })
                            .collect::<Result<Vec<_>, _>>()?,
                    )
                };
                Ok((
                    epics,
                    Holiday {
                        date: h.date,
                        early_close: h.early_close.map(|t| t.0),
                    },
                ))
            })
            .collect::<Result<_, ConfigError>>()?;
        Ok(Self {
            cfg: cfg.clone(),
            tz,
            holidays,
            markets: Vec::new(),
        })
    }

    pub fn is_empty(&self) -> bool {
        self.markets.is_empty()
    }

    /// The broker's hours for `epic` (`times`: IG's `openingHours` pairs; empty when it gave
    /// none). Returns what changed, for the log (`None`: nothing, or the calendar is off).
    pub fn set_hours(
        &mut self,
        epic: &Epic,
        times: &[(String, String)],
        now: Timestamp,
    ) -> Result<Option<String>, String> {
        if !self.cfg.enabled {
            return Ok(None);
        }
        let hours =
            TradingHours::from_ig(times.iter().map(|(o, c)| (o.as_str(), c.as_str())), self.tz)
                .map_err(|e| format!("{epic}: {e}; its hours are not used"))?;
        let weekly = if self.cfg.weekly_rules {
            scalper_model::catalogue::by_epic(epic).map(|(spec, _)| spec.trading_hours())
        } else {
            None
        };
        // IG's windows when it gives some; the built-in week when it gives none; nothing when
        // it says the market trades all day (the sandbox's always-open mode): its status then
        // says when it is closed.
        if hours.is_always() && (weekly.is_none() || !times.is_empty()) {
            let had = self.markets.iter().position(|m| &m.epic == epic);
            if let Some(i) = had {
                self.markets.remove(i);
            }
            return Ok(None);
        }
        let holidays: Vec<Holiday> = self
            .holidays
            .iter()
            .filter(|(epics, _)| {
                epics.as_ref().is_none_or(|list| {
                    list.iter()
                        .any(|e| scalper_model::catalogue::same_market(e, epic))
                })
            })
            .map(|(_, h)| *h)
            .collect();
        // A refresh with the same hours (every few minutes) changes nothing.
        if self
            .markets
            .iter()
            .any(|x| &x.epic == epic && x.hours == hours && x.weekly == weekly)
        {
            return Ok(None);
        }
        let mut m = Market {
            epic: epic.clone(),
            hours,
            weekly,
            holidays,
            windows: Vec::new(),
            expanded_at: now,
        };
        expand(&mut m, now);
        let describe = describe(&m, now);
        match self.markets.iter_mut().find(|x| &x.epic == epic) {
            Some(old) => *old = m,
            None => self.markets.push(m),
        }
        Ok(Some(describe))
    }

    /// Expands windows that are due (about daily).
    pub fn refresh(&mut self, now: Timestamp) {
        for m in &mut self.markets {
            if now.since(m.expanded_at) >= REEXPAND_MS || m.expanded_at.since(now) >= REEXPAND_MS {
                expand(m, now);
            }
        }
    }

    /// Each market's state at `now` (`open until ...`, `closed, opens ...`), for the log.
    pub fn describe_all(&self, now: Timestamp) -> Vec<(Epic, String)> {
        self.markets
            .iter()
            .map(|m| (m.epic.clone(), describe(m, now)))
            .collect()
    }

    fn market(&self, epic: &Epic) -> Option<&Market> {
        self.markets.iter().find(|m| &m.epic == epic)
    }

    /// Whether entries on `epic` are refused now.
    pub fn block(&self, now: Timestamp, epic: &Epic) -> Option<CalendarBlock> {
        let m = self.market(epic)?;
        match m
            .windows
            .iter()
            .position(|w| w.open <= now && now < w.close)
        {
            None => Some(CalendarBlock::Closed(
                m.windows.iter().map(|w| w.open).find(|&o| o > now),
            )),
            Some(i) => {
                let w = m.windows[i];
                // From the flatten before this close on, even when the no-entry buffer is
                // shorter: an entry after the flatten would be held through the close.
                let flatten = if self.flattens_before(m, i) {
                    self.cfg.flatten_before_close_min
                } else {
                    0
                };
                let buffer = i64::from(self.cfg.no_entries_before_close_min.max(flatten)) * 60_000;
                (w.close.since(now) <= buffer).then_some(CalendarBlock::Closing(w.close))
            }
        }
    }

    /// Whether a flatten applies before the close of `w` (of market `m`).
    fn flattens_before(&self, m: &Market, i: usize) -> bool {
        match self.cfg.flatten_before {
            FlattenBefore::Never => false,
            FlattenBefore::EveryClose => true,
            FlattenBefore::LongClose => {
                let w = m.windows[i];
                m.windows
                    .get(i + 1)
                    .is_none_or(|next| next.open.since(w.close) > LONG_CLOSE_MS)
            }
        }
    }

    fn flatten_at(&self, w: &Window) -> Timestamp {
        w.close
            .plus_millis(-i64::from(self.cfg.flatten_before_close_min) * 60_000)
    }

    /// Markets whose pre-close flatten is in `(after, now]`, with the close.
    pub fn due(&self, after: Timestamp, now: Timestamp) -> Vec<(&Epic, Timestamp)> {
        let mut out = Vec::new();
        for m in &self.markets {
            for (i, w) in m.windows.iter().enumerate() {
                let f = self.flatten_at(w).max(w.open);
                if after < f && f <= now && self.flattens_before(m, i) {
                    out.push((&m.epic, w.close));
                }
            }
        }
        out
    }

    /// The first instant after `now` when a market opens or closes, a no-entry buffer starts,
    /// a flatten is due or windows need expanding.
    pub fn next_change(&self, now: Timestamp) -> Timestamp {
        let mut next = Timestamp::from_millis(i64::MAX);
        let buffer = i64::from(self.cfg.no_entries_before_close_min) * 60_000;
        for m in &self.markets {
            let mut consider = |t: Timestamp| {
                if t > now && t < next {
                    next = t;
                }
            };
            consider(m.expanded_at.plus_millis(REEXPAND_MS));
            for (i, w) in m.windows.iter().enumerate() {
                consider(w.open);
                consider(w.close);
                consider(w.close.plus_millis(-buffer));
                if self.flattens_before(m, i) {
                    consider(self.flatten_at(w).max(w.open));
                }
            }
        }
        next
    }
}

fn expand(m: &mut Market, now: Timestamp) {
    m.windows = match &m.weekly {
        Some(weekly) if m.hours.is_always() => weekly.windows(now, &m.holidays),
        Some(weekly) => m.hours.windows_both(weekly, now, &m.holidays),
        None => m.hours.windows(now, &m.holidays),
    };
    m.expanded_at = now;
}

fn describe(m: &Market, now: Timestamp) -> String {
    let next = m.windows.iter().find(|w| w.close > now);
    match next {
        Some(w) if w.open <= now => format!("{}: open until {}", m.epic, w.close),
        Some(w) => format!("{}: closed, opens {}", m.epic, w.open),
        None => format!("{}: no trading window within a week", m.epic),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> Timestamp {
        let dt = chrono::DateTime::parse_from_rfc3339(s).expect("test time");
        Timestamp::from_datetime(dt.with_timezone(&chrono::Utc))
    }

    fn eur() -> Epic {
        Epic::new("CS.D.EURUSD.CFD.IP").expect("epic")
    }

    #[test]
    fn fx_with_no_ig_hours_follows_the_new_york_week() {
        let mut c = Calendar::new(&CalendarConfig::default()).expect("valid");
        let now = utc("2026-01-09T12:00:00Z"); // Friday
        assert!(c.set_hours(&eur(), &[], now).expect("ok").is_some());
        assert_eq!(c.block(now, &eur()), None);
        // 10 minutes before the 22:00 UTC close: no entries.
        assert_eq!(
            c.block(utc("2026-01-09T21:50:00Z"), &eur()),
            Some(CalendarBlock::Closing(utc("2026-01-09T22:00:00Z")))
        );
        assert_eq!(
            c.block(utc("2026-01-10T09:00:00Z"), &eur()),
            Some(CalendarBlock::Closed(Some(utc("2026-01-11T22:00:00Z"))))
        );
        // The flatten: 5 minutes before the weekend close, not before a daily roll.
        assert_eq!(
            c.due(utc("2026-01-09T21:54:00Z"), utc("2026-01-09T21:55:00Z")),
            vec![(&eur(), utc("2026-01-09T22:00:00Z"))]
        );
        assert_eq!(
            c.next_change(utc("2026-01-09T21:51:00Z")),
            utc("2026-01-09T21:55:00Z")
        );
    }

    #[test]
    fn no_entry_after_the_pre_close_flatten_even_with_a_shorter_buffer() {
        let cfg = CalendarConfig {
            no_entries_before_close_min: 2,
            flatten_before_close_min: 5,
            ..CalendarConfig::default()
        };
        let mut c = Calendar::new(&cfg).expect("valid");
        c.set_hours(&eur(), &[], utc("2026-01-09T12:00:00Z"))
            .expect("ok");
        assert_eq!(
            c.block(utc("2026-01-09T21:56:00Z"), &eur()),
            Some(CalendarBlock::Closing(utc("2026-01-09T22:00:00Z")))
        );
        assert_eq!(c.block(utc("2026-01-09T21:54:00Z"), &eur()), None);
    }

    #[test]
    fn the_gap_week_close_is_an_hour_early_in_london() {
        let mut c = Calendar::new(&CalendarConfig::default()).expect("valid");
        let now = utc("2026-03-13T12:00:00Z");
        c.set_hours(&eur(), &[], now).expect("ok");
        assert_eq!(
            c.due(utc("2026-03-13T20:50:00Z"), utc("2026-03-13T20:56:00Z")),
            vec![(&eur(), utc("2026-03-13T21:00:00Z"))]
        );
    }

    #[test]
    fn ig_windows_and_holidays_limit_an_index() {
        let cfg = CalendarConfig {
            holidays: vec![HolidayConfig {
                date: NaiveDate::from_ymd_opt(2026, 12, 24).expect("date"),
                early_close: Some(HhMm(
                    chrono::NaiveTime::from_hms_opt(13, 0, 0).expect("time"),
                )),
                instruments: vec!["GER40".into()],
                name: None,
            }],
            ..CalendarConfig::default()
        };
        let mut c = Calendar::new(&cfg).expect("valid");
        let dax = Epic::new("IX.D.DAX.IFMM.IP").expect("epic");
        let now = utc("2026-12-24T08:00:00Z");
        c.set_hours(&dax, &[("07:00".into(), "16:30".into())], now)
            .expect("ok");
        assert_eq!(c.block(now, &dax), None);
        // Early close 13:00 Frankfurt = 12:00 UTC; a long close follows (Christmas weekend).
        assert_eq!(
            c.block(utc("2026-12-24T11:55:00Z"), &dax),
            Some(CalendarBlock::Closing(utc("2026-12-24T12:00:00Z")))
        );
        assert_eq!(
            c.due(utc("2026-12-24T11:50:00Z"), utc("2026-12-24T11:55:00Z")),
            vec![(&dax, utc("2026-12-24T12:00:00Z"))]
        );
        // EUR/USD is not on that holiday.
        c.set_hours(&eur(), &[], now).expect("ok");
        assert_eq!(c.block(utc("2026-12-24T12:30:00Z"), &eur()), None);
    }

    #[test]
    fn off_or_unknown_hours_change_nothing() {
        let off = CalendarConfig {
            enabled: false,
            ..CalendarConfig::default()
        };
        let mut c = Calendar::new(&off).expect("valid");
        let sat = utc("2026-01-10T09:00:00Z");
        assert_eq!(c.set_hours(&eur(), &[], sat), Ok(None));
        assert_eq!(c.block(sat, &eur()), None);
        let no_weekly = CalendarConfig {
            weekly_rules: false,
            ..CalendarConfig::default()
        };
        let mut c = Calendar::new(&no_weekly).expect("valid");
        c.set_hours(&eur(), &[("00:00".into(), "23:59".into())], sat)
            .expect("ok");
        assert!(c.is_empty());
        // All day from the broker: no calendar even with the weekly rules on.
        let mut c = Calendar::new(&CalendarConfig::default()).expect("valid");
        c.set_hours(&eur(), &[("00:00".into(), "23:59".into())], sat)
            .expect("ok");
        assert!(c.is_empty());
        assert_eq!(c.block(sat, &eur()), None);
        let e = c
            .set_hours(&eur(), &[("7am".into(), "17:00".into())], sat)
            .unwrap_err();
        assert!(e.contains("7am"), "{e}");
    }
}
