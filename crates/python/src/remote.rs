//! Sweeps on another executor (Ray, `python/scalper/_ray.py`): [`PyRunner`] hands each batch
//! of grid-point runs, as JSON options, to a Python callable that runs them where it likes
//! (each a Ray task calling [`_run_point`]) and returns one JSON outcome per run, in order. The
//! ranking and the walk-forward folds stay in `run_sweep_on`, so the report is the local one.

use std::sync::Arc;

use pyo3::prelude::*;
use scalper_backtest::{BacktestError, BacktestOptions, PointOutcome, PointRunner, RemoteOutcome};

use crate::strategy::{format_error, ErrorLog, OnError};

/// A Python callable `runner(list[str]) -> list[str]` as a sweep's executor.
pub struct PyRunner {
    pub runner: Py<PyAny>,
    pub errors: Option<Arc<ErrorLog>>,
}

impl PointRunner for PyRunner {
    fn run_all(&self, runs: Vec<BacktestOptions>) -> Vec<Result<PointOutcome, BacktestError>> {
        let n = runs.len();
        let all_failed = |m: String| {
            (0..n)
                .map(|_| Err(BacktestError::Remote(m.clone())))
                .collect()
        };
        let texts: Result<Vec<String>, _> = runs.iter().map(serde_json::to_string).collect();
        let texts = match texts {
            Ok(t) => t,
            Err(e) => return all_failed(format!("serializing a run: {e}")),
        };
        let answers: Result<Vec<String>, String> = Python::with_gil(|py| {
            self.runner
                .bind(py)
                .call1((texts,))
                .and_then(|r| r.extract::<Vec<String>>())
                .map_err(|e| format_error(py, &e))
        });
        let answers = match answers {
            Ok(a) if a.len() == n => a,
            Ok(a) => {
                return all_failed(format!(
                    "the executor returned {} outcomes for {n} runs",
                    a.len()
                ))
            }
            Err(e) => return all_failed(format!("the executor failed: {e}")),
        };
        answers
            .iter()
            .map(|text| {
                let mut r: RemoteOutcome = serde_json::from_str(text)
                    .map_err(|e| BacktestError::Remote(format!("a worker's answer: {e}")))?;
                if let Some(log) = &self.errors {
                    for e in std::mem::take(&mut r.strategy_errors) {
                        log.push(e);
                    }
                }
                r.into_result()
            })
            .collect()
    }
}

/// `_run_point(strategy, options_json) -> outcome_json`: one grid point's backtest in this
/// process (a Ray worker), the Python strategy registered here first.
#[pyfunction]
pub fn _run_point(py: Python<'_>, strategy: &Bound<'_, PyAny>, options: &str) -> PyResult<String> {
    let (_, errors) = crate::strategy_name(strategy, OnError::Halt)?;
    let remote = match serde_json::from_str::<BacktestOptions>(options) {
        Err(e) => RemoteOutcome {
            error: Some(format!("reading the run's options: {e}")),
            ..RemoteOutcome::default()
        },
        Ok(opts) => {
            let result = if errors.is_some() {
                PointOutcome::run(&opts)
            } else {
                py.allow_threads(|| PointOutcome::run(&opts))
            };
            RemoteOutcome {
                strategy_errors: errors.map(|e| e.take()).unwrap_or_default(),
                ..RemoteOutcome::from_result(result)
            }
        }
    };
    serde_json::to_string(&remote).map_err(|e| crate::ScalperError::new_err(e.to_string()))
}
