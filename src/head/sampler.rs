//! The order in which cached training views are visited: which of the `P` augmented passes of
//! each image an epoch uses, and the shuffled order, both derived from the run's seed.

use crate::seed;
use rand::seq::SliceRandom;
use rand::Rng;

/// How an epoch draws from `P` cached passes of `N` training images.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PassMode {
    /// `N` samples per epoch: image `i` in epoch `e` uses pass `(e + o_i) mod P` with a seeded
    /// offset `o_i`, so `P` consecutive epochs see every view once (the notebook's epoch size).
    One,
    /// `N·P` samples per epoch: every view of every image once.
    All,
}

/// One training sample: a row of the cached features of pass `pass`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    pub image: u32,
    pub pass: u32,
}

/// Samples per epoch for `n_images` images and `passes` cached passes.
pub fn epoch_len(mode: PassMode, n_images: usize, passes: u32) -> usize {
    match mode {
        PassMode::One => n_images,
        PassMode::All => n_images * passes as usize,
    }
}

/// The shuffled samples of epoch `epoch` (0-based). Depends only on `(seed, epoch, n_images,
/// passes, mode)`, so a resumed run visits exactly what an uninterrupted one would.
pub fn epoch_order(
    seed: u64,
    epoch: u32,
    n_images: usize,
    passes: u32,
    mode: PassMode,
) -> Vec<Sample> {
    let passes = passes.max(1);
    let mut order: Vec<Sample> = match mode {
        PassMode::One => {
            let mut offsets = seed::rng(seed, &[b"pass-offset"]);
            (0..n_images as u32)
                .map(|image| {
                    let o: u32 = offsets.gen_range(0..passes);
                    let pass = ((epoch as u64 + o as u64) % passes as u64) as u32;
                    Sample { image, pass }
                })
                .collect()
        }
        PassMode::All => (0..passes)
            .flat_map(|pass| (0..n_images as u32).map(move |image| Sample { image, pass }))
            .collect(),
    };
    order.shuffle(&mut seed::rng(seed, &[b"shuffle", &epoch.to_le_bytes()]));
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_mode_cycles_through_every_pass() {
        let (n, p) = (7, 3);
        let mut seen = vec![vec![false; p as usize]; n];
        for e in 0..p {
            let order = epoch_order(5, e, n, p, PassMode::One);
            assert_eq!(order.len(), n);
            for s in order {
                seen[s.image as usize][s.pass as usize] = true;
            }
        }
        assert!(seen.iter().flatten().all(|&b| b));
    }

    #[test]
    fn all_mode_visits_every_view_once_and_shuffles_per_epoch() {
        let a = epoch_order(1, 0, 5, 2, PassMode::All);
        let b = epoch_order(1, 1, 5, 2, PassMode::All);
        assert_eq!(a.len(), 10);
        let mut sorted = a.clone();
        sorted.sort_by_key(|s| (s.pass, s.image));
        assert!(sorted.windows(2).all(|w| w[0] != w[1]));
        assert_ne!(a, b);
        assert_eq!(a, epoch_order(1, 0, 5, 2, PassMode::All));
    }
}
