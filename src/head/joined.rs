//! Features of several caches of the same images joined column-wise: each image's row is its
//! features from the first cache, then the second's, … (`[N, D1 + D2 + …]`), as a head trained on
//! two backbones' concatenated features reads them. The caches must list the same images in the
//! same splits (extracted from one split tree), so rows align by position; that is checked.

use super::data::{self, DataError, HeadData, SplitViews};
use crate::cache::rows::{hstack, mean_of_rows};
use crate::cache::{FeatureCache, Rows};

/// The first difference between two caches' classes or split image lists, if any.
fn difference(a: &FeatureCache, b: &FeatureCache) -> Option<String> {
    if a.classes() != b.classes() {
        return Some(format!(
            "{} vs {} classes",
            a.classes().len(),
            b.classes().len()
        ));
    }
    let (sa, sb) = (&a.manifest.spec.splits, &b.manifest.spec.splits);
    for p in sa {
        let Some(q) = sb.iter().find(|q| q.name == p.name) else {
            return Some(format!("no `{}` split in the second", p.name));
        };
        if p.images.len() != q.images.len() {
            return Some(format!(
                "{} vs {} `{}` images",
                p.images.len(),
                q.images.len(),
                p.name
            ));
        }
        if let Some((x, _)) =
            p.images.iter().zip(&q.images).find(|(x, y)| {
                (&x.rel_path, x.label, &x.blake3) != (&y.rel_path, y.label, &y.blake3)
            })
        {
            return Some(format!("`{}/{}` differs", p.name, x.rel_path));
        }
    }
    let skipped = |c: &FeatureCache| -> Vec<(String, String)> {
        let s = &c.manifest.skipped;
        s.iter()
            .map(|k| (k.split.clone(), k.rel_path.clone()))
            .collect()
    };
    (sa.len() != sb.len() || skipped(a) != skipped(b))
        .then(|| "other splits or skipped images".to_owned())
}

/// Refuses caches that do not hold the same images in the same splits.
pub fn check_same_images(caches: &[FeatureCache]) -> Result<(), DataError> {
    let Some(first) = caches.first() else {
        return Ok(());
    };
    for c in &caches[1..] {
        if let Some(what) = difference(first, c) {
            return Err(DataError::NotSameImages {
                first: first.dir.clone(),
                other: c.dir.clone(),
                what,
            });
        }
    }
    Ok(())
}

/// Every block of `parts[i]` side by side with the same block of the others.
fn join(parts: &[Vec<Rows>]) -> Vec<Rows> {
    (0..parts[0].len())
        .map(|j| {
            let blocks: Vec<Rows> = parts.iter().map(|p| p[j].clone()).collect();
            hstack(&blocks)
        })
        .collect()
}

/// [`data::load`] of every cache, joined; one cache is loaded as it is.
pub fn load(caches: &[FeatureCache]) -> Result<HeadData, DataError> {
    if let [one] = caches {
        return data::load(one);
    }
    check_same_images(caches)?;
    let all = caches
        .iter()
        .map(data::load)
        .collect::<Result<Vec<_>, _>>()?;
    if let Some((c, d)) = caches
        .iter()
        .zip(&all)
        .find(|(_, d)| d.passes.len() != all[0].passes.len() || d.views != all[0].views)
    {
        return Err(DataError::OtherViews {
            first: caches[0].dir.clone(),
            other: c.dir.clone(),
            what: format!(
                "{} vs {} train row sets, views {} vs {}",
                all[0].passes.len(),
                d.passes.len(),
                all[0].views.join(","),
                d.views.join(",")
            ),
        });
    }
    let passes = join(&all.iter().map(|d| d.passes.clone()).collect::<Vec<_>>());
    let valid_views = join(
        &all.iter()
            .map(|d| d.valid_views.clone())
            .collect::<Vec<_>>(),
    );
    let first = &all[0];
    Ok(HeadData {
        passes,
        labels: first.labels.clone(),
        valid_x: mean_of_rows(&valid_views),
        valid_labels: first.valid_labels.clone(),
        valid_views,
        views: first.views.clone(),
    })
}

/// [`data::load_views`] of `split` from every cache, joined; one cache is loaded as it is.
pub fn load_views(
    caches: &[FeatureCache],
    split: &str,
    only: Option<&[String]>,
) -> Result<SplitViews, DataError> {
    if let [one] = caches {
        return data::load_views(one, split, only);
    }
    check_same_images(caches)?;
    let all = caches
        .iter()
        .map(|c| data::load_views(c, split, only))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some((c, d)) = caches
        .iter()
        .zip(&all)
        .find(|(_, d)| d.names != all[0].names || d.paths != all[0].paths)
    {
        return Err(DataError::OtherViews {
            first: caches[0].dir.clone(),
            other: c.dir.clone(),
            what: format!(
                "`{split}` views {} vs {}",
                all[0].names.join(","),
                d.names.join(",")
            ),
        });
    }
    let views = join(&all.iter().map(|d| d.views.clone()).collect::<Vec<_>>());
    let first = &all[0];
    Ok(SplitViews {
        views,
        names: first.names.clone(),
        labels: first.labels.clone(),
        paths: first.paths.clone(),
    })
}
