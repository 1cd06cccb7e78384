//! Hand-written inline SVG charts for the report: horizontal stacked bars, line charts, scatter
//! plots, histograms and a heatmap. Every mark carries a `<title>` so a hover shows its numbers;
//! text is plain `<text>` in the page's font, so nothing is fetched.

use super::html::esc;
use std::fmt::Write as _;

/// Colours of series, in order (matplotlib's tab10).
pub const COLOURS: [&str; 8] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
];

/// About `n` round tick values covering `[lo, hi]`.
pub fn ticks(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    let span = (hi - lo).abs().max(1e-12);
    let raw = span / n.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let mut t = (lo / step).ceil() * step;
    let mut out = Vec::new();
    while t <= hi + step * 1e-9 && out.len() < 50 {
        out.push(if t.abs() < step * 1e-9 { 0.0 } else { t });
        t += step;
    }
    out
}

fn num(v: f64) -> String {
    if v.abs() >= 1000.0 || v.fract() == 0.0 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// A linear map from data `[d0,d1]` to pixels `[p0,p1]`.
#[derive(Clone, Copy)]
struct Scale(f64, f64, f64, f64);

impl Scale {
    fn at(self, v: f64) -> f64 {
        let Scale(d0, d1, p0, p1) = self;
        if (d1 - d0).abs() < 1e-12 {
            return (p0 + p1) / 2.0;
        }
        p0 + (v - d0) / (d1 - d0) * (p1 - p0)
    }
}

fn open(w: f64, h: f64, label: &str) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w:.0} {h:.0}\" width=\"{w:.0}\" height=\"{h:.0}\" role=\"img\" aria-label=\"{}\" font-size=\"12\">",
        esc(label)
    )
}

/// Horizontal stacked bars, one row per label: `series[s].1[i]` is segment `s` of row `i`.
pub fn stacked_hbars(labels: &[String], series: &[(String, Vec<f64>)]) -> String {
    let row = 16.0;
    let left = 10.0
        + 7.0
            * labels
                .iter()
                .map(|l| l.chars().count())
                .max()
                .unwrap_or(4)
                .min(28) as f64;
    let (w, top) = (760.0, 34.0);
    let h = top + row * labels.len() as f64 + 30.0;
    let totals: Vec<f64> = (0..labels.len())
        .map(|i| {
            series
                .iter()
                .map(|(_, v)| v.get(i).copied().unwrap_or(0.0))
                .sum()
        })
        .collect();
    let max = totals.iter().copied().fold(1.0, f64::max);
    let x = Scale(0.0, max, left, w - 20.0);
    let mut s = open(w, h, "images per class and split");
    legend(&mut s, series.iter().map(|(n, _)| n.as_str()), left, 14.0);
    for t in ticks(0.0, max, 6) {
        let px = x.at(t);
        let _ = write!(s, "<line x1=\"{px:.1}\" x2=\"{px:.1}\" y1=\"{top}\" y2=\"{:.1}\" stroke=\"#ddd\"/><text x=\"{px:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#555\">{}</text>", h - 26.0, h - 12.0, num(t));
    }
    for (i, l) in labels.iter().enumerate() {
        let y = top + row * i as f64;
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            left - 6.0,
            y + 12.0,
            esc(&short(l, 28))
        );
        let mut x0 = 0.0;
        for (k, (name, v)) in series.iter().enumerate() {
            let c = v.get(i).copied().unwrap_or(0.0);
            if c > 0.0 {
                let _ = write!(s, "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{}\"><title>{}: {name} {c}</title></rect>", x.at(x0), y + 2.0, x.at(x0 + c) - x.at(x0), row - 4.0, COLOURS[k % 8], esc(l));
            }
            x0 += c;
        }
    }
    s + "</svg>"
}

fn short(l: &str, n: usize) -> String {
    if l.chars().count() <= n {
        l.to_string()
    } else {
        l.chars().take(n - 1).collect::<String>() + "…"
    }
}

fn legend<'a>(s: &mut String, names: impl Iterator<Item = &'a str>, x0: f64, y: f64) {
    let mut x = x0;
    for (k, n) in names.enumerate() {
        let _ = write!(s, "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"12\" height=\"12\" fill=\"{}\"/><text x=\"{:.1}\" y=\"{:.1}\">{}</text>", y - 10.0, COLOURS[k % 8], x + 16.0, y, esc(n));
        x += 30.0 + 7.0 * n.chars().count() as f64;
    }
}

/// Axes frame with ticks; returns the x and y scales.
fn frame(
    s: &mut String,
    (w, h): (f64, f64),
    xr: (f64, f64),
    yr: (f64, f64),
    xl: &str,
    yl: &str,
) -> (Scale, Scale) {
    let (l, r, t, b) = (60.0, 20.0, 30.0, 46.0);
    let x = Scale(xr.0, xr.1, l, w - r);
    let y = Scale(yr.0, yr.1, h - b, t);
    for v in ticks(xr.0, xr.1, 8) {
        let px = x.at(v);
        let _ = write!(s, "<line x1=\"{px:.1}\" x2=\"{px:.1}\" y1=\"{t}\" y2=\"{:.1}\" stroke=\"#e4e4e4\"/><text x=\"{px:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#555\">{}</text>", h - b, h - b + 16.0, num(v));
    }
    for v in ticks(yr.0, yr.1, 6) {
        let py = y.at(v);
        let _ = write!(s, "<line x1=\"{l}\" x2=\"{:.1}\" y1=\"{py:.1}\" y2=\"{py:.1}\" stroke=\"#e4e4e4\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#555\">{}</text>", w - r, l - 6.0, py + 4.0, num(v));
    }
    let _ = write!(s, "<rect x=\"{l}\" y=\"{t}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"none\" stroke=\"#999\"/>", w - l - r, h - t - b);
    let _ = write!(
        s,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
        (l + w - r) / 2.0,
        h - 8.0,
        esc(xl)
    );
    let _ = write!(
        s,
        "<text transform=\"translate(14 {:.1}) rotate(-90)\" text-anchor=\"middle\">{}</text>",
        (t + h - b) / 2.0,
        esc(yl)
    );
    (x, y)
}

fn range(vals: impl Iterator<Item = f64>, from_zero: bool) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in vals.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    if from_zero {
        lo = lo.min(0.0);
    }
    if hi - lo < 1e-9 {
        hi = lo + 1.0;
    }
    (lo, hi + (hi - lo) * 0.04)
}

/// Lines of `(x, y)` points, one per named series; `mark_x` draws a dashed vertical line.
pub fn lines(
    series: &[(String, Vec<(f64, f64)>)],
    xl: &str,
    yl: &str,
    mark_x: Option<f64>,
) -> String {
    let (w, h) = (560.0, 340.0);
    let xr = range(
        series.iter().flat_map(|(_, p)| p.iter().map(|q| q.0)),
        false,
    );
    let yr = range(series.iter().flat_map(|(_, p)| p.iter().map(|q| q.1)), true);
    let mut s = open(w, h, yl);
    let (x, y) = frame(&mut s, (w, h), xr, yr, xl, yl);
    if let Some(m) = mark_x {
        let _ = write!(s, "<line x1=\"{0:.1}\" x2=\"{0:.1}\" y1=\"30\" y2=\"{1:.1}\" stroke=\"#444\" stroke-dasharray=\"4 3\"><title>best {xl} {m}</title></line>", x.at(m), h - 46.0);
    }
    for (k, (name, pts)) in series.iter().enumerate() {
        let d: Vec<String> = pts
            .iter()
            .map(|&(a, b)| format!("{:.1},{:.1}", x.at(a), y.at(b)))
            .collect();
        let c = COLOURS[k % 8];
        let _ = write!(
            s,
            "<polyline points=\"{}\" fill=\"none\" stroke=\"{c}\" stroke-width=\"2\"/>",
            d.join(" ")
        );
        for &(a, b) in pts {
            let _ = write!(s, "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"2.5\" fill=\"{c}\"><title>{name}: {} at {}</title></circle>", x.at(a), y.at(b), num4(b), num(a));
        }
    }
    legend(&mut s, series.iter().map(|(n, _)| n.as_str()), 70.0, 20.0);
    s + "</svg>"
}

fn num4(v: f64) -> String {
    format!("{v:.4}")
}

/// One dot per point; `titles[i]` is the hover text of point `i`.
pub fn scatter(points: &[(f64, f64)], titles: &[String], xl: &str, yl: &str) -> String {
    let (w, h) = (560.0, 360.0);
    let xr = range(points.iter().map(|p| p.0), true);
    let yr = range(points.iter().map(|p| p.1), true);
    let mut s = open(w, h, yl);
    let (x, y) = frame(&mut s, (w, h), xr, yr, xl, yl);
    let alpha = (150.0 / points.len().max(1) as f64).clamp(0.15, 0.7);
    for (i, &(a, b)) in points.iter().enumerate() {
        let t = titles.get(i).map(|t| esc(t)).unwrap_or_default();
        let _ = write!(s, "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{}\" fill-opacity=\"{alpha:.2}\"><title>{t}</title></circle>", x.at(a), y.at(b), COLOURS[0]);
    }
    s + "</svg>"
}

/// Histogram of `values` in `bins` equal bins over their range.
pub fn histogram(values: &[f64], bins: usize, xl: &str) -> String {
    let (w, h) = (560.0, 300.0);
    let (lo, hi) = range(values.iter().copied(), false);
    let bins = bins.max(1);
    let width = (hi - lo) / bins as f64;
    let mut counts = vec![0usize; bins];
    for v in values.iter().filter(|v| v.is_finite()) {
        counts[(((v - lo) / width) as usize).min(bins - 1)] += 1;
    }
    let max = counts.iter().copied().max().unwrap_or(1).max(1) as f64;
    let mut s = open(w, h, xl);
    let (x, y) = frame(&mut s, (w, h), (lo, hi), (0.0, max * 1.05), xl, "images");
    for (i, &c) in counts.iter().enumerate().filter(|(_, &c)| c > 0) {
        let a = lo + width * i as f64;
        let _ = write!(s, "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{}\"><title>{}–{}: {c}</title></rect>", x.at(a) + 0.5, y.at(c as f64), (x.at(a + width) - x.at(a) - 1.0).max(0.5), y.at(0.0) - y.at(c as f64), COLOURS[0], num(a), num(a + width));
    }
    s + "</svg>"
}

/// A square heatmap of `m[row][col]` in `[0,1]` (white → dark blue), rows and columns named by
/// `labels`; every non-zero cell has a hover title with `counts[row][col]`.
pub fn heatmap(m: &[Vec<f64>], counts: &[Vec<usize>], labels: &[String]) -> String {
    let n = labels.len().max(1);
    let cell = (720.0 / n as f64).clamp(6.0, 28.0);
    let font = (cell * 0.8).clamp(5.0, 12.0);
    let lab = 10.0
        + 0.6
            * font
            * labels
                .iter()
                .map(|l| l.chars().count())
                .max()
                .unwrap_or(4)
                .min(24) as f64;
    let side = cell * n as f64;
    let (w, h) = (lab + side + 20.0, lab + side + 30.0);
    let mut s = open(w, h, "confusion matrix");
    let _ = write!(s, "<rect x=\"{lab:.1}\" y=\"20\" width=\"{side:.1}\" height=\"{side:.1}\" fill=\"#fff\" stroke=\"#999\"/>");
    for (i, row) in m.iter().enumerate() {
        for (j, &v) in row.iter().enumerate().filter(|(_, &v)| v > 0.0) {
            let c = counts.get(i).and_then(|r| r.get(j)).copied().unwrap_or(0);
            let _ = write!(s, "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{cell:.1}\" height=\"{cell:.1}\" fill=\"{}\"><title>{} → {}: {c} ({:.0} %)</title></rect>", lab + cell * j as f64, 20.0 + cell * i as f64, blue(v), esc(&labels[i]), esc(&labels[j]), v * 100.0);
        }
    }
    for (i, l) in labels.iter().enumerate() {
        let c = cell * (i as f64 + 0.5);
        let t = esc(&short(l, 24));
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" font-size=\"{font:.1}\">{t}</text>",
            lab - 4.0,
            20.0 + c + font * 0.35
        );
        let _ = write!(s, "<text transform=\"translate({:.1} {:.1}) rotate(-90)\" text-anchor=\"end\" font-size=\"{font:.1}\">{t}</text>", lab + c + font * 0.35, 24.0 + side);
    }
    let _ = write!(s, "<text x=\"{lab:.1}\" y=\"14\">predicted →</text>");
    s + "</svg>"
}

fn blue(v: f64) -> String {
    let v = v.clamp(0.0, 1.0);
    let mix = |a: f64, b: f64| (a + (b - a) * v.sqrt()).round() as u8;
    format!(
        "#{:02x}{:02x}{:02x}",
        mix(235.0, 8.0),
        mix(242.0, 48.0),
        mix(250.0, 107.0)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        assert_eq!(ticks(0.0, 10.0, 5), vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        let t = ticks(0.0, 0.93, 6);
        assert!(t.first() == Some(&0.0) && *t.last().unwrap() <= 0.93 + 1e-9);
    }

    #[test]
    fn charts_are_well_formed_svg() {
        let l = vec!["a<b".to_string(), "c".to_string()];
        let bars = stacked_hbars(&l, &[("train".into(), vec![3.0, 1.0])]);
        assert!(bars.starts_with("<svg") && bars.ends_with("</svg>") && bars.contains("a&lt;b"));
        let hm = heatmap(
            &[vec![1.0, 0.0], vec![0.5, 0.5]],
            &[vec![2, 0], vec![1, 1]],
            &l,
        );
        assert_eq!(hm.matches("<rect").count(), 1 + 3);
        assert!(histogram(&[], 10, "x").ends_with("</svg>"));
        assert!(lines(&[], "x", "y", None).ends_with("</svg>"));
    }
}
