//! Live runs from Python through the same runtime as `scalper run` / `scalper demo`
//! (`scalper-live`): `_demo` against the in-process IG sandbox (optionally paper fills), `_run`
//! against IG (or any IG-compatible URL), live or paper. Ctrl-C in Python presses the run's
//! kill switch (entries stop, positions close per the configuration, the report comes back).

use std::path::PathBuf;
use std::time::Duration;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use scalper_engine::{EngineConfig, RiskPerTrade, StrategyConfig};
use scalper_ig::{Environment, IgClient, IgConfig, SessionVersion};
use scalper_live::{Interrupts, RunOptions};
use scalper_model::{Epic, Money};
use scalper_sandbox::{MarketSchedule, Sandbox, SandboxConfig, SandboxHandle};

use crate::convert::set_strings;
use crate::strategy::OnError;
use crate::{strategy_name, ScalperError};

fn on_error(v: &str) -> PyResult<OnError> {
    match v {
        "halt" => Ok(OnError::Halt),
        "flatten" => Ok(OnError::Flatten),
        other => Err(PyValueError::new_err(format!(
            "on_error: {other:?} is not \"halt\" or \"flatten\""
        ))),
    }
}

/// The engine configuration: `engine_toml` (the `[engine]` table) or the defaults, with the
/// strategy and its parameters.
fn engine_config(
    name: &str,
    params: Option<&Bound<'_, PyDict>>,
    engine_toml: Option<&str>,
    seed: u64,
) -> PyResult<EngineConfig> {
    let mut cfg: EngineConfig = match engine_toml {
        Some(t) => toml::from_str(t)
            .map_err(|e| PyValueError::new_err(format!("engine_toml: {}", e.message())))?,
        None => EngineConfig {
            seed,
            ..EngineConfig::default()
        },
    };
    let mut strategy =
        StrategyConfig::from_name(name).map_err(|e| PyValueError::new_err(e.to_string()))?;
    for kv in set_strings(params)? {
        let (k, v) = kv.split_once('=').unwrap_or((&kv, ""));
        strategy
            .set_unvalidated(k, v)
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
    }
    strategy
        .validate()
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    cfg.strategy = strategy;
    cfg.validate()
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    Ok(cfg)
}

fn epics(instruments: &[String]) -> PyResult<Vec<Epic>> {
    instruments
        .iter()
        .map(|n| {
            scalper_model::market::resolve_instrument(n)
                .ok_or_else(|| PyValueError::new_err(format!("unknown instrument {n:?}")))
        })
        .collect()
}

fn duration(text: &str) -> PyResult<Duration> {
    humantime::parse_duration(text)
        .map_err(|e| PyValueError::new_err(format!("duration {text:?}: {e}")))
}

/// A journal path that does not exist yet, in the temporary directory.
fn fresh_journal() -> PyResult<PathBuf> {
    let dir = std::env::temp_dir();
    for n in 0u32..10_000 {
        let p = dir.join(format!("scalper-py-{}-{n}.sqlite", std::process::id()));
        if !p.exists() {
            return Ok(p);
        }
    }
    Err(ScalperError::new_err(
        "no free journal name in the temporary directory",
    ))
}

/// Runs `scalper_live::run` with the GIL released; a Python signal (Ctrl-C) presses the
/// kill switch (twice: the run ends at once, positions keep their stops).
fn run_live(
    py: Python<'_>,
    start: impl std::future::Future<Output = Result<(IgClient, Option<SandboxHandle>), String>>
        + Send
        + 'static,
    cfg: EngineConfig,
    epics: Vec<Epic>,
    mut opts: RunOptions,
) -> PyResult<String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| ScalperError::new_err(format!("cannot start the async runtime: {e}")))?;
    let interrupts = Interrupts::manual();
    let kill = interrupts.kill_switch();
    opts.interrupts = Some(interrupts);
    let mut task = runtime.spawn(async move {
        let (client, sandbox) = start.await?;
        let result = scalper_live::run(client, cfg, epics, opts).await;
        if let Some(s) = sandbox {
            let _ = tokio::time::timeout(Duration::from_secs(5), s.shutdown()).await;
        }
        let report = result.map_err(|e| crate::error_chain(&e))?;
        serde_json::to_string(&report).map_err(|e| e.to_string())
    });
    // Python runs signal handlers on its main thread only: this thread waits for the run in
    // slices, with the GIL released, and looks at signals between them.
    let outcome = loop {
        let done = py.allow_threads(|| {
            runtime.block_on(async {
                tokio::time::timeout(Duration::from_millis(200), &mut task)
                    .await
                    .ok()
            })
        });
        if let Some(joined) = done {
            break joined
                .map_err(|e| format!("the run failed: {e}"))
                .and_then(|r| r);
        }
        if py.check_signals().is_err() {
            kill.press();
        }
    };
    runtime.shutdown_timeout(Duration::from_secs(2));
    outcome.map_err(ScalperError::new_err)
}

/// `_demo(strategy, options) -> (run_report_json, strategy_errors)`.
#[pyfunction]
#[pyo3(signature = (strategy, *, params=None, duration="60s", speed=30.0, seed=42, instruments=None, paper=false, journal=None, on_error="halt", engine_toml=None))]
#[allow(clippy::too_many_arguments)]
fn _demo(
    py: Python<'_>,
    strategy: &Bound<'_, PyAny>,
    params: Option<&Bound<'_, PyDict>>,
    duration: &str,
    speed: f64,
    seed: u64,
    instruments: Option<Vec<String>>,
    paper: bool,
    journal: Option<PathBuf>,
    on_error: &str,
    engine_toml: Option<&str>,
) -> PyResult<(String, Vec<String>)> {
    let (name, errors) = strategy_name(strategy, self::on_error(on_error)?)?;
    let mut cfg = engine_config(&name, params, engine_toml, seed)?;
    if engine_toml.is_none() {
        // The CLI demo's fixed risk: one position per instrument fits the sandbox account.
        cfg.risk.risk_per_trade = RiskPerTrade::Amount(rust_decimal::Decimal::from(15));
    }
    let instruments =
        instruments.unwrap_or_else(|| ["EUR_USD", "GBP_USD", "USD_JPY"].map(String::from).to_vec());
    let epics = epics(&instruments)?;
    if !(speed > 0.0 && speed.is_finite()) {
        return Err(PyValueError::new_err("speed: must be > 0"));
    }
    let journal = match journal {
        Some(p) if p.exists() => {
            return Err(PyValueError::new_err(format!(
                "journal {}: the file exists; each demo runs a new sandbox and needs a new journal",
                p.display()
            )))
        }
        Some(p) => p,
        None => fresh_journal()?,
    };
    let opts = RunOptions {
        duration: Some(self::duration(duration)?),
        paper,
        status_line: false,
        equity: Money::new(rust_decimal::Decimal::from(10_000)),
        journal: Some(journal),
        durable_journal: false,
        ..RunOptions::default()
    };
    let sandbox_cfg = SandboxConfig {
        seed,
        speed,
        schedule: MarketSchedule::AlwaysOpen,
        ..SandboxConfig::default()
    };
    let start = async move {
        let sandbox = Sandbox::start(sandbox_cfg)
            .await
            .map_err(|e| format!("starting the sandbox: {e}"))?;
        let creds = sandbox.credentials().clone();
        let ig = IgConfig::new(
            Environment::Demo,
            creds.username.clone(),
            creds.password.clone(),
            creds.api_key.clone(),
        )
        .with_api_url(sandbox.rest_url())
        .with_session_version(SessionVersion::V3);
        let client = IgClient::new(ig).map_err(|e| crate::error_chain(&e))?;
        Ok((client, Some(sandbox)))
    };
    let json = run_live(py, start, cfg, epics, opts)?;
    Ok((json, errors.map(|e| e.take()).unwrap_or_default()))
}

/// `_run(strategy, ...)`: IG (demo unless `demo=False` and `live=True`), live or paper.
#[pyfunction]
#[pyo3(signature = (strategy, *, username, password, api_key, params=None, instruments=None, duration=None, paper=true, demo=true, live=false, api_url=None, journal=None, equity=10000, on_error="halt", engine_toml=None))]
#[allow(clippy::too_many_arguments)]
fn _run(
    py: Python<'_>,
    strategy: &Bound<'_, PyAny>,
    username: String,
    password: String,
    api_key: String,
    params: Option<&Bound<'_, PyDict>>,
    instruments: Option<Vec<String>>,
    duration: Option<&str>,
    paper: bool,
    demo: bool,
    live: bool,
    api_url: Option<String>,
    journal: Option<PathBuf>,
    equity: i64,
    on_error: &str,
    engine_toml: Option<&str>,
) -> PyResult<(String, Vec<String>)> {
    if demo == live {
        return Err(PyTypeError::new_err(if live {
            "live=True needs demo=False (and demo=False needs live=True): trading real money is asked for twice"
        } else {
            "demo=False needs live=True: trading real money is asked for twice"
        }));
    }
    let (name, errors) = strategy_name(strategy, self::on_error(on_error)?)?;
    let cfg = engine_config(&name, params, engine_toml, 42)?;
    let epics = epics(&instruments.unwrap_or_else(|| vec!["EUR_USD".into()]))?;
    let env = if demo {
        Environment::Demo
    } else {
        Environment::Live
    };
    let mut ig = IgConfig::new(env, username, password.into(), api_key.into());
    if let Some(url) = api_url {
        ig = ig.with_api_url(url);
    }
    let opts = RunOptions {
        duration: duration.map(self::duration).transpose()?,
        paper,
        status_line: false,
        equity: Money::new(rust_decimal::Decimal::from(equity)),
        journal: Some(journal.map_or_else(fresh_journal, Ok)?),
        ..RunOptions::default()
    };
    let start = async move {
        let client = IgClient::new(ig).map_err(|e| crate::error_chain(&e))?;
        Ok((client, None))
    };
    let json = run_live(py, start, cfg, epics, opts)?;
    Ok((json, errors.map(|e| e.take()).unwrap_or_default()))
}

pub fn add(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_demo, m)?)?;
    m.add_function(wrap_pyfunction!(_run, m)?)?;
    Ok(())
}
