//! Stage `quantize`: a static int8 backbone (QDQ, per-channel int8 weights, activations
//! calibrated on the user's own images through the model's eval transform) and its sidecar,
//! made by ONNX Runtime's own quantizer (`onnxruntime.quantization.quantize_static`, Python).
//!
//! The int8 sidecar records `precision: "int8"`, the f32 model's blake3 hash and the
//! calibration set's hash. Its model file hash differs from the f32 one, so the feature cache key
//! (which holds the backbone hash) changes with precision and f32 and int8 features never mix.

mod calib;

use crate::backbone::sidecar::{Layout, Precision, Sidecar};
use crate::preprocess::PreprocessConfig;
use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The script, shipped inside the binary so an installed `pipeline` needs no checkout.
const SCRIPT: &str = include_str!("../../scripts/quantize_static.py");
const INSTALL_HINT: &str = "it needs a Python with numpy, onnx and onnxruntime (`pipeline doctor` shows which one is used): `python3 -m venv .venv && .venv/bin/pip install numpy onnx onnxruntime`, or pass --python PATH";

/// Precision of the backbone `pipeline run` extracts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BackbonePrecision {
    /// On CPU the int8 build beside the model (`<model>-int8.onnx`, made by the set-up recipe
    /// that made the model) when there is a current one, else f32; on CUDA f32.
    Auto,
    F32,
    /// Static int8 (QDQ) calibrated on the train split (needs Python with onnxruntime), kept in
    /// WORKDIR/models/.
    Int8,
}

/// `<dir>/<stem>-int8.onnx` beside `model`.
pub fn int8_sibling(model: &Path) -> PathBuf {
    let stem = model
        .file_stem()
        .map_or("model".into(), |s| s.to_string_lossy().to_string());
    model.with_file_name(format!("{stem}-int8.onnx"))
}

/// The prebuilt int8 model beside `model` when its sidecar says it was quantized from this very
/// file (`f32_model_hash`); `Err` says why not.
pub fn prebuilt_int8(model: &Path) -> Result<PathBuf, String> {
    let out = int8_sibling(model);
    let side = Sidecar::path_for(&out);
    if !out.is_file() {
        return Err(format!("no {}", out.display()));
    }
    let sidecar = Sidecar::load(&side).map_err(|e| e.to_string())?;
    let hash = crate::backbone::hash_file(model).map_err(|e| e.to_string())?;
    if sidecar.precision != Precision::Int8 || sidecar.f32_model_hash.as_deref() != Some(&hash) {
        return Err(format!(
            "{} was not quantized from this {} (its sidecar's f32_model_hash differs)",
            out.display(),
            model.display()
        ));
    }
    Ok(out)
}

/// Arguments of `pipeline quantize`.
#[derive(Debug, Clone, clap::Args)]
pub struct QuantizeArgs {
    /// The float32 backbone (its sidecar beside it).
    #[arg(long)]
    pub model: PathBuf,
    /// Folder of your own images to calibrate activations on (searched recursively).
    #[arg(long)]
    pub calib: PathBuf,
    /// The int8 model to write; its sidecar `<out>.json` is written beside it.
    #[arg(long)]
    pub out: PathBuf,
    /// Calibration images, picked evenly over the folder.
    #[arg(long, default_value_t = 64)]
    pub images: usize,
    /// Python with onnxruntime [default: PIPELINE_PYTHON, else the install environment's
    /// python, else .venv/bin/python, else python3].
    #[arg(long)]
    pub python: Option<PathBuf>,
}

/// Runs `pipeline quantize`.
pub fn run(args: QuantizeArgs) -> Result<()> {
    let n = make_int8(&args)?;
    crate::say!(
        "wrote {} and its sidecar (int8 QDQ, per-channel, calibrated on {n} images of {})",
        args.out.display(),
        args.calib.display()
    );
    Ok(())
}

/// Writes `args.out` and its sidecar; returns the number of calibration images used.
pub fn make_int8(args: &QuantizeArgs) -> Result<usize> {
    let set = calib::choose(&args.calib, args.images)?;
    quantize_with(args, &set)
}

/// The int8 model of `model` calibrated on `calib`, made once into `dir` and reused while the
/// f32 model hash and the calibration set are unchanged.
pub fn cached_int8(model: &Path, calib_dir: &Path, images: usize, dir: &Path) -> Result<PathBuf> {
    let set = calib::choose(calib_dir, images)?;
    let f32_hash = crate::backbone::hash_file(model)?;
    let stem = model
        .file_stem()
        .map_or("model".into(), |s| s.to_string_lossy().to_string());
    let out = dir.join(format!(
        "{stem}-int8-{}-{}.onnx",
        &f32_hash[..12],
        &set.hash[..12]
    ));
    if let Ok(text) =
        crate::file_check::read_to_string(&Sidecar::path_for(&out), crate::file_check::MAX_JSON)
    {
        let v: Value = serde_json::from_str(&text).unwrap_or_default();
        if out.is_file()
            && v["f32_model_hash"] == f32_hash.as_str()
            && v["calibration"]["hash"] == set.hash.as_str()
        {
            eprintln!("note: reusing int8 backbone {}", out.display());
            return Ok(out);
        }
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let args = QuantizeArgs {
        model: model.to_owned(),
        calib: calib_dir.to_owned(),
        out: out.clone(),
        images,
        python: None,
    };
    quantize_with(&args, &set)?;
    Ok(out)
}

/// Writes the calibration tensors, runs the quantizer and writes the int8 sidecar; returns the
/// number of calibration images used.
fn quantize_with(args: &QuantizeArgs, set: &calib::CalibSet) -> Result<usize> {
    let sidecar = Sidecar::load_for(&args.model)?.with_context(|| {
        format!(
            "no sidecar {} beside the model; quantize needs it for the eval transform",
            Sidecar::path_for(&args.model).display()
        )
    })?;
    let f32_hash = crate::backbone::hash_file(&args.model)?;
    let pre = PreprocessConfig::from_sidecar(&sidecar);
    let s = sidecar.input_size as usize;
    let dims = match sidecar.layout {
        Layout::Nchw => [3, s, s],
        Layout::Nhwc => [s, s, 3],
    };
    let tmp = tempfile_dir(&args.out)?;
    let npy = tmp.join("calib.npy");
    let n = calib::write_npy(set, &pre, dims, &npy)?;
    let script = tmp.join("quantize_static.py");
    std::fs::write(&script, SCRIPT).with_context(|| format!("writing {}", script.display()))?;
    let staged = tmp.join("model-int8.onnx");
    let py = crate::install::python::current(args.python.as_deref()).path;
    let status = Command::new(&py)
        .arg(&script)
        .args([
            "--model".as_ref(),
            args.model.as_os_str(),
            "--calib".as_ref(),
            npy.as_os_str(),
        ])
        .args(["--input-name", &sidecar.input_name])
        .arg("--out")
        .arg(&staged)
        .status()
        .with_context(|| format!("cannot start {}; {INSTALL_HINT}", py.display()))?;
    if !status.success() {
        let _ = std::fs::remove_dir_all(&tmp);
        bail!(
            "ONNX Runtime's quantizer ({} {}) failed ({status}); {INSTALL_HINT}",
            py.display(),
            script.display()
        );
    }
    let mut side = serde_json::to_value(&sidecar)?;
    side["name"] = json!(format!("{}-int8", sidecar.name));
    side["precision"] = json!("int8");
    side["f32_model_hash"] = json!(f32_hash);
    side["quantization"] = json!("onnxruntime quantize_static: QDQ, per-channel int8 weights, uint8 activations, MinMax calibration");
    side["calibration"] =
        json!({"dir": args.calib.display().to_string(), "images": n, "hash": set.hash});
    std::fs::rename(&staged, &args.out)
        .with_context(|| format!("moving the int8 model to {}", args.out.display()))?;
    crate::atomic::write_json(&Sidecar::path_for(&args.out), &side)?;
    let _ = std::fs::remove_dir_all(&tmp);
    Ok(n)
}

/// A fresh working folder beside `out` (same file system, so the final rename is atomic).
fn tempfile_dir(out: &Path) -> Result<PathBuf> {
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let dir = parent.join(format!(".quantize-tmp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| {
        format!(
            "cannot write beside --out {}: creating {}",
            out.display(),
            dir.display()
        )
    })?;
    Ok(dir)
}
