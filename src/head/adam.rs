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
mod tests;
