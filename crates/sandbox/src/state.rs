//! The sandbox's mutable world behind one lock: sessions, accounts (positions, working orders,
//! ledger, history), markets, confirms, counters and faults; plus the JSON state snapshot.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rust_decimal::Decimal;
use scalper_ig_wire::confirms::DealConfirmation;
use scalper_ig_wire::history::{Activity, Transaction};
use scalper_model::{Direction, Timestamp};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::catalog::ProductKind;
use crate::faults::FaultState;
use crate::market::MarketRt;

/// A v1/v2 session (CST + X-SECURITY-TOKEN). `Debug` redacts the token.
#[derive(Clone)]
pub struct V2Session {
    pub xst: String,
    /// The login name (whose default account applies).
    pub user: String,
    pub account: String,
    pub created: Instant,
    pub last_used: Instant,
}

/// A v3 access token.
#[derive(Debug, Clone)]
pub struct OAuthAccess {
    pub expires: Instant,
    /// The login name: without `IG-ACCOUNT-ID` its default account applies.
    pub user: String,
}

/// An open position.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Position {
    pub deal_id: String,
    pub deal_reference: String,
    pub epic: String,
    pub direction: Direction,
    pub size: Decimal,
    pub level: Decimal,
    pub stop_level: Option<Decimal>,
    pub limit_level: Option<Decimal>,
    pub currency: String,
    pub created: Timestamp,
    /// Guaranteed or trailing: what kind of stop IG keeps for it.
    #[serde(default)]
    pub stop: StopTerms,
}

/// The kind of stop a position has: normal (the default), guaranteed (filled at its level,
/// `premium` points charged when triggered) or trailing (IG moves it).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StopTerms {
    #[serde(default)]
    pub guaranteed: bool,
    /// The guaranteed-stop premium in points, charged per unit of size when triggered.
    #[serde(default)]
    pub premium: Option<Decimal>,
    /// Trailing distance and step, in points (price units at IG's scale).
    #[serde(default)]
    pub trailing: Option<(Decimal, Decimal)>,
}

/// A resting LIMIT/STOP order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkingOrder {
    pub deal_id: String,
    pub deal_reference: String,
    pub epic: String,
    pub direction: Direction,
    pub size: Decimal,
    pub level: Decimal,
    /// "LIMIT" or "STOP".
    pub order_type: String,
    pub time_in_force: String,
    pub good_till: Option<Timestamp>,
    pub stop_distance: Option<Decimal>,
    pub limit_distance: Option<Decimal>,
    pub currency: String,
    pub created: Timestamp,
}

/// A watchlist of one account (`/watchlists`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watchlist {
    pub id: String,
    pub name: String,
    /// System watchlists can be neither edited nor deleted.
    pub system: bool,
    pub epics: Vec<String>,
}

/// One cash movement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LedgerEntry {
    pub ts: Timestamp,
    pub deal_id: String,
    pub description: String,
    pub amount: Decimal,
    pub balance: Decimal,
}

/// A trading account.
#[derive(Debug, Clone)]
pub struct Account {
    pub id: String,
    pub name: String,
    pub kind: ProductKind,
    pub balance: Decimal,
    pub positions: Vec<Position>,
    pub orders: Vec<WorkingOrder>,
    pub ledger: Vec<LedgerEntry>,
    pub activities: Vec<Activity>,
    pub transactions: Vec<Transaction>,
    /// The account's `trailingStopsEnabled` preference: trailing-stop orders are rejected
    /// `TRAILING_STOP_NOT_ALLOWED` without it.
    pub trailing_stops_enabled: bool,
}

/// The application's state as `PUT /operations/application` left it: `None` fields keep the
/// configured value.
#[derive(Debug, Clone, Default)]
pub struct ApplicationUpdate {
    pub status: Option<String>,
    pub allowance_account_overall: Option<u32>,
    pub allowance_account_trading: Option<u32>,
}

/// A stored confirm.
#[derive(Debug, Clone)]
pub struct StoredConfirm {
    pub account: String,
    pub confirm: DealConfirmation,
    pub visible_from: Instant,
    pub expires: Instant,
}

/// Fixed one-minute windows for the allowances.
#[derive(Debug, Default)]
pub struct RateWindow {
    pub window_start: Option<Instant>,
    pub counts: HashMap<String, u32>,
}

/// Everything mutable. `Debug` shows counts only: session tokens are secrets.
pub struct State {
    pub sessions: HashMap<String, V2Session>,
    pub oauth: HashMap<String, OAuthAccess>,
    /// Refresh tokens: expiry and login name.
    pub refresh: HashMap<String, (Instant, String)>,
    pub failed_logins: u32,
    pub locked_until: Option<Instant>,
    pub logins: BTreeMap<String, u64>,
    pub requests: BTreeMap<String, u64>,
    pub accounts: BTreeMap<String, Account>,
    /// Each user's default (preferred) account, by login name.
    pub preferred: BTreeMap<String, String>,
    /// Watchlists, by account.
    pub watchlists: BTreeMap<String, Vec<Watchlist>>,
    pub markets: BTreeMap<String, MarketRt>,
    /// The epics quoted from each underlying (its market's mini and spread-bet epics).
    pub followers: BTreeMap<String, Vec<String>>,
    pub confirms: HashMap<String, StoredConfirm>,
    pub used_refs: HashSet<String>,
    used_order: VecDeque<String>,
    pub sim_now: Timestamp,
    pub faults: FaultState,
    pub rates: RateWindow,
    pub historical_used: u32,
    pub encryption_ts: i64,
    /// What `PUT /operations/application` last set (status and advertised allowances).
    pub application: ApplicationUpdate,
    seq: u64,
    rng: ChaCha8Rng,
}

impl std::fmt::Debug for V2Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("V2Session")
            .field("xst", &"[redacted]")
            .field("account", &self.account)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("sessions", &self.sessions.len())
            .field("oauth_tokens", &self.oauth.len())
            .field("accounts", &self.accounts.len())
            .field("markets", &self.markets.len())
            .field("confirms", &self.confirms.len())
            .field("sim_now", &self.sim_now)
            .finish_non_exhaustive()
    }
}

impl State {
    /// The default account of `user` (the first account for an unknown one).
    pub fn default_account(&self, user: &str) -> String {
        self.preferred
            .get(user)
            .cloned()
            .or_else(|| self.accounts.keys().next().cloned())
            .unwrap_or_default()
    }

    pub fn new(seed: u64, sim_now: Timestamp) -> Self {
        Self {
            sessions: HashMap::new(),
            oauth: HashMap::new(),
            refresh: HashMap::new(),
            failed_logins: 0,
            locked_until: None,
            logins: BTreeMap::new(),
            requests: BTreeMap::new(),
            accounts: BTreeMap::new(),
            preferred: BTreeMap::new(),
            watchlists: BTreeMap::new(),
            markets: BTreeMap::new(),
            followers: BTreeMap::new(),
            confirms: HashMap::new(),
            used_refs: HashSet::new(),
            used_order: VecDeque::new(),
            sim_now,
            faults: FaultState::new(seed),
            rates: RateWindow::default(),
            historical_used: 0,
            encryption_ts: sim_now.millis(),
            application: ApplicationUpdate::default(),
            seq: 0,
            rng: ChaCha8Rng::seed_from_u64(seed ^ 0x05ee_d1d5),
        }
    }

    /// A fresh random token (hex).
    pub fn token(&mut self) -> String {
        let a: u128 = self.rng.gen();
        format!("{a:032x}")
    }

    /// A new IG-looking deal id (`DIAAAA...`).
    pub fn deal_id(&mut self) -> String {
        self.seq += 1;
        let r: u32 = self.rng.gen();
        format!("DIAAAA{:05X}{:04X}", self.seq, r & 0xffff)
    }

    /// A generated IG-looking deal reference (15 upper-case alphanumerics).
    pub fn deal_reference(&mut self) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        (0..15)
            .map(|_| char::from(ALPHABET[self.rng.gen_range(0..ALPHABET.len())]))
            .collect()
    }

    /// Remembers a deal reference for duplicate detection (the oldest are forgotten).
    pub fn remember_ref(&mut self, reference: &str) {
        if self.used_refs.insert(reference.to_string()) {
            self.used_order.push_back(reference.to_string());
            if self.used_order.len() > MAX_REMEMBERED_REFS {
                if let Some(old) = self.used_order.pop_front() {
                    self.used_refs.remove(&old);
                }
            }
        }
    }

    /// Makes room for one more session or token: drops every expired v2 session, v3 access
    /// and refresh token, then the least recently used ones beyond `cfg.max_sessions` (each
    /// kind), so that endless logins cannot grow the sandbox's memory.
    pub fn prune_sessions(&mut self, cfg: &crate::SandboxConfig, now: Instant) {
        let (idle_ttl, max_age) = (cfg.token_idle_ttl, cfg.token_max_age);
        let max = cfg.max_sessions.max(1);
        self.sessions.retain(|_, s| {
            now.duration_since(s.last_used) < idle_ttl && now.duration_since(s.created) < max_age
        });
        self.oauth.retain(|_, t| t.expires > now);
        self.refresh.retain(|_, (exp, _)| *exp > now);
        while self.sessions.len() >= max {
            let Some(oldest) = self
                .sessions
                .iter()
                .min_by_key(|(_, s)| s.last_used)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            self.sessions.remove(&oldest);
        }
        while self.oauth.len() >= max {
            let Some(first) = self
                .oauth
                .iter()
                .min_by_key(|(_, t)| t.expires)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            self.oauth.remove(&first);
        }
        while self.refresh.len() >= max {
            let Some(first) = self
                .refresh
                .iter()
                .min_by_key(|(_, (exp, _))| *exp)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            self.refresh.remove(&first);
        }
    }

    /// Invalidates every v2 session and v3 token (IG's weekend maintenance).
    pub fn invalidate_tokens(&mut self) -> usize {
        let n = self.sessions.len() + self.oauth.len() + self.refresh.len();
        self.sessions.clear();
        self.oauth.clear();
        self.refresh.clear();
        n
    }

    /// Adds `amount` to an account's balance with a ledger line.
    pub fn post_ledger(
        &mut self,
        account: &str,
        deal_id: &str,
        description: &str,
        amount: Decimal,
    ) {
        let ts = self.sim_now;
        if let Some(acc) = self.accounts.get_mut(account) {
            acc.balance += amount;
            cap(&mut acc.ledger);
            acc.ledger.push(LedgerEntry {
                ts,
                deal_id: deal_id.to_string(),
                description: description.to_string(),
                amount,
                balance: acc.balance,
            });
        }
    }
}

/// Deal references remembered for duplicate detection.
const MAX_REMEMBERED_REFS: usize = 200_000;
/// History lines (ledger, activity, transactions) kept per account; older ones are dropped.
pub const MAX_HISTORY: usize = 100_000;

/// Keeps a history vector within [`MAX_HISTORY`] (amortised: trims 10% at a time).
pub fn cap<T>(v: &mut Vec<T>) {
    if v.len() >= MAX_HISTORY + MAX_HISTORY / 10 {
        v.drain(..v.len() - MAX_HISTORY);
    }
}

/// Account figures for the state report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountSnapshot {
    pub account_id: String,
    pub account_type: String,
    pub balance: Decimal,
    pub profit_loss: Decimal,
    pub positions: Vec<Position>,
    pub working_orders: Vec<WorkingOrder>,
    pub ledger: Vec<LedgerEntry>,
}

/// What `GET /sandbox/state` and `SandboxHandle::state` report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StateSnapshot {
    /// Live v1/v2 sessions.
    pub sessions: usize,
    /// Live v3 access tokens.
    pub oauth_tokens: usize,
    /// Successful logins by kind (`v1`, `v2`, `v2-encrypted`, `v3`, `refresh`, `fetch-tokens`,
    /// `switch`) and failures (`failed`, `locked`).
    pub logins: BTreeMap<String, u64>,
    /// Requests per endpoint (`METHOD /path/template`).
    pub requests: BTreeMap<String, u64>,
    pub accounts: Vec<AccountSnapshot>,
    /// Faults fired so far, by kind.
    pub faults_fired: BTreeMap<String, u64>,
    /// Number of fault rules still armed.
    pub faults_armed: usize,
    pub sim_time: Timestamp,
}

impl StateSnapshot {
    /// The account with this id.
    pub fn account(&self, id: &str) -> Option<&AccountSnapshot> {
        self.accounts.iter().find(|a| a.account_id == id)
    }

    /// Total requests whose key contains `needle` (e.g. `"POST /session"`).
    pub fn requests_matching(&self, needle: &str) -> u64 {
        self.requests
            .iter()
            .filter(|(k, _)| k.contains(needle))
            .map(|(_, v)| *v)
            .sum()
    }

    /// Successful logins of all kinds except refreshes and token fetches.
    pub fn total_logins(&self) -> u64 {
        ["v1", "v2", "v2-encrypted", "v3"]
            .iter()
            .filter_map(|k| self.logins.get(*k))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_is_capped() {
        let mut v: Vec<u32> =
            (0..u32::try_from(MAX_HISTORY + MAX_HISTORY / 10).unwrap() - 1).collect();
        cap(&mut v);
        assert_eq!(
            v.len(),
            MAX_HISTORY + MAX_HISTORY / 10 - 1,
            "below the trim threshold"
        );
        v.push(0);
        cap(&mut v);
        assert_eq!(v.len(), MAX_HISTORY);
        assert_eq!(
            v[0],
            u32::try_from(MAX_HISTORY / 10).unwrap(),
            "the oldest lines go"
        );
    }

    #[test]
    fn generated_ids_look_like_ig_and_refs_are_remembered() {
        let mut st = State::new(1, Timestamp::from_millis(0));
        let r = st.deal_reference();
        assert_eq!(r.len(), 15);
        assert!(scalper_model::DealReference::new(r.clone()).is_ok());
        assert!(st.deal_id().starts_with("DIAAAA"));
        st.remember_ref(&r);
        st.remember_ref(&r);
        assert!(st.used_refs.contains(&r));
        assert_eq!(st.used_order.len(), 1);
        assert_ne!(st.token(), st.token());
    }
}
