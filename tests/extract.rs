//! `pipeline extract` end to end on the committed fixtures: cache round trip, determinism,
//! resume, reuse of rows across changed inputs (naming the differing field), --strict, NHWC/BGR models.

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

/// `(computed, reused)` views of the extract that completed the cache in `dir`.
fn counts(dir: &Path) -> (u64, u64) {
    let m = common::json(&dir.join("manifest.json"));
    let n = |k: &str| m["stats"][k].as_u64().unwrap();
    (n("views"), n("reused_views"))
}

/// Usable images of a split in a cache.
fn usable(dir: &Path, split: &str) -> u64 {
    features(dir, split, 0).nrows() as u64
}

#[test]
fn reuses_unchanged_rows_of_a_cache_of_other_inputs_naming_the_field() {
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
    let nhwc = model_dir.join("tiny_nhwc.onnx");
    let n = nhwc.to_str().unwrap();
    let with = |model: &str, extra: &[&str]| {
        let mut a = vec![
            "extract", "--model", model, "--data", d, "--out", c, "--device", "cpu",
        ];
        a.extend_from_slice(extra);
        ok(&pipeline(&a))
    };
    let run = |extra: &[&str]| with(m, extra);
    run(&["--passes", "2"]);
    let (tr, va, te) = (
        usable(&cache, "train"),
        usable(&cache, "valid"),
        usable(&cache, "test"),
    );
    // Rows: 2 augmented + the kept eval view per train image, the eval view per other image.
    let all = 3 * tr + va + te;
    assert_eq!(counts(&cache), (all, 0));
    let err = run(&["--passes", "3"]);
    assert!(err.contains("passes") && err.contains("reusing"), "{err}");
    assert_eq!(counts(&cache), (tr, all), "only pass 2 is new");
    let err = run(&["--passes", "3", "--seed", "1"]);
    assert!(err.contains("seed"), "{err}");
    assert_eq!(counts(&cache), (3 * tr, tr + va + te), "eval views reused");
    let err = run(&["--passes", "3", "--seed", "1", "--dtype", "f16"]);
    assert!(err.contains("dtype"), "{err}");
    assert_eq!(counts(&cache).1, 0, "an f16 row is another row");
    let key = |dir: &Path| common::json(&dir.join("manifest.json"))["key"].clone();
    let f16_key = key(&cache);
    // Another backbone (other model bytes) computes everything; going back reuses the first's.
    let err = with(n, &["--passes", "3", "--seed", "1", "--dtype", "f16"]);
    assert!(err.contains("backbone_hash"), "{err}");
    assert_eq!(counts(&cache).1, 0);
    let back = run(&["--passes", "3", "--seed", "1", "--dtype", "f16"]);
    assert!(back.contains("already holds these features"), "{back}");
    assert_eq!(
        key(&cache),
        f16_key,
        "the first backbone's cache is current again"
    );
    let manifests = std::fs::read_dir(cache.join("manifests")).unwrap().count();
    assert_eq!(manifests, 2);
    // Preprocessing (the sidecar's resize side) changes every row.
    let sc = model_dir.join("tiny.json");
    let text = std::fs::read_to_string(&sc).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["resize_shorter"] = 40.into();
    std::fs::write(&sc, v.to_string()).unwrap();
    let err = run(&["--passes", "3", "--seed", "1", "--dtype", "f16"]);
    assert!(
        err.contains("preprocess") || err.contains("sidecar"),
        "{err}"
    );
    assert_eq!(counts(&cache).1, 0);
    // --force recomputes every row of an unchanged cache.
    let err = run(&["--passes", "3", "--seed", "1", "--dtype", "f16", "--force"]);
    assert!(err.contains("--force"), "{err}");
    assert_eq!(counts(&cache), (4 * tr + va + te, 0));
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
