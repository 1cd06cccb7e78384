//! Stage `augment-preview`: a PNG grid of one image's eval view and its augmented train views,
//! exactly as `extract` computes them (same seeds), de-normalised back to RGB.

use crate::backbone::sidecar::Sidecar;
use crate::preprocess::augment::{apply_into, sample_params, view_seed, AugmentConfig};
use crate::preprocess::{denormalize_to_rgb8, eval_into, PreprocessConfig};
use anyhow::{bail, Context};
use image::{Rgb, RgbImage};
use std::path::{Path, PathBuf};

/// Pixels between tiles; the eval tile gets a green frame of `FRAME` pixels in this gap.
const GAP: u32 = 8;
const FRAME: u32 = 4;
const MAX_VIEWS: u32 = 256;

/// Arguments of the `augment-preview` stage.
#[derive(Debug, clap::Args)]
pub struct PreviewArgs {
    /// Image to augment.
    pub image: PathBuf,
    /// Number of augmented views (passes 0..n).
    #[arg(long, default_value_t = 16)]
    pub n: u32,
    /// Augmentation seed, as given to `extract --seed`.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output PNG.
    #[arg(long, default_value = "grid.png")]
    pub out: PathBuf,
    /// Backbone (`.onnx`, sidecar read from beside it) or sidecar `.json` whose preprocessing to
    /// use [default: torchvision's ImageNet transform, resize 256, crop 224].
    #[arg(long, value_name = "PATH")]
    pub model: Option<PathBuf>,
}

/// Runs the `augment-preview` stage.
pub fn run(args: PreviewArgs) -> anyhow::Result<()> {
    if args.n == 0 || args.n > MAX_VIEWS {
        bail!("--n {} must be in 1..={MAX_VIEWS}", args.n);
    }
    let cfg = match &args.model {
        Some(m) => config_for(m)?,
        None => PreprocessConfig::default(),
    };
    let aug = AugmentConfig::default();
    let img = load_image(&args.image)?;
    // Views are seeded by the image's content, as `extract` seeds them: these are its rows.
    let content = crate::dataset::files::content_hash(&args.image);
    let mut tiles = Vec::with_capacity(args.n as usize + 1);
    let mut tensor = vec![0f32; cfg.tensor_len()];
    eval_into(&img, &cfg, &mut tensor)
        .with_context(|| format!("eval transform of {}", args.image.display()))?;
    tiles.push(denormalize_to_rgb8(&tensor, &cfg)?);
    crate::say!(
        "tile 1 (green frame): eval view, resize {} → crop {}",
        cfg.resize_shorter,
        cfg.crop
    );
    for pass in 0..args.n {
        let vs = view_seed(args.seed, pass, &content);
        let p = sample_params(img.width(), img.height(), &aug, vs)?;
        apply_into(&img, &cfg, aug.rrc_size, &p, &mut tensor)
            .with_context(|| format!("augmenting {} (pass {pass})", args.image.display()))?;
        tiles.push(denormalize_to_rgb8(&tensor, &cfg)?);
        let b = p.crop;
        crate::say!(
            "tile {}: pass {pass}, view seed {vs:#018x}, crop {}×{} at ({}, {}), rotate {:+.2}°, flip {}",
            pass + 2,
            b.width,
            b.height,
            b.left,
            b.top,
            p.angle_deg,
            if p.hflip { "yes" } else { "no" }
        );
    }
    let grid = grid(&tiles, cfg.crop);
    grid.save(&args.out).with_context(|| {
        format!(
            "cannot write {}; check the folder exists and is writable",
            args.out.display()
        )
    })?;
    crate::say!(
        "wrote {} ({}×{}, {} tiles, views seeded by content {content}, seed {})",
        args.out.display(),
        grid.width(),
        grid.height(),
        tiles.len(),
        args.seed
    );
    Ok(())
}

/// Preprocessing from a sidecar `.json` or from the sidecar beside a model.
fn config_for(model: &Path) -> anyhow::Result<PreprocessConfig> {
    let sidecar = if model.extension().is_some_and(|e| e == "json") {
        Sidecar::load(model)?
    } else {
        Sidecar::load_for(model)?.with_context(|| {
            format!(
                "no sidecar {} beside the model; write one (see models/README.md) or omit --model",
                Sidecar::path_for(model).display()
            )
        })?
    };
    Ok(PreprocessConfig::from_sidecar(&sidecar))
}

/// Decodes any supported image to RGB8. TODO(lead): switch to `image_io::load_rgb8` once merged.
fn load_image(path: &Path) -> anyhow::Result<RgbImage> {
    let img =
        image::open(path).with_context(|| format!("cannot decode image {}", path.display()))?;
    Ok(img.to_rgb8())
}

/// Lays `tiles` (each `side`²) out row-major in a near-square grid; tile 0 gets a green frame.
fn grid(tiles: &[RgbImage], side: u32) -> RgbImage {
    let n = tiles.len() as u32;
    let cols = (n as f64).sqrt().ceil() as u32;
    let rows = n.div_ceil(cols);
    let step = side + GAP;
    let mut canvas = RgbImage::from_pixel(cols * step + GAP, rows * step + GAP, Rgb([40, 40, 40]));
    for (i, tile) in tiles.iter().enumerate() {
        let (x, y) = (
            GAP + (i as u32 % cols) * step,
            GAP + (i as u32 / cols) * step,
        );
        if i == 0 {
            let frame =
                RgbImage::from_pixel(side + 2 * FRAME, side + 2 * FRAME, Rgb([40, 200, 60]));
            image::imageops::replace(&mut canvas, &frame, (x - FRAME) as i64, (y - FRAME) as i64);
        }
        image::imageops::replace(&mut canvas, tile, x as i64, y as i64);
    }
    canvas
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_places_tiles_row_major() {
        let tiles: Vec<RgbImage> = (0..5)
            .map(|i| RgbImage::from_pixel(4, 4, Rgb([i * 50, 0, 0])))
            .collect();
        let g = grid(&tiles, 4);
        // 5 tiles → 3 columns, 2 rows.
        assert_eq!(g.dimensions(), (3 * 12 + 8, 2 * 12 + 8));
        assert_eq!(g.get_pixel(8 + 12, 8).0, [50, 0, 0]);
        assert_eq!(g.get_pixel(8 + 12, 8 + 12).0, [200, 0, 0]);
        assert_eq!(g.get_pixel(8 - 1, 8).0, [40, 200, 60]);
    }
}
