//! Stage `cv`: repeated random stratified re-splits of all cached images (50/25/25 by default,
//! seeded), the whole selection procedure of `train-head` inside each (valid only), and the
//! mean ± SD of test top-1, top-5, NLL and mean per-class accuracy. On small data one split's
//! test set is a coin toss (64 test images: ± 5 points); this is how results should be reported.

mod compare;
mod join;
mod pool;
mod resplit;

use crate::cache::FeatureCache;
use crate::features::views::ViewSet;
use crate::head::adam::AdamConfig;
use crate::head::fit::{balanced_weights, ClassWeights, FitConfig};
use crate::head::logistic::LogisticConfig;
use crate::head::preset::{self, Preset};
use crate::head::select::{self, HeadChoice, SelectOptions, DEFAULT_C_GRID};
use crate::metrics;
use anyhow::{bail, Context, Result};
use rayon::prelude::*;
use serde::Serialize;
use std::path::PathBuf;

/// Arguments of `pipeline cv`.
#[derive(Debug, Clone, clap::Args)]
pub struct CvArgs {
    /// Feature cache written by `pipeline extract` (its deterministic views are used): a
    /// directory, or one backbone's cache in it (`DIR/manifests/<backbone>.json`). Repeat it to
    /// compare caches of the same images made with different backbones: each, and their
    /// concatenated features, over the same re-splits, in one table.
    #[arg(long, value_name = "CACHE", required = true)]
    pub features: Vec<PathBuf>,
    /// Number of random re-splits.
    #[arg(long, default_value_t = 20)]
    pub repeats: u32,
    /// Head and selection run inside each re-split.
    #[arg(long, value_enum, default_value_t = HeadChoice::Auto)]
    pub head: HeadChoice,
    /// MLP seed-ensemble size (a candidate of --head auto; the members of --head mlp)
    /// [default: mlp 1; auto 5 when train rows × features ≤ 64 Mi, else 1].
    #[arg(long, value_name = "N")]
    pub ensemble: Option<usize>,
    /// The MLP's hyper-parameters.
    #[arg(long, value_enum, default_value_t = Preset::Default)]
    pub preset: Preset,
    /// Use only these cached views [default: every view all splits share].
    #[arg(long, value_enum)]
    pub views: Option<ViewSet>,
    /// Choose C, the head and the MLP's epochs by K-fold over train+valid (every train+valid
    /// image scored once; the winner is then fitted on all of them) instead of on the valid split
    /// alone; 0 = the valid split [default: 5 when the chosen head is refitted, the valid split
    /// has fewer than 10 images a class on average and there are no augmented passes, else 0].
    #[arg(long, value_name = "K")]
    pub select_folds: Option<usize>,
    /// Refit the chosen head on train+valid [default: true for logistic and auto, false for mlp].
    #[arg(long, value_name = "BOOL")]
    pub refit: Option<bool>,
    /// Train/valid/test shares of each class, comma-separated (relative: 50,25,25 = 2,1,1).
    #[arg(long, value_delimiter = ',', default_value = "50,25,25")]
    pub fractions: Vec<f64>,
    /// Logistic head: the C values tried on valid, comma-separated [default: 0.1 … 1000, 9 values
    /// in half-decades].
    #[arg(long, value_delimiter = ',', value_name = "C,C,…")]
    pub c_grid: Option<Vec<f64>>,
    /// Seed of the re-splits and of the MLP.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Repeats run at once [default: the cores, fewer if their memory would pass 4 GB].
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Write the summary and per-repeat rows as JSON here [default: not written].
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
}

/// One re-split's result.
#[derive(Debug, Clone, Serialize)]
pub struct RepeatRow {
    pub repeat: u32,
    pub train_images: usize,
    pub valid_images: usize,
    pub test_images: usize,
    pub chosen: String,
    pub valid_top1: f64,
    pub top1: f64,
    pub top5: f64,
    pub nll: f64,
    pub mean_class_top1: f64,
    /// Folds the selection pooled over train+valid (0: it chose on the valid split).
    pub select_folds: usize,
    pub seconds: f64,
}

fn options(
    args: &CvArgs,
    n_train: usize,
    sets: u32,
    labels: &[u32],
    k: usize,
    d: usize,
) -> SelectOptions {
    let h = preset::resolve(args.preset, n_train, sets);
    let mlp = FitConfig {
        hidden: h.hidden,
        dropout: h.dropout,
        feature_dropout: h.feature_dropout,
        batch: h.batch,
        max_epochs: h.epochs,
        patience: h.patience,
        pass_mode: h.pass_mode,
        adam: AdamConfig {
            lr: h.lr,
            weight_decay: h.weight_decay,
            ..AdamConfig::default()
        },
        seed: args.seed,
    };
    let class_weights = (h.class_weights == ClassWeights::Balanced && args.head == HeadChoice::Mlp)
        .then(|| {
            balanced_weights(labels, k)
                .into_iter()
                .map(|w| w as f32)
                .collect()
        });
    SelectOptions {
        c_grid: args
            .c_grid
            .clone()
            .unwrap_or_else(|| DEFAULT_C_GRID.to_vec()),
        logistic: LogisticConfig {
            alpha: 1.0,
            max_iterations: crate::head::logistic::DEFAULT_MAX_ITER,
            gradient_tolerance: crate::head::logistic::DEFAULT_TOLERANCE,
        },
        mlp,
        class_weights,
        refit: args.refit.unwrap_or(args.head != HeadChoice::Mlp),
        ensemble: select::ensemble_size(args.ensemble, args.head, n_train * sets as usize, d),
        folds: args.select_folds,
    }
}

fn validate(args: &CvArgs) -> Result<[f64; 3]> {
    select::kfold::check_flag(args.select_folds, args.refit)?;
    if args.repeats == 0 || args.repeats > 10_000 {
        bail!(
            "--repeats must be between 1 and 10000, got {}",
            args.repeats
        );
    }
    let f: [f64; 3] = match args.fractions.as_slice() {
        [a, b, c] if [a, b, c].iter().all(|v| v.is_finite() && **v >= 0.0) && *a > 0.0 && *b > 0.0 && *c > 0.0 => [*a, *b, *c],
        other => bail!("--fractions takes three positive numbers train,valid,test (e.g. 50,25,25), got {other:?}"),
    };
    select::check_ensemble(args.ensemble, args.head)?;
    if args.jobs == Some(0) {
        bail!("--jobs must be at least 1");
    }
    if let Some(c) = args
        .c_grid
        .iter()
        .flatten()
        .find(|c| !(c.is_finite() && **c > 0.0))
    {
        bail!("--c-grid value {c} must be a positive number (e.g. --c-grid 1,10,100)");
    }
    Ok(f)
}

/// Repeat `r` on `src`, whose images have `labels` (the re-split depends on them alone).
fn one_repeat(
    args: &CvArgs,
    src: &join::Source,
    labels: &[u32],
    classes: &[String],
    f: [f64; 3],
    r: u32,
) -> Result<RepeatRow> {
    let start = std::time::Instant::now();
    let (tr, va, te) = resplit::stratified(labels, f, args.seed, r);
    let fold = src.fold(&tr, &va, &te);
    let k = classes.len();
    let opts = options(
        args,
        tr.len(),
        src.names.len() as u32,
        &fold.data.labels,
        k,
        fold.data.valid_x.ncols(),
    );
    let chosen =
        select::select(args.head, &fold.data, k, &opts).with_context(|| format!("repeat {r}"))?;
    let lp = select::predict(&chosen, fold.test_x.view());
    let mut train_counts = vec![0usize; k];
    for &y in &fold.data.labels {
        train_counts[y as usize] += 1;
    }
    let m = metrics::compute(lp.view(), &fold.test_labels, classes, &train_counts);
    let b = chosen.best();
    Ok(RepeatRow {
        repeat: r,
        train_images: tr.len(),
        valid_images: va.len(),
        test_images: te.len(),
        chosen: b.label(),
        valid_top1: b.valid_top1,
        top1: m.top1,
        top5: m.top5,
        nll: m.nll,
        mean_class_top1: m.mean_class_top1,
        select_folds: chosen.folds,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// Bytes one repeat holds at once beside the shared pool: copies of the views of its `images`
/// train and valid images (the MLP and its refit read them in place), and per-image means
/// (train's for the logistic head on large sets, valid's, test's: together about one view of
/// every image; the test split's mean is taken straight from the pool). Measured on the
/// Caltech-sized synthetic cache (1.63 GB pool): one repeat peaked at 3.05 GB, two at once at
/// 4.36 GB, estimated here 2.99 and 4.35 GB. The copies keep the cache's storage type (2 bytes
/// a value for an `f16` cache); the means are always `f32`.
fn repeat_bytes(pool: &pool::Pool, images: usize) -> usize {
    let per_image = pool.bytes() / pool.labels.len().max(1);
    let d = pool.views.first().map_or(0, |v| v.ncols());
    per_image * images + pool.labels.len() * d * 4
}

/// Opens the cache at `path` (a directory or a manifest file in one).
fn open(path: &std::path::Path) -> Result<FeatureCache> {
    FeatureCache::open(path)
        .with_context(|| format!("opening the feature cache {}", path.display()))
}

/// The views cv uses of `cache` (`--views`, or every view all splits share), and notes on the
/// rows it leaves out.
fn chosen_views(args: &CvArgs, cache: &FeatureCache) -> Result<(Vec<String>, Vec<String>)> {
    let (shared, notes) = pool::shared_views(cache)?;
    let names = match args.views {
        None => shared,
        Some(set) => {
            let want = set.names();
            if let Some(m) = want.iter().find(|n| !shared.contains(n)) {
                bail!("--views {} needs view `{m}`, which not every split of {} has (shared: {}); re-extract with `--views {}`", set.name(), cache.dir.display(), shared.join(", "), set.name());
            }
            want
        }
    };
    Ok((names, notes))
}

/// Runs `pipeline cv`.
pub fn run(args: CvArgs) -> Result<()> {
    let f = validate(&args)?;
    if args.features.len() > 1 {
        return compare::run(&args, f);
    }
    let cache = open(&args.features[0])?;
    let (names, notes) = chosen_views(&args, &cache)?;
    for n in &notes {
        crate::say!("cv: not used: {n}");
    }
    let pool = pool::load(&cache, &names)?;
    let classes = cache.classes().to_vec();
    let budget = 4usize << 30;
    let (first_train, first_valid, _) = resplit::stratified(&pool.labels, f, args.seed, 0);
    let first_train = first_train.len();
    let per_repeat = repeat_bytes(&pool, first_train + first_valid.len());
    let jobs = args.jobs.unwrap_or_else(|| {
        rayon::current_num_threads()
            .min((budget.saturating_sub(pool.bytes()) / per_repeat.max(1)).max(1))
    });
    let d = pool.views.first().map_or(0, |v| v.ncols());
    let members =
        select::ensemble_size(args.ensemble, args.head, first_train * pool.names.len(), d);
    crate::say!(
        "cv: {} images, {} views averaged ({}), head {}, preset {}, MLP ensemble of {members}{}, {} repeats of a {}/{}/{} stratified re-split, {jobs} at once",
        pool.labels.len(), names.len(), names.join(", "), args.head.name(), args.preset.name(),
        if members == 1 { " (off)" } else { "" }, args.repeats, f[0], f[1], f[2]
    );
    // Repeats run `jobs` at a time; the pool keeps every core, so the products inside a repeat
    // still use the cores that the repeats do not (one repeat at a time had run on one thread:
    // a pool of `jobs` threads).
    let threads = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs.max(rayon::current_num_threads()))
        .build()?;
    let order: Vec<u32> = (0..args.repeats).collect();
    let mut rows: Vec<RepeatRow> = Vec::with_capacity(order.len());
    let src = join::Source::single(&pool, None);
    for wave in order.chunks(jobs) {
        let done = threads.install(|| {
            wave.par_iter()
                .map(|&r| one_repeat(&args, &src, &pool.labels, &classes, f, r))
                .collect::<Result<Vec<_>>>()
        })?;
        // Each repeat is shown as its wave ends, and `--json` rewritten with the rows so far, so
        // an interrupted run keeps what it finished.
        done.iter().for_each(print_row);
        rows.extend(done);
        if rows.len() < order.len() {
            if let Some(path) = &args.json {
                write_cv_json(&args, &names, &rows, path, order.len())?;
            }
        }
    }
    report(&args, &names, &rows)
}

fn print_row(r: &RepeatRow) {
    crate::say!(
        "repeat {:>3}: test top-1 {:>5.1}%  top-5 {:>5.1}%  NLL {:.3}  class-mean {:>5.1}%  ({}, valid {:.1}%, {:.1} s)",
        r.repeat, 100.0 * r.top1, 100.0 * r.top5, r.nll, 100.0 * r.mean_class_top1, r.chosen, 100.0 * r.valid_top1, r.seconds
    );
}

fn mean_sd(v: impl Iterator<Item = f64>) -> (f64, f64) {
    let v: Vec<f64> = v.collect();
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
    (mean, var.sqrt())
}

/// Mean ± SD of each figure over `rows`.
struct Summary {
    top1: (f64, f64),
    top5: (f64, f64),
    nll: (f64, f64),
    mean_class_top1: (f64, f64),
}

fn summary(rows: &[RepeatRow]) -> Summary {
    Summary {
        top1: mean_sd(rows.iter().map(|r| 100.0 * r.top1)),
        top5: mean_sd(rows.iter().map(|r| 100.0 * r.top5)),
        nll: mean_sd(rows.iter().map(|r| r.nll)),
        mean_class_top1: mean_sd(rows.iter().map(|r| 100.0 * r.mean_class_top1)),
    }
}

fn report(args: &CvArgs, names: &[String], rows: &[RepeatRow]) -> Result<()> {
    let Summary {
        top1: (t1, t1s),
        top5: (t5, t5s),
        nll: (nl, nls),
        mean_class_top1: (mc, mcs),
    } = summary(rows);
    crate::say!(
        "cv ({} repeats): test top-1 {t1:.1} ± {t1s:.1} %, top-5 {t5:.1} ± {t5s:.1} %, NLL {nl:.3} ± {nls:.3}, mean per-class top-1 {mc:.1} ± {mcs:.1} % (mean ± SD)",
        rows.len()
    );
    if let Some(path) = &args.json {
        write_cv_json(args, names, rows, path, rows.len())?;
        crate::say!("wrote {}", path.display());
    }
    Ok(())
}

/// Writes the cv JSON for the `rows` done of `planned` repeats; `complete` says whether they
/// are all there.
fn write_cv_json(
    args: &CvArgs,
    names: &[String],
    rows: &[RepeatRow],
    path: &std::path::Path,
    planned: usize,
) -> Result<()> {
    let s = summary(rows);
    let json = serde_json::json!({
        "repeats": rows.len(),
        "planned_repeats": planned,
        "complete": rows.len() == planned,
        "head": args.head.name(),
        "preset": args.preset.name(),
        "views": names,
        "fractions": args.fractions,
        "seed": args.seed,
        "select_folds": args.select_folds,
        "top1_mean": s.top1.0, "top1_sd": s.top1.1,
        "top5_mean": s.top5.0, "top5_sd": s.top5.1,
        "nll_mean": s.nll.0, "nll_sd": s.nll.1,
        "mean_class_top1_mean": s.mean_class_top1.0, "mean_class_top1_sd": s.mean_class_top1.1,
        "rows": rows,
    });
    Ok(crate::atomic::write_json(path, &json)?)
}
