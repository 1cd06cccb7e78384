//! End to end through the real binary on the committed fixtures: `run`, then `eval` and
//! `predict` in every format, and the errors a user meets (mismatched cache and run, empty
//! folder, missing model).

mod common;

use common::{fails, pipeline, root, MODEL, MODEL_NHWC};
use std::path::Path;
use std::process::Output;

const RAW: &str = "tests/fixtures/images/raw";

/// Success, returning stdout.
fn ok(o: &Output) -> String {
    common::succeeded(o).0
}

fn main_job(w: &Path) -> String {
    ok(&common::run_into(
        Path::new(RAW),
        w,
        &["--passes", "2", "--epochs", "5", "--head", "mlp"],
    ))
}

#[test]
fn run_then_eval_and_predict_in_every_format() {
    let t = tempfile::tempdir().unwrap();
    let w = t.path().join("w");
    let out = main_job(&w);
    for needle in ["parameters total", "extract", "best epoch", "top-1", "test"] {
        assert!(out.contains(needle), "{needle} missing from:\n{out}");
    }
    for f in [
        "inspect/report.json",
        "inspect/split/report.json",
        "inspect/split/images_per_class.png",
        "data/split.json",
        "features/manifest.json",
        "runs/mlp/head.safetensors",
        "runs/mlp/config.json",
        "runs/mlp/eval-test/metrics.json",
        "runs/mlp/eval-test/per_class.csv",
        "runs/mlp/eval-test/confusion.csv",
        "runs/mlp/eval-test/confusion.png",
    ] {
        assert!(w.join(f).exists(), "{f} missing");
    }
    let metrics: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(w.join("runs/mlp/eval-test/metrics.json")).unwrap(),
    )
    .unwrap();
    let top1 = metrics["top1"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&top1) && metrics["images"].as_u64().unwrap() > 0);
    // rerun reuses split and cache
    let again = main_job(&w);
    assert!(
        again.contains("reused cache") && again.contains("reused"),
        "{again}"
    );
    // eval on its own
    let (f, r) = (w.join("features"), w.join("runs/mlp"));
    let e = ok(&pipeline(&[
        "eval",
        "--features",
        f.to_str().unwrap(),
        "--run",
        r.to_str().unwrap(),
        "--split",
        "valid",
    ]));
    assert!(e.contains("valid:") && e.contains("top-1"), "{e}");
    // predict, every format
    let folder = "tests/fixtures/images/tree/test";
    let table = ok(&pipeline(&[
        "predict",
        "--model",
        MODEL,
        "--run",
        r.to_str().unwrap(),
        "--topk",
        "2",
        folder,
    ]));
    assert!(table.lines().count() >= 4, "{table}");
    let json = ok(&pipeline(&[
        "predict",
        "--model",
        MODEL,
        "--run",
        r.to_str().unwrap(),
        "--format",
        "json",
        folder,
    ]));
    for line in json.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let top = v["topk"].as_array().unwrap();
        assert!(!top.is_empty() && top.len() <= 5);
        let p: f64 = top.iter().map(|t| t["probability"].as_f64().unwrap()).sum();
        assert!(p <= 1.0 + 1e-5 && p > 0.0);
        assert!(v["path"].as_str().unwrap().contains("test/"));
    }
    let csv = ok(&pipeline(&[
        "predict",
        "--model",
        MODEL,
        "--run",
        r.to_str().unwrap(),
        "--format",
        "csv",
        "--topk",
        "1",
        folder,
    ]));
    assert!(
        csv.starts_with("path,rank,class,probability,unknown,novelty\n"),
        "{csv}"
    );
    assert_eq!(csv.lines().count(), json.lines().count() + 1);
}

/// `pipeline predict --model MODEL --run RUN PATH`.
fn predict(model: &str, run: &str, path: &str) -> Output {
    pipeline(&["predict", "--model", model, "--run", run, path])
}

#[test]
fn predict_skips_unreadable_files_and_refuses_bad_inputs() {
    let t = tempfile::tempdir().unwrap();
    let w = t.path().join("w");
    main_job(&w);
    let r = w.join("runs/mlp");
    let r = r.to_str().unwrap();
    // a folder with one good and one broken image: the good one is predicted, the bad one reported
    let mixed = t.path().join("mixed");
    std::fs::create_dir_all(&mixed).unwrap();
    std::fs::copy(
        root().join("tests/fixtures/images/tree/test/cat/cat_t0.jpg"),
        mixed.join("good.jpg"),
    )
    .unwrap();
    std::fs::write(mixed.join("bad.jpg"), b"not an image").unwrap();
    let o = predict(MODEL, r, mixed.to_str().unwrap());
    let out = ok(&o);
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("bad.jpg"));
    // empty folder
    let empty = t.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let err = fails(&predict(MODEL, r, empty.to_str().unwrap()));
    assert!(err.contains("no files found"), "{err}");
    // missing model
    let err = fails(&predict("models/nope.onnx", r, empty.to_str().unwrap()));
    assert!(err.contains("nope.onnx"), "{err}");
    // another model than the run's
    let err = fails(&predict(MODEL_NHWC, r, mixed.to_str().unwrap()));
    assert!(err.contains("differs from the one the head"), "{err}");
}

#[test]
fn eval_refuses_a_cache_from_another_backbone() {
    let t = tempfile::tempdir().unwrap();
    let w = t.path().join("w");
    main_job(&w);
    let other = t.path().join("other");
    ok(&common::extract_into(
        MODEL_NHWC,
        w.join("data").to_str().unwrap(),
        other.to_str().unwrap(),
        &["--passes", "1", "--device", "cpu"],
    ));
    let err = fails(&pipeline(&[
        "eval",
        "--features",
        other.to_str().unwrap(),
        "--run",
        w.join("runs/mlp").to_str().unwrap(),
    ]));
    assert!(
        err.contains("backbone differs") || err.contains("preprocessing differs"),
        "{err}"
    );
    let err = fails(&pipeline(&[
        "eval",
        "--features",
        t.path().join("none").to_str().unwrap(),
        "--run",
        "x",
    ]));
    assert!(err.contains("pipeline extract"), "{err}");
}
