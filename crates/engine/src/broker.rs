//! The [`Broker`] seam between the deterministic engine and a venue (IG over the network, or
//! the paper/sim broker), and the deterministic deal-reference generator.

use std::future::Future;

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use scalper_model::{DealReference, IdError, Quote};

use crate::event::{BrokerCommand, BrokerEvent};

/// A venue that carries out [`BrokerCommand`]s and reports [`BrokerEvent`]s.
///
/// The async runner calls `execute` for every `Action::Broker` the engine returns and feeds
/// the returned events back as `EngineEvent::Broker`, and calls `on_quote` for every quote
/// *before* giving the quote to the engine (so that fills and stop/limit triggers the quote
/// causes are known first). Events the broker learns about later (IG stream confirms, OPU
/// closes) reach the engine through the runner's event channel.
///
/// The future must not borrow anything but `self` and `cmd`, and is `Send` so runners can
/// spawn on a multi-threaded runtime. The paper broker's future is ready at once.
pub trait Broker {
    /// Carries out one command; returns what is known when the call completes (possibly
    /// nothing yet, e.g. a paper fill waiting for the next quote).
    fn execute(&mut self, cmd: BrokerCommand) -> impl Future<Output = Vec<BrokerEvent>> + Send;
    /// Lets the broker see a quote: pending paper fills and stop/limit triggers. Live brokers
    /// return an empty vector (IG triggers stops itself and reports them on the stream).
    fn on_quote(&mut self, quote: &Quote) -> Vec<BrokerEvent>;
    /// True for paper/simulated brokers: trades it makes are marked `paper`.
    fn is_paper(&self) -> bool;
}

/// Deterministic deal references: `{prefix}-{random:08x}-{seq:06}`, where `random` is drawn
/// once from a ChaCha8 generator seeded with `seed`. Backtests use a fixed seed so trade lists
/// are bit-identical; live runs should pass a seed that differs per run (e.g. the start time)
/// so references never repeat across runs.
#[derive(Debug, Clone)]
pub struct DealRefGen {
    prefix: String,
    random: u32,
    seq: u64,
}

impl DealRefGen {
    /// `prefix` must be 1-10 characters of `A-Z a-z 0-9 _ -`.
    pub fn new(prefix: &str, seed: u64) -> Result<Self, IdError> {
        // Validate once, so `next` cannot fail for a valid prefix.
        DealReference::compose(prefix, 0, 0)?;
        if prefix.is_empty() || prefix.len() > 10 {
            return Err(IdError {
                kind: "deal reference prefix",
                value: prefix.to_string(),
                rule: "1 to 10 characters",
            });
        }
        let random = ChaCha8Rng::seed_from_u64(seed).next_u32();
        Ok(Self {
            prefix: prefix.to_string(),
            random,
            seq: 0,
        })
    }

    /// The next reference (sequence starts at 1).
    pub fn next_ref(&mut self) -> DealReference {
        self.seq += 1;
        // The prefix (<= 10 characters) was validated in `new`; with 8 hex digits and at most
        // 9 sequence digits the reference stays within IG's 30 characters.
        if self.seq > 999_999_999 {
            self.seq = 1;
        }
        match DealReference::compose(&self.prefix, self.random, self.seq) {
            Ok(r) => r,
            // Unreachable for a prefix validated by `new`; fall back to a fixed valid shape.
            Err(_) => fallback_ref(self.random, self.seq),
        }
    }

    /// How many references were issued.
    pub fn issued(&self) -> u64 {
        self.seq
    }
}

fn fallback_ref(random: u32, seq: u64) -> DealReference {
    let s = format!("S-{random:08x}-{seq}");
    DealReference::new(s).unwrap_or_else(|_| unreachable_ref())
}

#[allow(clippy::unwrap_used)] // a literal that satisfies the pattern
fn unreachable_ref() -> DealReference {
    DealReference::new("SCALPER").unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs_are_deterministic_per_seed() {
        let mut a = DealRefGen::new("BT", 7).unwrap();
        let mut b = DealRefGen::new("BT", 7).unwrap();
        let mut c = DealRefGen::new("BT", 8).unwrap();
        let ra = a.next_ref();
        assert_eq!(ra, b.next_ref());
        assert_ne!(ra, c.next_ref());
        assert!(ra.as_str().starts_with("BT-"));
        assert!(ra.as_str().ends_with("-000001"));
        assert_eq!(a.next_ref().as_str()[12..], *"000002");
        assert_eq!(a.issued(), 2);
    }

    #[test]
    fn bad_prefix_is_an_error() {
        assert!(DealRefGen::new("has space", 1).is_err());
        assert!(DealRefGen::new("", 1).is_err());
        assert!(DealRefGen::new("ELEVENCHARS", 1).is_err());
    }
}
