//! One optimisation step of the MLP with `0.weight`'s gradient made block by block and handed to
//! Adam while it is still in cache.
//!
//! Adam's update of `0.weight` (1.05 M elements in the notebook head) is bound by memory, not
//! arithmetic: its stores took 60 % of its time (`perf annotate`). Written whole, the gradient
//! (4 MiB) goes out to the last-level cache after the product and comes back for the update. Here
//! the product `daᵀ·x` is cut into blocks of `0.weight`'s columns (contiguous, as `0.weight` is
//! held column-major); each rayon task computes one block into a small buffer and applies Adam to
//! that block at once, so the gradient never leaves the core's L2 cache. The values are those of
//! the unfused step: the same product per element (the sum over the batch is not split) and the
//! same per-element update.

use super::adam::{update_run_here, Adam};
use super::loss::BatchLoss;
use super::matmul::gemm_here;
use super::mlp::{w1_grad, Mlp};
use super::Float;
use ndarray::{s, ArrayView2, ArrayViewMut2, ShapeBuilder};
use rayon::prelude::*;

/// Columns of `0.weight` per block: 256 × 256 hidden units × 4 B = 256 KiB per array, four
/// arrays (parameter, gradient, two moments) in a 2 MiB L2.
const BLOCK_COLS: usize = 256;

/// Forward, backward and Adam update on a batch `x` `[N,D]`, as
/// [`Mlp::forward_backward`] then [`Adam::update`] compute them. `grads` is scratch space shaped
/// like `mlp` (its `w1` is left untouched when the fused path is taken).
pub fn train_step<F: Float>(
    mlp: &mut Mlp<F>,
    adam: &mut Adam<F>,
    grads: &mut Mlp<F>,
    x: ArrayView2<F>,
    labels: &[u32],
    class_weights: Option<&[F]>,
    hidden_scale: Option<ArrayView2<F>>,
) -> BatchLoss<F> {
    let (loss, da) = mlp.backward_to_hidden(x, labels, class_weights, hidden_scale, grads);
    let k = adam.begin_step();
    {
        let [_, b1, w2, b2] = mlp.params_mut();
        let [_, gb1, gw2, gb2] = grads.params();
        for (i, (p, g)) in [(1, (b1, gb1)), (2, (w2, gw2)), (3, (b2, gb2))] {
            adam.update_param(i, p, g, k);
        }
    }
    let h = mlp.w1.nrows();
    let column_major = mlp.w1.t().is_standard_layout();
    let w1 = mlp.w1.view().into_dyn();
    let slices = if column_major && h > 0 {
        adam.moment_slices(0, &w1)
    } else {
        None
    };
    let (Some((ms, vs)), Some(ps)) = (slices, mlp.w1.as_slice_memory_order_mut()) else {
        // Not the layout the blocks rely on (only a hand-built `Mlp`): the unfused update.
        w1_grad(da.view(), x, grads.w1.view_mut());
        adam.update_param(
            0,
            mlp.w1.view_mut().into_dyn(),
            grads.w1.view().into_dyn(),
            k,
        );
        return loss;
    };
    let len = BLOCK_COLS * h;
    ps.par_chunks_mut(len)
        .zip(ms.par_chunks_mut(len))
        .zip(vs.par_chunks_mut(len))
        .enumerate()
        .for_each_init(
            || vec![F::zero(); len],
            |buf, (b, ((p, m), v))| {
                let (d0, cols) = (b * BLOCK_COLS, p.len() / h);
                let g = &mut buf[..p.len()];
                let block = ArrayViewMut2::from_shape((h, cols).f(), &mut *g)
                    .expect("a block holds h × cols elements");
                // [H,N]·[N,cols] → [H,cols], column-major like 0.weight.
                gemm_here(
                    F::one(),
                    da.t(),
                    x.slice(s![.., d0..d0 + cols]),
                    F::zero(),
                    block,
                );
                update_run_here(p, g, m, v, k);
            },
        );
    loss
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::head::adam::AdamConfig;
    use ndarray::Array2;
    use rand::Rng;

    /// Three steps of the fused path leave parameters and moments bit-identical to
    /// `forward_backward` + `Adam::update`, with more than one block and a partial last block.
    #[test]
    fn fused_step_equals_forward_backward_then_update() {
        let (n, d, h, k) = (9, 2 * BLOCK_COLS + 37, 6, 4);
        let mut rng = crate::seed::rng(5, &[b"fused"]);
        let mlp = Mlp::<f32>::init(d, h, k, &mut rng);
        let shapes: Vec<Vec<usize>> = mlp.params().iter().map(|p| p.shape().to_vec()).collect();
        let shapes: Vec<&[usize]> = shapes.iter().map(|s| s.as_slice()).collect();
        let config = AdamConfig {
            weight_decay: 1e-2,
            ..AdamConfig::default()
        };
        let (mut fused, mut plain) = (mlp.clone(), mlp);
        let mut adam_f = Adam::new(config, &shapes);
        let mut adam_p = Adam::new(config, &shapes);
        let (mut gf, mut gp) = (fused.zeros_like(), plain.zeros_like());
        for _ in 0..3 {
            let x = Array2::from_shape_simple_fn((n, d), || rng.gen_range(-1.0f32..1.0));
            let labels: Vec<u32> = (0..n).map(|i| (i % k) as u32).collect();
            let scale = Array2::from_shape_simple_fn((n, h), || {
                if rng.gen_bool(0.3) {
                    0.0
                } else {
                    1.0 / 0.7
                }
            });
            let lf = train_step(
                &mut fused,
                &mut adam_f,
                &mut gf,
                x.view(),
                &labels,
                None,
                Some(scale.view()),
            );
            let lp = plain.forward_backward(x.view(), &labels, None, Some(scale.view()), &mut gp);
            adam_p.update(plain.params_mut(), gp.params());
            assert_eq!(lf.mean(), lp.mean());
        }
        assert_eq!(fused, plain);
        assert_eq!(adam_f, adam_p);
    }
}
