//! One Lightstreamer session of the sandbox server: its subscriptions, the connection it is
//! bound to (if any), keep-alive PROBEs, bus fan-out and fault behaviour. Sessions outlive
//! their connections (rebind) until unbound for [`SESSION_LINGER`].

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::time::Instant;
use tracing::debug;

use scalper_ig_wire::tlcp::{encode_update, Form, Message, Value};

use super::items::{account_row, trade_row, Item, PriceState, Scale, Tick};
use super::Registry;
use crate::bus::{BusEvent, StreamFault};

/// How long an unbound session waits for a rebind before it is discarded (`CONERR,20`).
pub const SESSION_LINGER: Duration = Duration::from_secs(10);

/// The most updates a second a MERGE price item (PRICE, MARKET) gets, as IG's server
/// announces in `CONF` ("20.0"); a client may ask for fewer with
/// `LS_requested_max_frequency`. Updates in between are merged: the item's latest values go
/// out when its interval has passed.
pub const MAX_FREQUENCY: f64 = 20.0;

/// Capacity of a connection's outgoing line queue; a client that falls this far behind is
/// disconnected (it will rebind).
pub const SINK_CAPACITY: usize = 8192;

/// What a session sends to the transport of its bound connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Out {
    Line(String),
    /// Close the connection abruptly.
    Close,
}

/// Commands to a session task.
#[derive(Debug)]
pub enum SessionCmd {
    Bind {
        sink: mpsc::Sender<Out>,
        keepalive: Option<Duration>,
        /// Polling bind: send what is pending, then `LOOP` and unbind.
        polling: bool,
    },
    /// A control request; the answer line goes to `reply`, or on the stream when `None`.
    Control {
        form: Form,
        reply: Option<oneshot::Sender<String>>,
    },
    Fault(StreamFault),
}

struct Slot {
    item: Item,
    current: Option<Vec<Value>>,
    last: Option<Vec<Value>>,
    price: PriceState,
    /// When a throttled item may next be updated.
    next_at: Option<Instant>,
    /// A throttled item's `current` values have not been sent yet.
    pending: bool,
}

struct Sub {
    distinct: bool,
    fields: Vec<String>,
    slots: Vec<Slot>,
    /// The least time between two updates of an item (throttled MERGE price items).
    interval: Option<Duration>,
    /// The frequency `CONF` announces.
    max_frequency: f64,
}

pub(crate) struct SessionTask {
    pub id: String,
    pub account: String,
    pub keepalive: Duration,
    pub registry: Arc<Registry>,
    subs: BTreeMap<u64, Sub>,
    sink: Option<mpsc::Sender<Out>>,
    bind_gen: u64,
    silent: Option<(u64, Instant)>,
    last_sent: Instant,
    unbound_since: Option<Instant>,
    /// The control request being handled asked for no REQOK (`LS_ack=false`).
    ack_suppressed: bool,
}

impl SessionTask {
    pub(crate) fn new(
        id: String,
        account: String,
        keepalive: Duration,
        registry: Arc<Registry>,
    ) -> Self {
        Self {
            id,
            account,
            keepalive,
            registry,
            subs: BTreeMap::new(),
            sink: None,
            bind_gen: 0,
            silent: None,
            last_sent: Instant::now(),
            unbound_since: Some(Instant::now()),
            ack_suppressed: false,
        }
    }

    /// Sends a notification to the bound connection (dropped while silent or unbound).
    fn send(&mut self, line: &Message) {
        if let Some((gen, until)) = self.silent {
            if gen == self.bind_gen && Instant::now() < until {
                return;
            }
            self.silent = None;
        }
        self.send_always(line);
    }

    fn send_always(&mut self, line: &Message) {
        let Some(sink) = &self.sink else { return };
        if sink.try_send(Out::Line(line.to_string())).is_err() {
            debug!(session = %self.id, "connection gone or too slow: unbinding");
            self.unbind(false);
        } else {
            self.last_sent = Instant::now();
        }
    }

    fn unbind(&mut self, abrupt: bool) {
        if let Some(sink) = self.sink.take() {
            if abrupt {
                let _ = sink.try_send(Out::Close);
            }
        }
        self.unbound_since = Some(Instant::now());
    }

    pub(crate) async fn run(
        mut self,
        mut cmds: mpsc::Receiver<SessionCmd>,
        mut bus: broadcast::Receiver<BusEvent>,
    ) {
        loop {
            let probe_at = self.last_sent + self.keepalive;
            let linger_until = self.unbound_since.map(|t| t + SESSION_LINGER);
            let flush_at = self.next_flush();
            tokio::select! {
                cmd = cmds.recv() => match cmd {
                    None => break,
                    Some(cmd) => if !self.command(cmd) { break },
                },
                ev = bus.recv() => match ev {
                    Ok(ev) => self.bus_event(&ev),
                    Err(broadcast::error::RecvError::Lagged(n)) => debug!(session = %self.id, n, "bus lagged"),
                    Err(broadcast::error::RecvError::Closed) => break,
                },
                () = tokio::time::sleep_until(flush_at.unwrap_or(probe_at)), if flush_at.is_some() => {
                    self.flush();
                }
                () = tokio::time::sleep_until(probe_at), if self.sink.is_some() => {
                    self.send(&Message::Probe);
                }
                () = tokio::time::sleep_until(linger_until.unwrap_or(probe_at)), if linger_until.is_some() => {
                    debug!(session = %self.id, "unbound too long: session discarded");
                    break;
                }
            }
        }
        self.registry.remove(&self.id);
    }

    /// When the first withheld update of a throttled item is due.
    fn next_flush(&self) -> Option<Instant> {
        self.subs
            .values()
            .flat_map(|sub| &sub.slots)
            .filter(|slot| slot.pending)
            .filter_map(|slot| slot.next_at)
            .min()
    }

    /// Sends the withheld updates whose interval has passed.
    fn flush(&mut self) {
        let now = Instant::now();
        let muted = self.muted();
        let mut lines = Vec::new();
        for (sub_id, sub) in &mut self.subs {
            let Some(interval) = sub.interval else {
                continue;
            };
            for (i, slot) in sub.slots.iter_mut().enumerate() {
                if !slot.pending || slot.next_at.is_some_and(|t| t > now) {
                    continue;
                }
                slot.pending = false;
                let Some(cur) = &slot.current else {
                    continue;
                };
                if muted {
                    slot.last = None;
                    continue;
                }
                lines.push(Message::Update {
                    sub_id: *sub_id,
                    item: i + 1,
                    values: encode_update(cur, &mut slot.last),
                });
                slot.next_at = Some(now + interval);
            }
        }
        for l in lines {
            self.send(&l);
        }
    }

    /// Handles a command; false ends the session.
    fn command(&mut self, cmd: SessionCmd) -> bool {
        match cmd {
            SessionCmd::Bind {
                sink,
                keepalive,
                polling,
            } => self.bind(sink, keepalive, polling),
            SessionCmd::Control { form, reply } => return self.control(&form, reply),
            SessionCmd::Fault(f) => return self.fault(&f),
        }
        true
    }

    fn bind(&mut self, sink: mpsc::Sender<Out>, keepalive: Option<Duration>, polling: bool) {
        // A new bind replaces the old connection (closed without more data).
        self.sink = Some(sink);
        self.bind_gen += 1;
        self.unbound_since = None;
        if let Some(k) = keepalive {
            self.keepalive = k.max(Duration::from_millis(20));
        }
        self.send_always(&Message::ConOk {
            session_id: self.id.clone(),
            request_limit: 50_000,
            keepalive_ms: u64::try_from(self.keepalive.as_millis()).unwrap_or(u64::MAX),
            control_link: "*".into(),
        });
        self.send_always(&Message::ServName("Scalper Sandbox Lightstreamer".into()));
        self.send_always(&Message::ClientIp("127.0.0.1".into()));
        self.send_always(&Message::Cons("unlimited".into()));
        // Values last sent were on the old connection: resend current MERGE values in full.
        let ids: Vec<u64> = self.subs.keys().copied().collect();
        for id in ids {
            let mut lines = Vec::new();
            if let Some(sub) = self.subs.get_mut(&id) {
                for (i, slot) in sub.slots.iter_mut().enumerate() {
                    slot.last = None;
                    if !sub.distinct {
                        if let Some(cur) = slot.current.clone() {
                            lines.push(Message::Update {
                                sub_id: id,
                                item: i + 1,
                                values: encode_update(&cur, &mut slot.last),
                            });
                        }
                    }
                }
            }
            for l in lines {
                self.send(&l);
            }
        }
        if polling {
            self.send_always(&Message::Loop { delay_ms: 0 });
            self.unbind(false);
        }
    }

    fn reply(&mut self, reply: Option<oneshot::Sender<String>>, line: &Message) {
        if self.ack_suppressed && matches!(line, Message::ReqOk { .. }) {
            return;
        }
        match reply {
            Some(tx) => {
                let _ = tx.send(line.to_string());
            }
            None => self.send_always(line),
        }
    }

    fn control(&mut self, form: &Form, reply: Option<oneshot::Sender<String>>) -> bool {
        let req_id = form.number("LS_reqId");
        let ok = Message::ReqOk { req_id };
        // `LS_ack=false` (official clients on WebSocket): no REQOK on the stream. A refusal is
        // still answered with REQERR.
        let silent_ok = reply.is_none() && form.get("LS_ack") == Some("false");
        self.ack_suppressed = silent_ok;
        match form.get("LS_op").unwrap_or("") {
            "add" => self.add(form, req_id, reply),
            "delete" => {
                let sub_id = form.number("LS_subId").unwrap_or(0);
                self.reply(reply, &ok);
                if self.subs.remove(&sub_id).is_some() {
                    self.send(&Message::Unsub { sub_id });
                }
            }
            "destroy" => {
                self.reply(reply, &ok);
                self.unbind(true);
                return false;
            }
            "force_rebind" => {
                self.reply(reply, &ok);
                self.send_always(&Message::Loop { delay_ms: 0 });
                self.unbind(false);
            }
            _ => self.reply(reply, &ok),
        }
        true
    }

    fn add(&mut self, form: &Form, req_id: Option<u64>, reply: Option<oneshot::Sender<String>>) {
        match self.build_sub(form) {
            Err((code, message)) => {
                self.reply(
                    reply,
                    &Message::ReqErr {
                        req_id: req_id.unwrap_or(0),
                        code,
                        message,
                    },
                );
            }
            Ok((sub_id, mut sub)) => {
                self.reply(reply, &Message::ReqOk { req_id });
                let snapshot = form.get("LS_snapshot").is_some_and(|s| s != "false");
                self.send(&Message::SubOk {
                    sub_id,
                    items: sub.slots.len(),
                    fields: sub.fields.len(),
                });
                if sub.interval.is_some() {
                    self.send(&Message::Conf {
                        sub_id,
                        max_frequency: format!("{:?}", sub.max_frequency),
                        filtered: true,
                    });
                }
                let mut lines = Vec::new();
                for (i, slot) in sub.slots.iter_mut().enumerate() {
                    let row = if snapshot {
                        self.snapshot_row(slot, &sub.fields)
                    } else {
                        None
                    };
                    if let Some(row) = row {
                        lines.push(Message::Update {
                            sub_id,
                            item: i + 1,
                            values: encode_update(&row, &mut slot.last),
                        });
                        slot.current = Some(row);
                        slot.next_at = sub.interval.map(|d| Instant::now() + d);
                    }
                    if sub.distinct && snapshot {
                        lines.push(Message::Eos {
                            sub_id,
                            item: i + 1,
                        });
                    }
                }
                self.subs.insert(sub_id, sub);
                for l in lines {
                    self.send(&l);
                }
            }
        }
    }

    /// The snapshot row of a new subscription's item: the market's current price (with its
    /// day statistics) for price items, the account's values for ACCOUNT, none for TRADE.
    fn snapshot_row(&self, slot: &mut Slot, fields: &[String]) -> Option<Vec<Value>> {
        match &slot.item {
            Item::Trade => None,
            Item::Account => self
                .registry
                .account_fields(&self.account)
                .map(|data| account_row(fields, &data, &[])),
            item => {
                let q = item.epic().and_then(|e| self.registry.snapshot(e))?;
                slot.price
                    .seed_day(q.decimals, q.day_open, q.day_high, q.day_low);
                slot.price.set_volume(q.volume);
                if let Item::Chart {
                    scale: Scale::Period(period),
                    ..
                } = item
                {
                    let ms = q.ts.millis();
                    let start = ms - ms.rem_euclid(*period);
                    let close = [q.bid.value(), q.offer.value()];
                    if let Some(seed) = q.candles.iter().find(|c| {
                        c.period == *period
                            && c.start == start
                            && c.ticks > 0
                            && [c.bid[3], c.ofr[3]] == close
                    }) {
                        slot.price.seed_candle(seed);
                    }
                }
                let tick = Tick {
                    bid: q.bid,
                    offer: q.offer,
                    ts: q.ts,
                    status: &q.status,
                };
                slot.price.on_tick(item, fields, &tick).into_iter().last()
            }
        }
    }

    fn build_sub(&self, form: &Form) -> Result<(u64, Sub), (i32, String)> {
        let sub_id = form
            .number("LS_subId")
            .ok_or((15, "Missing or bad LS_subId".to_string()))?;
        let distinct = match form.get("LS_mode") {
            Some("MERGE") => false,
            Some("DISTINCT") => true,
            _ => return Err((-1, "Only MERGE and DISTINCT modes are supported".into())),
        };
        let group = form.get("LS_group").unwrap_or("");
        let fields: Vec<String> = form
            .get("LS_schema")
            .unwrap_or("")
            .split_whitespace()
            .map(str::to_string)
            .collect();
        let adapter = form.get("LS_data_adapter");
        // The server's cap (none: every update at once), lowered by the client's request.
        let cap = self.registry.ctx.max_frequency;
        let requested = match form.get("LS_requested_max_frequency") {
            None | Some("unlimited" | "unfiltered") => cap,
            Some(f) => match f.trim().parse::<f64>() {
                Ok(n) if n > 0.0 && n.is_finite() => Some(cap.map_or(n, |c| n.min(c))),
                _ => return Err((15, format!("Bad LS_requested_max_frequency {f:?}"))),
            },
        };
        let mut slots = Vec::new();
        for name in group.split_whitespace() {
            let item = Item::parse(name, &self.account, adapter).map_err(|m| (-1, m))?;
            item.check_schema(&fields).map_err(|m| (-1, m))?;
            slots.push(Slot {
                item,
                current: None,
                last: None,
                price: PriceState::default(),
                next_at: None,
                pending: false,
            });
        }
        if slots.is_empty() {
            return Err((-1, "Empty item group".into()));
        }
        // Fault injection: refuse the next N subscriptions.
        let refused = self
            .registry
            .refuse
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if refused {
            return Err((-1, "Subscription refused (sandbox fault injection)".into()));
        }
        // MERGE price items are throttled as IG's server does; candles (whose completing
        // update must not be merged away), ACCOUNT and DISTINCT items are not.
        let throttled = !distinct
            && slots
                .iter()
                .all(|s| matches!(s.item, Item::Price { .. } | Item::Market { .. }));
        Ok((
            sub_id,
            Sub {
                distinct,
                fields,
                slots,
                interval: requested
                    .filter(|_| throttled)
                    .map(|f| Duration::from_secs_f64(1.0 / f)),
                max_frequency: requested.unwrap_or(0.0),
            },
        ))
    }

    fn fault(&mut self, fault: &StreamFault) -> bool {
        match fault {
            StreamFault::DropConnections => self.unbind(true),
            StreamFault::Silence { millis } => {
                self.silent = Some((
                    self.bind_gen,
                    Instant::now() + Duration::from_millis(*millis),
                ));
            }
            StreamFault::ForceLoop => {
                self.send_always(&Message::Loop { delay_ms: 0 });
                self.unbind(false);
            }
            StreamFault::End { cause } => {
                self.send_always(&Message::End {
                    cause: i32::try_from(*cause).unwrap_or(i32::MAX),
                    message: "Session closed by the sandbox".into(),
                });
                self.unbind(true);
                return false;
            }
            StreamFault::RefuseSubscriptions { .. } => {}
        }
        true
    }

    /// True while nothing may be sent (unbound, or silenced by a fault on this binding).
    fn muted(&mut self) -> bool {
        if let Some((gen, until)) = self.silent {
            if gen == self.bind_gen && Instant::now() < until {
                return true;
            }
            self.silent = None;
        }
        self.sink.is_none()
    }

    fn bus_event(&mut self, ev: &BusEvent) {
        // Values computed while muted are never sent: the next update must then be explicit.
        let muted = self.muted();
        let mut lines = Vec::new();
        for (sub_id, sub) in &mut self.subs {
            for (i, slot) in sub.slots.iter_mut().enumerate() {
                let rows: Vec<Vec<Value>> = match (ev, &slot.item) {
                    (
                        BusEvent::Price {
                            epic,
                            bid,
                            offer,
                            ts,
                            status,
                        },
                        item,
                    ) if item.epic() == Some(epic) => {
                        let tick = Tick {
                            bid: *bid,
                            offer: *offer,
                            ts: *ts,
                            status,
                        };
                        slot.price.on_tick(item, &sub.fields, &tick)
                    }
                    (
                        BusEvent::Trade {
                            account,
                            kind,
                            json,
                        },
                        Item::Trade,
                    ) if account.as_str() == self.account => {
                        vec![trade_row(&sub.fields, *kind, json)]
                    }
                    (BusEvent::Account { account, fields }, Item::Account)
                        if account.as_str() == self.account =>
                    {
                        let prev = slot.current.clone().unwrap_or_default();
                        vec![account_row(&sub.fields, fields, &prev)]
                    }
                    _ => continue,
                };
                let now = Instant::now();
                for row in rows {
                    if let Some(interval) = sub.interval {
                        // Throttled: send now if the interval has passed, else keep the
                        // values for the flush.
                        if slot.next_at.is_some_and(|t| t > now) {
                            slot.current = Some(row);
                            slot.pending = true;
                            continue;
                        }
                        slot.next_at = Some(now + interval);
                        slot.pending = false;
                    }
                    if muted {
                        slot.last = None;
                    } else {
                        lines.push(Message::Update {
                            sub_id: *sub_id,
                            item: i + 1,
                            values: encode_update(&row, &mut slot.last),
                        });
                    }
                    slot.current = Some(row);
                }
            }
        }
        for l in lines {
            self.send(&l);
        }
    }
}
