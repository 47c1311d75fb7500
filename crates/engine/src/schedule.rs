//! Scheduled flattening (`[[engine.schedule]]`): at a local time of day (before the weekend
//! close, before the 22:00 London rollover, or any time the trader chooses), every position on
//! the listed instruments is closed, and entries on them are refused from
//! `no_entries_before_min` minutes before until `no_entries_after_min` minutes after.
//!
//! News blackouts ([`crate::news`]) are one-off windows of the same kind.
//!
//! The engine asks [`Schedule::next_change`] once and checks a single timestamp per event until
//! then: the schedule costs nothing on the quote path.

use chrono::{Datelike, Duration, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::config::{parse_tz, HhMm};
use crate::error::ConfigError;
use crate::news::{NewsConfig, NewsEvent};
use scalper_model::{Epic, Timestamp};

/// One scheduled flatten.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlattenAt {
    /// A name for logs and refusals (`weekend`, `rollover`). Default: the time and zone.
    #[serde(default)]
    pub name: Option<String>,
    /// Local time of day of the flatten.
    pub at: HhMm,
    /// IANA zone of `at`. Default `Europe/London` (IG's dealing day).
    #[serde(default = "london")]
    pub timezone: String,
    /// Days it applies on (local); every day when empty.
    #[serde(default)]
    pub days: Vec<Weekday>,
    /// Instruments (friendly names such as `EUR_USD`, or epics); every instrument when empty.
    #[serde(default)]
    pub instruments: Vec<String>,
    /// Entries are refused from this many minutes before `at`. Default 5.
    #[serde(default = "five")]
    pub no_entries_before_min: u32,
    /// ... until this many minutes after `at`. Default 0.
    #[serde(default)]
    pub no_entries_after_min: u32,
}

fn london() -> String {
    "Europe/London".to_string()
}

fn five() -> u32 {
    5
}

impl FlattenAt {
    /// What logs and refusals call it.
    pub fn label(&self) -> String {
        self.name
            .clone()
            .unwrap_or_else(|| format!("{} {}", self.at, self.timezone))
    }
}

/// A [`FlattenAt`] with its zone and instruments resolved.
#[derive(Debug, Clone)]
struct Item {
    cfg: FlattenAt,
    tz: Tz,
    /// `None`: every instrument.
    epics: Option<Vec<Epic>>,
}

/// The scheduled flattens and news windows of an engine.
#[derive(Debug, Clone, Default)]
pub struct Schedule {
    items: Vec<Item>,
    /// Market hours ([`crate::calendar`]).
    pub(crate) calendar: crate::calendar::Calendar,
    /// News events at or above the configured impact, in time order.
    news: Vec<NewsEvent>,
    news_before_ms: i64,
    news_after_ms: i64,
    news_flatten: bool,
}

/// Why entries are refused now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Blackout {
    /// A scheduled flatten's window, by its label.
    Scheduled(String),
    /// A news event's window: its title and scope.
    News(String),
    /// The market is closed (by its hours or a holiday); it opens again at, if known.
    MarketClosed(Option<Timestamp>),
    /// The market closes at this instant, within `no_entries_before_close_min`.
    MarketClosing(Timestamp),
}

/// Instruments a due flatten closes.
#[derive(Debug, Clone, Copy)]
pub enum DueScope<'a> {
    All,
    Only(&'a [Epic]),
    News(&'a NewsEvent),
}

impl DueScope<'_> {
    pub fn covers(&self, epic: &Epic) -> bool {
        match self {
            DueScope::All => true,
            DueScope::Only(list) => list.contains(epic),
            DueScope::News(ev) => ev.affects(epic),
        }
    }
}

/// How far a blackout reaches around its flatten, at most (minutes), checked at validation.
const MAX_WINDOW_MIN: u32 = 24 * 60;

impl Schedule {
    pub fn new(
        cfg: &[FlattenAt],
        news: &NewsConfig,
        calendar: &crate::calendar::CalendarConfig,
    ) -> Result<Self, ConfigError> {
        let calendar = crate::calendar::Calendar::new(calendar)?;
        if news.before_min > MAX_WINDOW_MIN || news.after_min > MAX_WINDOW_MIN {
            return Err(ConfigError::Invalid {
                field: "news".into(),
                message: format!("before_min and after_min must be at most {MAX_WINDOW_MIN}"),
            });
        }
        let items = cfg
            .iter()
            .map(|c| {
                let tz = parse_tz(&c.timezone)?;
                if c.no_entries_before_min > MAX_WINDOW_MIN || c.no_entries_after_min > MAX_WINDOW_MIN
                {
                    return Err(ConfigError::Invalid {
                        field: "schedule".into(),
                        message: format!(
                            "{}: no_entries_before_min and no_entries_after_min must be at most {MAX_WINDOW_MIN}",
                            c.label()
                        ),
                    });
                }
                let epics = if c.instruments.is_empty() {
                    None
                } else {
                    Some(
                        c.instruments
                            .iter()
                            .map(|name| {
                                scalper_model::market::resolve_instrument(name).ok_or_else(|| {
                                    ConfigError::Invalid {
                                        field: "schedule.instruments".into(),
                                        message: format!(
                                            "{name:?} is neither a known instrument name (EUR_USD) nor an epic"
                                        ),
                                    }
                                })
                            })
                            .collect::<Result<Vec<_>, _>>()?,
                    )
                };
                Ok(Item {
                    cfg: c.clone(),
                    tz,
                    epics,
                })
            })
            .collect::<Result<_, ConfigError>>()?;
        let mut events: Vec<NewsEvent> = news
            .events
            .iter()
            .filter(|e| e.impact >= news.min_impact)
            .cloned()
            .collect();
        events.sort_by_key(|e| e.at);
        Ok(Self {
            items,
            calendar,
            news: events,
            news_before_ms: i64::from(news.before_min) * 60_000,
            news_after_ms: i64::from(news.after_min) * 60_000,
            news_flatten: news.flatten,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty() && self.news.is_empty() && self.calendar.is_empty()
    }

    fn news_window(&self, e: &NewsEvent) -> (Timestamp, Timestamp) {
        (
            e.at.plus_millis(-self.news_before_ms),
            e.at.plus_millis(self.news_after_ms.max(1)),
        )
    }

    /// The flatten instants of `item` on local dates around `now` (a week back and ahead).
    fn flattens(item: &Item, now: Timestamp) -> impl Iterator<Item = Timestamp> + '_ {
        let today = now
            .to_datetime()
            .unwrap_or_default()
            .with_timezone(&item.tz)
            .date_naive();
        (-8i64..=8).filter_map(move |d| {
            let date = today.checked_add_signed(Duration::days(d))?;
            if !item.cfg.days.is_empty() && !item.cfg.days.contains(&date.weekday()) {
                return None;
            }
            scalper_model::hours::local_instant(item.tz, date, item.cfg.at.0)
        })
    }

    fn window(item: &Item, flatten: Timestamp) -> (Timestamp, Timestamp) {
        let min = |m: u32| i64::from(m) * 60_000;
        (
            flatten.plus_millis(-min(item.cfg.no_entries_before_min)),
            flatten.plus_millis(min(item.cfg.no_entries_after_min)),
        )
    }

    fn applies(item: &Item, epic: &Epic) -> bool {
        item.epics.as_ref().is_none_or(|e| e.contains(epic))
    }

    /// The window (scheduled flatten or news) that holds `now` for `epic`, if any.
    pub fn blackout(&self, now: Timestamp, epic: &Epic) -> Option<Blackout> {
        if let Some(block) = self.calendar.block(now, epic) {
            return Some(match block {
                crate::calendar::CalendarBlock::Closed(opens) => Blackout::MarketClosed(opens),
                crate::calendar::CalendarBlock::Closing(at) => Blackout::MarketClosing(at),
            });
        }
        let scheduled = self.items.iter().find_map(|item| {
            if !Self::applies(item, epic) {
                return None;
            }
            Self::flattens(item, now)
                .any(|f| {
                    let (from, to) = Self::window(item, f);
                    from <= now && now < to.max(f.plus_millis(1))
                })
                .then(|| Blackout::Scheduled(item.cfg.label()))
        });
        scheduled.or_else(|| {
            self.news
                .iter()
                .find(|e| {
                    let (from, to) = self.news_window(e);
                    from <= now && now < to && e.affects(epic)
                })
                .map(|e| Blackout::News(format!("{} ({}) at {}", e.title, e.scope, e.at)))
        })
    }

    /// Flattens due in `(after, now]`, with a label and the instruments each closes.
    pub fn due(&self, after: Timestamp, now: Timestamp) -> Vec<(String, DueScope<'_>)> {
        let mut out: Vec<(String, DueScope<'_>)> = self
            .items
            .iter()
            .filter(|item| Self::flattens(item, now).any(|f| after < f && f <= now))
            .map(|item| {
                let scope = item.epics.as_deref().map_or(DueScope::All, DueScope::Only);
                (item.cfg.label(), scope)
            })
            .collect();
        for (epic, close) in self.calendar.due(after, now) {
            out.push((
                format!("before the market closes at {close}"),
                DueScope::Only(std::slice::from_ref(epic)),
            ));
        }
        if self.news_flatten {
            for e in &self.news {
                let (from, _) = self.news_window(e);
                if after < from && from <= now {
                    out.push((
                        format!("news: {} ({})", e.title, e.scope),
                        DueScope::News(e),
                    ));
                }
            }
        }
        out
    }

    /// The first instant after `now` at which a blackout starts or ends or a flatten is due
    /// (`i64::MAX` millis when there is none within a week).
    pub fn next_change(&self, now: Timestamp) -> Timestamp {
        let mut next = self.calendar.next_change(now);
        for item in &self.items {
            for f in Self::flattens(item, now) {
                let (from, to) = Self::window(item, f);
                for t in [from, f, to] {
                    if t > now && t < next {
                        next = t;
                    }
                }
            }
        }
        for e in &self.news {
            let (from, to) = self.news_window(e);
            for t in [from, to] {
                if t > now && t < next {
                    next = t;
                }
            }
        }
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        Timestamp::from_datetime(
            chrono::DateTime::parse_from_rfc3339(s)
                .unwrap()
                .with_timezone(&chrono::Utc),
        )
    }

    fn friday_close() -> FlattenAt {
        FlattenAt {
            name: Some("weekend".into()),
            at: "21:50".parse().unwrap(),
            timezone: "Europe/London".into(),
            days: vec![Weekday::Fri],
            instruments: vec![],
            no_entries_before_min: 30,
            no_entries_after_min: 0,
        }
    }

    #[test]
    fn a_friday_flatten_follows_london_time_across_the_clock_change() {
        let s = Schedule::new(
            &[friday_close()],
            &NewsConfig::default(),
            &crate::calendar::CalendarConfig::default(),
        )
        .unwrap();
        let eur = Epic::new("CS.D.EURUSD.CFD.IP").unwrap();
        // Summer (BST, UTC+1): 21:50 London is 20:50 UTC.
        assert!(s.blackout(ts("2026-07-03T20:19:00Z"), &eur).is_none());
        assert!(s.blackout(ts("2026-07-03T20:20:00Z"), &eur).is_some());
        assert_eq!(
            s.due(ts("2026-07-03T20:49:00Z"), ts("2026-07-03T20:51:00Z"))
                .len(),
            1
        );
        assert!(s.blackout(ts("2026-07-03T20:51:00Z"), &eur).is_none());
        // Winter (GMT): 21:50 UTC; not on Thursday.
        assert!(s
            .due(ts("2026-12-03T21:49:00Z"), ts("2026-12-03T21:51:00Z"))
            .is_empty());
        assert_eq!(
            s.due(ts("2026-12-04T21:49:00Z"), ts("2026-12-04T21:51:00Z"))
                .len(),
            1
        );
        assert_eq!(
            s.next_change(ts("2026-12-04T12:00:00Z")),
            ts("2026-12-04T21:20:00Z"),
            "the blackout's start is the next change"
        );
    }

    #[test]
    fn instruments_narrow_it_and_unknown_names_are_refused() {
        let mut c = friday_close();
        c.instruments = vec!["GBP_USD".into()];
        let s = Schedule::new(
            &[c.clone()],
            &NewsConfig::default(),
            &crate::calendar::CalendarConfig::default(),
        )
        .unwrap();
        let inside = ts("2026-12-04T21:45:00Z");
        assert!(s
            .blackout(inside, &Epic::new("CS.D.EURUSD.CFD.IP").unwrap())
            .is_none());
        assert!(s
            .blackout(inside, &Epic::new("CS.D.GBPUSD.CFD.IP").unwrap())
            .is_some());
        c.instruments = vec!["EURO_DOLLAR".into()];
        let e = Schedule::new(
            &[c],
            &NewsConfig::default(),
            &crate::calendar::CalendarConfig::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("EURO_DOLLAR"), "{e}");
    }

    #[test]
    fn news_windows_block_affected_instruments_and_may_flatten() {
        let news = NewsConfig {
            before_min: 10,
            after_min: 5,
            flatten: true,
            events: crate::news::parse_csv(
                "time,scope,impact,title\n2026-12-04T13:30:00Z,USD,high,NFP\n2026-12-04T10:00:00Z,EUR,low,minor\n",
            )
            .unwrap(),
            ..NewsConfig::default()
        };
        let s = Schedule::new(&[], &news, &crate::calendar::CalendarConfig::default()).unwrap();
        let eur = Epic::new("CS.D.EURUSD.CFD.IP").unwrap();
        let ger = Epic::new("IX.D.DAX.IFMM.IP").unwrap();
        assert!(s.blackout(ts("2026-12-04T13:19:00Z"), &eur).is_none());
        assert!(matches!(
            s.blackout(ts("2026-12-04T13:20:00Z"), &eur),
            Some(Blackout::News(t)) if t.starts_with("NFP (USD)")
        ));
        assert!(s.blackout(ts("2026-12-04T13:34:59Z"), &eur).is_some());
        assert!(s.blackout(ts("2026-12-04T13:35:00Z"), &eur).is_none());
        assert!(
            s.blackout(ts("2026-12-04T13:25:00Z"), &ger).is_none(),
            "USD news does not touch a EUR index"
        );
        assert!(
            s.blackout(ts("2026-12-04T10:00:00Z"), &eur).is_none(),
            "low impact is below the default high"
        );
        let due = s.due(ts("2026-12-04T13:19:00Z"), ts("2026-12-04T13:20:00Z"));
        assert_eq!(due.len(), 1);
        assert!(due[0].1.covers(&eur) && !due[0].1.covers(&ger));
        assert_eq!(
            s.next_change(ts("2026-12-04T12:00:00Z")),
            ts("2026-12-04T13:20:00Z")
        );
    }
}
