//! Helpers shared by the end-to-end tests: run the real binary from the repository root and check
//! its exit status, never accepting a panic.

use std::path::PathBuf;
use std::process::{Command, Output};

pub const MODEL: &str = "tests/fixtures/backbone/tiny.onnx";
pub const MODEL_NHWC: &str = "tests/fixtures/backbone/tiny_nhwc.onnx";

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `pipeline ARGS` in the repository root, progress bars off.
pub fn pipeline(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pipeline"))
        .args(args)
        .current_dir(root())
        .env("PIPELINE_NO_PROGRESS", "1")
        .output()
        .expect("run pipeline")
}

/// Asserts success without a panic; returns (stdout, stderr).
pub fn succeeded(o: &Output) -> (String, String) {
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(o.status.success(), "failed: {err}\nstdout: {out}");
    assert!(!err.contains("panicked"), "{err}");
    (out, err)
}

/// Asserts failure without a panic; returns stderr.
pub fn fails(o: &Output) -> String {
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(!o.status.success(), "unexpectedly succeeded: {err}");
    assert!(!err.contains("panicked"), "{err}");
    err
}
