//! `scripts/make_efficientnet_lite.py --synthetic`: the torch-free EfficientNet-Lite build on a tiny
//! random checkpoint of the port's structure, in both `torch.save` formats. The script fails unless
//! ONNX Runtime matches a numpy forward of the unfolded weights within 1e-4 at three input sizes;
//! the built backbone must then extract dense views; Lite0's and Lite2's block and parameter counts
//! must be the real checkpoints', and the checkpoint reader must refuse a pickle that calls
//! `os.system` and a truncated file. Skipped without the project's .venv.

mod common;

use common::{extract_into, json, root, s, succeeded};
use std::path::Path;
use std::process::Command;

const DATA: &str = "tests/fixtures/images/tree";

fn venv_python() -> Option<std::path::PathBuf> {
    common::venv_python()
}

fn build_synthetic(py: &Path, dir: &Path, format: &str) -> String {
    let out = Command::new(py)
        .current_dir(root())
        .args(["scripts/make_efficientnet_lite.py", "--synthetic", s(dir)])
        .args(["--synthetic-format", format])
        .output()
        .expect("run python");
    let (stdout, _) = succeeded(&out);
    stdout
}

#[test]
fn synthetic_lite_matches_numpy_and_extracts_dense_views() {
    let Some(py) = venv_python() else { return };
    let t = tempfile::tempdir().unwrap();
    for format in ["legacy", "zip"] {
        let dir = t.path().join(format);
        let stdout = build_synthetic(&py, &dir, format);
        assert!(stdout.contains("synthetic check passed"), "{stdout}");
        assert_eq!(stdout.matches("max |ONNX - numpy|").count(), 3, "{stdout}");
        // the reader refuses code and truncation
        assert_eq!(stdout.matches("check: refused").count(), 2, "{stdout}");
        // the width/depth scaling reproduces the real checkpoints' sizes
        assert!(
            stdout.contains("efficientnet-lite0: 16 blocks, 3,350,000"),
            "{stdout}"
        );
        assert!(
            stdout.contains("efficientnet-lite2: 21 blocks, 4,782,024"),
            "{stdout}"
        );
        for f in [
            "tiny-lite.onnx",
            "tiny-lite-imagenet.onnx",
            "tiny-lite.json",
        ] {
            assert!(dir.join(f).is_file(), "{format}: {f} missing");
        }
    }
    let dir = t.path().join("legacy");
    let side = json(&dir.join("tiny-lite.json"));
    assert_eq!(side["layout"], "nchw");
    assert_eq!(side["feature_dim"], 16);
    assert_eq!(side["normalization"]["mean"][0], 127.0);

    let model = dir.join("tiny-lite.onnx");
    let cache = t.path().join("cache");
    let (_, err) = succeeded(&extract_into(
        s(&model),
        DATA,
        s(&cache),
        &["--device", "cpu", "--views", "dense", "--passes", "0"],
    ));
    let manifest = json(&cache.join("manifest.json"));
    assert_eq!(manifest["spec"]["sidecar"]["feature_dim"], 16, "{err}");
    assert!(manifest.to_string().contains("dense-centre"), "{err}");
}
