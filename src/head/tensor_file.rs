//! Named float arrays in safetensors files (PyTorch's format), with string metadata, written
//! atomically (temp file, then rename).

use super::Float;
use ndarray::{ArrayD, ArrayViewD, IxDyn};
use safetensors::tensor::{SafeTensors, TensorView};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Why a tensor file could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum TensorFileError {
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read {path}: {source}; re-run train-head to recreate it")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a valid safetensors file ({source}); re-run train-head to recreate it")]
    Corrupt {
        path: PathBuf,
        source: safetensors::SafeTensorError,
    },
    #[error(
        "{path} has no tensor `{name}`; it was not written by this tool's train-head (re-run it)"
    )]
    Missing { path: PathBuf, name: String },
    #[error("{path}: tensor `{name}` is {found:?}, expected {expected:?}; re-run train-head")]
    Dtype {
        path: PathBuf,
        name: String,
        found: safetensors::Dtype,
        expected: safetensors::Dtype,
    },
}

/// Tensors to be written: name, shape, little-endian bytes.
#[derive(Default)]
pub struct TensorWriter {
    tensors: Vec<(String, Vec<usize>, Vec<u8>)>,
    metadata: HashMap<String, String>,
}

impl TensorWriter {
    /// Adds an array under `name` (any layout; stored in logical row-major order).
    pub fn add<F: Float>(&mut self, name: &str, a: ArrayViewD<F>) {
        let mut bytes = Vec::with_capacity(a.len() * std::mem::size_of::<F>());
        for v in a.iter() {
            match F::DTYPE {
                safetensors::Dtype::F64 => bytes.extend(v.as_f64().to_le_bytes()),
                _ => bytes.extend((v.as_f64() as f32).to_le_bytes()),
            }
        }
        self.tensors
            .push((name.to_string(), a.shape().to_vec(), bytes));
    }

    /// Adds a metadata entry (the file's `__metadata__`).
    pub fn meta(&mut self, key: &str, value: impl Into<String>) {
        self.metadata.insert(key.to_string(), value.into());
    }

    /// Writes `path` atomically.
    pub fn write(&self, path: &Path, dtype: safetensors::Dtype) -> Result<(), TensorFileError> {
        let views = self.tensors.iter().map(|(n, shape, bytes)| {
            TensorView::new(dtype, shape.clone(), bytes).map(|v| (n.clone(), v))
        });
        let views: Result<Vec<_>, _> = views.collect();
        let corrupt = |source| TensorFileError::Corrupt {
            path: path.to_path_buf(),
            source,
        };
        let bytes = safetensors::serialize(views.map_err(corrupt)?, Some(self.metadata.clone()))
            .map_err(corrupt)?;
        write_atomic(path, &bytes)
    }
}

/// Writes `bytes` to `path` through a temporary sibling and a rename ([`crate::atomic`]): on an
/// error (a full disk) the temporary is removed and `path` keeps its old content.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), TensorFileError> {
    crate::atomic::write_file(path, bytes).map_err(|source| TensorFileError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// A safetensors file read into memory.
pub struct TensorReader {
    pub path: PathBuf,
    bytes: Vec<u8>,
}

impl TensorReader {
    /// Reads and validates the header of `path`.
    pub fn open(path: &Path) -> Result<Self, TensorFileError> {
        let bytes =
            crate::file_check::read(path, crate::file_check::MAX_TENSORS).map_err(|source| {
                TensorFileError::Read {
                    path: path.to_path_buf(),
                    source,
                }
            })?;
        let r = TensorReader {
            path: path.to_path_buf(),
            bytes,
        };
        r.tensors()?;
        Ok(r)
    }

    fn tensors(&self) -> Result<SafeTensors<'_>, TensorFileError> {
        SafeTensors::deserialize(&self.bytes).map_err(|source| TensorFileError::Corrupt {
            path: self.path.clone(),
            source,
        })
    }

    /// The `__metadata__` map (empty if absent).
    pub fn metadata(&self) -> Result<HashMap<String, String>, TensorFileError> {
        let (_, meta) =
            SafeTensors::read_metadata(&self.bytes).map_err(|source| TensorFileError::Corrupt {
                path: self.path.clone(),
                source,
            })?;
        Ok(meta
            .metadata()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect())
    }

    /// Whether a tensor named `name` exists.
    pub fn has(&self, name: &str) -> bool {
        self.tensors().is_ok_and(|t| t.tensor(name).is_ok())
    }

    /// The tensor `name`, which must be stored as `F`'s dtype.
    pub fn array<F: Float>(&self, name: &str) -> Result<ArrayD<F>, TensorFileError> {
        let st = self.tensors()?;
        let t = st.tensor(name).map_err(|_| TensorFileError::Missing {
            path: self.path.clone(),
            name: name.to_string(),
        })?;
        if t.dtype() != F::DTYPE {
            return Err(TensorFileError::Dtype {
                path: self.path.clone(),
                name: name.to_string(),
                found: t.dtype(),
                expected: F::DTYPE,
            });
        }
        let values: Vec<F> = match F::DTYPE {
            safetensors::Dtype::F64 => t
                .data()
                .chunks_exact(8)
                .map(|c| F::of_f64(f64::from_le_bytes(c.try_into().unwrap_or([0; 8]))))
                .collect(),
            _ => t
                .data()
                .chunks_exact(4)
                .map(|c| F::of_f32(f32::from_le_bytes(c.try_into().unwrap_or([0; 4]))))
                .collect(),
        };
        ArrayD::from_shape_vec(IxDyn(t.shape()), values).map_err(|_| TensorFileError::Missing {
            path: self.path.clone(),
            name: name.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn round_trip_with_metadata_and_dtype_check() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.safetensors");
        let a = array![[1.5f32, -2.0, 3.25], [0.0, 1e-30, 7.0]];
        let mut w = TensorWriter::default();
        w.add("a", a.t().into_dyn());
        w.meta("k", "v");
        w.write(&p, safetensors::Dtype::F32).unwrap();
        let r = TensorReader::open(&p).unwrap();
        assert_eq!(r.array::<f32>("a").unwrap(), a.t().into_dyn());
        assert_eq!(r.metadata().unwrap()["k"], "v");
        assert!(matches!(
            r.array::<f64>("a"),
            Err(TensorFileError::Dtype { .. })
        ));
        assert!(matches!(
            r.array::<f32>("b"),
            Err(TensorFileError::Missing { .. })
        ));
        std::fs::write(&p, b"garbage").unwrap();
        assert!(matches!(
            TensorReader::open(&p),
            Err(TensorFileError::Corrupt { .. })
        ));
    }
}
