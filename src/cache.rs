//! The feature cache: `CACHE/manifest.json` + safetensors shards under `CACHE/shards/`.
//!
//! Everything the features depend on is in a [`CacheSpec`] (backbone hash and sidecar,
//! preprocessing, augmentation, seed, passes, dtype, width, classes, image lists with each file's
//! BLAKE3); the BLAKE3 hash of its canonical JSON is the cache key, stamped into every shard and
//! prefixed to its file name. `plan.json` (the spec) is written when extraction starts, shards as
//! they complete, and `manifest.json` last: a directory without a manifest is an interrupted
//! extract, resumed by rerunning it.
//!
//! Rows are reused across specs by what they are (see [`row_family`]): an image's content hash and
//! the view's family (backbone, preprocessing, dtype, and the deterministic view's name or the
//! augmented pass with its seed). `manifests/<backbone>.json` keeps the latest complete manifest of
//! each backbone, so one directory can hold several backbones' rows; `manifest.json` is the one
//! readers use (the last extract's).

pub mod check;
mod error;
mod family;
mod load;
pub mod rows;
pub mod shard;
mod speed;
mod synthetic;
mod verify;

pub use error::CacheError;
pub use family::row_family;
pub use rows::Rows;
pub use synthetic::{write_synthetic, write_synthetic_as, write_synthetic_views};

use ndarray::Array2;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use shard::{FeatureDtype, ShardId};
use std::path::{Path, PathBuf};

/// Schema version of `manifest.json` / `plan.json` this build reads and writes.
pub const CACHE_SCHEMA: u32 = 2;
pub const MANIFEST: &str = "manifest.json";
pub const PLAN: &str = "plan.json";
pub const SHARDS: &str = "shards";
/// Folder of the latest complete manifest per backbone (`<backbone hash, 16 hex>.json`).
pub const MANIFESTS: &str = "manifests";
/// Name of the side plan that keeps the eval view of train images when the cache has no
/// deterministic views (so a re-split never recomputes eval views). Not read for training.
pub const TRAIN_EVAL: &str = "train.eval";

/// One source image as the cache saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CachedImage {
    /// Relative to the split folder, '/'-separated (`cat/001.jpg`).
    pub rel_path: String,
    pub label: u32,
    pub bytes: u64,
    /// BLAKE3 of the file's bytes (32 hex digits): the image's identity in the cache.
    pub blake3: String,
}

/// One split of the cache: `passes` rows of each image. Rows `0..views.len()` are the
/// deterministic views named in `views` (see [`crate::features::views`]); the rest, on an
/// `augmented` split, are random augmented passes `0, 1, …`. A cache without `views` (older
/// builds) has only augmented passes on train and the eval view on the other splits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SplitPlan {
    pub name: String,
    pub passes: u32,
    pub augmented: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub views: Vec<String>,
    pub images: Vec<CachedImage>,
}

/// What row `p` of an image holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowKind {
    /// A deterministic view, by name (`centre`, `top-left-flip`, …).
    View(String),
    /// Augmented pass `n` (its seed is derived from `n`).
    Augmented(u32),
}

impl SplitPlan {
    /// What row `pass` holds.
    pub fn row(&self, pass: u32) -> RowKind {
        let nv = self.views.len() as u32;
        if pass < nv {
            RowKind::View(self.views[pass as usize].clone())
        } else if self.augmented {
            RowKind::Augmented(pass - nv)
        } else {
            RowKind::View("centre".into())
        }
    }

    /// The deterministic views, with their row numbers (`centre` alone for an older eval split).
    pub fn view_rows(&self) -> Vec<(u32, String)> {
        (0..self.passes)
            .filter_map(|p| match self.row(p) {
                RowKind::View(v) => Some((p, v)),
                RowKind::Augmented(_) => None,
            })
            .collect()
    }

    /// Number of chunks of `chunk_size` images.
    pub fn chunks(&self, chunk_size: usize) -> u32 {
        self.images.len().div_ceil(chunk_size.max(1)) as u32
    }
}

/// Everything cached features depend on; its hash is the cache key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CacheSpec {
    pub schema_version: u32,
    /// BLAKE3 of the model file's bytes.
    pub backbone_hash: String,
    pub sidecar: Value,
    pub preprocess: Value,
    pub augment: Value,
    pub seed: u64,
    pub passes: u32,
    pub dtype: FeatureDtype,
    pub feature_dim: usize,
    pub chunk_size: usize,
    pub classes: Vec<String>,
    pub splits: Vec<SplitPlan>,
    /// Side plans cached for reuse only (the [`TRAIN_EVAL`] eval view of train images).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub store: Vec<SplitPlan>,
}

impl CacheSpec {
    /// The content key: BLAKE3 of the canonical JSON, 32 hex digits.
    pub fn key(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        blake3::hash(&json).to_hex()[..32].to_string()
    }

    pub fn split(&self, name: &str) -> Option<&SplitPlan> {
        self.splits.iter().find(|s| s.name == name)
    }

    /// Every plan with shards: the splits, then the side plans.
    pub fn plans(&self) -> impl Iterator<Item = &SplitPlan> {
        self.splits.iter().chain(&self.store)
    }

    /// Plan number `i` of [`plans`](Self::plans).
    pub fn plan_at(&self, i: usize) -> &SplitPlan {
        self.plans()
            .nth(i)
            .expect("plan index from CacheSpec::plans")
    }

    /// A split or side plan by name.
    pub fn plan(&self, name: &str) -> Option<&SplitPlan> {
        self.plans().find(|s| s.name == name)
    }

    /// The file-name prefix of this cache's shards.
    pub fn file_prefix(key: &str) -> &str {
        &key[..key.len().min(16)]
    }
}

/// An image that could not be used, with the reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Skipped {
    pub split: String,
    pub rel_path: String,
    pub reason: String,
}

/// A completed shard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardEntry {
    pub file: String,
    pub split: String,
    pub pass: u32,
    pub chunk: u32,
    pub rows: usize,
    /// BLAKE3 of the shard file, checked on every read.
    pub blake3: String,
}

/// How the cache was made (informational; not part of the key).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ExtractStats {
    pub provider: String,
    /// The backbone's precision (`f32`, `int8`; empty in caches made before it was recorded).
    #[serde(default)]
    pub precision: String,
    pub model_path: String,
    /// The split tree the images were read from, as given to `extract --data` (absolute when it
    /// could be resolved; empty in caches made before it was recorded).
    #[serde(default)]
    pub images_root: String,
    /// Views computed by the backbone in the extract that completed this cache.
    pub views: u64,
    /// Views copied from earlier caches in the directory instead.
    #[serde(default)]
    pub reused_views: u64,
    /// Images with no reusable row (new or changed files).
    #[serde(default)]
    pub new_images: u64,
    pub seconds: f64,
    pub views_per_sec: f64,
    pub created_unix: u64,
}

/// `manifest.json`: the spec, its key, and what extraction produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub schema_version: u32,
    pub tool_version: String,
    pub key: String,
    pub spec: CacheSpec,
    pub skipped: Vec<Skipped>,
    pub shards: Vec<ShardEntry>,
    pub stats: ExtractStats,
}

/// The features of one (split, pass), rows in image-list order (skipped images absent).
#[derive(Debug, Clone)]
pub struct SplitFeatures {
    /// `[N, D]`.
    pub features: Array2<f32>,
    pub labels: Vec<u32>,
    pub paths: Vec<String>,
}

/// The rows of one (split, pass) in the cache's storage type (see [`FeatureCache::load_rows`]).
#[derive(Debug, Clone)]
pub struct SplitRows {
    /// `[N, D]`.
    pub features: Rows,
    pub labels: Vec<u32>,
    pub paths: Vec<String>,
}

/// An opened, complete cache.
#[derive(Debug, Clone)]
pub struct FeatureCache {
    pub dir: PathBuf,
    pub manifest: Manifest,
}

/// Reads and version-checks a JSON file holding a `schema_version`.
pub fn read_versioned<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, CacheError> {
    let bad = |reason: String| CacheError::BadManifest {
        path: path.to_owned(),
        reason,
    };
    let text = crate::file_check::read_to_string(path, crate::file_check::MAX_JSON)
        .map_err(|e| bad(e.to_string()))?;
    let value: Value = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
    let found = value
        .get("schema_version")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    if found != CACHE_SCHEMA as u64 {
        return Err(CacheError::Version {
            path: path.to_owned(),
            found,
        });
    }
    serde_json::from_value(value).map_err(|e| bad(e.to_string()))
}

impl FeatureCache {
    /// Opens a complete cache, checking the manifest's schema and that its shards exist. `path`
    /// is a cache directory (its current `manifest.json`) or a manifest file of one: a
    /// directory's `manifests/<backbone>.json` opens that backbone's cache in it.
    pub fn open(path: &Path) -> Result<FeatureCache, CacheError> {
        if path.is_file() {
            let parent = path.parent().unwrap_or(Path::new("."));
            let dir = match parent.file_name() {
                Some(n) if n == MANIFESTS => parent.parent().unwrap_or(Path::new(".")),
                _ => parent,
            };
            return Self::open_manifest(dir, path);
        }
        Self::open_manifest(path, &path.join(MANIFEST))
    }

    /// The kept manifest of each backbone in cache directory `dir` (`manifests/*.json`, sorted
    /// by name), empty when it has none.
    pub fn kept_manifests(dir: &Path) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(dir.join(MANIFESTS))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        v.sort();
        v
    }

    /// Opens the cache described by manifest `mpath` of directory `dir` (`manifest.json`, or one
    /// of `manifests/`).
    pub fn open_manifest(dir: &Path, mpath: &Path) -> Result<FeatureCache, CacheError> {
        let mpath = mpath.to_owned();
        if !mpath.exists() {
            return Err(if dir.join(PLAN).exists() {
                CacheError::Incomplete(dir.to_owned())
            } else {
                CacheError::Missing(dir.to_owned())
            });
        }
        let manifest: Manifest = read_versioned(&mpath)?;
        if manifest.key != manifest.spec.key() {
            return Err(CacheError::BadManifest {
                path: mpath,
                reason: "its key does not match its contents (edited by hand?)".into(),
            });
        }
        verify::check_entries(&mpath, &manifest)?;
        if let Some(s) = manifest
            .shards
            .iter()
            .find(|s| !dir.join(SHARDS).join(&s.file).exists())
        {
            return Err(CacheError::Damaged {
                path: dir.to_owned(),
                reason: format!("shard {} is missing", s.file),
            });
        }
        Ok(FeatureCache {
            dir: dir.to_owned(),
            manifest,
        })
    }

    pub fn key(&self) -> &str {
        &self.manifest.key
    }
    pub fn classes(&self) -> &[String] {
        &self.manifest.spec.classes
    }
    pub fn feature_dim(&self) -> usize {
        self.manifest.spec.feature_dim
    }
    pub fn passes(&self) -> u32 {
        self.manifest.spec.passes
    }
    pub fn has_split(&self, split: &str) -> bool {
        self.manifest.spec.split(split).is_some()
    }
    pub fn backbone_hash(&self) -> &str {
        &self.manifest.spec.backbone_hash
    }
    pub fn preprocess_json(&self) -> Value {
        self.manifest.spec.preprocess.clone()
    }

    /// Number of passes stored for `split` (K for train, 1 for eval splits).
    pub fn split_passes(&self, split: &str) -> u32 {
        self.manifest.spec.split(split).map_or(0, |s| s.passes)
    }
}

/// Path of a shard inside a cache directory.
pub fn shard_path(dir: &Path, key: &str, id: ShardId<'_>) -> PathBuf {
    dir.join(SHARDS).join(id.file_name(key))
}
