//! IG price history JSON (`GET /prices/{epic}` v3, and the v1/v2 shapes) as bars: mid OHLC
//! from IG's bid/ask, spread at the open, `lastTradedVolume` as volume. Times come from
//! `snapshotTimeUTC`; files without it (v1/v2) use `snapshotTime`, which IG gives in the
//! account's local time, read as UTC (a warning is logged).
//!
//! Streaming: a parser thread walks the `prices` array one entry at a time (serde visitor)
//! and hands bars over a bounded channel, so memory stays flat however long the file is.

use std::fmt;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use super::common::{check_bar, order_error, show, PeriodInfer};
use crate::error::{DataError, DataErrorKind, Location};
use crate::parse::{parse_fixed, parse_ts};
use crate::record::{mid, DataKind, RawBar, Record, RecordSource};

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

type Item = Result<(u64, RawBar), DataError>;

/// What an IG price file says about its market, read without keeping the prices.
#[derive(Debug, Deserialize)]
struct Header {
    #[serde(rename = "instrumentType")]
    instrument_type: Option<String>,
}

/// The `instrumentType` an IG price history file declares (`CURRENCIES`, `INDICES`,
/// `COMMODITIES`, `SHARES`, ...), read in one pass that skips the prices. `None` when the file
/// has none, or is not valid JSON (the loader then reports where it is broken).
pub fn instrument_type(path: &Path) -> Result<Option<String>, DataError> {
    let file = File::open(path).map_err(|e| DataError::io(path, &e))?;
    let header: Option<Header> =
        serde_json::from_reader(BufReader::with_capacity(1 << 16, file)).ok();
    Ok(header.and_then(|h| h.instrument_type))
}

/// Bars streamed from an IG price history file.
#[derive(Debug)]
pub struct IgJsonSource {
    path: PathBuf,
    rx: Option<Receiver<Item>>,
    worker: Option<JoinHandle<()>>,
    entry: u64,
    total: u64,
    bytes: Arc<AtomicU64>,
    done: bool,
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
        let total = file.metadata().map_or(0, |m| m.len());
        if total == 0 {
            return Err(DataError::new(path, Location::File, DataErrorKind::Empty));
        }
        let (tx, rx) = sync_channel(1024);
        let bytes = Arc::new(AtomicU64::new(0));
        let reader = Counting {
            inner: BufReader::with_capacity(1 << 16, file),
            bytes: Arc::clone(&bytes),
        };
        let p = path.to_path_buf();
        let worker = std::thread::Builder::new()
            .name("ig-json".to_string())
            .spawn(move || parse(reader, p, bar_period_ms, &tx))
            .map_err(|e| DataError::io(path, &e))?;
        Ok(Self {
            path: path.to_path_buf(),
            rx: Some(rx),
            worker: Some(worker),
            entry: 0,
            total,
            bytes,
            done: false,
        })
    }
}

impl Drop for IgJsonSource {
    fn drop(&mut self) {
        // Closing the channel makes the parser stop at its next bar.
        drop(self.rx.take());
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}

struct Counting<R> {
    inner: R,
    bytes: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bytes.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// The parser thread: streams entries, reports the first error, then ends.
fn parse<R: Read>(reader: R, path: PathBuf, period: Option<i64>, tx: &SyncSender<Item>) {
    let mut conv = Converter {
        path,
        periods: PeriodInfer::new(period),
        tx,
        entries: 0,
        last_ts: None,
        warned: false,
        stopped: false,
    };
    let mut de = serde_json::Deserializer::from_reader(reader);
    let res = Top(&mut conv).deserialize(&mut de).and_then(|()| de.end());
    if conv.stopped {
        return;
    }
    let err = |loc, kind| {
        let _ = tx.send(Err(DataError::new(&conv.path, loc, kind)));
    };
    match res {
        Err(e) => {
            let loc = if e.line() > 0 {
                Location::Line(e.line() as u64)
            } else {
                Location::File
            };
            err(loc, DataErrorKind::Json(e.to_string()));
        }
        Ok(()) if conv.entries == 0 => err(Location::File, DataErrorKind::NoRows),
        Ok(()) => {
            if let Some(b) = conv.periods.finish() {
                let _ = tx.send(Ok((conv.entries - 1, b)));
            }
        }
    }
}

struct Converter<'a> {
    path: PathBuf,
    periods: PeriodInfer,
    tx: &'a SyncSender<Item>,
    entries: u64,
    last_ts: Option<i64>,
    warned: bool,
    stopped: bool,
}

impl Converter<'_> {
    /// Converts and sends one entry; false when parsing must stop.
    fn push(&mut self, p: &PricePoint) -> bool {
        let entry = self.entries;
        self.entries += 1;
        let sent = match self.convert(entry, p) {
            Ok(bar) => self
                .periods
                .push(bar)
                .into_iter()
                .flatten()
                .all(|b| self.tx.send(Ok((entry, b))).is_ok()),
            Err(e) => {
                let _ = self.tx.send(Err(e));
                false
            }
        };
        self.stopped = !sent;
        sent
    }

    fn convert(&mut self, entry: u64, p: &PricePoint) -> Result<RawBar, DataError> {
        let path = &self.path;
        let err = |kind| DataError::new(path, Location::Entry(entry), kind);
        let ts_text = match (&p.snapshot_time_utc, &p.snapshot_time) {
            (Some(t), _) => t,
            (None, Some(t)) => {
                if !self.warned {
                    self.warned = true;
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
        if let Some(prev) = self.last_ts.filter(|p| ts <= *p) {
            return Err(err(order_error(prev, ts)));
        }
        self.last_ts = Some(ts);
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
        let open = side("openPrice", &p.open_price)?;
        let high = side("highPrice", &p.high_price)?;
        let low = side("lowPrice", &p.low_price)?;
        let close = side("closePrice", &p.close_price)?;
        let bar = RawBar {
            ts,
            period_ms: 0,
            open: mid(open.0, open.1),
            high: mid(high.0, high.1),
            low: mid(low.0, low.1),
            close: mid(close.0, close.1),
            // Checked: prices at the ends of the fixed-point range are an error, not a panic.
            spread: Some(open.1.checked_sub(open.0).ok_or_else(|| {
                err(DataErrorKind::BadBar {
                    detail: "spread out of range".to_string(),
                })
            })?),
            volume: p.last_traded_volume.and_then(fixed_from_f64),
        };
        check_bar(&bar).map_err(err)?;
        Ok(bar)
    }
}

/// The top-level object: streams `prices`, skips everything else.
struct Top<'c, 'a>(&'c mut Converter<'a>);

impl<'de> DeserializeSeed<'de> for Top<'_, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Top<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an IG price history object with a `prices` array")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            if key == "prices" {
                map.next_value_seed(Prices(&mut *self.0))?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

struct Prices<'c, 'a>(&'c mut Converter<'a>);

impl<'de> DeserializeSeed<'de> for Prices<'_, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Prices<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of price points")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(p) = seq.next_element::<PricePoint>()? {
            if !self.0.push(&p) {
                return Err(de::Error::custom("stopped"));
            }
        }
        Ok(())
    }
}

impl Iterator for IgJsonSource {
    type Item = Result<Record, DataError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.rx.as_ref().map(Receiver::recv) {
            Some(Ok(Ok((entry, b)))) => {
                self.entry = entry;
                Some(Ok(Record::Bar(b)))
            }
            Some(Ok(Err(e))) => {
                self.done = true;
                Some(Err(e))
            }
            Some(Err(_)) | None => {
                self.done = true;
                // The parser thread hung up: a panic there must not pass for the end of data.
                if self.worker.take().is_some_and(|w| w.join().is_err()) {
                    return Some(Err(DataError::new(
                        &self.path,
                        Location::Entry(self.entry),
                        DataErrorKind::Json("the JSON parser stopped unexpectedly".to_string()),
                    )));
                }
                None
            }
        }
    }
}

impl RecordSource for IgJsonSource {
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
        (self.bytes.load(Ordering::Relaxed), self.total)
    }
    fn all_cached(&self) -> bool {
        false
    }
}
