//! [`Context`]: what every command gets: the global flags, the working directory, the process
//! environment's IG_* variables, and the configuration (loaded once, on first use).

use std::path::PathBuf;
use std::sync::OnceLock;

use scalper_ig::IgConfig;
use scalper_model::Epic;
use secrecy::SecretString;

use crate::args::GlobalArgs;
use crate::config::alerts::AlertsSettings;
use crate::config::{self, ConfigError, ConfigReport, FlagValues, LoadInputs, TomlConfig};

/// Shared state of one `scalper` invocation.
#[derive(Debug)]
pub struct Context {
    pub global: GlobalArgs,
    pub cwd: PathBuf,
    env: Vec<(String, SecretString)>,
    report: OnceLock<ConfigReport>,
    alerts: OnceLock<AlertsSettings>,
}

impl Context {
    /// A context reading the real process environment and working directory.
    pub fn from_process(global: GlobalArgs) -> Result<Self, ConfigError> {
        let cwd = std::env::current_dir()
            .map_err(|e| ConfigError::Usage(format!("cannot read the working directory: {e}")))?;
        let mut env = Vec::new();
        for (name, value) in std::env::vars_os() {
            let Some(name) = name.to_str().filter(|n| {
                n.starts_with("IG_") || n.starts_with(config::alerts::ALERT_VAR_PREFIX)
            }) else {
                continue;
            };
            match value.into_string() {
                Ok(v) => env.push((name.to_string(), SecretString::from(v))),
                Err(_) => {
                    return Err(ConfigError::Usage(format!(
                        "environment variable {name} is not valid UTF-8"
                    )))
                }
            }
        }
        Ok(Self::new(global, cwd, env))
    }

    /// A context with an explicit working directory and environment (tests).
    pub fn new(global: GlobalArgs, cwd: PathBuf, env: Vec<(String, SecretString)>) -> Self {
        Self {
            global,
            cwd,
            env,
            report: OnceLock::new(),
            alerts: OnceLock::new(),
        }
    }

    /// The configuration report (loaded on first call).
    pub fn config(&self) -> &ConfigReport {
        self.report.get_or_init(|| {
            let g = &self.global;
            config::load(&LoadInputs {
                cwd: self.cwd.clone(),
                env: self.env.clone(),
                env_file: g.env_file.clone(),
                config_file: g.config.clone(),
                flags: FlagValues {
                    username: g.ig_username.clone(),
                    demo: g.ig_demo.clone(),
                    account_id: g.ig_account_id.clone(),
                    api_url: g.ig_api_url.clone(),
                    session_version: g.ig_session_version.clone(),
                },
            })
        })
    }

    /// `[alerts]` with its secrets, validated (loaded on first call).
    pub fn alerts(&self) -> &AlertsSettings {
        self.alerts.get_or_init(|| {
            let report = self.config();
            let r = &report.resolved;
            let ig: Vec<&SecretString> = [&r.password, &r.api_key]
                .into_iter()
                .filter_map(|s| s.as_ref().map(|s| &s.value))
                .collect();
            config::alerts::resolve(
                &report.toml.table,
                &report.toml_path(),
                &report.alert_env,
                &ig,
            )
        })
    }

    /// The TOML file's contents (empty without one).
    pub fn toml(&self) -> &TomlConfig {
        &self.config().toml
    }

    /// The IG client configuration, or the full `config check` report as the error.
    pub fn ig_config(&self) -> Result<IgConfig, ConfigError> {
        let report = self.config();
        match report.resolved.ig_config() {
            Some(cfg) if report.is_complete() => Ok(cfg),
            _ => Err(ConfigError::Invalid(report.to_text())),
        }
    }

    /// Resolves an epic or friendly name: `[epics]` in the TOML file first, then the built-in
    /// friendly names, then anything shaped like an epic.
    pub fn resolve_epic(&self, input: &str) -> Result<Epic, ConfigError> {
        if let Some(epic) = self.toml().epic_override(input) {
            return Ok(epic.clone());
        }
        scalper_model::market::resolve_instrument(input).ok_or_else(|| {
            let names: Vec<_> = scalper_model::market::friendly_names().collect();
            ConfigError::Usage(format!(
                "unknown instrument {input:?}: give an IG epic such as CS.D.EURUSD.CFD.IP or one of {}",
                names.join(", ")
            ))
        })
    }
}
