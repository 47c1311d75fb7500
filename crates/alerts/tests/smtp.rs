//! The e-mail channel against a fake SMTP server on 127.0.0.1 that speaks enough SMTP,
//! including STARTTLS with a certificate signed by a CA made here (trusted through
//! `ca_file`): delivery after STARTTLS and AUTH, a busy server retried, a refused login not
//! retried and explained without the password, and a server without STARTTLS refused.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use common::eventually;
use scalper_alerts::{
    test_channels, Alerts, AlertsConfig, ChannelConfig, Delivery, EmailConfig, Event, Redactor,
    WatchConfig,
};
use scalper_live::AlertTally;
use secrecy::SecretString;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio_rustls::rustls;
use tokio_rustls::TlsAcceptor;

const PASSWORD: &str = "s3cret-smtp-pw";

#[derive(Debug, Default, Clone)]
struct Log {
    connections: u32,
    /// (user, password, over TLS)
    auths: Vec<(String, String, bool)>,
    /// (recipients, data, over TLS)
    mails: Vec<(Vec<String>, String, bool)>,
}

#[derive(Clone)]
struct Behaviour {
    starttls: bool,
    busy_first: u32,
}

struct FakeSmtp {
    port: u16,
    ca_file: PathBuf,
    log: Arc<Mutex<Log>>,
    _dir: tempfile::TempDir,
}

impl FakeSmtp {
    async fn start(b: Behaviour) -> Self {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "scalper test CA");
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let leaf_key = rcgen::KeyPair::generate().unwrap();
        let leaf = rcgen::CertificateParams::new(vec!["localhost".to_string()])
            .unwrap()
            .signed_by(&leaf_key, &ca, &ca_key)
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let ca_file = dir.path().join("ca.pem");
        std::fs::write(&ca_file, ca.pem()).unwrap();
        let server = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
        )
        .unwrap();
        let acceptor = TlsAcceptor::from(Arc::new(server));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let log: Arc<Mutex<Log>> = Arc::default();
        let shared = log.clone();
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let n = {
                    let mut l = shared.lock().unwrap();
                    l.connections += 1;
                    l.connections
                };
                let (acceptor, log, b) = (acceptor.clone(), shared.clone(), b.clone());
                tokio::spawn(async move {
                    let mut s = BufReader::new(tcp);
                    if n <= b.busy_first {
                        let _ = s.write_all(b"421 4.3.2 busy, try again later\r\n").await;
                        return;
                    }
                    let _ = s.write_all(b"220 localhost fake ESMTP\r\n").await;
                    if plain_phase(&mut s, &b, &log).await {
                        let Ok(tls) = acceptor.accept(s.into_inner()).await else {
                            return;
                        };
                        session(BufReader::new(tls), &log, true).await;
                    }
                });
            }
        });
        Self {
            port,
            ca_file,
            log,
            _dir: dir,
        }
    }

    fn log(&self) -> Log {
        self.log.lock().unwrap().clone()
    }

    fn channel(&self, password: &str) -> ChannelConfig {
        ChannelConfig::Email(EmailConfig {
            host: "localhost".into(),
            port: self.port,
            username: Some("bot".into()),
            password: Some(SecretString::from(password.to_string())),
            from: "scalper@example.com".into(),
            to: vec!["ops@example.com".into(), "oncall@example.com".into()],
            ca_file: Some(self.ca_file.clone()),
        })
    }
}

async fn reply<S: AsyncWrite + Unpin>(s: &mut S, text: &str) {
    let _ = s.write_all(text.as_bytes()).await;
    let _ = s.flush().await;
}

/// Before TLS: EHLO (offering STARTTLS when asked to), STARTTLS. True when TLS should start.
async fn plain_phase<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut BufReader<S>,
    b: &Behaviour,
    _log: &Mutex<Log>,
) -> bool {
    let mut line = String::new();
    loop {
        line.clear();
        if s.read_line(&mut line).await.unwrap_or(0) == 0 {
            return false;
        }
        let cmd = line.trim_end().to_ascii_uppercase();
        if cmd.starts_with("EHLO") {
            if b.starttls {
                reply(s, "250-localhost\r\n250-STARTTLS\r\n250 8BITMIME\r\n").await;
            } else {
                reply(s, "250-localhost\r\n250 AUTH PLAIN\r\n").await;
            }
        } else if cmd == "STARTTLS" && b.starttls {
            reply(s, "220 2.0.0 ready to start TLS\r\n").await;
            return true;
        } else if cmd == "QUIT" {
            reply(s, "221 bye\r\n").await;
            return false;
        } else {
            reply(s, "530 5.7.0 must issue STARTTLS first\r\n").await;
        }
    }
}

/// After TLS: EHLO, AUTH PLAIN, MAIL, RCPT, DATA, QUIT.
async fn session<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: BufReader<S>,
    log: &Mutex<Log>,
    tls: bool,
) {
    let mut line = String::new();
    let mut rcpts = Vec::new();
    loop {
        line.clear();
        if s.read_line(&mut line).await.unwrap_or(0) == 0 {
            return;
        }
        let raw = line.trim_end().to_string();
        let cmd = raw.to_ascii_uppercase();
        if cmd.starts_with("EHLO") {
            reply(
                &mut s,
                "250-localhost\r\n250-AUTH PLAIN\r\n250 8BITMIME\r\n",
            )
            .await;
        } else if cmd.starts_with("AUTH PLAIN") {
            let mut arg = raw["AUTH PLAIN".len()..].trim().to_string();
            if arg.is_empty() {
                reply(&mut s, "334 \r\n").await;
                let mut l = String::new();
                let _ = s.read_line(&mut l).await;
                arg = l.trim().to_string();
            }
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(arg)
                .unwrap_or_default();
            let parts: Vec<String> = decoded
                .split(|b| *b == 0)
                .map(|p| String::from_utf8_lossy(p).into_owned())
                .collect();
            let (user, pass) = (
                parts.get(1).cloned().unwrap_or_default(),
                parts.get(2).cloned().unwrap_or_default(),
            );
            let ok = user == "bot" && pass == PASSWORD;
            log.lock().unwrap().auths.push((user, pass, tls));
            if ok {
                reply(&mut s, "235 2.7.0 authenticated\r\n").await;
            } else {
                reply(&mut s, "535 5.7.8 authentication credentials invalid\r\n").await;
            }
        } else if cmd.starts_with("MAIL FROM") {
            rcpts.clear();
            reply(&mut s, "250 2.1.0 ok\r\n").await;
        } else if cmd.starts_with("RCPT TO") {
            rcpts.push(
                raw["RCPT TO:".len()..]
                    .trim()
                    .trim_matches(['<', '>'])
                    .to_string(),
            );
            reply(&mut s, "250 2.1.5 ok\r\n").await;
        } else if cmd == "DATA" {
            reply(&mut s, "354 go ahead\r\n").await;
            let mut data = String::new();
            loop {
                let mut l = String::new();
                if s.read_line(&mut l).await.unwrap_or(0) == 0 {
                    return;
                }
                if l == ".\r\n" {
                    break;
                }
                data.push_str(&l);
            }
            log.lock().unwrap().mails.push((rcpts.clone(), data, tls));
            reply(&mut s, "250 2.0.0 queued\r\n").await;
        } else if cmd == "QUIT" {
            reply(&mut s, "221 2.0.0 bye\r\n").await;
            return;
        } else if cmd == "RSET" || cmd == "NOOP" {
            reply(&mut s, "250 ok\r\n").await;
        } else {
            reply(&mut s, "502 5.5.2 not implemented\r\n").await;
        }
    }
}

fn config(channel: ChannelConfig, attempts: u32) -> AlertsConfig {
    AlertsConfig {
        source: "mail-test".into(),
        channels: vec![channel],
        delivery: Delivery {
            queue: 8,
            attempts,
            backoff: Duration::from_millis(5),
            backoff_max: Duration::from_millis(20),
            timeout: Duration::from_secs(10),
        },
        watch: WatchConfig::default(),
    }
}

fn redactor() -> Redactor {
    let mut r = Redactor::new();
    r.add(&SecretString::from(PASSWORD.to_string()));
    r
}

/// The mail's decoded text (headers as they are, the base64 body decoded).
fn decoded(data: &str) -> (String, String) {
    let (headers, body) = data.split_once("\r\n\r\n").unwrap();
    let b64: String = body.split_whitespace().collect();
    let text = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    (headers.to_string(), String::from_utf8(text).unwrap())
}

#[tokio::test]
async fn an_alert_arrives_by_mail_after_starttls_and_login() {
    let smtp = FakeSmtp::start(Behaviour {
        starttls: true,
        busy_first: 0,
    })
    .await;
    let cfg = config(smtp.channel(PASSWORD), 3);
    let tally = Arc::new(AlertTally::default());
    let (alerts, d) = Alerts::start(&cfg, tally.clone(), redactor()).unwrap();
    alerts.notify(&Event::Halted {
        reason: format!("kill switch (smtp said {PASSWORD})"),
    });
    eventually("the mail", || tally.counts().sent == 1).await;
    drop(alerts);
    assert!(d.finish(Duration::from_secs(5)).await.is_empty());
    let log = smtp.log();
    assert_eq!(log.auths, [("bot".to_string(), PASSWORD.to_string(), true)]);
    assert_eq!(log.mails.len(), 1);
    let (rcpts, data, tls) = &log.mails[0];
    assert!(tls, "the message went over TLS");
    assert_eq!(rcpts, &["ops@example.com", "oncall@example.com"]);
    let (headers, text) = decoded(data);
    assert!(
        headers.contains(
            "Subject: [mail-test] WARNING new entries halted: kill switch (smtp said [redacted])"
        ),
        "{headers}"
    );
    assert!(headers.contains("From: scalper@example.com"), "{headers}");
    assert!(
        headers.contains("To: ops@example.com, oncall@example.com"),
        "{headers}"
    );
    assert!(text.contains("open positions stay"), "{text}");
    assert!(!data.contains(PASSWORD) && !text.contains(PASSWORD));
}

#[tokio::test]
async fn a_busy_server_is_retried() {
    let smtp = FakeSmtp::start(Behaviour {
        starttls: true,
        busy_first: 1,
    })
    .await;
    let cfg = config(smtp.channel(PASSWORD), 3);
    let tally = Arc::new(AlertTally::default());
    let (alerts, _d) = Alerts::start(&cfg, tally.clone(), redactor()).unwrap();
    alerts.notify(&Event::Resumed);
    eventually("the retried mail", || tally.counts().sent == 1).await;
    let log = smtp.log();
    assert_eq!(log.connections, 2);
    assert_eq!(log.mails.len(), 1);
}

#[tokio::test]
async fn a_refused_login_is_not_retried_and_is_explained_without_the_password() {
    let smtp = FakeSmtp::start(Behaviour {
        starttls: true,
        busy_first: 0,
    })
    .await;
    let wrong = "wrong-password-123";
    let cfg = config(smtp.channel(wrong), 5);
    let mut r = redactor();
    r.add(&SecretString::from(wrong.to_string()));
    let report = test_channels(&cfg, &r).await.unwrap();
    let e = report[0].1.as_ref().unwrap_err();
    assert!(!e.retryable);
    assert!(
        e.message.contains("SCALPER_ALERTS_SMTP_PASSWORD"),
        "{}",
        e.message
    );
    assert!(!e.message.contains(wrong), "{}", e.message);
    let tally = Arc::new(AlertTally::default());
    let (alerts, _d) = Alerts::start(&cfg, tally.clone(), r).unwrap();
    alerts.notify(&Event::Resumed);
    eventually("the give-up", || tally.counts().failed == 1).await;
    assert_eq!(
        smtp.log().auths.len(),
        2,
        "one login per attempt, no retry of a refusal"
    );
    assert!(smtp.log().mails.is_empty());
}

#[tokio::test]
async fn a_server_without_starttls_gets_nothing() {
    let smtp = FakeSmtp::start(Behaviour {
        starttls: false,
        busy_first: 0,
    })
    .await;
    let cfg = config(smtp.channel(PASSWORD), 1);
    let report = test_channels(&cfg, &redactor()).await.unwrap();
    let e = report[0].1.as_ref().unwrap_err();
    assert!(!e.retryable);
    assert!(
        e.message.contains("does not offer STARTTLS"),
        "{}",
        e.message
    );
    assert!(!e.message.contains(PASSWORD), "{}", e.message);
    let log = smtp.log();
    assert!(log.auths.is_empty(), "no login without TLS");
    assert!(log.mails.is_empty());
}

#[tokio::test]
async fn an_untrusted_certificate_is_refused_with_what_to_check() {
    let smtp = FakeSmtp::start(Behaviour {
        starttls: true,
        busy_first: 0,
    })
    .await;
    let ChannelConfig::Email(mut email) = smtp.channel(PASSWORD) else {
        unreachable!()
    };
    email.ca_file = None;
    let cfg = config(ChannelConfig::Email(email), 3);
    let report = test_channels(&cfg, &redactor()).await.unwrap();
    let e = report[0].1.as_ref().unwrap_err();
    assert!(!e.retryable, "{e:?}");
    assert!(e.message.contains("ca_file"), "{}", e.message);
    let log = smtp.log();
    assert!(
        log.auths.is_empty(),
        "no login over an unverified connection"
    );
    assert!(log.mails.is_empty());
}
