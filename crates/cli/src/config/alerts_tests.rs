//! Tests of `[alerts]` resolution: sources, redaction, and problems that name the key.

use super::*;

fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, Sourced<SecretString>> {
    pairs
        .iter()
        .map(|(k, v)| {
            (
                (*k).to_string(),
                Sourced {
                    value: SecretString::from((*v).to_string()),
                    source: Source::Environment,
                },
            )
        })
        .collect()
}

fn load(text: &str, pairs: &[(&str, &str)]) -> AlertsSettings {
    let table: toml::Table = text.parse().unwrap();
    resolve(&table, Path::new("scalper.toml"), &env(pairs), &[])
}

#[test]
fn no_section_no_alerts() {
    let s = load("[engine]\n", &[]);
    assert!(!s.present && s.config.is_none() && s.problems.is_empty());
    let s = load(
        "[alerts.webhook]\nurl = \"https://h.example.com/x\"\n",
        &[(SLACK_URL_VAR, "https://hooks.slack.com/services/T/B/x")],
    );
    assert!(
        s.warnings.iter().any(|w| w.contains("no [alerts.slack]")),
        "{:?}",
        s.warnings
    );
    assert!(!format!("{:?}", s.warnings).contains("hooks.slack.com"));
}

#[test]
fn every_channel_with_its_sources() {
    let s = load(
        "[alerts]\nname = \"vps-1\"\nstream_silent_s = 20\ndaily_summary = \"off\"\n\
         [alerts.webhook]\nurl = \"https://hooks.example.com/x\"\n\
         [alerts.slack]\n\
         [alerts.telegram]\nchat_id = -100123\nbase_url = \"http://127.0.0.1:9/\"\n\
         [alerts.email]\nhost = \"smtp.example.com\"\nusername = \"bot\"\nfrom = \"bot@example.com\"\nto = [\"a@example.com\", \"b@example.com\"]\n",
        &[
            (SLACK_URL_VAR, "https://hooks.slack.com/services/T0/B0/SECRETPATH"),
            (TELEGRAM_TOKEN_VAR, "123456:ABCdefGHIjklMNOpqr"),
            (SMTP_PASSWORD_VAR, "smtp-pass-123"),
        ],
    );
    assert!(s.problems.is_empty(), "{:?}", s.problems);
    let cfg = s.config.as_ref().unwrap();
    assert_eq!(cfg.source, "vps-1");
    assert_eq!(cfg.watch.stream_silent, Duration::from_secs(20));
    assert_eq!(cfg.watch.daily_summary_at, None);
    let names: Vec<_> = cfg.channels.iter().map(ChannelConfig::name).collect();
    assert_eq!(names, ["webhook", "slack", "telegram", "email"]);
    let all = format!("{:?}", s.settings);
    for secret in ["SECRETPATH", "ABCdefGHIjklMNOpqr", "smtp-pass-123"] {
        assert!(!all.contains(secret), "{secret} shown: {all}");
    }
    let token = s
        .settings
        .iter()
        .find(|x| x.key == "alerts.telegram.token")
        .unwrap();
    assert_eq!(token.source, Source::Environment);
    let chat = s
        .settings
        .iter()
        .find(|x| x.key == "alerts.telegram.chat_id")
        .unwrap();
    assert_eq!(chat.shown, "-100123");
    assert!(matches!(chat.source, Source::Toml { .. }));
    assert_eq!(s.redactor.scrub("x smtp-pass-123 y"), "x [redacted] y");
}

#[test]
fn problems_name_the_key_and_the_fix() {
    let cases = [
        ("[alerts]\nfoo = 1\n", "unknown key `alerts.foo`"),
        ("[alerts]\nqueue = 0\n", "`alerts.queue` = 0 is invalid"),
        (
            "[alerts]\ndaily_summary = \"9pm\"\n",
            "expected a UTC time of day",
        ),
        ("[alerts.webhook]\n", "set SCALPER_ALERTS_WEBHOOK_URL"),
        (
            "[alerts.webhook]\nurl = \"ftp://x\"\n",
            "must start with https://",
        ),
        (
            "[alerts.telegram]\nchat_id = \"1\"\n",
            "set SCALPER_ALERTS_TELEGRAM_TOKEN",
        ),
        ("[alerts.telegram]\n", "needs `chat_id`"),
        (
            "[alerts.email]\nhost = \"h\"\nfrom = \"a@b.c\"\n",
            "needs `to`",
        ),
        (
            "[alerts.email]\nhost = \"h\"\nfrom = \"a@b.c\"\nto = \"x@y.z\"\nusername = \"u\"\n",
            "set SCALPER_ALERTS_SMTP_PASSWORD",
        ),
        (
            "[alerts.email]\nhost = \"h\"\nfrom = \"not an address\"\nto = \"x@y.z\"\n",
            "is not an e-mail address",
        ),
    ];
    for (text, want) in cases {
        let s = load(text, &[]);
        assert!(s.config.is_none(), "{text}");
        assert!(
            s.problems.iter().any(|p| p.contains(want)),
            "{text}: want {want:?} in {:?}",
            s.problems
        );
    }
    let s = load(
        "[alerts.telegram]\nchat_id = \"1\"\n",
        &[(TELEGRAM_TOKEN_VAR, "not a token")],
    );
    assert!(
        s.problems
            .iter()
            .any(|p| p.contains("does not look like a bot token")),
        "{:?}",
        s.problems
    );
    assert!(!format!("{:?}", s.problems).contains("not a token"));
}
