//! All cached images of every split pooled by deterministic view, and the folds cut from them.

use crate::cache::FeatureCache;
use crate::head::data::{load_views, mean_of, HeadData};
use anyhow::{bail, Context, Result};
use ndarray::{concatenate, Array2, ArrayView2, Axis};

/// Every image of the cache, one `[N,D]` array per shared view, rows aligned across views.
pub struct Pool {
    pub views: Vec<Array2<f32>>,
    pub names: Vec<String>,
    pub labels: Vec<u32>,
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

/// Loads the `names` views of every split and pools their images.
pub fn load(cache: &FeatureCache, names: &[String]) -> Result<Pool> {
    let mut per_view: Vec<Vec<Array2<f32>>> = vec![Vec::new(); names.len()];
    let mut labels = Vec::new();
    for plan in &cache.manifest.spec.splits {
        let sv = load_views(cache, &plan.name, Some(names))
            .with_context(|| format!("loading split {} of {}", plan.name, cache.dir.display()))?;
        for (acc, v) in per_view.iter_mut().zip(sv.views) {
            acc.push(v);
        }
        labels.extend(sv.labels);
    }
    let views = per_view
        .into_iter()
        .map(|parts| {
            let v: Vec<ArrayView2<f32>> = parts.iter().map(|a| a.view()).collect();
            concatenate(Axis(0), &v).context("views of different widths")
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Pool {
        views,
        names: names.to_vec(),
        labels,
    })
}

/// One re-split: the head's train/valid data and the test views' mean with its labels.
pub struct Fold {
    pub data: HeadData,
    pub test_x: Array2<f32>,
    pub test_labels: Vec<u32>,
}

impl Pool {
    fn rows(&self, idx: &[usize]) -> (Vec<Array2<f32>>, Vec<u32>) {
        let views = self.views.iter().map(|v| v.select(Axis(0), idx)).collect();
        (views, idx.iter().map(|&i| self.labels[i]).collect())
    }

    /// The fold of index lists `(train, valid, test)` into the pool.
    pub fn fold(&self, train: &[usize], valid: &[usize], test: &[usize]) -> Fold {
        let (passes, labels) = self.rows(train);
        let (valid_views, valid_labels) = self.rows(valid);
        let (test_views, test_labels) = self.rows(test);
        Fold {
            data: HeadData {
                passes,
                labels,
                valid_x: mean_of(&valid_views),
                valid_labels,
                valid_views,
                views: self.names.clone(),
            },
            test_x: mean_of(&test_views),
            test_labels,
        }
    }

    /// Bytes of the pooled features.
    pub fn bytes(&self) -> usize {
        self.views.iter().map(|v| v.len() * 4).sum()
    }
}
