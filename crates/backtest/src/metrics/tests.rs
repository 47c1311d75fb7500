//! The accumulator against the whole-list computation it replaced (kept here as the
//! reference), on hand-computed cases and random runs with overlapping positions.

use super::*;
use rust_decimal_macros::dec;

/// A one-lot BUY at 1 closing at 1 with this P&L (shared by the hash tests).
pub(crate) fn trade(id: u64, pnl: Decimal, entry: i64, exit: i64) -> TradeRecord {
    TradeRecord {
        id,
        direction: Direction::Buy,
        size: Size::new(dec!(1)),
        entry_time: Timestamp::from_millis(entry),
        entry_price: Price::new(dec!(1)),
        exit_time: Timestamp::from_millis(exit),
        exit_price: Price::new(dec!(1)),
        currency: String::new(),
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

/// The whole-list computation that [`MetricsAccumulator`] replaced, kept as the reference.
mod reference {
    // The Sharpe/Sortino formula is shared: the reference checks how the accumulator
    // collects returns, trades and intervals, not the formula itself.
    use super::super::{f, ratios, EquityPoint, Metrics, MetricsOptions, TradeRecord};
    use rust_decimal::Decimal;
    use scalper_model::Money;

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
}

/// A random run: up to `max_open` overlapping positions opened and closed on a clock
/// that may not move between events; trades in exit order with the earliest entry of
/// the positions still open after each close; equity points and periodic samples.
struct Run {
    trades: Vec<(TradeRecord, Option<i64>, i64)>,
    curve: Vec<EquityPoint>,
    samples: Vec<EquityPoint>,
    initial: Money,
    span: i64,
}

fn money(rng: &mut rand_chacha::ChaCha8Rng, cents: i64) -> Money {
    use rand::Rng;
    Money::new(Decimal::new(rng.gen_range(-cents..=cents), 2))
}

/// Closes a random open position at `now`.
fn close(
    rng: &mut rand_chacha::ChaCha8Rng,
    open: &mut Vec<(u64, i64)>,
    equity: &mut Money,
    now: i64,
    run: &mut Run,
) {
    use rand::Rng;
    let (id, entry) = open.swap_remove(rng.gen_range(0..open.len()));
    let mut t = trade(id, Decimal::ZERO, entry, now);
    t.pnl = if rng.gen_bool(0.1) {
        Money::ZERO
    } else {
        money(rng, 50_000)
    };
    t.commission = money(rng, 300);
    t.funding = money(rng, 300);
    *equity += t.pnl;
    let open_since = open.iter().map(|o| o.1).min();
    run.trades.push((t, open_since, now));
    run.curve.push(EquityPoint {
        ts: Timestamp::from_millis(now),
        equity: *equity,
    });
}

fn random_run(rng: &mut rand_chacha::ChaCha8Rng) -> Run {
    use rand::Rng;
    let max_open = rng.gen_range(1..=4);
    let events = rng.gen_range(0..300);
    let initial = Money::new(Decimal::new(rng.gen_range(-1_000..100_000), 2));
    let (mut now, mut id) = (rng.gen_range(-1_000..1_000), 0u64);
    let start = now;
    let mut equity = initial;
    let mut open: Vec<(u64, i64)> = Vec::new();
    let mut run = Run {
        trades: Vec::new(),
        curve: Vec::new(),
        samples: Vec::new(),
        initial,
        span: 0,
    };
    for _ in 0..events {
        now += [0, 0, 1, 7, 100][rng.gen_range(0..5)];
        let closing = !open.is_empty() && (open.len() == max_open || rng.gen_bool(0.5));
        if closing {
            close(rng, &mut open, &mut equity, now, &mut run);
        } else {
            id += 1;
            open.push((id, now));
        }
        if rng.gen_bool(0.2) {
            let p = EquityPoint {
                ts: Timestamp::from_millis(now),
                equity: equity + money(rng, 10_000),
            };
            run.curve.push(p);
            run.samples.push(p);
        }
    }
    // The runner closes what is open at the end.
    while !open.is_empty() {
        close(rng, &mut open, &mut equity, now, &mut run);
    }
    run.span = if rng.gen_bool(0.05) { 0 } else { now - start };
    run
}

#[test]
fn accumulator_equals_the_whole_list_computation() {
    use rand::seq::SliceRandom;
    use rand::SeedableRng;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(17);
    for case in 0..3_000 {
        let run = random_run(&mut rng);
        let opts = MetricsOptions {
            period_ms: 1,
            periods_per_year: 252.0,
        };
        let trades: Vec<TradeRecord> = run.trades.iter().map(|r| r.0.clone()).collect();
        let want = reference::compute(
            &trades,
            &run.curve,
            &run.samples,
            run.initial,
            run.span,
            &opts,
        );
        // Online, as the runner feeds it: trades in exit order, settled after each.
        let mut acc = MetricsAccumulator::new(run.initial, &opts);
        let mut most_pending = 0;
        for (t, open_since, now) in &run.trades {
            acc.add_trade(t);
            acc.settle(
                open_since.map(Timestamp::from_millis),
                Timestamp::from_millis(*now),
            );
            most_pending = most_pending.max(acc.exposure.pending.len());
        }
        for p in &run.curve {
            acc.add_equity(*p);
        }
        for p in &run.samples {
            acc.add_sample(*p);
        }
        assert_eq!(acc.finish(run.span), want, "case {case}");
        assert!(
            most_pending <= 1,
            "case {case}: {most_pending} pending intervals"
        );
        // Whole lists in any order, never settled.
        let mut shuffled = trades;
        shuffled.shuffle(&mut rng);
        let want = reference::compute(
            &shuffled,
            &run.curve,
            &run.samples,
            run.initial,
            run.span,
            &opts,
        );
        let got = compute(
            &shuffled,
            &run.curve,
            &run.samples,
            run.initial,
            run.span,
            &opts,
        );
        assert_eq!(got, want, "case {case} shuffled");
    }
}
