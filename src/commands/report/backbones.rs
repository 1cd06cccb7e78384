//! The report's backbone section, shown when the work directory's cache holds more than one
//! backbone (`features/manifests/<backbone>.json`, one per `pipeline run --model`): each cache's
//! width and extract speed, and the comparison `pipeline cv --features A --features B --json
//! WORKDIR/backbones.json` wrote (cv is minutes of work, so the report reads it, never runs it).

use super::html::{esc, table, Cell};
use super::Workdir;
use crate::cache::FeatureCache;
use serde_json::Value;
use std::fmt::Write as _;
use std::path::Path;

/// The comparison file the section reads, in the work directory.
pub const COMPARISON_FILE: &str = "backbones.json";

/// The `cv` command (`program cv …`) that compares the kept caches of `workdir` into its
/// comparison file.
pub fn compare_command(program: &str, workdir: &Path, kept: &[std::path::PathBuf]) -> String {
    let mut cmd = format!("{program} cv");
    for k in kept {
        let _ = write!(cmd, " --features {}", k.display());
    }
    let _ = write!(cmd, " --json {}", workdir.join(COMPARISON_FILE).display());
    cmd
}

/// The section, `None` when the cache holds at most one backbone and no comparison was written.
pub fn backbones(w: &Workdir) -> Option<String> {
    let kept = FeatureCache::kept_manifests(&w.dir.join("features"));
    let comparison =
        super::read(&w.dir.join(COMPARISON_FILE)).filter(|v| v["kind"] == "cv-compare");
    if kept.len() < 2 && comparison.is_none() {
        return None;
    }
    let caches: Vec<FeatureCache> = kept
        .iter()
        .filter_map(|p| FeatureCache::open(p).ok())
        .collect();
    let current = w.cache.as_ref().map(|c| c.key().to_owned());
    let rows = caches
        .iter()
        .map(|c| {
            let s = &c.manifest.stats;
            vec![
                Cell::text(c.backbone_label()),
                Cell::text(if s.precision.is_empty() {
                    "?"
                } else {
                    &s.precision
                }),
                Cell::int(c.feature_dim()),
                c.images_per_sec()
                    .map_or(Cell::text("n/a"), |v| Cell::num(v, format!("{v:.1}"))),
                Cell::text(format!(
                    "{}{}",
                    c.key(),
                    if current.as_deref() == Some(c.key()) {
                        " (current)"
                    } else {
                        ""
                    }
                )),
            ]
        })
        .collect();
    let mut o = format!(
        "<p>{} backbones' caches in <code>{}</code> (one per <code>pipeline run --model</code>; the report's other sections use the current one). images/s: each extract's views/s ÷ the rows it computes per image.</p>",
        caches.len(),
        esc(&w.dir.join("features/manifests").display().to_string())
    );
    o += &table(
        &[
            "backbone",
            "precision",
            "width",
            "extract images/s",
            "cache key",
        ],
        rows,
        false,
    );
    let keys: Vec<&str> = caches.iter().map(FeatureCache::key).collect();
    match comparison {
        Some(v) => o += &comparison_table(&v, &keys),
        None => {
            let _ = write!(
                o,
                "<p class=\"note\">Not compared yet: <code>{}</code> runs each cache and their concatenation over the same re-splits and writes the table this section shows.</p>",
                esc(&compare_command("pipeline", &w.dir, &kept))
            );
        }
    }
    Some(o)
}

/// The comparison's table, with a note when it was made from caches no longer kept here.
fn comparison_table(v: &Value, keys: &[&str]) -> String {
    let entries = v["entries"].as_array().cloned().unwrap_or_default();
    let num = |e: &Value, k: &str| e[k].as_f64().unwrap_or(f64::NAN);
    let pm = |e: &Value, k: &str| {
        let (m, sd) = (num(e, &format!("{k}_mean")), num(e, &format!("{k}_sd")));
        Cell::num(m, format!("{m:.1} ± {sd:.1}"))
    };
    let rows = entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let d = num(e, "top1_diff_mean");
            vec![
                Cell::text(e["label"].as_str().unwrap_or("?")),
                Cell::int(e["feature_dim"].as_u64().unwrap_or(0) as usize),
                e["images_per_sec"]
                    .as_f64()
                    .map_or(Cell::text("n/a"), |x| Cell::num(x, format!("{x:.1}"))),
                pm(e, "top1"),
                pm(e, "top5"),
                if i == 0 {
                    Cell::text("—")
                } else {
                    Cell::num(
                        d,
                        format!(
                            "{d:+.1} ± {:.1} ({} / {})",
                            num(e, "top1_diff_sd"),
                            e["better"],
                            e["worse"]
                        ),
                    )
                },
            ]
        })
        .collect();
    let stale = entries
        .iter()
        .filter_map(|e| e["cache_key"].as_str())
        .any(|k| !keys.contains(&k));
    let mut o = format!(
        "<h3>Compared by cv</h3><p>{} repeats of a stratified re-split (seed {}), head {}; mean ± SD of test accuracy in %; Δ: paired difference of top-1 to the first row, points (re-splits better / worse).</p>",
        v["repeats"], v["seed"], esc(v["head"].as_str().unwrap_or("?"))
    );
    if stale {
        o += "<p class=\"note\">This comparison was made from caches that are no longer the ones kept here; rerun it.</p>";
    }
    o += &table(
        &[
            "features",
            "width",
            "images/s",
            "test top-1",
            "test top-5",
            "Δ top-1",
        ],
        rows,
        false,
    );
    o
}
