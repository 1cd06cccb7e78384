//! Scatter plots, histograms and line charts on f64 axes.

use super::{axes, builder, de, font_available, legend, span, PlotError, Res, COLOURS};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;

type XyChart<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// A white canvas with a titled, labelled f64 × f64 chart over `x` = (lo, hi) and `y` = (lo, hi).
fn xy_chart<'a, DB: DrawingBackend>(
    root: &'a DrawingArea<DB, Shift>,
    text: bool,
    title: &str,
    x: (f64, f64),
    y: (f64, f64),
    (x_label, y_label): (&str, &str),
) -> Result<XyChart<'a, DB>, String> {
    root.fill(&WHITE).map_err(de)?;
    let mut chart = builder(root, text, title, 30, 70)
        .build_cartesian_2d(x.0..x.1, y.0..y.1)
        .map_err(de)?;
    axes(&mut chart, text, x_label, y_label)?;
    Ok(chart)
}

/// One dot per point (semi-transparent, so dense regions read darker).
pub fn scatter(
    path: &Path,
    title: &str,
    points: &[(f64, f64)],
    x_label: &str,
    y_label: &str,
) -> Result<(), PlotError> {
    render!(
        path,
        (900, 760),
        draw_scatter(title, points, x_label, y_label)
    )
}

fn draw_scatter<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    text: bool,
    title: &str,
    points: &[(f64, f64)],
    x_label: &str,
    y_label: &str,
) -> Res {
    let x = span(points.iter().map(|p| p.0));
    let y = span(points.iter().map(|p| p.1));
    let mut chart = xy_chart(root, text, title, x, y, (x_label, y_label))?;
    let alpha = (200.0 / (points.len().max(1) as f64)).clamp(0.05, 0.7);
    let dots = points
        .iter()
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .map(|&p| Circle::new(p, 3, COLOURS[0].mix(alpha).filled()));
    chart.draw_series(dots).map_err(de)?;
    Ok(())
}

/// Histogram of `values` in `bins` equal-width bins over their range.
pub fn histogram(
    path: &Path,
    title: &str,
    values: &[f64],
    bins: usize,
    x_label: &str,
) -> Result<(), PlotError> {
    if bins == 0 {
        return Err(PlotError::Input {
            path: path.to_path_buf(),
            reason: "0 bins; ask for at least 1".into(),
        });
    }
    render!(
        path,
        (900, 600),
        draw_histogram(title, values, bins, x_label)
    )
}

fn draw_histogram<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    text: bool,
    title: &str,
    values: &[f64],
    bins: usize,
    x_label: &str,
) -> Res {
    let finite: Vec<f64> = values.iter().cloned().filter(|v| v.is_finite()).collect();
    let lo = finite.iter().cloned().fold(f64::INFINITY, f64::min);
    let hi = finite.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let (lo, hi) = if lo < hi {
        (lo, hi)
    } else if lo == hi {
        (lo - 0.5, hi + 0.5)
    } else {
        (0.0, 1.0)
    };
    let width = (hi - lo) / bins as f64;
    let mut counts = vec![0u64; bins];
    for v in &finite {
        let b = (((v - lo) / width) as usize).min(bins - 1);
        counts[b] += 1;
    }
    let top = counts.iter().cloned().max().unwrap_or(0).max(1) as f64 * 1.08;
    let mut chart = xy_chart(root, text, title, (lo, hi), (0.0, top), (x_label, "images"))?;
    let bars = counts.iter().enumerate().map(|(b, &c)| {
        let x0 = lo + b as f64 * width;
        let mut r = Rectangle::new([(x0, 0.0), (x0 + width, c as f64)], COLOURS[0].filled());
        r.set_margin(0, 0, 0, 1);
        r
    });
    chart.draw_series(bars).map_err(de)?;
    Ok(())
}

/// Lines, one per named series of `(x, y)` points.
pub fn line_chart(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[(String, Vec<(f64, f64)>)],
) -> Result<(), PlotError> {
    render!(
        path,
        (900, 600),
        draw_lines(title, x_label, y_label, series)
    )
}

fn draw_lines<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    text: bool,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[(String, Vec<(f64, f64)>)],
) -> Res {
    let all = || series.iter().flat_map(|(_, pts)| pts.iter());
    let x = span(all().map(|p| p.0));
    let y = span(all().map(|p| p.1));
    let mut chart = xy_chart(root, text, title, x, y, (x_label, y_label))?;
    for (s, (name, pts)) in series.iter().enumerate() {
        let colour = COLOURS[s % COLOURS.len()];
        let pts: Vec<(f64, f64)> = pts
            .iter()
            .cloned()
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .collect();
        let drawn = chart
            .draw_series(LineSeries::new(pts.clone(), colour.stroke_width(2)))
            .map_err(de)?;
        if text {
            drawn.label(name.as_str()).legend(move |(x, y)| {
                PathElement::new([(x, y), (x + 16, y)], colour.stroke_width(2))
            });
        }
        chart
            .draw_series(pts.into_iter().map(|p| Circle::new(p, 3, colour.filled())))
            .map_err(de)?;
    }
    legend(&mut chart, text && !series.is_empty())
}
