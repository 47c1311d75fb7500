//! The equity chart as a trader sees it: the PNG is decoded and its regions checked for what
//! must be drawn there (title text, axis labels, the drawdown fill, trade markers), against
//! the white background an empty or text-less chart would leave.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use image::{Rgb, RgbImage};
use scalper_backtest::{
    run_backtest, write_equity_png, BacktestError, BacktestOptions, BacktestReport, CacheMode,
    DataOptions, EquityPlot,
};

/// An ema-cross run on synthetic EUR/USD quotes (losing and winning trades, so a drawdown).
fn report(dir: &std::path::Path, prices: bool) -> BacktestReport {
    let data = dir.join("q.csv");
    common::synth::write_csv(&data, 20_000, 7);
    run_backtest(&BacktestOptions {
        data: vec![data],
        strategy: Some("ema-cross".into()),
        set: vec!["fast=20".into(), "slow=60".into(), "size=1".into()],
        data_options: DataOptions {
            cache: CacheMode::Off,
            bar_period_ms: None,
        },
        keep_trades: prices,
        keep_prices: prices,
        ..BacktestOptions::default()
    })
    .unwrap()
}

fn decode(path: &std::path::Path) -> RgbImage {
    image::open(path).unwrap().to_rgb8()
}

/// Pixels in the rectangle `x0..x1` × `y0..y1` matching `pred`.
fn count(
    img: &RgbImage,
    (x0, x1): (u32, u32),
    (y0, y1): (u32, u32),
    pred: impl Fn(Rgb<u8>) -> bool,
) -> usize {
    (y0..y1.min(img.height()))
        .flat_map(|y| (x0..x1.min(img.width())).map(move |x| (x, y)))
        .filter(|&(x, y)| pred(*img.get_pixel(x, y)))
        .count()
}

fn dark(p: Rgb<u8>) -> bool {
    p.0.iter().all(|c| *c < 110)
}

fn rgb(p: Rgb<u8>) -> [i32; 3] {
    p.0.map(i32::from)
}

fn reddish(p: Rgb<u8>) -> bool {
    let [r, g, b] = rgb(p);
    r > 150 && r > g + 40 && r > b + 40
}

fn greenish(p: Rgb<u8>) -> bool {
    let [r, g, b] = rgb(p);
    g > 110 && g > r + 50 && g > b + 40
}

#[test]
fn chart_has_title_axes_and_drawdown() {
    let d = tempfile::tempdir().unwrap();
    let r = report(d.path(), false);
    assert!(r.metrics.trades > 10, "{}", r.metrics.trades);
    assert!(r.metrics.max_drawdown.value() > rust_decimal::Decimal::ZERO);
    let png = d.path().join("eq.png");
    write_equity_png(&png, &EquityPlot::of_report(&r, (1000, 700))).unwrap();
    let img = decode(&png);
    assert_eq!(img.dimensions(), (1000, 700));
    // Title: text across the top band, centred.
    let title = count(&img, (200, 800), (0, 28), dark);
    assert!(title > 200, "title pixels: {title}");
    // The top-left corner of the title band is background.
    assert_eq!(
        count(&img, (0, 20), (0, 20), |p: Rgb<u8>| p.0 != [255, 255, 255]),
        0
    );
    // Amount labels and the axis description left of the equity panel (top 60%).
    let labels = count(&img, (0, 95), (40, 400), dark);
    assert!(labels > 300, "equity axis label pixels: {labels}");
    // Dated labels under the drawdown panel (bottom band).
    let dates = count(&img, (100, 1000), (640, 700), dark);
    assert!(dates > 300, "time axis label pixels: {dates}");
    // The drawdown fill: red, in the lower panel only.
    let dd_fill = count(&img, (100, 1000), (440, 650), reddish);
    assert!(dd_fill > 500, "drawdown pixels: {dd_fill}");
    assert_eq!(count(&img, (100, 1000), (40, 400), reddish), 0);
}

#[test]
fn chart_with_trades_marks_entries_and_exits_on_price() {
    let d = tempfile::tempdir().unwrap();
    let r = report(d.path(), true);
    assert!(!r.price_curve.is_empty());
    assert!(r.price_curve.len() <= scalper_backtest::MAX_CURVE_POINTS);
    let png = d.path().join("eq.png");
    write_equity_png(&png, &EquityPlot::of_report(&r, (1000, 900))).unwrap();
    let img = decode(&png);
    assert_eq!(img.dimensions(), (1000, 900));
    // Price panel: the bottom third. Buy entries are green triangles, sells red ones.
    let green = count(&img, (100, 1000), (580, 860), greenish);
    let red = count(&img, (100, 1000), (580, 860), reddish);
    assert!(green > 100, "buy markers: {green}");
    assert!(red > 100, "sell markers: {red}");
    // Without trades the price panel is not drawn: no green anywhere.
    let plain = d.path().join("plain.png");
    let mut no_trades = EquityPlot::of_report(&r, (1000, 900));
    no_trades.prices = &[];
    no_trades.trades = &[];
    write_equity_png(&plain, &no_trades).unwrap();
    assert_eq!(count(&decode(&plain), (0, 1000), (0, 900), greenish), 0);
}

#[test]
fn too_small_a_chart_is_an_error_not_a_panic() {
    let d = tempfile::tempdir().unwrap();
    let r = report(d.path(), false);
    let err = write_equity_png(
        &d.path().join("x.png"),
        &EquityPlot::of_report(&r, (100, 50)),
    )
    .unwrap_err();
    assert!(matches!(err, BacktestError::InvalidOption { .. }), "{err}");
    assert!(err.to_string().contains("320"), "{err}");
}
