//! Refits on train+valid: the test split is never part of a [`HeadData`], so it stays untouched.

use super::SelectOptions;
use crate::cache::Rows;
use crate::head::data::HeadData;
use crate::head::fit::{fit, EpochEval, FitConfig, FitError, FitState, TrainData, Validator};
use crate::head::mlp::Mlp;
use ndarray::Array2;
use std::borrow::Cow;

/// Every train row set and every valid view (`P·N + V·M` rows; in place, or widened from
/// `f16`), with their labels.
pub fn train_plus_valid(data: &HeadData) -> (Vec<Cow<'_, Array2<f32>>>, Vec<u32>) {
    let (mut x, mut y) = super::train_rows(data);
    x.extend(data.valid_views.iter().map(Rows::to_f32));
    for _ in &data.valid_views {
        y.extend_from_slice(&data.valid_labels);
    }
    (x, y)
}

/// The valid row sets the MLP refit appends to train's (image `N + j` of pass `p` is row `j` of
/// set `p mod V`): valid's views, or (a copy of) its view mean for a cache without views.
pub fn valid_sets(data: &HeadData) -> Cow<'_, [Rows]> {
    if data.valid_views.is_empty() {
        Cow::Owned(vec![Rows::F32(data.valid_x.clone())])
    } else {
        Cow::Borrowed(&data.valid_views)
    }
}

/// A validator that calls every epoch an improvement, so the last epoch's weights are kept.
struct LastEpoch(u32);

impl<F> Validator<F> for LastEpoch {
    fn validate(&mut self, _: &Mlp<F>) -> EpochEval {
        self.0 += 1;
        EpochEval {
            loss: -(self.0 as f64),
            acc: f64::NAN,
        }
    }
}

/// A fresh MLP (same config, seed `seed`) trained on train+valid for exactly `epochs` epochs.
pub fn mlp_for_epochs(
    data: &HeadData,
    k: usize,
    o: &SelectOptions,
    epochs: u32,
    seed: u64,
) -> Result<Mlp<f32>, FitError> {
    let mut labels = data.labels.clone();
    labels.extend_from_slice(&data.valid_labels);
    let cfg = FitConfig {
        max_epochs: epochs,
        patience: 0,
        seed,
        ..o.mlp.clone()
    };
    let mut state = FitState::<f32>::new(&cfg, data.valid_x.ncols(), k);
    let more = valid_sets(data);
    let train = TrainData {
        passes: &data.passes,
        more: &more,
        labels: &labels,
        class_weights: o.class_weights.clone(),
    };
    fit::<f32, FitError>(&mut state, &train, &cfg, &mut LastEpoch(0), |_, _| Ok(()))?;
    Ok(state.final_model().0.clone())
}
