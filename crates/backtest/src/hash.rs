//! The trade-list hash: SHA-256 over one canonical text line per trade (normalised decimals,
//! epoch ms), fed one trade at a time ([`TradesHasher`]) so a run need not keep its trades.

use rust_decimal::Decimal;
use sha2::{Digest, Sha256};

use crate::metrics::TradeRecord;

/// Builds [`trades_hash`] one trade at a time: pushing the trades of a list in order gives the
/// same hex as hashing the list.
#[derive(Debug, Clone, Default)]
pub struct TradesHasher {
    sha: Sha256,
    /// One line, as bytes (ASCII digits and signs: no UTF-8 checks).
    line: Vec<u8>,
}

impl TradesHasher {
    pub fn new() -> Self {
        Self::default()
    }

    /// Hashes one trade: `{id},{direction},{size},{entry ms},{entry price},{exit ms},
    /// {exit price},{pnl}\n` with the amounts as their `Display` writes them, built in a
    /// reused buffer without the formatter.
    pub fn push(&mut self, t: &TradeRecord) {
        let line = &mut self.line;
        line.clear();
        push_int(line, i128::from(t.id));
        line.push(b',');
        line.extend_from_slice(t.direction.as_str().as_bytes());
        line.push(b',');
        push_decimal(line, t.size.value());
        line.push(b',');
        push_int(line, i128::from(t.entry_time.millis()));
        line.push(b',');
        push_decimal(line, t.entry_price.value());
        line.push(b',');
        push_int(line, i128::from(t.exit_time.millis()));
        line.push(b',');
        push_decimal(line, t.exit_price.value());
        line.push(b',');
        push_decimal(line, t.pnl.value());
        line.push(b'\n');
        self.sha.update(&line[..]);
    }

    /// The hex digest of the trades pushed so far.
    pub fn finish(&self) -> String {
        hex::encode(self.sha.clone().finalize())
    }
}

/// SHA-256 (hex) of the trade list in a canonical text form (normalised decimals, epoch
/// ms), identical across runs, platforms and data formats for the same trades.
pub fn trades_hash(trades: &[TradeRecord]) -> String {
    let mut h = TradesHasher::new();
    for t in trades {
        h.push(t);
    }
    h.finish()
}

/// Appends `v` in decimal (`{v}`).
fn push_int(out: &mut Vec<u8>, v: i128) {
    if v < 0 {
        out.push(b'-');
    }
    push_digits(out, v.unsigned_abs(), 0);
}

/// `00`, `01`, ... `99`.
const PAIRS: &[u8; 200] = b"00010203040506070809101112131415161718192021222324252627282930313233343536373839404142434445464748495051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899";

/// Appends the digits of `v`, zero-padded to at least `width`.
fn push_digits(out: &mut Vec<u8>, v: u128, width: usize) {
    const E19: u128 = 10_000_000_000_000_000_000;
    let mut buf = [b'0'; 40];
    let mut i = buf.len();
    // 128-bit division is a library call: only the digits above 64 bits use it.
    let (mut high, mut low) = match u64::try_from(v) {
        Ok(low) => (0, low),
        Err(_) => (v / E19, (v % E19) as u64),
    };
    // Two digits per division (a timestamp has 13).
    while low >= 100 {
        let d = (low % 100) as usize * 2;
        low /= 100;
        i -= 2;
        buf[i..i + 2].copy_from_slice(&PAIRS[d..d + 2]);
    }
    if low >= 10 {
        let d = low as usize * 2;
        i -= 2;
        buf[i..i + 2].copy_from_slice(&PAIRS[d..d + 2]);
    } else {
        i -= 1;
        buf[i] = b'0' + low as u8;
    }
    if high > 0 {
        i = buf.len() - 19; // the low part fills 19 digits, zero-padded
        while high > 0 {
            i -= 1;
            buf[i] = b'0' + (high % 10) as u8;
            high /= 10;
        }
    }
    i = i.min(buf.len().saturating_sub(width));
    out.extend_from_slice(&buf[i..]);
}

/// Appends `d` as the model's amounts display it (`Display` of the normalized decimal).
fn push_decimal(out: &mut Vec<u8>, d: Decimal) {
    let n = scalper_model::normalized(d);
    let u = n.unpack();
    let m = (u128::from(u.hi) << 64) | (u128::from(u.mid) << 32) | u128::from(u.lo);
    if m == 0 {
        out.push(b'0');
        return;
    }
    if u.negative {
        out.push(b'-');
    }
    let scale = u.scale;
    if scale == 0 {
        push_digits(out, m, 0);
        return;
    }
    // Prices and amounts fit in 64 bits: 64-bit division, not the 128-bit library call.
    let (int, frac) = if let (Ok(m), Some(unit)) = (u64::try_from(m), 10u64.checked_pow(scale)) {
        (u128::from(m / unit), u128::from(m % unit))
    } else {
        let unit = 10u128.pow(scale);
        (m / unit, m % unit)
    };
    push_digits(out, int, 0);
    out.push(b'.');
    push_digits(out, frac, scale as usize);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::tests::trade;
    use rust_decimal_macros::dec;
    use scalper_model::{Direction, Money, Price, Size};

    #[test]
    fn decimals_are_written_as_displayed() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let mut values = vec![
            Decimal::ZERO,
            -Decimal::ZERO,
            Decimal::new(-0, 5),
            Decimal::MAX,
            Decimal::MIN,
            dec!(100),
            dec!(1.50),
            dec!(-0.000000001),
            dec!(1e-28),
        ];
        for _ in 0..50_000 {
            let m: i64 = rng.gen();
            values.push(Decimal::new(
                m >> rng.gen_range(0..63),
                rng.gen_range(0..=28),
            ));
        }
        for d in values {
            let mut s = Vec::new();
            push_decimal(&mut s, d);
            assert_eq!(s, Money::new(d).to_string().into_bytes(), "{d:?}");
            let mut s = Vec::new();
            push_int(&mut s, i128::from(d.mantissa() as i64));
            assert_eq!(s, (d.mantissa() as i64).to_string().into_bytes());
        }
    }

    #[test]
    fn trades_hash_is_the_hash_of_the_formatted_lines() {
        let trades: Vec<TradeRecord> = (0..50i64)
            .map(|i| {
                let mut t = trade(
                    i.unsigned_abs(),
                    Decimal::new(i * 37 - 900, 2),
                    1000,
                    2000 + i,
                );
                t.direction = if i % 2 == 0 {
                    Direction::Buy
                } else {
                    Direction::Sell
                };
                t.size = Size::new(Decimal::new(i + 1, 1));
                t.entry_price = Price::new(Decimal::new(108_123 + i, 5));
                t
            })
            .collect();
        let mut h = Sha256::new();
        for t in &trades {
            h.update(
                format!(
                    "{},{},{},{},{},{},{},{}\n",
                    t.id,
                    t.direction,
                    t.size,
                    t.entry_time.millis(),
                    t.entry_price,
                    t.exit_time.millis(),
                    t.exit_price,
                    t.pnl
                )
                .as_bytes(),
            );
        }
        assert_eq!(trades_hash(&trades), hex::encode(h.finalize()));
    }
}
