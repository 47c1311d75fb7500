//! The stream supervisor: one session at a time over WebSocket, rebind on LOOP and dropped or
//! silent connections, new session on END/CONERR 20, REST re-login on CONERR 1, backoff, and a
//! gap event on every lost connection.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use secrecy::ExposeSecret;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tracing::{debug, info, warn};

use super::client::{Command, StreamConfig};
use super::clock;
use super::conn::{ws_url, Conn, ConnError};
use super::convert::{ItemState, Output};
use super::creds::StreamCredentialSource;
use super::events::{QuoteSender, StreamEvent, StreamStatus};
use super::items::Subscription;
use crate::StreamCredentials;
use scalper_ig_wire::tlcp::{encode_form_value, parse_line, Message, LS_CID};

/// What to do after a connection ends.
#[derive(Debug)]
enum Next {
    /// Rebind the same session after `delay` (LOOP).
    Loop(Duration),
    /// Rebind the same session after a backoff (dropped or silent connection).
    Rebind(String),
    /// Create a new session and resubscribe everything (END, CONERR on bind).
    NewSession(String),
    /// REST re-login, then a new session (CONERR 1).
    Relogin(String),
    /// Retry the same step after a backoff (credentials or network failure).
    Retry(String),
    Shutdown(Option<oneshot::Sender<()>>),
}

/// Delay before reconnect attempt `attempt` (1-based): `initial * 2^(attempt-1)`, capped.
fn backoff_delay(initial: Duration, max: Duration, attempt: u32) -> Duration {
    let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(16));
    initial.saturating_mul(factor).min(max)
}

#[derive(Debug, Clone)]
struct Session {
    id: String,
    keepalive: Duration,
    control_link: String,
    creds: StreamCredentials,
}

pub(crate) struct Runner<C> {
    cfg: StreamConfig,
    source: Arc<C>,
    desired: Vec<Subscription>,
    quotes: QuoteSender,
    events: mpsc::Sender<StreamEvent>,
    cmds: mpsc::Receiver<Command>,
    session: Option<Session>,
    /// Subscriptions live on the server, by subscription id.
    active: HashMap<u64, ItemState>,
    /// Subscription ids per subscription (sent, maybe not yet confirmed).
    sub_ids: HashMap<Subscription, u64>,
    /// Control requests awaiting REQOK/REQERR.
    pending: HashMap<u64, Subscription>,
    /// Refused on this session; retried on the next one.
    refused: HashSet<Subscription>,
    next_sub_id: u64,
    next_req_id: u64,
    /// A gap has been reported since the last successful bind.
    gap_reported: bool,
    /// Set when a forced re-login was refused fatally (bad credentials, lockout, API key).
    relogin_blocked: Option<String>,
    last_relogin: Option<Instant>,
}

impl<C> std::fmt::Debug for Runner<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
            .field("session", &self.session.as_ref().map(|s| &s.id))
            .finish_non_exhaustive()
    }
}

impl<C: StreamCredentialSource> Runner<C> {
    pub(crate) fn new(
        cfg: StreamConfig,
        source: Arc<C>,
        subscriptions: Vec<Subscription>,
        quotes: QuoteSender,
        events: mpsc::Sender<StreamEvent>,
        cmds: mpsc::Receiver<Command>,
    ) -> Self {
        let mut desired = Vec::new();
        for s in subscriptions {
            if !desired.contains(&s) {
                desired.push(s);
            }
        }
        Self {
            cfg,
            source,
            desired,
            quotes,
            events,
            cmds,
            session: None,
            active: HashMap::new(),
            sub_ids: HashMap::new(),
            pending: HashMap::new(),
            refused: HashSet::new(),
            next_sub_id: 1,
            next_req_id: 1,
            gap_reported: true,
            relogin_blocked: None,
            last_relogin: None,
        }
    }

    async fn emit(&self, ev: StreamEvent) {
        if self.events.send(ev).await.is_err() {
            debug!("stream event receiver dropped");
        }
    }

    async fn gap(&mut self, reason: &str) {
        if !self.gap_reported {
            self.gap_reported = true;
            self.emit(StreamEvent::Status(StreamStatus::Gap {
                at: clock::now(),
                reason: reason.to_string(),
            }))
            .await;
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        backoff_delay(self.cfg.initial_backoff, self.cfg.max_backoff, attempt)
    }

    fn reset_session(&mut self) {
        self.session = None;
        self.active.clear();
        self.sub_ids.clear();
        self.pending.clear();
        self.refused.clear();
        self.next_sub_id = 1;
    }

    /// A forced REST re-login after `CONERR 1`, guarded: never again after a fatal refusal
    /// (repeating a refused login risks an IG account lock) and at most once per
    /// `min_relogin_interval` (otherwise the next attempt reuses the current tokens).
    async fn relogin(&mut self) {
        if let Some(fatal) = &self.relogin_blocked {
            warn!(error = %fatal, "stream needs a REST re-login, but the last one was refused: not retrying it");
            return;
        }
        if self
            .last_relogin
            .is_some_and(|t| t.elapsed() < self.cfg.min_relogin_interval)
        {
            info!("stream credentials refused again soon after a re-login: retrying with the current tokens");
            return;
        }
        self.last_relogin = Some(Instant::now());
        info!("stream credentials refused: forcing a REST re-login");
        if let Err(e) = self.source.force_relogin().await {
            warn!(error = %e, "REST re-login for the stream failed");
            let fatal = e.is_fatal();
            if fatal {
                self.relogin_blocked = Some(e.to_string());
            }
            self.emit(StreamEvent::Status(StreamStatus::CredentialsUnavailable {
                message: e.to_string(),
                fatal,
            }))
            .await;
        }
    }

    pub(crate) async fn run(mut self) {
        let mut attempt: u32 = 0;
        loop {
            let next = self.connect_and_serve(&mut attempt).await;
            let (delay, reason) = match next {
                Next::Shutdown(done) => {
                    self.emit(StreamEvent::Status(StreamStatus::Stopped)).await;
                    if let Some(done) = done {
                        let _ = done.send(());
                    }
                    return;
                }
                Next::Loop(delay) => (delay, "LOOP: rebinding".to_string()),
                Next::Rebind(reason) | Next::Retry(reason) => {
                    attempt = attempt.saturating_add(1);
                    (self.backoff(attempt), reason)
                }
                Next::NewSession(reason) => {
                    self.reset_session();
                    attempt = attempt.saturating_add(1);
                    // The first new session after an END is immediate.
                    let d = if attempt == 1 {
                        Duration::ZERO
                    } else {
                        self.backoff(attempt - 1)
                    };
                    (d, reason)
                }
                Next::Relogin(reason) => {
                    self.reset_session();
                    attempt = attempt.saturating_add(1);
                    self.relogin().await;
                    (self.backoff(attempt), reason)
                }
            };
            self.gap(&reason).await;
            info!(attempt, delay_ms = delay.as_millis() as u64, %reason, "stream reconnecting");
            self.emit(StreamEvent::Status(StreamStatus::Reconnecting {
                attempt,
                delay_ms: delay.as_millis() as u64,
                reason,
            }))
            .await;
            if let Some(shutdown) = self.wait_or_command(delay).await {
                return self.finish(shutdown).await;
            }
        }
    }

    async fn finish(self, done: Option<oneshot::Sender<()>>) {
        self.emit(StreamEvent::Status(StreamStatus::Stopped)).await;
        if let Some(done) = done {
            let _ = done.send(());
        }
    }

    /// Sleeps `delay` while still accepting subscription commands. Returns `Some` on shutdown.
    async fn wait_or_command(&mut self, delay: Duration) -> Option<Option<oneshot::Sender<()>>> {
        let until = Instant::now() + delay;
        loop {
            tokio::select! {
                () = tokio::time::sleep_until(until) => return None,
                cmd = self.cmds.recv() => match cmd {
                    None => return Some(None),
                    Some(Command::Shutdown(done)) => return Some(Some(done)),
                    Some(Command::Subscribe(s)) => {
                        if !self.desired.contains(&s) {
                            self.desired.push(s);
                        }
                    }
                    Some(Command::Unsubscribe(s)) => self.desired.retain(|d| *d != s),
                },
            }
        }
    }

    async fn connect_and_serve(&mut self, attempt: &mut u32) -> Next {
        // A rebind needs no login (and must not cost a REST call on every LOOP); only a new
        // session asks the source for fresh tokens.
        let creds = match &self.session {
            Some(s) => s.creds.clone(),
            None => match self.source.credentials().await {
                Ok(c) => c,
                Err(e) => {
                    self.emit(StreamEvent::Status(StreamStatus::CredentialsUnavailable {
                        message: e.to_string(),
                        fatal: e.is_fatal(),
                    }))
                    .await;
                    return Next::Retry(format!("no stream credentials: {e}"));
                }
            },
        };
        let control_link = self.session.as_ref().map(|s| s.control_link.clone());
        let url = match ws_url(&creds.endpoint, control_link.as_deref()) {
            Ok(u) => u,
            Err(e) => return Next::Retry(e.to_string()),
        };
        let mut conn =
            match Conn::open(&url, &self.cfg.protocol_version, self.cfg.connect_timeout).await {
                Ok(c) => c,
                Err(e) => return Next::Retry(e.to_string()),
            };
        let keepalive_param = self
            .cfg
            .requested_keepalive
            .map(|k| format!("&LS_keepalive_millis={}", k.as_millis()))
            .unwrap_or_default();
        let rebinding = self.session.is_some();
        let sent = if let Some(s) = &self.session {
            conn.send(
                "bind_session",
                Some(&format!(
                    "LS_session={}{keepalive_param}",
                    encode_form_value(&s.id)
                )),
            )
            .await
        } else {
            let password = super::creds::password(&creds);
            let body = format!(
                "LS_cid={}&LS_user={}&LS_password={}{keepalive_param}",
                encode_form_value(LS_CID),
                encode_form_value(creds.account_id.as_str()),
                encode_form_value(password.expose_secret()),
            );
            conn.send("create_session", Some(&body)).await
        };
        if let Err(e) = sent {
            return Next::Retry(e.to_string());
        }
        // Wait for CONOK / CONERR.
        let deadline = Instant::now() + self.cfg.connect_timeout;
        let conok = loop {
            let line = match tokio::time::timeout_at(deadline, conn.next_line()).await {
                Err(_) => return Next::Retry(ConnError::Timeout("waiting for CONOK").to_string()),
                Ok(Err(e)) => {
                    return if rebinding {
                        Next::Rebind(e.to_string())
                    } else {
                        Next::Retry(e.to_string())
                    }
                }
                Ok(Ok(l)) => l,
            };
            match parse_line(&line) {
                Ok(Message::ConOk {
                    session_id,
                    keepalive_ms,
                    control_link,
                    ..
                }) => break (session_id, keepalive_ms, control_link),
                Ok(Message::ConErr { code, message }) => {
                    return self.refused_session(code, message, rebinding).await;
                }
                Ok(Message::End { cause, message }) => {
                    return Next::NewSession(format!("END {cause} {message}"));
                }
                Ok(other) => debug!(?other, "stream: before CONOK"),
                Err(e) => warn!(error = %e, "stream: undecodable line before CONOK"),
            }
        };
        let (session_id, keepalive_ms, control_link) = conok;
        if self.session.as_ref().is_some_and(|s| s.id != session_id) {
            // The server gave us a different session on bind: treat as new.
            self.reset_session();
        }
        let fresh = self.session.is_none();
        self.session = Some(Session {
            id: session_id.clone(),
            keepalive: Duration::from_millis(keepalive_ms.max(1)),
            control_link,
            creds,
        });
        if fresh && self.cfg.bind_after_create {
            let body = format!("LS_session={}", encode_form_value(&session_id));
            if let Err(e) = conn.send("bind_session", Some(&body)).await {
                return Next::Rebind(e.to_string());
            }
        }
        // Answers to requests sent on a previous connection will never come.
        self.pending.clear();
        if let Err(e) = self.send_missing_subscriptions(&mut conn).await {
            return Next::Rebind(e.to_string());
        }
        *attempt = 0;
        self.gap_reported = false;
        self.relogin_blocked = None;
        info!(session = %session_id, rebound = !fresh, keepalive_ms, "stream connected");
        self.emit(StreamEvent::Status(StreamStatus::Connected {
            session_id,
            rebound: !fresh,
            keepalive_ms,
        }))
        .await;
        self.serve(conn).await
    }

    async fn refused_session(&mut self, code: i32, message: String, rebinding: bool) -> Next {
        if code == 65 {
            warn!(
                code,
                %message,
                protocol = %self.cfg.protocol_version,
                "stream server rejected the TLCP version: set StreamConfig::protocol_version (TLCP-2.4.0 is known to work on IG)"
            );
        } else {
            warn!(code, %message, rebinding, "stream session refused (CONERR)");
        }
        self.emit(StreamEvent::Status(StreamStatus::SessionRefused {
            code,
            message: message.clone(),
        }))
        .await;
        match code {
            1 => Next::Relogin(format!("CONERR 1 {message}")),
            _ if rebinding => Next::NewSession(format!("CONERR {code} {message}")),
            _ => Next::Retry(format!("CONERR {code} {message}")),
        }
    }

    fn account(&self) -> Option<&scalper_model::AccountId> {
        self.session.as_ref().map(|s| &s.creds.account_id)
    }

    /// Sends `add` for every desired subscription without a live (or pending) subscription id.
    async fn send_missing_subscriptions(&mut self, conn: &mut Conn) -> Result<(), ConnError> {
        let Some(account) = self.account().cloned() else {
            return Ok(());
        };
        let live: HashSet<u64> = self.active.keys().copied().collect();
        for sub in self.desired.clone() {
            if self.refused.contains(&sub) {
                continue;
            }
            let live_or_pending = self.sub_ids.get(&sub).is_some_and(|id| live.contains(id))
                || self.pending.values().any(|p| *p == sub);
            if live_or_pending {
                continue;
            }
            let sub_id = self.next_sub_id;
            self.next_sub_id += 1;
            let req_id = self.next_req_id;
            self.next_req_id += 1;
            conn.send("control", Some(&sub.add_request(req_id, sub_id, &account)))
                .await?;
            self.sub_ids.insert(sub.clone(), sub_id);
            self.pending.insert(req_id, sub);
        }
        Ok(())
    }

    async fn send_delete(&mut self, conn: &mut Conn, sub_id: u64) -> Result<(), ConnError> {
        let req_id = self.next_req_id;
        self.next_req_id += 1;
        conn.send(
            "control",
            Some(&format!("LS_reqId={req_id}&LS_op=delete&LS_subId={sub_id}")),
        )
        .await
    }

    async fn serve(&mut self, mut conn: Conn) -> Next {
        let keepalive = self
            .session
            .as_ref()
            .map_or(Duration::from_secs(5), |s| s.keepalive);
        let limit = keepalive + self.cfg.silence_grace;
        let mut last_rx = Instant::now();
        loop {
            tokio::select! {
                () = tokio::time::sleep_until(last_rx + limit) => {
                    warn!(silent_ms = limit.as_millis() as u64, "stream silent past keep-alive: reconnecting");
                    conn.close().await;
                    return Next::Rebind(format!("no data or PROBE for {} ms", limit.as_millis()));
                }
                cmd = self.cmds.recv() => {
                    let res = match cmd {
                        None => {
                            conn.close().await;
                            return Next::Shutdown(None);
                        }
                        Some(Command::Shutdown(done)) => {
                            let req_id = self.next_req_id;
                            let _ = conn.send("control", Some(&format!("LS_reqId={req_id}&LS_op=destroy"))).await;
                            conn.close().await;
                            return Next::Shutdown(Some(done));
                        }
                        Some(Command::Subscribe(s)) => {
                            if !self.desired.contains(&s) {
                                self.desired.push(s);
                            }
                            self.send_missing_subscriptions(&mut conn).await
                        }
                        Some(Command::Unsubscribe(s)) => {
                            self.desired.retain(|d| *d != s);
                            match self.sub_ids.remove(&s) {
                                Some(id) => self.send_delete(&mut conn, id).await,
                                None => Ok(()),
                            }
                        }
                    };
                    if let Err(e) = res {
                        return Next::Rebind(e.to_string());
                    }
                }
                line = conn.next_line() => {
                    let line = match line {
                        Ok(l) => l,
                        Err(e) => return Next::Rebind(e.to_string()),
                    };
                    last_rx = Instant::now();
                    if let Some(next) = self.handle_line(&line, &mut conn).await {
                        conn.close().await;
                        return next;
                    }
                }
            }
        }
    }

    async fn handle_line(&mut self, line: &str, conn: &mut Conn) -> Option<Next> {
        let msg = match parse_line(line) {
            Ok(m) => m,
            Err(e) => {
                warn!(error = %e, "stream: undecodable line");
                return None;
            }
        };
        match msg {
            Message::Update {
                sub_id,
                item,
                values,
            } => self.update(sub_id, item, &values).await,
            Message::SubOk { sub_id, fields, .. } => {
                let sub = self
                    .sub_ids
                    .iter()
                    .find(|(_, id)| **id == sub_id)
                    .map(|(s, _)| s.clone());
                match sub {
                    Some(sub) if sub.fields().len() == fields => {
                        self.active.insert(sub_id, ItemState::new(sub.clone()));
                        self.emit(StreamEvent::Subscribed(sub)).await;
                    }
                    Some(sub) => {
                        warn!(%sub, fields, "SUBOK field count differs from the request");
                    }
                    None => {
                        // A subscription we no longer want (e.g. its REQOK was lost).
                        if let Err(e) = self.send_delete(conn, sub_id).await {
                            return Some(Next::Rebind(e.to_string()));
                        }
                    }
                }
            }
            Message::ReqOk { req_id } => {
                if let Some(id) = req_id {
                    self.pending.remove(&id);
                }
            }
            Message::ReqErr {
                req_id,
                code,
                message,
            } => {
                if let Some(sub) = self.pending.remove(&req_id) {
                    warn!(%sub, code, %message, "stream subscription refused");
                    self.sub_ids.remove(&sub);
                    self.refused.insert(sub.clone());
                    self.emit(StreamEvent::SubscriptionRefused {
                        subscription: sub,
                        code,
                        message,
                    })
                    .await;
                } else {
                    warn!(req_id, code, %message, "stream control request refused");
                }
            }
            Message::Unsub { sub_id } => {
                self.active.remove(&sub_id);
            }
            Message::Cs { sub_id, .. } => {
                if let Some(st) = self.active.get_mut(&sub_id) {
                    st.values.clear();
                }
            }
            Message::Ov { sub_id, lost, .. } => {
                if let Some(st) = self.active.get(&sub_id) {
                    let subscription = st.subscription.clone();
                    self.emit(StreamEvent::Overflow { subscription, lost })
                        .await;
                }
            }
            Message::Loop { delay_ms } => return Some(Next::Loop(Duration::from_millis(delay_ms))),
            Message::End { cause, message } => {
                return Some(Next::NewSession(format!("END {cause} {message}")));
            }
            Message::ConErr { code, message } => {
                let rebinding = true;
                return Some(self.refused_session(code, message, rebinding).await);
            }
            Message::Error { code, message } => {
                warn!(code, %message, "stream: server reported a request error");
            }
            other => debug!(?other, "stream notification"),
        }
        None
    }

    async fn update(&mut self, sub_id: u64, item: usize, values: &str) {
        let Some(account) = self.account().cloned() else {
            return;
        };
        let Some(st) = self.active.get_mut(&sub_id) else {
            debug!(sub_id, "update for an unknown subscription");
            return;
        };
        if item != 1 {
            debug!(sub_id, item, "update for an unexpected item index");
            return;
        }
        let outputs = match st.apply(values, &account, clock::now()) {
            Ok(o) => o,
            Err(e) => {
                warn!(error = %e, sub = %st.subscription, "stream: undecodable update");
                return;
            }
        };
        for out in outputs {
            match out {
                Output::Quote(q) => self.quotes.send(q),
                Output::Event(ev) => self.emit(*ev).await,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let ms = Duration::from_millis;
        let delays: Vec<Duration> = (1..=8)
            .map(|a| backoff_delay(ms(250), ms(10_000), a))
            .collect();
        assert_eq!(
            delays,
            [250, 500, 1000, 2000, 4000, 8000, 10_000, 10_000].map(ms)
        );
        assert_eq!(backoff_delay(ms(250), ms(10_000), u32::MAX), ms(10_000));
    }
}
