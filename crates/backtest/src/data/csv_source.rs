//! Streaming CSV loader for quote ticks and bars (see [`super::header`] for the accepted
//! headers). Reads one row at a time into a reused buffer and validates it.
//!
//! Rows after the header are split by a byte scanner for plain lines (no `"`, no lone CR),
//! which is what tick files are; from the first line that is not plain to the end of the
//! file, the `csv` crate reads instead. Both give the same fields and line numbers.

use std::fs::File;
use std::io::{Chain, Cursor, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use csv::ByteRecord;

use super::common::{check_bar, order_error, show, PeriodInfer};
use super::header::{self, BarColumns, BarPrices, Layout, Ohlc};
use crate::error::{DataError, DataErrorKind, Location};
use crate::parse::{is_missing, parse_fixed, parse_ts};
use crate::record::{mid, DataKind, RawBar, RawQuote, Record, RecordSource};

type CsvReader = csv::Reader<Chain<Cursor<Vec<u8>>, File>>;

fn csv_reader(head: Vec<u8>, file: File) -> CsvReader {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .buffer_capacity(1 << 16)
        .from_reader(Cursor::new(head).chain(file))
}

/// Plain lines split without the `csv` state machine.
struct FastLines {
    file: File,
    buf: Vec<u8>,
    /// Unread data is `buf[start..end]`.
    start: usize,
    end: usize,
    eof: bool,
    /// File offset of `buf[start]` and its line number.
    offset: u64,
    line: u64,
    /// Field bounds of the last row in `buf`.
    fields: Vec<(usize, usize)>,
}

/// What `FastLines::next_row` found.
enum FastRow {
    /// A row (its line number); its fields are in `FastLines::fields`.
    Row(u64),
    End,
    /// This line needs the `csv` crate: it and the rest of the file go to it.
    NotPlain,
}

impl FastLines {
    const CHUNK: usize = 1 << 18;

    fn fill(&mut self) -> std::io::Result<()> {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.buf.len() - self.end < Self::CHUNK / 2 {
            let len = self.buf.len().max(Self::CHUNK) * 2;
            self.buf.resize(len, 0);
        }
        let n = self.file.read(&mut self.buf[self.end..])?;
        if n == 0 {
            self.eof = true;
        }
        self.end += n;
        Ok(())
    }

    /// Field `i` of the last row.
    #[inline]
    fn field(&self, i: usize) -> Option<&[u8]> {
        let &(a, b) = self.fields.get(i)?;
        self.buf.get(a..b)
    }

    /// Splits the next non-blank line into `self.fields`; returns its line number.
    fn next_row(&mut self) -> std::io::Result<FastRow> {
        loop {
            if !self.fields.is_empty() {
                self.fields.clear();
            }
            let mut at = self.start;
            let mut field = self.start;
            // Fields end at commas; the line at LF (CRLF: the CR is dropped). A quote or a
            // lone CR makes the line "not plain".
            let stop = loop {
                match find_special(&self.buf[at..self.end]) {
                    Some(k) => {
                        let i = at + k;
                        match self.buf[i] {
                            b',' => {
                                self.fields.push((field, i));
                                field = i + 1;
                                at = i + 1;
                            }
                            b'\n' => break Some(i),
                            b'\r' if i + 1 < self.end => {
                                if self.buf[i + 1] != b'\n' {
                                    return Ok(FastRow::NotPlain);
                                }
                                at = i + 1;
                            }
                            b'\r' if self.eof => return Ok(FastRow::NotPlain),
                            b'\r' => break None, // its LF may be in the next chunk
                            _ => return Ok(FastRow::NotPlain),
                        }
                    }
                    None => break None,
                }
            };
            let stop = match stop {
                Some(i) => i,
                None if self.eof => {
                    if self.start == self.end {
                        return Ok(FastRow::End);
                    }
                    self.end
                }
                None => {
                    self.fill()?;
                    continue; // rescan the line from its start
                }
            };
            let mut text_end = stop;
            if text_end > self.start && self.buf[text_end - 1] == b'\r' {
                text_end -= 1;
            }
            let line = self.line;
            let next = (stop + 1).min(self.end);
            self.offset += (next - self.start) as u64;
            let blank = text_end == self.start;
            self.start = next;
            self.line += 1;
            if blank {
                // Blank lines are skipped, as the `csv` crate does.
                continue;
            }
            self.fields.push((field, text_end.max(field)));
            return Ok(FastRow::Row(line));
        }
    }
}

/// Position of the first `,` `\n` `\r` or `"` in `hay` (eight bytes at a time).
#[inline]
fn find_special(hay: &[u8]) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let has = |w: u64, b: u8| {
        let x = w ^ (LO * u64::from(b));
        x.wrapping_sub(LO) & !x & HI
    };
    let mut chunks = hay.chunks_exact(8);
    let mut base = 0;
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        let w = u64::from_le_bytes(w);
        // The lowest flagged byte is always a true match.
        let m = has(w, b',') | has(w, b'\n') | has(w, b'\r') | has(w, b'"');
        if m != 0 {
            return Some(base + (m.trailing_zeros() / 8) as usize);
        }
        base += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| matches!(b, b',' | b'\n' | b'\r' | b'"'))
        .map(|k| base + k)
}

/// Where rows come from.
enum Rows {
    Fast(FastLines),
    /// The `csv` crate from `line0` / byte `byte0` of the file on.
    Csv {
        reader: CsvReader,
        line0: u64,
        byte0: u64,
    },
    /// Between the two (only while switching).
    Switching,
}

/// A quote or bar CSV file being read.
pub struct CsvSource {
    path: PathBuf,
    rows: Rows,
    header: Vec<String>,
    layout: Layout,
    row: ByteRecord,
    line: u64,
    last_ts: Option<i64>,
    periods: PeriodInfer,
    queued: Option<RawBar>,
    rows_seen: u64,
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
        let mut reader = csv_reader(Vec::new(), file);
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
        // Rows after the header: the fast scanner from the header's end on.
        let pos = reader.position().clone();
        let (_, mut file) = reader.into_inner().into_inner();
        file.seek(SeekFrom::Start(pos.byte()))
            .map_err(|e| DataError::io(path, &e))?;
        let rows = Rows::Fast(FastLines {
            file,
            buf: Vec::new(),
            start: 0,
            end: 0,
            eof: false,
            offset: pos.byte(),
            line: pos.line(),
            fields: Vec::with_capacity(16),
        });
        Ok(Self {
            path: path.to_path_buf(),
            rows,
            header,
            layout,
            row,
            line: 1,
            last_ts: None,
            periods: PeriodInfer::new(bar_period_ms),
            queued: None,
            rows_seen: 0,
            total,
            done: false,
        })
    }

    /// Field `i` of the current row.
    #[inline]
    fn cell(&self, i: usize) -> Option<&[u8]> {
        match &self.rows {
            Rows::Fast(f) => f.field(i),
            _ => self.row.get(i),
        }
    }

    fn err(&self, kind: DataErrorKind) -> DataError {
        DataError::new(&self.path, Location::Line(self.line), kind)
    }

    fn field(&self, i: usize) -> Result<&[u8], DataError> {
        match self.cell(i) {
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
            Some(i) if self.cell(i).is_some_and(|f| !is_missing(f)) => self.num(i).map(Some),
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
                // Checked: prices at the ends of the fixed-point range are an error, not a panic.
                let spread = a[0].checked_sub(b[0]).ok_or_else(|| {
                    self.err(DataErrorKind::BadBar {
                        detail: "spread out of range".to_string(),
                    })
                })?;
                (m, Some(spread))
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
        if let Rows::Fast(fast) = &mut self.rows {
            match fast.next_row() {
                Ok(FastRow::Row(line)) => {
                    self.line = line;
                    self.rows_seen += 1;
                    return Ok(true);
                }
                Ok(FastRow::End) => return Ok(false),
                Ok(FastRow::NotPlain) => self.switch_to_csv(),
                Err(e) => {
                    return Err(DataError::new(
                        &self.path,
                        Location::Line(fast.line),
                        DataErrorKind::Io(e.to_string()),
                    ))
                }
            }
        }
        let Rows::Csv {
            reader,
            line0,
            byte0: _,
        } = &mut self.rows
        else {
            return Ok(false);
        };
        let line0 = *line0;
        loop {
            match reader.read_byte_record(&mut self.row) {
                Ok(true) => {
                    self.line = self
                        .row
                        .position()
                        .map_or(self.line + 1, |p| line0 + p.line() - 1);
                    // Skip blank lines.
                    if self.row.len() == 1 && self.row.get(0).is_some_and(<[u8]>::is_empty) {
                        continue;
                    }
                    self.rows_seen += 1;
                    return Ok(true);
                }
                Ok(false) => return Ok(false),
                Err(e) => {
                    let line = e.position().map_or(self.line + 1, |p| line0 + p.line() - 1);
                    return Err(DataError::new(
                        &self.path,
                        Location::Line(line),
                        DataErrorKind::Io(e.to_string()),
                    ));
                }
            }
        }
    }

    /// Hands the unread data (from the start of the current line) to the `csv` crate.
    fn switch_to_csv(&mut self) {
        if let Rows::Fast(fast) = std::mem::replace(&mut self.rows, Rows::Switching) {
            let head = fast.buf[fast.start..fast.end].to_vec();
            self.rows = Rows::Csv {
                reader: csv_reader(head, fast.file),
                line0: fast.line,
                byte0: fast.offset,
            };
        }
    }

    fn next_record(&mut self) -> Result<Option<Record>, DataError> {
        if let Some(b) = self.queued.take() {
            return Ok(Some(Record::Bar(b)));
        }
        loop {
            if !self.next_row()? {
                if self.rows_seen == 0 {
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

impl RecordSource for CsvSource {
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
        let done = match &self.rows {
            Rows::Fast(f) => f.offset,
            Rows::Csv { reader, byte0, .. } => byte0 + reader.position().byte(),
            Rows::Switching => 0,
        };
        (done, self.total)
    }
    fn all_cached(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn read(text: &str) -> (Vec<Result<Record, DataError>>, u64) {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("q.csv");
        std::fs::write(&p, text).unwrap();
        let mut src = CsvSource::open(&p, None).unwrap();
        let mut out = Vec::new();
        for r in &mut src {
            out.push(r);
        }
        (out, src.progress().0)
    }

    fn line_of(r: &Result<Record, DataError>) -> Location {
        r.as_ref().unwrap_err().location
    }

    #[test]
    fn plain_quoted_and_crlf_rows_read_alike() {
        let plain = "ts,bid,ask\n1000,1.1,1.2\n\n2000,1.15,1.25\n3000,1.2,1.3\n4000,1,2";
        let quoted =
            "ts,bid,ask\r\n1000,1.1,1.2\r\n\r\n2000,\"1.15\",1.25\n3000,1.2,1.3\r\n4000,1,2";
        let crlf = plain.replace('\n', "\r\n");
        let (a, bytes) = read(plain);
        assert_eq!(bytes, plain.len() as u64);
        assert_eq!(a.len(), 4);
        for other in [quoted, crlf.as_str()] {
            let (b, bytes) = read(other);
            assert_eq!(bytes, other.len() as u64);
            assert_eq!(
                a.iter().map(|r| r.as_ref().unwrap()).collect::<Vec<_>>(),
                b.iter().map(|r| r.as_ref().unwrap()).collect::<Vec<_>>()
            );
        }
        // Line numbers before and after the switch to the csv crate, with a blank line.
        let (r, _) = read("ts,bid,ask\n1000,1,2\n\n2000,\"1\",2\n3000,x,2\n");
        assert_eq!(line_of(&r[2]), Location::Line(5));
        let (r, _) = read("ts,bid,ask\n1000,1,2\n\n2000,1,2\n3000,x,2\n");
        assert_eq!(line_of(&r[2]), Location::Line(5));
        let (r, _) = read("ts,bid,ask\r\n1000,1,2\r\n\r\n2000,1,2\r\n3000,x,2\r\n");
        assert_eq!(line_of(&r[2]), Location::Line(5));
        // Lone CRs (old Mac files) go to the csv crate, which reads them as before.
        let (r, _) = read("ts,bid,ask\r1000,1,2\r3000,x,2\r");
        assert!(r[0].is_ok() && r[1].is_err());
    }
}
