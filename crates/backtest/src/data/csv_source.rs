//! Streaming CSV loader for quote ticks and bars (see [`super::header`] for the accepted
//! headers). Reads one row at a time into a reused buffer and validates it.

use std::fs::File;
use std::path::{Path, PathBuf};

use csv::ByteRecord;

use super::header::{self, BarColumns, BarPrices, Layout, Ohlc};
use super::parse::{is_missing, parse_fixed, parse_ts};
use super::{check_bar, mid, order_error, show, DataKind, PeriodInfer, RawBar, RawQuote, Record};
use crate::error::{DataError, DataErrorKind, Location};

/// A quote or bar CSV file being read.
pub struct CsvSource {
    path: PathBuf,
    reader: csv::Reader<File>,
    header: Vec<String>,
    layout: Layout,
    row: ByteRecord,
    line: u64,
    last_ts: Option<i64>,
    periods: PeriodInfer,
    queued: Option<RawBar>,
    rows: u64,
    total: u64,
    done: bool,
}

impl std::fmt::Debug for CsvSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CsvSource")
            .field("path", &self.path)
            .field("layout", &self.layout)
            .field("line", &self.line)
            .finish_non_exhaustive()
    }
}

impl CsvSource {
    /// Opens `path` and reads its header.
    pub fn open(path: &Path, bar_period_ms: Option<i64>) -> Result<Self, DataError> {
        let file = File::open(path).map_err(|e| DataError::io(path, &e))?;
        let total = file.metadata().map_or(0, |m| m.len());
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .buffer_capacity(1 << 16)
            .from_reader(file);
        let mut row = ByteRecord::new();
        let err = |kind| DataError::new(path, Location::Line(1), kind);
        match reader.read_byte_record(&mut row) {
            Ok(true) => {}
            Ok(false) => return Err(DataError::new(path, Location::File, DataErrorKind::Empty)),
            Err(e) => return Err(err(DataErrorKind::Io(e.to_string()))),
        }
        let header: Vec<String> = row
            .iter()
            .map(|c| String::from_utf8_lossy(c).trim().to_string())
            .collect();
        let layout = header::detect(&header).ok_or_else(|| {
            err(DataErrorKind::BadHeader {
                found: header.join(","),
            })
        })?;
        Ok(Self {
            path: path.to_path_buf(),
            reader,
            header,
            layout,
            row,
            line: 1,
            last_ts: None,
            periods: PeriodInfer::new(bar_period_ms),
            queued: None,
            rows: 0,
            total,
            done: false,
        })
    }

    fn err(&self, kind: DataErrorKind) -> DataError {
        DataError::new(&self.path, Location::Line(self.line), kind)
    }

    fn field(&self, i: usize) -> Result<&[u8], DataError> {
        match self.row.get(i) {
            Some(f) if !is_missing(f) => Ok(f),
            _ => Err(self.err(DataErrorKind::MissingValue {
                column: header::column_name(&self.header, i),
            })),
        }
    }

    fn num(&self, i: usize) -> Result<i64, DataError> {
        let f = self.field(i)?;
        parse_fixed(f).ok_or_else(|| {
            self.err(DataErrorKind::BadNumber {
                column: header::column_name(&self.header, i),
                value: String::from_utf8_lossy(f).into_owned(),
            })
        })
    }

    fn opt_num(&self, i: Option<usize>) -> Result<Option<i64>, DataError> {
        match i {
            Some(i) if self.row.get(i).is_some_and(|f| !is_missing(f)) => self.num(i).map(Some),
            _ => Ok(None),
        }
    }

    fn ts(&mut self, i: usize) -> Result<i64, DataError> {
        let f = self.field(i)?;
        let ts = parse_ts(f).ok_or_else(|| {
            self.err(DataErrorKind::BadTimestamp {
                value: String::from_utf8_lossy(f).into_owned(),
            })
        })?;
        if let Some(prev) = self.last_ts.filter(|p| ts <= *p) {
            return Err(self.err(order_error(prev, ts)));
        }
        self.last_ts = Some(ts);
        Ok(ts)
    }

    fn ohlc(&self, c: &Ohlc) -> Result<[i64; 4], DataError> {
        Ok([
            self.num(c.open)?,
            self.num(c.high)?,
            self.num(c.low)?,
            self.num(c.close)?,
        ])
    }

    fn parse_bar(&mut self, c: BarColumns) -> Result<RawBar, DataError> {
        let ts = self.ts(c.ts)?;
        let (o, spread) = match c.prices {
            BarPrices::Mid { ohlc, spread } => (self.ohlc(&ohlc)?, self.opt_num(spread)?),
            BarPrices::BidAsk { bid, ask } => {
                let b = self.ohlc(&bid)?;
                let a = self.ohlc(&ask)?;
                for k in [0, 3] {
                    if b[k] > a[k] {
                        return Err(self.err(DataErrorKind::BidAboveAsk {
                            bid: show(b[k]),
                            ask: show(a[k]),
                        }));
                    }
                }
                let m = [
                    mid(b[0], a[0]),
                    mid(b[1], a[1]),
                    mid(b[2], a[2]),
                    mid(b[3], a[3]),
                ];
                (m, Some(a[0] - b[0]))
            }
        };
        let bar = RawBar {
            ts,
            period_ms: 0,
            open: o[0],
            high: o[1],
            low: o[2],
            close: o[3],
            spread,
            volume: self.opt_num(c.volume)?,
        };
        check_bar(&bar).map_err(|k| self.err(k))?;
        Ok(bar)
    }

    fn next_row(&mut self) -> Result<bool, DataError> {
        loop {
            match self.reader.read_byte_record(&mut self.row) {
                Ok(true) => {
                    self.line = self
                        .row
                        .position()
                        .map_or(self.line + 1, csv::Position::line);
                    // Skip blank lines.
                    if self.row.len() == 1 && self.row.get(0).is_some_and(<[u8]>::is_empty) {
                        continue;
                    }
                    self.rows += 1;
                    return Ok(true);
                }
                Ok(false) => return Ok(false),
                Err(e) => {
                    let line = e.position().map_or(self.line + 1, csv::Position::line);
                    return Err(DataError::new(
                        &self.path,
                        Location::Line(line),
                        DataErrorKind::Io(e.to_string()),
                    ));
                }
            }
        }
    }

    fn next_record(&mut self) -> Result<Option<Record>, DataError> {
        if let Some(b) = self.queued.take() {
            return Ok(Some(Record::Bar(b)));
        }
        loop {
            if !self.next_row()? {
                if self.rows == 0 {
                    return Err(DataError::new(
                        &self.path,
                        Location::File,
                        DataErrorKind::NoRows,
                    ));
                }
                return Ok(self.periods.finish().map(Record::Bar));
            }
            match self.layout {
                Layout::Quotes(c) => {
                    let ts = self.ts(c.ts)?;
                    let bid = self.num(c.bid)?;
                    let ask = self.num(c.ask)?;
                    if bid > ask {
                        return Err(self.err(DataErrorKind::BidAboveAsk {
                            bid: show(bid),
                            ask: show(ask),
                        }));
                    }
                    return Ok(Some(Record::Quote(RawQuote { ts, bid, ask })));
                }
                Layout::Bars(c) => {
                    let bar = self.parse_bar(c)?;
                    if let [Some(a), b] = self.periods.push(bar) {
                        self.queued = b;
                        return Ok(Some(Record::Bar(a)));
                    }
                }
            }
        }
    }
}

impl Iterator for CsvSource {
    type Item = Result<Record, DataError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.next_record() {
            Ok(Some(r)) => Some(Ok(r)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

impl super::RecordSource for CsvSource {
    fn kind(&self) -> DataKind {
        match self.layout {
            Layout::Quotes(_) => DataKind::Quotes,
            Layout::Bars(_) => DataKind::Bars,
        }
    }
    fn path(&self) -> &Path {
        &self.path
    }
    fn location(&self) -> Location {
        Location::Line(self.line)
    }
    fn progress(&self) -> (u64, u64) {
        (self.reader.position().byte(), self.total)
    }
    fn all_cached(&self) -> bool {
        false
    }
}
