//! The features a head trains on, read from the feature cache: every cached row set of `train`
//! (deterministic views and augmented passes, rows aligned across them) and `valid` both as its
//! view rows (for a refit on train+valid) and as their per-image mean (test-time averaging).
//! Row sets are held in the cache's storage type: an `f16` cache stays `f16` in memory and is
//! widened where it is read ([`Rows`]).

use crate::cache::rows::mean_of_rows;
use crate::cache::{CacheError, FeatureCache, Rows};
use ndarray::Array2;
use std::path::PathBuf;

/// Training views and validation features of one cache.
#[derive(Debug, Clone)]
pub struct HeadData {
    /// `P` blocks `[N,D]`; row `i` is training image `i` in every pass.
    pub passes: Vec<Rows>,
    /// `N` labels, each `< K`.
    pub labels: Vec<u32>,
    /// `[M,D]`: the mean of each valid image's deterministic views.
    pub valid_x: Array2<f32>,
    /// `M` labels, each `< K`.
    pub valid_labels: Vec<u32>,
    /// `V` blocks `[M,D]`: the deterministic views of valid, one block per view.
    pub valid_views: Vec<Rows>,
    /// Names of the views averaged at eval time (`centre` alone for an older cache).
    pub views: Vec<String>,
}

/// The deterministic views of one split, rows aligned across views.
#[derive(Debug, Clone)]
pub struct SplitViews {
    pub views: Vec<Rows>,
    pub names: Vec<String>,
    pub labels: Vec<u32>,
    pub paths: Vec<String>,
}

impl SplitViews {
    /// `[N,D]`: each image's mean over its views.
    pub fn mean(&self) -> Array2<f32> {
        mean_of_rows(&self.views)
    }
}

/// Loads the deterministic view rows of `split` named in `only` (all of them when `None`);
/// every name in `only` must be cached.
pub fn load_views(
    cache: &FeatureCache,
    split: &str,
    only: Option<&[String]>,
) -> Result<SplitViews, DataError> {
    let plan = cache.plan(split).map_err(DataError::Cache)?;
    let all = plan.view_rows();
    if let Some(want) = only {
        let missing: Vec<&str> = want
            .iter()
            .filter(|w| !all.iter().any(|(_, n)| n == *w))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            return Err(DataError::MissingViews {
                dir: cache.dir.clone(),
                split: split.to_owned(),
                missing: missing.join(", "),
            });
        }
    }
    let rows: Vec<(u32, String)> = all
        .into_iter()
        .filter(|(_, n)| only.is_none_or(|o| o.contains(n)))
        .collect();
    if rows.is_empty() {
        return Err(DataError::NoViews {
            dir: cache.dir.clone(),
            split: split.to_owned(),
        });
    }
    let first = cache.load_rows(split, rows[0].0)?;
    let mut views = vec![first.features];
    for &(pass, _) in &rows[1..] {
        let p = cache.load_rows(split, pass)?;
        if p.paths != first.paths {
            return Err(DataError::PassMismatch {
                dir: cache.dir.clone(),
                pass,
                rows: p.labels.len(),
                rows0: first.labels.len(),
            });
        }
        views.push(p.features);
    }
    check_labels(cache, split, &first.labels)?;
    Ok(SplitViews {
        views,
        names: rows.into_iter().map(|(_, n)| n).collect(),
        labels: first.labels,
        paths: first.paths,
    })
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
    #[error("feature cache {dir}: the `{split}` split has no deterministic views (only augmented passes); re-extract with `--views centre` or more")]
    NoViews { dir: PathBuf, split: String },
    #[error("feature cache {dir}: the `{split}` split lacks the view(s) {missing} the head averages; extract the cache with the same --views as the one it was trained on")]
    MissingViews {
        dir: PathBuf,
        split: String,
        missing: String,
    },
    #[error("feature caches {first} and {other} do not hold the same images ({what}); concatenated features need caches of one split tree (`pipeline run --model A`, then `--model B`, into the same --workdir)")]
    NotSameImages {
        first: PathBuf,
        other: PathBuf,
        what: String,
    },
    #[error("feature caches {first} and {other} hold other views ({what}); extract both with the same --views and --passes")]
    OtherViews {
        first: PathBuf,
        other: PathBuf,
        what: String,
    },
    #[error("feature cache {dir}: split `{split}` has label {label}, but only {classes} classes; rebuild it with `pipeline extract --force`")]
    Label {
        dir: PathBuf,
        split: String,
        label: u32,
        classes: usize,
    },
}

fn check_labels(cache: &FeatureCache, split: &str, labels: &[u32]) -> Result<(), DataError> {
    let k = cache.classes().len();
    match labels.iter().find(|&&y| y as usize >= k) {
        Some(&label) => Err(DataError::Label {
            dir: cache.dir.clone(),
            label,
            split: split.to_owned(),
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
    let first = cache.load_rows("train", 0)?;
    let mut passes = vec![first.features];
    for pass in 1..cache.split_passes("train") {
        let p = cache.load_rows("train", pass)?;
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
    let valid = load_views(cache, "valid", None)?;
    check_labels(cache, "train", &first.labels)?;
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
        valid_x: valid.mean(),
        valid_labels: valid.labels,
        valid_views: valid.views,
        views: valid.names,
    })
}
