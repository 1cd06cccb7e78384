//! Several caches of the same images side by side: each later cache's rows matched to the first
//! cache's by image (`split/class/file`, same label, same content hash), and the folds of one
//! cache's rows or of their concatenation cut from the first cache's re-split indices.
//!
//! Nothing is copied up front: a fold selects its rows from every pool and joins them column-wise
//! (`[n, D1 + D2 + …]`), so the concatenation costs one fold's copy, as a single cache does.

use super::pool::{Fold, Pool};
use crate::cache::rows::{hstack, mean_of_rows};
use crate::cache::{FeatureCache, Rows};
use crate::head::data::HeadData;
use anyhow::{bail, Result};
use std::collections::HashMap;

/// What to do when two caches do not hold the same images.
const SAME_IMAGES: &str = "make both caches from the same split tree (`pipeline run` with the same --data and --seed; a second `--model` into the same --workdir keeps both in WORKDIR/features/manifests/)";

/// A cache as the user named it, opened and pooled.
pub struct Side<'a> {
    pub name: &'a str,
    pub cache: &'a FeatureCache,
    pub pool: &'a Pool,
}

/// `map[i]`: the row of `b` that holds image `i` of `a`. Refuses caches whose classes, images,
/// labels or image contents differ, naming the first difference.
pub fn align(a: &Side, b: &Side) -> Result<Vec<usize>> {
    let (an, bn) = (a.name, b.name);
    let (ka, kb) = (a.cache.classes(), b.cache.classes());
    if ka != kb {
        let diff = ka
            .iter()
            .zip(kb)
            .position(|(x, y)| x != y)
            .unwrap_or(ka.len().min(kb.len()));
        let at = |k: &[String]| {
            k.get(diff)
                .map_or("(none)".to_owned(), |c| format!("`{c}`"))
        };
        bail!(
            "caches {an} and {bn} have different classes ({} vs {}; class {diff} is {} vs {}); {SAME_IMAGES}",
            ka.len(),
            kb.len(),
            at(ka),
            at(kb)
        );
    }
    let index = row_index(b)?;
    row_index(a)?;
    let (ha, hb) = (content_hashes(a.cache), content_hashes(b.cache));
    let mut map = Vec::with_capacity(a.pool.paths.len());
    for (i, p) in a.pool.paths.iter().enumerate() {
        let Some(&j) = index.get(p.as_str()) else {
            bail!(
                "caches {an} and {bn} do not hold the same images ({} vs {}): {p} is only in {an}; {SAME_IMAGES}",
                a.pool.paths.len(),
                b.pool.paths.len()
            );
        };
        if a.pool.labels[i] != b.pool.labels[j] {
            bail!(
                "image {p} has label {} in {an} and {} in {bn}; {SAME_IMAGES}",
                a.pool.labels[i],
                b.pool.labels[j]
            );
        }
        if ha.get(p.as_str()) != hb.get(p.as_str()) {
            bail!("image {p} has other contents in {an} than in {bn} (it changed between the extracts); re-extract both from the same files");
        }
        map.push(j);
    }
    if let Some(p) = b.pool.paths.iter().find(|p| !ha.contains_key(p.as_str())) {
        bail!(
            "caches {an} and {bn} do not hold the same images ({} vs {}): {p} is only in {bn}; {SAME_IMAGES}",
            a.pool.paths.len(),
            b.pool.paths.len()
        );
    }
    Ok(map)
}

/// Row of each image of `s`; refuses an image listed twice.
fn row_index<'a>(s: &Side<'a>) -> Result<HashMap<&'a str, usize>> {
    let mut index = HashMap::with_capacity(s.pool.paths.len());
    for (i, p) in s.pool.paths.iter().enumerate() {
        if index.insert(p.as_str(), i).is_some() {
            bail!(
                "cache {} lists image {p} twice, so its rows cannot be matched to another cache's; re-extract it",
                s.name
            );
        }
    }
    Ok(index)
}

/// BLAKE3 of every image of the cache's splits, by `split/class/file`.
fn content_hashes(c: &FeatureCache) -> HashMap<String, String> {
    c.manifest
        .spec
        .splits
        .iter()
        .flat_map(|p| {
            p.images
                .iter()
                .map(move |im| (format!("{}/{}", p.name, im.rel_path), im.blake3.clone()))
        })
        .collect()
}

/// One cache's share of a fold: its pool, the row of each image of the first cache (`None`: it
/// is the first cache) and the positions in `pool.views` of the views used.
struct Part<'a> {
    pool: &'a Pool,
    map: Option<&'a [usize]>,
    views: Vec<usize>,
}

impl Part<'_> {
    fn rows(&self, idx: &[usize]) -> Vec<usize> {
        match self.map {
            Some(m) => idx.iter().map(|&i| m[i]).collect(),
            None => idx.to_vec(),
        }
    }
}

/// The features a cv repeat trains and tests on: one cache's, or several caches' joined.
pub struct Source<'a> {
    parts: Vec<Part<'a>>,
    /// Views averaged per image.
    pub names: Vec<String>,
}

impl<'a> Source<'a> {
    /// One cache's rows, all its pooled views; `map` as [`align`] returns it.
    pub fn single(pool: &'a Pool, map: Option<&'a [usize]>) -> Source<'a> {
        Source {
            names: pool.names.clone(),
            parts: vec![Part {
                pool,
                map,
                views: (0..pool.names.len()).collect(),
            }],
        }
    }

    /// The pools' features joined column-wise over the views all of them pooled (in the first's
    /// order); `maps[i]` as [`align`] returns it for `pools[i + 1]`.
    pub fn concat(pools: &[&'a Pool], maps: &'a [Vec<usize>]) -> Result<Source<'a>> {
        let Some(first) = pools.first() else {
            bail!("no caches to concatenate");
        };
        let names: Vec<String> = first
            .names
            .iter()
            .filter(|n| pools.iter().all(|p| p.names.contains(n)))
            .cloned()
            .collect();
        if names.is_empty() {
            bail!("the caches share no view, so their features cannot be joined per view; extract them with the same --views");
        }
        let parts = pools
            .iter()
            .enumerate()
            .map(|(i, &pool)| Part {
                pool,
                map: i.checked_sub(1).map(|j| maps[j].as_slice()),
                views: names
                    .iter()
                    .filter_map(|n| pool.names.iter().position(|m| m == n))
                    .collect(),
            })
            .collect();
        Ok(Source { parts, names })
    }

    /// Feature width: the sum of the parts' widths.
    pub fn width(&self) -> usize {
        self.parts
            .iter()
            .map(|p| p.pool.views.first().map_or(0, Rows::ncols))
            .sum()
    }

    /// The fold of `(train, valid, test)`, indices into the first cache's images.
    pub fn fold(&self, train: &[usize], valid: &[usize], test: &[usize]) -> Fold {
        if let [p] = self.parts.as_slice() {
            if p.views.len() == p.pool.names.len() {
                return p.pool.fold(&p.rows(train), &p.rows(valid), &p.rows(test));
            }
        }
        let lead = &self.parts[0];
        let labels_at = |idx: &[usize]| -> Vec<u32> {
            lead.rows(idx)
                .iter()
                .map(|&i| lead.pool.labels[i])
                .collect()
        };
        let valid_views = self.joined(valid);
        let test_views = self.joined(test);
        Fold {
            data: HeadData {
                passes: self.joined(train),
                labels: labels_at(train),
                valid_x: mean_of_rows(&valid_views),
                valid_labels: labels_at(valid),
                valid_views,
                views: self.names.clone(),
            },
            test_x: mean_of_rows(&test_views),
            test_labels: labels_at(test),
        }
    }

    /// One `[idx.len(), width]` block per view: every part's rows of those images side by side.
    fn joined(&self, idx: &[usize]) -> Vec<Rows> {
        let rows: Vec<Vec<usize>> = self.parts.iter().map(|p| p.rows(idx)).collect();
        (0..self.names.len())
            .map(|v| {
                let blocks: Vec<Rows> = self
                    .parts
                    .iter()
                    .zip(&rows)
                    .map(|(p, r)| p.pool.views[p.views[v]].select(r))
                    .collect();
                hstack(&blocks)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    fn pool(d: usize, order: &[usize], scale: f32) -> Pool {
        let n = order.len();
        let view = |off: f32| {
            Rows::F32(Array2::from_shape_fn((n, d), |(r, j)| {
                scale * (order[r] * 10 + j) as f32 + off
            }))
        };
        Pool {
            views: vec![view(0.0), view(0.5)],
            names: vec!["a".into(), "b".into()],
            labels: order.iter().map(|&i| (i % 2) as u32).collect(),
            paths: order.iter().map(|i| format!("train/c/{i}.png")).collect(),
        }
    }

    #[test]
    fn a_concatenated_fold_joins_each_images_rows_whatever_the_pool_order() {
        let a = pool(2, &[0, 1, 2, 3], 1.0);
        let b = pool(3, &[2, 0, 3, 1], -1.0);
        let maps = vec![vec![1, 3, 0, 2]];
        let joined = Source::concat(&[&a, &b], &maps).unwrap();
        assert_eq!(joined.width(), 5);
        let fold = joined.fold(&[3, 0], &[1], &[2]);
        assert_eq!(fold.data.labels, vec![1, 0]);
        let first = fold.data.passes[0].to_f32();
        assert!(first.is_standard_layout());
        assert_eq!(first.row(0).to_vec(), vec![30.0, 31.0, -30.0, -31.0, -32.0]);
        assert_eq!(
            fold.test_x.row(0).to_vec(),
            vec![20.25, 21.25, -19.75, -20.75, -21.75]
        );
        let alone = Source::single(&b, Some(&maps[0])).fold(&[3, 0], &[1], &[2]);
        assert_eq!(alone.data.labels, fold.data.labels);
        assert_eq!(
            alone.data.passes[1].to_f32().row(1).to_vec(),
            vec![0.5, -0.5, -1.5]
        );
    }
}
