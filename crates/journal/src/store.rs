//! Opening the journal: path checks, the engine lock, WAL and durability pragmas, integrity
//! check and versioned migrations. A file that fails any check is reported and left untouched.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OpenFlags, TransactionBehavior};

use crate::schema::{APPLICATION_ID, MIGRATIONS, READABLE_SINCE, SCHEMA_VERSION};
use crate::JournalError;

/// Default journal location, relative to the working directory.
pub const DEFAULT_PATH: &str = "data/journal.sqlite";

/// How hard each commit is pushed to disk.
///
/// Choice: `Full` by default. Every record is one transaction; with `Full` the WAL is fsynced
/// before the call returns, so an intent the engine was told is journaled survives a kill, an OS
/// crash and a power cut, and the request is only sent after that. The cost is one fsync per
/// record, three per trade (intent, confirm, close): about 11-14 ms per trade on the shared VM
/// disk this was measured on (p50 ~170 us per trade with `Normal`); on a local NVMe an fsync is
/// typically 0.1-1 ms. `Normal` is enough against SIGKILL (the WAL is in the OS cache) and is
/// meant for demo, sandbox and backtest runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// `synchronous=FULL`: the WAL is fsynced at every commit, so an acknowledged write survives a
    /// process kill AND an OS crash or power loss. Default for live and paper trading.
    #[default]
    Full,
    /// `synchronous=NORMAL`: survives a process kill (SIGKILL) but the last commits may be lost on
    /// power loss. For backtests and benchmarks.
    Normal,
}

/// Options for [`crate::Journal::open`]. `Default` is the engine's: writable, exclusive, durable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenOptions {
    /// Open read-only (CLI `journal list/show/export`, `report`): no engine lock, no migration,
    /// the file must exist. Works while an engine is running.
    pub read_only: bool,
    pub durability: Durability,
    /// How long to wait for another connection's write lock before failing with `Locked`.
    pub busy_timeout: Duration,
    /// Run `PRAGMA quick_check` on open (a few ms for a typical journal).
    pub integrity_check: bool,
    /// Checkpoint the WAL from a background thread instead of in the writing call (the live
    /// runtime: a write never waits for a checkpoint's fsyncs). Default false.
    pub background_checkpoint: bool,
}

impl Default for OpenOptions {
    fn default() -> Self {
        Self {
            read_only: false,
            durability: Durability::Full,
            busy_timeout: Duration::from_secs(2),
            integrity_check: true,
            background_checkpoint: false,
        }
    }
}

impl OpenOptions {
    /// Read-only options for reports and listings.
    pub fn read_only() -> Self {
        Self {
            read_only: true,
            ..Self::default()
        }
    }
}

/// The path of the engine lock beside the journal.
pub fn lock_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".lock");
    PathBuf::from(s)
}

const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// Fails with `Corrupt` when an existing non-empty file does not start with SQLite's header, so
/// that SQLite never gets a chance to touch a foreign file.
fn check_header(path: &Path) -> Result<bool, JournalError> {
    let meta = match fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => {
            return Err(JournalError::Unwritable {
                path: path.to_path_buf(),
                detail: e.to_string(),
            })
        }
    };
    if meta.is_dir() {
        return Err(JournalError::Unwritable {
            path: path.to_path_buf(),
            detail: "the path is a directory".into(),
        });
    }
    if meta.len() == 0 {
        // Legal only when the pages are in the -wal file (a fresh WAL database). An empty file
        // with no WAL is not a journal: it is never silently made into a new one, which would
        // forget the day's realised P&L and loss lock.
        let mut wal = path.as_os_str().to_owned();
        wal.push("-wal");
        if fs::metadata(PathBuf::from(wal)).is_ok_and(|m| m.len() > 0) {
            return Ok(true);
        }
        return Err(JournalError::Corrupt {
            path: path.to_path_buf(),
            detail: "the file exists but is empty (0 bytes), so it is not a scalper journal; a journal is only created where no file exists: move it aside or choose another path".into(),
        });
    }
    let mut head = [0u8; 16];
    let read = fs::File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .map_err(|e| JournalError::Unwritable {
            path: path.to_path_buf(),
            detail: e.to_string(),
        })?;
    if read < 16 || &head != SQLITE_MAGIC {
        return Err(JournalError::Corrupt {
            path: path.to_path_buf(),
            detail: "not a SQLite database (bad file header)".into(),
        });
    }
    Ok(true)
}

/// Maps an SQLite error met while opening to the typed open errors.
pub(crate) fn open_error(path: &Path, context: &'static str, e: rusqlite::Error) -> JournalError {
    let path = path.to_path_buf();
    match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => JournalError::Corrupt {
            path,
            detail: e.to_string(),
        },
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => JournalError::Locked {
            path,
            detail: format!("another connection holds a lock ({context})"),
        },
        Some(
            ErrorCode::CannotOpen
            | ErrorCode::ReadOnly
            | ErrorCode::PermissionDenied
            | ErrorCode::DiskFull
            | ErrorCode::SystemIoFailure,
        ) => JournalError::Unwritable {
            path,
            detail: e.to_string(),
        },
        _ => JournalError::Sqlite { context, source: e },
    }
}

/// Takes the engine lock: a tiny SQLite file beside the journal held in EXCLUSIVE locking mode.
/// The OS releases it when the process dies (even by SIGKILL), so a crash never leaves a stale lock.
fn take_engine_lock(path: &Path, timeout: Duration) -> Result<Connection, JournalError> {
    let lp = lock_path(path);
    let err = |e| match open_error(&lp, "taking the engine lock", e) {
        JournalError::Locked { .. } => JournalError::Locked {
            path: path.to_path_buf(),
            detail: format!("another scalper engine is using it (lock {})", lp.display()),
        },
        JournalError::Corrupt { detail, .. } => JournalError::Corrupt {
            path: lp.clone(),
            detail: format!("engine lock file: {detail}"),
        },
        other => other,
    };
    let conn = Connection::open(&lp).map_err(err)?;
    conn.busy_timeout(timeout).map_err(err)?;
    conn.pragma_update(None, "locking_mode", "EXCLUSIVE")
        .map_err(err)?;
    conn.execute_batch(
        "BEGIN EXCLUSIVE;
         CREATE TABLE IF NOT EXISTS engine_lock (id INTEGER PRIMARY KEY, pid INTEGER NOT NULL);
         INSERT OR REPLACE INTO engine_lock (id, pid) VALUES (1, 0);
         COMMIT;",
    )
    .map_err(err)?;
    conn.execute(
        "UPDATE engine_lock SET pid = ?1 WHERE id = 1",
        [std::process::id()],
    )
    .map_err(err)?;
    Ok(conn)
}

/// Creates `dir` and missing parents, accessible to the owner only (trading history is private).
fn private_dir(dir: &Path) -> std::io::Result<()> {
    let mut b = fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir)
}

/// Creates `path` if missing, readable and writable by the owner only; an existing file is
/// left as it is.
fn private_file(path: &Path) -> std::io::Result<()> {
    let mut o = fs::OpenOptions::new();
    o.write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(path).map(drop)
}

/// An opened, checked and migrated connection (plus the engine lock when writable).
pub(crate) struct Opened {
    pub conn: Connection,
    pub lock: Option<Connection>,
    /// The schema version the file has (older than [`SCHEMA_VERSION`] only when read-only).
    pub version: i64,
}

pub(crate) fn open(path: &Path, opts: &OpenOptions) -> Result<Opened, JournalError> {
    let exists = check_header(path)?;
    if opts.read_only && !exists {
        return Err(JournalError::NotFound {
            path: path.to_path_buf(),
        });
    }
    if !opts.read_only {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            private_dir(parent).map_err(|e| JournalError::Unwritable {
                path: path.to_path_buf(),
                detail: format!("cannot create directory {}: {e}", parent.display()),
            })?;
        }
        if !exists {
            // Created here, private: SQLite gives its -wal and -shm files the same mode.
            private_file(path).map_err(|e| JournalError::Unwritable {
                path: path.to_path_buf(),
                detail: format!("cannot create the journal: {e}"),
            })?;
        }
        private_file(&lock_path(path)).map_err(|e| JournalError::Unwritable {
            path: lock_path(path),
            detail: format!("cannot create the engine lock file: {e}"),
        })?;
    }
    let lock = if opts.read_only {
        None
    } else {
        Some(take_engine_lock(path, opts.busy_timeout)?)
    };
    let flags = if opts.read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
    };
    let e = |ctx| move |err| open_error(path, ctx, err);
    let conn = Connection::open_with_flags(path, flags).map_err(e("opening"))?;
    conn.busy_timeout(opts.busy_timeout).map_err(e("opening"))?;
    conn.pragma_update(None, "foreign_keys", "ON")
        .map_err(e("enabling foreign keys"))?;
    if opts.integrity_check {
        let res: String = conn
            .query_row("PRAGMA quick_check(1)", [], |r| r.get(0))
            .map_err(e("checking integrity"))?;
        if res != "ok" {
            return Err(JournalError::Corrupt {
                path: path.to_path_buf(),
                detail: format!("integrity check failed: {res}"),
            });
        }
    }
    check_identity(&conn, path)?;
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(e("reading the schema version"))?;
    if version > SCHEMA_VERSION {
        return Err(JournalError::SchemaTooNew {
            path: path.to_path_buf(),
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    // Only now that the file is known to be ours and not too new may anything be written.
    if !opts.read_only {
        let mode: String = conn
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .map_err(e("enabling WAL"))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(JournalError::Unwritable {
                path: path.to_path_buf(),
                detail: format!("cannot enable WAL mode (got {mode})"),
            });
        }
        let sync = match opts.durability {
            Durability::Full => "FULL",
            Durability::Normal => "NORMAL",
        };
        conn.pragma_update(None, "synchronous", sync)
            .map_err(e("setting synchronous"))?;
        if opts.background_checkpoint {
            conn.pragma_update(None, "wal_autocheckpoint", 0)
                .map_err(e("turning automatic checkpoints off"))?;
        }
        // A writer elsewhere would make every journal write fail later: find out now.
        conn.execute_batch("BEGIN IMMEDIATE; COMMIT;")
            .map_err(e("probing the write lock"))?;
    }
    if version < SCHEMA_VERSION {
        // Reading needs no migration from a schema whose later migrations only added
        // columns: those read as NULL (see `Journal::trade_columns`).
        if opts.read_only && version < READABLE_SINCE {
            return Err(JournalError::SchemaTooOld {
                path: path.to_path_buf(),
                found: version,
                supported: SCHEMA_VERSION,
            });
        }
        if opts.read_only {
            return Ok(Opened {
                conn,
                lock,
                version,
            });
        }
        migrate(conn, path, version).map(|conn| Opened {
            conn,
            lock,
            version: SCHEMA_VERSION,
        })
    } else {
        Ok(Opened {
            conn,
            lock,
            version,
        })
    }
}

/// Refuses a SQLite file that belongs to something else.
fn check_identity(conn: &Connection, path: &Path) -> Result<(), JournalError> {
    let e = |err| open_error(path, "reading the application id", err);
    let app: i64 = conn
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .map_err(e)?;
    if app == APPLICATION_ID {
        return Ok(());
    }
    if app != 0 {
        return Err(JournalError::NotAJournal {
            path: path.to_path_buf(),
            detail: format!("application id {app:#x}"),
        });
    }
    let tables: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table'",
            [],
            |r| r.get(0),
        )
        .map_err(e)?;
    if tables > 0 {
        return Err(JournalError::NotAJournal {
            path: path.to_path_buf(),
            detail: format!("{tables} foreign table(s) and no scalper application id"),
        });
    }
    Ok(())
}

/// Applies the pending migrations in order, each in its own IMMEDIATE transaction that also
/// bumps `user_version` and records itself in `schema_migrations`.
fn migrate(mut conn: Connection, path: &Path, from: i64) -> Result<Connection, JournalError> {
    for ((name, sql), version) in MIGRATIONS.iter().zip(1_i64..) {
        if version <= from {
            continue;
        }
        let e = |err| open_error(path, "migrating the schema", err);
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(e)?;
        tx.execute_batch(sql).map_err(e)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at)
             VALUES (?1, ?2, CAST(strftime('%s','now') AS INTEGER) * 1000)",
            rusqlite::params![version, name],
        )
        .map_err(e)?;
        tx.pragma_update(None, "user_version", version).map_err(e)?;
        tx.pragma_update(None, "application_id", APPLICATION_ID)
            .map_err(e)?;
        tx.commit().map_err(e)?;
        tracing::info!(version, name, path = %path.display(), "journal migration applied");
    }
    Ok(conn)
}
