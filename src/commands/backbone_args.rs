//! The command-line form of [`BackboneOptions`], flattened into `extract`, `info`, `bench` (and
//! built by `run`).

use crate::backbone::{BackboneOptions, Device};
use std::path::PathBuf;

/// Backbone options shared by `extract`, `info`, `bench` (flatten with `#[command(flatten)]`).
#[derive(clap::Args, Debug, Clone)]
pub struct BackboneArgs {
    /// ONNX backbone; its sidecar `<model>.json` beside it says how to feed it.
    #[arg(long, value_name = "PATH")]
    pub model: PathBuf,
    /// Execution provider: auto (CUDA if available, else CPU), cpu, or cuda.
    #[arg(long, value_enum, default_value_t = Device::Auto)]
    pub device: Device,
    /// ONNX Runtime intra-op threads [default: ONNX Runtime's choice, one per core].
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// ONNX Runtime library [default: ORT_DYLIB_PATH, beside the executable, the clone's
    /// .ort/{gpu,cpu}/, or the install environment's onnxruntime; `pipeline doctor` shows it].
    #[arg(long, value_name = "PATH")]
    pub ort_lib: Option<PathBuf>,
}

impl From<&BackboneArgs> for BackboneOptions {
    fn from(a: &BackboneArgs) -> BackboneOptions {
        BackboneOptions {
            model: a.model.clone(),
            device: a.device,
            threads: a.threads,
            ort_lib: a.ort_lib.clone(),
        }
    }
}
