//! The logistic head's objective on `f32` features, through the head's matrix products:
//! `f(W, b) = (Σ_i −log softmax(W·x_i + b)[y_i] + α/2·‖W‖²) / N` (the summed loss of
//! linfa-logistic, divided by the number of rows so that one gradient tolerance fits any data
//! size) and its gradient. Parameters are one flat vector: `W` `[K,D]` row-major, then `b` `[K]`.
//!
//! The rows are read where they lie, as a list of blocks (a head's cached row sets), and an
//! optional per-row factor scales each row (`1/‖x_i‖` for L2-normalised features) inside the
//! products: `z_i = s_i·(W·x_i) + b` and `∂/∂W = Σ_i s_i·(p_i − y_i)·x_iᵀ`. No copy of the
//! features is made, whatever their size.
//!
//! With `centre` (the mean `μ` of the scaled rows) the bias is taken about it: `z_i = s_i·(W·x_i)
//! − W·μ + b'`, i.e. the model sees centred rows. That is the same family of models (`b = b' −
//! W·μ`) with the same penalty (on `W` only), so the same optimum; but the solver no longer has to
//! move `W` and `b` together along the rows' mean, which for features of one sign (after a ReLU)
//! is the worst-conditioned direction of the problem.

use crate::head::matmul::gemm;
use ndarray::{Array2, ArrayView1, ArrayView2, ArrayViewMut1, ArrayViewMut2};

/// Rows scored per block: bounds the logits buffer to `ROWS·K` floats.
const ROWS: usize = 8192;

/// Features in row blocks (each `[N_b,D]`, together `N` rows), per-row factors `scale` (`N`, or
/// `None` for all ones), class indices `y` (`N`, each `< k`) and the L2 weight `alpha`.
pub struct Objective<'a, 'v> {
    pub blocks: &'a [ArrayView2<'v, f32>],
    pub scale: Option<&'a [f32]>,
    /// `μ` `[D]` (see the module), or `None` for a plain bias.
    pub centre: Option<&'a [f32]>,
    pub y: &'a [u32],
    pub k: usize,
    pub alpha: f64,
}

/// `1/‖x_i‖` of every row of the blocks, in order (`1` for zero rows, which stay zero).
pub fn inverse_norms(blocks: &[ArrayView2<f32>]) -> Vec<f32> {
    blocks
        .iter()
        .flat_map(|b| b.rows().into_iter())
        .map(|r| {
            let n = crate::head::input::l2_norm(r);
            if n > 0.0 {
                1.0 / n
            } else {
                1.0
            }
        })
        .collect()
}

/// The mean `[D]` of the rows of the blocks, each times its factor in `scale` (all ones when
/// `None`).
pub fn scaled_mean(blocks: &[ArrayView2<f32>], scale: Option<&[f32]>) -> Vec<f32> {
    let d = blocks.first().map_or(0, |b| b.ncols());
    let mut sum = vec![0.0f64; d];
    let mut i = 0;
    for b in blocks {
        for r in b.rows() {
            let s = scale.map_or(1.0, |s| s[i]) as f64;
            sum.iter_mut().zip(r).for_each(|(m, &v)| *m += s * v as f64);
            i += 1;
        }
    }
    sum.iter().map(|&m| (m / i.max(1) as f64) as f32).collect()
}

impl Objective<'_, '_> {
    fn d(&self) -> usize {
        self.blocks.first().map_or(0, |b| b.ncols())
    }

    /// Number of rows `N` over all blocks.
    pub fn rows(&self) -> usize {
        self.blocks.iter().map(|b| b.nrows()).sum()
    }

    /// Length of the flat parameter vector: `K·D + K`.
    pub fn len(&self) -> usize {
        self.k * (self.d() + 1)
    }

    /// `W` `[K,D]` and `b` `[K]` inside a flat vector.
    pub fn split<'t>(&self, theta: &'t [f32]) -> (ArrayView2<'t, f32>, ArrayView1<'t, f32>) {
        let kd = self.k * self.d();
        (
            ArrayView2::from_shape((self.k, self.d()), &theta[..kd]).expect("flat length"),
            ArrayView1::from(&theta[kd..]),
        )
    }

    fn split_mut<'t>(
        &self,
        theta: &'t mut [f32],
    ) -> (ArrayViewMut2<'t, f32>, ArrayViewMut1<'t, f32>) {
        let kd = self.k * self.d();
        let (w, b) = theta.split_at_mut(kd);
        (
            ArrayViewMut2::from_shape((self.k, self.d()), w).expect("flat length"),
            ArrayViewMut1::from(b),
        )
    }

    /// [`Objective::eval`] on `f64` parameters and gradient (what the solver iterates on);
    /// `theta32` and `grad32` are scratch of the same length.
    pub fn eval_f64(
        &self,
        theta: &[f64],
        grad: &mut [f64],
        theta32: &mut [f32],
        grad32: &mut [f32],
    ) -> f64 {
        theta32
            .iter_mut()
            .zip(theta)
            .for_each(|(t, &v)| *t = v as f32);
        let value = self.eval(theta32, grad32);
        grad.iter_mut()
            .zip(grad32.iter())
            .for_each(|(g, &v)| *g = v as f64);
        value
    }

    /// The objective at `theta`; its gradient goes into `grad` (same length).
    pub fn eval(&self, theta: &[f32], grad: &mut [f32]) -> f64 {
        let n = self.rows();
        let (w, b) = self.split(theta);
        let (mut gw, mut gb) = self.split_mut(grad);
        gw.fill(0.0);
        gb.fill(0.0);
        // the bias every row sees: b, or b' − W·μ about the centre
        let b = match self.centre {
            Some(mu) => &b - &w.dot(&ArrayView1::from(mu)),
            None => b.to_owned(),
        };
        let mut nll = 0.0f64;
        let mut z = Array2::<f32>::zeros((ROWS.min(n), self.k));
        let mut first = 0; // index of the block's first row among all rows
        for block in self.blocks {
            for start in (0..block.nrows()).step_by(ROWS) {
                let end = (start + ROWS).min(block.nrows());
                let x = block.slice(ndarray::s![start..end, ..]);
                let (lo, hi) = (first + start, first + end);
                let mut z = z.slice_mut(ndarray::s![..end - start, ..]);
                // z ← s⊙(x·Wᵀ) + b  [rows,K], then s⊙(softmax − one-hot): dL/dz times s.
                gemm(1.0, x, w.t(), 0.0, z.view_mut());
                for (i, (mut row, &y)) in z.rows_mut().into_iter().zip(&self.y[lo..hi]).enumerate()
                {
                    let s = self.scale.map_or(1.0, |s| s[lo + i]);
                    row.zip_mut_with(&b, |v, &b| *v = *v * s + b);
                    let y = y as usize;
                    let max = row.fold(f32::NEG_INFINITY, |m, &v| m.max(v));
                    let zy = row[y] - max;
                    let mut sum = 0.0f32;
                    row.mapv_inplace(|v| {
                        let e = (v - max).exp();
                        sum += e;
                        e
                    });
                    nll -= (zy - sum.ln()) as f64;
                    row.mapv_inplace(|e| e / sum);
                    row[y] -= 1.0;
                    // db takes (P − Y) unscaled; dW takes it times s (below, through z).
                    gb += &row;
                    if s != 1.0 {
                        row.mapv_inplace(|v| v * s);
                    }
                }
                // dW += (s⊙(P − Y))ᵀ·x  [K,D].
                gemm(1.0, z.t(), x, 1.0, gw.view_mut());
            }
            first += block.nrows();
        }
        if let Some(mu) = self.centre {
            // ∂/∂W of −W·μ in every row's logits: −(Σ_i (P − Y)_i)·μᵀ
            let mu = ArrayView1::from(mu);
            for (mut g, &gbk) in gw.rows_mut().into_iter().zip(gb.iter()) {
                g.scaled_add(-gbk, &mu);
            }
        }
        let inv_n = 1.0 / n.max(1) as f64;
        let alpha = self.alpha as f32;
        let mut w2 = 0.0f64;
        ndarray::Zip::from(&mut gw).and(&w).for_each(|g, &w| {
            *g = (*g + alpha * w) * inv_n as f32;
            w2 += w as f64 * w as f64;
        });
        gb.mapv_inplace(|g| g * inv_n as f32);
        (nll + 0.5 * self.alpha * w2) * inv_n
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    /// Central differences of the objective (in f64 from f32 evaluations, so a loose bound)
    /// against the analytic gradient, over several blocks of rows with row factors.
    #[test]
    fn gradient_matches_finite_differences() {
        let mut rng = crate::seed::rng(4, &[b"logistic-objective"]);
        let (n, d, k) = (ROWS + 37, 6, 4);
        let x = Array2::from_shape_simple_fn((n, d), || rng.gen_range(-1.0f32..1.0));
        let y: Vec<u32> = (0..n).map(|_| rng.gen_range(0..k as u32)).collect();
        // Two blocks (the second crossing a ROWS boundary) and L2-normalising row factors.
        let blocks = [
            x.slice(ndarray::s![..37, ..]),
            x.slice(ndarray::s![37.., ..]),
        ];
        let scale = inverse_norms(&blocks);
        let obj = Objective {
            blocks: &blocks,
            scale: Some(&scale),
            centre: None,
            y: &y,
            k,
            alpha: 0.7,
        };
        let theta: Vec<f32> = (0..obj.len())
            .map(|_| rng.gen_range(-0.5f32..0.5))
            .collect();
        let mut g = vec![0.0; obj.len()];
        obj.eval(&theta, &mut g);
        let mut scratch = vec![0.0; obj.len()];
        let mut normalised = x.clone();
        crate::head::input::l2_normalize_rows(&mut normalised);
        let copy = [normalised.view()];
        let plain = Objective {
            blocks: &copy,
            scale: None,
            ..obj
        };
        let mut g_plain = vec![0.0; obj.len()];
        let (a, b) = (
            obj.eval(&theta, &mut scratch),
            plain.eval(&theta, &mut g_plain),
        );
        assert!(
            (a - b).abs() < 1e-6 * b.abs(),
            "row factors {a} vs a normalised copy {b}"
        );
        let dg = g_plain
            .iter()
            .zip(&scratch)
            .fold(0.0f32, |m, (p, q)| m.max((p - q).abs()));
        assert!(dg < 1e-5, "gradients differ by {dg}");
        for j in 0..obj.len() {
            let eps = 1e-2f32;
            let mut t = theta.clone();
            t[j] += eps;
            let up = obj.eval(&t, &mut scratch);
            t[j] -= 2.0 * eps;
            let down = obj.eval(&t, &mut scratch);
            let numeric = (up - down) / (2.0 * eps as f64);
            assert!(
                (numeric - g[j] as f64).abs() < 1e-4 + 1e-3 * numeric.abs(),
                "parameter {j}: numeric {numeric} analytic {}",
                g[j]
            );
        }
    }

    /// About a centre: the gradient matches finite differences, and `(W, b')` scores as the plain
    /// objective at `(W, b' − W·μ)` (the same model).
    #[test]
    fn the_centred_objective_is_the_plain_one_reparametrised() {
        let mut rng = crate::seed::rng(5, &[b"logistic-centre"]);
        let (n, d, k) = (50, 5, 3);
        let x = Array2::from_shape_simple_fn((n, d), || rng.gen_range(0.0f32..2.0));
        let y: Vec<u32> = (0..n).map(|_| rng.gen_range(0..k as u32)).collect();
        let blocks = [x.view()];
        let scale = inverse_norms(&blocks);
        let mu = scaled_mean(&blocks, Some(&scale));
        let centred = Objective {
            blocks: &blocks,
            scale: Some(&scale),
            centre: Some(&mu),
            y: &y,
            k,
            alpha: 0.3,
        };
        let plain = Objective {
            centre: None,
            ..centred
        };
        let theta: Vec<f32> = (0..centred.len())
            .map(|_| rng.gen_range(-0.5f32..0.5))
            .collect();
        let mut g = vec![0.0; centred.len()];
        let value = centred.eval(&theta, &mut g);
        let mut moved = theta.clone();
        let (w, b) = centred.split(&theta);
        let wmu = w.dot(&ArrayView1::from(&mu[..]));
        for c in 0..k {
            moved[k * d + c] = b[c] - wmu[c];
        }
        let mut scratch = vec![0.0; centred.len()];
        let same = plain.eval(&moved, &mut scratch);
        assert!((value - same).abs() < 1e-5, "{value} vs {same}");
        for j in 0..centred.len() {
            let eps = 1e-2f32;
            let mut t = theta.clone();
            t[j] += eps;
            let up = centred.eval(&t, &mut scratch);
            t[j] -= 2.0 * eps;
            let down = centred.eval(&t, &mut scratch);
            let numeric = (up - down) / (2.0 * eps as f64);
            assert!(
                (numeric - g[j] as f64).abs() < 1e-4 + 1e-3 * numeric.abs(),
                "parameter {j}: numeric {numeric} analytic {}",
                g[j]
            );
        }
    }
}
