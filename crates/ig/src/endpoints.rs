//! Read endpoints of `IgClient`: accounts, application, markets, prices, positions, confirms,
//! working orders and history. Each sends the documented `Version`.

use scalper_model::{DealId, DealReference, Direction, Epic, Price};

use crate::client::IgClient;
use crate::convert;
use crate::error::IgError;
use crate::http::Call;
use crate::types::{Confirmation, Market, OpenPosition};
use scalper_ig_wire::accounts::AccountsResponse;
use scalper_ig_wire::application::Application;
use scalper_ig_wire::confirms::DealConfirmation;
use scalper_ig_wire::history::{ActivityResponse, TransactionsResponse};
use scalper_ig_wire::markets::{MarketDetails, MarketsResponse};
use scalper_ig_wire::positions::{PositionEntry, PositionsResponse};
use scalper_ig_wire::prices::PricesResponse;
use scalper_ig_wire::working_orders::WorkingOrdersResponse;

/// Query of `GET /prices/{epic}` v3. Dates are `yyyy-MM-ddTHH:mm:ss`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PriceQuery {
    /// `SECOND`, `MINUTE`, `MINUTE_5`, `HOUR`, `DAY`...
    pub resolution: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub max: Option<u32>,
    pub page_size: Option<u32>,
    pub page_number: Option<u32>,
}

/// Query of `GET /history/activity` v3.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActivityQuery {
    pub from: Option<String>,
    pub to: Option<String>,
    pub detailed: Option<bool>,
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
    pub from: Option<String>,
    pub to: Option<String>,
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
    /// `GET /accounts` v1.
    pub async fn accounts(&self) -> Result<AccountsResponse, IgError> {
        self.inner
            .call(&Call::get("/accounts", 1, "accounts"))
            .await?
            .json("accounts")
    }

    /// `GET /operations/application` v1.
    pub async fn applications(&self) -> Result<Vec<Application>, IgError> {
        self.inner
            .call(&Call::get("/operations/application", 1, "applications"))
            .await?
            .json("applications")
    }

    /// `GET /markets/{epic}` v3 as IG sends it.
    pub async fn market_details(&self, epic: &Epic) -> Result<MarketDetails, IgError> {
        let call = Call::get(
            format!("/markets/{}", seg(epic.as_str())),
            3,
            "market details",
        );
        self.inner.call(&call).await?.json("market details")
    }

    /// `GET /markets/{epic}` v3 converted: instrument, dealing rules, status, bid/offer.
    pub async fn market(&self, epic: &Epic) -> Result<Market, IgError> {
        convert::market(&self.market_details(epic).await?)
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

    /// `GET /prices/{epic}` v3.
    pub async fn prices(&self, epic: &Epic, q: &PriceQuery) -> Result<PricesResponse, IgError> {
        let mut call = Call::get(format!("/prices/{}", seg(epic.as_str())), 3, "prices");
        call = opt(call, "resolution", q.resolution.as_ref());
        call = opt(call, "from", q.from.as_ref());
        call = opt(call, "to", q.to.as_ref());
        call = opt(call, "max", q.max);
        call = opt(call, "pageSize", q.page_size);
        call = opt(call, "pageNumber", q.page_number);
        self.inner.call(&call).await?.json("prices")
    }

    /// `GET /positions` v2 as IG sends it.
    pub async fn positions_raw(&self) -> Result<PositionsResponse, IgError> {
        self.inner
            .call(&Call::get("/positions", 2, "positions"))
            .await?
            .json("positions")
    }

    /// `GET /positions` v2 converted.
    pub async fn positions(&self) -> Result<Vec<OpenPosition>, IgError> {
        self.positions_raw()
            .await?
            .positions
            .iter()
            .map(convert::position)
            .collect()
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

    /// `GET /confirms/{dealReference}` v1 as IG sends it.
    pub async fn confirm_raw(
        &self,
        reference: &DealReference,
    ) -> Result<DealConfirmation, IgError> {
        let call = Call::get(
            format!("/confirms/{}", seg(reference.as_str())),
            1,
            "deal confirmation",
        );
        self.inner.call(&call).await?.json("deal confirmation")
    }

    /// `GET /confirms/{dealReference}` v1 converted.
    pub async fn confirm(&self, reference: &DealReference) -> Result<Confirmation, IgError> {
        convert::confirmation(&self.confirm_raw(reference).await?, reference)
    }

    /// `GET /workingorders` v2.
    pub async fn working_orders(&self) -> Result<WorkingOrdersResponse, IgError> {
        self.inner
            .call(&Call::get("/workingorders", 2, "working orders"))
            .await?
            .json("working orders")
    }

    /// `GET /history/activity` v3.
    pub async fn activity(&self, q: &ActivityQuery) -> Result<ActivityResponse, IgError> {
        let mut call = Call::get("/history/activity", 3, "activity history");
        call = opt(call, "from", q.from.as_ref());
        call = opt(call, "to", q.to.as_ref());
        call = opt(call, "detailed", q.detailed);
        call = opt(call, "dealId", q.deal_id.as_ref());
        call = opt(call, "filter", q.filter.as_ref());
        call = opt(call, "pageSize", q.page_size);
        self.inner.call(&call).await?.json("activity history")
    }

    /// The level (and IG's date text) of the deal that closed position `deal_id`: its activity
    /// in the `closing` direction, from `/history/activity?dealId=&detailed=true` v3. `Ok(None)`
    /// when the history does not show it (yet).
    pub async fn close_level(
        &self,
        deal_id: &DealId,
        closing: Direction,
    ) -> Result<Option<(Price, Option<String>)>, IgError> {
        let query = ActivityQuery {
            deal_id: Some(deal_id.clone()),
            detailed: Some(true),
            ..ActivityQuery::default()
        };
        let history = self.activity(&query).await?;
        Ok(history.activities.iter().find_map(|a| {
            let d = a.details.as_ref()?;
            if d.direction.as_deref() != Some(closing.as_str()) {
                return None;
            }
            Some((Price::new(d.level?), a.date.clone()))
        }))
    }

    /// `GET /history/transactions` v2.
    pub async fn transactions(
        &self,
        q: &TransactionQuery,
    ) -> Result<TransactionsResponse, IgError> {
        let mut call = Call::get("/history/transactions", 2, "transactions");
        call = opt(call, "type", q.transaction_type.as_ref());
        call = opt(call, "from", q.from.as_ref());
        call = opt(call, "to", q.to.as_ref());
        call = opt(call, "maxSpanSeconds", q.max_span_seconds);
        call = opt(call, "pageSize", q.page_size);
        call = opt(call, "pageNumber", q.page_number);
        self.inner.call(&call).await?.json("transactions")
    }
}
