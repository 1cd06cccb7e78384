//! Square heatmaps (e.g. confusion matrices) laid out in pixels, readable up to a few hundred
//! classes: the cell size shrinks with the class count (48 px down to 6 px), labels shrink with it
//! and only every k-th label is written once cells are smaller than the label font.

use super::{de, font_available, style, PlotError, Res, FONT};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::Path;

/// Heatmap of a square `matrix` (`matrix[row][col]`); `labels` name both rows and columns.
pub fn heatmap(
    path: &Path,
    title: &str,
    matrix: &[Vec<f64>],
    labels: &[String],
) -> Result<(), PlotError> {
    heatmap_with_axes(path, title, matrix, labels, "", "")
}

/// Like [`heatmap`], with axis titles for the rows (left) and the columns (bottom), e.g.
/// "true class" and "predicted class".
pub fn heatmap_with_axes(
    path: &Path,
    title: &str,
    matrix: &[Vec<f64>],
    labels: &[String],
    row_axis: &str,
    col_axis: &str,
) -> Result<(), PlotError> {
    let n = labels.len();
    if matrix.len() != n || matrix.iter().any(|r| r.len() != n) {
        return Err(PlotError::Input {
            path: path.to_path_buf(),
            reason: format!(
                "matrix must be {n}x{n} to match {n} labels, got {} rows",
                matrix.len()
            ),
        });
    }
    let g = Geometry::new(labels, font_available());
    let size = (g.width, g.height);
    let axes = (row_axis, col_axis);
    render!(path, size, draw(title, matrix, labels, &g, axes))
}

/// Pixel layout: cell size, label font and step, margins.
struct Geometry {
    n: usize,
    cell: i32,
    font: u32,
    step: usize,
    left: i32,
    top: i32,
    width: u32,
    height: u32,
}

impl Geometry {
    fn new(labels: &[String], text: bool) -> Self {
        let n = labels.len().max(1);
        let cell = (1100 / n as i32).clamp(6, 48);
        let font = (cell as u32).clamp(9, 14);
        let step = (font as usize).div_ceil(cell as usize).max(1);
        let longest = labels.iter().map(|l| l.chars().count()).max().unwrap_or(1) as i32;
        let label_px = if text {
            (longest * font as i32 * 6 / 10 + 12).min(260)
        } else {
            0
        };
        let left = 20 + label_px + if text { 24 } else { 0 };
        let top = if text { 60 } else { 20 };
        let grid = cell * n as i32;
        Geometry {
            n,
            cell,
            font,
            step,
            left,
            top,
            width: (left + grid + 110) as u32,
            height: (top + grid + label_px + if text { 40 } else { 20 }) as u32,
        }
    }
}

/// White → dark blue for `t` in 0..=1.
fn blues(t: f64) -> RGBColor {
    let t = t.clamp(0.0, 1.0);
    let mix = |a: f64, b: f64| (a + (b - a) * t).round() as u8;
    RGBColor(mix(247.0, 8.0), mix(251.0, 48.0), mix(255.0, 107.0))
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    text: bool,
    title: &str,
    matrix: &[Vec<f64>],
    labels: &[String],
    g: &Geometry,
    axes: (&str, &str),
) -> Res {
    root.fill(&WHITE).map_err(de)?;
    let vals = matrix.iter().flatten().cloned().filter(|v| v.is_finite());
    let hi = vals.clone().fold(0.0f64, f64::max);
    let lo = vals.fold(0.0f64, f64::min);
    let range = if hi > lo { hi - lo } else { 1.0 };
    let annotate = text && g.n <= 25;
    let integral = matrix.iter().flatten().all(|v| v.fract() == 0.0);
    for (r, row) in matrix.iter().enumerate() {
        for (c, &v) in row.iter().enumerate() {
            let t = if v.is_finite() { (v - lo) / range } else { 0.0 };
            let (x, y) = (g.left + c as i32 * g.cell, g.top + r as i32 * g.cell);
            let cell = [(x, y), (x + g.cell, y + g.cell)];
            root.draw(&Rectangle::new(cell, blues(t).filled()))
                .map_err(de)?;
            if annotate && v != 0.0 {
                let s = if integral {
                    format!("{v}")
                } else {
                    format!("{v:.2}")
                };
                let colour = if t > 0.5 { WHITE } else { BLACK };
                let st = (FONT, g.font.min(12))
                    .into_font()
                    .color(&colour)
                    .pos(Pos::new(HPos::Center, VPos::Center));
                root.draw(&Text::new(s, (x + g.cell / 2, y + g.cell / 2), st))
                    .map_err(de)?;
            }
        }
    }
    let grid = g.cell * g.n as i32;
    let frame = [(g.left, g.top), (g.left + grid, g.top + grid)];
    root.draw(&Rectangle::new(frame, BLACK.mix(0.5)))
        .map_err(de)?;
    colour_bar(root, text, g, lo, hi)?;
    if text {
        draw_labels(root, title, labels, g, axes)?;
    }
    Ok(())
}

fn colour_bar<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    text: bool,
    g: &Geometry,
    lo: f64,
    hi: f64,
) -> Res {
    let x = g.left + g.cell * g.n as i32 + 24;
    let h = (g.cell * g.n as i32).min(300);
    for i in 0..h {
        let t = 1.0 - i as f64 / h.max(1) as f64;
        let y = g.top + i;
        root.draw(&Rectangle::new(
            [(x, y), (x + 18, y + 1)],
            blues(t).filled(),
        ))
        .map_err(de)?;
    }
    if text {
        let st = style(12).pos(Pos::new(HPos::Left, VPos::Center));
        let fmt = |v: f64| {
            if v.fract() == 0.0 {
                format!("{v}")
            } else {
                format!("{v:.2}")
            }
        };
        root.draw(&Text::new(fmt(hi), (x + 22, g.top), st.clone()))
            .map_err(de)?;
        root.draw(&Text::new(fmt(lo), (x + 22, g.top + h), st))
            .map_err(de)?;
    }
    Ok(())
}

fn draw_labels<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    labels: &[String],
    g: &Geometry,
    (row_axis, col_axis): (&str, &str),
) -> Res {
    let grid = g.cell * g.n as i32;
    let centre = Pos::new(HPos::Center, VPos::Center);
    root.draw(&Text::new(
        title,
        (g.left + grid / 2, 24),
        style(20).pos(centre),
    ))
    .map_err(de)?;
    let row_style = style(g.font).pos(Pos::new(HPos::Right, VPos::Center));
    let col_style = style(g.font)
        .transform(FontTransform::Rotate90)
        .pos(Pos::new(HPos::Left, VPos::Center));
    let mut lowest = 0;
    for (i, label) in labels.iter().enumerate().step_by(g.step) {
        let mid = g.cell * i as i32 + g.cell / 2;
        root.draw(&Text::new(
            label.as_str(),
            (g.left - 6, g.top + mid),
            row_style.clone(),
        ))
        .map_err(de)?;
        let at = (g.left + mid, g.top + grid + 6);
        root.draw(&Text::new(label.as_str(), at, col_style.clone()))
            .map_err(de)?;
        let len = label.chars().count() as i32 * g.font as i32 * 6 / 10;
        lowest = lowest.max(len.min(260));
    }
    if !col_axis.is_empty() {
        let at = (g.left + grid / 2, g.top + grid + lowest + 24);
        root.draw(&Text::new(col_axis, at, style(15).pos(centre)))
            .map_err(de)?;
    }
    if !row_axis.is_empty() {
        let st = style(15).transform(FontTransform::Rotate270).pos(centre);
        root.draw(&Text::new(row_axis, (12, g.top + grid / 2), st))
            .map_err(de)?;
    }
    Ok(())
}
