//! IG price history JSON (`GET /prices/{epic}` v3, and the v1/v2 shapes) as bars: mid OHLC
//! from IG's bid/ask, spread at the open, `lastTradedVolume` as volume. Times come from
//! `snapshotTimeUTC`; files without it (v1/v2) use `snapshotTime`, which IG gives in the
//! account's local time, read as UTC (a warning is logged).
//!
//! The response is parsed entry by entry into fixed-point bars (64 bytes each): an IG
//! response is bounded by the historical-data allowance (10,000 points a week), so the bars
//! are held in memory; repeated runs read the streaming binary cache instead.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::parse::{parse_fixed, parse_ts};
use super::{check_bar, mid, order_error, show, DataKind, PeriodInfer, RawBar, Record};
use crate::error::{DataError, DataErrorKind, Location};

#[derive(Debug, Deserialize)]
struct PricesFile {
    prices: Vec<PricePoint>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PricePoint {
    snapshot_time: Option<String>,
    #[serde(rename = "snapshotTimeUTC")]
    snapshot_time_utc: Option<String>,
    open_price: Option<BidAsk>,
    high_price: Option<BidAsk>,
    low_price: Option<BidAsk>,
    close_price: Option<BidAsk>,
    last_traded_volume: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct BidAsk {
    bid: Option<f64>,
    ask: Option<f64>,
}

/// Bars read from an IG price history file.
#[derive(Debug)]
pub struct IgJsonSource {
    path: PathBuf,
    bars: std::vec::IntoIter<(u64, RawBar)>,
    entry: u64,
    total: u64,
    read: u64,
}

/// f64 from JSON to fixed point via its shortest round-trip text (`1926.4`, not
/// `1926.4000000000000909`).
fn fixed_from_f64(v: f64) -> Option<i64> {
    if !v.is_finite() {
        return None;
    }
    parse_fixed(format!("{v}").as_bytes())
}

impl IgJsonSource {
    pub fn open(path: &Path, bar_period_ms: Option<i64>) -> Result<Self, DataError> {
        let file = File::open(path).map_err(|e| DataError::io(path, &e))?;
        let total = file.metadata().map(|m| m.len()).unwrap_or(0);
        if total == 0 {
            return Err(DataError::new(path, Location::File, DataErrorKind::Empty));
        }
        let parsed: PricesFile =
            serde_json::from_reader(BufReader::with_capacity(1 << 16, file)).map_err(|e| {
                let loc = if e.line() > 0 {
                    Location::Line(e.line() as u64)
                } else {
                    Location::File
                };
                DataError::new(path, loc, DataErrorKind::Json(e.to_string()))
            })?;
        if parsed.prices.is_empty() {
            return Err(DataError::new(path, Location::File, DataErrorKind::NoRows));
        }
        let mut periods = PeriodInfer::new(bar_period_ms);
        let mut out = Vec::with_capacity(parsed.prices.len());
        let mut last_ts = None;
        let mut warned = false;
        for (i, p) in parsed.prices.into_iter().enumerate() {
            let i = i as u64;
            let err = |kind| DataError::new(path, Location::Entry(i), kind);
            let ts_text = match (&p.snapshot_time_utc, &p.snapshot_time) {
                (Some(t), _) => t,
                (None, Some(t)) => {
                    if !warned {
                        warned = true;
                        tracing::warn!(file = %path.display(), "no snapshotTimeUTC: reading IG's local snapshotTime as UTC");
                    }
                    t
                }
                (None, None) => {
                    return Err(err(DataErrorKind::MissingValue {
                        column: "snapshotTimeUTC".to_string(),
                    }))
                }
            };
            let ts = parse_ts(ts_text.as_bytes()).ok_or_else(|| {
                err(DataErrorKind::BadTimestamp {
                    value: ts_text.clone(),
                })
            })?;
            if let Some(prev) = last_ts.filter(|p| ts <= *p) {
                return Err(err(order_error(prev, ts)));
            }
            last_ts = Some(ts);
            let side = |name: &str, v: &Option<BidAsk>| -> Result<(i64, i64), DataError> {
                let missing = |s: &str| {
                    err(DataErrorKind::MissingValue {
                        column: format!("{name}.{s}"),
                    })
                };
                let ba = v.as_ref().ok_or_else(|| missing("bid"))?;
                let bid = ba.bid.ok_or_else(|| missing("bid"))?;
                let ask = ba.ask.ok_or_else(|| missing("ask"))?;
                let num = |s: &str, x: f64| {
                    fixed_from_f64(x).ok_or_else(|| {
                        err(DataErrorKind::BadNumber {
                            column: format!("{name}.{s}"),
                            value: x.to_string(),
                        })
                    })
                };
                let (bid, ask) = (num("bid", bid)?, num("ask", ask)?);
                if bid > ask {
                    return Err(err(DataErrorKind::BidAboveAsk {
                        bid: show(bid),
                        ask: show(ask),
                    }));
                }
                Ok((bid, ask))
            };
            let o = side("openPrice", &p.open_price)?;
            let h = side("highPrice", &p.high_price)?;
            let l = side("lowPrice", &p.low_price)?;
            let c = side("closePrice", &p.close_price)?;
            let bar = RawBar {
                ts,
                period_ms: 0,
                open: mid(o.0, o.1),
                high: mid(h.0, h.1),
                low: mid(l.0, l.1),
                close: mid(c.0, c.1),
                spread: Some(o.1 - o.0),
                volume: p.last_traded_volume.and_then(fixed_from_f64),
            };
            check_bar(&bar).map_err(err)?;
            for b in periods.push(bar).into_iter().flatten() {
                out.push((i, b));
            }
        }
        let last = out.len() as u64;
        if let Some(b) = periods.finish() {
            out.push((last, b));
        }
        Ok(Self {
            path: path.to_path_buf(),
            bars: out.into_iter(),
            entry: 0,
            total,
            read: 0,
        })
    }
}

impl Iterator for IgJsonSource {
    type Item = Result<Record, DataError>;

    fn next(&mut self) -> Option<Self::Item> {
        let (i, b) = self.bars.next()?;
        self.entry = i;
        self.read += 1;
        Some(Ok(Record::Bar(b)))
    }
}

impl super::RecordSource for IgJsonSource {
    fn kind(&self) -> DataKind {
        DataKind::Bars
    }
    fn path(&self) -> &Path {
        &self.path
    }
    fn location(&self) -> Location {
        Location::Entry(self.entry)
    }
    fn progress(&self) -> (u64, u64) {
        let n = self.bars.len() as u64 + self.read;
        (self.total * self.read / n.max(1), self.total)
    }
    fn from_cache(&self) -> bool {
        false
    }
}
