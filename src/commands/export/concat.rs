//! `export` of a run on concatenated features: every backbone the run records, each checked
//! against the hash, preprocessing and width it was trained on, composed into one graph
//! (`compose_concat`); the facts name the first backbone as a single export does, and the others
//! under `parts`.

use super::{check_out, check_precision, dense_window, facts, read_model, run_views, write_atomic};
use super::{ExportArgs, Exported, Precision};
use crate::backbone::sidecar::Sidecar;
use crate::checkpoint::TrainedRun;
use crate::onnx_build::compose::dense::DenseSpec;
use crate::onnx_build::compose::{compose_concat, InputKind, Spec};
use crate::preprocess::PreprocessConfig;
use anyhow::{bail, Context, Result};
use onnx_protobuf::Message;
use serde_json::json;
use std::path::PathBuf;

/// One backbone of the run, read and checked.
struct Body {
    path: PathBuf,
    sidecar: Sidecar,
    hash: String,
    pre: PreprocessConfig,
    precision: Precision,
    dense: Option<DenseSpec>,
    output: String,
}

/// Reads the backbone at `path` and checks it gives what the head was trained on.
fn body(
    path: PathBuf,
    hash: &str,
    preprocess: &serde_json::Value,
    width: usize,
    wanted: Option<Precision>,
    dense: bool,
) -> Result<Body> {
    let sidecar = Sidecar::load_for(&path)?.with_context(|| {
        format!(
            "no sidecar {} beside the model",
            Sidecar::path_for(&path).display()
        )
    })?;
    let found = crate::backbone::hash_file(&path)?;
    let short = |h: &str| h[..h.len().min(12)].to_owned();
    if found != hash {
        bail!(
            "the backbone {} is not the one the run recorded (blake3 {} vs {}); restore the file the cache was extracted with",
            path.display(),
            short(&found),
            short(hash)
        );
    }
    let pre = PreprocessConfig::from_sidecar(&sidecar);
    if &serde_json::to_value(&pre)? != preprocess {
        bail!("the sidecar of {} has other preprocessing than the run's cache; restore the sidecar the cache was extracted with", path.display());
    }
    if sidecar.feature_dim != width {
        bail!(
            "feature width mismatch: the sidecar of {} says {}, the run's cache has {width}",
            path.display(),
            sidecar.feature_dim
        );
    }
    let own = facts::sidecar_precision(&path)?;
    let precision = wanted.unwrap_or(own);
    if precision == Precision::F16 {
        bail!("--precision f16 is not built for concatenated features; export with the backbones' own precision (leave --precision out)");
    }
    check_precision(precision, own, &path)?;
    let (dense, output) = if dense {
        let window = dense_window(&path)?;
        (
            Some(DenseSpec {
                window,
                views: Vec::new(),
            }),
            crate::onnx_build::dense::MAP_OUTPUT.to_owned(),
        )
    } else {
        (None, sidecar.output_name.clone())
    };
    Ok(Body {
        path,
        hash: found,
        pre,
        precision,
        dense,
        output,
        sidecar,
    })
}

/// Exports `run`, which records further parts.
pub fn export(args: &ExportArgs, run: &TrainedRun) -> Result<Exported> {
    if args.model.is_some() {
        bail!("--model names one backbone; the run {} was trained on the concatenated features of {} and exports the backbones it records (restore them where config.json says)", run.dir.display(), run.parts.len() + 1);
    }
    if args.input != InputKind::Image {
        bail!("--input crop gives every backbone the same crop; a classifier on concatenated features takes whole images (leave --input out)");
    }
    check_out(&args.out)?;
    let (views, dense_views) = run_views(run)?;
    let dense = !dense_views.is_empty();
    let novelty = crate::novelty::load_for(run)?;
    let mut bodies = vec![body(
        run.recorded_backbone()?,
        &run.backbone_hash,
        &run.preprocess,
        run.first_width(),
        args.precision,
        dense,
    )?];
    for p in &run.parts {
        bodies.push(body(
            p.backbone(run)?,
            &p.backbone_hash,
            &p.preprocess,
            p.feature_dim,
            args.precision,
            dense,
        )?);
    }
    for b in &mut bodies {
        if let Some(d) = &mut b.dense {
            d.views = run_views(run)?.1;
        }
    }
    let mut graphs = Vec::with_capacity(bodies.len());
    for b in &bodies {
        let mut m = read_model(&b.path)?;
        if b.dense.is_some() {
            m = crate::onnx_build::dense::map_model(m, &b.sidecar.output_name)?;
        }
        let spec = Spec {
            input: InputKind::Image,
            pre: &b.pre,
            views: &views,
            head: &run.head,
            l2_normalize: run.input.l2_normalize,
            backbone_input: &b.sidecar.input_name,
            backbone_output: &b.output,
            f16: false,
            dense: b.dense.as_ref(),
            novelty: novelty.as_ref(),
        };
        graphs.push((m, spec));
    }
    let mut model =
        compose_concat(graphs).context("composing the classifier on concatenated features")?;
    let b0 = &bodies[0];
    let mut facts = facts::Facts::new(
        run,
        &b0.sidecar,
        &b0.hash,
        &b0.pre,
        InputKind::Image,
        b0.precision,
        &views,
    );
    let parts: Vec<serde_json::Value> = bodies[1..]
        .iter()
        .zip(&run.parts)
        .map(|(b, p)| {
            json!({
                "backbone_name": b.sidecar.name, "backbone_source": b.sidecar.source,
                "backbone_licence": b.sidecar.licence, "backbone_hash": b.hash,
                "preprocess": serde_json::to_value(&b.pre).unwrap_or_default(),
                "precision": b.precision.name(), "feature_dim": p.feature_dim,
                "cache_key": p.cache_key,
            })
        })
        .collect();
    facts.push("parts", json!(parts));
    if let Some(n) = &novelty {
        facts.add_novelty(n);
    }
    facts.stamp(&mut model)?;
    let bytes = model
        .write_to_bytes()
        .context("serialising the classifier graph")?;
    write_atomic(&args.out, &bytes)?;
    let facts_path = args.out.with_extension("json");
    write_atomic(&facts_path, facts.to_json(&bytes)?.as_bytes())?;
    Ok(Exported {
        path: args.out.clone(),
        facts_path,
        bytes: bytes.len(),
    })
}
