//! Limited-memory BFGS (Nocedal & Wright, *Numerical Optimization*, 2nd ed., algorithms 7.4 and
//! 7.5) with a backtracking Armijo line search, on flat `f64` parameter vectors (the objective
//! may compute in `f32`; keeping the iterates and correction pairs in `f64` keeps small steps
//! `s = x₊ − x` exact, which f32 iterates near 1 do not). Small and specific: the objective is smooth and convex (the logistic
//! head's), so no Wolfe curvature search is needed; a pair whose curvature `sᵀy` is not positive
//! is skipped instead.

use std::collections::VecDeque;

/// Solver settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LbfgsConfig {
    /// Correction pairs kept.
    pub memory: usize,
    /// Iterations at most (each one line search).
    pub max_iterations: u64,
    /// Stop when the gradient's Euclidean norm is at most this.
    pub gradient_tolerance: f64,
}

/// Where the solver stopped.
#[derive(Debug, Clone, PartialEq)]
pub struct LbfgsResult {
    pub x: Vec<f64>,
    /// Objective at `x`.
    pub value: f64,
    /// Gradient norm at `x`.
    pub grad_norm: f64,
    pub iterations: u64,
    /// Objective evaluations (line-search trials included).
    pub evaluations: u64,
    /// The gradient norm reached the tolerance (false: the iteration cap or a line search that
    /// could not decrease the objective any more stopped it).
    pub converged: bool,
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(&x, &y)| x * y).sum()
}

fn norm(a: &[f64]) -> f64 {
    dot(a, a).sqrt()
}

/// `y ← y + a·x`.
fn axpy(a: f64, x: &[f64], y: &mut [f64]) {
    for (y, &x) in y.iter_mut().zip(x) {
        *y += a * x;
    }
}

/// One correction pair `s = x₊ − x`, `y = ∇₊ − ∇` with `ρ = 1/(sᵀy)`.
struct Pair {
    s: Vec<f64>,
    y: Vec<f64>,
    rho: f64,
}

/// The search direction `−H·g` by the two-loop recursion, `H₀ = γI`, `γ = sᵀy/yᵀy` of the newest
/// pair (algorithm 7.4).
fn direction(pairs: &VecDeque<Pair>, g: &[f64]) -> Vec<f64> {
    let mut q: Vec<f64> = g.iter().map(|v| -v).collect();
    let mut alphas = Vec::with_capacity(pairs.len());
    for p in pairs.iter().rev() {
        let a = p.rho * dot(&p.s, &q);
        axpy(-a, &p.y, &mut q);
        alphas.push(a);
    }
    if let Some(p) = pairs.back() {
        let gamma = dot(&p.s, &p.y) / dot(&p.y, &p.y);
        q.iter_mut().for_each(|v| *v *= gamma);
    }
    for (p, a) in pairs.iter().zip(alphas.iter().rev()) {
        let b = p.rho * dot(&p.y, &q);
        axpy(a - b, &p.s, &mut q);
    }
    q
}

/// Armijo constant `c₁` and the most step halvings of one line search.
const ARMIJO: f64 = 1e-4;
const MAX_BACKTRACKS: u32 = 30;

/// Minimises `f` from `x0`. `f(x, grad)` returns the objective at `x` and writes its gradient
/// into `grad` (same length as `x`).
pub fn minimize(
    mut f: impl FnMut(&[f64], &mut [f64]) -> f64,
    x0: Vec<f64>,
    cfg: &LbfgsConfig,
) -> LbfgsResult {
    let n = x0.len();
    let mut x = x0;
    let mut g = vec![0.0f64; n];
    let mut value = f(&x, &mut g);
    let mut evaluations = 1;
    let mut pairs: VecDeque<Pair> = VecDeque::with_capacity(cfg.memory);
    let mut iterations = 0;
    let mut stalled = false;
    let mut x_new = vec![0.0f64; n];
    let mut g_new = vec![0.0f64; n];
    while iterations < cfg.max_iterations && norm(&g) > cfg.gradient_tolerance && value.is_finite()
    {
        iterations += 1;
        let mut d = direction(&pairs, &g);
        let mut slope = dot(&g, &d);
        if slope >= 0.0 {
            // Not a descent direction (rounding in a stale memory): restart from steepest descent.
            pairs.clear();
            d = g.iter().map(|v| -v).collect();
            slope = dot(&g, &d);
        }
        // The first step of a fresh memory has no curvature scale: move by unit length.
        let mut t = if pairs.is_empty() {
            (1.0 / norm(&d)).min(1.0)
        } else {
            1.0
        };
        let mut accepted = None;
        for _ in 0..MAX_BACKTRACKS {
            x_new.copy_from_slice(&x);
            axpy(t, &d, &mut x_new);
            let v = f(&x_new, &mut g_new);
            evaluations += 1;
            if v.is_finite() && v <= value + ARMIJO * t * slope {
                accepted = Some(v);
                break;
            }
            // Minimiser of the quadratic through f(0), f'(0) and f(t), kept within [t/10, t/2].
            let quad = if v.is_finite() {
                -slope * t * t / (2.0 * (v - value - slope * t))
            } else {
                t / 10.0
            };
            t = quad.clamp(t / 10.0, t / 2.0);
        }
        let Some(v) = accepted else {
            stalled = true;
            break;
        };
        let s: Vec<f64> = x_new.iter().zip(&x).map(|(a, b)| a - b).collect();
        let y: Vec<f64> = g_new.iter().zip(&g).map(|(a, b)| a - b).collect();
        let sy = dot(&s, &y);
        if sy > 1e-12 * dot(&y, &y).max(f64::MIN_POSITIVE) {
            if pairs.len() == cfg.memory {
                pairs.pop_front();
            }
            pairs.push_back(Pair {
                s,
                y,
                rho: 1.0 / sy,
            });
        }
        std::mem::swap(&mut x, &mut x_new);
        std::mem::swap(&mut g, &mut g_new);
        value = v;
    }
    let grad_norm = norm(&g);
    LbfgsResult {
        converged: !stalled && grad_norm <= cfg.gradient_tolerance,
        x,
        value,
        grad_norm,
        iterations,
        evaluations,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Rosenbrock function from (−1.2, 1): ill-conditioned, non-convex, minimum at (1, 1).
    #[test]
    fn finds_the_rosenbrock_minimum() {
        let cfg = LbfgsConfig {
            memory: 5,
            max_iterations: 200,
            gradient_tolerance: 1e-4,
        };
        let r = minimize(
            |x, g| {
                let (a, b) = (x[0], x[1]);
                g[0] = -2.0 * (1.0 - a) - 400.0 * a * (b - a * a);
                g[1] = 200.0 * (b - a * a);
                (1.0 - a).powi(2) + 100.0 * (b - a * a).powi(2)
            },
            vec![-1.2, 1.0],
            &cfg,
        );
        assert!(r.converged, "{r:?}");
        assert!(
            (r.x[0] - 1.0).abs() < 1e-3 && (r.x[1] - 1.0).abs() < 2e-3,
            "{r:?}"
        );
        assert!(r.iterations < 100, "{}", r.iterations);
    }

    /// A diagonal quadratic with condition number 1e3 converges at about the conjugate-gradient
    /// rate (fewer than √κ·ln(1/ε) ≈ 400 iterations), and the cap is honoured and reported.
    #[test]
    fn converges_on_an_ill_conditioned_quadratic_and_respects_the_cap() {
        let scales: Vec<f64> = (0..50).map(|i| 10f64.powf(3.0 * i as f64 / 49.0)).collect();
        let obj = |x: &[f64], g: &mut [f64]| {
            let mut v = 0.0;
            for ((xi, gi), s) in x.iter().zip(g.iter_mut()).zip(&scales) {
                let d = xi - 1.0;
                v += 0.5 * s * d * d;
                *gi = s * d;
            }
            v
        };
        let cfg = LbfgsConfig {
            memory: 10,
            max_iterations: 500,
            gradient_tolerance: 1e-6,
        };
        let r = minimize(obj, vec![0.0; 50], &cfg);
        assert!(r.converged && r.iterations < 400, "{r:?}");
        assert!(r.x.iter().all(|v| (v - 1.0).abs() < 1e-6));
        let capped = minimize(
            obj,
            vec![0.0; 50],
            &LbfgsConfig {
                max_iterations: 3,
                ..cfg
            },
        );
        assert_eq!(capped.iterations, 3);
        assert!(!capped.converged);
    }
}
