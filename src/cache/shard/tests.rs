//! Shard round trips and refusals.

use super::*;

fn sample() -> ShardData {
    ShardData {
        features: vec![0.5, -1.25, 3.0, 7.5, 0.0, -0.125],
        labels: vec![2, 0, 1],
        index: vec![0, 4, 9],
    }
}

#[test]
fn round_trip_f32_and_f16() {
    let dir = tempfile::tempdir().unwrap();
    let id = ShardId {
        split: "train",
        pass: 1,
        chunk: 0,
    };
    for dtype in [FeatureDtype::F32, FeatureDtype::F16] {
        let p = dir.path().join(id.file_name("k1"));
        write(&p, "k1", id, 2, dtype, &sample(), &[]).unwrap();
        let back = read(&p, "k1", 2).unwrap();
        assert_eq!(back.features, sample().features); // values exact in f16 too
        assert_eq!(back.labels, sample().labels);
        assert_eq!(back.index, sample().index);
        assert_eq!(read_key(&p).unwrap(), "k1");
        assert_eq!(read_meta(&p).unwrap()["rows"], "3");
    }
}

#[test]
fn rejects_wrong_key_width_and_garbage() {
    let dir = tempfile::tempdir().unwrap();
    let id = ShardId {
        split: "valid",
        pass: 0,
        chunk: 3,
    };
    let p = dir.path().join(id.file_name("k1"));
    write(&p, "k1", id, 2, FeatureDtype::F32, &sample(), &[]).unwrap();
    assert!(matches!(
        read(&p, "k2", 2),
        Err(ShardError::WrongKey { .. })
    ));
    assert!(matches!(read(&p, "k1", 3), Err(ShardError::Corrupt { .. })));
    std::fs::write(&p, b"not a shard").unwrap();
    assert!(matches!(read(&p, "k1", 2), Err(ShardError::Corrupt { .. })));
    let missing = dir.path().join("none.safetensors");
    assert!(matches!(
        read(&missing, "k1", 2),
        Err(ShardError::Io { .. })
    ));
}

#[test]
fn rejects_inconsistent_write() {
    let dir = tempfile::tempdir().unwrap();
    let id = ShardId {
        split: "test",
        pass: 0,
        chunk: 0,
    };
    let mut d = sample();
    d.labels.pop();
    let p = dir.path().join(id.file_name("k1"));
    assert!(write(&p, "k", id, 2, FeatureDtype::F32, &d, &[]).is_err());
    assert!(!p.exists());
}
