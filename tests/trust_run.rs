//! Trust in run directories and in what a run reads: incomplete, damaged or inconsistent heads
//! are refused by eval and predict, a second writer is refused, outputs never land in the data.

mod common;

use common::{fails, pipeline, succeeded, MODEL};
use pipeline::checkpoint::{CONFIG_FILE, HEAD_FILE, METRICS_FILE};
use pipeline::head::tensor_file::{TensorReader, TensorWriter};
use std::path::{Path, PathBuf};

const DATA: &str = "tests/fixtures/images/tree";

/// Extracts the fixture tree and trains a 3-epoch head; returns (cache, run).
fn trained(t: &Path) -> (PathBuf, PathBuf) {
    let (cache, run) = (t.join("cache"), t.join("run"));
    succeeded(&common::extract_into(
        MODEL,
        DATA,
        cache.to_str().unwrap(),
        &["--passes", "1", "--device", "cpu"],
    ));
    train(&cache, &run, &[]);
    (cache, run)
}

fn train(cache: &Path, run: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "train-head",
        "--features",
        cache.to_str().unwrap(),
        "--out",
        run.to_str().unwrap(),
    ];
    if !extra.contains(&"--resume") {
        args.extend_from_slice(&["--epochs", "3", "--hidden", "8"]);
    }
    args.extend_from_slice(extra);
    let o = pipeline(&args);
    if extra.is_empty() || extra.contains(&"--resume") {
        succeeded(&o);
    }
    o
}

fn eval(cache: &Path, run: &Path) -> std::process::Output {
    pipeline(&[
        "eval",
        "--features",
        cache.to_str().unwrap(),
        "--run",
        run.to_str().unwrap(),
        "--split",
        "valid",
    ])
}

fn predict(run: &Path) -> std::process::Output {
    pipeline(&[
        "predict",
        "--model",
        MODEL,
        "--run",
        run.to_str().unwrap(),
        "--device",
        "cpu",
        "tests/fixtures/images/tree/test",
    ])
}

/// Rewrites the head with `edit` applied to each tensor, metadata kept.
fn rewrite_head(run: &Path, edit: impl Fn(&str, &mut ndarray::ArrayD<f32>)) {
    let path = run.join(HEAD_FILE);
    let r = TensorReader::open(&path).unwrap();
    let mut w = TensorWriter::default();
    for name in ["0.weight", "0.bias", "3.weight", "3.bias"] {
        let mut a = r.array::<f32>(name).unwrap();
        edit(name, &mut a);
        w.add(name, a.view());
    }
    for (k, v) in r.metadata().unwrap() {
        w.meta(&k, v);
    }
    w.write(&path, safetensors::Dtype::F32).unwrap();
    common::rehash_run(run);
}

#[test]
fn rejects_damaged_heads_and_incomplete_runs_and_resume_finishes_them() {
    let t = tempfile::tempdir().unwrap();
    let (cache, run) = trained(t.path());
    succeeded(&eval(&cache, &run));
    let good = std::fs::read(run.join(HEAD_FILE)).unwrap();

    // incomplete: the completion marker is missing (train-head was killed)
    std::fs::remove_file(run.join(METRICS_FILE)).unwrap();
    for o in [eval(&cache, &run), predict(&run)] {
        let err = fails(&o);
        assert!(
            err.contains("is incomplete: stopped at epoch 3 of 3") && err.contains("--resume"),
            "{err}"
        );
    }
    train(&cache, &run, &["--resume"]);
    succeeded(&eval(&cache, &run));

    // NaN / infinite weights
    rewrite_head(&run, |n, a| {
        if n == "3.bias" {
            a[[0]] = f32::NAN;
        }
        if n == "0.weight" {
            a[[0, 0]] = f32::INFINITY;
        }
    });
    for o in [eval(&cache, &run), predict(&run)] {
        let err = fails(&o);
        assert!(err.contains("2 weights are NaN or infinite"), "{err}");
    }

    // a zero-width hidden layer
    rewrite_head(&run, |n, a| {
        let shape: Vec<usize> = match n {
            "0.weight" => vec![0, a.shape()[1]],
            "0.bias" => vec![0],
            "3.weight" => vec![a.shape()[0], 0],
            _ => a.shape().to_vec(),
        };
        *a = ndarray::ArrayD::zeros(shape);
    });
    let err = fails(&eval(&cache, &run));
    assert!(err.contains("zero width"), "{err}");

    // shapes that disagree with config.json
    std::fs::write(run.join(HEAD_FILE), &good).unwrap();
    common::rehash_run(&run);
    succeeded(&eval(&cache, &run));
    let cpath = run.join(CONFIG_FILE);
    let text = std::fs::read_to_string(&cpath).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["mlp"]["hidden"] = 16.into();
    std::fs::write(&cpath, v.to_string()).unwrap();
    common::rehash_run(&run);
    for o in [eval(&cache, &run), predict(&run)] {
        let err = fails(&o);
        assert!(err.contains("hidden Some(16)"), "{err}");
    }
}

#[test]
fn rejects_a_second_train_head_writer_naming_the_holder() {
    let t = tempfile::tempdir().unwrap();
    let (cache, run) = trained(t.path());
    let held = pipeline::lock::lock_dir(&run, false).unwrap();
    let err = fails(&train(&cache, &run, &["--force"]));
    assert!(
        err.contains("in use by another pipeline process") && err.contains("pid"),
        "{err}"
    );
    assert!(
        run.join(METRICS_FILE).exists(),
        "the refused writer touched the run"
    );
    drop(held);
}

#[test]
fn rejects_outputs_inside_the_data_tree_before_writing() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("data");
    common::copy_tree(&common::root().join(DATA), &data);
    let out = data.join("train/cat/cache");
    let err = fails(&common::extract_into(
        MODEL,
        data.to_str().unwrap(),
        out.to_str().unwrap(),
        &["--device", "cpu"],
    ));
    assert!(err.contains("inside --data"), "{err}");
    assert!(!out.exists());
    let raw = t.path().join("raw");
    common::copy_tree(&common::root().join("tests/fixtures/images/raw"), &raw);
    let w = raw.join("work");
    let err = fails(&common::run_into(&raw, &w, &[]));
    assert!(err.contains("inside --data"), "{err}");
    assert!(!w.exists());
}

#[test]
fn survives_a_failing_force_retrain_and_a_good_one_drops_the_old_evaluations() {
    let t = tempfile::tempdir().unwrap();
    let (cache, run) = trained(t.path());
    succeeded(&eval(&cache, &run));
    let evals = |run: &Path| {
        std::fs::read_dir(run)
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("eval-"))
            .count()
    };
    assert!(evals(&run) > 0);
    let head = std::fs::read(run.join(HEAD_FILE)).unwrap();
    // A --force retrain that fails half-way (a damaged shard, found while loading) keeps the old run.
    let shard = common::shard_file(&cache, "train-p000-c00000");
    let good = std::fs::read(&shard).unwrap();
    let mut bad = good.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    std::fs::write(&shard, &bad).unwrap();
    let err = fails(&train(&cache, &run, &["--force"]));
    assert!(err.contains("content hash"), "{err}");
    assert_eq!(std::fs::read(run.join(HEAD_FILE)).unwrap(), head);
    assert!(run.join(METRICS_FILE).exists() && evals(&run) > 0);
    succeeded(&eval(&cache, &run));
    // A good one replaces the run whole: the old head's evaluations go with it, no staging left.
    std::fs::write(&shard, &good).unwrap();
    succeeded(&train(&cache, &run, &["--force", "--dropout", "0.1"]));
    assert_eq!(evals(&run), 0, "eval-* of the replaced head removed");
    assert_ne!(std::fs::read(run.join(HEAD_FILE)).unwrap(), head);
    let staging = std::fs::read_dir(t.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains(".force-"))
        .count();
    assert_eq!(staging, 0);
}

#[test]
fn rejects_a_head_or_config_changed_after_training() {
    let t = tempfile::tempdir().unwrap();
    let (cache, run) = trained(t.path());
    let head = std::fs::read(run.join(HEAD_FILE)).unwrap();
    let mut other = head.clone();
    let last = other.len() - 1;
    other[last] ^= 0x01;
    std::fs::write(run.join(HEAD_FILE), &other).unwrap();
    let err = fails(&eval(&cache, &run));
    assert!(
        err.contains("head.safetensors") && err.contains("recorded in metrics.json"),
        "{err}"
    );
    std::fs::write(run.join(HEAD_FILE), &head).unwrap();
    let cfg = std::fs::read_to_string(run.join(CONFIG_FILE)).unwrap();
    std::fs::write(
        run.join(CONFIG_FILE),
        cfg.replacen("\"seed\"", "\"seed\" ", 1),
    )
    .unwrap();
    let err = fails(&predict(&run));
    assert!(
        err.contains("config.json") && err.contains("content hash"),
        "{err}"
    );
    std::fs::write(run.join(CONFIG_FILE), &cfg).unwrap();
    // The optimizer state `--resume` continues from is checked too.
    let opt = run.join("optimizer.safetensors");
    let mut bytes = std::fs::read(&opt).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    std::fs::write(&opt, &bytes).unwrap();
    let err = fails(&pipeline(&[
        "train-head",
        "--features",
        cache.to_str().unwrap(),
        "--out",
        run.to_str().unwrap(),
        "--resume",
        "--epochs",
        "5",
    ]));
    assert!(
        err.contains("optimizer.safetensors") && err.contains("recorded in metrics.json"),
        "{err}"
    );
}
