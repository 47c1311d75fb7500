//! Captures every tracing line (TRACE level, all crates) while the client logs in, recovers,
//! refreshes, deals and fails, and checks that no password, API key or token appears in the
//! logs, in error messages or in `Debug` output.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{wait_until, FakeIg, API_KEY, PASSWORD};
use rust_decimal_macros::dec;
use scalper_ig::{IgClient, OpenRequest, SessionVersion};
use scalper_model::{Direction, Epic, Size};

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_in_logs_errors_or_debug_output() {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(capture.clone())
        .finish();
    tracing::subscriber::set_global_default(subscriber).unwrap();
    let mut text = Vec::<String>::new();
    let epic = Epic::new("CO.D.CFI.Month2.IP").unwrap();

    // v2: login, token recovery, dealing with a lost response, stream credentials, logout.
    let fake = FakeIg::start().await;
    let mut cfg = fake.config(SessionVersion::V2);
    cfg.request_timeout = Duration::from_millis(300);
    text.push(format!("{cfg:?}"));
    let client = IgClient::new(cfg).unwrap();
    client.market(&epic).await.unwrap();
    fake.state.invalidate_tokens();
    client.market(&epic).await.unwrap();
    fake.state.lose_open_response.store(true, Ordering::SeqCst);
    let open = OpenRequest::market(
        Epic::new("CS.D.EURUSD.CFD.IP").unwrap(),
        Direction::Buy,
        Size::new(dec!(1)),
        "USD",
    );
    text.push(format!("{:?}", client.open_position(&open).await.unwrap()));
    text.push(format!("{:?}", client.stream_credentials().await.unwrap()));
    text.push(format!("{client:?} {:?}", client.stats()));
    client.logout().await.unwrap();

    // v3: refresh refused, fresh login.
    fake.state.expires_in_secs.store(1, Ordering::SeqCst);
    fake.state.refuse_refresh.store(true, Ordering::SeqCst);
    let v3 = IgClient::new(fake.config(SessionVersion::V3)).unwrap();
    v3.login().await.unwrap();
    assert!(wait_until(Duration::from_secs(5), || v3.stats().logins >= 2).await);
    text.push(format!("{:?}", v3.stream_credentials().await.unwrap()));

    // Refused credentials.
    let mut bad = fake.config(SessionVersion::V2);
    bad.password = secrecy::SecretString::from(format!("{PASSWORD}-wrong"));
    let err = IgClient::new(bad).unwrap().login().await.unwrap_err();
    text.push(format!("{err} {err:?}"));

    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("IG login"), "capture is not working:\n{logs}");
    assert!(logs.contains("fake-req-ok"), "request ids are logged");
    assert!(logs.contains("token invalid"), "recovery is logged");
    let all = format!("{logs}\n{}", text.join("\n"));
    for secret in [PASSWORD, API_KEY, "CST-0", "XST-0", "ACCESS-0", "REFRESH-0"] {
        let hit = all.lines().find(|l| l.contains(secret));
        assert!(
            hit.is_none(),
            "secret {secret:?} leaked: {}",
            hit.unwrap_or_default()
        );
    }
}
