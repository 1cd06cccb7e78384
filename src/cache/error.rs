//! Errors opening or reading a cache, each with the command that fixes it.

use super::shard::ShardError;
use super::CACHE_SCHEMA;
use std::path::PathBuf;

/// Errors opening or reading a cache.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("no feature cache at {0}: run `pipeline extract --out {0}` first")]
    Missing(PathBuf),
    #[error("feature cache {0} is incomplete (extract was interrupted or is still running on other shards): rerun the same `pipeline extract` command to finish it")]
    Incomplete(PathBuf),
    #[error("cannot read {path}: {reason}; rerun `pipeline extract --force` to rebuild the cache")]
    BadManifest { path: PathBuf, reason: String },
    #[error("cache {path} has schema_version {found}, this build reads {CACHE_SCHEMA}; rebuild it with `pipeline extract --force`")]
    Version { path: PathBuf, found: u64 },
    #[error("cache {dir} has no split `{split}` (it has: {have}); extract a split tree that contains it")]
    NoSplit {
        dir: PathBuf,
        split: String,
        have: String,
    },
    #[error("cache {dir} has no pass {pass} of split `{split}` (passes: {passes})")]
    NoPass {
        dir: PathBuf,
        split: String,
        pass: u32,
        passes: u32,
    },
    #[error("cache {path}: {reason}; rerun the same `pipeline extract` command to recompute it")]
    Damaged { path: PathBuf, reason: String },
    #[error(transparent)]
    Shard(#[from] ShardError),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl From<crate::atomic::WriteError> for CacheError {
    fn from(e: crate::atomic::WriteError) -> Self {
        CacheError::Write {
            path: e.path,
            source: e.source,
        }
    }
}
