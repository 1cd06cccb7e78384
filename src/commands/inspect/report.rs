//! The `inspect` report: per-image records, per-class counts and sizes, problems; all JSON-ready.

use crate::dataset::{self, Item};
use crate::image_io::{self, ImageInfo};
use rayon::prelude::*;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// JSON schema version of [`Report`].
pub const SCHEMA_VERSION: u32 = 1;
/// The eval crop side (images with a shorter side below it are upscaled).
pub const CROP: u32 = 224;
/// The eval resize target for the shorter side.
pub const RESIZE: u32 = 256;

/// A scanned tree: raw (one pseudo-split "all") or split.
pub struct Scanned {
    pub root: PathBuf,
    /// "raw" or "split".
    pub layout: &'static str,
    pub classes: Vec<String>,
    /// Split names; `["all"]` for a raw tree.
    pub splits: Vec<String>,
    /// `(split index, item)`.
    pub entries: Vec<(usize, Item)>,
}

/// Scans `dir` as a split tree when it looks like one, else as a raw tree.
pub fn scan(dir: &Path) -> Result<Scanned, dataset::DatasetError> {
    if dataset::is_split_tree(dir) {
        let t = dataset::scan_split_tree(dir)?;
        let splits = t.splits.iter().map(|(n, _)| n.clone()).collect();
        let entries = t
            .splits
            .into_iter()
            .enumerate()
            .flat_map(|(s, (_, items))| items.into_iter().map(move |i| (s, i)))
            .collect();
        Ok(Scanned {
            root: t.root,
            layout: "split",
            classes: t.classes,
            splits,
            entries,
        })
    } else {
        let (classes, items) = dataset::scan_raw(dir)?;
        Ok(Scanned {
            root: dir.to_path_buf(),
            layout: "raw",
            classes,
            splits: vec!["all".into()],
            entries: items.into_iter().map(|i| (0, i)).collect(),
        })
    }
}

/// A problem with one file.
#[derive(Debug, Clone, Serialize)]
pub struct FileError {
    /// "empty", "not-an-image", "corrupt", "unsupported", "too-large" or "io".
    pub kind: String,
    pub reason: String,
}

/// One file of the tree, probed.
#[derive(Debug, Clone, Serialize)]
pub struct ImageRecord {
    pub split: String,
    pub class: String,
    /// Relative to the root, '/'-separated ("train/cat/001.jpg" or "cat/001.jpg").
    pub path: String,
    pub bytes: u64,
    /// BLAKE3 of the file content (hex).
    pub blake3: String,
    pub info: Option<ImageInfo>,
    pub error: Option<FileError>,
}

impl Scanned {
    fn rel(&self, split: usize, item: &Item) -> String {
        match self.layout {
            "split" => format!("{}/{}", self.splits[split], item.rel_path),
            _ => item.rel_path.clone(),
        }
    }
}

/// Reads, hashes and probes every file on all cores (`full_decode`: decode the pixels too).
pub fn probe_all(s: &Scanned, full_decode: bool) -> Vec<ImageRecord> {
    let pb = crate::progress::bar(s.entries.len() as u64, "inspect", "files");
    let records = s
        .entries
        .par_iter()
        .map(|(split, item)| {
            let rel = s.rel(*split, item);
            let path = s.root.join(&rel);
            let (blake3, result) =
                match crate::file_check::read(&path, crate::file_check::MAX_IMAGE) {
                    Ok(bytes) => {
                        let hash = blake3::hash(&bytes).to_hex().to_string();
                        let r = image_io::probe_bytes(&bytes, &path).and_then(|info| {
                            if full_decode {
                                image_io::load_rgb8_from_bytes(&bytes, &path).map(|_| info)
                            } else {
                                Ok(info)
                            }
                        });
                        (hash, r)
                    }
                    Err(source) => (
                        String::new(),
                        Err(image_io::ImageLoadError::Io { path, source }),
                    ),
                };
            pb.inc(1);
            let (info, error) = match result {
                Ok(i) => (Some(i), None),
                Err(e) => (
                    None,
                    Some(FileError {
                        kind: e.kind().into(),
                        reason: e.reason(),
                    }),
                ),
            };
            ImageRecord {
                split: s.splits[*split].clone(),
                class: s.classes[item.label].clone(),
                path: rel,
                bytes: item.bytes,
                blake3,
                info,
                error,
            }
        })
        .collect();
    pb.finish_and_clear();
    records
}

/// min, quartiles (linear interpolation, as numpy's default) and max.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Quartiles {
    pub min: f64,
    pub q1: f64,
    pub median: f64,
    pub q3: f64,
    pub max: f64,
}

impl Quartiles {
    /// `None` for no (finite) values.
    pub fn of(values: impl IntoIterator<Item = f64>) -> Option<Quartiles> {
        let mut v: Vec<f64> = values.into_iter().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let q = |p: f64| {
            let pos = p * (v.len() - 1) as f64;
            let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
            v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
        };
        Some(Quartiles {
            min: v[0],
            q1: q(0.25),
            median: q(0.5),
            q3: q(0.75),
            max: v[v.len() - 1],
        })
    }
}

/// Width, height, aspect ratio (w/h) and megapixels of a set of images (after EXIF rotation).
#[derive(Debug, Clone, Serialize)]
pub struct SizeStats {
    pub width: Option<Quartiles>,
    pub height: Option<Quartiles>,
    pub aspect: Option<Quartiles>,
    pub megapixels: Option<Quartiles>,
}

impl SizeStats {
    fn of(infos: &[&ImageInfo]) -> Self {
        let get = |f: fn(&ImageInfo) -> f64| Quartiles::of(infos.iter().map(|i| f(i)));
        SizeStats {
            width: get(|i| i.width as f64),
            height: get(|i| i.height as f64),
            aspect: get(|i| i.width as f64 / i.height.max(1) as f64),
            megapixels: get(|i| i.width as f64 * i.height as f64 / 1e6),
        }
    }
}

/// Per-class counts (usable images per split) and sizes.
#[derive(Debug, Clone, Serialize)]
pub struct ClassReport {
    pub name: String,
    /// Usable images per split (every split listed, 0 included).
    pub images: BTreeMap<String, usize>,
    pub total: usize,
    pub unreadable: usize,
    pub sizes: SizeStats,
}

/// Duplicate files (same content).
#[derive(Debug, Clone, Serialize)]
pub struct DuplicateGroup {
    pub blake3: String,
    pub bytes: u64,
    pub paths: Vec<String>,
    /// In more than one split: test/valid leakage.
    pub across_splits: bool,
    /// Under more than one class: a label conflict.
    pub across_classes: bool,
}

impl SizeStats {
    /// Sizes of the usable images among `records`.
    pub fn of_records<'a>(records: impl IntoIterator<Item = &'a ImageRecord>) -> Self {
        let infos: Vec<&ImageInfo> = records
            .into_iter()
            .filter_map(|r| r.info.as_ref())
            .collect();
        Self::of(&infos)
    }
}
