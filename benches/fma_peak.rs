//! The machine's f32 multiply-add peak: the floor that the head epoch's products are measured
//! against. Each thread runs 12 independent chains of fused multiply-adds on 16-lane vectors
//! (AVX-512; 8-lane AVX2 where the CPU lacks it) from registers, no memory traffic, for a fixed
//! count; prints GFLOP/s on 1 thread and on `THREADS` threads at once (default: all cores).
//! The head epoch (4,096 × 4,096 features, hidden 256, batch 128) does ≈ 17.2 GFLOP in its two
//! large products, so `17.2 / (GFLOP/s on 2 threads)` is its floor in seconds.
//! Run: `cargo bench --bench fma_peak` (`THREADS=2 cargo bench --bench fma_peak`).

use std::time::Instant;

/// Iterations per thread; each does 12 vector multiply-adds.
const ITERS: u64 = 200_000_000;

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn chains_avx512(iters: u64) -> (f32, u64) {
    use std::arch::x86_64::*;
    let mut acc = [_mm512_setzero_ps(); 12];
    for (i, a) in acc.iter_mut().enumerate() {
        *a = _mm512_set1_ps(i as f32 * 1e-3);
    }
    let (a, b) = (_mm512_set1_ps(0.9999), _mm512_set1_ps(1e-4));
    for _ in 0..iters {
        for v in acc.iter_mut() {
            *v = _mm512_fmadd_ps(*v, a, b);
        }
    }
    let sum = acc.iter().map(|v| _mm512_reduce_add_ps(*v)).sum();
    (sum, 12 * 16 * 2)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn chains_avx2(iters: u64) -> (f32, u64) {
    use std::arch::x86_64::*;
    let mut acc = [_mm256_setzero_ps(); 12];
    for (i, a) in acc.iter_mut().enumerate() {
        *a = _mm256_set1_ps(i as f32 * 1e-3);
    }
    let (a, b) = (_mm256_set1_ps(0.9999), _mm256_set1_ps(1e-4));
    for _ in 0..iters {
        for v in acc.iter_mut() {
            *v = _mm256_fmadd_ps(*v, a, b);
        }
    }
    let mut lanes = [0f32; 8];
    let sum = acc
        .iter()
        .map(|v| {
            _mm256_storeu_ps(lanes.as_mut_ptr(), *v);
            lanes.iter().sum::<f32>()
        })
        .sum();
    (sum, 12 * 8 * 2)
}

/// FLOP per second of one thread's chains, and their checksum (kept so nothing is optimised away).
fn one_thread() -> (f64, f32) {
    let start = Instant::now();
    #[cfg(target_arch = "x86_64")]
    let (sum, flop_per_iter) = if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: the CPU has AVX-512F (checked just above).
        unsafe { chains_avx512(ITERS) }
    } else if std::arch::is_x86_feature_detected!("avx2")
        && std::arch::is_x86_feature_detected!("fma")
    {
        // SAFETY: the CPU has AVX2 and FMA (checked just above).
        unsafe { chains_avx2(ITERS) }
    } else {
        eprintln!("fma_peak: needs AVX2+FMA or AVX-512F on x86_64");
        std::process::exit(0);
    };
    #[cfg(not(target_arch = "x86_64"))]
    let (sum, flop_per_iter) = {
        eprintln!("fma_peak: x86_64 only");
        std::process::exit(0);
    };
    let secs = start.elapsed().as_secs_f64();
    ((ITERS * flop_per_iter) as f64 / secs, sum)
}

fn main() {
    let threads: usize = std::env::var("THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let (single, s) = one_thread();
    let start = Instant::now();
    let results: Vec<(f64, f32)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads).map(|_| scope.spawn(one_thread)).collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("FMA thread"))
            .collect()
    });
    let wall = start.elapsed().as_secs_f64();
    let total: f64 = results.iter().map(|r| r.0).sum();
    let check: f32 = s + results.iter().map(|r| r.1).sum::<f32>();
    println!(
        "fma_peak: 1 thread {:.1} GFLOP/s; {threads} threads at once {:.1} GFLOP/s (sum of per-thread rates; {:.2} s wall); head epoch floor (17.2 GFLOP) {:.0} ms [checksum {check:.3}]",
        single / 1e9,
        total / 1e9,
        wall,
        17.2e9 / total * 1e3
    );
}
