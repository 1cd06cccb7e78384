//! A run's views of new images, computed as `extract` computes them: crop views through the
//! backbone in one batch, dense views pooled from the maps of each image and (when a view is
//! flipped) its mirror; the
//! head sees each image's mean over its views.

use crate::backbone::Backbone;
use crate::features::dense::{self, DenseInput, MapGrid};
use crate::features::views::{self, View};
use crate::preprocess::{PreprocessConfig, PreprocessError};
use anyhow::{bail, Result};
use image::RgbImage;
use ndarray::Array2;

/// One image made ready for the backbone.
pub struct Prepared {
    /// Crop views' tensors, in the order of the run's crop views.
    crops: Vec<f32>,
    dense: Option<DenseInput>,
}

/// Prepares `img` for the run's `views`.
pub fn prepare(
    img: &RgbImage,
    pre: &PreprocessConfig,
    views: &[View],
) -> Result<Prepared, PreprocessError> {
    let len = pre.tensor_len();
    let crop_views: Vec<&View> = views.iter().filter(|v| !v.is_dense()).collect();
    let mut crops = vec![0f32; len * crop_views.len()];
    for (v, out) in crop_views.iter().zip(crops.chunks_exact_mut(len)) {
        views::view_into(img, pre, **v, out)?;
    }
    let dense = if views::any_dense(views) {
        Some(dense::dense_input(img, pre, dense::needs_mirror(views))?)
    } else {
        None
    };
    Ok(Prepared { crops, dense })
}

/// The mean over `views` of each image's features: `[images.len(), D]`.
pub fn mean_features(
    bb: &mut Backbone,
    pre: &PreprocessConfig,
    views: &[View],
    images: &[Prepared],
) -> Result<Array2<f32>> {
    let d = bb.feature_dim();
    let n = images.len();
    let mut sum = Array2::<f32>::zeros((n, d));
    if views.is_empty() {
        bail!("the run averages no views");
    }
    let nc = views.iter().filter(|v| !v.is_dense()).count();
    if nc > 0 {
        let input: Vec<f32> = images
            .iter()
            .flat_map(|p| p.crops.iter().copied())
            .collect();
        let feats = bb.run(&input, n * nc)?;
        for (i, mut row) in sum.rows_mut().into_iter().enumerate() {
            for f in feats[i * nc * d..(i + 1) * nc * d].chunks_exact(d) {
                row.iter_mut().zip(f).for_each(|(s, &x)| *s += x);
            }
        }
    }
    let dense_views: Vec<View> = views.iter().filter(|v| v.is_dense()).copied().collect();
    if !dense_views.is_empty() {
        let k = bb.enable_dense()?;
        for (p, mut row) in images.iter().zip(sum.rows_mut()) {
            let Some(input) = &p.dense else {
                bail!("an image was prepared without its dense input");
            };
            let (h, w) = (input.h as usize, input.w as usize);
            let maps = bb.run_maps(&input.data, input.planes(), h, w)?;
            let grid = MapGrid {
                crop: pre.crop,
                k,
                w: input.w,
                h: input.h,
                mw: maps.mw,
                mh: maps.mh,
            };
            let mirror = input.mirrored.then(|| maps.image(1));
            let rows = dense::rows(maps.image(0), mirror, &grid, d, &dense_views)?;
            for f in rows.chunks_exact(d) {
                row.iter_mut().zip(f).for_each(|(s, &x)| *s += x);
            }
        }
    }
    sum /= views.len() as f32;
    Ok(sum)
}
