//! Trust in the feature cache: every damaged, swapped, mislisted or inconsistent shard is refused
//! naming the file (never a panic, never trained on), and `extract` recomputes exactly what is bad.

mod common;

use common::{fails, pipeline, shard_file, succeeded, MODEL};
use ndarray::Array2;
use pipeline::cache::shard::{self, ShardData, ShardId};
use pipeline::cache::{self, FeatureCache};
use serde_json::Value;
use std::path::Path;

fn make(dir: &Path) -> FeatureCache {
    let train = Array2::from_shape_fn((6, 4), |(i, j)| (i * 10 + j) as f32);
    let valid = Array2::from_shape_fn((2, 4), |(i, j)| -((i * 10 + j) as f32));
    cache::write_synthetic(
        dir,
        &["cat".into(), "dog".into()],
        &[
            ("train", 2, train, vec![0, 1, 1]),
            ("valid", 1, valid, vec![1, 0]),
        ],
    )
    .unwrap()
}

const TRAIN0: &str = "train-p000-c00000";
const TRAIN1: &str = "train-p001-c00000";

/// Opens and loads every (split, pass); the first error as text.
fn load_all(dir: &Path) -> Result<(), String> {
    let c = FeatureCache::open(dir).map_err(|e| e.to_string())?;
    for (split, pass) in [("train", 0), ("train", 1), ("valid", 0)] {
        c.load(split, pass).map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn edit_manifest(dir: &Path, f: impl FnOnce(&mut Value)) {
    let p = dir.join(cache::MANIFEST);
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    f(&mut v);
    std::fs::write(&p, serde_json::to_string_pretty(&v).unwrap()).unwrap();
}

fn refused(dir: &Path, words: &[&str]) {
    let err = load_all(dir).expect_err("damaged cache accepted");
    for w in words {
        assert!(err.contains(w), "expected {w:?} in: {err}");
    }
}

#[test]
fn rejects_truncated_shard() {
    let t = tempfile::tempdir().unwrap();
    make(t.path());
    let p = shard_file(t.path(), TRAIN0);
    let bytes = std::fs::read(&p).unwrap();
    std::fs::write(&p, &bytes[..bytes.len() - 7]).unwrap();
    refused(t.path(), &["train-p000-c00000", "content hash"]);
}

#[test]
fn rejects_zero_length_shard() {
    let t = tempfile::tempdir().unwrap();
    make(t.path());
    std::fs::write(shard_file(t.path(), TRAIN0), b"").unwrap();
    refused(t.path(), &["train-p000-c00000", "0 bytes"]);
}

#[test]
fn rejects_bit_flipped_shard() {
    let t = tempfile::tempdir().unwrap();
    make(t.path());
    let p = shard_file(t.path(), TRAIN1);
    let mut bytes = std::fs::read(&p).unwrap();
    let last = bytes.len() - 20;
    bytes[last] ^= 0x01;
    std::fs::write(&p, &bytes).unwrap();
    refused(t.path(), &["train-p001-c00000", "content hash"]);
}

#[test]
fn rejects_swapped_shards() {
    let t = tempfile::tempdir().unwrap();
    make(t.path());
    let (a, b) = (shard_file(t.path(), TRAIN0), shard_file(t.path(), TRAIN1));
    let tmp = t.path().join("swap");
    std::fs::rename(&a, &tmp).unwrap();
    std::fs::rename(&b, &a).unwrap();
    std::fs::rename(&tmp, &b).unwrap();
    refused(t.path(), &["train-p00", "content hash"]);
}

#[test]
fn rejects_duplicated_manifest_entry() {
    let t = tempfile::tempdir().unwrap();
    make(t.path());
    edit_manifest(t.path(), |v| {
        let first = v["shards"][0].clone();
        v["shards"].as_array_mut().unwrap().push(first);
    });
    refused(t.path(), &["listed twice"]);
}

#[test]
fn rejects_manifest_entry_outside_the_cache() {
    let t = tempfile::tempdir().unwrap();
    make(t.path());
    edit_manifest(t.path(), |v| {
        v["shards"][0]["file"] = "../../etc/passwd".into();
    });
    refused(
        t.path(),
        &["../../etc/passwd", "not a file name inside shards/"],
    );
}

#[test]
fn rejects_manifest_missing_an_entry() {
    let t = tempfile::tempdir().unwrap();
    make(t.path());
    edit_manifest(t.path(), |v| {
        v["shards"].as_array_mut().unwrap().pop();
    });
    refused(t.path(), &["lists 2 shards, its plan needs 3"]);
}

#[test]
fn rejects_row_count_mismatch() {
    let t = tempfile::tempdir().unwrap();
    make(t.path());
    edit_manifest(t.path(), |v| v["shards"][0]["rows"] = 2.into());
    refused(
        t.path(),
        &["train-p000-c00000", "3 rows, the manifest says 2"],
    );
    edit_manifest(t.path(), |v| {
        v["shards"][0]["rows"] = 1_000_000_000_000u64.into()
    });
    refused(t.path(), &["claims 1000000000000 rows"]);
}

/// Rewrites a shard with other contents and records its new hash, so only the content checks
/// stand between it and training.
fn rewrite(dir: &Path, data: &ShardData, dim: usize) {
    let c = FeatureCache::open(dir).unwrap();
    let id = ShardId {
        split: "train",
        pass: 0,
        chunk: 0,
    };
    let p = cache::shard_path(dir, c.key(), id);
    let hash = shard::write(&p, c.key(), id, dim, shard::FeatureDtype::F32, data, &[]).unwrap();
    edit_manifest(dir, |v| {
        v["shards"][0]["blake3"] = hash.into();
        v["shards"][0]["rows"] = data.labels.len().into();
    });
}

#[test]
fn rejects_label_outside_classes_and_labels_that_disagree() {
    let t = tempfile::tempdir().unwrap();
    make(t.path());
    let mut d = ShardData {
        features: vec![0.0; 12],
        labels: vec![0, 1, 7],
        index: vec![0, 1, 2],
    };
    rewrite(t.path(), &d, 4);
    refused(t.path(), &["label 7 outside the 2 classes"]);
    d.labels = vec![1, 1, 1];
    rewrite(t.path(), &d, 4);
    refused(t.path(), &["has label 1, the image list says 0"]);
    d.labels = vec![0, 1, 1];
    d.index = vec![0, 0, 2];
    rewrite(t.path(), &d, 4);
    refused(t.path(), &["out of order"]);
}

#[test]
fn rejects_width_mismatch_and_non_finite_features() {
    let t = tempfile::tempdir().unwrap();
    make(t.path());
    let d = ShardData {
        features: vec![0.0; 9],
        labels: vec![0, 1, 1],
        index: vec![0, 1, 2],
    };
    rewrite(t.path(), &d, 3);
    refused(t.path(), &["train-p000-c00000", "expected [3, 4]"]);
    let mut d = ShardData {
        features: vec![0.0; 12],
        ..d
    };
    d.features[5] = f32::NAN;
    rewrite(t.path(), &d, 4);
    refused(t.path(), &["NaN"]);
}

#[test]
fn rejects_header_length_beyond_the_file_without_allocating() {
    let t = tempfile::tempdir().unwrap();
    let p = t.path().join("x.safetensors");
    let mut bytes = (1u64 << 60).to_le_bytes().to_vec();
    bytes.extend_from_slice(b"{}");
    std::fs::write(&p, &bytes).unwrap();
    let err = shard::read_meta(&p).unwrap_err().to_string();
    assert!(err.contains("header claims"), "{err}");
    assert!(shard::read(&p, "k", 4).is_err());
    assert!(shard::inspect(&p, "k").is_err());
}

const DATA: &str = "tests/fixtures/images/tree";

fn extract(out: &Path, extra: &[&str]) -> std::process::Output {
    let out = out.to_str().unwrap();
    let mut args = vec![
        "extract",
        "--model",
        MODEL,
        "--data",
        DATA,
        "--out",
        out,
        "--passes",
        "2",
        "--device",
        "cpu",
        "--chunk-size",
        "2",
    ];
    args.extend_from_slice(extra);
    pipeline(&args)
}

fn features(dir: &Path) -> Vec<ndarray::Array2<f32>> {
    let c = FeatureCache::open(dir).unwrap();
    [("train", 0), ("train", 1), ("valid", 0), ("test", 0)]
        .iter()
        .map(|(s, p)| c.load(s, *p).unwrap().features)
        .collect()
}

fn shard_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir.join("shards"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    v.sort();
    v
}

#[test]
fn survives_damaged_and_missing_shards_by_recomputing_exactly_those() {
    let t = tempfile::tempdir().unwrap();
    let (good, bad) = (t.path().join("good"), t.path().join("bad"));
    succeeded(&extract(&good, &[]));
    succeeded(&extract(&bad, &[]));
    let files = shard_files(&bad);
    let mut bytes = std::fs::read(&files[1]).unwrap();
    let n = bytes.len() - 3;
    bytes[n] ^= 0x40;
    std::fs::write(&files[1], &bytes).unwrap();
    std::fs::remove_file(&files[3]).unwrap();
    let untouched = std::fs::metadata(&files[5]).unwrap().modified().unwrap();
    let b = bad.to_str().unwrap();
    let err = fails(&pipeline(&["cache-info", b, "--verify"]));
    assert!(err.contains("rerun the same `pipeline extract`"), "{err}");
    let (out, log) = succeeded(&extract(&bad, &[]));
    assert!(log.contains("recomputing"), "{log}");
    assert!(!out.contains("up to date"), "{out}");
    assert_eq!(
        std::fs::metadata(&files[5]).unwrap().modified().unwrap(),
        untouched,
        "a good shard was recomputed"
    );
    let (out, _) = succeeded(&pipeline(&["cache-info", b, "--verify"]));
    assert!(out.contains("verified"), "{out}");
    assert_eq!(features(&good), features(&bad));
}

#[test]
fn rejects_a_second_writer_naming_the_holder() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("c");
    let held = pipeline::lock::lock_dir(&out, false).unwrap();
    let err = fails(&extract(&out, &[]));
    assert!(
        err.contains("in use by another pipeline process") && err.contains("pid"),
        "{err}"
    );
    assert!(!out.join("plan.json").exists());
    drop(held);
    succeeded(&extract(&out, &[]));
}

#[test]
fn survives_concurrent_shard_workers_then_a_merge() {
    let t = tempfile::tempdir().unwrap();
    let (one, many) = (t.path().join("one"), t.path().join("many"));
    succeeded(&extract(&one, &[]));
    let m = many.to_str().unwrap().to_string();
    let workers: Vec<_> = (0..3)
        .map(|i| {
            let sel = format!("{i}/3");
            let args = [
                "extract",
                "--model",
                MODEL,
                "--data",
                DATA,
                "--out",
                &m,
                "--passes",
                "2",
                "--device",
                "cpu",
                "--chunk-size",
                "2",
                "--shard",
                &sel,
            ]
            .map(String::from);
            std::process::Command::new(env!("CARGO_BIN_EXE_pipeline"))
                .args(args)
                .current_dir(common::root())
                .env("PIPELINE_NO_PROGRESS", "1")
                .spawn()
                .unwrap()
        })
        .collect();
    for mut w in workers {
        assert!(w.wait().unwrap().success());
    }
    succeeded(&extract(&many, &[]));
    assert_eq!(features(&one), features(&many));
    let leftovers: Vec<_> = shard_files(&many)
        .into_iter()
        .filter(|p| p.to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
