//! Log-softmax and the class-weighted NLL loss, with the fused softmax-NLL backward pass.
//!
//! The loss follows PyTorch's `NLLLoss(weight=w, reduction="mean")` on `LogSoftmax` outputs:
//! `L = Σ_i w[y_i]·(−log p_i[y_i]) / Σ_i w[y_i]`, and without weights `w ≡ 1`.

use super::Float;
use ndarray::{Array2, ArrayView1, ArrayView2, Axis};

/// Sums over one batch: `weighted_nll = Σ w[y]·(−log p[y])`, `weight = Σ w[y]`, and `correct`,
/// the rows whose arg-max is the label.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatchLoss<F> {
    pub weighted_nll: F,
    pub weight: F,
    pub correct: usize,
}

impl<F: Float> BatchLoss<F> {
    /// The weighted mean loss of the batch (PyTorch's reduction `"mean"`).
    pub fn mean(&self) -> F {
        self.weighted_nll / self.weight
    }
}

/// `(max, log Σ exp(z − max))` of one row: the stable log-sum-exp is `max + second`.
fn row_max_lse<F: Float>(row: ArrayView1<F>) -> (F, F) {
    let max = row.fold(F::neg_infinity(), |m, &v| if v > m { v } else { m });
    let sum = row.fold(F::zero(), |s, &v| s + (v - max).exp());
    (max, sum.ln())
}

/// Index of the first largest entry (ties go to the lowest class index).
fn argmax<F: Float>(row: ArrayView1<F>) -> usize {
    let mut best = 0;
    for (j, &v) in row.iter().enumerate() {
        if v > row[best] {
            best = j;
        }
    }
    best
}

fn weight_of<F: Float>(class_weights: Option<&[F]>, label: u32) -> F {
    class_weights.map_or(F::one(), |w| w[label as usize])
}

/// In place: every row of the logits `z` `[N,K]` becomes `log softmax(row)`, computed as
/// `z − max − log Σ exp(z − max)` so no `exp` overflows.
pub fn log_softmax_inplace<F: Float>(z: &mut Array2<F>) {
    for mut row in z.rows_mut() {
        let (max, lse) = row_max_lse(row.view());
        row.mapv_inplace(|v| v - max - lse);
    }
}

/// Loss sums of log-probabilities `logp` `[N,K]` against `labels` (each `< K`);
/// `class_weights` has `K` entries or is `None` for all ones.
pub fn nll_sums<F: Float>(
    logp: ArrayView2<F>,
    labels: &[u32],
    class_weights: Option<&[F]>,
) -> BatchLoss<F> {
    let mut out = BatchLoss {
        weighted_nll: F::zero(),
        weight: F::zero(),
        correct: 0,
    };
    for (row, &y) in logp.rows().into_iter().zip(labels) {
        let w = weight_of(class_weights, y);
        out.weighted_nll += -w * row[y as usize];
        out.weight += w;
        out.correct += usize::from(argmax(row) == y as usize);
    }
    out
}

/// Fused forward and backward of log-softmax + weighted NLL: replaces the logits `z` `[N,K]` by
/// `dL/dz = (softmax(z) − onehot(y))·w[y] / Σ_i w[y_i]` and returns the batch's loss sums.
/// `labels` has `N` entries, each `< K`; `class_weights` has `K` entries or is `None`.
pub fn softmax_nll_backward<F: Float>(
    z: &mut Array2<F>,
    labels: &[u32],
    class_weights: Option<&[F]>,
) -> BatchLoss<F> {
    let total_w = labels
        .iter()
        .fold(F::zero(), |s, &y| s + weight_of(class_weights, y));
    let mut out = BatchLoss {
        weighted_nll: F::zero(),
        weight: total_w,
        correct: 0,
    };
    for (mut row, &y) in z.axis_iter_mut(Axis(0)).zip(labels) {
        let y = y as usize;
        let (max, lse) = row_max_lse(row.view());
        let w = weight_of(class_weights, y as u32);
        out.weighted_nll += -w * (row[y] - max - lse);
        out.correct += usize::from(argmax(row.view()) == y);
        let scale = w / total_w;
        row.mapv_inplace(|v| (v - max - lse).exp() * scale);
        row[y] -= scale;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn closed_form_two_classes() {
        let mut z = array![[0.0f64, 0.0], [2.0f64.ln(), 0.0]];
        let l = softmax_nll_backward(&mut z, &[0, 1], None);
        let expect = (2.0f64.ln() + 3.0f64.ln()) / 2.0;
        assert!((l.mean() - expect).abs() < 1e-15);
        assert!((z[[0, 0]] - (0.5 - 1.0) / 2.0).abs() < 1e-15);
        assert!((z[[1, 1]] - (1.0 / 3.0 - 1.0) / 2.0).abs() < 1e-15);
        assert_eq!(l.correct, 1);
    }

    #[test]
    fn weighted_mean_divides_by_the_targets_weights() {
        let z0 = array![[1.0f64, 2.0, 3.0], [0.5, -1.0, 0.0]];
        let mut lp = z0.clone();
        log_softmax_inplace(&mut lp);
        let w = [2.0, 1.0, 5.0];
        let l = nll_sums(lp.view(), &[2, 0], Some(&w));
        let expect = (5.0 * -lp[[0, 2]] + 2.0 * -lp[[1, 0]]) / 7.0;
        assert!((l.mean() - expect).abs() < 1e-15);
        let mut g = z0.clone();
        let fused = softmax_nll_backward(&mut g, &[2, 0], Some(&w));
        assert!((fused.mean() - expect).abs() < 1e-15);
        assert!(
            g.sum().abs() < 1e-15,
            "each row of the gradient sums to zero"
        );
    }

    #[test]
    fn extreme_logits_stay_finite() {
        let mut z = array![
            [1e30f32, -1e30, 0.0],
            [-1.5e38, 1.5e38, 1e-30],
            [88.0, 89.0, 1e4]
        ];
        let mut lp = z.clone();
        log_softmax_inplace(&mut lp);
        assert!(lp.iter().all(|v| v.is_finite()));
        let l = softmax_nll_backward(&mut z, &[1, 0, 2], None);
        assert!(l.weighted_nll.is_finite() && z.iter().all(|v| v.is_finite()));
    }
}
