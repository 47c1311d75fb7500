//! A bounded curve for plotting ([`CurveEnvelope`], of equity or of prices): the run's time is
//! cut into at most [`CURVE_BUCKETS`] equal buckets that keep their lowest and highest point,
//! so a long run's peaks and troughs survive in a few thousand points.

use rust_decimal::Decimal;
use scalper_model::{Price, Timestamp};
use serde::{Deserialize, Serialize};

use crate::metrics::EquityPoint;

/// A point of a curve: its time and the level the envelope keeps the extremes of.
pub trait CurvePoint: Copy {
    fn ts(&self) -> Timestamp;
    fn level(&self) -> Decimal;
}

impl CurvePoint for EquityPoint {
    fn ts(&self) -> Timestamp {
        self.ts
    }
    fn level(&self) -> Decimal {
        self.equity.value()
    }
}

/// The mid price at an instant (for plotting entries and exits on price).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PricePoint {
    pub ts: Timestamp,
    pub mid: Price,
}

impl CurvePoint for PricePoint {
    fn ts(&self) -> Timestamp {
        self.ts
    }
    fn level(&self) -> Decimal {
        self.mid.value()
    }
}

/// Buckets of a [`CurveEnvelope`] (the default).
pub const CURVE_BUCKETS: usize = 2048;

/// Most points [`CurveEnvelope::points`] returns with the default buckets: two per bucket, plus
/// the first and the last point.
pub const MAX_CURVE_POINTS: usize = 2 * CURVE_BUCKETS + 2;

/// The envelope of an equity curve in bounded memory. Time from the first point is cut into
/// buckets of equal width (starting at 1 ms); each keeps its lowest and highest point. When
/// there are more buckets than allowed, the width doubles and neighbouring buckets merge, so
/// the global minimum and maximum are always kept, as are the first and the last point.
#[derive(Debug, Clone)]
pub struct CurveEnvelope<P = EquityPoint> {
    max_buckets: usize,
    /// Bucket width in ms; bucket key = (ts - first ts) / width.
    width: i64,
    buckets: Vec<Bucket<P>>,
    first: Option<Kept<P>>,
    last: Option<Kept<P>>,
    seq: u64,
}

/// A point with its arrival number (points are returned in arrival order).
#[derive(Debug, Clone, Copy)]
struct Kept<P> {
    seq: u64,
    p: P,
}

#[derive(Debug, Clone, Copy)]
struct Bucket<P> {
    key: i64,
    lo: Kept<P>,
    hi: Kept<P>,
}

impl<P: CurvePoint> Bucket<P> {
    /// Takes in a later point or bucket's extremes; ties keep the earlier point.
    fn absorb(&mut self, lo: Kept<P>, hi: Kept<P>) {
        if lo.p.level() < self.lo.p.level() {
            self.lo = lo;
        }
        if hi.p.level() > self.hi.p.level() {
            self.hi = hi;
        }
    }
}

impl<P: CurvePoint> Default for CurveEnvelope<P> {
    fn default() -> Self {
        Self::new(CURVE_BUCKETS)
    }
}

impl<P: CurvePoint> CurveEnvelope<P> {
    /// An envelope of at most `max_buckets` buckets (at least 1).
    pub fn new(max_buckets: usize) -> Self {
        Self {
            max_buckets: max_buckets.max(1),
            width: 1,
            buckets: Vec::new(),
            first: None,
            last: None,
            seq: 0,
        }
    }

    /// Adds the next point (points come in time order; one earlier than the last bucket
    /// counts in the last bucket).
    pub fn push(&mut self, p: P) {
        let k = Kept { seq: self.seq, p };
        self.seq += 1;
        let origin = self.first.get_or_insert(k).p.ts().millis();
        self.last = Some(k);
        let key = p.ts().millis().saturating_sub(origin).max(0) / self.width;
        match self.buckets.last_mut() {
            Some(b) if key <= b.key => b.absorb(k, k),
            _ => {
                self.buckets.push(Bucket { key, lo: k, hi: k });
                if self.buckets.len() > self.max_buckets {
                    self.coarsen();
                }
            }
        }
    }

    /// Doubles the width until the buckets fit, merging neighbours that now share a key.
    fn coarsen(&mut self) {
        while self.buckets.len() > self.max_buckets {
            self.width = self.width.saturating_mul(2);
            let mut out = 0usize;
            for i in 0..self.buckets.len() {
                let mut b = self.buckets[i];
                b.key /= 2;
                match out.checked_sub(1).map(|j| &mut self.buckets[j]) {
                    Some(prev) if prev.key == b.key => prev.absorb(b.lo, b.hi),
                    _ => {
                        self.buckets[out] = b;
                        out += 1;
                    }
                }
            }
            self.buckets.truncate(out);
        }
    }

    /// Number of points pushed.
    pub fn pushed(&self) -> u64 {
        self.seq
    }

    /// The kept points in arrival order: the first, each bucket's lowest and highest, the
    /// last (at most `2 × max_buckets + 2`).
    pub fn points(&self) -> Vec<P> {
        let mut kept: Vec<Kept<P>> = Vec::with_capacity(2 * self.buckets.len() + 2);
        kept.extend(self.first);
        for b in &self.buckets {
            let (a, z) = if b.lo.seq <= b.hi.seq {
                (b.lo, b.hi)
            } else {
                (b.hi, b.lo)
            };
            kept.push(a);
            kept.push(z);
        }
        kept.extend(self.last);
        kept.sort_by_key(|k| k.seq);
        kept.dedup_by_key(|k| k.seq);
        kept.into_iter().map(|k| k.p).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rust_decimal::Decimal;
    use scalper_model::{Money, Timestamp};

    fn pt(ts: i64, cents: i64) -> EquityPoint {
        EquityPoint {
            ts: Timestamp::from_millis(ts),
            equity: Money::new(Decimal::new(cents, 2)),
        }
    }

    #[test]
    fn short_curves_are_kept_whole() {
        let mut c = CurveEnvelope::new(8);
        let pts: Vec<EquityPoint> = (0..5).map(|i| pt(i * 10, 100 - i)).collect();
        for p in &pts {
            c.push(*p);
        }
        assert_eq!(c.points(), pts);
        assert!(CurveEnvelope::<EquityPoint>::default().points().is_empty());
    }

    #[test]
    fn envelope_is_bounded_and_keeps_extremes_first_and_last() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        for case in 0..200 {
            let buckets = rng.gen_range(1..64);
            let n = rng.gen_range(1..5_000);
            let mut c = CurveEnvelope::new(buckets);
            let (mut ts, mut eq) = (rng.gen_range(-10_000..10_000), 1_000_000i64);
            let mut all = Vec::with_capacity(n);
            for _ in 0..n {
                ts += [0, 1, 5, 1_000, 86_400_000][rng.gen_range(0..5)];
                eq += rng.gen_range(-5_000..5_000);
                all.push(pt(ts, eq));
                c.push(pt(ts, eq));
            }
            let kept = c.points();
            assert!(kept.len() <= 2 * buckets + 2, "case {case}: {}", kept.len());
            assert_eq!(kept.first(), all.first(), "case {case}");
            assert_eq!(kept.last(), all.last(), "case {case}");
            let min = all.iter().map(|p| p.equity).min();
            let max = all.iter().map(|p| p.equity).max();
            assert_eq!(kept.iter().map(|p| p.equity).min(), min, "case {case}");
            assert_eq!(kept.iter().map(|p| p.equity).max(), max, "case {case}");
            // A subsequence of the input, in order.
            let mut rest = all.iter();
            assert!(
                kept.iter().all(|k| rest.any(|p| p == k)),
                "case {case}: not in order"
            );
            assert_eq!(c.pushed(), n as u64);
        }
    }

    #[test]
    fn every_bucket_keeps_its_trough_and_peak() {
        // A sawtooth: 4 buckets over 4 cycles keep each cycle's bottom and top.
        let mut c = CurveEnvelope::new(4);
        for i in 0..4_000i64 {
            c.push(pt(i, (i % 1_000) * if i / 1_000 % 2 == 0 { 1 } else { -1 }));
        }
        let kept: Vec<Money> = c.points().iter().map(|p| p.equity).collect();
        for v in [999, -999, 0] {
            assert!(kept.contains(&pt(0, v).equity), "{kept:?}");
        }
        assert!(kept.len() <= 10, "{kept:?}");
    }
}
