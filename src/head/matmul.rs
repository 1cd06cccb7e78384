//! The heads' matrix products, `C ← α·A·B + β·C`, on `ndarray` views of any strides (transposed
//! views included) through the `gemm` crate, whose AVX-512 / AVX2 / SSE kernels are chosen at run
//! time by CPU detection.
//!
//! Large products are split here, not by `gemm`: `C` is cut along its longer side into one block
//! per rayon thread and each block is one single-threaded `gemm` call. `gemm`'s own splitting
//! left the head's forward product (`[128,4096]·[4096,256]`) on one thread (2.6 ms on two
//! threads; 1.55 ms split here, measured with `cargo bench --bench head_epoch -- head_products`).
//!
//! Shapes: `A` `[M,K]`, `B` `[K,N]`, `C` `[M,N]`. Replaces `ndarray::linalg::general_mat_mul`
//! (`matrixmultiply`, at most AVX2 kernels), with the same argument order and meaning.

use super::Float;
use ndarray::{s, ArrayView2, ArrayViewMut2, Axis};
use rayon::prelude::*;

/// `c ← alpha·a·b + beta·c` for `a` `[M,K]`, `b` `[K,N]`, `c` `[M,N]`. With `beta == 0` the old
/// contents of `c` are ignored (NaN included), as BLAS does.
///
/// # Panics
/// If the shapes do not fit together (a programming error, never user input).
pub fn gemm<F: Float>(
    alpha: F,
    a: ArrayView2<'_, F>,
    b: ArrayView2<'_, F>,
    beta: F,
    mut c: ArrayViewMut2<'_, F>,
) {
    if trivial(alpha, &a, &b, beta, &mut c) {
        return;
    }
    let (m, k) = a.dim();
    let n = b.ncols();
    let threads = rayon::current_num_threads();
    if threads > 1 && m * n * k >= PARALLEL_MIN_WORK && m.max(n) >= 2 * SPLIT_MIN {
        // Cut C along its longer side into `parts` blocks of at least SPLIT_MIN rows/columns;
        // A's rows or B's columns follow the cut.
        let rows = m >= n;
        let len = if rows { m } else { n };
        let parts = threads.min(len / SPLIT_MIN);
        let step = len.div_ceil(parts);
        let mut blocks = Vec::with_capacity(parts);
        let mut rest = c;
        let mut start = 0;
        while start < len {
            let take = step.min(len - start);
            let axis = if rows { Axis(0) } else { Axis(1) };
            let (block, tail) = rest.split_at(axis, take);
            let (ab, bb) = if rows {
                (a.slice(s![start..start + take, ..]), b.view())
            } else {
                (a.view(), b.slice(s![.., start..start + take]))
            };
            blocks.push((ab, bb, block));
            rest = tail;
            start += take;
        }
        blocks
            .into_par_iter()
            .for_each(|(ab, bb, cb)| gemm_serial(alpha, ab, bb, beta, cb));
        return;
    }
    gemm_serial(alpha, a, b, beta, c);
}

/// [`gemm`] on the calling thread only (for callers that are already one task of a parallel
/// loop).
///
/// # Panics
/// If the shapes do not fit together (a programming error, never user input).
pub fn gemm_here<F: Float>(
    alpha: F,
    a: ArrayView2<'_, F>,
    b: ArrayView2<'_, F>,
    beta: F,
    mut c: ArrayViewMut2<'_, F>,
) {
    if !trivial(alpha, &a, &b, beta, &mut c) {
        gemm_serial(alpha, a, b, beta, c);
    }
}

/// Checks the shapes and does the products that need no kernel (an empty `c`; `k == 0` or
/// `alpha == 0`, where `c ← beta·c`); true when it did.
fn trivial<F: Float>(
    alpha: F,
    a: &ArrayView2<'_, F>,
    b: &ArrayView2<'_, F>,
    beta: F,
    c: &mut ArrayViewMut2<'_, F>,
) -> bool {
    let (m, k) = a.dim();
    let n = b.ncols();
    assert!(
        b.nrows() == k && c.dim() == (m, n),
        "matrix product shapes: a {:?} · b {:?} into c {:?}",
        a.dim(),
        b.dim(),
        c.dim()
    );
    if m == 0 || n == 0 {
        return true;
    }
    if k == 0 || alpha == F::zero() {
        if beta == F::zero() {
            c.fill(F::zero());
        } else {
            c.mapv_inplace(|v| v * beta);
        }
        return true;
    }
    false
}

/// Products with fewer multiply-adds than this stay on the calling thread (waking the pool costs
/// more than it saves).
const PARALLEL_MIN_WORK: usize = 1 << 21;

/// The narrowest block a split hands to one thread (a few of `gemm`'s register tiles).
const SPLIT_MIN: usize = 32;

/// One single-threaded `gemm` call; shapes already checked and non-empty, `k > 0`.
fn gemm_serial<F: Float>(
    alpha: F,
    a: ArrayView2<'_, F>,
    b: ArrayView2<'_, F>,
    beta: F,
    mut c: ArrayViewMut2<'_, F>,
) {
    let (m, k) = a.dim();
    let n = b.ncols();
    let (a_rs, a_cs) = (a.strides()[0], a.strides()[1]);
    let (b_rs, b_cs) = (b.strides()[0], b.strides()[1]);
    let (c_rs, c_cs) = (c.strides()[0], c.strides()[1]);
    // SAFETY: the pointers and strides come from live ndarray views whose shapes were checked
    // by `gemm`, so every index `gemm` touches (`i < m`, `j < n`, `p < k`) lies inside its view; `c` is
    // borrowed mutably, so it cannot alias `a` or `b`. `F` is `f32` or `f64` (the only `Float`
    // impls), both supported by `gemm`. gemm's `alpha` scales the destination and its `beta` the
    // product, the reverse of BLAS.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            c_cs,
            c_rs,
            beta != F::zero(),
            a.as_ptr(),
            a_cs,
            a_rs,
            b.as_ptr(),
            b_cs,
            b_rs,
            beta,
            alpha,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array2, ShapeBuilder};
    use rand::Rng;

    /// `alpha·a·b + beta·c` by the definition, in f64.
    fn naive(
        alpha: f64,
        a: &Array2<f64>,
        b: &Array2<f64>,
        beta: f64,
        c: &Array2<f64>,
    ) -> Array2<f64> {
        Array2::from_shape_fn(c.dim(), |(i, j)| {
            let dot: f64 = (0..a.ncols()).map(|p| a[[i, p]] * b[[p, j]]).sum();
            alpha * dot + beta * c[[i, j]]
        })
    }

    /// A random `[r,c]` matrix, row-major or column-major.
    fn random(rng: &mut impl Rng, r: usize, c: usize, col_major: bool) -> Array2<f64> {
        let mut m = if col_major {
            Array2::zeros((r, c).f())
        } else {
            Array2::zeros((r, c))
        };
        m.mapv_inplace(|_: f64| rng.gen_range(-1.0..1.0));
        m
    }

    /// Random small shapes (edge sizes of the kernels included), both layouts of every operand,
    /// transposed views, and `beta` 0 (over NaN garbage) or not: f64 to 1e-12, f32 to 1e-5 relative.
    #[test]
    fn matches_a_naive_loop_on_random_small_shapes() {
        let mut rng = crate::seed::rng(5, &[b"matmul"]);
        for case in 0..200 {
            let (m, k, n) = (
                rng.gen_range(1..40),
                rng.gen_range(0..70),
                rng.gen_range(1..40),
            );
            let a = random(&mut rng, m, k, case % 2 == 1);
            let b_t = random(&mut rng, n, k, case % 3 == 1);
            let c0 = random(&mut rng, m, n, case % 5 == 1);
            let (alpha, beta) = match case % 4 {
                0 => (1.0, 0.0),
                1 => (0.5, 1.0),
                2 => (-2.0, 0.25),
                _ => (1.0, 0.0),
            };
            let expect = naive(alpha, &a, &b_t.t().to_owned(), beta, &c0);
            let mut c = if beta == 0.0 {
                Array2::from_elem(c0.raw_dim(), f64::NAN)
            } else {
                c0.clone()
            };
            gemm(alpha, a.view(), b_t.t(), beta, c.view_mut());
            let err = (&c - &expect).iter().fold(0.0f64, |e, v| e.max(v.abs()));
            assert!(
                err < 1e-12,
                "f64 case {case} [{m},{k}]·[{k},{n}]: max error {err}"
            );

            let (a32, b32) = (a.mapv(|v| v as f32), b_t.mapv(|v| v as f32));
            let mut c32 = c.mapv(|_| f32::NAN);
            if beta != 0.0 {
                c32 = c0.mapv(|v| v as f32);
            }
            gemm(
                alpha as f32,
                a32.view(),
                b32.t(),
                beta as f32,
                c32.view_mut(),
            );
            for (got, want) in c32.iter().zip(&expect) {
                let tol = 1e-5 * (1.0 + want.abs()) * (k as f64).max(1.0).sqrt();
                assert!(
                    (*got as f64 - want).abs() < tol,
                    "f32 case {case}: {got} vs {want}"
                );
            }
        }
    }

    /// Products large enough to be split over the pool, cut along rows (`m > n`) and columns, with
    /// uneven last blocks, transposed operands and `beta ≠ 0`, on a 3-thread pool so the split
    /// happens whatever the machine's core count.
    #[test]
    fn split_products_match_a_naive_loop() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .unwrap();
        let mut rng = crate::seed::rng(6, &[b"matmul"]);
        for (m, k, n, beta) in [
            (64, 1024, 97, 0.0),
            (131, 700, 40, 0.5),
            (200, 300, 200, 0.0),
        ] {
            assert!(
                m * n * k >= PARALLEL_MIN_WORK,
                "{m}x{k}x{n} would not split"
            );
            let a = random(&mut rng, m, k, false);
            let b_t = random(&mut rng, n, k, m == 131);
            let c0 = random(&mut rng, m, n, false);
            let mut c = c0.clone();
            pool.install(|| gemm(1.5, a.view(), b_t.t(), beta, c.view_mut()));
            let expect = naive(1.5, &a, &b_t.t().to_owned(), beta, &c0);
            let err = (&c - &expect).iter().fold(0.0f64, |e, v| e.max(v.abs()));
            assert!(err < 1e-11, "[{m},{k}]·[{k},{n}]: max error {err}");
        }
    }

    #[test]
    #[should_panic(expected = "matrix product shapes")]
    fn mismatched_shapes_panic() {
        let a = Array2::<f32>::zeros((2, 3));
        let mut c = Array2::<f32>::zeros((2, 2));
        gemm(1.0, a.view(), a.view(), 0.0, c.view_mut());
    }
}
