//! Stage `report`: one self-contained HTML page of a `pipeline run` work directory — data,
//! model, extraction, training, evaluation, worst test images, most-confused pairs and the audit.
//! Charts are inline SVG, thumbnails `data:` URIs; the page fetches nothing.

mod backbones;
mod data;
mod evaluation;
mod extraction;
mod findings;
mod html;
mod svg;
mod training;

use crate::audit::{AuditConfig, AuditReport};
use crate::cache::FeatureCache;
use crate::checkpoint::TrainedRun;
use anyhow::{Context, Result};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Arguments of `pipeline report`.
#[derive(Debug, Clone, clap::Args)]
pub struct ReportArgs {
    /// Work directory of `pipeline run` (inspect/, data/, features/, runs/…).
    pub workdir: PathBuf,
    /// Output file [default: WORKDIR/report.html].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Run directory to report on [default: WORKDIR/runs/mlp, else the first run under runs/].
    #[arg(long)]
    pub run: Option<PathBuf>,
}

/// Runs `pipeline report`.
pub fn run(args: ReportArgs) -> Result<()> {
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| args.workdir.join("report.html"));
    let bytes = write_report(&args.workdir, args.run.as_deref(), &out)?;
    crate::output::print_stdout(&format!(
        "wrote {} ({:.1} kB)\n",
        out.display(),
        bytes as f64 / 1e3
    ))
}

/// Everything the report reads from a work directory; each part is optional.
pub struct Workdir {
    pub dir: PathBuf,
    /// `inspect/report.json` (the raw tree).
    pub raw: Option<Value>,
    /// `inspect/split/report.json` (the split tree).
    pub by_split: Option<Value>,
    /// `data/split.json`.
    pub split: Option<Value>,
    /// `RUN/params.json` (else `params.json`), when it counts the head the run trained.
    pub params: Option<Value>,
    /// `RUN/eval-test/verdict.json`.
    pub verdict: Option<crate::verdict::Verdict>,
    pub cache: Option<FeatureCache>,
    pub run_dir: Option<PathBuf>,
    pub trained: Option<TrainedRun>,
    /// `RUN/history.json`.
    pub history: Option<Value>,
    /// `RUN/metrics.json`.
    pub run_metrics: Option<Value>,
    /// `RUN/eval-test/metrics.json`.
    pub eval: Option<Value>,
    pub audit: Option<AuditReport>,
}

pub(crate) use backbones::compare_command;

fn read(path: &Path) -> Option<Value> {
    serde_json::from_str(
        &crate::file_check::read_to_string(path, crate::file_check::MAX_JSON).ok()?,
    )
    .ok()
}

fn find_run(w: &Path) -> Option<PathBuf> {
    let mlp = w.join("runs/mlp");
    if mlp.join("config.json").exists() {
        return Some(mlp);
    }
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(w.join("runs"))
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("config.json").exists())
        .collect();
    dirs.sort();
    dirs.into_iter().next()
}

/// The parameter count of the run's own head: `RUN/params.json`, else the work directory's when
/// it counts the same head kind and size (older runs wrote only that one).
fn params_of(dir: &Path, run_dir: Option<&Path>, trained: Option<&TrainedRun>) -> Option<Value> {
    let trained = trained?;
    let same = |p: &Value| {
        p["head"].as_str() == Some(trained.head.kind().name())
            && p["rows"].as_array().is_some_and(|rows| {
                rows.iter()
                    .filter(|r| r["part"] == "head")
                    .map(|r| r["count"].as_u64().unwrap_or(0))
                    .sum::<u64>()
                    == trained.head.num_params() as u64
            })
    };
    run_dir
        .and_then(|r| read(&r.join("params.json")))
        .or_else(|| read(&dir.join("params.json")))
        .filter(same)
}

impl Workdir {
    /// Reads what is there; the audit comes from `audit.json`, or is computed from the cache.
    pub fn load(dir: &Path, run: Option<&Path>) -> Result<Workdir> {
        if !dir.is_dir() {
            anyhow::bail!(
                "work directory {} does not exist; run `pipeline run --workdir {}` first",
                dir.display(),
                dir.display()
            );
        }
        let cache = FeatureCache::open(&dir.join("features")).ok();
        let run_dir = run.map(Path::to_path_buf).or_else(|| find_run(dir));
        let trained = run_dir.as_deref().and_then(|r| TrainedRun::load(r).ok());
        // an audit.json of an older schema is recomputed from the cache when there is one, and
        // shown as it is when not; one of an unreadable format is recomputed
        let saved: Option<AuditReport> =
            read(&dir.join("audit.json")).and_then(|v| serde_json::from_value(v).ok());
        let audit = saved
            .clone()
            .filter(|a| a.schema_version >= crate::audit::AUDIT_SCHEMA)
            .or_else(|| {
                cache.as_ref().and_then(|c| {
                    crate::audit::audit(c, &AuditConfig::default(), Some(&dir.join("data"))).ok()
                })
            })
            .or(saved);
        Ok(Workdir {
            raw: read(&dir.join("inspect/report.json")),
            by_split: read(&dir.join("inspect/split/report.json")),
            split: read(&dir.join("data/split.json")),
            params: params_of(dir, run_dir.as_deref(), trained.as_ref()),
            verdict: run_dir.as_ref().and_then(|r| {
                read(&r.join("eval-test").join(crate::verdict::VERDICT_FILE))
                    .and_then(|v| serde_json::from_value(v).ok())
            }),
            history: run_dir.as_ref().and_then(|r| read(&r.join("history.json"))),
            run_metrics: run_dir.as_ref().and_then(|r| read(&r.join("metrics.json"))),
            eval: run_dir
                .as_ref()
                .and_then(|r| read(&r.join("eval-test/metrics.json"))),
            cache,
            run_dir,
            trained,
            audit,
            dir: dir.to_path_buf(),
        })
    }

    /// Path of an image named `split/class/file` in the split tree.
    pub fn image(&self, rel: &str) -> PathBuf {
        self.dir.join("data").join(rel)
    }
}

/// Builds the page and writes it to `out` (temporary sibling, then renamed); returns its size.
pub fn write_report(workdir: &Path, run: Option<&Path>, out: &Path) -> Result<usize> {
    let w = Workdir::load(workdir, run)?;
    let page = render(&w);
    if let Some(d) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
    }
    crate::atomic::write_file(out, page.as_bytes())
        .with_context(|| format!("writing {}", out.display()))?;
    Ok(page.len())
}

/// The whole page.
pub fn render(w: &Workdir) -> String {
    let preds = evaluation::Predictions::compute(w);
    let mut sections = vec![
        ("verdict", "Verdict", verdict(w)),
        ("data", "Data", data::data(w)),
        ("model", "Model", data::model(w)),
        ("extraction", "Extraction", extraction::extraction(w)),
        ("training", "Training", training::training(w)),
        ("evaluation", "Evaluation", evaluation::evaluation(w)),
        (
            "misclassified",
            "Misclassified",
            findings::misclassified(w, preds.as_ref()),
        ),
        (
            "confused",
            "Most-confused pairs",
            findings::confused(w, preds.as_ref()),
        ),
        ("audit", "Audit", findings::audit(w)),
    ];
    if let Some(b) = backbones::backbones(w) {
        sections.insert(3, ("backbones", "Backbones", b));
    }
    let sub = format!(
        "{} · pipeline {}",
        w.dir.display(),
        env!("CARGO_PKG_VERSION")
    );
    html::page("pipeline report", &sub, &sections)
}

/// Where the words of the report are explained.
const GLOSSARY_URL: &str = "docs/glossary.md";

/// The first screen: the verdict's sentences, or how to get them.
fn verdict(w: &Workdir) -> String {
    let Some(v) = &w.verdict else {
        return missing(
            "verdict (RUN/eval-test/verdict.json)",
            "run `pipeline eval --run RUN`, which writes it",
        );
    };
    let mut o = String::from("<div class=\"verdict\">");
    for line in v.sentences() {
        o += &format!("<p>{}</p>", html::esc(&line));
    }
    o + &format!(
        "</div><p class=\"note\">The words used below (top-1, NLL, κ, views, …) are explained in {} of the pipeline repository.</p>",
        html::esc(GLOSSARY_URL)
    )
}

/// A note for a missing input.
fn missing(what: &str, fix: &str) -> String {
    format!(
        "<p class=\"note\">No {} found; {}.</p>",
        html::esc(what),
        html::esc(fix)
    )
}
