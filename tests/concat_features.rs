//! Two backbones in one work directory (`run --model A`, then `--model B`): the summary and the
//! report name both caches and the cv comparison; `train-head --features A --features B` trains on
//! their concatenated features, `eval` reads both caches, `predict --run` runs both backbones, and
//! `export` ships both bodies in one ONNX file whose probabilities equal `predict --run`'s and the
//! head's on the cached features within 1e-3.

mod common;

use common::{assert_clean_failure, json, pipeline, s, stdout_of, succeeded, MODEL, MODEL_NHWC};
use pipeline::cache::FeatureCache;
use pipeline::checkpoint::TrainedRun;
use std::path::{Path, PathBuf};

const RAW: &str = "tests/fixtures/images/raw";

/// A work directory holding both tiny backbones' caches, and their kept manifests (A first).
fn two_backbones(w: &Path) -> (String, Vec<PathBuf>) {
    let mut last = String::new();
    for model in [MODEL, MODEL_NHWC] {
        let out = pipeline(&[
            "run",
            "--data",
            RAW,
            "--model",
            model,
            "--workdir",
            s(w),
            "--device",
            "cpu",
            "--views",
            "ten-crop+whole",
            "--head",
            "mlp",
            "--epochs",
            "3",
        ]);
        last = succeeded(&out).0;
    }
    let kept = FeatureCache::kept_manifests(&w.join("features"));
    let first = FeatureCache::open(&kept[0]).unwrap();
    let order = if first.manifest.stats.model_path.ends_with("tiny.onnx") {
        kept
    } else {
        kept.into_iter().rev().collect()
    };
    (last, order)
}

#[test]
fn concatenated_features_train_eval_and_export_as_one_graph() {
    let t = tempfile::tempdir().unwrap();
    let w = t.path().join("w");
    let (summary, kept) = two_backbones(&w);
    assert_eq!(kept.len(), 2);
    assert!(summary.contains("backbones  2 caches in"), "{summary}");
    assert!(summary.contains("--json"), "{summary}");
    let page = std::fs::read_to_string(w.join("report.html")).unwrap();
    assert!(
        page.contains("Backbones") && page.contains("Not compared yet"),
        "no backbone section"
    );
    // The comparison the summary names, then the report shows it.
    stdout_of(&pipeline(&[
        "cv",
        "--features",
        s(&kept[0]),
        "--features",
        s(&kept[1]),
        "--repeats",
        "2",
        "--head",
        "logistic",
        "--c-grid",
        "1",
        "--json",
        s(&w.join("backbones.json")),
    ]));
    stdout_of(&pipeline(&["report", s(&w)]));
    let page = std::fs::read_to_string(w.join("report.html")).unwrap();
    assert!(
        page.contains("Compared by cv") && page.contains("tiny + tiny_nhwc"),
        "no comparison"
    );

    let run = t.path().join("run");
    stdout_of(&pipeline(&[
        "train-head",
        "--features",
        s(&kept[0]),
        "--features",
        s(&kept[1]),
        "--out",
        s(&run),
        "--head",
        "mlp",
        "--epochs",
        "3",
    ]));
    let trained = TrainedRun::load(&run).unwrap();
    assert_eq!(
        (
            trained.feature_dim,
            trained.parts.len(),
            trained.first_width()
        ),
        (32, 1, 16)
    );
    stdout_of(&pipeline(&["eval", "--run", s(&run)]));
    let m = json(&run.join("eval-test/metrics.json"));
    assert!(m["top1"].is_number(), "{m}");

    let out = t.path().join("both.onnx");
    stdout_of(&pipeline(&["export", "--run", s(&run), "--out", s(&out)]));
    let facts = json(&out.with_extension("json"));
    assert_eq!(facts["parts"][0]["backbone_name"], "tiny-nhwc");
    // The file alone against the head on the tool's features of the same test images.
    let test = w.join("data/test");
    let got = common::predictions(&["--classifier", s(&out), s(&test)]);
    let caches: Vec<FeatureCache> = kept
        .iter()
        .map(|k| FeatureCache::open(k).unwrap())
        .collect();
    let names = trained.input.view_names();
    let feats = pipeline::head::joined::load_views(&caches, "test", Some(&names)).unwrap();
    let p = trained.log_proba(feats.mean().view()).mapv(f32::exp);
    let mut worst = 0f64;
    for (row, rel) in p.rows().into_iter().zip(&feats.paths) {
        let file = got
            .iter()
            .find(|(k, _)| k.ends_with(rel.as_str()))
            .map(|(_, v)| v)
            .unwrap_or_else(|| panic!("{rel} not predicted"));
        for (c, q) in trained.classes.iter().zip(row) {
            worst = worst.max((file[c] - f64::from(*q)).abs());
        }
    }
    eprintln!("concatenated export vs the head on cached features: max |Δp| {worst:.2e}");
    assert!(worst < 1e-3, "max |Δp| {worst}");
    // `predict --run` computes both backbones' features itself: the same within 1e-3.
    let rust = common::predictions(&["--run", s(&run), "--device", "cpu", s(&test)]);
    assert_eq!(rust.len(), got.len());
    let mut worst = 0f64;
    for (path, p) in &rust {
        for (c, v) in p {
            worst = worst.max((v - got[path][c]).abs());
        }
    }
    eprintln!("concatenated export vs predict --run: max |Δp| {worst:.2e}");
    assert!(worst < 1e-3, "max |Δp| {worst}");
}

#[test]
fn rejects_concatenating_caches_of_other_images() {
    let t = tempfile::tempdir().unwrap();
    let (a, b) = (t.path().join("a"), t.path().join("b"));
    for (out, data) in [
        (&a, "tests/fixtures/images/tree"),
        (&b, "tests/fixtures/images/tree"),
    ] {
        succeeded(&common::extract_into(
            MODEL,
            data,
            s(out),
            &["--device", "cpu"],
        ));
    }
    std::fs::remove_dir_all(&b).unwrap();
    let tree = t.path().join("tree");
    common::copy_tree(Path::new("tests/fixtures/images/tree"), &tree);
    let first = std::fs::read_dir(tree.join("test/cat"))
        .unwrap()
        .flatten()
        .next()
        .unwrap();
    std::fs::remove_file(first.path()).unwrap();
    succeeded(&common::extract_into(
        MODEL_NHWC,
        s(&tree),
        s(&b),
        &["--device", "cpu"],
    ));
    assert_clean_failure(
        &pipeline(&[
            "train-head",
            "--features",
            s(&a),
            "--features",
            s(&b),
            "--out",
            s(&t.path().join("run")),
        ]),
        &["do not hold the same images", "same --workdir"],
    );
}
