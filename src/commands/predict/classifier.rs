//! `predict --classifier FILE`: runs a classifier written by `pipeline export` alone (no run
//! directory, no sidecar), reading its class list and input contract from the file's metadata.
//! `image` input: each decoded RGB image is fed whole (`[1, H, W, 3]` uint8); `crop` input: the
//! Rust eval geometry (resize + centre crop) makes `[N, S, S, 3]` uint8 batches.

use super::flag::Flag;
use super::{emit, Format, PredictArgs};
use crate::backbone::ort_lib;
use crate::backbone::sidecar::{ChannelOrder, Layout, Normalization};
use crate::preprocess::{self, PreprocessConfig};
use anyhow::{anyhow, bail, Context, Result};
use ort::session::Session;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The exported file, opened, with what its metadata says.
struct Classifier {
    session: Session,
    classes: Vec<String>,
    input: String,
    /// The eval geometry, producing plain RGB pixel values (for `crop` input).
    geometry: PreprocessConfig,
    /// The `novelty` metadata's threshold, when the file has a `novelty` output.
    threshold: Option<f32>,
}

fn open(path: &Path, args: &PredictArgs) -> Result<Classifier> {
    crate::file_check::open(path, crate::file_check::MAX_MODEL)
        .with_context(|| format!("reading the classifier {}", path.display()))?;
    let ort = ort_lib::init(args.ort_lib.as_deref())?;
    let build =
        || -> ort::Result<Session> { Session::builder(ort.environment())?.commit_from_file(path) };
    let session = build().map_err(|e| {
        anyhow!(
            "ONNX Runtime cannot load the classifier {}: {e}; make it with `pipeline export`",
            path.display()
        )
    })?;
    let meta = session.metadata().map_err(|e| anyhow!("{e}"))?;
    let key = |k: &str| {
        meta.custom(k).ok_or_else(|| {
            anyhow!("{} has no `{k}` metadata: it was not written by `pipeline export`; export it again", path.display())
        })
    };
    let classes: Vec<String> =
        serde_json::from_str(&key("classes")?).context("reading the `classes` metadata")?;
    let input: serde_json::Value =
        serde_json::from_str(&key("input")?).context("reading the `input` metadata")?;
    let pre: PreprocessConfig =
        serde_json::from_str(&key("preprocess")?).context("reading the `preprocess` metadata")?;
    let threshold = match meta.custom("novelty") {
        Some(v) => {
            let v: serde_json::Value =
                serde_json::from_str(&v).context("reading the `novelty` metadata")?;
            let t = v["threshold"].as_f64().filter(|t| t.is_finite());
            Some(t.ok_or_else(|| {
                anyhow!(
                    "{}: the `novelty` metadata has no finite threshold; export it again",
                    path.display()
                )
            })? as f32)
        }
        None => None,
    };
    drop(meta);
    let geometry = PreprocessConfig {
        layout: Layout::Nhwc,
        channel_order: ChannelOrder::Rgb,
        normalization: Normalization {
            scale: 1.0,
            mean: [0.0; 3],
            std: [1.0; 3],
        },
        ..pre
    };
    let input = input["name"].as_str().unwrap_or_default().to_owned();
    if input != "image" && input != "crop" {
        bail!("{} takes input `{input}`; `predict --classifier` runs files with an `image` or `crop` input from `pipeline export`", path.display());
    }
    Ok(Classifier {
        session,
        classes,
        input,
        geometry,
        threshold,
    })
}

impl Classifier {
    /// uint8 `[N, …]` pixels → probabilities `[N, K]`, row-major, and each image's flag when
    /// the file has a `novelty` output.
    fn probabilities(
        &mut self,
        shape: Vec<i64>,
        pixels: Vec<u8>,
    ) -> Result<(Vec<f32>, Vec<Option<Flag>>)> {
        let n = shape[0] as usize;
        let tensor = ort::value::Tensor::from_array((shape, pixels)).map_err(|e| anyhow!("{e}"))?;
        let outputs = self
            .session
            .run(ort::inputs![self.input.as_str() => tensor])
            .map_err(|e| anyhow!("classifier inference failed on {n} images: {e}"))?;
        let probs = outputs.get("probabilities").ok_or_else(|| {
            anyhow!(
                "the classifier has no `probabilities` output; export it with `pipeline export`"
            )
        })?;
        let (_, p) = probs
            .try_extract_tensor::<f32>()
            .map_err(|e| anyhow!("{e}"))?;
        if p.len() != n * self.classes.len() {
            bail!(
                "the classifier gave {} probabilities for {n} images × {} classes",
                p.len(),
                self.classes.len()
            );
        }
        let flags = match (self.threshold, outputs.get("novelty")) {
            (Some(t), Some(v)) => {
                let (_, s) = v.try_extract_tensor::<f32>().map_err(|e| anyhow!("{e}"))?;
                if s.len() != n {
                    bail!("the classifier gave {} novelty values for {n} images", s.len());
                }
                s.iter()
                    .map(|&s| Some(Flag { novelty: s, unknown: s > t }))
                    .collect()
            }
            (Some(_), None) => bail!("the classifier's metadata describes a `novelty` output it does not have; export it again"),
            _ => vec![None; n],
        };
        Ok((p.to_vec(), flags))
    }

    /// The crop input's pixels of one image, `S × S × 3` uint8.
    fn crop_pixels(&self, img: &image::RgbImage) -> Result<Vec<u8>> {
        let mut buf = vec![0f32; self.geometry.tensor_len()];
        preprocess::eval_into(img, &self.geometry, &mut buf)?;
        Ok(buf
            .iter()
            .map(|v| v.round().clamp(0.0, 255.0) as u8)
            .collect())
    }
}

/// The `k` best classes of a probability row, best first.
fn topk(row: &[f32], k: usize) -> Vec<(usize, f32)> {
    let mut idx: Vec<usize> = (0..row.len()).collect();
    idx.sort_by(|&a, &b| row[b].total_cmp(&row[a]).then(a.cmp(&b)));
    idx.into_iter().take(k).map(|i| (i, row[i])).collect()
}

/// Runs `predict --classifier` over `files`.
pub fn run(path: &Path, args: &PredictArgs, files: &[PathBuf]) -> Result<()> {
    let mut c = open(path, args)?;
    let k = args.topk.min(c.classes.len());
    let s = c.geometry.crop as i64;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if args.format == Format::Csv {
        writeln!(out, "{}", super::flag::CSV_HEADER)?;
    }
    let (mut done, mut skipped, mut unknown) = (0usize, 0usize, 0usize);
    let chunk_len = if c.input == "crop" { args.batch } else { 1 };
    for chunk in files.chunks(chunk_len) {
        let mut ok = Vec::new();
        let mut pixels = Vec::new();
        let mut shape = vec![0i64, s, s, 3];
        for f in chunk {
            let img = match crate::image_io::load_rgb8(f) {
                Ok(img) => img,
                Err(e) => {
                    skipped += 1;
                    eprintln!("skipped {e}");
                    continue;
                }
            };
            if c.input == "image" {
                shape = vec![1, img.height() as i64, img.width() as i64, 3];
                pixels = img.into_raw();
            } else {
                pixels.extend(
                    c.crop_pixels(&img)
                        .with_context(|| format!("{}", f.display()))?,
                );
                shape[0] += 1;
            }
            ok.push(f);
        }
        if ok.is_empty() {
            continue;
        }
        shape[0] = ok.len() as i64;
        let (probs, flags) = c.probabilities(shape, std::mem::take(&mut pixels))?;
        for ((row, f), flag) in probs.chunks(c.classes.len()).zip(&ok).zip(flags) {
            emit(&mut out, args.format, f, &topk(row, k), &c.classes, flag)?;
            done += 1;
            unknown += flag.is_some_and(|f| f.unknown) as usize;
        }
        out.flush()?;
    }
    eprintln!(
        "predicted {done} images with {}, skipped {skipped}{}",
        path.display(),
        super::flag::summary(c.threshold, unknown)
    );
    if done == 0 {
        bail!(
            "none of the {} files could be read as an image",
            files.len()
        );
    }
    Ok(())
}
