//! One epic at runtime: its quote source (simulator or CSV replay), market status, and the
//! second, minute, hour and day bid-ask bars kept for `/prices` (the live part of the price
//! history; [`crate::backfill`] generates what came before).

use std::collections::VecDeque;
use std::path::Path;

use rust_decimal::Decimal;
use scalper_model::{MarketStatus, Price, Quote, Timestamp};

use crate::catalog::CatalogEntry;
use crate::sim::MarketSim;

/// One bid/ask OHLC bar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bar {
    pub start: i64,
    pub open: (Decimal, Decimal),
    pub high: (Decimal, Decimal),
    pub low: (Decimal, Decimal),
    pub close: (Decimal, Decimal),
    pub ticks: u64,
}

impl Bar {
    fn new(start: i64, q: &Quote) -> Self {
        let p = (q.bid.value(), q.offer.value());
        Self {
            start,
            open: p,
            high: p,
            low: p,
            close: p,
            ticks: 1,
        }
    }

    fn update(&mut self, q: &Quote) {
        let (b, a) = (q.bid.value(), q.offer.value());
        self.high = (self.high.0.max(b), self.high.1.max(a));
        self.low = (self.low.0.min(b), self.low.1.min(a));
        self.close = (b, a);
        self.ticks += 1;
    }

    /// Merges a later bar into this one.
    pub fn merge(&mut self, o: &Bar) {
        self.high = (self.high.0.max(o.high.0), self.high.1.max(o.high.1));
        self.low = (self.low.0.min(o.low.0), self.low.1.min(o.low.1));
        self.close = o.close;
        self.ticks += o.ticks;
    }
}

const SECOND_MS: i64 = 1_000;
const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 86_400_000;

/// Bars of one period recorded from the quotes, the oldest dropped past a cap.
#[derive(Debug)]
pub struct Tier {
    pub period: i64,
    cap: usize,
    pub bars: VecDeque<Bar>,
    /// Older bars were dropped: the first bar is no longer the simulation's first.
    pub trimmed: bool,
}

impl Tier {
    fn new(period: i64, cap: usize) -> Self {
        Self {
            period,
            cap,
            bars: VecDeque::new(),
            trimmed: false,
        }
    }

    fn push(&mut self, q: &Quote) {
        let ms = q.ts.millis();
        let start = ms - ms.rem_euclid(self.period);
        match self.bars.back_mut() {
            Some(b) if b.start == start => b.update(q),
            _ => {
                self.bars.push_back(Bar::new(start, q));
                if self.bars.len() > self.cap {
                    self.bars.pop_front();
                    self.trimmed = true;
                }
            }
        }
    }
}

/// The recorded tiers: an hour of seconds, a week of minutes, 62 days of hours, ten years of
/// days (memory stays bounded however long the sandbox runs).
fn tiers() -> [Tier; 4] {
    [
        Tier::new(SECOND_MS, 3_600),
        Tier::new(MINUTE_MS, 7 * 24 * 60),
        Tier::new(HOUR_MS, 62 * 24),
        Tier::new(DAY_MS, 3_660),
    ]
}

/// Where quotes come from.
#[derive(Debug)]
pub enum Source {
    Sim(Box<MarketSim>),
    /// Recorded quotes shifted to start at the simulator's start; loops at the end.
    Replay {
        quotes: Vec<(i64, Decimal, Decimal)>,
        idx: usize,
        offset: i64,
        period: i64,
    },
    /// Quoted from the market's underlying ([`MarketRt::follow`]).
    Follow(Follow),
}

/// How an epic is quoted from its market's underlying (the CFD epic's quotes): the mid
/// scaled by `ratio`, the spread by `spread_ratio`, rounded to the epic's decimals.
#[derive(Debug, Clone)]
pub struct Follow {
    /// The underlying's epic.
    pub leader: String,
    pub ratio: Decimal,
    pub spread_ratio: Decimal,
    /// The underlying's starting quote and decimals: the epic's history is the underlying's,
    /// rescaled.
    pub leader_origin: Quote,
    pub leader_decimals: u32,
    decimals: u32,
}

impl Follow {
    /// `entry` quoted from `leader` by their starting mids and base spreads.
    pub fn new(leader: &MarketRt, entry: &CatalogEntry) -> Self {
        let ratio = if leader.entry.start_mid.is_zero() {
            Decimal::ONE
        } else {
            entry.start_mid / leader.entry.start_mid
        };
        let spread_ratio = if leader.entry.base_spread.is_zero() {
            Decimal::ONE
        } else {
            entry.base_spread / leader.entry.base_spread
        };
        Self {
            leader: leader.entry.epic.as_str().to_string(),
            ratio,
            spread_ratio,
            leader_origin: leader.origin.clone(),
            leader_decimals: leader.entry.decimals,
            decimals: entry.decimals,
        }
    }

    /// The epic's bid and offer for the underlying's: monotone in both, never crossed.
    pub fn price(&self, bid: Decimal, offer: Decimal) -> (Decimal, Decimal) {
        let mid = (bid + offer) / Decimal::TWO * self.ratio;
        let half = (offer - bid) * self.spread_ratio / Decimal::TWO;
        let b = (mid - half).round_dp(self.decimals);
        let a = (mid + half).round_dp(self.decimals);
        let tick = Decimal::new(1, self.decimals);
        (b, if a > b { a } else { b + tick })
    }

    /// The underlying's bid and offer that quote the epic at `bid`/`offer` (to rounding).
    pub fn underlying_price(&self, bid: Decimal, offer: Decimal) -> (Decimal, Decimal) {
        let ratio = if self.ratio.is_zero() {
            Decimal::ONE
        } else {
            self.ratio
        };
        let spread = if self.spread_ratio.is_zero() {
            Decimal::ONE
        } else {
            self.spread_ratio
        };
        let mid = (bid + offer) / Decimal::TWO / ratio;
        let half = (offer - bid) / spread / Decimal::TWO;
        let d = self.leader_decimals;
        ((mid - half).round_dp(d), (mid + half).round_dp(d))
    }
}

/// Runtime state of one epic.
#[derive(Debug)]
pub struct MarketRt {
    pub entry: CatalogEntry,
    pub source: Source,
    pub last: Quote,
    /// Forced status (admin), overriding the schedule.
    pub status_override: Option<MarketStatus>,
    pub day_open: Decimal,
    pub high: Decimal,
    pub low: Decimal,
    /// The quote the simulation starts from: the back-filled history ends on it, at its
    /// second.
    pub origin: Quote,
    /// Live bars, finest first (seconds, minutes, hours, days).
    pub tiers: [Tier; 4],
}

/// Why a replay file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("cannot read replay file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("replay file {path} line {line}: {reason} (expected ts_ms,bid,ask)")]
    Line {
        path: String,
        line: usize,
        reason: String,
    },
    #[error("replay file {path} has no quotes")]
    Empty { path: String },
}

/// Loads `ts_ms,bid,ask` rows (a non-numeric first line is a header).
pub fn load_replay(path: &Path) -> Result<Vec<(i64, Decimal, Decimal)>, ReplayError> {
    let p = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ReplayError::Read {
        path: p.clone(),
        source,
    })?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split(',').map(str::trim).collect();
        let bad = |reason: String| ReplayError::Line {
            path: p.clone(),
            line: i + 1,
            reason,
        };
        if cols.len() < 3 {
            return Err(bad(format!("{} columns", cols.len())));
        }
        let Ok(ts) = cols[0].parse::<i64>() else {
            if i == 0 {
                continue;
            }
            return Err(bad(format!("bad timestamp {:?}", cols[0])));
        };
        let bid: Decimal = cols[1]
            .parse()
            .map_err(|_| bad(format!("bad bid {:?}", cols[1])))?;
        let ask: Decimal = cols[2]
            .parse()
            .map_err(|_| bad(format!("bad ask {:?}", cols[2])))?;
        if ask < bid {
            return Err(bad("ask below bid".into()));
        }
        if out.last().is_some_and(|(prev, _, _)| ts < *prev) {
            return Err(bad("timestamps go backwards".into()));
        }
        out.push((ts, bid, ask));
    }
    if out.is_empty() {
        return Err(ReplayError::Empty { path: p });
    }
    Ok(out)
}

impl MarketRt {
    pub fn new(entry: CatalogEntry, source: Source, start: Timestamp) -> Self {
        let last = match &source {
            Source::Sim(s) => s.last().clone(),
            Source::Follow(f) => {
                let o = &f.leader_origin;
                let (bid, offer) = f.price(o.bid.value(), o.offer.value());
                Quote {
                    epic: entry.epic.clone(),
                    bid: Price::new(bid),
                    offer: Price::new(offer),
                    ts: start,
                }
            }
            Source::Replay { quotes, .. } => {
                let (_, b, a) = quotes[0];
                Quote {
                    epic: entry.epic.clone(),
                    bid: Price::new(b),
                    offer: Price::new(a),
                    ts: start,
                }
            }
        };
        let mid = last.mid().value();
        let mut m = Self {
            entry,
            source,
            status_override: None,
            day_open: mid,
            high: mid,
            low: mid,
            origin: last.clone(),
            last,
            tiers: tiers(),
        };
        // The starting quote is the simulation's first tick: its bars open where the
        // back-filled history closes.
        let first = m.origin.clone();
        m.record(&first);
        m
    }

    /// The next quote due at or before `until`, if any (recorded into bars).
    pub fn next_before(&mut self, until: Timestamp) -> Option<Quote> {
        let q = match &mut self.source {
            Source::Sim(s) => s.next_before(until)?,
            Source::Follow(_) => return None,
            Source::Replay {
                quotes,
                idx,
                offset,
                period,
            } => {
                let (ts, b, a) = quotes[*idx];
                let at = ts + *offset;
                if at > until.millis() {
                    return None;
                }
                *idx += 1;
                if *idx == quotes.len() {
                    *idx = 0;
                    *offset += *period;
                }
                Quote {
                    epic: self.entry.epic.clone(),
                    bid: Price::new(b),
                    offer: Price::new(a),
                    ts: Timestamp::from_millis(at.max(self.last.ts.millis())),
                }
            }
        };
        self.record(&q);
        Some(q)
    }

    /// The next quote whatever its time (for stepping a paused simulator).
    pub fn step(&mut self) -> Quote {
        let until = match &self.source {
            Source::Sim(s) => s.next_at(),
            Source::Follow(_) => return self.last.clone(),
            Source::Replay {
                quotes,
                idx,
                offset,
                ..
            } => Timestamp::from_millis(quotes[*idx].0 + offset),
        };
        self.next_before(until).unwrap_or_else(|| self.last.clone())
    }

    /// The underlying's epic when this one is quoted from it.
    pub fn leader(&self) -> Option<&str> {
        match &self.source {
            Source::Follow(f) => Some(&f.leader),
            _ => None,
        }
    }

    /// Quotes this epic from its underlying's quote `q` (at the same time); `None` when it
    /// is not quoted from an underlying.
    pub fn follow(&mut self, q: &Quote) -> Option<Quote> {
        let Source::Follow(f) = &self.source else {
            return None;
        };
        let (bid, offer) = f.price(q.bid.value(), q.offer.value());
        let quote = Quote {
            epic: self.entry.epic.clone(),
            bid: Price::new(bid),
            offer: Price::new(offer),
            ts: q.ts,
        };
        self.record(&quote);
        Some(quote)
    }

    /// The day's net change of the mid (at the market's decimals) and its percentage.
    pub fn day_change(&self) -> (Decimal, Decimal) {
        let net = (self.last.mid().value() - self.day_open).round_dp(self.entry.decimals);
        let pct = if self.day_open.is_zero() {
            Decimal::ZERO
        } else {
            (net / self.day_open * Decimal::ONE_HUNDRED).round_dp(2)
        };
        (net, pct)
    }

    /// Forces a price (admin/test).
    pub fn set_quote(&mut self, bid: Price, offer: Price, ts: Timestamp) -> Quote {
        if let Source::Sim(s) = &mut self.source {
            s.set_quote(bid, offer, ts);
        }
        let q = Quote {
            epic: self.entry.epic.clone(),
            bid,
            offer,
            ts,
        };
        self.record(&q);
        q
    }

    fn record(&mut self, q: &Quote) {
        self.last = q.clone();
        let mid = q.mid().value();
        self.high = self.high.max(mid);
        self.low = self.low.min(mid);
        for t in &mut self.tiers {
            t.push(q);
        }
    }

    /// Current status at simulated time `now` under `cfg`'s schedule.
    pub fn status_at(&self, cfg: &crate::SandboxConfig, now: Timestamp) -> MarketStatus {
        self.status(cfg.is_open(&self.entry, now))
    }

    /// Current status: admin override, else the schedule's open/closed.
    pub fn status(&self, open: bool) -> MarketStatus {
        match &self.status_override {
            Some(s) => s.clone(),
            None if open => MarketStatus::Tradeable,
            None => MarketStatus::Closed,
        }
    }
}

/// IG's `MONTH` resolution as a period (`Resolution::Month.millis()`): its bars are calendar
/// months (UTC), not 30-day spans.
pub const MONTH_MS: i64 = 30 * 86_400_000;

/// IG's `WEEK` resolution as a period: its bars start on Mondays at 00:00 UTC.
pub const WEEK_MS: i64 = 7 * 86_400_000;

/// The first Monday after the Unix epoch (a Thursday), 1970-01-05.
const FIRST_MONDAY_MS: i64 = 4 * 86_400_000;

/// The start of the bar of `period_ms` that holds `ms`: a multiple of the period since the
/// epoch, a Monday for [`WEEK_MS`], or the first of the calendar month for [`MONTH_MS`].
pub fn bar_start(ms: i64, period_ms: i64) -> i64 {
    if period_ms == WEEK_MS {
        return ms - (ms - FIRST_MONDAY_MS).rem_euclid(WEEK_MS);
    }
    if period_ms == MONTH_MS {
        if let Some(d) = chrono::DateTime::from_timestamp_millis(ms) {
            use chrono::Datelike;
            if let Some(first) = d
                .date_naive()
                .with_day(1)
                .and_then(|d| d.and_hms_opt(0, 0, 0))
            {
                return first.and_utc().timestamp_millis();
            }
        }
    }
    ms - ms.rem_euclid(period_ms)
}

/// The start of the bar before the one starting at `start`.
pub fn previous_bar_start(start: i64, period_ms: i64) -> i64 {
    if period_ms == MONTH_MS {
        bar_start(start - 1, period_ms)
    } else {
        start - period_ms
    }
}

/// `bars` (oldest first, each within one bar of `period_ms`) merged into bars of `period_ms`.
pub fn aggregate<'a>(bars: impl IntoIterator<Item = &'a Bar>, period_ms: i64) -> Vec<Bar> {
    let mut out: Vec<Bar> = Vec::new();
    for b in bars {
        let start = bar_start(b.start, period_ms);
        match out.last_mut() {
            Some(last) if last.start == start => last.merge(b),
            _ => {
                let mut nb = b.clone();
                nb.start = start;
                out.push(nb);
            }
        }
    }
    out
}
