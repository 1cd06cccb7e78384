//! The frozen backbone: an ONNX Runtime session on CPU or CUDA, its sidecar, and batched inference.
//!
//! Shapes: `N` images per call, `S` = `sidecar.input_size`, `D` = feature width.
//! Input to [`Backbone::run`] is `N × 3 × S × S` floats already normalised, in the sidecar's
//! layout (NCHW or NHWC) and channel order; the output is `N × D` floats, row-major (outputs of
//! rank > 2, e.g. `[N,512,7,7]`, are flattened per image).

pub mod dense;
pub mod onnx_graph;
pub mod ort_lib;
mod session;
pub mod sidecar;

use onnx_graph::{OnnxGraphError, MODEL_HINT};
use ort_lib::{OrtInfo, OrtLibError};
use serde::{Deserialize, Serialize};
use sidecar::{Layout, Sidecar, SidecarError};
use std::path::{Path, PathBuf};

/// Where the backbone runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Device {
    /// CUDA when it registers, else CPU (said once on stderr).
    Auto,
    Cpu,
    /// CUDA or an error naming what is missing.
    Cuda,
}

/// How to open a backbone (the command line's `--model`, `--device`, `--threads`, `--ort-lib`:
/// `commands::backbone_args`).
#[derive(Debug, Clone)]
pub struct BackboneOptions {
    /// ONNX backbone; its sidecar `<model>.json` beside it says how to feed it.
    pub model: PathBuf,
    pub device: Device,
    /// ONNX Runtime intra-op threads (`None`: ONNX Runtime's choice, one per core).
    pub threads: Option<usize>,
    /// ONNX Runtime library (`None`: the search of [`crate::install::ort_search`]).
    pub ort_lib: Option<PathBuf>,
}

impl From<&BackboneOptions> for BackboneOptions {
    fn from(o: &BackboneOptions) -> BackboneOptions {
        o.clone()
    }
}

/// Why the backbone could not be opened or run.
#[derive(Debug, thiserror::Error)]
pub enum BackboneError {
    #[error(transparent)]
    Model(#[from] OnnxGraphError),
    #[error(transparent)]
    Ort(#[from] OrtLibError),
    #[error(transparent)]
    Sidecar(#[from] SidecarError),
    #[error("--threads must be at least 1 (got 0); leave it out for ONNX Runtime's default")]
    Threads,
    #[error("--device cuda: the CUDA execution provider did not register: {reason}; it needs {provider} (ONNX Runtime's GPU build) plus CUDA 13/cuDNN 9 libraries and an NVIDIA driver; fix: run `scripts/fetch_ort.sh --gpu` and pass --ort-lib .ort/gpu/libonnxruntime.so, or use --device cpu")]
    Cuda { reason: String, provider: PathBuf },
    #[error("ONNX Runtime cannot load {path}: {reason}; {MODEL_HINT}")]
    Load { path: PathBuf, reason: String },
    #[error("model {path} does not fit its sidecar {sidecar}: {reason}; fix the sidecar or regenerate both with the script that made the model")]
    Mismatch {
        path: PathBuf,
        sidecar: PathBuf,
        reason: String,
    },
    #[error("model {path} cannot be used as a backbone: {reason}; {MODEL_HINT}")]
    Unsupported { path: PathBuf, reason: String },
    #[error("backbone input holds {got} floats, expected {n} images × {per_image} = {expected}")]
    InputSize {
        got: usize,
        n: usize,
        per_image: usize,
        expected: usize,
    },
    #[error("the model has a fixed batch of {fixed}, got {n} images; re-export it with a dynamic batch dimension")]
    FixedBatch { fixed: usize, n: usize },
    #[error("backbone inference failed on {n} images: {reason}")]
    Run { n: usize, reason: String },
}

/// A loaded backbone session with the facts stages record (provider, model hash, sidecar).
pub struct Backbone {
    pub sidecar: Sidecar,
    /// Execution provider in use: `"cpu"` or `"cuda"`.
    pub provider: String,
    /// blake3 hex digest of the model file's bytes.
    pub model_hash: String,
    /// Numeric precision of the model's weights and activations (`f32`, `int8`, …), from its sidecar.
    pub precision: String,
    /// True when no sidecar was found and one was derived from the graph.
    pub sidecar_synthesized: bool,
    pub model_path: PathBuf,
    /// Model input dims as declared (`-1` = dynamic), e.g. `[-1, 3, 224, 224]`.
    pub input_dims: Vec<i64>,
    /// Model output dims as declared, e.g. `[-1, 4096]`.
    pub output_dims: Vec<i64>,
    pub ort: &'static OrtInfo,
    session: ort::session::Session,
    fixed_batch: Option<usize>,
    threads: Option<usize>,
    /// The feature-map session of dense views, opened on demand.
    map: Option<dense::MapSession>,
}

impl Backbone {
    /// Loads ONNX Runtime, the model and its sidecar (or a synthesised one), and checks that
    /// they fit: one float32 rank-4 input with 3 channels, spatial size = `input_size`, known width.
    pub fn open(args: impl Into<BackboneOptions>) -> Result<Backbone, BackboneError> {
        let args = &args.into();
        if args.threads == Some(0) {
            return Err(BackboneError::Threads);
        }
        let path = &args.model;
        check_file(path)?;
        let model_hash = hash_file(path)?;
        let ort = ort_lib::init(args.ort_lib.as_deref())?;
        let found = Sidecar::load_for(path)?;
        let (session, provider) = session::open(ort, path, args)?;
        let io = session::describe(&session, path)?;
        let synthesized = found.is_none();
        let sidecar = match found {
            Some(s) => s,
            None => session::synthesize(path, &io)?,
        };
        let checked = session::validate(path, &sidecar, &io)?;
        let precision = sidecar.precision.name().to_owned();
        let mut backbone = Backbone {
            sidecar,
            provider,
            model_hash,
            precision,
            sidecar_synthesized: synthesized,
            model_path: path.clone(),
            input_dims: checked.input_dims,
            output_dims: checked.output_dims,
            ort,
            session,
            fixed_batch: checked.fixed_batch,
            threads: args.threads,
            map: None,
        };
        backbone.settle_feature_dim(checked.static_width)?;
        if synthesized {
            eprintln!("{}", session::synthesized_warning(path, &backbone.sidecar));
        }
        Ok(backbone)
    }

    /// Floats per image: `3 × S × S`.
    pub fn input_len(&self) -> usize {
        let s = self.sidecar.input_size as usize;
        3 * s * s
    }

    /// Features per image `D`.
    pub fn feature_dim(&self) -> usize {
        self.sidecar.feature_dim
    }

    /// The model input shape for `n` images in the sidecar's layout.
    pub fn input_shape(&self, n: usize) -> [usize; 4] {
        let s = self.sidecar.input_size as usize;
        match self.sidecar.layout {
            Layout::Nchw => [n, 3, s, s],
            Layout::Nhwc => [n, s, s, 3],
        }
    }

    /// Runs `n` images (`input.len() == n * input_len()`) → `n * feature_dim()` features.
    pub fn run(&mut self, input: &[f32], n: usize) -> Result<Vec<f32>, BackboneError> {
        let per_image = self.input_len();
        if input.len() != n * per_image {
            return Err(BackboneError::InputSize {
                got: input.len(),
                n,
                per_image,
                expected: n * per_image,
            });
        }
        if n == 0 {
            return Ok(Vec::new());
        }
        if let Some(fixed) = self.fixed_batch.filter(|&b| b != n) {
            return Err(BackboneError::FixedBatch { fixed, n });
        }
        let out = self.infer(input, n)?;
        let width = self.feature_dim();
        if out.len() != n * width {
            return Err(BackboneError::Run {
                n,
                reason: format!("output holds {} floats, expected {n} × {width}", out.len()),
            });
        }
        Ok(out)
    }

    /// Makes `sidecar.feature_dim` the true width: from the static output shape, or a dry run.
    fn settle_feature_dim(&mut self, static_width: Option<usize>) -> Result<(), BackboneError> {
        let width = match static_width {
            Some(w) => w,
            None => self.dry_run_width()?,
        };
        let declared = self.sidecar.feature_dim;
        if !self.sidecar_synthesized && declared != width {
            return Err(BackboneError::Mismatch {
                path: self.model_path.clone(),
                sidecar: Sidecar::path_for(&self.model_path),
                reason: format!("sidecar feature_dim is {declared}, the model outputs {width}"),
            });
        }
        self.sidecar.feature_dim = width;
        Ok(())
    }

    /// Runs one zero image (or the fixed batch) and reads the per-image output width.
    fn dry_run_width(&mut self) -> Result<usize, BackboneError> {
        let n = self.fixed_batch.unwrap_or(1);
        let zeros = vec![0f32; n * self.input_len()];
        Ok(self.infer(&zeros, n)?.len() / n)
    }

    /// One session call on `n` images of `input` (already in the model's layout), raw output.
    fn infer(&mut self, input: &[f32], n: usize) -> Result<Vec<f32>, BackboneError> {
        let shape = self.input_shape(n);
        session::infer(
            &mut self.session,
            &self.sidecar.input_name,
            &self.sidecar.output_name,
            shape,
            input,
        )
        .map(|(_, data)| data)
        .map_err(|reason| BackboneError::Run { n, reason })
    }
}

/// Refuses a missing, non-regular or empty model file before anything heavier runs.
fn check_file(path: &Path) -> Result<(), BackboneError> {
    let meta = std::fs::metadata(path).map_err(|e| OnnxGraphError::io(path, e))?;
    if !meta.is_file() {
        return Err(OnnxGraphError::NotOnnx {
            path: path.to_owned(),
            reason: "not a regular file".into(),
        }
        .into());
    }
    if meta.len() == 0 {
        return Err(OnnxGraphError::Empty {
            path: path.to_owned(),
        }
        .into());
    }
    Ok(())
}

/// blake3 hex digest of a file, streamed.
pub fn hash_file(path: &Path) -> Result<String, BackboneError> {
    let io_err = |source| OnnxGraphError::Io {
        path: path.to_owned(),
        source,
    };
    Ok(crate::file_check::hash(path, crate::file_check::MAX_MODEL).map_err(io_err)?)
}

/// Turns an ONNX Runtime load failure into the most precise error: a protobuf-level problem
/// (truncated, not ONNX) when the file does not parse, else ONNX Runtime's own reason.
fn diagnose_load(path: &Path, reason: String) -> BackboneError {
    match onnx_graph::read(path) {
        Err(e) => e.into(),
        Ok(_) => BackboneError::Load {
            path: path.to_owned(),
            reason,
        },
    }
}

#[cfg(test)]
mod tests;
