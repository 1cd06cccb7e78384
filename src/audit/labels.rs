//! Likely label errors from out-of-fold probabilities, confident-learning style (Northcutt et al.,
//! as cleanlab's `find_label_issues`): class `k`'s threshold `t_k` is the mean out-of-fold
//! `p[k]` over the images labelled `k`; an image labelled `y` counts as class `ŝ`, the most
//! probable class with `p[ŝ] ≥ t_ŝ`; it is an issue when `ŝ ≠ y` and `p[ŝ] > p[y]`, ranked by the
//! normalised margin `p[ŝ] − p[y]`.
//!
//! The list means something only where the out-of-fold model is good: a weak model doubts
//! correct labels for its own errors. [`LabelCheck::assess`] measures it by Cohen's κ against
//! always answering the largest class, `κ = (top-1 − chance) / (1 − chance)`, and caps the list.

use super::{ImageSet, LabelIssue};
use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};

/// κ at or above which the list is shown whole.
pub const INFORMATIVE_KAPPA: f64 = 0.5;
/// κ at or above which the most suspicious few of each kind are shown, below which none.
pub const WEAK_KAPPA: f64 = 0.2;
/// How many are shown when the model is weak.
pub const WEAK_SHOWN: usize = 10;

/// How much the out-of-fold model can be trusted to judge labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LabelTrust {
    /// κ ≥ 0.5: every issue found is listed.
    Informative,
    /// 0.2 ≤ κ < 0.5: the 10 most suspicious of each kind are listed, as images to look at.
    Weak,
    /// κ < 0.2: none listed; the model barely beats guessing.
    TooWeak,
}

/// The label check's trust on this data set.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LabelCheck {
    pub trust: LabelTrust,
    /// Share of the largest class: the top-1 of always answering it.
    pub chance: f64,
    /// `(out-of-fold top-1 − chance) / (1 − chance)`.
    pub kappa: f64,
    /// Doubts found: likely label errors and hard images together.
    pub found: usize,
    /// Likely label errors listed (`label_issues`).
    pub shown: usize,
    /// Likely label errors found (a doubt that a near-duplicate or the nearest neighbours back).
    #[serde(default)]
    pub errors: usize,
    /// Hard images found: the other doubts.
    #[serde(default)]
    pub hard: usize,
    /// Hard images listed (`hard_images`).
    #[serde(default)]
    pub hard_shown: usize,
}

impl LabelCheck {
    /// Trust from the out-of-fold top-1 `acc` over `labels` (of `k` classes) and `found` issues.
    pub fn assess(acc: f64, labels: &[u32], k: usize, found: usize) -> LabelCheck {
        let mut counts = vec![0usize; k.max(1)];
        for &y in labels {
            if let Some(c) = counts.get_mut(y as usize) {
                *c += 1;
            }
        }
        let chance = *counts.iter().max().unwrap_or(&0) as f64 / labels.len().max(1) as f64;
        let kappa = if chance < 1.0 {
            (acc - chance) / (1.0 - chance)
        } else {
            0.0
        };
        let trust = if kappa >= INFORMATIVE_KAPPA {
            LabelTrust::Informative
        } else if kappa >= WEAK_KAPPA {
            LabelTrust::Weak
        } else {
            LabelTrust::TooWeak
        };
        LabelCheck {
            trust,
            chance,
            kappa,
            found,
            shown: trust.cap(found),
            errors: found,
            hard: 0,
            hard_shown: 0,
        }
    }

    /// The same check with its doubts split into `errors` likely label errors and `hard` images,
    /// each list capped by the trust.
    pub fn with_split(self, errors: usize, hard: usize) -> LabelCheck {
        LabelCheck {
            found: errors + hard,
            shown: self.trust.cap(errors),
            errors,
            hard,
            hard_shown: self.trust.cap(hard),
            ..self
        }
    }
}

impl LabelTrust {
    /// How many of `n` findings of one kind are listed.
    pub fn cap(self, n: usize) -> usize {
        match self {
            LabelTrust::Informative => n,
            LabelTrust::Weak => n.min(WEAK_SHOWN),
            LabelTrust::TooWeak => 0,
        }
    }
}

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
            ..LabelIssue::default()
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
            hashes: vec![None; n],
        }
    }

    #[test]
    fn trust_follows_kappa_against_the_largest_class() {
        // 4 balanced classes: chance 0.25
        let labels: Vec<u32> = (0..100).map(|i| i % 4).collect();
        let strong = LabelCheck::assess(0.9, &labels, 4, 7);
        assert_eq!((strong.trust, strong.shown), (LabelTrust::Informative, 7));
        assert!((strong.kappa - 0.65 / 0.75).abs() < 1e-9);
        // 55 % on 4 grades: κ 0.4, a weak model's 34 doubts are cut to the 10 most suspicious
        let weak = LabelCheck::assess(0.55, &labels, 4, 34);
        assert_eq!((weak.trust, weak.shown), (LabelTrust::Weak, WEAK_SHOWN));
        // at chance: nothing listed
        let none = LabelCheck::assess(0.24, &labels, 4, 160);
        assert_eq!(
            (none.trust, none.shown, none.found),
            (LabelTrust::TooWeak, 0, 160)
        );
        // one class dominating: 90 % top-1 is no better than always answering it
        let skewed: Vec<u32> = (0..100).map(|i| u32::from(i >= 90)).collect();
        assert_eq!(
            LabelCheck::assess(0.9, &skewed, 2, 5).trust,
            LabelTrust::TooWeak
        );
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
