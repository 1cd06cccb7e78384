//! `pipeline extract` end to end on the committed fixtures: cache round trip, determinism,
//! resume, refusals naming the differing field, --strict, NHWC/BGR models.

mod common;

use common::{fails, pipeline, root, MODEL, MODEL_NHWC};
use std::path::Path;
use std::process::Output;

const DATA: &str = "tests/fixtures/images/tree";

/// Success, returning stdout and stderr together.
fn ok(o: &Output) -> String {
    let (out, err) = common::succeeded(o);
    out + &err
}

fn extract(out: &Path, extra: &[&str]) -> Output {
    let out = out.to_str().unwrap();
    let mut args = vec![
        "extract", "--model", MODEL, "--data", DATA, "--out", out, "--passes", "2", "--device",
        "cpu",
    ];
    args.extend_from_slice(extra);
    pipeline(&args)
}

fn features(dir: &Path, split: &str, pass: u32) -> ndarray::Array2<f32> {
    pipeline::cache::FeatureCache::open(dir)
        .unwrap()
        .load(split, pass)
        .unwrap()
        .features
}

#[test]
fn round_trip_determinism_and_passes() {
    let t = tempfile::tempdir().unwrap();
    let (a, b) = (t.path().join("a"), t.path().join("b"));
    let out = ok(&extract(&a, &[]));
    assert!(out.contains("skipped"), "{out}");
    ok(&extract(&b, &[]));
    let c = pipeline::cache::FeatureCache::open(&a).unwrap();
    assert_eq!(c.passes(), 2);
    for split in ["train", "valid", "test"] {
        let fa = features(&a, split, 0);
        assert!(fa.nrows() > 0 && fa.ncols() == c.feature_dim());
        assert!(fa.iter().all(|v| v.is_finite()));
        assert_eq!(fa, features(&b, split, 0), "{split} not bitwise identical");
    }
    assert_ne!(
        features(&a, "train", 0),
        features(&a, "train", 1),
        "passes must differ"
    );
    let again = ok(&extract(&a, &[]));
    assert!(again.contains("up to date"), "{again}");
    let info = ok(&pipeline(&["cache-info", a.to_str().unwrap()]));
    assert!(
        info.contains("split train") && info.contains("augmented"),
        "{info}"
    );
}

#[test]
fn resumes_after_interruption_with_identical_features() {
    let t = tempfile::tempdir().unwrap();
    let (full, cut) = (t.path().join("full"), t.path().join("cut"));
    ok(&extract(&full, &["--chunk-size", "2"]));
    ok(&extract(&cut, &["--chunk-size", "2"]));
    // Simulate a kill -9: no manifest, some shards missing, a half-written temp file.
    std::fs::remove_file(cut.join("manifest.json")).unwrap();
    let shards: Vec<_> = std::fs::read_dir(cut.join("shards"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(shards.len() > 4);
    for s in shards.iter().step_by(2) {
        std::fs::remove_file(s).unwrap();
    }
    std::fs::write(cut.join("shards/.tmpXYZ"), b"partial").unwrap();
    assert!(pipeline::cache::FeatureCache::open(&cut).is_err());
    let out = ok(&extract(&cut, &["--chunk-size", "2"]));
    assert!(out.contains("resuming"), "{out}");
    for (split, pass) in [("train", 0), ("train", 1), ("valid", 0), ("test", 0)] {
        assert_eq!(features(&full, split, pass), features(&cut, split, pass));
    }
}

#[test]
fn shards_merge_into_one_cache() {
    let t = tempfile::tempdir().unwrap();
    let (one, many) = (t.path().join("one"), t.path().join("many"));
    ok(&extract(&one, &["--chunk-size", "2"]));
    let first = ok(&extract(&many, &["--chunk-size", "2", "--shard", "0/2"]));
    assert!(first.contains("still missing"), "{first}");
    ok(&extract(&many, &["--chunk-size", "2", "--shard", "1/2"]));
    assert!(pipeline::cache::FeatureCache::open(&many).is_ok());
    assert_eq!(features(&one, "train", 1), features(&many, "train", 1));
}

#[test]
fn refuses_a_stale_cache_naming_the_field() {
    let t = tempfile::tempdir().unwrap();
    let cache = t.path().join("cache");
    let data = t.path().join("data");
    common::copy_tree(&root().join(DATA), &data);
    let model_dir = t.path().join("m");
    common::copy_tree(&root().join("tests/fixtures/backbone"), &model_dir);
    let model = model_dir.join("tiny.onnx");
    let (d, m, c) = (
        data.to_str().unwrap(),
        model.to_str().unwrap(),
        cache.to_str().unwrap(),
    );
    let base = [
        "extract", "--model", m, "--data", d, "--out", c, "--device", "cpu",
    ];
    let run = |extra: &[&str]| {
        let mut a = base.to_vec();
        if !extra.contains(&"--passes") {
            a.extend_from_slice(&["--passes", "2"]);
        }
        a.extend_from_slice(extra);
        pipeline(&a)
    };
    ok(&run(&[]));
    for (extra, field) in [
        (vec!["--seed", "1"], "seed"),
        (vec!["--passes", "3"], "passes"),
        (vec!["--dtype", "f16"], "dtype"),
    ] {
        let err = fails(&run(&extra));
        assert!(
            err.contains(field) && err.contains("--force"),
            "{field}: {err}"
        );
    }
    // sidecar and preprocessing: change the resize side in the sidecar
    let sc = model_dir.join("tiny.json");
    let text = std::fs::read_to_string(&sc).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["resize_shorter"] = 40.into();
    std::fs::write(&sc, v.to_string()).unwrap();
    let err = fails(&run(&[]));
    assert!(
        err.contains("preprocess") || err.contains("sidecar"),
        "{err}"
    );
    std::fs::write(&sc, &text).unwrap();
    // model bytes
    let mut bytes = std::fs::read(&model).unwrap();
    std::fs::write(model_dir.join("orig.onnx"), &bytes).unwrap();
    bytes.extend_from_slice(b"\x00");
    std::fs::write(&model, &bytes).unwrap();
    let r = run(&[]);
    if !r.status.success() {
        let err = fails(&r);
        assert!(
            err.contains("backbone_hash") || err.contains("model"),
            "{err}"
        );
    }
    std::fs::copy(model_dir.join("orig.onnx"), &model).unwrap();
    // image list: a new image; class list: a new class
    let train = data.join("train");
    let first_class = std::fs::read_dir(&train)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .min()
        .unwrap();
    let some_img = std::fs::read_dir(&first_class)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .min()
        .unwrap();
    std::fs::copy(&some_img, first_class.join("zz_added.png")).unwrap();
    let err = fails(&run(&[]));
    assert!(err.contains("images"), "{err}");
    std::fs::remove_file(first_class.join("zz_added.png")).unwrap();
    ok(&run(&[]));
    common::copy_tree(&first_class, &train.join("zz_new_class"));
    let err = fails(&run(&[]));
    assert!(err.contains("classes"), "{err}");
    ok(&run(&["--force"]));
}

#[test]
fn strict_stops_at_a_corrupt_image_default_skips() {
    let t = tempfile::tempdir().unwrap();
    let out = ok(&extract(&t.path().join("a"), &[]));
    assert!(out.contains("skipped"), "{out}");
    let err = fails(&extract(&t.path().join("b"), &["--strict"]));
    assert!(err.contains("--strict"), "{err}");
}

#[test]
fn nhwc_bgr_model_gives_the_same_features() {
    let t = tempfile::tempdir().unwrap();
    let (a, b) = (t.path().join("a"), t.path().join("b"));
    ok(&extract(&a, &[]));
    let o = common::extract_into(
        MODEL_NHWC,
        DATA,
        b.to_str().unwrap(),
        &["--passes", "2", "--device", "cpu"],
    );
    ok(&o);
    let (x, y) = (features(&a, "valid", 0), features(&b, "valid", 0));
    assert_eq!(x.dim(), y.dim());
    let max = x
        .iter()
        .zip(&y)
        .map(|(p, q)| (p - q).abs())
        .fold(0f32, f32::max);
    assert!(max < 1e-4, "max difference {max}");
}

#[test]
fn rejects_bad_arguments_and_inputs() {
    let t = tempfile::tempdir().unwrap();
    let err = fails(&extract(&t.path().join("c"), &["--passes", "0"]));
    assert!(err.contains("--passes"), "{err}");
    let o = common::extract_into(
        MODEL,
        "tests/fixtures",
        t.path().join("d").to_str().unwrap(),
        &[],
    );
    let err = fails(&o);
    assert!(
        err.contains("split tree") && err.contains("pipeline split"),
        "{err}"
    );
}
