//! The run directory written by `train-head` and read by `eval`, `predict` and `--resume`.
//!
//! `RUN/head.safetensors`: the final (best-epoch) head, f32, PyTorch `nn.Sequential` names —
//! MLP: `0.weight` `[H,D]`, `0.bias` `[H]`, `3.weight` `[K,H]`, `3.bias` `[K]`; logistic: one
//! `Linear(D,K)` as `0.weight` `[K,D]`, `0.bias` `[K]`; MLP ensemble: member `i`'s MLP tensors
//! prefixed `member{i}.` (`member0.0.weight`, …) — with `__metadata__` keys `format`
//! (`pipeline-head`), `schema_version`, `head_kind` (`mlp`|`logistic`|`mlp-ensemble`), `classes`
//! (JSON list), `feature_dim`, `hidden`, `members` (ensembles), `cache_key`, `best_epoch`,
//! `tool_version`.
//! `RUN/optimizer.safetensors`: the state `--resume` continues from (see [`resume`]).
//! `RUN/config.json` ([`RunConfig`]), `RUN/metrics.json` ([`RunMetrics`]),
//! `RUN/history.json` + `RUN/history.csv` (one [`EpochRecord`] per epoch), `RUN/curves.png`.

mod head_file;
mod head_model;
mod nearby;
pub mod parts;
pub mod recorded;
pub mod resume;

pub(crate) use head_file::read_mlp;
pub use head_file::{read_head, write_head};
pub use head_model::HeadModel;
pub use parts::FeaturePart;

use crate::atomic::write_json;
use crate::file_check;
use crate::head::fit::{ClassWeights, FitConfig};
use crate::head::history::EpochRecord;
use crate::head::input::HeadInput;
use crate::head::logistic::LogisticConfig;
use crate::head::tensor_file::TensorFileError;
use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Version of the run-directory layout this build writes and reads.
pub const RUN_SCHEMA: u32 = 1;
pub const HEAD_FILE: &str = "head.safetensors";
pub const OPTIMIZER_FILE: &str = "optimizer.safetensors";
pub const CONFIG_FILE: &str = "config.json";
pub const METRICS_FILE: &str = "metrics.json";
pub const HISTORY_JSON: &str = "history.json";
pub const HISTORY_CSV: &str = "history.csv";
pub const CURVES_FILE: &str = "curves.png";
/// Value of the `format` metadata key of `head.safetensors`.
pub const HEAD_FORMAT: &str = "pipeline-head";

/// Which head a run trained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HeadKind {
    /// Linear → ReLU → Dropout → Linear → LogSoftmax, trained with Adam.
    Mlp,
    /// Multinomial logistic regression (L-BFGS on L2-normalised features).
    Logistic,
    /// MLPs that differ only in their seed, predicting the mean of their probabilities.
    #[serde(rename = "mlp-ensemble")]
    MlpEnsemble,
}

impl HeadKind {
    pub fn name(self) -> &'static str {
        match self {
            HeadKind::Mlp => "mlp",
            HeadKind::Logistic => "logistic",
            HeadKind::MlpEnsemble => "mlp-ensemble",
        }
    }
}

/// What `head.safetensors` records besides the weights.
#[derive(Debug, Clone, PartialEq)]
pub struct HeadMeta {
    pub classes: Vec<String>,
    pub feature_dim: usize,
    pub cache_key: String,
    /// 1-based epoch the weights come from (0 for the logistic head).
    pub best_epoch: u32,
}

/// `config.json`: every setting of the run, and where its features came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunConfig {
    pub schema_version: u32,
    pub tool_version: String,
    pub head: HeadKind,
    /// `default` or `notebook`: where unset hyper-parameters came from.
    pub preset: String,
    /// MLP hyper-parameters, seed included (`None` for the logistic head).
    pub mlp: Option<FitConfig>,
    pub logistic: Option<LogisticConfig>,
    pub class_weights: ClassWeights,
    pub seed: u64,
    /// Matrix-product threads (results do not depend on it).
    pub threads: usize,
    pub cache_dir: PathBuf,
    pub cache_key: String,
    /// Cached augmented passes of the train split.
    pub passes: u32,
    pub train_images: usize,
    pub valid_images: usize,
    pub classes: Vec<String>,
    pub feature_dim: usize,
    pub backbone_hash: String,
    /// The backbone file the cache was extracted with, absolute where it could be resolved
    /// (absent in runs of older builds; see [`TrainedRun::recorded_backbone`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backbone_path: Option<String>,
    pub preprocess: Value,
    /// Views averaged per image and row normalisation (absent in runs of older builds).
    #[serde(default)]
    pub input: HeadInput,
    /// What model selection tried and chose (`--head auto`, the logistic C grid), if any.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub selection: Value,
    /// Further caches whose features follow the first cache's in each input row (a run on
    /// concatenated features; empty otherwise).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<FeaturePart>,
}

/// `metrics.json`: how the run ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunMetrics {
    pub head: HeadKind,
    /// 1-based epoch whose weights are in `head.safetensors` (0 for the logistic head).
    pub best_epoch: u32,
    pub epochs_run: u32,
    pub stopped_early: bool,
    pub best_valid_loss: f64,
    pub best_valid_acc: f64,
    /// Training seconds of this invocation (a resumed run counts only its own).
    pub train_seconds: f64,
    pub num_params: usize,
    /// BLAKE3 of the files `eval`/`predict` read ([`HASHED_FILES`]), checked on every load.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub files: std::collections::BTreeMap<String, String>,
}

/// Files of a run whose content hash `metrics.json` records (the optimizer state and the novelty
/// score only where the run has them).
pub const HASHED_FILES: [&str; 4] = [
    HEAD_FILE,
    CONFIG_FILE,
    OPTIMIZER_FILE,
    crate::novelty::NOVELTY_FILE,
];

/// BLAKE3 (64 hex) of the run's [`HASHED_FILES`] present, for [`RunMetrics::files`].
pub fn file_hashes(
    dir: &Path,
) -> Result<std::collections::BTreeMap<String, String>, CheckpointError> {
    HASHED_FILES
        .iter()
        .filter(|f| matches!(**f, HEAD_FILE | CONFIG_FILE) || dir.join(f).is_file())
        .map(|f| {
            let p = dir.join(f);
            let hash = file_check::hash(&p, file_check::MAX_TENSORS)
                .map_err(|e| invalid(&p, e.to_string()))?;
            Ok((f.to_string(), hash))
        })
        .collect()
}

/// Why a run directory could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("no run at {dir}: the directory {what}; {nearby}", dir = dir.display())]
    NoRunDir {
        dir: PathBuf,
        what: &'static str,
        nearby: String,
    },
    #[error("no trained run at {dir}: {file} is missing; run `pipeline train-head --out {dir}` first", dir = dir.display())]
    Missing { dir: PathBuf, file: &'static str },
    #[error("{path}: {reason}; re-run `pipeline train-head` to rewrite the run", path = path.display())]
    Invalid { path: PathBuf, reason: String },
    #[error("{path} has run schema_version {found}, this build reads {RUN_SCHEMA}; retrain with `pipeline train-head`", path = path.display())]
    Version { path: PathBuf, found: String },
    #[error("cannot write {path}: {source}", path = path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("run {dir} is incomplete: stopped at epoch {done} of {total}; rerun `pipeline train-head` with --resume to finish it", dir = dir.display())]
    Incomplete {
        dir: PathBuf,
        done: usize,
        total: u64,
    },
    #[error("run {dir} records no backbone path; pass --model with the backbone its cache was extracted with", dir = dir.display())]
    NoBackbone { dir: PathBuf },
    #[error("the backbone run {dir} was trained on, {path}, is missing (moved or deleted); pass --model with that file (blake3 {short}…), or rebuild it with the command that made it", dir = dir.display(), path = path.display(), short = &hash[..hash.len().min(12)])]
    BackboneMissing {
        path: PathBuf,
        dir: PathBuf,
        hash: String,
    },
    #[error(transparent)]
    Tensor(#[from] TensorFileError),
}

impl From<crate::atomic::WriteError> for CheckpointError {
    fn from(e: crate::atomic::WriteError) -> Self {
        CheckpointError::Write {
            path: e.path,
            source: e.source,
        }
    }
}

fn invalid(path: &Path, reason: impl Into<String>) -> CheckpointError {
    CheckpointError::Invalid {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Reads JSON `file` of run directory `dir`.
pub fn read_json<T: serde::de::DeserializeOwned>(
    dir: &Path,
    file: &'static str,
) -> Result<T, CheckpointError> {
    let path = dir.join(file);
    let text = match file_check::read_to_string(&path, file_check::MAX_JSON) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(e) = nearby::check_run_dir(dir) {
                return Err(e);
            }
            return Err(CheckpointError::Missing {
                dir: dir.to_path_buf(),
                file,
            });
        }
        Err(e) => return Err(invalid(&path, e.to_string())),
    };
    serde_json::from_str(&text).map_err(|e| invalid(&path, e.to_string()))
}

/// A trained run, loaded for scoring.
#[derive(Debug, Clone)]
pub struct TrainedRun {
    pub dir: PathBuf,
    /// `config.json` as written ([`RunConfig`]).
    pub config: Value,
    pub classes: Vec<String>,
    pub feature_dim: usize,
    pub cache_key: String,
    pub backbone_hash: String,
    pub preprocess: Value,
    /// How features become the head's input (see [`TrainedRun::log_proba`]).
    pub input: HeadInput,
    pub head: HeadModel,
    /// 1-based epoch of the weights (0 for the logistic head).
    pub best_epoch: u32,
    /// Further caches of a run on concatenated features (see [`FeaturePart`]).
    pub parts: Vec<FeaturePart>,
}

impl TrainedRun {
    /// Loads `dir/config.json` and `dir/head.safetensors`, version-checked and cross-checked.
    pub fn load(dir: &Path) -> Result<TrainedRun, CheckpointError> {
        let (head, meta) = read_head(dir)?;
        let config: Value = read_json(dir, CONFIG_FILE)?;
        let cpath = dir.join(CONFIG_FILE);
        let found = config.get("schema_version").and_then(Value::as_u64);
        if found != Some(RUN_SCHEMA as u64) {
            let found = found.map_or("none".into(), |v| v.to_string());
            return Err(CheckpointError::Version { path: cpath, found });
        }
        let parsed: RunConfig =
            serde_json::from_value(config.clone()).map_err(|e| invalid(&cpath, e.to_string()))?;
        if parsed.cache_key != meta.cache_key
            || parsed.classes != meta.classes
            || parsed.feature_dim != meta.feature_dim
        {
            return Err(invalid(
                &cpath,
                format!("does not match {HEAD_FILE} (cache key, classes or feature width differ)"),
            ));
        }
        let hidden = parsed.mlp.as_ref().map(|f| f.hidden);
        let kind_ok = parsed.head == head.kind() && head.hidden().is_none_or(|h| hidden == Some(h));
        if !kind_ok {
            return Err(invalid(
                &cpath,
                format!(
                    "says a {} head (hidden {hidden:?}), {HEAD_FILE} holds a {} head of {} parameters",
                    parsed.head.name(),
                    head.kind().name(),
                    head.num_params()
                ),
            ));
        }
        check_complete(dir, &config)?;
        Ok(TrainedRun {
            dir: dir.to_path_buf(),
            config,
            classes: meta.classes,
            feature_dim: meta.feature_dim,
            cache_key: meta.cache_key,
            backbone_hash: parsed.backbone_hash,
            preprocess: parsed.preprocess,
            input: parsed.input,
            head,
            best_epoch: meta.best_epoch,
            parts: parsed.parts,
        })
    }

    /// Eval-mode log-probabilities `[N,K]` of features `x` `[N,D]` (already averaged over the
    /// run's views), normalised as the run's input says. `x` must have
    /// [`TrainedRun::feature_dim`] columns (check it first; see [`TrainedRun::check_width`]).
    pub fn log_proba(&self, x: ArrayView2<f32>) -> Array2<f32> {
        if self.input.l2_normalize {
            self.head.log_proba(self.input.prepare(x).view())
        } else {
            self.head.log_proba(x)
        }
    }

    /// An error naming both widths when features of width `width` cannot be scored.
    pub fn check_width(&self, width: usize) -> Result<(), CheckpointError> {
        if width == self.feature_dim {
            return Ok(());
        }
        Err(invalid(&self.dir.join(HEAD_FILE), format!(
            "feature width mismatch: the features have {width}, the head expects {}; use features from the backbone the run was trained on",
            self.feature_dim
        )))
    }
}

/// Checks the files `metrics.json` records a hash for (all, or only those in `only`) against
/// their bytes.
pub fn verify_recorded(dir: &Path, only: Option<&[&str]>) -> Result<(), CheckpointError> {
    let m: Value = read_json(dir, METRICS_FILE)?;
    let recorded = m.get("files").and_then(Value::as_object);
    for (f, want) in recorded.into_iter().flatten() {
        if only.is_some_and(|o| !o.contains(&f.as_str())) {
            continue;
        }
        let p = dir.join(f);
        let found = file_check::hash(&p, file_check::MAX_TENSORS)
            .map_err(|e| invalid(&p, e.to_string()))?;
        if Some(found.as_str()) != want.as_str() {
            return Err(invalid(
                &p,
                format!(
                    "content hash {} differs from the {} recorded in {METRICS_FILE} (modified, truncated or swapped after training)",
                    &found[..16],
                    want.as_str().map_or("?", |w| &w[..w.len().min(16)])
                ),
            ));
        }
    }
    Ok(())
}

/// `metrics.json` is written last by `train-head`: a run without it was interrupted.
fn check_complete(dir: &Path, config: &Value) -> Result<(), CheckpointError> {
    // Anything by that name counts (a special file is refused when it is read).
    if dir.join(METRICS_FILE).exists() {
        // What eval/predict/export read; the optimizer state is checked when resuming.
        return verify_recorded(dir, Some(&[HEAD_FILE, CONFIG_FILE]));
    }
    let done = file_check::read_to_string(&dir.join(HISTORY_JSON), file_check::MAX_JSON)
        .ok()
        .and_then(|t| serde_json::from_str::<Vec<Value>>(&t).ok())
        .map_or(0, |h| h.len());
    let total = config
        .pointer("/mlp/max_epochs")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    Err(CheckpointError::Incomplete {
        dir: dir.to_path_buf(),
        done,
        total,
    })
}

/// Saves the history as `history.json` and `history.csv`.
pub fn write_history(dir: &Path, history: &[EpochRecord]) -> Result<(), CheckpointError> {
    write_json(&dir.join(HISTORY_JSON), &history)?;
    let path = dir.join(HISTORY_CSV);
    crate::head::history::write_csv(&path, history)
        .map_err(|source| CheckpointError::Write { path, source })
}

#[cfg(test)]
mod tests;
