//! Deterministic views of an image, cached as rows beside the augmented passes and averaged per
//! image before the head (test-time averaging): the eval transform's centre crop, the four
//! corner crops at the same scale (torchvision's `TenCrop`), the whole image padded to a square
//! on white and resized to the input size — each with its horizontal flip.
//!
//! Every set is a prefix of the next (`centre` ⊂ `ten-crop` ⊂ `ten-crop+whole`), so caches
//! made with different sets share their first rows. `dense` stands apart: the same five crop
//! positions and the whole image, each with its flip, pooled from the feature map of one
//! backbone pass over the whole eval-scale image (and one over its mirror), see [`super::dense`].
//! `dense+whole` adds the exact whole-image view and its flip to them (two more passes);
//! `dense+whole-noflip` adds the exact whole-image view alone (one more pass).

use crate::backbone::sidecar::Layout;
pub use crate::preprocess::Pos;
use crate::preprocess::{
    resize_err, resize_options, with_scratch, Normalizer, PreprocessConfig, PreprocessError,
};
use fast_image_resize::images::ImageRef;
use fast_image_resize::PixelType;
use image::RgbImage;
use serde::{Deserialize, Serialize};

/// `--views`: which deterministic views are cached for every image of every split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ViewSet {
    /// The eval transform's centre crop and its flip (2 views).
    #[serde(rename = "centre")]
    Centre,
    /// The 4 corner crops and the centre crop at the eval scale, each with its flip (10 views).
    #[serde(rename = "ten-crop")]
    TenCrop,
    /// The 10 crops plus the whole image padded to a square on white, and its flip (12 views).
    #[serde(rename = "ten-crop+whole")]
    TenCropWhole,
    /// The 5 crop windows and the global mean of the feature map of the whole eval-scale image,
    /// each with its flip (12 views from 2 backbone passes; needs a globally pooled backbone).
    #[serde(rename = "dense")]
    Dense,
    /// The 12 dense views plus the exact whole image padded to a square on white, and its flip
    /// (14 views from 4 backbone passes: 2 of the eval-scale image, 2 of 224²).
    #[serde(rename = "dense+whole")]
    DenseWhole,
    /// The 12 dense views plus the exact whole image padded to a square on white, unflipped
    /// (13 views from 3 backbone passes: 2 of the eval-scale image, 1 of 224²).
    #[serde(rename = "dense+whole-noflip")]
    DenseWholeNoFlip,
    /// The 6 dense views of the image alone (no mirror pass) plus the exact whole image padded
    /// to a square on white, and its flip (8 views from 3 backbone passes: 1 of the eval-scale
    /// image, 2 of 224²).
    #[serde(rename = "dense-noflip+whole")]
    DenseNoFlipWhole,
    /// The 6 dense views of the image alone plus the exact whole image padded to a square on
    /// white, unflipped (7 views from 2 backbone passes: 1 of the eval-scale image, 1 of 224²).
    #[serde(rename = "dense-noflip+whole-noflip")]
    DenseNoFlipWholeNoFlip,
}

impl ViewSet {
    pub fn name(self) -> &'static str {
        match self {
            ViewSet::Centre => "centre",
            ViewSet::TenCrop => "ten-crop",
            ViewSet::TenCropWhole => "ten-crop+whole",
            ViewSet::Dense => "dense",
            ViewSet::DenseWhole => "dense+whole",
            ViewSet::DenseWholeNoFlip => "dense+whole-noflip",
            ViewSet::DenseNoFlipWhole => "dense-noflip+whole",
            ViewSet::DenseNoFlipWholeNoFlip => "dense-noflip+whole-noflip",
        }
    }

    /// The views of the set, in cache row order.
    pub fn views(self) -> Vec<View> {
        let both = |g: &[Geometry]| -> Vec<View> {
            g.iter()
                .flat_map(|&geometry| [false, true].map(|flip| View { geometry, flip }))
                .collect()
        };
        let plain = |g: &[Geometry]| -> Vec<View> {
            g.iter()
                .map(|&geometry| View {
                    geometry,
                    flip: false,
                })
                .collect()
        };
        let whole = &[Geometry::Whole];
        match self {
            ViewSet::Centre => both(&ALL_GEOMETRIES[..1]),
            ViewSet::TenCrop => both(&ALL_GEOMETRIES[..5]),
            ViewSet::TenCropWhole => both(&ALL_GEOMETRIES[..6]),
            ViewSet::Dense => both(&DENSE_GEOMETRIES),
            ViewSet::DenseWhole => [both(&DENSE_GEOMETRIES), both(whole)].concat(),
            ViewSet::DenseWholeNoFlip => [both(&DENSE_GEOMETRIES), plain(whole)].concat(),
            ViewSet::DenseNoFlipWhole => [plain(&DENSE_GEOMETRIES), both(whole)].concat(),
            ViewSet::DenseNoFlipWholeNoFlip => [plain(&DENSE_GEOMETRIES), plain(whole)].concat(),
        }
    }

    /// Backbone passes an image costs: one per exact view; for its dense views together one of
    /// the image, and one of its mirror when a dense view is flipped.
    pub fn backbone_passes(self) -> usize {
        let views = self.views();
        let exact = views.iter().filter(|v| !v.is_dense()).count();
        exact + usize::from(any_dense(&views)) + usize::from(needs_mirror(&views))
    }

    /// The names of [`ViewSet::views`], as recorded in caches and run configs.
    pub fn names(self) -> Vec<String> {
        self.views().iter().map(View::name).collect()
    }
}

/// The geometry of a view before its optional flip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Geometry {
    Crop(Pos),
    /// The whole image padded to a square on white, resized to `crop`×`crop`.
    Whole,
    /// The window of the whole image's feature map that the crop at this position covers.
    DenseWindow(Pos),
    /// The mean of the whole image's feature map.
    DenseGlobal,
}

const ALL_GEOMETRIES: [Geometry; 6] = [
    Geometry::Crop(Pos::Centre),
    Geometry::Crop(Pos::TopLeft),
    Geometry::Crop(Pos::TopRight),
    Geometry::Crop(Pos::BottomLeft),
    Geometry::Crop(Pos::BottomRight),
    Geometry::Whole,
];

/// The dense views' geometries.
const DENSE_GEOMETRIES: [Geometry; 6] = [
    Geometry::DenseWindow(Pos::Centre),
    Geometry::DenseWindow(Pos::TopLeft),
    Geometry::DenseWindow(Pos::TopRight),
    Geometry::DenseWindow(Pos::BottomLeft),
    Geometry::DenseWindow(Pos::BottomRight),
    Geometry::DenseGlobal,
];

/// Whether any of `views` is pooled from the mirror's map (else the mirror pass is not run).
pub fn needs_mirror(views: &[View]) -> bool {
    views.iter().any(|v| v.is_dense() && v.flip)
}

/// One deterministic view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct View {
    pub geometry: Geometry,
    /// Mirrored left–right after the geometry.
    pub flip: bool,
}

impl View {
    /// The eval transform itself.
    pub const CENTRE: View = View {
        geometry: Geometry::Crop(Pos::Centre),
        flip: false,
    };

    /// `centre`, `top-left-flip`, `whole`, `dense-centre`, `dense-global-flip`, …
    pub fn name(&self) -> String {
        let pos = |p: Pos| match p {
            Pos::Centre => "centre",
            Pos::TopLeft => "top-left",
            Pos::TopRight => "top-right",
            Pos::BottomLeft => "bottom-left",
            Pos::BottomRight => "bottom-right",
        };
        let base = match self.geometry {
            Geometry::Crop(p) => pos(p).to_string(),
            Geometry::Whole => "whole".to_string(),
            Geometry::DenseWindow(p) => format!("dense-{}", pos(p)),
            Geometry::DenseGlobal => "dense-global".to_string(),
        };
        if self.flip {
            format!("{base}-flip")
        } else {
            base
        }
    }

    /// Inverse of [`View::name`].
    pub fn parse(name: &str) -> Option<View> {
        [ViewSet::TenCropWhole, ViewSet::Dense]
            .into_iter()
            .flat_map(ViewSet::views)
            .find(|v| v.name() == name)
    }

    /// Pooled from the feature map of the whole image rather than computed from a crop.
    pub fn is_dense(&self) -> bool {
        matches!(
            self.geometry,
            Geometry::DenseWindow(_) | Geometry::DenseGlobal
        )
    }
}

/// Whether any of `views` is dense, so that its rows come from the backbone's feature maps (the
/// one answer extract, predict and the export graph ask).
pub fn any_dense(views: &[View]) -> bool {
    views.iter().any(View::is_dense)
}

/// The views a cache plan or a trained run names, parsed once; `Err` holds the first unknown
/// name.
pub fn parse_views(names: &[String]) -> Result<Vec<View>, String> {
    names
        .iter()
        .map(|n| View::parse(n).ok_or_else(|| n.clone()))
        .collect()
}

/// Writes `view` of `img` into `out` (`cfg.tensor_len()` floats); the centre view is exactly
/// [`super::eval_into`].
pub fn view_into(
    img: &RgbImage,
    cfg: &PreprocessConfig,
    view: View,
    out: &mut [f32],
) -> Result<(), PreprocessError> {
    match view.geometry {
        Geometry::Crop(pos) => crate::preprocess::crop_into(img, cfg, pos, out)?,
        Geometry::Whole => whole_into(img, cfg, out)?,
        Geometry::DenseWindow(_) | Geometry::DenseGlobal => {
            return Err(PreprocessError::InvalidConfig(format!(
                "view `{}` is pooled from a feature map, not an input crop",
                view.name()
            )))
        }
    }
    if view.flip {
        flip_in_place(out, cfg);
    }
    Ok(())
}

/// The whole image scaled so its longer side is `crop`, centred on a white `crop`×`crop` square.
fn whole_into(
    img: &RgbImage,
    cfg: &PreprocessConfig,
    out: &mut [f32],
) -> Result<(), PreprocessError> {
    cfg.check_out(out)?;
    let (w, h) = img.dimensions();
    if w == 0 || h == 0 {
        return Err(PreprocessError::EmptyImage {
            width: w,
            height: h,
        });
    }
    let (crop, long) = (cfg.crop as u64, w.max(h) as u64);
    let side = |s: u32| ((s as u64 * crop + long / 2) / long).clamp(1, crop) as u32;
    let (nw, nh) = (side(w), side(h));
    let (ox, oy) = ((cfg.crop - nw) / 2, (cfg.crop - nh) / 2);
    let norm = Normalizer::new(cfg);
    let c = cfg.crop as usize;
    with_scratch(|s| {
        let src = ImageRef::new(w, h, img.as_raw(), PixelType::U8x3).map_err(resize_err)?;
        let (buf, row) = s.resize(&src, nw, nh, &resize_options())?;
        for y in 0..c {
            row.clear();
            row.resize(3 * c, 255);
            let iy = y as i64 - oy as i64;
            if (0..nh as i64).contains(&iy) {
                let stride = 3 * nw as usize;
                let at = iy as usize * stride;
                let x0 = 3 * ox as usize;
                row[x0..x0 + stride].copy_from_slice(&buf[at..at + stride]);
            }
            norm.write_row(out, y, row);
        }
        Ok(())
    })
}

/// Mirrors an image tensor left–right in place, in either layout.
fn flip_in_place(out: &mut [f32], cfg: &PreprocessConfig) {
    let c = cfg.crop as usize;
    match cfg.layout {
        Layout::Nchw => out.chunks_exact_mut(c).for_each(|row| row.reverse()),
        Layout::Nhwc => {
            for row in out.chunks_exact_mut(3 * c) {
                for x in 0..c / 2 {
                    for ch in 0..3 {
                        row.swap(3 * x + ch, 3 * (c - 1 - x) + ch);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
