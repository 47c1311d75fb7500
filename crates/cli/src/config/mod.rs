//! Configuration: IG_* variables from flags, the process environment, env files and (for
//! non-secrets) `scalper.toml`, each value with its provenance, validated into an
//! [`scalper_ig::IgConfig`]. `scalper config check` renders the [`ConfigReport`].

pub mod dotenv;
mod file;
mod report;
mod resolve;
mod validate;

use std::fmt;
use std::path::PathBuf;

pub use file::{TomlConfig, TOML_DEFAULT};
pub use report::redact;
pub use resolve::{load, FlagValues, LoadInputs, ENV_FILES};
pub use validate::Resolved;

/// The variables scalper reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Var {
    Username,
    Password,
    ApiKey,
    Demo,
    AccountId,
    ApiUrl,
    SessionVersion,
}

impl Var {
    pub const ALL: [Var; 7] = [
        Var::Username,
        Var::Password,
        Var::ApiKey,
        Var::Demo,
        Var::AccountId,
        Var::ApiUrl,
        Var::SessionVersion,
    ];

    /// The environment variable name.
    pub fn name(self) -> &'static str {
        match self {
            Var::Username => "IG_USERNAME",
            Var::Password => "IG_PASSWORD",
            Var::ApiKey => "IG_API_KEY",
            Var::Demo => "IG_DEMO",
            Var::AccountId => "IG_ACCOUNT_ID",
            Var::ApiUrl => "IG_API_URL",
            Var::SessionVersion => "IG_SESSION_VERSION",
        }
    }

    pub fn from_name(name: &str) -> Option<Var> {
        Var::ALL.into_iter().find(|v| v.name() == name)
    }

    /// Secrets are never read from TOML, never printed and never logged.
    pub fn is_secret(self) -> bool {
        matches!(self, Var::Password | Var::ApiKey)
    }

    /// Needed to log in.
    pub fn is_required(self) -> bool {
        matches!(self, Var::Username | Var::Password | Var::ApiKey)
    }

    /// Key in the `[ig]` table of the TOML file (`None` for secrets).
    pub fn toml_key(self) -> Option<&'static str> {
        match self {
            Var::Username => Some("username"),
            Var::Demo => Some("demo"),
            Var::AccountId => Some("account_id"),
            Var::ApiUrl => Some("api_url"),
            Var::SessionVersion => Some("session_version"),
            Var::Password | Var::ApiKey => None,
        }
    }

    /// The command-line flag overriding it (`None` for secrets: flags show up in `ps`).
    pub fn flag(self) -> Option<&'static str> {
        match self {
            Var::Username => Some("--ig-username"),
            Var::Demo => Some("--ig-demo"),
            Var::AccountId => Some("--ig-account-id"),
            Var::ApiUrl => Some("--ig-api-url"),
            Var::SessionVersion => Some("--ig-session-version"),
            Var::Password | Var::ApiKey => None,
        }
    }
}

impl fmt::Display for Var {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A command-line flag.
    Flag(&'static str),
    /// The process environment.
    Environment,
    /// An env file, at a 1-based line.
    EnvFile { path: PathBuf, line: usize },
    /// The TOML configuration file, at a dotted key.
    Toml { path: PathBuf, key: String },
    /// Built-in default.
    Default,
}

impl Source {
    /// Short machine-friendly kind for JSON.
    pub fn kind(&self) -> &'static str {
        match self {
            Source::Flag(_) => "flag",
            Source::Environment => "environment",
            Source::EnvFile { .. } => "env_file",
            Source::Toml { .. } => "config_file",
            Source::Default => "default",
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Flag(flag) => write!(f, "flag {flag}"),
            Source::Environment => f.write_str("process environment"),
            Source::EnvFile { path, line } => write!(f, "{}:{line}", path.display()),
            Source::Toml { path, key } => write!(f, "{} ({key})", path.display()),
            Source::Default => f.write_str("default"),
        }
    }
}

/// A value and where it came from.
#[derive(Debug, Clone)]
pub struct Sourced<T> {
    pub value: T,
    pub source: Source,
}

/// A file the loader looked at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileInfo {
    /// `env_file` or `config_file`.
    pub kind: &'static str,
    pub path: PathBuf,
    pub found: bool,
    /// Unix permission bits, when found.
    pub mode: Option<u32>,
    /// Named explicitly (`--env-file`, `--config`) rather than a default location.
    pub explicit: bool,
}

/// The outcome of loading the configuration: every source, value, note, warning and problem.
#[derive(Debug)]
pub struct ConfigReport {
    /// Flags that set a variable.
    pub flags: Vec<&'static str>,
    /// IG variables present in the process environment (names only).
    pub env_vars: Vec<&'static str>,
    pub files: Vec<FileInfo>,
    pub resolved: Resolved,
    /// Informational (e.g. which of two disagreeing files wins).
    pub notes: Vec<String>,
    /// Worth fixing, but not blocking (e.g. file permissions).
    pub warnings: Vec<String>,
    /// Blocking: the configuration cannot be used.
    pub problems: Vec<String>,
    /// Required variables that no source set.
    pub missing: Vec<Var>,
    /// The TOML file's contents (empty without one), for sections other commands read.
    pub toml: TomlConfig,
}

impl ConfigReport {
    /// Complete and free of problems: ready to log in.
    pub fn is_complete(&self) -> bool {
        self.problems.is_empty() && self.missing.is_empty()
    }

    /// The env files looked at, in priority order.
    pub fn env_files_searched(&self) -> Vec<&PathBuf> {
        self.files
            .iter()
            .filter(|f| f.kind == "env_file")
            .map(|f| &f.path)
            .collect()
    }
}

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
