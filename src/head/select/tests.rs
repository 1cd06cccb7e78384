use super::*;
use crate::head::ensemble;
use crate::head::fit::{FitState, TrainData};
use crate::head::sampler::PassMode;
use ndarray::Array;
use rand::Rng;

/// Blobs of `k` classes in `d` dims: `sets` row sets of `n` train images, `views` of `m` valid.
fn blobs(n: usize, m: usize, sets: usize, views: usize, seed: u64) -> HeadData {
    let (k, d) = (3usize, 6usize);
    let mut rng = crate::seed::rng(seed, &[b"blobs"]);
    let draw = |rows: usize, rng: &mut rand_chacha::ChaCha8Rng| {
        Array::from_shape_fn((rows, d), |(i, j)| {
            let c = i % k;
            (if j == c { 2.0f32 } else { 0.0 }) + rng.gen_range(-1.0f32..1.0)
        })
    };
    let passes: Vec<Rows> = (0..sets).map(|_| draw(n, &mut rng).into()).collect();
    let valid_views: Vec<Rows> = (0..views).map(|_| draw(m, &mut rng).into()).collect();
    HeadData {
        passes,
        labels: (0..n).map(|i| (i % k) as u32).collect(),
        valid_x: mean_of_rows(&valid_views),
        valid_labels: (0..m).map(|i| (i % k) as u32).collect(),
        valid_views,
        views: vec!["centre".into(), "centre-flip".into()],
    }
}

fn opts(refit: bool) -> SelectOptions {
    SelectOptions {
        c_grid: vec![0.1, 1.0, 10.0],
        logistic: LogisticConfig {
            alpha: 1.0,
            max_iterations: 100,
            gradient_tolerance: 1e-3,
        },
        mlp: FitConfig {
            hidden: 8,
            dropout: 0.0,
            feature_dropout: 0.0,
            batch: 16,
            max_epochs: 6,
            patience: 3,
            pass_mode: PassMode::All,
            adam: crate::head::adam::AdamConfig::default(),
            seed: 1,
        },
        class_weights: None,
        refit,
        ensemble: 1,
        folds: Some(0),
    }
}

fn trial(top1: f64, nll: f64) -> Trial {
    Trial {
        head: "logistic",
        setting: 1.0,
        valid_top1: top1,
        valid_nll: nll,
        converged: true,
        iterations: 1,
        seconds: 0.0,
        member_epochs: Vec::new(),
    }
}

#[test]
fn best_is_by_valid_top1_then_nll() {
    let t = [
        trial(0.5, 0.1),
        trial(0.7, 0.9),
        trial(0.7, 0.4),
        trial(0.6, 0.0),
    ];
    assert_eq!(argbest(&t), 2);
}

#[test]
fn logistic_tries_the_grid_and_keeps_the_valid_winner_without_refit() {
    let data = blobs(30, 15, 2, 2, 1);
    let c = logistic(&data, 3, &opts(false)).unwrap();
    assert_eq!(c.trials.len(), 3);
    assert_eq!(c.winner, argbest(&c.trials));
    assert!(c.input.l2_normalize && !c.refitted);
    let (top1, nll) = top1_nll(predict(&c, data.valid_x.view()).view(), &data.valid_labels);
    assert_eq!((top1, nll), (c.best().valid_top1, c.best().valid_nll));
}

#[test]
fn selection_reads_valid_labels_only_through_the_choice() {
    // Same train data, valid labels scrambled: the trials change, the refit-free models per C
    // do not (they only saw train).
    let data = blobs(30, 15, 1, 1, 2);
    let mut scrambled = data.clone();
    scrambled.valid_labels.rotate_left(1);
    let (a, b) = (
        logistic(&data, 3, &opts(false)).unwrap(),
        logistic(&scrambled, 3, &opts(false)).unwrap(),
    );
    assert!(a.best().valid_top1 > b.best().valid_top1);
    let one = SelectOptions {
        c_grid: vec![1.0],
        ..opts(false)
    };
    let (a1, b1) = (
        logistic(&data, 3, &one).unwrap(),
        logistic(&scrambled, 3, &one).unwrap(),
    );
    assert_eq!(a1.model, b1.model);
    assert_ne!(a1.best().valid_top1, b1.best().valid_top1);
}

#[test]
fn refit_uses_train_and_valid_rows() {
    let data = blobs(30, 15, 2, 2, 3);
    let (x, y) = refit::train_plus_valid(&data);
    let rows: usize = x.iter().map(|b| b.nrows()).sum();
    assert_eq!((x.len(), rows, y.len()), (4, 2 * 30 + 2 * 15, 90));
    let plain = logistic(&data, 3, &opts(false)).unwrap();
    let one_c = SelectOptions {
        c_grid: vec![plain.best().setting],
        ..opts(true)
    };
    let refitted = logistic(&data, 3, &one_c).unwrap();
    assert!(refitted.refitted);
    assert_ne!(refitted.model, plain.model);
    let sets = refit::valid_sets(&data);
    assert_eq!((sets.len(), sets[0].nrows()), (2, 15));
}

#[test]
fn mlp_and_auto_choose_and_explain() {
    let data = blobs(30, 15, 2, 2, 4);
    let m = mlp(&data, 3, &opts(true)).unwrap();
    assert_eq!(m.trials.len(), 1);
    assert!(m.best().setting >= 1.0 && m.refitted && !m.input.l2_normalize);
    let a = auto(&data, 3, &opts(true)).unwrap();
    assert_eq!(a.trials.len(), 4);
    assert_eq!(a.winner, argbest(&a.trials));
    assert!(a.explain().contains("chose"), "{}", a.explain());
}

/// The MLP refit reads valid's rows in place (`TrainData::more`) and trains exactly as it did on
/// row sets copied together (train's set `p`, then valid's view `p mod V`), with 3 train sets
/// and 2 valid views so the wrap-around is exercised.
#[test]
fn refit_in_place_equals_refit_on_copied_sets() {
    let data = blobs(30, 15, 3, 2, 5);
    let o = opts(true);
    let in_place = refit::mlp_for_epochs(&data, 3, &o, 4, o.mlp.seed).unwrap();
    let sets: Vec<Rows> = data
        .passes
        .iter()
        .enumerate()
        .map(|(p, t)| {
            ndarray::concatenate(
                ndarray::Axis(0),
                &[t.to_f32().view(), data.valid_views[p % 2].to_f32().view()],
            )
            .unwrap()
            .into()
        })
        .collect();
    let mut labels = data.labels.clone();
    labels.extend_from_slice(&data.valid_labels);
    let cfg = FitConfig {
        max_epochs: 4,
        patience: 0,
        ..o.mlp.clone()
    };
    let mut state = FitState::<f32>::new(&cfg, 6, 3);
    let train = TrainData {
        passes: &sets,
        more: &[],
        labels: &labels,
        class_weights: None,
    };
    for _ in 0..4 {
        state.train_epoch(&train, &cfg).unwrap();
        state.epochs_done += 1;
    }
    assert_eq!(in_place, state.mlp);
}

/// `--ensemble 3`: members 0..3 with member 0 the single MLP of the same seed, each with its own
/// best epoch; the ensemble predicts the mean of the members' probabilities; `auto` tries the
/// single MLP and the ensemble as separate candidates and refits only the winner.
#[test]
fn ensemble_members_share_member_zero_with_the_single_mlp() {
    let data = blobs(30, 15, 2, 2, 6);
    let three = SelectOptions {
        ensemble: 3,
        ..opts(false)
    };
    let single = mlp(&data, 3, &opts(false)).unwrap();
    let ens = mlp(&data, 3, &three).unwrap();
    let (HeadModel::Mlp(one), HeadModel::MlpEnsemble(members)) = (&single.model, &ens.model) else {
        panic!("expected an MLP and an ensemble: {:?}", ens.model.kind());
    };
    assert_eq!(members.len(), 3);
    assert_eq!(&members[0], one);
    assert_ne!(members[0], members[1]);
    let t = ens.best();
    assert_eq!((t.head, t.member_epochs.len()), ("mlp-ensemble", 3));
    assert_eq!(t.member_epochs[0] as f64, single.best().setting);
    let x = data.valid_x.view();
    let logps: Vec<Array2<f32>> = members.iter().map(|m| m.log_proba(x)).collect();
    assert_eq!(ens.model.log_proba(x), ensemble::mean_log_proba(&logps));
    assert!(t.label().starts_with("mlp ensemble of 3"), "{}", t.label());

    let a = auto(
        &data,
        3,
        &SelectOptions {
            ensemble: 3,
            ..opts(true)
        },
    )
    .unwrap();
    let heads: Vec<&str> = a.trials.iter().map(|t| t.head).collect();
    assert_eq!(
        heads,
        ["logistic", "logistic", "logistic", "mlp", "mlp-ensemble"]
    );
    assert_eq!(a.winner, argbest(&a.trials));
    assert!(a.refitted);
    let kind_of_winner = match a.trials[a.winner].head {
        "logistic" => crate::checkpoint::HeadKind::Logistic,
        "mlp" => crate::checkpoint::HeadKind::Mlp,
        _ => crate::checkpoint::HeadKind::MlpEnsemble,
    };
    assert_eq!(a.model.kind(), kind_of_winner);
}

/// From `ONE_VIEW_MIN_IMAGES` training images on, the logistic head (selection and refit) fits on
/// each image's mean over its row sets (the refit adds valid's view means): the same model as on
/// a cache whose one row set, and one valid view, are those means; below it, on every row set
/// (a different model).
#[test]
fn logistic_fits_view_means_on_large_training_sets() {
    let n = ONE_VIEW_MIN_IMAGES;
    let data = blobs(n, 30, 3, 2, 8);
    assert!(logistic_on_means(&data));
    let mut meaned = data.clone();
    meaned.passes = vec![mean_of_rows(&data.passes).into()];
    meaned.valid_views = vec![data.valid_x.clone().into()];
    assert!(
        !logistic_on_means(&meaned),
        "one row set: nothing to average"
    );
    let (a, b) = (
        logistic(&data, 3, &opts(true)).unwrap(),
        logistic(&meaned, 3, &opts(true)).unwrap(),
    );
    assert!(a.refitted && b.refitted);
    let (a0, b0) = (
        logistic(&data, 3, &opts(false)).unwrap(),
        logistic(&meaned, 3, &opts(false)).unwrap(),
    );
    assert_eq!(
        (a0.winner, a0.best().valid_nll),
        (b0.winner, b0.best().valid_nll)
    );
    assert_eq!(a0.model, b0.model, "selection");
    assert_eq!(a.model, b.model);
    let mut small = data.clone();
    small.passes = data
        .passes
        .iter()
        .map(|p| p.clone().truncate(n - 1))
        .collect();
    small.labels.truncate(n - 1);
    assert!(!logistic_on_means(&small));
    let mut small_meaned = small.clone();
    small_meaned.passes = vec![mean_of_rows(&small.passes).into()];
    let (c, d) = (
        logistic(&small, 3, &opts(false)).unwrap(),
        logistic(&small_meaned, 3, &opts(false)).unwrap(),
    );
    assert_ne!(c.model, d.model);
}
