//! Classification metrics from log-probabilities: top-k accuracy, NLL, per-class results,
//! confusion matrix and most-confused pairs.

use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};

/// Results for one class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassResult {
    pub class: String,
    pub train_count: usize,
    pub count: usize,
    pub top1: f64,
    pub top5: f64,
    pub loss: f64,
}

/// A pair of classes confused with each other: `count` images of `truth` predicted as `predicted`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Confusion {
    pub truth: String,
    pub predicted: String,
    pub count: usize,
}

/// All metrics of one evaluated split.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Metrics {
    pub images: usize,
    pub top1: f64,
    /// Accuracy within the top `k5` classes (`k5 = min(5, classes)`).
    pub top5: f64,
    pub k5: usize,
    pub nll: f64,
    /// Mean over classes present in the split of their top-1 accuracy.
    pub mean_class_top1: f64,
    /// `confusion[truth][predicted]` counts.
    pub confusion: Vec<Vec<usize>>,
    /// Present classes, worst first (by top-1, then loss).
    pub per_class: Vec<ClassResult>,
    pub most_confused: Vec<Confusion>,
}

impl Metrics {
    /// Whether top-k5 says anything: with `k5` classes or fewer it is 100 % by construction.
    pub fn top5_meaningful(&self) -> bool {
        self.k5 < self.confusion.len()
    }
}

/// Rank of the true class among the row's scores (0 = best); ties count against the truth.
fn rank_of(row: &[f32], truth: usize) -> usize {
    let t = row[truth];
    row.iter()
        .enumerate()
        .filter(|&(j, &v)| j != truth && (v > t || (v == t && j < truth)))
        .count()
}

fn argmax(row: &[f32]) -> usize {
    row.iter()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |(bi, bv), (i, &v)| {
            if v > bv {
                (i, v)
            } else {
                (bi, bv)
            }
        })
        .0
}

/// Computes every metric. `log_proba` is `[N, K]`, `labels[i] < K`, `train_counts[k]` the number
/// of training images of class k (for the per-class table).
pub fn compute(
    log_proba: ArrayView2<f32>,
    labels: &[u32],
    classes: &[String],
    train_counts: &[usize],
) -> Metrics {
    let k = classes.len();
    let k5 = k.min(5);
    let mut confusion = vec![vec![0usize; k]; k];
    let (mut c_n, mut c_top1, mut c_top5, mut c_loss) = (
        vec![0usize; k],
        vec![0usize; k],
        vec![0usize; k],
        vec![0f64; k],
    );
    for (row, &y) in log_proba.rows().into_iter().zip(labels) {
        let y = y as usize;
        let r = row.to_vec();
        let rank = rank_of(&r, y);
        confusion[y][argmax(&r)] += 1;
        c_n[y] += 1;
        c_top1[y] += usize::from(rank == 0);
        c_top5[y] += usize::from(rank < k5);
        c_loss[y] -= f64::from(r[y]);
    }
    let n = labels.len();
    let frac = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let mut per_class: Vec<ClassResult> = (0..k)
        .filter(|&c| c_n[c] > 0)
        .map(|c| ClassResult {
            class: classes[c].clone(),
            train_count: train_counts.get(c).copied().unwrap_or(0),
            count: c_n[c],
            top1: frac(c_top1[c], c_n[c]),
            top5: frac(c_top5[c], c_n[c]),
            loss: c_loss[c] / c_n[c] as f64,
        })
        .collect();
    per_class.sort_by(|a, b| a.top1.total_cmp(&b.top1).then(b.loss.total_cmp(&a.loss)));
    let mut most_confused: Vec<Confusion> = (0..k)
        .flat_map(|t| (0..k).map(move |p| (t, p)))
        .filter(|&(t, p)| t != p && confusion[t][p] > 0)
        .map(|(t, p)| Confusion {
            truth: classes[t].clone(),
            predicted: classes[p].clone(),
            count: confusion[t][p],
        })
        .collect();
    most_confused.sort_by(|a, b| b.count.cmp(&a.count).then(a.truth.cmp(&b.truth)));
    most_confused.truncate(10);
    let mean_class_top1 = if per_class.is_empty() {
        0.0
    } else {
        per_class.iter().map(|c| c.top1).sum::<f64>() / per_class.len() as f64
    };
    Metrics {
        images: n,
        top1: frac(c_top1.iter().sum(), n),
        top5: frac(c_top5.iter().sum(), n),
        k5,
        nll: if n == 0 {
            0.0
        } else {
            c_loss.iter().sum::<f64>() / n as f64
        },
        mean_class_top1,
        confusion,
        per_class,
        most_confused,
    }
}

/// One RFC 4180 record (fields quoted by the `csv` crate when they hold a comma, quote, CR or
/// LF), ending in `\n`.
pub fn csv_record<I, F>(fields: I) -> String
where
    I: IntoIterator<Item = F>,
    F: AsRef<[u8]>,
{
    let mut w = csv::WriterBuilder::new()
        .flexible(true)
        .from_writer(Vec::new());
    // Writing to a Vec cannot fail; an empty line is the (unreachable) fallback.
    if w.write_record(fields).is_err() {
        return "\n".into();
    }
    let bytes = w.into_inner().unwrap_or_default();
    String::from_utf8(bytes).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn hand_computed_example() {
        let classes: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
        // probabilities (as logs): rows predict a, b, a, c
        let p = array![
            [0.7f32, 0.2, 0.1],
            [0.1, 0.6, 0.3],
            [0.5, 0.1, 0.4],
            [0.3, 0.3, 0.4]
        ]
        .mapv(f32::ln);
        let m = compute(p.view(), &[0, 1, 2, 2], &classes, &[10, 20, 30]);
        assert_eq!(m.images, 4);
        assert!((m.top1 - 0.75).abs() < 1e-12);
        assert_eq!(m.k5, 3);
        assert!((m.top5 - 1.0).abs() < 1e-12);
        let nll = -(0.7f64.ln() + 0.6f64.ln() + 0.4f64.ln() + 0.4f64.ln()) / 4.0;
        assert!((m.nll - nll).abs() < 1e-6);
        assert_eq!(
            m.confusion,
            vec![vec![1, 0, 0], vec![0, 1, 0], vec![1, 0, 1]]
        );
        assert_eq!(m.per_class[0].class, "c"); // worst first
        assert!((m.per_class[0].top1 - 0.5).abs() < 1e-12);
        assert_eq!(m.per_class[0].train_count, 30);
        assert!((m.mean_class_top1 - (1.0 + 1.0 + 0.5) / 3.0).abs() < 1e-12);
        assert_eq!(
            m.most_confused,
            vec![Confusion {
                truth: "c".into(),
                predicted: "a".into(),
                count: 1
            }]
        );
    }

    #[test]
    fn ties_count_against_the_truth_and_top5_clips() {
        assert_eq!(rank_of(&[0.5, 0.5], 1), 1);
        assert_eq!(rank_of(&[0.5, 0.5], 0), 0);
        let classes: Vec<String> = (0..8).map(|i| i.to_string()).collect();
        let p = ndarray::Array2::from_shape_fn((1, 8), |(_, j)| -(j as f32));
        let m = compute(p.view(), &[5], &classes, &[]);
        assert_eq!((m.k5, m.top1, m.top5), (5, 0.0, 0.0));
        let m = compute(p.view(), &[4], &classes, &[]);
        assert_eq!(m.top5, 1.0);
    }
}
