//! Reading the journal: trades by id or reference, open and unresolved trades, per-day
//! statistics for risk limits after a restart, listings and a trade's event history.

use std::str::FromStr;

use rusqlite::{params, Row};
use rust_decimal::Decimal;
use scalper_model::{
    DealId, DealReference, DealState, Direction, Epic, Money, OrderType, Price, Size, Timestamp,
};

use crate::{
    DayStats, EventRecord, Execution, Journal, JournalError, PartialClose, StopKind, Trade,
    TradeDetail, TradeFilter, TradeId,
};

/// Exact decimal text (keeps the scale, e.g. `1.08120`).
pub(crate) fn dec_text(d: Decimal) -> String {
    d.to_string()
}

pub(crate) fn state_str(s: DealState) -> &'static str {
    match s {
        DealState::Intent => "intent",
        DealState::Submitted => "submitted",
        DealState::Accepted => "accepted",
        DealState::Rejected => "rejected",
        DealState::Unknown => "unknown",
        DealState::Open => "open",
        DealState::Closing => "closing",
        DealState::Closed => "closed",
    }
}

pub(crate) fn parse_state(s: &str) -> Result<DealState, JournalError> {
    Ok(match s {
        "intent" => DealState::Intent,
        "submitted" => DealState::Submitted,
        "accepted" => DealState::Accepted,
        "rejected" => DealState::Rejected,
        "unknown" => DealState::Unknown,
        "open" => DealState::Open,
        "closing" => DealState::Closing,
        "closed" => DealState::Closed,
        other => return Err(JournalError::decode("trade state", other)),
    })
}

/// States in which the broker may hold a position for the trade.
const OPEN_STATES: &str = "('submitted','accepted','unknown','open','closing')";
/// States whose outcome is not known: the request may or may not have reached the broker.
/// `intent` is included: a crash between the journal write and the send leaves it ambiguous.
const UNRESOLVED_STATES: &str = "('intent','submitted','unknown')";

const TRADE_COLUMNS: &str = "id, deal_reference, epic, direction, size, order_type, stop_level,
    limit_level, paper, adopted, strategy, state, deal_id, open_level, close_level, pnl, fees,
    created_at, opened_at, closed_at, reason, signal_at, signal_bid, signal_ask, entry_spread,
    sent_at, acked_at, confirmed_at, slippage_points, slippage, exit_spread, exit_slippage_points,
    exit_signal_at, stop_kind, stop_premium_points, trailing_increment";
/// The same from a journal of schema 3 (read-only, not migrated).
const TRADE_COLUMNS_V3: &str = "id, deal_reference, epic, direction, size, order_type, stop_level,
    limit_level, paper, adopted, strategy, state, deal_id, open_level, close_level, pnl, fees,
    created_at, opened_at, closed_at, reason, signal_at, signal_bid, signal_ask, entry_spread,
    sent_at, acked_at, confirmed_at, slippage_points, slippage, exit_spread, exit_slippage_points,
    exit_signal_at, NULL, NULL, NULL";
/// The same from a journal of schema 2 (read-only, not migrated).
const TRADE_COLUMNS_V2: &str = "id, deal_reference, epic, direction, size, order_type, stop_level,
    limit_level, paper, adopted, strategy, state, deal_id, open_level, close_level, pnl, fees,
    created_at, opened_at, closed_at, reason, signal_at, signal_bid, signal_ask, entry_spread,
    sent_at, acked_at, confirmed_at, slippage_points, slippage, exit_spread, exit_slippage_points,
    NULL, NULL, NULL, NULL";
/// The same from a journal older than the execution record (read-only, not migrated).
const TRADE_COLUMNS_V1: &str = "id, deal_reference, epic, direction, size, order_type,
    stop_level, limit_level, paper, adopted, strategy, state, deal_id, open_level, close_level,
    pnl, fees, created_at, opened_at, closed_at, reason, NULL, NULL, NULL, NULL, NULL, NULL,
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL";

fn dec(row: &Row<'_>, idx: usize, ctx: &'static str) -> Result<Decimal, JournalError> {
    let s: String = row.get(idx).map_err(JournalError::sqlite(ctx))?;
    Decimal::from_str(&s).map_err(|e| JournalError::decode(ctx, format!("{s:?}: {e}")))
}

fn opt_dec(row: &Row<'_>, idx: usize, ctx: &'static str) -> Result<Option<Decimal>, JournalError> {
    let s: Option<String> = row.get(idx).map_err(JournalError::sqlite(ctx))?;
    s.map(|s| Decimal::from_str(&s).map_err(|e| JournalError::decode(ctx, format!("{s:?}: {e}"))))
        .transpose()
}

fn get<T: rusqlite::types::FromSql>(row: &Row<'_>, idx: usize) -> Result<T, JournalError> {
    row.get(idx)
        .map_err(JournalError::sqlite("reading a trade"))
}

fn trade_from_row(row: &Row<'_>) -> Result<Trade, JournalError> {
    let reference: String = get(row, 1)?;
    let epic: String = get(row, 2)?;
    let direction: String = get(row, 3)?;
    let order_type: String = get(row, 5)?;
    let deal_id: Option<String> = get(row, 12)?;
    Ok(Trade {
        id: TradeId(get(row, 0)?),
        deal_reference: DealReference::new(reference)
            .map_err(|e| JournalError::decode("deal reference", e))?,
        epic: Epic::new(epic).map_err(|e| JournalError::decode("epic", e))?,
        direction: match direction.as_str() {
            "BUY" => Direction::Buy,
            "SELL" => Direction::Sell,
            other => return Err(JournalError::decode("direction", other)),
        },
        size: Size::new(dec(row, 4, "size")?),
        order_type: match order_type.as_str() {
            "MARKET" => OrderType::Market,
            "LIMIT" => OrderType::Limit,
            "STOP" => OrderType::Stop,
            other => return Err(JournalError::decode("order type", other)),
        },
        stop_level: opt_dec(row, 6, "stop level")?.map(Price::new),
        limit_level: opt_dec(row, 7, "limit level")?.map(Price::new),
        paper: get(row, 8)?,
        adopted: get(row, 9)?,
        strategy: get(row, 10)?,
        state: parse_state(&get::<String>(row, 11)?)?,
        deal_id: deal_id
            .map(DealId::new)
            .transpose()
            .map_err(|e| JournalError::decode("deal id", e))?,
        open_level: opt_dec(row, 13, "open level")?.map(Price::new),
        close_level: opt_dec(row, 14, "close level")?.map(Price::new),
        pnl: opt_dec(row, 15, "pnl")?.map(Money::new),
        fees: Money::new(dec(row, 16, "fees")?),
        created_at: Timestamp::from_millis(get(row, 17)?),
        opened_at: get::<Option<i64>>(row, 18)?.map(Timestamp::from_millis),
        closed_at: get::<Option<i64>>(row, 19)?.map(Timestamp::from_millis),
        reason: get(row, 20)?,
        execution: Execution {
            signal_at: get::<Option<i64>>(row, 21)?.map(Timestamp::from_millis),
            signal_bid: opt_dec(row, 22, "signal bid")?.map(Price::new),
            signal_ask: opt_dec(row, 23, "signal offer")?.map(Price::new),
            entry_spread: opt_dec(row, 24, "entry spread")?,
            sent_at: get::<Option<i64>>(row, 25)?.map(Timestamp::from_millis),
            acked_at: get::<Option<i64>>(row, 26)?.map(Timestamp::from_millis),
            confirmed_at: get::<Option<i64>>(row, 27)?.map(Timestamp::from_millis),
            slippage_points: opt_dec(row, 28, "slippage points")?,
            slippage: opt_dec(row, 29, "slippage")?.map(Money::new),
            exit_spread: opt_dec(row, 30, "exit spread")?,
            exit_slippage_points: opt_dec(row, 31, "exit slippage points")?,
            exit_signal_at: get::<Option<i64>>(row, 32)?.map(Timestamp::from_millis),
        },
        stop_kind: stop_kind_from_row(row)?,
    })
}

pub(crate) fn stop_kind_name(k: StopKind) -> Option<&'static str> {
    match k {
        StopKind::Normal => None,
        StopKind::Guaranteed { .. } => Some("guaranteed"),
        StopKind::Trailing { .. } => Some("trailing"),
    }
}

fn stop_kind_from_row(row: &Row<'_>) -> Result<StopKind, JournalError> {
    let kind: Option<String> = get(row, 33)?;
    Ok(match kind.as_deref() {
        None => StopKind::Normal,
        Some("guaranteed") => StopKind::Guaranteed {
            premium_points: opt_dec(row, 34, "guaranteed stop premium")?,
        },
        Some("trailing") => StopKind::Trailing {
            increment: opt_dec(row, 35, "trailing increment")?
                .ok_or_else(|| JournalError::decode("trailing increment", "missing"))?,
        },
        Some(other) => return Err(JournalError::decode("stop kind", other)),
    })
}

impl Journal {
    fn query_trades(
        &self,
        sql_tail: &str,
        args: &[&dyn rusqlite::ToSql],
    ) -> Result<Vec<Trade>, JournalError> {
        let columns = if self.schema < crate::schema::EXECUTION_SINCE {
            TRADE_COLUMNS_V1
        } else if self.schema < crate::schema::EXIT_SIGNAL_SINCE {
            TRADE_COLUMNS_V2
        } else if self.schema < crate::schema::STOP_KIND_SINCE {
            TRADE_COLUMNS_V3
        } else {
            TRADE_COLUMNS
        };
        let sql = format!("SELECT {columns} FROM trades {sql_tail}");
        let mut stmt = self
            .conn
            .prepare(&sql)
            .map_err(JournalError::sqlite("querying trades"))?;
        let mut rows = stmt
            .query(args)
            .map_err(JournalError::sqlite("querying trades"))?;
        let mut out = Vec::new();
        while let Some(row) = rows
            .next()
            .map_err(JournalError::sqlite("querying trades"))?
        {
            out.push(trade_from_row(row)?);
        }
        Ok(out)
    }

    /// One trade by journal id.
    pub fn trade(&self, id: TradeId) -> Result<Option<Trade>, JournalError> {
        Ok(self.query_trades("WHERE id = ?1", &[&id.0])?.pop())
    }

    /// One trade by our deal reference.
    pub fn trade_by_reference(&self, r: &DealReference) -> Result<Option<Trade>, JournalError> {
        Ok(self
            .query_trades("WHERE deal_reference = ?1", &[&r.as_str()])?
            .pop())
    }

    /// Trades whose state may hold a position at the broker (submitted, accepted, unknown, open,
    /// closing), oldest first.
    pub fn open_trades(&self) -> Result<Vec<Trade>, JournalError> {
        self.query_trades(&format!("WHERE state IN {OPEN_STATES} ORDER BY id"), &[])
    }

    /// Trades whose opening outcome is unknown (intent, submitted, unknown), oldest first.
    pub fn unresolved_trades(&self) -> Result<Vec<Trade>, JournalError> {
        self.query_trades(
            &format!("WHERE state IN {UNRESOLVED_STATES} ORDER BY id"),
            &[],
        )
    }

    /// Everything reconciliation must check: open and unresolved trades (the input of
    /// [`crate::reconcile()`]). Paper trades never met the broker and are not among them.
    pub fn trades_to_reconcile(&self) -> Result<Vec<Trade>, JournalError> {
        self.query_trades(
            &format!(
                "WHERE paper = 0 AND (state IN {OPEN_STATES} OR state IN {UNRESOLVED_STATES}) ORDER BY id"
            ),
            &[],
        )
    }

    /// The id the next trade written will get (ids are never reused).
    pub fn next_trade_id(&self) -> Result<i64, JournalError> {
        self.conn
            .query_row("SELECT COALESCE(MAX(id), 0) + 1 FROM trades", [], |r| {
                r.get(0)
            })
            .map_err(JournalError::sqlite("reading the next trade id"))
    }

    /// Paper trades still open or unresolved: a paper broker's positions end with its run.
    pub fn open_paper_trades(&self) -> Result<Vec<Trade>, JournalError> {
        self.query_trades(
            &format!(
                "WHERE paper = 1 AND (state IN {OPEN_STATES} OR state IN {UNRESOLVED_STATES}) ORDER BY id"
            ),
            &[],
        )
    }

    /// Trades that reconciliation marked closed at the broker while the engine was not
    /// running, whose P&L is still to be read from the broker's history, oldest first.
    pub fn pending_external_closes(&self) -> Result<Vec<Trade>, JournalError> {
        self.query_trades(
            "WHERE state = 'closed' AND pnl IS NULL AND reason = 'closed_externally' ORDER BY id",
            &[],
        )
    }

    /// Trades matching `filter`, oldest first.
    pub fn trades(&self, filter: &TradeFilter) -> Result<Vec<Trade>, JournalError> {
        let from = filter.from.map_or(i64::MIN, Timestamp::millis);
        let to = filter.to.map_or(i64::MAX, Timestamp::millis);
        let epic = filter.epic.as_ref().map(|e| e.as_str().to_string());
        let state = filter.state.map(state_str);
        let limit = filter.limit.map_or(-1, i64::from);
        self.query_trades(
            "WHERE id IN (SELECT id FROM trades WHERE created_at >= ?1 AND created_at < ?2
                AND (?3 IS NULL OR epic = ?3) AND (?4 IS NULL OR state = ?4)
                ORDER BY id DESC LIMIT ?5) ORDER BY id",
            &[&from, &to, &epic, &state, &limit],
        )
    }

    /// A trade's journaled events, in order.
    pub fn history(&self, id: TradeId) -> Result<Vec<EventRecord>, JournalError> {
        self.query_events("WHERE trade_id = ?1 ORDER BY seq", &[&id.0])
    }

    /// A trade and its history (`show <id>`); `None` when the id is unknown.
    pub fn detail(&self, id: TradeId) -> Result<Option<TradeDetail>, JournalError> {
        let Some(trade) = self.trade(id)? else {
            return Ok(None);
        };
        let events = self.history(id)?;
        Ok(Some(TradeDetail { trade, events }))
    }

    /// All events (trade and system) with `from <= ts < to`, in order; `kind` filters by kind.
    pub fn events(
        &self,
        from: Timestamp,
        to: Timestamp,
        kind: Option<&str>,
    ) -> Result<Vec<EventRecord>, JournalError> {
        self.query_events(
            "WHERE ts >= ?1 AND ts < ?2 AND (?3 IS NULL OR kind = ?3) ORDER BY seq",
            &[&from.millis(), &to.millis(), &kind],
        )
    }

    pub(crate) fn query_events(
        &self,
        tail: &str,
        args: &[&dyn rusqlite::ToSql],
    ) -> Result<Vec<EventRecord>, JournalError> {
        let sql = format!("SELECT seq, ts, kind, trade_id, detail FROM events {tail}");
        let mut stmt = self
            .conn
            .prepare(&sql)
            .map_err(JournalError::sqlite("querying events"))?;
        let rows = stmt
            .query_map(args, |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<i64>>(3)?,
                    r.get::<_, String>(4)?,
                ))
            })
            .map_err(JournalError::sqlite("querying events"))?;
        let mut out = Vec::new();
        for row in rows {
            let (seq, ts, kind, trade, detail) =
                row.map_err(JournalError::sqlite("querying events"))?;
            out.push(EventRecord {
                seq,
                ts: Timestamp::from_millis(ts),
                kind,
                trade_id: trade.map(TradeId),
                detail: serde_json::from_str(&detail)
                    .map_err(|e| JournalError::decode("event detail", e))?,
            });
        }
        Ok(out)
    }

    /// Each trade closed in `[start, end)` with a known P&L, and each partial close made in
    /// it, in time order: its time and the P&L it realised (a trade's close less its fees and
    /// its partial closes, which are points of their own) — the points of a day's realised
    /// equity curve.
    pub fn closes_between(
        &self,
        start: Timestamp,
        end: Timestamp,
    ) -> Result<Vec<(Timestamp, Money)>, JournalError> {
        let ctx = "reading the day's closes";
        let mut stmt = self
            .conn
            .prepare(
                "SELECT closed_at, pnl, fees, id FROM trades WHERE state = 'closed'
                    AND closed_at >= ?1 AND closed_at < ?2 AND pnl IS NOT NULL
                    ORDER BY closed_at, id",
            )
            .map_err(JournalError::sqlite(ctx))?;
        let mut rows = stmt
            .query(params![start.millis(), end.millis()])
            .map_err(JournalError::sqlite(ctx))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(JournalError::sqlite(ctx))? {
            let at: i64 = row.get(0).map_err(JournalError::sqlite(ctx))?;
            let id: i64 = row.get(3).map_err(JournalError::sqlite(ctx))?;
            let pnl = Money::new(dec(row, 1, "pnl")? - dec(row, 2, "fees")?);
            out.push((
                Timestamp::from_millis(at),
                pnl - self.partial_pnl(TradeId(id))?,
            ));
        }
        let mut parts = self
            .conn
            .prepare(
                "SELECT ts, detail FROM events WHERE kind = 'partial_close'
                    AND ts >= ?1 AND ts < ?2 ORDER BY seq",
            )
            .map_err(JournalError::sqlite(ctx))?;
        let mut rows = parts
            .query(params![start.millis(), end.millis()])
            .map_err(JournalError::sqlite(ctx))?;
        let mut points = Vec::new();
        while let Some(row) = rows.next().map_err(JournalError::sqlite(ctx))? {
            let at: i64 = row.get(0).map_err(JournalError::sqlite(ctx))?;
            let detail: String = row.get(1).map_err(JournalError::sqlite(ctx))?;
            let part: PartialClose = serde_json::from_str(&detail)
                .map_err(|e| JournalError::decode("partial close", e))?;
            points.push((Timestamp::from_millis(at), part.pnl));
        }
        // Stable: a part comes before a close at the same instant.
        points.extend(out);
        points.sort_by_key(|(at, _)| *at);
        Ok(points)
    }

    /// Realised P&L and trade counts for the window `[start, end)` (e.g. one trading day as the
    /// risk manager defines it), so the daily loss limit and trade caps survive restarts.
    /// Entries count by creation time (rejected ones excluded); P&L by close time.
    pub fn day_stats(&self, start: Timestamp, end: Timestamp) -> Result<DayStats, JournalError> {
        let (s, e) = (start.millis(), end.millis());
        let opened: i64 = self
            .conn
            .query_row(
                "SELECT count(*) FROM trades WHERE created_at >= ?1 AND created_at < ?2
                    AND state <> 'rejected'",
                params![s, e],
                |r| r.get(0),
            )
            .map_err(JournalError::sqlite("counting trades"))?;
        let mut stats = DayStats {
            trades_opened: u32::try_from(opened).unwrap_or(u32::MAX),
            ..DayStats::default()
        };
        let mut stmt = self
            .conn
            .prepare(
                "SELECT pnl, fees FROM trades WHERE state = 'closed'
                    AND closed_at >= ?1 AND closed_at < ?2",
            )
            .map_err(JournalError::sqlite("summing P&L"))?;
        let mut rows = stmt
            .query(params![s, e])
            .map_err(JournalError::sqlite("summing P&L"))?;
        // A partial close is realised when it is made (as the engine books it): on the day of
        // the part, and left out of its trade's P&L (which includes it) on the day of the close.
        stats.realised_pnl += self.partials_sum(
            "SELECT detail FROM events WHERE kind = 'partial_close' AND ts >= ?1 AND ts < ?2",
            &[&s, &e],
        )?;
        stats.realised_pnl -= self.partials_sum(
            "SELECT e.detail FROM events e JOIN trades t ON t.id = e.trade_id
                WHERE e.kind = 'partial_close' AND t.state = 'closed' AND t.pnl IS NOT NULL
                AND t.closed_at >= ?1 AND t.closed_at < ?2",
            &[&s, &e],
        )?;
        while let Some(row) = rows.next().map_err(JournalError::sqlite("summing P&L"))? {
            stats.trades_closed += 1;
            stats.fees += Money::new(dec(row, 1, "fees")?);
            match opt_dec(row, 0, "pnl")? {
                None => stats.pnl_pending += 1,
                Some(p) => {
                    stats.realised_pnl += Money::new(p);
                    if p > Decimal::ZERO {
                        stats.wins += 1;
                    } else {
                        stats.losses += 1;
                    }
                }
            }
        }
        Ok(stats)
    }

    /// The P&L the partial closes of trade `id` realised (the trade's P&L includes it once it
    /// closes): what a restarted engine adds to the rest when the trade closes.
    pub fn partial_pnl(&self, id: TradeId) -> Result<Money, JournalError> {
        self.partials_sum(
            "SELECT detail FROM events WHERE kind = 'partial_close' AND trade_id = ?1",
            &[&id.0],
        )
    }

    /// The sum of the `partial_close` events' P&L that `sql` selects (one `detail` column,
    /// its parameters `args`).
    fn partials_sum(
        &self,
        sql: &str,
        args: &[&dyn rusqlite::ToSql],
    ) -> Result<Money, JournalError> {
        let ctx = "summing partial closes";
        let mut stmt = self.conn.prepare(sql).map_err(JournalError::sqlite(ctx))?;
        let mut rows = stmt.query(args).map_err(JournalError::sqlite(ctx))?;
        let mut total = Money::ZERO;
        while let Some(row) = rows.next().map_err(JournalError::sqlite(ctx))? {
            let detail: String = row.get(0).map_err(JournalError::sqlite(ctx))?;
            let part: PartialClose = serde_json::from_str(&detail)
                .map_err(|e| JournalError::decode("partial close", e))?;
            total += part.pnl;
        }
        Ok(total)
    }

    /// Closed trades with `from <= closed_at < to`, in close order (for reports).
    pub fn closed_trades(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<Trade>, JournalError> {
        self.query_trades(
            "WHERE state = 'closed' AND closed_at >= ?1 AND closed_at < ?2 ORDER BY closed_at, id",
            &[&from.millis(), &to.millis()],
        )
    }

    /// The trade holding broker deal id `deal_id`, if any.
    pub fn trade_by_deal_id(&self, deal_id: &DealId) -> Result<Option<Trade>, JournalError> {
        Ok(self
            .query_trades(
                "WHERE deal_id = ?1 ORDER BY id DESC LIMIT 1",
                &[&deal_id.as_str()],
            )?
            .pop())
    }
}
