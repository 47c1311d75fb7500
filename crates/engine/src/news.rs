//! News blackouts (`[engine.news]`): a file of scheduled events (time, currency or instrument,
//! impact, title), as CSV or as an iCalendar (`.ics`) export; no entries on an affected
//! instrument from `before_min` minutes before an event to `after_min` after, and with
//! `flatten = true` its positions are closed when the window opens. The windows join the
//! [`crate::schedule::Schedule`]. The CLI reads the file; the engine only gets the events.
//!
//! An event's scope is a currency (`USD`: every instrument quoted in it or with it as base, an
//! index in it included) or an instrument (`GER40`, an epic).

use std::fmt;

use chrono::{NaiveDateTime, TimeZone};
use serde::{Deserialize, Serialize};

use scalper_model::{Epic, Timestamp};

/// How much an event is expected to move prices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Impact {
    Low,
    Medium,
    High,
}

impl std::str::FromStr for Impact {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "low" => Ok(Impact::Low),
            "medium" | "med" => Ok(Impact::Medium),
            "high" => Ok(Impact::High),
            other => Err(format!("impact {other:?} is not low, medium or high")),
        }
    }
}

/// `[engine.news]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NewsConfig {
    /// The events file (`.csv` or `.ics`), read by the CLI at start. None: no blackouts.
    pub file: Option<String>,
    /// Minutes before an event from which entries are refused. Default 5.
    pub before_min: u32,
    /// Minutes after an event until which entries are refused. Default 5.
    pub after_min: u32,
    /// Events below this impact are ignored. Default `high`.
    pub min_impact: Impact,
    /// Close positions on affected instruments when the window opens. Default false.
    pub flatten: bool,
    /// The events read from `file` (not part of the TOML).
    #[serde(skip)]
    pub events: Vec<NewsEvent>,
}

impl Default for NewsConfig {
    fn default() -> Self {
        Self {
            file: None,
            before_min: 5,
            after_min: 5,
            min_impact: Impact::High,
            flatten: false,
            events: Vec::new(),
        }
    }
}

/// One scheduled event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewsEvent {
    pub at: Timestamp,
    /// A currency code (`USD`) or an instrument (`GER40`, an epic).
    pub scope: String,
    pub impact: Impact,
    pub title: String,
}

impl NewsEvent {
    /// Whether the event touches `epic`: its instrument, or a currency of it.
    pub fn affects(&self, epic: &Epic) -> bool {
        if is_currency(&self.scope) {
            return scalper_model::catalogue::by_epic(epic)
                .is_some_and(|(m, _)| m.base == self.scope || m.currency == self.scope);
        }
        scalper_model::market::resolve_instrument(&self.scope).as_ref() == Some(epic)
    }
}

fn is_currency(s: &str) -> bool {
    s.len() == 3 && s.bytes().all(|b| b.is_ascii_uppercase())
}

/// A line of an events file that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewsError {
    pub line: usize,
    pub message: String,
}

impl fmt::Display for NewsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for NewsError {}

fn scope(raw: &str, line: usize) -> Result<String, NewsError> {
    let s = raw.trim();
    if is_currency(s) || scalper_model::market::resolve_instrument(s).is_some() {
        return Ok(s.to_string());
    }
    Err(NewsError {
        line,
        message: format!(
            "{s:?} is neither a currency code (USD) nor an instrument (EUR_USD, an epic)"
        ),
    })
}

/// Parses CSV `time,scope,impact,title` (a header line first; `time` in RFC 3339 with its
/// offset, e.g. `2026-12-04T13:30:00Z`). Blank lines and lines starting with `#` are skipped.
pub fn parse_csv(text: &str) -> Result<Vec<NewsEvent>, NewsError> {
    let mut out = Vec::new();
    let mut header = true;
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let l = raw.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        if header {
            header = false;
            let cols: Vec<_> = l
                .split(',')
                .map(|c| c.trim().to_ascii_lowercase())
                .collect();
            if cols.len() < 4 || cols[..4] != ["time", "scope", "impact", "title"] {
                return Err(NewsError {
                    line,
                    message: format!("the header must be `time,scope,impact,title`, found {l:?}"),
                });
            }
            continue;
        }
        let mut cols = l.splitn(4, ',');
        let (Some(time), Some(sc), Some(impact), Some(title)) =
            (cols.next(), cols.next(), cols.next(), cols.next())
        else {
            return Err(NewsError {
                line,
                message: "needs 4 columns: time,scope,impact,title".into(),
            });
        };
        let at = chrono::DateTime::parse_from_rfc3339(time.trim()).map_err(|e| NewsError {
            line,
            message: format!(
                "time {:?}: {e} (write e.g. 2026-12-04T13:30:00Z)",
                time.trim()
            ),
        })?;
        out.push(NewsEvent {
            at: Timestamp::from_datetime(at.with_timezone(&chrono::Utc)),
            scope: scope(sc, line)?,
            impact: impact
                .parse()
                .map_err(|message| NewsError { line, message })?,
            title: title.trim().trim_matches('"').to_string(),
        });
    }
    out.sort_by_key(|e| e.at);
    Ok(out)
}

/// Parses the `VEVENT`s of an iCalendar export: `DTSTART` (UTC `...Z`, or local with
/// `TZID=`), `SUMMARY` (title; its first three-letter currency code is the scope unless
/// `CATEGORIES` names one), and the impact from `PRIORITY` (1-4 high, 5 medium, 6-9 low) or a
/// `X-IMPACT` line; `high` when neither is given.
pub fn parse_ics(text: &str) -> Result<Vec<NewsEvent>, NewsError> {
    // Unfold continuation lines (RFC 5545: a line starting with a space continues the last).
    let mut lines: Vec<(usize, String)> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let raw = raw.trim_end_matches('\r');
        if let Some(rest) = raw.strip_prefix(' ').or_else(|| raw.strip_prefix('\t')) {
            if let Some(last) = lines.last_mut() {
                last.1.push_str(rest);
                continue;
            }
        }
        lines.push((i + 1, raw.to_string()));
    }
    let mut out = Vec::new();
    let mut current: Option<(usize, Vec<(String, String)>)> = None;
    for (line, l) in lines {
        if l.eq_ignore_ascii_case("BEGIN:VEVENT") {
            current = Some((line, Vec::new()));
        } else if l.eq_ignore_ascii_case("END:VEVENT") {
            if let Some((start, props)) = current.take() {
                out.push(ics_event(start, &props)?);
            }
        } else if let Some((_, props)) = current.as_mut() {
            if let Some((name, value)) = l.split_once(':') {
                // Property names are case-insensitive; parameter values (TZID) are not.
                let name = match name.split_once(';') {
                    Some((n, params)) => format!("{};{params}", n.to_ascii_uppercase()),
                    None => name.to_ascii_uppercase(),
                };
                props.push((name, value.to_string()));
            }
        }
    }
    out.sort_by_key(|e| e.at);
    Ok(out)
}

fn ics_event(line: usize, props: &[(String, String)]) -> Result<NewsEvent, NewsError> {
    let get = |name: &str| {
        props
            .iter()
            .find(|(n, _)| n == name || n.starts_with(&format!("{name};")))
    };
    let err = |message: String| NewsError { line, message };
    let (dt_name, dt) = get("DTSTART").ok_or_else(|| err("a VEVENT without DTSTART".into()))?;
    let at = if let Some(utc) = dt.strip_suffix('Z') {
        let naive = NaiveDateTime::parse_from_str(utc, "%Y%m%dT%H%M%S")
            .map_err(|e| err(format!("DTSTART {dt:?}: {e}")))?;
        Timestamp::from_datetime(chrono::Utc.from_utc_datetime(&naive))
    } else {
        let tz_name = dt_name
            .split(';')
            .find_map(|p| p.strip_prefix("TZID="))
            .ok_or_else(|| {
                err(format!(
                    "DTSTART {dt:?} has neither a Z (UTC) nor a TZID: its time zone is unknown"
                ))
            })?;
        let tz = crate::config::parse_tz(tz_name).map_err(|e| err(e.to_string()))?;
        let naive = NaiveDateTime::parse_from_str(dt, "%Y%m%dT%H%M%S")
            .map_err(|e| err(format!("DTSTART {dt:?}: {e}")))?;
        let local = tz
            .from_local_datetime(&naive)
            .earliest()
            .ok_or_else(|| err(format!("DTSTART {dt:?} does not exist in {tz_name}")))?;
        Timestamp::from_datetime(local.with_timezone(&chrono::Utc))
    };
    let title = get("SUMMARY")
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_default();
    let from_summary = || {
        title
            .split(|c: char| !c.is_ascii_alphabetic())
            .find(|w| is_currency(w))
            .map(str::to_string)
    };
    let scope_text = get("CATEGORIES")
        .map(|(_, v)| v.trim().to_string())
        .or_else(from_summary)
        .ok_or_else(|| {
            err(format!(
                "event {title:?}: no currency or instrument (CATEGORIES, or a code such as USD in SUMMARY)"
            ))
        })?;
    let impact = match (get("X-IMPACT"), get("PRIORITY")) {
        (Some((_, v)), _) => v.parse().map_err(err)?,
        (None, Some((_, p))) => match p.trim().parse::<u8>() {
            Ok(1..=4) => Impact::High,
            Ok(5) => Impact::Medium,
            Ok(_) => Impact::Low,
            Err(_) => return Err(err(format!("PRIORITY {p:?} is not a number"))),
        },
        (None, None) => Impact::High,
    };
    Ok(NewsEvent {
        at,
        scope: scope(&scope_text, line)?,
        impact,
        title,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_events_are_read_sorted_and_bad_lines_named() {
        let text = "time,scope,impact,title\n\
            2026-12-04T13:30:00Z,USD,high,Non-farm payrolls\n\
            # a comment\n\
            2026-12-03T09:00:00+01:00,GER40,medium,\"Ifo, business climate\"\n";
        let ev = parse_csv(text).unwrap();
        assert_eq!(ev.len(), 2);
        assert_eq!(ev[0].scope, "GER40");
        assert_eq!(ev[0].title, "Ifo, business climate");
        assert_eq!(ev[0].at.to_string(), "2026-12-03T08:00:00.000Z");
        assert_eq!(ev[1].impact, Impact::High);
        let eur = Epic::new("CS.D.EURUSD.CFD.IP").unwrap();
        assert!(ev[1].affects(&eur), "USD news touches EUR/USD");
        assert!(!ev[0].affects(&eur));
        let e = parse_csv("time,scope,impact,title\n2026-12-04 13:30,USD,high,NFP\n").unwrap_err();
        assert_eq!(e.line, 2, "{e}");
        let e =
            parse_csv("time,scope,impact,title\n2026-12-04T13:30:00Z,usd,high,NFP\n").unwrap_err();
        assert!(e.message.contains("\"usd\""), "{e}");
        assert!(
            parse_csv("when,what\n").is_err(),
            "a wrong header is refused"
        );
    }

    #[test]
    fn ics_events_take_utc_or_their_zone_and_the_currency_from_the_summary() {
        let text = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:20261204T133000Z\r\nSUMMARY:USD Non-Farm\r\n  Employment Change\r\nPRIORITY:1\r\nEND:VEVENT\r\n\
            BEGIN:VEVENT\r\nDTSTART;TZID=Europe/London:20260702T120000\r\nSUMMARY:BoE rate decision\r\nCATEGORIES:GBP\r\nPRIORITY:5\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        let ev = parse_ics(text).unwrap();
        assert_eq!(ev.len(), 2);
        assert_eq!(ev[0].scope, "GBP");
        assert_eq!(ev[0].impact, Impact::Medium);
        assert_eq!(ev[0].at.to_string(), "2026-07-02T11:00:00.000Z", "BST");
        assert_eq!(ev[1].title, "USD Non-Farm Employment Change");
        assert_eq!(ev[1].scope, "USD");
        assert_eq!(ev[1].impact, Impact::High);
        let e = parse_ics("BEGIN:VEVENT\nDTSTART:20261204T133000\nSUMMARY:USD x\nEND:VEVENT\n")
            .unwrap_err();
        assert!(e.message.contains("time zone is unknown"), "{e}");
    }
}
