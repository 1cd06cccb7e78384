//! Stage `audit`: likely label errors, hard images, near-duplicates and outliers found from a feature cache
//! (see the `audit` part), as `audit.json` and a short table on stdout.

use crate::audit::{explain, AuditConfig, AuditReport};
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
    /// A pair is a near-duplicate when it is at most this fraction as far apart as either image is
    /// from its 3rd-nearest other image (in features, or in 16×16 colour thumbnails).
    #[arg(long, default_value_t = AuditConfig::default().dup_ratio)]
    pub dup_ratio: f32,
    /// The split tree the cache was extracted from, for the pixel side of the near-duplicate
    /// check [default: the folder the cache records].
    #[arg(long, value_name = "DIR")]
    pub images: Option<PathBuf>,
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
            dup_ratio: self.dup_ratio,
            outlier_z: self.outlier_z,
            seed: self.seed,
        }
    }
}

/// Runs `pipeline audit`.
pub fn run(args: AuditArgs) -> Result<()> {
    if !(args.dup_ratio > 0.0 && args.dup_ratio < 1.0) {
        anyhow::bail!(
            "--dup-ratio {} is outside (0, 1); use a fraction such as 0.5 (lower flags fewer pairs)",
            args.dup_ratio
        );
    }
    let report = audit_cache(&args.features, &args.config(), args.images.as_deref())?;
    if let Some(path) = &args.json {
        crate::atomic::write_json(path, &report)?;
    }
    crate::output::print_stdout(&table(&report, args.top))
}

/// Opens the cache and audits it; `images` overrides the split tree the cache records.
pub fn audit_cache(
    features: &std::path::Path,
    cfg: &AuditConfig,
    images: Option<&std::path::Path>,
) -> Result<AuditReport> {
    let cache = FeatureCache::open(features)?;
    crate::audit::audit(&cache, cfg, images)
        .with_context(|| format!("auditing {}", features.display()))
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
    let _ = writeln!(
        s,
        "likely label errors: {} listed of {} found",
        r.label_issues.len(),
        r.label_check.errors
    );
    let _ = writeln!(s, "  {}", explain::labels(r));
    for i in r.label_issues.iter().take(top) {
        let why = match &i.duplicate_of {
            Some(d) => format!("near-duplicate {d} is filed there"),
            None => format!(
                "{} of its {} nearest photos are filed there",
                i.neighbours_suggested,
                crate::audit::KNN
            ),
        };
        let _ = writeln!(
            s,
            "  {:.3}  {}  given {} → suggested {} (p {:.2} vs {:.2}; {why})",
            i.score, i.path, i.given, i.suggested, i.p_given, i.p_suggested
        );
    }
    let _ = writeln!(
        s,
        "hard images: {} listed of {} found",
        r.hard_images.len(),
        r.label_check.hard
    );
    if r.label_check.hard_shown > 0 {
        let _ = writeln!(s, "  {}", explain::hard(r));
    }
    for i in r.hard_images.iter().take(top) {
        let _ = writeln!(
            s,
            "  {:.3}  {}  {}, taken for {} (p {:.2} vs {:.2})",
            i.score, i.path, i.given, i.suggested, i.p_given, i.p_suggested
        );
    }
    let cross = r.near_duplicates.iter().filter(|d| d.cross_split).count();
    let _ = writeln!(
        s,
        "near-duplicates: {} pairs, {cross} across splits",
        r.near_duplicates.len()
    );
    let _ = writeln!(s, "  {}", explain::duplicates(r));
    for d in r.near_duplicates.iter().take(top) {
        let flag = match (d.cross_split, d.label_conflict) {
            (true, true) => "  CROSS-SPLIT, TWO CLASSES",
            (true, false) => "  CROSS-SPLIT",
            (false, true) => "  TWO CLASSES",
            _ => "",
        };
        let pix = d
            .pixel_similarity
            .map_or("-".to_string(), |p| format!("{p:.3}"));
        let _ = writeln!(
            s,
            "  ratio {:.2}  cosine {:.3}  pixels {pix}  ({})  {}  ~  {}{flag}",
            d.ratio, d.similarity, d.evidence, d.a, d.b
        );
    }
    let _ = writeln!(s, "outliers: {}", r.outliers.len());
    let _ = writeln!(s, "  {}", explain::outliers(r));
    for o in r.outliers.iter().take(top) {
        let _ = writeln!(
            s,
            "  {:.3}  {}  ({}; nearest centre {}, z {:.1})",
            o.score, o.path, o.class, o.nearest, o.z
        );
    }
    s
}
