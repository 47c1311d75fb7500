//! `scalper._scalper`, the native module of the `scalper` Python package (python/): the
//! backtest runner and sweeps of `scalper-backtest` with built-in, registered or Python
//! strategies. Reports cross as the CLI's JSON; `python/scalper/__init__.py` wraps them in
//! Python objects. Built with maturin (abi3, Python >= 3.8).

// #[pyfunction]s take their arguments as PyO3 extracts them: owned.
#![allow(clippy::needless_pass_by_value)]

mod convert;
mod live;
mod remote;
mod strategy;
mod synth;

use std::path::PathBuf;
use std::sync::Arc;

use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};
use scalper_backtest::{
    parse_grid, run_backtest, run_sweep, run_sweep_on, AccountConversion, BacktestOptions,
    CacheMode, InstrumentSpec, RankMetric, SweepOptions,
};
use scalper_engine::strategy::{register, strategy_names as names};

use crate::convert::{decimal, set_strings};
use crate::strategy::{ErrorLog, OnError, PyFactory};

create_exception!(
    _scalper,
    ScalperError,
    PyException,
    "A backtest, sweep or run failed."
);

/// Reads and removes one option.
fn take<'py>(opts: &Bound<'py, PyDict>, key: &str) -> PyResult<Option<Bound<'py, PyAny>>> {
    let v = opts.get_item(key)?;
    if v.is_some() {
        opts.del_item(key)?;
    }
    Ok(v.filter(|v| !v.is_none()))
}

fn take_as<'py, T: FromPyObject<'py>>(opts: &Bound<'py, PyDict>, key: &str) -> PyResult<Option<T>> {
    take(opts, key)?
        .map(|v| {
            v.extract::<T>()
                .map_err(|e| PyTypeError::new_err(format!("{key}: {e}")))
        })
        .transpose()
}

/// The strategy: a name (built-in or registered) or a Python class / instance, registered
/// under its `name` attribute or class name.
fn strategy_name(
    strategy: &Bound<'_, PyAny>,
    on_error: OnError,
) -> PyResult<(String, Option<Arc<ErrorLog>>)> {
    if let Ok(s) = strategy.downcast::<PyString>() {
        return Ok((s.to_cow()?.to_string(), None));
    }
    let factory = PyFactory::new(strategy, on_error)?;
    let name = scalper_engine::strategy::StrategyFactory::name(&factory).to_string();
    let errors = Arc::clone(&factory.errors);
    register(Arc::new(factory)).map_err(|e| PyValueError::new_err(e.to_string()))?;
    Ok((name, Some(errors)))
}

/// Backtest options from keyword arguments (the CLI's defaults); unknown keys are errors.
fn options(
    strategy: &Bound<'_, PyAny>,
    opts: &Bound<'_, PyDict>,
) -> PyResult<(BacktestOptions, Option<Arc<ErrorLog>>)> {
    let on_error = match take_as::<String>(opts, "on_error")?.as_deref() {
        None | Some("halt") => OnError::Halt,
        Some("flatten") => OnError::Flatten,
        Some(other) => {
            return Err(PyValueError::new_err(format!(
                "on_error: {other:?} is not \"halt\" or \"flatten\""
            )))
        }
    };
    let (name, errors) = strategy_name(strategy, on_error)?;
    let data: Vec<PathBuf> = match take(opts, "data")? {
        None => return Err(PyTypeError::new_err("data: a file path or a list of them")),
        Some(d) => match d.extract::<PathBuf>() {
            Ok(p) => vec![p],
            Err(_) => d.extract()?,
        },
    };
    let params = take(opts, "params")?;
    let mut set = set_strings(
        params
            .as_ref()
            .map(|p| p.downcast::<PyDict>())
            .transpose()?,
    )?;
    set.extend(take_as::<Vec<String>>(opts, "set")?.unwrap_or_default());
    let dec = |key: &str| -> PyResult<Option<rust_decimal::Decimal>> {
        take(opts, key)?.map(|v| decimal(key, &v)).transpose()
    };
    let mut o = BacktestOptions {
        data,
        instrument: InstrumentSpec::named(
            &take_as::<String>(opts, "instrument")?.unwrap_or_else(|| "EUR_USD".into()),
        ),
        strategy: Some(name),
        set,
        account: Some(AccountConversion {
            currency: take_as::<String>(opts, "account_currency")?
                .unwrap_or_else(|| "GBP".into())
                .to_ascii_uppercase(),
            rate: dec("rate")?,
        }),
        latency_ms: take_as(opts, "latency_ms")?,
        seed: take_as(opts, "seed")?,
        keep_trades: take_as(opts, "keep_trades")?.unwrap_or(true),
        trades_csv: take_as(opts, "trades_csv")?,
        ..BacktestOptions::default()
    };
    if let Some(v) = dec("initial_equity")? {
        o.initial_equity = v;
    }
    if let Some(v) = dec("slippage_points")? {
        o.slippage_points = v;
    }
    if let Some(v) = dec("commission_pct")? {
        o.commission_pct = v;
    }
    if let Some(t) = take(opts, "timer_ms")? {
        o.timer_ms = Some(t.extract()?);
    }
    if let Some(scale) = take_as::<String>(opts, "price_scale")? {
        o.instrument.price_scale = scale
            .parse()
            .map_err(|e: scalper_model::EconomicsError| PyValueError::new_err(e.to_string()))?;
    }
    if take_as::<bool>(opts, "cache")? == Some(false) {
        o.data_options.cache = CacheMode::Off;
    }
    if let Some(config) = take_as::<String>(opts, "engine_toml")? {
        o.config = Some(
            toml::from_str(&config)
                .map_err(|e| PyValueError::new_err(format!("engine_toml: {}", e.message())))?,
        );
    }
    if !opts.is_empty() {
        let keys: Vec<String> = opts.keys().iter().map(|k| k.to_string()).collect();
        return Err(PyTypeError::new_err(format!(
            "unknown option(s): {}",
            keys.join(", ")
        )));
    }
    Ok((o, errors))
}

pub(crate) use scalper_model::error_chain;

fn to_json<T: serde::Serialize>(v: &T) -> PyResult<String> {
    serde_json::to_string(v).map_err(|e| ScalperError::new_err(e.to_string()))
}

/// `_backtest(strategy, options) -> (report_json, strategy_errors)`.
#[pyfunction]
fn _backtest(
    py: Python<'_>,
    strategy: &Bound<'_, PyAny>,
    options: &Bound<'_, PyDict>,
) -> PyResult<(String, Vec<String>)> {
    let (opts, errors) = self::options(strategy, &options.copy()?)?;
    let result = if errors.is_some() {
        // A Python strategy: the run holds the GIL (one acquisition for the whole run).
        run_backtest(&opts)
    } else {
        py.allow_threads(|| run_backtest(&opts))
    };
    let report = result.map_err(|e| ScalperError::new_err(error_chain(&e)))?;
    let json = to_json(&report)?;
    Ok((json, errors.map(|e| e.take()).unwrap_or_default()))
}

/// `_sweep(strategy, grid, options, jobs, metric, walk_forward, runner) -> (report_json,
/// errors)`; `runner` (a Python callable) runs the points elsewhere (see [`remote`]).
#[pyfunction]
#[pyo3(signature = (strategy, grid, options, jobs=None, metric=None, walk_forward=None, runner=None))]
#[allow(clippy::too_many_arguments)]
fn _sweep(
    py: Python<'_>,
    strategy: &Bound<'_, PyAny>,
    grid: &Bound<'_, PyDict>,
    options: &Bound<'_, PyDict>,
    jobs: Option<usize>,
    metric: Option<String>,
    walk_forward: Option<u32>,
    runner: Option<Py<PyAny>>,
) -> PyResult<(String, Vec<String>)> {
    let (base, errors) = self::options(strategy, &options.copy()?)?;
    let grid = grid_axes(grid)?;
    let metric: RankMetric = metric
        .as_deref()
        .unwrap_or("sharpe")
        .parse()
        .map_err(|e| PyValueError::new_err(format!("metric: {e}")))?;
    let sweep = SweepOptions {
        base,
        grid,
        jobs,
        metric,
        walk_forward,
    };
    // Released even for Python strategies: the sweep's worker threads take the GIL in turn.
    let report = match runner {
        None => py.allow_threads(|| run_sweep(&sweep)),
        Some(runner) => {
            let runner = remote::PyRunner {
                runner,
                errors: errors.clone(),
            };
            py.allow_threads(|| run_sweep_on(&sweep, &runner))
        }
    }
    .map_err(|e| ScalperError::new_err(error_chain(&e)))?;
    Ok((
        to_json(&report)?,
        errors.map(|e| e.take()).unwrap_or_default(),
    ))
}

fn grid_axes(grid: &Bound<'_, PyDict>) -> PyResult<Vec<scalper_backtest::GridAxis>> {
    grid.iter()
        .map(|(k, values)| {
            let key: String = k.extract()?;
            let list = values.downcast::<PyList>().map_err(|_| {
                PyTypeError::new_err(format!("grid {key:?}: expected a list of values"))
            })?;
            let texts = list
                .iter()
                .map(|v| convert::to_toml(&key, &v).map(|t| t.to_string()))
                .collect::<PyResult<Vec<_>>>()?;
            parse_grid(&format!("{key}={}", texts.join(",")))
                .map_err(|e| PyValueError::new_err(e.to_string()))
        })
        .collect()
}

/// The strategy names this process knows (built-ins, then registered).
#[pyfunction]
fn strategy_names() -> Vec<String> {
    names()
}

#[pymodule]
fn _scalper(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("ScalperError", m.py().get_type::<ScalperError>())?;
    m.add_class::<strategy::Quote>()?;
    m.add_class::<strategy::Bar>()?;
    m.add_class::<strategy::Fill>()?;
    m.add_class::<strategy::Context>()?;
    m.add_class::<strategy::Enter>()?;
    m.add_class::<strategy::Exit>()?;
    m.add_class::<strategy::Reduce>()?;
    m.add_function(wrap_pyfunction!(_backtest, m)?)?;
    m.add_function(wrap_pyfunction!(_sweep, m)?)?;
    m.add_function(wrap_pyfunction!(remote::_run_point, m)?)?;
    m.add_function(wrap_pyfunction!(strategy_names, m)?)?;
    m.add_function(wrap_pyfunction!(synth::synth, m)?)?;
    live::add(m)?;
    Ok(())
}
