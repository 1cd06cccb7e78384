//! Stage `train-head`: trains the notebook's MLP head (or the logistic baseline) on a feature
//! cache and writes the run directory described in [`crate::checkpoint`].

mod fresh;
mod logistic_run;
mod novelty;
mod options;
mod resumed;

use crate::cache::FeatureCache;
use crate::checkpoint::resume::{read_state, write_state};
use crate::checkpoint::{self as ckpt, HeadKind, HeadMeta, HeadModel, RunConfig, RunMetrics};
use crate::head::data::HeadData;
use crate::head::fit::{balanced_weights, fit, FitConfig, FitState, HeldOut, TrainData};
use crate::head::history::{format_line, EpochRecord};
use crate::head::input::HeadInput;
use crate::head::select::HeadChoice;
use anyhow::Context;
use options::Plan;
use std::path::Path;
use std::time::Instant;

pub use options::TrainArgs;

/// Runs the `train-head` stage.
pub fn run(args: TrainArgs) -> anyhow::Result<()> {
    options::check_ranges(&args)?;
    let threads = options::set_threads(args.threads);
    let caches = args
        .features
        .iter()
        .map(|f| {
            FeatureCache::open(f)
                .with_context(|| format!("opening the feature cache {}", f.display()))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let cache = &caches[0];
    if caches.len() > 1 && args.resume {
        anyhow::bail!("--resume continues a run on one cache; train the run on concatenated features anew with --force");
    }
    let width: usize = caches.iter().map(FeatureCache::feature_dim).sum();
    let out_is_new = !args.out.exists();
    // A resumed run's folder exists; a new one is created only once its sizes are known to fit.
    let early_lock = match args.resume {
        true => Some(crate::lock::lock_dir(&args.out, false)?),
        false => None,
    };
    let recorded = if args.resume {
        Some(options::recorded_config(&args.out, cache)?)
    } else {
        None
    };
    crate::head::joined::check_same_images(&caches)?;
    let data = crate::head::joined::load(&caches)
        .with_context(|| format!("loading features from {}", cache.dir.display()))?;
    let plan = options::plan(
        &args,
        recorded.as_ref(),
        data.labels.len(),
        data.passes.len() as u32,
        width,
    )?;
    options::check_memory(&plan, &data, width, cache.classes().len())?;
    let _lock = match early_lock {
        Some(l) => l,
        None => crate::lock::lock_dir(&args.out, false)?,
    };
    // `--force` over a finished run trains into a hidden sibling and swaps it in only when the
    // new run is complete: an error or a kill half-way leaves the old run as it was.
    let staged = recorded.is_none() && args.force && options::holds_run(&args.out);
    let dir = if staged {
        options::staging_dir(&args.out)?
    } else {
        args.out.clone()
    };
    // Removes the staging folder on every early return (a kill leaves it to the next --force).
    struct Staging<'a>(Option<&'a Path>);
    impl Drop for Staging<'_> {
        fn drop(&mut self) {
            if let Some(d) = self.0 {
                let _ = std::fs::remove_dir_all(d);
            }
        }
    }
    let _staging = Staging(staged.then_some(dir.as_path()));
    if recorded.is_none() {
        options::prepare_out_dir(&dir, args.force && !staged)?;
    }
    let mut fresh = (recorded.is_none() && !staged).then(|| fresh::FreshRun::new(&dir, out_is_new));
    let mut config = run_config(&plan, cache, &data, threads, &args.features[0]);
    config.feature_dim = width;
    config.parts = caches[1..]
        .iter()
        .zip(&args.features[1..])
        .map(|(c, f)| ckpt::FeaturePart::of(c, f))
        .collect();
    // metrics.json is the completion marker, written last; until then the run reads as incomplete.
    let marker = dir.join(ckpt::METRICS_FILE);
    if recorded.is_some() && marker.exists() {
        // Resuming a finished run continues from its files: they must be the ones it recorded.
        ckpt::verify_recorded(&dir, None)?;
    }
    if marker.exists() {
        std::fs::remove_file(&marker).with_context(|| format!("removing {}", marker.display()))?;
    }
    crate::atomic::write_json(&dir.join(ckpt::CONFIG_FILE), &config)?;
    crate::say!(
        "train-head: {} head on {} ({} train images x {} row sets, {} valid x {} views averaged, {} features, {} classes) -> {}",
        plan.choice.name(),
        cache.dir.display(),
        data.labels.len(),
        data.passes.len(),
        data.valid_labels.len(),
        data.views.len(),
        width,
        cache.classes().len(),
        args.out.display()
    );
    let trained = if plan.choice == HeadChoice::Mlp && !plan.refit && plan.ensemble == 1 {
        train_mlp(&dir, &plan, &config, &data)
    } else {
        let weights = class_weights(&plan, &data.labels, config.classes.len());
        logistic_run::train_selected(&dir, &plan, config, &data, weights)
    };
    if let (Err(e), Some(f)) = (&trained, fresh.as_mut()) {
        f.failed(e);
    }
    trained?;
    if staged {
        options::swap_in(&dir, &args.out)?;
    }
    if let Some(f) = fresh {
        f.keep();
    }
    Ok(())
}

fn run_config(
    plan: &Plan,
    cache: &FeatureCache,
    data: &HeadData,
    threads: usize,
    dir: &Path,
) -> RunConfig {
    RunConfig {
        schema_version: ckpt::RUN_SCHEMA,
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        head: plan.head,
        preset: plan.preset.name().to_string(),
        mlp: (plan.choice != HeadChoice::Logistic).then(|| plan.fit.clone()),
        logistic: (plan.choice != HeadChoice::Mlp).then_some(plan.logistic),
        class_weights: plan.class_weights,
        seed: plan.fit.seed,
        threads,
        cache_dir: dir.to_path_buf(),
        cache_key: cache.key().to_string(),
        passes: data.passes.len() as u32,
        train_images: data.labels.len(),
        valid_images: data.valid_labels.len(),
        classes: cache.classes().to_vec(),
        feature_dim: cache.feature_dim(),
        backbone_hash: cache.backbone_hash().to_string(),
        backbone_path: Some(&cache.manifest.stats.model_path)
            .filter(|p| !p.is_empty())
            .map(|p| {
                ckpt::recorded::absolute_model_path(Path::new(p))
                    .display()
                    .to_string()
            }),
        preprocess: cache.preprocess_json(),
        input: HeadInput {
            views: data.views.clone(),
            l2_normalize: false,
        },
        selection: serde_json::Value::Null,
        parts: Vec::new(),
    }
}

/// Class weights as the loss takes them, `None` when unweighted.
fn class_weights(plan: &Plan, labels: &[u32], k: usize) -> Option<Vec<f32>> {
    match plan.class_weights {
        crate::head::fit::ClassWeights::None => None,
        crate::head::fit::ClassWeights::Balanced => Some(
            balanced_weights(labels, k)
                .into_iter()
                .map(|w| w as f32)
                .collect(),
        ),
    }
}

fn train_mlp(out: &Path, plan: &Plan, config: &RunConfig, data: &HeadData) -> anyhow::Result<()> {
    let cfg = &plan.fit;
    let k = config.classes.len();
    let weights = class_weights(plan, &data.labels, k);
    // A run killed before its first epoch ended has no checkpoint yet: it starts over.
    let resume = plan.resume && out.join(ckpt::OPTIMIZER_FILE).exists();
    if plan.resume && !resume {
        crate::say!("no checkpoint in {} yet (stopped before its first epoch ended): training from the start", out.display());
    }
    let mut state = if resume {
        read_state(out, cfg)
            .with_context(|| format!("reading the state to resume from {}", out.display()))?
    } else {
        FitState::<f32>::new(cfg, config.feature_dim, k)
    };
    print_plan(cfg, plan, state.epochs_done);
    if state.finished(cfg) {
        crate::say!("nothing to train: the run already finished after {} epochs (raise --epochs or --patience to continue)", state.epochs_done);
    }
    let train = TrainData {
        passes: &data.passes,
        more: &[],
        labels: &data.labels,
        class_weights: weights.clone(),
    };
    let mut valid = HeldOut {
        x: data.valid_x.view(),
        labels: &data.valid_labels,
        class_weights: weights,
    };
    let start = Instant::now();
    fit::<f32, anyhow::Error>(&mut state, &train, cfg, &mut valid, |s, rec| {
        crate::say!("{}", format_line(rec, cfg.max_epochs));
        save_progress(out, s, config)
    })?;
    let seconds = start.elapsed().as_secs_f64();
    save_progress(out, &state, config)?;
    novelty::fit_and_write(out, data, &config.cache_key)?;
    let (_, best_epoch) = state.final_model();
    let best = state.best.as_ref();
    let metrics = RunMetrics {
        head: HeadKind::Mlp,
        best_epoch,
        epochs_run: state.epochs_done,
        stopped_early: state.epochs_done < cfg.max_epochs,
        best_valid_loss: best.map_or(f64::NAN, |b| b.loss),
        best_valid_acc: best.map_or(f64::NAN, |b| b.acc),
        train_seconds: seconds,
        num_params: state.mlp.num_params(),
        files: ckpt::file_hashes(out)?,
    };
    crate::atomic::write_json(&out.join(ckpt::METRICS_FILE), &metrics)?;
    write_curves(out, &state.history);
    crate::say!(
        "best epoch {} of {} (valid loss {:.4}, acc {:.1}%): its weights are in {}; {:.2} s",
        best_epoch,
        state.epochs_done,
        metrics.best_valid_loss,
        100.0 * metrics.best_valid_acc,
        out.join(ckpt::HEAD_FILE).display(),
        seconds
    );
    Ok(())
}

fn print_plan(cfg: &FitConfig, plan: &Plan, done: u32) {
    crate::say!(
        "preset {}: hidden {}, dropout {}, feature dropout {}, lr {}, weight decay {}, batch {}, epochs {}, patience {}, passes per epoch {:?}, class weights {:?}, seed {}{}",
        plan.preset.name(),
        cfg.hidden,
        cfg.dropout,
        cfg.feature_dropout,
        cfg.adam.lr,
        cfg.adam.weight_decay,
        cfg.batch,
        cfg.max_epochs,
        cfg.patience,
        cfg.pass_mode,
        plan.class_weights,
        cfg.seed,
        if plan.resume { format!("; resuming after epoch {done}") } else { String::new() }
    );
}

/// Writes the best head, the resume state and the history (after every epoch and at the end).
fn save_progress(out: &Path, state: &FitState<f32>, config: &RunConfig) -> anyhow::Result<()> {
    let (best, best_epoch) = state.final_model();
    let meta = HeadMeta {
        classes: config.classes.clone(),
        feature_dim: config.feature_dim,
        cache_key: config.cache_key.clone(),
        best_epoch,
    };
    ckpt::write_head(out, &HeadModel::Mlp(best.clone()), &meta)?;
    write_state(out, state, &config.cache_key)?;
    ckpt::write_history(out, &state.history)?;
    Ok(())
}

/// Draws `curves.png` (loss and accuracy per epoch); a drawing failure is only reported.
fn write_curves(out: &Path, history: &[EpochRecord]) {
    let pts = |f: fn(&EpochRecord) -> f64| {
        history
            .iter()
            .map(|r| (r.epoch as f64, f(r)))
            .collect::<Vec<_>>()
    };
    let series = [
        ("train loss".to_string(), pts(|r| r.train_loss)),
        ("valid loss".to_string(), pts(|r| r.valid_loss)),
        ("train accuracy".to_string(), pts(|r| r.train_acc)),
        ("valid accuracy".to_string(), pts(|r| r.valid_acc)),
    ];
    let path = out.join(ckpt::CURVES_FILE);
    if let Err(e) = crate::plot::line_chart(
        &path,
        "train-head",
        "epoch",
        "loss (NLL) / accuracy (fraction)",
        &series,
    ) {
        eprintln!("warning: {e}");
    }
}
