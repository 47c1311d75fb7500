//! Position dealing requests: open (`POST /positions/otc`), close (`_method: DELETE`) and
//! amend (working orders are in `working_orders.rs`). Each returns the deal reference
//! (HTTP 200) and leaves a confirm; malformed requests are `ApiError`s (HTTP 400/404).

use rust_decimal::Decimal;
use scalper_ig_wire::confirms::AffectedDeal;
use scalper_ig_wire::history::ActivityDetails;
use scalper_ig_wire::positions::{AmendPositionRequest, ClosePositionRequest, OpenPositionRequest};

use scalper_ig_wire::reject;
use scalper_model::RejectReason;

use crate::catalog::ProductKind;
use crate::dealing::{check_numbers, close_price, confirm, direction, open_price, rejected, World};
use crate::error::ApiError;
use crate::state::Position;

fn valid_reference(r: &str) -> bool {
    (1..=30).contains(&r.len())
        && r.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

impl World<'_> {
    /// Takes the client's reference or generates one; `Err` for a malformed one.
    pub(crate) fn reference(&mut self, given: Option<&String>) -> Result<(String, bool), ApiError> {
        match given {
            Some(r) if !valid_reference(r) => Err(ApiError::bad_request(
                "validation.pattern.invalid.request.dealReference",
            )),
            Some(r) => Ok((r.clone(), self.st.used_refs.contains(r))),
            None => Ok((self.st.deal_reference(), false)),
        }
    }

    /// Account/product mismatch and market-state rejections shared by every deal.
    pub(crate) fn common_reject(
        &mut self,
        account: &str,
        epic: &str,
        expiry: &str,
    ) -> Option<RejectReason> {
        let kind = self.account_kind(account);
        let entry_kind = self.entry(epic).map(|e| e.kind);
        let sb = expiry != "-" || entry_kind == Some(ProductKind::SpreadBet);
        if kind == ProductKind::SpreadBet && !sb {
            return Some(RejectReason::CfdOrderOnSpreadBetAccount);
        }
        if kind == ProductKind::Cfd && sb {
            return Some(RejectReason::SpreadBetOrderOnCfdAccount);
        }
        if let Some(r) = self.tradeable(epic) {
            return Some(r);
        }
        self.injected_reject(epic)
    }

    fn injected_reject(&mut self, epic: &str) -> Option<RejectReason> {
        self.st.faults.take_reject().inspect(|r| {
            tracing::warn!(epic, reason = %r, fault = "reject", "injected fault: deal rejected");
        })
    }

    /// `POST /positions/otc` v2.
    pub fn open_position(
        &mut self,
        account: &str,
        req: &OpenPositionRequest,
    ) -> Result<String, ApiError> {
        let dir = direction(&req.direction)?;
        let size = req
            .size
            .ok_or_else(|| ApiError::bad_request("validation.null-not-allowed.request.size"))?;
        check_numbers(&[
            ("size", Some(size)),
            ("level", req.level),
            ("stopLevel", req.stop_level),
            ("stopDistance", req.stop_distance),
            ("limitLevel", req.limit_level),
            ("limitDistance", req.limit_distance),
        ])?;
        if req.currency_code.len() != 3 {
            return Err(ApiError::bad_request(
                "validation.pattern.invalid.request.currencyCode",
            ));
        }
        if req.expiry.is_empty() {
            return Err(ApiError::bad_request(
                "validation.null-not-allowed.request.expiry",
            ));
        }
        if req.stop_level.is_some() && req.stop_distance.is_some()
            || req.limit_level.is_some() && req.limit_distance.is_some()
        {
            return Err(ApiError::bad_request(
                "invalid.request.stopOrLimit.level-and-distance",
            ));
        }
        // IG's rules for the two special stops.
        let trailing = req.trailing_stop == Some(true);
        if trailing && req.stop_level.is_some() {
            return Err(ApiError::bad_request(
                "invalid.request.trailingStop.stopLevel-not-allowed",
            ));
        }
        if trailing && (req.stop_distance.is_none() || req.trailing_stop_increment.is_none()) {
            return Err(ApiError::bad_request(
                "invalid.request.trailingStop.distance-and-increment-required",
            ));
        }
        if trailing && req.guaranteed_stop {
            return Err(ApiError::bad_request(
                "invalid.request.trailingStop.guaranteedStop-not-allowed",
            ));
        }
        if !trailing && req.trailing_stop_increment.is_some() {
            return Err(ApiError::bad_request(
                "invalid.request.trailingStopIncrement.trailingStop-false",
            ));
        }
        let guaranteed = req.guaranteed_stop;
        if guaranteed && req.stop_level.is_none() && req.stop_distance.is_none() {
            return Err(ApiError::bad_request(
                "invalid.request.guaranteedStop.stop-required",
            ));
        }
        let has_attached = req.stop_level.is_some()
            || req.stop_distance.is_some()
            || req.limit_level.is_some()
            || req.limit_distance.is_some();
        if has_attached && !req.force_open {
            return Err(ApiError::bad_request("invalid.request.forceOpen"));
        }
        let order_type = req.order_type.to_ascii_uppercase();
        match order_type.as_str() {
            "MARKET" if req.level.is_some() => {
                return Err(ApiError::bad_request("invalid.request.level"))
            }
            "LIMIT" if req.level.is_none() => {
                return Err(ApiError::bad_request(
                    "validation.null-not-allowed.request.level",
                ))
            }
            "MARKET" | "LIMIT" => {}
            "QUOTE" => {
                return Err(ApiError::bad_request(
                    "error.trading.otc.quote-orders.not-supported",
                ))
            }
            _ => {
                return Err(ApiError::bad_request(
                    "validation.pattern.invalid.request.orderType",
                ))
            }
        }
        let entry = self
            .entry(&req.epic)
            .cloned()
            .ok_or_else(|| ApiError::not_found("error.trading.otc.instrument-not-found"))?;
        let (reference, duplicate) = self.reference(req.deal_reference.as_ref())?;
        if duplicate {
            tracing::warn!(deal_ref = %reference, "duplicate dealReference: not executed again");
            return Ok(reference);
        }
        self.st.remember_ref(&reference);
        let quote = self
            .quote(&req.epic)
            .ok_or_else(|| ApiError::not_found("error.trading.otc.instrument-not-found"))?;
        let mut c = confirm(&reference, self.st.sim_now);
        c.epic = Some(req.epic.clone());
        c.expiry = Some(req.expiry.clone());
        c.direction = Some(dir.as_str().into());
        c.size = Some(size);
        let fill = open_price(&quote, dir);
        // A market deal fills `slippage:` points worse (a limit order's own level is kept).
        let fill = if order_type == "MARKET" {
            self.st.faults.slip(fill, dir)
        } else {
            fill
        };
        let reason = self
            .common_reject(account, &req.epic, &req.expiry)
            .or_else(|| {
                if size < entry.min_deal_size {
                    return Some(RejectReason::MinimumDealSize);
                }
                if !(size % entry.size_step).is_zero() {
                    return Some(RejectReason::SizeIncrement);
                }
                if order_type == "LIMIT"
                    && req
                        .level
                        .is_some_and(|l| l * dir.sign() < fill * dir.sign())
                {
                    return Some(RejectReason::LevelTolerance);
                }
                if trailing {
                    let allowed = entry.economics.rules.trailing_stops
                        && self
                            .st
                            .accounts
                            .get(account)
                            .is_some_and(|a| a.trailing_stops_enabled);
                    if !allowed {
                        return Some(RejectReason::Other("TRAILING_STOP_NOT_ALLOWED".into()));
                    }
                    let min_step = entry
                        .economics
                        .rules
                        .min_trailing_step
                        .map_or(Decimal::ZERO, scalper_model::Points::value);
                    if req.trailing_stop_increment.is_some_and(|i| i < min_step) {
                        return Some(RejectReason::Other(
                            "ATTACHED_ORDER_TRAILING_STOP_ERROR".into(),
                        ));
                    }
                }
                if guaranteed && entry.economics.rules.guaranteed_stop.is_none() {
                    return Some(RejectReason::Other("STOP_OR_LIMIT_NOT_ALLOWED".into()));
                }
                None
            });
        if let Some(r) = reason {
            return Ok(self.reject_open(account, &reference, c, &r));
        }
        // Attached stop/limit levels and their distances from the fill.
        let stop = req
            .stop_level
            .or(req.stop_distance.map(|d| fill - d * dir.sign()));
        let limit = req
            .limit_level
            .or(req.limit_distance.map(|d| fill + d * dir.sign()));
        let min_stop = match entry.economics.rules.guaranteed_stop {
            Some(g) if guaranteed => g.min_distance.value().max(entry.min_stop_distance),
            _ => entry.min_stop_distance,
        };
        let bad_stop = stop.is_some_and(|s| {
            let dist = (fill - s) * dir.sign();
            dist < min_stop || dist > entry.max_stop_distance
        });
        let bad_limit = limit.is_some_and(|l| (l - fill) * dir.sign() <= Decimal::ZERO);
        if bad_stop || bad_limit {
            return Ok(self.reject_open(account, &reference, c, &RejectReason::StopOrLimitLevel));
        }
        // Netting: without forceOpen an opposite position is closed first.
        let mut remaining = size;
        let mut affected = Vec::new();
        let mut profit = Decimal::ZERO;
        if !req.force_open {
            let opposite: Vec<(String, Decimal)> = self
                .st
                .accounts
                .get(account)
                .map(|a| {
                    a.positions
                        .iter()
                        .filter(|p| p.epic == req.epic && p.direction != dir)
                        .map(|p| (p.deal_id.clone(), p.size))
                        .collect()
                })
                .unwrap_or_default();
            for (id, psize) in opposite {
                if remaining.is_zero() {
                    break;
                }
                let take = remaining.min(psize);
                if let Some((pnl, left)) = self.realise(account, &id, take, fill, "Closed") {
                    profit += pnl;
                    remaining -= take;
                    affected.push(AffectedDeal {
                        deal_id: Some(id.clone()),
                        status: Some(
                            if left.is_zero() {
                                "FULLY_CLOSED"
                            } else {
                                "PARTIALLY_CLOSED"
                            }
                            .into(),
                        ),
                    });
                }
            }
        }
        if !remaining.is_zero() {
            let (_, _, _, available) = self.funds(account);
            if self.margin(&req.epic, remaining, fill) > available {
                return Ok(self.reject_open(
                    account,
                    &reference,
                    c,
                    &RejectReason::InsufficientFunds,
                ));
            }
        }
        let deal_id = self.st.deal_id();
        c.deal_id = Some(deal_id.clone());
        c.level = Some(fill);
        c.deal_status = Some("ACCEPTED".into());
        c.reason = Some(reject::SUCCESS.into());
        if remaining.is_zero() {
            c.status = Some("CLOSED".into());
            c.profit = Some(profit);
            c.profit_currency = Some(self.cfg.currency.clone());
        } else {
            let p = Position {
                deal_id: deal_id.clone(),
                deal_reference: reference.clone(),
                epic: req.epic.clone(),
                direction: dir,
                size: remaining,
                level: fill,
                stop_level: stop,
                limit_level: limit,
                currency: req.currency_code.clone(),
                created: self.st.sim_now,
                stop: crate::state::StopTerms {
                    guaranteed,
                    premium: entry
                        .economics
                        .rules
                        .guaranteed_stop
                        .filter(|_| guaranteed)
                        .map(|g| {
                            g.premium
                                .points_at(
                                    scalper_model::Price::new(fill),
                                    entry.economics.point_size,
                                )
                                .value()
                        }),
                    trailing: match (trailing, req.stop_distance, req.trailing_stop_increment) {
                        (true, Some(d), Some(i)) => Some((d, i)),
                        _ => None,
                    },
                },
            };
            c.status = Some("OPEN".into());
            c.stop_level = stop;
            c.limit_level = limit;
            c.size = Some(remaining);
            c.guaranteed_stop = Some(p.stop.guaranteed);
            c.trailing_stop = Some(p.stop.trailing.is_some());
            affected.push(AffectedDeal {
                deal_id: Some(deal_id.clone()),
                status: Some("OPENED".into()),
            });
            if let Some(acc) = self.st.accounts.get_mut(account) {
                acc.positions.push(p.clone());
            }
            self.opu(account, &p, "OPEN");
        }
        c.affected_deals = Some(affected);
        let details = ActivityDetails {
            size: Some(size),
            direction: Some(dir.as_str().into()),
            level: Some(fill),
            stop_level: stop,
            limit_level: limit,
            ..Default::default()
        };
        self.activity(
            account,
            "POSITION",
            "ACCEPTED",
            &deal_id,
            &reference,
            &req.epic,
            format!("Position opened: {deal_id}"),
            details,
            "POSITION_OPENED",
        );
        self.finish(account, &reference, c);
        Ok(reference)
    }

    fn reject_open(
        &mut self,
        account: &str,
        reference: &str,
        c: scalper_ig_wire::confirms::DealConfirmation,
        reason: &RejectReason,
    ) -> String {
        let epic = c.epic.clone().unwrap_or_default();
        self.activity(
            account,
            "POSITION",
            "REJECTED",
            "",
            reference,
            &epic,
            format!("Rejected: {}", reject::to_ig(reason)),
            ActivityDetails::default(),
            "UNKNOWN",
        );
        self.finish(account, reference, rejected(c, reason));
        reference.to_string()
    }

    /// `DELETE /positions/otc` v1 (POST + `_method: DELETE`).
    pub fn close_position(
        &mut self,
        account: &str,
        req: &ClosePositionRequest,
    ) -> Result<String, ApiError> {
        let dir = direction(&req.direction)?;
        let size = req
            .size
            .ok_or_else(|| ApiError::bad_request("validation.null-not-allowed.request.size"))?;
        check_numbers(&[("size", Some(size)), ("level", req.level)])?;
        if req.deal_id.is_some() == req.epic.is_some() {
            return Err(ApiError::bad_request("invalid.request.dealId-or-epic"));
        }
        if req.epic.is_some() && req.expiry.is_none() {
            return Err(ApiError::bad_request(
                "validation.null-not-allowed.request.expiry",
            ));
        }
        let (reference, duplicate) = self.reference(req.deal_reference.as_ref())?;
        if duplicate {
            return Ok(reference);
        }
        self.st.remember_ref(&reference);
        let positions: Vec<Position> = self
            .st
            .accounts
            .get(account)
            .map(|a| a.positions.clone())
            .unwrap_or_default();
        let targets: Vec<Position> = positions
            .into_iter()
            .filter(|p| match (&req.deal_id, &req.epic) {
                (Some(id), _) => &p.deal_id == id,
                (None, Some(epic)) => &p.epic == epic && p.direction == dir.opposite(),
                _ => false,
            })
            .collect();
        let mut c = confirm(&reference, self.st.sim_now);
        c.direction = Some(dir.as_str().into());
        c.size = Some(size);
        let Some(first) = targets.first().cloned() else {
            c.deal_id.clone_from(&req.deal_id);
            c.epic.clone_from(&req.epic);
            self.finish(
                account,
                &reference,
                rejected(c, &RejectReason::PositionNotFound),
            );
            return Ok(reference);
        };
        c.epic = Some(first.epic.clone());
        c.deal_id = Some(first.deal_id.clone());
        c.expiry = self.entry(&first.epic).map(|e| e.expiry.to_string());
        let total: Decimal = targets.iter().map(|p| p.size).sum();
        let reason = if first.direction == dir {
            Some(RejectReason::PositionNotAvailableToClose)
        } else if size > total {
            Some(RejectReason::OrderSizeCannotBeFilled)
        } else {
            self.tradeable(&first.epic)
                .or_else(|| self.injected_reject(&first.epic))
        };
        if let Some(r) = reason {
            self.finish(account, &reference, rejected(c, &r));
            return Ok(reference);
        }
        let Some(q) = self.quote(&first.epic) else {
            return Err(ApiError::not_found(
                "error.trading.otc.instrument-not-found",
            ));
        };
        // The close deals `dir`, the opposite of the position: `slippage:` makes it worse.
        let level = self.st.faults.slip(close_price(&q, first.direction), dir);
        let mut left = size;
        let mut profit = Decimal::ZERO;
        let mut affected = Vec::new();
        let mut status = "CLOSED";
        for p in targets {
            if left.is_zero() {
                break;
            }
            let take = left.min(p.size);
            if let Some((pnl, rem)) = self.realise(account, &p.deal_id, take, level, "Closed") {
                profit += pnl;
                left -= take;
                if !rem.is_zero() {
                    status = "PARTIALLY_CLOSED";
                }
                affected.push(AffectedDeal {
                    deal_id: Some(p.deal_id.clone()),
                    status: Some(
                        if rem.is_zero() {
                            "FULLY_CLOSED"
                        } else {
                            "PARTIALLY_CLOSED"
                        }
                        .into(),
                    ),
                });
                let details = ActivityDetails {
                    size: Some(take),
                    direction: Some(dir.as_str().into()),
                    level: Some(level),
                    ..Default::default()
                };
                self.activity(
                    account,
                    "POSITION",
                    "ACCEPTED",
                    &p.deal_id,
                    &reference,
                    &p.epic,
                    format!(
                        "Position {} closed: {}",
                        if rem.is_zero() { "fully" } else { "partially" },
                        p.deal_id
                    ),
                    details,
                    if rem.is_zero() {
                        "POSITION_CLOSED"
                    } else {
                        "POSITION_PARTIALLY_CLOSED"
                    },
                );
            }
        }
        c.level = Some(level);
        c.deal_status = Some("ACCEPTED".into());
        c.reason = Some(reject::SUCCESS.into());
        c.status = Some(status.into());
        c.profit = Some(profit);
        c.profit_currency = Some(self.cfg.currency.clone());
        c.affected_deals = Some(affected);
        self.finish(account, &reference, c);
        Ok(reference)
    }

    /// `PUT /positions/otc/{dealId}` v2.
    pub fn amend_position(
        &mut self,
        account: &str,
        deal_id: &str,
        req: &AmendPositionRequest,
    ) -> Result<String, ApiError> {
        check_numbers(&[
            ("stopLevel", req.stop_level),
            ("limitLevel", req.limit_level),
        ])?;
        let reference = self.st.deal_reference();
        let pos = self
            .st
            .accounts
            .get(account)
            .and_then(|a| a.positions.iter().find(|p| p.deal_id == deal_id).cloned());
        let mut c = confirm(&reference, self.st.sim_now);
        c.deal_id = Some(deal_id.to_string());
        let Some(p) = pos else {
            self.finish(
                account,
                &reference,
                rejected(c, &RejectReason::PositionNotFound),
            );
            return Ok(reference);
        };
        c.epic = Some(p.epic.clone());
        c.direction = Some(p.direction.as_str().into());
        c.size = Some(p.size);
        c.level = Some(p.level);
        let (Some(q), Some(e)) = (self.quote(&p.epic), self.entry(&p.epic).cloned()) else {
            return Err(ApiError::not_found(
                "error.trading.otc.instrument-not-found",
            ));
        };
        let mark = close_price(&q, p.direction);
        let sign = p.direction.sign();
        let bad_stop = req
            .stop_level
            .is_some_and(|s| (mark - s) * sign < e.min_stop_distance);
        let bad_limit = req
            .limit_level
            .is_some_and(|l| (l - mark) * sign <= Decimal::ZERO);
        if let Some(r) = self
            .tradeable(&p.epic)
            .or((bad_stop || bad_limit).then_some(RejectReason::StopOrLimitLevel))
        {
            self.finish(account, &reference, rejected(c, &r));
            return Ok(reference);
        }
        let mut updated = p.clone();
        updated.stop_level = req.stop_level;
        updated.limit_level = req.limit_level;
        if let Some(acc) = self.st.accounts.get_mut(account) {
            if let Some(slot) = acc.positions.iter_mut().find(|x| x.deal_id == deal_id) {
                *slot = updated.clone();
            }
        }
        c.stop_level = updated.stop_level;
        c.limit_level = updated.limit_level;
        c.deal_status = Some("ACCEPTED".into());
        c.reason = Some(reject::SUCCESS.into());
        c.status = Some("AMENDED".into());
        c.affected_deals = Some(vec![AffectedDeal {
            deal_id: Some(deal_id.to_string()),
            status: Some("AMENDED".into()),
        }]);
        self.opu(account, &updated, "UPDATED");
        let details = ActivityDetails {
            stop_level: updated.stop_level,
            limit_level: updated.limit_level,
            ..Default::default()
        };
        self.activity(
            account,
            "EDIT_STOP_AND_LIMIT",
            "ACCEPTED",
            deal_id,
            &reference,
            &p.epic,
            format!("Position edited: {deal_id}"),
            details,
            "STOP_LIMIT_AMENDED",
        );
        self.finish(account, &reference, c);
        Ok(reference)
    }
}
