//! `train-head --resume`: the recorded run's plan, with only `--epochs` and `--patience` allowed to
//! change.

use super::options::{Plan, TrainArgs};
use crate::checkpoint::{HeadKind, RunConfig};
use crate::head::logistic::LogisticConfig;
use crate::head::preset::Preset;
use crate::head::select::{HeadChoice, DEFAULT_C_GRID};
use anyhow::bail;

/// The recorded plan with `--epochs`/`--patience` applied; any other flag must agree with it.
pub fn resumed_plan(a: &TrainArgs, rec: &RunConfig) -> anyhow::Result<Plan> {
    let Some(mut fit) = rec.mlp.clone() else {
        bail!(
            "the run in its directory is a {} head; --resume applies to MLP runs",
            rec.head.name()
        );
    };
    let same = |flag: &str, given: Option<String>, was: String| {
        match given {
        Some(g) if g != was => bail!("--{flag} {g} differs from the resumed run's {was}; only --epochs and --patience may change on --resume"),
        _ => Ok(()),
    }
    };
    same(
        "preset",
        a.preset.map(|p| p.name().to_string()),
        rec.preset.clone(),
    )?;
    same(
        "hidden",
        a.hidden.map(|v| v.to_string()),
        fit.hidden.to_string(),
    )?;
    same(
        "dropout",
        a.dropout.map(|v| v.to_string()),
        fit.dropout.to_string(),
    )?;
    same(
        "feature-dropout",
        a.feature_dropout.map(|v| v.to_string()),
        fit.feature_dropout.to_string(),
    )?;
    same("lr", a.lr.map(|v| v.to_string()), fit.adam.lr.to_string())?;
    same(
        "weight-decay",
        a.weight_decay.map(|v| v.to_string()),
        fit.adam.weight_decay.to_string(),
    )?;
    same(
        "batch",
        a.batch.map(|v| v.to_string()),
        fit.batch.to_string(),
    )?;
    same("seed", a.seed.map(|v| v.to_string()), fit.seed.to_string())?;
    same(
        "passes",
        a.passes.map(|v| format!("{v:?}")),
        format!("{:?}", fit.pass_mode),
    )?;
    same(
        "class-weights",
        a.class_weights.map(|v| format!("{v:?}")),
        format!("{:?}", rec.class_weights),
    )?;
    fit.max_epochs = a.epochs.unwrap_or(fit.max_epochs);
    fit.patience = a.patience.unwrap_or(fit.patience);
    let preset = if rec.preset == "notebook" {
        Preset::Notebook
    } else {
        Preset::Default
    };
    let logistic = LogisticConfig {
        alpha: 1.0,
        max_iterations: 200,
        gradient_tolerance: 1e-4,
    };
    Ok(Plan {
        head: HeadKind::Mlp,
        choice: HeadChoice::Mlp,
        c_grid: DEFAULT_C_GRID.to_vec(),
        refit: false,
        folds: Some(0),
        preset,
        fit,
        logistic,
        class_weights: rec.class_weights,
        resume: true,
        ensemble: 1,
    })
}
