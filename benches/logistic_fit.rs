//! The logistic head's solver against linfa-logistic, the one it replaced: one fit from zero at
//! C = 31.6 (the C most often chosen on Tux Paint) on L2-normalised synthetic features (sparse
//! class centres plus noise, through a ReLU, like `make_cv_cache`), at a Tux-Paint-like size and
//! a larger one. Prints wall time of each (median of `--runs`), the own solver's iterations and
//! how far the two fits' probabilities differ.
//! linfa's gradient tolerance is set to the own one times the row count (it applies to the
//! summed objective, the own one to the per-row mean), its iteration cap to the same 300.
//! Run: `cargo bench --bench logistic_fit` (RAYON_NUM_THREADS pins the threads).

use ndarray::{Array2, Axis};
use pipeline::head::input::l2_normalize_rows;
use pipeline::head::logistic::{
    fit_logistic, fit_logistic_linfa, LogisticConfig, DEFAULT_MAX_ITER, DEFAULT_TOLERANCE,
};
use rand::Rng;
use std::time::Instant;

fn data(n: usize, d: usize, k: usize, seed: u64) -> (Array2<f32>, Vec<u32>) {
    let mut rng = pipeline::seed::rng(seed, &[b"logistic-bench"]);
    let centres = Array2::from_shape_simple_fn((k, d), || {
        if rng.gen_bool(0.1) {
            rng.gen_range(0.0f32..2.0)
        } else {
            0.0
        }
    });
    let y: Vec<u32> = (0..n).map(|i| (i % k) as u32).collect();
    let mut x = Array2::from_shape_fn((n, d), |(i, j)| {
        (centres[[y[i] as usize, j]] + rng.gen_range(-1.0f32..1.0)).max(0.0)
    });
    l2_normalize_rows(&mut x);
    (x, y)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let runs: usize = std::env::args()
        .skip_while(|a| a != "--runs")
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    for (name, n, d, k) in [("tux-like", 1560, 512, 27), ("larger", 4000, 1024, 100)] {
        let (x, y) = data(n, d, k, 0);
        let cfg = LogisticConfig {
            alpha: 1.0 / 31.6,
            max_iterations: DEFAULT_MAX_ITER,
            gradient_tolerance: DEFAULT_TOLERANCE,
        };
        let linfa_cfg = LogisticConfig {
            gradient_tolerance: DEFAULT_TOLERANCE * n as f64,
            ..cfg
        };
        let (mut own_t, mut linfa_t) = (Vec::new(), Vec::new());
        let (mut own, mut reference) = (None, None);
        for _ in 0..runs {
            let t = Instant::now();
            own = Some(fit_logistic(&[x.view()], &y, k, false, &cfg, None).expect("own fit"));
            own_t.push(t.elapsed().as_secs_f64());
            let t = Instant::now();
            reference =
                Some(fit_logistic_linfa(x.view(), &y, k, &linfa_cfg, None).expect("linfa fit"));
            linfa_t.push(t.elapsed().as_secs_f64());
        }
        let (own, reference) = (own.unwrap(), reference.unwrap());
        let (a, b) = (own.head.log_proba(x.view()), reference.log_proba(x.view()));
        let dp = (a.mapv(f32::exp) - b.mapv(f32::exp)).fold(0.0f32, |m, v| m.max(v.abs()));
        let argmax = |m: &Array2<f32>| -> Vec<usize> {
            m.axis_iter(Axis(0))
                .map(|r| (0..r.len()).max_by(|&i, &j| r[i].total_cmp(&r[j])).unwrap())
                .collect()
        };
        let agree = argmax(&a)
            .iter()
            .zip(argmax(&b))
            .filter(|(p, q)| **p == *q)
            .count();
        let (o, l) = (median(own_t), median(linfa_t));
        println!(
            "{name} ({n} rows x {d}, {k} classes): own {o:.3} s ({} iterations, {} evaluations, converged {}), linfa {l:.3} s; linfa/own = {:.1}x; max |Δp| {dp:.1e}, top-1 agreement {agree}/{n}",
            own.iterations, own.evaluations, own.converged, l / o
        );
    }
}
