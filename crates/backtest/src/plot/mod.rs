//! The equity chart of a run (`--plot`): a title (strategy, instrument, period), the equity
//! over a dated time axis with amounts in the account currency, the drawdown below it and,
//! optionally, entries and exits on the price. Text is drawn with an embedded DejaVu Sans
//! through `ab_glyph` ([`text::GlyphBackend`]), so no system font or font library is needed.

mod text;

use std::path::Path;
use std::sync::OnceLock;

use ab_glyph::FontRef;
use plotters::coord::Shift;
use plotters::prelude::*;
use rust_decimal::prelude::{FromPrimitive, ToPrimitive};
use rust_decimal::Decimal;
use scalper_model::economics::{currency_decimals, group_thousands};
use scalper_model::{Direction, Money, Timestamp};

use crate::curve::PricePoint;
use crate::error::BacktestError;
use crate::metrics::{EquityPoint, TradeRecord};
use crate::runner::BacktestReport;
use text::GlyphBackend;

/// A panel of the chart.
type Area<'a> = DrawingArea<GlyphBackend<'a>, Shift>;

/// DejaVu Sans 2.37 (Bitstream Vera licence, see `assets/DejaVuSans-LICENSE.txt`).
const FONT: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");
/// The family name the chart asks plotters for.
const FAMILY: &str = "sans-serif";

/// Smallest chart drawn: the labels need room.
pub const MIN_PLOT_SIZE: (u32, u32) = (320, 240);

const EQUITY: RGBColor = RGBColor(31, 90, 180);
const START: RGBColor = RGBColor(150, 150, 150);
const DRAWDOWN: RGBColor = RGBColor(200, 40, 40);
const PRICE: RGBColor = RGBColor(90, 90, 90);
const BUY: RGBColor = RGBColor(20, 150, 60);
const SELL: RGBColor = RGBColor(210, 50, 50);
const EXIT: RGBColor = RGBColor(20, 20, 20);

/// What the chart shows. Build it from a report with [`EquityPlot::of_report`].
#[derive(Debug, Clone)]
pub struct EquityPlot<'a> {
    /// First line of the title, e.g. `ema-cross on USD/JPY (CS.D.USDJPY.CFD.IP)`; the period
    /// is added from the curve.
    pub title: String,
    /// Account currency of the amounts.
    pub currency: &'a str,
    pub initial: Money,
    pub curve: &'a [EquityPoint],
    /// Entries and exits on price: the price curve and the trades (both empty: no panel).
    pub prices: &'a [PricePoint],
    pub trades: &'a [TradeRecord],
    /// Width and height in pixels.
    pub size: (u32, u32),
}

impl<'a> EquityPlot<'a> {
    /// The chart of a run: equity and drawdown, plus the price panel when the report holds
    /// a price curve (`BacktestOptions::keep_prices`).
    pub fn of_report(report: &'a BacktestReport, size: (u32, u32)) -> Self {
        Self {
            title: format!(
                "{} on {} ({})",
                report.strategy, report.instrument, report.epic
            ),
            currency: &report.currency,
            initial: report.initial_equity,
            curve: &report.equity_curve,
            prices: &report.price_curve,
            trades: if report.price_curve.is_empty() {
                &[]
            } else {
                &report.trades
            },
            size,
        }
    }
}

/// The embedded font, also registered with plotters (which sizes some text itself) once per
/// process.
fn font() -> Result<FontRef<'static>, String> {
    static READY: OnceLock<Result<FontRef<'static>, String>> = OnceLock::new();
    READY
        .get_or_init(|| {
            let unreadable = "the embedded font could not be read".to_string();
            for style in [FontStyle::Normal, FontStyle::Bold] {
                plotters::style::register_font(FAMILY, style, FONT)
                    .map_err(|_| unreadable.clone())?;
            }
            FontRef::try_from_slice(FONT).map_err(|_| unreadable)
        })
        .clone()
}

fn f(d: Decimal) -> f64 {
    d.to_f64().unwrap_or(0.0)
}

/// A time axis label (UTC): the date alone for a midnight tick on a span over two days, else
/// month, day and time.
fn time_label(ms: i64, span_ms: i64) -> String {
    let Some(t) = chrono::DateTime::from_timestamp_millis(ms) else {
        return String::new();
    };
    if span_ms > 2 * 86_400_000 && ms.rem_euclid(86_400_000) == 0 {
        t.format("%Y-%m-%d").to_string()
    } else {
        t.format("%m-%d %H:%M").to_string()
    }
}

/// The period of the title: `2026-01-05 00:00 to 2026-01-06 03:46 UTC`.
fn period(from: Timestamp, to: Timestamp) -> String {
    let show = |ts: Timestamp| {
        chrono::DateTime::from_timestamp_millis(ts.millis())
            .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_default()
    };
    format!("{} to {} UTC", show(from), show(to))
}

/// An amount axis label with thousands separators: whole units when the axis spans more than
/// 50, else the currency's decimals.
fn amount_label(v: f64, range: f64, currency: &str) -> String {
    let dp = if range > 50.0 {
        0
    } else {
        currency_decimals(currency)
    };
    Decimal::from_f64(v).map_or_else(String::new, |d| group_thousands(d, dp))
}

/// A price axis label with just enough decimals for the axis's range.
fn price_label(v: f64, range: f64) -> String {
    let dp = if range <= 0.0 {
        5
    } else {
        (2.0 - range.log10().floor()).clamp(0.0, 6.0) as usize
    };
    format!("{v:.dp$}")
}

/// Round steps for the time axis, ms: 1, 5, 15, 30 minutes; 1, 2, 3, 6, 12 hours; 1, 2, 7,
/// 14, 28 days.
const TIME_STEPS: [i64; 14] = [
    60_000,
    300_000,
    900_000,
    1_800_000,
    3_600_000,
    7_200_000,
    10_800_000,
    21_600_000,
    43_200_000,
    86_400_000,
    172_800_000,
    604_800_000,
    1_209_600_000,
    2_419_200_000,
];

/// A time axis in epoch ms whose ticks fall on round UTC times (every 2 hours from midnight,
/// every day at midnight...), as few as fit the chart's hint.
#[derive(Debug, Clone)]
struct TimeAxis(std::ops::Range<i64>);

impl Ranged for TimeAxis {
    type FormatOption = plotters::coord::ranged1d::DefaultFormatting;
    type ValueType = i64;

    fn map(&self, value: &i64, limit: (i32, i32)) -> i32 {
        let span = (self.0.end - self.0.start).max(1) as f64;
        let share = (*value - self.0.start) as f64 / span;
        limit.0 + (share * f64::from(limit.1 - limit.0)).round() as i32
    }

    fn key_points<H: plotters::coord::ranged1d::KeyPointHint>(&self, hint: H) -> Vec<i64> {
        let most = i64::try_from(hint.max_num_points().max(1)).unwrap_or(i64::MAX);
        let span = self.0.end - self.0.start;
        let step = TIME_STEPS
            .iter()
            .copied()
            .find(|s| span / s < most)
            .unwrap_or_else(|| (span / most).max(1));
        let mut t = self.0.start.div_euclid(step) * step;
        if t < self.0.start {
            t += step;
        }
        let mut out = Vec::new();
        while t <= self.0.end {
            out.push(t);
            t += step;
        }
        out
    }

    fn range(&self) -> std::ops::Range<i64> {
        self.0.clone()
    }
}

/// `lo..hi` padded by 5% (and never empty).
fn padded(lo: f64, hi: f64) -> std::ops::Range<f64> {
    let pad = ((hi - lo) * 0.05).max(hi.abs().max(1.0) * 1e-6);
    (lo - pad)..(hi + pad)
}

/// The drawdown under each point: equity less the running peak (zero or negative).
fn drawdown(initial: f64, curve: &[(i64, f64)]) -> Vec<(i64, f64)> {
    let mut peak = initial;
    curve
        .iter()
        .map(|&(t, e)| {
            peak = peak.max(e);
            (t, e - peak)
        })
        .collect()
}

/// Draws the chart as a PNG (see the module doc).
pub fn write_equity_png(path: &Path, plot: &EquityPlot<'_>) -> Result<(), BacktestError> {
    let (width, height) = plot.size;
    if width < MIN_PLOT_SIZE.0 || height < MIN_PLOT_SIZE.1 {
        return Err(BacktestError::option(
            "plot size",
            format!(
                "at least {}×{} pixels (got {width}×{height})",
                MIN_PLOT_SIZE.0, MIN_PLOT_SIZE.1
            ),
        ));
    }
    let font = font().map_err(|e| BacktestError::output(path, e))?;
    draw(path, font, plot).map_err(|e| BacktestError::output(path, e))
}

/// The drawing itself; plotters' errors become text.
fn draw(path: &Path, font: FontRef<'static>, plot: &EquityPlot<'_>) -> Result<(), String> {
    let e = |e: &dyn std::fmt::Display| e.to_string();
    let initial = f(plot.initial.value());
    let equity: Vec<(i64, f64)> = plot
        .curve
        .iter()
        .map(|p| (p.ts.millis(), f(p.equity.value())))
        .collect();
    let (x0, x1) = match (plot.curve.first(), plot.curve.last()) {
        (Some(a), Some(b)) if b.ts > a.ts => (a.ts.millis(), b.ts.millis()),
        (Some(a), _) => (a.ts.millis(), a.ts.millis() + 1),
        _ => (0, 1),
    };
    let title = match (plot.curve.first(), plot.curve.last()) {
        (Some(a), Some(b)) => format!("{}, {}", plot.title, period(a.ts, b.ts)),
        _ => plot.title.clone(),
    };
    let root = GlyphBackend::new(BitMapBackend::new(path, plot.size), font).into_drawing_area();
    root.fill(&WHITE).map_err(|x| e(&x))?;
    let title_px = (plot.size.1 / 25).clamp(14, 24);
    let body = root
        .titled(
            &title,
            (FAMILY, title_px).into_font().style(FontStyle::Bold),
        )
        .map_err(|x| e(&x))?;
    let with_trades = !plot.prices.is_empty();
    let h = body.dim_in_pixel().1;
    let (top, rest) = body.split_vertically(if with_trades { h * 2 / 5 } else { h * 3 / 5 });
    let (dd_area, price_area) = if with_trades {
        let (a, b) = rest.split_vertically(h / 4);
        (a, Some(b))
    } else {
        (rest, None)
    };
    let span = x1 - x0;
    let axis = Axis {
        x: x0..x1,
        span,
        currency: plot.currency,
    };
    draw_equity(&top, &axis, initial, &equity)?;
    let dd = drawdown(initial, &equity);
    draw_drawdown(&dd_area, &axis, &dd, price_area.is_none())?;
    if let Some(area) = price_area {
        draw_prices(&area, &axis, plot.prices, plot.trades)?;
    }
    root.present().map_err(|x| e(&x))
}

/// The shared time axis.
struct Axis<'a> {
    x: std::ops::Range<i64>,
    span: i64,
    currency: &'a str,
}

fn label_font(area: &Area<'_>) -> TextStyle<'static> {
    let px = (area.dim_in_pixel().1 / 18).clamp(11, 14);
    (FAMILY, px).into_font().into()
}

fn draw_equity(
    area: &Area<'_>,
    axis: &Axis<'_>,
    initial: f64,
    equity: &[(i64, f64)],
) -> Result<(), String> {
    let e = |e: &dyn std::fmt::Display| e.to_string();
    let (lo, hi) = equity.iter().fold((initial, initial), |(lo, hi), (_, v)| {
        (lo.min(*v), hi.max(*v))
    });
    let y = padded(lo, hi);
    let range = y.end - y.start;
    let font = label_font(area);
    let mut chart = ChartBuilder::on(area)
        .margin(8)
        .x_label_area_size(22)
        .y_label_area_size(90)
        .build_cartesian_2d(TimeAxis(axis.x.clone()), y)
        .map_err(|x| e(&x))?;
    let x_fmt = |ms: &i64| time_label(*ms, axis.span);
    let y_fmt = |v: &f64| amount_label(*v, range, axis.currency);
    chart
        .configure_mesh()
        .x_labels(8)
        .y_labels(6)
        .label_style(font.clone())
        .axis_desc_style(font.clone())
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&y_fmt)
        .y_desc(format!("Equity ({})", axis.currency))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()
        .map_err(|x| e(&x))?;
    chart
        .draw_series(LineSeries::new(
            [(axis.x.start, initial), (axis.x.end, initial)],
            START.stroke_width(1),
        ))
        .map_err(|x| e(&x))?
        .label(format!(
            "start {}",
            amount_label(initial, range, axis.currency)
        ))
        .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], START.stroke_width(2)));
    let mut line = Vec::with_capacity(equity.len() + 1);
    line.push((axis.x.start, initial));
    line.extend_from_slice(equity);
    chart
        .draw_series(LineSeries::new(line, EQUITY.stroke_width(2)))
        .map_err(|x| e(&x))?
        .label("equity")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], EQUITY.stroke_width(2)));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .label_font(font)
        .background_style(WHITE.mix(0.8))
        .border_style(START)
        .draw()
        .map_err(|x| e(&x))
}

fn draw_drawdown(
    area: &Area<'_>,
    axis: &Axis<'_>,
    dd: &[(i64, f64)],
    bottom: bool,
) -> Result<(), String> {
    let e = |e: &dyn std::fmt::Display| e.to_string();
    let lo = dd.iter().map(|p| p.1).fold(0.0f64, f64::min);
    let y = padded(lo, 0.0);
    let range = y.end - y.start;
    let font = label_font(area);
    let mut chart = ChartBuilder::on(area)
        .margin(8)
        .x_label_area_size(if bottom { 40 } else { 22 })
        .y_label_area_size(90)
        .build_cartesian_2d(TimeAxis(axis.x.clone()), y)
        .map_err(|x| e(&x))?;
    let x_fmt = |ms: &i64| time_label(*ms, axis.span);
    let y_fmt = |v: &f64| amount_label(*v, range, axis.currency);
    let mut mesh = chart.configure_mesh();
    mesh.x_labels(8)
        .y_labels(4)
        .label_style(font.clone())
        .axis_desc_style(font)
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&y_fmt)
        .y_desc(format!("Drawdown ({})", axis.currency))
        .light_line_style(RGBColor(235, 235, 235));
    if bottom {
        mesh.x_desc("Time (UTC)");
    }
    mesh.draw().map_err(|x| e(&x))?;
    chart
        .draw_series(
            AreaSeries::new(dd.iter().copied(), 0.0, DRAWDOWN.mix(0.35))
                .border_style(DRAWDOWN.stroke_width(1)),
        )
        .map_err(|x| e(&x))?;
    Ok(())
}

fn draw_prices(
    area: &Area<'_>,
    axis: &Axis<'_>,
    prices: &[PricePoint],
    trades: &[TradeRecord],
) -> Result<(), String> {
    let e = |e: &dyn std::fmt::Display| e.to_string();
    let pts: Vec<(i64, f64)> = prices
        .iter()
        .map(|p| (p.ts.millis(), f(p.mid.value())))
        .collect();
    let levels = pts.iter().map(|p| p.1).chain(
        trades
            .iter()
            .flat_map(|t| [f(t.entry_price.value()), f(t.exit_price.value())]),
    );
    let (lo, hi) = levels.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    let (lo, hi) = if lo.is_finite() { (lo, hi) } else { (0.0, 1.0) };
    let y = padded(lo, hi);
    let range = y.end - y.start;
    let font = label_font(area);
    let mut chart = ChartBuilder::on(area)
        .margin(8)
        .x_label_area_size(40)
        .y_label_area_size(90)
        .build_cartesian_2d(TimeAxis(axis.x.clone()), y)
        .map_err(|x| e(&x))?;
    chart
        .configure_mesh()
        .x_labels(8)
        .y_labels(5)
        .label_style(font.clone())
        .axis_desc_style(font.clone())
        .x_label_formatter(&|ms| time_label(*ms, axis.span))
        .y_label_formatter(&|v| price_label(*v, range))
        .y_desc("Price (mid)")
        .x_desc("Time (UTC)")
        .light_line_style(RGBColor(235, 235, 235))
        .draw()
        .map_err(|x| e(&x))?;
    chart
        .draw_series(LineSeries::new(pts, PRICE.stroke_width(1)))
        .map_err(|x| e(&x))?;
    let entries = |dir: Direction| {
        trades
            .iter()
            .filter(move |t| t.direction == dir)
            .map(|t| (t.entry_time.millis(), f(t.entry_price.value())))
    };
    chart
        .draw_series(entries(Direction::Buy).map(|p| TriangleMarker::new(p, 6, BUY.filled())))
        .map_err(|x| e(&x))?
        .label("buy entry")
        .legend(|(x, y)| TriangleMarker::new((x + 8, y), 6, BUY.filled()));
    chart
        .draw_series(entries(Direction::Sell).map(|p| {
            // A sell entry: a triangle pointing down.
            EmptyElement::at(p) + Polygon::new([(-6, -5), (6, -5), (0, 6)], SELL.filled())
        }))
        .map_err(|x| e(&x))?
        .label("sell entry")
        .legend(|(x, y)| {
            EmptyElement::at((x + 8, y)) + Polygon::new([(-6, -5), (6, -5), (0, 6)], SELL.filled())
        });
    chart
        .draw_series(trades.iter().map(|t| {
            Cross::new(
                (t.exit_time.millis(), f(t.exit_price.value())),
                4,
                EXIT.stroke_width(2),
            )
        }))
        .map_err(|x| e(&x))?
        .label("exit")
        .legend(|(x, y)| Cross::new((x + 8, y), 4, EXIT.stroke_width(2)));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .label_font(font)
        .background_style(WHITE.mix(0.8))
        .border_style(START)
        .draw()
        .map_err(|x| e(&x))
}

const REPLAY: RGBColor = RGBColor(230, 130, 20);

/// The chart of a replay (`scalper replay --plot`): the realised P&L of the live run and of
/// its replay over the run's time, each step at a trade's close.
pub fn write_replay_png(
    path: &Path,
    replay: &crate::replay::InstrumentReplay,
    size: (u32, u32),
) -> Result<(), BacktestError> {
    if size.0 < MIN_PLOT_SIZE.0 || size.1 < MIN_PLOT_SIZE.1 {
        return Err(BacktestError::option("plot size", "too small"));
    }
    let font = font().map_err(|e| BacktestError::output(path, e))?;
    draw_replay(path, font, replay, size).map_err(|e| BacktestError::output(path, e))
}

/// Cumulative P&L steps from `(close time, pnl)` in close order, starting at 0 at `x0`.
fn steps(x0: i64, mut closes: Vec<(i64, f64)>) -> Vec<(i64, f64)> {
    closes.sort_by_key(|c| c.0);
    let mut out = vec![(x0, 0.0)];
    let mut total = 0.0;
    for (t, p) in closes {
        out.push((t, total));
        total += p;
        out.push((t, total));
    }
    out
}

fn draw_replay(
    path: &Path,
    font: FontRef<'static>,
    r: &crate::replay::InstrumentReplay,
    size: (u32, u32),
) -> Result<(), String> {
    let e = |e: &dyn std::fmt::Display| e.to_string();
    let x0 = r.first_quote.map_or(0, Timestamp::millis);
    let x1 = r.last_quote.map_or(x0 + 1, Timestamp::millis).max(x0 + 1);
    let mut live_closes: Vec<(i64, f64)> = r
        .pairs
        .iter()
        .map(|p| &p.live)
        .chain(r.extra.iter().map(|x| &x.trade))
        .filter_map(|t| Some((t.closed_at?.millis(), f(t.pnl?.value()))))
        .collect();
    live_closes.retain(|c| c.0 >= x0);
    let replay_closes: Vec<(i64, f64)> = r
        .pairs
        .iter()
        .map(|p| &p.replay)
        .chain(r.missed.iter())
        .map(|t| (t.exit_time.millis(), f(t.pnl.value())))
        .collect();
    let mut live = steps(x0, live_closes);
    let mut replay = steps(x0, replay_closes);
    let end = |v: &mut Vec<(i64, f64)>| {
        let last = v.last().map_or(0.0, |p| p.1);
        v.push((x1, last));
    };
    end(&mut live);
    end(&mut replay);
    let (lo, hi) = live
        .iter()
        .chain(replay.iter())
        .fold((0.0f64, 0.0f64), |(lo, hi), p| (lo.min(p.1), hi.max(p.1)));
    let root = GlyphBackend::new(BitMapBackend::new(path, size), font).into_drawing_area();
    root.fill(&WHITE).map_err(|x| e(&x))?;
    let title = format!(
        "replay of {} on {} ({}), {}: live vs replay",
        r.strategy,
        r.name,
        r.epic,
        period(Timestamp::from_millis(x0), Timestamp::from_millis(x1))
    );
    let title_px = (size.1 / 25).clamp(14, 24);
    let body = root
        .titled(
            &title,
            (FAMILY, title_px).into_font().style(FontStyle::Bold),
        )
        .map_err(|x| e(&x))?;
    let y = padded(lo, hi);
    let range = y.end - y.start;
    let label = label_font(&body);
    let span = x1 - x0;
    let mut chart = ChartBuilder::on(&body)
        .margin(8)
        .x_label_area_size(40)
        .y_label_area_size(90)
        .build_cartesian_2d(TimeAxis(x0..x1), y)
        .map_err(|x| e(&x))?;
    let x_fmt = |ms: &i64| time_label(*ms, span);
    let y_fmt = |v: &f64| amount_label(*v, range, &r.currency);
    chart
        .configure_mesh()
        .x_labels(8)
        .y_labels(6)
        .label_style(label.clone())
        .axis_desc_style(label.clone())
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&y_fmt)
        .y_desc(format!("Realised P&L ({})", r.currency))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()
        .map_err(|x| e(&x))?;
    chart
        .draw_series(LineSeries::new(replay, REPLAY.stroke_width(2)))
        .map_err(|x| e(&x))?
        .label(format!("replay ({} trades)", r.replay_trades))
        .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], REPLAY.stroke_width(2)));
    chart
        .draw_series(LineSeries::new(live, EQUITY.stroke_width(2)))
        .map_err(|x| e(&x))?
        .label(format!("live ({} trades)", r.live_trades))
        .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], EQUITY.stroke_width(2)));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .label_font(label)
        .background_style(WHITE.mix(0.8))
        .border_style(START)
        .draw()
        .map_err(|x| e(&x))?;
    root.present().map_err(|x| e(&x))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_ticks_fall_on_round_times() {
        // 2026-01-05 00:00:00.403 to 18:25:05.670 UTC, 8 ticks at most: every 3 hours.
        let start = 1_767_571_200_000;
        let axis = TimeAxis(start + 403..start + 66_305_670);
        let ticks = axis.key_points(8usize);
        assert_eq!(ticks.first(), Some(&(start + 10_800_000)));
        assert!(ticks.iter().all(|t| t % 10_800_000 == 0), "{ticks:?}");
        assert_eq!(ticks.len(), 6);
        // Four days: a tick each midnight.
        let days = TimeAxis(start - 1..start + 4 * 86_400_000).key_points(8usize);
        assert_eq!(
            days,
            (0..=4).map(|d| start + d * 86_400_000).collect::<Vec<_>>()
        );
    }

    #[test]
    fn labels_are_dated_and_grouped() {
        // 2026-01-05 08:30 UTC.
        let ms = 1_767_601_800_000;
        assert_eq!(time_label(ms, 3_600_000), "01-05 08:30");
        assert_eq!(time_label(ms, 5 * 86_400_000), "01-05 08:30");
        assert_eq!(time_label(1_767_571_200_000, 5 * 86_400_000), "2026-01-05");
        assert_eq!(amount_label(10_250.0, 800.0, "GBP"), "10,250");
        assert_eq!(amount_label(-12.345, 20.0, "GBP"), "-12.35");
        assert_eq!(amount_label(-1_100.4, 20.0, "JPY"), "-1,100");
        assert_eq!(price_label(1.08123, 0.004), "1.08123");
        assert_eq!(price_label(18_250.0, 300.0), "18250");
    }

    #[test]
    fn drawdown_follows_the_running_peak() {
        let dd = drawdown(100.0, &[(1, 90.0), (2, 120.0), (3, 100.0), (4, 130.0)]);
        assert_eq!(dd, vec![(1, -10.0), (2, 0.0), (3, -20.0), (4, 0.0)]);
    }
}
