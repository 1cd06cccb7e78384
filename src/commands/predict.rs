//! Stage `predict`: top-k classes with probabilities for image files and folders, streamed as
//! they come, through the same eval preprocessing as `extract` (every backbone of a run on
//! concatenated features, their features joined); or, with `--classifier`, a file written by
//! `pipeline export`, alone (see `classifier`).

mod classifier;
mod flag;
use crate::features::mean as views;

use crate::backbone::{Backbone, BackboneOptions, Device};
use crate::checkpoint::TrainedRun;
use crate::dataset::files::collect_files;
use crate::metrics::csv_record;
use crate::preprocess::PreprocessConfig;
use anyhow::{bail, Result};
use flag::Flag;
use rayon::prelude::*;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Output format of `pipeline predict`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One aligned line per image.
    Table,
    /// JSON Lines: one object per image (`{"path", "topk": [{"class", "probability"}],
    /// "unknown", "novelty"}`; the last two when the run has a novelty score).
    Json,
    /// `path,rank,class,probability,unknown,novelty`, one row per (image, rank).
    Csv,
}

/// Arguments of `pipeline predict`.
#[derive(Debug, Clone, clap::Args)]
pub struct PredictArgs {
    /// Run directory written by `pipeline train-head` or `pipeline run` (WORKDIR/runs/HEAD)
    /// [default: none; required without --classifier].
    #[arg(long, value_name = "DIR", required_unless_present = "classifier")]
    pub run: Option<PathBuf>,
    /// ONNX backbone with its sidecar [default: the one the run records; its hash is checked].
    #[arg(long, value_name = "PATH")]
    pub model: Option<PathBuf>,
    /// A classifier written by `pipeline export`, run alone instead of --run and --model
    /// [default: none].
    #[arg(long, value_name = "FILE", conflicts_with_all = ["run", "model"])]
    pub classifier: Option<PathBuf>,
    /// Image files or folders (searched recursively; hidden files skipped).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Classes to show per image (clipped to the class count).
    #[arg(long, value_name = "K", default_value_t = 5)]
    pub topk: usize,
    /// Output: an aligned table, JSON Lines, or CSV.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Images per backbone call.
    #[arg(long, value_name = "N", default_value_t = 32)]
    pub batch: usize,
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

/// Checks that the model and its preprocessing are the ones the head was trained on;
/// `recorded` says the model came from the run's record rather than `--model`.
fn check_model(
    bb: &Backbone,
    pre: &PreprocessConfig,
    run: &TrainedRun,
    recorded: bool,
) -> Result<()> {
    if bb.model_hash != run.backbone_hash {
        let fix = if recorded {
            crate::checkpoint::recorded::changed_backbone_hint(&run.dir)
        } else {
            "pass the same --model as at extract time, or leave --model out to use the run's".into()
        };
        bail!(
            "model {} differs from the one the head in {} was trained on (blake3 {} vs {}); {fix}",
            bb.model_path.display(),
            run.dir.display(),
            &bb.model_hash[..12.min(bb.model_hash.len())],
            &run.backbone_hash[..12.min(run.backbone_hash.len())]
        );
    }
    if serde_json::to_value(pre)? != run.preprocess {
        bail!(
            "preprocessing from the model's sidecar ({}) differs from the run's ({}); restore the sidecar the cache was extracted with",
            serde_json::to_value(pre)?,
            run.preprocess
        );
    }
    if bb.feature_dim() != run.first_width() {
        bail!(
            "feature width mismatch: model gives {}, head expects {}",
            bb.feature_dim(),
            run.first_width()
        );
    }
    Ok(())
}

/// Checks a further backbone of a run on concatenated features against what the run records.
fn check_part(
    bb: &Backbone,
    pre: &PreprocessConfig,
    part: &crate::checkpoint::FeaturePart,
    run: &TrainedRun,
) -> Result<()> {
    let fix = format!(
        "restore the backbone and sidecar {} records under `parts`",
        run.dir.join(crate::checkpoint::CONFIG_FILE).display()
    );
    if bb.model_hash != part.backbone_hash {
        bail!(
            "model {} changed since the run {} was trained on its features; {fix}",
            bb.model_path.display(),
            run.dir.display()
        );
    }
    if serde_json::to_value(pre)? != part.preprocess || bb.feature_dim() != part.feature_dim {
        bail!(
            "the sidecar of {} has other preprocessing or width than the run's cache; {fix}",
            bb.model_path.display()
        );
    }
    Ok(())
}

/// `collect_files`, refusing an empty result.
fn image_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let files = collect_files(paths)?;
    if files.is_empty() {
        bail!("no files found under {paths:?}; give image files or folders that contain images");
    }
    Ok(files)
}

/// The views the run averages per image (computed on the fly, as extract computes them).
fn run_views(run: &TrainedRun) -> Result<Vec<crate::features::views::View>> {
    crate::features::views::parse_views(&run.input.view_names()).map_err(|n| {
        anyhow::anyhow!(
            "run {} averages an unknown view `{n}`; retrain it with this build",
            run.dir.display()
        )
    })
}

/// Runs `pipeline predict`.
pub fn run(args: PredictArgs) -> Result<()> {
    if args.topk == 0 || args.batch == 0 {
        bail!("--topk and --batch must be at least 1");
    }
    if let Some(path) = &args.classifier {
        return classifier::run(path, &args, &image_files(&args.paths)?);
    }
    let Some(run_dir) = &args.run else {
        bail!("give --run DIR (or --classifier FILE from `pipeline export`)");
    };
    let run = TrainedRun::load(run_dir)?;
    let novelty = flag::load(&run)?;
    let model = match &args.model {
        Some(m) => m.clone(),
        None => run.recorded_backbone()?,
    };
    let open = |model: PathBuf| {
        Backbone::open(BackboneOptions {
            model,
            device: args.device,
            threads: args.threads,
            ort_lib: args.ort_lib.clone(),
        })
    };
    let bb = open(model)?;
    let files = image_files(&args.paths)?;
    let pre = PreprocessConfig::from_sidecar(&bb.sidecar);
    check_model(&bb, &pre, &run, args.model.is_none())?;
    // A run on concatenated features: every backbone it records, features joined in that order.
    let mut bodies = vec![(bb, pre)];
    for part in &run.parts {
        let bb = open(part.backbone(&run)?)?;
        let pre = PreprocessConfig::from_sidecar(&bb.sidecar);
        check_part(&bb, &pre, part, &run)?;
        bodies.push((bb, pre));
    }
    let views = run_views(&run)?;
    let pres: Vec<PreprocessConfig> = bodies.iter().map(|(_, p)| p.clone()).collect();
    let k = args.topk.min(run.classes.len());
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if args.format == Format::Csv {
        writeln!(out, "{}", flag::CSV_HEADER)?;
    }
    let (mut done, mut skipped, mut unknown) = (0usize, 0usize, 0usize);
    for chunk in files.chunks(args.batch) {
        let tensors: Vec<(usize, Result<Vec<views::Prepared>, String>)> = chunk
            .par_iter()
            .enumerate()
            .map(|(i, p)| {
                let r = crate::image_io::load_rgb8(p)
                    .map_err(|e| e.to_string())
                    .and_then(|img| {
                        pres.iter()
                            .map(|pre| views::prepare(&img, pre, &views))
                            .collect::<Result<Vec<_>, _>>()
                            .map_err(|e| format!("{}: {e}", p.display()))
                    });
                (i, r)
            })
            .collect();
        let mut ok_idx = Vec::new();
        let mut input: Vec<Vec<views::Prepared>> = bodies.iter().map(|_| Vec::new()).collect();
        for (i, r) in tensors {
            match r {
                Ok(t) => {
                    ok_idx.push(i);
                    for (acc, p) in input.iter_mut().zip(t) {
                        acc.push(p);
                    }
                }
                Err(reason) => {
                    skipped += 1;
                    eprintln!("skipped {reason}");
                }
            }
        }
        if ok_idx.is_empty() {
            continue;
        }
        let mut parts = Vec::with_capacity(bodies.len());
        for ((bb, pre), input) in bodies.iter_mut().zip(&input) {
            parts.push(crate::cache::Rows::F32(views::mean_features(
                bb, pre, &views, input,
            )?));
        }
        let x = crate::cache::rows::hstack(&parts).into_f32();
        let lp = run.log_proba(x.view());
        let flags = flag::flags(novelty.as_ref(), x.view());
        for ((row, &i), f) in lp.rows().into_iter().zip(&ok_idx).zip(flags) {
            let top = topk(row.as_slice().unwrap_or(&row.to_vec()), k);
            emit(&mut out, args.format, &chunk[i], &top, &run.classes, f)?;
            done += 1;
            unknown += f.is_some_and(|f| f.unknown) as usize;
        }
        out.flush()?;
    }
    eprintln!(
        "predicted {done} images, skipped {skipped}{} (provider {})",
        flag::summary(novelty.as_ref().map(|n| n.threshold), unknown),
        bodies[0].0.provider
    );
    if done == 0 {
        bail!(
            "none of the {} files could be read as an image",
            files.len()
        );
    }
    Ok(())
}

/// The `k` best classes of a row of log-probabilities, as (class index, probability), best first.
pub fn topk(row: &[f32], k: usize) -> Vec<(usize, f32)> {
    let mut idx: Vec<usize> = (0..row.len()).collect();
    idx.sort_by(|&a, &b| row[b].total_cmp(&row[a]).then(a.cmp(&b)));
    idx.into_iter().take(k).map(|i| (i, row[i].exp())).collect()
}

/// Writes one image's line(s); `flag` is its novelty when the run has a novelty score.
fn emit(
    out: &mut impl Write,
    format: Format,
    path: &Path,
    top: &[(usize, f32)],
    classes: &[String],
    flag: Option<Flag>,
) -> Result<()> {
    let p = path.display().to_string();
    match format {
        Format::Table => {
            let mut cells: Vec<String> = top
                .iter()
                .map(|(c, pr)| format!("{} {:.3}", classes[*c], pr))
                .collect();
            if flag.is_some_and(|f| f.unknown) {
                cells[0] = format!("unknown (nearest: {})", cells[0]);
            }
            writeln!(out, "{p}\t{}", cells.join("  "))?;
        }
        Format::Json => {
            let topk: Vec<serde_json::Value> = top
                .iter()
                .map(|(c, pr)| serde_json::json!({"class": classes[*c], "probability": pr}))
                .collect();
            let mut line = serde_json::json!({"path": p, "topk": topk});
            if let Some(f) = flag {
                line["unknown"] = f.unknown.into();
                line["novelty"] = f.novelty.into();
            }
            writeln!(out, "{line}")?;
        }
        Format::Csv => {
            let (unknown, novelty) = flag.map_or((String::new(), String::new()), |f| {
                (f.unknown.to_string(), format!("{:.6}", f.novelty))
            });
            for (rank, (c, pr)) in top.iter().enumerate() {
                let rank = (rank + 1).to_string();
                let pr = format!("{pr:.6}");
                write!(
                    out,
                    "{}",
                    csv_record([p.as_str(), &rank, &classes[*c], &pr, &unknown, &novelty])
                )?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topk_orders_and_clips() {
        let row = [0.1f32.ln(), 0.6f32.ln(), 0.3f32.ln()];
        let t = topk(&row, 2);
        assert_eq!(t.iter().map(|x| x.0).collect::<Vec<_>>(), vec![1, 2]);
        assert!((t[0].1 - 0.6).abs() < 1e-6);
    }

    #[test]
    fn csv_quotes_commas() {
        assert_eq!(csv_record(["a,b", "ab"]), "\"a,b\",ab\n");
        assert_eq!(
            csv_record(["say \"hi\"", "x\ny"]),
            "\"say \"\"hi\"\"\",\"x\ny\"\n"
        );
    }
}
