//! The audit's neighbour search on a real feature cache: the inverted-file search against the
//! exact all-pairs one, on all images or a seeded sample (`just bench-audit-knn`):
//!
//! `cargo run --release --example audit_knn -- FEATURES [--sample N] [--seed S] [--thumbnails]`
//!
//! Prints one JSON line per space (features; with `--thumbnails` also the 16×16 thumbnails): rows,
//! seconds of each search, recall of the 5 nearest and of the nearest, and the near-duplicate pairs
//! (features only) that each search's neighbours give and both give.

use pipeline::audit::{self, knn, thumbnails, ImageSet, KNN};
use pipeline::cache::FeatureCache;
use rand::seq::SliceRandom;
use std::path::PathBuf;
use std::time::Instant;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let (mut features, mut sample, mut seed, mut thumbs) = (None, None, 0u64, false);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--sample" => sample = Some(args.next().unwrap_or_default().parse()?),
            "--seed" => seed = args.next().unwrap_or_default().parse()?,
            "--thumbnails" => thumbs = true,
            _ => features = Some(PathBuf::from(a)),
        }
    }
    let Some(features) = features else {
        anyhow::bail!("usage: audit_knn FEATURES [--sample N] [--seed S] [--thumbnails]");
    };
    let cache = FeatureCache::open(&features)?;
    let mut set = audit::load_images(&cache)?;
    if let Some(m) = sample.filter(|&m| m < set.paths.len()) {
        let mut rows: Vec<usize> = (0..set.paths.len()).collect();
        rows.shuffle(&mut pipeline::seed::rng(seed, &[b"audit-knn-bench"]));
        rows.truncate(m);
        rows.sort_unstable();
        set = subset(&set, &rows);
    }
    let n = set.paths.len();
    let all = vec![true; n];
    let (exact, approx) = compare("features", set.x.view(), &all, seed);
    let pairs = |near: &knn::Near| {
        let (p, _) = audit::near_duplicates(&set, near, None, 0.5, String::new(), seed);
        p.into_iter().map(|d| (d.a, d.b)).collect::<Vec<_>>()
    };
    let (pe, pa) = (pairs(&exact), pairs(&approx));
    let both = pe.iter().filter(|p| pa.contains(p)).count();
    println!(
        "{}",
        serde_json::json!({"space": "features", "near_duplicates_exact": pe.len(),
            "near_duplicates_approximate": pa.len(), "near_duplicates_both": both})
    );
    if thumbs {
        let root = PathBuf::from(&cache.manifest.stats.images_root);
        let t = thumbnails::thumbnails(&thumbnails::sources(&root, &set.paths, &set.hashes));
        compare("thumbnails", t.x.view(), &t.ok, seed);
    }
    Ok(())
}

/// Times both searches on one space and prints their recall.
fn compare(
    space: &str,
    x: ndarray::ArrayView2<f32>,
    usable: &[bool],
    seed: u64,
) -> (knn::Near, knn::Near) {
    let m = usable.iter().filter(|&&u| u).count();
    let t = Instant::now();
    let exact = knn::exact(x, usable, KNN);
    let exact_s = t.elapsed().as_secs_f64();
    let cells = m.div_ceil(knn::CELL_ROWS);
    let t = Instant::now();
    let approx = knn::approximate(x, usable, KNN, seed, cells, knn::PROBES);
    let approx_s = t.elapsed().as_secs_f64();
    let first = |near: &knn::Near| near.iter().map(|v| v[..v.len().min(1)].to_vec()).collect();
    println!(
        "{}",
        serde_json::json!({"space": space, "rows": m, "cells": cells, "probes": knn::PROBES,
            "exact_s": exact_s, "approximate_s": approx_s,
            "recall_at_5": knn::recall(&exact, &approx),
            "recall_at_1": knn::recall(&first(&exact), &first(&approx))})
    );
    (exact, approx)
}

/// The rows `rows` of `set`.
fn subset(set: &ImageSet, rows: &[usize]) -> ImageSet {
    let pick = |v: &[String]| rows.iter().map(|&i| v[i].clone()).collect::<Vec<_>>();
    ImageSet {
        x: set.x.select(ndarray::Axis(0), rows),
        labels: rows.iter().map(|&i| set.labels[i]).collect(),
        paths: pick(&set.paths),
        splits: pick(&set.splits),
        classes: set.classes.clone(),
        hashes: rows.iter().map(|&i| set.hashes[i].clone()).collect(),
    }
}
