//! A strategy written as a Python class, run by the engine: [`PyFactory`] makes one instance
//! per instrument (`cls(**params)`) and registers it by name like any Rust strategy;
//! [`PyStrategy`] calls its `on_quote` / `on_bar` / `on_fill` / `on_timer` and converts what
//! they return into intents. An exception or a return value that is not intents is recorded
//! with its traceback and stops the strategy: no more entries (optionally, one exit of
//! everything); the engine keeps managing open positions (stops, limits, trailing, max hold,
//! kill switch, end-of-run flatten).

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use pyo3::prelude::*;
use pyo3::types::{PyList, PyString, PyTuple, PyType};
use rust_decimal::Decimal;
use scalper_engine::strategy::{
    invalid, mid_f64, to_f64, Entry, Fill as EngineFill, Intent, StopKind, Strategy,
    StrategyContext, StrategyFactory,
};
use scalper_engine::ConfigError;
use scalper_model::{Candle, Direction, Instrument, Points, Quote as EngineQuote, Size, Timestamp};

use crate::convert::{decimal, direction, to_kwargs};

/// What a failed strategy does besides stopping: `halt` (no more intents) or `flatten` (one
/// exit of every position on its instrument, then nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnError {
    Halt,
    Flatten,
}

/// Strategy errors (tracebacks) of a run, shared by the instances of one factory.
#[derive(Debug, Default)]
pub struct ErrorLog(Mutex<Vec<String>>);

impl ErrorLog {
    pub fn push(&self, message: String) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(message);
    }
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// Builds [`PyStrategy`]s from a Python class (called with the parameters as keyword
/// arguments) or shares one instance (single-instrument runs).
pub struct PyFactory {
    name: String,
    /// The class, or an instance when `is_class` is false.
    target: Py<PyAny>,
    is_class: bool,
    pub errors: Arc<ErrorLog>,
    on_error: OnError,
}

impl PyFactory {
    pub fn new(strategy: &Bound<'_, PyAny>, on_error: OnError) -> PyResult<Self> {
        let is_class = strategy.is_instance_of::<PyType>();
        let class = if is_class {
            strategy.clone()
        } else {
            strategy.getattr("__class__")?
        };
        let name = match strategy.getattr("name") {
            Ok(n) if n.is_instance_of::<PyString>() => n.extract::<String>()?,
            _ => class.getattr("__name__")?.extract::<String>()?,
        };
        Ok(Self {
            name: name.trim().to_ascii_lowercase().replace('_', "-"),
            target: strategy.clone().unbind(),
            is_class,
            errors: Arc::new(ErrorLog::default()),
            on_error,
        })
    }

    fn instance<'py>(&self, py: Python<'py>, params: &toml::Table) -> PyResult<Bound<'py, PyAny>> {
        let target = self.target.bind(py);
        if self.is_class {
            target.call((), Some(&to_kwargs(py, params)?))
        } else if params.is_empty() {
            Ok(target.clone())
        } else {
            Err(pyo3::exceptions::PyTypeError::new_err(
                "parameters need a strategy class, not an instance",
            ))
        }
    }
}

impl StrategyFactory for PyFactory {
    fn name(&self) -> &str {
        &self.name
    }
    fn defaults(&self) -> toml::Table {
        toml::Table::new()
    }
    fn validate(&self, params: &toml::Table) -> Result<(), ConfigError> {
        if !self.is_class && !params.is_empty() {
            return Err(invalid(
                "parameters",
                "parameters need a strategy class, not an instance",
            ));
        }
        Ok(())
    }
    fn build(
        &self,
        params: &toml::Table,
        instrument: &Instrument,
    ) -> Result<Box<dyn Strategy>, ConfigError> {
        Python::with_gil(|py| {
            let obj = self
                .instance(py, params)
                .map_err(|e| invalid("parameters", format_error(py, &e)))?;
            PyStrategy::new(py, &obj, self, instrument)
                .map(|s| Box::new(s) as Box<dyn Strategy>)
                .map_err(|e| invalid("strategy", format_error(py, &e)))
        })
    }
}

/// The Python error with its traceback, as Python prints it.
pub fn format_error(py: Python<'_>, e: &PyErr) -> String {
    let tb = e
        .traceback(py)
        .and_then(|t| t.format().ok())
        .unwrap_or_default();
    format!("{tb}{e}")
}

/// One Python strategy object on one instrument.
pub struct PyStrategy {
    /// The strategy object (its bound methods below keep it alive too).
    _obj: Py<PyAny>,
    name: &'static str,
    epic: Py<PyString>,
    on_quote: Option<Py<PyAny>>,
    on_bar: Option<Py<PyAny>>,
    on_fill: Option<Py<PyAny>>,
    on_timer: Option<Py<PyAny>>,
    failed: bool,
    errors: Arc<ErrorLog>,
    on_error: OnError,
    /// `on_fill` returned something (once warned: its return value is not used).
    fill_return_warned: std::sync::atomic::AtomicBool,
}

impl fmt::Debug for PyStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PyStrategy")
            .field("name", &self.name)
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
}

/// Names live as long as the process; each distinct one is leaked once.
fn static_name(name: &str) -> &'static str {
    static NAMES: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());
    let mut names = NAMES.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(n) = names.iter().find(|n| **n == name) {
        return n;
    }
    let leaked: &'static str = Box::leak(name.to_string().into_boxed_str());
    names.push(leaked);
    leaked
}

impl PyStrategy {
    fn new(
        py: Python<'_>,
        obj: &Bound<'_, PyAny>,
        factory: &PyFactory,
        instrument: &Instrument,
    ) -> PyResult<Self> {
        let method = |name: &str| -> PyResult<Option<Py<PyAny>>> {
            if obj.hasattr(name)? {
                let m = obj.getattr(name)?;
                if !m.is_callable() {
                    return Err(pyo3::exceptions::PyTypeError::new_err(format!(
                        "{name} is not a method"
                    )));
                }
                Ok(Some(m.unbind()))
            } else {
                Ok(None)
            }
        };
        let s = Self {
            _obj: obj.clone().unbind(),
            name: static_name(&factory.name),
            epic: PyString::new(py, instrument.epic.as_str()).unbind(),
            on_quote: method("on_quote")?,
            on_bar: method("on_bar")?,
            on_fill: method("on_fill")?,
            on_timer: method("on_timer")?,
            failed: false,
            fill_return_warned: std::sync::atomic::AtomicBool::new(false),
            errors: Arc::clone(&factory.errors),
            on_error: factory.on_error,
        };
        if s.on_quote.is_none() && s.on_bar.is_none() {
            return Err(pyo3::exceptions::PyTypeError::new_err(
                "a strategy defines on_quote(self, quote, ctx) and/or on_bar(self, bar, ctx)",
            ));
        }
        Ok(s)
    }

    fn context(&self, py: Python<'_>, ctx: &StrategyContext<'_>) -> PyResult<Py<Context>> {
        Py::new(
            py,
            Context {
                time: ctx.now.millis(),
                position: ctx.position,
                open_trades: ctx.open_trades,
                epic: self.epic.clone_ref(py),
            },
        )
    }

    /// Calls a hook; on success its intents, on failure the strategy stops.
    fn call<F>(&mut self, hook: &str, at: Timestamp, f: F) -> Vec<Intent>
    where
        F: for<'py> FnOnce(Python<'py>, &Self) -> PyResult<Option<Bound<'py, PyAny>>>,
    {
        if self.failed {
            return Vec::new();
        }
        let outcome = Python::with_gil(|py| match f(py, self) {
            Ok(None) => Ok(Vec::new()),
            Ok(Some(ret)) => intents(&ret).map_err(|m| format!("{hook} returned {m}")),
            Err(e) => Err(format_error(py, &e)),
        });
        match outcome {
            Ok(v) => v,
            Err(message) => self.fail(hook, at, &message),
        }
    }

    fn fail(&mut self, hook: &str, at: Timestamp, message: &str) -> Vec<Intent> {
        self.failed = true;
        self.errors.push(format!(
            "strategy {} stopped in {hook} at {at}: no more entries; positions stay managed\n{message}",
            self.name
        ));
        match self.on_error {
            OnError::Halt => Vec::new(),
            OnError::Flatten => vec![Intent::exit(None, format!("strategy {} failed", self.name))],
        }
    }
}

/// What a hook returned: `None`, one intent, or a list or tuple of intents.
fn intents(ret: &Bound<'_, PyAny>) -> Result<Vec<Intent>, String> {
    let one = |v: &Bound<'_, PyAny>| -> Option<Intent> {
        if let Ok(e) = v.downcast::<Enter>() {
            Some(Intent::Enter(e.get().0.clone()))
        } else if let Ok(x) = v.downcast::<Exit>() {
            Some(x.get().0.clone())
        } else if let Ok(x) = v.downcast::<Reduce>() {
            Some(x.get().0.clone())
        } else {
            None
        }
    };
    let describe = |v: &Bound<'_, PyAny>| {
        v.repr()
            .map_or_else(|_| "?".into(), |r| r.to_string())
            .chars()
            .take(200)
            .collect::<String>()
    };
    if ret.is_none() {
        return Ok(Vec::new());
    }
    if let Some(i) = one(ret) {
        return Ok(vec![i]);
    }
    let items: Vec<Bound<'_, PyAny>> = if let Ok(l) = ret.downcast::<PyList>() {
        l.iter().collect()
    } else if let Ok(t) = ret.downcast::<PyTuple>() {
        t.iter().collect()
    } else {
        return Err(format!(
            "{}: expected None, a scalper.Enter, Exit or Reduce, or a list of them",
            describe(ret)
        ));
    };
    items
        .iter()
        .enumerate()
        .map(|(n, v)| {
            one(v).ok_or_else(|| {
                format!(
                    "a list whose item {n} is {}: expected scalper.Enter, Exit or Reduce",
                    describe(v)
                )
            })
        })
        .collect()
}

impl Strategy for PyStrategy {
    fn name(&self) -> &'static str {
        self.name
    }

    fn uses_timer(&self) -> bool {
        self.on_timer.is_some()
    }

    fn on_quote(&mut self, quote: &EngineQuote, ctx: &StrategyContext<'_>) -> Vec<Intent> {
        if self.on_quote.is_none() {
            return Vec::new();
        }
        self.call("on_quote", quote.ts, |py, s| {
            let Some(m) = &s.on_quote else {
                return Ok(None);
            };
            let q = Py::new(py, Quote::from(quote))?;
            let c = s.context(py, ctx)?;
            let ret = m.bind(py).call1((q, c))?;
            Ok(Some(ret))
        })
    }

    fn on_candle(&mut self, candle: &Candle, ctx: &StrategyContext<'_>) -> Vec<Intent> {
        if self.on_bar.is_none() {
            return Vec::new();
        }
        self.call("on_bar", candle.start, |py, s| {
            let Some(m) = &s.on_bar else {
                return Ok(None);
            };
            let b = Py::new(py, Bar::from(candle))?;
            let c = s.context(py, ctx)?;
            Ok(Some(m.bind(py).call1((b, c))?))
        })
    }

    fn on_fill(&mut self, fill: &EngineFill, ctx: &StrategyContext<'_>) {
        if self.on_fill.is_none() {
            return;
        }
        // on_fill's return value is not used (the engine asks for intents on the next event);
        // a strategy that returns one is told so once.
        let _ = self.call("on_fill", fill.at, |py, s| {
            let Some(m) = &s.on_fill else {
                return Ok(None);
            };
            let f = Py::new(py, Fill::from(fill))?;
            let c = s.context(py, ctx)?;
            let ret = m.bind(py).call1((f, c))?;
            if !ret.is_none()
                && !s
                    .fill_return_warned
                    .swap(true, std::sync::atomic::Ordering::Relaxed)
            {
                let message = std::ffi::CString::new(format!(
                    "strategy {}: on_fill returned {}, which is not used: a fill cannot send \
                     orders; return intents from on_quote, on_bar or on_timer (the next event)",
                    s.name,
                    ret.repr()
                        .map_or_else(|_| "a value".into(), |r| r.to_string())
                ))
                .unwrap_or_default();
                PyErr::warn(
                    py,
                    &py.get_type::<pyo3::exceptions::PyUserWarning>(),
                    &message,
                    1,
                )?;
            }
            Ok(None)
        });
    }

    fn on_timer(&mut self, now: Timestamp, ctx: &StrategyContext<'_>) -> Vec<Intent> {
        if self.on_timer.is_none() {
            return Vec::new();
        }
        self.call("on_timer", now, |py, s| {
            let Some(m) = &s.on_timer else {
                return Ok(None);
            };
            let c = s.context(py, ctx)?;
            Ok(Some(m.bind(py).call1((now.millis(), c))?))
        })
    }
}

/// A quote: `mid`, `bid` and `offer` as floats for indicators (`mid` is the same f64 the
/// Rust strategies use), `time` in epoch ms; `bid_decimal` / `offer_decimal` exact.
#[derive(Debug)]
#[pyclass(frozen, module = "scalper._scalper")]
pub struct Quote {
    #[pyo3(get)]
    mid: f64,
    #[pyo3(get)]
    bid: f64,
    #[pyo3(get)]
    offer: f64,
    #[pyo3(get)]
    time: i64,
    bid_d: Decimal,
    offer_d: Decimal,
}

impl From<&EngineQuote> for Quote {
    fn from(q: &EngineQuote) -> Self {
        Self {
            mid: mid_f64(q),
            bid: to_f64(q.bid.value()),
            offer: to_f64(q.offer.value()),
            time: q.ts.millis(),
            bid_d: q.bid.value(),
            offer_d: q.offer.value(),
        }
    }
}

fn py_decimal(py: Python<'_>, d: Decimal) -> PyResult<Bound<'_, PyAny>> {
    py.import("decimal")?
        .getattr("Decimal")?
        .call1((d.to_string(),))
}

#[pymethods]
impl Quote {
    /// The bid as a `decimal.Decimal`.
    #[getter]
    fn bid_decimal<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        py_decimal(py, self.bid_d)
    }
    /// The offer as a `decimal.Decimal`.
    #[getter]
    fn offer_decimal<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        py_decimal(py, self.offer_d)
    }
    fn __repr__(&self) -> String {
        format!(
            "Quote(time={}, bid={}, offer={})",
            self.time, self.bid_d, self.offer_d
        )
    }
}

/// A completed bar (mid prices as floats), `start` and `period_ms` in ms.
#[derive(Debug)]
#[pyclass(frozen, module = "scalper._scalper")]
pub struct Bar {
    #[pyo3(get)]
    open: f64,
    #[pyo3(get)]
    high: f64,
    #[pyo3(get)]
    low: f64,
    #[pyo3(get)]
    close: f64,
    #[pyo3(get)]
    start: i64,
    #[pyo3(get)]
    period_ms: i64,
}

impl From<&Candle> for Bar {
    fn from(c: &Candle) -> Self {
        Self {
            open: to_f64(c.open.value()),
            high: to_f64(c.high.value()),
            low: to_f64(c.low.value()),
            close: to_f64(c.close.value()),
            start: c.start.millis(),
            period_ms: c.period_ms,
        }
    }
}

#[pymethods]
impl Bar {
    fn __repr__(&self) -> String {
        format!(
            "Bar(start={}, open={}, high={}, low={}, close={})",
            self.start, self.open, self.high, self.low, self.close
        )
    }
}

/// A position of this instrument opened (`closing` false) or closed.
#[derive(Debug)]
#[pyclass(frozen, module = "scalper._scalper")]
pub struct Fill {
    #[pyo3(get)]
    direction: &'static str,
    #[pyo3(get)]
    time: i64,
    #[pyo3(get)]
    closing: bool,
    size: Decimal,
    level: Decimal,
}

impl From<&EngineFill> for Fill {
    fn from(f: &EngineFill) -> Self {
        Self {
            direction: f.direction.as_str(),
            time: f.at.millis(),
            closing: f.closing,
            size: f.size.value(),
            level: f.level.value(),
        }
    }
}

#[pymethods]
impl Fill {
    /// Deal size (`decimal.Decimal`).
    #[getter]
    fn size<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        py_decimal(py, self.size)
    }
    /// Fill level (`decimal.Decimal`).
    #[getter]
    fn level<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        py_decimal(py, self.level)
    }
    fn __repr__(&self) -> String {
        format!(
            "Fill({} {} at {}, closing={})",
            self.direction, self.size, self.level, self.closing
        )
    }
}

/// What the strategy may know besides the data: `time` (ms), `position` (`"BUY"`, `"SELL"`
/// or `None` when flat), `open_trades`, `epic`.
#[derive(Debug)]
#[pyclass(frozen, module = "scalper._scalper")]
pub struct Context {
    #[pyo3(get)]
    time: i64,
    position: Option<Direction>,
    #[pyo3(get)]
    open_trades: u32,
    #[pyo3(get)]
    epic: Py<PyString>,
}

#[pymethods]
impl Context {
    #[getter]
    fn position(&self) -> Option<&'static str> {
        self.position.map(Direction::as_str)
    }
    fn __repr__(&self) -> String {
        format!(
            "Context(time={}, position={:?}, open_trades={})",
            self.time,
            self.position.map(Direction::as_str),
            self.open_trades
        )
    }
}

/// `Enter(direction, *, size=None, stop=None, limit=None, trailing=None, max_hold_ms=None,
/// reason="", guaranteed=False, trailing_increment=None)`: open a position. Amounts are
/// ints, strs or `decimal.Decimal`s (no floats); without `size`, risk sizes the trade from
/// `stop`. `trailing` is an engine-managed trail; `guaranteed=True` asks for a guaranteed
/// stop, `trailing_increment` for IG's own trailing stop (both need `stop`).
#[derive(Debug)]
#[pyclass(frozen, module = "scalper._scalper")]
pub struct Enter(pub Entry);

#[pymethods]
impl Enter {
    #[new]
    #[pyo3(signature = (direction, *, size=None, stop=None, limit=None, trailing=None, max_hold_ms=None, reason=None, guaranteed=false, trailing_increment=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        direction: &Bound<'_, PyAny>,
        size: Option<&Bound<'_, PyAny>>,
        stop: Option<&Bound<'_, PyAny>>,
        limit: Option<&Bound<'_, PyAny>>,
        trailing: Option<&Bound<'_, PyAny>>,
        max_hold_ms: Option<i64>,
        reason: Option<String>,
        guaranteed: bool,
        trailing_increment: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let positive = |what: &str, v: Option<&Bound<'_, PyAny>>| -> PyResult<Option<Decimal>> {
            v.filter(|v| !v.is_none())
                .map(|v| {
                    let d = decimal(what, v)?;
                    if d <= Decimal::ZERO {
                        return Err(pyo3::exceptions::PyValueError::new_err(format!(
                            "{what}: must be > 0, got {d}"
                        )));
                    }
                    Ok(d)
                })
                .transpose()
        };
        let mut e = Entry::new(direction_of(direction)?, reason.unwrap_or_default());
        e.size = positive("size", size)?.map(Size::new);
        e.stop_distance = positive("stop", stop)?.map(Points::new);
        e.limit_distance = positive("limit", limit)?.map(Points::new);
        e.trailing_distance = positive("trailing", trailing)?.map(Points::new);
        if let Some(ms) = max_hold_ms.filter(|ms| *ms <= 0) {
            return Err(pyo3::exceptions::PyValueError::new_err(format!(
                "max_hold_ms: must be > 0, got {ms}"
            )));
        }
        e.max_hold_ms = max_hold_ms;
        let increment = positive("trailing_increment", trailing_increment)?;
        if (guaranteed || increment.is_some()) && e.stop_distance.is_none() {
            return Err(pyo3::exceptions::PyValueError::new_err(
                "guaranteed and trailing_increment need a stop distance (stop=...)",
            ));
        }
        e = match (guaranteed, increment) {
            (true, Some(_)) => {
                return Err(pyo3::exceptions::PyValueError::new_err(
                    "a stop is either guaranteed or trailing at the broker, not both",
                ))
            }
            (true, None) => e.with_guaranteed_stop(),
            (false, Some(i)) => e.with_broker_trailing(Points::new(i)),
            (false, None) => e,
        };
        Ok(Self(e))
    }
    #[getter]
    fn direction(&self) -> &'static str {
        self.0.direction.as_str()
    }
    #[getter]
    fn reason(&self) -> &str {
        &self.0.reason
    }
    #[getter]
    fn guaranteed(&self) -> bool {
        matches!(self.0.stop_kind, StopKind::Guaranteed)
    }
    fn __repr__(&self) -> String {
        format!(
            "Enter({}, size={:?}, stop={:?}, limit={:?}, reason={:?})",
            self.0.direction.as_str(),
            self.0.size.map(|s| s.value().to_string()),
            self.0.stop_distance.map(|s| s.value().to_string()),
            self.0.limit_distance.map(|s| s.value().to_string()),
            self.0.reason
        )
    }
}

fn direction_of(v: &Bound<'_, PyAny>) -> PyResult<Direction> {
    direction(v)
}

/// `Exit(direction=None, *, reason="")`: close this instrument's positions of `direction`
/// (all when `None`).
#[derive(Debug)]
#[pyclass(frozen, module = "scalper._scalper")]
pub struct Exit(pub Intent);

#[pymethods]
impl Exit {
    #[new]
    #[pyo3(signature = (direction=None, *, reason=None))]
    fn new(direction: Option<&Bound<'_, PyAny>>, reason: Option<String>) -> PyResult<Self> {
        let dir = direction
            .filter(|d| !d.is_none())
            .map(direction_of)
            .transpose()?;
        Ok(Self(Intent::exit(dir, reason.unwrap_or_default())))
    }
    fn __repr__(&self) -> String {
        match &self.0 {
            Intent::Exit {
                direction, reason, ..
            } => format!(
                "Exit({:?}, reason={reason:?})",
                direction.map(Direction::as_str)
            ),
            _ => "Exit(?)".into(),
        }
    }
}

/// `Reduce(fraction, direction=None, *, reason="")`: close `fraction` (0 < fraction < 1;
/// an int, str or Decimal) of each position of `direction` (all when `None`), rounded down to
/// the market's size step.
#[derive(Debug)]
#[pyclass(frozen, module = "scalper._scalper")]
pub struct Reduce(pub Intent);

#[pymethods]
impl Reduce {
    #[new]
    #[pyo3(signature = (fraction, direction=None, *, reason=None))]
    fn new(
        fraction: &Bound<'_, PyAny>,
        direction: Option<&Bound<'_, PyAny>>,
        reason: Option<String>,
    ) -> PyResult<Self> {
        let f = decimal("fraction", fraction)?;
        if f <= Decimal::ZERO || f >= Decimal::ONE {
            return Err(pyo3::exceptions::PyValueError::new_err(format!(
                "fraction: must be between 0 and 1 (exclusive), got {f}; use Exit to close all"
            )));
        }
        let dir = direction
            .filter(|d| !d.is_none())
            .map(direction_of)
            .transpose()?;
        Ok(Self(Intent::reduce(dir, f, reason.unwrap_or_default())))
    }
    fn __repr__(&self) -> String {
        match &self.0 {
            Intent::Reduce {
                direction,
                fraction,
                reason,
            } => format!(
                "Reduce({fraction}, {:?}, reason={reason:?})",
                direction.map(Direction::as_str)
            ),
            _ => "Reduce(?)".into(),
        }
    }
}
