//! Typed errors of the engine crate: configuration problems and engine construction failures.

use scalper_model::IdError;

/// A configuration value is missing, malformed or out of range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The TOML text did not parse or did not match the schema (unknown field, wrong type).
    #[error("invalid engine configuration: {message}")]
    Parse { message: String },
    /// A value is out of range or inconsistent.
    #[error("invalid value for `{field}`: {message}")]
    Invalid { field: String, message: String },
    #[error("unknown strategy {name:?} (known: {known})")]
    UnknownStrategy { name: String, known: String },
    #[error("unknown instrument {name:?} in [instruments]: use a friendly name such as EUR_USD or an IG epic")]
    UnknownInstrument { name: String },
    #[error("unknown time zone {name:?} (use an IANA name such as Europe/London)")]
    UnknownTimeZone { name: String },
}

impl ConfigError {
    /// Configuration errors are never retryable: the file must be fixed.
    pub fn is_retryable(&self) -> bool {
        false
    }
}

/// The engine could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("bad deal reference prefix: {0}")]
    DealRefPrefix(#[from] IdError),
    #[error("no instruments to trade")]
    NoInstruments,
    #[error("instrument {epic} listed twice")]
    DuplicateInstrument { epic: String },
    #[error("position {deal_id} on {epic} cannot be managed: {epic} is not among the instruments of this run")]
    PositionOnUnknownInstrument { epic: String, deal_id: String },
}

impl EngineError {
    pub fn is_retryable(&self) -> bool {
        false
    }
    /// Every construction error is fatal: the engine cannot start.
    pub fn is_fatal(&self) -> bool {
        true
    }
}
