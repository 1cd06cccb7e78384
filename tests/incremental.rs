//! Incremental features: after the data changes, `extract` recomputes only rows no earlier cache
//! holds (new or changed images, images that moved into train, new passes), and the result is the
//! cache a from-scratch extract makes, byte for byte. Also: re-splits, resume, local shard workers.

mod common;

use common::{json, pipeline, succeeded, MODEL};
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};
use std::path::Path;

const TREE: &str = "tests/fixtures/images/tree";
const RAW: &str = "tests/fixtures/images/raw";

fn extract(data: &Path, out: &Path, extra: &[&str]) -> String {
    let o = common::extract_into(
        MODEL,
        data.to_str().unwrap(),
        out.to_str().unwrap(),
        &[&["--device", "cpu", "--chunk-size", "3"], extra].concat(),
    );
    let (out, err) = succeeded(&o);
    out + &err
}

/// `(computed, reused)` views of the extract that completed the cache.
fn counts(cache: &Path) -> (u64, u64) {
    let m = json(&cache.join("manifest.json"));
    let n = |k: &str| m["stats"][k].as_u64().unwrap();
    (n("views"), n("reused_views"))
}

/// Every shard file of a cache, by name.
fn shard_bytes(cache: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(cache.join("shards"))
        .unwrap()
        .flatten()
        .map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            (name, std::fs::read(e.path()).unwrap())
        })
        .collect()
}

/// The incremental cache equals the from-scratch one: key, shard list, skipped list, and every
/// shard file byte for byte, with no leftover files of the caches it replaced.
fn assert_same_cache(incremental: &Path, scratch: &Path) {
    let (a, b) = (
        json(&incremental.join("manifest.json")),
        json(&scratch.join("manifest.json")),
    );
    for field in ["key", "spec", "shards", "skipped"] {
        assert_eq!(a[field], b[field], "manifest {field} differs");
    }
    let (x, y) = (shard_bytes(incremental), shard_bytes(scratch));
    assert_eq!(
        x.keys().collect::<Vec<_>>(),
        y.keys().collect::<Vec<_>>(),
        "shard files differ (leftovers of a replaced cache?)"
    );
    for (name, bytes) in &x {
        assert!(
            bytes == &y[name],
            "{name} differs from a from-scratch extract"
        );
    }
}

/// A file with new content: `src`'s bytes and one trailing byte (decoders ignore it).
fn changed_copy(src: &Path, dst: &Path) {
    let mut bytes = std::fs::read(src).unwrap();
    bytes.push(0);
    std::fs::write(dst, bytes).unwrap();
}

#[test]
fn changed_tree_recomputes_only_what_changed_and_equals_a_from_scratch_cache() {
    let t = tempfile::tempdir().unwrap();
    let (data, cache, scratch) = (t.path().join("d"), t.path().join("c"), t.path().join("s"));
    common::copy_tree(&common::root().join(TREE), &data);
    extract(&data, &cache, &["--passes", "2"]);
    // One new image in train (2 passes + its kept eval view), one changed valid image (1 view),
    // one test image moved into train (its eval view is cached; 2 passes to compute), one removed.
    changed_copy(
        &data.join("train/bird/bird_0.jpg"),
        &data.join("train/bird/bird_new.jpg"),
    );
    changed_copy(
        &data.join("valid/cat/cat_v0.jpg"),
        &data.join("valid/cat/cat_v0.jpg"),
    );
    std::fs::rename(
        data.join("test/cat/cat_t1.jpg"),
        data.join("train/cat/cat_t1.jpg"),
    )
    .unwrap();
    std::fs::remove_file(data.join("train/fish/fish_0.jpg")).unwrap();
    let out = extract(&data, &cache, &["--passes", "2"]);
    assert!(out.contains("reusing its unchanged rows"), "{out}");
    assert!(out.contains("computed 6 views"), "{out}");
    assert!(out.contains("(2 new or changed images)"), "{out}");
    let (computed, reused) = counts(&cache);
    assert_eq!(computed, 6);
    assert!(reused > 20, "reused {reused}");
    let info = succeeded(&pipeline(&["cache-info", cache.to_str().unwrap()])).0;
    assert!(
        info.contains("computed 6 views") && info.contains("train.eval"),
        "{info}"
    );
    extract(&data, &scratch, &["--passes", "2"]);
    assert_same_cache(&cache, &scratch);
}

#[test]
fn new_passes_compute_only_the_new_passes() {
    let t = tempfile::tempdir().unwrap();
    let (data, cache) = (common::root().join(TREE), t.path().join("c"));
    extract(&data, &cache, &["--passes", "5"]);
    let train = json(&cache.join("manifest.json"))["shards"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["split"] == "train" && s["pass"] == 0)
        .map(|s| s["rows"].as_u64().unwrap())
        .sum::<u64>();
    extract(&data, &cache, &["--passes", "7"]);
    assert_eq!(counts(&cache).0, 2 * train, "passes 5 and 6 only");
    let scratch = t.path().join("s");
    extract(&data, &scratch, &["--passes", "7"]);
    assert_same_cache(&cache, &scratch);
}

/// Content hashes of the usable train images of a manifest, one per image.
fn train_contents(m: &Value) -> Vec<String> {
    let skipped: HashSet<&str> = m["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["split"] == "train")
        .map(|s| s["rel_path"].as_str().unwrap())
        .collect();
    m["spec"]["splits"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "train")
        .unwrap()["images"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| !skipped.contains(i["rel_path"].as_str().unwrap()))
        .map(|i| i["blake3"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn a_resplit_with_another_seed_recomputes_no_eval_view() {
    let t = tempfile::tempdir().unwrap();
    let split = |seed: &str, out: &Path| {
        succeeded(&pipeline(&[
            "split",
            RAW,
            "--out",
            out.to_str().unwrap(),
            "--seed",
            seed,
        ]));
    };
    let (s0, s1, cache, views) = (
        t.path().join("s0"),
        t.path().join("s1"),
        t.path().join("c"),
        t.path().join("v"),
    );
    split("0", &s0);
    split("1", &s1);
    extract(&s0, &cache, &["--passes", "2"]);
    let before = train_contents(&json(&cache.join("manifest.json")));
    extract(&s1, &cache, &["--passes", "2"]);
    let after = train_contents(&json(&cache.join("manifest.json")));
    let before: HashSet<String> = before.into_iter().collect();
    let moved_in = after.iter().filter(|c| !before.contains(*c)).count() as u64;
    assert!(moved_in > 0, "the seeds should split differently");
    assert_eq!(
        counts(&cache).0,
        2 * moved_in,
        "only augmented passes of images new to train are computed"
    );
    // With deterministic views only (the `run` default), a re-split computes nothing at all.
    extract(&s0, &views, &["--passes", "0", "--views", "centre"]);
    extract(&s1, &views, &["--passes", "0", "--views", "centre"]);
    assert_eq!(counts(&views).0, 0);
}

#[test]
fn an_interrupted_incremental_extract_resumes_and_the_old_cache_stays_readable() {
    let t = tempfile::tempdir().unwrap();
    let (data, cache, scratch) = (t.path().join("d"), t.path().join("c"), t.path().join("s"));
    common::copy_tree(&common::root().join(TREE), &data);
    extract(&data, &cache, &["--passes", "2"]);
    let old_key = json(&cache.join("manifest.json"))["key"].clone();
    changed_copy(
        &data.join("train/cat/cat_rgb_0.jpg"),
        &data.join("train/cat/cat_rgb_new.jpg"),
    );
    // Half the chunks, as a killed run leaves them: the old cache is still the readable one.
    let half = extract(&data, &cache, &["--passes", "2", "--shard", "0/2"]);
    assert!(half.contains("still missing"), "{half}");
    let c = pipeline::cache::FeatureCache::open(&cache).unwrap();
    assert_eq!(Value::from(c.key()), old_key);
    c.load("train", 1).unwrap();
    let out = extract(&data, &cache, &["--passes", "2"]);
    assert!(out.contains("resuming"), "{out}");
    extract(&data, &scratch, &["--passes", "2"]);
    assert_same_cache(&cache, &scratch);
}

/// The `N` of an extract's "(N new or changed images)".
fn new_or_changed(out: &str) -> u64 {
    let (head, _) = out
        .split_once(" new or changed images)")
        .unwrap_or_else(|| panic!("no new-image count in {out}"));
    head.rsplit('(').next().unwrap().parse().unwrap()
}

#[test]
fn each_shard_worker_counts_only_the_new_images_of_its_own_chunks() {
    let t = tempfile::tempdir().unwrap();
    let (data, cache) = (t.path().join("d"), t.path().join("c"));
    common::copy_tree(&common::root().join(TREE), &data);
    extract(&data, &cache, &["--passes", "2"]);
    changed_copy(
        &data.join("train/bird/bird_0.jpg"),
        &data.join("train/bird/bird_new.jpg"),
    );
    changed_copy(
        &data.join("valid/cat/cat_v0.jpg"),
        &data.join("valid/cat/cat_v0.jpg"),
    );
    let workers: Vec<u64> = ["0/3", "1/3", "2/3"]
        .iter()
        .map(|s| new_or_changed(&extract(&data, &cache, &["--passes", "2", "--shard", s])))
        .collect();
    // two new images in all, each counted by the one worker whose chunk holds it
    assert_eq!(workers.iter().sum::<u64>(), 2, "{workers:?}");
}

#[test]
fn local_shard_workers_build_an_incremental_cache() {
    let t = tempfile::tempdir().unwrap();
    let (data, cache, scratch) = (t.path().join("d"), t.path().join("c"), t.path().join("s"));
    common::copy_tree(&common::root().join(TREE), &data);
    extract(&data, &cache, &["--passes", "2"]);
    changed_copy(
        &data.join("train/dog/dog_rgba.png"),
        &data.join("train/dog/dog_rgba_new.png"),
    );
    std::fs::remove_file(data.join("test/cat/cat_t0.jpg")).unwrap();
    let o = std::process::Command::new("bash")
        .arg(common::root().join("deploy/local.sh"))
        .args(["--pipeline", env!("CARGO_BIN_EXE_pipeline")])
        .args(["--data", data.to_str().unwrap()])
        .args(["--cache", cache.to_str().unwrap()])
        .args(["--model", MODEL, "-n", "3", "--"])
        .args(["--device", "cpu", "--chunk-size", "3", "--passes", "2"])
        .current_dir(common::root())
        .env("PIPELINE_NO_PROGRESS", "1")
        .output()
        .unwrap();
    succeeded(&o);
    extract(&data, &scratch, &["--passes", "2"]);
    assert_same_cache(&cache, &scratch);
}

#[test]
fn run_on_a_changed_raw_tree_resplits_and_reuses_every_unchanged_row() {
    let t = tempfile::tempdir().unwrap();
    let (raw, w) = (t.path().join("raw"), t.path().join("w"));
    common::copy_tree(&common::root().join(RAW), &raw);
    let run = || {
        let o = common::run_into(
            &raw,
            &w,
            &["--epochs", "3", "--head", "logistic", "--hash-split"],
        );
        let (out, err) = succeeded(&o);
        out + &err
    };
    run();
    let first = counts(&w.join("features"));
    let again = run();
    assert!(again.contains("reused"), "{again}");
    // Five new images (new content), one removed.
    for i in 0..5 {
        changed_copy(
            &raw.join(format!("alpha/a_0{i}.png")),
            &raw.join(format!("alpha/new_{i}.png")),
        );
    }
    std::fs::remove_file(raw.join("beta/b_00.png")).unwrap();
    let out = run();
    assert!(
        out.contains("5 added, 1 removed, 0 changed; re-splitting"),
        "{out}"
    );
    let (computed, reused) = counts(&w.join("features"));
    // `run` caches deterministic views only: every image has the same rows in every split.
    let m = json(&w.join("features/manifest.json"));
    let rows_per_image = m["spec"]["splits"][0]["passes"].as_u64().unwrap();
    assert!(m["spec"]["splits"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["passes"] == rows_per_image));
    assert_eq!(computed, 5 * rows_per_image, "only the new images' rows");
    assert!(first.0 > computed);
    assert!(reused > 0 && computed > 0, "{computed} {reused}");
    // The hash split kept every old image where it was.
    let split = json(&w.join("data/split.json"));
    let a = split["files"].as_array().unwrap();
    assert!(a.iter().any(|f| f["path"] == "alpha/new_0.png"));
}

#[test]
fn rejects_an_interrupted_split_tree() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("d");
    common::copy_tree(&common::root().join(TREE), &data);
    std::fs::write(data.join(".split-incomplete"), b"").unwrap();
    let o = common::extract_into(
        MODEL,
        data.to_str().unwrap(),
        t.path().join("c").to_str().unwrap(),
        &["--device", "cpu"],
    );
    common::assert_clean_failure(
        &o,
        &["interrupted `pipeline split`", "rerun the same split"],
    );
    assert!(!t.path().join("c").exists(), "nothing written");
}
