//! Stage `cache-info`: a feature cache's manifest in short (or in full with `--json`), after
//! checking every shard: by default its BLAKE3, rows and labels against the manifest, with
//! `--quick` only its presence and size. Any bad shard is named on stderr and the exit is 1.

use crate::cache::{self, FeatureCache, Manifest};
use crate::output::print_stdout;
use anyhow::Result;
use std::path::PathBuf;

/// Arguments of `pipeline cache-info`.
#[derive(Debug, clap::Args)]
pub struct CacheInfoArgs {
    /// Cache directory written by `pipeline extract`.
    pub cache: PathBuf,
    /// Print the whole manifest as JSON.
    #[arg(long)]
    pub json: bool,
    /// Check only that every shard is present with the size its header and the manifest call
    /// for (no hashing; misses bit flips).
    #[arg(long)]
    pub quick: bool,
    /// Accepted for older scripts: reading every shard is the default.
    #[arg(long, hide = true, conflicts_with = "quick")]
    pub verify: bool,
}

/// Runs `pipeline cache-info`.
pub fn run(args: CacheInfoArgs) -> Result<()> {
    let c = open(&args.cache)?;
    let bad = if args.quick {
        c.check_sizes()
    } else {
        c.verify()
    };
    for (_, reason) in &bad {
        eprintln!("{reason}");
    }
    if !bad.is_empty() {
        anyhow::bail!(
            "{} of {} shards in {} are missing or damaged ({}); rerun the same `pipeline extract` command to recompute them",
            bad.len(),
            c.manifest.shards.len(),
            args.cache.display(),
            bad.iter().map(|(f, _)| f.as_str()).collect::<Vec<_>>().join(", ")
        );
    }
    if args.json {
        print_stdout(&format!("{}\n", serde_json::to_string_pretty(&c.manifest)?))?;
        return Ok(());
    }
    print_stdout(&summary(&c.manifest))?;
    print_stdout(&format!(
        "verified     {} shards ({})\n",
        c.manifest.shards.len(),
        if args.quick {
            "present, sizes match; --quick skips the BLAKE3 check"
        } else {
            "BLAKE3, rows, labels"
        }
    ))
}

/// Opens the cache; one whose shards are missing is still opened, so each is reported.
fn open(dir: &std::path::Path) -> Result<FeatureCache> {
    match FeatureCache::open(dir) {
        Err(cache::CacheError::Damaged { .. }) => {
            let manifest: Manifest = cache::read_versioned(&dir.join(cache::MANIFEST))?;
            Ok(FeatureCache {
                dir: dir.to_owned(),
                manifest,
            })
        }
        other => Ok(other?),
    }
}

/// The short, human-readable description of a manifest.
pub fn summary(m: &Manifest) -> String {
    let s = &m.spec;
    let mut out = format!(
        "key          {}\nschema       {} (tool {})\nbackbone     {} (blake3 {})\nprovider     {}\nfeatures     {} × {:?}\npasses       {} (seed {})\nclasses      {}\n",
        m.key,
        m.schema_version,
        m.tool_version,
        m.stats.model_path,
        &s.backbone_hash[..s.backbone_hash.len().min(16)],
        m.stats.provider,
        s.feature_dim,
        s.dtype,
        s.passes,
        s.seed,
        s.classes.len()
    );
    if !m.stats.precision.is_empty() {
        out += &format!("precision    {} backbone\n", m.stats.precision);
    }
    if let Some(p) = s.splits.iter().find(|p| !p.views.is_empty()) {
        out += &format!("views        {} ({})\n", p.views.len(), p.views.join(", "));
    }
    for p in &s.splits {
        let rows: usize = m
            .shards
            .iter()
            .filter(|e| e.split == p.name && e.pass == 0)
            .map(|e| e.rows)
            .sum();
        out += &format!(
            "split {:<6} {} images, {} usable, {} pass{} ({})\n",
            p.name,
            p.images.len(),
            rows,
            p.passes,
            if p.passes == 1 { "" } else { "es" },
            if p.augmented {
                "augmented"
            } else {
                "eval view"
            }
        );
    }
    for p in &s.store {
        out += &format!(
            "kept   {:<6} {} images' eval view, for re-splits (not read for training)\n",
            p.name,
            p.images.len()
        );
    }
    out += &format!(
        "skipped      {}\nshards       {} in {}/\nextracted    computed {} views at {}, reused {} ({} new or changed images)\n",
        m.skipped.len(),
        m.shards.len(),
        cache::SHARDS,
        crate::output::thousands(m.stats.views),
        crate::progress::rate(m.stats.views_per_sec, "views"),
        crate::output::thousands(m.stats.reused_views),
        crate::output::thousands(m.stats.new_images)
    );
    out
}
