//! Adam as PyTorch's `torch.optim.Adam` computes it (single-tensor path, `amsgrad=False`):
//! <https://pytorch.org/docs/stable/generated/torch.optim.Adam.html>.
//!
//! Per element, with step count `t` after increment:
//! `g ← g + weight_decay·θ` (L2 added to the gradient, not AdamW's decoupled decay);
//! `m ← m + (1−β1)·(g − m)` (PyTorch's `lerp_`); `v ← β2·v + (1−β2)·g·g`;
//! `θ ← θ − (lr/(1−β1^t))·m / (√v / √(1−β2^t) + ε)` (ε added after the square root of the
//! bias-corrected `v`). Bias corrections are computed in `f64` as PyTorch does in Python floats.
//!
//! Two departures. `√v / √(1−β2^t)` is computed as `√v · (1/√(1−β2^t))` (the reciprocal in
//! f64): one f32 division fewer per element; the product differs from the quotient by at most an
//! ulp or so. (With AVX-512 the update of the notebook head's 1.05 M weights is then bound by
//! memory: its stores take most of its time, which is why `super::fused_step` hands it
//! `0.weight`'s gradient block by block while still in cache.)
//!
//! And a moment whose magnitude falls below `2^24` times the smallest normal float
//! (`≈ 2e-31` in f32) is set to zero. The first moment of a dead ReLU unit's weights decays by
//! `β1` per step and, under round-to-nearest, sticks at the smallest subnormals for ever; x86
//! computes with subnormals through a microcode assist, and on the notebook head that made every
//! epoch after the 20th about 3× slower (most of `0.weight` is dead on random data). The margin
//! of `2^24` keeps the intermediate `(1−β1)·(g − m)` normal too. Such a moment moves its weight by
//! less than `lr·2e-31/((1−β1)·ε) ≈ 2e-25` per step, far below f32 resolution of any weight.

use super::Float;
use ndarray::{ArrayD, ArrayViewD, ArrayViewMutD, IxDyn, Zip};
use rayon::prelude::*;

/// Parameters with at least this many elements are updated on the rayon pool (only `0.weight`
/// of the notebook head); smaller ones in the calling thread, cheaper than waking workers.
const PARALLEL_MIN: usize = 1 << 18;

/// Hyper-parameters; `Default` is PyTorch's.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AdamConfig {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
}

impl Default for AdamConfig {
    fn default() -> Self {
        AdamConfig {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
        }
    }
}

/// Optimizer state: first and second moments per parameter, and the number of steps taken.
#[derive(Debug, Clone, PartialEq)]
pub struct Adam<F> {
    pub config: AdamConfig,
    pub m: Vec<ArrayD<F>>,
    pub v: Vec<ArrayD<F>>,
    pub step: u64,
}

/// Constants of one update, in the parameter's float type.
#[derive(Clone, Copy)]
pub(super) struct StepConsts<F> {
    one_minus_b1: F,
    b2: F,
    one_minus_b2: F,
    wd: F,
    neg_step_size: F,
    /// `1/√(1−β2^t)`: a multiply where PyTorch divides (see the module documentation).
    inv_bc2_sqrt: F,
    eps: F,
    /// Moments below this magnitude become zero (see the module documentation).
    tiny: F,
}

/// `x`, or zero when `|x| < tiny` (see the module documentation).
#[inline(always)]
fn flush<F: Float>(x: F, tiny: F) -> F {
    if x.abs() < tiny {
        F::zero()
    } else {
        x
    }
}

impl<F: Float> StepConsts<F> {
    /// Whether the L2 term is added to the gradient (it is zero otherwise, and skipped).
    fn decays(&self) -> bool {
        self.wd != F::zero()
    }

    /// The update of one element (see the module documentation).
    #[inline(always)]
    fn apply(&self, p: &mut F, g: F, m: &mut F, v: &mut F, with_decay: bool) {
        let g = if with_decay { g + self.wd * *p } else { g };
        *m = flush(*m + self.one_minus_b1 * (g - *m), self.tiny);
        *v = flush(*v * self.b2 + self.one_minus_b2 * g * g, self.tiny);
        *p += self.neg_step_size * *m / (v.sqrt() * self.inv_bc2_sqrt + self.eps);
    }
}

/// The update of equal-length slices, element by element (vectorised by the compiler).
#[inline(always)]
fn update_run<F: Float>(
    p: &mut [F],
    g: &[F],
    m: &mut [F],
    v: &mut [F],
    k: StepConsts<F>,
    with_decay: bool,
) {
    for (((p, &g), m), v) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
        k.apply(p, g, m, v, with_decay);
    }
}

/// [`update_run`] compiled for AVX-512 (16 f32 lanes instead of SSE's 4; the same operations in
/// the same order, so the same results).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn update_run_avx512<F: Float>(
    p: &mut [F],
    g: &[F],
    m: &mut [F],
    v: &mut [F],
    k: StepConsts<F>,
    with_decay: bool,
) {
    update_run(p, g, m, v, k, with_decay)
}

/// Elements per rayon task when updating large parameters.
const CHUNK: usize = 1 << 16;

/// [`update_run`] on this thread, with AVX-512 where the CPU has it.
pub(super) fn update_run_here<F: Float>(
    p: &mut [F],
    g: &[F],
    m: &mut [F],
    v: &mut [F],
    k: StepConsts<F>,
) {
    let with_decay = k.decays();
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: the CPU has AVX-512F (checked just above).
        unsafe { update_run_avx512(p, g, m, v, k, with_decay) };
        return;
    }
    update_run(p, g, m, v, k, with_decay);
}

/// Updates contiguous parameters `p` with gradients `g` and moments `m`, `v` (equal lengths).
fn update_slices<F: Float>(p: &mut [F], g: &[F], m: &mut [F], v: &mut [F], k: StepConsts<F>) {
    if p.len() >= PARALLEL_MIN {
        p.par_chunks_mut(CHUNK)
            .zip(g.par_chunks(CHUNK))
            .zip(m.par_chunks_mut(CHUNK))
            .zip(v.par_chunks_mut(CHUNK))
            .for_each(|(((p, g), m), v)| update_run_here(p, g, m, v, k));
    } else {
        update_run_here(p, g, m, v, k);
    }
}

/// `a`'s values laid out in `like`'s memory order (both the same shape).
fn same_layout<F: Float>(a: &ArrayD<F>, like: &ArrayViewD<'_, F>) -> ArrayD<F> {
    let mut out = like.map(|_| F::zero());
    out.assign(a);
    out
}

impl<F: Float> Adam<F> {
    /// Zero moments for parameters of the given shapes.
    pub fn new(config: AdamConfig, shapes: &[&[usize]]) -> Self {
        let zeros = || shapes.iter().map(|s| ArrayD::zeros(IxDyn(s))).collect();
        Adam {
            config,
            m: zeros(),
            v: zeros(),
            step: 0,
        }
    }

    fn consts(&self) -> StepConsts<F> {
        let c = self.config;
        let t = self.step as f64;
        let bc1 = 1.0 - c.beta1.powf(t);
        let bc2 = 1.0 - c.beta2.powf(t);
        StepConsts {
            one_minus_b1: F::of_f64(1.0 - c.beta1),
            b2: F::of_f64(c.beta2),
            one_minus_b2: F::of_f64(1.0 - c.beta2),
            wd: F::of_f64(c.weight_decay),
            neg_step_size: F::of_f64(-(c.lr / bc1)),
            inv_bc2_sqrt: F::of_f64(1.0 / bc2.sqrt()),
            eps: F::of_f64(c.eps),
            tiny: F::min_positive_value() * F::of_f64(16_777_216.0),
        }
    }

    /// Counts one more step and returns its constants, for [`Adam::update_param`] and
    /// [`Adam::moment_slices`] (the fused step of `super::fused_step`).
    pub(super) fn begin_step(&mut self) -> StepConsts<F> {
        self.step += 1;
        self.consts()
    }

    /// One update of every parameter from its gradient (both in the order given to [`Adam::new`]).
    /// Shapes must match those given to `new`.
    pub fn update(&mut self, params: [ArrayViewMutD<'_, F>; 4], grads: [ArrayViewD<'_, F>; 4]) {
        let k = self.begin_step();
        for (i, (p, g)) in params.into_iter().zip(grads).enumerate() {
            self.update_param(i, p, g, k);
        }
    }

    /// Parameter `i`'s moments laid out in `p`'s memory order (fresh or loaded ones are
    /// row-major; `0.weight` of the MLP is column-major), so that element `j` of `p`'s memory
    /// order and of both moments belong together.
    fn align_moments(&mut self, i: usize, p: &ArrayViewD<'_, F>) {
        let (m, v) = (&mut self.m[i], &mut self.v[i]);
        if m.strides() != p.strides() || v.strides() != p.strides() {
            *m = same_layout(m, p);
            *v = same_layout(v, p);
        }
    }

    /// Parameter `i`'s moments as slices in `p`'s memory order, or `None` when `p` is not
    /// contiguous.
    pub(super) fn moment_slices(
        &mut self,
        i: usize,
        p: &ArrayViewD<'_, F>,
    ) -> Option<(&mut [F], &mut [F])> {
        p.as_slice_memory_order()?;
        self.align_moments(i, p);
        let (m, v) = (&mut self.m[i], &mut self.v[i]);
        Some((
            m.as_slice_memory_order_mut()?,
            v.as_slice_memory_order_mut()?,
        ))
    }

    /// The update of parameter `i` from gradient `g` with the constants of this step.
    pub(super) fn update_param(
        &mut self,
        i: usize,
        mut p: ArrayViewMutD<'_, F>,
        g: ArrayViewD<'_, F>,
        k: StepConsts<F>,
    ) {
        self.align_moments(i, &p.view());
        let (m, v) = (&mut self.m[i], &mut self.v[i]);
        // One contiguous slice each, in the same memory order: element j of each belongs together.
        if g.strides() == p.strides() {
            if let (Some(ps), Some(gs), Some(ms), Some(vs)) = (
                p.as_slice_memory_order_mut(),
                g.as_slice_memory_order(),
                m.as_slice_memory_order_mut(),
                v.as_slice_memory_order_mut(),
            ) {
                update_slices(ps, gs, ms, vs, k);
                return;
            }
        }
        let with_decay = k.decays();
        Zip::from(p)
            .and(&g)
            .and(m)
            .and(v)
            .for_each(|p, &g, m, v| k.apply(p, g, m, v, with_decay));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{arr1, Array, Array1, Dimension};

    /// One `Adam::update` of four parameters from four gradients.
    fn step<F: Float, D: Dimension>(
        adam: &mut Adam<F>,
        p: &mut [Array<F, D>; 4],
        g: &[Array<F, D>; 4],
    ) {
        let [a, b, c, d] = p;
        let [e, f, h, i] = g;
        adam.update(
            [
                a.view_mut().into_dyn(),
                b.view_mut().into_dyn(),
                c.view_mut().into_dyn(),
                d.view_mut().into_dyn(),
            ],
            [
                e.view().into_dyn(),
                f.view().into_dyn(),
                h.view().into_dyn(),
                i.view().into_dyn(),
            ],
        );
    }

    /// A column-major parameter (the MLP's `0.weight`) with row-major moments (fresh, or read
    /// from a checkpoint) and a gradient of either layout takes the same steps as row-major.
    #[test]
    fn column_major_parameters_step_as_row_major_ones() {
        use ndarray::{Array2, ShapeBuilder};
        let mut rng = crate::seed::rng(3, &[b"adam-layout"]);
        let rand = |rng: &mut rand_chacha::ChaCha8Rng| {
            use rand::Rng;
            Array2::<f32>::from_shape_simple_fn((3, 5), || rng.gen_range(-1.0..1.0))
        };
        let fortran = |a: &Array2<f32>| {
            let mut f = Array2::zeros(a.raw_dim().f());
            f.assign(a);
            f
        };
        let p0 = rand(&mut rng);
        let grads: Vec<Array2<f32>> = (0..4).map(|_| rand(&mut rng)).collect();
        let mut row = [
            p0.clone(),
            Array2::zeros((1, 1)),
            Array2::zeros((1, 1)),
            Array2::zeros((1, 1)),
        ];
        let mut col = row.clone();
        col[0] = fortran(&p0);
        let shapes: [&[usize]; 4] = [&[3, 5], &[1, 1], &[1, 1], &[1, 1]];
        let mut a_row = Adam::new(AdamConfig::default(), &shapes);
        let mut a_col = Adam::new(AdamConfig::default(), &shapes);
        let zero = Array2::<f32>::zeros((1, 1));
        for (t, g) in grads.iter().enumerate() {
            let g_col = if t % 2 == 0 { fortran(g) } else { g.clone() };
            for (params, adam, g) in [(&mut row, &mut a_row, g), (&mut col, &mut a_col, &g_col)] {
                step(
                    adam,
                    params,
                    &[g.clone(), zero.clone(), zero.clone(), zero.clone()],
                );
            }
        }
        assert!(
            col[0].t().is_standard_layout(),
            "the parameter kept its layout"
        );
        assert_eq!(row[0], col[0]);
        assert_eq!(a_row.m[0], a_col.m[0]);
        assert_eq!(a_row.v[0], a_col.v[0]);
    }

    /// First step: m̂ = g, v̂ = g², so θ moves by −lr·g/(|g|+ε) ≈ −lr·sign(g).
    #[test]
    fn first_step_moves_by_lr_times_sign() {
        let mut p: [Array1<f64>; 4] =
            [arr1(&[1.0, -2.0]), arr1(&[0.5]), arr1(&[0.0]), arr1(&[3.0])];
        let g: [Array1<f64>; 4] = [
            arr1(&[0.3, -4.0]),
            arr1(&[-1e-3]),
            arr1(&[2.0]),
            arr1(&[0.0]),
        ];
        let mut adam = Adam::new(AdamConfig::default(), &[&[2], &[1], &[1], &[1]]);
        let before = p.clone();
        step(&mut adam, &mut p, &g);
        for (k, (pa, pb)) in p.iter().zip(&before).enumerate() {
            for (j, (x, y)) in pa.iter().zip(pb).enumerate() {
                let gv = g[k][j];
                let expect = if gv == 0.0 {
                    0.0
                } else {
                    -1e-3 * gv / (gv.abs() + 1e-8)
                };
                assert!((x - y - expect).abs() < 1e-15, "param {k}[{j}]");
            }
        }
        assert_eq!(adam.step, 1);
    }

    /// A weight whose gradient is zero (a dead ReLU unit) has its first moment decay by β1 per
    /// step; it must reach exactly zero, never sit among the subnormals (x86 computes those
    /// through a microcode assist: epochs ran 3× slower), and moments of live weights are exact.
    #[test]
    fn decaying_moments_reach_zero_without_subnormals() {
        let mut p: [Array1<f32>; 4] = [arr1(&[0.5, 0.5]), arr1(&[0.0]), arr1(&[0.0]), arr1(&[0.0])];
        let mut adam = Adam::new(AdamConfig::default(), &[&[2], &[1], &[1], &[1]]);
        let mut zero_after = None;
        for t in 0..2000 {
            let g0 = if t == 0 { 1e-3 } else { 0.0 };
            let g: [Array1<f32>; 4] = [arr1(&[g0, 1e-3]), arr1(&[0.0]), arr1(&[0.0]), arr1(&[0.0])];
            step(&mut adam, &mut p, &g);
            let m = adam.m[0][[0]];
            assert!(!m.is_subnormal(), "step {t}: m = {m:e}");
            if m == 0.0 && zero_after.is_none() {
                zero_after = Some(t);
            }
        }
        // 1e-4·0.9^t < 2^24·f32::MIN_POSITIVE ≈ 2e-31 after ≈ 590 steps.
        let z = zero_after.expect("the dead weight's first moment reached zero");
        assert!((550..650).contains(&z), "{z}");
        let live = adam.m[0][[1]];
        assert!(
            (live - 1e-3).abs() < 1e-9,
            "a constant gradient's moment: {live}"
        );
    }
}
