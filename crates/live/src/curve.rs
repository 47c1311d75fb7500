//! Today's equity curve for observers: the session day's P&L (realised from the journal at
//! start-up, then realised plus unrealised as the run publishes) at the run's clock, bounded
//! to [`CURVE_POINTS_KEPT`] points by thinning (every other point dropped, the latest kept).

use std::sync::{Arc, Mutex};

use chrono::NaiveDate;
use scalper_model::{Money, Timestamp};
use serde::Serialize;

/// Points kept at most; when full, every other point is dropped.
pub const CURVE_POINTS_KEPT: usize = 4096;

/// The curve as observers read it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct EquityCurve {
    /// The session day it belongs to (`None` until the engine's first event).
    pub day: Option<NaiveDate>,
    /// `(time, day P&L)` in time order, in the account currency.
    pub points: Vec<(Timestamp, Money)>,
}

/// The shared curve: the event loop appends, observers copy.
#[derive(Debug, Clone, Default)]
pub(crate) struct SharedCurve {
    inner: Arc<Mutex<EquityCurve>>,
}

impl SharedCurve {
    /// Today's realised points from the journal, before the first publication.
    pub fn seed(&self, points: Vec<(Timestamp, Money)>) {
        if let Ok(mut c) = self.inner.lock() {
            c.points = points;
            c.points.truncate(CURVE_POINTS_KEPT);
        }
    }

    /// Appends a point of `day`; a new day starts the curve afresh.
    pub fn push(&self, day: Option<NaiveDate>, at: Timestamp, value: Money) {
        let Ok(mut c) = self.inner.lock() else {
            return;
        };
        if day.is_some() && c.day.is_some() && c.day != day {
            c.points.clear();
        }
        if day.is_some() {
            c.day = day;
        }
        // The run's clock never goes back; a seeded point from a later wall time might.
        while c.points.last().is_some_and(|(t, _)| *t > at) {
            c.points.pop();
        }
        // Two publications at one clock reading: the later value stands.
        if let Some(last) = c.points.last_mut().filter(|(t, _)| *t == at) {
            last.1 = value;
            return;
        }
        if c.points.len() >= CURVE_POINTS_KEPT {
            thin(&mut c.points);
        }
        c.points.push((at, value));
    }

    pub fn read(&self) -> EquityCurve {
        self.inner.lock().map(|c| c.clone()).unwrap_or_default()
    }
}

/// Drops every other point, keeping the first and the last.
fn thin(points: &mut Vec<(Timestamp, Money)>) {
    let last = points.len().saturating_sub(1);
    let mut i = 0;
    points.retain(|_| {
        let keep = i % 2 == 0 || i == last;
        i += 1;
        keep
    });
}

#[cfg(test)]
mod tests {
    use rust_decimal::Decimal;

    use super::*;

    fn m(v: i64) -> Money {
        Money::new(Decimal::from(v))
    }

    #[test]
    fn bounded_in_order_and_reset_by_a_new_day() {
        let n = i64::try_from(2 * CURVE_POINTS_KEPT).unwrap();
        let c = SharedCurve::default();
        let day1 = NaiveDate::from_ymd_opt(2026, 12, 3);
        let day2 = NaiveDate::from_ymd_opt(2026, 12, 4);
        c.seed(vec![
            (Timestamp::from_millis(0), m(0)),
            (Timestamp::from_millis(10), m(5)),
        ]);
        c.push(day1, Timestamp::from_millis(20), m(6));
        c.push(day1, Timestamp::from_millis(20), m(7));
        let r = c.read();
        assert_eq!(r.day, day1);
        assert_eq!(r.points.len(), 3, "the seed then the run");
        assert_eq!(
            r.points[2],
            (Timestamp::from_millis(20), m(7)),
            "one point per time"
        );
        for i in 0..n {
            c.push(day1, Timestamp::from_millis(100 + i), m(i));
        }
        let r = c.read();
        assert!(r.points.len() <= CURVE_POINTS_KEPT, "{}", r.points.len());
        assert!(
            r.points.windows(2).all(|w| w[0].0 < w[1].0),
            "in time order"
        );
        assert_eq!(r.points[0].0, Timestamp::from_millis(0), "the start kept");
        assert_eq!(
            r.points.last().map(|p| p.1),
            Some(m(n - 1)),
            "the latest kept"
        );
        c.push(day2, Timestamp::from_millis(1_000_000), m(1));
        let r = c.read();
        assert_eq!((r.day, r.points.len()), (day2, 1));
    }
}
