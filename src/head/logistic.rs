//! The linear baseline: multinomial logistic regression fitted by `linfa-logistic` (L-BFGS), kept
//! as one `Linear(D,K)` layer so it is saved, loaded and scored like the MLP.

use super::loss::log_softmax_inplace;
use linfa::prelude::*;
use linfa_logistic::MultiLogisticRegression;
use ndarray::{s, Array1, Array2, ArrayView2};

/// `log_softmax(x·weightᵀ + bias)`: `weight` `[K,D]`, `bias` `[K]` (PyTorch's `0.weight`, `0.bias`
/// of a one-layer `Sequential`).
#[derive(Debug, Clone, PartialEq)]
pub struct LinearHead {
    pub weight: Array2<f32>,
    pub bias: Array1<f32>,
}

/// Bias given to a class that has no training image, so it is never predicted (its
/// log-probability is about −1e4 below the others', finite).
pub const ABSENT_CLASS_BIAS: f32 = -1e4;

impl LinearHead {
    /// Log-probabilities `[N,K]` of features `x` `[N,D]`.
    pub fn log_proba(&self, x: ArrayView2<f32>) -> Array2<f32> {
        let mut z = x.dot(&self.weight.t());
        z += &self.bias;
        log_softmax_inplace(&mut z);
        z
    }
}

/// Solver settings of `linfa-logistic`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LogisticConfig {
    /// L2 weight: the objective is `Σ_i −log p_i[y_i] + α/2·‖W‖²` (a sum over samples, not a mean).
    pub alpha: f64,
    pub max_iterations: u64,
    pub gradient_tolerance: f64,
}

/// Why the logistic fit failed.
#[derive(Debug, thiserror::Error)]
pub enum LogisticError {
    #[error("logistic regression needs at least two classes with training images; the train split has {0}")]
    TooFewClasses(usize),
    #[error(
        "linfa-logistic failed: {0}; check the features for NaN/inf or raise --logistic-max-iter"
    )]
    Linfa(#[from] linfa_logistic::error::Error),
}

/// A fitted logistic head and whether L-BFGS converged before its iteration cap.
#[derive(Debug, Clone)]
pub struct LogisticFit {
    pub head: LinearHead,
    /// Euclidean norm of the objective's gradient at the solution.
    pub grad_norm: f64,
    /// `grad_norm` is within the tolerance (false: the iteration cap stopped it).
    pub converged: bool,
}

/// Fits on features `x` `[N,D]` with labels `y` (`N`, each `< k`), starting from `init` (a warm
/// start, e.g. the fit at a neighbouring alpha) or from zero; classes without samples get zero
/// weights and [`ABSENT_CLASS_BIAS`].
pub fn fit_logistic(
    x: ArrayView2<f32>,
    y: &[u32],
    k: usize,
    cfg: &LogisticConfig,
    init: Option<&LinearHead>,
) -> Result<LogisticFit, LogisticError> {
    let mut present: Vec<u32> = y.to_vec();
    present.sort_unstable();
    present.dedup();
    if present.len() < 2 {
        return Err(LogisticError::TooFewClasses(present.len()));
    }
    let targets = Array1::from(y.to_vec());
    let ds = DatasetBase::new(x.mapv(f64::from), targets);
    let mut params = MultiLogisticRegression::<f64>::default()
        .alpha(cfg.alpha)
        .max_iterations(cfg.max_iterations)
        .gradient_tolerance(cfg.gradient_tolerance);
    if let Some(h) = init.filter(|h| h.weight.dim() == (k, x.ncols())) {
        params = params.initial_params(warm_start(h, &present));
    }
    let model = params.fit(&ds)?;
    let d = x.ncols();
    let mut weight = Array2::<f32>::zeros((k, d));
    let mut bias = Array1::<f32>::from_elem(k, ABSENT_CLASS_BIAS);
    // linfa orders its columns by sorted label: column j is class `model.classes()[j]`.
    for (j, &c) in model.classes().iter().enumerate() {
        let c = c as usize;
        weight
            .slice_mut(s![c, ..])
            .assign(&model.params().column(j).mapv(|v| v as f32));
        bias[c] = model.intercept()[j] as f32;
    }
    let head = LinearHead { weight, bias };
    let grad_norm = gradient_norm(&head, x, y, &present, cfg.alpha);
    Ok(LogisticFit {
        head,
        grad_norm,
        converged: grad_norm <= cfg.gradient_tolerance,
    })
}

/// linfa's parameter layout `[D+1, C]` (weights, then the intercept row) of `h`'s present classes.
fn warm_start(h: &LinearHead, present: &[u32]) -> Array2<f64> {
    let d = h.weight.ncols();
    let mut p = Array2::<f64>::zeros((d + 1, present.len()));
    for (j, &c) in present.iter().enumerate() {
        let c = c as usize;
        if h.bias[c] == ABSENT_CLASS_BIAS {
            continue;
        }
        p.slice_mut(s![..d, j])
            .assign(&h.weight.row(c).mapv(f64::from));
        p[[d, j]] = h.bias[c] as f64;
    }
    p
}

/// Norm of the gradient of `Σ −log p[y] + α/2·‖W‖²` over the present classes (softmax over them).
fn gradient_norm(
    h: &LinearHead,
    x: ArrayView2<f32>,
    y: &[u32],
    present: &[u32],
    alpha: f64,
) -> f64 {
    let idx: Vec<usize> = present.iter().map(|&c| c as usize).collect();
    let w = h.weight.select(ndarray::Axis(0), &idx);
    let b = h.bias.select(ndarray::Axis(0), &idx);
    let mut z = x.dot(&w.t());
    z += &b;
    log_softmax_inplace(&mut z);
    let mut diff = z.mapv(f32::exp);
    for (i, &label) in y.iter().enumerate() {
        if let Ok(j) = present.binary_search(&label) {
            diff[[i, j]] -= 1.0;
        }
    }
    let gw = diff.t().dot(&x) + &(w.mapv(|v| v * alpha as f32));
    let gb = diff.sum_axis(ndarray::Axis(0));
    let sq: f64 = gw
        .iter()
        .chain(gb.iter())
        .map(|&v| (v as f64).powi(2))
        .sum();
    sq.sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array;
    use rand::Rng;

    #[test]
    fn separable_blobs_are_learned_and_absent_classes_never_win() {
        let mut rng = crate::seed::rng(3, &[b"t"]);
        let centers = [[3.0f32, 0.0], [0.0, 3.0], [-3.0, -3.0]];
        let y: Vec<u32> = (0..60).map(|i| [0u32, 2, 3][i % 3]).collect();
        let x = Array::from_shape_fn((60, 2), |(i, j)| {
            centers[i % 3][j] + rng.gen_range(-0.5f32..0.5)
        });
        let cfg = LogisticConfig {
            alpha: 1e-2,
            max_iterations: 100,
            gradient_tolerance: 1e-6,
        };
        let head = fit_logistic(x.view(), &y, 4, &cfg, None).unwrap().head;
        let lp = head.log_proba(x.view());
        for (row, &label) in lp.rows().into_iter().zip(&y) {
            let best = (0..4).max_by(|&a, &b| row[a].total_cmp(&row[b])).unwrap();
            assert_eq!(best as u32, label);
            assert!(row[1] < -1000.0 && row.iter().all(|v| v.is_finite()));
        }
    }

    #[test]
    fn one_class_is_refused() {
        let x = Array2::<f32>::zeros((3, 2));
        let cfg = LogisticConfig {
            alpha: 1.0,
            max_iterations: 10,
            gradient_tolerance: 1e-4,
        };
        assert!(matches!(
            fit_logistic(x.view(), &[1, 1, 1], 2, &cfg, None),
            Err(LogisticError::TooFewClasses(1))
        ));
    }
}
