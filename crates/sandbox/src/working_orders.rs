//! Working-order requests: create (`POST /workingorders/otc`), amend and delete. Each returns
//! IG's deal reference and leaves a confirm; LIMIT/STOP on the wrong side of the market, size
//! below minimum and past good-till dates are rejected with IG's reasons.

use rust_decimal::Decimal;
use scalper_ig_wire::confirms::AffectedDeal;
use scalper_ig_wire::history::ActivityDetails;
use scalper_ig_wire::working_orders::{AmendWorkingOrderRequest, CreateWorkingOrderRequest};

use crate::dealing::{check_numbers, confirm, direction, open_price, rejected, World};
use crate::error::ApiError;
use crate::state::WorkingOrder;
use scalper_ig_wire::reject;
use scalper_ig_wire::time as ig_time;
use scalper_model::RejectReason;

impl World<'_> {
    /// `POST /workingorders/otc` v2.
    pub fn create_working_order(
        &mut self,
        account: &str,
        req: &CreateWorkingOrderRequest,
    ) -> Result<String, ApiError> {
        let dir = direction(&req.direction)?;
        let size = req
            .size
            .ok_or_else(|| ApiError::bad_request("validation.null-not-allowed.request.size"))?;
        let level = req
            .level
            .ok_or_else(|| ApiError::bad_request("validation.null-not-allowed.request.level"))?;
        check_numbers(&[
            ("size", Some(size)),
            ("level", Some(level)),
            ("stopLevel", req.stop_level),
            ("stopDistance", req.stop_distance),
            ("limitLevel", req.limit_level),
            ("limitDistance", req.limit_distance),
        ])?;
        let order_type = req.order_type.to_ascii_uppercase();
        if order_type != "LIMIT" && order_type != "STOP" {
            return Err(ApiError::bad_request(
                "validation.pattern.invalid.request.type",
            ));
        }
        let tif = req.time_in_force.to_ascii_uppercase();
        let good_till = match (tif.as_str(), &req.good_till_date) {
            ("GOOD_TILL_CANCELLED", _) => None,
            ("GOOD_TILL_DATE", Some(d)) => Some(
                ig_time::parse_time(d)
                    .ok_or_else(|| ApiError::bad_request("error.malformed.date"))?,
            ),
            ("GOOD_TILL_DATE", None) => {
                return Err(ApiError::bad_request(
                    "validation.null-not-allowed.request.goodTillDate",
                ))
            }
            _ => {
                return Err(ApiError::bad_request(
                    "validation.pattern.invalid.request.timeInForce",
                ))
            }
        };
        let entry = self
            .entry(&req.epic)
            .cloned()
            .ok_or_else(|| ApiError::not_found("error.trading.otc.instrument-not-found"))?;
        let (reference, duplicate) = self.reference(req.deal_reference.as_ref())?;
        if duplicate {
            return Ok(reference);
        }
        self.st.remember_ref(&reference);
        let q = self
            .quote(&req.epic)
            .ok_or_else(|| ApiError::not_found("error.trading.otc.instrument-not-found"))?;
        let mut c = confirm(&reference, self.st.sim_now);
        c.epic = Some(req.epic.clone());
        c.expiry = Some(req.expiry.clone());
        c.direction = Some(dir.as_str().into());
        c.size = Some(size);
        c.level = Some(level);
        let market = open_price(&q, dir);
        let above = (level - market) * dir.sign() > Decimal::ZERO;
        let now = self.st.sim_now;
        let reason = self
            .common_reject(account, &req.epic, &req.expiry)
            .or_else(|| {
                if size < entry.min_deal_size {
                    Some(RejectReason::MinimumDealSize)
                } else if order_type == "LIMIT" && above {
                    Some(RejectReason::LimitOrderWrongSideOfMarket)
                } else if order_type == "STOP" && !above {
                    Some(RejectReason::WrongSideOfMarket)
                } else if good_till.is_some_and(|t| t <= now) {
                    Some(RejectReason::GoodTillDateInThePast)
                } else {
                    None
                }
            });
        if let Some(r) = reason {
            self.finish(account, &reference, rejected(c, &r));
            return Ok(reference);
        }
        let deal_id = self.st.deal_id();
        let o = WorkingOrder {
            deal_id: deal_id.clone(),
            deal_reference: reference.clone(),
            epic: req.epic.clone(),
            direction: dir,
            size,
            level,
            order_type,
            time_in_force: tif,
            good_till,
            stop_distance: req
                .stop_distance
                .or(req.stop_level.map(|s| ((level - s) * dir.sign()).abs())),
            limit_distance: req
                .limit_distance
                .or(req.limit_level.map(|l| ((l - level) * dir.sign()).abs())),
            currency: req.currency_code.clone(),
            created: self.st.sim_now,
        };
        if let Some(acc) = self.st.accounts.get_mut(account) {
            acc.orders.push(o.clone());
        }
        c.deal_id = Some(deal_id.clone());
        c.deal_status = Some("ACCEPTED".into());
        c.reason = Some(reject::SUCCESS.into());
        c.status = Some("OPEN".into());
        c.affected_deals = Some(vec![AffectedDeal {
            deal_id: Some(deal_id.clone()),
            status: Some("OPENED".into()),
        }]);
        self.wou(account, &o, "OPEN");
        let details = ActivityDetails {
            size: Some(size),
            direction: Some(dir.as_str().into()),
            level: Some(level),
            ..Default::default()
        };
        self.activity(
            account,
            "WORKING_ORDER",
            "ACCEPTED",
            &deal_id,
            &reference,
            &req.epic,
            format!("Working order created: {deal_id}"),
            details,
            "WORKING_ORDER_CREATED",
        );
        self.finish(account, &reference, c);
        Ok(reference)
    }

    /// `PUT /workingorders/otc/{dealId}` v2.
    pub fn amend_working_order(
        &mut self,
        account: &str,
        deal_id: &str,
        req: &AmendWorkingOrderRequest,
    ) -> Result<String, ApiError> {
        if req
            .order_type
            .as_deref()
            .is_some_and(|t| !t.eq_ignore_ascii_case("LIMIT") && !t.eq_ignore_ascii_case("STOP"))
        {
            return Err(ApiError::bad_request(
                "validation.pattern.invalid.request.type",
            ));
        }
        check_numbers(&[
            ("level", req.level),
            ("stopDistance", req.stop_distance),
            ("limitDistance", req.limit_distance),
        ])?;
        let reference = self.st.deal_reference();
        let mut c = confirm(&reference, self.st.sim_now);
        c.deal_id = Some(deal_id.to_string());
        let found = self
            .st
            .accounts
            .get_mut(account)
            .and_then(|a| a.orders.iter_mut().find(|o| o.deal_id == deal_id))
            .map(|o| {
                if let Some(l) = req.level {
                    o.level = l;
                }
                if let Some(t) = &req.order_type {
                    o.order_type = t.to_ascii_uppercase();
                }
                if let Some(t) = &req.time_in_force {
                    o.time_in_force = t.to_ascii_uppercase();
                }
                if let Some(d) = req.good_till_date.as_deref().and_then(ig_time::parse_time) {
                    o.good_till = Some(d);
                }
                if req.stop_distance.is_some() {
                    o.stop_distance = req.stop_distance;
                }
                if req.limit_distance.is_some() {
                    o.limit_distance = req.limit_distance;
                }
                o.clone()
            });
        let Some(o) = found else {
            self.finish(
                account,
                &reference,
                rejected(c, &RejectReason::OrderNotFound),
            );
            return Ok(reference);
        };
        c.epic = Some(o.epic.clone());
        c.level = Some(o.level);
        c.size = Some(o.size);
        c.direction = Some(o.direction.as_str().into());
        c.deal_status = Some("ACCEPTED".into());
        c.reason = Some(reject::SUCCESS.into());
        c.status = Some("AMENDED".into());
        c.affected_deals = Some(vec![AffectedDeal {
            deal_id: Some(deal_id.to_string()),
            status: Some("AMENDED".into()),
        }]);
        self.wou(account, &o, "UPDATED");
        self.finish(account, &reference, c);
        Ok(reference)
    }

    /// `DELETE /workingorders/otc/{dealId}` v2.
    pub fn delete_working_order(&mut self, account: &str, deal_id: &str) -> String {
        let reference = self.st.deal_reference();
        let mut c = confirm(&reference, self.st.sim_now);
        c.deal_id = Some(deal_id.to_string());
        let removed = self.st.accounts.get_mut(account).and_then(|a| {
            let idx = a.orders.iter().position(|o| o.deal_id == deal_id)?;
            Some(a.orders.remove(idx))
        });
        match removed {
            Some(o) => {
                c.epic = Some(o.epic.clone());
                c.deal_status = Some("ACCEPTED".into());
                c.reason = Some(reject::SUCCESS.into());
                c.status = Some("DELETED".into());
                c.affected_deals = Some(vec![AffectedDeal {
                    deal_id: Some(deal_id.to_string()),
                    status: Some("DELETED".into()),
                }]);
                self.wou(account, &o, "DELETED");
                self.activity(
                    account,
                    "WORKING_ORDER",
                    "ACCEPTED",
                    deal_id,
                    &reference,
                    &o.epic,
                    format!("Working order deleted: {deal_id}"),
                    ActivityDetails::default(),
                    "WORKING_ORDER_DELETED",
                );
                self.finish(account, &reference, c);
            }
            None => self.finish(
                account,
                &reference,
                rejected(c, &RejectReason::OrderNotFound),
            ),
        }
        reference
    }
}
