//! Writes a Caltech-sized synthetic feature cache for the `pipeline cv --repeats 20` benchmark:
//! 8,300 images of 100 classes split 50/25/25 like `pipeline run` (train 4,150, valid and test
//! 2,075 each), 12 views of every image in every split (`cv` re-splits all images, so all need the
//! same views), 4,096-d non-negative (fc7-like) f32 features.
//!
//! Each class has a sparse random centre; an image is `relu(centre + image noise)` and each of its
//! views adds view noise before the ReLU, so the classes overlap and the views of one image are
//! correlated, as augmented views are. ≈ 1.6 GB on disk, and in memory while writing.
//! Run: `cargo run --release --example make_cv_cache -- --out work/cv-synthetic` (or `just bench-cv`).

use anyhow::{ensure, Context};
use clap::Parser;
use ndarray::Array2;
use pipeline::cache::shard::FeatureDtype;
use pipeline::features::views::ViewSet;
use rand::Rng;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Debug, Parser)]
struct Args {
    /// Cache directory to create (must not exist yet).
    #[arg(long)]
    out: PathBuf,
    /// Images in all three splits together.
    #[arg(long, default_value_t = 8300)]
    images: usize,
    #[arg(long, default_value_t = 100)]
    classes: usize,
    /// Views per image, in every split (named as `--views ten-crop+whole` names its rows).
    #[arg(long, default_value_t = 12)]
    views: u32,
    #[arg(long, default_value_t = 4096)]
    dim: usize,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Amplitude of each image's noise around its class centre (uniform ±). The default 1.0 makes
    /// classes that every head separates perfectly (the MLP's early stopping then runs to its
    /// epoch cap); with 10 the classes overlap (logistic head ≈ 76 % test top-1, measured).
    #[arg(long, default_value_t = 1.0)]
    image_noise: f32,
    /// Amplitude of each view's noise around its image (uniform ±).
    #[arg(long, default_value_t = 0.35)]
    view_noise: f32,
    /// Storage type of the features (`f16` as `extract --dtype f16` writes them).
    #[arg(long, value_enum, default_value = "f32")]
    dtype: FeatureDtype,
}

/// `[views·n, D]` pass-major features and `n` labels (class `i % K`, so classes stay balanced).
fn split(
    a: &Args,
    centres: &Array2<f32>,
    n: usize,
    views: u32,
    name: &str,
) -> (Array2<f32>, Vec<u32>) {
    let mut rng = pipeline::seed::rng(a.seed, &[b"cv-cache", name.as_bytes()]);
    let labels: Vec<u32> = (0..n).map(|i| (i % a.classes) as u32).collect();
    let mut feats = Array2::<f32>::zeros((views as usize * n, a.dim));
    let mut pre = vec![0f32; a.dim];
    for (i, &y) in labels.iter().enumerate() {
        for (p, c) in pre.iter_mut().zip(centres.row(y as usize)) {
            *p = c + a.image_noise * rng.gen_range(-1.0f32..1.0);
        }
        for v in 0..views as usize {
            let mut row = feats.row_mut(v * n + i);
            let noise = if views > 1 { a.view_noise } else { 0.0 };
            for (dst, &p) in row.iter_mut().zip(&pre) {
                *dst = (p + noise * rng.gen_range(-1.0f32..1.0)).max(0.0);
            }
        }
    }
    (feats, labels)
}

fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    ensure!(
        !a.out.exists(),
        "{} already exists; remove it or pick another --out",
        a.out.display()
    );
    ensure!(
        a.classes > 0 && a.images >= 4 * a.classes && (1..=12).contains(&a.views) && a.dim > 0,
        "need --classes ≥ 1, --images ≥ 4·classes, --views 1…12 and --dim ≥ 1"
    );
    let start = Instant::now();
    let mut rng = pipeline::seed::rng(a.seed, &[b"cv-cache", b"centres"]);
    let centres = Array2::from_shape_simple_fn((a.classes, a.dim), || {
        if rng.gen_bool(0.3) {
            rng.gen_range(0.0f32..2.0)
        } else {
            0.0
        }
    });
    let n_train = a.images / 2;
    let n_valid = (a.images - n_train) / 2;
    let n_test = a.images - n_train - n_valid;
    let classes: Vec<String> = (0..a.classes).map(|k| format!("class_{k:03}")).collect();
    let train = split(&a, &centres, n_train, a.views, "train");
    let valid = split(&a, &centres, n_valid, a.views, "valid");
    let test = split(&a, &centres, n_test, a.views, "test");
    let view_names = ViewSet::TenCropWhole.names();
    let cache = pipeline::cache::write_synthetic_as(
        &a.out,
        &classes,
        &[
            ("train", a.views, train.0, train.1),
            ("valid", a.views, valid.0, valid.1),
            ("test", a.views, test.0, test.1),
        ],
        &view_names[..a.views as usize],
        a.dtype,
    )
    .with_context(|| format!("writing the synthetic cache {}", a.out.display()))?;
    println!(
        "wrote {}: {} classes, {} views of train {n_train}, valid {n_valid}, test {n_test} images, {}-d {:?}, in {:.1} s",
        cache.dir.display(),
        a.classes,
        a.views,
        a.dim,
        a.dtype,
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
