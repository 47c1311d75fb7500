//! Fault injection: the `--faults` grammar and the runtime fault table.
//!
//! # Grammar
//!
//! ```text
//! spec    := item ("," item)*            (whitespace around items is ignored; "" or "none" = no faults)
//! item    := "token-invalid:" T          401 error.security.client-token-invalid (oauth-token-invalid
//!                                        for Bearer requests) on authenticated REST requests
//!          | "http500:" T | "http503:" T  500 system.error / 503 service unavailable on REST requests
//!          | "timeout:" T                hold the request for `timeout_hold` (30 s) then answer 504
//!          | "drop-deal-response:" T     execute a dealing request, then abort its response body
//!          | "lose-confirm:" T           execute a deal but never store its /confirms entry
//!          | "rate-limit:" T             403 error.public-api.exceeded-account-allowance
//!          | "reject:" REASON [":" T]    reject deals with IG reason REASON (default T = 1)
//!          | "latency:" DURATION         add this delay to every REST request
//!          | "slippage:" POINTS          fill every market deal (opens and closes the client sends)
//!                                        this many points worse than the sandbox's price, in the
//!                                        epic's quoted units (a pip on IG's FX levels), e.g. 0.5
//!          | "confirm-delay:" DURATION   /confirms answers deal-not-found until DURATION has passed
//!          | "hold-deal:" DURATION [":" T] hold the next T dealing requests (default 1) for DURATION,
//!                                        then execute the deal and answer as usual
//! T       := N        an integer: the next N matching requests
//!          | 0.P      a decimal strictly between 0 and 1 (with a '.'): that fraction of requests
//! DURATION:= humantime, e.g. 50ms, 2s
//! ```
//!
//! Example: `token-invalid:3,http500:0.05,drop-deal-response:1,latency:50ms`.

use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use scalper_ig_wire::reject;
use scalper_model::RejectReason;

/// How often a fault fires.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Trigger {
    /// The next N matching requests.
    Count(u32),
    /// Each matching request with this probability.
    Fraction(f64),
}

/// What a fault does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultKind {
    TokenInvalid,
    Http500,
    Http503,
    Timeout,
    DropDealResponse,
    LoseConfirm,
    RateLimit,
    /// Reject deals with this reason (given as IG's code).
    Reject(RejectReason),
    /// Hold a dealing request this long, then execute it.
    HoldDeal(Duration),
}

/// One parsed fault.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultRule {
    pub kind: FaultKind,
    pub trigger: Trigger,
}

/// A parsed `--faults` spec.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaultSpec {
    pub rules: Vec<FaultRule>,
    pub latency: Option<Duration>,
    pub confirm_delay: Option<Duration>,
    /// Adverse points on every market fill.
    pub slippage: Option<rust_decimal::Decimal>,
}

/// Why a fault spec was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid fault {item:?}: {reason} (grammar: name:N | name:0.F | latency:50ms | slippage:0.5 | reject:REASON[:N] | hold-deal:8s[:N]; names: token-invalid, http500, http503, timeout, drop-deal-response, lose-confirm, rate-limit, reject, latency, slippage, confirm-delay, hold-deal)")]
pub struct FaultSpecError {
    pub item: String,
    pub reason: String,
}

fn err(item: &str, reason: impl Into<String>) -> FaultSpecError {
    FaultSpecError {
        item: item.to_string(),
        reason: reason.into(),
    }
}

fn parse_trigger(item: &str, s: &str) -> Result<Trigger, FaultSpecError> {
    let s = s.trim();
    if s.contains('.') {
        let f: f64 = s
            .parse()
            .map_err(|_| err(item, format!("{s:?} is not a fraction")))?;
        if !(f > 0.0 && f < 1.0) {
            return Err(err(item, "a fraction must be strictly between 0 and 1"));
        }
        Ok(Trigger::Fraction(f))
    } else {
        let n: u32 = s.parse().map_err(|_| {
            err(
                item,
                format!("{s:?} is not a count (integer) or fraction (0.x)"),
            )
        })?;
        if n == 0 {
            return Err(err(item, "a count must be at least 1"));
        }
        Ok(Trigger::Count(n))
    }
}

fn parse_duration(item: &str, s: &str) -> Result<Duration, FaultSpecError> {
    humantime::parse_duration(s.trim()).map_err(|e| {
        err(
            item,
            format!("{s:?} is not a duration like 50ms or 2s: {e}"),
        )
    })
}

impl FaultSpec {
    /// Parses the grammar in the module doc.
    pub fn parse(spec: &str) -> Result<Self, FaultSpecError> {
        let mut out = Self::default();
        for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if item.eq_ignore_ascii_case("none") {
                continue;
            }
            let (name, arg) = item
                .split_once(':')
                .ok_or_else(|| err(item, "missing ':' and argument"))?;
            let name = name.trim().to_ascii_lowercase();
            let kind = match name.as_str() {
                "latency" => {
                    out.latency = Some(parse_duration(item, arg)?);
                    continue;
                }
                "confirm-delay" => {
                    out.confirm_delay = Some(parse_duration(item, arg)?);
                    continue;
                }
                "slippage" => {
                    let points: rust_decimal::Decimal = arg.trim().parse().map_err(|_| {
                        err(
                            item,
                            format!("{:?} is not a number of points like 0.5", arg.trim()),
                        )
                    })?;
                    if points <= rust_decimal::Decimal::ZERO
                        || points > rust_decimal::Decimal::from(10_000)
                    {
                        return Err(err(
                            item,
                            "slippage must be more than 0 and at most 10000 points",
                        ));
                    }
                    out.slippage = Some(points);
                    continue;
                }
                "reject" => {
                    let (reason, count) = match arg.split_once(':') {
                        Some((r, c)) => (r.trim(), parse_trigger(item, c)?),
                        None => (arg.trim(), Trigger::Count(1)),
                    };
                    if reason.is_empty()
                        || !reason.chars().all(|c| c.is_ascii_uppercase() || c == '_')
                    {
                        return Err(err(
                            item,
                            "reason must be an IG reason like INSUFFICIENT_FUNDS",
                        ));
                    }
                    out.rules.push(FaultRule {
                        kind: FaultKind::Reject(reject::from_ig(reason)),
                        trigger: count,
                    });
                    continue;
                }
                "hold-deal" => {
                    let (hold, count) = match arg.split_once(':') {
                        Some((d, c)) => (parse_duration(item, d)?, parse_trigger(item, c)?),
                        None => (parse_duration(item, arg)?, Trigger::Count(1)),
                    };
                    if hold.is_zero() {
                        return Err(err(item, "a hold must be longer than zero"));
                    }
                    out.rules.push(FaultRule {
                        kind: FaultKind::HoldDeal(hold),
                        trigger: count,
                    });
                    continue;
                }
                "token-invalid" => FaultKind::TokenInvalid,
                "http500" => FaultKind::Http500,
                "http503" => FaultKind::Http503,
                "timeout" => FaultKind::Timeout,
                "drop-deal-response" => FaultKind::DropDealResponse,
                "lose-confirm" => FaultKind::LoseConfirm,
                "rate-limit" => FaultKind::RateLimit,
                other => return Err(err(item, format!("unknown fault {other:?}"))),
            };
            out.rules.push(FaultRule {
                kind,
                trigger: parse_trigger(item, arg)?,
            });
        }
        Ok(out)
    }
}

/// The live fault table (behind the sandbox's lock).
#[derive(Debug)]
pub struct FaultState {
    rules: Vec<FaultRule>,
    pub latency: Option<Duration>,
    pub confirm_delay: Option<Duration>,
    /// Adverse points on every market fill (`slippage:`).
    pub slippage: Option<rust_decimal::Decimal>,
    rng: ChaCha8Rng,
    /// How many faults of each kind fired (reported in `/sandbox/state`).
    pub fired: std::collections::BTreeMap<String, u64>,
}

impl FaultState {
    pub fn new(seed: u64) -> Self {
        Self {
            rules: Vec::new(),
            latency: None,
            confirm_delay: None,
            slippage: None,
            rng: ChaCha8Rng::seed_from_u64(seed ^ 0xfa17),
            fired: std::collections::BTreeMap::new(),
        }
    }

    /// Adds a spec's faults to the table (later latency/confirm-delay replace earlier ones).
    pub fn add(&mut self, spec: FaultSpec) {
        self.rules.extend(spec.rules);
        if spec.latency.is_some() {
            self.latency = spec.latency;
        }
        if spec.confirm_delay.is_some() {
            self.confirm_delay = spec.confirm_delay;
        }
        if spec.slippage.is_some() {
            self.slippage = spec.slippage;
        }
    }

    /// Removes every fault.
    pub fn clear(&mut self) {
        self.rules.clear();
        self.latency = None;
        self.confirm_delay = None;
        self.slippage = None;
    }

    /// A market fill at `level` for a deal in `dir` (the client buys: `Buy`), after the
    /// `slippage:` fault: worse for the client by the armed points, counted as fired.
    pub fn slip(
        &mut self,
        level: rust_decimal::Decimal,
        dir: scalper_model::Direction,
    ) -> rust_decimal::Decimal {
        match self.slippage {
            Some(points) => {
                *self.fired.entry("slippage".into()).or_default() += 1;
                level + points * dir.sign()
            }
            None => level,
        }
    }

    /// Fires `kind` if a rule for it is due; consumes one count.
    pub fn take(&mut self, kind: &FaultKind) -> bool {
        let key = kind_name(kind);
        self.take_where(|k| k == kind).is_some_and(|_| {
            *self.fired.entry(key).or_default() += 1;
            true
        })
    }

    /// Fires the first due `reject:` rule, returning its reason.
    pub fn take_reject(&mut self) -> Option<RejectReason> {
        let kind = self.take_where(|k| matches!(k, FaultKind::Reject(_)))?;
        *self.fired.entry("reject".into()).or_default() += 1;
        match kind {
            FaultKind::Reject(r) => Some(r),
            _ => None,
        }
    }

    /// Fires the first due `hold-deal:` rule, returning how long to hold.
    pub fn take_hold(&mut self) -> Option<Duration> {
        let kind = self.take_where(|k| matches!(k, FaultKind::HoldDeal(_)))?;
        *self.fired.entry("hold-deal".into()).or_default() += 1;
        match kind {
            FaultKind::HoldDeal(d) => Some(d),
            _ => None,
        }
    }

    fn take_where(&mut self, pred: impl Fn(&FaultKind) -> bool) -> Option<FaultKind> {
        let idx = self.rules.iter().position(|r| pred(&r.kind))?;
        let fire = match &mut self.rules[idx].trigger {
            Trigger::Count(n) => {
                *n -= 1;
                true
            }
            Trigger::Fraction(p) => self.rng.gen_bool(*p),
        };
        let kind = self.rules[idx].kind.clone();
        if matches!(self.rules[idx].trigger, Trigger::Count(0)) {
            self.rules.remove(idx);
        }
        fire.then_some(kind)
    }

    /// The active rules, for the state report.
    pub fn rules(&self) -> &[FaultRule] {
        &self.rules
    }
}

/// A stable name for a fault kind (logs and state).
pub fn kind_name(kind: &FaultKind) -> String {
    match kind {
        FaultKind::TokenInvalid => "token-invalid".into(),
        FaultKind::Http500 => "http500".into(),
        FaultKind::Http503 => "http503".into(),
        FaultKind::Timeout => "timeout".into(),
        FaultKind::DropDealResponse => "drop-deal-response".into(),
        FaultKind::LoseConfirm => "lose-confirm".into(),
        FaultKind::RateLimit => "rate-limit".into(),
        FaultKind::Reject(r) => format!("reject:{}", reject::to_ig(r)),
        FaultKind::HoldDeal(d) => format!("hold-deal:{}ms", d.as_millis()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_example() {
        let s = FaultSpec::parse("token-invalid:3,http500:0.05,drop-deal-response:1,latency:50ms")
            .unwrap();
        assert_eq!(s.rules.len(), 3);
        assert_eq!(s.rules[0].trigger, Trigger::Count(3));
        assert_eq!(s.rules[1].trigger, Trigger::Fraction(0.05));
        assert_eq!(s.latency, Some(Duration::from_millis(50)));
        let slip = FaultSpec::parse("slippage:0.5").unwrap();
        assert_eq!(slip.slippage, Some(rust_decimal::Decimal::new(5, 1)));
        for bad in [
            "slippage:-1",
            "slippage:0",
            "slippage:abc",
            "slippage:20000",
        ] {
            assert!(FaultSpec::parse(bad).is_err(), "{bad}");
        }
        let mut st = FaultState::new(1);
        st.add(slip);
        let level = rust_decimal::Decimal::from(100);
        assert_eq!(
            st.slip(level, scalper_model::Direction::Buy),
            rust_decimal::Decimal::new(1005, 1)
        );
        assert_eq!(
            st.slip(level, scalper_model::Direction::Sell),
            rust_decimal::Decimal::new(995, 1)
        );
        assert_eq!(st.fired.get("slippage"), Some(&2));
        let r = FaultSpec::parse("reject:INSUFFICIENT_FUNDS:2, confirm-delay:2s").unwrap();
        assert_eq!(
            r.rules[0],
            FaultRule {
                kind: FaultKind::Reject(RejectReason::InsufficientFunds),
                trigger: Trigger::Count(2)
            }
        );
        let h = FaultSpec::parse("hold-deal:8s:1,hold-deal:250ms").unwrap();
        assert_eq!(
            h.rules,
            vec![
                FaultRule {
                    kind: FaultKind::HoldDeal(Duration::from_secs(8)),
                    trigger: Trigger::Count(1)
                },
                FaultRule {
                    kind: FaultKind::HoldDeal(Duration::from_millis(250)),
                    trigger: Trigger::Count(1)
                }
            ]
        );
        assert_eq!(FaultSpec::parse("").unwrap(), FaultSpec::default());
        assert_eq!(FaultSpec::parse("none").unwrap(), FaultSpec::default());
    }

    #[test]
    fn rejects_bad_items_with_clear_errors() {
        for bad in [
            "bogus:1",
            "http500",
            "http500:0",
            "http500:1.5",
            "http500:x",
            "latency:fast",
            "reject:lower",
            "hold-deal:soon",
            "hold-deal:0s",
            "hold-deal:2s:0",
        ] {
            let e = FaultSpec::parse(bad).unwrap_err();
            assert!(e.to_string().contains("invalid fault"), "{bad}: {e}");
        }
    }

    #[test]
    fn counts_are_consumed() {
        let mut st = FaultState::new(1);
        st.add(FaultSpec::parse("http500:2").unwrap());
        assert!(st.take(&FaultKind::Http500));
        assert!(st.take(&FaultKind::Http500));
        assert!(!st.take(&FaultKind::Http500));
        assert!(!st.take(&FaultKind::Http503));
        assert_eq!(st.fired["http500"], 2);
        st.add(FaultSpec::parse("hold-deal:3s:2").unwrap());
        assert_eq!(st.take_hold(), Some(Duration::from_secs(3)));
        assert_eq!(st.take_hold(), Some(Duration::from_secs(3)));
        assert_eq!(st.take_hold(), None);
        assert_eq!(st.fired["hold-deal"], 2);
    }
}
