//! Views, test-time averaging, model selection and `pipeline cv` end to end on the fixtures.

mod common;

use common::{fails, pipeline, MODEL};
use pipeline::cache::FeatureCache;
use std::path::Path;
use std::process::Output;

const DATA: &str = "tests/fixtures/images/tree";

fn ok(o: &Output) -> String {
    let (out, err) = common::succeeded(o);
    out + &err
}

fn extract(out: &Path, extra: &[&str]) -> String {
    let mut args = vec![
        "extract",
        "--model",
        MODEL,
        "--data",
        DATA,
        "--out",
        out.to_str().unwrap(),
        "--device",
        "cpu",
    ];
    args.extend_from_slice(extra);
    ok(&pipeline(&args))
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn views_are_rows_of_every_split_and_centre_is_the_eval_view() {
    let t = tempfile::tempdir().unwrap();
    let (views, legacy) = (t.path().join("v"), t.path().join("l"));
    extract(&views, &["--views", "ten-crop+whole", "--passes", "1"]);
    extract(&legacy, &["--passes", "1"]);
    let c = FeatureCache::open(&views).unwrap();
    let train = c.manifest.spec.split("train").unwrap();
    assert_eq!((train.views.len(), train.passes), (12, 13));
    for split in ["valid", "test"] {
        assert_eq!(c.split_passes(split), 12, "{split}");
        let rows = c.load(split, 0).unwrap().labels.len();
        for p in 1..12 {
            assert_eq!(c.load(split, p).unwrap().labels.len(), rows);
        }
    }
    let l = FeatureCache::open(&legacy).unwrap();
    assert_eq!(
        c.load("valid", 0).unwrap().features,
        l.load("valid", 0).unwrap().features,
        "the centre view must be the eval transform"
    );
    assert_ne!(
        c.load("valid", 0).unwrap().features,
        c.load("valid", 1).unwrap().features
    );
    let aug = |dir: &Path, pass| {
        FeatureCache::open(dir)
            .unwrap()
            .load("train", pass)
            .unwrap()
    };
    assert_eq!(aug(&views, 12).features, aug(&legacy, 0).features);
    let err = fails(&common::extract_into(
        MODEL,
        DATA,
        t.path().join("z").to_str().unwrap(),
        &["--passes", "0"],
    ));
    assert!(err.contains("--views"), "{err}");
    extract(&t.path().join("z"), &["--views", "centre", "--passes", "0"]);
}

#[test]
fn logistic_run_averages_views_in_eval_and_predict() {
    let t = tempfile::tempdir().unwrap();
    let (cache, run) = (t.path().join("c"), t.path().join("r"));
    extract(&cache, &["--views", "ten-crop", "--passes", "0"]);
    let out = ok(&common::train_head_into(
        cache.to_str().unwrap(),
        run.to_str().unwrap(),
        &["--head", "logistic", "--c-grid", "1,10,100"],
    ));
    assert!(out.contains("chose logistic C="), "{out}");
    let cfg = json(&run.join("config.json"));
    assert_eq!(cfg["input"]["views"].as_array().unwrap().len(), 10);
    assert_eq!(cfg["input"]["l2_normalize"], true);
    assert_eq!(cfg["selection"]["trials"].as_array().unwrap().len(), 3);
    assert_eq!(cfg["selection"]["refitted"], true);
    ok(&pipeline(&[
        "eval",
        "--features",
        cache.to_str().unwrap(),
        "--run",
        run.to_str().unwrap(),
    ]));
    let m = json(&run.join("eval-test/metrics.json"));
    // By hand: the mean of the 10 views, L2-normalised by the run, scored by its head.
    let c = FeatureCache::open(&cache).unwrap();
    let r = pipeline::checkpoint::TrainedRun::load(&run).unwrap();
    let sv = pipeline::head::data::load_views(&c, "test", None).unwrap();
    let lp = r.log_proba(sv.mean().view());
    let zeros = vec![0usize; c.classes().len()];
    let want = pipeline::metrics::compute(lp.view(), &sv.labels, c.classes(), &zeros);
    let got = m["top1"].as_f64().unwrap();
    assert!((got - want.top1).abs() < 1e-9, "{got} vs {}", want.top1);
    let pred = ok(&pipeline(&[
        "predict",
        "--model",
        MODEL,
        "--run",
        run.to_str().unwrap(),
        "--device",
        "cpu",
        "--format",
        "json",
        "tests/fixtures/images/tree/test",
    ]));
    assert!(pred.contains("probability"), "{pred}");
}

#[test]
fn cv_reports_mean_and_sd_and_refuses_unsplittable_caches() {
    let t = tempfile::tempdir().unwrap();
    let cache = t.path().join("c");
    extract(&cache, &["--views", "centre", "--passes", "1"]);
    let js = t.path().join("cv.json");
    let out = ok(&pipeline(&[
        "cv",
        "--features",
        cache.to_str().unwrap(),
        "--repeats",
        "3",
        "--head",
        "logistic",
        "--c-grid",
        "1,10",
        "--json",
        js.to_str().unwrap(),
    ]));
    assert!(
        out.contains("not used: 1 augmented passes of train"),
        "{out}"
    );
    assert!(out.contains("mean ± SD"), "{out}");
    let j = json(&js);
    for key in ["top1_mean", "top1_sd", "top5_mean", "top5_sd", "repeats"] {
        assert!(j[key].is_number(), "{key} missing: {j}");
    }
    assert_eq!(j["repeats"], 3);
    assert_eq!(
        (&j["planned_repeats"], &j["complete"]),
        (&3.into(), &true.into())
    );
    let rows = j["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    let n = |r: &serde_json::Value, k: &str| r[k].as_u64().unwrap();
    let total =
        n(&rows[0], "train_images") + n(&rows[0], "valid_images") + n(&rows[0], "test_images");
    assert!(rows
        .iter()
        .all(|r| n(r, "train_images") + n(r, "valid_images") + n(r, "test_images") == total));
    ok(&pipeline(&[
        "cv",
        "--features",
        cache.to_str().unwrap(),
        "--repeats",
        "2",
        "--head",
        "mlp",
        "--preset",
        "notebook",
    ]));
    let out = ok(&pipeline(&[
        "cv",
        "--features",
        cache.to_str().unwrap(),
        "--repeats",
        "1",
        "--head",
        "mlp",
        "--ensemble",
        "2",
        "--preset",
        "notebook",
    ]));
    assert!(out.contains("mlp ensemble of 2"), "{out}");
    let err = fails(&pipeline(&[
        "cv",
        "--features",
        cache.to_str().unwrap(),
        "--head",
        "logistic",
        "--ensemble",
        "2",
    ]));
    assert!(err.contains("not to the logistic head"), "{err}");
    let err = fails(&pipeline(&[
        "cv",
        "--features",
        cache.to_str().unwrap(),
        "--views",
        "ten-crop",
    ]));
    assert!(
        err.contains("top-left") && err.contains("re-extract"),
        "{err}"
    );
    let legacy = t.path().join("l");
    extract(&legacy, &["--passes", "2"]);
    let err = fails(&pipeline(&["cv", "--features", legacy.to_str().unwrap()]));
    assert!(err.contains("no deterministic view shared"), "{err}");
    let err = fails(&pipeline(&[
        "cv",
        "--features",
        cache.to_str().unwrap(),
        "--repeats",
        "0",
    ]));
    assert!(err.contains("--repeats"), "{err}");
}

#[test]
fn run_defaults_to_auto_on_twelve_views() {
    let t = tempfile::tempdir().unwrap();
    let w = t.path().join("w");
    let out = ok(&common::run_into(
        Path::new("tests/fixtures/images/raw"),
        &w,
        &["--epochs", "3"],
    ));
    assert!(out.contains("chose "), "{out}");
    let cfg = json(&w.join("runs/auto/config.json"));
    assert_eq!(cfg["input"]["views"].as_array().unwrap().len(), 12);
    assert_eq!(cfg["selection"]["choice"], "auto");
    assert!(w.join("runs/auto/eval-test/metrics.json").exists());
}
