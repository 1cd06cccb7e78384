//! `pipeline audit` on a split tree built from the fixtures with planted faults: an image copied
//! into a wrong class is a likely label error, a resized copy in another split a cross-split
//! near-duplicate.

mod common;

use common::{fails, pipeline, root, succeeded, MODEL};
use std::path::Path;

/// train/valid/test from raw alpha, beta and epsilon (every 4th image to valid, the next to
/// test), plus the planted faults.
fn planted_tree(out: &Path) {
    let raw = root().join("tests/fixtures/images/raw");
    for (class, prefix, n) in [("alpha", "a", 24), ("beta", "b", 9), ("epsilon", "e", 5)] {
        for i in 0..n {
            let split = match i % 4 {
                2 => "valid",
                3 => "test",
                _ => "train",
            };
            let dir = out.join(split).join(class);
            std::fs::create_dir_all(&dir).unwrap();
            let name = format!("{prefix}_{i:02}.png");
            std::fs::copy(raw.join(class).join(&name), dir.join(&name)).unwrap();
        }
    }
    // a red alpha image filed under beta
    std::fs::copy(
        raw.join("alpha/a_05.png"),
        out.join("train/beta/planted_wrong.png"),
    )
    .unwrap();
    // a train image, upscaled and re-encoded, in test
    let img = image::open(raw.join("beta/b_01.png")).unwrap();
    img.resize_exact(40, 40, image::imageops::FilterType::Triangle)
        .save(out.join("test/beta/b_01_resized.png"))
        .unwrap();
}

#[test]
fn audit_finds_the_planted_label_error_and_the_cross_split_copy() {
    let t = tempfile::tempdir().unwrap();
    let (tree, cache, json) = (
        t.path().join("tree"),
        t.path().join("f"),
        t.path().join("audit.json"),
    );
    planted_tree(&tree);
    succeeded(&common::extract_into(
        MODEL,
        tree.to_str().unwrap(),
        cache.to_str().unwrap(),
        &["--passes", "2", "--device", "cpu"],
    ));
    let (out, _) = succeeded(&pipeline(&[
        "audit",
        "--features",
        cache.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ]));
    for needle in [
        "likely label errors",
        "near-duplicates",
        "outliers",
        "planted_wrong.png",
    ] {
        assert!(out.contains(needle), "{needle} missing from:\n{out}");
    }
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let issues = v["label_issues"].as_array().unwrap();
    let first = &issues[0];
    assert_eq!(first["path"], "train/beta/planted_wrong.png", "{out}");
    assert_eq!(
        (first["given"].as_str(), first["suggested"].as_str()),
        (Some("beta"), Some("alpha"))
    );
    assert!(first["score"].as_f64().unwrap() > 0.0);
    let dups = v["near_duplicates"].as_array().unwrap();
    let pair = dups
        .iter()
        .find(|d| {
            let (a, b) = (d["a"].as_str().unwrap(), d["b"].as_str().unwrap());
            [a, b].contains(&"train/beta/b_01.png")
                && [a, b].contains(&"test/beta/b_01_resized.png")
        })
        .unwrap_or_else(|| panic!("resized copy not found among {} pairs:\n{out}", dups.len()));
    assert_eq!(pair["cross_split"], true);
    assert!(pair["similarity"].as_f64().unwrap() >= v["config"]["dup_threshold"].as_f64().unwrap());
    for o in v["outliers"].as_array().unwrap() {
        assert!(o["path"].is_string() && o["class"].is_string() && o["score"].is_number());
    }
}

#[test]
fn audit_refuses_a_missing_cache_and_bad_folds() {
    let t = tempfile::tempdir().unwrap();
    let none = t.path().join("none");
    let err = fails(&pipeline(&["audit", "--features", none.to_str().unwrap()]));
    assert!(err.contains("pipeline extract"), "{err}");
    let tree = t.path().join("tree");
    planted_tree(&tree);
    let cache = t.path().join("f");
    succeeded(&common::extract_into(
        MODEL,
        tree.to_str().unwrap(),
        cache.to_str().unwrap(),
        &["--passes", "1", "--device", "cpu"],
    ));
    let err = fails(&pipeline(&[
        "audit",
        "--features",
        cache.to_str().unwrap(),
        "--folds",
        "1",
    ]));
    assert!(err.contains("--folds 1"), "{err}");
}
