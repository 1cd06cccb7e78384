//! Likely label errors from out-of-fold probabilities, confident-learning style (Northcutt et al.,
//! as cleanlab's `find_label_issues`): class `k`'s threshold `t_k` is the mean out-of-fold
//! `p[k]` over the images labelled `k`; an image labelled `y` counts as class `ŝ`, the most
//! probable class with `p[ŝ] ≥ t_ŝ`; it is an issue when `ŝ ≠ y` and `p[ŝ] > p[y]`, ranked by the
//! normalised margin `p[ŝ] − p[y]`.

use super::{ImageSet, LabelIssue};
use ndarray::ArrayView2;

/// Index of the first largest entry.
pub fn argmax(row: &[f32]) -> usize {
    let mut best = 0;
    for (j, &v) in row.iter().enumerate() {
        if v > row[best] {
            best = j;
        }
    }
    best
}

/// Per-class thresholds `t_k` (`1.0` for a class with no image, so it is never chosen).
pub fn thresholds(proba: ArrayView2<f32>, labels: &[u32]) -> Vec<f32> {
    let k = proba.ncols();
    let (mut sum, mut n) = (vec![0f64; k], vec![0usize; k]);
    for (row, &y) in proba.rows().into_iter().zip(labels) {
        sum[y as usize] += f64::from(row[y as usize]);
        n[y as usize] += 1;
    }
    (0..k)
        .map(|c| {
            if n[c] == 0 {
                1.0
            } else {
                (sum[c] / n[c] as f64) as f32
            }
        })
        .collect()
}

/// The issues, most suspicious first. `proba` is `[N,K]`, rows in `set` order.
pub fn find_label_issues(proba: ArrayView2<f32>, set: &ImageSet) -> Vec<LabelIssue> {
    let t = thresholds(proba, &set.labels);
    let mut out = Vec::new();
    for (i, row) in proba.rows().into_iter().enumerate() {
        let y = set.labels[i] as usize;
        let confident = (0..row.len())
            .filter(|&c| row[c] >= t[c])
            .max_by(|&a, &b| row[a].total_cmp(&row[b]));
        let Some(s) = confident else { continue };
        if s == y || row[s] <= row[y] {
            continue;
        }
        out.push(LabelIssue {
            path: set.paths[i].clone(),
            given: set.classes[y].clone(),
            suggested: set.classes[s].clone(),
            score: row[s] - row[y],
            p_given: row[y],
            p_suggested: row[s],
        });
    }
    out.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.path.cmp(&b.path)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{array, Array2};

    fn set(labels: Vec<u32>) -> ImageSet {
        let n = labels.len();
        ImageSet {
            x: Array2::zeros((n, 1)),
            paths: (0..n).map(|i| format!("train/x/{i}.png")).collect(),
            splits: vec!["train".into(); n],
            labels,
            classes: vec!["a".into(), "b".into()],
        }
    }

    #[test]
    fn the_confidently_other_image_is_flagged_and_ranked() {
        let p = array![[0.9, 0.1], [0.8, 0.2], [0.1, 0.9], [0.2, 0.8], [0.45, 0.55]];
        let s = set(vec![0, 0, 1, 1, 0]);
        // thresholds: a = (0.9+0.8+0.45)/3 ≈ 0.717, b = 0.85 → image 4's p(b) 0.55 is below t_b
        assert!(find_label_issues(p.view(), &s).is_empty());
        let p = array![[0.9, 0.1], [0.8, 0.2], [0.1, 0.9], [0.2, 0.8], [0.05, 0.95]];
        let issues = find_label_issues(p.view(), &s);
        assert_eq!(issues.len(), 1);
        assert_eq!(
            (issues[0].given.as_str(), issues[0].suggested.as_str()),
            ("a", "b")
        );
        assert!((issues[0].score - 0.9).abs() < 1e-6);
    }
}
