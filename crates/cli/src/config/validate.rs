//! Validation of the chosen values into typed settings ([`Resolved`]), with problems that name
//! the variable and its source, and the IG_DEMO / IG_API_URL consistency checks.

use std::collections::BTreeMap;

use scalper_ig::{Environment, IgConfig, SessionVersion};
use scalper_model::AccountId;
use secrecy::{ExposeSecret, SecretString};

use super::var::{Source, Sourced, Var};

/// The validated settings (invalid or missing values are `None` / defaults, with a problem
/// recorded in the report).
#[derive(Debug)]
pub struct Resolved {
    pub username: Option<Sourced<String>>,
    pub password: Option<Sourced<SecretString>>,
    pub api_key: Option<Sourced<SecretString>>,
    /// `true` (demo) unless IG_DEMO=false.
    pub demo: Sourced<bool>,
    pub account_id: Option<Sourced<AccountId>>,
    /// REST base URL without a trailing `/`.
    pub api_url: Sourced<String>,
    pub session_version: Sourced<SessionVersion>,
}

impl Resolved {
    pub fn environment(&self) -> Environment {
        if self.demo.value {
            Environment::Demo
        } else {
            Environment::Live
        }
    }

    pub(super) fn is_set(&self, var: Var) -> bool {
        self.source(var).is_some_and(|s| *s != Source::Default)
    }

    /// Where a variable's value came from (`None` when unset).
    pub fn source(&self, var: Var) -> Option<&Source> {
        match var {
            Var::Username => self.username.as_ref().map(|s| &s.source),
            Var::Password => self.password.as_ref().map(|s| &s.source),
            Var::ApiKey => self.api_key.as_ref().map(|s| &s.source),
            Var::Demo => Some(&self.demo.source),
            Var::AccountId => self.account_id.as_ref().map(|s| &s.source),
            Var::ApiUrl => Some(&self.api_url.source),
            Var::SessionVersion => Some(&self.session_version.source),
        }
    }

    /// The client configuration, when the credentials are all present.
    pub fn ig_config(&self) -> Option<IgConfig> {
        let (u, p, k) = (
            self.username.as_ref()?,
            self.password.as_ref()?,
            self.api_key.as_ref()?,
        );
        Some(
            IgConfig::new(
                self.environment(),
                u.value.clone(),
                p.value.clone(),
                k.value.clone(),
            )
            .with_api_url(self.api_url.value.clone())
            .with_session_version(self.session_version.value)
            .with_account_id(self.account_id.as_ref().map(|a| a.value.clone())),
        )
    }
}

/// A value offered by one source.
pub(super) struct Candidate {
    pub value: SecretString,
    pub source: Source,
}

pub(super) fn resolve(
    mut chosen: BTreeMap<Var, Candidate>,
    problems: &mut Vec<String>,
    warnings: &mut Vec<String>,
) -> Resolved {
    let mut take = |var: Var| chosen.remove(&var);
    let bad = |var: Var, c: &Candidate, why: &str| {
        if var.is_secret() {
            format!("{var} (from {}) is invalid: {why}", c.source)
        } else {
            format!(
                "{var}={:?} (from {}) is invalid: {why}",
                c.value.expose_secret(),
                c.source
            )
        }
    };

    let username = take(Var::Username).and_then(|c| {
        let v = c.value.expose_secret().trim().to_string();
        if v.chars().any(char::is_control) {
            problems.push(bad(Var::Username, &c, "contains control characters"));
            return None;
        }
        Some(Sourced {
            value: v,
            source: c.source,
        })
    });
    let secret = |var: Var, c: Candidate, problems: &mut Vec<String>| {
        let v = c.value.expose_secret();
        if var == Var::ApiKey && v.chars().any(|ch| ch.is_whitespace() || ch.is_control()) {
            problems.push(bad(var, &c, "contains whitespace or control characters"));
            return None;
        }
        if v.chars().any(char::is_control) {
            problems.push(bad(var, &c, "contains control characters"));
            return None;
        }
        Some(Sourced {
            value: c.value,
            source: c.source,
        })
    };
    let password = take(Var::Password).and_then(|c| secret(Var::Password, c, problems));
    let api_key = take(Var::ApiKey).and_then(|c| secret(Var::ApiKey, c, problems));

    let demo = match take(Var::Demo) {
        None => Sourced {
            value: true,
            source: Source::Default,
        },
        Some(c) => {
            if let Some(b) = parse_bool(c.value.expose_secret()) {
                Sourced {
                    value: b,
                    source: c.source,
                }
            } else {
                problems.push(bad(Var::Demo, &c, "expected true or false"));
                Sourced {
                    value: true,
                    source: Source::Default,
                }
            }
        }
    };

    let account_id =
        take(Var::AccountId).and_then(|c| match AccountId::new(c.value.expose_secret().trim()) {
            Ok(a) => Some(Sourced {
                value: a,
                source: c.source,
            }),
            Err(e) => {
                problems.push(bad(Var::AccountId, &c, e.rule));
                None
            }
        });

    let session_version = match take(Var::SessionVersion) {
        None => Sourced {
            value: SessionVersion::V2,
            source: Source::Default,
        },
        Some(c) => match c.value.expose_secret().trim() {
            "2" | "v2" | "V2" => Sourced {
                value: SessionVersion::V2,
                source: c.source,
            },
            "3" | "v3" | "V3" => Sourced {
                value: SessionVersion::V3,
                source: c.source,
            },
            _ => {
                problems.push(bad(Var::SessionVersion, &c, "expected 2 or 3"));
                Sourced {
                    value: SessionVersion::V2,
                    source: Source::Default,
                }
            }
        },
    };

    let env = if demo.value {
        Environment::Demo
    } else {
        Environment::Live
    };
    let api_url = match take(Var::ApiUrl) {
        None => Sourced {
            value: env.default_api_url().to_string(),
            source: Source::Default,
        },
        Some(c) => match check_url(c.value.expose_secret(), &demo, &c.source, warnings) {
            Ok(url) => Sourced {
                value: url,
                source: c.source,
            },
            Err(why) => {
                problems.push(bad(Var::ApiUrl, &c, &why));
                Sourced {
                    value: env.default_api_url().to_string(),
                    source: Source::Default,
                }
            }
        },
    };

    Resolved {
        username,
        password,
        api_key,
        demo,
        account_id,
        api_url,
        session_version,
    }
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Some(true),
        "false" | "0" | "no" => Some(false),
        _ => None,
    }
}

/// Validates a REST base URL and its consistency with IG_DEMO. Returns it without a trailing
/// slash.
fn check_url(
    raw: &str,
    demo: &Sourced<bool>,
    source: &Source,
    warnings: &mut Vec<String>,
) -> Result<String, String> {
    let trimmed = raw.trim().trim_end_matches('/');
    let url = url::Url::parse(trimmed).map_err(|e| format!("not a URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("must start with https:// (or http:// for a local sandbox)".into());
    }
    let Some(host) = url.host_str().map(str::to_ascii_lowercase) else {
        return Err("has no host".into());
    };
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not contain credentials".into());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("must not contain a query or fragment".into());
    }
    let is_ig = host == "ig.com" || host.ends_with(".ig.com");
    let loopback = host == "localhost"
        || host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if url.scheme() == "http" && is_ig {
        return Err("IG is only reachable over https://".into());
    }
    if url.scheme() == "http" && !loopback {
        warnings.push(format!(
            "IG_API_URL (from {source}) uses plain http:// to a non-loopback host: credentials travel unencrypted"
        ));
    }
    let demo_host = host.starts_with("demo-") && is_ig;
    if is_ig && demo_host && !demo.value {
        return Err(format!(
            "it points at IG's DEMO host {host} but IG_DEMO=false (from {}): set IG_DEMO=true, or use https://api.ig.com/gateway/deal for LIVE",
            demo.source
        ));
    }
    if is_ig && !demo_host && demo.value {
        let why = if demo.source == Source::Default {
            "IG_DEMO is unset (demo)".to_string()
        } else {
            format!("IG_DEMO=true (from {})", demo.source)
        };
        return Err(format!(
            "it points at IG's LIVE host {host} but {why}: set IG_DEMO=false to use LIVE, or https://demo-api.ig.com/gateway/deal for DEMO"
        ));
    }
    Ok(trimmed.to_string())
}
