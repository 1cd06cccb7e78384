//! Stage `inspect`: counts per class and split, image-size distributions, unreadable files and
//! duplicates of a raw (`DIR/<class>/*`) or split (`DIR/{train,valid,test}/<class>/*`) tree.
//!
//! Reads every file once (BLAKE3 for duplicates) and decodes headers only, unless
//! `--full-decode`; all cores via rayon. Output: a table on stdout, `--json` (the whole
//! [`Report`], one record per file), `--plots DIR` (PNG charts, SVG too with `--svg`).

pub mod report;
mod summary;
mod table;

pub use report::{ImageRecord, Quartiles, SizeStats};
pub use summary::{Counts, Report, SizeSummary};
pub use table::render_table;

use crate::output::print_stdout;
use anyhow::Context;
use std::path::{Path, PathBuf};

/// Arguments of the `inspect` stage.
#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// Dataset root: DIR/<class>/* (raw) or DIR/{train,valid,test}/<class>/* (split).
    pub dir: PathBuf,
    /// Write the full report (every file, every statistic) as JSON to this file [default: not
    /// written].
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write charts into this folder: images per class, image sizes, aspect ratios [default: not
    /// written].
    #[arg(long, value_name = "DIR")]
    pub plots: Option<PathBuf>,
    /// Also write the charts as SVG.
    #[arg(long)]
    pub svg: bool,
    /// Flag classes with fewer images than this in train (in total for a raw tree).
    #[arg(long, default_value_t = 10)]
    pub min_train: usize,
    /// Decode every image completely (slower; also finds corruption inside the pixel data).
    #[arg(long)]
    pub full_decode: bool,
    /// Print at most this many problem lines per kind (the JSON has all).
    #[arg(long, default_value_t = 20)]
    pub max_problems: usize,
}

/// Runs the `inspect` stage.
pub fn run(args: InspectArgs) -> anyhow::Result<()> {
    let t0 = std::time::Instant::now();
    let report = inspect(&args.dir, args.min_train, args.full_decode)?;
    let secs = t0.elapsed().as_secs_f64();
    let mut out = render_table(&report, args.max_problems);
    out += &format!(
        "\n{} files in {:.2} s ({:.0} files/s)\n",
        report.files,
        secs,
        report.files as f64 / secs.max(1e-9)
    );
    if let Some(path) = &args.json {
        crate::atomic::write_json(path, &report)?;
        out += &format!("report: {}\n", path.display());
    }
    if let Some(dir) = &args.plots {
        for p in write_plots(&report, dir, args.svg)? {
            out += &format!("chart: {}\n", p.display());
        }
    }
    print_stdout(&out)
}

/// Scans, probes and summarises the tree at `dir`.
pub fn inspect(dir: &Path, min_train: usize, full_decode: bool) -> anyhow::Result<Report> {
    let scanned = report::scan(dir).with_context(|| format!("cannot scan {}", dir.display()))?;
    let records = report::probe_all(&scanned, full_decode);
    Ok(summary::summarize(
        &scanned,
        records,
        min_train,
        full_decode,
    ))
}

/// Writes `images_per_class`, `image_sizes` and `aspect_ratio` charts (PNG, and SVG when `svg`)
/// into `dir`; returns the files written.
pub fn write_plots(report: &Report, dir: &Path, svg: bool) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let exts: &[&str] = if svg { &["png", "svg"] } else { &["png"] };
    let by_name: std::collections::HashMap<&str, &report::ClassReport> = report
        .classes
        .iter()
        .map(|c| (c.name.as_str(), c))
        .collect();
    let labels: Vec<String> = report.counts.order.clone();
    let series: Vec<(String, Vec<f64>)> = report
        .splits
        .iter()
        .map(|sp| {
            let v = labels.iter().map(|c| by_name[c.as_str()].images[sp] as f64);
            (sp.clone(), v.collect())
        })
        .collect();
    let infos: Vec<&crate::image_io::ImageInfo> = report
        .records
        .iter()
        .filter_map(|r| r.info.as_ref())
        .collect();
    let points: Vec<(f64, f64)> = infos
        .iter()
        .map(|i| (i.width as f64, i.height as f64))
        .collect();
    let aspects: Vec<f64> = infos
        .iter()
        .map(|i| i.width as f64 / i.height.max(1) as f64)
        .collect();
    let n = infos.len();
    let mut written = Vec::new();
    for ext in exts {
        let p = dir.join(format!("images_per_class.{ext}"));
        let title = format!("Images per class ({} classes, {} images)", labels.len(), n);
        crate::plot::bar_chart(&p, &title, &labels, &series, "images")?;
        written.push(p);
        let p = dir.join(format!("image_sizes.{ext}"));
        let title = format!("Image sizes after EXIF rotation ({n} images)");
        crate::plot::scatter(&p, &title, &points, "width (px)", "height (px)")?;
        written.push(p);
        let p = dir.join(format!("aspect_ratio.{ext}"));
        let bins = (n as f64).sqrt().clamp(5.0, 60.0) as usize;
        crate::plot::histogram(
            &p,
            "Aspect ratio (width / height)",
            &aspects,
            bins,
            "width / height",
        )?;
        written.push(p);
    }
    Ok(written)
}
