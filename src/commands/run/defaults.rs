//! What `pipeline run` chooses when `--model`, `--workdir`, `--views` or `--precision` is left
//! out, and the commands its summary suggests next.

use super::RunArgs;
use crate::backbone::Device;
use crate::features::views::ViewSet;
use crate::install::store::{ModelArg, DEFAULT_NAME};
use crate::install::Layout;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

/// The default backbone, relative to the current directory (built by `just vgg16-conv`).
pub const DEFAULT_MODEL: &str = "models/vgg16-conv.onnx";
/// The `just` recipe that builds [`DEFAULT_MODEL`].
pub const DEFAULT_MODEL_RECIPE: &str = "just vgg16-conv";

/// `--model` (a path, or a store name built on first use), or the default backbone:
/// [`DEFAULT_MODEL`] when it exists or when this is a clone (where `just` builds it), else the
/// model store's, built on first use. The note says which was chosen.
pub fn model(given: Option<&Path>) -> Result<(PathBuf, &'static str)> {
    if let Some(m) = given {
        return match ModelArg::parse(m.as_os_str()) {
            ModelArg::Path(p) => Ok((p, "--model")),
            ModelArg::Name(n) => Ok((
                crate::commands::models::ensure(&n, None)?,
                "--model, from the model store",
            )),
        };
    }
    let m = PathBuf::from(DEFAULT_MODEL);
    if m.is_file() {
        return Ok((m, "default; --model to change"));
    }
    let layout = Layout::current();
    if layout.clone.is_some() || layout.cwd_clone().is_some() {
        bail!(
            "no backbone at {DEFAULT_MODEL} (the default --model, relative to this directory); build it with `{DEFAULT_MODEL_RECIPE}`, or pass --model PATH or a store name (`pipeline models list`)"
        );
    }
    Ok((
        crate::commands::models::ensure(DEFAULT_NAME, None)?,
        "default: the model store's vgg16-conv; --model to change",
    ))
}

/// `--workdir`, or `work/<name of DATA>`; the note says which was chosen.
pub fn workdir(given: Option<&Path>, data: &Path) -> Result<(PathBuf, &'static str)> {
    if let Some(w) = given {
        return Ok((w.to_path_buf(), "--workdir"));
    }
    let abs = data.canonicalize().unwrap_or_else(|_| data.to_path_buf());
    let Some(name) = abs.file_name().filter(|n| !n.is_empty()) else {
        bail!(
            "cannot name a work directory after --data {}; pass --workdir DIR",
            data.display()
        );
    };
    Ok((
        Path::new("work").join(name),
        "default work/<name of --data>; --workdir to change",
    ))
}

/// `--views`, or by default `dense-noflip+whole` where the backbone allows dense views (its
/// features are a global average pool of a map): the 6 dense views of the image (no mirror pass)
/// and the exact padded whole image with its flip, the set with the smallest worst-case loss to
/// the 12 exact crops over the data sets of docs/performance.md; else the twelve exact crop views,
/// said on stderr.
pub fn views(given: Option<ViewSet>, model: &Path) -> Result<ViewSet> {
    if let Some(v) = given {
        return Ok(v);
    }
    let bytes = std::fs::read(model).with_context(|| format!("reading {}", model.display()))?;
    let output = crate::backbone::sidecar::Sidecar::load_for(model)?
        .map(|s| s.output_name)
        .unwrap_or_default();
    let dense = <onnx_protobuf::ModelProto as onnx_protobuf::Message>::parse_from_bytes(&bytes)
        .map_err(|e| e.to_string())
        .and_then(|m| {
            let out = if output.is_empty() {
                m.graph
                    .output
                    .first()
                    .map(|o| o.name.clone())
                    .unwrap_or_default()
            } else {
                output
            };
            crate::onnx_build::dense::map_tensor(&m, &out).map_err(|e| e.to_string())
        });
    match dense {
        Ok(_) => Ok(ViewSet::DenseNoFlipWhole),
        Err(why) => {
            eprintln!(
                "note: views ten-crop+whole (12 backbone passes an image) instead of dense-noflip+whole: {why}"
            );
            Ok(ViewSet::TenCropWhole)
        }
    }
}

/// `--precision auto`: the int8 build beside the model when the backbone will run on CPU and
/// one made from this model is there; otherwise the model itself, saying why on stderr.
pub fn precision(a: &RunArgs, model: &Path) -> Result<PathBuf> {
    let cuda = match a.device {
        Device::Cpu => false,
        Device::Cuda => true,
        Device::Auto => crate::backbone::ort_lib::init(a.ort_lib.as_deref())?
            .providers()
            .is_ok_and(|p| p.iter().any(|n| n == "CUDAExecutionProvider")),
    };
    if cuda {
        return Ok(model.to_path_buf());
    }
    match crate::commands::quantize::prebuilt_int8(model) {
        Ok(int8) => Ok(int8),
        Err(why) => {
            eprintln!(
                "note: --precision auto: {why}; extracting in f32 (about 3× slower on CPU). Build it with `just int8 {}`, or pass --precision int8 to calibrate one on your train split",
                model.display()
            );
            Ok(model.to_path_buf())
        }
    }
}

/// The three commands to run next on the run in `run_dir` of work directory `w`, for `exe`.
pub fn next_commands(exe: &str, w: &Path, run_dir: &Path) -> [String; 3] {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    [
        format!("{opener} {}", w.join("report.html").display()),
        format!("{exe} predict --run {} PHOTOS…", run_dir.display()),
        format!(
            "{exe} export --run {} --out {}",
            run_dir.display(),
            w.join("classifier.onnx").display()
        ),
    ]
}

/// How this program was called, for commands printed to be copied (`pipeline` when unknown).
pub fn program() -> String {
    std::env::args()
        .next()
        .filter(|a| !a.is_empty())
        .unwrap_or_else(|| "pipeline".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workdir_is_named_after_the_data_folder() {
        let (w, _) = workdir(None, Path::new("some/where/photos/")).unwrap();
        assert_eq!(w, Path::new("work/photos"));
        let (w, note) = workdir(Some(Path::new("x")), Path::new("y")).unwrap();
        assert_eq!((w.as_path(), note), (Path::new("x"), "--workdir"));
    }

    #[test]
    fn next_commands_name_this_workdir() {
        let [open, predict, export] = next_commands(
            "pipeline",
            Path::new("work/a"),
            Path::new("work/a/runs/auto"),
        );
        assert!(open.ends_with("work/a/report.html"), "{open}");
        assert!(predict.starts_with("pipeline predict --run work/a/runs/auto"));
        assert!(export.contains("--out work/a/classifier.onnx"), "{export}");
    }
}
