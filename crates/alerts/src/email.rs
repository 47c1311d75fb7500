//! The e-mail channel: SMTP with STARTTLS required (lettre on rustls, no OpenSSL), optional
//! AUTH, and a plain-text message we write ourselves (one UTF-8 part, base64 body).

use std::time::Duration;

use base64::Engine as _;
use lettre::address::Envelope;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use secrecy::ExposeSecret;

use crate::channel::DeliveryError;
use crate::config::EmailConfig;
use crate::event::Alert;
use crate::redact::Redactor;

/// A ready SMTP channel.
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Address,
    to: Vec<Address>,
    host: String,
    port: u16,
    has_password: bool,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("to", &self.to.len())
            .finish_non_exhaustive()
    }
}

impl Mailer {
    /// Checks the addresses and reads the extra CA file. Errors are sentences naming the key.
    pub fn new(cfg: &EmailConfig, timeout: Duration) -> Result<Self, String> {
        let from: Address = cfg.from.trim().parse().map_err(|e| {
            format!(
                "[alerts.email] from = {:?} is not an e-mail address ({e})",
                cfg.from
            )
        })?;
        let to = cfg
            .to
            .iter()
            .map(|t| {
                t.trim()
                    .parse::<Address>()
                    .map_err(|e| format!("[alerts.email] to: {t:?} is not an e-mail address ({e})"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if to.is_empty() {
            return Err("[alerts.email] to names no recipient".into());
        }
        let mut tls = TlsParameters::builder(cfg.host.clone());
        if let Some(path) = &cfg.ca_file {
            let pem = std::fs::read(path).map_err(|e| {
                format!(
                    "[alerts.email] ca_file {}: cannot read it: {e}",
                    path.display()
                )
            })?;
            let cert = Certificate::from_pem(&pem).map_err(|e| {
                format!(
                    "[alerts.email] ca_file {}: not a PEM certificate ({e})",
                    path.display()
                )
            })?;
            tls = tls.add_root_certificate(cert);
        }
        let tls = tls
            .build_rustls()
            .map_err(|e| format!("[alerts.email] TLS settings for {}: {e}", cfg.host))?;
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(cfg.host.clone())
            .port(cfg.port)
            .tls(Tls::Required(tls))
            .timeout(Some(timeout));
        if let (Some(user), Some(pass)) = (&cfg.username, &cfg.password) {
            builder = builder.credentials(Credentials::new(
                user.clone(),
                pass.expose_secret().to_string(),
            ));
        }
        Ok(Self {
            transport: builder.build(),
            from,
            to,
            host: cfg.host.clone(),
            port: cfg.port,
            has_password: cfg.password.is_some(),
        })
    }

    /// One attempt: connect, STARTTLS, AUTH, send.
    pub async fn send(&self, alert: &Alert, redactor: &Redactor) -> Result<(), DeliveryError> {
        let envelope = Envelope::new(Some(self.from.clone()), self.to.clone())
            .map_err(|e| DeliveryError::new(format!("envelope: {e}"), false))?;
        let message = self.message(alert);
        match self.transport.send_raw(&envelope, message.as_bytes()).await {
            Ok(_) => Ok(()),
            Err(e) => Err(self.explain(&e, redactor)),
        }
    }

    fn explain(&self, e: &lettre::transport::smtp::Error, redactor: &Redactor) -> DeliveryError {
        let server = format!("{}:{}", self.host, self.port);
        let mut detail = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(inner) = source {
            let t = inner.to_string();
            if !detail.contains(&t) {
                detail.push_str(": ");
                detail.push_str(&t);
            }
            source = inner.source();
        }
        let code = e.status().map(|c| c.to_string());
        let (hint, retryable) = if code.as_deref().is_some_and(|c| c == "535" || c == "534") {
            (
                if self.has_password {
                    "the server refused the login: check [alerts.email] username and SCALPER_ALERTS_SMTP_PASSWORD"
                } else {
                    "the server wants a login: set [alerts.email] username and SCALPER_ALERTS_SMTP_PASSWORD"
                },
                false,
            )
        } else if e.is_client() && detail.contains("STARTTLS") {
            ("the server does not offer STARTTLS and scalper sends mail only encrypted: check [alerts.email] host and port (587 is the usual submission port)", false)
        } else if e.is_tls() || detail.contains("certificate") {
            ("TLS failed: the server must offer STARTTLS with a certificate for [alerts.email] host (or one signed by ca_file)", false)
        } else if e.is_permanent() {
            (
                "the server refused the message: check [alerts.email] from and to",
                false,
            )
        } else if e.is_timeout() {
            ("no answer in time", true)
        } else {
            ("", true)
        };
        let mut message = format!("SMTP {server}: {detail}");
        if !hint.is_empty() {
            message.push_str(" (");
            message.push_str(hint);
            message.push(')');
        }
        DeliveryError::new(redactor.scrub(&message), retryable)
    }

    /// The RFC 5322 message: headers, then the text as base64 in 76-character lines.
    fn message(&self, alert: &Alert) -> String {
        let to = self
            .to
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        #[allow(clippy::disallowed_methods)] // the mail's Date header, not trading time
        let date = chrono::Utc::now().to_rfc2822();
        let body = base64::engine::general_purpose::STANDARD.encode(alert.message());
        let mut out = format!(
            "From: {}\r\nTo: {to}\r\nSubject: {}\r\nDate: {date}\r\nMIME-Version: 1.0\r\n\
             Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\
             X-Scalper-Event: {}\r\n\r\n",
            self.from,
            encode_header(&alert.line()),
            alert.event,
        );
        for chunk in body.as_bytes().chunks(76) {
            out.push_str(&String::from_utf8_lossy(chunk));
            out.push_str("\r\n");
        }
        out
    }
}

/// A header value: ASCII as is (line breaks removed), anything else as an RFC 2047 word.
fn encode_header(s: &str) -> String {
    let flat: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if flat.is_ascii() {
        flat
    } else {
        format!(
            "=?utf-8?b?{}?=",
            base64::engine::general_purpose::STANDARD.encode(flat)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_never_break_lines_and_non_ascii_is_encoded() {
        assert_eq!(encode_header("a\r\nBcc: x"), "a  Bcc: x");
        assert_eq!(encode_header("P&L £"), "=?utf-8?b?UCZMIMKj?=");
    }
}
