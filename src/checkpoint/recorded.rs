//! Where a run's inputs live, as the run records them: the backbone file and the feature cache.
//! `predict`, `export` (backbone) and `eval` (cache) use them when `--model`/`--features` are
//! left out; the backbone's bytes are still checked against the recorded hash by the caller.

use super::{CheckpointError, TrainedRun, CONFIG_FILE};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Key of `config.json` holding the backbone's path (absolute when it could be resolved).
pub const BACKBONE_PATH_KEY: &str = "backbone_path";

impl TrainedRun {
    /// The backbone `--model` stands for when it is not given: `config.json`'s `backbone_path`,
    /// or, for runs written before it was recorded, the path the cache's manifest records. An
    /// error names the recorded path and the fix when there is none or it is not a file.
    pub fn recorded_backbone(&self) -> Result<PathBuf, CheckpointError> {
        let recorded = self
            .config
            .get(BACKBONE_PATH_KEY)
            .and_then(Value::as_str)
            .map(PathBuf::from)
            .or_else(|| manifest_model_path(&self.recorded_features()));
        let Some(path) = recorded else {
            return Err(CheckpointError::NoBackbone {
                dir: self.dir.clone(),
            });
        };
        if !path.is_file() {
            return Err(CheckpointError::BackboneMissing {
                path,
                dir: self.dir.clone(),
                hash: self.backbone_hash.clone(),
            });
        }
        Ok(path)
    }

    /// The feature cache the run was trained on (`config.json`'s `cache_dir`).
    pub fn recorded_features(&self) -> PathBuf {
        self.config
            .get("cache_dir")
            .and_then(Value::as_str)
            .map_or_else(|| self.dir.join("features"), PathBuf::from)
    }
}

/// The model path the extract that completed the cache in `cache_dir` recorded, if readable.
fn manifest_model_path(cache_dir: &Path) -> Option<PathBuf> {
    let text = std::fs::read_to_string(cache_dir.join(crate::cache::MANIFEST)).ok()?;
    let v: Value = serde_json::from_str(&text).ok()?;
    let p = v.get("stats")?.get("model_path")?.as_str()?;
    (!p.is_empty()).then(|| PathBuf::from(p))
}

/// `model` made absolute when it exists (so a run records a path that works from any
/// directory), as given otherwise.
pub fn absolute_model_path(model: &Path) -> PathBuf {
    model.canonicalize().unwrap_or_else(|_| model.to_path_buf())
}

/// The error text when `--model` was left out and the recorded backbone's bytes differ.
pub fn changed_backbone_hint(run_dir: &Path) -> String {
    format!(
        "the backbone recorded in {} changed since the run was trained; restore it, or pass --model with the file the run's cache was extracted with",
        run_dir.join(CONFIG_FILE).display()
    )
}
