//! An `f16` feature cache is held at 2 bytes a value and widened where it is read (a training
//! batch, a mean, a re-split), and trains exactly as the same values stored `f32`.

mod common;

use common::{pipeline, succeeded};
use half::f16;
use ndarray::Array2;
use pipeline::cache::shard::FeatureDtype;
use pipeline::cache::{write_synthetic_as, FeatureCache};
use pipeline::features::views::ViewSet;
use pipeline::head::adam::AdamConfig;
use pipeline::head::fit::FitConfig;
use pipeline::head::logistic::LogisticConfig;
use pipeline::head::sampler::PassMode;
use pipeline::head::select::{select, HeadChoice, SelectOptions};
use rand::Rng;
use std::path::Path;

const K: usize = 3;
const D: usize = 24;
const VIEWS: u32 = 3;

/// `[VIEWS·n, D]` view-major features around class centres, each value already an `f16` (so
/// the f32 cache holds exactly what the f16 one does), and `n` labels.
fn split(n: usize, rng: &mut impl Rng) -> (Array2<f32>, Vec<u32>) {
    let labels: Vec<u32> = (0..n).map(|i| (i % K) as u32).collect();
    let x = Array2::from_shape_fn((VIEWS as usize * n, D), |(r, j)| {
        let c = labels[r % n] as usize;
        let v = if j % K == c { 1.5f32 } else { 0.0 } + rng.gen_range(0.0f32..1.0);
        f16::from_f32(v).to_f32()
    });
    (x, labels)
}

/// The same features written as an `f16` cache and as an `f32` one.
fn caches(dir: &Path) -> (FeatureCache, FeatureCache) {
    let mut rng = pipeline::seed::rng(7, &[b"f16-cache"]);
    let splits = [
        ("train", split(30, &mut rng)),
        ("valid", split(15, &mut rng)),
        ("test", split(15, &mut rng)),
    ]
    .map(|(name, (x, y))| (name, VIEWS, x, y));
    let classes: Vec<String> = (0..K).map(|k| format!("c{k}")).collect();
    let names = &ViewSet::TenCropWhole.names()[..VIEWS as usize];
    let write = |sub: &str, dtype| {
        write_synthetic_as(&dir.join(sub), &classes, &splits, names, dtype).unwrap()
    };
    (write("h", FeatureDtype::F16), write("f", FeatureDtype::F32))
}

fn options() -> SelectOptions {
    SelectOptions {
        c_grid: vec![0.1, 1.0, 10.0],
        logistic: LogisticConfig {
            alpha: 1.0,
            max_iterations: 100,
            gradient_tolerance: 1e-4,
        },
        mlp: FitConfig {
            hidden: 16,
            dropout: 0.2,
            feature_dropout: 0.1,
            batch: 8,
            max_epochs: 8,
            patience: 3,
            pass_mode: PassMode::All,
            adam: AdamConfig::default(),
            seed: 3,
        },
        class_weights: None,
        refit: true,
        ensemble: 2,
        folds: Some(0),
    }
}

#[test]
fn f16_cache_is_held_half_size_and_trains_as_its_values_in_f32() {
    let t = tempfile::tempdir().unwrap();
    let (h, f) = caches(t.path());
    let (dh, df) = (
        pipeline::head::data::load(&h).unwrap(),
        pipeline::head::data::load(&f).unwrap(),
    );
    assert!(dh.passes.iter().chain(&dh.valid_views).all(|r| r.is_half()));
    assert!(!df.passes.iter().any(|r| r.is_half()));
    let bytes = |d: &pipeline::head::data::HeadData| -> usize {
        d.passes
            .iter()
            .chain(&d.valid_views)
            .map(|r| r.bytes())
            .sum()
    };
    assert_eq!(2 * bytes(&dh), bytes(&df));
    assert_eq!(dh.valid_x, df.valid_x);
    for head in [HeadChoice::Mlp, HeadChoice::Logistic, HeadChoice::Auto] {
        let (a, b) = (
            select(head, &dh, K, &options()).unwrap(),
            select(head, &df, K, &options()).unwrap(),
        );
        assert_eq!(a.model, b.model, "{head:?}");
        assert_eq!(a.winner, b.winner, "{head:?}");
        let scores = |c: &pipeline::head::select::Chosen| -> Vec<(f64, f64)> {
            c.trials
                .iter()
                .map(|t| (t.valid_top1, t.valid_nll))
                .collect()
        };
        assert_eq!(scores(&a), scores(&b), "{head:?}");
    }
}

#[test]
fn cv_on_an_f16_cache_gives_the_f32_rows() {
    let t = tempfile::tempdir().unwrap();
    let (h, f) = caches(t.path());
    let rows = |c: &FeatureCache, name: &str| -> Vec<serde_json::Value> {
        let js = t.path().join(name);
        succeeded(&pipeline(&[
            "cv",
            "--features",
            c.dir.to_str().unwrap(),
            "--repeats",
            "2",
            "--head",
            "mlp",
            "--preset",
            "notebook",
            "--json",
            js.to_str().unwrap(),
        ]));
        let j: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(js).unwrap()).unwrap();
        j["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let mut r = r.clone();
                r.as_object_mut().unwrap().remove("seconds");
                r
            })
            .collect()
    };
    let (a, b) = (rows(&h, "h.json"), rows(&f, "f.json"));
    assert_eq!(a.len(), 2);
    assert_eq!(a, b);
}
