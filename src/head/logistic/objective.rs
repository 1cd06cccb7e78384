//! The logistic head's objective on `f32` features, through the head's matrix products:
//! `f(W, b) = (Σ_i −log softmax(W·x_i + b)[y_i] + α/2·‖W‖²) / N` (the summed loss of
//! linfa-logistic, divided by the number of rows so that one gradient tolerance fits any data
//! size) and its gradient. Parameters are one flat vector: `W` `[K,D]` row-major, then `b` `[K]`.

use crate::head::matmul::gemm;
use ndarray::{Array2, ArrayView1, ArrayView2, ArrayViewMut1, ArrayViewMut2, Axis};

/// Rows scored per block: bounds the logits buffer to `ROWS·K` floats.
const ROWS: usize = 8192;

/// Features `x` `[N,D]`, class indices `y` (`N`, each `< k`) and the L2 weight `alpha`.
pub struct Objective<'a> {
    pub x: ArrayView2<'a, f32>,
    pub y: &'a [u32],
    pub k: usize,
    pub alpha: f64,
}

impl Objective<'_> {
    /// Length of the flat parameter vector: `K·D + K`.
    pub fn len(&self) -> usize {
        self.k * (self.x.ncols() + 1)
    }

    /// `W` `[K,D]` and `b` `[K]` inside a flat vector.
    pub fn split<'t>(&self, theta: &'t [f32]) -> (ArrayView2<'t, f32>, ArrayView1<'t, f32>) {
        let kd = self.k * self.x.ncols();
        (
            ArrayView2::from_shape((self.k, self.x.ncols()), &theta[..kd]).expect("flat length"),
            ArrayView1::from(&theta[kd..]),
        )
    }

    fn split_mut<'t>(
        &self,
        theta: &'t mut [f32],
    ) -> (ArrayViewMut2<'t, f32>, ArrayViewMut1<'t, f32>) {
        let kd = self.k * self.x.ncols();
        let (w, b) = theta.split_at_mut(kd);
        (
            ArrayViewMut2::from_shape((self.k, self.x.ncols()), w).expect("flat length"),
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
        let n = self.x.nrows();
        let (w, b) = self.split(theta);
        let (mut gw, mut gb) = self.split_mut(grad);
        gw.fill(0.0);
        gb.fill(0.0);
        let mut nll = 0.0f64;
        let mut z = Array2::<f32>::zeros((ROWS.min(n), self.k));
        for start in (0..n).step_by(ROWS) {
            let end = (start + ROWS).min(n);
            let x = self.x.slice(ndarray::s![start..end, ..]);
            let mut z = z.slice_mut(ndarray::s![..end - start, ..]);
            // z ← x·Wᵀ + b  [rows,K], then softmax − one-hot (dL/dz).
            gemm(1.0, x, w.t(), 0.0, z.view_mut());
            for (mut row, &y) in z.rows_mut().into_iter().zip(&self.y[start..end]) {
                row += &b;
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
            }
            // dW += (P − Y)ᵀ·x  [K,D], db += Σ rows of (P − Y).
            gemm(1.0, z.t(), x, 1.0, gw.view_mut());
            gb += &z.sum_axis(Axis(0));
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
    /// against the analytic gradient, over several blocks of rows.
    #[test]
    fn gradient_matches_finite_differences() {
        let mut rng = crate::seed::rng(4, &[b"logistic-objective"]);
        let (n, d, k) = (ROWS + 37, 6, 4);
        let x = Array2::from_shape_simple_fn((n, d), || rng.gen_range(-1.0f32..1.0));
        let y: Vec<u32> = (0..n).map(|_| rng.gen_range(0..k as u32)).collect();
        let obj = Objective {
            x: x.view(),
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
}
