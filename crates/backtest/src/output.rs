//! Outputs: the trades CSV (one row per closed trade), the equity-curve PNG (plotters'
//! bitmap backend; no text is drawn, so no font or system library is needed), and quote/bar
//! CSV writers (for `synth` and `prices`) whose files the loaders read back unchanged.

use std::io::Write;
use std::path::Path;

use plotters::prelude::*;
use rust_decimal::prelude::ToPrimitive;

use scalper_model::{Candle, Quote};

use crate::error::BacktestError;
use crate::metrics::{EquityPoint, TradeRecord};

/// Writes the trades as CSV: `id,direction,size,entry_time,entry_price,exit_time,
/// exit_price,pnl,commission,funding,cause,reason` (times ISO-8601 UTC).
pub fn write_trades_csv<W: Write>(out: W, trades: &[TradeRecord]) -> Result<(), csv::Error> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record([
        "id",
        "direction",
        "size",
        "entry_time",
        "entry_price",
        "exit_time",
        "exit_price",
        "pnl",
        "commission",
        "funding",
        "cause",
        "reason",
    ])?;
    for t in trades {
        let cause = serde_json::to_value(t.cause)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        w.write_record([
            t.id.to_string(),
            t.direction.to_string(),
            t.size.to_string(),
            t.entry_time.to_string(),
            t.entry_price.to_string(),
            t.exit_time.to_string(),
            t.exit_price.to_string(),
            t.pnl.to_string(),
            t.commission.to_string(),
            t.funding.to_string(),
            cause,
            t.reason.clone(),
        ])?;
    }
    w.flush()?;
    Ok(())
}

/// Writes the trades CSV to a file.
pub fn write_trades_file(path: &Path, trades: &[TradeRecord]) -> Result<(), BacktestError> {
    let f = std::fs::File::create(path).map_err(|e| BacktestError::output(path, e))?;
    write_trades_csv(std::io::BufWriter::new(f), trades).map_err(|e| BacktestError::output(path, e))
}

/// Draws the equity curve (blue) over the starting level (grey) as a PNG of
/// `width` × `height` pixels.
pub fn write_equity_png(
    path: &Path,
    curve: &[EquityPoint],
    initial: f64,
    (width, height): (u32, u32),
) -> Result<(), BacktestError> {
    let err = |e: &dyn std::fmt::Display| BacktestError::output(path, e);
    if width < 16 || height < 16 {
        return Err(BacktestError::option("plot size", "at least 16×16 pixels"));
    }
    let pts: Vec<(i64, f64)> = curve
        .iter()
        .map(|p| (p.ts.millis(), p.equity.value().to_f64().unwrap_or(initial)))
        .collect();
    let (x0, x1) = match (pts.first(), pts.last()) {
        (Some(a), Some(b)) if b.0 > a.0 => (a.0, b.0),
        (Some(a), _) => (a.0, a.0 + 1),
        _ => (0, 1),
    };
    let (mut lo, mut hi) = (initial, initial);
    for (_, v) in &pts {
        lo = lo.min(*v);
        hi = hi.max(*v);
    }
    let pad = ((hi - lo) * 0.05).max(1e-9);
    let root = BitMapBackend::new(path, (width, height)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let mut chart = ChartBuilder::on(&root)
        .margin(10)
        .build_cartesian_2d(x0..x1, (lo - pad)..(hi + pad))
        .map_err(|e| err(&e))?;
    chart
        .draw_series(LineSeries::new(
            [(x0, initial), (x1, initial)],
            RGBColor(160, 160, 160).stroke_width(1),
        ))
        .map_err(|e| err(&e))?;
    let mut line = Vec::with_capacity(pts.len() + 1);
    line.push((x0, initial));
    line.extend(pts);
    chart
        .draw_series(LineSeries::new(line, BLUE.stroke_width(2)))
        .map_err(|e| err(&e))?;
    root.present().map_err(|e| err(&e))?;
    Ok(())
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
