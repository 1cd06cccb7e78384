//! Part `audit`: what the cached features (and, for near-duplicates, the images' pixels) say
//! about the data itself — likely label errors and hard images (out-of-fold predictions ranked
//! confident-learning style, a doubt called a label error only where a near-duplicate or the
//! image's nearest neighbours agree; shown as far as the out-of-fold model can be trusted),
//! near-duplicate pairs (a ratio
//! test against each image's neighbours, in features and in thumbnails; flagged when they cross
//! splits) and outliers (far from every class centre). Every threshold is set relative to the
//! data set; `explain` words each one.
//!
//! Every image is one row: the mean of all its cached rows (its views and passes), then mean-centred
//! over the whole set and L2-normalised. Shapes: `N` images, `D` features, `K` classes.

mod duplicates;
pub mod explain;
pub mod knn;
mod labels;
mod neighbours;
mod softmax;
pub mod thumbnails;
mod verdict;

use crate::cache::{CacheError, FeatureCache};
use ndarray::{Array2, Axis};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub use duplicates::{near_duplicates, DuplicateCheck};
pub use labels::{find_label_issues, LabelCheck, LabelTrust};
pub use neighbours::{outliers, OutlierCheck};
pub use softmax::out_of_fold;
pub use verdict::{split_doubts, Verdict, KNN};

/// Schema version of `audit.json` this build writes. 1 (no field): every doubt was listed in
/// `label_issues`; 2: `label_issues` holds the likely label errors and `hard_images` the rest.
/// Older files still load (missing fields take their defaults).
pub const AUDIT_SCHEMA: u32 = 2;

/// Settings of one audit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AuditConfig {
    /// Folds of the out-of-fold predictions (≥ 2).
    pub folds: usize,
    /// A pair is a near-duplicate when its distance is at most this fraction of the distance from
    /// either image to its third-nearest neighbour (in features or in thumbnails).
    pub dup_ratio: f32,
    /// Robust z-score (median/MAD) of the distance to the nearest class centre that makes an outlier.
    pub outlier_z: f32,
    /// Seed of the fold assignment and, above [`knn::EXACT_MAX`] images, of the neighbour search.
    pub seed: u64,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            folds: 5,
            dup_ratio: 0.5,
            outlier_z: 3.5,
            seed: 0,
        }
    }
}

/// An image whose given label the out-of-fold model doubts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LabelIssue {
    /// `split/class/file` inside the split tree.
    pub path: String,
    pub given: String,
    pub suggested: String,
    /// `p(suggested) − p(given)` out of fold, in (0, 1]; higher is more suspicious.
    pub score: f32,
    pub p_given: f32,
    pub p_suggested: f32,
    /// Of the image's nearest images in feature space (`verdict::KNN`), how many are filed under
    /// `suggested`.
    #[serde(default)]
    pub neighbours_suggested: usize,
    /// Other images confused between `given` and `suggested` out of fold (either way); above 0 the
    /// pair is confusable and its doubts are hard images.
    #[serde(default)]
    pub pair_confusions: usize,
    /// A near-duplicate of this image filed under `suggested`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duplicate_of: Option<String>,
}

/// Two images far more alike than either is to its other neighbours.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NearDuplicate {
    pub a: String,
    pub b: String,
    /// Feature cosine (centred, L2-normalised).
    pub similarity: f32,
    /// Correlation of the two 16×16 colour thumbnails, when both have one.
    pub pixel_similarity: Option<f32>,
    /// The pair's distance over the farther reference-neighbour distance of its two images, in the
    /// space(s) where it stands out (the smaller); lower is more outstanding.
    pub ratio: f32,
    /// Where it stands out: `features`, `pixels` or `features+pixels`.
    pub evidence: String,
    /// The two lie in different splits (leakage).
    pub cross_split: bool,
    /// The two carry different labels: the same picture filed twice, at least once wrongly.
    pub label_conflict: bool,
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
    /// [`AUDIT_SCHEMA`]; 1 when the file has none.
    #[serde(default = "schema_v1")]
    pub schema_version: u32,
    /// Likely label errors (a doubt that a near-duplicate or the nearest neighbours back), most
    /// suspicious first; as many as the out-of-fold model's trust allows (see `label_check`).
    pub label_issues: Vec<LabelIssue>,
    /// The other doubts: images the model finds hard, most likely correctly labelled.
    #[serde(default)]
    pub hard_images: Vec<LabelIssue>,
    /// How far the label check can be trusted on this data set, and how many issues it found.
    pub label_check: LabelCheck,
    /// Most outstanding first.
    pub near_duplicates: Vec<NearDuplicate>,
    /// The near-duplicate thresholds as they came out on this data set.
    pub duplicate_check: DuplicateCheck,
    /// Farthest first.
    pub outliers: Vec<Outlier>,
    /// The outlier scores' median and spread on this data set.
    pub outlier_check: OutlierCheck,
    pub images: usize,
    pub classes: usize,
    /// Top-1 of the out-of-fold predictions over all images.
    pub oof_accuracy: f64,
    pub config: AuditConfig,
    pub cache_key: String,
}

fn schema_v1() -> u32 {
    1
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
    /// blake3 of each image's bytes as the cache recorded them.
    pub hashes: Vec<Option<String>>,
}

/// Reads every cached row and averages each image's rows (all views and passes of every split).
pub fn load_images(cache: &FeatureCache) -> Result<ImageSet, CacheError> {
    let d = cache.feature_dim();
    let mut index: HashMap<String, usize> = HashMap::new();
    let (mut sums, mut counts): (Vec<Vec<f32>>, Vec<u32>) = (Vec::new(), Vec::new());
    let (mut labels, mut paths, mut splits, mut hashes) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for plan in &cache.manifest.spec.splits {
        let recorded: HashMap<&str, &str> = plan
            .images
            .iter()
            .map(|im| (im.rel_path.as_str(), im.blake3.as_str()))
            .collect();
        for pass in 0..plan.passes {
            let f = cache.load(&plan.name, pass)?;
            for ((row, p), &y) in f.features.rows().into_iter().zip(&f.paths).zip(&f.labels) {
                let key = format!("{}/{p}", plan.name);
                let i = *index.entry(key.clone()).or_insert_with(|| {
                    sums.push(vec![0.0; d]);
                    counts.push(0);
                    labels.push(y);
                    hashes.push(recorded.get(p.as_str()).map(|h| h.to_string()));
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
        hashes,
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

/// Runs all three checks on an image set; `images` is the split tree the set's paths are
/// relative to (thumbnails for the pixel side of the near-duplicate check), `None` to skip it.
pub fn audit_images(
    set: &ImageSet,
    cfg: &AuditConfig,
    images: Option<&Path>,
) -> Result<AuditReport, AuditError> {
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
    let oof_accuracy = correct as f64 / n.max(1) as f64;
    let doubts = find_label_issues(proba.view(), set);
    let found = doubts.len();
    let (thumbs, note) = pixels(set, images);
    // one neighbour search in features serves both the near-duplicate and the label check
    let near = knn::top_neighbours(
        set.x.view(),
        &vec![true; n],
        KNN.max(duplicates::NEIGHBOUR),
        cfg.seed,
    );
    let (near_duplicates, duplicate_check) =
        near_duplicates(set, &near, thumbs.as_ref(), cfg.dup_ratio, note, cfg.seed);
    let t = labels::thresholds(proba.view(), &set.labels);
    let Verdict { errors, hard } =
        split_doubts(proba.view(), &t, set, &near, doubts, &near_duplicates);
    let label_check = LabelCheck::assess(oof_accuracy, &set.labels, k, found)
        .with_split(errors.len(), hard.len());
    let mut label_issues = errors;
    label_issues.truncate(label_check.shown);
    let mut hard_images = hard;
    hard_images.truncate(label_check.hard_shown);
    let (outliers, outlier_check) = outliers(set, cfg.outlier_z);
    Ok(AuditReport {
        schema_version: AUDIT_SCHEMA,
        label_issues,
        hard_images,
        label_check,
        near_duplicates,
        duplicate_check,
        outliers,
        outlier_check,
        images: n,
        classes: k,
        oof_accuracy,
        config: *cfg,
        cache_key: String::new(),
    })
}

/// Thumbnails of the set's images under `root`, or why there are none (or some are missing).
fn pixels(set: &ImageSet, root: Option<&Path>) -> (Option<thumbnails::Thumbnails>, String) {
    let Some(root) = root else {
        return (
            None,
            "skipped: the cache does not record its image folder (made by an older pipeline); pass --images SPLIT_TREE to check pixels too".into(),
        );
    };
    if !root.is_dir() {
        return (
            None,
            format!(
                "skipped: the images are no longer at {}; pass --images SPLIT_TREE to check pixels too",
                root.display()
            ),
        );
    }
    let t = thumbnails::thumbnails(&thumbnails::sources(root, &set.paths, &set.hashes));
    let usable = t.ok.iter().filter(|&&o| o).count();
    if usable < 2 {
        let first = t.problems.first().cloned().unwrap_or_default();
        return (
            None,
            format!(
                "skipped: {} of {} images under {} have no thumbnail (first: {first})",
                t.missing,
                set.paths.len(),
                root.display()
            ),
        );
    }
    let note = if t.missing == 0 {
        String::new()
    } else {
        format!(
            "{} of {} images have no thumbnail and are judged by features only ({})",
            t.missing,
            set.paths.len(),
            t.problems.join("; ")
        )
    };
    (Some(t), note)
}

/// Median of a slice (0 when empty).
pub(crate) fn median(v: &[f32]) -> f32 {
    if v.is_empty() {
        return 0.0;
    }
    let mut v = v.to_vec();
    v.sort_by(f32::total_cmp);
    let m = v.len() / 2;
    if v.len().is_multiple_of(2) {
        (v[m - 1] + v[m]) / 2.0
    } else {
        v[m]
    }
}

/// Opens nothing, writes nothing: audits an opened cache. `images` overrides the split tree the
/// cache records (for the pixel check).
pub fn audit(
    cache: &FeatureCache,
    cfg: &AuditConfig,
    images: Option<&Path>,
) -> Result<AuditReport, AuditError> {
    let set = load_images(cache)?;
    let recorded = &cache.manifest.stats.images_root;
    let root = images
        .map(Path::to_path_buf)
        .or_else(|| (!recorded.is_empty()).then(|| PathBuf::from(recorded)));
    let mut r = audit_images(&set, cfg, root.as_deref()).map_err(|e| match e {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_audit_json_of_schema_1_still_loads() {
        // as written before hard images: no schema_version, hard_images or per-issue evidence
        let old = serde_json::json!({
            "label_issues": [{"path": "train/a/1.png", "given": "a", "suggested": "b",
                "score": 0.5, "p_given": 0.2, "p_suggested": 0.7}],
            "label_check": {"trust": "informative", "chance": 0.5, "kappa": 0.8,
                "found": 1, "shown": 1},
            "near_duplicates": [],
            "duplicate_check": {"ratio": 0.5, "neighbour": 3, "feature_median_nn": 0.6,
                "feature_median_reference": 0.8, "pixel_median_nn": null,
                "pixel_median_reference": null, "pixel_images": 0, "pixel_note": ""},
            "outliers": [],
            "outlier_check": {"median": 0.4, "robust_sd": 0.1},
            "images": 10, "classes": 2, "oof_accuracy": 0.9,
            "config": {"folds": 5, "dup_ratio": 0.5, "outlier_z": 3.5, "seed": 0},
            "cache_key": "k"
        });
        let r: AuditReport = serde_json::from_value(old).unwrap();
        assert_eq!((r.schema_version, r.hard_images.len()), (1, 0));
        assert_eq!(r.label_issues[0].duplicate_of, None);
        assert!(explain::labels(&r).contains("predates the split"));
        let back = serde_json::to_value(&r).unwrap();
        let again: AuditReport = serde_json::from_value(back).unwrap();
        assert_eq!(again, r);
    }
}
