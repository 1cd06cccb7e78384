//! Outliers: images far from every class centre, on the centred, L2-normalised rows of an
//! [`ImageSet`], judged by a robust z-score over this data set's distances.

use super::{ImageSet, Outlier};
use ndarray::Array2;
use serde::{Deserialize, Serialize};

/// The distances' median and robust spread on this data set.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct OutlierCheck {
    /// Median over images of `1 − cos` to the nearest class centre.
    pub median: f32,
    /// 1.4826 × the median absolute deviation (the SD of normal data).
    pub robust_sd: f32,
}

/// Images whose distance to the nearest class centre (`1 − cos`; an image's own class centre
/// leaves the image out) has a robust z-score ≥ `z_min`, farthest first.
pub fn outliers(set: &ImageSet, z_min: f32) -> (Vec<Outlier>, OutlierCheck) {
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
    let med = super::median(&scores);
    let mad = super::median(&scores.iter().map(|x| (x - med).abs()).collect::<Vec<_>>());
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
    let check = OutlierCheck {
        median: med,
        robust_sd: 1.4826 * mad,
    };
    (out, check)
}
