//! Parameter sweeps: the cartesian product of `--grid key=v1,v2` axes, run in parallel with
//! rayon (`jobs` threads), ranked by a metric; optionally walk-forward: the data's time span
//! is cut into K+1 equal segments and fold i picks the best parameters on segment i and
//! reports them out of sample on segment i+1. The runs themselves go through a
//! [`PointRunner`]: rayon threads here ([`run_sweep`]), or any other executor
//! ([`run_sweep_on`]; the Python package's Ray executor) with the same ranking and folds.

use std::fmt;
use std::str::FromStr;

use rayon::prelude::*;
use rust_decimal::prelude::ToPrimitive;
use scalper_model::Timestamp;
use serde::{Deserialize, Serialize};

use crate::error::BacktestError;
use crate::metrics::Metrics;
use crate::options::{engine_setup, parse_set, BacktestOptions};
use crate::runner::run_backtest;

/// One `--grid key=v1,v2,...` axis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GridAxis {
    pub key: String,
    pub values: Vec<String>,
}

/// Parses `fast=5,10,20`.
pub fn parse_grid(spec: &str) -> Result<GridAxis, BacktestError> {
    let (key, values) = parse_set(spec)?;
    let values: Vec<String> = values
        .split(',')
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect();
    if values.is_empty() {
        return Err(BacktestError::Parameter {
            key,
            message: "a grid needs at least one value (key=v1,v2,...)".to_string(),
        });
    }
    Ok(GridAxis { key, values })
}

/// The metric sweeps rank by (higher is better, except drawdown).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RankMetric {
    #[default]
    NetPnl,
    Sharpe,
    Sortino,
    ProfitFactor,
    WinRate,
    Expectancy,
    TotalReturn,
    MaxDrawdown,
}

const METRIC_NAMES: &str =
    "net-pnl, sharpe, sortino, profit-factor, win-rate, expectancy, total-return, max-drawdown";

impl FromStr for RankMetric {
    type Err = BacktestError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(
            match s.trim().to_ascii_lowercase().replace('_', "-").as_str() {
                "net-pnl" | "pnl" => Self::NetPnl,
                "sharpe" => Self::Sharpe,
                "sortino" => Self::Sortino,
                "profit-factor" => Self::ProfitFactor,
                "win-rate" => Self::WinRate,
                "expectancy" => Self::Expectancy,
                "total-return" | "return" => Self::TotalReturn,
                "max-drawdown" | "drawdown" => Self::MaxDrawdown,
                _ => {
                    return Err(BacktestError::option(
                        "metric",
                        format!("unknown metric {s:?} (known: {METRIC_NAMES})"),
                    ))
                }
            },
        )
    }
}

impl fmt::Display for RankMetric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        f.write_str(&s)
    }
}

impl RankMetric {
    /// The score (higher is better); runs without a value rank last.
    pub fn score(self, m: &Metrics) -> f64 {
        let d = |x: rust_decimal::Decimal| x.to_f64().unwrap_or(f64::NEG_INFINITY);
        let v = match self {
            Self::NetPnl => Some(d(m.net_pnl.value())),
            Self::Sharpe => m.sharpe,
            Self::Sortino => m.sortino,
            Self::ProfitFactor => m.profit_factor,
            Self::WinRate => m.win_rate,
            Self::Expectancy => m.expectancy.map(|e| d(e.value())),
            Self::TotalReturn => Some(m.total_return_pct),
            Self::MaxDrawdown => Some(-d(m.max_drawdown.value())),
        };
        v.filter(|x| !x.is_nan()).unwrap_or(f64::NEG_INFINITY)
    }
}

/// What a sweep runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepOptions {
    /// Data, instrument, strategy, fill model...; `set` is applied before each grid point.
    pub base: BacktestOptions,
    pub grid: Vec<GridAxis>,
    /// Worker threads (default: rayon's, one per core).
    pub jobs: Option<usize>,
    pub metric: RankMetric,
    /// Number of walk-forward folds (>= 1).
    pub walk_forward: Option<u32>,
}

/// One grid point's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepRow {
    /// `(key, value)` of each axis, in grid order.
    pub params: Vec<(String, String)>,
    /// `None` when this point failed (see `error`).
    pub metrics: Option<Metrics>,
    pub trades_hash: Option<String>,
    pub error: Option<String>,
}

/// One walk-forward fold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FoldReport {
    pub fold: u32,
    pub train_from: Timestamp,
    pub train_to: Timestamp,
    pub test_from: Timestamp,
    pub test_to: Timestamp,
    pub best_params: Vec<(String, String)>,
    pub in_sample: Metrics,
    /// `None` when the test segment holds no data.
    pub out_of_sample: Option<Metrics>,
}

/// A sweep's results, best first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepReport {
    pub metric: RankMetric,
    pub rows: Vec<SweepRow>,
    pub folds: Vec<FoldReport>,
}

/// Every combination of the axes, first axis varying slowest.
pub fn expand_grid(grid: &[GridAxis]) -> Vec<Vec<(String, String)>> {
    let mut out: Vec<Vec<(String, String)>> = vec![Vec::new()];
    for axis in grid {
        out = out
            .into_iter()
            .flat_map(|prefix| {
                axis.values.iter().map(move |v| {
                    let mut p = prefix.clone();
                    p.push((axis.key.clone(), v.clone()));
                    p
                })
            })
            .collect();
    }
    out
}

/// What a grid point's run gives a sweep: its metrics and trade-list hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PointOutcome {
    pub metrics: Metrics,
    pub trades_hash: String,
}

impl PointOutcome {
    /// Runs one point's backtest here (what every executor does with each run it is given).
    pub fn run(opts: &BacktestOptions) -> Result<Self, BacktestError> {
        run_backtest(opts).map(|r| Self {
            metrics: r.metrics,
            trades_hash: r.trades_hash,
        })
    }
}

/// One run's outcome as it crosses between processes (a Ray worker's answer, as JSON): the
/// outcome, or the error and whether it was an empty `--from`/`--to` range, plus the errors a
/// Python strategy reported on the way.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RemoteOutcome {
    pub outcome: Option<PointOutcome>,
    pub error: Option<String>,
    #[serde(default)]
    pub empty_range: bool,
    #[serde(default)]
    pub strategy_errors: Vec<String>,
}

impl RemoteOutcome {
    /// The answer for one run done here.
    pub fn from_result(result: Result<PointOutcome, BacktestError>) -> Self {
        match result {
            Ok(o) => Self {
                outcome: Some(o),
                ..Self::default()
            },
            Err(e) => Self {
                empty_range: matches!(e, BacktestError::EmptyRange),
                error: Some(e.to_string()),
                ..Self::default()
            },
        }
    }

    /// Back to the run's result on the sweep's side.
    pub fn into_result(self) -> Result<PointOutcome, BacktestError> {
        match (self.outcome, self.error) {
            (Some(o), _) => Ok(o),
            (None, _) if self.empty_range => Err(BacktestError::EmptyRange),
            (None, e) => Err(BacktestError::Remote(e.unwrap_or_else(|| {
                "the worker gave neither an outcome nor an error".into()
            }))),
        }
    }
}

/// Runs a sweep's backtests: each run's options already hold its grid point's parameters;
/// the outcomes come back in the order of `runs`.
pub trait PointRunner: Sync {
    fn run_all(&self, runs: Vec<BacktestOptions>) -> Vec<Result<PointOutcome, BacktestError>>;
}

/// Rayon threads in this process (the pool [`run_sweep`] installs).
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalRunner;

impl PointRunner for LocalRunner {
    fn run_all(&self, runs: Vec<BacktestOptions>) -> Vec<Result<PointOutcome, BacktestError>> {
        runs.par_iter().map(PointOutcome::run).collect()
    }
}

fn run_grid(
    runner: &dyn PointRunner,
    base: &BacktestOptions,
    points: &[Vec<(String, String)>],
    metric: RankMetric,
) -> Vec<SweepRow> {
    let runs = points.iter().map(|p| with_params(base, p)).collect();
    let mut rows: Vec<SweepRow> = points
        .iter()
        .zip(runner.run_all(runs))
        .map(|(params, outcome)| match outcome {
            Ok(o) => SweepRow {
                params: params.clone(),
                metrics: Some(o.metrics),
                trades_hash: Some(o.trades_hash),
                error: None,
            },
            Err(e) => SweepRow {
                params: params.clone(),
                metrics: None,
                trades_hash: None,
                error: Some(e.to_string()),
            },
        })
        .collect();
    // Stable sort: ties keep grid order, so the ranking is deterministic.
    rows.sort_by(|a, b| {
        let s = |r: &SweepRow| {
            r.metrics
                .as_ref()
                .map_or(f64::NEG_INFINITY, |m| metric.score(m))
        };
        s(b).total_cmp(&s(a))
    });
    rows
}

/// Runs a sweep (see the module doc) on `jobs` rayon threads.
pub fn run_sweep(opts: &SweepOptions) -> Result<SweepReport, BacktestError> {
    run_sweep_on(opts, &LocalRunner)
}

/// Runs a sweep with its backtests on `runner` ([`LocalRunner`] installs the `jobs` pool;
/// another executor runs them where it likes): the same points, ranking and folds.
pub fn run_sweep_on(
    opts: &SweepOptions,
    runner: &dyn PointRunner,
) -> Result<SweepReport, BacktestError> {
    if opts.base.data.is_empty() {
        return Err(BacktestError::NoData);
    }
    if opts.jobs == Some(0) {
        return Err(BacktestError::option("jobs", "must be >= 1"));
    }
    if opts.walk_forward == Some(0) {
        return Err(BacktestError::option("walk-forward", "must be >= 1 fold"));
    }
    let points = expand_grid(&opts.grid);
    validate_points(&opts.base, &points)?;
    // Parse every file once (building caches) so parallel runs share them read-only.
    crate::data::prepare_caches(&opts.base.data, &opts.base.data_options)?;
    let mut pool = rayon::ThreadPoolBuilder::new();
    if let Some(j) = opts.jobs {
        pool = pool.num_threads(j);
    }
    let pool = pool
        .build()
        .map_err(|e| BacktestError::option("jobs", e.to_string()))?;
    pool.install(|| {
        let rows = run_grid(runner, &opts.base, &points, opts.metric);
        if rows.iter().all(|r| r.error.is_some()) {
            // Every point failed: report the first failure as the sweep's error.
            let first = run_backtest(&with_params(&opts.base, &points[0]));
            first?;
        }
        let folds = match opts.walk_forward {
            Some(k) => walk_forward(runner, opts, &points, k)?,
            None => Vec::new(),
        };
        Ok(SweepReport {
            metric: opts.metric,
            rows,
            folds,
        })
    })
}

/// Checks every grid point's parameters together (with `base.set`), as its run would, before
/// any run starts: an error names each bad point (up to five) and why.
fn validate_points(
    base: &BacktestOptions,
    points: &[Vec<(String, String)>],
) -> Result<(), BacktestError> {
    let inst = base.instrument.resolve_for(base.account.as_ref())?;
    let mut bad = Vec::new();
    for p in points {
        if let Err(e) = engine_setup(&with_params(base, p), &inst) {
            let point: Vec<String> = p.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let why = match e {
                BacktestError::Parameter { message, .. } => message,
                other => other.to_string(),
            };
            bad.push(format!("{}: {why}", point.join(" ")));
        }
    }
    if bad.is_empty() {
        return Ok(());
    }
    let shown = bad.len().min(5);
    let more = if bad.len() > shown {
        format!(" (and {} more)", bad.len() - shown)
    } else {
        String::new()
    };
    Err(BacktestError::Parameter {
        key: "--grid".to_string(),
        message: format!(
            "{} of {} grid points are invalid, nothing was run: {}{more}; narrow the grid so \
             every combination is valid",
            bad.len(),
            points.len(),
            bad[..shown].join("; ")
        ),
    })
}

/// One grid point's options. Sweeps need only metrics and hashes: trades are neither kept
/// nor written (parallel runs would share the file).
fn with_params(base: &BacktestOptions, params: &[(String, String)]) -> BacktestOptions {
    let mut o = base.clone();
    o.set.extend(params.iter().map(|(k, v)| format!("{k}={v}")));
    o.keep_trades = false;
    o.trades_csv = None;
    o.keep_prices = false;
    o
}

fn span(opts: &BacktestOptions) -> Result<(i64, i64), BacktestError> {
    let mut first = None;
    let mut last = 0;
    for r in crate::data::open_data(&opts.data, &opts.data_options)? {
        let ts = r?.ts();
        if opts.from.is_some_and(|f| ts < f.millis()) || opts.to.is_some_and(|t| ts >= t.millis()) {
            continue;
        }
        first.get_or_insert(ts);
        last = ts;
    }
    first
        .map(|f| (f, last + 1))
        .ok_or(BacktestError::EmptyRange)
}

fn walk_forward(
    runner: &dyn PointRunner,
    opts: &SweepOptions,
    points: &[Vec<(String, String)>],
    folds_wanted: u32,
) -> Result<Vec<FoldReport>, BacktestError> {
    let (start, end) = span(&opts.base)?;
    let seg = (end - start) / i64::from(folds_wanted + 1);
    if seg <= 0 {
        return Err(BacktestError::option(
            "walk-forward",
            "too many folds for the data",
        ));
    }
    let bound = |i: u32| {
        if i == folds_wanted + 1 {
            end
        } else {
            start + seg * i64::from(i)
        }
    };
    let mut folds = Vec::new();
    for i in 0..folds_wanted {
        let (train_from, split, test_to) = (bound(i), bound(i + 1), bound(i + 2));
        let mut train = opts.base.clone();
        train.from = Some(Timestamp::from_millis(train_from));
        train.to = Some(Timestamp::from_millis(split));
        let rows = run_grid(runner, &train, points, opts.metric);
        let Some((best, in_sample)) = rows
            .into_iter()
            .find_map(|r| r.metrics.clone().map(|m| (r, m)))
        else {
            continue;
        };
        let mut test = with_params(&opts.base, &best.params);
        test.from = Some(Timestamp::from_millis(split));
        test.to = Some(Timestamp::from_millis(test_to));
        let oos = match runner.run_all(vec![test]).pop() {
            Some(Ok(r)) => Some(r.metrics),
            Some(Err(BacktestError::EmptyRange)) | None => None,
            Some(Err(e)) => return Err(e),
        };
        folds.push(FoldReport {
            fold: i + 1,
            train_from: Timestamp::from_millis(train_from),
            train_to: Timestamp::from_millis(split),
            test_from: Timestamp::from_millis(split),
            test_to: Timestamp::from_millis(test_to),
            best_params: best.params,
            in_sample,
            out_of_sample: oos,
        });
    }
    Ok(folds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_expansion_and_parsing() {
        let g = [
            parse_grid("fast=5,10,20").unwrap(),
            parse_grid("slow = 20, 50").unwrap(),
        ];
        let pts = expand_grid(&g);
        assert_eq!(pts.len(), 6);
        assert_eq!(
            pts[1],
            vec![
                ("fast".to_string(), "5".to_string()),
                ("slow".to_string(), "50".to_string())
            ]
        );
        assert!(parse_grid("fast").is_err());
        assert!(parse_grid("fast=").is_err());
        assert_eq!("sharpe".parse::<RankMetric>().unwrap(), RankMetric::Sharpe);
        assert!("bogus"
            .parse::<RankMetric>()
            .unwrap_err()
            .to_string()
            .contains("known"));
        assert_eq!(RankMetric::ProfitFactor.to_string(), "profit-factor");
    }
}
