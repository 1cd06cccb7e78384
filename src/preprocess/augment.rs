//! Train augmentation, as the notebook's torchvision pipeline on PIL images:
//! `RandomResizedCrop(256, scale, ratio)` → `RandomRotation(±15°)` → `RandomHorizontalFlip` →
//! `CenterCrop(224)` → `ToTensor` → `Normalize`. The notebook's `ColorJitter()` has all factors 0
//! (a no-op) and is skipped.
//!
//! Geometry follows torchvision/PIL exactly: the crop box is cut out first (so the bilinear
//! antialias filter clamps at the box edges, as `F.resized_crop` on a PIL image does), the
//! rotation is PIL's `Image.rotate(angle, NEAREST, expand=False)` about the centre with its 16.16
//! fixed-point affine sampler and black fill, and only the final centre crop is ever written.
//! Randomness comes from a `ChaCha8Rng` seeded by [`view_seed`], drawn in this order: the crop box
//! (per try: area fraction, log aspect ratio; then top, left), the angle, the flip. The draws are
//! f64 (torch draws f32), so boxes follow torchvision's distribution, not its exact numbers.

use crate::preprocess::{
    resize_err, resize_options, with_scratch, Normalizer, PreprocessConfig, PreprocessError,
    Window, MAX_SIDE,
};
use fast_image_resize::images::{CroppedImage, ImageRef};
use fast_image_resize::PixelType;
use image::RgbImage;
use rand::Rng;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Parameters of the train augmentation (defaults: the notebook's).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AugmentConfig {
    /// Side of the square `RandomResizedCrop` output (256).
    pub rrc_size: u32,
    /// Range of the crop's area as a fraction of the image area ((0.8, 1.0)).
    pub scale: (f32, f32),
    /// Range of the crop's aspect ratio width/height, sampled log-uniformly ((3/4, 4/3)).
    pub ratio: (f32, f32),
    /// Rotation angle range ±degrees, counter-clockwise positive (15).
    pub rotation_deg: f32,
    /// Probability of a horizontal flip (0.5).
    pub hflip_p: f32,
}

impl Default for AugmentConfig {
    fn default() -> Self {
        Self {
            rrc_size: 256,
            scale: (0.8, 1.0),
            ratio: (3.0 / 4.0, 4.0 / 3.0),
            rotation_deg: 15.0,
            hflip_p: 0.5,
        }
    }
}

impl AugmentConfig {
    /// Checks ranges: `0 < scale.0 <= scale.1`, `0 < ratio.0 <= ratio.1`, finite non-negative
    /// angle, `hflip_p` in 0–1, `rrc_size` in 1..=[`MAX_SIDE`].
    pub fn validate(&self) -> Result<(), PreprocessError> {
        let ok_range = |(a, b): (f32, f32)| a.is_finite() && b.is_finite() && 0.0 < a && a <= b;
        let problem = if self.rrc_size == 0 || self.rrc_size > MAX_SIDE {
            format!("rrc_size {} must be in 1..={MAX_SIDE}", self.rrc_size)
        } else if !ok_range(self.scale) {
            format!("scale {:?} must satisfy 0 < min <= max", self.scale)
        } else if !ok_range(self.ratio) {
            format!("ratio {:?} must satisfy 0 < min <= max", self.ratio)
        } else if !(self.rotation_deg.is_finite() && self.rotation_deg >= 0.0) {
            format!("rotation_deg {} must be finite and >= 0", self.rotation_deg)
        } else if !(0.0..=1.0).contains(&self.hflip_p) {
            format!("hflip_p {} must be in 0–1", self.hflip_p)
        } else {
            return Ok(());
        };
        Err(PreprocessError::InvalidConfig(problem))
    }
}

/// A crop box in source pixels (torchvision's `i, j, h, w`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CropBox {
    pub top: u32,
    pub left: u32,
    pub height: u32,
    pub width: u32,
}

/// The random choices of one augmented view.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AugmentParams {
    pub crop: CropBox,
    /// Counter-clockwise degrees.
    pub angle_deg: f64,
    pub hflip: bool,
}

/// The seed of one augmented view: `seed::derive(seed, ["augment", pass (LE), content])`, where
/// `content` is the image's BLAKE3 (32 hex digits): a view depends on what the image is, not on
/// where it sits, so moving or re-splitting a file keeps its augmented rows reusable.
pub fn view_seed(seed: u64, pass: u32, content: &str) -> u64 {
    crate::seed::derive(seed, &[b"augment", &pass.to_le_bytes(), content.as_bytes()])
}

/// Train transform: RandomResizedCrop → RandomRotation → RandomHorizontalFlip → CenterCrop(crop) →
/// normalise → `out` (`cfg.tensor_len()` floats), all randomness from `view_seed`.
pub fn train_into(
    img: &RgbImage,
    cfg: &PreprocessConfig,
    aug: &AugmentConfig,
    view_seed: u64,
    out: &mut [f32],
) -> Result<(), PreprocessError> {
    let params = sample_params(img.width(), img.height(), aug, view_seed)?;
    apply_into(img, cfg, aug.rrc_size, &params, out)
}

/// Draws the crop box, angle and flip of one view of a `width`×`height` image.
pub fn sample_params(
    width: u32,
    height: u32,
    aug: &AugmentConfig,
    view_seed: u64,
) -> Result<AugmentParams, PreprocessError> {
    aug.validate()?;
    if width == 0 || height == 0 {
        return Err(PreprocessError::EmptyImage { width, height });
    }
    let mut rng = ChaCha8Rng::seed_from_u64(view_seed);
    let crop = sample_crop_box(width, height, aug.scale, aug.ratio, &mut rng);
    let deg = aug.rotation_deg as f64;
    let angle_deg = -deg + 2.0 * deg * rng.gen::<f64>();
    let hflip = rng.gen::<f32>() < aug.hflip_p;
    Ok(AugmentParams {
        crop,
        angle_deg,
        hflip,
    })
}

/// torchvision's `RandomResizedCrop.get_params`: 10 tries of (area fraction uniform in `scale`,
/// aspect log-uniform in `ratio`, sides rounded half-to-even), else the centred fallback crop
/// clamped to `ratio`.
pub fn sample_crop_box(
    width: u32,
    height: u32,
    scale: (f32, f32),
    ratio: (f32, f32),
    rng: &mut impl Rng,
) -> CropBox {
    let area = width as f64 * height as f64;
    let (s0, s1) = (scale.0 as f64, scale.1 as f64);
    let (r0, r1) = ((ratio.0 as f64).ln(), (ratio.1 as f64).ln());
    for _ in 0..10 {
        let target_area = area * (s0 + (s1 - s0) * rng.gen::<f64>());
        let aspect = (r0 + (r1 - r0) * rng.gen::<f64>()).exp();
        let w = (target_area * aspect).sqrt().round_ties_even();
        let h = (target_area / aspect).sqrt().round_ties_even();
        if 0.0 < w && w <= width as f64 && 0.0 < h && h <= height as f64 {
            let (w, h) = (w as u32, h as u32);
            let top = rng.gen_range(0..=height - h);
            let left = rng.gen_range(0..=width - w);
            return CropBox {
                top,
                left,
                height: h,
                width: w,
            };
        }
    }
    let in_ratio = width as f64 / height as f64;
    let (rmin, rmax) = (ratio.0 as f64, ratio.1 as f64);
    let (w, h) = if in_ratio < rmin {
        (
            width,
            ((width as f64 / rmin).round_ties_even() as u32).max(1),
        )
    } else if in_ratio > rmax {
        (
            ((height as f64 * rmax).round_ties_even() as u32).max(1),
            height,
        )
    } else {
        (width, height)
    };
    CropBox {
        top: (height - h) / 2,
        left: (width - w) / 2,
        height: h,
        width: w,
    }
}

/// Applies explicit augmentation choices: crop `params.crop`, resize to `rrc_size`² (PIL
/// bilinear antialias), rotate by `params.angle_deg` (PIL nearest, black fill), flip if
/// `params.hflip`, centre-crop `cfg.crop`, normalise into `out`.
pub fn apply_into(
    img: &RgbImage,
    cfg: &PreprocessConfig,
    rrc_size: u32,
    params: &AugmentParams,
    out: &mut [f32],
) -> Result<(), PreprocessError> {
    cfg.check_out(out)?;
    let (w, h) = img.dimensions();
    let b = params.crop;
    let inside = |start: u32, len: u32, size: u32| {
        len > 0 && start.checked_add(len).is_some_and(|e| e <= size)
    };
    let fits = inside(b.left, b.width, w) && inside(b.top, b.height, h);
    if !fits || rrc_size == 0 || rrc_size > MAX_SIDE {
        return Err(PreprocessError::InvalidConfig(format!(
            "crop box {b:?} must lie inside the {w}×{h} image and rrc_size {rrc_size} be in 1..={MAX_SIDE}"
        )));
    }
    let rot = PilRotation::new(params.angle_deg, rrc_size);
    // Square: the same centre-crop window on both axes.
    let win = Window::center(rrc_size, cfg.crop);
    let norm = Normalizer::new(cfg);
    let n = rrc_size as i64;
    with_scratch(|s| {
        let src = ImageRef::new(w, h, img.as_raw(), PixelType::U8x3).map_err(resize_err)?;
        let cropped =
            CroppedImage::new(&src, b.left, b.top, b.width, b.height).map_err(resize_err)?;
        let (rrc, row_buf) = s.resize(&cropped, rrc_size, rrc_size, &resize_options())?;
        norm.write_window(out, &win, &win, row_buf, |y, row| {
            let py = (y as u32 + win.src_start) as i64;
            for (i, px) in row.chunks_exact_mut(3).enumerate() {
                let x = (i as u32 + win.src_start) as i64;
                let x = if params.hflip { n - 1 - x } else { x };
                let rgb = match rot.source(x, py) {
                    Some((xin, yin)) if xin < n && yin < n => {
                        let at = 3 * (yin * n + xin) as usize;
                        &rrc[at..at + 3]
                    }
                    _ => &[0u8; 3][..],
                };
                px.copy_from_slice(rgb);
            }
        });
        Ok(())
    })
}

/// PIL's `Image.rotate(angle, NEAREST, expand=False)` on a `size`² image: the inverse affine map
/// in 16.16 fixed point, as Pillow's `affine_fixed` samples it.
struct PilRotation {
    a: [i64; 6],
}

impl PilRotation {
    fn new(angle_deg: f64, size: u32) -> Self {
        let t = -angle_deg.rem_euclid(360.0).to_radians();
        let (cos, sin) = (round15(t.cos()), round15(t.sin()));
        let m = [cos, sin, 0.0, round15(-t.sin()), cos, 0.0];
        let c = size as f64 / 2.0;
        let m2 = m[0] * -c + m[1] * -c + m[2] + c;
        let m5 = m[3] * -c + m[4] * -c + m[5] + c;
        let fix = |v: f64| (v * 65536.0 + 0.5).floor() as i64;
        Self {
            a: [
                fix(m[0]),
                fix(m[1]),
                fix(m2 + m[0] * 0.5 + m[1] * 0.5),
                fix(m[3]),
                fix(m[4]),
                fix(m5 + m[3] * 0.5 + m[4] * 0.5),
            ],
        }
    }

    /// Source pixel sampled by output pixel `(x, y)`; `None` when left of or above the image.
    fn source(&self, x: i64, y: i64) -> Option<(i64, i64)> {
        let a = &self.a;
        let xin = (a[2] + x * a[0] + y * a[1]) >> 16;
        let yin = (a[5] + x * a[3] + y * a[4]) >> 16;
        (xin >= 0 && yin >= 0).then_some((xin, yin))
    }
}

/// Python's `round(v, 15)` (correctly rounded through the decimal string, as CPython does).
fn round15(v: f64) -> f64 {
    format!("{v:.15}").parse().unwrap_or(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round15_matches_python() {
        // Python: round(math.sin(-math.pi), 15) == -0.0; round(math.cos(0.1), 15) == 0.995004165278026
        assert_eq!(round15((-std::f64::consts::PI).sin()), 0.0);
        assert_eq!(round15(0.1f64.cos()), 0.995004165278026);
    }

    #[test]
    fn rotation_by_zero_is_identity_and_by_180_mirrors() {
        let r = PilRotation::new(0.0, 256);
        for (x, y) in [(0, 0), (17, 200), (255, 255)] {
            assert_eq!(r.source(x, y), Some((x, y)));
        }
        let r = PilRotation::new(-180.0, 256);
        assert_eq!(r.source(0, 0), Some((255, 255)));
        assert_eq!(r.source(10, 3), Some((245, 252)));
    }

    #[test]
    fn validate_rejects_bad_ranges() {
        let bad = [
            AugmentConfig {
                scale: (0.9, 0.8),
                ..Default::default()
            },
            AugmentConfig {
                ratio: (0.0, 1.0),
                ..Default::default()
            },
            AugmentConfig {
                rotation_deg: f32::NAN,
                ..Default::default()
            },
            AugmentConfig {
                hflip_p: 1.5,
                ..Default::default()
            },
            AugmentConfig {
                rrc_size: 0,
                ..Default::default()
            },
        ];
        for a in bad {
            assert!(a.validate().is_err(), "{a:?}");
        }
        AugmentConfig::default().validate().unwrap();
    }

    #[test]
    fn apply_rejects_boxes_outside_the_image() {
        let img = RgbImage::new(10, 10);
        let cfg = PreprocessConfig::default();
        let mut out = vec![0f32; cfg.tensor_len()];
        for crop in [
            CropBox {
                top: 0,
                left: u32::MAX,
                height: 5,
                width: 2,
            },
            CropBox {
                top: 6,
                left: 0,
                height: 5,
                width: 5,
            },
            CropBox {
                top: 0,
                left: 0,
                height: 0,
                width: 5,
            },
        ] {
            let p = AugmentParams {
                crop,
                angle_deg: 0.0,
                hflip: false,
            };
            let e = apply_into(&img, &cfg, 256, &p, &mut out).unwrap_err();
            assert!(
                e.to_string().contains("must lie inside the 10×10 image"),
                "{e}"
            );
        }
    }

    #[test]
    fn fallback_crop_clamps_extreme_aspect_ratios() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let b = sample_crop_box(1, 500, (0.8, 1.0), (0.75, 4.0 / 3.0), &mut rng);
        assert_eq!(
            b,
            CropBox {
                top: 249,
                left: 0,
                height: 1,
                width: 1
            }
        );
        let b = sample_crop_box(1000, 10, (0.8, 1.0), (0.75, 4.0 / 3.0), &mut rng);
        assert_eq!(
            b,
            CropBox {
                top: 0,
                left: 493,
                height: 10,
                width: 13
            }
        );
    }
}
