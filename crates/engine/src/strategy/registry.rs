//! Strategies beyond the built-ins: a [`StrategyFactory`] builds one strategy per instrument
//! from a parameter table; [`register`] makes it known by name to everything that reads a
//! [`StrategyConfig`](super::StrategyConfig) (TOML `kind = "..."`, `--strategy`, `--set`,
//! sweeps, the live runtime), where it becomes `StrategyConfig::Custom`.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};

use scalper_model::Instrument;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{Strategy, BUILTIN_NAMES};
use crate::error::ConfigError;

/// Builds a strategy from its parameters, once per instrument (each instrument gets its own
/// instance, so per-instrument state is the strategy's own fields).
pub trait StrategyFactory: Send + Sync {
    /// The name it is chosen by (`kind = "my-strategy"`, `--strategy my-strategy`).
    fn name(&self) -> &str;
    /// The parameters of `--strategy NAME` without `--set`.
    fn defaults(&self) -> toml::Table;
    /// Checks a full parameter table (unknown keys, types, ranges).
    fn validate(&self, params: &toml::Table) -> Result<(), ConfigError>;
    /// Builds the strategy for one instrument from a table [`StrategyFactory::validate`] accepted.
    fn build(
        &self,
        params: &toml::Table,
        instrument: &Instrument,
    ) -> Result<Box<dyn Strategy>, ConfigError>;
}

/// Typed parameters of a strategy (what a TOML table or `--set key=value` fills in). The
/// built-in strategies' configurations implement it too.
pub trait StrategyParams: Serialize + DeserializeOwned + Default + Clone + Send + Sync {
    /// Range checks beyond the types. Default: none.
    fn validate(&self) -> Result<(), ConfigError> {
        Ok(())
    }
}

/// A [`StrategyFactory`] for typed parameters `P` and a constructor:
/// `factory("my-ema", |p: MyParams, _inst| MyEma::new(p))`.
pub fn factory<P, S, F>(name: &str, build: F) -> Arc<dyn StrategyFactory>
where
    P: StrategyParams + 'static,
    S: Strategy + 'static,
    F: Fn(P, &Instrument) -> S + Send + Sync + 'static,
{
    Arc::new(TypedFactory {
        name: normalise(name),
        build,
        _params: std::marker::PhantomData::<fn() -> (P, S)>,
    })
}

struct TypedFactory<F, T> {
    name: String,
    build: F,
    _params: std::marker::PhantomData<T>,
}

impl<P, S, F> TypedFactory<F, fn() -> (P, S)>
where
    P: StrategyParams,
{
    fn params(params: &toml::Table) -> Result<P, ConfigError> {
        toml::Value::Table(params.clone())
            .try_into()
            .map_err(|e: toml::de::Error| super::invalid("parameters", e.message()))
    }
}

impl<P, S, F> StrategyFactory for TypedFactory<F, fn() -> (P, S)>
where
    P: StrategyParams + 'static,
    S: Strategy + 'static,
    F: Fn(P, &Instrument) -> S + Send + Sync,
{
    fn name(&self) -> &str {
        &self.name
    }
    fn defaults(&self) -> toml::Table {
        toml::Table::try_from(P::default()).unwrap_or_default()
    }
    fn validate(&self, params: &toml::Table) -> Result<(), ConfigError> {
        Self::params(params)?.validate()
    }
    fn build(
        &self,
        params: &toml::Table,
        instrument: &Instrument,
    ) -> Result<Box<dyn Strategy>, ConfigError> {
        Ok(Box::new((self.build)(Self::params(params)?, instrument)))
    }
}

type Registry = BTreeMap<String, Arc<dyn StrategyFactory>>;

static REGISTRY: RwLock<Registry> = RwLock::new(BTreeMap::new());

/// The spelling names are compared in: lower case, `_` as `-`, trimmed.
pub(crate) fn normalise(name: &str) -> String {
    name.trim().to_ascii_lowercase().replace('_', "-")
}

/// Makes a strategy known by its name to this process (the CLI, backtests, sweeps and live
/// runs). Registering a name again replaces the earlier factory; a built-in name is refused.
pub fn register(factory: Arc<dyn StrategyFactory>) -> Result<(), ConfigError> {
    let name = normalise(factory.name());
    if name.is_empty() || BUILTIN_NAMES.contains(&name.as_str()) {
        return Err(super::invalid(
            "strategy",
            format!("{name:?} is a built-in strategy name; choose another"),
        ));
    }
    REGISTRY
        .write()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(name, factory);
    Ok(())
}

/// The factory registered under `name` (any spelling [`register`] accepts).
pub fn lookup(name: &str) -> Option<Arc<dyn StrategyFactory>> {
    REGISTRY
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&normalise(name))
        .cloned()
}

/// Every strategy name this process knows: the built-ins, then the registered ones.
pub fn strategy_names() -> Vec<String> {
    let registry = REGISTRY.read().unwrap_or_else(PoisonError::into_inner);
    BUILTIN_NAMES
        .iter()
        .map(|s| (*s).to_string())
        .chain(registry.keys().cloned())
        .collect()
}

/// A registered strategy with its parameters (`StrategyConfig::Custom`).
#[derive(Clone)]
pub struct CustomStrategy {
    params: toml::Table,
    factory: Arc<dyn StrategyFactory>,
}

impl CustomStrategy {
    /// The registered strategy `name` with its default parameters.
    pub fn named(name: &str) -> Option<Self> {
        lookup(name).map(|factory| Self {
            params: factory.defaults(),
            factory,
        })
    }

    /// The registered strategy `name` with `params` (not yet validated).
    pub fn with_params(name: &str, params: toml::Table) -> Option<Self> {
        lookup(name).map(|factory| Self { params, factory })
    }

    pub fn name(&self) -> &str {
        self.factory.name()
    }

    pub fn params(&self) -> &toml::Table {
        &self.params
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        self.factory.validate(&self.params)
    }

    pub fn build(&self, instrument: &Instrument) -> Result<Box<dyn Strategy>, ConfigError> {
        self.factory.build(&self.params, instrument)
    }
}

impl PartialEq for CustomStrategy {
    fn eq(&self, other: &Self) -> bool {
        self.name() == other.name() && self.params == other.params
    }
}

impl fmt::Debug for CustomStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CustomStrategy")
            .field("name", &self.name())
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}
