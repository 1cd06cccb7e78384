//! The PyTorch reference trajectories (scripts/torch_head_reference.py), replayed in f64 and f32.

use ndarray::{s, Array1, Array2, Array3, Ix1, Ix2, Ix3};
use pipeline::head::adam::{Adam, AdamConfig};
use pipeline::head::fit::train_step;
use pipeline::head::mlp::{Mlp, PARAM_NAMES};
use pipeline::head::tensor_file::TensorReader;
use pipeline::head::Float;
use std::path::Path;

/// Relative tolerance with an absolute floor: `|a − b| ≤ rtol·max(|b|, floor)`.
#[derive(Debug, Clone, Copy)]
struct Close {
    rtol: f64,
    floor: f64,
}

/// f64 against the float64 reference.
const CLOSE_F64: Close = Close {
    rtol: 1e-8,
    floor: 1e-3,
};
/// f32 against the float64 reference.
const CLOSE_F32: Close = Close {
    rtol: 1e-4,
    floor: 1e-3,
};

fn assert_close(what: &str, a: f64, b: f64, tol: Close) {
    let bound = tol.rtol * b.abs().max(tol.floor);
    assert!(
        (a - b).abs() <= bound,
        "{what}: got {a}, reference {b} (|diff| {} > {bound})",
        (a - b).abs()
    );
}

struct Reference {
    init: Mlp<f64>,
    finals: Mlp<f64>,
    x: Array3<f64>,
    y: Vec<Vec<u32>>,
    class_weights: Option<Vec<f64>>,
    losses: Array1<f64>,
    adam: AdamConfig,
}

fn mlp(r: &TensorReader, prefix: &str) -> Mlp<f64> {
    let get = |i: usize| {
        r.array::<f64>(&format!("{prefix}.{}", PARAM_NAMES[i]))
            .unwrap()
    };
    Mlp::from_parts(
        get(0).into_dimensionality::<Ix2>().unwrap(),
        get(1).into_dimensionality::<Ix1>().unwrap(),
        get(2).into_dimensionality::<Ix2>().unwrap(),
        get(3).into_dimensionality::<Ix1>().unwrap(),
    )
    .unwrap()
}

fn load_reference(name: &str) -> Reference {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(format!("tests/fixtures/head_ref/{name}.safetensors"));
    let r = TensorReader::open(&path).unwrap();
    let meta = r.metadata().unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let yt = st.tensor("y").unwrap();
    assert_eq!(yt.dtype(), safetensors::Dtype::I64);
    let flat: Vec<u32> = yt
        .data()
        .chunks_exact(8)
        .map(|c| i64::from_le_bytes(c.try_into().unwrap()) as u32)
        .collect();
    let b = yt.shape()[1];
    let weighted: bool = serde_json::from_str(&meta["weighted"]).unwrap();
    Reference {
        init: mlp(&r, "init"),
        finals: mlp(&r, "final"),
        x: r.array::<f64>("x")
            .unwrap()
            .into_dimensionality::<Ix3>()
            .unwrap(),
        y: flat.chunks(b).map(|c| c.to_vec()).collect(),
        class_weights: weighted.then(|| {
            r.array::<f64>("class_weights")
                .unwrap()
                .iter()
                .copied()
                .collect()
        }),
        losses: r
            .array::<f64>("losses")
            .unwrap()
            .into_dimensionality::<Ix1>()
            .unwrap(),
        adam: AdamConfig {
            lr: meta["lr"].parse().unwrap(),
            weight_decay: meta["weight_decay"].parse().unwrap(),
            ..AdamConfig::default()
        },
    }
}

/// Replays the reference's 10 steps through the trainer's own step in float type `F`.
fn replay<F: Float>(name: &str, tol: Close) {
    let r = load_reference(name);
    let mut model: Mlp<F> = r.init.cast();
    let shapes: Vec<Vec<usize>> = model.params().iter().map(|p| p.shape().to_vec()).collect();
    let shapes: Vec<&[usize]> = shapes.iter().map(|v| v.as_slice()).collect();
    let mut adam = Adam::<F>::new(r.adam, &shapes);
    let mut grads = model.zeros_like();
    let weights: Option<Vec<F>> = r
        .class_weights
        .as_ref()
        .map(|w| w.iter().map(|&v| F::of_f64(v)).collect());
    for (step, labels) in r.y.iter().enumerate() {
        let x: Array2<F> = r.x.slice(s![step, .., ..]).mapv(F::of_f64);
        let loss = train_step(
            &mut model,
            &mut adam,
            &mut grads,
            x.view(),
            labels,
            weights.as_deref(),
            None,
        );
        assert_close(
            &format!("{name} loss of step {}", step + 1),
            loss.mean().as_f64(),
            r.losses[step],
            tol,
        );
    }
    for (i, (got, want)) in model.params().iter().zip(r.finals.params()).enumerate() {
        for (j, (a, b)) in got.iter().zip(want.iter()).enumerate() {
            assert_close(
                &format!("{name} final {}[{j}]", PARAM_NAMES[i]),
                a.as_f64(),
                *b,
                tol,
            );
        }
    }
    assert_eq!(adam.step, 10);
}

#[test]
fn pytorch_trajectory_plain_f64() {
    replay::<f64>("plain", CLOSE_F64);
}

#[test]
fn pytorch_trajectory_weighted_with_weight_decay_f64() {
    replay::<f64>("weighted", CLOSE_F64);
}

#[test]
fn pytorch_trajectory_plain_f32() {
    replay::<f32>("plain", CLOSE_F32);
}

#[test]
fn pytorch_trajectory_weighted_with_weight_decay_f32() {
    replay::<f32>("weighted", CLOSE_F32);
}
