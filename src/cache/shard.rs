//! One feature-cache shard: the features of up to `chunk_size` images of one (split, pass, chunk),
//! stored as safetensors (`features` [n, D] f32|f16, `labels` [n] u32, `index` [n] u32 = position in
//! the split's image list) with `__metadata__` naming the cache key and the shard's coordinates.
//! Written to a temporary name and renamed, so a shard file on disk is always complete.

mod encode;

use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Storage type of cached features.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FeatureDtype {
    F32,
    F16,
}

/// Where a shard sits in the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ShardId<'a> {
    pub split: &'a str,
    pub pass: u32,
    pub chunk: u32,
}

impl ShardId<'_> {
    /// File name inside `CACHE/shards/` for cache `key` (its first 16 hex digits lead, so
    /// caches of other inputs can share the folder until the new manifest replaces theirs).
    pub fn file_name(&self, key: &str) -> String {
        format!(
            "{}-{}-p{:03}-c{:05}.safetensors",
            super::CacheSpec::file_prefix(key),
            self.split,
            self.pass,
            self.chunk
        )
    }
}

/// Errors reading or writing a shard.
#[derive(Debug, thiserror::Error)]
pub enum ShardError {
    #[error("cannot read shard {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("shard {path} is damaged ({reason}); rerun the same `pipeline extract` command to recompute it")]
    Corrupt { path: PathBuf, reason: String },
    #[error("shard {path} belongs to cache key {found}, expected {expected}; rerun the same `pipeline extract` command to recompute it")]
    WrongKey {
        path: PathBuf,
        found: String,
        expected: String,
    },
    #[error("cannot write shard {path}: {reason}; check free disk space and permissions")]
    Write { path: PathBuf, reason: String },
}

/// The rows of one shard, features always widened to f32.
#[derive(Debug, Clone)]
pub struct ShardData {
    /// Row-major `[rows, dim]`.
    pub features: Vec<f32>,
    pub labels: Vec<u32>,
    pub index: Vec<u32>,
}

/// Feature values in the type a shard stores them.
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    F32(Vec<f32>),
    F16(Vec<half::f16>),
}

impl Values {
    fn all_finite(&self) -> bool {
        match self {
            Values::F32(v) => v.iter().all(|x| x.is_finite()),
            Values::F16(v) => v.iter().all(|x| x.is_finite()),
        }
    }

    /// The values as `f32` (exact).
    pub fn into_f32(self) -> Vec<f32> {
        match self {
            Values::F32(v) => v,
            Values::F16(v) => v.iter().map(|x| x.to_f32()).collect(),
        }
    }
}

/// The rows of one shard with the features in the shard's own type.
#[derive(Debug, Clone)]
pub struct ShardRows {
    /// Row-major `[rows, dim]`.
    pub features: Values,
    pub labels: Vec<u32>,
    pub index: Vec<u32>,
}

impl ShardRows {
    /// The same rows with the features widened to `f32`.
    pub fn widen(self) -> ShardData {
        ShardData {
            features: self.features.into_f32(),
            labels: self.labels,
            index: self.index,
        }
    }
}

fn u32_bytes(v: &[u32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// What the manifest says a shard holds; [`read_verified`] refuses a file that disagrees.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    pub blake3: &'a str,
    pub rows: usize,
    pub classes: usize,
}

/// A shard's header and content hash, from a full structural read.
#[derive(Debug, Clone)]
pub struct ShardInfo {
    pub meta: HashMap<String, String>,
    pub rows: usize,
    /// BLAKE3 of the whole file, 64 hex digits.
    pub blake3: String,
}

/// Writes a shard atomically; returns the BLAKE3 of the bytes written.
/// `features` is row-major `[labels.len(), dim]`.
pub fn write(
    path: &Path,
    key: &str,
    id: ShardId<'_>,
    dim: usize,
    dtype: FeatureDtype,
    data: &ShardData,
    extra_meta: &[(&str, String)],
) -> Result<String, ShardError> {
    let rows = data.labels.len();
    let err = |reason: String| ShardError::Write {
        path: path.to_owned(),
        reason,
    };
    if data.features.len() != rows * dim || data.index.len() != rows {
        return Err(err(format!(
            "inconsistent shard: {} feature values, {} labels, {} indices, width {dim}",
            data.features.len(),
            rows,
            data.index.len()
        )));
    }
    let (fdtype, fbytes): (Dtype, Vec<u8>) = match dtype {
        FeatureDtype::F32 => (
            Dtype::F32,
            data.features.iter().flat_map(|x| x.to_le_bytes()).collect(),
        ),
        FeatureDtype::F16 => (
            Dtype::F16,
            data.features
                .iter()
                .flat_map(|x| half::f16::from_f32(*x).to_le_bytes())
                .collect(),
        ),
    };
    let (lbytes, ibytes) = (u32_bytes(&data.labels), u32_bytes(&data.index));
    let tensors = [
        encode::Tensor {
            name: "features",
            dtype: fdtype,
            shape: vec![rows, dim],
            bytes: &fbytes,
        },
        encode::Tensor {
            name: "index",
            dtype: Dtype::U32,
            shape: vec![rows],
            bytes: &ibytes,
        },
        encode::Tensor {
            name: "labels",
            dtype: Dtype::U32,
            shape: vec![rows],
            bytes: &lbytes,
        },
    ];
    let mut meta = std::collections::BTreeMap::from([
        ("cache_key".to_string(), key.to_string()),
        ("split".to_string(), id.split.to_string()),
        ("pass".to_string(), id.pass.to_string()),
        ("chunk".to_string(), id.chunk.to_string()),
        ("rows".to_string(), rows.to_string()),
    ]);
    meta.extend(extra_meta.iter().map(|(k, v)| (k.to_string(), v.clone())));
    let bytes = encode::serialize(&tensors, &meta);
    crate::atomic::write_file(path, &bytes).map_err(|e| err(e.to_string()))?;
    Ok(blake3::hash(&bytes).to_hex().to_string())
}

/// Reads a shard's `__metadata__` from its header alone (not its tensors).
pub fn read_meta(path: &Path) -> Result<HashMap<String, String>, ShardError> {
    use std::io::Read;
    let io = |source| ShardError::Io {
        path: path.to_owned(),
        source,
    };
    let (mut f, len) = crate::file_check::open(path, crate::file_check::MAX_TENSORS).map_err(io)?;
    let mut n = [0u8; 8];
    f.read_exact(&mut n)
        .map_err(|_| corrupt(path, format!("file of {len} bytes has no header")))?;
    let n = u64::from_le_bytes(n);
    if n > 100_000_000 || n > len.saturating_sub(8) {
        return Err(corrupt(
            path,
            format!("header claims {n} bytes, the file has {len}"),
        ));
    }
    let mut header = vec![0u8; n as usize];
    f.read_exact(&mut header).map_err(io)?;
    let json: serde_json::Value = serde_json::from_slice(&header).map_err(|e| corrupt(path, e))?;
    let meta = json
        .get("__metadata__")
        .and_then(|m| serde_json::from_value(m.clone()).ok())
        .unwrap_or_default();
    Ok(meta)
}

/// Reads the cache key stored in a shard's metadata without decoding its tensors.
pub fn read_key(path: &Path) -> Result<String, ShardError> {
    read_meta(path)?
        .remove("cache_key")
        .ok_or_else(|| corrupt(path, "no cache_key in __metadata__"))
}

fn read_bytes(path: &Path) -> Result<Vec<u8>, ShardError> {
    crate::file_check::read(path, crate::file_check::MAX_TENSORS).map_err(|source| ShardError::Io {
        path: path.to_owned(),
        source,
    })
}

fn corrupt(path: &Path, e: impl std::fmt::Display) -> ShardError {
    ShardError::Corrupt {
        path: path.to_owned(),
        reason: e.to_string(),
    }
}

/// Reads a whole shard and checks its structure and key; returns its header and content hash.
pub fn inspect(path: &Path, key: &str) -> Result<ShardInfo, ShardError> {
    let bytes = read_bytes(path)?;
    let (meta, data) = decode(path, &bytes, key, None)?;
    Ok(ShardInfo {
        meta,
        rows: data.labels.len(),
        blake3: blake3::hash(&bytes).to_hex().to_string(),
    })
}

/// Reads a shard, checking its content hash against the manifest's before parsing it, then its
/// key, width, row count and labels.
pub fn read_verified(
    path: &Path,
    key: &str,
    dim: usize,
    want: Expected<'_>,
) -> Result<ShardData, ShardError> {
    read_verified_rows(path, key, dim, want).map(ShardRows::widen)
}

/// [`read_verified`] keeping the features in the shard's own type (`f16` stays `f16`).
pub fn read_verified_rows(
    path: &Path,
    key: &str,
    dim: usize,
    want: Expected<'_>,
) -> Result<ShardRows, ShardError> {
    let bytes = read_bytes(path)?;
    let found = blake3::hash(&bytes).to_hex().to_string();
    if found != want.blake3 {
        return Err(corrupt(
            path,
            format!(
                "content hash {} differs from the manifest's {} ({} bytes; truncated, modified or swapped)",
                &found[..16],
                &want.blake3[..want.blake3.len().min(16)],
                bytes.len()
            ),
        ));
    }
    let (_, data) = decode(path, &bytes, key, Some(dim))?;
    if data.labels.len() != want.rows {
        return Err(corrupt(
            path,
            format!(
                "{} rows, the manifest says {}",
                data.labels.len(),
                want.rows
            ),
        ));
    }
    if !data.features.all_finite() {
        return Err(corrupt(path, "features hold NaN or infinite values"));
    }
    if let Some(l) = data.labels.iter().find(|&&l| l as usize >= want.classes) {
        return Err(corrupt(
            path,
            format!("label {l} outside the {} classes", want.classes),
        ));
    }
    Ok(data)
}

/// Reads a shard, checking its key and feature width.
pub fn read(path: &Path, key: &str, dim: usize) -> Result<ShardData, ShardError> {
    let bytes = read_bytes(path)?;
    decode(path, &bytes, key, Some(dim)).map(|(_, d)| d.widen())
}

type Decoded = (HashMap<String, String>, ShardRows);

/// Parses shard bytes; `dim: None` accepts any feature width.
fn decode(path: &Path, bytes: &[u8], key: &str, dim: Option<usize>) -> Result<Decoded, ShardError> {
    let st = SafeTensors::deserialize(bytes).map_err(|e| corrupt(path, e))?;
    let (_, meta) = SafeTensors::read_metadata(bytes).map_err(|e| corrupt(path, e))?;
    let meta: HashMap<String, String> = meta
        .metadata()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    let found = meta.get("cache_key").cloned().unwrap_or_default();
    if found != key {
        return Err(ShardError::WrongKey {
            path: path.to_owned(),
            found,
            expected: key.to_owned(),
        });
    }
    let get = |name: &str| st.tensor(name).map_err(|e| corrupt(path, e));
    let (f, l, i) = (get("features")?, get("labels")?, get("index")?);
    let rows = l.shape().first().copied().unwrap_or(0);
    let dim = dim.unwrap_or_else(|| f.shape().get(1).copied().unwrap_or(0));
    if f.shape() != [rows, dim]
        || i.shape() != [rows]
        || l.shape() != [rows]
        || l.dtype() != Dtype::U32
        || i.dtype() != Dtype::U32
    {
        return Err(corrupt(
            path,
            format!(
                "features {:?} labels {:?} index {:?}, expected [{rows}, {dim}]",
                f.shape(),
                l.shape(),
                i.shape()
            ),
        ));
    }
    let features = match f.dtype() {
        Dtype::F32 => Values::F32(
            f.data()
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
        ),
        Dtype::F16 => Values::F16(
            f.data()
                .chunks_exact(2)
                .map(|c| half::f16::from_le_bytes([c[0], c[1]]))
                .collect(),
        ),
        other => return Err(corrupt(path, format!("features of dtype {other:?}"))),
    };
    let u32s = |t: &TensorView| -> Vec<u32> {
        t.data()
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    };
    let data = ShardRows {
        features,
        labels: u32s(&l),
        index: u32s(&i),
    };
    Ok((meta, data))
}

#[cfg(test)]
mod tests;
