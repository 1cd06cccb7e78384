//! `train-head --head logistic|auto` (and `--head mlp --refit`): model selection on valid, a refit
//! on train+valid, and the same run directory as the MLP (one history record per trial).

use super::options::Plan;
use crate::checkpoint::{self as ckpt, HeadMeta, RunConfig, RunMetrics};
use crate::head::data::HeadData;
use crate::head::history::EpochRecord;
use crate::head::select::{self, Chosen, HeadChoice, SelectOptions};
use std::path::Path;
use std::time::Instant;

/// The selection options of a plan.
pub fn options(plan: &Plan, class_weights: Option<Vec<f32>>) -> SelectOptions {
    SelectOptions {
        c_grid: plan.c_grid.clone(),
        logistic: plan.logistic,
        mlp: plan.fit.clone(),
        class_weights,
        refit: plan.refit,
        ensemble: plan.ensemble,
        folds: plan.folds,
    }
}

/// One history record per trial (no train loss: a trial is a whole fit), printed as
/// `trial i/n  valid loss … acc …  [what it was]`.
fn print_trials(chosen: &Chosen) -> Vec<EpochRecord> {
    let n = chosen.trials.len() as u32;
    chosen
        .trials
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let rec = EpochRecord {
                epoch: i as u32 + 1,
                train_loss: f64::NAN,
                train_acc: f64::NAN,
                valid_loss: t.valid_nll,
                valid_acc: t.valid_top1,
                seconds: t.seconds,
                improved: i == chosen.winner,
            };
            let note = match t.head {
                "logistic" => format!(
                    "logistic C={}, {} L-BFGS iterations{}",
                    t.setting,
                    t.iterations,
                    if t.converged {
                        ""
                    } else {
                        " (hit the iteration cap)"
                    }
                ),
                "mlp-ensemble" => format!(
                    "ensemble of {} MLPs, best epochs {:?}",
                    t.member_epochs.len(),
                    t.member_epochs
                ),
                _ => format!("mlp, best epoch {}", t.setting),
            };
            crate::say!(
                "trial {:>3}/{n}  valid loss {:.4} acc {:5.1}%  {:.2} s{}  [{note}]",
                rec.epoch,
                rec.valid_loss,
                100.0 * rec.valid_acc,
                rec.seconds,
                if rec.improved { " *" } else { "" }
            );
            rec
        })
        .collect()
}

/// Fits by selection and writes the run directory; `config` gets the chosen input and trials.
pub fn train_selected(
    out: &Path,
    plan: &Plan,
    mut config: RunConfig,
    data: &HeadData,
    class_weights: Option<Vec<f32>>,
) -> anyhow::Result<()> {
    let opts = options(plan, class_weights);
    if plan.choice != HeadChoice::Mlp {
        crate::say!(
            "logistic: L2-normalised features, C in {:?} (warm-started), at most {} L-BFGS iterations per fit, per-row gradient tolerance {}, on {} {} row sets of each train image",
            opts.c_grid, opts.logistic.max_iterations, opts.logistic.gradient_tolerance,
            if select::logistic_on_means(data) { "the mean of the" } else { "all" },
            data.passes.len()
        );
    }
    if opts.ensemble > 1 {
        crate::say!(
            "mlp: a seed ensemble of {} members{}",
            opts.ensemble,
            if plan.choice == HeadChoice::Auto {
                " tried beside the single MLP (its member 0)"
            } else {
                ""
            }
        );
    }
    let start = Instant::now();
    let chosen = select::select(plan.choice, data, config.classes.len(), &opts)?;
    let seconds = start.elapsed().as_secs_f64();
    let history = print_trials(&chosen);
    crate::say!("{}", chosen.explain());
    if let Some(w) = capped_fits(&chosen.trials, opts.logistic.max_iterations) {
        crate::say!("{w}");
    }
    if !chosen.refit_converged {
        crate::say!(
            "warning: the refit hit the cap of {} L-BFGS iterations; raise --logistic-max-iter",
            opts.logistic.max_iterations
        );
    }
    let best = chosen.best().clone();
    config.head = chosen.model.kind();
    config.input = chosen.input.clone();
    config.selection = serde_json::json!({
        "choice": plan.choice.name(),
        "trials": chosen.trials,
        "winner": chosen.winner,
        "refitted": chosen.refitted,
        "refit_converged": chosen.refit_converged,
        "folds": chosen.folds,
        "explain": chosen.explain(),
    });
    let best_epoch = match best.head {
        "mlp" => best.setting as u32,
        "mlp-ensemble" => best.member_epochs.first().copied().unwrap_or(0),
        _ => 0,
    };
    crate::atomic::write_json(&out.join(ckpt::CONFIG_FILE), &config)?;
    let meta = HeadMeta {
        classes: config.classes.clone(),
        feature_dim: config.feature_dim,
        cache_key: config.cache_key.clone(),
        best_epoch,
    };
    ckpt::write_head(out, &chosen.model, &meta)?;
    ckpt::write_history(out, &history)?;
    super::novelty::fit_and_write(out, data, &config.cache_key)?;
    let metrics = RunMetrics {
        head: chosen.model.kind(),
        best_epoch,
        epochs_run: history.len() as u32,
        stopped_early: false,
        best_valid_loss: best.valid_nll,
        best_valid_acc: best.valid_top1,
        train_seconds: seconds,
        num_params: chosen.model.num_params(),
        files: ckpt::file_hashes(out)?,
    };
    crate::atomic::write_json(&out.join(ckpt::METRICS_FILE), &metrics)?;
    crate::say!(
        "{} head: valid loss {:.4}, acc {:.1}% (before any refit); {} ; {seconds:.2} s",
        chosen.model.kind().name(),
        best.valid_nll,
        100.0 * best.valid_top1,
        out.join(ckpt::HEAD_FILE).display()
    );
    Ok(())
}

/// A warning naming the logistic fits of `trials` that stopped at the iteration cap `cap`
/// (their scores may understate those C), or `None` when every one converged.
pub fn capped_fits(trials: &[select::Trial], cap: u64) -> Option<String> {
    let logistic: Vec<&select::Trial> = trials.iter().filter(|t| t.head == "logistic").collect();
    let capped: Vec<String> = logistic
        .iter()
        .filter(|t| !t.converged)
        .map(|t| t.setting.to_string())
        .collect();
    (!capped.is_empty()).then(|| {
        format!(
            "warning: {} of {} logistic fits stopped at the cap of {cap} L-BFGS iterations before converging (C = {}); their scores may understate those C: raise --logistic-max-iter",
            capped.len(),
            logistic.len(),
            capped.join(", ")
        )
    })
}
