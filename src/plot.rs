//! Part `plot`: PNG (default) or SVG (path ending in `.svg`) charts with plotters.
//!
//! Text uses DejaVu Sans through ab_glyph: the file named by `PIPELINE_FONT` if that variable is
//! set, else `/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf`. Without a usable font the charts are
//! still drawn, without any text (no title, no tick labels, no legend).

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Default font file.
pub const DEFAULT_FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

const FONT: &str = "sans-serif";
/// Colours of stacked series and lines, in order.
const COLOURS: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

/// Why a chart was not written.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    #[error("{}: cannot draw the chart ({reason}); check that the folder exists and is writable", path.display())]
    Draw { path: PathBuf, reason: String },
    #[error("{}: bad chart input: {reason}", path.display())]
    Input { path: PathBuf, reason: String },
}

/// Registers the font once; true when text can be drawn.
pub fn font_available() -> bool {
    static READY: OnceLock<bool> = OnceLock::new();
    *READY.get_or_init(|| {
        let path = std::env::var_os("PIPELINE_FONT")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_FONT));
        match crate::file_check::read(&path, 64 << 20) {
            Ok(bytes) => {
                let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                plotters::style::register_font(FONT, FontStyle::Normal, bytes).is_ok()
            }
            Err(_) => false,
        }
    })
}

type Res = Result<(), String>;

fn de<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// Draws with `$draw(&root, text, args..)` on a PNG or SVG backend chosen by the extension.
macro_rules! render {
    ($path:expr, $size:expr, $draw:ident ( $($arg:expr),* )) => {{
        let path: &Path = $path;
        let text = font_available();
        let svg = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("svg"));
        let res: Res = if svg {
            let root = SVGBackend::new(path, $size).into_drawing_area();
            $draw(&root, text, $($arg),*).and_then(|_| root.present().map_err(de))
        } else {
            let root = BitMapBackend::new(path, $size).into_drawing_area();
            $draw(&root, text, $($arg),*).and_then(|_| root.present().map_err(de))
        };
        res.map_err(|reason| PlotError::Draw { path: path.to_path_buf(), reason })
    }};
}

fn style(size: u32) -> TextStyle<'static> {
    (FONT, size).into_font().color(&BLACK)
}

/// Stacked bars: `series[s].1[i]` is the height of series `s` at `labels[i]`.
pub fn bar_chart(
    path: &Path,
    title: &str,
    labels: &[String],
    series: &[(String, Vec<f64>)],
    y_label: &str,
) -> Result<(), PlotError> {
    if let Some((name, v)) = series.iter().find(|(_, v)| v.len() != labels.len()) {
        return Err(PlotError::Input {
            path: path.to_path_buf(),
            reason: format!(
                "series {name:?} has {} values for {} labels",
                v.len(),
                labels.len()
            ),
        });
    }
    let width = (labels.len() as u32 * 16 + 220).clamp(900, 4000);
    render!(
        path,
        (width, 720),
        draw_bars(title, labels, series, y_label)
    )
}

fn draw_bars<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    text: bool,
    title: &str,
    labels: &[String],
    series: &[(String, Vec<f64>)],
    y_label: &str,
) -> Res {
    root.fill(&WHITE).map_err(de)?;
    let n = labels.len().max(1) as f64;
    let totals: Vec<f64> = (0..labels.len())
        .map(|i| series.iter().map(|(_, v)| finite(v[i]).max(0.0)).sum())
        .collect();
    let top = totals.iter().cloned().fold(0.0, f64::max).max(1.0) * 1.05;
    let font = if labels.len() > 60 { 10 } else { 12 };
    let longest = labels.iter().map(|l| l.chars().count()).max().unwrap_or(1) as u32;
    let x_area = (longest * font * 6 / 10 + 12).min(240);
    let mut chart = builder(root, text, title, x_area, 70)
        .build_cartesian_2d(0f64..n, 0f64..top)
        .map_err(de)?;
    let mut mesh = chart.configure_mesh();
    mesh.disable_x_mesh().disable_x_axis();
    if text {
        mesh.label_style(style(13))
            .y_label_formatter(&tick)
            .y_desc(y_label)
            .axis_desc_style(style(15));
    }
    mesh.draw().map_err(de)?;
    let mut base = vec![0.0; labels.len()];
    for (s, (name, values)) in series.iter().enumerate() {
        let colour = COLOURS[s % COLOURS.len()];
        let bars: Vec<Rectangle<_>> = values
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                let (y0, y1) = (base[i], base[i] + finite(v).max(0.0));
                base[i] = y1;
                let x = i as f64;
                Rectangle::new([(x + 0.08, y0), (x + 0.92, y1)], colour.filled())
            })
            .collect();
        let drawn = chart.draw_series(bars).map_err(de)?;
        if text {
            drawn.label(name.as_str()).legend(move |(x, y)| {
                Rectangle::new([(x, y - 5), (x + 12, y + 5)], colour.filled())
            });
        }
    }
    let axis = [(0.0, 0.0), (n, 0.0)];
    chart
        .draw_series(LineSeries::new(axis, BLACK.stroke_width(1)))
        .map_err(de)?;
    if text {
        let longest_px = longest * font * 6 / 10;
        let slot_px = (root.dim_in_pixel().0.saturating_sub(120)) / labels.len().max(1) as u32;
        let st = if longest_px + 4 > slot_px {
            style(font)
                .transform(FontTransform::Rotate90)
                .pos(Pos::new(HPos::Left, VPos::Center))
        } else {
            style(font).pos(Pos::new(HPos::Center, VPos::Top))
        };
        for (i, label) in labels.iter().enumerate() {
            let (x, y) = chart.backend_coord(&(i as f64 + 0.5, 0.0));
            root.draw(&Text::new(label.as_str(), (x, y + 6), st.clone()))
                .map_err(de)?;
        }
    }
    legend(&mut chart, text && series.len() > 1)
}

fn builder<'a, 'b, DB: DrawingBackend>(
    root: &'a DrawingArea<DB, Shift>,
    text: bool,
    title: &str,
    x_area: u32,
    y_area: u32,
) -> ChartBuilder<'a, 'b, DB> {
    let mut b = ChartBuilder::on(root);
    b.margin(16);
    if text {
        b.caption(title, style(22))
            .x_label_area_size(x_area + 24)
            .y_label_area_size(y_area);
    }
    b
}

fn legend<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    show: bool,
) -> Res {
    if !show {
        return Ok(());
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.4))
        .label_font(style(14))
        .draw()
        .map_err(de)
}

/// Tick label: integers without decimals, others with at most 3, trailing zeros dropped.
fn tick(v: &f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        return format!("{:.0}", v.round());
    }
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn finite(v: f64) -> f64 {
    if v.is_finite() {
        v
    } else {
        0.0
    }
}

/// Padded `[min, max]` of the finite values; `0..1` when there are none.
fn span(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if lo > hi {
        return (0.0, 1.0);
    }
    let pad = ((hi - lo) * 0.04).max(hi.abs() * 0.01).max(1e-9);
    (lo - pad, hi + pad)
}

fn axes<DB: DrawingBackend>(
    chart: &mut ChartContext<
        '_,
        DB,
        Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
    >,
    text: bool,
    x_label: &str,
    y_label: &str,
) -> Res {
    let mut mesh = chart.configure_mesh();
    mesh.light_line_style(BLACK.mix(0.05));
    if text {
        mesh.x_desc(x_label)
            .y_desc(y_label)
            .x_label_formatter(&tick)
            .y_label_formatter(&tick)
            .axis_desc_style(style(15))
            .label_style(style(13));
    }
    mesh.draw().map_err(de)
}

mod xy;
pub use xy::{histogram, line_chart, scatter};

mod heatmap;
pub use heatmap::{heatmap, heatmap_with_axes};

#[cfg(test)]
mod tests;
