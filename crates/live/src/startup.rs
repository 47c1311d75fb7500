//! Start-up: login, market details, the balance, the journal and the reconciliation with the
//! broker, then the [`EngineInit`] the engine starts from. Every step can be interrupted by
//! Ctrl-C before anything is sent.

use scalper_engine::{EngineConfig, EngineInit, RiskManager};
use scalper_ig::IgClient;
use scalper_model::{Epic, Instrument, Money, Timestamp};

use crate::interrupts::Interrupts;
use crate::journaling::JournalSink;
use crate::{LiveError, RunOptions};

/// What start-up established.
#[derive(Debug)]
pub struct Started {
    /// The epics traded: the configured ones, with a built-in market's epic switched to the
    /// account's kind (a spread-bet account deals `CS.D.EURUSD.TODAY.IP`, not `...CFD.IP`).
    pub epics: Vec<Epic>,
    pub instruments: Vec<Instrument>,
    /// Each market's `openingHours` as IG gave them (empty: none), for the engine's calendar.
    pub hours: Vec<(Epic, Vec<(String, String)>)>,
    pub journal: Option<JournalSink>,
    pub init: EngineInit,
    /// The account's balance at the start, when the broker reports one.
    pub start_balance: Option<Money>,
    /// The session's account id.
    pub account: Option<String>,
    /// The account's currency, when the broker reports it.
    pub currency: Option<String>,
    /// Today's realised equity curve from the journal (only with telemetry; empty otherwise).
    pub day_curve: Vec<(Timestamp, Money)>,
    /// What start-up found worth an operator's attention (differences the reconciliation with
    /// the broker settled): the run's observers get them as its first errors.
    pub notes: Vec<String>,
}

/// Logs in, loads the instruments, opens and reconciles the journal, and builds the engine's
/// start state.
pub async fn start(
    client: &IgClient,
    engine_cfg: &EngineConfig,
    epics: &[Epic],
    opts: &RunOptions,
    intr: &mut Interrupts,
    wall_now: Timestamp,
) -> Result<Started, LiveError> {
    let info = intr
        .or_interrupt("logging in", async {
            client
                .login()
                .await
                .map_err(LiveError::broker("logging in"))
        })
        .await?;
    let account = info.account_id.as_ref().map(ToString::to_string);
    tracing::info!(account = %account.as_deref().unwrap_or("(none named)"), "logged in");
    let epics = epics_for_account(client, account.as_deref(), epics, intr).await?;
    let (instruments, hours) = load_instruments(client, &epics, intr).await?;
    let mut journal = match &opts.journal {
        Some(path) => Some(JournalSink::open(path, opts.durable_journal, opts.paper)?),
        None => None,
    };
    let (start_balance, currency) = intr
        .or_interrupt("reading the balance", async {
            Ok(crate::account_balance(client, account.as_deref()).await)
        })
        .await?;
    let equity = start_balance.unwrap_or(opts.equity);
    tracing::info!(%equity, "equity for sizing");
    let mut init = EngineInit {
        equity,
        paper: opts.paper,
        ..EngineInit::default()
    };
    let mut notes = Vec::new();
    if let Some(j) = journal.as_mut() {
        let differences = recover(
            client,
            engine_cfg,
            &instruments,
            j,
            &mut init,
            opts,
            intr,
            wall_now,
            currency.clone(),
        )
        .await?;
        notes
            .extend(differences.map(|r| format!("{}{r}", crate::telemetry::notes::RECONCILIATION)));
    }
    let day_curve = match (&journal, &opts.telemetry) {
        (Some(j), Some(_)) => {
            let risk =
                RiskManager::new(engine_cfg.risk.clone()).map_err(|e| LiveError::Engine {
                    context: "checking the [engine.risk] settings".into(),
                    detail: e.to_string(),
                })?;
            j.day_curve(&risk, wall_now)?
        }
        _ => Vec::new(),
    };
    Ok(Started {
        epics,
        instruments,
        hours,
        journal,
        init,
        start_balance,
        account,
        currency,
        day_curve,
        notes,
    })
}

/// The configured epics for the session's account: on a spread-bet account a built-in CFD
/// epic (what a friendly name such as `EUR_USD` resolves to) becomes the market's spread-bet
/// epic, and on a CFD account the reverse; each switch is logged. Unknown epics and accounts
/// that do not say their type are left alone.
async fn epics_for_account(
    client: &IgClient,
    account: Option<&str>,
    epics: &[Epic],
    intr: &mut Interrupts,
) -> Result<Vec<Epic>, LiveError> {
    let accounts = intr
        .or_interrupt("reading the account type", async {
            Ok(client.accounts().await)
        })
        .await?;
    let accounts = match accounts {
        Ok(a) => a,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the account type; trading the epics as configured");
            return Ok(epics.to_vec());
        }
    };
    let kind = accounts
        .iter()
        .find(|a| Some(a.account_id.as_str()) == account)
        .or_else(|| accounts.iter().find(|a| a.preferred))
        .and_then(|a| a.account_type.as_deref())
        .and_then(|t| match t.trim().to_ascii_uppercase().as_str() {
            "CFD" => Some(scalper_model::ProductKind::Cfd),
            "SPREADBET" => Some(scalper_model::ProductKind::SpreadBet),
            _ => None,
        });
    let Some(kind) = kind else {
        return Ok(epics.to_vec());
    };
    Ok(epics
        .iter()
        .map(
            |e| match scalper_model::catalogue::epic_for_account(e, kind) {
                Some(other) => {
                    tracing::info!(configured = %e, trading = %other, account_type = kind.as_ig(),
                        "the account deals {}: trading the market's {} epic", kind.as_ig(), kind.as_ig());
                    other
                }
                None => e.clone(),
            },
        )
        .collect())
}

async fn load_instruments(
    client: &IgClient,
    epics: &[Epic],
    intr: &mut Interrupts,
) -> Result<(Vec<Instrument>, Vec<(Epic, Vec<(String, String)>)>), LiveError> {
    let mut instruments = Vec::with_capacity(epics.len());
    let mut hours = Vec::with_capacity(epics.len());
    for epic in epics {
        let market = intr
            .or_interrupt("loading market details", async {
                client.market(epic).await.map_err(LiveError::broker(format!(
                    "loading market details of {epic}"
                )))
            })
            .await?;
        tracing::info!(epic = %epic, status = %market.status, min_size = %market.instrument.rules.min_deal_size,
            min_stop = %market.instrument.rules.min_stop_distance, "market loaded");
        hours.push((epic.clone(), market.opening_hours));
        instruments.push(market.instrument);
    }
    Ok((instruments, hours))
}

/// Reconciles the journal with the broker, values what closed while scalper was down, and
/// fills in the day's totals and the positions to manage. Returns the reconciliation's report
/// when it found differences.
#[allow(clippy::too_many_arguments)]
async fn recover(
    client: &IgClient,
    engine_cfg: &EngineConfig,
    instruments: &[Instrument],
    j: &mut JournalSink,
    init: &mut EngineInit,
    opts: &RunOptions,
    intr: &mut Interrupts,
    wall_now: Timestamp,
    currency: Option<String>,
) -> Result<Option<String>, LiveError> {
    j.abandon_paper_trades(wall_now)?;
    let report = intr
        .or_interrupt("reconciling with the broker", j.reconcile(client, wall_now))
        .await?;
    let differences = (!report.is_clean()).then(|| report.to_string());
    if report.is_clean() {
        tracing::info!("reconciliation with the broker: journal and broker agree");
    } else {
        eprintln!("reconciliation with the broker:\n{report}");
        tracing::warn!(report = %report, "reconciliation found differences");
    }
    if report.blocks_trading() {
        return Err(LiveError::NeedsOperator);
    }
    let risk = RiskManager::new(engine_cfg.risk.clone()).map_err(|e| LiveError::Engine {
        context: "checking the [engine.risk] settings".into(),
        detail: e.to_string(),
    })?;
    (init.day_realised_pnl, init.day_trades) = j.day_stats(&risk, wall_now)?;
    init.day = Some(risk.session_day(wall_now));
    let (valued, pending) = intr
        .or_interrupt(
            "valuing external closes",
            j.complete_external_closes(client, instruments, wall_now),
        )
        .await?;
    if valued + pending > 0 {
        eprintln!("closed at the broker while scalper was not running: {valued} valued from the broker's history, {pending} still pending");
    }
    if valued > 0 {
        // The day's totals include the P&L just read from the broker.
        (init.day_realised_pnl, init.day_trades) = j.day_stats(&risk, wall_now)?;
    }
    let (positions, unmanaged) = j.positions_to_manage(instruments, wall_now)?;
    announce_positions(&positions);
    for u in &unmanaged {
        eprintln!("warning: not managed by this run, left with its broker stop: {u}");
        tracing::warn!(position = %u, "open position not managed by this run; it keeps its broker stop");
    }
    init.positions = positions;
    // One number per trade: the log's, the summary's and the journal's.
    let first_trade_id = j.next_trade_id()?;
    init.first_trade_id = Some(first_trade_id);
    // What a replay needs to run this engine again over the quotes this run receives.
    let setup = engine_cfg
        .to_toml()
        .map_err(|e| tracing::warn!(error = %e, "cannot keep the run's configuration for a replay"))
        .ok()
        .map(|config| {
            Box::new(scalper_journal::RunSetup {
                config,
                instruments: instruments.to_vec(),
                equity: init.equity,
                started_wall_ms: wall_now.millis(),
                first_trade_id,
                positions_taken_over: u32::try_from(init.positions.len()).unwrap_or(u32::MAX),
                paper: opts.paper,
                day_realised_pnl: init.day_realised_pnl,
                day_trades: init.day_trades,
                day: init.day.map(|d| d.to_string()),
            })
        });
    j.event(
        wall_now,
        &scalper_journal::SystemEvent::EngineStart {
            mode: if opts.paper { "paper" } else { "live" }.into(),
            currency,
            setup,
        },
    );
    j.session_events(&client.stats(), wall_now);
    Ok(differences)
}

fn announce_positions(positions: &[scalper_engine::RestoredPosition]) {
    for p in positions {
        tracing::info!(deal_id = %p.deal_id, epic = %p.epic, direction = %p.direction.as_str(), size = %p.size,
            adopted = p.adopted, "open position taken over at start");
    }
    if positions.is_empty() {
        return;
    }
    let list = positions
        .iter()
        .map(|p| {
            format!(
                "{} {} {} {}{}",
                p.deal_id,
                p.epic,
                p.direction.as_str(),
                p.size,
                if p.adopted { " (adopted)" } else { "" }
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    eprintln!(
        "managing {} position(s) open at the broker: {list}",
        positions.len()
    );
}
