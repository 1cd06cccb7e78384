//! `pipeline audit` on a split tree built from the fixtures with planted faults: an image copied
//! into a wrong class is a likely label error (backed by its copy; other doubts are hard images),
//! a resized copy in another split a cross-split
//! near-duplicate; on a homogeneous tree (tiles of one texture) the planted copies are found, no
//! other pair is a copy by its pixels, and the label check does not present its doubts as errors.

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

/// `pipeline extract` of `tree` into `cache` with the tiny fixture backbone, `passes` passes.
fn extract(tree: &Path, cache: &Path, passes: &str) {
    succeeded(&common::extract_into(
        MODEL,
        tree.to_str().unwrap(),
        cache.to_str().unwrap(),
        &["--passes", passes, "--device", "cpu"],
    ));
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
    extract(&tree, &cache, "2");
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
    // backed by its copy under alpha; the original itself is no label error
    assert_eq!(first["duplicate_of"], "train/alpha/a_05.png", "{out}");
    assert!(
        issues.iter().all(|i| i["path"] != "train/alpha/a_05.png"),
        "{out}"
    );
    // every other doubt is a hard image, and the counts add up
    assert_eq!(v["schema_version"], 2);
    let hard = v["hard_images"].as_array().unwrap();
    let c = &v["label_check"];
    assert_eq!(c["errors"].as_u64(), Some(issues.len() as u64), "{out}");
    assert_eq!(c["hard"].as_u64(), Some(hard.len() as u64), "{out}");
    assert_eq!(
        c["found"].as_u64(),
        Some((issues.len() + hard.len()) as u64)
    );
    for i in issues {
        assert!(
            i["duplicate_of"].is_string()
                || i["neighbours_suggested"].as_u64().unwrap() >= 3 && i["pair_confusions"] == 0,
            "{i} is listed as a label error without evidence:\n{out}"
        );
    }
    for h in hard {
        assert!(
            h["duplicate_of"].is_null() && h["path"] != first["path"],
            "{h}"
        );
    }
    assert!(
        out.contains(&format!("hard images: {} listed", hard.len())),
        "{out}"
    );
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
    assert!(pair["ratio"].as_f64().unwrap() <= v["config"]["dup_ratio"].as_f64().unwrap());
    // the extract recorded its split tree: the pixel check ran on every image
    assert_eq!(v["duplicate_check"]["pixel_images"], 40, "{out}");
    assert!(pair["pixel_similarity"].as_f64().unwrap() > 0.9, "{pair}");
    // the misfiled copy is also the same picture under two labels
    let conflict = dups
        .iter()
        .find(|d| {
            d["a"] == "train/beta/planted_wrong.png" || d["b"] == "train/beta/planted_wrong.png"
        })
        .unwrap_or_else(|| panic!("planted_wrong.png is no near-duplicate:\n{out}"));
    assert_eq!(conflict["label_conflict"], true);
    assert!(out.contains("TWO CLASSES"), "{out}");
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
    extract(&tree, &cache, "1");
    let err = fails(&pipeline(&[
        "audit",
        "--features",
        cache.to_str().unwrap(),
        "--folds",
        "1",
    ]));
    assert!(err.contains("--folds 1"), "{err}");
}

/// Deterministic pseudo-random bytes.
fn noise(state: &mut u64) -> u8 {
    *state = state
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (*state >> 56) as u8
}

/// Two folders of 16 tiles 24×24 cut from one smooth random texture (no tile a copy of another),
/// plus an exact copy, a brightened copy and a 2× upscaled copy of three tiles in the other
/// folder's test split. Returns the planted pairs as `(copy, original)` split-tree paths.
fn homogeneous_tree(out: &Path) -> Vec<(String, String)> {
    let (w, h) = (24 * 8, 24 * 4);
    let mut state = 7u64;
    let coarse: Vec<u8> = (0..(w / 4) * (h / 4)).map(|_| noise(&mut state)).collect();
    let tex = image::GrayImage::from_fn(w as u32, h as u32, |x, y| {
        let (x, y) = (x as usize, y as usize);
        let c = coarse[(y / 4) * (w / 4) + x / 4] as u32;
        image::Luma([(c / 2 + 64 + u32::from(noise(&mut state) / 8)) as u8])
    });
    let mut tiles = Vec::new();
    for ty in 0..4u32 {
        for tx in 0..8u32 {
            let tile = image::imageops::crop_imm(&tex, tx * 24, ty * 24, 24, 24).to_image();
            let i = (ty * 8 + tx) as usize;
            let class = if i.is_multiple_of(2) { "left" } else { "right" };
            let split = match i % 8 {
                2 | 3 => "valid",
                4 | 5 => "test",
                _ => "train",
            };
            let rel = format!("{split}/{class}/t{i:02}.png");
            let p = out.join(&rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            tile.save(&p).unwrap();
            tiles.push((rel, tile));
        }
    }
    let mut planted = Vec::new();
    let test_dir = out.join("test/right");
    let (rel, _) = &tiles[0];
    std::fs::copy(out.join(rel), test_dir.join("exact.png")).unwrap();
    planted.push(("test/right/exact.png".to_string(), rel.clone()));
    let (rel, tile) = &tiles[6];
    let bright = image::GrayImage::from_fn(24, 24, |x, y| {
        image::Luma([tile.get_pixel(x, y)[0].saturating_add(30)])
    });
    bright.save(test_dir.join("bright.png")).unwrap();
    planted.push(("test/right/bright.png".to_string(), rel.clone()));
    let (rel, tile) = &tiles[8];
    image::imageops::resize(tile, 48, 48, image::imageops::FilterType::Triangle)
        .save(test_dir.join("upscaled.png"))
        .unwrap();
    planted.push(("test/right/upscaled.png".to_string(), rel.clone()));
    planted
}

#[test]
fn a_homogeneous_tree_flags_its_planted_copies_and_no_lookalikes_by_pixels() {
    let t = tempfile::tempdir().unwrap();
    let (tree, cache, json) = (
        t.path().join("tree"),
        t.path().join("f"),
        t.path().join("audit.json"),
    );
    let planted = homogeneous_tree(&tree);
    extract(&tree, &cache, "1");
    let (out, _) = succeeded(&pipeline(&[
        "audit",
        "--features",
        cache.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
        "--folds",
        "3",
    ]));
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let key = |a: &str, b: &str| (a.max(b).to_string(), a.min(b).to_string());
    let want: Vec<(String, String)> = planted.iter().map(|(a, b)| key(a, b)).collect();
    let pairs = v["near_duplicates"].as_array().unwrap();
    let found: Vec<((String, String), &str)> = pairs
        .iter()
        .map(|d| {
            (
                key(d["a"].as_str().unwrap(), d["b"].as_str().unwrap()),
                d["evidence"].as_str().unwrap(),
            )
        })
        .collect();
    for w in &want {
        assert!(found.iter().any(|(f, _)| f == w), "{w:?} not found:\n{out}");
    }
    // 32 tiles of one texture: no two are the same picture, and the thumbnails say so. (The test
    // backbone's 16 random features cannot tell noise tiles apart, so pairs by features alone
    // can appear here; the feature side's calibration is tested in the audit part's unit tests.)
    for (pair, evidence) in &found {
        if evidence.contains("pixels") {
            assert!(want.contains(pair), "{pair:?} flagged by pixels:\n{out}");
        }
    }
    // the folders mean nothing: the label check does not list a third of the set as errors
    assert_ne!(v["label_check"]["trust"], "informative", "{out}");
    assert!(v["label_issues"].as_array().unwrap().len() <= 10, "{out}");
    assert!(v["hard_images"].as_array().unwrap().len() <= 10, "{out}");
    assert!(out.contains("typical nearest correlation"), "{out}");
}

#[test]
fn images_moved_since_extraction_leave_the_features_check_and_say_so() {
    let t = tempfile::tempdir().unwrap();
    let (tree, cache) = (t.path().join("tree"), t.path().join("f"));
    planted_tree(&tree);
    extract(&tree, &cache, "1");
    let moved = t.path().join("moved");
    std::fs::rename(&tree, &moved).unwrap();
    let (out, _) = succeeded(&pipeline(&["audit", "--features", cache.to_str().unwrap()]));
    assert!(
        out.contains("no longer at") && out.contains("pass --images"),
        "{out}"
    );
    // told where they are, the pixel check runs again; a changed file is left out and named, and
    // a FIFO put in place of an image is refused, not read (no hang)
    std::fs::write(moved.join("train/alpha/a_00.png"), b"not the same bytes").unwrap();
    let fifo = moved.join("train/alpha/a_01.png");
    std::fs::remove_file(&fifo).unwrap();
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    let (out, _) = succeeded(&pipeline(&[
        "audit",
        "--features",
        cache.to_str().unwrap(),
        "--images",
        moved.to_str().unwrap(),
    ]));
    assert!(out.contains("38 images compared"), "{out}");
    assert!(out.contains("a_01.png: cannot read it"), "{out}");
    assert!(
        out.contains("a_00.png: changed since its features were extracted"),
        "{out}"
    );
}

#[test]
fn rejects_a_dup_ratio_outside_zero_to_one() {
    let t = tempfile::tempdir().unwrap();
    let err = fails(&pipeline(&[
        "audit",
        "--features",
        t.path().to_str().unwrap(),
        "--dup-ratio",
        "1.5",
    ]));
    assert!(
        err.contains("--dup-ratio 1.5") && err.contains("0.5"),
        "{err}"
    );
}
