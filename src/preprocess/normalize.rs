//! Normalisation: 8-bit RGB rows → model tensor values through per-channel lookup tables, and
//! the inverse for previews.

use super::{PreprocessConfig, PreprocessError, Window};
use crate::backbone::sidecar::{ChannelOrder, Layout};
use image::RgbImage;

/// Writes RGB rows into the model's layout through per-channel lookup tables.
pub(crate) struct Normalizer {
    /// `lut[c][x]`: value of output channel `c` for source value `x`.
    lut: [[f32; 256]; 3],
    /// Source (RGB) channel feeding output channel `c`.
    src: [usize; 3],
    layout: Layout,
    crop: usize,
}

impl Normalizer {
    pub(crate) fn new(cfg: &PreprocessConfig) -> Self {
        let n = &cfg.normalization;
        let mut lut = [[0f32; 256]; 3];
        for (c, table) in lut.iter_mut().enumerate() {
            for (x, v) in table.iter_mut().enumerate() {
                *v = (x as f32 * n.scale - n.mean[c]) / n.std[c];
            }
        }
        let src = match cfg.channel_order {
            ChannelOrder::Rgb => [0, 1, 2],
            ChannelOrder::Bgr => [2, 1, 0],
        };
        Self {
            lut,
            src,
            layout: cfg.layout,
            crop: cfg.crop as usize,
        }
    }

    /// Fills every output row: rows and columns outside the window are black (pixel 0); inside,
    /// `fill(y, row)` writes window row `y` as `3 * wx.len` RGB bytes.
    pub(crate) fn write_window(
        &self,
        out: &mut [f32],
        wx: &Window,
        wy: &Window,
        row: &mut Vec<u8>,
        mut fill: impl FnMut(usize, &mut [u8]),
    ) {
        row.clear();
        row.resize(3 * self.crop, 0);
        let (x0, x1) = (3 * wx.dst_off as usize, 3 * (wx.dst_off + wx.len) as usize);
        let (y0, y1) = (wy.dst_off as usize, (wy.dst_off + wy.len) as usize);
        for y in 0..self.crop {
            if (y0..y1).contains(&y) {
                fill(y - y0, &mut row[x0..x1]);
            } else {
                row.fill(0);
            }
            self.write_row(out, y, row);
        }
    }

    /// Writes output row `y` from `row` (`crop` RGB pixels).
    pub(crate) fn write_row(&self, out: &mut [f32], y: usize, row: &[u8]) {
        let (crop, lut, src) = (self.crop, &self.lut, self.src);
        match self.layout {
            Layout::Nchw => {
                for c in 0..3 {
                    let start = (c * crop + y) * crop;
                    let plane = &mut out[start..start + crop];
                    for (o, px) in plane.iter_mut().zip(row.chunks_exact(3)) {
                        *o = lut[c][px[src[c]] as usize];
                    }
                }
            }
            Layout::Nhwc => {
                let dst = &mut out[3 * y * crop..3 * (y + 1) * crop];
                for (o, px) in dst.chunks_exact_mut(3).zip(row.chunks_exact(3)) {
                    o[0] = lut[0][px[src[0]] as usize];
                    o[1] = lut[1][px[src[1]] as usize];
                    o[2] = lut[2][px[src[2]] as usize];
                }
            }
        }
    }
}

impl Normalizer {
    /// Writes a `w × h` image (`pixels`: packed RGB rows) into `out` (`3·w·h` floats, the
    /// model's layout), mirrored left–right when `flip`.
    pub(crate) fn write_rect(
        &self,
        out: &mut [f32],
        pixels: &[u8],
        w: usize,
        h: usize,
        flip: bool,
    ) {
        let (lut, src) = (&self.lut, self.src);
        for y in 0..h {
            let row = &pixels[3 * w * y..3 * w * (y + 1)];
            for x in 0..w {
                let sx = if flip { w - 1 - x } else { x };
                let px = &row[3 * sx..3 * sx + 3];
                for c in 0..3 {
                    let v = lut[c][px[src[c]] as usize];
                    match self.layout {
                        Layout::Nchw => out[(c * h + y) * w + x] = v,
                        Layout::Nhwc => out[3 * (y * w + x) + c] = v,
                    }
                }
            }
        }
    }
}

/// Inverts the normalisation of one image tensor back to 8-bit RGB (for previews and checks).
pub fn denormalize_to_rgb8(
    tensor: &[f32],
    cfg: &PreprocessConfig,
) -> Result<RgbImage, PreprocessError> {
    cfg.check_out(tensor)?;
    let (n, crop) = (&cfg.normalization, cfg.crop as usize);
    let mut img = RgbImage::new(cfg.crop, cfg.crop);
    for (i, px) in img.pixels_mut().enumerate() {
        for c in 0..3 {
            let idx = match cfg.layout {
                Layout::Nchw => c * crop * crop + i,
                Layout::Nhwc => 3 * i + c,
            };
            let x = (tensor[idx] * n.std[c] + n.mean[c]) / n.scale;
            let s = match cfg.channel_order {
                ChannelOrder::Rgb => c,
                ChannelOrder::Bgr => 2 - c,
            };
            px.0[s] = x.round().clamp(0.0, 255.0) as u8;
        }
    }
    Ok(img)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preprocess::eval_into;

    #[test]
    fn denormalize_inverts_every_layout() {
        let img = RgbImage::from_fn(224, 224, |x, y| {
            image::Rgb([x as u8, y as u8, (x ^ y) as u8])
        });
        for layout in [Layout::Nchw, Layout::Nhwc] {
            for order in [ChannelOrder::Rgb, ChannelOrder::Bgr] {
                let cfg = PreprocessConfig {
                    resize_shorter: 224,
                    layout,
                    channel_order: order,
                    ..Default::default()
                };
                let mut out = vec![0f32; cfg.tensor_len()];
                eval_into(&img, &cfg, &mut out).unwrap();
                assert_eq!(
                    denormalize_to_rgb8(&out, &cfg).unwrap(),
                    img,
                    "{layout:?} {order:?}"
                );
            }
        }
    }
}
