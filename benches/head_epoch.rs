//! One training epoch of the notebook head on cached features: 4,096 images × 4,096 features,
//! 100 classes, hidden 256, dropout 0.2, batch 128, Adam (forward, backward and update of every
//! batch; no validation). Compare with `benches/head_epoch_torch.py` on the same machine.
//! The same epoch on `f16` cache rows (widened a batch at a time) is `f16_cache_rows`.
//! Also times the epoch's two large products alone, `matrixmultiply` (through ndarray, the
//! previous kernel) against `gemm` (the head's, [`pipeline::head::matmul`]).
//! Run: `cargo bench --bench head_epoch` (set `RAYON_NUM_THREADS` to pin the thread count; the
//! side-by-side comparison with PyTorch is `benches/head_vs_torch.sh`).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ndarray::linalg::general_mat_mul;
use ndarray::Array2;
use pipeline::cache::Rows;
use pipeline::head::adam::AdamConfig;
use pipeline::head::fit::{FitConfig, FitState, PassMode, TrainData};
use pipeline::head::matmul::gemm;
use rand::Rng;

const N: usize = 4096;
const D: usize = 4096;
const K: usize = 100;

/// The notebook head's epoch on `passes` (one `[N,D]` row set).
fn run_epoch(c: &mut Criterion, name: &str, passes: &[Rows], labels: &[u32]) {
    let data = TrainData {
        passes,
        more: &[],
        labels,
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
    g.sample_size(10);
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function(name, |b| {
        b.iter(|| {
            state
                .train_epoch(&data, &cfg)
                .map(|(loss, _)| loss)
                .unwrap_or(f64::NAN)
        })
    });
    g.finish();
}

/// `[N,D]` features the head can learn (as `make_cv_cache` draws them): class `i % K` for row
/// `i`, each class a centre with 30 % of its dimensions in U(0,2) and the rest 0, each row its
/// centre plus U(−1,1) noise, clipped at 0 like post-ReLU backbone features. (Uniform features with
/// random labels, used before, left every hidden ReLU dead after the first epoch, in PyTorch too:
/// a head that learns nothing.) `benches/head_epoch_torch.py` draws the same distribution.
fn features() -> (Array2<f32>, Vec<u32>) {
    let mut rng = pipeline::seed::rng(0, &[b"bench"]);
    let centres = Array2::from_shape_simple_fn((K, D), || {
        if rng.gen_bool(0.3) {
            rng.gen_range(0.0f32..2.0)
        } else {
            0.0
        }
    });
    let labels: Vec<u32> = (0..N).map(|i| (i % K) as u32).collect();
    let x = Array2::from_shape_fn((N, D), |(i, j)| {
        (centres[[i % K, j]] + rng.gen_range(-1.0f32..1.0)).max(0.0)
    });
    (x, labels)
}

fn epoch(c: &mut Criterion) {
    let (x, labels) = features();
    run_epoch(c, "4096x4096_k100_b128_f32", &[Rows::F32(x)], &labels);
}

/// The same epoch on an `f16` cache's rows, widened a batch at a time by the gather.
fn epoch_f16_rows(c: &mut Criterion) {
    let (x, labels) = features();
    let h = Rows::F16(x.mapv(half::f16::from_f32));
    run_epoch(c, "f16_cache_rows_k100_b128", &[h], &labels);
}

/// `[128,4096]·[4096,256]` (forward) and `[256,128]·[128,4096]` (the `0.weight` gradient).
fn products(c: &mut Criterion) {
    let mut rng = pipeline::seed::rng(1, &[b"bench"]);
    let mut rand = |r, c| Array2::from_shape_simple_fn((r, c), || rng.gen_range(-1.0f32..1.0));
    let (x, w1, da) = (rand(128, D), rand(256, D), rand(128, 256));
    let mut a = Array2::<f32>::zeros((128, 256));
    let mut gw1 = Array2::<f32>::zeros((256, D));
    let mut g = c.benchmark_group("head_products");
    g.sample_size(20);
    g.throughput(Throughput::Elements(2 * 2 * 128 * 256 * D as u64));
    g.bench_function("matrixmultiply_fwd_and_dw1", |b| {
        b.iter(|| {
            general_mat_mul(1.0, &x, &w1.t(), 0.0, &mut a);
            general_mat_mul(1.0, &da.t(), &x, 0.0, &mut gw1);
        })
    });
    g.bench_function("gemm_fwd_and_dw1", |b| {
        b.iter(|| {
            gemm(1.0, x.view(), w1.t(), 0.0, a.view_mut());
            gemm(1.0, da.t(), x.view(), 0.0, gw1.view_mut());
        })
    });
    // `0.weight` row-major (`w1`, PyTorch's layout) against column-major (`w1t` holds its
    // transpose row-major: the head's layout, see `pipeline::head::mlp`).
    let w1t = w1.t().as_standard_layout().to_owned();
    let mut gw1t = Array2::<f32>::zeros((D, 256));
    g.bench_function("gemm_fwd_only", |b| {
        b.iter(|| gemm(1.0, x.view(), w1.t(), 0.0, a.view_mut()))
    });
    g.bench_function("gemm_fwd_only_w1t", |b| {
        b.iter(|| gemm(1.0, x.view(), w1t.view(), 0.0, a.view_mut()))
    });
    g.bench_function("gemm_dw1_only", |b| {
        b.iter(|| gemm(1.0, da.t(), x.view(), 0.0, gw1.view_mut()))
    });
    g.bench_function("gemm_dw1_only_t", |b| {
        b.iter(|| gemm(1.0, x.t(), da.view(), 0.0, gw1t.view_mut()))
    });
    g.finish();
}

criterion_group!(benches, epoch, epoch_f16_rows, products);
criterion_main!(benches);
