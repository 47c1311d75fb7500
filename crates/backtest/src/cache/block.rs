//! Blocks of cached records. The records follow the file header in blocks of up to
//! [`BLOCK_MAX`], each with a 32-byte header: record count (u32), encoding (u8), 3 zero
//! bytes, then for the compact encodings a price quantum, the first record's time and its
//! bid (i64 each). Quotes are stored compactly when the block allows:
//!
//! - `NARROW`, 6 bytes a quote: milliseconds since the previous quote (u16), bid change
//!   (i16) and spread (u16), both in quanta (the largest common divisor of the block's bid
//!   changes and spreads, e.g. 10^4 for prices with five decimals at the 10^-9 scale);
//! - `MEDIUM`, 12 bytes: the same as u32, i32, u32;
//! - `RAW`: 24 bytes a quote (time, bid, ask) or 64 bytes a bar (eight i64, `i64::MIN` for
//!   a missing spread or volume). Bars are always raw.
//!
//! Everything is little-endian. Decoding checks every sum and product, so a damaged file
//! gives an error, never a wrong value from an overflow.

use crate::record::{DataKind, RawBar, RawQuote, Record};

/// Records per block at most.
pub(super) const BLOCK_MAX: usize = 4096;
/// Bytes of a block header.
pub(super) const BLOCK_HEADER: usize = 32;
/// Bytes of the largest block.
pub(super) const BLOCK_BYTES_MAX: usize = BLOCK_HEADER + BLOCK_MAX * BAR_SIZE;
const QUOTE_SIZE: usize = 24;
const BAR_SIZE: usize = 64;
const NONE: i64 = i64::MIN;

const RAW: u8 = 0;
const NARROW: u8 = 1;
const MEDIUM: u8 = 2;

fn rd(b: &[u8], at: usize) -> i64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    i64::from_le_bytes(a)
}

/// The smallest number of bytes `count` records of `kind` can take, headers included.
pub(super) fn min_bytes(kind: DataKind, count: u64) -> Option<u64> {
    let per = match kind {
        DataKind::Quotes => 6,
        DataKind::Bars => BAR_SIZE as u64,
    };
    let blocks = count.div_ceil(BLOCK_MAX as u64);
    count
        .checked_mul(per)?
        .checked_add(blocks.checked_mul(BLOCK_HEADER as u64)?)
}

/// Appends `records` (1 to [`BLOCK_MAX`], all of one kind) to `out` as one block.
pub(super) fn encode(records: &[Record], out: &mut Vec<u8>) {
    debug_assert!(!records.is_empty() && records.len() <= BLOCK_MAX);
    let quotes: Vec<RawQuote> = records
        .iter()
        .filter_map(|r| match r {
            Record::Quote(q) => Some(*q),
            Record::Bar(_) => None,
        })
        .collect();
    if quotes.len() == records.len() {
        if let Some((enc, quantum)) = compact_form(&quotes) {
            encode_compact(&quotes, enc, quantum, out);
            return;
        }
    }
    head(out, records.len(), RAW, 0, 0, 0);
    for r in records {
        match r {
            Record::Quote(q) => {
                for v in [q.ts, q.bid, q.ask] {
                    out.extend_from_slice(&v.to_le_bytes());
                }
            }
            Record::Bar(x) => {
                for v in [
                    x.ts,
                    x.period_ms,
                    x.open,
                    x.high,
                    x.low,
                    x.close,
                    x.spread.unwrap_or(NONE),
                    x.volume.unwrap_or(NONE),
                ] {
                    out.extend_from_slice(&v.to_le_bytes());
                }
            }
        }
    }
}

fn head(out: &mut Vec<u8>, n: usize, enc: u8, quantum: i64, ts: i64, bid: i64) {
    // `n` is at most BLOCK_MAX.
    out.extend_from_slice(&u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(&[enc, 0, 0, 0]);
    for v in [quantum, ts, bid] {
        out.extend_from_slice(&v.to_le_bytes());
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Each quote as (time step, bid change, spread) from the one before (the first from
/// itself), or `None` when one does not fit an i64 or a step or spread is negative.
fn steps(quotes: &[RawQuote]) -> impl Iterator<Item = Option<(i64, i64, i64)>> + '_ {
    let mut prev = quotes.first().map(|q| (q.ts, q.bid)).unwrap_or_default();
    quotes.iter().map(move |q| {
        let dt = q.ts.checked_sub(prev.0)?;
        let db = q.bid.checked_sub(prev.1)?;
        let sp = q.ask.checked_sub(q.bid)?;
        prev = (q.ts, q.bid);
        (dt >= 0 && sp >= 0).then_some((dt, db, sp))
    })
}

/// The tightest compact encoding and its quantum, if any fits.
fn compact_form(quotes: &[RawQuote]) -> Option<(u8, i64)> {
    let mut g = 0u64;
    for s in steps(quotes) {
        let (_, db, sp) = s?;
        g = gcd(gcd(g, db.unsigned_abs()), sp.unsigned_abs());
    }
    let quantum = i64::try_from(g.max(1)).ok()?;
    let (mut narrow, mut medium) = (true, true);
    for s in steps(quotes) {
        let (dt, db, sp) = s?;
        let (db, sp) = (db / quantum, sp / quantum);
        narrow &=
            u16::try_from(dt).is_ok() && i16::try_from(db).is_ok() && u16::try_from(sp).is_ok();
        medium &=
            u32::try_from(dt).is_ok() && i32::try_from(db).is_ok() && u32::try_from(sp).is_ok();
    }
    if narrow {
        Some((NARROW, quantum))
    } else if medium {
        Some((MEDIUM, quantum))
    } else {
        None
    }
}

fn encode_compact(quotes: &[RawQuote], enc: u8, quantum: i64, out: &mut Vec<u8>) {
    let first = quotes[0];
    head(out, quotes.len(), enc, quantum, first.ts, first.bid);
    // `compact_form` checked that every value fits.
    for (dt, db, sp) in steps(quotes).flatten() {
        let (db, sp) = (db / quantum, sp / quantum);
        if enc == NARROW {
            out.extend_from_slice(&(dt as u16).to_le_bytes());
            out.extend_from_slice(&(db as i16).to_le_bytes());
            out.extend_from_slice(&(sp as u16).to_le_bytes());
        } else {
            out.extend_from_slice(&(dt as u32).to_le_bytes());
            out.extend_from_slice(&(db as i32).to_le_bytes());
            out.extend_from_slice(&(sp as u32).to_le_bytes());
        }
    }
}

/// A 6-byte quote: time step, bid change and spread (u16, i16, u16).
#[inline]
fn narrow(b: &[u8]) -> (i64, i64, i64) {
    (
        i64::from(u16::from_le_bytes([b[0], b[1]])),
        i64::from(i16::from_le_bytes([b[2], b[3]])),
        i64::from(u16::from_le_bytes([b[4], b[5]])),
    )
}

/// A 12-byte quote: time step, bid change and spread (u32, i32, u32).
#[inline]
fn medium(b: &[u8]) -> (i64, i64, i64) {
    (
        i64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        i64::from(i32::from_le_bytes([b[4], b[5], b[6], b[7]])),
        i64::from(u32::from_le_bytes([b[8], b[9], b[10], b[11]])),
    )
}

/// The quote after one at `ts` with `bid`: (time, bid, ask), every step checked.
#[inline]
fn advance(
    ts: i64,
    bid: i64,
    quantum: i64,
    (dt, db, sp): (i64, i64, i64),
) -> Result<(i64, i64, i64), &'static str> {
    const BAD: &str = "a compact record overflows";
    let ts = ts.checked_add(dt).ok_or(BAD)?;
    let bid = db
        .checked_mul(quantum)
        .and_then(|d| bid.checked_add(d))
        .ok_or(BAD)?;
    let ask = sp
        .checked_mul(quantum)
        .and_then(|s| bid.checked_add(s))
        .ok_or(BAD)?;
    Ok((ts, bid, ask))
}

/// What [`Block::decode_run`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Run {
    /// Records taken from the block (an unordered one counts, and ends the run).
    pub(super) taken: usize,
    /// The previous time and this record's, when they are out of order.
    pub(super) unordered: Option<(i64, i64)>,
}

/// A block being read: where its next record is and what it builds on.
#[derive(Debug, Clone, Copy)]
pub(super) struct Block {
    /// Records not yet read.
    pub(super) left: usize,
    kind: DataKind,
    enc: u8,
    quantum: i64,
    ts: i64,
    bid: i64,
    /// Offset of the next record in the buffer the block was read into.
    off: usize,
}

impl Block {
    /// No block: nothing left to read.
    pub(super) fn empty(kind: DataKind) -> Self {
        Self {
            left: 0,
            kind,
            enc: RAW,
            quantum: 0,
            ts: 0,
            bid: 0,
            off: 0,
        }
    }

    /// Parses the header at the start of `b` (at least [`BLOCK_HEADER`] bytes); returns
    /// the block, to be read from offset 0 of its buffer unless [`Block::starts_at`] says
    /// otherwise, and its whole size in bytes. At most `remaining` records may follow.
    pub(super) fn parse(
        b: &[u8],
        kind: DataKind,
        remaining: u64,
    ) -> Result<(Self, usize), &'static str> {
        let mut n4 = [0u8; 4];
        n4.copy_from_slice(&b[0..4]);
        let n = u32::from_le_bytes(n4) as usize;
        if n == 0 || n > BLOCK_MAX || n as u64 > remaining {
            return Err("bad block length");
        }
        let enc = b[4];
        let size = match (kind, enc) {
            (DataKind::Quotes, RAW) => QUOTE_SIZE,
            (DataKind::Quotes, NARROW) => 6,
            (DataKind::Quotes, MEDIUM) => 12,
            (DataKind::Bars, RAW) => BAR_SIZE,
            _ => return Err("unknown block encoding"),
        };
        let quantum = rd(b, 8);
        if enc != RAW && quantum <= 0 {
            return Err("bad block quantum");
        }
        let block = Self {
            left: n,
            kind,
            enc,
            quantum,
            ts: rd(b, 16),
            bid: rd(b, 24),
            off: BLOCK_HEADER,
        };
        Ok((block, BLOCK_HEADER + n * size))
    }

    /// The block's header is at offset `at` of the buffer it is read from.
    pub(super) fn starts_at(&mut self, at: usize) {
        self.off = at + BLOCK_HEADER;
    }

    /// The next record, from `buf` (the buffer the block was parsed in, holding all of it).
    /// Call only while `left > 0`.
    #[inline]
    pub(super) fn next(&mut self, buf: &[u8]) -> Result<Record, &'static str> {
        self.left -= 1;
        let at = self.off;
        let fields = match self.enc {
            NARROW => narrow(&buf[at..at + 6]),
            MEDIUM => medium(&buf[at..at + 12]),
            _ => return Ok(self.raw(buf)),
        };
        self.off += if self.enc == NARROW { 6 } else { 12 };
        let (ts, bid, ask) = advance(self.ts, self.bid, self.quantum, fields)?;
        (self.ts, self.bid) = (ts, bid);
        Ok(Record::Quote(RawQuote { ts, bid, ask }))
    }

    /// Decodes up to `max` records of this block (from `buf`, the buffer it was parsed in)
    /// onto `out`, each checked to come after `last_ts`, which follows them.
    #[inline]
    pub(super) fn decode_run(
        &mut self,
        buf: &[u8],
        max: usize,
        out: &mut Vec<Record>,
        last_ts: &mut Option<i64>,
    ) -> Result<Run, &'static str> {
        let n = max.min(self.left);
        out.reserve(n);
        let (width, enc) = match self.enc {
            NARROW => (6, NARROW),
            MEDIUM => (12, MEDIUM),
            // Raw records (rare in quote caches): one at a time.
            _ => {
                let mut taken = 0;
                while taken < n {
                    let rec = self.next(buf)?;
                    taken += 1;
                    let ts = rec.ts();
                    if let Some(prev) = last_ts.filter(|p| ts <= *p) {
                        return Ok(Run {
                            taken,
                            unordered: Some((prev, ts)),
                        });
                    }
                    *last_ts = Some(ts);
                    out.push(rec);
                }
                return Ok(Run {
                    taken,
                    unordered: None,
                });
            }
        };
        // Compact quotes: the state lives in locals for the run, one loop per encoding.
        let bytes = &buf[self.off..self.off + n * width];
        let (quantum, mut ts, mut bid) = (self.quantum, self.ts, self.bid);
        let mut prev = *last_ts;
        let mut taken = 0;
        let mut unordered = None;
        let mut run = |fields| -> Result<bool, &'static str> {
            let ask;
            (ts, bid, ask) = advance(ts, bid, quantum, fields)?;
            taken += 1;
            if let Some(p) = prev.filter(|p| ts <= *p) {
                unordered = Some((p, ts));
                return Ok(false);
            }
            prev = Some(ts);
            out.push(Record::Quote(RawQuote { ts, bid, ask }));
            Ok(true)
        };
        if enc == NARROW {
            for b in bytes.chunks_exact(6) {
                if !run(narrow(b))? {
                    break;
                }
            }
        } else {
            for b in bytes.chunks_exact(12) {
                if !run(medium(b))? {
                    break;
                }
            }
        }
        self.left -= taken;
        self.off += taken * width;
        (self.ts, self.bid) = (ts, bid);
        *last_ts = prev;
        Ok(Run { taken, unordered })
    }

    fn raw(&mut self, buf: &[u8]) -> Record {
        let at = self.off;
        match self.kind {
            DataKind::Quotes => {
                let b = &buf[at..at + QUOTE_SIZE];
                self.off += QUOTE_SIZE;
                Record::Quote(RawQuote {
                    ts: rd(b, 0),
                    bid: rd(b, 8),
                    ask: rd(b, 16),
                })
            }
            DataKind::Bars => {
                let b = &buf[at..at + BAR_SIZE];
                self.off += BAR_SIZE;
                let opt = |v: i64| (v != NONE).then_some(v);
                Record::Bar(RawBar {
                    ts: rd(b, 0),
                    period_ms: rd(b, 8),
                    open: rd(b, 16),
                    high: rd(b, 24),
                    low: rd(b, 32),
                    close: rd(b, 40),
                    spread: opt(rd(b, 48)),
                    volume: opt(rd(b, 56)),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn decode_all(bytes: &[u8], kind: DataKind) -> Vec<Record> {
        let mut out = Vec::new();
        let mut at = 0;
        while at < bytes.len() {
            let (mut b, size) = Block::parse(&bytes[at..], kind, u64::MAX).unwrap();
            b.starts_at(at);
            while b.left > 0 {
                out.push(b.next(bytes).unwrap());
            }
            at += size;
        }
        out
    }

    fn enc_of(bytes: &[u8]) -> u8 {
        bytes[4]
    }

    fn quotes(v: &[(i64, i64, i64)]) -> Vec<Record> {
        v.iter()
            .map(|&(ts, bid, ask)| Record::Quote(RawQuote { ts, bid, ask }))
            .collect()
    }

    #[test]
    fn each_block_takes_the_tightest_encoding_that_fits() {
        // Five-decimal FX prices at the 10^-9 scale: quantum 10^4, six bytes a quote.
        let fx = quotes(&[
            (1_000, 1_099_920_000, 1_100_020_000),
            (1_144, 1_099_900_000, 1_100_030_000),
            (1_300, 1_099_950_000, 1_100_050_000),
        ]);
        let mut b = Vec::new();
        encode(&fx, &mut b);
        assert_eq!((enc_of(&b), b.len()), (NARROW, BLOCK_HEADER + 3 * 6));
        assert_eq!(rd(&b, 8), 10_000);
        assert_eq!(decode_all(&b, DataKind::Quotes), fx);
        // A gap of more than 65.5 s: twelve bytes a quote.
        let gap = quotes(&[(0, 5, 7), (70_000, 6, 7)]);
        let mut b = Vec::new();
        encode(&gap, &mut b);
        assert_eq!((enc_of(&b), b.len()), (MEDIUM, BLOCK_HEADER + 2 * 12));
        assert_eq!(decode_all(&b, DataKind::Quotes), gap);
        // Time going back, or a bid above the ask: stored as they are.
        for odd in [quotes(&[(10, 5, 7), (9, 5, 7)]), quotes(&[(10, 5, 4)])] {
            let mut b = Vec::new();
            encode(&odd, &mut b);
            assert_eq!(enc_of(&b), RAW);
            assert_eq!(decode_all(&b, DataKind::Quotes), odd);
        }
    }

    #[test]
    fn damaged_headers_and_overflowing_records_are_errors() {
        let q = quotes(&[(0, 10, 20), (1, 11, 21)]);
        let mut b = Vec::new();
        encode(&q, &mut b);
        assert!(
            Block::parse(&b, DataKind::Quotes, 1).is_err(),
            "more than remain"
        );
        assert!(
            Block::parse(&b, DataKind::Bars, 9).is_err(),
            "quote encoding for bars"
        );
        let mut zero = b.clone();
        zero[0..4].copy_from_slice(&0u32.to_le_bytes());
        assert!(Block::parse(&zero, DataKind::Quotes, 9).is_err());
        let mut bad_q = b.clone();
        bad_q[8..16].copy_from_slice(&(-1i64).to_le_bytes());
        assert!(Block::parse(&bad_q, DataKind::Quotes, 9).is_err());
        // A base bid at the top of the range: the first ask overflows.
        let mut top = b.clone();
        top[24..32].copy_from_slice(&(i64::MAX).to_le_bytes());
        let (mut blk, _) = Block::parse(&top, DataKind::Quotes, 9).unwrap();
        let first = blk.next(&top);
        assert!(first.is_err(), "{first:?}");
    }

    proptest! {
        #[test]
        fn blocks_give_back_exactly_what_was_written(
            start in any::<i64>(),
            bid0 in any::<i64>(),
            steps in proptest::collection::vec(
                (prop_oneof![0i64..1_000, 0i64..100_000, any::<i64>()],
                 prop_oneof![-50i64..50, -3_000_000i64..3_000_000, any::<i64>()],
                 prop_oneof![0i64..50, 0i64..5_000_000, any::<i64>()]),
                1..300),
            unit in prop_oneof![Just(1i64), Just(10_000), Just(1_000_000_000)],
            bars in any::<bool>(),
        ) {
            let (mut ts, mut bid) = (start, bid0);
            let mut recs = Vec::new();
            for (dt, db, sp) in steps {
                ts = ts.wrapping_add(dt);
                bid = bid.wrapping_add(db.wrapping_mul(unit));
                let ask = bid.wrapping_add(sp.wrapping_mul(unit));
                recs.push(if bars {
                    Record::Bar(RawBar {
                        ts, period_ms: dt, open: bid, high: ask, low: bid, close: ask,
                        spread: (sp % 2 == 0).then_some(sp), volume: None,
                    })
                } else {
                    Record::Quote(RawQuote { ts, bid, ask })
                });
            }
            let kind = if bars { DataKind::Bars } else { DataKind::Quotes };
            let mut bytes = Vec::new();
            for chunk in recs.chunks(97) {
                encode(chunk, &mut bytes);
            }
            prop_assert_eq!(decode_all(&bytes, kind), recs);
        }
    }
}
