//! `train-head`'s flags, their validation, and how they combine with a preset or with the
//! recorded config of a run being resumed.

use crate::cache::FeatureCache;
use crate::checkpoint::{self as ckpt, HeadKind, RunConfig};
use crate::head::adam::AdamConfig;
use crate::head::budget;
use crate::head::data::HeadData;
use crate::head::fit::{ClassWeights, FitConfig};
use crate::head::logistic::LogisticConfig;
use crate::head::preset::{self, Preset};
use crate::head::sampler::PassMode;
use crate::head::select::{check_ensemble, ensemble_size, HeadChoice, DEFAULT_C_GRID};

pub use crate::head::logistic::{
    DEFAULT_MAX_ITER as LOGISTIC_MAX_ITER, DEFAULT_TOLERANCE as LOGISTIC_TOLERANCE,
};
use anyhow::{bail, Context};
use std::path::{Path, PathBuf};

/// Arguments of `pipeline train-head`. Unset hyper-parameters come from `--preset`.
#[derive(Debug, clap::Args)]
pub struct TrainArgs {
    /// Feature cache written by `pipeline extract` (a directory, or one backbone's cache in it:
    /// `DIR/manifests/<backbone>.json`). Repeat it to train on the concatenated features of
    /// caches of the same images made with different backbones (`export` then ships both).
    #[arg(long, value_name = "CACHE", required = true)]
    pub features: Vec<PathBuf>,
    /// Run directory to write (created if missing).
    #[arg(long, value_name = "RUN")]
    pub out: PathBuf,
    /// Head to train: mlp, logistic (C chosen on valid, refit on train+valid), or auto (the
    /// best of both by valid top-1, refitted).
    #[arg(long, value_enum, default_value_t = HeadChoice::Mlp)]
    pub head: HeadChoice,
    /// Logistic head: the C values (1/alpha) tried on valid, comma-separated [default: 0.1 … 1000,
    /// 9 values in half-decades].
    #[arg(long, value_delimiter = ',', value_name = "C,C,…")]
    pub c_grid: Option<Vec<f64>>,
    /// Choose C, the head and the MLP's epochs by K-fold over train+valid (every train+valid
    /// image scored once; the winner is then fitted on all of them) instead of on the valid split
    /// alone; 0 = the valid split [default: 5 when the chosen head is refitted, the valid split
    /// has fewer than 10 images a class on average and there are no augmented passes, else 0].
    #[arg(long, value_name = "K")]
    pub select_folds: Option<usize>,
    /// Refit the chosen head on train+valid (logistic: the chosen C; MLP: the best epoch count)
    /// [default: true for logistic and auto, false for mlp].
    #[arg(long, value_name = "BOOL")]
    pub refit: Option<bool>,
    /// Where unset hyper-parameters come from [default: default].
    #[arg(long, value_enum)]
    pub preset: Option<Preset>,
    /// Hidden units of the MLP [default: 256 in both presets].
    #[arg(long, value_name = "N")]
    pub hidden: Option<usize>,
    /// Dropout probability after the hidden ReLU, in [0,1) [default: 0.2 in both presets, the
    /// notebook's trained value].
    #[arg(long, value_name = "P")]
    pub dropout: Option<f64>,
    /// Adam learning rate [default: 1e-3 in both presets].
    #[arg(long, value_name = "LR")]
    pub lr: Option<f64>,
    /// Mini-batch size in rows [default: notebook preset 128; default preset rows per epoch / 16,
    /// between 16 and 128].
    #[arg(long, value_name = "N")]
    pub batch: Option<usize>,
    /// Maximum epochs [default: notebook preset 30; default preset 60].
    #[arg(long, value_name = "N")]
    pub epochs: Option<u32>,
    /// Stop after this many epochs without a lower validation loss; 0 never stops early
    /// [default: notebook preset 5; default preset 8].
    #[arg(long, value_name = "EPOCHS")]
    pub patience: Option<u32>,
    /// L2 penalty added to the gradient, as PyTorch's Adam `weight_decay` [default: 0].
    #[arg(long, value_name = "W")]
    pub weight_decay: Option<f64>,
    /// Class weights in the loss: none, or balanced (inverse class frequency) [default: none].
    #[arg(long, value_enum)]
    pub class_weights: Option<ClassWeights>,
    /// Inverted dropout on the input features while training; 0.5 also mimics the notebook's
    /// train-mode dropout after VGG's fc7 [default: notebook preset 0; default preset 0.5].
    #[arg(long, value_name = "P")]
    pub feature_dropout: Option<f64>,
    /// Cached rows (views and passes) per image and epoch: one, or all [default: notebook preset
    /// one; default preset all, one from 2,048 training images].
    #[arg(long, value_enum)]
    pub passes: Option<PassMode>,
    /// Seed of initialisation, shuffling, row choice and dropout masks [default: 0].
    #[arg(long, value_name = "SEED")]
    pub seed: Option<u64>,
    /// Logistic head: L2 weight of the summed loss (alpha = 1/C, as linfa-logistic's); given, it
    /// replaces the C grid [default: the C grid].
    #[arg(long, value_name = "ALPHA")]
    pub logistic_alpha: Option<f64>,
    /// Logistic head: L-BFGS iterations at most, per fit [default: 300].
    #[arg(long, value_name = "N")]
    pub logistic_max_iter: Option<u64>,
    /// MLP seed ensemble: members that differ only in their seed, predicting the mean of their
    /// probabilities; with --head auto the ensemble is a candidate beside the single MLP (its
    /// member 0); 1 turns it off [default: mlp 1; auto 5 when train rows × features ≤ 64 Mi,
    /// else 1].
    #[arg(long, value_name = "N")]
    pub ensemble: Option<usize>,
    /// Continue the run in --out from its last epoch (only --epochs and --patience may change).
    #[arg(long)]
    pub resume: bool,
    /// Overwrite a run already in --out.
    #[arg(long, conflicts_with = "resume")]
    pub force: bool,
    /// Threads for matrix products and the optimizer, 1-4; results do not depend on it
    /// [default: the cores, at most 4].
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
}

/// Everything resolved: what the run will do.
#[derive(Debug, Clone)]
pub struct Plan {
    pub head: HeadKind,
    pub choice: HeadChoice,
    pub c_grid: Vec<f64>,
    pub refit: bool,
    /// `--select-folds` as given (`None`: the default for the data).
    pub folds: Option<usize>,
    pub preset: Preset,
    pub fit: FitConfig,
    pub logistic: LogisticConfig,
    pub class_weights: ClassWeights,
    pub resume: bool,
    /// MLP ensemble members (1: a single MLP).
    pub ensemble: usize,
}

fn unit_interval(name: &str, v: Option<f64>) -> anyhow::Result<()> {
    match v {
        Some(p) if !(0.0..1.0).contains(&p) => bail!("--{name} {p} is outside [0, 1)"),
        _ => Ok(()),
    }
}

/// Rejects values no run can use, before any work starts.
pub fn check_ranges(a: &TrainArgs) -> anyhow::Result<()> {
    unit_interval("dropout", a.dropout)?;
    unit_interval("feature-dropout", a.feature_dropout)?;
    if let Some(lr) = a.lr.filter(|v| !(v.is_finite() && *v > 0.0)) {
        bail!("--lr {lr} must be a positive number (the notebook uses 1e-3)");
    }
    if let Some(wd) = a.weight_decay.filter(|v| !(v.is_finite() && *v >= 0.0)) {
        bail!("--weight-decay {wd} must be >= 0");
    }
    if let Some(al) = a.logistic_alpha.filter(|v| !(v.is_finite() && *v >= 0.0)) {
        bail!("--logistic-alpha {al} must be >= 0");
    }
    for (name, v) in [
        ("hidden", a.hidden),
        ("batch", a.batch),
        ("threads", a.threads),
    ] {
        if v == Some(0) {
            bail!("--{name} must be at least 1");
        }
    }
    if a.epochs == Some(0) || a.logistic_max_iter == Some(0) {
        bail!("--epochs and --logistic-max-iter must be at least 1");
    }
    check_ensemble(a.ensemble, a.head)?;
    if let Some(n) = a.ensemble.filter(|&n| n > 1 && a.resume) {
        bail!("--resume continues a single MLP; an ensemble of {n} is trained in one go (re-run without --resume)");
    }
    crate::head::select::kfold::check_flag(a.select_folds, a.refit)?;
    if a.resume
        && (a.head != HeadChoice::Mlp
            || a.refit == Some(true)
            || a.select_folds.is_some_and(|k| k >= 2))
    {
        bail!("--resume applies to the MLP head without --refit; the {} head is fitted in one go (re-run without --resume)", a.head.name());
    }
    if a.head != HeadChoice::Mlp && a.class_weights == Some(ClassWeights::Balanced) {
        bail!("--class-weights balanced is not supported by the {} head (its objective has no sample weights); use --head mlp", a.head.name());
    }
    if let Some(c) = a
        .c_grid
        .iter()
        .flatten()
        .find(|c| !(c.is_finite() && **c > 0.0))
    {
        bail!("--c-grid value {c} must be a positive number (e.g. --c-grid 1,10,100)");
    }
    if a.c_grid.as_ref().is_some_and(|g| g.is_empty()) {
        bail!("--c-grid needs at least one value (e.g. --c-grid 1,10,100)");
    }
    Ok(())
}

/// Sets the matrix-product and rayon thread counts; returns the count used.
pub fn set_threads(requested: Option<usize>) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = requested.unwrap_or(cores).clamp(1, 4);
    // matrixmultiply reads this once, at its first threaded product in the process.
    std::env::set_var("MATMUL_NUM_THREADS", threads.to_string());
    // Fails only if the global pool already exists (e.g. inside `pipeline run`); then it is kept.
    let _ = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global();
    threads
}

/// The config of the run in `out`, checked against `cache`.
pub fn recorded_config(out: &Path, cache: &FeatureCache) -> anyhow::Result<RunConfig> {
    let rec: RunConfig = ckpt::read_json(out, ckpt::CONFIG_FILE)
        .context("--resume needs a run written by train-head")?;
    if rec.schema_version != ckpt::RUN_SCHEMA {
        bail!(
            "{} has run schema {}, this build reads {}; train a new run",
            out.display(),
            rec.schema_version,
            ckpt::RUN_SCHEMA
        );
    }
    let differs = if rec.cache_key != cache.key() {
        format!("cache key {} vs {}", rec.cache_key, cache.key())
    } else if rec.classes != cache.classes() {
        format!(
            "class lists differ ({} vs {} classes)",
            rec.classes.len(),
            cache.classes().len()
        )
    } else if rec.feature_dim != cache.feature_dim() {
        format!(
            "feature width {} vs {}",
            rec.feature_dim,
            cache.feature_dim()
        )
    } else {
        return Ok(rec);
    };
    bail!(
        "cannot resume {} on {}: the run was trained on another cache ({differs}); resume with --features {} or train a new run with --force",
        out.display(),
        cache.dir.display(),
        rec.cache_dir.display()
    )
}

/// The files of a run directory.
pub(super) const RUN_FILES: [&str; 7] = [
    ckpt::HEAD_FILE,
    ckpt::OPTIMIZER_FILE,
    ckpt::CONFIG_FILE,
    ckpt::METRICS_FILE,
    ckpt::HISTORY_JSON,
    ckpt::HISTORY_CSV,
    ckpt::CURVES_FILE,
];

/// Whether `out` holds (part of) a trained run.
pub fn holds_run(out: &Path) -> bool {
    RUN_FILES.iter().any(|f| out.join(f).exists())
}

/// A fresh hidden sibling of `out` to train a `--force` run in (stale ones of killed runs, which
/// the caller's lock on `out` proves dead, are removed first).
pub fn staging_dir(out: &Path) -> anyhow::Result<std::path::PathBuf> {
    let name = out
        .file_name()
        .map_or_else(|| "run".into(), |n| n.to_string_lossy().into_owned());
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let prefix = format!(".{name}.force-");
    for e in std::fs::read_dir(&parent).into_iter().flatten().flatten() {
        if e.file_name().to_string_lossy().starts_with(&prefix) && e.path().is_dir() {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
    Ok(parent.join(format!("{prefix}{}", std::process::id())))
}

/// Replaces the run in `out` (its files and `eval-*` folders) by the complete run in `staged`.
pub fn swap_in(staged: &Path, out: &Path) -> anyhow::Result<()> {
    prepare_out_dir(out, true)?;
    let mut names: Vec<std::ffi::OsString> = std::fs::read_dir(staged)
        .with_context(|| format!("reading {}", staged.display()))?
        .flatten()
        .map(|e| e.file_name())
        .collect();
    // metrics.json marks a run complete: it moves last, so a crash mid-swap reads as incomplete.
    names.sort_by_key(|n| n == ckpt::METRICS_FILE);
    for n in names {
        let (from, to) = (staged.join(&n), out.join(&n));
        std::fs::rename(&from, &to)
            .with_context(|| format!("moving {} to {}", from.display(), to.display()))?;
    }
    std::fs::remove_dir(staged).with_context(|| format!("removing {}", staged.display()))?;
    crate::say!(
        "replaced the previous run in {} (the new one was trained beside it until complete)",
        out.display()
    );
    Ok(())
}

/// Creates `out`, refusing to overwrite a run unless `force` (then its files are removed).
pub fn prepare_out_dir(out: &Path, force: bool) -> anyhow::Result<()> {
    let files = RUN_FILES;
    if holds_run(out) {
        if !force {
            bail!("{} already holds a trained run; pass --resume to continue it or --force to overwrite it", out.display());
        }
        for f in files {
            let p = out.join(f);
            if p.exists() {
                std::fs::remove_file(&p).with_context(|| format!("removing {}", p.display()))?;
            }
        }
        // Evaluations of the replaced head would otherwise pass for the new one's.
        for e in std::fs::read_dir(out).into_iter().flatten().flatten() {
            if e.file_name().to_string_lossy().starts_with("eval-") && e.path().is_dir() {
                std::fs::remove_dir_all(e.path())
                    .with_context(|| format!("removing {}", e.path().display()))?;
            }
        }
    }
    std::fs::create_dir_all(out)
        .with_context(|| format!("creating the run directory {}", out.display()))
}

/// Refuses a plan whose training cannot fit in this machine's memory (see [`budget`]).
pub fn check_memory(plan: &Plan, data: &HeadData, d: usize, k: usize) -> anyhow::Result<()> {
    let Some(limit) = budget::memory_limit() else {
        return Ok(());
    };
    let sizes = budget::Sizes {
        train_rows: (data.labels.len() * data.passes.len()) as u64,
        valid_rows: data.valid_labels.len() as u64,
        features: d as u64,
        classes: k as u64,
        mlp: (plan.choice != HeadChoice::Logistic).then_some(budget::MlpSizes {
            hidden: plan.fit.hidden as u64,
            batch: plan.fit.batch as u64,
            members: plan.ensemble as u64,
        }),
        logistic: plan.choice != HeadChoice::Mlp,
    };
    budget::check(&sizes, limit)
}

/// Resolves flags over the preset (fresh run) or over the recorded config (`--resume`).
pub fn plan(
    a: &TrainArgs,
    recorded: Option<&RunConfig>,
    n_images: usize,
    passes: u32,
    feature_dim: usize,
) -> anyhow::Result<Plan> {
    let preset = a.preset.unwrap_or(Preset::Default);
    let h = preset::resolve(preset, n_images, passes);
    let fit = FitConfig {
        hidden: a.hidden.unwrap_or(h.hidden),
        dropout: a.dropout.unwrap_or(h.dropout),
        feature_dropout: a.feature_dropout.unwrap_or(h.feature_dropout),
        batch: a.batch.unwrap_or(h.batch),
        max_epochs: a.epochs.unwrap_or(h.epochs),
        patience: a.patience.unwrap_or(h.patience),
        pass_mode: a.passes.unwrap_or(h.pass_mode),
        adam: AdamConfig {
            lr: a.lr.unwrap_or(h.lr),
            weight_decay: a.weight_decay.unwrap_or(h.weight_decay),
            ..AdamConfig::default()
        },
        seed: a.seed.unwrap_or(0),
    };
    let logistic = LogisticConfig {
        alpha: a.logistic_alpha.unwrap_or(1.0),
        max_iterations: a.logistic_max_iter.unwrap_or(LOGISTIC_MAX_ITER),
        gradient_tolerance: LOGISTIC_TOLERANCE,
    };
    let c_grid = match (&a.c_grid, a.logistic_alpha) {
        (Some(g), _) => g.clone(),
        (None, Some(alpha)) => vec![1.0 / alpha],
        (None, None) => DEFAULT_C_GRID.to_vec(),
    };
    let fresh = Plan {
        head: a.head.kind().unwrap_or(HeadKind::Logistic),
        choice: a.head,
        c_grid,
        refit: a.refit.unwrap_or(a.head != HeadChoice::Mlp)
            || a.select_folds.is_some_and(|k| k >= 2),
        folds: a.select_folds,
        preset,
        fit,
        logistic,
        class_weights: a.class_weights.unwrap_or(h.class_weights),
        resume: false,
        ensemble: ensemble_size(a.ensemble, a.head, n_images * passes as usize, feature_dim),
    };
    match recorded {
        None => Ok(fresh),
        Some(rec) => super::resumed::resumed_plan(a, rec),
    }
}
