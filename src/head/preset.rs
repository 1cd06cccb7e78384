//! Hyper-parameter presets: the notebook's exact recipe, and the default recipe that also works
//! on small training sets. Explicit flags override either.

use super::fit::ClassWeights;
use super::sampler::{epoch_len, PassMode};

/// Where unset hyper-parameters come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    /// Small-data aware: every cached view in every epoch (one view per image, cycling through
    /// them, from 2,048 training images on), a batch size that gives at least 16 Adam steps per
    /// epoch (between 16 and 128), inverted dropout 0.5 on the input features, 60 epochs at
    /// most with patience 8.
    Default,
    /// The notebook: batch 128, one view per image per epoch, 30 epochs, patience 5.
    Notebook,
}

impl Preset {
    pub fn name(self) -> &'static str {
        match self {
            Preset::Default => "default",
            Preset::Notebook => "notebook",
        }
    }
}

/// The MLP's hyper-parameters before the seed and Adam's fixed constants are added.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hyper {
    pub hidden: usize,
    pub dropout: f64,
    pub feature_dropout: f64,
    pub lr: f64,
    pub weight_decay: f64,
    pub batch: usize,
    pub epochs: u32,
    pub patience: u32,
    pub pass_mode: PassMode,
    pub class_weights: ClassWeights,
}

/// The default preset aims for at least this many Adam steps per epoch.
pub const MIN_STEPS_PER_EPOCH: usize = 16;
/// Smallest batch the default preset picks.
pub const MIN_BATCH: usize = 16;
/// The notebook's batch size, the default preset's largest.
pub const NOTEBOOK_BATCH: usize = 128;
/// From this many training images on, one view per image already gives an epoch of
/// [`MIN_STEPS_PER_EPOCH`] full batches, and the default preset visits one view per image per
/// epoch (the notebook's epoch) instead of all of them: every view is still seen once every
/// `P` epochs, early stopping looks at the model `P` times as often, and an epoch costs `1/P`.
/// Below it an epoch of one view per image would be too few steps to judge, so every view is
/// used (Tux Paint: 130 images).
pub const ONE_VIEW_MIN_IMAGES: usize = MIN_STEPS_PER_EPOCH * NOTEBOOK_BATCH;

/// The notebook's head recipe (dropout 0.2, the value its trained model used).
pub fn notebook() -> Hyper {
    Hyper {
        hidden: 256,
        dropout: 0.2,
        feature_dropout: 0.0,
        lr: 1e-3,
        weight_decay: 0.0,
        batch: NOTEBOOK_BATCH,
        epochs: 30,
        patience: 5,
        pass_mode: PassMode::One,
        class_weights: ClassWeights::None,
    }
}

/// The default recipe for `n_images` training images with `passes` cached views each.
pub fn default_for(n_images: usize, passes: u32) -> Hyper {
    let pass_mode = if n_images >= ONE_VIEW_MIN_IMAGES {
        PassMode::One
    } else {
        PassMode::All
    };
    let samples = epoch_len(pass_mode, n_images, passes.max(1));
    let batch = (samples / MIN_STEPS_PER_EPOCH).clamp(MIN_BATCH, NOTEBOOK_BATCH);
    Hyper {
        batch,
        feature_dropout: 0.5,
        epochs: 60,
        patience: 8,
        pass_mode,
        ..notebook()
    }
}

/// Members of the MLP seed ensemble that `--head auto` tries by default.
pub const AUTO_ENSEMBLE: usize = 5;

/// Above this many feature values per epoch (train rows × width) `--head auto` leaves the
/// ensemble out by default: 64 Mi values is ≈ 0.1 s an epoch here, so five members add seconds
/// to a fit, while at Caltech-101 size (4,150 train images × 12 views × 4,096) they would add
/// ≈ 12 minutes to every fit of `cv`.
pub const AUTO_ENSEMBLE_MAX_VALUES: usize = 1 << 26;

/// `--ensemble` of `--head auto` when not given: [`AUTO_ENSEMBLE`] members for a training set
/// of `rows` rows (images × row sets) of `d` features up to [`AUTO_ENSEMBLE_MAX_VALUES`], else 1
/// (no ensemble). Measured with `pipeline cv --repeats 20`: +0.5 top-1 on Fashion-MNIST 2,000
/// (10 of 20 re-splits better, 2 worse) and +0.3 on Tux Paint, at 1.6× and 2.3× the time.
pub fn auto_ensemble(rows: usize, d: usize) -> usize {
    if rows.saturating_mul(d) <= AUTO_ENSEMBLE_MAX_VALUES {
        AUTO_ENSEMBLE
    } else {
        1
    }
}

/// The preset's values for this training set.
pub fn resolve(preset: Preset, n_images: usize, passes: u32) -> Hyper {
    match preset {
        Preset::Default => default_for(n_images, passes),
        Preset::Notebook => notebook(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_batch_scales_with_the_data() {
        assert_eq!(default_for(127, 1).batch, MIN_BATCH);
        assert_eq!(default_for(127, 5).batch, 635 / 16);
        assert_eq!(default_for(4126, 5).batch, NOTEBOOK_BATCH);
        assert_eq!(notebook().batch, 128);
        assert_eq!(
            (
                notebook().feature_dropout,
                default_for(10, 1).feature_dropout
            ),
            (0.0, 0.5)
        );
        assert_eq!(resolve(Preset::Notebook, 10, 3).pass_mode, PassMode::One);
    }

    /// Every view per epoch below 2,048 training images, one view per image from there (still
    /// full batches of 128).
    #[test]
    fn default_visits_one_view_per_image_on_large_training_sets() {
        let small = default_for(ONE_VIEW_MIN_IMAGES - 1, 12);
        assert_eq!((small.pass_mode, small.batch), (PassMode::All, 128));
        assert_eq!(default_for(130, 12).pass_mode, PassMode::All);
        let large = default_for(ONE_VIEW_MIN_IMAGES, 12);
        assert_eq!((large.pass_mode, large.batch), (PassMode::One, 128));
        assert_eq!(
            epoch_len(large.pass_mode, 4150, 12) / large.batch,
            32,
            "Caltech-101 size: 32 full batches an epoch"
        );
    }

    #[test]
    fn auto_ensembles_small_training_sets_only() {
        assert_eq!(auto_ensemble(1000 * 12, 512), AUTO_ENSEMBLE);
        assert_eq!(auto_ensemble(1 << 14, 1 << 12), AUTO_ENSEMBLE);
        assert_eq!(auto_ensemble((1 << 14) + 1, 1 << 12), 1);
        assert_eq!(auto_ensemble(4150 * 12, 4096), 1);
        assert_eq!(auto_ensemble(usize::MAX, 2), 1);
    }
}
