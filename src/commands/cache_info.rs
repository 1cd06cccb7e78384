//! Stage `cache-info`: a feature cache's manifest in short (or in full with `--json`).

use crate::cache::{self, FeatureCache, Manifest};
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
    /// Read every shard and check it against the manifest (BLAKE3, rows, labels).
    #[arg(long)]
    pub verify: bool,
}

/// Runs `pipeline cache-info`.
pub fn run(args: CacheInfoArgs) -> Result<()> {
    let c = FeatureCache::open(&args.cache)?;
    if args.verify {
        let bad = c.verify();
        for (_, reason) in &bad {
            eprintln!("{reason}");
        }
        if !bad.is_empty() {
            anyhow::bail!(
                "{} of {} shards in {} failed verification; rerun the same `pipeline extract` command to recompute them",
                bad.len(),
                c.manifest.shards.len(),
                args.cache.display()
            );
        }
        crate::output::print_stdout(&format!(
            "verified {} shards (BLAKE3, rows, labels) in {}\n",
            c.manifest.shards.len(),
            args.cache.display()
        ))?;
        if !args.json {
            return Ok(());
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&c.manifest)?);
        return Ok(());
    }
    print!("{}", summary(&c.manifest));
    Ok(())
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
