//! Logging: console (stderr) and `<log-dir>/scalping_engine.log`, rotated daily (the previous
//! day's file is renamed `scalping_engine.log.YYYY-MM-DD`), written off-thread through
//! tracing-appender. Filters: `--log-filter`, else `RUST_LOG`, else defaults shaped by -v/-q.
//! A third layer keeps the last records at INFO and above for the `--http` status page
//! ([`log_tail`]); it keeps nothing until the page's server attaches to it.

use std::fs::{File, OpenOptions};
use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use chrono::{DateTime, NaiveDate, Utc};
use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::filter::{filter_fn, EnvFilter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

use crate::args::GlobalArgs;

/// Name of the active log file.
pub const LOG_FILE: &str = "scalping_engine.log";

/// Target of events meant for the log file only (e.g. the final error, already printed).
pub const FILE_ONLY: &str = "scalper_file";

const CRATES: [&str; 7] = [
    "scalper",
    "scalper_cli",
    "scalper_ig",
    "scalper_engine",
    "scalper_sandbox",
    "scalper_journal",
    "scalper_backtest",
];

/// HTTP, TLS and WebSocket libraries whose debug/trace output can include request headers
/// (API key, CST, X-SECURITY-TOKEN): always capped at `info`, whatever the filter says.
const WIRE_CRATES: [&str; 8] = [
    "hyper",
    "hyper_util",
    "h2",
    "reqwest",
    "rustls",
    "tungstenite",
    "tokio_tungstenite",
    "tower_http",
];

/// Removes directives for [`WIRE_CRATES`] from a filter and appends the `info` caps.
pub fn harden(filter: &str) -> String {
    let mut parts: Vec<String> = filter
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .filter(|d| {
            let target = d.split(['=', '[']).next().unwrap_or("");
            !WIRE_CRATES
                .iter()
                .any(|c| target == *c || target.starts_with(&format!("{c}::")))
        })
        .map(ToString::to_string)
        .collect();
    parts.extend(WIRE_CRATES.iter().map(|c| format!("{c}=info")));
    parts.join(",")
}

/// The process's log tail (the subscriber is process-wide, so is its tail).
static TAIL: OnceLock<scalper_live::LogTail> = OnceLock::new();

/// The last log records, for the status page (`None` before [`init`]).
pub fn log_tail() -> Option<scalper_live::LogTail> {
    TAIL.get().cloned()
}

/// Keeps the file writer alive; dropping it flushes the log.
#[derive(Debug)]
pub struct LogGuard {
    _file: Option<WorkerGuard>,
    /// Where the log file is (when it could be opened).
    pub file: Option<PathBuf>,
}

fn directives(ours: &str, others: &str) -> String {
    let mut s = others.to_string();
    for c in CRATES.iter().chain(&[FILE_ONLY]) {
        s.push(',');
        s.push_str(c);
        s.push('=');
        s.push_str(ours);
    }
    s
}

/// The console filter's directives for -v/-q counts.
pub fn console_directives(verbose: u8, quiet: u8) -> String {
    match (verbose, quiet) {
        (0, 0) => directives("info", "warn"),
        (1, _) => directives("debug", "info"),
        (v, _) if v >= 2 => directives("trace", "debug"),
        (_, 1) => "warn".to_string(),
        _ => "error".to_string(),
    }
}

/// Installs the global subscriber. Errors (a bad filter) are usage errors.
pub fn init(global: &GlobalArgs) -> Result<LogGuard, String> {
    let user = match &global.log_filter {
        Some(f) => Some(("--log-filter", f.clone())),
        None => std::env::var("RUST_LOG")
            .ok()
            .filter(|s| !s.trim().is_empty())
            .map(|f| ("RUST_LOG", f)),
    };
    let parse = |what: &str, s: &str| {
        EnvFilter::try_new(harden(s)).map_err(|e| format!("invalid {what} {s:?}: {e}"))
    };
    let (console_filter, file_filter) = match &user {
        Some((what, f)) => (parse(what, f)?, parse(what, f)?),
        None => (
            parse("filter", &console_directives(global.verbose, global.quiet))?,
            parse("filter", &directives("debug", "info"))?,
        ),
    };
    let console = tracing_subscriber::fmt::layer()
        .with_writer(ConsoleRecord::default)
        .with_ansi(io::stderr().is_terminal())
        .with_target(false)
        .with_filter(console_filter)
        .with_filter(filter_fn(|m| m.target() != FILE_ONLY));

    let (file_layer, guard, file) = match DailyFile::open(&global.log_dir) {
        Ok(writer) => {
            let path = writer.path();
            let (nb, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
                .lossy(false)
                .finish(writer);
            let layer = tracing_subscriber::fmt::layer()
                .with_writer(nb)
                .with_ansi(false)
                .with_filter(file_filter);
            (Some(layer), Some(guard), Some(path))
        }
        Err(e) => {
            eprintln!(
                "warning: cannot write the log file in {}: {e}; logging to the console only",
                global.log_dir.display()
            );
            (None, None, None)
        }
    };
    let tail = TAIL.get_or_init(scalper_live::LogTail::new);
    tracing_subscriber::registry()
        .with(console)
        .with(file_layer)
        .with(tail.layer())
        .try_init()
        .map_err(|e| format!("cannot install the logger: {e}"))?;
    Ok(LogGuard { _file: guard, file })
}

/// One console log record, collected whole and written to stderr above the status line when
/// the record ends (see `scalper_live::console`).
#[derive(Debug, Default)]
struct ConsoleRecord(Vec<u8>);

impl Write for ConsoleRecord {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for ConsoleRecord {
    fn drop(&mut self) {
        if !self.0.is_empty() {
            // stderr gone: nowhere to report it; the log file still has the record.
            let _ = scalper_live::console::write_log(&self.0);
        }
    }
}

/// Today's UTC date: the one wall-clock read of this crate's logging.
#[allow(clippy::disallowed_methods)]
fn utc_today() -> NaiveDate {
    Utc::now().date_naive()
}

/// An append-only file that renames itself with its date when the UTC day changes.
#[derive(Debug)]
pub struct DailyFile {
    dir: PathBuf,
    file: File,
    day: NaiveDate,
}

impl DailyFile {
    /// Creates the directory and opens (or rotates, if it is from an earlier day) the log.
    pub fn open(dir: &Path) -> io::Result<Self> {
        create_private_dir(dir)?;
        let path = dir.join(LOG_FILE);
        let today = utc_today();
        if let Ok(meta) = std::fs::metadata(&path) {
            if let Ok(modified) = meta.modified() {
                let day = DateTime::<Utc>::from(modified).date_naive();
                if day < today {
                    rotate(dir, day)?;
                }
            }
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            file: open_append(&path)?,
            day: today,
        })
    }

    /// The active file's path.
    pub fn path(&self) -> PathBuf {
        self.dir.join(LOG_FILE)
    }

    fn roll_if_needed(&mut self) -> io::Result<()> {
        let today = utc_today();
        if today != self.day {
            self.file.flush()?;
            rotate(&self.dir, self.day)?;
            self.file = open_append(&self.path())?;
            self.day = today;
        }
        Ok(())
    }
}

/// Trading history is private: logs are created readable by their owner only.
fn open_append(path: &Path) -> io::Result<File> {
    let mut opts = OpenOptions::new();
    opts.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)
}

/// Creates `dir` (and missing parents) accessible to its owner only.
fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir)
}

/// Renames the active file to `scalping_engine.log.<day>` (never overwriting an existing one).
fn rotate(dir: &Path, day: NaiveDate) -> io::Result<()> {
    let from = dir.join(LOG_FILE);
    let mut to = dir.join(format!("{LOG_FILE}.{day}"));
    let mut n = 1;
    while to.exists() {
        to = dir.join(format!("{LOG_FILE}.{day}.{n}"));
        n += 1;
    }
    std::fs::rename(from, to)
}

impl Write for DailyFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.roll_if_needed()?;
        self.file.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbosity_maps_to_filters() {
        assert!(console_directives(0, 0).starts_with("warn,"));
        assert!(console_directives(0, 0).contains("scalper_ig=info"));
        assert!(console_directives(1, 0).contains("scalper_ig=debug"));
        assert!(console_directives(2, 0).contains("scalper_ig=trace"));
        assert_eq!(console_directives(0, 1), "warn");
        assert_eq!(console_directives(0, 2), "error");
        for d in [console_directives(0, 0), directives("debug", "info")] {
            assert!(EnvFilter::try_new(&d).is_ok(), "{d}");
        }
    }

    #[test]
    fn wire_crates_are_capped_whatever_the_filter() {
        let h = harden("trace,h2=trace,hyper::proto=trace,scalper_ig=trace");
        assert!(
            !h.contains("h2=trace") && !h.contains("hyper::proto"),
            "{h}"
        );
        assert!(h.starts_with("trace,scalper_ig=trace,"), "{h}");
        assert!(h.contains("h2=info") && h.contains("reqwest=info"), "{h}");
        assert!(EnvFilter::try_new(&h).is_ok());
        assert!(harden("").starts_with("hyper=info"));
    }

    #[test]
    fn rotation_keeps_old_days_and_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let day = NaiveDate::from_ymd_opt(2026, 1, 2).unwrap();
        std::fs::write(dir.path().join(LOG_FILE), "old").unwrap();
        rotate(dir.path(), day).unwrap();
        std::fs::write(dir.path().join(LOG_FILE), "older").unwrap();
        rotate(dir.path(), day).unwrap();
        let a = std::fs::read_to_string(dir.path().join("scalping_engine.log.2026-01-02")).unwrap();
        let b =
            std::fs::read_to_string(dir.path().join("scalping_engine.log.2026-01-02.1")).unwrap();
        assert_eq!((a.as_str(), b.as_str()), ("old", "older"));

        let mut f = DailyFile::open(dir.path()).unwrap();
        f.day = day; // pretend the file was opened on an earlier day
        f.write_all(b"new\n").unwrap();
        f.flush().unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join(LOG_FILE)).unwrap(),
            "new\n"
        );
        assert!(dir.path().join("scalping_engine.log.2026-01-02.2").exists());
    }
}
