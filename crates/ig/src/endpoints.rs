//! Read endpoints of `IgClient`: accounts, markets, prices, positions, confirms, working orders
//! and history. Each sends the documented `Version` and returns domain types.

use scalper_ig_wire::accounts::AccountsResponse;
use scalper_ig_wire::confirms::DealConfirmation;
use scalper_ig_wire::history::{ActivityResponse, TransactionsResponse};
use scalper_ig_wire::markets::{MarketDetails, MarketSearchResponse, MarketsResponse};
use scalper_ig_wire::positions::{PositionEntry, PositionsResponse};
use scalper_ig_wire::prices::PricesResponse;
use scalper_ig_wire::time::utc_s;
use scalper_ig_wire::working_orders::WorkingOrdersResponse;
use scalper_ig_wire::Resolution;
use scalper_model::{DealId, DealReference, Direction, Epic, Timestamp};

use crate::client::IgClient;
use crate::convert;
use crate::error::IgError;
use crate::rate::Priority;
use crate::transport::Call;
use crate::types::{
    Account, Activity, CloseLevel, Confirmation, Market, MarketHit, OpenPosition, PricePage,
    Transaction, WorkingOrder,
};

/// Query of `GET /prices/{epic}` v3.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PriceQuery {
    /// Bar length; IG's default is `MINUTE`.
    pub resolution: Option<Resolution>,
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
    /// Number of bars when no range is given (IG's default 10).
    pub max: Option<u32>,
    pub page_size: Option<u32>,
    pub page_number: Option<u32>,
}

/// Query of `GET /history/activity` v3.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActivityQuery {
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
    pub deal_id: Option<DealId>,
    /// FIQL filter, e.g. `status==ACCEPTED`.
    pub filter: Option<String>,
    pub page_size: Option<u32>,
}

/// Query of `GET /history/transactions` v2.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TransactionQuery {
    /// `ALL`, `ALL_DEAL`, `DEPOSIT`, `WITHDRAWAL`.
    pub transaction_type: Option<String>,
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
    pub max_span_seconds: Option<u64>,
    pub page_size: Option<u32>,
    pub page_number: Option<u32>,
}

fn opt(call: Call, key: &'static str, v: Option<impl ToString>) -> Call {
    match v {
        Some(v) => call.query(key, v.to_string()),
        None => call,
    }
}

/// Characters escaped in a path segment (ids are validated, this is belt and braces).
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'/')
    .add(b'?')
    .add(b'#')
    .add(b'%')
    .add(b'"')
    .add(b'<')
    .add(b'>')
    .add(b'`')
    .add(b'{')
    .add(b'}');

/// A path segment, percent-encoded.
pub(crate) fn seg(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, SEGMENT).to_string()
}

impl IgClient {
    /// `GET /accounts` v1: the login's accounts and their balances.
    pub async fn accounts(&self) -> Result<Vec<Account>, IgError> {
        let resp: AccountsResponse = self
            .inner
            .call(&Call::get("/accounts", 1, "accounts"))
            .await?
            .json("accounts")?;
        resp.accounts.iter().map(convert::account).collect()
    }

    /// `GET /markets/{epic}` v3: instrument, dealing rules, status, bid/offer.
    pub async fn market(&self, epic: &Epic) -> Result<Market, IgError> {
        let call = Call::get(
            format!("/markets/{}", seg(epic.as_str())),
            3,
            "market details",
        );
        let details: MarketDetails = self.inner.call(&call).await?.json("market details")?;
        convert::market(&details)
    }

    /// `GET /markets?epics=a,b` v2 (at most 50 epics per IG).
    pub async fn markets(&self, epics: &[Epic]) -> Result<Vec<Market>, IgError> {
        if epics.is_empty() {
            return Ok(Vec::new());
        }
        let list = epics.iter().map(Epic::as_str).collect::<Vec<_>>().join(",");
        let call = Call::get("/markets", 2, "markets").query("epics", list);
        let resp: MarketsResponse = self.inner.call(&call).await?.json("markets")?;
        resp.market_details.iter().map(convert::market).collect()
    }

    /// `GET /prices/{epic}` v3: one page of mid-price bars and the historical allowance.
    pub async fn prices(&self, epic: &Epic, q: &PriceQuery) -> Result<PricePage, IgError> {
        let mut call = Call::get(format!("/prices/{}", seg(epic.as_str())), 3, "prices");
        call = opt(call, "resolution", q.resolution.map(Resolution::as_ig));
        call = opt(call, "from", q.from.map(utc_s));
        call = opt(call, "to", q.to.map(utc_s));
        call = opt(call, "max", q.max);
        call = opt(call, "pageSize", q.page_size);
        call = opt(call, "pageNumber", q.page_number);
        let resp: PricesResponse = self.inner.call(&call).await?.json("prices")?;
        Ok(convert::price_page(&resp, epic, q.resolution))
    }

    /// `GET /markets?searchTerm=` v1: markets whose name or epic matches `term`. An answer
    /// entry with an unusable epic is logged and left out.
    pub async fn search_markets(&self, term: &str) -> Result<Vec<MarketHit>, IgError> {
        let call = Call::get("/markets", 1, "market search").query("searchTerm", term);
        let resp: MarketSearchResponse = self.inner.call(&call).await?.json("market search")?;
        Ok(resp
            .markets
            .iter()
            .filter_map(convert::market_hit)
            .collect())
    }

    /// `GET /positions` v2.
    pub async fn positions(&self) -> Result<Vec<OpenPosition>, IgError> {
        self.positions_with(Priority::Read).await
    }

    /// `GET /positions` v2 at `priority` (a deal's outcome check goes before reads).
    pub(crate) async fn positions_with(
        &self,
        priority: Priority,
    ) -> Result<Vec<OpenPosition>, IgError> {
        let call = Call::get("/positions", 2, "positions").priority(priority);
        let resp: PositionsResponse = self.inner.call(&call).await?.json("positions")?;
        resp.positions.iter().map(convert::position).collect()
    }

    /// `GET /positions/{dealId}` v2.
    pub async fn position(&self, deal_id: &DealId) -> Result<OpenPosition, IgError> {
        let call = Call::get(
            format!("/positions/{}", seg(deal_id.as_str())),
            2,
            "position",
        );
        let entry: PositionEntry = self.inner.call(&call).await?.json("position")?;
        convert::position(&entry)
    }

    /// `GET /confirms/{dealReference}` v1. IG keeps confirms for about a minute; a missing one
    /// is an error with [`IgError::is_deal_not_found`].
    pub async fn confirm(&self, reference: &DealReference) -> Result<Confirmation, IgError> {
        let call = Call::get(
            format!("/confirms/{}", seg(reference.as_str())),
            1,
            "deal confirmation",
        )
        .priority(Priority::Protect);
        let c: DealConfirmation = self.inner.call(&call).await?.json("deal confirmation")?;
        convert::confirmation(&c, reference)
    }

    /// `GET /workingorders` v2.
    pub async fn working_orders(&self) -> Result<Vec<WorkingOrder>, IgError> {
        let resp: WorkingOrdersResponse = self
            .inner
            .call(&Call::get("/workingorders", 2, "working orders"))
            .await?
            .json("working orders")?;
        resp.working_orders
            .iter()
            .map(convert::working_order)
            .collect()
    }

    /// `GET /history/activity?detailed=true` v3.
    pub async fn activity(&self, q: &ActivityQuery) -> Result<Vec<Activity>, IgError> {
        let mut call = Call::get("/history/activity", 3, "activity history");
        call = opt(call, "from", q.from.map(utc_s));
        call = opt(call, "to", q.to.map(utc_s));
        call = call.query("detailed", "true");
        call = opt(call, "dealId", q.deal_id.as_ref());
        call = opt(call, "filter", q.filter.as_ref());
        call = opt(call, "pageSize", q.page_size);
        let resp: ActivityResponse = self.inner.call(&call).await?.json("activity history")?;
        Ok(resp.activities.iter().map(convert::activity).collect())
    }

    /// The position IG opened for our dealing `reference`, from the activity history (since
    /// `from`, else the newest page of 500): what a confirm no longer tells once `/confirms`
    /// has forgotten or lost it and the position is already closed (its stop fired first).
    /// `Ok(None)` when the history holds no accepted deal with this reference.
    pub async fn opened_by_reference(
        &self,
        reference: &DealReference,
        from: Option<Timestamp>,
    ) -> Result<Option<Activity>, IgError> {
        let query = ActivityQuery {
            from,
            page_size: Some(500),
            ..ActivityQuery::default()
        };
        Ok(self
            .activity(&query)
            .await?
            .into_iter()
            .find(|a| a.deal_reference.as_ref() == Some(reference) && a.deal_id.is_some()))
    }

    /// The deal that closed position `deal_id`: its activity in the `closing` direction, from
    /// `/history/activity?dealId=&detailed=true` v3. `Ok(None)` when the history does not show
    /// it (yet).
    pub async fn close_level(
        &self,
        deal_id: &DealId,
        closing: Direction,
    ) -> Result<Option<CloseLevel>, IgError> {
        let query = ActivityQuery {
            deal_id: Some(deal_id.clone()),
            ..ActivityQuery::default()
        };
        Ok(self
            .activity(&query)
            .await?
            .iter()
            .filter(|a| a.direction == Some(closing))
            .find_map(|a| {
                Some(CloseLevel {
                    level: a.level?,
                    at: a.at,
                    channel: a.channel.clone(),
                    description: a.description.clone(),
                })
            }))
    }

    /// `GET /history/transactions` v2.
    pub async fn transactions(&self, q: &TransactionQuery) -> Result<Vec<Transaction>, IgError> {
        let mut call = Call::get("/history/transactions", 2, "transactions");
        call = opt(call, "type", q.transaction_type.as_ref());
        call = opt(call, "from", q.from.map(utc_s));
        call = opt(call, "to", q.to.map(utc_s));
        call = opt(call, "maxSpanSeconds", q.max_span_seconds);
        call = opt(call, "pageSize", q.page_size);
        call = opt(call, "pageNumber", q.page_number);
        let resp: TransactionsResponse = self.inner.call(&call).await?.json("transactions")?;
        Ok(resp.transactions.iter().map(convert::transaction).collect())
    }
}
