//! The features a head trains on, read from the feature cache: every cached pass of `train`
//! (rows aligned across passes) and the eval view of `valid`.

use crate::cache::{CacheError, FeatureCache};
use ndarray::Array2;
use std::path::PathBuf;

/// Training views and validation features of one cache.
#[derive(Debug, Clone)]
pub struct HeadData {
    /// `P` arrays `[N,D]`; row `i` is training image `i` in every pass.
    pub passes: Vec<Array2<f32>>,
    /// `N` labels, each `< K`.
    pub labels: Vec<u32>,
    /// `[M,D]`.
    pub valid_x: Array2<f32>,
    /// `M` labels, each `< K`.
    pub valid_labels: Vec<u32>,
}

/// Why the cache cannot be trained on.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error(transparent)]
    Cache(#[from] CacheError),
    #[error("feature cache {dir} has no `{split}` split; train-head needs `train` and `valid` (extract a split tree with both: `pipeline split`, then `pipeline extract`)")]
    NoSplit { dir: PathBuf, split: &'static str },
    #[error("feature cache {dir}: the `{split}` split has no images; add images to it and re-run extract")]
    Empty { dir: PathBuf, split: &'static str },
    #[error("feature cache {dir}: train pass {pass} lists other images than pass 0 ({rows} rows vs {rows0}); rebuild it with `pipeline extract --force`")]
    PassMismatch {
        dir: PathBuf,
        pass: u32,
        rows: usize,
        rows0: usize,
    },
    #[error("feature cache {dir}: split `{split}` has label {label}, but only {classes} classes; rebuild it with `pipeline extract --force`")]
    Label {
        dir: PathBuf,
        split: &'static str,
        label: u32,
        classes: usize,
    },
}

fn check_labels(
    cache: &FeatureCache,
    split: &'static str,
    labels: &[u32],
) -> Result<(), DataError> {
    let k = cache.classes().len();
    match labels.iter().find(|&&y| y as usize >= k) {
        Some(&label) => Err(DataError::Label {
            dir: cache.dir.clone(),
            split,
            label,
            classes: k,
        }),
        None => Ok(()),
    }
}

/// Loads all train passes and the valid split.
pub fn load(cache: &FeatureCache) -> Result<HeadData, DataError> {
    for split in ["train", "valid"] {
        if !cache.has_split(split) {
            return Err(DataError::NoSplit {
                dir: cache.dir.clone(),
                split,
            });
        }
    }
    let first = cache.load("train", 0)?;
    let mut passes = vec![first.features];
    for pass in 1..cache.split_passes("train") {
        let p = cache.load("train", pass)?;
        if p.paths != first.paths {
            let (rows, rows0) = (p.labels.len(), first.labels.len());
            return Err(DataError::PassMismatch {
                dir: cache.dir.clone(),
                pass,
                rows,
                rows0,
            });
        }
        passes.push(p.features);
    }
    let valid = cache.load("valid", 0)?;
    check_labels(cache, "train", &first.labels)?;
    check_labels(cache, "valid", &valid.labels)?;
    if first.labels.is_empty() {
        return Err(DataError::Empty {
            dir: cache.dir.clone(),
            split: "train",
        });
    }
    if valid.labels.is_empty() {
        return Err(DataError::Empty {
            dir: cache.dir.clone(),
            split: "valid",
        });
    }
    Ok(HeadData {
        passes,
        labels: first.labels,
        valid_x: valid.features,
        valid_labels: valid.labels,
    })
}
