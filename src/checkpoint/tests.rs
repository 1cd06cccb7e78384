//! Tests of the run directory: round trips and one `rejects_*` test per failure.

use super::resume::{read_state, write_state};
use super::*;
use crate::head::adam::AdamConfig;
use crate::head::fit::{FitState, PassMode};
use crate::head::logistic::LinearHead;
use crate::head::mlp::Mlp;
use crate::head::tensor_file::TensorWriter;

fn meta(k: usize, d: usize) -> HeadMeta {
    HeadMeta {
        classes: (0..k).map(|i| format!("c{i}")).collect(),
        feature_dim: d,
        cache_key: "abc".into(),
        best_epoch: 2,
    }
}

fn cfg() -> FitConfig {
    FitConfig {
        hidden: 4,
        dropout: 0.2,
        feature_dropout: 0.0,
        batch: 8,
        max_epochs: 3,
        patience: 2,
        pass_mode: PassMode::One,
        adam: AdamConfig::default(),
        seed: 1,
    }
}

#[test]
fn mlp_and_logistic_heads_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let mlp = Mlp::<f32>::init(5, 4, 3, &mut crate::seed::rng(0, &[b"t"]));
    write_head(dir.path(), &HeadModel::Mlp(mlp.clone()), &meta(3, 5)).unwrap();
    let (head, m) = read_head(dir.path()).unwrap();
    assert_eq!(head, HeadModel::Mlp(mlp));
    assert_eq!(m, meta(3, 5));
    let lin = LinearHead {
        weight: Array2::from_elem((3, 5), 0.5),
        bias: ndarray::Array1::zeros(3),
    };
    write_head(dir.path(), &HeadModel::Logistic(lin.clone()), &meta(3, 5)).unwrap();
    assert_eq!(read_head(dir.path()).unwrap().0, HeadModel::Logistic(lin));
}

#[test]
fn ensemble_head_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let members: Vec<Mlp<f32>> = (0..3u8)
        .map(|i| Mlp::init(5, 4, 3, &mut crate::seed::rng(i as u64, &[b"t"])))
        .collect();
    let head = HeadModel::MlpEnsemble(members);
    write_head(dir.path(), &head, &meta(3, 5)).unwrap();
    let (back, _) = read_head(dir.path()).unwrap();
    assert_eq!(back, head);
    assert_eq!(back.kind().name(), "mlp-ensemble");
    assert_eq!(back.num_params(), 3 * (5 * 4 + 4 + 4 * 3 + 3));
}

#[test]
fn rejects_an_ensemble_whose_members_differ_in_shape() {
    let dir = tempfile::tempdir().unwrap();
    let a = Mlp::<f32>::init(5, 4, 3, &mut crate::seed::rng(0, &[b"t"]));
    let b = Mlp::<f32>::init(5, 6, 3, &mut crate::seed::rng(1, &[b"t"]));
    write_head(dir.path(), &HeadModel::MlpEnsemble(vec![a, b]), &meta(3, 5)).unwrap();
    let err = read_head(dir.path()).unwrap_err().to_string();
    assert!(err.contains("ensemble member 1 has shape"), "{err}");
    assert!(err.contains("re-run `pipeline train-head`"), "{err}");
}

#[test]
fn optimizer_state_round_trips_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let mut state = FitState::<f32>::new(&cfg(), 5, 3);
    state.adam.m[0].fill(0.25);
    state.adam.step = 7;
    state.epochs_done = 0;
    state.best = Some(crate::head::fit::Best {
        epoch: 2,
        loss: 0.1 + 0.2,
        acc: 0.5,
        mlp: state.mlp.clone(),
    });
    write_head(dir.path(), &HeadModel::Mlp(state.mlp.clone()), &meta(3, 5)).unwrap();
    write_history(dir.path(), &[]).unwrap();
    write_state(dir.path(), &state, "abc").unwrap();
    assert_eq!(read_state(dir.path(), &cfg()).unwrap(), state);
}

#[test]
fn rejects_missing_head() {
    let dir = tempfile::tempdir().unwrap();
    let err = TrainedRun::load(dir.path()).unwrap_err();
    assert!(
        matches!(
            err,
            CheckpointError::Missing {
                file: HEAD_FILE,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("train-head"));
}

#[test]
fn rejects_other_schema_version() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = TensorWriter::default();
    w.add("0.weight", Array2::<f32>::zeros((2, 2)).view().into_dyn());
    w.meta("format", HEAD_FORMAT);
    w.meta("schema_version", "99");
    w.write(&dir.path().join(HEAD_FILE), safetensors::Dtype::F32)
        .unwrap();
    assert!(matches!(
        read_head(dir.path()),
        Err(CheckpointError::Version { .. })
    ));
}

#[test]
fn rejects_a_foreign_safetensors_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = TensorWriter::default();
    w.add("weight", Array2::<f32>::zeros((2, 2)).view().into_dyn());
    w.write(&dir.path().join(HEAD_FILE), safetensors::Dtype::F32)
        .unwrap();
    let err = read_head(dir.path()).unwrap_err();
    assert!(err.to_string().contains("not a pipeline head"), "{err}");
}

#[test]
fn rejects_weights_that_disagree_with_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let mlp = Mlp::<f32>::init(5, 4, 3, &mut crate::seed::rng(0, &[b"t"]));
    write_head(dir.path(), &HeadModel::Mlp(mlp), &meta(4, 5)).unwrap();
    let err = read_head(dir.path()).unwrap_err();
    assert!(
        err.to_string()
            .contains("metadata says 5 features and 4 classes"),
        "{err}"
    );
}

#[test]
fn rejects_a_config_that_disagrees_with_the_head() {
    let dir = tempfile::tempdir().unwrap();
    let mlp = Mlp::<f32>::init(5, 4, 3, &mut crate::seed::rng(0, &[b"t"]));
    write_head(dir.path(), &HeadModel::Mlp(mlp), &meta(3, 5)).unwrap();
    let config = RunConfig {
        schema_version: RUN_SCHEMA,
        tool_version: "x".into(),
        head: HeadKind::Mlp,
        preset: "default".into(),
        mlp: Some(cfg()),
        logistic: None,
        class_weights: ClassWeights::None,
        seed: 1,
        threads: 1,
        cache_dir: "c".into(),
        cache_key: "other".into(),
        passes: 1,
        train_images: 1,
        valid_images: 1,
        classes: meta(3, 5).classes,
        feature_dim: 5,
        backbone_hash: "h".into(),
        backbone_path: None,
        preprocess: Value::Null,
        input: Default::default(),
        selection: Value::Null,
        parts: Vec::new(),
    };
    write_json(&dir.path().join(CONFIG_FILE), &config).unwrap();
    let err = TrainedRun::load(dir.path()).unwrap_err();
    assert!(
        err.to_string().contains("does not match head.safetensors"),
        "{err}"
    );
    let fixed = RunConfig {
        cache_key: "abc".into(),
        ..config
    };
    write_json(&dir.path().join(CONFIG_FILE), &fixed).unwrap();
    let err = TrainedRun::load(dir.path()).unwrap_err().to_string();
    assert!(
        err.contains("incomplete") && err.contains("--resume"),
        "{err}"
    );
    std::fs::write(dir.path().join(METRICS_FILE), "{}").unwrap();
    let run = TrainedRun::load(dir.path()).unwrap();
    assert_eq!(run.log_proba(Array2::zeros((2, 5)).view()).dim(), (2, 3));
    assert!(run.check_width(4).is_err() && run.check_width(5).is_ok());
}
