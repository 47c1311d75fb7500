//! What the loaders share: the error for a timestamp out of order, the checks of a bar's
//! prices, bar period inference and fixed-point values in messages.

use scalper_model::Timestamp;

use crate::error::DataErrorKind;
use crate::parse::to_decimal;
use crate::record::RawBar;

/// The error for a timestamp that does not increase.
pub(crate) fn order_error(prev: i64, ts: i64) -> DataErrorKind {
    let show = |t: i64| Timestamp::from_millis(t).to_string();
    if ts == prev {
        DataErrorKind::Duplicate { ts: show(ts) }
    } else {
        DataErrorKind::Unsorted {
            prev: show(prev),
            this: show(ts),
        }
    }
}

/// Gives bars their period: a fixed one, or the gap between the first two bars (the first
/// bar waits for the second).
#[derive(Debug, Clone)]
pub(crate) struct PeriodInfer {
    period: Option<i64>,
    held: Option<RawBar>,
}

impl PeriodInfer {
    pub(crate) fn new(period: Option<i64>) -> Self {
        Self { period, held: None }
    }

    /// Adds a bar (its `period_ms` is ignored); returns up to two bars ready to emit.
    pub(crate) fn push(&mut self, mut bar: RawBar) -> [Option<RawBar>; 2] {
        match (self.period, self.held.take()) {
            (Some(p), _) => {
                bar.period_ms = p;
                [Some(bar), None]
            }
            (None, None) => {
                self.held = Some(bar);
                [None, None]
            }
            (None, Some(mut first)) => {
                let p = (bar.ts - first.ts).max(1);
                self.period = Some(p);
                first.period_ms = p;
                bar.period_ms = p;
                [Some(first), Some(bar)]
            }
        }
    }

    /// End of data: a lone first bar gets a one-minute period.
    pub(crate) fn finish(&mut self) -> Option<RawBar> {
        self.held.take().map(|mut b| {
            b.period_ms = self.period.unwrap_or(60_000);
            b
        })
    }
}

/// Checks one bar's prices; `Err` describes the inconsistency.
pub(crate) fn check_bar(b: &RawBar) -> Result<(), DataErrorKind> {
    let d = |v: i64| to_decimal(v).normalize().to_string();
    if b.high < b.low {
        return Err(DataErrorKind::BadBar {
            detail: format!("high {} below low {}", d(b.high), d(b.low)),
        });
    }
    for (name, v) in [("open", b.open), ("close", b.close)] {
        if v > b.high || v < b.low {
            return Err(DataErrorKind::BadBar {
                detail: format!(
                    "{name} {} outside low..high {}..{}",
                    d(v),
                    d(b.low),
                    d(b.high)
                ),
            });
        }
    }
    if b.spread.is_some_and(|s| s < 0) {
        return Err(DataErrorKind::BadBar {
            detail: "negative spread (bid above ask)".to_string(),
        });
    }
    Ok(())
}

/// A fixed-point value for messages.
pub(crate) fn show(v: i64) -> String {
    to_decimal(v).normalize().to_string()
}
