//! `pipeline cv --features A --features B`: each cache of the same images and their concatenation
//! over the same re-splits, in one table and one JSON; caches of other images or classes refused.

mod common;

use common::{assert_clean_failure, json, pipeline, s, stdout_of};
use ndarray::Array2;
use pipeline::cache::write_synthetic_views;
use pipeline::features::views::ViewSet;
use rand::Rng;
use std::path::{Path, PathBuf};

const K: usize = 3;
const VIEWS: u32 = 2;

/// `[VIEWS·n, d]` view-major features: class signal in the first `K` columns scaled by `signal`.
fn split(n: usize, d: usize, signal: f32, rng: &mut impl Rng) -> (Array2<f32>, Vec<u32>) {
    let labels: Vec<u32> = (0..n).map(|i| (i % K) as u32).collect();
    let x = Array2::from_shape_fn((VIEWS as usize * n, d), |(r, j)| {
        let c = labels[r % n] as usize;
        signal * f32::from(u8::from(j == c)) + rng.gen_range(0.0f32..1.0)
    });
    (x, labels)
}

/// A synthetic cache of 30/15/15 images (the same paths and labels for every seed) with
/// `classes` classes named `c0…`, `d`-wide features and the test split cut to `test` images.
fn cache(dir: &Path, d: usize, signal: f32, seed: u64, test: usize) -> PathBuf {
    let mut rng = pipeline::seed::rng(seed, &[b"cv-compare"]);
    let splits = [("train", 30), ("valid", 15), ("test", test)]
        .map(|(name, n)| (name, split(n, d, signal, &mut rng)))
        .map(|(name, (x, y))| (name, VIEWS, x, y));
    let classes: Vec<String> = (0..K).map(|k| format!("c{k}")).collect();
    let names = &ViewSet::TenCropWhole.names()[..VIEWS as usize];
    write_synthetic_views(dir, &classes, &splits, names).unwrap();
    dir.to_owned()
}

fn cv(features: &[&Path], extra: &[&str]) -> std::process::Output {
    let mut args = vec!["cv"];
    for f in features {
        args.extend(["--features", s(f)]);
    }
    args.extend(["--repeats", "3", "--head", "logistic", "--c-grid", "1,10"]);
    args.extend_from_slice(extra);
    pipeline(&args)
}

#[test]
fn compares_caches_and_their_concatenation_over_the_same_resplits() {
    let t = tempfile::tempdir().unwrap();
    let a = cache(&t.path().join("a"), 24, 1.0, 1, 15);
    let b = cache(&t.path().join("b"), 16, 2.0, 2, 15);
    // One backbone's cache kept in a directory that holds several opens by its manifest file.
    let kept = a.join("manifests");
    std::fs::create_dir_all(&kept).unwrap();
    std::fs::copy(a.join("manifest.json"), kept.join("synthetic.json")).unwrap();
    let js = t.path().join("cmp.json");
    let out = stdout_of(&cv(
        &[&kept.join("synthetic.json"), &b],
        &["--json", s(&js)],
    ));
    assert!(out.contains("cv comparison (3 repeats"), "{out}");
    assert!(out.contains("images/s = the cache manifest"), "{out}");
    let j = json(&js);
    assert_eq!(
        (&j["kind"], &j["complete"]),
        (&"cv-compare".into(), &true.into())
    );
    let e = j["entries"].as_array().unwrap();
    let widths: Vec<u64> = e
        .iter()
        .map(|x| x["feature_dim"].as_u64().unwrap())
        .collect();
    assert_eq!(widths, [24, 16, 40]);
    assert_eq!(e[2]["concatenated"], true);
    assert_eq!(e[0]["top1_diff_mean"], 0.0);
    // Each cache's rows are what `cv` gives on it alone: the re-splits are the same.
    let alone = t.path().join("b.json");
    stdout_of(&cv(&[&b], &["--json", s(&alone)]));
    let top1 = |v: &serde_json::Value| -> Vec<f64> {
        let rows = v["rows"].as_array().unwrap();
        rows.iter().map(|r| r["top1"].as_f64().unwrap()).collect()
    };
    assert_eq!(top1(&e[1]), top1(&json(&alone)));
    let d: Vec<f64> = top1(&e[1])
        .iter()
        .zip(top1(&e[0]))
        .map(|(x, y)| 100.0 * (x - y))
        .collect();
    let mean = d.iter().sum::<f64>() / 3.0;
    assert!((e[1]["top1_diff_mean"].as_f64().unwrap() - mean).abs() < 1e-9);
    // The same images in every repeat, all of them.
    let n = |r: &serde_json::Value, k: &str| r[k].as_u64().unwrap();
    for r in e[2]["rows"].as_array().unwrap() {
        assert_eq!(
            n(r, "train_images") + n(r, "valid_images") + n(r, "test_images"),
            60
        );
    }
}

#[test]
fn rejects_caches_of_different_images() {
    let t = tempfile::tempdir().unwrap();
    let a = cache(&t.path().join("a"), 8, 1.0, 1, 15);
    let b = cache(&t.path().join("b"), 8, 1.0, 2, 12);
    assert_clean_failure(
        &cv(&[&a, &b], &[]),
        &[
            "do not hold the same images (60 vs 57)",
            "is only in",
            "same split tree",
        ],
    );
}

#[test]
fn rejects_caches_of_different_classes() {
    let t = tempfile::tempdir().unwrap();
    let a = cache(&t.path().join("a"), 8, 1.0, 1, 15);
    let b = t.path().join("b");
    let mut rng = pipeline::seed::rng(3, &[b"cv-compare"]);
    let splits = [("train", 30), ("valid", 15), ("test", 15)]
        .map(|(name, n)| (name, split(n, 8, 1.0, &mut rng)))
        .map(|(name, (x, y))| (name, VIEWS, x, y));
    let classes: Vec<String> = ["c0", "c1", "x2"].map(String::from).to_vec();
    let names = &ViewSet::TenCropWhole.names()[..VIEWS as usize];
    write_synthetic_views(&b, &classes, &splits, names).unwrap();
    assert_clean_failure(
        &cv(&[&a, &b], &[]),
        &["have different classes", "class 2 is `c2` vs `x2`"],
    );
}

#[test]
fn rejects_the_same_cache_twice() {
    let t = tempfile::tempdir().unwrap();
    let a = cache(&t.path().join("a"), 8, 1.0, 1, 15);
    assert_clean_failure(
        &cv(&[&a, &a], &[]),
        &["are the same cache", "give each backbone's cache once"],
    );
}
