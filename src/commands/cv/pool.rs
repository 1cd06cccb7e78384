//! All cached images of every split pooled by deterministic view, and the folds cut from them.

use crate::cache::rows::{mean_of_rows, mean_of_rows_at};
use crate::cache::shard::FeatureDtype;
use crate::cache::{FeatureCache, Rows};
use crate::head::data::{load_views, HeadData};
use anyhow::{bail, Context, Result};
use ndarray::Array2;

/// Every image of the cache, one `[N,D]` block per shared view, rows aligned across views, in
/// the cache's storage type (an `f16` cache is pooled at half the memory).
pub struct Pool {
    pub views: Vec<Rows>,
    pub names: Vec<String>,
    pub labels: Vec<u32>,
    /// Each row's image as `split/class/file`, the key rows of other caches are matched by.
    pub paths: Vec<String>,
}

/// The views every split has (in train's order), and a note on what the others add.
pub fn shared_views(cache: &FeatureCache) -> Result<(Vec<String>, Vec<String>)> {
    let spec = &cache.manifest.spec;
    let per: Vec<(String, Vec<String>, u32)> = spec
        .splits
        .iter()
        .map(|p| {
            let names: Vec<String> = p.view_rows().into_iter().map(|(_, n)| n).collect();
            let aug = p.passes - names.len() as u32;
            (p.name.clone(), names, aug)
        })
        .collect();
    let Some(first) = per.first() else {
        bail!("feature cache {} has no splits", cache.dir.display());
    };
    let shared: Vec<String> = first
        .1
        .iter()
        .filter(|n| per.iter().all(|(_, ns, _)| ns.contains(n)))
        .cloned()
        .collect();
    let mut notes = Vec::new();
    for (split, names, aug) in &per {
        let extra: Vec<&str> = names
            .iter()
            .filter(|n| !shared.contains(n))
            .map(String::as_str)
            .collect();
        if !extra.is_empty() {
            notes.push(format!(
                "{split} views {} (other splits lack them)",
                extra.join(", ")
            ));
        }
        if *aug > 0 {
            notes.push(format!("{aug} augmented passes of {split} (random views that re-split images would not have)"));
        }
    }
    if shared.is_empty() {
        bail!(
            "feature cache {} has no deterministic view shared by all splits, so its images cannot be re-split; re-extract it with `pipeline extract --views centre` (or ten-crop, ten-crop+whole)",
            cache.dir.display()
        );
    }
    Ok((shared, notes))
}

/// Loads the `names` views of every split and pools their images. Each split's rows are copied
/// into the pooled arrays as soon as it is read, so loading holds the pool and one split at once.
pub fn load(cache: &FeatureCache, names: &[String]) -> Result<Pool> {
    let d = cache.manifest.spec.feature_dim;
    let total: usize = cache
        .manifest
        .spec
        .splits
        .iter()
        .map(|p| p.images.len())
        .sum();
    let half = cache.manifest.spec.dtype == FeatureDtype::F16;
    let mut views: Vec<Rows> = (0..names.len())
        .map(|_| Rows::zeros(total, d, half))
        .collect();
    let mut labels = Vec::with_capacity(total);
    let mut paths = Vec::with_capacity(total);
    for plan in &cache.manifest.spec.splits {
        let sv = load_views(cache, &plan.name, Some(names))
            .with_context(|| format!("loading split {} of {}", plan.name, cache.dir.display()))?;
        let (start, n) = (labels.len(), sv.labels.len());
        if start + n > total {
            bail!(
                "feature cache {}: split {} has more rows than its manifest lists images; re-run `pipeline extract`",
                cache.dir.display(),
                plan.name
            );
        }
        for (acc, v) in views.iter_mut().zip(&sv.views) {
            if v.ncols() != d {
                bail!(
                    "feature cache {}: split {} has {}-d features, the manifest says {d}; re-run `pipeline extract`",
                    cache.dir.display(),
                    plan.name,
                    v.ncols()
                );
            }
            acc.assign_rows(start, v);
        }
        labels.extend(sv.labels);
        paths.extend(sv.paths.iter().map(|p| format!("{}/{p}", plan.name)));
    }
    let n = labels.len();
    let views = views.into_iter().map(|v| v.truncate(n)).collect();
    Ok(Pool {
        views,
        names: names.to_vec(),
        labels,
        paths,
    })
}

/// One re-split: the head's train/valid data and the test views' mean with its labels.
pub struct Fold {
    pub data: HeadData,
    pub test_x: Array2<f32>,
    pub test_labels: Vec<u32>,
}

impl Pool {
    fn rows(&self, idx: &[usize]) -> (Vec<Rows>, Vec<u32>) {
        let views = self.views.iter().map(|v| v.select(idx)).collect();
        (views, idx.iter().map(|&i| self.labels[i]).collect())
    }

    /// The fold of index lists `(train, valid, test)` into the pool.
    pub fn fold(&self, train: &[usize], valid: &[usize], test: &[usize]) -> Fold {
        let (passes, labels) = self.rows(train);
        let (valid_views, valid_labels) = self.rows(valid);
        let test_x = mean_of_rows_at(&self.views, test);
        let test_labels = test.iter().map(|&i| self.labels[i]).collect();
        Fold {
            data: HeadData {
                passes,
                labels,
                valid_x: mean_of_rows(&valid_views),
                valid_labels,
                valid_views,
                views: self.names.clone(),
            },
            test_x,
            test_labels,
        }
    }

    /// Bytes of the pooled features.
    pub fn bytes(&self) -> usize {
        self.views.iter().map(Rows::bytes).sum()
    }
}
