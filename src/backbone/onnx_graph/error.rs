//! Why a model file could not be read, with the fix.

use std::path::{Path, PathBuf};

/// The fix printed when a model file cannot be read as ONNX.
pub const MODEL_HINT: &str = "make it with `just vgg16-conv` (offline VGG-16), `just export-onnx` \
or another script in scripts/ (see models/README.md)";

/// Why a model file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum OnnxGraphError {
    #[error("model file {path} does not exist; {MODEL_HINT}")]
    Missing { path: PathBuf },
    #[error("cannot read model file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("model file {path} is empty (0 bytes); {MODEL_HINT}")]
    Empty { path: PathBuf },
    #[error("model file {path} is truncated ({bytes} bytes, protobuf ended early: {reason}); re-copy or regenerate it: {MODEL_HINT}")]
    Truncated {
        path: PathBuf,
        bytes: u64,
        reason: String,
    },
    #[error("{path} is not an ONNX model ({reason}); {MODEL_HINT}")]
    NotOnnx { path: PathBuf, reason: String },
}

impl OnnxGraphError {
    /// `Missing` for a file that does not exist, `Io` for any other read failure.
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        match source.kind() {
            std::io::ErrorKind::NotFound => Self::Missing {
                path: path.to_owned(),
            },
            _ => Self::Io {
                path: path.to_owned(),
                source,
            },
        }
    }
}
