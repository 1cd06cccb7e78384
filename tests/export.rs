//! `pipeline export` and `predict --classifier` on the tiny fixture backbones: the crop-input
//! file equals `predict --model --run` within 1e-5; the image-input file (resize in the graph)
//! agrees on top-1 and its probability difference is measured; Python's onnxruntime loads the
//! file and agrees; a mismatched backbone, an unwritable --out and unsupported views are refused.

mod common;

use common::{fails, pipeline, predictions, succeeded, MODEL, MODEL_NHWC};
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

const RAW: &str = "tests/fixtures/images/raw";

/// A trained run per (model, head), made once per test process.
fn trained(model: &str, head: &str) -> PathBuf {
    static RUNS: OnceLock<std::sync::Mutex<HashMap<String, PathBuf>>> = OnceLock::new();
    let runs = RUNS.get_or_init(Default::default);
    let mut map = runs.lock().unwrap_or_else(|e| e.into_inner());
    let key = format!("{model}-{head}");
    if let Some(p) = map.get(&key) {
        return p.clone();
    }
    let w = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("export-{}-{key}", std::process::id()).replace('/', "_"));
    let ws = w.to_str().unwrap();
    succeeded(&pipeline(&[
        "run",
        "--data",
        RAW,
        "--model",
        model,
        "--workdir",
        ws,
        "--passes",
        "1",
        "--device",
        "cpu",
        "--epochs",
        "5",
        "--head",
        head,
        "--views",
        "ten-crop+whole",
    ]));
    let run = w.join("runs").join(head);
    map.insert(key, run.clone());
    run
}

fn export(run: &Path, model: &str, out: &Path, input: &str) {
    succeeded(&pipeline(&[
        "export",
        "--run",
        run.to_str().unwrap(),
        "--model",
        model,
        "--out",
        out.to_str().unwrap(),
        "--input",
        input,
    ]));
}

fn reference(run: &Path, model: &str) -> HashMap<String, HashMap<String, f64>> {
    predictions(&[
        "--model",
        model,
        "--run",
        run.to_str().unwrap(),
        "--device",
        "cpu",
        RAW,
    ])
}

fn top1(p: &HashMap<String, f64>) -> &str {
    p.iter()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|(c, _)| c.as_str())
        .unwrap()
}

/// (top-1 agreement, max |Δp|) over all images.
fn compare(
    a: &HashMap<String, HashMap<String, f64>>,
    b: &HashMap<String, HashMap<String, f64>>,
) -> (f64, f64) {
    assert_eq!(a.len(), b.len());
    let (mut agree, mut max) = (0usize, 0f64);
    for (path, pa) in a {
        let pb = &b[path];
        agree += (top1(pa) == top1(pb)) as usize;
        for (c, v) in pa {
            max = max.max((v - pb[c]).abs());
        }
    }
    (agree as f64 / a.len() as f64, max)
}

/// A run on the eval view alone (extract without `--views`, then train-head): what a
/// `--input crop` classifier computes, one centre crop per image, no view averaging.
fn trained_on_one_view(dir: &Path, model: &str, head: &str) -> PathBuf {
    trained_on_one_view_with(dir, model, &["--head", head, "--epochs", "5"])
}

/// [`trained_on_one_view`] with the given `train-head` flags.
fn trained_on_one_view_with(dir: &Path, model: &str, train: &[&str]) -> PathBuf {
    let (features, run) = (dir.join("features"), dir.join("run"));
    let (f, r) = (features.to_str().unwrap(), run.to_str().unwrap());
    succeeded(&common::extract_into(
        model,
        "tests/fixtures/images/tree",
        f,
        &["--passes", "1", "--device", "cpu"],
    ));
    succeeded(&common::train_head_into(f, r, train));
    run
}

#[test]
fn crop_input_equals_predict_within_1e5() {
    let t = tempfile::tempdir().unwrap();
    for (model, head) in [(MODEL, "mlp"), (MODEL_NHWC, "logistic")] {
        let run = trained_on_one_view(&t.path().join(head), model, head);
        let out = t.path().join(format!("{head}.onnx"));
        export(&run, model, &out, "crop");
        let got = predictions(&["--classifier", out.to_str().unwrap(), RAW]);
        let (agree, max) = compare(&reference(&run, model), &got);
        eprintln!("{model} {head} --input crop: top-1 agreement {agree}, max |Δp| {max:e}");
        assert!(max <= 1e-5, "max |Δp| {max}");
        assert_eq!(agree, 1.0);
        let facts: Value =
            serde_json::from_str(&std::fs::read_to_string(out.with_extension("json")).unwrap())
                .unwrap();
        assert_eq!(facts["input"]["name"], "crop");
        assert_eq!(facts["head"], head);
        assert!(facts["classes"].as_array().unwrap().len() >= 2);
        assert_eq!(facts["backbone_hash"].as_str().unwrap().len(), 64);
    }
}

/// An MLP seed ensemble exports as one file: the members' softmaxes averaged in the graph.
#[test]
fn ensemble_classifier_equals_predict_within_1e5() {
    let t = tempfile::tempdir().unwrap();
    let train = ["--head", "mlp", "--ensemble", "3", "--epochs", "5"];
    let run = trained_on_one_view_with(t.path(), MODEL, &train);
    let out = t.path().join("ensemble.onnx");
    export(&run, MODEL, &out, "crop");
    let got = predictions(&["--classifier", out.to_str().unwrap(), RAW]);
    let (agree, max) = compare(&reference(&run, MODEL), &got);
    eprintln!("ensemble --input crop: top-1 agreement {agree}, max |Δp| {max:e}");
    assert!(max <= 1e-5, "max |Δp| {max}");
    assert_eq!(agree, 1.0);
    let facts: Value =
        serde_json::from_str(&std::fs::read_to_string(out.with_extension("json")).unwrap())
            .unwrap();
    assert_eq!(facts["head"], "mlp-ensemble");
}

#[test]
fn image_input_agrees_with_predict() {
    let t = tempfile::tempdir().unwrap();
    for (model, head) in [(MODEL, "mlp"), (MODEL_NHWC, "logistic")] {
        let run = trained(model, head);
        let out = t.path().join("classifier.onnx");
        export(&run, model, &out, "image");
        let got = predictions(&["--classifier", out.to_str().unwrap(), RAW]);
        let (agree, max) = compare(&reference(&run, model), &got);
        eprintln!("{model} {head} --input image: top-1 agreement {agree:.3}, max |Δp| {max:.2e}");
        assert!(agree >= 0.95, "top-1 agreement {agree}");
        // ONNX Resize and the tool's resampler differ by a grey level here and there; the MLP
        // stays within 1.2e-4, while the logistic head (L2-normalised input, C up to 1000) turns
        // it into up to 3.5e-2 of probability on these 12-view runs (measured).
        let bound = if head == "mlp" { 1e-3 } else { 5e-2 };
        assert!(max < bound, "max |Δp| {max}");
    }
}

#[test]
fn python_onnxruntime_loads_and_agrees() {
    let Some(py) = common::venv_python() else {
        return;
    };
    let run = trained(MODEL, "mlp");
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("classifier.onnx");
    export(&run, MODEL, &out, "image");
    let got = predictions(&["--classifier", out.to_str().unwrap(), RAW]);
    let script = r#"
import sys, json, glob, numpy as np, onnxruntime as ort
from PIL import Image
s = ort.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])
classes = json.loads(s.get_modelmeta().custom_metadata_map["classes"])
for f in sorted(glob.glob(sys.argv[2] + "/**/*.png", recursive=True)):
    try:
        x = np.asarray(Image.open(f).convert("RGB"))[None]
    except Exception:
        continue
    p = s.run(["probabilities"], {"image": x})[0][0]
    print(json.dumps({"path": f, "probs": dict(zip(classes, map(float, p)))}))
"#;
    let o = std::process::Command::new(&py)
        .args(["-c", script, out.to_str().unwrap(), RAW])
        .current_dir(common::root())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut n = 0;
    for l in String::from_utf8_lossy(&o.stdout).lines() {
        let v: Value = serde_json::from_str(l).unwrap();
        let Some(ours) = got.get(v["path"].as_str().unwrap()) else {
            continue;
        };
        for (c, p) in v["probs"].as_object().unwrap() {
            let d = (p.as_f64().unwrap() - ours[c]).abs();
            assert!(
                d < 1e-4,
                "{}: {c} python {p} vs rust {}",
                v["path"],
                ours[c]
            );
        }
        n += 1;
    }
    assert!(n > 0, "python scored no image");
}

#[test]
fn refuses_a_backbone_the_run_was_not_trained_on() {
    let run = trained(MODEL, "mlp");
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("c.onnx");
    let err = fails(&pipeline(&[
        "export",
        "--run",
        run.to_str().unwrap(),
        "--model",
        MODEL_NHWC,
        "--out",
        out.to_str().unwrap(),
    ]));
    assert!(err.contains("do not belong together"), "{err}");
    assert!(!out.exists());
}

#[test]
fn refuses_an_unwritable_out() {
    let run = trained(MODEL, "mlp");
    let r = run.to_str().unwrap();
    for (out, needle) in [
        ("Cargo.toml/c.onnx", "does not exist"),
        ("tests", "is a folder"),
        ("no/such/dir/c.onnx", "does not exist"),
    ] {
        let err = fails(&pipeline(&[
            "export", "--run", r, "--model", MODEL, "--out", out,
        ]));
        assert!(err.contains(needle), "{out}: {err}");
    }
}

#[test]
fn refuses_views_it_does_not_build() {
    let run = trained(MODEL, "mlp");
    let t = tempfile::tempdir().unwrap();
    let copy = t.path().join("run");
    std::fs::create_dir(&copy).unwrap();
    for f in ["head.safetensors", "config.json", "metrics.json"] {
        std::fs::copy(run.join(f), copy.join(f)).unwrap();
    }
    let mut cfg: Value =
        serde_json::from_str(&std::fs::read_to_string(copy.join("config.json")).unwrap()).unwrap();
    cfg["input"]["views"] = serde_json::json!(["centre", "sideways"]);
    std::fs::write(copy.join("config.json"), cfg.to_string()).unwrap();
    common::rehash_run(&copy);
    let out = t.path().join("c.onnx");
    let err = fails(&pipeline(&[
        "export",
        "--run",
        copy.to_str().unwrap(),
        "--model",
        MODEL,
        "--out",
        out.to_str().unwrap(),
    ]));
    assert!(err.contains("unknown view `sideways`"), "{err}");
}

#[test]
fn predict_classifier_refuses_a_plain_backbone() {
    let err = fails(&pipeline(&["predict", "--classifier", MODEL, RAW]));
    assert!(err.contains("pipeline export"), "{err}");
}

/// Opt-in, real model: `PIPELINE_EXPORT_RUN=RUN PIPELINE_EXPORT_IMAGES=DIR cargo test --test export
/// -- --ignored` with `models/vgg16-conv.onnx` (e.g. a `pipeline run` on Tux Paint and its test split).
#[test]
#[ignore = "needs a real run and photos: PIPELINE_EXPORT_RUN=RUN PIPELINE_EXPORT_IMAGES=DIR"]
fn vgg16_image_export_agrees_on_real_photos() {
    let (Ok(run), Ok(images)) = (
        std::env::var("PIPELINE_EXPORT_RUN"),
        std::env::var("PIPELINE_EXPORT_IMAGES"),
    ) else {
        panic!("set PIPELINE_EXPORT_RUN (a run of models/vgg16-conv.onnx) and PIPELINE_EXPORT_IMAGES (a folder of photos)");
    };
    let model = "models/vgg16-conv.onnx";
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("vgg.onnx");
    export(Path::new(&run), model, &out, "image");
    let reference = predictions(&["--model", model, "--run", &run, "--device", "cpu", &images]);
    let got = predictions(&["--classifier", out.to_str().unwrap(), &images]);
    let (agree, max) = compare(&reference, &got);
    eprintln!("VGG-16 --input image: top-1 agreement {agree:.3}, max |Δp| {max:.2e}");
    assert!(agree >= 0.95, "top-1 agreement {agree}");
}
