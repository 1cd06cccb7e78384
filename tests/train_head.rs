//! `train-head` correctness: the PyTorch reference trajectories (f64 and f32), and the stage run
//! end to end on synthetic caches (early stopping, resume, the run directory, refusals).

use ndarray::{s, Array1, Array2, Array3, Ix1, Ix2, Ix3};
use pipeline::head::adam::{Adam, AdamConfig};
use pipeline::head::fit::train_step;
use pipeline::head::mlp::{Mlp, PARAM_NAMES};
use pipeline::head::tensor_file::TensorReader;
use pipeline::head::Float;
use std::path::Path;

/// Relative tolerance with an absolute floor: `|a − b| ≤ rtol·max(|b|, floor)`.
#[derive(Debug, Clone, Copy)]
struct Close {
    rtol: f64,
    floor: f64,
}

/// f64 against the float64 reference.
const CLOSE_F64: Close = Close {
    rtol: 1e-8,
    floor: 1e-3,
};
/// f32 against the float64 reference.
const CLOSE_F32: Close = Close {
    rtol: 1e-4,
    floor: 1e-3,
};

fn assert_close(what: &str, a: f64, b: f64, tol: Close) {
    let bound = tol.rtol * b.abs().max(tol.floor);
    assert!(
        (a - b).abs() <= bound,
        "{what}: got {a}, reference {b} (|diff| {} > {bound})",
        (a - b).abs()
    );
}

struct Reference {
    init: Mlp<f64>,
    finals: Mlp<f64>,
    x: Array3<f64>,
    y: Vec<Vec<u32>>,
    class_weights: Option<Vec<f64>>,
    losses: Array1<f64>,
    adam: AdamConfig,
}

fn mlp(r: &TensorReader, prefix: &str) -> Mlp<f64> {
    let get = |i: usize| {
        r.array::<f64>(&format!("{prefix}.{}", PARAM_NAMES[i]))
            .unwrap()
    };
    Mlp::from_parts(
        get(0).into_dimensionality::<Ix2>().unwrap(),
        get(1).into_dimensionality::<Ix1>().unwrap(),
        get(2).into_dimensionality::<Ix2>().unwrap(),
        get(3).into_dimensionality::<Ix1>().unwrap(),
    )
    .unwrap()
}

fn load_reference(name: &str) -> Reference {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(format!("tests/fixtures/head_ref/{name}.safetensors"));
    let r = TensorReader::open(&path).unwrap();
    let meta = r.metadata().unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let yt = st.tensor("y").unwrap();
    assert_eq!(yt.dtype(), safetensors::Dtype::I64);
    let flat: Vec<u32> = yt
        .data()
        .chunks_exact(8)
        .map(|c| i64::from_le_bytes(c.try_into().unwrap()) as u32)
        .collect();
    let b = yt.shape()[1];
    let weighted: bool = serde_json::from_str(&meta["weighted"]).unwrap();
    Reference {
        init: mlp(&r, "init"),
        finals: mlp(&r, "final"),
        x: r.array::<f64>("x")
            .unwrap()
            .into_dimensionality::<Ix3>()
            .unwrap(),
        y: flat.chunks(b).map(|c| c.to_vec()).collect(),
        class_weights: weighted.then(|| {
            r.array::<f64>("class_weights")
                .unwrap()
                .iter()
                .copied()
                .collect()
        }),
        losses: r
            .array::<f64>("losses")
            .unwrap()
            .into_dimensionality::<Ix1>()
            .unwrap(),
        adam: AdamConfig {
            lr: meta["lr"].parse().unwrap(),
            weight_decay: meta["weight_decay"].parse().unwrap(),
            ..AdamConfig::default()
        },
    }
}

/// Replays the reference's 10 steps through the trainer's own step in float type `F`.
fn replay<F: Float>(name: &str, tol: Close) {
    let r = load_reference(name);
    let mut model: Mlp<F> = r.init.cast();
    let shapes: Vec<Vec<usize>> = model.params().iter().map(|p| p.shape().to_vec()).collect();
    let shapes: Vec<&[usize]> = shapes.iter().map(|v| v.as_slice()).collect();
    let mut adam = Adam::<F>::new(r.adam, &shapes);
    let mut grads = model.zeros_like();
    let weights: Option<Vec<F>> = r
        .class_weights
        .as_ref()
        .map(|w| w.iter().map(|&v| F::of_f64(v)).collect());
    for (step, labels) in r.y.iter().enumerate() {
        let x: Array2<F> = r.x.slice(s![step, .., ..]).mapv(F::of_f64);
        let loss = train_step(
            &mut model,
            &mut adam,
            &mut grads,
            x.view(),
            labels,
            weights.as_deref(),
            None,
        );
        assert_close(
            &format!("{name} loss of step {}", step + 1),
            loss.mean().as_f64(),
            r.losses[step],
            tol,
        );
    }
    for (i, (got, want)) in model.params().iter().zip(r.finals.params()).enumerate() {
        for (j, (a, b)) in got.iter().zip(want.iter()).enumerate() {
            assert_close(
                &format!("{name} final {}[{j}]", PARAM_NAMES[i]),
                a.as_f64(),
                *b,
                tol,
            );
        }
    }
    assert_eq!(adam.step, 10);
}

#[test]
fn pytorch_trajectory_plain_f64() {
    replay::<f64>("plain", CLOSE_F64);
}

#[test]
fn pytorch_trajectory_weighted_with_weight_decay_f64() {
    replay::<f64>("weighted", CLOSE_F64);
}

#[test]
fn pytorch_trajectory_plain_f32() {
    replay::<f32>("plain", CLOSE_F32);
}

#[test]
fn pytorch_trajectory_weighted_with_weight_decay_f32() {
    replay::<f32>("weighted", CLOSE_F32);
}

// ---- early stopping on a scripted validation curve ----

use pipeline::head::fit::{
    fit, EpochEval, FitConfig, FitError, FitState, PassMode, TrainData, Validator,
};

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
    let passes = vec![Array2::from_shape_fn((10, 5), |(i, j)| {
        ((i * 5 + j) % 7) as f32 - 3.0
    })];
    let labels: Vec<u32> = (0..10).map(|i| (i % 3) as u32).collect();
    let data = TrainData {
        passes: &passes,
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

// ---- the stage, run as a binary on synthetic caches ----

use pipeline::checkpoint::TrainedRun;
use rand::Rng;
use std::process::{Command, Output};

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
    Command::new(env!("CARGO_BIN_EXE_pipeline"))
        .arg("train-head")
        .args(args)
        .env("PIPELINE_NO_PROGRESS", "1")
        .output()
        .unwrap()
}

fn ok(out: Output) -> String {
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "stdout:\n{text}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

fn fails(out: Output) -> String {
    assert!(
        !out.status.success(),
        "expected a failure; stdout:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).to_string()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
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
        assert_eq!(a.metadata().unwrap(), b.metadata().unwrap(), "{f}");
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
