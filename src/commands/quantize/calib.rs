//! The calibration set of `quantize`: images picked evenly from a folder, put through the model's
//! own eval transform, written as one float32 `.npy` `[N, ...model input]`.

use crate::dataset::files::collect_files;
use crate::preprocess::{self, PreprocessConfig};
use anyhow::{bail, Context, Result};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The chosen images and a content hash of the set (paths relative to the folder + bytes).
pub struct CalibSet {
    pub files: Vec<PathBuf>,
    pub hash: String,
}

/// Picks up to `n` files spread evenly over `dir` (so every class folder contributes).
pub fn choose(dir: &Path, n: usize) -> Result<CalibSet> {
    if !dir.is_dir() {
        bail!(
            "--calib {} is not a folder; give a folder of your own images (e.g. the train split)",
            dir.display()
        );
    }
    let all = collect_files(&[dir.to_path_buf()])?;
    if all.is_empty() || n == 0 {
        bail!(
            "no calibration images under {} (or --images 0); give a folder with images",
            dir.display()
        );
    }
    let take = n.min(all.len());
    let files: Vec<PathBuf> = (0..take)
        .map(|i| all[i * all.len() / take].clone())
        .collect();
    let mut h = blake3::Hasher::new();
    for f in &files {
        let rel = f.strip_prefix(dir).unwrap_or(f);
        h.update(rel.to_string_lossy().as_bytes());
        let bytes = crate::file_check::read(f, crate::file_check::MAX_IMAGE)
            .with_context(|| format!("reading {}", f.display()))?;
        h.update(blake3::hash(&bytes).as_bytes());
    }
    Ok(CalibSet {
        files,
        hash: h.finalize().to_hex().to_string(),
    })
}

/// Preprocesses the set into `npy` with the model input shape `[N, ...dims]`; returns `N`
/// (undecodable files are skipped with a note).
pub fn write_npy(
    set: &CalibSet,
    pre: &PreprocessConfig,
    dims: [usize; 3],
    npy: &Path,
) -> Result<usize> {
    let len = pre.tensor_len();
    let mut data: Vec<f32> = Vec::with_capacity(set.files.len() * len);
    let mut n = 0;
    for f in &set.files {
        let img = match crate::image_io::load_rgb8(f) {
            Ok(img) => img,
            Err(e) => {
                eprintln!("note: calibration skips {}: {e}", f.display());
                continue;
            }
        };
        let start = data.len();
        data.resize(start + len, 0.0);
        preprocess::eval_into(&img, pre, &mut data[start..])
            .with_context(|| format!("preprocessing {}", f.display()))?;
        n += 1;
    }
    if n == 0 {
        bail!(
            "none of the {} calibration files could be read as an image",
            set.files.len()
        );
    }
    let header = format!(
        "{{'descr': '<f4', 'fortran_order': False, 'shape': ({n}, {}, {}, {}), }}",
        dims[0], dims[1], dims[2]
    );
    let pad = 64 - (10 + header.len() + 1) % 64;
    let header = format!("{header}{}\n", " ".repeat(pad % 64));
    let mut file = std::io::BufWriter::new(
        std::fs::File::create(npy).with_context(|| format!("creating {}", npy.display()))?,
    );
    file.write_all(b"\x93NUMPY\x01\x00")?;
    file.write_all(&(header.len() as u16).to_le_bytes())?;
    file.write_all(header.as_bytes())?;
    for v in &data {
        file.write_all(&v.to_le_bytes())?;
    }
    file.flush()?;
    Ok(n)
}
