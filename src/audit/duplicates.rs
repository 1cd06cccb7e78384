//! Near-duplicates calibrated to the data set, by a ratio test (as Lowe's for keypoint matches)
//! in two spaces: the backbone's features (centred, L2-normalised) and 16×16 colour thumbnails
//! (see `thumbnails`). In each space the distance of unit rows is `d = √(2 − 2·cos)`. A pair
//! `(i, j)` stands out in a space when
//!
//! - `d(i, j) ≤ ratio × max(r_i, r_j)`, where `r_i` is the distance from `i` to its
//!   [`NEIGHBOUR`]-th nearest image: the copy is far closer than the images around it, however
//!   alike the data set's images are (up to [`NEIGHBOUR`] − 1 copies of one picture still pass); and
//! - its similarity is at least the data set's median nearest-neighbour similarity in that space
//!   (so two images that are merely each other's least-far neighbour in an empty region are not
//!   called copies).
//!
//! A pair is a near-duplicate when it stands out in either space; `evidence` says which. On
//! photos of one kind taken the same way every image's nearest neighbours are close, so `r_i` is
//! small and only real copies pass; on varied data `r_i` is large and a resized copy stands out.

use super::knn::{top_neighbours, Near};
use super::thumbnails::Thumbnails;
use super::{ImageSet, NearDuplicate};
use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};

/// The rank of the reference neighbour.
pub const NEIGHBOUR: usize = 3;
/// At most this many pairs are kept (the most outstanding).
pub const MAX_PAIRS: usize = 1000;

/// How near-duplicates were judged on this data set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DuplicateCheck {
    /// The ratio bound (`--dup-ratio`).
    pub ratio: f32,
    /// Rank of the reference neighbour.
    pub neighbour: usize,
    /// Median over images of the cosine to the nearest other image (features).
    pub feature_median_nn: f32,
    /// Median feature distance to the reference neighbour.
    pub feature_median_reference: f32,
    /// The same in thumbnails (correlation), when thumbnails were made.
    pub pixel_median_nn: Option<f32>,
    pub pixel_median_reference: Option<f32>,
    /// Images that have a thumbnail.
    pub pixel_images: usize,
    /// Why some or all images have no thumbnail (empty when all have one).
    pub pixel_note: String,
}

/// One space: unit rows, which rows take part, each row's nearest neighbours.
struct Space<'a> {
    x: ArrayView2<'a, f32>,
    usable: &'a [bool],
    /// Per row: up to [`NEIGHBOUR`] `(row, cosine)`, most similar first.
    near: Vec<Vec<(usize, f32)>>,
    median_nn: f32,
    median_ref: f32,
}

impl<'a> Space<'a> {
    /// `near`: each row's nearest neighbours, at least [`NEIGHBOUR`] where there are as many.
    fn new(x: ArrayView2<'a, f32>, usable: &'a [bool], mut near: Near) -> Self {
        near.iter_mut().for_each(|n| n.truncate(NEIGHBOUR));
        let firsts: Vec<f32> = near.iter().filter_map(|n| n.first().map(|p| p.1)).collect();
        let refs: Vec<f32> = near.iter().filter_map(|n| reference(n)).collect();
        Space {
            x,
            usable,
            median_nn: super::median(&firsts),
            median_ref: super::median(&refs),
            near,
        }
    }

    /// `(similarity, ratio)` of a pair, when both rows take part.
    fn judge(&self, i: usize, j: usize) -> Option<(f32, f32)> {
        if !(self.usable[i] && self.usable[j]) {
            return None;
        }
        let sim = self.x.row(i).dot(&self.x.row(j)).min(1.0);
        let r = [reference(&self.near[i]), reference(&self.near[j])]
            .into_iter()
            .flatten()
            .reduce(f32::max)
            .unwrap_or(f32::INFINITY);
        Some((sim, dist(sim) / r.max(1e-6)))
    }
}

/// Distance of two unit rows with cosine `c`.
fn dist(c: f32) -> f32 {
    (2.0 - 2.0 * c).max(0.0).sqrt()
}

/// Distance to the reference neighbour (the farthest kept when there are fewer).
fn reference(near: &[(usize, f32)]) -> Option<f32> {
    near.last().map(|p| dist(p.1))
}

/// The near-duplicate pairs, most outstanding (lowest ratio) first, and how they were judged.
/// `feature_near`: every image's nearest images in features (at least [`NEIGHBOUR`]; see
/// [`top_neighbours`], which also searches the thumbnails here with `seed`).
pub fn near_duplicates(
    set: &ImageSet,
    feature_near: &Near,
    thumbs: Option<&Thumbnails>,
    ratio: f32,
    pixel_note: String,
    seed: u64,
) -> (Vec<NearDuplicate>, DuplicateCheck) {
    let n = set.x.nrows();
    let all = vec![true; n];
    let feat = Space::new(set.x.view(), &all, feature_near.clone());
    let pix = thumbs.map(|t| {
        let near = top_neighbours(t.x.view(), &t.ok, NEIGHBOUR, seed);
        Space::new(t.x.view(), &t.ok, near)
    });
    let mut cands: Vec<(usize, usize)> = Vec::new();
    for space in std::iter::once(&feat).chain(pix.as_ref()) {
        for (i, near) in space.near.iter().enumerate() {
            // a pair can pass only if it is closer than the reference neighbour of one side
            for &(j, _) in near.iter().take(NEIGHBOUR - 1) {
                cands.push((i.min(j), i.max(j)));
            }
        }
    }
    cands.sort_unstable();
    cands.dedup();
    let mut pairs = Vec::new();
    for (i, j) in cands {
        let f = feat.judge(i, j);
        let p = pix.as_ref().and_then(|s| s.judge(i, j));
        let stands_out = |sp: &Space, v: Option<(f32, f32)>| {
            v.is_some_and(|(sim, r)| r <= ratio && sim >= sp.median_nn)
        };
        let by_f = stands_out(&feat, f);
        let by_p = pix.as_ref().is_some_and(|sp| stands_out(sp, p));
        if !(by_f || by_p) {
            continue;
        }
        let evidence = match (by_f, by_p) {
            (true, true) => "features+pixels",
            (true, false) => "features",
            _ => "pixels",
        };
        let r = [f.filter(|_| by_f), p.filter(|_| by_p)]
            .into_iter()
            .flatten()
            .map(|v| v.1)
            .fold(f32::INFINITY, f32::min);
        pairs.push(NearDuplicate {
            a: set.paths[i].clone(),
            b: set.paths[j].clone(),
            similarity: f.map_or(0.0, |v| v.0),
            pixel_similarity: p.map(|v| v.0),
            ratio: r,
            evidence: evidence.into(),
            cross_split: set.splits[i] != set.splits[j],
            label_conflict: set.labels[i] != set.labels[j],
        });
    }
    pairs.sort_by(|a, b| {
        a.ratio
            .total_cmp(&b.ratio)
            .then(b.similarity.total_cmp(&a.similarity))
            .then((&a.a, &a.b).cmp(&(&b.a, &b.b)))
    });
    pairs.truncate(MAX_PAIRS);
    let check = DuplicateCheck {
        ratio,
        neighbour: NEIGHBOUR,
        feature_median_nn: feat.median_nn,
        feature_median_reference: feat.median_ref,
        pixel_median_nn: pix.as_ref().map(|s| s.median_nn),
        pixel_median_reference: pix.as_ref().map(|s| s.median_ref),
        pixel_images: thumbs.map_or(0, |t| t.ok.iter().filter(|&&o| o).count()),
        pixel_note,
    };
    (pairs, check)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    /// Unit rows: a tight cluster of `n` distinct points (e0 plus a small pseudo-random offset in
    /// 15 other dimensions), plus copies appended.
    fn cluster(n: usize, copies: &[(usize, f32)]) -> ImageSet {
        let d = 16;
        let mut x = Array2::<f32>::zeros((n + copies.len(), d));
        let mut state = 12345u64;
        for i in 0..n {
            x[[i, 0]] = 1.0;
            for k in 1..d {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                x[[i, k]] = 0.05 * (((state >> 33) as f32 / (1u64 << 31) as f32) * 2.0 - 1.0);
            }
        }
        for (c, &(of, eps)) in copies.iter().enumerate() {
            let mut row = x.row(of).to_owned();
            row[d - 1] += eps;
            x.row_mut(n + c).assign(&row);
        }
        for mut r in x.rows_mut() {
            let norm = r.dot(&r).sqrt();
            r /= norm;
        }
        let m = x.nrows();
        ImageSet {
            x,
            labels: vec![0; m],
            paths: (0..m).map(|i| format!("train/a/{i}.png")).collect(),
            splits: (0..m)
                .map(|i| if i < n { "train" } else { "test" }.to_string())
                .collect(),
            classes: vec!["a".into()],
            hashes: vec![None; m],
        }
    }

    fn dups(set: &ImageSet) -> (Vec<NearDuplicate>, DuplicateCheck) {
        let near = top_neighbours(set.x.view(), &vec![true; set.x.nrows()], NEIGHBOUR, 0);
        near_duplicates(set, &near, None, 0.5, String::new(), 0)
    }

    #[test]
    fn a_tight_cluster_without_copies_has_no_near_duplicates() {
        let set = cluster(28, &[]);
        // every pair's cosine is above 0.99: a fixed threshold would flag them all
        let (pairs, check) = dups(&set);
        assert!(check.feature_median_nn > 0.99, "{check:?}");
        assert!(pairs.is_empty(), "{pairs:?}");
    }

    #[test]
    fn copies_in_a_tight_cluster_are_found_and_cross_split() {
        let set = cluster(28, &[(3, 0.0), (10, 0.001)]);
        let (pairs, _) = dups(&set);
        let found: Vec<(&str, &str)> = pairs.iter().map(|p| (p.a.as_str(), p.b.as_str())).collect();
        assert_eq!(
            found,
            [
                ("train/a/3.png", "train/a/28.png"),
                ("train/a/10.png", "train/a/29.png")
            ]
        );
        assert!(pairs
            .iter()
            .all(|p| p.cross_split && p.evidence == "features"));
    }
}
