//! Near-duplicates (pairs with a feature cosine at or above a threshold) and outliers (images far
//! from every class centre), on the centred, L2-normalised rows of an [`ImageSet`].

use super::{ImageSet, NearDuplicate, Outlier};
use ndarray::{s, Array2};

/// Rows per block of the all-pairs cosine product (`B×N` floats at a time).
const BLOCK: usize = 512;
/// At most this many pairs are kept (the most similar).
pub const MAX_PAIRS: usize = 1000;

/// Pairs with cosine ≥ `threshold`, most similar first.
pub fn near_duplicates(set: &ImageSet, threshold: f32) -> Vec<NearDuplicate> {
    let n = set.x.nrows();
    let mut pairs = Vec::new();
    for start in (0..n).step_by(BLOCK) {
        let end = (start + BLOCK).min(n);
        let sims = set.x.slice(s![start..end, ..]).dot(&set.x.t()); // [B,N]
        for (r, row) in sims.rows().into_iter().enumerate() {
            let i = start + r;
            for (j, &c) in row.iter().enumerate().skip(i + 1) {
                if c >= threshold {
                    pairs.push((i, j, c));
                }
            }
        }
    }
    pairs.sort_by(|a, b| b.2.total_cmp(&a.2).then((a.0, a.1).cmp(&(b.0, b.1))));
    pairs.truncate(MAX_PAIRS);
    pairs
        .into_iter()
        .map(|(i, j, c)| NearDuplicate {
            a: set.paths[i].clone(),
            b: set.paths[j].clone(),
            similarity: c.min(1.0),
            cross_split: set.splits[i] != set.splits[j],
        })
        .collect()
}

/// Images whose distance to the nearest class centre (`1 − cos`; an image's own class centre
/// leaves the image out) has a robust z-score ≥ `z_min`, farthest first.
pub fn outliers(set: &ImageSet, z_min: f32) -> Vec<Outlier> {
    let k = set.classes.len();
    let d = set.x.ncols();
    let n = set.x.nrows();
    let mut sums = Array2::<f32>::zeros((k, d));
    let mut counts = vec![0usize; k];
    for (row, &y) in set.x.rows().into_iter().zip(&set.labels) {
        let mut s = sums.row_mut(y as usize);
        s += &row;
        counts[y as usize] += 1;
    }
    // x·s_c for every image and class sum s_c; the own-class centre without the image is
    // s_y − x, with x·(s_y − x) = x·s_y − ‖x‖² and ‖s_y − x‖² = ‖s_y‖² − 2·x·s_y + ‖x‖².
    let dots = set.x.dot(&sums.t()); // [N,K]
    let sq: Vec<f32> = sums.rows().into_iter().map(|r| r.dot(&r)).collect();
    let mut best = Vec::with_capacity(n);
    for (i, row) in set.x.rows().into_iter().enumerate() {
        let y = set.labels[i] as usize;
        let xx = row.dot(&row);
        let mut top = (f32::NEG_INFINITY, 0usize);
        for (c, (&m, &dot)) in counts.iter().zip(dots.row(i)).enumerate() {
            let (num, norm2, m) = if c == y {
                (dot - xx, sq[c] - 2.0 * dot + xx, m.saturating_sub(1))
            } else {
                (dot, sq[c], m)
            };
            if m == 0 {
                continue;
            }
            let norm = norm2.max(0.0).sqrt();
            let cos = if norm > 1e-6 { num / norm } else { 0.0 };
            if cos > top.0 {
                top = (cos, c);
            }
        }
        best.push((1.0 - top.0.clamp(-1.0, 1.0), top.1));
    }
    let scores: Vec<f32> = best.iter().map(|b| b.0).collect();
    let (med, mad) = median_mad(&scores);
    let mut out: Vec<Outlier> = best
        .iter()
        .enumerate()
        .filter_map(|(i, &(score, c))| {
            let z = (score - med) / (1.4826 * mad).max(1e-6);
            (z >= z_min).then(|| Outlier {
                path: set.paths[i].clone(),
                class: set.classes[set.labels[i] as usize].clone(),
                score,
                z,
                nearest: set.classes[c].clone(),
            })
        })
        .collect();
    out.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.path.cmp(&b.path)));
    out
}

/// Median and median absolute deviation.
fn median_mad(v: &[f32]) -> (f32, f32) {
    let med = |mut v: Vec<f32>| {
        if v.is_empty() {
            return 0.0;
        }
        v.sort_by(f32::total_cmp);
        let m = v.len() / 2;
        if v.len().is_multiple_of(2) {
            (v[m - 1] + v[m]) / 2.0
        } else {
            v[m]
        }
    };
    let m = med(v.to_vec());
    (m, med(v.iter().map(|x| (x - m).abs()).collect()))
}
