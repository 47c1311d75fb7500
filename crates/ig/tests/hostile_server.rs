//! The client against a broken or hostile server: endless and oversized bodies are refused at
//! the configured limit, secrets a server echoes never reach an error or a log line, a URL's
//! `user:password@` is redacted, and a login without a usable account is an error.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use common::{wait_until, API_KEY, PASSWORD, USER};
use scalper_ig::{Environment, IgClient, IgConfig, IgError, SessionVersion};
use secrecy::SecretString;
use serde_json::json;

/// Serves `handler` for every request on a fresh loopback port.
async fn serve<F, Fut>(handler: F) -> SocketAddr
where
    F: Fn(HeaderMap, Bytes) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Response> + Send + 'static,
{
    let app = axum::Router::new().fallback(move |h: HeaderMap, b: Bytes| {
        let handler = handler.clone();
        async move { handler(h, b).await }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    addr
}

fn config(addr: SocketAddr, version: SessionVersion) -> IgConfig {
    IgConfig::new(
        Environment::Demo,
        USER,
        SecretString::from(PASSWORD),
        SecretString::from(API_KEY),
    )
    .with_api_url(format!("http://{addr}/gateway/deal"))
    .with_session_version(version)
    .for_local_tests()
}

/// Counts the bytes an endless body produced and notes when the server dropped it.
#[derive(Default)]
struct Endless {
    produced: AtomicU64,
    dropped: AtomicBool,
}

struct DropFlag(Arc<Endless>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.dropped.store(true, Ordering::SeqCst);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_body_is_refused_at_the_limit() {
    let endless = Arc::new(Endless::default());
    let e = endless.clone();
    let addr = serve(move |_, _| {
        let e = e.clone();
        async move {
            let flag = DropFlag(e.clone());
            let chunk = Bytes::from(vec![b'x'; 64 * 1024]);
            let stream = futures_util::stream::repeat_with(move || {
                let _keep = &flag;
                e.produced.fetch_add(chunk.len() as u64, Ordering::Relaxed);
                Ok::<_, std::io::Error>(chunk.clone())
            });
            let mut resp = Body::from_stream(stream).into_response();
            resp.headers_mut().insert("CST", "CST-1".parse().unwrap());
            resp.headers_mut()
                .insert("X-SECURITY-TOKEN", "XST-1".parse().unwrap());
            resp
        }
    })
    .await;
    let mut cfg = config(addr, SessionVersion::V2);
    cfg.max_body_bytes = 256 * 1024;
    cfg.request_timeout = Duration::from_secs(30);
    let started = std::time::Instant::now();
    let err = IgClient::new(cfg).unwrap().login().await.unwrap_err();
    assert!(
        matches!(&err, IgError::BodyTooLarge { limit, .. } if *limit == 256 * 1024),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(text.contains("login (POST /session)"), "{text}");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(
        wait_until(Duration::from_secs(10), || endless
            .dropped
            .load(Ordering::SeqCst))
        .await,
        "the client closed the connection"
    );
    // What the server managed to write before the connection closed: the limit plus what the
    // sockets' buffers hold, not gigabytes.
    let produced = endless.produced.load(Ordering::Relaxed);
    assert!(produced < 64 * 1024 * 1024, "{produced} bytes produced");
}

/// A server that is not IG (an HTML 404 for everything) behind a URL with `user:password@`:
/// the login is refused once as a wrong URL, the password is redacted and the right form is
/// suggested on the same host.
#[tokio::test]
async fn a_404_from_a_server_that_is_not_ig_is_a_wrong_url() {
    let hits = Arc::new(AtomicU64::new(0));
    let h = hits.clone();
    let addr = serve(move |_, _| {
        h.fetch_add(1, Ordering::SeqCst);
        async { (StatusCode::NOT_FOUND, "<html>Not Found</html>").into_response() }
    })
    .await;
    let cfg = config(addr, SessionVersion::V2)
        .with_api_url(format!("http://trader:url-secret-77@{addr}/api"));
    let err = IgClient::new(cfg).unwrap().login().await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, IgError::WrongUrl { .. }), "{err:?}");
    assert!(
        text.contains(&format!("IG_API_URL http://[redacted]@{addr}/api ")),
        "{text}"
    );
    assert!(
        text.contains(&format!("Did you mean http://{addr}/gateway/deal?")),
        "{text}"
    );
    assert!(!text.contains("url-secret-77"), "{text}");
    assert_eq!(hits.load(Ordering::SeqCst), 1, "one attempt, no retry");
}

#[tokio::test]
async fn a_declared_oversized_body_is_refused_before_reading() {
    let addr = serve(|_, _| async { vec![b' '; 2 * 1024 * 1024].into_response() }).await;
    let mut cfg = config(addr, SessionVersion::V2);
    cfg.max_body_bytes = 1024 * 1024;
    let err = IgClient::new(cfg).unwrap().login().await.unwrap_err();
    assert!(matches!(err, IgError::BodyTooLarge { .. }), "{err:?}");
    // The default limit is 8 MB.
    let d = IgConfig::new(
        Environment::Demo,
        USER,
        SecretString::from(PASSWORD),
        SecretString::from(API_KEY),
    );
    assert_eq!(d.max_body_bytes, 8 * 1024 * 1024);
}

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

/// The request as text, headers included (a server that echoes everything it got).
fn echo(h: &HeaderMap, b: &Bytes) -> String {
    let headers: Vec<String> = h
        .iter()
        .map(|(k, v)| format!("{k}={}", v.to_str().unwrap_or("?")))
        .collect();
    format!("{} {}", headers.join(" "), String::from_utf8_lossy(b))
}

#[tokio::test]
async fn secrets_a_server_echoes_reach_no_error_or_log() {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(capture.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let mut text = Vec::<String>::new();

    // 1. An error answer whose errorCode echoes the request (login body and API key header).
    let addr = serve(|h, b| async move {
        let body = json!({ "errorCode": format!("invalid request: {}", echo(&h, &b)) });
        (StatusCode::BAD_REQUEST, axum::Json(body)).into_response()
    })
    .await;
    let err = IgClient::new(config(addr, SessionVersion::V2))
        .unwrap()
        .login()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("[redacted]"), "{err}");
    assert!(
        err.to_string().contains(USER),
        "the rest of the text stays: {err}"
    );
    text.push(format!("{err} {err:?}"));

    // 2. A 503 echoing it (retried, then LoginFailed wrapping the last error).
    let addr = serve(|h, b| async move {
        let body = json!({ "errorCode": format!("unavailable: {}", echo(&h, &b)) });
        (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response()
    })
    .await;
    let err = IgClient::new(config(addr, SessionVersion::V2))
        .unwrap()
        .login()
        .await
        .unwrap_err();
    assert!(matches!(err, IgError::LoginFailed { .. }), "{err:?}");
    text.push(format!("{err} {err:?}"));

    // 3. A 200 v2 login whose body is not IG's and echoes the request: the decode error shows
    // no body (as for v3).
    for version in [SessionVersion::V2, SessionVersion::V3] {
        let addr = serve(|h, b| async move {
            let mut resp =
                axum::Json(json!({ "accounts": echo(&h, &b), "oauthToken": 7 })).into_response();
            resp.headers_mut().insert("CST", "CST-1".parse().unwrap());
            resp.headers_mut()
                .insert("X-SECURITY-TOKEN", "XST-1".parse().unwrap());
            resp
        })
        .await;
        let err = IgClient::new(config(addr, version))
            .unwrap()
            .login()
            .await
            .unwrap_err();
        assert!(matches!(err, IgError::Decode { .. }), "{err:?}");
        assert!(err.to_string().contains("not shown"), "{err}");
        text.push(format!("{err} {err:?}"));
    }

    // 4. Credentials in IG_API_URL.
    for url in [
        "http://me:url-Secret-99@127.0.0.1:9/gateway/deal",
        "ftp://me:url-Secret-99@127.0.0.1/gateway/deal",
        "http//me:url-Secret-99@",
    ] {
        let cfg = IgConfig::new(
            Environment::Demo,
            USER,
            SecretString::from(PASSWORD),
            SecretString::from(API_KEY),
        )
        .with_api_url(url)
        .for_local_tests();
        text.push(format!("{cfg:?}"));
        match IgClient::new(cfg) {
            Ok(c) => {
                text.push(format!("{c:?}"));
                let err = c.login().await.unwrap_err();
                text.push(format!("{err} {err:?}"));
            }
            Err(e) => text.push(format!("{e} {e:?}")),
        }
    }

    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("IG refused the request"),
        "capture works:\n{logs}"
    );
    let all = format!("{logs}\n{}", text.join("\n"));
    for secret in [PASSWORD, API_KEY, "url-Secret-99"] {
        let hit = all.lines().find(|l| l.contains(secret));
        assert!(
            hit.is_none(),
            "{secret:?} leaked: {}",
            hit.unwrap_or_default()
        );
    }
}

fn login_answer(body: serde_json::Value) -> Response {
    let mut resp = axum::Json(body).into_response();
    resp.headers_mut().insert("CST", "CST-1".parse().unwrap());
    resp.headers_mut()
        .insert("X-SECURITY-TOKEN", "XST-1".parse().unwrap());
    resp
}

#[tokio::test]
async fn a_login_without_a_usable_account_is_an_error() {
    let cases = [
        (
            json!({ "currentAccountId": "ABC123", "accounts": [] }),
            "empty",
        ),
        (
            json!({ "currentAccountId": "NOPE", "accounts": [{ "accountId": "ABC123" }] }),
            "NOPE",
        ),
        (
            json!({ "accounts": [{ "accountId": "ABC123" }] }),
            "currentAccountId",
        ),
        (json!({ "currentAccountId": "", "accounts": [] }), "empty"),
    ];
    for (body, says) in cases {
        let b = body.clone();
        let addr = serve(move |_, _| {
            let b = b.clone();
            async move { login_answer(b) }
        })
        .await;
        let err = IgClient::new(config(addr, SessionVersion::V2))
            .unwrap()
            .login()
            .await
            .unwrap_err();
        assert!(matches!(err, IgError::NoAccount { .. }), "{body}: {err:?}");
        assert!(err.to_string().contains(says), "{body}: {err}");
        assert!(err.is_fatal());
    }
    // A configured account the login does not list.
    let addr = serve(|_, _| async {
        login_answer(
            json!({ "currentAccountId": "ABC123", "accounts": [{ "accountId": "ABC123" }] }),
        )
    })
    .await;
    let cfg = config(addr, SessionVersion::V2)
        .with_account_id(Some(scalper_model::AccountId::new("OTHER1").unwrap()));
    let err = IgClient::new(cfg).unwrap().login().await.unwrap_err();
    assert!(err.to_string().contains("OTHER1"), "{err}");
    // v3 without an accountId.
    let addr = serve(|_, _| async {
        axum::Json(
            json!({ "oauthToken": { "access_token": "A-1", "refresh_token": "R-1",
                                           "expires_in": "60" } }),
        )
        .into_response()
    })
    .await;
    let err = IgClient::new(config(addr, SessionVersion::V3))
        .unwrap()
        .login()
        .await
        .unwrap_err();
    assert!(matches!(err, IgError::NoAccount { .. }), "{err:?}");
    // A usable answer still logs in.
    let addr = serve(|_, _| async {
        login_answer(
            json!({ "currentAccountId": "ABC123", "accounts": [{ "accountId": "ABC123" }] }),
        )
    })
    .await;
    let info = IgClient::new(config(addr, SessionVersion::V2))
        .unwrap()
        .login()
        .await
        .unwrap();
    assert_eq!(info.account_id.unwrap().as_str(), "ABC123");
}
