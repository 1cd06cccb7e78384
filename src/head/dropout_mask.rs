//! Inverted-dropout masks of the training loop, drawn from a seeded SplitMix64 stream.

use super::Float;

/// Dropout masks: SplitMix64 (Steele, Lea & Flood 2014) seeded per epoch from the run's seed,
/// four 16-bit draws per 64-bit output. An element is dropped when its draw is below
/// `round(p·65536)`, so `p` is applied with a resolution of 1/65536.
pub(crate) struct MaskRng {
    state: u64,
    buf: u64,
    left: u32,
}

impl MaskRng {
    pub(crate) fn new(seed: u64) -> Self {
        MaskRng {
            state: seed,
            buf: 0,
            left: 0,
        }
    }

    /// `(threshold, 1/(1−p))` for dropout probability `p` in `[0,1)`.
    fn threshold<F: Float>(p: f64) -> (u32, F) {
        ((p * 65536.0).round() as u32, F::of_f64(1.0 / (1.0 - p)))
    }

    /// The next SplitMix64 output.
    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn next_u16(&mut self) -> u32 {
        if self.left == 0 {
            self.buf = self.next_u64();
            self.left = 4;
        }
        self.left -= 1;
        let v = (self.buf & 0xFFFF) as u32;
        self.buf >>= 16;
        v
    }

    /// Multiplies every element of `xs` by its inverted-dropout multiplier, drawing exactly as
    /// `xs.len()` calls of [`MaskRng::scale`] would (low 16 bits of each output first), four
    /// elements per SplitMix64 output without a branch per element. The feature-dropout mask of a
    /// `[128,4096]` batch took a quarter of a 4,096-d epoch drawn one element at a time.
    fn scale_slice<F: Float>(&mut self, xs: &mut [F], threshold: u32, keep: F) {
        let mut i = 0;
        while self.left > 0 && i < xs.len() {
            xs[i] *= self.scale(threshold, keep);
            i += 1;
        }
        let mut quads = xs[i..].chunks_exact_mut(4);
        for q in &mut quads {
            let z = self.next_u64();
            for (j, v) in q.iter_mut().enumerate() {
                let draw = ((z >> (16 * j)) & 0xFFFF) as u32;
                *v *= if draw < threshold { F::zero() } else { keep };
            }
        }
        for v in quads.into_remainder() {
            *v *= self.scale(threshold, keep);
        }
    }

    /// Inverted-dropout multiplier: `0` when dropped, else `keep` = `1/(1−p)`.
    fn scale<F: Float>(&mut self, threshold: u32, keep: F) -> F {
        if self.next_u16() < threshold {
            F::zero()
        } else {
            keep
        }
    }

    /// Inverted dropout with probability `p` in place: each element times its multiplier, in
    /// memory order (four draws per output for contiguous arrays, one at a time otherwise — the
    /// same stream either way).
    pub(crate) fn drop_out<F: Float>(&mut self, mut x: ndarray::ArrayViewMut2<F>, p: f64) {
        let (thr, keep) = Self::threshold::<F>(p);
        match x.as_slice_mut() {
            Some(xs) => self.scale_slice(xs, thr, keep),
            None => x.map_inplace(|v| *v *= self.scale(thr, keep)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropout_masks_drop_the_requested_fraction() {
        let mut rng = MaskRng::new(7);
        let (thr, keep) = MaskRng::threshold::<f32>(0.2);
        let n = 200_000;
        let dropped = (0..n).filter(|_| rng.scale(thr, keep) == 0.0).count();
        assert!((dropped as f64 / n as f64 - 0.2).abs() < 0.005, "{dropped}");
        assert_eq!(keep, 1.25);
        let (thr0, _) = MaskRng::threshold::<f32>(0.0);
        assert!((0..1000).all(|_| rng.scale(thr0, 1.0f32) == 1.0));
    }

    /// The four-at-a-time mask draws exactly what element-by-element draws give, from any
    /// starting offset within a 64-bit output and for any length.
    #[test]
    fn slice_masks_equal_element_masks() {
        let (thr, keep) = MaskRng::threshold::<f32>(0.3);
        for (skip, len) in [(0, 0), (0, 17), (1, 3), (2, 64), (3, 1001)] {
            let (mut a, mut b) = (MaskRng::new(42), MaskRng::new(42));
            for _ in 0..skip {
                a.scale(thr, keep);
                b.scale(thr, keep);
            }
            let mut xs: Vec<f32> = (0..len).map(|i| i as f32 + 1.0).collect();
            let expect: Vec<f32> = xs.iter().map(|v| v * b.scale(thr, keep)).collect();
            a.scale_slice(&mut xs, thr, keep);
            assert_eq!(xs, expect, "skip {skip}, len {len}");
            assert_eq!(
                a.scale(thr, keep),
                b.scale(thr, keep),
                "streams stay aligned"
            );
        }
    }
}
