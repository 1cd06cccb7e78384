//! Stage `eval`: top-1/top-5, NLL, per-class table, confusion matrix and plots of a trained head
//! on one cached split.

use crate::cache::FeatureCache;
use crate::checkpoint::TrainedRun;
use crate::metrics::{self, csv_record, Metrics};
use crate::verdict::{Verdict, VERDICT_FILE};
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

/// Arguments of `pipeline eval`.
#[derive(Debug, Clone, clap::Args)]
pub struct EvalArgs {
    /// Run directory written by `pipeline train-head` or `pipeline run` (WORKDIR/runs/HEAD).
    #[arg(long, value_name = "DIR")]
    pub run: PathBuf,
    /// Feature cache written by `pipeline extract` [default: the one the run records; it must
    /// match the run's backbone, preprocessing and classes].
    #[arg(long, value_name = "DIR")]
    pub features: Option<PathBuf>,
    /// Split of the cache to evaluate: train, valid or test.
    #[arg(long, default_value = "test")]
    pub split: String,
    /// Output directory [default: RUN/eval-SPLIT].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Classes with fewer training photos are named in the verdict as short of photos.
    #[arg(long, value_name = "N", default_value_t = crate::verdict::MIN_TRAIN)]
    pub min_train: usize,
}

/// What `evaluate` computed and where it wrote it.
pub struct Evaluation {
    pub metrics: Metrics,
    pub verdict: Verdict,
    pub out: PathBuf,
}

/// Runs `pipeline eval`.
pub fn run(args: EvalArgs) -> Result<()> {
    let e = evaluate(&args)?;
    crate::output::print_stdout(&summary(&e))?;
    Ok(())
}

/// The caches of the run's further parts (a run on concatenated features), as it records them.
fn part_caches(run: &TrainedRun) -> Result<Vec<FeatureCache>> {
    run.parts
        .iter()
        .map(|p| {
            let c = FeatureCache::open(&p.cache_dir).with_context(|| {
                format!(
                    "the run {} was trained on concatenated features and records this cache among them; restore it",
                    run.dir.display()
                )
            })?;
            if c.key() != p.cache_key {
                bail!(
                    "cache {} changed since the run {} was trained on it (key {} vs {}); evaluate a run trained on the current caches",
                    p.cache_dir.display(),
                    run.dir.display(),
                    c.key(),
                    p.cache_key
                );
            }
            Ok(c)
        })
        .collect()
}

/// Refuses a cache and run that do not belong together, naming what differs. For a run on
/// concatenated features `cache` is the first cache and `width` the caches' summed width.
pub fn check_compatible(cache: &FeatureCache, run: &TrainedRun, width: usize) -> Result<()> {
    let fix = "evaluate with the cache the head was trained on, or extract one with the same model (`pipeline extract --model …`)";
    if cache.backbone_hash() != run.backbone_hash {
        bail!(
            "backbone differs: cache {} was extracted with model {}, run {} was trained on {}; {fix}",
            cache.dir.display(),
            short(cache.backbone_hash()),
            run.dir.display(),
            short(&run.backbone_hash)
        );
    }
    if cache.preprocess_json() != run.preprocess {
        bail!(
            "preprocessing differs: cache {} has {}, run {} has {}; {fix}",
            cache.dir.display(),
            cache.preprocess_json(),
            run.dir.display(),
            run.preprocess
        );
    }
    if width != run.feature_dim {
        bail!(
            "feature width mismatch: cache has {width}, head expects {}; {fix}",
            run.feature_dim
        );
    }
    if cache.classes() != run.classes.as_slice() {
        let first = cache
            .classes()
            .iter()
            .zip(&run.classes)
            .position(|(a, b)| a != b)
            .unwrap_or(cache.classes().len().min(run.classes.len()));
        bail!(
            "class list differs: cache has {} classes, run has {} (first difference at position {first}: {:?} vs {:?}); {fix}",
            cache.classes().len(),
            run.classes.len(),
            cache.classes().get(first),
            run.classes.get(first)
        );
    }
    Ok(())
}

fn short(h: &str) -> &str {
    &h[..h.len().min(12)]
}

/// Evaluates and writes every output (`verdict.json` among them).
pub fn evaluate(args: &EvalArgs) -> Result<Evaluation> {
    let (cache, run) = match &args.features {
        Some(f) => (FeatureCache::open(f)?, TrainedRun::load(&args.run)?),
        None => {
            let run = TrainedRun::load(&args.run)?;
            let f = run.recorded_features();
            let cache = FeatureCache::open(&f).with_context(|| {
                format!(
                    "the run {} records its cache as {}; pass --features with the cache it was trained on",
                    args.run.display(),
                    f.display()
                )
            })?;
            (cache, run)
        }
    };
    let mut caches = vec![cache];
    caches.extend(part_caches(&run)?);
    let width = caches.iter().map(FeatureCache::feature_dim).sum();
    check_compatible(&caches[0], &run, width)?;
    let cache = &caches[0];
    let names = run.input.view_names();
    let feats = crate::head::joined::load_views(&caches, &args.split, Some(&names))
        .with_context(|| format!("loading the {} views the head averages", names.len()))?;
    if feats.labels.is_empty() {
        bail!(
            "split `{}` of {} has no usable images to evaluate",
            args.split,
            cache.dir.display()
        );
    }
    let x = feats.mean();
    let lp = run.log_proba(x.view());
    let mut train_counts = vec![0usize; cache.classes().len()];
    if let Some(p) = cache.manifest.spec.split("train") {
        for img in &p.images {
            train_counts[img.label as usize] += 1;
        }
    }
    let m = metrics::compute(lp.view(), &feats.labels, cache.classes(), &train_counts);
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| args.run.join(format!("eval-{}", args.split)));
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    write_outputs(
        &out,
        &m,
        cache.classes(),
        &feats.paths,
        &feats.labels,
        lp.view(),
    )?;
    let split_tree = std::path::Path::new(&cache.manifest.stats.images_root);
    let (left_out, min_images) = crate::verdict::left_out_of(split_tree)
        .unwrap_or((Vec::new(), crate::commands::split::MIN_IMAGES));
    let mut verdict = Verdict::new(&m, &args.split, left_out, min_images, args.min_train);
    if let Some(n) = crate::novelty::load_for(&run)? {
        let scores = n.scores(x.view());
        verdict.unknown = Some(crate::verdict::UnknownRate {
            flagged: scores.iter().filter(|&&s| n.is_unknown(s)).count(),
            images: scores.len(),
            target_rate: n.calibration.target_rate,
        });
    }
    crate::atomic::write_json(&out.join(VERDICT_FILE), &verdict)?;
    Ok(Evaluation {
        metrics: m,
        verdict,
        out,
    })
}

fn write_file(path: &Path, text: &str) -> Result<()> {
    crate::atomic::write_file(path, text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}

fn write_outputs(
    out: &Path,
    m: &Metrics,
    classes: &[String],
    paths: &[String],
    labels: &[u32],
    lp: ndarray::ArrayView2<f32>,
) -> Result<()> {
    crate::atomic::write_json(&out.join("metrics.json"), m)?;
    let mut pc = csv_record(["class", "train_count", "count", "top1", "top5", "loss"]);
    for c in &m.per_class {
        pc += &csv_record([
            c.class.clone(),
            c.train_count.to_string(),
            c.count.to_string(),
            format!("{:.6}", c.top1),
            format!("{:.6}", c.top5),
            format!("{:.6}", c.loss),
        ]);
    }
    write_file(&out.join("per_class.csv"), &pc)?;
    let mut cm =
        csv_record(std::iter::once("truth\\predicted").chain(classes.iter().map(String::as_str)));
    for (c, row) in classes.iter().zip(&m.confusion) {
        cm += &csv_record(std::iter::once(c.clone()).chain(row.iter().map(|v| v.to_string())));
    }
    write_file(&out.join("confusion.csv"), &cm)?;
    let mut pr = csv_record(["path", "truth", "predicted", "probability"]);
    for ((p, &y), row) in paths.iter().zip(labels).zip(lp.rows()) {
        let (best, lpv) =
            row.iter().enumerate().fold(
                (0, f32::NEG_INFINITY),
                |a, (i, &v)| if v > a.1 { (i, v) } else { a },
            );
        pr += &csv_record([
            p.as_str(),
            &classes[y as usize],
            &classes[best],
            &format!("{:.6}", lpv.exp()),
        ]);
    }
    write_file(&out.join("predictions.csv"), &pr)?;
    let norm: Vec<Vec<f64>> = m
        .confusion
        .iter()
        .map(|row| {
            let s = row.iter().sum::<usize>().max(1) as f64;
            row.iter().map(|&v| v as f64 / s).collect()
        })
        .collect();
    crate::plot::heatmap(
        &out.join("confusion.png"),
        "Confusion (row-normalised)",
        &norm,
        classes,
    )?;
    let pts: Vec<(f64, f64)> = m
        .per_class
        .iter()
        .map(|c| (c.train_count as f64, c.top1 * 100.0))
        .collect();
    crate::plot::scatter(
        &out.join("accuracy_vs_train_images.png"),
        "Top-1 per class vs training images",
        &pts,
        "training images",
        "top-1 %",
    )?;
    Ok(())
}

/// The technical line: accuracy, top-5 where it means something, NLL, mean per-class accuracy.
pub fn metrics_line(m: &Metrics) -> String {
    let top5 = if m.top5_meaningful() {
        format!(", top-{} {:.2} %", m.k5, m.top5 * 100.0)
    } else {
        String::new()
    };
    format!(
        "top-1 {:.2} %{top5}, NLL {:.4}, mean per-class top-1 {:.2} % on {} images",
        m.top1 * 100.0,
        m.nll,
        m.mean_class_top1 * 100.0,
        m.images
    )
}

/// The human summary printed on stdout: the verdict's sentences, then the details.
pub fn summary(e: &Evaluation) -> String {
    let (m, split, out) = (&e.metrics, &e.verdict.split, &e.out);
    let mut s: String = e
        .verdict
        .sentences()
        .iter()
        .map(|l| l.clone() + "\n")
        .collect();
    s += &format!("\n{split}: {}\n", metrics_line(m));
    s += "worst classes:\n";
    let show5 = m.top5_meaningful();
    for c in m.per_class.iter().take(5) {
        let top5 = if show5 {
            format!("  top-5 {:>6.1} %", c.top5 * 100.0)
        } else {
            String::new()
        };
        s += &format!(
            "  {:<24} top-1 {:>6.1} %{top5}  loss {:.3}  ({} test, {} train)\n",
            c.class,
            c.top1 * 100.0,
            c.loss,
            c.count,
            c.train_count
        );
    }
    if !m.most_confused.is_empty() {
        s += "most confused (truth → predicted):\n";
        for c in m.most_confused.iter().take(5) {
            s += &format!("  {} → {}: {}\n", c.truth, c.predicted, c.count);
        }
    }
    s += &format!("wrote verdict.json, metrics.json, per_class.csv, confusion.csv/.png, predictions.csv, accuracy_vs_train_images.png to {}\n", out.display());
    s
}
