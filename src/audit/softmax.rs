//! Out-of-fold class probabilities from a quick multinomial logistic regression per fold:
//! `p = softmax(x·W + b)`, zero init, full-batch Adam on the mean NLL + `λ/2·‖W‖²`.
//! Shapes: `N` images, `D` features, `K` classes.

use crate::head::loss::log_softmax_inplace;
use ndarray::{Array1, Array2, ArrayView2, Axis};
use rand::seq::SliceRandom;

/// Full-batch Adam steps per fold.
const STEPS: usize = 200;
const LR: f32 = 0.05;
const L2: f32 = 1e-3;

/// Stratified folds: each class's images shuffled (seeded) and dealt round-robin, the deal
/// continuing across classes so the folds stay the same size. Returns the fold of every image.
pub fn assign_folds(labels: &[u32], k: usize, folds: usize, seed: u64) -> Vec<usize> {
    let mut fold = vec![0; labels.len()];
    let mut next = 0;
    for c in 0..k {
        let mut members: Vec<usize> = (0..labels.len())
            .filter(|&i| labels[i] as usize == c)
            .collect();
        members.shuffle(&mut crate::seed::rng(
            seed,
            &[b"audit-folds", &c.to_le_bytes()],
        ));
        for i in members {
            fold[i] = next % folds;
            next += 1;
        }
    }
    fold
}

/// `[N,K]` probabilities, row `i` from a model that never saw image `i`.
pub fn out_of_fold(
    x: ArrayView2<f32>,
    labels: &[u32],
    k: usize,
    folds: usize,
    seed: u64,
) -> Array2<f32> {
    let fold = assign_folds(labels, k, folds, seed);
    let mut proba = Array2::<f32>::zeros((x.nrows(), k));
    for f in 0..folds {
        let train: Vec<usize> = (0..fold.len()).filter(|&i| fold[i] != f).collect();
        let held: Vec<usize> = (0..fold.len()).filter(|&i| fold[i] == f).collect();
        if held.is_empty() {
            continue;
        }
        let xt = x.select(Axis(0), &train);
        let yt: Vec<u32> = train.iter().map(|&i| labels[i]).collect();
        let (w, b) = fit(xt.view(), &yt, k);
        let p = predict(x.select(Axis(0), &held).view(), &w, &b);
        for (r, &i) in held.iter().enumerate() {
            proba.row_mut(i).assign(&p.row(r));
        }
    }
    proba
}

/// Probabilities `[N,K]` of `x` `[N,D]` under `W` `[D,K]`, `b` `[K]`.
pub fn predict(x: ArrayView2<f32>, w: &Array2<f32>, b: &Array1<f32>) -> Array2<f32> {
    let mut z = x.dot(w) + b;
    log_softmax_inplace(&mut z);
    z.mapv_inplace(f32::exp);
    z
}

/// Fits `W` `[D,K]` and `b` `[K]` on `x` `[N,D]`, `y` (`N`, each `< K`).
pub fn fit(x: ArrayView2<f32>, y: &[u32], k: usize) -> (Array2<f32>, Array1<f32>) {
    let (n, d) = x.dim();
    let mut w = Array2::<f32>::zeros((d, k));
    let mut b = Array1::<f32>::zeros(k);
    let (mut mw, mut vw) = (w.clone(), w.clone());
    let (mut mb, mut vb) = (b.clone(), b.clone());
    let (b1, b2, eps) = (0.9f32, 0.999f32, 1e-8f32);
    for t in 1..=STEPS {
        // g = (p − onehot)/N  [N,K]
        let mut g = predict(x, &w, &b);
        for (mut row, &yi) in g.rows_mut().into_iter().zip(y) {
            row[yi as usize] -= 1.0;
        }
        g /= n.max(1) as f32;
        let gw = x.t().dot(&g) + &(&w * L2); // [D,K]
        let gb = g.sum_axis(Axis(0));
        let (c1, c2) = (1.0 - b1.powi(t as i32), 1.0 - b2.powi(t as i32));
        adam(&mut w, &mut mw, &mut vw, &gw, (b1, b2, eps, c1, c2));
        adam(&mut b, &mut mb, &mut vb, &gb, (b1, b2, eps, c1, c2));
    }
    (w, b)
}

/// One bias-corrected Adam step (PyTorch semantics) on `p` with moments `m`, `v` and gradient `g`.
fn adam<D: ndarray::Dimension>(
    p: &mut ndarray::Array<f32, D>,
    m: &mut ndarray::Array<f32, D>,
    v: &mut ndarray::Array<f32, D>,
    g: &ndarray::Array<f32, D>,
    (b1, b2, eps, c1, c2): (f32, f32, f32, f32, f32),
) {
    ndarray::Zip::from(p)
        .and(m)
        .and(v)
        .and(g)
        .for_each(|p, m, v, &g| {
            *m = b1 * *m + (1.0 - b1) * g;
            *v = b2 * *v + (1.0 - b2) * g * g;
            *p -= LR * (*m / c1) / ((*v / c2).sqrt() + eps);
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_are_stratified_and_balanced() {
        let labels: Vec<u32> = (0..30).map(|i| (i % 3) as u32).collect();
        let f = assign_folds(&labels, 3, 5, 1);
        for fold in 0..5 {
            assert_eq!(f.iter().filter(|&&x| x == fold).count(), 6);
        }
        assert_eq!(f, assign_folds(&labels, 3, 5, 1));
    }

    #[test]
    fn separable_clusters_are_predicted_out_of_fold() {
        let mut x = Array2::<f32>::zeros((40, 4));
        let labels: Vec<u32> = (0..40).map(|i| (i % 2) as u32).collect();
        for (i, &y) in labels.iter().enumerate() {
            x[[i, y as usize]] = 1.0;
            x[[i, 2 + (i % 2)]] = 0.1 * (i as f32 / 40.0);
        }
        let p = out_of_fold(x.view(), &labels, 2, 4, 0);
        for (row, &y) in p.rows().into_iter().zip(&labels) {
            assert!(row[y as usize] > 0.9, "{row}");
        }
    }
}
