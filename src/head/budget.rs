//! Memory a head's training needs, estimated from its sizes before anything is allocated, so a
//! size that cannot fit (`--hidden 4000000000`) is refused up front with the numbers instead of
//! aborting on a failed allocation half-way through a run.
//!
//! Shapes: `N` train rows (all passes), `M` valid rows, `D` features, `H` hidden, `K` classes,
//! `B` batch, `E` ensemble members. Bytes are f32 (4) for the MLP and f64 (8) for the logistic
//! head; the estimate counts the large buffers and leaves out small ones.

/// Sizes of one training, as resolved from the flags, the preset and the cache.
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    /// `N`: train rows over all cached passes.
    pub train_rows: u64,
    /// `M`.
    pub valid_rows: u64,
    pub features: u64,
    pub classes: u64,
    /// `H`, `B` and `E` when an MLP is trained.
    pub mlp: Option<MlpSizes>,
    /// Whether a logistic head is fitted too.
    pub logistic: bool,
}

/// `H`, `B`, `E`.
#[derive(Debug, Clone, Copy)]
pub struct MlpSizes {
    pub hidden: u64,
    pub batch: u64,
    pub members: u64,
}

/// Bytes held while training (f64 so that absurd sizes do not overflow): the cached features,
/// then per MLP member its weights, gradients, Adam moments and best and last copies
/// (`6·(D·H + H + H·K + K)` floats), the batch activations (`B·(D + 3H + 2K)`, twice for the
/// backward pass) and validation outputs (`M·(H + K)`); the logistic head's weights, gradient
/// and ten L-BFGS pairs (`25·D·K` f64) and its normalised copy of the rows (`(N + M)·D` f64).
pub fn bytes_needed(s: &Sizes) -> f64 {
    let (n, m, d, k) = (
        s.train_rows as f64,
        s.valid_rows as f64,
        s.features as f64,
        s.classes as f64,
    );
    let mut floats = (n + m) * d;
    if let Some(p) = s.mlp {
        let (h, b, e) = (
            p.hidden as f64,
            p.batch.min(s.train_rows) as f64,
            p.members as f64,
        );
        let params = d * h + h + h * k + k;
        floats += e * 6.0 * params + 2.0 * b * (d + 3.0 * h + 2.0 * k) + m * (h + k);
    }
    let mut bytes = 4.0 * floats;
    if s.logistic {
        bytes += 8.0 * (25.0 * d * k + (n + m) * d);
    }
    bytes
}

/// This machine's memory for one process: physical memory, or the cgroup's limit when lower.
pub fn memory_limit() -> Option<u64> {
    let total = std::fs::read_to_string("/proc/meminfo").ok().and_then(|t| {
        let line = t.lines().find(|l| l.starts_with("MemTotal:"))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib.saturating_mul(1024))
    });
    let cgroup = [
        "/sys/fs/cgroup/memory.max",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
    ]
    .iter()
    .find_map(|p| std::fs::read_to_string(p).ok()?.trim().parse::<u64>().ok());
    match (total, cgroup) {
        (Some(t), Some(c)) => Some(t.min(c)),
        (t, c) => t.or(c),
    }
}

/// `1234567890` → `1.15 GiB`.
pub fn human(bytes: f64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut v = bytes;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < units.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{v:.0} B")
    } else {
        format!("{v:.2} {}", units[u])
    }
}

/// Refuses sizes whose training needs more memory than `limit` bytes, naming the sizes, the
/// estimate and the limit.
pub fn check(s: &Sizes, limit: u64) -> anyhow::Result<()> {
    let need = bytes_needed(s);
    if need <= limit as f64 {
        return Ok(());
    }
    let what = match s.mlp {
        Some(p) => format!(
            "an MLP of {} hidden units ({} member{}, batch {}) on {} features and {} classes",
            p.hidden,
            p.members,
            if p.members == 1 { "" } else { "s" },
            p.batch,
            s.features,
            s.classes
        ),
        None => format!(
            "a logistic head on {} features and {} classes",
            s.features, s.classes
        ),
    };
    anyhow::bail!(
        "training {what} over {} train and {} valid rows needs about {} of memory, this machine has {}; lower --hidden (presets use 256), --batch or --ensemble",
        s.train_rows,
        s.valid_rows,
        human(need),
        human(limit as f64)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sizes(hidden: u64, batch: u64) -> Sizes {
        Sizes {
            train_rows: 1000,
            valid_rows: 100,
            features: 512,
            classes: 10,
            mlp: Some(MlpSizes {
                hidden,
                batch,
                members: 1,
            }),
            logistic: false,
        }
    }

    #[test]
    fn estimate_counts_weights_state_and_batch() {
        let s = sizes(256, 64);
        let params = 512.0 * 256.0 + 256.0 + 256.0 * 10.0 + 10.0;
        let want = 4.0
            * (1100.0 * 512.0 + 6.0 * params + 2.0 * 64.0 * (512.0 + 768.0 + 20.0) + 100.0 * 266.0);
        assert_eq!(bytes_needed(&s), want);
        // A batch larger than the data holds only the data's rows.
        assert_eq!(
            bytes_needed(&sizes(256, u64::MAX)),
            bytes_needed(&sizes(256, 1000))
        );
    }

    #[test]
    fn rejects_an_absurd_hidden_size_with_the_numbers() {
        assert!(check(&sizes(256, 64), 1 << 30).is_ok());
        let e = check(&sizes(4_000_000_000, 64), 64 << 30)
            .unwrap_err()
            .to_string();
        assert!(e.contains("4000000000 hidden units"), "{e}");
        assert!(e.contains("TiB") && e.contains("64.00 GiB"), "{e}");
        assert!(e.contains("lower --hidden"), "{e}");
    }
}
