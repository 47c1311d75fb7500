//! Recordings: the cache format's append-only variant, written while a run receives quotes and
//! read by the backtest like any cache. The header says "recording" (its record count stays 0:
//! read frames to the end of the file) and names the instrument; after it come frames, each a
//! whole cache block plus a receive-time column, guarded by a length and a CRC-32:
//!
//! ```text
//! header (96 bytes): magic SCLPBTC4, kind 1 (quotes), price scale, flags = 1 (recording),
//!                    prices (0 market, 1 IG-scaled), created (receive ms, i64 at 16),
//!                    day (UTC days since 1970, i64 at 40), epic (UTF-8, NUL-padded, 48..96)
//! frame:  "RBLK", body length (u32), CRC-32 of the body (u32)
//!   body: a cache block (see `block`) of n quotes in IG's time, then the receive column:
//!         width (u8: 4 or 8), 3 zero bytes, n (u32), base receive ms (i64), then n values:
//!         width 4 = i32 ms since the previous receive time (the first since the base),
//!         width 8 = i64 receive ms
//! ```
//!
//! A frame is written with one `write` and synced, so a killed process leaves at most one
//! torn frame at the end: readers drop it and report it as a [`Loss`]; a writer reopening the
//! file cuts it off before appending.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use scalper_model::Epic;

use super::block::{self, Block};
use super::{HEADER, MAGIC};
use crate::error::{DataError, DataErrorKind, Location};
use crate::parse::PRICE_SCALE;
use crate::record::{DataKind, RawQuote, Record};

/// Header byte 10: flags; bit 0 marks a recording.
pub(super) const FLAGS_AT: usize = 10;
pub(super) const FLAG_RECORDING: u8 = 1;
/// Bytes before a frame's body: magic, body length, CRC-32.
pub(super) const FRAME_HEADER: usize = 12;
const FRAME_MAGIC: &[u8; 4] = b"RBLK";
const RECEIVED_HEADER: usize = 16;
const EPIC_AT: usize = 48;
/// The largest body a frame may declare: the largest quote block and its receive column.
pub(super) const FRAME_BODY_MAX: usize =
    block::BLOCK_HEADER + block::BLOCK_MAX * 24 + RECEIVED_HEADER + block::BLOCK_MAX * 8;
/// Quotes per frame at most (a cache block's limit).
pub const FRAME_QUOTES_MAX: usize = block::BLOCK_MAX;

/// The unit of a recording's prices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordedPrices {
    /// Market prices (EUR/USD 1.08123).
    Market,
    /// IG's scaled levels as the stream sends them (EUR/USD CFD 10812.3): back-test with
    /// `--price-scale ig`.
    IgScaled,
}

/// What a recording's header says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingInfo {
    pub epic: String,
    /// UTC day of IG's quote times this file holds (days since 1970-01-01).
    pub day: i64,
    /// Receive time (epoch ms) when the file was created.
    pub created_ms: i64,
    pub prices: RecordedPrices,
}

/// Bytes at the end of a recording that were not whole frames (a run killed while writing,
/// or damage), dropped by the reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loss {
    /// Where the unreadable part starts.
    pub offset: u64,
    /// Its length.
    pub bytes: u64,
    pub reason: &'static str,
}

impl std::fmt::Display for Loss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} byte(s) from offset {} dropped: {}",
            self.bytes, self.offset, self.reason
        )
    }
}

/// One recorded quote: IG's quote (time, bid, ask in fixed point) and when it arrived here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordedQuote {
    pub quote: RawQuote,
    /// Local receive time, epoch ms.
    pub received_ms: i64,
}

fn rd(b: &[u8], at: usize) -> i64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    i64::from_le_bytes(a)
}

fn rd32(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(a)
}

/// The header of a recording for `info`.
fn header(info: &RecordingInfo) -> [u8; HEADER] {
    let mut h = [0u8; HEADER];
    h[0..8].copy_from_slice(MAGIC);
    h[8] = 1;
    h[9] = PRICE_SCALE as u8;
    h[FLAGS_AT] = FLAG_RECORDING;
    h[11] = u8::from(info.prices == RecordedPrices::IgScaled);
    h[16..24].copy_from_slice(&info.created_ms.to_le_bytes());
    h[40..48].copy_from_slice(&info.day.to_le_bytes());
    let epic = info.epic.as_bytes();
    let n = epic.len().min(HEADER - EPIC_AT);
    h[EPIC_AT..EPIC_AT + n].copy_from_slice(&epic[..n]);
    h
}

/// Reads a recording's header (the magic and flags already checked by the caller or not).
pub(super) fn parse_header(h: &[u8; HEADER]) -> Result<RecordingInfo, &'static str> {
    if &h[0..8] != MAGIC {
        return Err("not a scalper recording (bad magic)");
    }
    if h[FLAGS_AT] & FLAG_RECORDING == 0 {
        return Err("a data cache, not a recording");
    }
    if h[8] != 1 {
        return Err("a recording of something other than quotes");
    }
    if u32::from(h[9]) != PRICE_SCALE {
        return Err("different price scale");
    }
    let raw = &h[EPIC_AT..];
    let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
    let epic = std::str::from_utf8(&raw[..end]).map_err(|_| "the instrument name is not UTF-8")?;
    Ok(RecordingInfo {
        epic: epic.to_string(),
        day: rd(h, 40),
        created_ms: rd(h, 16),
        prices: if h[11] == 1 {
            RecordedPrices::IgScaled
        } else {
            RecordedPrices::Market
        },
    })
}

/// The body length declared by the frame header at the start of `b` (at least
/// [`FRAME_HEADER`] bytes), checked against the bounds a body can have.
pub(super) fn frame_len(b: &[u8]) -> Result<usize, &'static str> {
    if b.len() < FRAME_HEADER {
        return Err("ends inside a block");
    }
    if &b[0..4] != FRAME_MAGIC {
        return Err("no block starts here");
    }
    let len = rd32(b, 4) as usize;
    if !(block::BLOCK_HEADER + RECEIVED_HEADER..=FRAME_BODY_MAX).contains(&len) {
        return Err("bad block length");
    }
    Ok(len)
}

/// Checks a whole frame (header and exactly its body) against its checksum.
pub(super) fn check_frame(frame: &[u8]) -> Result<(), &'static str> {
    let len = frame_len(frame)?;
    if frame.len() != FRAME_HEADER + len {
        return Err("ends inside a block");
    }
    if crc32fast::hash(&frame[FRAME_HEADER..]) != rd32(frame, 8) {
        return Err("checksum mismatch");
    }
    Ok(())
}

/// Checks that a whole frame's body is one quote block followed by its receive column, and
/// returns the block (to be read from offset 0 of `body`) and where the column starts.
pub(super) fn split_body(body: &[u8]) -> Result<(Block, usize), &'static str> {
    let (blk, size) = Block::parse(body, DataKind::Quotes, u64::MAX)?;
    let col = body.get(size..).ok_or("block longer than its frame")?;
    if col.len() < RECEIVED_HEADER {
        return Err("receive times missing");
    }
    let width = usize::from(col[0]);
    let n = rd32(col, 4) as usize;
    if !(width == 4 || width == 8) || n != blk.left {
        return Err("bad receive-time column");
    }
    if col.len() != RECEIVED_HEADER + n * width {
        return Err("frame length does not match its block");
    }
    Ok((blk, size))
}

/// Decodes the receive column at the start of `col` (checked by [`split_body`]) onto `out`.
fn decode_received(col: &[u8], out: &mut Vec<i64>) -> Result<(), &'static str> {
    let width = usize::from(col[0]);
    let n = rd32(col, 4) as usize;
    let mut at = rd(col, 8);
    for v in col[RECEIVED_HEADER..RECEIVED_HEADER + n * width].chunks_exact(width) {
        if width == 8 {
            at = rd(v, 0);
        } else {
            let d = i32::from_le_bytes([v[0], v[1], v[2], v[3]]);
            at = at
                .checked_add(i64::from(d))
                .ok_or("a receive time overflows")?;
        }
        out.push(at);
    }
    Ok(())
}

/// Appends one frame of `quotes` and their receive times (same length, 1 to
/// [`FRAME_QUOTES_MAX`]) to `out`.
pub fn encode_frame(quotes: &[RawQuote], received: &[i64], out: &mut Vec<u8>) {
    debug_assert!(!quotes.is_empty() && quotes.len() <= FRAME_QUOTES_MAX);
    debug_assert_eq!(quotes.len(), received.len());
    let start = out.len();
    out.extend_from_slice(FRAME_MAGIC);
    out.extend_from_slice(&[0u8; 8]);
    let records: Vec<Record> = quotes.iter().map(|q| Record::Quote(*q)).collect();
    block::encode(&records, out);
    let base = received.first().copied().unwrap_or(0);
    let mut deltas = Vec::with_capacity(received.len());
    let mut prev = base;
    for &r in received {
        match r.checked_sub(prev).and_then(|d| i32::try_from(d).ok()) {
            Some(d) => deltas.push(d),
            None => break,
        }
        prev = r;
    }
    let narrow = deltas.len() == received.len();
    out.push(if narrow { 4 } else { 8 });
    out.extend_from_slice(&[0, 0, 0]);
    // At most FRAME_QUOTES_MAX quotes.
    out.extend_from_slice(&u32::try_from(received.len()).unwrap_or(0).to_le_bytes());
    out.extend_from_slice(&base.to_le_bytes());
    if narrow {
        for d in deltas {
            out.extend_from_slice(&d.to_le_bytes());
        }
    } else {
        for r in received {
            out.extend_from_slice(&r.to_le_bytes());
        }
    }
    let body_len = out.len() - start - FRAME_HEADER;
    let crc = crc32fast::hash(&out[start + FRAME_HEADER..]);
    // The body is at most FRAME_BODY_MAX bytes.
    out[start + 4..start + 8].copy_from_slice(&u32::try_from(body_len).unwrap_or(0).to_le_bytes());
    out[start + 8..start + 12].copy_from_slice(&crc.to_le_bytes());
}

/// What a scan of a recording found: where its whole frames end, the last quote time, the
/// quotes and frames in it, and what follows the last whole frame.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scan {
    pub end: u64,
    pub frames: u64,
    pub quotes: u64,
    pub last_ts: Option<i64>,
    pub loss: Option<Loss>,
}

/// Reads a recording's header and checks every frame: the basis for appending to it.
fn scan(file: &mut File, path: &Path) -> Result<(RecordingInfo, Scan), DataError> {
    let mut reader = RecordingReader::from_file(file.try_clone().map_err(|e| io(path, &e))?, path)?;
    let info = reader.info().clone();
    let mut frames = 0;
    let mut quotes = 0;
    let mut last_ts = None;
    let mut buf = Vec::new();
    while reader.next_frame(&mut buf)? {
        frames += 1;
        quotes += buf.len() as u64;
        last_ts = buf.last().map(|q| q.quote.ts).or(last_ts);
    }
    Ok((
        info,
        Scan {
            end: reader.taken,
            frames,
            quotes,
            last_ts,
            loss: reader.loss().cloned(),
        },
    ))
}

fn io(path: &Path, e: &std::io::Error) -> DataError {
    DataError::io(path, e)
}

fn bad(path: &Path, m: impl Into<String>) -> DataError {
    DataError::new(path, Location::File, DataErrorKind::Cache(m.into()))
}

/// Appends frames to one recording file.
#[derive(Debug)]
pub struct RecordingWriter {
    path: PathBuf,
    file: File,
    info: RecordingInfo,
    /// Bytes of the file (header and whole frames).
    len: u64,
    /// The last quote time written (a new quote must come after it).
    last_ts: Option<i64>,
    buf: Vec<u8>,
    /// Sync each frame to the disk (not needed against a killed process, only against a
    /// power cut or a kernel crash).
    sync: bool,
}

/// How [`RecordingWriter::open`] found the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opened {
    Created,
    /// An existing recording, appended to; a torn end was cut off first.
    Appended {
        quotes: u64,
        repaired: Option<Loss>,
    },
}

impl RecordingWriter {
    /// Opens `path` for appending: creates it with `info`'s header, or takes an existing
    /// recording of the same instrument, cutting off a torn last frame.
    pub fn open(path: &Path, info: &RecordingInfo) -> Result<(Self, Opened), DataError> {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| io(path, &e))?;
        let len = file.metadata().map_err(|e| io(path, &e))?.len();
        if len == 0 {
            let h = header(info);
            file.write_all(&h).map_err(|e| io(path, &e))?;
            file.sync_data().map_err(|e| io(path, &e))?;
            return Ok((
                Self {
                    path: path.to_path_buf(),
                    file,
                    info: info.clone(),
                    len: HEADER as u64,
                    last_ts: None,
                    buf: Vec::new(),
                    sync: true,
                },
                Opened::Created,
            ));
        }
        let (found, scan) = scan(&mut file, path)?;
        if found.epic != info.epic || found.prices != info.prices {
            return Err(bad(
                path,
                format!(
                    "a recording of {} ({:?} prices) is already there; this run records {} ({:?})",
                    found.epic, found.prices, info.epic, info.prices
                ),
            ));
        }
        if scan.loss.is_some() {
            file.set_len(scan.end).map_err(|e| io(path, &e))?;
            file.sync_data().map_err(|e| io(path, &e))?;
        }
        file.seek(SeekFrom::Start(scan.end))
            .map_err(|e| io(path, &e))?;
        Ok((
            Self {
                path: path.to_path_buf(),
                file,
                info: found,
                len: scan.end,
                last_ts: scan.last_ts,
                buf: Vec::new(),
                sync: true,
            },
            Opened::Appended {
                quotes: scan.quotes,
                repaired: scan.loss,
            },
        ))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn info(&self) -> &RecordingInfo {
        &self.info
    }

    /// Whether each frame is synced to the disk after its write (the default).
    pub fn set_sync(&mut self, sync: bool) {
        self.sync = sync;
    }

    /// Syncs what was written to the disk.
    pub fn sync(&self) -> std::io::Result<()> {
        self.file.sync_data()
    }

    /// Bytes in the file.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True when only the header is there.
    pub fn is_empty(&self) -> bool {
        self.len <= HEADER as u64
    }

    /// The last quote time in the file.
    pub fn last_ts(&self) -> Option<i64> {
        self.last_ts
    }

    /// Writes `quotes` (in time order, after [`Self::last_ts`]) with their receive times as
    /// one frame, in one write, and syncs it (unless [`Self::set_sync`] said not to).
    /// Returns the bytes written.
    pub fn append(&mut self, quotes: &[RawQuote], received: &[i64]) -> std::io::Result<u64> {
        if quotes.is_empty() {
            return Ok(0);
        }
        self.buf.clear();
        encode_frame(quotes, received, &mut self.buf);
        if let Err(e) = self.file.write_all(&self.buf) {
            // Leave no torn frame behind when the disk is full: cut back to the last whole one.
            let _ = self.file.set_len(self.len);
            let _ = self.file.seek(SeekFrom::Start(self.len));
            return Err(e);
        }
        if self.sync {
            self.file.sync_data()?;
        }
        self.len += self.buf.len() as u64;
        self.last_ts = quotes.last().map(|q| q.ts);
        Ok(self.buf.len() as u64)
    }
}

/// Reads a recording frame by frame with the receive times (the replay's view; the backtest
/// reads the same files through the cache reader, which skips the receive column).
#[derive(Debug)]
pub struct RecordingReader {
    path: PathBuf,
    file: File,
    info: RecordingInfo,
    buf: Vec<u8>,
    /// Bytes of the file taken: header and whole frames.
    taken: u64,
    loss: Option<Loss>,
    done: bool,
    received: Vec<i64>,
}

impl RecordingReader {
    /// Opens a recording; an error when it is not one (a plain cache, another format).
    pub fn open(path: &Path) -> Result<Self, DataError> {
        let file = File::open(path).map_err(|e| io(path, &e))?;
        Self::from_file(file, path)
    }

    fn from_file(mut file: File, path: &Path) -> Result<Self, DataError> {
        file.seek(SeekFrom::Start(0)).map_err(|e| io(path, &e))?;
        let mut h = [0u8; HEADER];
        file.read_exact(&mut h)
            .map_err(|_| bad(path, "shorter than its header"))?;
        let info = parse_header(&h).map_err(|m| bad(path, m))?;
        Ok(Self {
            path: path.to_path_buf(),
            file,
            info,
            buf: Vec::new(),
            taken: HEADER as u64,
            loss: None,
            done: false,
            received: Vec::new(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn info(&self) -> &RecordingInfo {
        &self.info
    }

    /// What was dropped at the end (known once the reading has ended).
    pub fn loss(&self) -> Option<&Loss> {
        self.loss.as_ref()
    }

    /// Replaces `out` with the next whole frame's quotes; `Ok(false)` at the end (a torn or
    /// damaged rest is then in [`Self::loss`]). An error only when the file cannot be read.
    pub fn next_frame(&mut self, out: &mut Vec<RecordedQuote>) -> Result<bool, DataError> {
        out.clear();
        if self.done {
            return Ok(false);
        }
        let mut head = [0u8; FRAME_HEADER];
        let got = read_up_to(&mut self.file, &mut head).map_err(|e| io(&self.path, &e))?;
        if got == 0 {
            self.done = true;
            return Ok(false);
        }
        let len = match frame_len(&head[..got]) {
            Ok(len) => len,
            Err(m) => return self.torn(m),
        };
        self.buf.clear();
        self.buf.extend_from_slice(&head);
        self.buf.resize(FRAME_HEADER + len, 0);
        let body_got = read_up_to(&mut self.file, &mut self.buf[FRAME_HEADER..])
            .map_err(|e| io(&self.path, &e))?;
        let read = (FRAME_HEADER + body_got) as u64;
        if let Err(m) = check_frame(&self.buf[..FRAME_HEADER + body_got]) {
            return self.torn(m);
        }
        let body = &self.buf[FRAME_HEADER..];
        let (mut blk, size) = match split_body(body) {
            Ok(v) => v,
            Err(m) => return self.torn(m),
        };
        self.received.clear();
        if let Err(m) = decode_received(&body[size..], &mut self.received) {
            return self.torn(m);
        }
        let mut quotes = Vec::with_capacity(blk.left);
        while blk.left > 0 {
            match blk.next(body) {
                Ok(Record::Quote(q)) => quotes.push(q),
                Ok(Record::Bar(_)) => return self.torn("a bar in a recording"),
                Err(m) => return self.torn(m),
            }
        }
        out.extend(
            quotes
                .into_iter()
                .zip(self.received.iter())
                .map(|(quote, &received_ms)| RecordedQuote { quote, received_ms }),
        );
        self.taken += read;
        Ok(true)
    }

    /// The rest of the file from `taken` is not a whole frame: reading ends here.
    fn torn(&mut self, reason: &'static str) -> Result<bool, DataError> {
        self.done = true;
        let len = self.file.metadata().map_err(|e| io(&self.path, &e))?.len();
        self.loss = Some(Loss {
            offset: self.taken,
            bytes: len.saturating_sub(self.taken),
            reason,
        });
        Ok(false)
    }

    /// Every whole frame's quotes (for tests and small files).
    pub fn read_all(&mut self) -> Result<Vec<RecordedQuote>, DataError> {
        let mut all = Vec::new();
        let mut frame = Vec::new();
        while self.next_frame(&mut frame)? {
            all.append(&mut frame);
        }
        Ok(all)
    }
}

impl Iterator for RecordingReader {
    type Item = Result<Vec<RecordedQuote>, DataError>;

    /// One frame's quotes at a time.
    fn next(&mut self) -> Option<Self::Item> {
        let mut v = Vec::new();
        match self.next_frame(&mut v) {
            Ok(true) => Some(Ok(v)),
            Ok(false) => None,
            Err(e) => Some(Err(e)),
        }
    }
}

fn read_up_to(f: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// The recording's header info for an epic and day.
pub fn info_for(epic: &Epic, day: i64, created_ms: i64, prices: RecordedPrices) -> RecordingInfo {
    RecordingInfo {
        epic: epic.to_string(),
        day,
        created_ms,
        prices,
    }
}
