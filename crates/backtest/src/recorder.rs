//! The quote recorder: every quote a run receives, written per instrument and UTC day (of
//! IG's quote time) to `DIR/<EPIC>/<YYYY-MM-DD>.sbc` recordings (see
//! [`crate::cache::recording`]), which `backtest --data` reads directly.
//!
//! The trading side holds a [`Tap`]: [`Tap::offer`] hands a quote to the writer thread through
//! a bounded queue and never waits (a full queue counts the quote as dropped). The writer
//! thread ([`spawn`]) wakes once a flush interval (never per quote), writes a block when an
//! instrument has [`FRAME_QUOTES_MAX`] quotes waiting and every `flush_interval` (1 s)
//! otherwise, so a killed run loses at most that, and syncs the files every `sync_every`;
//! it keeps the directory under `max_bytes` and `keep_days` by deleting the oldest day files.
//! An I/O error stops the recording (logged once, in the summary); trading goes on.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError, TrySendError};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use scalper_model::{Epic, Quote};
use serde::Serialize;

use crate::cache::recording::{
    info_for, Loss, Opened, RecordedPrices, RecordingWriter, FRAME_QUOTES_MAX,
};
use crate::cache::CACHE_EXT;
use crate::error::DataError;
use crate::parse::from_decimal;
use crate::record::RawQuote;

const DAY_MS: i64 = 86_400_000;
/// Days from 0001-01-01 (chrono's day 1) to 1970-01-01.
const EPOCH_DAYS_FROM_CE: i64 = 719_163;

/// How and where to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecorderConfig {
    pub dir: PathBuf,
    /// The recordings' total size at most (all instruments and days); the oldest day files
    /// go first. 0: no cap.
    pub max_bytes: u64,
    /// Day files kept per instrument, counted back from the newest day (0: no limit).
    pub keep_days: u32,
    /// Waiting quotes are written at least this often.
    pub flush_interval: Duration,
    /// Quotes the hand-off queue holds; more are dropped (and counted).
    pub queue: usize,
    pub prices: RecordedPrices,
    /// How often each file is synced to the disk (and when it is closed): `Some(ZERO)` after
    /// every block, `None` never (left to the OS). A killed process loses nothing written
    /// either way: syncing guards against a power cut or a kernel crash, and costs the
    /// filesystem's journal work in system time.
    pub sync_every: Option<Duration>,
}

impl RecorderConfig {
    /// The defaults (2 GiB, 30 days, blocks at least every 1 s, 16,384 quotes, synced every
    /// 30 s) in `dir`.
    pub fn new(dir: impl Into<PathBuf>, prices: RecordedPrices) -> Self {
        Self {
            dir: dir.into(),
            max_bytes: 2 << 30,
            keep_days: 30,
            flush_interval: Duration::from_secs(1),
            queue: 16_384,
            prices,
            sync_every: Some(Duration::from_secs(30)),
        }
    }
}

/// Why recording cannot start or had to stop.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("recording directory {path}: {reason}")]
    Dir { path: PathBuf, reason: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Data(#[from] DataError),
}

/// What was recorded for one instrument.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct InstrumentRecord {
    /// Quotes written (whole blocks on disk).
    pub quotes: u64,
    pub blocks: u64,
    pub bytes: u64,
    /// Day files written to.
    pub files: Vec<PathBuf>,
    /// Quotes not after the instrument's previous one (a stream snapshot repeated after a
    /// reconnection, a restarted run's first quote): a backtest needs time to move on.
    pub not_after_previous: u64,
    /// Quotes whose prices do not fit the fixed-point range.
    pub unrepresentable: u64,
}

/// What a recording did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RecordSummary {
    pub dir: PathBuf,
    pub instruments: BTreeMap<String, InstrumentRecord>,
    /// Quotes dropped because the writer fell behind (queue full).
    pub dropped: u64,
    /// Day files deleted to stay within the size cap and days kept.
    pub deleted_files: u64,
    /// Torn ends cut off existing files before appending to them.
    pub repaired: Vec<String>,
    /// Why the recording stopped before the run ended (an I/O error), if it did.
    pub stopped: Option<String>,
}

impl RecordSummary {
    pub fn quotes(&self) -> u64 {
        self.instruments.values().map(|i| i.quotes).sum()
    }
    pub fn bytes(&self) -> u64 {
        self.instruments.values().map(|i| i.bytes).sum()
    }
}

/// The day file of `epic` for UTC day `day` (days since 1970-01-01).
pub fn day_file(dir: &Path, epic: &str, day: i64) -> PathBuf {
    dir.join(epic)
        .join(format!("{}.{CACHE_EXT}", day_name(day)))
}

fn day_name(day: i64) -> String {
    i32::try_from(day + EPOCH_DAYS_FROM_CE)
        .ok()
        .and_then(chrono::NaiveDate::from_num_days_from_ce_opt)
        .map_or_else(|| format!("day{day}"), |d| d.format("%Y-%m-%d").to_string())
}

fn parse_day(name: &str) -> Option<i64> {
    let stem = name.strip_suffix(&format!(".{CACHE_EXT}"))?;
    let d = chrono::NaiveDate::parse_from_str(stem, "%Y-%m-%d").ok()?;
    Some(i64::from(chrono::Datelike::num_days_from_ce(&d)) - EPOCH_DAYS_FROM_CE)
}

/// The UTC day of an epoch-ms time.
pub fn day_of(ts_ms: i64) -> i64 {
    ts_ms.div_euclid(DAY_MS)
}

/// What a quote leads to beyond being queued for its block.
enum Next {
    /// Not after the instrument's previous quote: skipped.
    Stale,
    /// Its block is full: write it.
    Full,
    /// Its day's file is not open.
    NewDay,
}

/// One instrument's open day file and the quotes waiting for it.
#[derive(Debug)]
struct Open {
    writer: RecordingWriter,
    day: i64,
    /// The last quote time taken (written or waiting).
    last_ts: Option<i64>,
    quotes: Vec<RawQuote>,
    received: Vec<i64>,
}

/// The open files by instrument: a handful, found by the epic's shared text (a pointer
/// comparison for the stream's epics) rather than by hashing it for every quote.
#[derive(Debug, Default)]
struct OpenFiles(Vec<(Epic, Open)>);

impl OpenFiles {
    fn get(&self, epic: &Epic) -> Option<&Open> {
        self.0.iter().find(|(e, _)| e == epic).map(|(_, o)| o)
    }
    fn get_mut(&mut self, epic: &Epic) -> Option<&mut Open> {
        self.0.iter_mut().find(|(e, _)| e == epic).map(|(_, o)| o)
    }
    fn contains_key(&self, epic: &Epic) -> bool {
        self.get(epic).is_some()
    }
    fn remove(&mut self, epic: &Epic) -> Option<Open> {
        let at = self.0.iter().position(|(e, _)| e == epic)?;
        Some(self.0.swap_remove(at).1)
    }
    fn insert(&mut self, epic: Epic, open: Open) {
        self.remove(&epic);
        self.0.push((epic, open));
    }
    fn values(&self) -> impl Iterator<Item = &Open> {
        self.0.iter().map(|(_, o)| o)
    }
    fn iter(&self) -> impl Iterator<Item = (&Epic, &Open)> {
        self.0.iter().map(|(e, o)| (e, o))
    }
}

/// The synchronous recorder the writer thread drives (usable directly, e.g. in tests).
#[derive(Debug)]
pub struct Recorder {
    cfg: RecorderConfig,
    open: OpenFiles,
    summary: RecordSummary,
    /// The directory's recordings' size as last counted plus what was written since.
    dir_bytes: u64,
    /// The instrument directories this recorder holds the lock of (see [`Self::lock`]).
    locks: Vec<PathBuf>,
}

/// The lock file in an instrument's directory: the pid of the process recording it.
const LOCK: &str = ".recording.lock";

impl Recorder {
    /// Checks that `cfg.dir` is (or can be made) a writable directory and applies the limits
    /// to what is already there.
    pub fn open(cfg: RecorderConfig) -> Result<Self, RecordError> {
        let dir = &cfg.dir;
        let bad = |reason: String| RecordError::Dir {
            path: dir.clone(),
            reason,
        };
        if dir.exists() && !dir.is_dir() {
            return Err(bad(
                "is a file, not a directory: give a directory to record into".into(),
            ));
        }
        fs::create_dir_all(dir).map_err(|e| bad(format!("cannot create it: {e}")))?;
        let probe = dir.join(format!(".scalper-write-test-{}", std::process::id()));
        fs::write(&probe, b"")
            .map_err(|e| bad(format!("cannot write to it: {e} (check its permissions)")))?;
        let _ = fs::remove_file(&probe);
        let mut r = Self {
            summary: RecordSummary {
                dir: dir.clone(),
                ..RecordSummary::default()
            },
            cfg,
            open: OpenFiles::default(),
            dir_bytes: 0,
            locks: Vec::new(),
        };
        r.enforce_limits(None)?;
        Ok(r)
    }

    /// Takes one quote; writes a block when the instrument has a full one waiting, and
    /// changes file when the quote's UTC day does.
    pub fn push(&mut self, q: &Quote, received_ms: i64) -> Result<(), RecordError> {
        self.push_parts(
            &q.epic,
            q.bid.value(),
            q.offer.value(),
            q.ts.millis(),
            received_ms,
        )
    }

    /// [`Self::push`] from a quote's parts.
    pub fn push_parts(
        &mut self,
        epic: &Epic,
        bid_price: rust_decimal::Decimal,
        offer_price: rust_decimal::Decimal,
        ts: i64,
        received_ms: i64,
    ) -> Result<(), RecordError> {
        let (Some(bid), Some(ask)) = (from_decimal(bid_price), from_decimal(offer_price)) else {
            self.stats(epic).unrepresentable += 1;
            return Ok(());
        };
        let raw = RawQuote { ts, bid, ask };
        let day = day_of(raw.ts);
        // One look-up on the usual path: the instrument's file is open for the quote's day.
        let next = match self.open.get_mut(epic) {
            Some(o) if o.day == day => {
                if o.last_ts.is_some_and(|l| raw.ts <= l) {
                    Next::Stale
                } else {
                    o.quotes.push(raw);
                    o.received.push(received_ms);
                    o.last_ts = Some(raw.ts);
                    if o.quotes.len() < FRAME_QUOTES_MAX {
                        return Ok(());
                    }
                    Next::Full
                }
            }
            Some(o) if day < o.day => Next::Stale,
            _ => Next::NewDay,
        };
        match next {
            Next::Stale => self.stats(epic).not_after_previous += 1,
            Next::Full => self.write_block(epic)?,
            Next::NewDay => {
                self.rotate(epic, day, received_ms)?;
                if self.open.get(epic).is_some_and(|o| o.day == day) {
                    return self.push_parts(epic, bid_price, offer_price, ts, received_ms);
                }
            }
        }
        Ok(())
    }

    /// Writes every instrument's waiting quotes.
    pub fn flush(&mut self) -> Result<(), RecordError> {
        let epics: Vec<Epic> = self
            .open
            .iter()
            .filter(|(_, o)| !o.quotes.is_empty())
            .map(|(e, _)| e.clone())
            .collect();
        for e in epics {
            self.write_block(&e)?;
        }
        if self.cfg.max_bytes > 0 && self.dir_bytes > self.cfg.max_bytes {
            self.enforce_limits(None)?;
        }
        Ok(())
    }

    /// Syncs every open file to the disk.
    pub fn sync(&mut self) -> Result<(), RecordError> {
        for o in self.open.values() {
            o.writer.sync().map_err(|source| RecordError::Io {
                path: o.writer.path().to_path_buf(),
                source,
            })?;
        }
        Ok(())
    }

    /// What was recorded so far.
    pub fn summary(&self) -> &RecordSummary {
        &self.summary
    }

    fn stats(&mut self, epic: &Epic) -> &mut InstrumentRecord {
        self.summary
            .instruments
            .entry(epic.to_string())
            .or_default()
    }

    fn write_block(&mut self, epic: &Epic) -> Result<(), RecordError> {
        let Some(open) = self.open.get_mut(epic) else {
            return Ok(());
        };
        let n = open.quotes.len() as u64;
        let bytes = open
            .writer
            .append(&open.quotes, &open.received)
            .map_err(|source| RecordError::Io {
                path: open.writer.path().to_path_buf(),
                source,
            })?;
        open.quotes.clear();
        open.received.clear();
        self.dir_bytes += bytes;
        let s = self.stats(epic);
        s.quotes += n;
        s.blocks += 1;
        s.bytes += bytes;
        Ok(())
    }

    /// Closes `epic`'s current file (after writing its waiting quotes) and opens (or
    /// appends to) its file for `day`.
    fn rotate(&mut self, epic: &Epic, day: i64, received_ms: i64) -> Result<(), RecordError> {
        if self.open.contains_key(epic) {
            self.write_block(epic)?;
            if let Some(old) = self.open.remove(epic) {
                if self.cfg.sync_every.is_some() {
                    old.writer.sync().map_err(|source| RecordError::Io {
                        path: old.writer.path().to_path_buf(),
                        source,
                    })?;
                }
            }
        }
        let path = day_file(&self.cfg.dir, epic.as_str(), day);
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(|source| RecordError::Io {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        if let Some(dir) = path.parent() {
            self.lock(dir, epic)?;
        }
        let info = info_for(epic, day, received_ms, self.cfg.prices);
        let (mut writer, how) = RecordingWriter::open(&path, &info)?;
        writer.set_sync(self.cfg.sync_every == Some(Duration::ZERO));
        match how {
            Opened::Created => {
                self.dir_bytes += writer.len();
                tracing::info!(file = %path.display(), epic = %epic, "recording: new day file");
            }
            Opened::Appended { quotes, repaired } => {
                tracing::info!(file = %path.display(), epic = %epic, quotes, "recording: appending to the day's file");
                if let Some(loss) = repaired {
                    self.note_repair(&path, &loss);
                }
            }
        }
        let s = self.stats(epic);
        if !s.files.contains(&path) {
            s.files.push(path);
        }
        self.open.insert(
            epic.clone(),
            Open {
                last_ts: writer.last_ts(),
                writer,
                day,
                quotes: Vec::with_capacity(256),
                received: Vec::with_capacity(256),
            },
        );
        self.enforce_limits(Some(day))
    }

    /// Takes an instrument directory for this process: two recorders appending to the same
    /// day file would overwrite each other's blocks. A lock whose process is gone (a killed
    /// run) is taken over; one whose process runs is refused, naming it.
    fn lock(&mut self, dir: &Path, epic: &Epic) -> Result<(), RecordError> {
        if self.locks.iter().any(|l| l.parent() == Some(dir)) {
            return Ok(());
        }
        let lock = dir.join(LOCK);
        let me = std::process::id();
        if let Some(pid) = fs::read_to_string(&lock)
            .ok()
            .and_then(|t| t.trim().parse::<u32>().ok())
        {
            if pid != me && Path::new(&format!("/proc/{pid}")).exists() {
                return Err(RecordError::Dir {
                    path: self.cfg.dir.clone(),
                    reason: format!(
                        "another scalper (pid {pid}) is recording {epic} here ({}): give this run another directory",
                        lock.display()
                    ),
                });
            }
        }
        fs::write(&lock, format!("{me}\n")).map_err(|source| RecordError::Io {
            path: lock.clone(),
            source,
        })?;
        self.locks.push(lock);
        Ok(())
    }

    fn note_repair(&mut self, path: &Path, loss: &Loss) {
        tracing::warn!(file = %path.display(), loss = %loss, "recording: cut off a torn last block (an earlier run was killed while writing)");
        self.summary
            .repaired
            .push(format!("{}: {loss}", path.display()));
    }

    /// Deletes the oldest day files until the directory holds at most `keep_days` days per
    /// instrument (counted back from `today`, else the newest day there) and `max_bytes` in
    /// all. Files being written are never deleted.
    fn enforce_limits(&mut self, today: Option<i64>) -> Result<(), RecordError> {
        let mut files = self.day_files()?;
        self.dir_bytes = files.iter().map(|f| f.2).sum();
        let newest = today.or_else(|| files.iter().map(|f| f.0).max());
        let open: Vec<&Path> = self.open.values().map(|o| o.writer.path()).collect();
        let mut doomed = Vec::new();
        if let (Some(newest), true) = (newest, self.cfg.keep_days > 0) {
            let first_kept = newest - i64::from(self.cfg.keep_days) + 1;
            files.retain(|f| {
                let old = f.0 < first_kept && !open.contains(&f.1.as_path());
                if old {
                    doomed.push((f.1.clone(), f.2, "older than the days kept"));
                }
                !old
            });
        }
        let mut total: u64 = files.iter().map(|f| f.2).sum();
        if self.cfg.max_bytes > 0 {
            for f in &files {
                if total <= self.cfg.max_bytes {
                    break;
                }
                if open.contains(&f.1.as_path()) {
                    continue;
                }
                total -= f.2;
                doomed.push((f.1.clone(), f.2, "over the size cap"));
            }
        }
        for (path, bytes, why) in doomed {
            fs::remove_file(&path).map_err(|source| RecordError::Io {
                path: path.clone(),
                source,
            })?;
            self.dir_bytes = self.dir_bytes.saturating_sub(bytes);
            self.summary.deleted_files += 1;
            tracing::info!(file = %path.display(), bytes, reason = why, "recording: deleted an old day file");
        }
        Ok(())
    }

    /// Every day file under the directory: (day, path, bytes), oldest day first.
    fn day_files(&self) -> Result<Vec<(i64, PathBuf, u64)>, RecordError> {
        let io = |path: &Path, source| RecordError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut out = Vec::new();
        let dir = &self.cfg.dir;
        for inst in fs::read_dir(dir).map_err(|e| io(dir, e))? {
            let inst = inst.map_err(|e| io(dir, e))?.path();
            if !inst.is_dir() {
                continue;
            }
            for f in fs::read_dir(&inst).map_err(|e| io(&inst, e))? {
                let f = f.map_err(|e| io(&inst, e))?;
                let Some(day) = f.file_name().to_str().and_then(parse_day) else {
                    continue;
                };
                let len = f.metadata().map_err(|e| io(&f.path(), e))?.len();
                out.push((day, f.path(), len));
            }
        }
        out.sort();
        Ok(out)
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        for lock in &self.locks {
            let _ = fs::remove_file(lock);
        }
    }
}

enum Msg {
    /// A quote of the instrument in [`Instruments`] slot `inst`, received at `at` (epoch ms).
    Quote {
        inst: u16,
        bid: rust_decimal::Decimal,
        offer: rust_decimal::Decimal,
        ts: i64,
        at: i64,
    },
    /// A quote of an instrument beyond the slots (not expected: a run has a few).
    Named(Quote, i64),
    Stop,
}

/// Instruments by slot, filled as they first appear: the hand-off sends a slot number, not
/// the epic, so the writer thread never touches the reference count the stream's thread
/// updates for every quote.
#[derive(Debug)]
struct Instruments {
    slots: [std::sync::OnceLock<Epic>; 64],
}

impl Default for Instruments {
    fn default() -> Self {
        Self {
            slots: std::array::from_fn(|_| std::sync::OnceLock::new()),
        }
    }
}

impl Instruments {
    /// `epic`'s slot (taking a free one the first time), `None` when every slot is taken.
    #[inline]
    fn slot(&self, epic: &Epic) -> Option<u16> {
        for (i, s) in self.slots.iter().enumerate() {
            // A free slot is taken for `epic`; another thread may take it first, and its
            // epic is then compared like any other.
            let taken = s.get_or_init(|| epic.clone());
            if taken == epic {
                return u16::try_from(i).ok();
            }
        }
        None
    }

    fn get(&self, slot: u16) -> Option<&Epic> {
        self.slots.get(usize::from(slot)).and_then(|s| s.get())
    }
}

#[derive(Debug, Default)]
struct Shared {
    instruments: Instruments,
    dropped: AtomicU64,
    stopped: AtomicBool,
    reason: Mutex<Option<String>>,
}

/// The trading side's end of the recorder: cheap to clone, never waits.
#[derive(Debug, Clone)]
pub struct Tap {
    tx: SyncSender<Msg>,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Msg")
    }
}

impl Tap {
    /// Hands `quote`, received at `received_ms` (epoch ms), to the writer thread: a clone
    /// and a non-blocking send. When the queue is full the quote is counted as dropped.
    #[inline]
    pub fn offer(&self, quote: &Quote, received_ms: i64) {
        if self.shared.stopped.load(Ordering::Relaxed) {
            return;
        }
        let msg = match self.shared.instruments.slot(&quote.epic) {
            Some(inst) => Msg::Quote {
                inst,
                bid: quote.bid.value(),
                offer: quote.offer.value(),
                ts: quote.ts.millis(),
                at: received_ms,
            },
            None => Msg::Named(quote.clone(), received_ms),
        };
        if let Err(TrySendError::Full(_)) = self.tx.try_send(msg) {
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Quotes dropped so far (queue full).
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// Why the recording stopped, once it has.
    pub fn stopped(&self) -> Option<String> {
        if !self.shared.stopped.load(Ordering::Relaxed) {
            return None;
        }
        self.shared
            .reason
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// The writer thread; [`RecorderHandle::finish`] writes what is waiting and reports.
#[derive(Debug)]
pub struct RecorderHandle {
    tx: SyncSender<Msg>,
    shared: Arc<Shared>,
    thread: std::thread::JoinHandle<RecordSummary>,
}

impl RecorderHandle {
    /// Writes the quotes waiting, stops the thread and returns what was recorded.
    pub fn finish(self) -> RecordSummary {
        // Woken first so that a full queue drains now; the send fails when it has stopped.
        self.thread.thread().unpark();
        let _ = self.tx.send(Msg::Stop);
        self.thread.thread().unpark();
        let mut summary = self.thread.join().unwrap_or_else(|_| RecordSummary {
            stopped: Some("the recording thread panicked".into()),
            ..RecordSummary::default()
        });
        summary.dropped = self.shared.dropped.load(Ordering::Relaxed);
        summary
    }
}

/// A wake-up this close to the flush time flushes (a timed park may return a little early).
const FLUSH_SLACK: Duration = Duration::from_millis(20);

/// Opens the recorder (errors here are the caller's to report before the run starts) and
/// starts its writer thread.
pub fn spawn(cfg: RecorderConfig) -> Result<(Tap, RecorderHandle), RecordError> {
    let timing = (cfg.flush_interval, cfg.sync_every);
    let (tx, rx) = mpsc::sync_channel(cfg.queue.max(1));
    let recorder = Recorder::open(cfg)?;
    let shared = Arc::new(Shared::default());
    let thread_shared = shared.clone();
    let thread = std::thread::Builder::new()
        .name("scalper-recorder".into())
        .spawn(move || write_loop(recorder, &rx, &thread_shared, timing))
        .map_err(|source| RecordError::Io {
            path: PathBuf::from("<recorder thread>"),
            source,
        })?;
    Ok((
        Tap {
            tx: tx.clone(),
            shared: shared.clone(),
        },
        RecorderHandle { tx, shared, thread },
    ))
}

/// Takes the queued quotes; true when told to stop (or when every sender is gone).
fn drain(
    rec: &mut Recorder,
    rx: &Receiver<Msg>,
    instruments: &Instruments,
) -> Result<bool, RecordError> {
    loop {
        match rx.try_recv() {
            Ok(Msg::Quote {
                inst,
                bid,
                offer,
                ts,
                at,
            }) => {
                if let Some(epic) = instruments.get(inst) {
                    rec.push_parts(epic, bid, offer, ts, at)?;
                }
            }
            Ok(Msg::Named(q, at)) => rec.push(&q, at)?,
            Ok(Msg::Stop) | Err(TryRecvError::Disconnected) => return Ok(true),
            Err(TryRecvError::Empty) => return Ok(false),
        }
    }
}

fn write_loop(
    mut rec: Recorder,
    rx: &Receiver<Msg>,
    shared: &Shared,
    (flush, sync_every): (Duration, Option<Duration>),
) -> RecordSummary {
    let mut last_flush = Instant::now();
    let mut last_sync = Instant::now();
    let mut dropped_seen = 0;
    let result = loop {
        // One wake-up per flush interval, never one per quote: waking the thread from the
        // stream's side would cost a system call per quote, and each wake-up costs cold
        // caches. The queue holds what comes meanwhile.
        std::thread::park_timeout(flush.saturating_sub(last_flush.elapsed()));
        let stop = match drain(&mut rec, rx, &shared.instruments) {
            Ok(stop) => stop,
            Err(e) => break Err(e),
        };
        if stop {
            let end = rec.flush().and_then(|()| {
                if sync_every.is_some() {
                    rec.sync()
                } else {
                    Ok(())
                }
            });
            break end;
        }
        if last_flush.elapsed() + FLUSH_SLACK >= flush {
            if let Err(e) = rec.flush() {
                break Err(e);
            }
            last_flush = Instant::now();
            let dropped = shared.dropped.load(Ordering::Relaxed);
            if dropped > dropped_seen {
                tracing::warn!(
                    dropped = dropped - dropped_seen,
                    total = dropped,
                    "recording: the writer fell behind; quotes were dropped from the recording (trading is not affected)"
                );
                dropped_seen = dropped;
            }
        }
        if let Some(every) = sync_every.filter(|d| !d.is_zero()) {
            if last_sync.elapsed() >= every {
                if let Err(e) = rec.sync() {
                    break Err(e);
                }
                last_sync = Instant::now();
            }
        }
    };
    let mut summary = rec.summary().clone();
    if let Err(e) = result {
        let reason = e.to_string();
        tracing::error!(error = %reason, "recording STOPPED: trading goes on without it");
        *shared.reason.lock().unwrap_or_else(PoisonError::into_inner) = Some(reason.clone());
        shared.stopped.store(true, Ordering::Relaxed);
        summary.stopped = Some(reason);
    }
    summary
}
