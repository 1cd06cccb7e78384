//! The backbone sidecar `<model>.json`: how to feed the model and where its weights came from.
//!
//! Written by `scripts/export_onnx.py`, `scripts/make_vgg16_conv.py` and the fixture generators;
//! read by every stage that runs the backbone. A model without a sidecar falls back to shapes read
//! from the graph and ImageNet defaults, with a warning.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Schema version of the sidecar this build reads and writes.
pub const SIDECAR_SCHEMA: u32 = 1;

/// Tensor layout of the model input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    /// `[batch, channel, height, width]` (PyTorch).
    Nchw,
    /// `[batch, height, width, channel]` (Keras/TensorFlow).
    Nhwc,
}

/// Channel order of the model input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelOrder {
    Rgb,
    Bgr,
}

/// Per-channel normalisation applied to pixels `x` in 0–255 (in the model's channel order):
/// `value = (x * scale - mean[c]) / std[c]`.
///
/// torchvision ImageNet: scale 1/255, mean [0.485,0.456,0.406], std [0.229,0.224,0.225].
/// Keras "caffe": scale 1, mean [103.939,116.779,123.68] (BGR), std [1,1,1].
/// EfficientNet-Lite: scale 1, mean [127,127,127], std [128,128,128].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Normalization {
    pub scale: f32,
    pub mean: [f32; 3],
    pub std: [f32; 3],
}

impl Normalization {
    /// torchvision's `ToTensor()` + `Normalize(ImageNet mean, std)`.
    pub fn imagenet() -> Self {
        Self {
            scale: 1.0 / 255.0,
            mean: [0.485, 0.456, 0.406],
            std: [0.229, 0.224, 0.225],
        }
    }
}

/// Contents of `<model>.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sidecar {
    pub schema_version: u32,
    /// Short name, e.g. `vgg16-fc7`.
    pub name: String,
    /// Architecture, e.g. `vgg16`, `efficientnet-lite0`.
    pub arch: String,
    /// Name of the graph input.
    pub input_name: String,
    /// Name of the graph output holding the features.
    pub output_name: String,
    /// Square crop side fed to the model (224).
    pub input_size: u32,
    /// Shorter side the eval transform resizes to before the centre crop (256).
    pub resize_shorter: u32,
    pub layout: Layout,
    pub channel_order: ChannelOrder,
    pub normalization: Normalization,
    /// Width of the feature vector per image.
    pub feature_dim: usize,
    /// Where the weights came from (URL, wheel, script).
    pub source: String,
    /// Licence of the weights and the credit owed.
    pub licence: String,
    /// The weights' precision (`precision`, absent: f32). Read, never written through this
    /// struct: the cache key hashes the serialised sidecar, and `quantize` writes the field.
    #[serde(default, skip_serializing)]
    pub precision: Precision,
    /// An int8 build's f32 original (`f32_model_hash`, BLAKE3), read like `precision`.
    #[serde(default, skip_serializing)]
    pub f32_model_hash: Option<String>,
}

/// The numeric precision of a backbone's weights, as its sidecar records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    #[default]
    F32,
    F16,
    /// Static int8 (QDQ), made by `pipeline quantize`.
    Int8,
}

impl Precision {
    pub fn name(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::F16 => "f16",
            Precision::Int8 => "int8",
        }
    }
}

impl std::fmt::Display for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Errors reading a sidecar.
#[derive(Debug, thiserror::Error)]
pub enum SidecarError {
    #[error("cannot read sidecar {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("sidecar {path} is not valid JSON of schema {SIDECAR_SCHEMA}: {source}; regenerate it with the script that made the model (see models/README.md)")]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("sidecar {path} has schema_version {found}, this build reads {SIDECAR_SCHEMA}; regenerate it with the script that made the model")]
    Version { path: PathBuf, found: u32 },
}

/// The numeric precision a sidecar declares (`"precision"`: `int8` for `pipeline quantize`'s
/// models), `"f32"` when it says nothing or cannot be read.
pub fn precision_for(model: &Path) -> Result<Precision, SidecarError> {
    Ok(Sidecar::load_for(model)?.map_or(Precision::F32, |s| s.precision))
}

impl Sidecar {
    /// The sidecar path for a model: `models/x.onnx` → `models/x.json`.
    pub fn path_for(model: &Path) -> PathBuf {
        model.with_extension("json")
    }

    /// Loads the sidecar beside `model`; `Ok(None)` when there is none.
    pub fn load_for(model: &Path) -> Result<Option<Sidecar>, SidecarError> {
        let path = Self::path_for(model);
        if !path.exists() {
            return Ok(None);
        }
        Self::load(&path).map(Some)
    }

    /// Loads and version-checks a sidecar file.
    pub fn load(path: &Path) -> Result<Sidecar, SidecarError> {
        let text = crate::file_check::read_to_string(path, crate::file_check::MAX_JSON).map_err(
            |source| SidecarError::Io {
                path: path.to_owned(),
                source,
            },
        )?;
        let value: serde_json::Value =
            serde_json::from_str(&text).map_err(|source| SidecarError::Parse {
                path: path.to_owned(),
                source,
            })?;
        let found = value
            .get("schema_version")
            .and_then(|v| v.as_u64())
            .unwrap_or(0) as u32;
        if found != SIDECAR_SCHEMA {
            return Err(SidecarError::Version {
                path: path.to_owned(),
                found,
            });
        }
        serde_json::from_value(value).map_err(|source| SidecarError::Parse {
            path: path.to_owned(),
            source,
        })
    }
}
