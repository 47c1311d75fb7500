//! Configuration: IG_* variables from flags, the process environment, env files and (for
//! non-secrets) `scalper.toml`, each value with its provenance, validated into an
//! [`scalper_ig::IgConfig`]. `scalper config check` renders the [`ConfigReport`].

pub mod alerts;
pub mod dotenv;
mod file;
mod report;
mod resolve;
mod validate;
mod var;

pub use file::{TomlConfig, TOML_DEFAULT};
pub use report::{redact, ConfigReport, FileInfo};
pub use resolve::{load, FlagValues, LoadInputs, ENV_FILES};
pub use validate::Resolved;
pub use var::{Source, Sourced, Var};

/// Configuration errors: exit code 2.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The configuration is incomplete or invalid; the message is the full report.
    #[error("configuration incomplete or invalid:\n{0}")]
    Invalid(String),
    /// A command-line value is unusable.
    #[error("{0}")]
    Usage(String),
}

#[cfg(test)]
mod tests;
