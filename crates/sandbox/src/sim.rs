//! Seeded, deterministic market simulator: a GARCH(1,1)-style mid-price process (volatility
//! clustering), a spread that widens with volatility, and irregular (exponential) tick times.
//!
//! Pure and synchronous: [`MarketSim::next_quote`] works without any server, which is how
//! `scalper synth` and the benchmarks use it. Internal state is `f64` (statistics); every quote
//! is a `Decimal` rounded to the instrument's decimal places, with `offer - bid >= min spread`.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Exp, StandardNormal};
use rust_decimal::prelude::{FromPrimitive, ToPrimitive};
use rust_decimal::Decimal;
use scalper_model::{Epic, Price, Quote, Timestamp};

/// Parameters of one simulated instrument (prices in IG's quoted units).
#[derive(Debug, Clone, PartialEq)]
pub struct SimParams {
    pub epic: Epic,
    /// Decimal places of quoted prices.
    pub decimals: u32,
    /// Starting mid price.
    pub start_mid: Decimal,
    /// Typical (calm-market) spread in price units.
    pub base_spread: Decimal,
    /// Mean time between ticks in simulated milliseconds.
    pub mean_tick_ms: f64,
    /// Long-run volatility per square root of a simulated second, as a fraction of price.
    pub vol_per_sqrt_sec: f64,
}

/// One instrument's simulator. Same params + same seed = same quote sequence.
#[derive(Debug, Clone)]
pub struct MarketSim {
    params: SimParams,
    rng: ChaCha8Rng,
    mid: f64,
    /// Conditional variance per tick (GARCH state).
    var: f64,
    /// Long-run variance per tick.
    long_var: f64,
    last_ret: f64,
    now_ms: i64,
    next_at: i64,
    last: Quote,
}

const GARCH_ALPHA: f64 = 0.08;
const GARCH_BETA: f64 = 0.90;

impl MarketSim {
    /// A simulator whose first quote is at `start` (the starting mid, base spread).
    pub fn new(params: SimParams, seed: u64, start: Timestamp) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let tick_sec = params.mean_tick_ms.max(1.0) / 1000.0;
        let long_var = (params.vol_per_sqrt_sec.powi(2) * tick_sec).max(1e-18);
        let mid = params.start_mid.to_f64().unwrap_or(1.0).max(1e-9);
        let first_gap = exp_gap(&mut rng, params.mean_tick_ms);
        let half = params.base_spread / Decimal::TWO;
        let last = Quote {
            epic: params.epic.clone(),
            bid: Price::new((params.start_mid - half).round_dp(params.decimals)),
            offer: Price::new((params.start_mid + half).round_dp(params.decimals)),
            ts: start,
        };
        let mut sim = Self {
            params,
            rng,
            mid,
            var: long_var,
            long_var,
            last_ret: 0.0,
            now_ms: start.millis(),
            next_at: start.millis() + first_gap,
            last,
        };
        sim.fix_spread();
        sim
    }

    pub fn params(&self) -> &SimParams {
        &self.params
    }

    /// The most recent quote.
    pub fn last(&self) -> &Quote {
        &self.last
    }

    /// When the next quote will be produced (simulated ms).
    pub fn next_at(&self) -> Timestamp {
        Timestamp::from_millis(self.next_at)
    }

    /// Produces the next quote, advancing simulated time by an irregular gap.
    pub fn next_quote(&mut self) -> Quote {
        self.now_ms = self.next_at;
        // GARCH(1,1): today's variance reacts to yesterday's shock.
        let omega = self.long_var * (1.0 - GARCH_ALPHA - GARCH_BETA);
        self.var = omega + GARCH_ALPHA * self.last_ret.powi(2) + GARCH_BETA * self.var;
        let z: f64 = StandardNormal.sample(&mut self.rng);
        let ret = self.var.sqrt() * z;
        self.last_ret = ret;
        self.mid *= ret.exp();
        // Spread widens with volatility; rare liquidity gaps double it.
        let vol_ratio = (self.var / self.long_var).sqrt();
        let mut spread_mult = 0.8 + 0.4 * vol_ratio.min(5.0);
        if self.rng.gen_bool(0.01) {
            spread_mult *= 2.0;
        }
        // Busy markets tick faster.
        let mean_gap = self.params.mean_tick_ms / vol_ratio.clamp(0.5, 3.0);
        self.next_at = self.now_ms + exp_gap(&mut self.rng, mean_gap);
        let spread = self.params.base_spread.to_f64().unwrap_or(0.0) * spread_mult;
        self.set_from_f64(self.mid - spread / 2.0, self.mid + spread / 2.0);
        self.last.clone()
    }

    /// The next quote if it is due at or before `until`.
    pub fn next_before(&mut self, until: Timestamp) -> Option<Quote> {
        (self.next_at <= until.millis()).then(|| self.next_quote())
    }

    /// Overrides the current price (admin/test control); the process continues from it.
    pub fn set_quote(&mut self, bid: Price, offer: Price, ts: Timestamp) {
        self.last = Quote {
            epic: self.params.epic.clone(),
            bid,
            offer,
            ts,
        };
        self.mid = ((bid.value() + offer.value()) / Decimal::TWO)
            .to_f64()
            .unwrap_or(self.mid);
        self.now_ms = self.now_ms.max(ts.millis());
        self.next_at = self.next_at.max(self.now_ms + 1);
    }

    fn set_from_f64(&mut self, bid: f64, offer: f64) {
        let d = self.params.decimals;
        let bid = Decimal::from_f64(bid).unwrap_or(self.last.bid.value());
        let offer = Decimal::from_f64(offer).unwrap_or(self.last.offer.value());
        self.last = Quote {
            epic: self.params.epic.clone(),
            bid: Price::new(bid.round_dp(d)),
            offer: Price::new(offer.round_dp(d)),
            ts: Timestamp::from_millis(self.now_ms),
        };
        self.fix_spread();
    }

    /// Rounding must never produce a crossed or zero-spread book.
    fn fix_spread(&mut self) {
        let tick = Decimal::new(1, self.params.decimals);
        if self.last.offer.value() <= self.last.bid.value() {
            self.last.offer = Price::new(self.last.bid.value() + tick);
        }
    }
}

fn exp_gap(rng: &mut ChaCha8Rng, mean_ms: f64) -> i64 {
    let lambda = 1.0 / mean_ms.max(1.0);
    let gap: f64 = Exp::new(lambda).map_or(mean_ms, |e| e.sample(rng));
    (gap.round() as i64).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn params() -> SimParams {
        SimParams {
            epic: Epic::new("CS.D.EURUSD.CFD.IP").unwrap(),
            decimals: 1,
            start_mid: dec!(10800),
            base_spread: dec!(0.6),
            mean_tick_ms: 250.0,
            vol_per_sqrt_sec: 0.00005,
        }
    }

    #[test]
    fn deterministic_for_a_seed_and_different_across_seeds() {
        let start = Timestamp::from_millis(1_700_000_000_000);
        let mut a = MarketSim::new(params(), 7, start);
        let mut b = MarketSim::new(params(), 7, start);
        let mut c = MarketSim::new(params(), 8, start);
        let qa: Vec<_> = (0..500).map(|_| a.next_quote()).collect();
        let qb: Vec<_> = (0..500).map(|_| b.next_quote()).collect();
        let qc: Vec<_> = (0..500).map(|_| c.next_quote()).collect();
        assert_eq!(qa, qb);
        assert_ne!(qa, qc);
    }

    #[test]
    fn quotes_are_rounded_uncrossed_and_time_increases() {
        let mut s = MarketSim::new(params(), 1, Timestamp::from_millis(0));
        let mut prev = s.last().ts;
        let mut gaps = std::collections::BTreeSet::new();
        for _ in 0..2000 {
            let q = s.next_quote();
            assert!(q.offer > q.bid, "crossed {q:?}");
            assert!(q.bid.value().scale() <= 1);
            assert!(q.ts > prev);
            gaps.insert(q.ts.since(prev));
            prev = q.ts;
        }
        assert!(gaps.len() > 50, "tick times should be irregular");
    }

    #[test]
    fn next_before_respects_the_deadline() {
        let mut s = MarketSim::new(params(), 3, Timestamp::from_millis(0));
        let due = s.next_at();
        assert!(s
            .next_before(Timestamp::from_millis(due.millis() - 1))
            .is_none());
        assert_eq!(s.next_before(due).unwrap().ts, due);
    }
}
