//! Outputs: the trades CSV (one row per closed trade, streamed as trades close, amounts with
//! their currency) and quote/bar CSV writers (for `synth` and `prices`) whose files the
//! loaders read back unchanged. The equity chart is in [`crate::plot`].

use std::io::Write;
use std::path::{Path, PathBuf};

use scalper_model::{Candle, Quote};

use crate::error::BacktestError;
use crate::metrics::TradeRecord;

/// Header of the trades CSV.
const TRADES_HEADER: [&str; 13] = [
    "id",
    "direction",
    "size",
    "entry_time",
    "entry_price",
    "exit_time",
    "exit_price",
    "currency",
    "pnl",
    "commission",
    "funding",
    "cause",
    "reason",
];

/// The trades CSV written one row at a time: `id,direction,size,entry_time,entry_price,
/// exit_time,exit_price,currency,pnl,commission,funding,cause,reason` (times ISO-8601 UTC;
/// `pnl`, `commission` and `funding` in `currency`, the account's, with its decimals:
/// `-320.00`, `-1100`). Fields are formatted into a reused buffer, so a row costs no
/// allocation.
#[derive(Debug)]
pub struct TradesCsv<W: Write> {
    out: csv::Writer<W>,
    field: String,
}

impl<W: Write> TradesCsv<W> {
    /// Starts the CSV with its header.
    pub fn new(out: W) -> Result<Self, csv::Error> {
        let mut out = csv::Writer::from_writer(out);
        out.write_record(TRADES_HEADER)?;
        Ok(Self {
            out,
            field: String::with_capacity(64),
        })
    }

    /// Writes one trade's row.
    pub fn write(&mut self, t: &TradeRecord) -> Result<(), csv::Error> {
        self.put(t.id)?;
        self.put(t.direction)?;
        self.put(t.size)?;
        self.put(t.entry_time)?;
        self.put(t.entry_price)?;
        self.put(t.exit_time)?;
        self.put(t.exit_price)?;
        self.out.write_field(&t.currency)?;
        // The decimals as held (the currency's), not `Money`'s normalised display.
        self.put(t.pnl.value())?;
        self.put(t.commission.value())?;
        self.put(t.funding.value())?;
        self.out.write_field(t.cause.as_str())?;
        self.out.write_field(&t.reason)?;
        self.out.write_record(None::<&[u8]>)
    }

    fn put(&mut self, v: impl std::fmt::Display) -> Result<(), csv::Error> {
        use std::fmt::Write as _;
        self.field.clear();
        // Writing to a String cannot fail.
        let _ = write!(self.field, "{v}");
        self.out.write_field(&self.field)
    }

    /// Flushes the rows written so far and returns the writer.
    pub fn finish(self) -> Result<W, csv::Error> {
        self.out
            .into_inner()
            .map_err(|e| csv::Error::from(e.into_error()))
    }
}

/// Writes the trades as CSV (see [`TradesCsv`]).
pub fn write_trades_csv<W: Write>(out: W, trades: &[TradeRecord]) -> Result<(), csv::Error> {
    let mut w = TradesCsv::new(out)?;
    for t in trades {
        w.write(t)?;
    }
    w.finish().map(drop)
}

/// The trades CSV of a file, written as trades close (see [`TradesCsv`]); errors name the
/// file.
#[derive(Debug)]
pub struct TradesFile {
    path: PathBuf,
    csv: TradesCsv<std::fs::File>,
}

impl TradesFile {
    /// Creates (or truncates) the file and writes the header.
    pub fn create(path: &Path) -> Result<Self, BacktestError> {
        let err = |e: &dyn std::fmt::Display| BacktestError::output(path, e);
        let f = std::fs::File::create(path).map_err(|e| err(&e))?;
        let csv = TradesCsv::new(f).map_err(|e| err(&e))?;
        Ok(Self {
            path: path.to_path_buf(),
            csv,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes one trade's row.
    pub fn write(&mut self, t: &TradeRecord) -> Result<(), BacktestError> {
        self.csv
            .write(t)
            .map_err(|e| BacktestError::output(&self.path, e))
    }

    /// Flushes everything to the file.
    pub fn finish(self) -> Result<(), BacktestError> {
        self.csv
            .finish()
            .map(drop)
            .map_err(|e| BacktestError::output(&self.path, e))
    }
}

/// Writes the trades CSV to a file.
pub fn write_trades_file(path: &Path, trades: &[TradeRecord]) -> Result<(), BacktestError> {
    let mut f = TradesFile::create(path)?;
    for t in trades {
        f.write(t)?;
    }
    f.finish()
}

/// Writes quotes as `ts_ms,bid,ask` CSV (the quote loader's native format).
pub fn write_quotes_csv<W: Write>(
    out: W,
    quotes: impl IntoIterator<Item = Quote>,
) -> std::io::Result<()> {
    let mut w = std::io::BufWriter::new(out);
    writeln!(w, "ts_ms,bid,ask")?;
    for q in quotes {
        writeln!(w, "{},{},{}", q.ts.millis(), q.bid, q.offer)?;
    }
    w.flush()
}

/// Writes bars as `ts_ms,open,high,low,close,spread,volume` CSV (start time; mid prices;
/// spread at the open and volume left empty when unknown).
pub fn write_bars_csv<W: Write>(
    out: W,
    bars: impl IntoIterator<Item = Candle>,
) -> std::io::Result<()> {
    let mut w = std::io::BufWriter::new(out);
    writeln!(w, "ts_ms,open,high,low,close,spread,volume")?;
    for b in bars {
        let opt = |d: Option<rust_decimal::Decimal>| {
            d.map(|d| d.normalize().to_string()).unwrap_or_default()
        };
        writeln!(
            w,
            "{},{},{},{},{},{},{}",
            b.start.millis(),
            b.open,
            b.high,
            b.low,
            b.close,
            opt(b.spread),
            opt(b.volume)
        )?;
    }
    w.flush()
}

#[cfg(test)]
mod tests {
    use scalper_engine::CloseCause;

    #[test]
    fn cause_names_are_the_serde_names() {
        for c in [
            CloseCause::Stop,
            CloseCause::Limit,
            CloseCause::Manual,
            CloseCause::Engine,
        ] {
            assert_eq!(
                serde_json::to_value(c).unwrap(),
                serde_json::Value::from(c.as_str())
            );
        }
    }
}
