//! `pipeline quantize` and `run --precision int8` on the tiny fixture backbone (needs the
//! project's .venv holding onnxruntime: fails under `CI` without it, elsewhere says it did not run): the int8 model and its sidecar, reuse of the cached
//! int8 model, and `export --precision` refusing a backbone of the other precision.

mod common;

use common::{fails, pipeline, succeeded, MODEL, MODEL_NHWC};
use serde_json::Value;

const RAW: &str = "tests/fixtures/images/raw";

fn have_venv() -> bool {
    common::venv_python().is_some()
}

#[test]
fn quantize_writes_an_int8_model_and_sidecar() {
    if !have_venv() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("tiny-nhwc-int8.onnx");
    succeeded(&pipeline(&[
        "quantize",
        "--model",
        MODEL_NHWC,
        "--calib",
        RAW,
        "--out",
        out.to_str().unwrap(),
        "--images",
        "12",
    ]));
    let side: Value =
        serde_json::from_str(&std::fs::read_to_string(out.with_extension("json")).unwrap())
            .unwrap();
    assert_eq!(side["precision"], "int8");
    // the fixture folder holds a few undecodable files on purpose; they are skipped
    let used = side["calibration"]["images"].as_u64().unwrap();
    assert!((1..=12).contains(&used), "{used}");
    assert_eq!(side["f32_model_hash"].as_str().unwrap().len(), 64);
    // the int8 model is a working backbone
    succeeded(&pipeline(&["info", "--model", out.to_str().unwrap()]));
    // with as many parameters: its int8 weights count, their scales and zero points do not
    let frozen = |m: &str| {
        let (o, _) = succeeded(&pipeline(&["params", "--model", m, "--classes", "3"]));
        o.lines()
            .find(|l| l.starts_with("Frozen params"))
            .unwrap_or_else(|| panic!("no frozen count in:\n{o}"))
            .to_string()
    };
    assert_eq!(frozen(out.to_str().unwrap()), frozen(MODEL_NHWC));
}

#[test]
fn run_int8_quantizes_once_and_exports_int8() {
    if !have_venv() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let w = t.path().join("w");
    let ws = w.to_str().unwrap();
    let job = || {
        pipeline(&[
            "run",
            "--data",
            RAW,
            "--model",
            MODEL,
            "--workdir",
            ws,
            "--passes",
            "1",
            "--device",
            "cpu",
            "--epochs",
            "3",
            "--precision",
            "int8",
            "--calib-images",
            "8",
            "--head",
            "mlp",
            "--views",
            "ten-crop",
        ])
    };
    succeeded(&job());
    let (_, err) = succeeded(&job());
    assert!(err.contains("reusing int8 backbone"), "{err}");
    let int8 = std::fs::read_dir(w.join("models"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "onnx"))
        .unwrap();
    let run = w.join("runs/mlp");
    let out = t.path().join("c.onnx");
    let (r, o, m) = (
        run.to_str().unwrap(),
        out.to_str().unwrap(),
        int8.to_str().unwrap(),
    );
    let err = fails(&pipeline(&[
        "export",
        "--run",
        r,
        "--model",
        m,
        "--out",
        o,
        "--precision",
        "f32",
    ]));
    assert!(err.contains("--precision int8"), "{err}");
    // Without --model and --precision: the run's recorded backbone, at its own precision.
    succeeded(&pipeline(&["export", "--run", r, "--out", o]));
    let facts = common::json(&out.with_extension("json"));
    assert_eq!(facts["precision"], "int8", "{facts}");
    let (stdout, _) = succeeded(&pipeline(&["predict", "--classifier", o, RAW]));
    assert!(stdout.lines().count() > 10);
}
