//! Trusting a cache: the manifest's shard list must be exactly what its spec calls for, and every
//! shard read must match its recorded BLAKE3, row count and labels before a row is used.

use super::shard::{self, ShardData, ShardId, ShardRows};
use super::{CacheError, FeatureCache, Manifest, ShardEntry, SplitPlan, SHARDS};
use std::collections::HashSet;
use std::path::{Component, Path};

fn bad(path: &Path, reason: String) -> CacheError {
    CacheError::BadManifest {
        path: path.to_owned(),
        reason,
    }
}

/// Image positions `[start, end)` of a chunk in its split's image list.
pub(super) fn chunk_range(plan: &SplitPlan, chunk_size: usize, chunk: u32) -> (usize, usize) {
    let start = (chunk as usize).saturating_mul(chunk_size);
    let end = start.saturating_add(chunk_size).min(plan.images.len());
    (start.min(end), end)
}

/// Refuses a manifest whose shard list has unknown, duplicated, out-of-tree or missing entries,
/// or row counts its chunks cannot hold.
pub(super) fn check_entries(mpath: &Path, m: &Manifest) -> Result<(), CacheError> {
    let spec = &m.spec;
    let mut seen = HashSet::new();
    for e in &m.shards {
        let plain = {
            let mut c = Path::new(&e.file).components();
            matches!((c.next(), c.next()), (Some(Component::Normal(_)), None))
        };
        if !plain {
            return Err(bad(
                mpath,
                format!(
                    "shard entry {:?} is not a file name inside {SHARDS}/",
                    e.file
                ),
            ));
        }
        let plan = spec.plan(&e.split).ok_or_else(|| {
            bad(
                mpath,
                format!("shard {} belongs to unknown split `{}`", e.file, e.split),
            )
        })?;
        let id = ShardId {
            split: &e.split,
            pass: e.pass,
            chunk: e.chunk,
        };
        if e.file != id.file_name(&m.key)
            || e.pass >= plan.passes
            || e.chunk >= plan.chunks(spec.chunk_size)
        {
            return Err(bad(
                mpath,
                format!(
                    "shard entry {} (split {}, pass {}, chunk {}) is not part of this cache's plan",
                    e.file, e.split, e.pass, e.chunk
                ),
            ));
        }
        if !seen.insert(e.file.as_str()) {
            return Err(bad(mpath, format!("shard {} is listed twice", e.file)));
        }
        let (start, end) = chunk_range(plan, spec.chunk_size, e.chunk);
        if e.rows > end - start {
            return Err(bad(
                mpath,
                format!(
                    "shard {} claims {} rows, its chunk has {} images",
                    e.file,
                    e.rows,
                    end - start
                ),
            ));
        }
    }
    let want: usize = spec
        .plans()
        .map(|p| p.chunks(spec.chunk_size) as usize * p.passes as usize)
        .sum();
    if seen.len() != want {
        return Err(bad(
            mpath,
            format!("lists {} shards, its plan needs {want}", seen.len()),
        ));
    }
    Ok(())
}

impl FeatureCache {
    /// Reads one shard of `plan`, verified against its manifest entry: content hash, key, width,
    /// rows, labels in range and equal to the image list's, image positions inside the chunk.
    pub(super) fn read_entry(
        &self,
        plan: &SplitPlan,
        e: &ShardEntry,
    ) -> Result<ShardData, CacheError> {
        self.read_entry_rows(plan, e).map(ShardRows::widen)
    }

    /// [`read_entry`](Self::read_entry) keeping the features in the shard's own type.
    pub(super) fn read_entry_rows(
        &self,
        plan: &SplitPlan,
        e: &ShardEntry,
    ) -> Result<ShardRows, CacheError> {
        let spec = &self.manifest.spec;
        let path = self.dir.join(SHARDS).join(&e.file);
        let want = shard::Expected {
            blake3: &e.blake3,
            rows: e.rows,
            classes: spec.classes.len(),
        };
        let data = shard::read_verified_rows(&path, &self.manifest.key, spec.feature_dim, want)?;
        let (start, end) = chunk_range(plan, spec.chunk_size, e.chunk);
        let mut prev = None;
        for (&i, &label) in data.index.iter().zip(&data.labels) {
            let i = i as usize;
            let problem = if i < start || i >= end || prev.is_some_and(|p| p >= i) {
                Some(format!(
                    "image position {i} out of order or outside its chunk [{start}, {end})"
                ))
            } else if plan.images[i].label != label {
                Some(format!(
                    "row for {} has label {label}, the image list says {}",
                    plan.images[i].rel_path, plan.images[i].label
                ))
            } else {
                None
            };
            if let Some(reason) = problem {
                return Err(CacheError::Damaged { path, reason });
            }
            prev = Some(i);
        }
        Ok(data)
    }

    /// Reads and verifies every shard; returns `(file, what is wrong)` for each bad one.
    pub fn verify(&self) -> Vec<(String, String)> {
        let spec = &self.manifest.spec;
        self.manifest
            .shards
            .iter()
            .filter_map(|e| {
                let path = self.dir.join(SHARDS).join(&e.file);
                if path.symlink_metadata().is_err() {
                    let missing = format!("shard {} is missing", path.display());
                    return Some((e.file.clone(), missing));
                }
                let plan = spec.plan(&e.split)?;
                self.read_entry(plan, e)
                    .err()
                    .map(|err| (e.file.clone(), err.to_string()))
            })
            .collect()
    }
}

impl FeatureCache {
    /// Checks every shard's presence and size without reading its tensors: a regular file whose
    /// length is its header's plus the rows the manifest lists (features, image positions,
    /// labels); returns `(file, what is wrong)` for each bad one. Bit flips need [`Self::verify`].
    pub fn check_sizes(&self) -> Vec<(String, String)> {
        let spec = &self.manifest.spec;
        let value_bytes = match spec.dtype {
            shard::FeatureDtype::F32 => 4,
            shard::FeatureDtype::F16 => 2,
        };
        self.manifest
            .shards
            .iter()
            .filter_map(|e| {
                let path = self.dir.join(SHARDS).join(&e.file);
                let data =
                    (e.rows as u64).saturating_mul(spec.feature_dim as u64 * value_bytes + 8);
                shard_size_problem(&path, data).map(|why| (e.file.clone(), why))
            })
            .collect()
    }

    /// Reads shard entry `e` of this cache (a split's or a side plan's), verified as
    /// [`read_entry`](Self::read_entry) does.
    pub fn read_shard(&self, e: &ShardEntry) -> Result<ShardData, CacheError> {
        let plan = self.manifest.spec.plan(&e.split).ok_or_else(|| {
            bad(
                &self.dir.join(super::MANIFEST),
                format!("shard {} belongs to unknown split `{}`", e.file, e.split),
            )
        })?;
        self.read_entry(plan, e)
    }
}

/// What is wrong with the size of the shard at `path`, which should hold `data` tensor bytes
/// after its 8-byte header length and its header; `None` when nothing is.
fn shard_size_problem(path: &Path, data: u64) -> Option<String> {
    use std::io::Read;
    let (mut f, len) = match crate::file_check::open(path, crate::file_check::MAX_TENSORS) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Some(format!("shard {} is missing", path.display()))
        }
        Err(e) => return Some(format!("shard {}: {e}", path.display())),
    };
    let mut n = [0u8; 8];
    if len < 8 || f.read_exact(&mut n).is_err() {
        return Some(format!(
            "shard {} has {len} bytes, too few for a header (truncated or emptied)",
            path.display()
        ));
    }
    let want = 8u64
        .saturating_add(u64::from_le_bytes(n))
        .saturating_add(data);
    (len != want).then(|| {
        format!(
            "shard {} has {len} bytes, its header and the manifest's rows call for {want} (truncated or extended)",
            path.display()
        )
    })
}
