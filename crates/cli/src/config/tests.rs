//! In-process tests of loading and validation (the binary tests cover the files on disk).

use secrecy::{ExposeSecret, SecretString};

use super::{load, redact, FlagValues, LoadInputs, Source, Var};

fn inputs(env: &[(&str, &str)]) -> LoadInputs {
    LoadInputs {
        cwd: std::path::PathBuf::from("/nonexistent-scalper-test-dir"),
        env: env
            .iter()
            .map(|(k, v)| ((*k).to_string(), SecretString::from(*v)))
            .collect(),
        ..LoadInputs::default()
    }
}

const CREDS: [(&str, &str); 3] = [
    ("IG_USERNAME", "alice"),
    ("IG_PASSWORD", "pw-secret-123"),
    ("IG_API_KEY", "KEY0123456789"),
];

fn with(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    let mut v = CREDS.to_vec();
    v.extend_from_slice(extra);
    v
}

#[test]
fn environment_only_configuration_is_complete_and_demo_by_default() {
    let r = load(&inputs(&CREDS));
    assert!(r.is_complete(), "{:?}", r.problems);
    assert_eq!(r.resolved.environment(), scalper_ig::Environment::Demo);
    assert_eq!(r.resolved.demo.source, Source::Default);
    assert_eq!(r.env_vars, ["IG_USERNAME", "IG_PASSWORD", "IG_API_KEY"]);
    let cfg = r.resolved.ig_config().unwrap();
    assert_eq!(cfg.api_url, "https://demo-api.ig.com/gateway/deal");
    assert_eq!(cfg.password.expose_secret(), "pw-secret-123");
    assert!(!format!("{r:?}").contains("pw-secret-123"), "Debug redacts");
    assert!(!format!("{r:?}").contains("KEY0123456789"), "Debug redacts");
}

#[test]
fn flags_beat_the_environment_and_are_listed() {
    let mut i = inputs(&with(&[("IG_SESSION_VERSION", "2")]));
    i.flags = FlagValues {
        session_version: Some("3".into()),
        api_url: Some("http://127.0.0.1:8080/gateway/deal/".into()),
        ..FlagValues::default()
    };
    let r = load(&i);
    assert!(r.is_complete(), "{:?}", r.problems);
    assert_eq!(r.resolved.session_version.value.number(), 3);
    assert_eq!(
        r.resolved.session_version.source,
        Source::Flag("--ig-session-version")
    );
    assert_eq!(
        r.resolved.api_url.value, "http://127.0.0.1:8080/gateway/deal",
        "trailing slash removed"
    );
    assert_eq!(r.flags, ["--ig-api-url", "--ig-session-version"]);
    assert_eq!(r.notes.len(), 1, "{:?}", r.notes);
}

#[test]
fn url_rules() {
    let cases: [(&str, Option<&str>, bool); 8] = [
        ("http://127.0.0.1:1/gateway/deal", None, false),
        ("http://localhost:1/gateway/deal", None, false),
        ("http://[::1]:1/gateway/deal", None, false),
        (
            "http://demo-api.ig.com/gateway/deal",
            Some("only reachable over https"),
            false,
        ),
        (
            "https://user:pw@demo-api.ig.com/gateway/deal",
            Some("credentials"),
            false,
        ),
        (
            "https://demo-api.ig.com/gateway/deal?x=1",
            Some("query"),
            false,
        ),
        ("ftp://demo-api.ig.com/", Some("https://"), false),
        ("http://10.0.0.5:8080/gateway/deal", None, true),
    ];
    for (url, problem, warns) in cases {
        let r = load(&inputs(&with(&[("IG_API_URL", url)])));
        match problem {
            Some(p) => assert!(
                r.problems
                    .iter()
                    .any(|x| x.contains(p) && x.contains("IG_API_URL")),
                "{url}: {:?}",
                r.problems
            ),
            None => assert!(r.problems.is_empty(), "{url}: {:?}", r.problems),
        }
        assert_eq!(
            r.warnings.iter().any(|w| w.contains("plain http")),
            warns,
            "{url}: {:?}",
            r.warnings
        );
    }
}

#[test]
fn secret_problems_never_quote_the_value_and_empty_values_are_ignored() {
    let r = load(&inputs(&[
        ("IG_USERNAME", "alice"),
        ("IG_PASSWORD", ""),
        ("IG_API_KEY", "KEY 0123456789"),
    ]));
    assert!(!r.is_complete());
    assert_eq!(r.missing, [Var::Password, Var::ApiKey]);
    let all = format!("{:?}{:?}", r.problems, r.warnings);
    assert!(
        all.contains("IG_API_KEY (from process environment) is invalid"),
        "{all}"
    );
    assert!(all.contains("IG_PASSWORD is set but empty"), "{all}");
    assert!(!all.contains("0123456789"), "{all}");
}

#[test]
fn values_accept_common_spellings() {
    for (demo, expect) in [("TRUE", true), ("0", false), ("no", false), ("yes", true)] {
        let r = load(&inputs(&with(&[("IG_DEMO", demo)])));
        assert_eq!(r.resolved.demo.value, expect, "{demo}");
    }
    let r = load(&inputs(&with(&[("IG_SESSION_VERSION", "v3")])));
    assert_eq!(r.resolved.session_version.value.number(), 3);
    let r = load(&inputs(&with(&[("IG_ACCOUNT_ID", " ABC12 ")])));
    assert_eq!(
        r.resolved.account_id.as_ref().unwrap().value.as_str(),
        "ABC12"
    );
}

#[test]
fn redaction_rules() {
    assert_eq!(redact(Var::ApiKey, "abcdefghijkl"), "abcd…");
    assert_eq!(redact(Var::ApiKey, "short"), "set (5 chars)");
    assert_eq!(redact(Var::Password, "hunter2"), "set (7 chars)");
    assert_eq!(redact(Var::Password, "pässwörd"), "set (8 chars)");
}

#[test]
fn report_json_and_text_agree_and_never_hold_secrets() {
    let r = load(&inputs(&CREDS));
    let text = r.to_text();
    let json = r.to_json().to_string();
    for s in [&text, &json] {
        assert!(
            !s.contains("pw-secret-123") && !s.contains("KEY0123456789"),
            "{s}"
        );
        assert!(s.contains("KEY0…") && s.contains("set (13 chars)"), "{s}");
    }
    assert!(text.contains("Result: complete."));
}

#[test]
fn an_unknown_ig_variable_in_the_environment_is_named_not_ignored_in_silence() {
    let r = load(&inputs(&with(&[
        ("IG_BASE_URL", "http://127.0.0.1:8080/gateway/deal"),
        ("OTHER_TOOL_URL", "x"),
    ])));
    assert!(r.is_complete(), "{:?}", r.problems);
    let named: Vec<_> = r
        .warnings
        .iter()
        .filter(|w| w.contains("unknown variable"))
        .collect();
    assert_eq!(named.len(), 1, "{:?}", r.warnings);
    assert!(
        named[0].contains("IG_BASE_URL") && named[0].contains("IG_API_URL"),
        "{named:?}"
    );
    assert_eq!(
        r.resolved.ig_config().unwrap().api_url,
        "https://demo-api.ig.com/gateway/deal",
        "the default stays in force"
    );
}
