//! Report metrics from the trade list and the equity curve: win rate, profit factor,
//! expectancy, total return, maximum drawdown, Sharpe and Sortino (from equity sampled every
//! `period_ms`, annualised with `periods_per_year`), exposure and average holding time.
//! Money stays decimal; ratios are f64.

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use scalper_engine::CloseCause;
use scalper_model::{Direction, Money, Price, Size, Timestamp};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// How returns are sampled for Sharpe and Sortino.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MetricsOptions {
    /// Equity is sampled at the first record of every period of this length. Default: a day.
    pub period_ms: i64,
    /// Periods per year for annualising. Default 252.
    pub periods_per_year: f64,
}

impl Default for MetricsOptions {
    fn default() -> Self {
        Self {
            period_ms: 86_400_000,
            periods_per_year: 252.0,
        }
    }
}

/// One closed round trip as reported (P&L in the report currency).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TradeRecord {
    pub id: u64,
    pub direction: Direction,
    pub size: Size,
    pub entry_time: Timestamp,
    pub entry_price: Price,
    pub exit_time: Timestamp,
    pub exit_price: Price,
    /// Net P&L: price move less commissions, plus funding.
    pub pnl: Money,
    /// Commission of both fills (already in `pnl`).
    pub commission: Money,
    /// Overnight funding (already in `pnl`; negative = cost).
    pub funding: Money,
    pub cause: CloseCause,
    pub reason: String,
}

/// Equity (mark-to-market) at an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EquityPoint {
    pub ts: Timestamp,
    pub equity: Money,
}

/// The headline numbers of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    pub trades: u64,
    pub wins: u64,
    pub losses: u64,
    /// Wins / trades (0..1); `None` without trades.
    pub win_rate: Option<f64>,
    pub gross_profit: Money,
    pub gross_loss: Money,
    pub net_pnl: Money,
    /// Gross profit / gross loss; `None` when nothing was lost.
    pub profit_factor: Option<f64>,
    /// Net P&L per trade.
    pub expectancy: Option<Money>,
    /// Net P&L / initial equity, percent.
    pub total_return_pct: f64,
    /// Largest peak-to-trough fall of the equity curve (positive amount) and as % of peak.
    pub max_drawdown: Money,
    pub max_drawdown_pct: f64,
    pub sharpe: Option<f64>,
    pub sortino: Option<f64>,
    /// Share of the data's time span with a position open, percent.
    pub exposure_pct: f64,
    pub avg_holding_ms: Option<f64>,
    pub commission: Money,
    pub funding: Money,
}

fn f(d: Decimal) -> f64 {
    d.to_f64().unwrap_or(0.0)
}

/// Computes the metrics. `samples` are the periodic equity samples (for Sharpe/Sortino),
/// `curve` every equity point (for drawdown), `span_ms` the data's time span.
pub fn compute(
    trades: &[TradeRecord],
    curve: &[EquityPoint],
    samples: &[EquityPoint],
    initial_equity: Money,
    span_ms: i64,
    opts: &MetricsOptions,
) -> Metrics {
    let n = trades.len() as u64;
    let mut gp = Money::ZERO;
    let mut gl = Money::ZERO;
    let (mut wins, mut losses) = (0, 0);
    let mut commission = Money::ZERO;
    let mut funding = Money::ZERO;
    for t in trades {
        if t.pnl > Money::ZERO {
            wins += 1;
            gp += t.pnl;
        } else if t.pnl < Money::ZERO {
            losses += 1;
            gl -= t.pnl;
        }
        commission += t.commission;
        funding += t.funding;
    }
    let net = gp - gl;
    let (max_dd, max_dd_pct) = drawdown(initial_equity, curve);
    let returns: Vec<f64> = samples
        .windows(2)
        .filter_map(|w| {
            let prev = f(w[0].equity.value());
            (prev > 0.0).then(|| f(w[1].equity.value()) / prev - 1.0)
        })
        .collect();
    let (sharpe, sortino) = ratios(&returns, opts.periods_per_year);
    Metrics {
        trades: n,
        wins,
        losses,
        win_rate: (n > 0).then(|| wins as f64 / n as f64),
        gross_profit: gp,
        gross_loss: gl,
        net_pnl: net,
        profit_factor: (gl > Money::ZERO).then(|| f(gp.value()) / f(gl.value())),
        expectancy: (n > 0).then(|| Money::new(net.value() / Decimal::from(n)).round_cents()),
        total_return_pct: if initial_equity.is_zero() {
            0.0
        } else {
            f(net.value()) / f(initial_equity.value()) * 100.0
        },
        max_drawdown: max_dd,
        max_drawdown_pct: max_dd_pct,
        sharpe,
        sortino,
        exposure_pct: exposure(trades, span_ms),
        avg_holding_ms: (n > 0).then(|| {
            trades
                .iter()
                .map(|t| t.exit_time.since(t.entry_time) as f64)
                .sum::<f64>()
                / n as f64
        }),
        commission,
        funding,
    }
}

fn drawdown(start: Money, curve: &[EquityPoint]) -> (Money, f64) {
    let mut peak = start;
    let mut max = Money::ZERO;
    let mut max_pct = 0.0;
    for p in curve {
        if p.equity > peak {
            peak = p.equity;
        }
        let dd = peak - p.equity;
        if dd > max {
            max = dd;
        }
        if peak > Money::ZERO {
            let pct = f(dd.value()) / f(peak.value()) * 100.0;
            if pct > max_pct {
                max_pct = pct;
            }
        }
    }
    (max, max_pct)
}

/// Annualised Sharpe (mean / sample std) and Sortino (mean / downside deviation, target 0).
fn ratios(r: &[f64], per_year: f64) -> (Option<f64>, Option<f64>) {
    if r.len() < 2 {
        return (None, None);
    }
    let n = r.len() as f64;
    let mean = r.iter().sum::<f64>() / n;
    let var = r.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    let down = r.iter().map(|x| x.min(0.0).powi(2)).sum::<f64>() / n;
    let ann = per_year.sqrt();
    let sharpe = (var > 0.0).then(|| mean / var.sqrt() * ann);
    let sortino = (down > 0.0).then(|| mean / down.sqrt() * ann);
    (sharpe, sortino)
}

/// Time with at least one position open (union of holding intervals) over the span.
fn exposure(trades: &[TradeRecord], span_ms: i64) -> f64 {
    if span_ms <= 0 || trades.is_empty() {
        return 0.0;
    }
    let mut iv: Vec<(i64, i64)> = trades
        .iter()
        .map(|t| (t.entry_time.millis(), t.exit_time.millis()))
        .collect();
    iv.sort_unstable();
    let mut total = 0i64;
    let (mut s, mut e) = iv[0];
    for &(a, b) in &iv[1..] {
        if a > e {
            total += e - s;
            s = a;
            e = b;
        } else {
            e = e.max(b);
        }
    }
    total += e - s;
    (total as f64 / span_ms as f64 * 100.0).min(100.0)
}

/// SHA-256 (hex) of the trade list in a canonical text form (normalised decimals, epoch
/// ms), identical across runs, platforms and data formats for the same trades.
pub fn trades_hash(trades: &[TradeRecord]) -> String {
    let mut h = Sha256::new();
    // One line per trade, `{id},{direction},{size},{entry ms},{entry price},{exit ms},
    // {exit price},{pnl}\n` with the amounts as their `Display` writes them, built in a
    // reused buffer without the formatter.
    let mut line = String::with_capacity(160);
    for t in trades {
        line.clear();
        push_int(&mut line, i128::from(t.id));
        line.push(',');
        line.push_str(t.direction.as_str());
        line.push(',');
        push_decimal(&mut line, t.size.value());
        line.push(',');
        push_int(&mut line, i128::from(t.entry_time.millis()));
        line.push(',');
        push_decimal(&mut line, t.entry_price.value());
        line.push(',');
        push_int(&mut line, i128::from(t.exit_time.millis()));
        line.push(',');
        push_decimal(&mut line, t.exit_price.value());
        line.push(',');
        push_decimal(&mut line, t.pnl.value());
        line.push('\n');
        h.update(line.as_bytes());
    }
    hex::encode(h.finalize())
}

/// Appends `v` in decimal (`{v}`).
fn push_int(out: &mut String, v: i128) {
    if v < 0 {
        out.push('-');
    }
    push_digits(out, v.unsigned_abs(), 0);
}

/// Appends the digits of `v`, zero-padded to at least `width`.
fn push_digits(out: &mut String, v: u128, width: usize) {
    const E19: u128 = 10_000_000_000_000_000_000;
    let mut buf = [b'0'; 40];
    let mut i = buf.len();
    // 128-bit division is a library call: only the digits above 64 bits use it.
    let (mut high, mut low) = match u64::try_from(v) {
        Ok(low) => (0, low),
        Err(_) => (v / E19, (v % E19) as u64),
    };
    loop {
        i -= 1;
        buf[i] = b'0' + (low % 10) as u8;
        low /= 10;
        if low == 0 {
            break;
        }
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
    out.push_str(std::str::from_utf8(&buf[i..]).unwrap_or_default());
}

/// Appends `d` as the model's amounts display it (`Display` of the normalized decimal).
fn push_decimal(out: &mut String, d: Decimal) {
    let n = d.normalize();
    let u = n.unpack();
    let m = (u128::from(u.hi) << 64) | (u128::from(u.mid) << 32) | u128::from(u.lo);
    if m == 0 {
        out.push('0');
        return;
    }
    if u.negative {
        out.push('-');
    }
    let scale = u.scale;
    if scale == 0 {
        push_digits(out, m, 0);
        return;
    }
    let unit = 10u128.pow(scale);
    push_digits(out, m / unit, 0);
    out.push('.');
    push_digits(out, m % unit, scale as usize);
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

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
            let mut s = String::new();
            push_decimal(&mut s, d);
            assert_eq!(s, Money::new(d).to_string(), "{d:?}");
            let mut s = String::new();
            push_int(&mut s, i128::from(d.mantissa() as i64));
            assert_eq!(s, (d.mantissa() as i64).to_string());
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

    fn trade(id: u64, pnl: Decimal, entry: i64, exit: i64) -> TradeRecord {
        TradeRecord {
            id,
            direction: Direction::Buy,
            size: Size::new(dec!(1)),
            entry_time: Timestamp::from_millis(entry),
            entry_price: Price::new(dec!(1)),
            exit_time: Timestamp::from_millis(exit),
            exit_price: Price::new(dec!(1)),
            pnl: Money::new(pnl),
            commission: Money::ZERO,
            funding: Money::ZERO,
            cause: CloseCause::Engine,
            reason: String::new(),
        }
    }

    #[test]
    fn hand_computed_metrics() {
        let trades = [
            trade(1, dec!(30), 0, 10),
            trade(2, dec!(-10), 5, 20),
            trade(3, dec!(-20), 50, 60),
        ];
        let pt = |ts: i64, e: Decimal| EquityPoint {
            ts: Timestamp::from_millis(ts),
            equity: Money::new(e),
        };
        let curve = [pt(10, dec!(130)), pt(20, dec!(120)), pt(60, dec!(100))];
        let m = compute(
            &trades,
            &curve,
            &[],
            Money::new(dec!(100)),
            100,
            &MetricsOptions::default(),
        );
        assert_eq!((m.trades, m.wins, m.losses), (3, 1, 2));
        assert_eq!(m.net_pnl, Money::new(dec!(0)));
        assert!((m.profit_factor.unwrap() - 1.0).abs() < 1e-12);
        assert!((m.win_rate.unwrap() - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(m.max_drawdown, Money::new(dec!(30)));
        assert!((m.max_drawdown_pct - 30.0 / 130.0 * 100.0).abs() < 1e-9);
        // Holding: [0,20] ∪ [50,60] = 30 of 100 ms.
        assert!((m.exposure_pct - 30.0).abs() < 1e-9);
        assert!((m.avg_holding_ms.unwrap() - 35.0 / 3.0).abs() < 1e-9);
        assert_eq!(m.sharpe, None);
    }

    #[test]
    fn sharpe_and_sortino() {
        // Returns +10%, -5%, +10%: mean 0.05, sample std 0.0866.., downside sqrt(0.0025/3).
        let e = [dec!(100), dec!(110), dec!(104.5), dec!(114.95)];
        let s: Vec<EquityPoint> = e
            .iter()
            .enumerate()
            .map(|(i, v)| EquityPoint {
                ts: Timestamp::from_millis(i64::try_from(i).unwrap()),
                equity: Money::new(*v),
            })
            .collect();
        let m = compute(
            &[],
            &[],
            &s,
            Money::new(dec!(100)),
            1,
            &MetricsOptions {
                period_ms: 1,
                periods_per_year: 1.0,
            },
        );
        let std = 0.0075f64.sqrt();
        assert!((m.sharpe.unwrap() - 0.05 / std).abs() < 1e-9);
        let dd = (0.0025f64 / 3.0).sqrt();
        assert!((m.sortino.unwrap() - 0.05 / dd).abs() < 1e-9);
    }
}
