//! Sandbox configuration: network, seed and speed, credentials, token lifetimes, accounts,
//! market schedule, rate limits, faults and optional quote replay. `Default` is what
//! `scalper sandbox` runs with no flags.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::Duration;

use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use scalper_model::hours::{Holiday, TradingHours};
use scalper_model::{Epic, Timestamp};
use secrecy::SecretString;

use crate::faults::{FaultSpec, FaultSpecError};

/// The CFD account's id.
pub const CFD_ACCOUNT: &str = "SANDBOX-CFD";
/// The spread-bet account's id.
pub const SPREAD_BET_ACCOUNT: &str = "SANDBOX-SB";

/// Login credentials the sandbox accepts. `Debug` redacts the secrets.
#[derive(Clone)]
pub struct Credentials {
    pub username: String,
    pub password: SecretString,
    pub api_key: SecretString,
}

impl Default for Credentials {
    fn default() -> Self {
        Self {
            username: "sandbox".into(),
            password: SecretString::from("sandbox-pass"),
            api_key: SecretString::from("sandbox-api-key"),
        }
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"[redacted]")
            .field("api_key", &"[redacted]")
            .finish()
    }
}

/// When markets are open (evaluated on simulated time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MarketSchedule {
    /// Always TRADEABLE (for demos and tests on any day).
    AlwaysOpen,
    /// Each market's own hours ([`scalper_model::catalogue::MarketSpec::trading_hours`]: FX
    /// Sunday to Friday 17:00 New York time, index and gold sessions with their daily breaks),
    /// less the configured holidays.
    #[default]
    MarketHours,
}

/// A day one or more markets keep other hours in the sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarketHoliday {
    pub holiday: Holiday,
    /// The markets it applies to (epics); every market when empty.
    pub epics: Vec<Epic>,
}

impl MarketHoliday {
    /// Parses `DATE[@HH:MM][=EPIC_OR_NAME,...]`: `2026-12-25` (every market closed all day),
    /// `2026-12-24@13:00=GER40,FTSE100` (those close early at 13:00, in each market's zone).
    pub fn parse(spec: &str) -> Result<Self, String> {
        let (head, markets) = match spec.split_once('=') {
            Some((h, m)) => (h, Some(m)),
            None => (spec, None),
        };
        let (date, close) = match head.split_once('@') {
            Some((d, c)) => (d, Some(c)),
            None => (head, None),
        };
        let date = chrono::NaiveDate::parse_from_str(date.trim(), "%Y-%m-%d")
            .map_err(|_| format!("holiday {spec:?}: {date:?} is not a date (YYYY-MM-DD)"))?;
        let early_close = close
            .map(|c| {
                chrono::NaiveTime::parse_from_str(c.trim(), "%H:%M")
                    .map_err(|_| format!("holiday {spec:?}: early close {c:?} is not HH:MM"))
            })
            .transpose()?;
        let epics = markets
            .map(|list| {
                list.split(',')
                    .filter(|n| !n.trim().is_empty())
                    .map(|n| {
                        scalper_model::market::resolve_instrument(n.trim()).ok_or_else(|| {
                            format!("holiday {spec:?}: {n:?} is neither a market name (GER40) nor an epic")
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?
            .unwrap_or_default();
        Ok(Self {
            holiday: Holiday { date, early_close },
            epics,
        })
    }

    fn applies(&self, epic: &Epic) -> bool {
        self.epics.is_empty()
            || self.epics.iter().any(|e| {
                scalper_model::catalogue::same_market(e, &crate::catalog::model_epic(epic))
            })
    }
}

impl MarketSchedule {
    /// Whether a market with `hours` is open at `ts` given the `holidays` of `epic`.
    pub fn is_open(
        self,
        epic: &Epic,
        hours: &TradingHours,
        holidays: &[MarketHoliday],
        ts: Timestamp,
    ) -> bool {
        match self {
            Self::AlwaysOpen => true,
            Self::MarketHours => {
                let days: Vec<Holiday> = holidays
                    .iter()
                    .filter(|h| h.applies(epic))
                    .map(|h| h.holiday)
                    .collect();
                hours.is_open(ts, &days)
            }
        }
    }

    /// The holidays of `epic` among `holidays`.
    pub fn holidays_of(epic: &Epic, holidays: &[MarketHoliday]) -> Vec<Holiday> {
        holidays
            .iter()
            .filter(|h| h.applies(epic))
            .map(|h| h.holiday)
            .collect()
    }
}

/// IG's default allowances (per minute unless stated).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    pub app_non_trading_per_min: u32,
    pub account_trading_per_min: u32,
    pub account_non_trading_per_min: u32,
    pub historical_points_per_week: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            app_non_trading_per_min: 60,
            account_trading_per_min: 100,
            account_non_trading_per_min: 30,
            historical_points_per_week: 10_000,
        }
    }
}

/// Replays a quote CSV (`ts_ms,bid,ask`, optional header) for one epic instead of simulating it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replay {
    pub epic: Epic,
    pub path: PathBuf,
}

/// Everything `Sandbox::start` needs. Build with `..Default::default()`.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Address to bind; loopback by default. Anything else is refused unless `allow_remote`.
    pub bind: IpAddr,
    /// Permit a non-loopback `bind` (the sandbox accepts its well-known credentials from anyone
    /// who can reach it). Off by default: [`crate::Sandbox::start`] then refuses such an
    /// address with [`crate::SandboxError::NonLoopbackBind`].
    pub allow_remote: bool,
    /// Port; 0 picks a free one.
    pub port: u16,
    /// Seed of every random process (prices, tick times, generated ids).
    pub seed: u64,
    /// Simulated seconds per real second; 0 pauses the simulator (step it through the admin API).
    pub speed: f64,
    /// Simulated start time; `None` = wall-clock now.
    pub start_time: Option<Timestamp>,
    /// v1/v2 CST/X-SECURITY-TOKEN idle lifetime (extended by each use).
    pub token_idle_ttl: Duration,
    /// v1/v2 token maximum age whatever the use.
    pub token_max_age: Duration,
    /// v3 access token lifetime (`expires_in`).
    pub oauth_expires_in: Duration,
    /// v3 refresh token lifetime.
    pub oauth_refresh_ttl: Duration,
    pub credentials: Credentials,
    /// The account the configured user's login lands on (`--default-account`): IG's per-client
    /// default account. `SANDBOX-CFD` unless set.
    pub default_account: String,
    /// A second login (same password) whose default account is the spread-bet one, as a
    /// spread-bet client's is on IG; `None` disables it.
    pub spread_bet_user: Option<String>,
    /// Account currency (GBP by default).
    pub currency: String,
    /// Opening balance of each account.
    pub starting_balance: Decimal,
    /// `None` = no allowances enforced (the default for local runs).
    pub rate_limits: Option<RateLimits>,
    /// Faults active from the start.
    pub faults: FaultSpec,
    pub schedule: MarketSchedule,
    /// Closed days and early closes under [`MarketSchedule::MarketHours`].
    pub holidays: Vec<MarketHoliday>,
    pub replay: Option<Replay>,
    /// How long `/confirms/{dealReference}` stays available.
    pub confirm_ttl: Duration,
    /// Consecutive failed logins before `too-many-failed-attempts`.
    pub lockout_after: u32,
    /// How long the lockout lasts.
    pub lockout_duration: Duration,
    /// How long a `timeout` fault holds a request before answering 504.
    pub timeout_hold: Duration,
    /// Lightstreamer keep-alive (PROBE) interval.
    pub stream_keepalive: Duration,
    /// The most updates a second a streamed PRICE or MARKET item gets, as IG's server throttles
    /// them (default 20, `stream::MAX_FREQUENCY`); `None` sends every quote at once (benchmarks
    /// of scalper's own tick-to-order latency, which the throttle's wait would hide).
    pub stream_max_frequency: Option<f64>,
    /// Simulated history generated before the start (for `/prices`).
    pub warmup: Duration,
    /// A connection that has not sent a complete request header within this is closed.
    pub header_read_timeout: Duration,
    /// A keep-alive connection with no request in flight is closed after this long.
    pub idle_timeout: Duration,
    /// Open connections at most; at the cap the longest-idle one is closed to make room, and
    /// a new connection is refused only when every one is busy.
    pub max_connections: usize,
    /// Live v2 sessions kept at most (and, each, v3 access and refresh tokens): expired ones
    /// are dropped at every login, then the least recently used beyond this.
    pub max_sessions: usize,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            allow_remote: false,
            port: 0,
            seed: 42,
            speed: 1.0,
            start_time: None,
            token_idle_ttl: Duration::from_secs(6 * 3600),
            token_max_age: Duration::from_secs(72 * 3600),
            oauth_expires_in: Duration::from_secs(60),
            oauth_refresh_ttl: Duration::from_secs(600),
            credentials: Credentials::default(),
            default_account: CFD_ACCOUNT.into(),
            spread_bet_user: Some("sandbox-sb".into()),
            currency: "GBP".into(),
            starting_balance: dec!(10000),
            rate_limits: None,
            faults: FaultSpec::default(),
            schedule: MarketSchedule::default(),
            holidays: Vec::new(),
            replay: None,
            confirm_ttl: Duration::from_secs(60),
            lockout_after: 5,
            lockout_duration: Duration::from_secs(60),
            timeout_hold: Duration::from_secs(30),
            stream_keepalive: Duration::from_secs(5),
            stream_max_frequency: Some(crate::stream::MAX_FREQUENCY),
            warmup: Duration::from_secs(30 * 60),
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 512,
            max_sessions: 1_000,
        }
    }
}

impl SandboxConfig {
    /// Whether the market of `entry` is open at simulated time `now`.
    pub fn is_open(&self, entry: &crate::catalog::CatalogEntry, now: Timestamp) -> bool {
        self.schedule
            .is_open(&entry.epic, &entry.hours, &self.holidays, now)
    }

    /// The default account of `username`, when it is one of the sandbox's users.
    pub fn user_default_account(&self, username: &str) -> Option<&str> {
        if username == self.credentials.username {
            Some(&self.default_account)
        } else if self.spread_bet_user.as_deref() == Some(username) {
            Some(SPREAD_BET_ACCOUNT)
        } else {
            None
        }
    }

    /// Parses a `--faults` spec (grammar in [`crate::faults`]).
    pub fn parse_faults(spec: &str) -> Result<FaultSpec, FaultSpecError> {
        FaultSpec::parse(spec)
    }

    /// A configuration for tests: paused simulator, always open, no warm-up, fixed start.
    pub fn for_tests() -> Self {
        Self {
            speed: 0.0,
            schedule: MarketSchedule::AlwaysOpen,
            start_time: Some(Timestamp::from_millis(1_767_225_600_000)),
            warmup: Duration::from_secs(300),
            ..Self::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weekend_is_closed_by_default_schedule() {
        use chrono::Datelike;
        // 2027-11-27 is a Saturday.
        let sat = Timestamp::from_millis(1_764_331_200_000 + 365 * 86_400_000);
        let s = MarketSchedule::MarketHours;
        let dt = sat.to_datetime().unwrap();
        assert_eq!(dt.weekday(), chrono::Weekday::Sat, "{dt}");
        let eur = Epic::new("CS.D.EURUSD.CFD.IP").unwrap();
        let fx = TradingHours::fx();
        assert!(!s.is_open(&eur, &fx, &[], sat));
        let thu = Timestamp::from_millis(sat.millis() - 2 * 86_400_000);
        assert!(s.is_open(&eur, &fx, &[], thu));
        assert!(MarketSchedule::AlwaysOpen.is_open(&eur, &fx, &[], sat));
        // A holiday on Thursday for GER40 only leaves EUR/USD open.
        let thu_date = thu.to_datetime().unwrap().date_naive();
        let hol = MarketHoliday::parse(&format!("{thu_date}=GER40")).unwrap();
        assert!(s.is_open(&eur, &fx, std::slice::from_ref(&hol), thu));
        let dax = Epic::new("IX.D.DAX.IFMM.IP").unwrap();
        let ger = scalper_model::catalogue::by_name("GER40")
            .unwrap()
            .trading_hours();
        assert!(!s.is_open(&dax, &ger, std::slice::from_ref(&hol), thu));
        // The spread-bet epic of the same market is covered too.
        let dax_bet = Epic::new("IX.D.DAX.DAILY.IP").unwrap();
        assert!(!s.is_open(&dax_bet, &ger, std::slice::from_ref(&hol), thu));
    }

    #[test]
    fn holiday_specs_parse_or_say_what_is_wrong() {
        let h = MarketHoliday::parse("2026-12-24@13:00=GER40,FTSE100").unwrap();
        assert_eq!(h.epics.len(), 2);
        assert_eq!(
            h.holiday.early_close,
            chrono::NaiveTime::from_hms_opt(13, 0, 0)
        );
        assert!(MarketHoliday::parse("2026-12-25").unwrap().epics.is_empty());
        let e = MarketHoliday::parse("25/12/2026").unwrap_err();
        assert!(e.contains("YYYY-MM-DD"), "{e}");
        let e = MarketHoliday::parse("2026-12-24@1pm").unwrap_err();
        assert!(e.contains("HH:MM"), "{e}");
        let e = MarketHoliday::parse("2026-12-24=NOPE").unwrap_err();
        assert!(e.contains("NOPE"), "{e}");
    }

    #[test]
    fn debug_redacts_credentials() {
        let d = format!("{:?}", SandboxConfig::default());
        assert!(!d.contains("sandbox-pass"));
        assert!(!d.contains("sandbox-api-key"));
    }
}
