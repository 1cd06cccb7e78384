//! Which of the label check's doubts are likely label errors and which are hard images.
//!
//! Confident learning (see `labels`) lists every image the out-of-fold model confidently puts in
//! another class; on clean photos most of them are correct labels the model finds hard (a tennis
//! ball among fruit, a horse among bovids). A doubt is called a **likely label error** only when a
//! second, independent piece of evidence agrees with the classifier:
//!
//! - **duplicate**: a near-duplicate of the image is filed under another class `c` (the same
//!   picture filed twice) and the out-of-fold model gives `c` more than the given class; or
//! - **neighbours**: the classifier's suggestion `s` is confident — `p[s] ≥ t_s` (class `s`'s mean
//!   self-confidence) and `p[y] ≤ LOW_SELF × t_y` — at least [`KNN_AGREE`] of the image's
//!   [`KNN`] nearest images (cosine of the centred, L2-normalised features) are filed under `s`,
//!   and the pair `(y, s)` is not confusable: no other image of `y` or `s` is predicted out of fold
//!   as the other class. Where a whole class pair is confused, its doubts are hard images.
//!
//! Every other doubt is a **hard image**: most likely correctly labelled; more and clearer photos
//! of its class help the model more than relabelling.
//! Shapes: `N` images, `K` classes.

use super::duplicates::top_neighbours;
use super::labels::argmax;
use super::{ImageSet, LabelIssue, NearDuplicate};
use ndarray::ArrayView2;
use std::collections::HashMap;

/// Nearest images consulted.
pub const KNN: usize = 5;
/// Of the [`KNN`] nearest, at least this many must be filed under the suggested class.
pub const KNN_AGREE: usize = 3;
/// The given class's probability must be at most this fraction of its class's mean
/// self-confidence `t_y`.
pub const LOW_SELF: f32 = 0.5;
/// Other images confused between the given and the suggested class (either way, out of fold)
/// that make the pair confusable.
pub const CONFUSABLE: usize = 1;

/// The doubts split: likely label errors and hard images, each most suspicious first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Verdict {
    pub errors: Vec<LabelIssue>,
    pub hard: Vec<LabelIssue>,
}

/// Splits the confident-learning `doubts` (see [`super::find_label_issues`]) of `set` by the
/// evidence above; `proba` is `[N,K]` out of fold, `t` the per-class mean self-confidence, `dups`
/// the near-duplicate pairs. An image that is no doubt but has a near-duplicate under another class
/// the model prefers is a label error too.
pub fn split_doubts<'a>(
    proba: ArrayView2<'a, f32>,
    t: &[f32],
    set: &'a ImageSet,
    doubts: Vec<LabelIssue>,
    dups: &[NearDuplicate],
) -> Verdict {
    let ev = Evidence::new(proba, set);
    let mut v = Verdict::default();
    let mut taken = vec![false; set.labels.len()];
    for (i, j) in conflicts(set, dups) {
        let (y, c) = (set.labels[i] as usize, set.labels[j] as usize);
        if taken[i] || proba[[i, c]] <= proba[[i, y]] {
            continue;
        }
        taken[i] = true;
        v.errors.push(LabelIssue {
            duplicate_of: Some(set.paths[j].clone()),
            ..ev.issue(i, c)
        });
    }
    for d in doubts {
        let Some(i) = set.paths.iter().position(|p| *p == d.path) else {
            continue;
        };
        let Some(s) = set.classes.iter().position(|c| *c == d.suggested) else {
            continue;
        };
        if taken[i] {
            continue;
        }
        let d = ev.issue(i, s);
        let y = set.labels[i] as usize;
        let confident = d.p_given <= LOW_SELF * t[y];
        if confident && d.neighbours_suggested >= KNN_AGREE && d.pair_confusions < CONFUSABLE {
            v.errors.push(d);
        } else {
            v.hard.push(d);
        }
    }
    let order =
        |a: &LabelIssue, b: &LabelIssue| b.score.total_cmp(&a.score).then(a.path.cmp(&b.path));
    v.errors.sort_by(order);
    v.hard.sort_by(order);
    v
}

/// `(i, j)` for every near-duplicate pair filed under two classes, both ways round.
fn conflicts(set: &ImageSet, dups: &[NearDuplicate]) -> Vec<(usize, usize)> {
    let index: HashMap<&str, usize> = set
        .paths
        .iter()
        .enumerate()
        .map(|(i, p)| (p.as_str(), i))
        .collect();
    let mut out = Vec::new();
    for pair in dups.iter().filter(|p| p.label_conflict) {
        if let (Some(&a), Some(&b)) = (index.get(pair.a.as_str()), index.get(pair.b.as_str())) {
            out.push((a, b));
            out.push((b, a));
        }
    }
    out
}

/// What the out-of-fold model and the feature space say about each image.
struct Evidence<'a> {
    proba: ArrayView2<'a, f32>,
    set: &'a ImageSet,
    /// Per image: its [`KNN`] nearest other images.
    near: Vec<Vec<(usize, f32)>>,
    /// Per image: the out-of-fold top-1 class.
    pred: Vec<usize>,
}

impl<'a> Evidence<'a> {
    fn new(proba: ArrayView2<'a, f32>, set: &'a ImageSet) -> Self {
        let usable = vec![true; set.labels.len()];
        Evidence {
            proba,
            set,
            near: top_neighbours(set.x.view(), &usable, KNN),
            pred: proba
                .rows()
                .into_iter()
                .map(|r| argmax(&r.to_vec()))
                .collect(),
        }
    }

    /// Image `i` doubted as class `s`.
    fn issue(&self, i: usize, s: usize) -> LabelIssue {
        let y = self.set.labels[i] as usize;
        let p = self.proba.row(i);
        LabelIssue {
            path: self.set.paths[i].clone(),
            given: self.set.classes[y].clone(),
            suggested: self.set.classes[s].clone(),
            score: p[s] - p[y],
            p_given: p[y],
            p_suggested: p[s],
            neighbours_suggested: self.near[i]
                .iter()
                .filter(|&&(j, _)| self.set.labels[j] as usize == s)
                .count(),
            pair_confusions: confusions(&self.set.labels, &self.pred, i, y, s),
            duplicate_of: None,
        }
    }
}

/// Images other than `i` filed under `y` and predicted `s`, or filed under `s` and predicted `y`.
fn confusions(labels: &[u32], pred: &[usize], i: usize, y: usize, s: usize) -> usize {
    labels
        .iter()
        .zip(pred)
        .enumerate()
        .filter(|&(j, (&l, &p))| {
            j != i && ((l as usize == y && p == s) || (l as usize == s && p == y))
        })
        .count()
}
