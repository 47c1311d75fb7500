//! The TOML configuration file (`scalper.toml`): `[ig]` non-secret settings, `[epics]`
//! friendly-name overrides, and other sections (`[engine]`, ...) kept for the commands that
//! read them. A secret anywhere in the file is refused, naming its key.

use std::collections::BTreeMap;
use std::path::Path;

use scalper_model::Epic;

/// Default file name, read from the working directory when present.
pub const TOML_DEFAULT: &str = "scalper.toml";

/// Key names that hold secrets (compared lower-case with `-` as `_`).
const SECRET_KEYS: [&str; 12] = [
    "password",
    "ig_password",
    "api_key",
    "apikey",
    "ig_api_key",
    "secret",
    "token",
    "cst",
    "x_security_token",
    "access_token",
    "refresh_token",
    "pass",
];

/// The parsed TOML file.
#[derive(Debug, Clone, Default)]
pub struct TomlConfig {
    /// The whole document, for sections other commands deserialize (e.g. `engine`).
    pub table: toml::Table,
    /// `[ig]` values as strings, keyed by their `ig.` key.
    pub ig: BTreeMap<String, String>,
    /// `[epics]`: friendly name (normalized: upper-case alphanumerics) -> epic.
    pub epics: BTreeMap<String, Epic>,
}

impl TomlConfig {
    /// A top-level section as a typed value (`None` when absent).
    pub fn section<T: serde::de::DeserializeOwned>(&self, name: &str) -> Result<Option<T>, String> {
        match self.table.get(name) {
            None => Ok(None),
            Some(v) => v
                .clone()
                .try_into()
                .map(Some)
                .map_err(|e| format!("[{name}]: {e}")),
        }
    }

    /// The epic configured for a friendly name, if any.
    pub fn epic_override(&self, name: &str) -> Option<&Epic> {
        self.epics.get(&normalize_name(name))
    }
}

/// `eur/usd`, `EUR_USD` and `eurusd` all become `EURUSD`.
pub fn normalize_name(name: &str) -> String {
    name.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// Parses the file's text. Errors are complete sentences naming the file (and key).
pub fn parse(path: &Path, text: &str) -> Result<TomlConfig, Vec<String>> {
    let shown = path.display();
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| vec![format!("{shown}: invalid TOML: {}", e.message())])?;
    let mut problems = Vec::new();
    find_secrets(&table, "", path, &mut problems);
    if !problems.is_empty() {
        return Err(problems);
    }
    let mut cfg = TomlConfig {
        table: table.clone(),
        ..TomlConfig::default()
    };
    if let Some(ig) = table.get("ig") {
        match ig.as_table() {
            Some(ig) => {
                for (key, value) in ig {
                    let known = [
                        "username",
                        "demo",
                        "account_id",
                        "api_url",
                        "session_version",
                    ];
                    if !known.contains(&key.as_str()) {
                        problems.push(format!(
                            "{shown}: unknown key `ig.{key}` (known: {})",
                            known.join(", ")
                        ));
                        continue;
                    }
                    match value {
                        toml::Value::String(s) => cfg.ig.insert(key.clone(), s.clone()),
                        toml::Value::Boolean(b) => cfg.ig.insert(key.clone(), b.to_string()),
                        toml::Value::Integer(i) => cfg.ig.insert(key.clone(), i.to_string()),
                        _ => {
                            problems.push(format!(
                                "{shown}: `ig.{key}` must be a string, boolean or integer"
                            ));
                            None
                        }
                    };
                }
            }
            None => problems.push(format!("{shown}: `ig` must be a table ([ig])")),
        }
    }
    if let Some(epics) = table.get("epics") {
        match epics.as_table() {
            Some(epics) => {
                for (name, value) in epics {
                    match value.as_str().map(Epic::new) {
                        Some(Ok(epic)) => {
                            cfg.epics.insert(normalize_name(name), epic);
                        }
                        Some(Err(e)) => problems.push(format!("{shown}: `epics.{name}`: {e}")),
                        None => problems.push(format!(
                            "{shown}: `epics.{name}` must be a string such as \"CS.D.EURUSD.CFD.IP\""
                        )),
                    }
                }
            }
            None => problems.push(format!("{shown}: `epics` must be a table ([epics])")),
        }
    }
    if problems.is_empty() {
        Ok(cfg)
    } else {
        Err(problems)
    }
}

fn find_secrets(table: &toml::Table, prefix: &str, path: &Path, out: &mut Vec<String>) {
    for (key, value) in table {
        let dotted = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        let norm = key.to_ascii_lowercase().replace('-', "_");
        if SECRET_KEYS.contains(&norm.as_str()) {
            let instead = if dotted.starts_with("alerts.") {
                "SCALPER_ALERTS_TELEGRAM_TOKEN / SCALPER_ALERTS_SMTP_PASSWORD"
            } else {
                "IG_PASSWORD / IG_API_KEY"
            };
            out.push(format!(
                "{}: key `{dotted}` holds a secret, and secrets are never read from TOML: remove it and set {instead} in the environment or an env file (chmod 600)",
                path.display()
            ));
        } else if let Some(t) = value.as_table() {
            find_secrets(t, &dotted, path, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> &'static Path {
        Path::new("scalper.toml")
    }

    #[test]
    fn parses_ig_epics_and_keeps_other_sections() {
        let cfg = parse(
            p(),
            "[ig]\ndemo = false\nsession_version = 3\napi_url = \"http://127.0.0.1:1/gateway/deal\"\n\
             [epics]\nEUR_USD = \"CS.D.EURUSD.MINI.IP\"\n[engine]\nseed = 4\n",
        )
        .unwrap();
        assert_eq!(cfg.ig["demo"], "false");
        assert_eq!(cfg.ig["session_version"], "3");
        assert_eq!(
            cfg.epic_override("eur/usd").unwrap().as_str(),
            "CS.D.EURUSD.MINI.IP"
        );
        assert!(cfg.table.contains_key("engine"));
    }

    #[test]
    fn secrets_are_refused_naming_the_key() {
        for (text, key) in [
            ("[ig]\npassword = \"x\"", "ig.password"),
            ("[ig]\napi-key = \"x\"", "ig.api-key"),
            ("IG_API_KEY = \"x\"", "IG_API_KEY"),
            ("[a.b]\ntoken = \"x\"", "a.b.token"),
        ] {
            let e = parse(p(), text).unwrap_err();
            assert_eq!(e.len(), 1);
            assert!(e[0].contains(&format!("`{key}`")), "{}", e[0]);
            assert!(e[0].contains("never read from TOML"), "{}", e[0]);
        }
    }

    #[test]
    fn bad_files_are_explained() {
        assert!(parse(p(), "[ig\n").unwrap_err()[0].contains("invalid TOML"));
        assert!(parse(p(), "[ig]\nfoo = 1").unwrap_err()[0].contains("unknown key `ig.foo`"));
        assert!(parse(p(), "[epics]\nEUR_USD = \"x y\"").unwrap_err()[0].contains("epics.EUR_USD"));
    }
}
