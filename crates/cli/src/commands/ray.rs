//! `scalper sweep --ray ADDRESS`: the sweep's backtests run as Ray tasks on a cluster.
//!
//! Ray's drivers are Python, so the CLI starts one: `PYTHON -m scalper._ray --address ADDRESS`
//! (`python/scalper/_ray.py`, from the scalper Python package), and talks to it with one JSON
//! line each way per batch of runs. Each run is a Ray task calling the package's Rust engine
//! on the worker (`_scalper._run_point`); the ranking and walk-forward folds stay here
//! ([`run_sweep_on`](scalper_backtest::run_sweep_on)), so the report is the local sweep's.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use scalper_backtest::{
    BacktestError, BacktestOptions, CacheMode, PointOutcome, PointRunner, RemoteOutcome,
};
use serde::Deserialize;

use crate::config::ConfigError;

/// How long the driver may take to connect to the cluster.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(120);
/// Lines of the driver's stderr kept for error messages.
const STDERR_TAIL: usize = 40;
const INSTALL: &str =
    "install both into that Python: `pip install ./python \"ray[default]\"` from the checkout";

/// The Python that runs the Ray driver: `--python`, else `SCALPER_PYTHON`, else `python3`.
pub fn python(arg: Option<&Path>) -> OsString {
    arg.map(|p| p.as_os_str().to_owned())
        .or_else(|| std::env::var_os("SCALPER_PYTHON").filter(|v| !v.is_empty()))
        .unwrap_or_else(|| "python3".into())
}

/// Refuses a strategy the Ray workers cannot build: one registered in this binary only.
pub fn check_strategy(name: &str) -> Result<(), ConfigError> {
    if scalper_engine::strategy::lookup(name).is_some() {
        return Err(ConfigError::Usage(format!(
            "--ray: strategy {name:?} is registered in this binary only; the Ray workers run the \
             scalper Python package, which knows the built-in strategies ({}). Run this sweep \
             without --ray, or from Python with `scalper.sweep(..., executor=\"ray\")`",
            scalper_engine::strategy::BUILTIN_NAMES.join(", ")
        )));
    }
    Ok(())
}

/// The driver's first line.
#[derive(Debug, Deserialize)]
struct Hello {
    #[serde(default)]
    ready: bool,
    error: Option<String>,
    version: Option<String>,
    ray: Option<String>,
    #[serde(default)]
    cpus: f64,
}

/// The driver's answer to one batch.
#[derive(Debug, Deserialize)]
struct Answer {
    outcomes: Option<Vec<String>>,
    error: Option<String>,
}

#[derive(Debug)]
struct Driver {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

/// A [`PointRunner`] on a Ray cluster, through a Python driver process.
#[derive(Debug)]
pub struct RayRunner {
    driver: Mutex<Driver>,
    stderr: Arc<Mutex<VecDeque<String>>>,
    strategy: String,
    /// The first failure of the driver itself (not of a run): the sweep is then an error.
    fatal: Mutex<Option<String>>,
    /// What the driver said when it connected, for the log and the report.
    pub cluster: String,
}

impl RayRunner {
    /// Starts the driver with `python` and waits until it is connected to `address`.
    pub fn connect(python: &OsString, address: &str, strategy: &str) -> anyhow::Result<Self> {
        let shown = Path::new(python).display().to_string();
        let mut child = Command::new(python)
            .args(["-m", "scalper._ray", "--address", address])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                let why = if e.kind() == std::io::ErrorKind::NotFound {
                    "was not found".to_string()
                } else {
                    format!("could not be started: {e}")
                };
                ConfigError::Usage(format!(
                    "--ray drives the cluster from Python, and {shown} {why}. Give a Python \
                     with the scalper package and Ray with --python PATH (or SCALPER_PYTHON); \
                     {INSTALL}"
                ))
            })?;
        let stderr = Arc::new(Mutex::new(VecDeque::new()));
        let (done_tx, done) = std::sync::mpsc::channel::<()>();
        if let Some(err) = child.stderr.take() {
            let tail = Arc::clone(&stderr);
            std::thread::spawn(move || {
                let _done = done_tx;
                for line in BufReader::new(err).lines().map_while(Result::ok) {
                    tracing::debug!(target: "scalper::ray", "{line}");
                    let mut t = tail.lock().unwrap_or_else(PoisonError::into_inner);
                    if t.len() == STDERR_TAIL {
                        t.pop_front();
                    }
                    t.push_back(line);
                }
            });
        }
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            anyhow::bail!("--ray: the driver's pipes could not be opened");
        };
        let Some((first, stdout)) = first_line(BufReader::new(stdout), CONNECT_TIMEOUT) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(ConfigError::Usage(format!(
                "--ray: no connection to the Ray cluster at {address} within {} s; is the head \
                 up and reachable from here?",
                CONNECT_TIMEOUT.as_secs()
            ))
            .into());
        };
        let mut driver = Driver {
            child,
            stdin: Some(stdin),
            stdout,
        };
        let ready = first
            .as_deref()
            .and_then(|l| serde_json::from_str::<Hello>(l).ok());
        let ready = match ready {
            Some(r) if r.ready => r,
            Some(Hello { error: Some(e), .. }) => {
                stop(&mut driver);
                return Err(ConfigError::Usage(format!("--ray: {e}")).into());
            }
            _ => {
                stop(&mut driver);
                // The reader ends with the pipe; give it a moment to take the last lines.
                let _ = done.recv_timeout(Duration::from_secs(2));
                let tail = tail_text(&stderr);
                let msg = if tail.contains("No module named 'scalper'")
                    || tail.contains("No module named scalper")
                {
                    format!("--ray: the Python at {shown} has no scalper package; {INSTALL}")
                } else {
                    format!("--ray: the driver ({shown} -m scalper._ray) exited before connecting:\n{tail}")
                };
                return Err(ConfigError::Usage(msg).into());
            }
        };
        let version = ready.version.unwrap_or_default();
        if version != env!("CARGO_PKG_VERSION") {
            tracing::warn!(
                "--ray: the workers' scalper package is version {version}, this binary {}: \
                 rebuild one of them if the sweep's runs fail to read their options",
                env!("CARGO_PKG_VERSION")
            );
        }
        let cluster = format!(
            "Ray {} at {address}, {} CPUs, scalper package {version}",
            ready.ray.unwrap_or_default(),
            ready.cpus
        );
        tracing::info!("--ray: connected to {cluster}");
        Ok(Self {
            driver: Mutex::new(driver),
            stderr,
            strategy: strategy.to_string(),
            fatal: Mutex::new(None),
            cluster,
        })
    }

    /// The driver's own failure, if it had one (every run of that batch failed with it).
    pub fn fatal(&self) -> Option<String> {
        self.fatal
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn batch(&self, runs: &[BacktestOptions]) -> Result<Vec<String>, String> {
        let texts = runs
            .iter()
            .map(|r| serde_json::to_string(&absolute(r)))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("serializing a run: {e}"))?;
        let line = serde_json::json!({ "strategy": self.strategy, "runs": texts }).to_string();
        let mut d = self.driver.lock().unwrap_or_else(PoisonError::into_inner);
        let gone = |what: &str| {
            format!(
                "the Ray driver {what}:\n{}",
                tail_text(&self.stderr).trim_end()
            )
        };
        let Some(stdin) = d.stdin.as_mut() else {
            return Err(gone("was stopped"));
        };
        if writeln!(stdin, "{line}")
            .and_then(|()| stdin.flush())
            .is_err()
        {
            return Err(gone("exited"));
        }
        let answer = read_line(&mut d.stdout).ok_or_else(|| gone("exited"))?;
        let answer: Answer = serde_json::from_str(&answer)
            .map_err(|e| format!("the Ray driver's answer: {e}: {answer}"))?;
        match (answer.outcomes, answer.error) {
            (Some(o), _) if o.len() == runs.len() => Ok(o),
            (Some(o), _) => Err(format!(
                "the Ray driver returned {} outcomes for {} runs",
                o.len(),
                runs.len()
            )),
            (None, e) => Err(format!(
                "on the Ray cluster: {}",
                e.unwrap_or_else(|| "no outcomes".into())
            )),
        }
    }
}

impl PointRunner for RayRunner {
    fn run_all(&self, runs: Vec<BacktestOptions>) -> Vec<Result<PointOutcome, BacktestError>> {
        match self.batch(&runs) {
            Ok(answers) => answers
                .iter()
                .map(|text| {
                    let r: RemoteOutcome = serde_json::from_str(text)
                        .map_err(|e| BacktestError::Remote(format!("a worker's answer: {e}")))?;
                    for e in &r.strategy_errors {
                        tracing::warn!("strategy error on a Ray worker: {e}");
                    }
                    r.into_result()
                })
                .collect(),
            Err(e) => {
                self.fatal
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .get_or_insert_with(|| e.clone());
                runs.iter()
                    .map(|_| Err(BacktestError::Remote(e.clone())))
                    .collect()
            }
        }
    }
}

impl Drop for RayRunner {
    fn drop(&mut self) {
        stop(
            self.driver
                .get_mut()
                .unwrap_or_else(PoisonError::into_inner),
        );
    }
}

/// A run as the workers must see it: its paths absolute (they share files by path).
fn absolute(run: &BacktestOptions) -> BacktestOptions {
    let abs = |p: &PathBuf| std::path::absolute(p).unwrap_or_else(|_| p.clone());
    let mut run = run.clone();
    run.data = run.data.iter().map(abs).collect();
    if let CacheMode::Dir(d) = &run.data_options.cache {
        run.data_options.cache = CacheMode::Dir(abs(d));
    }
    run.trades_csv = None;
    run
}

/// The driver's first line, read on a thread so that a driver stuck connecting is given up on
/// after `within`; `None` then.
fn first_line(
    mut r: BufReader<ChildStdout>,
    within: Duration,
) -> Option<(Option<String>, BufReader<ChildStdout>)> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let line = read_line(&mut r);
        let _ = tx.send((line, r));
    });
    rx.recv_timeout(within).ok()
}

fn read_line(r: &mut BufReader<ChildStdout>) -> Option<String> {
    let mut line = String::new();
    match r.read_line(&mut line) {
        Ok(0) | Err(_) => None,
        Ok(_) => Some(line),
    }
}

fn tail_text(tail: &Mutex<VecDeque<String>>) -> String {
    let t = tail.lock().unwrap_or_else(PoisonError::into_inner);
    if t.is_empty() {
        return "(it printed nothing)".into();
    }
    let mut text = String::new();
    for line in t.iter() {
        text.push_str("  ");
        text.push_str(line);
        text.push('\n');
    }
    text
}

/// Ends the driver: closing its stdin lets it shut Ray down and exit; after 15 s it is killed.
fn stop(d: &mut Driver) {
    d.stdin = None;
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        match d.child.try_wait() {
            Ok(Some(_)) | Err(_) => return,
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
    let _ = d.child.kill();
    let _ = d.child.wait();
}
