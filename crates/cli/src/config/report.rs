//! The outcome of loading the configuration ([`ConfigReport`]) and its rendering as text or one
//! JSON object, with redacted secrets: the API key shows its first 4 characters, the password
//! only its length.

use std::fmt::Write as _;
use std::path::PathBuf;

use secrecy::ExposeSecret;
use serde_json::{json, Value};

use super::file::TomlConfig;
use super::validate::Resolved;
use super::var::{Source, Var};

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
    /// `SCALPER_ALERTS_*` values (the alert channels' secrets) with their sources.
    pub alert_env: std::collections::BTreeMap<String, super::var::Sourced<secrecy::SecretString>>,
}

impl ConfigReport {
    /// The TOML file's path (looked at, found or not).
    pub fn toml_path(&self) -> PathBuf {
        self.files
            .iter()
            .find(|f| f.kind == "config_file")
            .map_or_else(
                || PathBuf::from(super::file::TOML_DEFAULT),
                |f| f.path.clone(),
            )
    }

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

/// Redacted display of a secret value.
pub fn redact(var: Var, value: &str) -> String {
    let n = value.chars().count();
    match var {
        Var::ApiKey if n >= 8 => format!("{}…", value.chars().take(4).collect::<String>()),
        _ => format!("set ({n} chars)"),
    }
}

impl ConfigReport {
    /// The value of a variable as `config check` shows it (`None` when unset).
    pub fn display_value(&self, var: Var) -> Option<String> {
        let r = &self.resolved;
        match var {
            Var::Username => r.username.as_ref().map(|s| s.value.clone()),
            Var::Password => r
                .password
                .as_ref()
                .map(|s| redact(var, s.value.expose_secret())),
            Var::ApiKey => r
                .api_key
                .as_ref()
                .map(|s| redact(var, s.value.expose_secret())),
            Var::Demo => Some(r.demo.value.to_string()),
            Var::AccountId => r.account_id.as_ref().map(|s| s.value.to_string()),
            Var::ApiUrl => Some(r.api_url.value.clone()),
            Var::SessionVersion => Some(r.session_version.value.number().to_string()),
        }
    }

    fn unset_text(var: Var) -> &'static str {
        match var {
            Var::AccountId => "(unset: IG's default account)",
            _ if var.is_required() => "MISSING",
            _ => "(unset)",
        }
    }

    /// The human-readable report.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "Sources (highest priority first):");
        let flags = if self.flags.is_empty() {
            "none".to_string()
        } else {
            self.flags.join(", ")
        };
        let _ = writeln!(out, "  command-line flags:   {flags}");
        let env = if self.env_vars.is_empty() {
            "no IG_* variables".to_string()
        } else {
            self.env_vars.join(", ")
        };
        let _ = writeln!(out, "  process environment:  {env}");
        for f in &self.files {
            let kind = if f.kind == "env_file" {
                "env file:"
            } else {
                "config file:"
            };
            let state = match (f.found, f.mode) {
                (true, Some(m)) => format!("found (mode {:o})", m & 0o777),
                (true, None) => "found".to_string(),
                (false, _) => "not found".to_string(),
            };
            let _ = writeln!(out, "  {kind:<21} {}  {state}", f.path.display());
        }
        let _ = writeln!(out, "\nVariables:");
        for var in Var::ALL {
            let (value, from) = match (self.display_value(var), self.resolved.source(var)) {
                (Some(v), Some(s)) if *s != Source::Default => (v, format!("from {s}")),
                (Some(v), _) if var == Var::Demo => {
                    (format!("{v} (unset: demo)"), "default".to_string())
                }
                (Some(v), _) => (v, "default".to_string()),
                (None, _) => (Self::unset_text(var).to_string(), String::new()),
            };
            let _ = writeln!(out, "  {:<20}{value:<44} {from}", var.name());
        }
        let _ = writeln!(
            out,
            "\nEnvironment: {} ({})",
            self.resolved.environment(),
            self.resolved.api_url.value
        );
        for (title, items) in [
            ("Notes", &self.notes),
            ("Warnings", &self.warnings),
            ("Problems", &self.problems),
        ] {
            if !items.is_empty() {
                let _ = writeln!(out, "\n{title}:");
                for i in items {
                    let _ = writeln!(out, "  - {i}");
                }
            }
        }
        if self.is_complete() {
            let _ = writeln!(out, "\nResult: complete.");
        } else {
            let _ = writeln!(out, "\nResult: INCOMPLETE.");
            if !self.missing.is_empty() {
                let names: Vec<_> = self.missing.iter().map(|v| v.name()).collect();
                let files: Vec<_> = self
                    .env_files_searched()
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect();
                let _ = writeln!(
                    out,
                    "  Missing: {}. Set them in the process environment or in an env file; files searched: {}.",
                    names.join(", "),
                    files.join(", ")
                );
            }
            if !self.problems.is_empty() {
                let _ = writeln!(out, "  {} problem(s) listed above.", self.problems.len());
            }
        }
        out
    }

    /// The report as one JSON object.
    pub fn to_json(&self) -> Value {
        let files: Vec<Value> = self
            .files
            .iter()
            .map(|f| {
                json!({
                    "kind": f.kind,
                    "path": f.path.display().to_string(),
                    "found": f.found,
                    "explicit": f.explicit,
                    "mode": f.mode.map(|m| format!("{:o}", m & 0o777)),
                })
            })
            .collect();
        let mut vars = serde_json::Map::new();
        for var in Var::ALL {
            let source = self.resolved.source(var);
            let set = source.is_some_and(|s| *s != Source::Default);
            vars.insert(
                var.name().to_string(),
                json!({
                    "set": set,
                    "value": self.display_value(var),
                    "source": source.map(ToString::to_string),
                    "source_kind": source.map(Source::kind),
                    "secret": var.is_secret(),
                }),
            );
        }
        json!({
            "complete": self.is_complete(),
            "environment": self.resolved.environment().as_str(),
            "api_url": self.resolved.api_url.value,
            "session_version": self.resolved.session_version.value.number(),
            "flags": self.flags,
            "env_vars": self.env_vars,
            "files": files,
            "files_searched": self.env_files_searched().iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
            "variables": vars,
            "notes": self.notes,
            "warnings": self.warnings,
            "problems": self.problems,
            "missing": self.missing.iter().map(|v| v.name()).collect::<Vec<_>>(),
        })
    }
}
