//! The journal's schema as an ordered list of migrations. Never edit a shipped migration:
//! append a new one. `user_version` holds the number of migrations applied.

/// `PRAGMA application_id` of a scalper journal ("SCJ1").
pub const APPLICATION_ID: i64 = 0x5343_4A31;

/// Migrations in order; migration `i` (0-based) brings the schema to version `i + 1`.
pub const MIGRATIONS: &[(&str, &str)] = &[(
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
)];

/// The schema version this binary writes.
#[allow(clippy::cast_possible_wrap)] // a handful of migrations
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;
