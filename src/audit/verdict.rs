//! Which of the label check's doubts are likely label errors and which are hard images.
//!
//! Confident learning (see `labels`) lists every image the out-of-fold model confidently puts in
//! another class; on clean photos most of them are correct labels the model finds hard (a tennis
//! ball among fruit, a horse among bovids). A doubt is called a **likely label error** only when a
//! second, independent piece of evidence agrees with the classifier:
//!
//! - **duplicate**: a near-duplicate of the image is filed under another class `c` (the same
//!   picture filed twice), the out-of-fold model gives `c` more than the given class `y`, and by a
//!   margin at least the other copy's for `y` over `c` (of the two, this is the one it doubts); or
//! - **neighbours**: the classifier's suggestion `s` is confident — `p[s] ≥ t_s` (class `s`'s mean
//!   self-confidence) and `p[y] ≤ LOW_SELF × t_y` — at least [`KNN_AGREE`] of the image's
//!   [`KNN`] nearest images (cosine of the centred, L2-normalised features) are filed under `s`,
//!   and the pair `(y, s)` is not confusable: no other image of `y` or `s` is predicted out of fold
//!   as the other class. Where a whole class pair is confused, its doubts are hard images.
//!
//! Every other doubt is a **hard image**: most likely correctly labelled; more and clearer photos
//! of its class help the model more than relabelling.
//! Shapes: `N` images, `K` classes.

use super::knn::Near;
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
/// the near-duplicate pairs, `near` every image's nearest images in features (at least [`KNN`];
/// see [`super::knn::top_neighbours`]). An image that is no doubt but has a near-duplicate under another class
/// the model prefers is a label error too.
pub fn split_doubts<'a>(
    proba: ArrayView2<'a, f32>,
    t: &[f32],
    set: &'a ImageSet,
    near: &Near,
    doubts: Vec<LabelIssue>,
    dups: &[NearDuplicate],
) -> Verdict {
    let ev = Evidence::new(proba, set, near);
    let mut v = Verdict::default();
    let mut taken = vec![false; set.labels.len()];
    for (i, j) in conflicts(set, dups) {
        let (y, c) = (set.labels[i] as usize, set.labels[j] as usize);
        // the copy the model doubts more: p_i[c] − p_i[y] > 0 and at least p_j[y] − p_j[c]
        let margin = proba[[i, c]] - proba[[i, y]];
        if taken[i] || margin <= 0.0 || margin < proba[[j, y]] - proba[[j, c]] {
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
    fn new(proba: ArrayView2<'a, f32>, set: &'a ImageSet, near: &Near) -> Self {
        Evidence {
            proba,
            set,
            near: near
                .iter()
                .map(|n| n[..n.len().min(KNN)].to_vec())
                .collect(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::find_label_issues;
    use crate::audit::labels::thresholds;
    use ndarray::Array2;

    /// Six photos per class `a`, `b`, `c`, each near its class's axis, then `extra` photos filed
    /// under `a` that lie on `b`'s axis; probabilities 0.8 for the own class, `extra` ones 0.9 `b`.
    fn data(extra: usize) -> (ImageSet, Array2<f32>) {
        let n = 18 + extra;
        let (mut x, mut p) = (Array2::<f32>::zeros((n, 4)), Array2::<f32>::zeros((n, 3)));
        let mut labels = Vec::new();
        for i in 0..n {
            let (axis, label) = if i < 18 { (i / 6, i / 6) } else { (1, 0) };
            x[[i, axis]] = 1.0;
            x[[i, 3]] = 0.01 * i as f32;
            p.row_mut(i).fill(0.1);
            p[[i, axis]] = 0.8;
            if i >= 18 {
                p.row_mut(i).assign(&ndarray::arr1(&[0.02, 0.9, 0.08]));
            }
            labels.push(label as u32);
        }
        let set = ImageSet {
            x,
            paths: (0..n)
                .map(|i| format!("train/c{}/{i}.png", labels[i]))
                .collect(),
            splits: vec!["train".into(); n],
            labels,
            classes: vec!["a".into(), "b".into(), "c".into()],
            hashes: vec![None; n],
        };
        (set, p)
    }

    fn verdict(set: &ImageSet, p: &Array2<f32>, dups: &[NearDuplicate]) -> Verdict {
        let t = thresholds(p.view(), &set.labels);
        let near = crate::audit::knn::exact(set.x.view(), &vec![true; set.x.nrows()], KNN);
        split_doubts(
            p.view(),
            &t,
            set,
            &near,
            find_label_issues(p.view(), set),
            dups,
        )
    }

    #[test]
    fn a_confident_misfile_among_another_class_is_a_label_error() {
        let (set, p) = data(1);
        let v = verdict(&set, &p, &[]);
        assert_eq!(v.errors.len(), 1, "{v:?}");
        let e = &v.errors[0];
        assert_eq!(
            (e.path.as_str(), e.given.as_str()),
            ("train/c0/18.png", "a")
        );
        assert_eq!((e.suggested.as_str(), e.neighbours_suggested), ("b", 5));
        assert_eq!((e.pair_confusions, e.duplicate_of.as_deref()), (0, None));
        assert!(v.hard.is_empty(), "{v:?}");
    }

    #[test]
    fn a_confused_class_pair_yields_hard_images_not_label_errors() {
        // three `a` photos the model takes for `b`: the pair is confusable
        let (set, p) = data(3);
        let v = verdict(&set, &p, &[]);
        assert!(v.errors.is_empty(), "{v:?}");
        assert_eq!(v.hard.len(), 3, "{v:?}");
        assert!(v
            .hard
            .iter()
            .all(|h| h.pair_confusions == 2 && h.suggested == "b"));
        // neighbours agree (the rule's other half holds), so the confusability decides
        assert!(v.hard.iter().all(|h| h.neighbours_suggested >= KNN_AGREE));
    }

    #[test]
    fn a_doubt_without_agreeing_neighbours_is_a_hard_image() {
        // the photo filed under `a` lies among `a` photos, yet the model says `b`
        let (mut set, p) = data(1);
        set.x.row_mut(18).fill(0.0);
        set.x[[18, 0]] = 1.0;
        let v = verdict(&set, &p, &[]);
        assert!(v.errors.is_empty(), "{v:?}");
        assert_eq!((v.hard.len(), v.hard[0].neighbours_suggested), (1, 0));
    }

    #[test]
    fn of_a_picture_filed_under_two_classes_the_doubted_copy_is_the_label_error() {
        // photo 18 (filed `a`) is a copy of `b` photo 6; the model leans to `b` without being sure
        let (mut set, mut p) = data(1);
        let copy = set.x.row(6).to_owned();
        set.x.row_mut(18).assign(&copy);
        p.row_mut(18).assign(&ndarray::arr1(&[0.3, 0.6, 0.1]));
        p.row_mut(6).assign(&ndarray::arr1(&[0.2, 0.7, 0.1]));
        let dup = NearDuplicate {
            a: set.paths[6].clone(),
            b: set.paths[18].clone(),
            similarity: 1.0,
            pixel_similarity: None,
            ratio: 0.0,
            evidence: "features".into(),
            cross_split: false,
            label_conflict: true,
        };
        assert!(verdict(&set, &p, &[]).errors.is_empty());
        let v = verdict(&set, &p, &[dup]);
        assert_eq!(v.errors.len(), 1, "{v:?}");
        assert_eq!(v.errors[0].path, "train/c0/18.png");
        assert_eq!(v.errors[0].duplicate_of.as_deref(), Some("train/c1/6.png"));
    }
}
