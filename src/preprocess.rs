//! Eval preprocessing shared by extract, eval and predict: torchvision's `Resize(shorter side)` →
//! `CenterCrop` → `ToTensor` → `Normalize`, written straight into the model's input layout.
//!
//! Resizing is PIL's bilinear filter with antialiasing (support scaled by the downscale factor),
//! done by `fast_image_resize`'s convolution resizer, which follows PIL's algorithm. Only the
//! centre-crop window of the resized image is computed (a fractional source crop box whose
//! coefficients equal those of the full resize), so a 1×500 image never materialises its
//! 256×128000 resize. Tensor values: `(x * scale - mean[c]) / std[c]` for pixels `x` in 0–255, in
//! the model's channel order (see [`Normalization`]).

use crate::backbone::sidecar::{ChannelOrder, Layout, Normalization, Sidecar};

pub mod augment;
mod normalize;
use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, IntoImageView, PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::RgbImage;
pub use normalize::denormalize_to_rgb8;
pub(crate) use normalize::Normalizer;
use serde::{Deserialize, Serialize};
use std::cell::RefCell;

/// The resize filter this build implements; recorded in configs and caches.
pub const RESIZE_FILTER: &str =
    "bilinear-antialias (PIL-compatible, fast_image_resize convolution)";

/// Largest side the resize/augment geometry accepts (PIL's 16.16 fixed-point rotation limit).
pub const MAX_SIDE: u32 = 8192;

/// Everything that decides the tensor an image becomes; recorded in the cache manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreprocessConfig {
    /// Shorter side after the eval resize (256).
    pub resize_shorter: u32,
    /// Side of the square centre crop fed to the model (224).
    pub crop: u32,
    pub layout: Layout,
    pub channel_order: ChannelOrder,
    pub normalization: Normalization,
    /// Must equal [`RESIZE_FILTER`].
    pub resize_filter: String,
}

/// Errors turning an image into a tensor.
#[derive(Debug, thiserror::Error)]
pub enum PreprocessError {
    #[error("image is {width}×{height} pixels: nothing to resize; skip it or re-export it")]
    EmptyImage { width: u32, height: u32 },
    #[error("image {width}×{height} resized to shorter side {shorter} would be {long} pixels long (limit {max}); crop the image to a saner aspect ratio")]
    TooElongated {
        width: u32,
        height: u32,
        shorter: u32,
        long: u64,
        max: u64,
    },
    #[error("output buffer holds {got} floats, the config needs {expected} (3×crop×crop)")]
    OutputLength { expected: usize, got: usize },
    #[error("invalid preprocessing config: {0}")]
    InvalidConfig(String),
    #[error("resize failed ({0}); this is a bug, please report it with the image size")]
    Resize(String),
}

impl Default for PreprocessConfig {
    /// torchvision ImageNet eval: Resize(256) → CenterCrop(224) → NCHW RGB, ImageNet mean/std.
    fn default() -> Self {
        Self {
            resize_shorter: 256,
            crop: 224,
            layout: Layout::Nchw,
            channel_order: ChannelOrder::Rgb,
            normalization: Normalization::imagenet(),
            resize_filter: RESIZE_FILTER.to_owned(),
        }
    }
}

impl PreprocessConfig {
    /// The preprocessing a backbone's sidecar asks for.
    pub fn from_sidecar(s: &Sidecar) -> Self {
        Self {
            resize_shorter: s.resize_shorter,
            crop: s.input_size,
            layout: s.layout,
            channel_order: s.channel_order,
            normalization: s.normalization.clone(),
            resize_filter: RESIZE_FILTER.to_owned(),
        }
    }

    /// Floats per image: `3 * crop * crop`.
    pub fn tensor_len(&self) -> usize {
        3 * self.crop as usize * self.crop as usize
    }

    /// Same geometry, but NCHW RGB values `x / 255` in 0–1 (torchvision's `ToTensor()` output).
    pub fn unit_range(&self) -> Self {
        Self {
            layout: Layout::Nchw,
            channel_order: ChannelOrder::Rgb,
            normalization: Normalization {
                scale: 1.0 / 255.0,
                mean: [0.0; 3],
                std: [1.0; 3],
            },
            ..self.clone()
        }
    }

    /// Checks sizes, normalisation and filter name.
    pub fn validate(&self) -> Result<(), PreprocessError> {
        let bad = |m: String| Err(PreprocessError::InvalidConfig(m));
        if self.crop == 0 || self.crop > MAX_SIDE {
            return bad(format!("crop {} must be in 1..={MAX_SIDE}", self.crop));
        }
        if self.resize_shorter == 0 || self.resize_shorter > MAX_SIDE {
            let r = self.resize_shorter;
            return bad(format!("resize_shorter {r} must be in 1..={MAX_SIDE}"));
        }
        let n = &self.normalization;
        let finite = n.scale.is_finite() && n.mean.iter().all(|m| m.is_finite());
        if !finite || n.std.iter().any(|s| !s.is_finite() || *s == 0.0) {
            return bad(format!(
                "normalisation {n:?} needs finite values and non-zero std"
            ));
        }
        if self.resize_filter != RESIZE_FILTER {
            return bad(format!(
                "resize filter {:?} is not the one this build implements ({RESIZE_FILTER:?}); re-extract with this build",
                self.resize_filter
            ));
        }
        Ok(())
    }

    pub(crate) fn check_out(&self, out: &[f32]) -> Result<(), PreprocessError> {
        self.validate()?;
        if out.len() != self.tensor_len() {
            return Err(PreprocessError::OutputLength {
                expected: self.tensor_len(),
                got: out.len(),
            });
        }
        Ok(())
    }
}

/// Eval transform: Resize(shorter side → `resize_shorter`, PIL bilinear antialias) →
/// CenterCrop(`crop`, zero padding if smaller, as torchvision) → normalise → `out`
/// (`tensor_len()` floats in the config's layout and channel order).
pub fn eval_into(
    img: &RgbImage,
    cfg: &PreprocessConfig,
    out: &mut [f32],
) -> Result<(), PreprocessError> {
    crop_into(img, cfg, Pos::Centre, out)
}

/// Where a crop window sits in the resized image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pos {
    Centre,
    TopLeft,
    TopRight,
    BottomLeft,
    BottomRight,
}

impl Pos {
    /// Crop windows `(x, y)` in a `nw`×`nh` resized image; a side shorter than `crop` is padded
    /// as the centre crop pads it.
    pub(crate) fn windows(self, nw: u32, nh: u32, crop: u32) -> (Window, Window) {
        let axis = |size: u32, far: Option<bool>| match far {
            Some(far) if crop <= size => Window {
                dst_off: 0,
                src_start: if far { size - crop } else { 0 },
                len: crop,
            },
            _ => Window::center(size, crop),
        };
        let (fx, fy) = match self {
            Pos::Centre => (None, None),
            Pos::TopLeft => (Some(false), Some(false)),
            Pos::TopRight => (Some(true), Some(false)),
            Pos::BottomLeft => (Some(false), Some(true)),
            Pos::BottomRight => (Some(true), Some(true)),
        };
        (axis(nw, fx), axis(nh, fy))
    }
}

/// [`eval_into`] with the crop window at `pos` (centre or a corner, as torchvision's `FiveCrop`).
pub(crate) fn crop_into(
    img: &RgbImage,
    cfg: &PreprocessConfig,
    pos: Pos,
    out: &mut [f32],
) -> Result<(), PreprocessError> {
    cfg.check_out(out)?;
    let (w, h) = img.dimensions();
    let (nw, nh) = resized_size(w, h, cfg.resize_shorter)?;
    let (wx, wy) = pos.windows(nw, nh, cfg.crop);
    let options = window_options((w, h), (nw, nh), &wx, &wy);
    let norm = Normalizer::new(cfg);
    with_scratch(|s| {
        let src = ImageRef::new(w, h, img.as_raw(), PixelType::U8x3).map_err(resize_err)?;
        let (buf, row_buf) = s.resize(&src, wx.len, wy.len, &options)?;
        norm.write_window(out, &wx, &wy, row_buf, |y, row| {
            let stride = 3 * wx.len as usize;
            row.copy_from_slice(&buf[y * stride..(y + 1) * stride]);
        });
        Ok(())
    })
}

/// Resize options computing only the window `wx × wy` of a `w × h` image resized to `nw × nh`:
/// the window's source box, in source pixels, whose coefficients equal those of the full resize.
pub(crate) fn window_options(
    (w, h): (u32, u32),
    (nw, nh): (u32, u32),
    wx: &Window,
    wy: &Window,
) -> ResizeOptions {
    let (sx, sy) = (w as f64 / nw as f64, h as f64 / nh as f64);
    let left = wx.src_start as f64 * sx;
    let top = wy.src_start as f64 * sy;
    let right = (((wx.src_start + wx.len) as f64) * sx).min(w as f64);
    let bottom = (((wy.src_start + wy.len) as f64) * sy).min(h as f64);
    resize_options().crop(left, top, right - left, bottom - top)
}

/// Output size of torchvision's `Resize(shorter)` for a `w`×`h` image: shorter side → `shorter`,
/// longer side → `int(shorter * long / short)` (truncated).
pub fn resized_size(w: u32, h: u32, shorter: u32) -> Result<(u32, u32), PreprocessError> {
    if w == 0 || h == 0 {
        return Err(PreprocessError::EmptyImage {
            width: w,
            height: h,
        });
    }
    let (short, long) = if w <= h { (w, h) } else { (h, w) };
    let new_long = (shorter as u64 * long as u64) as f64 / short as f64;
    let new_long = new_long as u64;
    let max = u32::MAX as u64 / 4;
    if new_long > max {
        return Err(PreprocessError::TooElongated {
            width: w,
            height: h,
            shorter,
            long: new_long,
            max,
        });
    }
    let new_long = new_long as u32;
    Ok(if w <= h {
        (shorter, new_long)
    } else {
        (new_long, shorter)
    })
}

/// One axis of torchvision's `CenterCrop(crop)` on a side of `size` pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Window {
    /// Output pixels before the image starts (zero padding when `crop > size`).
    pub dst_off: u32,
    /// First image pixel inside the crop.
    pub src_start: u32,
    /// Image pixels inside the crop.
    pub len: u32,
}

impl Window {
    pub(crate) fn center(size: u32, crop: u32) -> Self {
        if crop > size {
            // torchvision pads (crop - size) // 2 before, the rest after.
            Self {
                dst_off: (crop - size) / 2,
                src_start: 0,
                len: size,
            }
        } else {
            // int(round((size - crop) / 2.0)), Python rounds halves to even.
            let start = ((size - crop) as f64 / 2.0).round_ties_even() as u32;
            Self {
                dst_off: 0,
                src_start: start,
                len: crop,
            }
        }
    }
}

/// PIL-compatible bilinear convolution (antialiased when downscaling).
pub(crate) fn resize_options() -> ResizeOptions {
    ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Bilinear))
}

pub(crate) fn resize_err(e: impl std::fmt::Display) -> PreprocessError {
    PreprocessError::Resize(e.to_string())
}

/// Per-thread buffers reused across images.
pub(crate) struct Scratch {
    resizer: Resizer,
    buf: Vec<u8>,
    row: Vec<u8>,
}

impl Scratch {
    /// Resizes `src` (with `options`' crop box) to `w`×`h` RGB; returns the packed pixels and
    /// the row buffer.
    pub(crate) fn resize(
        &mut self,
        src: &impl IntoImageView,
        w: u32,
        h: u32,
        options: &ResizeOptions,
    ) -> Result<(&[u8], &mut Vec<u8>), PreprocessError> {
        let len = 3 * w as usize * h as usize;
        self.buf.resize(len, 0);
        let mut dst = Image::from_slice_u8(w, h, &mut self.buf[..len], PixelType::U8x3)
            .map_err(resize_err)?;
        self.resizer
            .resize(src, &mut dst, options)
            .map_err(resize_err)?;
        Ok((&self.buf[..len], &mut self.row))
    }
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch {
        resizer: Resizer::new(),
        buf: Vec::new(),
        row: Vec::new(),
    });
}

/// Runs `f` with this thread's scratch buffers.
pub(crate) fn with_scratch<T>(f: impl FnOnce(&mut Scratch) -> T) -> T {
    SCRATCH.with(|s| f(&mut s.borrow_mut()))
}

#[cfg(test)]
mod tests;
