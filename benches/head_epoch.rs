//! One training epoch of the notebook head on cached features: 4,096 images × 4,096 features,
//! 100 classes, hidden 256, dropout 0.2, batch 128, Adam (forward, backward and update of every
//! batch; no validation). Compare with `scripts/bench_head_torch.py` on the same machine.
//! Run: `cargo bench --bench head_epoch` (set `MATMUL_NUM_THREADS` to pin the thread count).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ndarray::Array2;
use pipeline::head::adam::AdamConfig;
use pipeline::head::fit::{FitConfig, FitState, PassMode, TrainData};
use rand::Rng;

const N: usize = 4096;
const D: usize = 4096;
const K: usize = 100;

fn epoch(c: &mut Criterion) {
    let mut rng = pipeline::seed::rng(0, &[b"bench"]);
    let passes = vec![Array2::from_shape_simple_fn((N, D), || {
        rng.gen_range(0.0f32..2.0)
    })];
    let labels: Vec<u32> = (0..N).map(|_| rng.gen_range(0..K as u32)).collect();
    let data = TrainData {
        passes: &passes,
        labels: &labels,
        class_weights: None,
    };
    let cfg = FitConfig {
        hidden: 256,
        dropout: 0.2,
        feature_dropout: 0.0,
        batch: 128,
        max_epochs: u32::MAX,
        patience: 0,
        pass_mode: PassMode::One,
        adam: AdamConfig::default(),
        seed: 0,
    };
    let mut state = FitState::<f32>::new(&cfg, D, K);
    let mut g = c.benchmark_group("head_epoch");
    g.sample_size(20);
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("4096x4096_k100_b128_f32", |b| {
        b.iter(|| {
            state
                .train_epoch(&data, &cfg)
                .map(|(loss, _)| loss)
                .unwrap_or(f64::NAN)
        })
    });
    g.finish();
}

criterion_group!(benches, epoch);
criterion_main!(benches);
