//! The vocabulary of the configuration: the variables scalper reads ([`Var`]) and where each
//! value came from ([`Source`], [`Sourced`]).

use std::fmt;
use std::path::PathBuf;

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
