use super::*;
use crate::head::adam::AdamConfig;
use crate::head::fit::FitConfig;
use crate::head::logistic::LogisticConfig;
use crate::head::sampler::PassMode;
use ndarray::{Array, Array2};
use rand::Rng;

/// Overlapping blobs of 3 classes in 6 dims: `views` row sets of `n` train and `m` valid images.
fn blobs(n: usize, m: usize, views: usize, seed: u64) -> HeadData {
    let (k, d) = (3usize, 6usize);
    let mut rng = crate::seed::rng(seed, &[b"kfold-blobs"]);
    let mut draw = |rows: usize| -> Array2<f32> {
        Array::from_shape_fn((rows, d), |(i, j)| {
            (if j == i % k { 1.0f32 } else { 0.0 }) + rng.gen_range(-1.0f32..1.0)
        })
    };
    let passes: Vec<Rows> = (0..views).map(|_| draw(n).into()).collect();
    let valid_views: Vec<Rows> = (0..views).map(|_| draw(m).into()).collect();
    HeadData {
        passes,
        labels: (0..n).map(|i| (i % k) as u32).collect(),
        valid_x: mean_of_rows(&valid_views),
        valid_labels: (0..m).map(|i| (i % k) as u32).collect(),
        valid_views,
        views: vec!["centre".into(), "centre-flip".into()],
    }
}

fn opts(c_grid: Vec<f64>) -> SelectOptions {
    SelectOptions {
        c_grid,
        logistic: LogisticConfig {
            alpha: 1.0,
            max_iterations: 200,
            gradient_tolerance: 1e-4,
        },
        mlp: FitConfig {
            hidden: 8,
            dropout: 0.0,
            feature_dropout: 0.0,
            batch: 16,
            max_epochs: 8,
            patience: 3,
            pass_mode: PassMode::All,
            adam: AdamConfig::default(),
            seed: 3,
        },
        class_weights: None,
        refit: true,
        ensemble: 3,
        folds: Some(4),
    }
}

#[test]
fn folds_are_stratified_even_and_seeded() {
    let labels: Vec<u32> = (0..47).map(|i| (i % 5) as u32).chain([0, 0, 0]).collect();
    let fold = assign(&labels, 4, 9);
    assert_eq!(fold, assign(&labels, 4, 9), "same seed, same folds");
    assert_ne!(fold, assign(&labels, 4, 10), "another seed deals otherwise");
    let mut sizes = [0usize; 4];
    for &f in &fold {
        sizes[f] += 1;
    }
    assert!(
        sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1,
        "{sizes:?}"
    );
    for c in 0..5u32 {
        let mut per = [0usize; 4];
        for (i, &y) in labels.iter().enumerate() {
            if y == c {
                per[fold[i]] += 1;
            }
        }
        assert!(
            per.iter().max().unwrap() - per.iter().min().unwrap() <= 1,
            "class {c}: {per:?}"
        );
    }
}

#[test]
fn fold_data_holds_each_pooled_image_out_once() {
    let data = blobs(12, 9, 2, 1);
    let mut labels = data.labels.clone();
    labels.extend_from_slice(&data.valid_labels);
    let fold = assign(&labels, 3, 0);
    let mut held = 0;
    for f in 0..3 {
        let part = fold_data(&data, &fold, f);
        assert_eq!(part.labels.len() + part.valid_labels.len(), 21);
        assert_eq!(part.passes.len(), 2);
        assert_eq!(part.passes[1].nrows(), part.labels.len());
        held += part.valid_labels.len();
        // The first held-out image's rows are that pooled image's rows in every view.
        let first = (0..21).find(|&i| fold[i] == f).unwrap();
        let (src, row) = if first < 12 {
            (&data.passes[1], first)
        } else {
            (&data.valid_views[1], first - 12)
        };
        assert_eq!(part.valid_views[1].to_f32().row(0), src.to_f32().row(row));
    }
    assert_eq!(held, 21);
}

#[test]
fn scores_are_the_folds_pooled_and_the_winner_is_fitted_on_all() {
    let data = blobs(30, 15, 2, 2);
    let o = opts(vec![0.1, 10.0]);
    let chosen = select(HeadChoice::Logistic, &data, 3, &o, 3).unwrap();
    assert_eq!((chosen.folds, chosen.trials.len()), (3, 2));
    assert!(chosen.refitted);
    // By hand: each fold's logistic selection (no refit), top-1 weighted by its images.
    let mut labels = data.labels.clone();
    labels.extend_from_slice(&data.valid_labels);
    let fold = assign(&labels, 3, o.mlp.seed);
    let inner = SelectOptions {
        refit: false,
        folds: Some(0),
        ..o.clone()
    };
    let mut correct = [0.0f64; 2];
    for f in 0..3 {
        let part = fold_data(&data, &fold, f);
        let one = super::super::logistic(&part, 3, &inner).unwrap();
        for (c, t) in correct.iter_mut().zip(&one.trials) {
            *c += t.valid_top1 * part.valid_labels.len() as f64;
        }
    }
    for (t, c) in chosen.trials.iter().zip(correct) {
        assert!(
            (t.valid_top1 - c / 45.0).abs() < 1e-12,
            "{} vs {}",
            t.valid_top1,
            c / 45.0
        );
    }
    // The model is one cold fit on all 45 images with the chosen C.
    let c = chosen.best().setting;
    let (blocks, y) = super::super::logistic_rows(&data, true);
    let cfg = LogisticConfig {
        alpha: 1.0 / c,
        ..o.logistic
    };
    let head =
        crate::head::logistic::fit_logistic(&super::super::views(&blocks), &y, 3, true, &cfg, None)
            .unwrap()
            .head;
    let x = crate::head::input::HeadInput {
        views: data.views.clone(),
        l2_normalize: true,
    }
    .prepare(data.valid_x.view());
    assert_eq!(
        chosen.model.log_proba(x.view()),
        HeadModel::Logistic(head).log_proba(x.view())
    );
    assert!(
        chosen.explain().contains("3-fold train+valid top-1"),
        "{}",
        chosen.explain()
    );
}

#[test]
fn auto_pools_mlp_epochs_over_folds() {
    let data = blobs(30, 15, 2, 4);
    let chosen = select(HeadChoice::Auto, &data, 3, &opts(vec![1.0]), 3).unwrap();
    // The logistic C, the single MLP and the 3-member ensemble.
    assert_eq!(chosen.trials.len(), 3);
    let ens = &chosen.trials[2];
    assert_eq!((ens.head, ens.member_epochs.len()), ("mlp-ensemble", 3));
    assert!(ens.member_epochs.iter().all(|&e| (1..=8).contains(&e)));
    assert!(chosen.trials[1].setting >= 1.0 && chosen.trials[1].setting <= 8.0);
    assert!(chosen
        .trials
        .iter()
        .all(|t| (0.0..=1.0).contains(&t.valid_top1)));
}

#[test]
fn a_class_with_fewer_images_than_folds_stays_in_every_fit() {
    let data = blobs(6, 3, 2, 5); // 3 images a class in all, 5 folds
    let mut labels = data.labels.clone();
    labels.extend_from_slice(&data.valid_labels);
    let fold = assign(&labels, 5, 0);
    for f in 0..5 {
        let part = fold_data(&data, &fold, f);
        for c in 0..3u32 {
            assert!(part.labels.contains(&c), "fold {f} fits without class {c}");
        }
    }
    let chosen = select(HeadChoice::Logistic, &data, 3, &opts(vec![1.0]), 5).unwrap();
    assert_eq!(chosen.folds, 5);
}

#[test]
fn rejects_a_class_with_one_image() {
    let mut data = blobs(6, 3, 2, 5);
    // Class 0 keeps one image in all: train image 3.
    data.labels[0] = 2;
    data.valid_labels[0] = 1;
    let msg = check(&data, 3).unwrap_err().to_string();
    assert!(msg.contains("class 0 has 1"), "{msg}");
}

#[test]
fn rejects_augmented_passes() {
    let mut data = blobs(12, 6, 2, 6);
    data.passes.push(data.passes[0].clone());
    let msg = check(&data, 3).unwrap_err().to_string();
    assert!(
        msg.contains("augmented passes (3 row sets beside 2 views)"),
        "{msg}"
    );
}

#[test]
fn rejects_one_fold_and_folds_without_refit() {
    assert!(check_flag(Some(1), None)
        .unwrap_err()
        .to_string()
        .contains("must be 0"));
    assert!(check_flag(Some(21), None).is_err());
    let msg = check_flag(Some(5), Some(false)).unwrap_err().to_string();
    assert!(msg.contains("--refit false"), "{msg}");
    assert!(check_flag(Some(0), Some(false)).is_ok());
    assert!(check_flag(None, None).is_ok());
}

#[test]
fn folds_by_default_only_where_valid_is_small() {
    // 9 valid images of 3 classes: 3 a class, under 10: five folds.
    assert_eq!(resolve(None, &blobs(30, 9, 2, 7), true), DEFAULT_FOLDS);
    // 30 valid images of 3 classes: 10 a class: the valid split.
    assert_eq!(resolve(None, &blobs(30, 30, 2, 7), true), 0);
    // Augmented passes cannot be pooled: the valid split.
    let mut aug = blobs(30, 9, 2, 7);
    aug.passes.push(aug.passes[0].clone());
    assert_eq!(resolve(None, &aug, true), 0);
    // No refit asked for (`--refit false`, or the MLP's default): the valid split, since k-fold
    // always ends by fitting on train+valid.
    assert_eq!(resolve(None, &blobs(30, 9, 2, 7), false), 0);
    // Given, always as given.
    assert_eq!(resolve(Some(0), &blobs(30, 9, 2, 7), true), 0);
    assert_eq!(resolve(Some(3), &blobs(30, 30, 2, 7), true), 3);
}
