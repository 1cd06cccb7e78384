//! Part `audit`: what the cached features say about the data itself — likely label errors
//! (out-of-fold predictions ranked confident-learning style), near-duplicate pairs (feature
//! cosine, flagged when they cross splits) and outliers (far from every class centre).
//!
//! Every image is one row: the mean of all its cached rows (its views and passes), then mean-centred
//! over the whole set and L2-normalised. Shapes: `N` images, `D` features, `K` classes.

mod labels;
mod neighbours;
mod softmax;

use crate::cache::{CacheError, FeatureCache};
use ndarray::{Array2, Axis};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

pub use labels::find_label_issues;
pub use neighbours::{near_duplicates, outliers};
pub use softmax::out_of_fold;

/// Settings of one audit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AuditConfig {
    /// Folds of the out-of-fold predictions (≥ 2).
    pub folds: usize,
    /// Cosine (of centred, L2-normalised features) at or above which two images are near-duplicates.
    pub dup_threshold: f32,
    /// Robust z-score (median/MAD) of the distance to the nearest class centre that makes an outlier.
    pub outlier_z: f32,
    /// Seed of the fold assignment.
    pub seed: u64,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            folds: 5,
            dup_threshold: 0.90,
            outlier_z: 3.5,
            seed: 0,
        }
    }
}

/// An image whose given label the out-of-fold model doubts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelIssue {
    /// `split/class/file` inside the split tree.
    pub path: String,
    pub given: String,
    pub suggested: String,
    /// `p(suggested) − p(given)` out of fold, in (0, 1]; higher is more suspicious.
    pub score: f32,
    pub p_given: f32,
    pub p_suggested: f32,
}

/// Two images whose features are nearly the same.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NearDuplicate {
    pub a: String,
    pub b: String,
    pub similarity: f32,
    /// The two lie in different splits (leakage).
    pub cross_split: bool,
}

/// An image far from every class centre.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outlier {
    pub path: String,
    pub class: String,
    /// `1 − max_k cos(x, centre_k)` (own class centre without the image itself).
    pub score: f32,
    /// Robust z-score of `score` over all images.
    pub z: f32,
    pub nearest: String,
}

/// `audit.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditReport {
    /// Most suspicious first.
    pub label_issues: Vec<LabelIssue>,
    /// Most similar first.
    pub near_duplicates: Vec<NearDuplicate>,
    /// Farthest first.
    pub outliers: Vec<Outlier>,
    pub images: usize,
    pub classes: usize,
    /// Top-1 of the out-of-fold predictions over all images.
    pub oof_accuracy: f64,
    pub config: AuditConfig,
    pub cache_key: String,
}

/// Why an audit could not run.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error(transparent)]
    Cache(#[from] CacheError),
    #[error("feature cache {dir} holds {images} usable images in {classes} classes; the audit needs at least 2 classes and {folds} images (one per fold)")]
    TooSmall {
        dir: String,
        images: usize,
        classes: usize,
        folds: usize,
    },
    #[error("--folds {0} is too small; use 2 or more")]
    Folds(usize),
}

/// One row per image.
#[derive(Debug, Clone)]
pub struct ImageSet {
    /// `[N,D]`, centred and L2-normalised.
    pub x: Array2<f32>,
    pub labels: Vec<u32>,
    /// `split/rel_path`.
    pub paths: Vec<String>,
    pub splits: Vec<String>,
    pub classes: Vec<String>,
}

/// Reads every cached row and averages each image's rows (all views and passes of every split).
pub fn load_images(cache: &FeatureCache) -> Result<ImageSet, CacheError> {
    let d = cache.feature_dim();
    let mut index: HashMap<String, usize> = HashMap::new();
    let (mut sums, mut counts): (Vec<Vec<f32>>, Vec<u32>) = (Vec::new(), Vec::new());
    let (mut labels, mut paths, mut splits) = (Vec::new(), Vec::new(), Vec::new());
    for plan in &cache.manifest.spec.splits {
        for pass in 0..plan.passes {
            let f = cache.load(&plan.name, pass)?;
            for ((row, p), &y) in f.features.rows().into_iter().zip(&f.paths).zip(&f.labels) {
                let key = format!("{}/{p}", plan.name);
                let i = *index.entry(key.clone()).or_insert_with(|| {
                    sums.push(vec![0.0; d]);
                    counts.push(0);
                    labels.push(y);
                    paths.push(key);
                    splits.push(plan.name.clone());
                    counts.len() - 1
                });
                sums[i].iter_mut().zip(row).for_each(|(s, v)| *s += v);
                counts[i] += 1;
            }
        }
    }
    let n = counts.len();
    let mut x = Array2::<f32>::zeros((n, d));
    for (i, (s, &c)) in sums.iter().zip(&counts).enumerate() {
        x.row_mut(i)
            .iter_mut()
            .zip(s)
            .for_each(|(o, v)| *o = v / c as f32);
    }
    normalise(&mut x);
    Ok(ImageSet {
        x,
        labels,
        paths,
        splits,
        classes: cache.classes().to_vec(),
    })
}

/// In place: subtracts the column means, then scales every row to unit length (zero rows stay zero).
pub fn normalise(x: &mut Array2<f32>) {
    if let Some(mean) = x.mean_axis(Axis(0)) {
        *x -= &mean;
    }
    for mut row in x.rows_mut() {
        let norm = row.dot(&row).sqrt();
        if norm > 1e-12 {
            row /= norm;
        }
    }
}

/// Runs all three checks on an image set.
pub fn audit_images(set: &ImageSet, cfg: &AuditConfig) -> Result<AuditReport, AuditError> {
    if cfg.folds < 2 {
        return Err(AuditError::Folds(cfg.folds));
    }
    let k = set.classes.len();
    let n = set.labels.len();
    if k < 2 || n < cfg.folds {
        return Err(AuditError::TooSmall {
            dir: String::new(),
            images: n,
            classes: k,
            folds: cfg.folds,
        });
    }
    let proba = out_of_fold(set.x.view(), &set.labels, k, cfg.folds, cfg.seed);
    let correct = proba
        .rows()
        .into_iter()
        .zip(&set.labels)
        .filter(|(row, &y)| labels::argmax(row.as_slice().unwrap_or(&[])) == y as usize)
        .count();
    Ok(AuditReport {
        label_issues: find_label_issues(proba.view(), set),
        near_duplicates: near_duplicates(set, cfg.dup_threshold),
        outliers: outliers(set, cfg.outlier_z),
        images: n,
        classes: k,
        oof_accuracy: correct as f64 / n.max(1) as f64,
        config: *cfg,
        cache_key: String::new(),
    })
}

/// Opens nothing, writes nothing: audits an opened cache.
pub fn audit(cache: &FeatureCache, cfg: &AuditConfig) -> Result<AuditReport, AuditError> {
    let set = load_images(cache)?;
    let mut r = audit_images(&set, cfg).map_err(|e| match e {
        AuditError::TooSmall {
            images,
            classes,
            folds,
            ..
        } => AuditError::TooSmall {
            dir: cache.dir.display().to_string(),
            images,
            classes,
            folds,
        },
        other => other,
    })?;
    r.cache_key = cache.key().to_string();
    Ok(r)
}
