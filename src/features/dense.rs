//! Dense views: the whole image at the eval scale (shorter side `resize_shorter`, aspect kept)
//! and its mirror as one backbone input each, and the windows of their feature maps that stand
//! for the crop views (Simonyan & Zisserman 2015, §3.2).
//!
//! Shapes: the input is `2 × 3 × h × w` floats in the model's layout (plain, then mirrored);
//! a map is `C × mh × mw` (NCHW, one image); a crop of `crop` pixels covers `k` cells, so the
//! map's stride is `crop / k` pixels. A crop at pixel offset `x` becomes the window starting at
//! cell `round(x · k / crop)` (ties to even, as ONNX `Round`), clamped inside the map; the global view is the mean of all cells.
//! Windows equal the crop's own features exactly when the backbone has no padding effects and
//! the offsets are multiples of the stride (tested on such a fixture backbone); with VGG-16's
//! padded convolutions they are close (median cosine 0.965 on Tux Paint).

pub use super::views::needs_mirror;
use super::views::{Geometry, Pos, View};
use crate::preprocess::{
    resize_err, resized_size, window_options, with_scratch, Normalizer, PreprocessConfig,
    PreprocessError, Window,
};
use fast_image_resize::images::ImageRef;
use fast_image_resize::PixelType;
use image::RgbImage;

/// The dense input's longer side is at most this many times its shorter side; the centre part
/// of a more elongated image is used (its corner windows are then the corners of that part).
pub const MAX_ASPECT: u32 = 4;

/// One image's dense input: the eval-scale image and (when a view needs it) its mirror,
/// normalised.
#[derive(Debug, Clone)]
pub struct DenseInput {
    pub w: u32,
    pub h: u32,
    /// `planes × 3 × h × w` floats: the image, then its mirror if any, in the model's layout.
    pub data: Vec<f32>,
    /// Whether `data` holds the mirror after the image (2 planes) or the image alone (1).
    pub mirrored: bool,
}

impl DenseInput {
    /// Backbone inputs this image takes: the image, and its mirror when kept.
    pub fn planes(&self) -> usize {
        1 + usize::from(self.mirrored)
    }
}

/// Resizes `img` as the eval transform does (without its crop) and writes it, then its mirror
/// when `mirrored`.
pub fn dense_input(
    img: &RgbImage,
    cfg: &PreprocessConfig,
    mirrored: bool,
) -> Result<DenseInput, PreprocessError> {
    cfg.validate()?;
    let (w, h) = img.dimensions();
    let (nw, nh) = resized_size(w, h, cfg.resize_shorter)?;
    let cap = cfg.resize_shorter.saturating_mul(MAX_ASPECT);
    let axis = |n: u32| {
        if n > cap {
            Window::center(n, cap)
        } else {
            Window {
                dst_off: 0,
                src_start: 0,
                len: n,
            }
        }
    };
    let (wx, wy) = (axis(nw), axis(nh));
    let options = window_options((w, h), (nw, nh), &wx, &wy);
    let norm = Normalizer::new(cfg);
    let (ow, oh) = (wx.len, wy.len);
    let plane = 3 * ow as usize * oh as usize;
    let planes = 1 + usize::from(mirrored);
    let mut data = vec![0f32; planes * plane];
    with_scratch(|s| {
        let src = ImageRef::new(w, h, img.as_raw(), PixelType::U8x3).map_err(resize_err)?;
        let (buf, _) = s.resize(&src, ow, oh, &options)?;
        let (plain, mirror) = data.split_at_mut(plane);
        norm.write_rect(plain, buf, ow as usize, oh as usize, false);
        if mirrored {
            norm.write_rect(mirror, buf, ow as usize, oh as usize, true);
        }
        Ok::<(), PreprocessError>(())
    })?;
    Ok(DenseInput {
        w: ow,
        h: oh,
        data,
        mirrored,
    })
}

/// Where a crop covers the map: `k` cells a crop, `mw × mh` cells for a `w × h` input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MapGrid {
    pub crop: u32,
    pub k: usize,
    pub w: u32,
    pub h: u32,
    pub mw: usize,
    pub mh: usize,
}

/// A window of the map in cells: `(x0, y0, width, height)`.
pub type CellWindow = (usize, usize, usize, usize);

impl MapGrid {
    /// The window standing for the crop at `pos`, mirrored when `flip` (a window of the mirror's map).
    pub fn window(&self, pos: Pos, flip: bool) -> CellWindow {
        let (wx, wy) = pos.windows(self.w, self.h, self.crop);
        let mut x = wx.src_start;
        if flip {
            x = self.w.saturating_sub(self.crop).saturating_sub(x);
        }
        let (cx, kx) = self.cells(x, self.mw);
        let (cy, ky) = self.cells(wy.src_start, self.mh);
        (cx, cy, kx, ky)
    }

    fn cells(&self, px: u32, m: usize) -> (usize, usize) {
        if m <= self.k {
            return (0, m);
        }
        let c = (px as f64 * self.k as f64 / self.crop as f64).round_ties_even() as usize;
        (c.min(m - self.k), self.k)
    }
}

/// Mean of one image's map (`C × mh × mw`) over `win`, written to `out` (`C` values).
pub fn pool(map: &[f32], grid: &MapGrid, win: CellWindow, out: &mut [f32]) {
    let (x0, y0, kx, ky) = win;
    let cells = grid.mh * grid.mw;
    let n = (kx * ky) as f64;
    for (c, o) in out.iter_mut().enumerate() {
        let plane = &map[c * cells..(c + 1) * cells];
        let mut sum = 0f64;
        for y in y0..y0 + ky {
            let row = &plane[y * grid.mw + x0..y * grid.mw + x0 + kx];
            sum += row.iter().map(|&v| v as f64).sum::<f64>();
        }
        *o = (sum / n) as f32;
    }
}

/// The rows of `views` (all dense) from an image's map and its mirror's (`None` when no view is
/// flipped, see [`needs_mirror`]): `views.len() × C`.
pub fn rows(
    plain: &[f32],
    mirror: Option<&[f32]>,
    grid: &MapGrid,
    c: usize,
    views: &[View],
) -> Result<Vec<f32>, PreprocessError> {
    let mut out = vec![0f32; views.len() * c];
    for (v, o) in views.iter().zip(out.chunks_exact_mut(c.max(1))) {
        let map = match (v.flip, mirror) {
            (false, _) => plain,
            (true, Some(m)) => m,
            (true, None) => {
                return Err(PreprocessError::InvalidConfig(format!(
                    "view `{}` needs the mirror's map, which was not computed",
                    v.name()
                )))
            }
        };
        let win = match v.geometry {
            Geometry::DenseWindow(pos) => grid.window(pos, v.flip),
            _ => (0, 0, grid.mw, grid.mh),
        };
        pool(map, grid, win, o);
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
