//! Quote recording: `scalper record [DIR]` (quotes without trading, from IG or the built-in
//! sandbox) and the `--record [DIR]` of `run` and `demo`. The recorder itself
//! (`scalper_backtest::recorder`) writes the files; here its tap is put on the stream, where
//! every quote passes with the moment it arrived, and what it did is printed at the end.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use scalper_backtest::recorder::{self, RecordError};
use scalper_backtest::{RecordSummary, RecordedPrices, RecorderConfig, RecorderHandle, Tap};
use scalper_ig::stream::{QuoteTap, StreamClient, StreamConfig, StreamEvent, Subscription};
use scalper_ig::{Environment, IgClient, IgConfig, SessionVersion};
use scalper_model::{Epic, Quote};

use crate::args::RecordArgs;
use crate::config::ConfigError;
use crate::Context;

/// Where recordings go without `DIR` or `[record] dir`.
pub const DEFAULT_DIR: &str = "data/recordings";

/// `[record]` in scalper.toml.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Section {
    dir: Option<PathBuf>,
    /// Size cap of the recording directory, in MB (0: none). Default 2048.
    max_mb: Option<u64>,
    /// Days kept per instrument (0: all). Default 30.
    keep_days: Option<u32>,
    /// Quotes the hand-off queue holds before it drops. Default 16384.
    queue: Option<usize>,
    /// Seconds between syncs of each file to the disk (0: after every block); against power
    /// cuts, as a killed process loses nothing written either way. Default 30.
    fsync_s: Option<u64>,
}

/// The recorder's settings: `dir` (the flag's), else `[record] dir`, else [`DEFAULT_DIR`];
/// limits from `[record]`.
pub fn config(dir: Option<&PathBuf>, ctx: &Context) -> Result<RecorderConfig, ConfigError> {
    let section: Section = ctx
        .toml()
        .section("record")
        .map_err(ConfigError::Usage)?
        .unwrap_or_default();
    let dir = dir
        .cloned()
        .or(section.dir)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_DIR));
    // Quotes from IG's stream (and the sandbox's) are IG's scaled levels.
    let mut cfg = RecorderConfig::new(dir, RecordedPrices::IgScaled);
    if let Some(mb) = section.max_mb {
        cfg.max_bytes = mb.saturating_mul(1 << 20);
    }
    if let Some(d) = section.keep_days {
        cfg.keep_days = d;
    }
    if let Some(s) = section.fsync_s {
        cfg.sync_every = Some(Duration::from_secs(s));
    }
    if let Some(q) = section.queue {
        if q == 0 {
            return Err(ConfigError::Usage(
                "[record] queue must be at least 1".into(),
            ));
        }
        cfg.queue = q;
    }
    Ok(cfg)
}

/// The recorder's tap as the stream sees it: stamps each quote with the wall-clock time it
/// arrived and hands it on without waiting.
#[derive(Debug)]
struct StreamTap(Tap);

impl QuoteTap for StreamTap {
    #[inline]
    fn on_quote(&self, quote: &Quote) {
        self.0.offer(quote, received_now_ms());
    }
}

#[allow(clippy::disallowed_methods)] // the local receive time is the point: wall clock, not trading time
fn received_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// A started recorder: its tap goes on the stream, its handle gives the summary at the end.
#[derive(Debug)]
pub struct Recording {
    pub handle: RecorderHandle,
    tap: Tap,
}

impl Recording {
    /// Opens the directory (a bad one is a usage error, before anything starts) and starts
    /// the writer thread.
    pub fn start(cfg: RecorderConfig) -> anyhow::Result<Self> {
        let dir = cfg.dir.clone();
        let (max, days) = (cfg.max_bytes, cfg.keep_days);
        let (tap, handle) = recorder::spawn(cfg).map_err(|e| match e {
            RecordError::Dir { .. } => anyhow::Error::from(ConfigError::Usage(e.to_string())),
            other => anyhow::Error::from(other).context("starting the recorder"),
        })?;
        eprintln!(
            "recording quotes to {} (per instrument and UTC day; cap {}, {} days kept)",
            dir.display(),
            if max == 0 {
                "none".to_string()
            } else {
                format!("{} MB", max >> 20)
            },
            days
        );
        Ok(Self { handle, tap })
    }

    /// Puts the tap on `stream`.
    pub fn attach(&self, stream: &mut StreamConfig) {
        stream.quote_tap = Some(Arc::new(StreamTap(self.tap.clone())));
    }

    /// Writes what is waiting, stops the writer and returns what was recorded.
    pub fn finish(self) -> RecordSummary {
        self.handle.finish()
    }
}

/// Starts the recorder when `--record` was given.
pub fn start_if(
    flag: &crate::args::RecordFlag,
    ctx: &Context,
    stream: &mut StreamConfig,
) -> anyhow::Result<Option<Recording>> {
    let Some(dir) = &flag.record else {
        return Ok(None);
    };
    let rec = Recording::start(config(dir.as_ref(), ctx)?)?;
    rec.attach(stream);
    Ok(Some(rec))
}

/// Prints what was recorded (stderr beside a JSON summary, else stdout).
pub fn print(summary: &RecordSummary, to_stderr: bool) {
    let mut lines = vec![format!(
        "== recording: {} quote(s), {} byte(s) in {}",
        summary.quotes(),
        summary.bytes(),
        summary.dir.display()
    )];
    for (epic, r) in &summary.instruments {
        let files: Vec<String> = r.files.iter().map(|f| f.display().to_string()).collect();
        lines.push(format!(
            "{epic}: {} quote(s) in {} block(s), {} byte(s): {}{}",
            r.quotes,
            r.blocks,
            r.bytes,
            files.join(", "),
            if r.not_after_previous > 0 {
                format!(
                    " ({} not after the previous quote, skipped)",
                    r.not_after_previous
                )
            } else {
                String::new()
            }
        ));
    }
    if summary.dropped > 0 {
        lines.push(format!(
            "{} quote(s) DROPPED: the writer fell behind (trading was not affected)",
            summary.dropped
        ));
    }
    if summary.deleted_files > 0 {
        lines.push(format!(
            "{} old day file(s) deleted (size cap / days kept)",
            summary.deleted_files
        ));
    }
    for r in &summary.repaired {
        lines.push(format!("repaired: {r}"));
    }
    if let Some(why) = &summary.stopped {
        lines.push(format!("recording STOPPED early: {why}"));
    }
    for l in lines {
        if to_stderr {
            eprintln!("{l}");
        } else {
            outln!("{l}");
        }
    }
}

/// `scalper record [DIR]`: quotes without trading until the duration, Ctrl-C, SIGTERM or
/// SIGHUP.
pub async fn run(args: &RecordArgs, ctx: &Context) -> anyhow::Result<ExitCode> {
    let engine_cfg = crate::commands::run::engine_config(ctx)?;
    let epics = crate::commands::run::instruments(&args.instruments, ctx, &engine_cfg)?;
    let cfg = config(args.dir.as_ref(), ctx)?;
    let mut intr = scalper_live::Interrupts::install()?;
    // The directory is checked (and locked) first: a bad one is refused before anything starts.
    let recording = Recording::start(cfg)?;
    let (client, sandbox) = if args.sandbox {
        let sandbox = scalper_sandbox::Sandbox::start(scalper_sandbox::SandboxConfig {
            seed: args.seed.unwrap_or(42),
            speed: args.speed.unwrap_or(1.0),
            schedule: scalper_sandbox::MarketSchedule::AlwaysOpen,
            ..scalper_sandbox::SandboxConfig::default()
        })
        .await
        .context("starting the built-in sandbox")?;
        let c = sandbox.credentials().clone();
        eprintln!(
            "environment: SANDBOX (built-in simulated market at {})",
            sandbox.rest_url()
        );
        let ig = IgConfig::new(Environment::Demo, c.username, c.password, c.api_key)
            .with_api_url(sandbox.rest_url())
            .with_session_version(SessionVersion::V3);
        (IgClient::new(ig)?, Some(sandbox))
    } else {
        let ig = ctx.ig_config()?;
        eprintln!(
            "environment: {} ({})  mode: RECORDING ONLY (no orders)",
            ig.environment.as_str().to_uppercase(),
            ig.api_url
        );
        (IgClient::new(ig)?, None)
    };
    client.login().await.context("logging in")?;
    let mut stream_cfg = StreamConfig::default();
    recording.attach(&mut stream_cfg);
    let subs: Vec<Subscription> = epics.iter().cloned().map(Subscription::Price).collect();
    let (stream, rx) = StreamClient::start(stream_cfg, Arc::new(client.clone()), subs);
    eprintln!(
        "recording {} (Ctrl-C to stop)",
        epics
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    );
    let ended = listen(rx, &mut intr, args.duration, &epics).await;
    stream.shutdown().await;
    if let Some(s) = sandbox {
        if tokio::time::timeout(Duration::from_secs(5), s.shutdown())
            .await
            .is_err()
        {
            tracing::warn!("the sandbox did not stop within 5 s; abandoning it");
        }
    }
    let summary = recording.finish();
    if args.json {
        let mut v = serde_json::to_value(&summary).context("encoding the summary")?;
        if let Some(o) = v.as_object_mut() {
            o.insert("ended".into(), ended.into());
            o.insert("quotes".into(), summary.quotes().into());
            o.insert("bytes".into(), summary.bytes().into());
        }
        crate::output::print_json(&v);
    } else {
        print(&summary, false);
        outln!("ended: {ended}");
    }
    Ok(if summary.stopped.is_some() {
        ExitCode::from(1)
    } else {
        ExitCode::from(crate::exit::SUCCESS)
    })
}

/// Drains the stream (quotes are recorded by the tap) until a signal, the duration or the
/// stream's end; returns why it stopped.
async fn listen(
    mut rx: scalper_ig::stream::StreamReceivers,
    intr: &mut scalper_live::Interrupts,
    duration: Option<Duration>,
    epics: &[Epic],
) -> &'static str {
    let deadline = async {
        match duration {
            Some(d) => tokio::time::sleep(d).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(deadline);
    let mut quotes_open = true;
    loop {
        tokio::select! {
            _ = intr.next() => return "interrupted",
            () = &mut deadline => return "duration",
            q = rx.quotes.recv(), if quotes_open => {
                if q.is_none() {
                    quotes_open = false;
                }
            }
            ev = rx.events.recv() => match ev {
                None => return "price stream stopped",
                Some(StreamEvent::SubscriptionRefused { subscription, code, message }) => {
                    tracing::error!(?subscription, code, message, "IG refused a price subscription: it is not recorded");
                }
                Some(StreamEvent::Status(s)) => {
                    tracing::info!(status = ?s, instruments = epics.len(), "stream");
                }
                Some(_) => {}
            },
        }
    }
}
