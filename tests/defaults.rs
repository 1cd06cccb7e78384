//! Commands that need no reading: `run` without `--model` (the default backbone, relative to the
//! current directory) and `--workdir` (`work/<name of DATA>`), and `predict`, `eval`, `export`
//! taking the backbone and the cache from the run's record, hash-checked.

mod common;

use common::{command_in, fails, fixture, s, succeeded, MODEL};
use std::path::Path;
use std::process::Output;

/// A directory laid out like a checkout: `models/vgg16-conv.onnx` (the tiny fixture backbone under
/// the default name) and the raw fixture photos in `photos/`.
fn checkout(dir: &Path) {
    std::fs::create_dir_all(dir.join("models")).unwrap();
    std::fs::copy(
        common::root().join(MODEL),
        dir.join("models/vgg16-conv.onnx"),
    )
    .unwrap();
    std::fs::copy(
        fixture("backbone/tiny.json"),
        dir.join("models/vgg16-conv.json"),
    )
    .unwrap();
    common::copy_tree(&fixture("images/raw"), &dir.join("photos"));
}

fn in_dir(dir: &Path, args: &[&str]) -> Output {
    command_in(dir).args(args).output().expect("run pipeline")
}

/// `pipeline run --data photos` with nothing else that matters, in `dir`.
fn run_defaults(dir: &Path) -> String {
    let o = in_dir(
        dir,
        &[
            "run", "--data", "photos", "--device", "cpu", "--passes", "1", "--views", "centre",
            "--head", "mlp", "--epochs", "3",
        ],
    );
    let (out, err) = succeeded(&o);
    assert!(
        err.contains("backbone models/vgg16-conv.onnx (default"),
        "{err}"
    );
    assert!(err.contains("workdir  work/photos (default"), "{err}");
    out
}

#[test]
fn run_needs_only_data_and_the_run_record_serves_predict_eval_export() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    checkout(d);
    let out = run_defaults(d);
    assert!(d.join("work/photos/runs/mlp/head.safetensors").exists());
    assert!(d.join("work/photos/report.html").exists());
    let next: Vec<&str> = out.lines().skip_while(|l| !l.starts_with("next")).collect();
    assert_eq!(next.len(), 3, "{out}");
    assert!(next[0].ends_with("open work/photos/report.html"), "{out}");
    assert!(
        next[1].contains(" predict --run work/photos/runs/mlp "),
        "{out}"
    );
    assert!(
        next[2].contains(" export --run work/photos/runs/mlp --out work/photos/classifier.onnx"),
        "{out}"
    );
    let config = common::json(&d.join("work/photos/runs/mlp/config.json"));
    let recorded = config["backbone_path"].as_str().unwrap();
    assert!(
        Path::new(recorded).is_absolute() && recorded.ends_with("models/vgg16-conv.onnx"),
        "{recorded}"
    );
    // From another directory: every path the run records is enough.
    let run = d.join("work/photos/runs/mlp");
    let photos = fixture("images/tree/test");
    let p = succeeded(&in_dir(
        &common::root(),
        &["predict", "--run", s(&run), "--device", "cpu", s(&photos)],
    ))
    .0;
    assert!(p.lines().count() > 3, "{p}");
    let e = succeeded(&in_dir(d, &["eval", "--run", s(&run), "--split", "valid"])).0;
    assert!(e.contains("top-1"), "{e}");
    let onnx = d.join("photos.onnx");
    succeeded(&in_dir(d, &["export", "--run", s(&run), "--out", s(&onnx)]));
    assert!(onnx.exists());
    let c = succeeded(&in_dir(
        d,
        &["predict", "--classifier", s(&onnx), s(&photos)],
    ))
    .0;
    assert_eq!(c.lines().count(), p.lines().count(), "{c}\n{p}");
}

#[test]
fn rejects_a_recorded_backbone_that_changed_or_moved() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    checkout(d);
    run_defaults(d);
    let run = d.join("work/photos/runs/mlp");
    let model = d.join("models/vgg16-conv.onnx");
    // An unknown protobuf field (number 1000, varint 1) appended: still a valid model, other bytes.
    let mut bytes = std::fs::read(&model).unwrap();
    bytes.extend_from_slice(&[0xC0, 0x3E, 0x01]);
    std::fs::write(&model, &bytes).unwrap();
    let photos = fixture("images/tree/test");
    let err = fails(&in_dir(
        d,
        &["predict", "--run", s(&run), "--device", "cpu", s(&photos)],
    ));
    assert!(
        err.contains("differs from the one the head") && err.contains("changed since the run"),
        "{err}"
    );
    let err = fails(&in_dir(d, &["export", "--run", s(&run), "--out", "x.onnx"]));
    assert!(
        err.contains("do not belong together") && err.contains("changed since the run"),
        "{err}"
    );
    assert!(!d.join("x.onnx").exists());
    std::fs::remove_file(&model).unwrap();
    let err = fails(&in_dir(
        d,
        &["predict", "--run", s(&run), "--device", "cpu", s(&photos)],
    ));
    assert!(
        err.contains("is missing (moved or deleted)") && err.contains("--model"),
        "{err}"
    );
}

#[test]
fn run_without_the_default_backbone_says_how_to_build_it() {
    let t = tempfile::tempdir().unwrap();
    common::copy_tree(&fixture("images/raw"), &t.path().join("photos"));
    let o = in_dir(t.path(), &["run", "--data", "photos", "--device", "cpu"]);
    common::assert_clean_failure(
        &o,
        &["models/vgg16-conv.onnx", "just vgg16-conv", "--model"],
    );
    assert!(!t.path().join("work").exists());
}
