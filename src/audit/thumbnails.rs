//! Pixel-level evidence for near-duplicates: every image as a 16×16 RGB thumbnail (area average
//! of the decoded, EXIF-oriented, alpha-on-white image), its 768 values centred on their common
//! mean and L2-normalised, so the dot product of two thumbnails is their Pearson correlation —
//! unchanged by resizing, re-encoding and brightness or contrast changes (one gain and offset for
//! all channels), lowered by crops and by recolouring, and low between different pictures that
//! merely show the same kind of thing.

use ndarray::Array2;
use rayon::prelude::*;
use std::path::{Path, PathBuf};

/// Thumbnail side in pixels.
pub const SIDE: usize = 16;

/// Thumbnails of an image set, with the images that have none and why.
#[derive(Debug, Clone)]
pub struct Thumbnails {
    /// `[N, 3·SIDE²]` (R plane, G plane, B plane); a row of zeros where the image has no thumbnail.
    pub x: Array2<f32>,
    /// Per image: whether its row holds a thumbnail.
    pub ok: Vec<bool>,
    /// The first few images without one, as `path: reason`.
    pub problems: Vec<String>,
    /// How many images have none.
    pub missing: usize,
}

/// One image to thumbnail: its file and, when known, the blake3 of the bytes the cache was made
/// from (a file changed since is not used: its pixels are no longer those of the cached rows).
pub struct Source {
    pub path: PathBuf,
    pub blake3: Option<String>,
}

/// Thumbnails of `sources`, decoded in parallel; an unreadable, changed or flat image gets none.
pub fn thumbnails(sources: &[Source]) -> Thumbnails {
    let rows: Vec<Result<Vec<f32>, String>> = sources.par_iter().map(one).collect();
    let n = rows.len();
    let mut x = Array2::<f32>::zeros((n, 3 * SIDE * SIDE));
    let (mut ok, mut problems, mut missing) = (vec![false; n], Vec::new(), 0);
    for (i, r) in rows.into_iter().enumerate() {
        match r {
            Ok(v) => {
                x.row_mut(i).iter_mut().zip(v).for_each(|(o, v)| *o = v);
                ok[i] = true;
            }
            Err(why) => {
                missing += 1;
                if problems.len() < 5 {
                    problems.push(format!("{}: {why}", sources[i].path.display()));
                }
            }
        }
    }
    Thumbnails {
        x,
        ok,
        problems,
        missing,
    }
}

fn one(s: &Source) -> Result<Vec<f32>, String> {
    // a bounded regular-file read: a FIFO or device put in place of an image is refused, not read
    let bytes = crate::file_check::read(&s.path, crate::file_check::MAX_IMAGE)
        .map_err(|e| format!("cannot read it ({e})"))?;
    if let Some(want) = &s.blake3 {
        // the cache records the first 32 hex digits
        if want.len() < 16
            || !blake3::hash(&bytes)
                .to_hex()
                .as_str()
                .starts_with(want.as_str())
        {
            return Err("changed since its features were extracted".into());
        }
    }
    let img = crate::image_io::load_rgb8_from_bytes(&bytes, &s.path).map_err(|e| e.to_string())?;
    let (w, h) = (img.width() as usize, img.height() as usize);
    let mut v = Vec::with_capacity(3 * SIDE * SIDE);
    for c in 0..3 {
        let plane: Vec<f32> = img.pixels().map(|p| f32::from(p[c])).collect();
        v.extend(area_average(&plane, w, h));
    }
    centred_unit(v).ok_or_else(|| "flat (one colour)".into())
}

/// `[h·w]` row-major → `[SIDE²]`: each cell the mean of the source pixels it covers (at least one).
pub fn area_average(px: &[f32], w: usize, h: usize) -> Vec<f32> {
    let span = |c: usize, len: usize| {
        let a = c * len / SIDE;
        (a, ((c + 1) * len / SIDE).max(a + 1).min(len))
    };
    let mut out = Vec::with_capacity(SIDE * SIDE);
    for cy in 0..SIDE {
        let (y0, y1) = span(cy, h);
        for cx in 0..SIDE {
            let (x0, x1) = span(cx, w);
            let mut sum = 0.0f64;
            for y in y0..y1 {
                sum += px[y * w + x0..y * w + x1]
                    .iter()
                    .map(|&v| f64::from(v))
                    .sum::<f64>();
            }
            out.push((sum / ((y1 - y0) * (x1 - x0)) as f64) as f32);
        }
    }
    out
}

/// Mean-centred and scaled to unit length; `None` for a flat vector (no structure to compare).
pub fn centred_unit(mut v: Vec<f32>) -> Option<Vec<f32>> {
    let mean = v.iter().sum::<f32>() / v.len().max(1) as f32;
    v.iter_mut().for_each(|x| *x -= mean);
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    // below a tenth of a grey level's spread per pixel: flat
    (norm > 0.1 * (v.len() as f32).sqrt()).then(|| {
        v.iter_mut().for_each(|x| *x /= norm);
        v
    })
}

/// The files of the cached images: `root/split/rel_path`.
pub fn sources(root: &Path, paths: &[String], hashes: &[Option<String>]) -> Vec<Source> {
    paths
        .iter()
        .zip(hashes)
        .map(|(p, h)| Source {
            path: root.join(p),
            blake3: h.clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn area_average_of_a_uniform_block_and_of_tiny_images() {
        let w = 32;
        let px: Vec<f32> = (0..w * w)
            .map(|i| ((i / w) / 2 * 16 + (i % w) / 2) as f32)
            .collect();
        let t = area_average(&px, w, w);
        // every 2×2 block is constant: the thumbnail is the block value
        assert_eq!(t[0], 0.0);
        assert_eq!(t[17], 17.0);
        // a 3×2 image: cells repeat source pixels instead of dividing by zero
        let t = area_average(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 3, 2);
        assert_eq!(t.len(), SIDE * SIDE);
        assert!(t.iter().all(|v| (1.0..=6.0).contains(v)));
    }

    #[test]
    fn correlation_ignores_brightness_and_contrast_but_not_structure() {
        let a: Vec<f32> = (0..256).map(|i| ((i * 37) % 101) as f32).collect();
        let b: Vec<f32> = a.iter().map(|v| 1.5 * v + 20.0).collect();
        let c: Vec<f32> = (0..256).map(|i| ((i * 53) % 97) as f32).collect();
        let (a, b, c) = (
            centred_unit(a).unwrap(),
            centred_unit(b).unwrap(),
            centred_unit(c).unwrap(),
        );
        let dot = |x: &[f32], y: &[f32]| x.iter().zip(y).map(|(p, q)| p * q).sum::<f32>();
        assert!((dot(&a, &b) - 1.0).abs() < 1e-5);
        assert!(dot(&a, &c).abs() < 0.3);
        assert!(centred_unit(vec![7.0; 256]).is_none());
    }
}
