//! The binary data cache: a 96-byte header (magic, kind, price scale, the source file's size,
//! modification time and SHA-256 of its first and last 64 KiB, record count, first/last
//! time) followed by the records in blocks of up to 4,096 (see [`block`]: quotes take 6 or
//! 12 bytes where the data allows, 24 otherwise; bars 64). A cache whose fingerprint no
//! longer matches its source, or of an older format, is ignored and rebuilt. Written to a
//! temporary file and renamed only once the whole source parsed cleanly; read in 512 KiB
//! chunks.

use std::fs::{self, File};
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{DataError, DataErrorKind, Location};
use crate::parse::PRICE_SCALE;
use crate::record::{DataKind, Record, RecordSource};

mod block;
pub mod recording;
use block::Block;

/// Version 4 added recordings (header flag, see [`recording`]); caches of version 3 are
/// rebuilt from their sources once.
const MAGIC: &[u8; 8] = b"SCLPBTC4";
const HEADER: usize = 96;
const SAMPLE: u64 = 64 * 1024;
static NEXT_TMP: AtomicU64 = AtomicU64::new(0);
/// Extension of cache files.
pub const CACHE_EXT: &str = "sbc";

/// Where caches live.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CacheMode {
    /// No cache: parse the source every time.
    Off,
    /// In a `.scalper-cache` directory next to each data file (default).
    #[default]
    Beside,
    /// In this directory.
    Dir(PathBuf),
}

impl CacheMode {
    /// The cache file for `source`, if caching is on.
    pub fn path_for(&self, source: &Path) -> Option<PathBuf> {
        let dir = match self {
            Self::Off => return None,
            Self::Beside => source
                .parent()
                .unwrap_or_else(|| Path::new("."))
                .join(".scalper-cache"),
            Self::Dir(d) => d.clone(),
        };
        let abs = fs::canonicalize(source).unwrap_or_else(|_| source.to_path_buf());
        let h = Sha256::digest(abs.to_string_lossy().as_bytes());
        let name = source.file_name()?.to_string_lossy();
        Some(dir.join(format!("{name}.{}.{CACHE_EXT}", hex::encode(&h[..4]))))
    }
}

/// True for files named `*.sbc`.
pub fn is_cache_file(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == CACHE_EXT)
}

/// Identity of a source file: size, modification time and a digest of its first and last
/// 64 KiB (catches rewrites that keep size and timestamp).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fingerprint {
    len: u64,
    mtime: i64,
    digest: [u8; 32],
}

fn fingerprint(path: &Path, meta: &fs::Metadata) -> std::io::Result<Fingerprint> {
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
    let len = meta.len();
    let mut f = File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; SAMPLE as usize];
    let n = read_up_to(&mut f, &mut buf)?;
    h.update(&buf[..n]);
    if len > SAMPLE {
        f.seek(SeekFrom::Start(len.saturating_sub(SAMPLE).max(SAMPLE)))?;
        let n = read_up_to(&mut f, &mut buf)?;
        h.update(&buf[..n]);
    }
    Ok(Fingerprint {
        len,
        mtime,
        digest: h.finalize().into(),
    })
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

fn rd(b: &[u8], at: usize) -> i64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    i64::from_le_bytes(a)
}

/// Reads a cache file block by block (see [`block`]), in 512 KiB reads.
#[derive(Debug)]
pub struct CacheReader {
    path: PathBuf,
    file: File,
    kind: DataKind,
    count: u64,
    read: u64,
    /// The file's size, and the bytes of it taken so far (header and whole blocks).
    file_len: u64,
    taken: u64,
    buf: Vec<u8>,
    pos: usize,
    len: usize,
    /// The block being read (its records are in `buf`).
    block: Block,
    /// An error was returned: nothing more is read.
    failed: bool,
    /// A recording: frames to the end of the file, no record count.
    recording: bool,
    /// A recording's torn or damaged end, dropped.
    loss: Option<recording::Loss>,
}

/// Bytes read from the file at a time (at least the largest block).
const READ_CHUNK: usize = 512 * 1024;
const _: () = assert!(READ_CHUNK >= block::BLOCK_BYTES_MAX);

impl CacheReader {
    /// Opens a cache; with `source`, checks that it was built from that file as it is now.
    pub fn open(path: &Path, source: Option<(&Path, &fs::Metadata)>) -> Result<Self, DataError> {
        let bad = |m: &str| DataError::new(path, Location::File, DataErrorKind::Cache(m.into()));
        let mut file = File::open(path).map_err(|e| DataError::io(path, &e))?;
        let mut h = [0u8; HEADER];
        file.read_exact(&mut h)
            .map_err(|_| bad("shorter than its header"))?;
        if h[0..7] == MAGIC[0..7] && h[7] != MAGIC[7] {
            return Err(bad(
                "a cache of another scalper version: run on its source file to rebuild it",
            ));
        }
        if &h[0..8] != MAGIC {
            return Err(bad("not a scalper cache (bad magic)"));
        }
        if h[recording::FLAGS_AT] & recording::FLAG_RECORDING != 0 {
            recording::parse_header(&h).map_err(bad)?;
            return Ok(Self::reading(path, file, DataKind::Quotes, 0, true));
        }
        let kind = match h[8] {
            1 => DataKind::Quotes,
            2 => DataKind::Bars,
            _ => return Err(bad("unknown record kind")),
        };
        if u32::from(h[9]) != PRICE_SCALE {
            return Err(bad("different price scale"));
        }
        let stored = Fingerprint {
            len: rd(&h, 16) as u64,
            mtime: rd(&h, 24),
            digest: h[56..88].try_into().unwrap_or([0; 32]),
        };
        let count = rd(&h, 32) as u64;
        if let Some((src, meta)) = source {
            let now = fingerprint(src, meta).map_err(|e| DataError::io(src, &e))?;
            if now != stored {
                return Err(bad("stale: the source file changed"));
            }
        }
        let file_len = file.metadata().map_err(|e| DataError::io(path, &e))?.len();
        // Checked: the count comes from the file and may be anything. The exact size is
        // known only once every block is read (their encodings differ).
        let least = block::min_bytes(kind, count).and_then(|b| b.checked_add(HEADER as u64));
        if least.is_none_or(|least| least > file_len) {
            return Err(bad("truncated or padded"));
        }
        let mut r = Self::reading(path, file, kind, count, false);
        r.file_len = file_len;
        Ok(r)
    }

    fn reading(path: &Path, file: File, kind: DataKind, count: u64, recording: bool) -> Self {
        let file_len = file.metadata().map_or(0, |m| m.len());
        Self {
            path: path.to_path_buf(),
            file,
            kind,
            count,
            read: 0,
            file_len,
            taken: HEADER as u64,
            buf: vec![0; READ_CHUNK],
            pos: 0,
            len: 0,
            block: Block::empty(kind),
            failed: false,
            recording,
            loss: None,
        }
    }

    /// Records in the cache (0 for a recording: its frames are read to the end).
    pub fn count(&self) -> u64 {
        self.count
    }

    /// A recording's end that was not a whole frame and was dropped (known once read).
    pub fn loss(&self) -> Option<&recording::Loss> {
        self.loss.as_ref()
    }

    fn error(&self, message: &str) -> DataError {
        DataError::new(
            &self.path,
            Location::File,
            DataErrorKind::Cache(message.into()),
        )
    }

    /// Makes at least `need` bytes available from `pos`; false at the end of the file.
    #[inline(never)]
    fn fill(&mut self, need: usize) -> Result<bool, DataError> {
        self.buf.copy_within(self.pos..self.len, 0);
        self.len -= self.pos;
        self.pos = 0;
        while self.len < need {
            let n = self
                .file
                .read(&mut self.buf[self.len..])
                .map_err(|e| DataError::io(&self.path, &e))?;
            if n == 0 {
                return Ok(false);
            }
            self.len += n;
        }
        Ok(true)
    }

    /// Loads the next block once the current one is read: `Ok(false)` after the last
    /// record (when the file ends exactly there).
    #[cold]
    #[inline(never)]
    fn next_block(&mut self) -> Result<bool, DataError> {
        if self.failed {
            return Ok(false);
        }
        if self.recording {
            return self.next_frame();
        }
        if self.read >= self.count {
            if self.taken != self.file_len || self.len > self.pos {
                return Err(self.error("truncated or padded"));
            }
            return Ok(false);
        }
        if self.len - self.pos < block::BLOCK_HEADER && !self.fill(block::BLOCK_HEADER)? {
            return Err(self.error("ends early"));
        }
        let remaining = self.count - self.read;
        let (mut blk, size) =
            Block::parse(&self.buf[self.pos..], self.kind, remaining).map_err(|m| self.error(m))?;
        if self.len - self.pos < size && !self.fill(size)? {
            return Err(self.error("ends early"));
        }
        blk.starts_at(self.pos);
        self.block = blk;
        self.pos += size;
        self.taken += size as u64;
        Ok(true)
    }

    /// A recording's next frame: its block is read, its receive column skipped. A frame that
    /// is not whole ends the reading without an error (a run killed while writing leaves
    /// one); what was dropped is logged and kept in [`Self::loss`].
    fn next_frame(&mut self) -> Result<bool, DataError> {
        let head = recording::FRAME_HEADER;
        if self.len - self.pos < head && !self.fill(head)? {
            if self.len == self.pos {
                return Ok(false);
            }
            return self.torn("ends inside a block");
        }
        let len = match recording::frame_len(&self.buf[self.pos..self.len]) {
            Ok(len) => len,
            Err(m) => return self.torn(m),
        };
        if self.len - self.pos < head + len && !self.fill(head + len)? {
            return self.torn("ends inside a block");
        }
        let body = self.pos + head;
        if let Err(m) = recording::check_frame(&self.buf[self.pos..body + len]) {
            return self.torn(m);
        }
        let (mut blk, _) = match recording::split_body(&self.buf[body..body + len]) {
            Ok(v) => v,
            Err(m) => return self.torn(m),
        };
        blk.starts_at(body);
        self.block = blk;
        self.pos = body + len;
        self.taken += (head + len) as u64;
        Ok(true)
    }

    #[cold]
    fn torn(&mut self, reason: &'static str) -> Result<bool, DataError> {
        let len = self
            .file
            .metadata()
            .map_err(|e| DataError::io(&self.path, &e))?
            .len();
        let loss = recording::Loss {
            offset: self.taken,
            bytes: len.saturating_sub(self.taken),
            reason,
        };
        tracing::warn!(file = %self.path.display(), loss = %loss, "recording: its last block is not whole; read up to the one before");
        self.loss = Some(loss);
        self.failed = true;
        Ok(false)
    }

    /// The next record of the current block (call while `block.left > 0`).
    #[inline]
    fn decode(&mut self) -> Result<Record, DataError> {
        self.read += 1;
        self.block
            .next(&self.buf)
            .map_err(|m| self.fail(self.error(m)))
    }

    /// `e` ends the reading: nothing comes after it.
    #[cold]
    fn fail(&mut self, e: DataError) -> DataError {
        self.failed = true;
        self.block.left = 0;
        e
    }
}

impl Iterator for CacheReader {
    type Item = Result<Record, DataError>;

    #[allow(clippy::inline_always)] // see `MultiSource::next`
    #[inline(always)]
    fn next(&mut self) -> Option<Self::Item> {
        if self.block.left == 0 {
            match self.next_block() {
                Ok(true) => {}
                Ok(false) => return None,
                Err(e) => return Some(Err(self.fail(e))),
            }
        }
        Some(self.decode())
    }
}

/// Why [`CacheReader::read_batch`] stopped.
#[derive(Debug)]
pub(crate) enum BatchEnd {
    /// It read as many records as it was asked for.
    Room,
    /// The cache has no more records.
    Ended,
    /// A record's time is not after the one before it (the record counts as read, so
    /// [`RecordSource::location`] names it).
    Unordered { prev: i64, ts: i64 },
    /// The file could not be read, or is damaged.
    Error(DataError),
}

impl CacheReader {
    /// Decodes up to `max` records into `out`, each checked to come after `last_ts` (which
    /// follows the records read).
    pub(crate) fn read_batch(
        &mut self,
        out: &mut Vec<Record>,
        max: usize,
        last_ts: &mut Option<i64>,
    ) -> BatchEnd {
        let mut left = max;
        while left > 0 {
            if self.block.left == 0 {
                match self.next_block() {
                    Ok(true) => {}
                    Ok(false) => return BatchEnd::Ended,
                    Err(e) => return BatchEnd::Error(self.fail(e)),
                }
            }
            match self.block.decode_run(&self.buf, left, out, last_ts) {
                Ok(block::Run { taken, unordered }) => {
                    self.read += taken as u64;
                    left -= taken;
                    if let Some((prev, ts)) = unordered {
                        return BatchEnd::Unordered { prev, ts };
                    }
                }
                Err(m) => {
                    // The damaged record counts as read.
                    self.read += 1;
                    let e = self.error(m);
                    return BatchEnd::Error(self.fail(e));
                }
            }
        }
        BatchEnd::Room
    }
}

impl RecordSource for CacheReader {
    fn kind(&self) -> DataKind {
        self.kind
    }
    fn path(&self) -> &Path {
        &self.path
    }
    fn location(&self) -> Location {
        Location::Entry(self.read.saturating_sub(1))
    }
    fn progress(&self) -> (u64, u64) {
        (self.taken, self.file_len)
    }
    fn all_cached(&self) -> bool {
        true
    }
}

/// Writes a cache file (temporary name until [`CacheWriter::finish`]).
#[derive(Debug)]
pub struct CacheWriter {
    tmp: PathBuf,
    dest: PathBuf,
    out: BufWriter<File>,
    kind: DataKind,
    source: Fingerprint,
    count: u64,
    first: i64,
    last: i64,
    /// Records of the block being filled, and its encoding.
    block: Vec<Record>,
    bytes: Vec<u8>,
}

impl CacheWriter {
    /// Starts a cache for `source` (whose metadata is `meta`) at `dest`.
    pub fn create(
        dest: &Path,
        kind: DataKind,
        source: &Path,
        meta: &fs::Metadata,
    ) -> std::io::Result<Self> {
        let source = fingerprint(source, meta)?;
        if let Some(dir) = dest.parent() {
            fs::create_dir_all(dir)?;
        }
        // Unique per process and writer, so concurrent builds never share a temporary file.
        let n = NEXT_TMP.fetch_add(1, Ordering::Relaxed);
        let tmp = dest.with_extension(format!("{CACHE_EXT}.tmp{}-{n}", std::process::id()));
        let mut out = BufWriter::with_capacity(1 << 17, File::create(&tmp)?);
        out.write_all(&[0u8; HEADER])?;
        Ok(Self {
            tmp,
            dest: dest.to_path_buf(),
            out,
            kind,
            source,
            count: 0,
            first: 0,
            last: 0,
            block: Vec::with_capacity(block::BLOCK_MAX),
            bytes: Vec::new(),
        })
    }

    /// Adds a record (written with the rest of its block).
    #[inline]
    pub fn write(&mut self, r: &Record) -> std::io::Result<()> {
        if self.count == 0 {
            self.first = r.ts();
        }
        self.last = r.ts();
        self.count += 1;
        self.block.push(*r);
        if self.block.len() == block::BLOCK_MAX {
            self.flush_block()?;
        }
        Ok(())
    }

    fn flush_block(&mut self) -> std::io::Result<()> {
        if self.block.is_empty() {
            return Ok(());
        }
        self.bytes.clear();
        block::encode(&self.block, &mut self.bytes);
        self.block.clear();
        self.out.write_all(&self.bytes)
    }

    /// Writes the header and moves the file into place.
    pub fn finish(mut self) -> std::io::Result<()> {
        self.flush_block()?;
        let mut h = [0u8; HEADER];
        h[0..8].copy_from_slice(MAGIC);
        h[8] = if self.kind == DataKind::Quotes { 1 } else { 2 };
        h[9] = PRICE_SCALE as u8;
        h[16..24].copy_from_slice(&self.source.len.to_le_bytes());
        h[24..32].copy_from_slice(&self.source.mtime.to_le_bytes());
        h[56..88].copy_from_slice(&self.source.digest);
        h[32..40].copy_from_slice(&self.count.to_le_bytes());
        h[40..48].copy_from_slice(&self.first.to_le_bytes());
        h[48..56].copy_from_slice(&self.last.to_le_bytes());
        self.out.flush()?;
        let mut f = self
            .out
            .into_inner()
            .map_err(std::io::IntoInnerError::into_error)?;
        f.seek(SeekFrom::Start(0))?;
        f.write_all(&h)?;
        f.sync_all()?;
        fs::rename(&self.tmp, &self.dest)
    }

    /// Drops the temporary file.
    pub fn abandon(self) {
        let tmp = self.tmp.clone();
        drop(self.out);
        let _ = fs::remove_file(tmp);
    }
}

/// A source that writes every record it yields into a cache, kept only if the source ends
/// without error.
pub struct CachingSource {
    inner: Box<dyn RecordSource>,
    writer: Option<CacheWriter>,
}

impl std::fmt::Debug for CachingSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachingSource")
            .field("path", &self.inner.path())
            .finish_non_exhaustive()
    }
}

impl CachingSource {
    pub fn new(
        inner: Box<dyn RecordSource>,
        dest: &Path,
        meta: &fs::Metadata,
    ) -> Result<Self, (Box<dyn RecordSource>, std::io::Error)> {
        let src = inner.path().to_path_buf();
        match CacheWriter::create(dest, inner.kind(), &src, meta) {
            Ok(w) => Ok(Self {
                inner,
                writer: Some(w),
            }),
            Err(e) => Err((inner, e)),
        }
    }
}

impl Iterator for CachingSource {
    type Item = Result<Record, DataError>;

    fn next(&mut self) -> Option<Self::Item> {
        let item = self.inner.next();
        match &item {
            Some(Ok(r)) => {
                if let Some(w) = &mut self.writer {
                    if let Err(e) = w.write(r) {
                        tracing::warn!(error = %e, "data cache write failed; continuing without it");
                        if let Some(w) = self.writer.take() {
                            w.abandon();
                        }
                    }
                }
            }
            Some(Err(_)) => {
                if let Some(w) = self.writer.take() {
                    w.abandon();
                }
            }
            None => {
                if let Some(w) = self.writer.take() {
                    if let Err(e) = w.finish() {
                        tracing::warn!(error = %e, "cannot finish the data cache");
                    }
                }
            }
        }
        item
    }
}

impl Drop for CachingSource {
    fn drop(&mut self) {
        // Not read to the end (early stop): the cache would be incomplete.
        if let Some(w) = self.writer.take() {
            w.abandon();
        }
    }
}

impl RecordSource for CachingSource {
    fn kind(&self) -> DataKind {
        self.inner.kind()
    }
    fn path(&self) -> &Path {
        self.inner.path()
    }
    fn location(&self) -> Location {
        self.inner.location()
    }
    fn progress(&self) -> (u64, u64) {
        self.inner.progress()
    }
    fn all_cached(&self) -> bool {
        false
    }
}
