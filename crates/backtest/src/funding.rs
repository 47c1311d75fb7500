//! IG-style overnight funding: a position open at the daily cut-off (22:00 London by default)
//! on a weekday is charged `notional × annual rate / 365` per night, rounded to the cent; on
//! the triple day (Wednesday for FX) three nights are charged to cover the weekend.
//! Notional = mid price / point size × value per point × size.

use chrono::{Datelike, NaiveTime, TimeZone, Weekday};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use scalper_model::{Direction, Instrument, Money, Price, Size, Timestamp};
use serde::{Deserialize, Serialize};

use crate::error::BacktestError;

/// Funding rates and cut-off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FundingOptions {
    /// Annual rate charged on longs, percent (IG: admin fee + benchmark rate). Negative: paid
    /// to the trader.
    pub long_rate_pct: Decimal,
    /// Annual rate charged on shorts, percent (IG: admin fee - benchmark rate).
    pub short_rate_pct: Decimal,
    /// Local cut-off time `HH:MM`. Default `22:00`.
    pub cutoff: String,
    /// IANA time zone of the cut-off. Default `Europe/London`.
    pub timezone: String,
    /// Weekday charged three nights (Wednesday for FX, Friday for indices); `None`: one.
    pub triple_day: Option<Weekday>,
}

impl Default for FundingOptions {
    fn default() -> Self {
        Self {
            long_rate_pct: dec!(2.5),
            short_rate_pct: dec!(2.5),
            cutoff: "22:00".to_string(),
            timezone: "Europe/London".to_string(),
            triple_day: Some(Weekday::Wed),
        }
    }
}

/// Tracks cut-offs during a run.
#[derive(Debug, Clone)]
pub struct Funding {
    opts: FundingOptions,
    tz: Tz,
    cutoff: NaiveTime,
    /// Next cut-off (epoch ms) and the nights it charges.
    next: Option<(i64, u32)>,
}

impl Funding {
    pub fn new(opts: &FundingOptions) -> Result<Self, BacktestError> {
        let tz: Tz = opts.timezone.parse().map_err(|_| {
            BacktestError::option(
                "funding.timezone",
                format!("unknown time zone {:?}", opts.timezone),
            )
        })?;
        let cutoff = NaiveTime::parse_from_str(opts.cutoff.trim(), "%H:%M")
            .map_err(|_| BacktestError::option("funding.cutoff", "expected HH:MM"))?;
        Ok(Self {
            opts: opts.clone(),
            tz,
            cutoff,
            next: None,
        })
    }

    /// The first weekday cut-off strictly after `ts`, with its number of nights.
    fn cutoff_after(&self, ts: i64) -> Option<(i64, u32)> {
        let local = Timestamp::from_millis(ts)
            .to_datetime()?
            .with_timezone(&self.tz);
        let mut date = local.date_naive();
        for _ in 0..10 {
            let at = self
                .tz
                .from_local_datetime(&date.and_time(self.cutoff))
                .earliest()
                .map(|d| d.timestamp_millis());
            if let Some(at) = at.filter(|a| *a > ts) {
                let wd = date.weekday();
                if !matches!(wd, Weekday::Sat | Weekday::Sun) {
                    let nights = if self.opts.triple_day == Some(wd) {
                        3
                    } else {
                        1
                    };
                    return Some((at, nights));
                }
            }
            date = date.succ_opt()?;
        }
        None
    }

    /// Nights to charge when time moves to `ts` (0 when no cut-off was crossed).
    #[inline]
    pub fn crossed(&mut self, ts: i64) -> u32 {
        match self.next {
            Some((at, _)) if ts < at => 0,
            Some((at, nights)) => {
                let mut total = nights;
                let mut last = at;
                // Several cut-offs inside a data gap: charge each once.
                loop {
                    self.next = self.cutoff_after(last);
                    match self.next {
                        Some((a, n)) if a <= ts => {
                            total += n;
                            last = a;
                        }
                        _ => break,
                    }
                }
                total
            }
            None => {
                self.next = self.cutoff_after(ts);
                0
            }
        }
    }

    /// The charge (negative = cost) for one position over `nights` nights.
    pub fn charge(
        &self,
        inst: &Instrument,
        direction: Direction,
        size: Size,
        mid: Price,
        nights: u32,
    ) -> Money {
        if inst.point_size.is_zero() {
            return Money::ZERO;
        }
        let rate = match direction {
            Direction::Buy => self.opts.long_rate_pct,
            Direction::Sell => self.opts.short_rate_pct,
        };
        let notional = inst.notional_per_unit(mid) * size.value();
        let per_night = notional * rate / dec!(100) / dec!(365);
        // In the instrument's currency, booked in the account's.
        inst.to_account(Money::new(-per_night * Decimal::from(nights)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::InstrumentSpec;

    #[test]
    fn cutoffs_weekdays_and_triple() {
        let mut f = Funding::new(&FundingOptions::default()).unwrap();
        // Tue 2024-01-02 08:00 UTC (London = UTC in winter).
        let t0 = 1_704_182_400_000;
        assert_eq!(f.crossed(t0), 0);
        assert_eq!(f.crossed(t0 + 13 * 3_600_000), 0); // 21:00
        assert_eq!(f.crossed(t0 + 14 * 3_600_000), 1); // 22:00 Tuesday
                                                       // Jump to Thursday 08:00: Wednesday's triple night.
        assert_eq!(f.crossed(t0 + 48 * 3_600_000), 3);
        // Jump to Monday 08:00: Thursday and Friday nights, no weekend nights.
        assert_eq!(f.crossed(t0 + 6 * 24 * 3_600_000), 2);
    }

    #[test]
    fn charge_is_rounded_cost() {
        let f = Funding::new(&FundingOptions::default()).unwrap();
        let inst = InstrumentSpec::named("EUR_USD").resolve().unwrap();
        // 1.1 / 0.0001 × 10 × 1 = 110000 notional; × 2.5% / 365 = 7.534... per night.
        let c = f.charge(
            &inst,
            Direction::Buy,
            Size::new(dec!(1)),
            Price::new(dec!(1.1)),
            1,
        );
        assert_eq!(c, Money::new(dec!(-7.53)));
        let c3 = f.charge(
            &inst,
            Direction::Sell,
            Size::new(dec!(1)),
            Price::new(dec!(1.1)),
            3,
        );
        assert_eq!(c3, Money::new(dec!(-22.60)));
    }
}
