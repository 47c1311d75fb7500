//! The journal's schema as an ordered list of migrations. Never edit a shipped migration:
//! append a new one. `user_version` holds the number of migrations applied.

/// `PRAGMA application_id` of a scalper journal ("SCJ1").
pub const APPLICATION_ID: i64 = 0x5343_4A31;

/// Migrations in order; migration `i` (0-based) brings the schema to version `i + 1`.
pub const MIGRATIONS: &[(&str, &str)] = &[
    (
        "initial",
        "CREATE TABLE schema_migrations (
        version INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        applied_at INTEGER NOT NULL
    );
    CREATE TABLE trades (
        id INTEGER PRIMARY KEY,
        deal_reference TEXT NOT NULL UNIQUE,
        epic TEXT NOT NULL,
        direction TEXT NOT NULL CHECK (direction IN ('BUY', 'SELL')),
        size TEXT NOT NULL,
        order_type TEXT NOT NULL,
        order_level TEXT,
        stop_level TEXT,
        limit_level TEXT,
        paper INTEGER NOT NULL,
        adopted INTEGER NOT NULL DEFAULT 0,
        strategy TEXT,
        state TEXT NOT NULL,
        deal_id TEXT,
        open_level TEXT,
        close_level TEXT,
        pnl TEXT,
        fees TEXT NOT NULL DEFAULT '0',
        created_at INTEGER NOT NULL,
        opened_at INTEGER,
        closed_at INTEGER,
        reason TEXT
    );
    CREATE INDEX trades_state ON trades (state);
    CREATE INDEX trades_created ON trades (created_at);
    CREATE INDEX trades_closed ON trades (closed_at);
    CREATE INDEX trades_deal_id ON trades (deal_id);
    CREATE TABLE events (
        seq INTEGER PRIMARY KEY,
        ts INTEGER NOT NULL,
        kind TEXT NOT NULL,
        trade_id INTEGER REFERENCES trades (id),
        detail TEXT NOT NULL
    );
    CREATE INDEX events_trade ON events (trade_id);
    CREATE INDEX events_ts ON events (ts);",
    ),
    (
        "execution",
        // The execution record of a trade (see `Execution`): all NULL for trades journaled
        // before it existed, paper fills and adopted positions where not known.
        "ALTER TABLE trades ADD COLUMN signal_at INTEGER;
    ALTER TABLE trades ADD COLUMN signal_bid TEXT;
    ALTER TABLE trades ADD COLUMN signal_ask TEXT;
    ALTER TABLE trades ADD COLUMN entry_spread TEXT;
    ALTER TABLE trades ADD COLUMN sent_at INTEGER;
    ALTER TABLE trades ADD COLUMN acked_at INTEGER;
    ALTER TABLE trades ADD COLUMN confirmed_at INTEGER;
    ALTER TABLE trades ADD COLUMN slippage_points TEXT;
    ALTER TABLE trades ADD COLUMN slippage TEXT;
    ALTER TABLE trades ADD COLUMN exit_spread TEXT;
    ALTER TABLE trades ADD COLUMN exit_slippage_points TEXT;",
    ),
    (
        "exit_signal",
        // The quote a close the engine sent was decided on (IG's time): where a replay
        // compares exits.
        "ALTER TABLE trades ADD COLUMN exit_signal_at INTEGER;",
    ),
    (
        "stop_kind",
        // The broker's kind of stop (see `StopKind`), so a restart keeps it: NULL is a normal
        // stop (and every trade journaled before it existed).
        "ALTER TABLE trades ADD COLUMN stop_kind TEXT
        CHECK (stop_kind IS NULL OR stop_kind IN ('guaranteed', 'trailing'));
    ALTER TABLE trades ADD COLUMN stop_premium_points TEXT;
    ALTER TABLE trades ADD COLUMN trailing_increment TEXT;",
    ),
];

/// The schema version this binary writes.
#[allow(clippy::cast_possible_wrap)] // a handful of migrations
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// The oldest schema a read-only open can read without migrating: every migration after it
/// only adds nullable columns.
pub const READABLE_SINCE: i64 = 1;

/// The schema version that added the trades' execution record (`Execution`).
pub const EXECUTION_SINCE: i64 = 2;

/// The schema version that added `exit_signal_at` to the execution record.
pub const EXIT_SIGNAL_SINCE: i64 = 3;

/// The schema version that added the broker's kind of stop (`StopKind`).
pub const STOP_KIND_SINCE: i64 = 4;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::{Execution, Journal, OpenOptions, StopKind, TradeFilter};
    use scalper_model::{DealReference, Money, Price, Timestamp};

    /// A journal as the first release wrote it: schema 1, one closed trade.
    fn version_one(path: &std::path::Path) {
        let conn = rusqlite::Connection::open(path).unwrap();
        conn.pragma_update(None, "application_id", APPLICATION_ID)
            .unwrap();
        conn.execute_batch(MIGRATIONS[0].1).unwrap();
        conn.execute(
            "INSERT INTO trades (deal_reference, epic, direction, size, order_type, paper,
                state, deal_id, open_level, close_level, pnl, created_at, opened_at, closed_at)
             VALUES ('OLD-1', 'CS.D.EURUSD.CFD.IP', 'BUY', '1', 'MARKET', 0, 'closed', 'DIAAA1',
                '1.08000', '1.08100', '10.00', 1000, 1100, 2000)",
            [],
        )
        .unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
    }

    #[test]
    fn an_older_journal_reads_without_migrating_and_migrates_when_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.sqlite");
        version_one(&path);
        // `journal list`, `report`: read as it is, the execution record empty.
        let ro = Journal::open(
            &path,
            &OpenOptions {
                read_only: true,
                ..OpenOptions::default()
            },
        )
        .unwrap();
        let trades = ro.trades(&TradeFilter::default()).unwrap();
        assert_eq!(trades.len(), 1);
        assert_eq!(trades[0].pnl, Some(Money::new("10.00".parse().unwrap())));
        assert_eq!(trades[0].execution, Execution::default());
        drop(ro);
        let version = |p: &std::path::Path| -> i64 {
            rusqlite::Connection::open(p)
                .unwrap()
                .query_row("PRAGMA user_version", [], |r| r.get(0))
                .unwrap()
        };
        assert_eq!(version(&path), 1, "a read-only open must not migrate");
        // A writing open migrates, keeps the trade, and takes execution records.
        let mut rw = Journal::open(&path, &OpenOptions::default()).unwrap();
        let reference = DealReference::new("OLD-1").unwrap();
        let exec = Execution {
            signal_bid: Some(Price::new("1.07990".parse().unwrap())),
            exit_spread: Some("0.6".parse().unwrap()),
            ..Execution::default()
        };
        rw.record_execution(&reference, Timestamp::from_millis(3000), &exec)
            .unwrap();
        // A later record adds to it; what it leaves out is kept.
        let later = Execution {
            sent_at: Some(Timestamp::from_millis(1001)),
            ..Execution::default()
        };
        rw.record_execution(&reference, Timestamp::from_millis(3001), &later)
            .unwrap();
        let t = rw.trades(&TradeFilter::default()).unwrap().remove(0);
        assert_eq!(t.execution.signal_bid, exec.signal_bid);
        assert_eq!(t.execution.exit_spread, exec.exit_spread);
        assert_eq!(t.execution.sent_at, later.sent_at);
        assert_eq!(t.pnl, Some(Money::new("10.00".parse().unwrap())));
        drop(rw);
        assert_eq!(version(&path), SCHEMA_VERSION);
    }

    /// A journal as schema 3 wrote it: a guaranteed-stop trade still open (its stop kind
    /// was not kept then).
    fn version_three(path: &std::path::Path) {
        let conn = rusqlite::Connection::open(path).unwrap();
        conn.pragma_update(None, "application_id", APPLICATION_ID)
            .unwrap();
        for (_, sql) in &MIGRATIONS[..3] {
            conn.execute_batch(sql).unwrap();
        }
        conn.execute(
            "INSERT INTO trades (deal_reference, epic, direction, size, order_type, paper,
                state, deal_id, open_level, stop_level, created_at, opened_at, exit_signal_at)
             VALUES ('OLD-3', 'CS.D.EURUSD.CFD.IP', 'BUY', '1', 'MARKET', 0, 'open', 'DIAAA3',
                '1.08000', '1.07900', 1000, 1100, NULL)",
            [],
        )
        .unwrap();
        conn.pragma_update(None, "user_version", 3).unwrap();
    }

    #[test]
    fn a_schema_three_journal_reads_read_only_and_keeps_stop_kinds_once_migrated() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("three.sqlite");
        version_three(&path);
        let ro = Journal::open(&path, &OpenOptions::read_only()).unwrap();
        let trades = ro.open_trades().unwrap();
        assert_eq!(trades.len(), 1);
        assert_eq!(trades[0].stop_kind, StopKind::Normal, "not known then");
        assert_eq!(
            trades[0].stop_level,
            Some(Price::new("1.07900".parse().unwrap()))
        );
        drop(ro);
        let version = |p: &std::path::Path| -> i64 {
            rusqlite::Connection::open(p)
                .unwrap()
                .query_row("PRAGMA user_version", [], |r| r.get(0))
                .unwrap()
        };
        assert_eq!(version(&path), 3, "a read-only open must not migrate");
        let mut rw = Journal::open(&path, &OpenOptions::default()).unwrap();
        assert_eq!(version(&path), SCHEMA_VERSION);
        let reference = DealReference::new("OLD-3").unwrap();
        let kinds = [
            StopKind::Guaranteed {
                premium_points: Some("0.3".parse().unwrap()),
            },
            StopKind::Guaranteed {
                premium_points: None,
            },
            StopKind::Trailing {
                increment: "1.5".parse().unwrap(),
            },
            StopKind::Normal,
        ];
        for (n, kind) in (0..).zip(kinds) {
            rw.record_stop_kind(&reference, Timestamp::from_millis(2000 + n), &kind)
                .unwrap();
            let t = rw.trade_by_reference(&reference).unwrap().unwrap();
            assert_eq!(t.stop_kind, kind);
            assert_eq!(
                t.state,
                scalper_model::DealState::Open,
                "any state, unchanged"
            );
        }
        drop(rw);
        // A journal written by this version, read read-only, reads its stop kinds too.
        let mut rw = Journal::open(&path, &OpenOptions::default()).unwrap();
        let kind = StopKind::Guaranteed {
            premium_points: Some("0.3".parse().unwrap()),
        };
        rw.record_stop_kind(&reference, Timestamp::from_millis(3000), &kind)
            .unwrap();
        drop(rw);
        let ro = Journal::open(&path, &OpenOptions::read_only()).unwrap();
        assert_eq!(ro.open_trades().unwrap()[0].stop_kind, kind);
    }
}
