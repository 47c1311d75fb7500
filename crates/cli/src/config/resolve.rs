//! Loading: gathers candidate values from every source in priority order (flags, process
//! environment, env files, TOML), records which files were looked at, and picks the winner of
//! each variable, noting disagreements.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};

use super::alerts;
use super::dotenv;
use super::file::{self, TomlConfig};
use super::report::{ConfigReport, FileInfo};
use super::validate::{self, Candidate};
use super::var::{Source, Sourced, Var};

/// Env files read, highest priority first, when `--env-file` is not given.
pub const ENV_FILES: [&str; 2] = [".env.scalper", ".env"];

/// Values given as command-line flags.
#[derive(Debug, Clone, Default)]
pub struct FlagValues {
    pub username: Option<String>,
    pub demo: Option<String>,
    pub account_id: Option<String>,
    pub api_url: Option<String>,
    pub session_version: Option<String>,
}

/// Everything the loader reads, gathered by the caller (so tests need no global state).
#[derive(Debug, Clone, Default)]
pub struct LoadInputs {
    /// Directory the default files are looked up in.
    pub cwd: PathBuf,
    /// The process environment's `IG_*` variables.
    pub env: Vec<(String, SecretString)>,
    /// `--env-file`: the only env file read when given.
    pub env_file: Option<PathBuf>,
    /// `--config`: the TOML file (default `scalper.toml` when present).
    pub config_file: Option<PathBuf>,
    pub flags: FlagValues,
}

/// Loads and validates the configuration. Never fails: problems are in the report.
pub fn load(inputs: &LoadInputs) -> ConfigReport {
    let mut files = Vec::new();
    let mut notes = Vec::new();
    let mut warnings = Vec::new();
    let mut problems = Vec::new();
    let mut candidates: BTreeMap<Var, Vec<Candidate>> = BTreeMap::new();
    let mut offer = |var: Var, value: SecretString, source: Source, warnings: &mut Vec<String>| {
        if value.expose_secret().trim().is_empty() {
            warnings.push(format!("{var} is set but empty in {source}; ignored"));
            return;
        }
        candidates
            .entry(var)
            .or_default()
            .push(Candidate { value, source });
    };

    let mut flags = Vec::new();
    let mut env_vars = Vec::new();
    // `SCALPER_ALERTS_*` (the alert channels' secrets), highest priority first.
    let mut alert_env: BTreeMap<String, Sourced<SecretString>> = BTreeMap::new();
    let mut offer_alert =
        |name: &str, value: SecretString, source: Source, warnings: &mut Vec<String>| {
            if !alerts::ALERT_VARS.contains(&name) {
                warnings.push(format!(
                    "{source}: unknown variable {name} ignored (known: {})",
                    alerts::ALERT_VARS.join(", ")
                ));
                return;
            }
            if value.expose_secret().trim().is_empty() {
                warnings.push(format!("{name} is set but empty in {source}; ignored"));
                return;
            }
            alert_env
                .entry(name.to_string())
                .or_insert(Sourced { value, source });
        };
    let f = &inputs.flags;
    for (var, value) in [
        (Var::Username, &f.username),
        (Var::Demo, &f.demo),
        (Var::AccountId, &f.account_id),
        (Var::ApiUrl, &f.api_url),
        (Var::SessionVersion, &f.session_version),
    ] {
        if let (Some(v), Some(flag)) = (value, var.flag()) {
            flags.push(flag);
            offer(
                var,
                SecretString::from(v.clone()),
                Source::Flag(flag),
                &mut warnings,
            );
        }
    }

    for (name, value) in &inputs.env {
        if let Some(var) = Var::from_name(name) {
            env_vars.push(var.name());
            offer(var, value.clone(), Source::Environment, &mut warnings);
        } else if name.starts_with(alerts::ALERT_VAR_PREFIX) {
            offer_alert(name, value.clone(), Source::Environment, &mut warnings);
        } else if name.starts_with("IG_") {
            // A misspelt name (`IG_BASE_URL` for `IG_API_URL`) would otherwise leave the
            // default in force without a word: logged, so every command says it.
            let warning = format!(
                "{}: unknown variable {name} ignored (known: {})",
                Source::Environment,
                Var::ALL.map(Var::name).join(", ")
            );
            tracing::warn!("{warning}");
            warnings.push(warning);
        }
    }

    let env_paths: Vec<(PathBuf, bool)> = match &inputs.env_file {
        Some(p) => vec![(inputs.cwd.join(p), true)],
        None => ENV_FILES
            .iter()
            .map(|n| (inputs.cwd.join(n), false))
            .collect(),
    };
    for (path, explicit) in env_paths {
        let (info, entries) = read_env_file(&path, explicit, &mut warnings, &mut problems);
        files.push(info);
        for entry in entries {
            let source = Source::EnvFile {
                path: path.clone(),
                line: entry.line,
            };
            match Var::from_name(&entry.key) {
                Some(var) => offer(var, entry.value, source, &mut warnings),
                None if entry.key.starts_with(alerts::ALERT_VAR_PREFIX) => {
                    offer_alert(&entry.key, entry.value, source, &mut warnings);
                }
                None if entry.key.starts_with("IG_") => {
                    let warning = format!(
                        "{source}: unknown variable {} ignored (known: {})",
                        entry.key,
                        Var::ALL.map(Var::name).join(", ")
                    );
                    tracing::warn!("{warning}");
                    warnings.push(warning);
                }
                None => {}
            }
        }
    }

    let (toml_info, toml) = read_toml(inputs, &mut problems);
    for (key, value) in &toml.ig {
        if let Some(var) = Var::ALL
            .into_iter()
            .find(|v| v.toml_key() == Some(key.as_str()))
        {
            let source = Source::Toml {
                path: toml_info.path.clone(),
                key: format!("ig.{key}"),
            };
            offer(
                var,
                SecretString::from(value.clone()),
                source,
                &mut warnings,
            );
        }
    }
    files.push(toml_info);

    let mut chosen = BTreeMap::new();
    for (var, mut list) in candidates {
        for other in list.iter().skip(1) {
            if other.value.expose_secret() != list[0].value.expose_secret() {
                notes.push(format!(
                    "{var} differs between {} and {}: {} wins",
                    list[0].source, other.source, list[0].source
                ));
            }
        }
        chosen.insert(var, list.swap_remove(0));
    }
    let resolved = validate::resolve(chosen, &mut problems, &mut warnings);
    let missing: Vec<Var> = Var::ALL
        .into_iter()
        .filter(|v| v.is_required() && !resolved.is_set(*v))
        .collect();
    ConfigReport {
        flags,
        env_vars,
        files,
        resolved,
        notes,
        warnings,
        problems,
        missing,
        toml,
        alert_env,
    }
}

fn read_env_file(
    path: &Path,
    explicit: bool,
    warnings: &mut Vec<String>,
    problems: &mut Vec<String>,
) -> (FileInfo, Vec<dotenv::Entry>) {
    let mut info = FileInfo {
        kind: "env_file",
        path: path.to_path_buf(),
        found: false,
        mode: None,
        explicit,
    };
    let text = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if explicit {
                problems.push(format!("--env-file {}: file not found", path.display()));
            }
            return (info, Vec::new());
        }
        Err(e) => {
            info.found = path.exists();
            problems.push(format!("cannot read {}: {e}", path.display()));
            return (info, Vec::new());
        }
    };
    info.found = true;
    info.mode = file_mode(path);
    if let Some(mode) = info.mode {
        if mode & 0o044 != 0 {
            let warning = format!(
                "{} is readable by group or others (mode {:o}): it holds credentials, run `chmod 600 {}`",
                path.display(),
                mode & 0o777,
                path.display()
            );
            // Every command that reads the env files loads them here: the warning reaches the
            // console (stderr) and the log file whichever command it is, not only `config check`.
            tracing::warn!("{warning}");
            warnings.push(warning);
        }
    }
    let Ok(text) = String::from_utf8(text) else {
        problems.push(format!("{}: not valid UTF-8 text", path.display()));
        return (info, Vec::new());
    };
    match dotenv::parse(&text) {
        Ok(entries) => (info, entries),
        Err(e) => {
            problems.push(format!(
                "{}:{}: {} (file ignored)",
                path.display(),
                e.line,
                e.message
            ));
            (info, Vec::new())
        }
    }
}

#[cfg(unix)]
fn file_mode(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).ok().map(|m| m.permissions().mode())
}

#[cfg(not(unix))]
fn file_mode(_path: &Path) -> Option<u32> {
    None
}

fn read_toml(inputs: &LoadInputs, problems: &mut Vec<String>) -> (FileInfo, TomlConfig) {
    let explicit = inputs.config_file.is_some();
    let path = inputs.cwd.join(
        inputs
            .config_file
            .clone()
            .unwrap_or_else(|| PathBuf::from(file::TOML_DEFAULT)),
    );
    let mut info = FileInfo {
        kind: "config_file",
        path: path.clone(),
        found: false,
        mode: None,
        explicit,
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if explicit {
                problems.push(format!("--config {}: file not found", path.display()));
            }
            return (info, TomlConfig::default());
        }
        Err(e) => {
            problems.push(format!("cannot read {}: {e}", path.display()));
            return (info, TomlConfig::default());
        }
    };
    info.found = true;
    info.mode = file_mode(&path);
    match file::parse(&path, &text) {
        Ok(cfg) => (info, cfg),
        Err(errs) => {
            problems.extend(errs);
            (info, TomlConfig::default())
        }
    }
}
