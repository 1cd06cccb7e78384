//! Stage `export`: one ONNX file holding the eval transform, the backbone, the trained head and
//! Softmax (uint8 pixels in, `probabilities` out), plus `classifier.json` beside it with the
//! same facts as the file's `metadata_props`.

mod concat;
mod facts;

use crate::backbone::sidecar::Sidecar;
use crate::checkpoint::TrainedRun;
use crate::onnx_build::compose::dense::{DenseSpec, DenseView};
use crate::onnx_build::compose::{compose, InputKind, Spec, View};
use crate::preprocess::PreprocessConfig;
use anyhow::{bail, Context, Result};
use onnx_protobuf::{Message, ModelProto};
use std::path::{Path, PathBuf};

/// Numeric precision of the exported backbone: the sidecar's own type.
pub use crate::backbone::sidecar::Precision;

/// Arguments of `pipeline export`.
#[derive(Debug, Clone, clap::Args)]
pub struct ExportArgs {
    /// Run directory written by `pipeline train-head` or `pipeline run` (WORKDIR/runs/HEAD).
    #[arg(long, value_name = "DIR")]
    pub run: PathBuf,
    /// The backbone the run's features were extracted with, its sidecar beside it [default: the
    /// one the run records; its hash is checked].
    #[arg(long, value_name = "PATH")]
    pub model: Option<PathBuf>,
    /// The classifier file to write; `<out>.json` is written beside it.
    #[arg(long, value_name = "FILE", default_value = "classifier.onnx")]
    pub out: PathBuf,
    /// Precision of the backbone inside the file [default: the backbone's own, f32 or int8].
    #[arg(long, value_enum)]
    pub precision: Option<Precision>,
    /// image: uint8 [1,H,W,3] of any size, the eval transform in the graph; crop: uint8
    /// [N,S,S,3] centre crops, batched.
    #[arg(long, value_enum, default_value_t = InputKind::Image)]
    pub input: InputKind,
}

/// What `export` wrote.
#[derive(Debug)]
pub struct Exported {
    pub path: PathBuf,
    pub facts_path: PathBuf,
    pub bytes: usize,
}

/// Runs `pipeline export`.
pub fn run(args: ExportArgs) -> Result<()> {
    let e = export(&args)?;
    crate::say!(
        "wrote {} ({:.1} MB) and {}",
        e.path.display(),
        e.bytes as f64 / 1e6,
        e.facts_path.display()
    );
    Ok(())
}

/// Checks that run and backbone belong together, composes the graph and writes both files.
pub fn export(args: &ExportArgs) -> Result<Exported> {
    let run = TrainedRun::load(&args.run)?;
    if !run.parts.is_empty() {
        return concat::export(args, &run);
    }
    let (views, dense_views) = run_views(&run)?;
    let novelty = crate::novelty::load_for(&run)?;
    if novelty.is_none() {
        eprintln!(
            "note: run {} has no {} (trained by an older build): the classifier gets no `novelty` output; retrain the run to add it",
            run.dir.display(),
            crate::novelty::NOVELTY_FILE
        );
    }
    let model_path = match &args.model {
        Some(m) => m.clone(),
        None => run.recorded_backbone()?,
    };
    let sidecar = Sidecar::load_for(&model_path)?.with_context(|| {
        format!(
            "no sidecar {} beside the model; export needs the sidecar the run's cache was extracted with",
            Sidecar::path_for(&model_path).display()
        )
    })?;
    let model_hash = crate::backbone::hash_file(&model_path)?;
    let pre = PreprocessConfig::from_sidecar(&sidecar);
    check_pair(&run, &model_path, &model_hash, &pre, &sidecar).with_context(|| {
        match args.model {
            None => crate::checkpoint::recorded::changed_backbone_hint(&run.dir),
            Some(_) => "the --model given is not the run's backbone".into(),
        }
    })?;
    let model_precision = facts::sidecar_precision(&model_path)?;
    let precision = args.precision.unwrap_or(model_precision);
    check_precision(precision, model_precision, &model_path)?;
    check_out(&args.out)?;
    let mut backbone = read_model(&model_path)?;
    let mut backbone_output = sidecar.output_name.clone();
    let dense = match (dense_views.is_empty(), args.input) {
        (false, InputKind::Image) => {
            let window = dense_window(&model_path)?;
            backbone = crate::onnx_build::dense::map_model(backbone, &sidecar.output_name)?;
            backbone_output = crate::onnx_build::dense::MAP_OUTPUT.to_owned();
            Some(DenseSpec {
                window,
                views: dense_views,
            })
        }
        _ => None,
    };
    let spec = Spec {
        input: args.input,
        pre: &pre,
        views: &views,
        head: &run.head,
        l2_normalize: run.input.l2_normalize,
        backbone_input: &sidecar.input_name,
        backbone_output: &backbone_output,
        f16: precision == Precision::F16,
        dense: dense.as_ref(),
        novelty: novelty.as_ref(),
    };
    let mut model = compose(backbone, &spec)
        .with_context(|| format!("composing the classifier around {}", model_path.display()))?;
    let mut facts = facts::Facts::new(
        &run,
        &sidecar,
        &model_hash,
        &pre,
        args.input,
        precision,
        &views,
    );
    if let Some(n) = &novelty {
        facts.add_novelty(n);
    }
    facts.stamp(&mut model)?;
    let bytes = model
        .write_to_bytes()
        .context("serialising the classifier graph")?;
    write_atomic(&args.out, &bytes)?;
    let facts_path = args.out.with_extension("json");
    let json = facts.to_json(&bytes)?;
    write_atomic(&facts_path, json.as_bytes())?;
    Ok(Exported {
        path: args.out.clone(),
        facts_path,
        bytes: bytes.len(),
    })
}

/// The map cells a crop covers on the backbone's map (ONNX Runtime runs the map body once).
fn dense_window(model: &Path) -> Result<i64> {
    let mut bb = crate::backbone::Backbone::open(crate::backbone::BackboneOptions {
        model: model.to_owned(),
        device: crate::backbone::Device::Cpu,
        threads: Some(1),
        ort_lib: None,
    })?;
    Ok(bb.enable_dense()? as i64)
}

/// The run's test-time views as the graph builds them (see
/// [`crate::onnx_build::compose::dense::graph_views`]).
fn run_views(run: &TrainedRun) -> Result<(Vec<View>, Vec<DenseView>)> {
    let views = crate::features::views::parse_views(&run.input.view_names()).map_err(|name| {
        anyhow::anyhow!(
            "run {} averages an unknown view `{name}`",
            run.dir.display()
        )
    })?;
    Ok(crate::onnx_build::compose::dense::graph_views(&views))
}

fn short(h: &str) -> &str {
    &h[..12.min(h.len())]
}

/// Refuses a backbone that is not the one the run's head was trained on.
fn check_pair(
    run: &TrainedRun,
    model: &Path,
    hash: &str,
    pre: &PreprocessConfig,
    sidecar: &Sidecar,
) -> Result<()> {
    if hash != run.backbone_hash {
        bail!(
            "the run {} and the backbone {} do not belong together: the head was trained on features of a model with blake3 {}, this file has {}; pass the --model the run's cache was extracted with",
            run.dir.display(),
            model.display(),
            short(&run.backbone_hash),
            short(hash)
        );
    }
    if serde_json::to_value(pre)? != run.preprocess {
        bail!(
            "preprocessing from the sidecar of {} ({}) differs from the run's ({}); restore the sidecar the cache was extracted with",
            model.display(),
            serde_json::to_value(pre)?,
            run.preprocess
        );
    }
    if sidecar.feature_dim != run.feature_dim {
        bail!(
            "feature width mismatch: the sidecar of {} says {}, the head expects {}",
            model.display(),
            sidecar.feature_dim,
            run.feature_dim
        );
    }
    Ok(())
}

fn check_precision(wanted: Precision, model: Precision, path: &Path) -> Result<()> {
    match (wanted, model) {
        (Precision::F32 | Precision::F16, Precision::F32) | (Precision::Int8, Precision::Int8) => {
            Ok(())
        }
        (Precision::Int8, _) => bail!(
            "--precision int8 ships the int8 backbone itself: {} is {model}; make one with `pipeline quantize` (or `pipeline run --precision int8`), train the head on its features and pass it as --model",
            path.display()
        ),
        (Precision::F32 | Precision::F16, _) => bail!(
            "{} is a {model} backbone (its sidecar says so); pass --precision {model}",
            path.display()
        ),
    }
}

/// Refuses an `--out` whose folder is missing or that names a folder, before any work.
fn check_out(out: &Path) -> Result<()> {
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !parent.is_dir() {
        bail!(
            "cannot write --out {}: folder {} does not exist; create it or choose another path",
            out.display(),
            parent.display()
        );
    }
    if out.is_dir() {
        bail!(
            "--out {} is a folder; give a file name such as {}/classifier.onnx",
            out.display(),
            out.display()
        );
    }
    Ok(())
}

/// Parses a model whose weights are all inside the file.
fn read_model(path: &Path) -> Result<ModelProto> {
    let bytes = crate::file_check::read(path, crate::file_check::MAX_MODEL)
        .with_context(|| format!("reading {}", path.display()))?;
    let model = ModelProto::parse_from_bytes(&bytes)
        .with_context(|| format!("{} is not a readable ONNX model", path.display()))?;
    let external = model
        .graph
        .as_ref()
        .is_some_and(|g| g.initializer.iter().any(|t| !t.external_data.is_empty()));
    if external {
        bail!(
            "{} keeps weights in external data files; save it with all weights inside the .onnx (onnx.save(model, path, save_as_external_data=False)) and retry",
            path.display()
        );
    }
    Ok(model)
}

/// Writes `bytes` atomically over `path`, naming the fix when it cannot.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let unwritable = |e: std::io::Error| {
        anyhow::anyhow!(
            "cannot write {}: {e}; choose a writable --out (check the folder's permissions and free space)",
            path.display()
        )
    };
    crate::atomic::write_file(path, bytes).map_err(unwritable)
}
