//! End-to-end tests of `pipeline inspect` and `pipeline split` on the committed fixtures
//! (tests/fixtures/images, made by make_fixtures.py), running the real binary.

mod common;

use common::{json, s};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    common::fixture("images")
}

fn ok(args: &[&str]) -> String {
    common::stdout_of(&common::pipeline(args))
}

fn fails(args: &[&str]) -> String {
    common::fails(&common::pipeline(args))
}

#[test]
fn inspect_reports_counts_sizes_colours_and_problems_of_the_split_fixture() {
    let dir = tempfile::tempdir().unwrap();
    let (report, plots) = (dir.path().join("r/report.json"), dir.path().join("plots"));
    let tree = fixtures().join("tree");
    let stdout = ok(&[
        "inspect",
        s(&tree),
        "--json",
        s(&report),
        "--plots",
        s(&plots),
    ]);
    assert!(
        stdout.contains("missing from a split: bird (valid)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("classes with no usable image: empty"),
        "{stdout}"
    );
    assert!(stdout.contains("1 across splits = leakage"), "{stdout}");
    let r = json(&report);
    assert_eq!(
        (r["layout"].as_str(), r["files"].as_u64()),
        (Some("split"), Some(30))
    );
    assert_eq!(
        (r["images"].as_u64(), r["unreadable_files"].as_u64()),
        (Some(27), Some(3))
    );
    let per_split = &r["counts"]["per_split"];
    assert_eq!(
        (
            per_split["train"].as_u64(),
            per_split["valid"].as_u64(),
            per_split["test"].as_u64()
        ),
        (Some(19), Some(3), Some(5))
    );
    let c = &r["counts"];
    assert_eq!(
        (c["min"].as_u64(), c["median"].as_f64(), c["max"].as_u64()),
        (Some(0), Some(5.0), Some(7))
    );
    assert_eq!(c["imbalance_ratio"].as_f64(), Some(3.5));
    assert_eq!(c["order"][0], "fish");
    let kinds: BTreeMap<String, String> = r["unreadable"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["path"].as_str().unwrap().to_string(),
                u["kind"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let want = [
        ("train/cat/cat_truncated.jpg", "corrupt"),
        ("train/dog/dog_zero.jpg", "empty"),
        ("train/fish/fish_notes.jpg", "not-an-image"),
    ];
    assert_eq!(
        kinds,
        want.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    );
    let dups = r["duplicates"].as_array().unwrap();
    assert_eq!(dups.len(), 1);
    assert_eq!(
        dups[0]["paths"],
        serde_json::json!(["test/cat/cat_t0.jpg", "train/cat/cat_dup.jpg"])
    );
    assert_eq!(dups[0]["across_splits"], true);
    let colours = r["sizes"]["colors"].as_object().unwrap();
    for k in [
        "rgb8", "l8", "cmyk", "palette", "rgba8", "la8", "l16", "rgb16",
    ] {
        assert!(colours.contains_key(k), "colour {k} missing: {colours:?}");
    }
    let formats = r["sizes"]["formats"].as_object().unwrap();
    for k in ["jpeg", "png", "gif", "bmp", "tiff", "webp"] {
        assert!(formats.contains_key(k), "format {k} missing: {formats:?}");
    }
    assert_eq!(r["sizes"]["rotated"], 1);
    assert_eq!(r["sizes"]["smaller_than_crop"], 27);
    let w = &r["sizes"]["overall"]["width"];
    assert_eq!(
        (w["min"].as_f64(), w["max"].as_f64()),
        (Some(32.0), Some(300.0))
    );
    let exif = r["records"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["path"] == "train/cat/cat_exif6.jpg")
        .unwrap();
    assert_eq!(
        exif["info"],
        serde_json::json!({"format": "jpeg", "width": 60, "height": 80, "color": "rgb8", "orientation": 6})
    );
    assert!(!r["records"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x["path"].as_str().unwrap().contains("/.")));
    for name in ["images_per_class", "image_sizes", "aspect_ratio"] {
        let png = std::fs::read(plots.join(format!("{name}.png"))).unwrap();
        assert!(
            png.starts_with(b"\x89PNG") && png.len() > 5_000,
            "{name}.png"
        );
    }
}

#[test]
fn inspect_reads_raw_trees_and_draws_without_a_font() {
    let dir = tempfile::tempdir().unwrap();
    let (report, plots) = (dir.path().join("r.json"), dir.path().join("p"));
    let raw = fixtures().join("raw");
    let args = [
        "inspect",
        s(&raw),
        "--json",
        s(&report),
        "--plots",
        s(&plots),
        "--svg",
        "--min-train",
        "5",
        "--full-decode",
    ];
    let out = common::pipeline_env(&args, &[("PIPELINE_FONT", "/nonexistent/font.ttf")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = json(&report);
    assert_eq!(r["layout"], "raw");
    assert_eq!(r["images"], 44);
    let under: Vec<&str> = r["counts"]["under_threshold"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["class"].as_str().unwrap())
        .collect();
    assert_eq!(under, ["delta", "gamma"]);
    assert_eq!(r["duplicates"][0]["across_classes"], true);
    assert!(plots.join("aspect_ratio.svg").exists() && plots.join("image_sizes.png").exists());
}

#[test]
fn inspect_refuses_a_missing_folder_with_its_path() {
    let err = fails(&["inspect", "/no/such/dataset"]);
    assert!(err.contains("/no/such/dataset"), "{err}");
}

fn split_json(out: &Path) -> (Value, BTreeMap<String, String>) {
    let m = json(&out.join("split.json"));
    let files = m["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_string(),
                f["split"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    (m, files)
}

#[test]
fn split_is_deterministic_stratified_and_keeps_the_minimums() {
    let dir = tempfile::tempdir().unwrap();
    let raw = fixtures().join("raw");
    let (a, b, c) = (
        dir.path().join("a"),
        dir.path().join("b"),
        dir.path().join("c"),
    );
    ok(&[
        "split",
        s(&raw),
        "--out",
        s(&a),
        "--seed",
        "7",
        "--mode",
        "copy",
    ]);
    ok(&[
        "split",
        s(&raw),
        "--out",
        s(&b),
        "--seed",
        "7",
        "--mode",
        "copy",
    ]);
    ok(&[
        "split",
        s(&raw),
        "--out",
        s(&c),
        "--seed",
        "8",
        "--mode",
        "copy",
    ]);
    let (m, fa) = split_json(&a);
    assert_eq!(fa, split_json(&b).1);
    assert_ne!(fa, split_json(&c).1);
    assert_eq!(
        m["classes"],
        serde_json::json!(["alpha", "beta", "epsilon", "gamma"])
    );
    assert_eq!(
        m["left_out"],
        serde_json::json!([{"class": "delta", "images": 2}])
    );
    assert_eq!(m["unreadable"][0]["path"], "epsilon/e_broken.png");
    for (class, per) in m["counts"].as_object().unwrap() {
        for sp in ["train", "valid", "test"] {
            assert!(per[sp].as_u64().unwrap() >= 1, "{class} has no {sp} image");
            let dir = a.join(sp).join(class);
            let on_disk = std::fs::read_dir(&dir).unwrap().count() as u64;
            assert_eq!(on_disk, per[sp].as_u64().unwrap(), "{}", dir.display());
        }
    }
    assert_eq!(
        fa["beta/b_dup.png"], fa["alpha/a_00.png"],
        "duplicates must share a split"
    );
    assert!(!fa.contains_key("epsilon/e_broken.png") && !fa.contains_key("delta/d_00.png"));
    let inspected = ok(&["inspect", s(&a)]);
    assert!(
        inspected.contains("split tree: train, valid, test"),
        "{inspected}"
    );

    let k = dir.path().join("k");
    ok(&[
        "split",
        s(&raw),
        "--out",
        s(&k),
        "--keep-small",
        "--exact",
        "--mode",
        "symlink",
    ]);
    let (m, fk) = split_json(&k);
    assert_eq!(
        m["counts"]["delta"],
        serde_json::json!({"train": 2, "valid": 0, "test": 0})
    );
    assert_eq!(
        m["counts"]["alpha"],
        serde_json::json!({"train": 12, "valid": 6, "test": 6})
    );
    let link = k.join(&fk["alpha/a_03.png"]).join("alpha/a_03.png");
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
}

fn tiny_png(path: &Path, v: u8) {
    let img = image::RgbImage::from_fn(8, 8, |x, y| image::Rgb([v, x as u8, y as u8]));
    img.save(path).unwrap();
}

#[test]
fn split_is_stable_when_images_are_added_and_hardlinks_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("raw");
    for class in ["alpha", "beta", "gamma"] {
        std::fs::create_dir_all(raw.join(class)).unwrap();
    }
    for i in 0..30u8 {
        tiny_png(&raw.join(format!("alpha/a{i:02}.png")), i);
        tiny_png(&raw.join(format!("beta/b{i:02}.png")), 100 + i);
    }
    for i in 0..3u8 {
        tiny_png(&raw.join(format!("gamma/g{i}.png")), 200 + i);
    }
    let out = dir.path().join("out");
    ok(&["split", s(&raw), "--out", s(&out)]);
    let (_, before) = split_json(&out);
    use std::os::unix::fs::MetadataExt;
    let src = std::fs::metadata(raw.join("alpha/a00.png")).unwrap();
    let dst = std::fs::metadata(out.join(&before["alpha/a00.png"]).join("alpha/a00.png")).unwrap();
    assert_eq!(src.ino(), dst.ino(), "hardlink mode must link");

    for i in 30..60u8 {
        tiny_png(&raw.join(format!("alpha/a{i:02}.png")), i);
    }
    tiny_png(&raw.join("gamma/g9.png"), 250);
    let err = fails(&["split", s(&raw), "--out", s(&out)]);
    assert!(err.contains("--force"), "{err}");
    std::fs::write(out.join("notes.txt"), "mine").unwrap();
    ok(&["split", s(&raw), "--out", s(&out), "--force"]);
    let (m, after) = split_json(&out);
    let repaired: Vec<String> = m["repaired"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["path"].as_str().unwrap().to_string())
        .collect();
    for (path, split) in &before {
        if !repaired.contains(path) && !path.starts_with("gamma/") {
            assert_eq!(&after[path], split, "{path} moved");
        }
    }
    assert_eq!(after.len(), 94);
    assert!(
        out.join("notes.txt").exists(),
        "--force removes only what split wrote"
    );
}

#[test]
fn split_refuses_bad_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o");
    let err = fails(&["split", s(&fixtures().join("tree")), "--out", s(&out)]);
    assert!(err.contains("already a split tree"), "{err}");
    let raw = fixtures().join("raw");
    let err = fails(&["split", s(&raw), "--out", s(&raw.join("alpha/out"))]);
    assert!(err.contains("overlap"), "{err}");
    let err = fails(&["split", s(&raw), "--out", s(&out), "--ratios", "50,50"]);
    assert!(err.contains("--ratios"), "{err}");
}
