//! Stage `audit`: likely label errors, near-duplicates and outliers found from a feature cache
//! (see the `audit` part), as `audit.json` and a short table on stdout.

use crate::audit::{AuditConfig, AuditReport};
use crate::cache::FeatureCache;
use anyhow::{Context, Result};
use std::fmt::Write as _;
use std::path::PathBuf;

/// Arguments of `pipeline audit`.
#[derive(Debug, Clone, clap::Args)]
pub struct AuditArgs {
    /// Feature cache written by `pipeline extract`.
    #[arg(long)]
    pub features: PathBuf,
    /// Write the full results here as JSON [default: not written].
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Folds of the out-of-fold predictions.
    #[arg(long, default_value_t = 5)]
    pub folds: usize,
    /// Feature cosine (centred, L2-normalised) at or above which two images are near-duplicates.
    #[arg(long, default_value_t = AuditConfig::default().dup_threshold)]
    pub dup_threshold: f32,
    /// Robust z-score of the distance to the nearest class centre that makes an outlier.
    #[arg(long, default_value_t = AuditConfig::default().outlier_z)]
    pub outlier_z: f32,
    /// Seed of the fold assignment.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Rows per section in the table on stdout.
    #[arg(long, default_value_t = 10)]
    pub top: usize,
}

impl AuditArgs {
    fn config(&self) -> AuditConfig {
        AuditConfig {
            folds: self.folds,
            dup_threshold: self.dup_threshold,
            outlier_z: self.outlier_z,
            seed: self.seed,
        }
    }
}

/// Runs `pipeline audit`.
pub fn run(args: AuditArgs) -> Result<()> {
    let report = audit_cache(&args.features, &args.config())?;
    if let Some(path) = &args.json {
        crate::atomic::write_json(path, &report)?;
    }
    crate::output::print_stdout(&table(&report, args.top))
}

/// Opens the cache and audits it.
pub fn audit_cache(features: &std::path::Path, cfg: &AuditConfig) -> Result<AuditReport> {
    let cache = FeatureCache::open(features)?;
    crate::audit::audit(&cache, cfg).with_context(|| format!("auditing {}", features.display()))
}

/// The short human table.
pub fn table(r: &AuditReport, top: usize) -> String {
    let mut s = format!(
        "audit of {} images in {} classes: out-of-fold top-1 {:.1} % ({} folds)\n",
        r.images,
        r.classes,
        r.oof_accuracy * 100.0,
        r.config.folds
    );
    let _ = writeln!(s, "likely label errors: {}", r.label_issues.len());
    for i in r.label_issues.iter().take(top) {
        let _ = writeln!(
            s,
            "  {:.3}  {}  given {} → suggested {} (p {:.2} vs {:.2})",
            i.score, i.path, i.given, i.suggested, i.p_given, i.p_suggested
        );
    }
    let cross = r.near_duplicates.iter().filter(|d| d.cross_split).count();
    let _ = writeln!(
        s,
        "near-duplicates (cosine ≥ {}): {} pairs, {cross} across splits",
        r.config.dup_threshold,
        r.near_duplicates.len()
    );
    for d in r.near_duplicates.iter().take(top) {
        let flag = if d.cross_split { "  CROSS-SPLIT" } else { "" };
        let _ = writeln!(s, "  {:.3}  {}  ~  {}{flag}", d.similarity, d.a, d.b);
    }
    let _ = writeln!(
        s,
        "outliers (robust z ≥ {}): {}",
        r.config.outlier_z,
        r.outliers.len()
    );
    for o in r.outliers.iter().take(top) {
        let _ = writeln!(
            s,
            "  {:.3}  {}  ({}; nearest centre {}, z {:.1})",
            o.score, o.path, o.class, o.nearest, o.z
        );
    }
    s
}
