//! `synth(...)`: synthetic quotes from the sandbox's simulator, as `scalper synth` writes them
//! (the benchmark files of `cargo bench -p scalper-backtest` and the tests).

use std::path::PathBuf;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use rust_decimal::Decimal;
use scalper_model::{Price, Timestamp};

use crate::ScalperError;

/// The CLI's start time of synthetic data (2026-01-05 00:00 UTC).
const SYNTH_START_MS: i64 = 1_767_571_200_000;

/// `synth(out, quotes, seed=1, instrument="EUR_USD", ig_scaled=False)`: writes `quotes`
/// quotes to the CSV `out`, exactly as `scalper synth` does.
#[pyfunction]
#[pyo3(signature = (out, quotes, seed=1, instrument="EUR_USD", ig_scaled=false))]
pub fn synth(
    py: Python<'_>,
    out: PathBuf,
    quotes: u64,
    seed: u64,
    instrument: &str,
    ig_scaled: bool,
) -> PyResult<()> {
    let epic = scalper_model::market::resolve_instrument(instrument)
        .ok_or_else(|| PyValueError::new_err(format!("unknown instrument {instrument:?}")))?;
    let entry = scalper_sandbox::catalog::catalogue()
        .into_iter()
        .find(|e| e.epic == epic)
        .ok_or_else(|| {
            PyValueError::new_err(format!("the sandbox simulator has no market {epic}"))
        })?;
    py.allow_threads(|| {
        let mut sim = scalper_sandbox::MarketSim::new(
            entry.sim_params(),
            seed,
            Timestamp::from_millis(SYNTH_START_MS),
        );
        let scale = if ig_scaled || entry.scaling_factor.is_zero() {
            Decimal::ONE
        } else {
            entry.scaling_factor
        };
        let file = std::fs::File::create(&out)
            .map_err(|e| ScalperError::new_err(format!("creating {}: {e}", out.display())))?;
        let quotes = (0..quotes).map(|_| {
            let mut q = sim.next_quote();
            q.bid = Price::new((q.bid.value() / scale).normalize());
            q.offer = Price::new((q.offer.value() / scale).normalize());
            q
        });
        scalper_backtest::write_quotes_csv(file, quotes)
            .map_err(|e| ScalperError::new_err(format!("writing {}: {e}", out.display())))
    })
}
