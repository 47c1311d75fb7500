//! Conversions between Python values and the engine's: decimals (never through a float),
//! directions, and strategy parameters (a dict of keyword arguments <-> a TOML table).

use std::str::FromStr;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyString};
use rust_decimal::Decimal;
use scalper_model::Direction;

/// A decimal from an `int`, a `str` or a `decimal.Decimal`; a float is refused (its binary
/// value is not the decimal the user wrote).
pub fn decimal(what: &str, v: &Bound<'_, PyAny>) -> PyResult<Decimal> {
    if v.is_instance_of::<PyBool>() || v.is_instance_of::<PyFloat>() {
        return Err(PyTypeError::new_err(format!(
            "{what}: expected an int, a str or a decimal.Decimal, not {} (floats are not exact decimals)",
            v.get_type().name()?
        )));
    }
    if let Ok(i) = v.downcast::<PyInt>() {
        if let Ok(n) = i.extract::<i64>() {
            return Ok(Decimal::from(n));
        }
    }
    let text: String = if let Ok(s) = v.downcast::<PyString>() {
        s.to_cow()?.to_string()
    } else if v.get_type().name()?.to_cow()? == "Decimal" {
        v.str()?.to_cow()?.to_string()
    } else {
        return Err(PyTypeError::new_err(format!(
            "{what}: expected an int, a str or a decimal.Decimal, not {}",
            v.get_type().name()?
        )));
    };
    Decimal::from_str(text.trim())
        .or_else(|_| Decimal::from_scientific(text.trim()))
        .map_err(|e| PyValueError::new_err(format!("{what}: {text:?} is not a decimal: {e}")))
}

/// `"BUY"` / `"SELL"` in any case.
pub fn direction(v: &Bound<'_, PyAny>) -> PyResult<Direction> {
    let s = v.downcast::<PyString>().map_err(|_| {
        PyTypeError::new_err("direction: expected \"BUY\" or \"SELL\" (scalper.BUY, scalper.SELL)")
    })?;
    match s.to_cow()?.trim().to_ascii_uppercase().as_str() {
        "BUY" | "LONG" => Ok(Direction::Buy),
        "SELL" | "SHORT" => Ok(Direction::Sell),
        other => Err(PyValueError::new_err(format!(
            "direction: {other:?} is not \"BUY\" or \"SELL\""
        ))),
    }
}

/// A Python value as TOML (parameters): bool, int, float, str, Decimal (as its text).
pub fn to_toml(key: &str, v: &Bound<'_, PyAny>) -> PyResult<toml::Value> {
    if let Ok(b) = v.downcast::<PyBool>() {
        return Ok(toml::Value::Boolean(b.is_true()));
    }
    if let Ok(i) = v.downcast::<PyInt>() {
        return Ok(toml::Value::Integer(i.extract()?));
    }
    if let Ok(f) = v.downcast::<PyFloat>() {
        return Ok(toml::Value::Float(f.value()));
    }
    if let Ok(s) = v.downcast::<PyString>() {
        return Ok(toml::Value::String(s.to_cow()?.to_string()));
    }
    if v.get_type().name()?.to_cow()? == "Decimal" {
        return Ok(toml::Value::String(v.str()?.to_cow()?.to_string()));
    }
    Err(PyTypeError::new_err(format!(
        "parameter {key:?}: expected a bool, int, float, str or Decimal, not {}",
        v.get_type().name()?
    )))
}

/// A parameter table as keyword arguments.
pub fn to_kwargs<'py>(py: Python<'py>, table: &toml::Table) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for (k, v) in table {
        match v {
            toml::Value::Boolean(b) => d.set_item(k, *b)?,
            toml::Value::Integer(i) => d.set_item(k, *i)?,
            toml::Value::Float(f) => d.set_item(k, *f)?,
            toml::Value::String(s) => d.set_item(k, s)?,
            other => d.set_item(k, other.to_string())?,
        }
    }
    Ok(d)
}

/// `key=value` strings (`--set` syntax) from a dict; values as TOML literals.
pub fn set_strings(params: Option<&Bound<'_, PyDict>>) -> PyResult<Vec<String>> {
    let Some(params) = params else {
        return Ok(Vec::new());
    };
    params
        .iter()
        .map(|(k, v)| {
            let key: String = k.extract()?;
            Ok(format!("{key}={}", to_toml(&key, &v)?))
        })
        .collect()
}
