//! The linear head: multinomial logistic regression, kept as one `Linear(D,K)` layer so it is
//! saved, loaded and scored like the MLP.
//!
//! Fitted by the project's own L-BFGS ([`lbfgs`]) on `f32` features through the head's matrix
//! products ([`objective`]), minimising linfa-logistic's objective. linfa-logistic (f64, through
//! `ndarray`'s `matrixmultiply` products, on an f64 copy of the features) reached the same optimum
//! but was the slowest part of a fit; it stays as the reference the tests compare against
//! ([`fit_logistic_linfa`]) and in `benches/logistic_fit.rs`.

mod lbfgs;
mod objective;

use super::loss::log_softmax_inplace;
use lbfgs::{minimize, LbfgsConfig};
use linfa::prelude::*;
use linfa_logistic::MultiLogisticRegression;
use ndarray::{s, Array1, Array2, ArrayView2};
use objective::Objective;

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

/// Solver settings.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LogisticConfig {
    /// L2 weight: the objective is `Σ_i −log p_i[y_i] + α/2·‖W‖²` (a sum over samples, not a mean;
    /// `C = 1/α` as in scikit-learn).
    pub alpha: f64,
    pub max_iterations: u64,
    /// Converged when the gradient of the objective divided by the number of rows has at most
    /// this Euclidean norm.
    pub gradient_tolerance: f64,
}

/// L-BFGS iterations per fit unless `--logistic-max-iter` says otherwise.
pub const DEFAULT_MAX_ITER: u64 = 300;
/// Norm of the per-row objective's gradient below which a fit counts as converged.
pub const DEFAULT_TOLERANCE: f64 = 1e-4;

/// L-BFGS correction pairs kept.
const MEMORY: usize = 10;

/// Why the logistic fit failed.
#[derive(Debug, thiserror::Error)]
pub enum LogisticError {
    #[error("logistic regression needs at least two classes with training images; the train split has {0}")]
    TooFewClasses(usize),
    #[error(
        "linfa-logistic failed: {0}; check the features for NaN/inf or raise --logistic-max-iter"
    )]
    Linfa(#[from] linfa_logistic::error::Error),
    #[error("the logistic fit's objective is not finite ({0}); check the features for NaN/inf")]
    NotFinite(f64),
}

/// A fitted logistic head and whether L-BFGS converged before its iteration cap.
#[derive(Debug, Clone)]
pub struct LogisticFit {
    pub head: LinearHead,
    /// Euclidean norm of the per-row objective's gradient at the solution.
    pub grad_norm: f64,
    /// `grad_norm` is within the tolerance (false: the iteration cap stopped it).
    pub converged: bool,
    /// L-BFGS iterations and objective evaluations (each two matrix products over the rows).
    pub iterations: u64,
    pub evaluations: u64,
}

/// The classes that have rows in `y`, sorted; refuses fewer than two.
fn present_classes(y: &[u32]) -> Result<Vec<u32>, LogisticError> {
    let mut present: Vec<u32> = y.to_vec();
    present.sort_unstable();
    present.dedup();
    if present.len() < 2 {
        return Err(LogisticError::TooFewClasses(present.len()));
    }
    Ok(present)
}

/// Fits on the rows of `blocks` (each `[N_b,D]`, read in place) with labels `y` (one per row, in
/// block order, each `< k`), each row scaled to unit length first when `l2_normalize`, starting
/// from `init` (a warm start, e.g. the fit at a neighbouring alpha) or from zero; classes without
/// rows get zero weights and [`ABSENT_CLASS_BIAS`]. The softmax runs over the present classes.
pub fn fit_logistic(
    blocks: &[ArrayView2<f32>],
    y: &[u32],
    k: usize,
    l2_normalize: bool,
    cfg: &LogisticConfig,
    init: Option<&LinearHead>,
) -> Result<LogisticFit, LogisticError> {
    let present = present_classes(y)?;
    let d = blocks.first().map_or(0, |b| b.ncols());
    let kp = present.len();
    let index: Vec<u32> = y
        .iter()
        .map(|c| present.binary_search(c).expect("present lists every label") as u32)
        .collect();
    let scale = l2_normalize.then(|| objective::inverse_norms(blocks));
    // solved about the rows' mean (see `objective`): the same optimum, better conditioned
    let centre = objective::scaled_mean(blocks, scale.as_deref());
    let obj = Objective {
        blocks,
        scale: scale.as_deref(),
        centre: Some(&centre),
        y: &index,
        k: kp,
        alpha: cfg.alpha,
    };
    assert_eq!(obj.rows(), y.len(), "one label per row");
    let mut theta = vec![0.0f64; obj.len()];
    if let Some(h) = init.filter(|h| h.weight.dim() == (k, d)) {
        for (j, &c) in present.iter().enumerate() {
            let c = c as usize;
            if h.bias[c] == ABSENT_CLASS_BIAS {
                continue;
            }
            theta[j * d..(j + 1) * d]
                .iter_mut()
                .zip(h.weight.row(c))
                .for_each(|(t, &w)| *t = w as f64);
            // b' = b + W·μ
            let wmu: f64 = h
                .weight
                .row(c)
                .iter()
                .zip(&centre)
                .map(|(&w, &m)| w as f64 * m as f64)
                .sum();
            theta[kp * d + j] = h.bias[c] as f64 + wmu;
        }
    }
    let solver = LbfgsConfig {
        memory: MEMORY,
        max_iterations: cfg.max_iterations,
        gradient_tolerance: cfg.gradient_tolerance,
    };
    let (mut t32, mut g32) = (vec![0.0f32; obj.len()], vec![0.0f32; obj.len()]);
    let r = minimize(
        |t, g| obj.eval_f64(t, g, &mut t32, &mut g32),
        theta,
        &solver,
    );
    if !r.value.is_finite() {
        return Err(LogisticError::NotFinite(r.value));
    }
    let mut x32: Vec<f32> = r.x.iter().map(|&v| v as f32).collect();
    // back to a plain bias: b = b' − W·μ
    for j in 0..kp {
        let wmu: f64 = (0..d).map(|i| r.x[j * d + i] * centre[i] as f64).sum();
        x32[kp * d + j] = (r.x[kp * d + j] - wmu) as f32;
    }
    let (w, b) = obj.split(&x32);
    let mut weight = Array2::<f32>::zeros((k, d));
    let mut bias = Array1::<f32>::from_elem(k, ABSENT_CLASS_BIAS);
    for (j, &c) in present.iter().enumerate() {
        weight.row_mut(c as usize).assign(&w.row(j));
        bias[c as usize] = b[j];
    }
    Ok(LogisticFit {
        head: LinearHead { weight, bias },
        grad_norm: r.grad_norm,
        converged: r.converged,
        iterations: r.iterations,
        evaluations: r.evaluations,
    })
}

/// The same fit by linfa-logistic (f64 L-BFGS from argmin; its gradient tolerance applies to the
/// summed objective): the reference [`fit_logistic`] is tested and benchmarked against.
pub fn fit_logistic_linfa(
    x: ArrayView2<f32>,
    y: &[u32],
    k: usize,
    cfg: &LogisticConfig,
    init: Option<&LinearHead>,
) -> Result<LinearHead, LogisticError> {
    let present = present_classes(y)?;
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
    Ok(LinearHead { weight, bias })
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
        let head = fit_logistic(&[x.view()], &y, 4, false, &cfg, None)
            .unwrap()
            .head;
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
            fit_logistic(&[x.view()], &[1, 1, 1], 2, false, &cfg, None),
            Err(LogisticError::TooFewClasses(1))
        ));
    }

    /// The own solver reaches linfa-logistic's optimum: on overlapping blobs with an absent class,
    /// its objective is no higher than linfa's (converged to a tight tolerance), the weights
    /// agree, and a warm start from the solution converges at once.
    #[test]
    fn matches_linfa_logistic_and_warm_starts_converge_at_once() {
        let mut rng = crate::seed::rng(9, &[b"vs-linfa"]);
        let (n, d, k) = (300, 8, 5);
        let y: Vec<u32> = (0..n).map(|i| [0u32, 1, 2, 4][i % 4]).collect();
        let centres = Array2::from_shape_simple_fn((k, d), || rng.gen_range(-1.0f32..1.0));
        let x = Array2::from_shape_fn((n, d), |(i, j)| {
            centres[[y[i] as usize, j]] + rng.gen_range(-1.0f32..1.0)
        });
        let cfg = LogisticConfig {
            alpha: 0.5,
            max_iterations: 500,
            gradient_tolerance: DEFAULT_TOLERANCE,
        };
        let ours = fit_logistic(&[x.view()], &y, k, false, &cfg, None).unwrap();
        assert!(ours.converged, "{ours:?}");
        let reference = fit_logistic_linfa(
            x.view(),
            &y,
            k,
            &LogisticConfig {
                gradient_tolerance: 1e-8,
                ..cfg
            },
            None,
        )
        .unwrap();
        let present = [0u32, 1, 2, 4];
        let index: Vec<u32> = y
            .iter()
            .map(|c| present.iter().position(|p| p == c).unwrap() as u32)
            .collect();
        let blocks = [x.view()];
        let obj = Objective {
            blocks: &blocks,
            scale: None,
            centre: None,
            y: &index,
            k: 4,
            alpha: cfg.alpha,
        };
        let value = |h: &LinearHead| {
            let mut theta = Vec::new();
            for &c in &present {
                theta.extend(h.weight.row(c as usize).iter());
            }
            theta.extend(present.iter().map(|&c| h.bias[c as usize]));
            obj.eval(&theta, &mut vec![0.0; obj.len()])
        };
        let (a, b) = (value(&ours.head), value(&reference));
        assert!(a <= b + 1e-6, "own {a} vs linfa {b}");
        let dw = (&ours.head.weight - &reference.weight)
            .iter()
            .fold(0.0f32, |m, v| m.max(v.abs()));
        assert!(dw < 5e-3, "weights differ by {dw}");
        assert_eq!(ours.head.bias[3], ABSENT_CLASS_BIAS);
        let again = fit_logistic(&[x.view()], &y, k, false, &cfg, Some(&ours.head)).unwrap();
        assert!(
            again.converged && again.iterations <= 1,
            "{}",
            again.iterations
        );
    }

    /// Rows of one sign far from the origin (as ReLU features are): about their mean the solver
    /// needs far fewer iterations than with a plain bias, for the same optimum.
    #[test]
    fn features_of_one_sign_converge_faster_about_their_mean() {
        let mut rng = crate::seed::rng(8, &[b"logistic-offset"]);
        let (n, d, k) = (600, 20, 4);
        let y: Vec<u32> = (0..n).map(|i| (i % k) as u32).collect();
        let x = Array2::from_shape_fn((n, d), |(i, j)| {
            let signal = if j % k == y[i] as usize { 0.4 } else { 0.0 };
            3.0 + signal + rng.gen_range(0.0f32..1.0)
        });
        let cfg = LogisticConfig {
            alpha: 1e-3,
            max_iterations: 2000,
            gradient_tolerance: 1e-5,
        };
        let blocks = [x.view()];
        let centred = fit_logistic(&blocks, &y, k, true, &cfg, None).unwrap();
        let scale = objective::inverse_norms(&blocks);
        let plain = Objective {
            blocks: &blocks,
            scale: Some(&scale),
            centre: None,
            y: &y,
            k,
            alpha: cfg.alpha,
        };
        let solver = LbfgsConfig {
            memory: MEMORY,
            max_iterations: cfg.max_iterations,
            gradient_tolerance: cfg.gradient_tolerance,
        };
        let (mut t32, mut g32) = (vec![0.0f32; plain.len()], vec![0.0f32; plain.len()]);
        let r = minimize(
            |t, g| plain.eval_f64(t, g, &mut t32, &mut g32),
            vec![0.0; plain.len()],
            &solver,
        );
        assert!(centred.converged, "{centred:?}");
        assert!(
            3 * centred.iterations < 2 * r.iterations,
            "centred {} vs plain {} iterations",
            centred.iterations,
            r.iterations
        );
        // the same optimum: the plain objective at the centred fit is no worse than its own
        let mut theta: Vec<f32> = centred.head.weight.iter().copied().collect();
        theta.extend(centred.head.bias.iter());
        let at_centred = plain.eval(&theta, &mut vec![0.0; plain.len()]);
        assert!(at_centred <= r.value + 1e-6, "{at_centred} vs {}", r.value);
    }
}
