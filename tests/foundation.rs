//! `pipeline info` and `pipeline params` through the real binary, and every bad-input path of the
//! foundation (model file, sidecar, ONNX Runtime library): one-line cause + fix, exit 1, no panic.
//!
//! ONNX Runtime is found the way users find it (ORT_DYLIB_PATH, or `.ort/cpu/` of this checkout
//! via the executable's location). The VGG-16 count test needs a Python with `onnx` + `numpy`:
//! `PIPELINE_PYTHON` (default `python3`); without one it fails under `CI` and elsewhere says it
//! did not run (`common::prerequisite`).

mod common;

use common::{assert_clean_failure, text};
use std::path::{Path, PathBuf};
use std::process::Command;

fn fixture(name: &str) -> PathBuf {
    common::fixture("backbone").join(name)
}

fn pipeline(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = common::command_in(dir);
    cmd.args(args);
    cmd
}

#[test]
fn info_describes_the_tiny_fixture() {
    let dir = tempfile::tempdir().unwrap();
    let model = fixture("tiny.onnx");
    let out = pipeline(dir.path(), &["info", "--device", "cpu", "--model"])
        .arg(&model)
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for want in [
        "inputs       input: float32 [batch, 3, 32, 32]",
        "outputs      features: float32 [batch, 16]",
        "opset ai.onnx 17",
        "producer make_tiny.py 1",
        "parameters   112 in 1 layers",
        "tiny.json",
        "input` nchw rgb, 32×32",
        "runtime      ONNX Runtime 1.",
        "CPUExecutionProvider",
        "this session: cpu",
    ] {
        assert!(stdout.contains(want), "missing {want:?} in:\n{stdout}");
    }
}

#[test]
fn info_json_on_the_nhwc_fixture() {
    let dir = tempfile::tempdir().unwrap();
    let out = pipeline(dir.path(), &["info", "--json", "--threads", "1", "--model"])
        .arg(fixture("tiny_nhwc.onnx"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["sidecar"]["layout"], "nhwc");
    assert_eq!(v["sidecar"]["channel_order"], "bgr");
    assert_eq!(v["feature_dim"], 16);
    assert_eq!(v["parameters"], 112);
    assert_eq!(v["provider"], "cpu");
    assert_eq!(v["sidecar_synthesized"], false);
    assert_eq!(
        v["inputs"][0]["dims"],
        serde_json::json!(["batch", 32, 32, 3])
    );
    assert!(v["ort_version"].as_str().unwrap().starts_with("1."));
}

#[test]
fn params_on_the_tiny_fixture() {
    let dir = tempfile::tempdir().unwrap();
    let out = pipeline(
        dir.path(),
        &[
            "params",
            "--classes",
            "5",
            "--hidden",
            "8",
            "--json",
            "--model",
        ],
    )
    .arg(fixture("tiny.onnx"))
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["feature_dim"], 16);
    assert_eq!(v["frozen"], 112);
    assert_eq!(v["trainable"], (16 * 8 + 8) + (8 * 5 + 5));
    assert_eq!(v["total"], 112 + (16 * 8 + 8) + (8 * 5 + 5));
}

#[test]
fn params_rejects_a_single_class() {
    let dir = tempfile::tempdir().unwrap();
    let out = pipeline(dir.path(), &["params", "--classes", "1", "--model"])
        .arg(fixture("tiny.onnx"))
        .output()
        .unwrap();
    assert_clean_failure(&out, &["--classes must be at least 2"]);
}

/// A Python with onnx + numpy, or `None` with the reason printed.
fn python_with_onnx() -> Option<String> {
    let py = std::env::var("PIPELINE_PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = Command::new(&py)
        .args(["-c", "import onnx, numpy"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !common::prerequisite(
        ok,
        &format!("a Python with onnx and numpy (`{py} -c 'import onnx, numpy'` failed)"),
        "set PIPELINE_PYTHON to one (`just venv` makes .venv/bin/python)",
    ) {
        return None;
    }
    Some(py)
}

#[test]
fn params_on_random_vgg16_fc7_gives_torchvision_counts() {
    let Some(py) = python_with_onnx() else { return };
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("vgg16-random-fc7.onnx");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/make_vgg16_random.py");
    let made = Command::new(py)
        .arg(script)
        .arg("--out")
        .arg(&model)
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", text(&made.stderr));
    let out = pipeline(dir.path(), &["params", "--classes", "100", "--model"])
        .arg(&model)
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        stdout.contains("Total params:        135,335,076"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Frozen params:       134,260,544"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Trainable params:      1,074,532"),
        "{stdout}"
    );
}

#[test]
fn missing_model_file() {
    let dir = tempfile::tempdir().unwrap();
    for stage in ["info", "params"] {
        let mut args = vec![stage, "--model", "nope/model.onnx"];
        if stage == "params" {
            args.extend(["--classes", "3"]);
        }
        let out = pipeline(dir.path(), &args).output().unwrap();
        assert_clean_failure(&out, &["nope/model.onnx does not exist", "just vgg16-conv"]);
    }
}

#[test]
fn truncated_model_file() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(fixture("tiny.onnx")).unwrap();
    std::fs::write(dir.path().join("cut.onnx"), &bytes[..bytes.len() * 2 / 3]).unwrap();
    let out = pipeline(dir.path(), &["info", "--model", "cut.onnx"])
        .output()
        .unwrap();
    assert_clean_failure(&out, &["cut.onnx is truncated", "just export-onnx"]);
}

#[test]
fn non_onnx_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("x.onnx"),
        "this is a text file, not a model\n",
    )
    .unwrap();
    let out = pipeline(dir.path(), &["info", "--model", "x.onnx"])
        .output()
        .unwrap();
    assert_clean_failure(&out, &["x.onnx is not an ONNX model", "models/README.md"]);
    std::fs::write(dir.path().join("empty.onnx"), "").unwrap();
    let out = pipeline(dir.path(), &["info", "--model", "empty.onnx"])
        .output()
        .unwrap();
    assert_clean_failure(&out, &["empty.onnx is empty (0 bytes)"]);
}

#[test]
fn model_without_sidecar_works_and_warns() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(fixture("tiny_nhwc.onnx"), dir.path().join("m.onnx")).unwrap();
    let out = pipeline(dir.path(), &["info", "--json", "--model", "m.onnx"])
        .output()
        .unwrap();
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("warning: no sidecar m.json: assuming NHWC RGB input 32×32"),
        "{err}"
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["sidecar_synthesized"], true);
    assert_eq!(v["feature_dim"], 16);
}

#[test]
fn ort_library_missing_via_env() {
    let dir = tempfile::tempdir().unwrap();
    let out = pipeline(dir.path(), &["info", "--model"])
        .arg(fixture("tiny.onnx"))
        .env("ORT_DYLIB_PATH", "/nonexistent/libonnxruntime.so")
        .output()
        .unwrap();
    assert_clean_failure(
        &out,
        &[
            "ONNX Runtime library not found",
            "/nonexistent/libonnxruntime.so",
            "scripts/fetch_ort.sh",
        ],
    );
}

#[test]
fn ort_library_missing_via_flag() {
    let dir = tempfile::tempdir().unwrap();
    let out = pipeline(
        dir.path(),
        &["info", "--ort-lib", "/nope/libonnxruntime.so", "--model"],
    )
    .arg(fixture("tiny.onnx"))
    .env_remove("ORT_DYLIB_PATH")
    .output()
    .unwrap();
    assert_clean_failure(&out, &["/nope/libonnxruntime.so", "just fetch-ort"]);
}

#[test]
fn ort_library_that_is_not_a_library() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("libonnxruntime.so"), "garbage").unwrap();
    let out = pipeline(
        dir.path(),
        &["info", "--ort-lib", "libonnxruntime.so", "--model"],
    )
    .arg(fixture("tiny.onnx"))
    .output()
    .unwrap();
    assert_clean_failure(&out, &["cannot load ONNX Runtime library", "fetch_ort.sh"]);
}

/// A stand-in `libonnxruntime.so` whose `OrtGetApiBase` reports version 1.20.0.
const OLD_ORT: &str = r#"
#[repr(C)]
pub struct Base { get_api: unsafe extern "C" fn(u32) -> *const u8, version: unsafe extern "C" fn() -> *const u8 }
unsafe extern "C" fn get_api(_: u32) -> *const u8 { std::ptr::null() }
unsafe extern "C" fn version() -> *const u8 { b"1.20.0\0".as_ptr() }
static BASE: Base = Base { get_api, version };
#[no_mangle]
pub extern "C" fn OrtGetApiBase() -> *const Base { &BASE }
"#;

#[test]
fn ort_library_too_old() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("old.rs"), OLD_ORT).unwrap();
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let built = Command::new(&rustc)
        .current_dir(dir.path())
        .args([
            "--edition",
            "2021",
            "--crate-type",
            "cdylib",
            "old.rs",
            "-o",
            "libonnxruntime.so",
        ])
        .output();
    match built {
        Ok(o) if o.status.success() => {}
        other => {
            common::prerequisite(
                false,
                &format!("a rustc that builds the stand-in library (`{rustc}`: {other:?})"),
                "install a Rust toolchain or set RUSTC",
            );
            return;
        }
    }
    let out = pipeline(
        dir.path(),
        &["info", "--ort-lib", "libonnxruntime.so", "--model"],
    )
    .arg(fixture("tiny.onnx"))
    .output()
    .unwrap();
    assert_clean_failure(
        &out,
        &["is version 1.20.0", "needs 1.26 or newer", "fetch_ort.sh"],
    );
}

#[test]
fn cuda_requested_on_a_cpu_build() {
    let dir = tempfile::tempdir().unwrap();
    let probe = pipeline(dir.path(), &["info", "--json", "--model"])
        .arg(fixture("tiny.onnx"))
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&probe.stdout).unwrap();
    if v["providers_available"]
        .to_string()
        .contains("CUDAExecutionProvider")
    {
        // The refusal this test checks cannot happen with a CUDA build: say so, do not pretend.
        common::prerequisite(
            false,
            "an ONNX Runtime without CUDA support (this one has it)",
            "point ORT_DYLIB_PATH at the CPU build (`just fetch-ort`)",
        );
        return;
    }
    let out = pipeline(dir.path(), &["info", "--device", "cuda", "--model"])
        .arg(fixture("tiny.onnx"))
        .output()
        .unwrap();
    assert_clean_failure(
        &out,
        &[
            "CPU-only build",
            "scripts/fetch_ort.sh --gpu",
            "--device cpu",
        ],
    );
}
