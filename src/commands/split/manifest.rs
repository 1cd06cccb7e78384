//! The split plan and `split.json`: probe the raw tree, assign, and describe every file.

use super::assign::{self, Candidate};
use super::{Mode, SplitConfig};
use crate::dataset::{self, SPLITS};
use anyhow::Context;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// `split.json` schema version.
pub const SCHEMA_VERSION: u32 = 1;

/// One placed file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SplitFile {
    /// Relative to the raw root and to `OUT/<split>`: "cat/001.jpg".
    pub path: String,
    /// "train", "valid" or "test".
    pub split: String,
    pub bytes: u64,
    pub blake3: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ClassCount {
    pub class: String,
    pub images: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Moved {
    pub path: String,
    pub from: String,
    pub to: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Unfilled {
    pub class: String,
    pub split: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Skipped {
    pub path: String,
    pub kind: String,
    pub reason: String,
}

/// Contents of `OUT/split.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SplitManifest {
    pub schema_version: u32,
    pub tool_version: String,
    /// Absolute path of the raw tree.
    pub source: String,
    pub seed: u64,
    /// Shares of train, valid, test (sum 1).
    pub ratios: [f64; 3],
    pub mode: String,
    /// "hash" (stable, expected shares) or "exact" (exact per-class shares).
    pub strategy: String,
    pub keep_small: bool,
    pub min_images: usize,
    /// Classes placed in OUT (sorted).
    pub classes: Vec<String>,
    /// class → split → images.
    pub counts: BTreeMap<String, BTreeMap<String, usize>>,
    /// Classes not placed: fewer than `min_images` usable images (without `keep_small`) or none.
    pub left_out: Vec<ClassCount>,
    /// Files moved from their hashed split by the one-per-split minimum.
    pub repaired: Vec<Moved>,
    /// (class, split) pairs left empty: no split could spare an image (duplicates).
    pub unfilled: Vec<Unfilled>,
    /// Files that are not usable images (not placed).
    pub unreadable: Vec<Skipped>,
    /// Usable files byte-identical to another one (a group always shares one split).
    pub duplicate_files: usize,
    /// Hard links that fell back to copies.
    pub fallback_copies: usize,
    /// Every placed file, sorted by path.
    pub files: Vec<SplitFile>,
}

/// Probes `raw` and decides every file's split (writes nothing).
pub fn plan(raw: &Path, cfg: &SplitConfig) -> anyhow::Result<SplitManifest> {
    let (classes, items) =
        dataset::scan_raw(raw).with_context(|| format!("cannot scan {}", raw.display()))?;
    let pb = crate::progress::bar(items.len() as u64, "probe", "files");
    let probed: Vec<Result<String, Skipped>> = items
        .par_iter()
        .map(|it| {
            let r = probe(&it.path(raw), &it.rel_path);
            pb.inc(1);
            r
        })
        .collect();
    pb.finish_and_clear();
    let mut key_of: HashMap<&str, &str> = HashMap::new();
    for (it, r) in items.iter().zip(&probed) {
        if let Ok(h) = r {
            let k = key_of.entry(h.as_str()).or_insert(it.rel_path.as_str());
            *k = (*k).min(it.rel_path.as_str());
        }
    }
    let mut cands = Vec::new();
    let mut usable = Vec::new();
    for (it, r) in items.iter().zip(&probed) {
        if let Ok(h) = r {
            let key = key_of[h.as_str()].to_string();
            cands.push(Candidate {
                rel_path: it.rel_path.clone(),
                class: it.label,
                key,
            });
            usable.push((it, h.clone()));
        }
    }
    let a = assign::assign(
        &cands,
        classes.len(),
        cfg.ratios,
        cfg.seed,
        cfg.keep_small,
        cfg.exact,
    );
    let files: Vec<SplitFile> = usable
        .iter()
        .zip(&a.split)
        .filter_map(|((it, h), s)| {
            s.map(|s| SplitFile {
                path: it.rel_path.clone(),
                split: SPLITS[s].into(),
                bytes: it.bytes,
                blake3: h.clone(),
            })
        })
        .collect();
    let groups = key_of.len();
    Ok(manifest(
        raw,
        cfg,
        &classes,
        &cands,
        &a,
        files,
        probed,
        cands.len() - groups,
    ))
}

fn probe(path: &Path, rel: &str) -> Result<String, Skipped> {
    let skipped = |e: crate::image_io::ImageLoadError| Skipped {
        path: rel.to_string(),
        kind: e.kind().into(),
        reason: e.reason(),
    };
    let bytes = crate::file_check::read(path, crate::file_check::MAX_IMAGE).map_err(|source| {
        skipped(crate::image_io::ImageLoadError::Io {
            path: path.to_path_buf(),
            source,
        })
    })?;
    crate::image_io::probe_bytes(&bytes, path).map_err(skipped)?;
    Ok(blake3::hash(&bytes).to_hex().to_string())
}

#[allow(clippy::too_many_arguments)]
fn manifest(
    raw: &Path,
    cfg: &SplitConfig,
    classes: &[String],
    cands: &[Candidate],
    a: &assign::Assignment,
    files: Vec<SplitFile>,
    probed: Vec<Result<String, Skipped>>,
    duplicates: usize,
) -> SplitManifest {
    let mut counts: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    for (c, s) in cands.iter().zip(&a.split) {
        if let Some(s) = s {
            let per = counts
                .entry(classes[c.class].clone())
                .or_insert_with(|| SPLITS.iter().map(|x| (x.to_string(), 0)).collect());
            *per.entry(SPLITS[*s].into()).or_insert(0) += 1;
        }
    }
    let mut usable = vec![0usize; classes.len()];
    for c in cands {
        usable[c.class] += 1;
    }
    let left_out = classes
        .iter()
        .zip(&usable)
        .filter(|(name, _)| !counts.contains_key(*name))
        .map(|(name, &n)| ClassCount {
            class: name.clone(),
            images: n,
        })
        .collect();
    let split_name = |s: usize| SPLITS[s].to_string();
    SplitManifest {
        schema_version: SCHEMA_VERSION,
        tool_version: env!("CARGO_PKG_VERSION").into(),
        source: super::absolute(raw).display().to_string(),
        seed: cfg.seed,
        ratios: cfg.ratios,
        mode: mode_name(cfg.mode).into(),
        strategy: if cfg.exact { "exact" } else { "hash" }.into(),
        keep_small: cfg.keep_small,
        min_images: assign::MIN_IMAGES,
        classes: counts.keys().cloned().collect(),
        counts,
        left_out,
        repaired: a
            .repairs
            .iter()
            .map(|r| Moved {
                path: r.path.clone(),
                from: split_name(r.from),
                to: split_name(r.to),
            })
            .collect(),
        unfilled: a
            .unfilled
            .iter()
            .map(|&(c, s)| Unfilled {
                class: classes[c].clone(),
                split: split_name(s),
            })
            .collect(),
        unreadable: probed.into_iter().filter_map(Result::err).collect(),
        duplicate_files: duplicates,
        fallback_copies: 0,
        files,
    }
}

fn mode_name(m: Mode) -> &'static str {
    match m {
        Mode::Hardlink => "hardlink",
        Mode::Symlink => "symlink",
        Mode::Copy => "copy",
    }
}

/// The summary printed by `pipeline split`.
pub fn summary_text(m: &SplitManifest, out: &Path) -> String {
    use std::fmt::Write;
    let mut o = String::new();
    let per: BTreeMap<&str, usize> = SPLITS
        .iter()
        .map(|s| (*s, m.files.iter().filter(|f| f.split == *s).count()))
        .collect();
    let _ = writeln!(
        o,
        "{} → {}: {} classes, {} images: train {}, valid {}, test {} (seed {}, ratios {:.2}/{:.2}/{:.2}, {}, {})",
        m.source, out.display(), m.classes.len(), m.files.len(), per["train"], per["valid"], per["test"],
        m.seed, m.ratios[0], m.ratios[1], m.ratios[2], m.strategy, m.mode
    );
    if !m.left_out.is_empty() {
        let l: Vec<String> = m
            .left_out
            .iter()
            .map(|c| format!("{} ({})", c.class, c.images))
            .collect();
        let _ = writeln!(
            o,
            "left out (< {} usable images; --keep-small puts them in train): {}",
            m.min_images,
            l.join(", ")
        );
    }
    if !m.repaired.is_empty() {
        let _ = writeln!(
            o,
            "moved to give every class one image per split: {}",
            m.repaired.len()
        );
    }
    for u in &m.unfilled {
        let _ = writeln!(
            o,
            "warning: {}/{} is empty (the class's images are copies of each other)",
            u.split, u.class
        );
    }
    if !m.unreadable.is_empty() {
        let _ = writeln!(o, "skipped {} unreadable files:", m.unreadable.len());
        for s in m.unreadable.iter().take(20) {
            let _ = writeln!(o, "  {}  [{}] {}", s.path, s.kind, s.reason);
        }
    }
    if m.duplicate_files > 0 {
        let _ = writeln!(
            o,
            "{} duplicate files kept in the split of their first copy",
            m.duplicate_files
        );
    }
    if m.fallback_copies > 0 {
        let _ = writeln!(
            o,
            "{} files copied because hard-linking failed (another device?)",
            m.fallback_copies
        );
    }
    let _ = writeln!(o, "wrote {}", out.join("split.json").display());
    o
}
