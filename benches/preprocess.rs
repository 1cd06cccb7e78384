//! Single-thread throughput of the eval transform and the train augmentation on a 500×375 photo
//! (`tests/fixtures/preprocess/in_rocket_500x375.png`), ImageNet config (256 → 224, NCHW f32).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use pipeline::preprocess::augment::{train_into, view_seed, AugmentConfig};
use pipeline::preprocess::{eval_into, PreprocessConfig};
use std::hint::black_box;

fn photo() -> image::RgbImage {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/preprocess/in_rocket_500x375.png"
    );
    match image::open(path) {
        Ok(img) => img.to_rgb8(),
        Err(e) => panic!("cannot decode the bench photo {path}: {e}"),
    }
}

fn bench(c: &mut Criterion) {
    let img = photo();
    let cfg = PreprocessConfig::default();
    let aug = AugmentConfig::default();
    let mut out = vec![0f32; cfg.tensor_len()];
    if let Err(e) =
        eval_into(&img, &cfg, &mut out).and_then(|()| train_into(&img, &cfg, &aug, 0, &mut out))
    {
        panic!("preprocessing the bench photo failed: {e}");
    }
    let mut g = c.benchmark_group("preprocess_500x375");
    g.throughput(Throughput::Elements(1));
    g.bench_function("eval_into", |b| {
        b.iter(|| eval_into(black_box(&img), &cfg, &mut out).map_err(|e| e.to_string()))
    });
    let mut pass = 0u32;
    g.bench_function("train_into", |b| {
        b.iter(|| {
            pass = pass.wrapping_add(1);
            let seed = view_seed(0, pass, "rocket/0001.png");
            train_into(black_box(&img), &cfg, &aug, seed, &mut out).map_err(|e| e.to_string())
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
