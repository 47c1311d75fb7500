//! Exports of trades to CSV and JSON, onto any `impl Write` (a file, stdout, a buffer).

use std::io::Write;

use crate::{JournalError, Trade};

const HEADER: [&str; 20] = [
    "id",
    "deal_reference",
    "deal_id",
    "epic",
    "direction",
    "size",
    "state",
    "paper",
    "adopted",
    "strategy",
    "created_at",
    "opened_at",
    "closed_at",
    "open_level",
    "close_level",
    "stop_level",
    "limit_level",
    "pnl",
    "fees",
    "reason",
];

/// Writes `trades` as CSV with a header row. Decimals are exact; times are RFC 3339 UTC.
pub fn write_trades_csv(trades: &[Trade], out: impl Write) -> Result<(), JournalError> {
    let mut w = csv::Writer::from_writer(out);
    let e = |e: csv::Error| JournalError::Export(e.to_string());
    w.write_record(HEADER).map_err(e)?;
    let opt = |v: Option<String>| v.unwrap_or_default();
    for t in trades {
        w.write_record([
            t.id.to_string(),
            t.deal_reference.to_string(),
            opt(t.deal_id.as_ref().map(ToString::to_string)),
            t.epic.to_string(),
            t.direction.to_string(),
            t.size.value().to_string(),
            format!("{:?}", t.state).to_lowercase(),
            t.paper.to_string(),
            t.adopted.to_string(),
            opt(t.strategy.clone()),
            t.created_at.to_string(),
            opt(t.opened_at.map(|x| x.to_string())),
            opt(t.closed_at.map(|x| x.to_string())),
            opt(t.open_level.map(|x| x.value().to_string())),
            opt(t.close_level.map(|x| x.value().to_string())),
            opt(t.stop_level.map(|x| x.value().to_string())),
            opt(t.limit_level.map(|x| x.value().to_string())),
            opt(t.pnl.map(|x| x.value().to_string())),
            t.fees.value().to_string(),
            opt(t.reason.clone()),
        ])
        .map_err(e)?;
    }
    w.flush().map_err(|x| JournalError::Export(x.to_string()))
}

/// Writes `trades` as one pretty JSON array (decimals as strings, times as epoch ms).
pub fn write_trades_json(trades: &[Trade], mut out: impl Write) -> Result<(), JournalError> {
    serde_json::to_writer_pretty(&mut out, trades)
        .map_err(|e| JournalError::Export(e.to_string()))?;
    writeln!(out).map_err(|e| JournalError::Export(e.to_string()))
}
