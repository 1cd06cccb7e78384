//! `train-head` correctness: the PyTorch reference trajectories (f64 and f32), and the stage run
//! end to end on synthetic caches (early stopping, resume, the run directory, refusals).

mod common;
#[path = "train_head/early_stop.rs"]
mod early_stop;
#[path = "train_head/reference.rs"]
mod reference;

use ndarray::Array2;
use pipeline::head::tensor_file::TensorReader;
use std::path::Path;

use common::s;
use pipeline::checkpoint::TrainedRun;
use rand::Rng;
use std::process::Output;

/// Three Gaussian blobs in 8 dimensions; train has `passes` noisy views, valid one view.
/// The cache key depends on the image list, so caches with different `n` have different keys.
fn synthetic_cache(dir: &Path, passes: u32, seed: u64, n: usize) {
    let mut rng = pipeline::seed::rng(seed, &[b"blobs"]);
    let classes: Vec<String> = ["ant", "bee", "cat"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let centers = Array2::from_shape_fn((3, 8), |_| rng.gen_range(-2.0f32..2.0));
    let m = 24usize;
    let train_labels: Vec<u32> = (0..n).map(|i| (i % 3) as u32).collect();
    let valid_labels: Vec<u32> = (0..m).map(|i| (i % 3) as u32).collect();
    let train = Array2::from_shape_fn((n * passes as usize, 8), |(r, j)| {
        centers[[r % n % 3, j]] + rng.gen_range(-1.5f32..1.5)
    });
    let valid = Array2::from_shape_fn((m, 8), |(r, j)| {
        centers[[r % 3, j]] + rng.gen_range(-1.5f32..1.5)
    });
    pipeline::cache::write_synthetic(
        dir,
        &classes,
        &[
            ("train", passes, train, train_labels),
            ("valid", 1, valid, valid_labels),
        ],
    )
    .unwrap();
}

fn train_head(args: &[&str]) -> Output {
    let mut all = vec!["train-head"];
    all.extend_from_slice(args);
    common::pipeline(&all)
}

fn ok(out: Output) -> String {
    common::stdout_of(&out)
}

fn fails(out: Output) -> String {
    common::fails(&out)
}

#[test]
fn trains_and_writes_a_loadable_run_directory() {
    let t = tempfile::tempdir().unwrap();
    let (cache, run) = (t.path().join("cache"), t.path().join("run"));
    synthetic_cache(&cache, 2, 1, 48);
    let stdout = ok(train_head(&[
        "--features",
        s(&cache),
        "--out",
        s(&run),
        "--epochs",
        "6",
        "--hidden",
        "16",
        "--lr",
        "0.01",
    ]));
    assert!(stdout.contains("epoch   6/6"), "{stdout}");
    for f in [
        "head.safetensors",
        "optimizer.safetensors",
        "config.json",
        "metrics.json",
        "history.json",
        "history.csv",
        "curves.png",
    ] {
        assert!(run.join(f).is_file(), "{f} missing");
    }
    let metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("metrics.json")).unwrap()).unwrap();
    let best = metrics["best_epoch"].as_u64().unwrap();
    assert!((1..=6).contains(&best));
    assert_eq!(
        std::fs::read_to_string(run.join("history.csv"))
            .unwrap()
            .lines()
            .count(),
        7
    );
    let loaded = TrainedRun::load(&run).unwrap();
    assert_eq!(loaded.classes, ["ant", "bee", "cat"]);
    assert_eq!(loaded.config["mlp"]["hidden"], 16);
    assert_eq!(loaded.config["mlp"]["pass_mode"], "all");
    let valid = pipeline::cache::FeatureCache::open(&cache)
        .unwrap()
        .load("valid", 0)
        .unwrap();
    let lp = loaded.log_proba(valid.features.view());
    let correct = lp
        .rows()
        .into_iter()
        .zip(&valid.labels)
        .filter(|(r, &y)| (0..3).all(|c| r[c] <= r[y as usize]))
        .count();
    assert!(
        correct as f64 / valid.labels.len() as f64 > 0.8,
        "{correct}/24 correct"
    );
    let acc = metrics["best_valid_acc"].as_f64().unwrap();
    assert!(
        (acc - correct as f64 / 24.0).abs() < 1e-9,
        "metrics.json reports the restored weights' accuracy"
    );
}

fn history_without_seconds(run: &Path) -> Vec<serde_json::Value> {
    let mut h: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(run.join("history.json")).unwrap()).unwrap();
    h.iter_mut()
        .for_each(|r| r["seconds"] = serde_json::Value::Null);
    h
}

#[test]
fn resume_continues_the_same_trajectory() {
    let t = tempfile::tempdir().unwrap();
    let cache = t.path().join("cache");
    synthetic_cache(&cache, 3, 2, 48);
    let (whole, split) = (t.path().join("whole"), t.path().join("split"));
    let common = [
        "--features",
        s(&cache),
        "--hidden",
        "12",
        "--patience",
        "0",
        "--feature-dropout",
        "0.1",
        "--batch",
        "10",
    ];
    ok(train_head(
        &[&common[..], &["--out", s(&whole), "--epochs", "7"]].concat(),
    ));
    ok(train_head(
        &[&common[..], &["--out", s(&split), "--epochs", "3"]].concat(),
    ));
    let stdout = ok(train_head(&[
        "--features",
        s(&cache),
        "--out",
        s(&split),
        "--resume",
        "--epochs",
        "7",
    ]));
    assert!(stdout.contains("resuming after epoch 3"), "{stdout}");
    for f in ["head.safetensors", "optimizer.safetensors"] {
        let (a, b) = (
            TensorReader::open(&whole.join(f)).unwrap(),
            TensorReader::open(&split.join(f)).unwrap(),
        );
        // The checkpoint's history holds each epoch's seconds, which differ between runs.
        let meta = |r: &TensorReader| {
            let mut m = r.metadata().unwrap();
            m.remove("history");
            m
        };
        assert_eq!(meta(&a), meta(&b), "{f}");
        let names = safetensors::SafeTensors::deserialize(&std::fs::read(whole.join(f)).unwrap())
            .unwrap()
            .names()
            .iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>();
        assert!(names.len() >= 4);
        for n in names {
            assert_eq!(
                a.array::<f32>(&n).unwrap(),
                b.array::<f32>(&n).unwrap(),
                "{f}: {n} differs"
            );
        }
    }
    assert_eq!(
        history_without_seconds(&whole),
        history_without_seconds(&split)
    );
}

#[test]
fn resume_refuses_another_cache_and_changed_settings() {
    let t = tempfile::tempdir().unwrap();
    let (c1, c2, run) = (
        t.path().join("c1"),
        t.path().join("c2"),
        t.path().join("run"),
    );
    synthetic_cache(&c1, 1, 3, 48);
    synthetic_cache(&c2, 1, 4, 45);
    ok(train_head(&[
        "--features",
        s(&c1),
        "--out",
        s(&run),
        "--epochs",
        "2",
    ]));
    let err = fails(train_head(&[
        "--features",
        s(&c2),
        "--out",
        s(&run),
        "--resume",
        "--epochs",
        "3",
    ]));
    assert!(
        err.contains("trained on another cache") && err.contains("cache key"),
        "{err}"
    );
    let err = fails(train_head(&[
        "--features",
        s(&c1),
        "--out",
        s(&run),
        "--resume",
        "--lr",
        "0.01",
    ]));
    assert!(err.contains("--lr 0.01 differs"), "{err}");
    let err = fails(train_head(&[
        "--features",
        s(&c1),
        "--out",
        s(&run),
        "--epochs",
        "2",
    ]));
    assert!(err.contains("--force"), "{err}");
    ok(train_head(&[
        "--features",
        s(&c1),
        "--out",
        s(&run),
        "--epochs",
        "1",
        "--force",
    ]));
}

#[test]
fn logistic_head_uses_the_same_run_format() {
    let t = tempfile::tempdir().unwrap();
    let (cache, run) = (t.path().join("cache"), t.path().join("run"));
    synthetic_cache(&cache, 2, 5, 48);
    ok(train_head(&[
        "--features",
        s(&cache),
        "--out",
        s(&run),
        "--head",
        "logistic",
        "--logistic-alpha",
        "0.1",
    ]));
    let loaded = TrainedRun::load(&run).unwrap();
    assert_eq!(loaded.head.kind(), pipeline::checkpoint::HeadKind::Logistic);
    assert_eq!(loaded.log_proba(Array2::zeros((2, 8)).view()).dim(), (2, 3));
    let metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("metrics.json")).unwrap()).unwrap();
    assert!(
        metrics["best_valid_acc"].as_f64().unwrap() > 0.8,
        "{metrics}"
    );
}

#[test]
fn logistic_fits_stopped_at_the_cap_are_named_in_a_warning() {
    let t = tempfile::tempdir().unwrap();
    let (cache, run) = (t.path().join("cache"), t.path().join("run"));
    synthetic_cache(&cache, 2, 6, 48);
    let out = ok(train_head(&[
        "--features",
        s(&cache),
        "--out",
        s(&run),
        "--head",
        "logistic",
        "--c-grid",
        "1,1000",
        "--logistic-max-iter",
        "2",
    ]));
    assert!(
        out.contains("warning: 2 of 2 logistic fits stopped at the cap of 2 L-BFGS iterations before converging (C = 1, 1000)"),
        "{out}"
    );
    let full = ok(train_head(&[
        "--features",
        s(&cache),
        "--out",
        s(&t.path().join("run2")),
        "--head",
        "logistic",
        "--c-grid",
        "1",
    ]));
    assert!(!full.contains("logistic fits stopped at the cap"), "{full}");
}

#[test]
fn notebook_preset_and_bad_flags() {
    let t = tempfile::tempdir().unwrap();
    let (cache, run) = (t.path().join("cache"), t.path().join("run"));
    synthetic_cache(&cache, 2, 6, 48);
    ok(train_head(&[
        "--features",
        s(&cache),
        "--out",
        s(&run),
        "--preset",
        "notebook",
        "--epochs",
        "2",
    ]));
    let loaded = TrainedRun::load(&run).unwrap();
    let mlp = &loaded.config["mlp"];
    assert_eq!(
        (
            mlp["batch"].as_u64(),
            mlp["patience"].as_u64(),
            mlp["hidden"].as_u64()
        ),
        (Some(128), Some(5), Some(256))
    );
    assert_eq!(mlp["pass_mode"], "one");
    let err = fails(train_head(&[
        "--features",
        s(&cache),
        "--out",
        s(&run),
        "--dropout",
        "1.0",
        "--force",
    ]));
    assert!(err.contains("--dropout 1 is outside [0, 1)"), "{err}");
    let err = fails(train_head(&[
        "--features",
        s(&t.path().join("nope")),
        "--out",
        s(&run),
    ]));
    assert!(err.contains("pipeline extract"), "{err}");
}

/// `--ensemble 3` writes one run whose head holds three MLPs (member 0 is the single MLP of the
/// same seed) and predicts the mean of their probabilities; `eval`-side loading checks it.
#[test]
fn ensemble_run_holds_its_members_and_predicts_their_mean() {
    let t = tempfile::tempdir().unwrap();
    let (cache, single, ens) = (
        t.path().join("cache"),
        t.path().join("single"),
        t.path().join("ens"),
    );
    synthetic_cache(&cache, 2, 8, 48);
    let common = ["--features", s(&cache), "--epochs", "4", "--seed", "3"];
    ok(train_head(&[&common[..], &["--out", s(&single)]].concat()));
    let out = ok(train_head(
        &[&common[..], &["--out", s(&ens), "--ensemble", "3"]].concat(),
    ));
    assert!(out.contains("ensemble of 3 MLPs"), "{out}");
    let one = TrainedRun::load(&single).unwrap();
    let run = TrainedRun::load(&ens).unwrap();
    let pipeline::checkpoint::HeadModel::MlpEnsemble(members) = &run.head else {
        panic!("not an ensemble: {:?}", run.head.kind());
    };
    assert_eq!(members.len(), 3);
    let pipeline::checkpoint::HeadModel::Mlp(m0) = &one.head else {
        panic!("not an MLP");
    };
    assert_eq!(&members[0], m0);
    let x = Array2::from_shape_fn((5, 8), |(i, j)| (i as f32 - j as f32) * 0.3);
    let logps: Vec<Array2<f32>> = members.iter().map(|m| m.log_proba(x.view())).collect();
    assert_eq!(
        run.log_proba(x.view()),
        pipeline::head::ensemble::mean_log_proba(&logps)
    );
    assert_eq!(run.config["head"], "mlp-ensemble");
    let metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ens.join("metrics.json")).unwrap()).unwrap();
    assert_eq!(
        metrics["num_params"].as_u64().unwrap() as usize,
        3 * m0.num_params()
    );
}

/// `train-head ARGS… --features CACHE --out RUN` on a fresh blob cache; its error text; the run
/// directory must stay without `metrics.json`.
fn ensemble_refusal(seed: u64, args: &[&str]) -> String {
    let t = tempfile::tempdir().unwrap();
    let (cache, run) = (t.path().join("cache"), t.path().join("run"));
    synthetic_cache(&cache, 2, seed, 48);
    let base = ["--features", s(&cache), "--out", s(&run)];
    let err = fails(train_head(&[&base[..], args].concat()));
    assert!(!run.join("metrics.json").exists());
    err
}

#[test]
fn rejects_an_ensemble_of_zero() {
    let err = ensemble_refusal(9, &["--ensemble", "0"]);
    assert!(
        err.contains("--ensemble 0 must be between 1 and 100"),
        "{err}"
    );
}

#[test]
fn rejects_an_ensemble_of_logistic_heads() {
    let err = ensemble_refusal(10, &["--ensemble", "3", "--head", "logistic"]);
    assert!(err.contains("not to the logistic head"), "{err}");
}

#[test]
fn rejects_resuming_an_ensemble() {
    let err = ensemble_refusal(11, &["--ensemble", "3", "--resume"]);
    assert!(
        err.contains("an ensemble of 3 is trained in one go"),
        "{err}"
    );
}
