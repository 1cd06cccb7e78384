//! Rows of the chunk in progress, kept every few seconds so that an interrupted extract loses
//! little (a chunk holds up to 1,024 images; its shards are written only when it completes).
//!
//! `CACHE/partial/<key16>-<split>-c<chunk>-<tag>-s<seq>-p<pass>.safetensors`: a shard of one
//! pass's rows (`index` = the image's position in the split), written atomically; then
//! `CACHE/partial/<key16>-<split>-c<chunk>-<tag>.json` ([`PartialIndex`]) lists it with its
//! BLAKE3, rewritten last. `tag` tells apart the extracts that worked on a chunk. A resume
//! verifies every listed segment and reuses its rows ([`super::reuse::ReuseIndex::with_partial`]);
//! a chunk's partial files go once its shards are written, all of them when the cache is final.

use crate::cache::shard::{self, ShardData, ShardId};
use crate::cache::{CacheSpec, SplitPlan};
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Folder of the partial files inside a cache directory.
pub const PARTIAL: &str = "partial";
/// Seconds between saves of the rows computed so far (`0`: after every backbone call).
pub const FLUSH_ENV: &str = "PIPELINE_FLUSH_SECS";
/// The save interval when [`FLUSH_ENV`] is unset.
pub const DEFAULT_FLUSH_SECS: f64 = 15.0;
const INDEX_SCHEMA: u32 = 1;

/// The segments one extract saved of one chunk.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PartialIndex {
    pub schema_version: u32,
    pub key: String,
    pub split: String,
    pub chunk: u32,
    pub segments: Vec<Segment>,
}

/// One saved segment: a shard file of `rows` rows of pass `pass`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Segment {
    pub file: String,
    pub pass: u32,
    pub rows: usize,
    pub blake3: String,
}

/// `(image, pass, features)`: a computed row of the chunk in progress.
pub type Row = (u32, u32, Vec<f32>);

/// Saves the rows of the chunk in progress at most every [`FLUSH_ENV`] seconds.
pub struct Saver {
    dir: PathBuf,
    key: String,
    tag: String,
    interval: Duration,
    last: Instant,
    /// Rows of the chunk in progress already saved: a prefix of its accumulator.
    pub saved: usize,
    index: Option<PartialIndex>,
}

/// The save interval: [`FLUSH_ENV`] if it parses as seconds ≥ 0, else the default.
fn interval() -> Duration {
    let secs = std::env::var(FLUSH_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .unwrap_or(DEFAULT_FLUSH_SECS);
    Duration::from_secs_f64(secs)
}

/// File-name stem of chunk `chunk` of plan `plan`'s partial files.
fn chunk_stem(key: &str, plan: &str, chunk: u32) -> String {
    format!("{}-{plan}-c{chunk:05}-", CacheSpec::file_prefix(key))
}

impl Saver {
    pub fn new(cache_dir: &Path, key: &str) -> Saver {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        Saver {
            dir: cache_dir.join(PARTIAL),
            key: key.to_owned(),
            tag: format!("{}-{}", std::process::id(), nanos % 1_000_000_000_000),
            interval: interval(),
            last: Instant::now(),
            saved: 0,
            index: None,
        }
    }

    /// Saves `acc[saved..]` (rows of `plan`'s chunk `chunk`) when the interval has passed or
    /// `now` is set; returns the rows saved.
    pub fn save(
        &mut self,
        spec: &CacheSpec,
        plan: &SplitPlan,
        chunk: u32,
        acc: &[Row],
        now: bool,
    ) -> Result<usize> {
        if acc.len() <= self.saved || (!now && self.last.elapsed() < self.interval) {
            return Ok(0);
        }
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("creating {}", self.dir.display()))?;
        let stem = chunk_stem(&self.key, &plan.name, chunk);
        let index = self.index.get_or_insert_with(|| PartialIndex {
            schema_version: INDEX_SCHEMA,
            key: self.key.clone(),
            split: plan.name.clone(),
            chunk,
            segments: Vec::new(),
        });
        let seq = index.segments.len();
        let new = &acc[self.saved..];
        let mut passes: Vec<u32> = new.iter().map(|r| r.1).collect();
        passes.sort_unstable();
        passes.dedup();
        for pass in passes {
            let mut data = ShardData {
                features: Vec::new(),
                labels: Vec::new(),
                index: Vec::new(),
            };
            for (img, _, f) in new.iter().filter(|r| r.1 == pass) {
                data.features.extend_from_slice(f);
                data.labels.push(plan.images[*img as usize].label);
                data.index.push(*img);
            }
            let file = format!("{stem}{}-s{seq:04}-p{pass:03}.safetensors", self.tag);
            let id = ShardId {
                split: &plan.name,
                pass,
                chunk,
            };
            let blake3 = shard::write(
                &self.dir.join(&file),
                &self.key,
                id,
                spec.feature_dim,
                spec.dtype,
                &data,
                &[],
            )
            .context("keeping the rows computed so far")?;
            index.segments.push(Segment {
                file,
                pass,
                rows: data.index.len(),
                blake3,
            });
        }
        let ipath = self.dir.join(format!("{stem}{}.json", self.tag));
        crate::atomic::write_json(&ipath, &*index)?;
        let n = new.len();
        self.saved = acc.len();
        self.last = Instant::now();
        Ok(n)
    }

    /// The chunk's shards are written: its partial files (of this and earlier extracts) go.
    pub fn chunk_written(&mut self, plan: &SplitPlan, chunk: u32) {
        remove_chunk(&self.dir, &chunk_stem(&self.key, &plan.name, chunk));
        self.saved = 0;
        self.index = None;
        self.last = Instant::now();
    }
}

/// Removes the partial files whose names start with `stem`, the indexes first.
fn remove_chunk(dir: &Path, stem: &str) {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(stem))
        .map(|e| e.path())
        .collect();
    files.sort_by_key(|p| p.extension().is_none_or(|x| x != "json"));
    for f in files {
        let _ = std::fs::remove_file(f);
    }
}

/// Removes every partial file of the cache (it is complete). Only a sole writer calls this.
pub fn remove_all(cache_dir: &Path) {
    let dir = cache_dir.join(PARTIAL);
    if dir.exists() {
        if let Err(e) = std::fs::remove_dir_all(&dir) {
            eprintln!("could not remove {}: {e}", dir.display());
        }
    }
}

/// The partial indexes of cache `key` in `cache_dir` that parse, with their folder.
pub fn indexes(cache_dir: &Path, key: &str) -> Vec<PartialIndex> {
    let dir = cache_dir.join(PARTIAL);
    let prefix = format!("{}-", CacheSpec::file_prefix(key));
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.extension().is_some_and(|x| x == "json")
                && p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(&prefix))
        })
        .collect();
    paths.sort();
    paths
        .into_iter()
        .filter_map(|p| {
            let text = crate::file_check::read_to_string(&p, crate::file_check::MAX_JSON).ok()?;
            let idx: PartialIndex = serde_json::from_str(&text).ok()?;
            (idx.schema_version == INDEX_SCHEMA && idx.key == key).then_some(idx)
        })
        .collect()
}

/// Where segment `file` lies.
pub fn segment_path(cache_dir: &Path, file: &str) -> PathBuf {
    cache_dir.join(PARTIAL).join(file)
}
