//! Feature cache: round trip, version checks and refusals through the public API.

mod common;

use ndarray::Array2;
use pipeline::cache::{self, CacheError, FeatureCache};

fn classes() -> Vec<String> {
    vec!["cat".into(), "dog".into()]
}

fn make(dir: &std::path::Path) -> FeatureCache {
    let train = Array2::from_shape_fn((6, 4), |(i, j)| (i * 10 + j) as f32); // 2 passes × 3 images
    let valid = Array2::from_shape_fn((2, 4), |(i, j)| -((i * 10 + j) as f32));
    cache::write_synthetic(
        dir,
        &classes(),
        &[
            ("train", 2, train, vec![0, 1, 1]),
            ("valid", 1, valid, vec![1, 0]),
        ],
    )
    .unwrap()
}

#[test]
fn round_trip_by_split_and_pass() {
    let dir = tempfile::tempdir().unwrap();
    let c = make(dir.path());
    let reopened = FeatureCache::open(dir.path()).unwrap();
    assert_eq!(reopened.key(), c.key());
    assert_eq!(reopened.classes(), classes().as_slice());
    assert_eq!((reopened.feature_dim(), reopened.passes()), (4, 2));
    let p1 = reopened.load("train", 1).unwrap();
    assert_eq!(p1.features.row(0).to_vec(), vec![30.0, 31.0, 32.0, 33.0]);
    assert_eq!(p1.labels, vec![0, 1, 1]);
    assert_eq!(p1.paths[2], "dog/00002.png");
    let v = reopened.load("valid", 0).unwrap();
    assert_eq!(v.features[[1, 3]], -13.0);
    assert!(matches!(
        reopened.load("valid", 1),
        Err(CacheError::NoPass { .. })
    ));
    assert!(matches!(
        reopened.load("test", 0),
        Err(CacheError::NoSplit { .. })
    ));
}

#[test]
fn rejects_missing_incomplete_and_wrong_version() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        FeatureCache::open(dir.path()),
        Err(CacheError::Missing(_))
    ));
    make(dir.path());
    let manifest = dir.path().join(cache::MANIFEST);
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(
        &manifest,
        text.replacen("\"schema_version\": 2", "\"schema_version\": 99", 1),
    )
    .unwrap();
    let err = FeatureCache::open(dir.path()).unwrap_err();
    assert!(
        matches!(err, CacheError::Version { found: 99, .. }),
        "{err}"
    );
    std::fs::write(&manifest, text.replacen("\"seed\": 0", "\"seed\": 5", 1)).unwrap();
    let err = FeatureCache::open(dir.path()).unwrap_err();
    assert!(
        err.to_string().contains("does not match its contents"),
        "{err}"
    );
    std::fs::write(&manifest, &text).unwrap();
    std::fs::remove_file(common::shard_file(dir.path(), "valid-p000-c00000")).unwrap();
    let err = FeatureCache::open(dir.path()).unwrap_err();
    assert!(
        err.to_string()
            .contains("valid-p000-c00000.safetensors is missing"),
        "{err}"
    );
    std::fs::remove_file(&manifest).unwrap();
    std::fs::write(dir.path().join(cache::PLAN), "{}").unwrap();
    let err = FeatureCache::open(dir.path()).unwrap_err();
    assert!(matches!(err, CacheError::Incomplete(_)));
    assert!(err
        .to_string()
        .contains("rerun the same `pipeline extract`"));
}
