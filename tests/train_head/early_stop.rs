//! Early stopping on scripted validation curves (the loop takes an injected validator).

use ndarray::Array2;
use pipeline::head::adam::AdamConfig;
use pipeline::head::fit::{
    fit, EpochEval, FitConfig, FitError, FitState, PassMode, TrainData, Validator,
};
use pipeline::head::mlp::Mlp;

/// Returns scripted losses and keeps a copy of the weights it was shown at each epoch.
struct Scripted {
    losses: Vec<f64>,
    seen: Vec<Mlp<f32>>,
}

impl Validator<f32> for Scripted {
    fn validate(&mut self, mlp: &Mlp<f32>) -> EpochEval {
        self.seen.push(mlp.clone());
        EpochEval {
            loss: self.losses[self.seen.len() - 1],
            acc: 0.5,
        }
    }
}

fn tiny_config(max_epochs: u32, patience: u32) -> FitConfig {
    FitConfig {
        hidden: 6,
        dropout: 0.2,
        feature_dropout: 0.1,
        batch: 4,
        max_epochs,
        patience,
        pass_mode: PassMode::One,
        adam: AdamConfig::default(),
        seed: 3,
    }
}

fn scripted_run(losses: &[f64], max_epochs: u32, patience: u32) -> (FitState<f32>, Scripted) {
    let passes = vec![pipeline::cache::Rows::F32(Array2::from_shape_fn(
        (10, 5),
        |(i, j)| ((i * 5 + j) % 7) as f32 - 3.0,
    ))];
    let labels: Vec<u32> = (0..10).map(|i| (i % 3) as u32).collect();
    let data = TrainData {
        passes: &passes,
        more: &[],
        labels: &labels,
        class_weights: None,
    };
    let cfg = tiny_config(max_epochs, patience);
    let mut state = FitState::<f32>::new(&cfg, 5, 3);
    let mut v = Scripted {
        losses: losses.to_vec(),
        seen: vec![],
    };
    fit::<f32, FitError>(&mut state, &data, &cfg, &mut v, |_, _| Ok(())).unwrap();
    (state, v)
}

#[test]
fn early_stopping_restores_the_best_epoch() {
    let losses = [1.0, 0.8, 0.9, 0.7, 0.75, 0.72, 0.71, 0.5, 0.4];
    let (state, v) = scripted_run(&losses, 30, 3);
    assert_eq!(
        state.epochs_done, 7,
        "three epochs without improvement after epoch 4"
    );
    let (model, epoch) = state.final_model();
    assert_eq!(epoch, 4);
    assert_eq!(model, &v.seen[3]);
    assert_ne!(
        model, &state.mlp,
        "the last weights differ from the restored ones"
    );
    let improved: Vec<bool> = state.history.iter().map(|r| r.improved).collect();
    assert_eq!(improved, [true, true, false, true, false, false, false]);
}

#[test]
fn the_epoch_cap_also_restores_the_best_epoch() {
    let (state, v) = scripted_run(&[0.9, 0.6, 0.5, 0.55, 0.58], 5, 10);
    assert_eq!(state.epochs_done, 5);
    let (model, epoch) = state.final_model();
    assert_eq!((epoch, model), (3, &v.seen[2]));
}

#[test]
fn a_nan_validation_loss_never_becomes_the_best() {
    let (state, _) = scripted_run(&[f64::NAN, 0.6, f64::NAN, 0.7], 4, 0);
    assert_eq!(state.final_model().1, 2);
}
