//! `RUN/novelty.safetensors`: the reference rows (`reference` `[R, D]` f32, unit rows) with
//! `__metadata__` keys `format` (`pipeline-novelty`), `schema_version`, `score` (`knn-cosine`),
//! `k`, `threshold`, `calibration` (JSON, [`Calibration`]), `feature_dim`, `cache_key`,
//! `tool_version`. Written by `train-head` before `metrics.json`, which records its hash; a run
//! without it (made by an older build) predicts without the unknown flag.

use super::{Calibration, Novelty};
use crate::head::tensor_file::{TensorFileError, TensorReader, TensorWriter};
use ndarray::Ix2;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub const NOVELTY_FILE: &str = "novelty.safetensors";
/// Value of the `format` metadata key.
pub const NOVELTY_FORMAT: &str = "pipeline-novelty";
/// Version of the file's layout this build writes and reads.
pub const NOVELTY_SCHEMA: u32 = 1;
/// Value of the `score` metadata key: the only score this build computes.
pub const SCORE: &str = "knn-cosine";

/// Why `novelty.safetensors` cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum NoveltyFileError {
    #[error("{path}: {reason}; retrain the run (`pipeline train-head --force`) to rewrite it, or delete the file to predict without the unknown flag", path = path.display())]
    Invalid { path: PathBuf, reason: String },
    #[error(transparent)]
    Tensor(#[from] TensorFileError),
}

/// A read error as one line (the file's error without its source chain).
fn unreadable(path: &Path, e: TensorFileError) -> NoveltyFileError {
    let reason = match e {
        TensorFileError::Read { source, .. } => format!("unreadable ({source})"),
        TensorFileError::Corrupt { source, .. } => {
            format!("not a valid safetensors file ({source})")
        }
        TensorFileError::Missing { name, .. } => format!("has no tensor `{name}`"),
        TensorFileError::Dtype { name, found, .. } => {
            format!("tensor `{name}` is {found:?}, not F32")
        }
        TensorFileError::Write { source, .. } => source.to_string(),
    };
    invalid(path, reason)
}

fn invalid(path: &Path, reason: impl Into<String>) -> NoveltyFileError {
    NoveltyFileError::Invalid {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Writes `dir/novelty.safetensors` for a run on cache `cache_key`.
pub fn write(dir: &Path, n: &Novelty, cache_key: &str) -> Result<(), NoveltyFileError> {
    let path = dir.join(NOVELTY_FILE);
    let mut w = TensorWriter::default();
    w.add("reference", n.reference.view().into_dyn());
    let calibration =
        serde_json::to_string(&n.calibration).map_err(|e| invalid(&path, e.to_string()))?;
    w.meta("format", NOVELTY_FORMAT);
    w.meta("schema_version", NOVELTY_SCHEMA.to_string());
    w.meta("score", SCORE);
    w.meta("k", n.k.to_string());
    w.meta("threshold", n.threshold.to_string());
    w.meta("calibration", calibration);
    w.meta("feature_dim", n.feature_dim().to_string());
    w.meta("cache_key", cache_key);
    w.meta("tool_version", env!("CARGO_PKG_VERSION"));
    w.write(&path, safetensors::Dtype::F32)?;
    Ok(())
}

/// Checks the file's bytes against the hash `metrics.json` records for it (if both exist).
pub fn verify_hash(dir: &Path) -> Result<(), NoveltyFileError> {
    if !dir.join(NOVELTY_FILE).exists() {
        return Ok(());
    }
    crate::checkpoint::verify_recorded(dir, Some(&[NOVELTY_FILE]))
        .map_err(|e| invalid(&dir.join(NOVELTY_FILE), e.to_string()))
}

/// Reads `dir/novelty.safetensors` of a run with features of width `feature_dim` from cache
/// `cache_key`; `None` when the run has none.
pub fn read(
    dir: &Path,
    feature_dim: usize,
    cache_key: &str,
) -> Result<Option<Novelty>, NoveltyFileError> {
    let path = dir.join(NOVELTY_FILE);
    if !path.exists() {
        return Ok(None);
    }
    let r = TensorReader::open(&path).map_err(|e| unreadable(&path, e))?;
    let meta = r.metadata().map_err(|e| unreadable(&path, e))?;
    let field = |key: &str| -> Result<&String, NoveltyFileError> {
        meta.get(key)
            .ok_or_else(|| invalid(&path, format!("no `{key}` in its metadata")))
    };
    if field("format")? != NOVELTY_FORMAT {
        return Err(invalid(&path, format!("format is not `{NOVELTY_FORMAT}`")));
    }
    let version = field("schema_version")?;
    if version != &NOVELTY_SCHEMA.to_string() {
        return Err(invalid(
            &path,
            format!("schema_version {version}, this build reads {NOVELTY_SCHEMA}"),
        ));
    }
    if field("score")? != SCORE {
        return Err(invalid(
            &path,
            format!("score `{}`, this build computes `{SCORE}`", field("score")?),
        ));
    }
    if field("cache_key")? != cache_key {
        return Err(invalid(
            &path,
            "it belongs to a run on another feature cache",
        ));
    }
    let reference = r
        .array::<f32>("reference")
        .map_err(|e| unreadable(&path, e))?
        .into_dimensionality::<Ix2>()
        .map_err(|_| invalid(&path, "`reference` is not a matrix"))?;
    let rows = reference.nrows();
    if reference.ncols() != feature_dim
        || parse::<usize>(&path, &meta, "feature_dim")? != feature_dim
    {
        return Err(invalid(
            &path,
            format!(
                "feature width {} differs from the run's {feature_dim}",
                reference.ncols()
            ),
        ));
    }
    let unit = reference.rows().into_iter().all(|row| {
        let n = crate::head::input::l2_norm(row);
        n.is_finite() && (n == 0.0 || (n - 1.0).abs() < 1e-3)
    });
    if !unit {
        return Err(invalid(&path, "a `reference` row is not of unit length"));
    }
    let k = parse::<usize>(&path, &meta, "k")?;
    if k == 0 || k >= rows {
        return Err(invalid(
            &path,
            format!("k = {k} with {rows} reference rows"),
        ));
    }
    let threshold = parse::<f32>(&path, &meta, "threshold")?;
    if !threshold.is_finite() {
        return Err(invalid(
            &path,
            format!("threshold {threshold} is not finite"),
        ));
    }
    let calibration: Calibration = serde_json::from_str(field("calibration")?)
        .map_err(|e| invalid(&path, format!("`calibration`: {e}")))?;
    Ok(Some(Novelty {
        reference,
        k,
        threshold,
        calibration,
    }))
}

fn parse<T: std::str::FromStr>(
    path: &Path,
    meta: &HashMap<String, String>,
    key: &str,
) -> Result<T, NoveltyFileError> {
    meta.get(key)
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| invalid(path, format!("`{key}` is missing or not a number")))
}
