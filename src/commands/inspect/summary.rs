//! Summaries over the probed records: counts per class and split, sizes, problems.

use super::report::{
    ClassReport, DuplicateGroup, ImageRecord, Quartiles, Scanned, SizeStats, CROP, RESIZE,
    SCHEMA_VERSION,
};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Everything `inspect` found; written as `--json`.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema_version: u32,
    pub tool_version: String,
    pub root: String,
    /// "raw" (`DIR/<class>/*`) or "split" (`DIR/{train,valid,test}/<class>/*`).
    pub layout: String,
    /// Splits present; `["all"]` for a raw tree.
    pub splits: Vec<String>,
    pub full_decode: bool,
    pub files: usize,
    pub images: usize,
    pub unreadable_files: usize,
    /// One per class, in class (label) order.
    pub classes: Vec<ClassReport>,
    pub counts: Counts,
    pub sizes: SizeSummary,
    pub unreadable: Vec<Unreadable>,
    pub duplicates: Vec<DuplicateGroup>,
    /// Every file, in tree order.
    pub records: Vec<ImageRecord>,
}

/// Count statistics over the images per class of one split.
#[derive(Debug, Clone, Serialize)]
pub struct Counts {
    /// The split the statistics are over: "train" for a split tree, "all" for a raw one.
    pub split: String,
    /// Usable images per split.
    pub per_split: BTreeMap<String, usize>,
    pub min: usize,
    pub median: f64,
    pub max: usize,
    /// max / min over classes with at least one image; null when no class has one.
    pub imbalance_ratio: Option<f64>,
    pub threshold: usize,
    /// Classes with fewer than `threshold` images in `split`, fewest first.
    pub under_threshold: Vec<ClassCount>,
    /// (class, split) pairs where a class has no usable image in a present split.
    pub missing: Vec<Missing>,
    /// Classes with no usable image at all.
    pub empty_classes: Vec<String>,
    /// Class names sorted by total images (descending), then name.
    pub order: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ClassCount {
    pub class: String,
    pub images: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Missing {
    pub class: String,
    pub split: String,
}

/// Sizes and types over all usable images.
#[derive(Debug, Clone, Serialize)]
pub struct SizeSummary {
    pub overall: SizeStats,
    pub colors: BTreeMap<String, usize>,
    pub formats: BTreeMap<String, usize>,
    /// Images with an EXIF orientation other than 1.
    pub rotated: usize,
    /// Shorter side below the 224 crop.
    pub smaller_than_crop: usize,
    /// Shorter side below 256: upscaled by the eval Resize(256).
    pub upscaled_by_resize: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Unreadable {
    pub path: String,
    pub kind: String,
    pub reason: String,
}

/// Builds the report from the scan and the probed records.
pub fn summarize(s: &Scanned, records: Vec<ImageRecord>, threshold: usize, full: bool) -> Report {
    let classes = class_reports(s, &records);
    let counts = counts(s, &classes, threshold);
    let usable = || records.iter().filter_map(|r| r.info.as_ref());
    let mut colors = BTreeMap::new();
    let mut formats = BTreeMap::new();
    for i in usable() {
        *colors.entry(i.color.clone()).or_insert(0) += 1;
        *formats.entry(i.format.clone()).or_insert(0) += 1;
    }
    let short = |i: &crate::image_io::ImageInfo| i.width.min(i.height);
    let sizes = SizeSummary {
        overall: SizeStats::of_records(&records),
        colors,
        formats,
        rotated: usable().filter(|i| i.orientation != 1).count(),
        smaller_than_crop: usable().filter(|i| short(i) < CROP).count(),
        upscaled_by_resize: usable().filter(|i| short(i) < RESIZE).count(),
    };
    let unreadable: Vec<Unreadable> = records
        .iter()
        .filter_map(|r| {
            r.error.as_ref().map(|e| Unreadable {
                path: r.path.clone(),
                kind: e.kind.clone(),
                reason: e.reason.clone(),
            })
        })
        .collect();
    Report {
        schema_version: SCHEMA_VERSION,
        tool_version: env!("CARGO_PKG_VERSION").into(),
        root: s.root.display().to_string(),
        layout: s.layout.into(),
        splits: s.splits.clone(),
        full_decode: full,
        files: records.len(),
        images: records.len() - unreadable.len(),
        unreadable_files: unreadable.len(),
        classes,
        counts,
        sizes,
        unreadable,
        duplicates: duplicates(&records),
        records,
    }
}

fn class_reports(s: &Scanned, records: &[ImageRecord]) -> Vec<ClassReport> {
    let mut by_class: HashMap<&str, Vec<&ImageRecord>> = HashMap::new();
    for r in records {
        by_class.entry(r.class.as_str()).or_default().push(r);
    }
    s.classes
        .iter()
        .map(|name| {
            let recs = by_class.remove(name.as_str()).unwrap_or_default();
            let mut images: BTreeMap<String, usize> =
                s.splits.iter().map(|sp| (sp.clone(), 0)).collect();
            for r in recs.iter().filter(|r| r.info.is_some()) {
                *images.entry(r.split.clone()).or_insert(0) += 1;
            }
            ClassReport {
                name: name.clone(),
                total: images.values().sum(),
                unreadable: recs.iter().filter(|r| r.error.is_some()).count(),
                sizes: SizeStats::of_records(recs.iter().copied()),
                images,
            }
        })
        .collect()
}

fn counts(s: &Scanned, classes: &[ClassReport], threshold: usize) -> Counts {
    let split = if s.splits.iter().any(|x| x == "train") {
        "train".to_string()
    } else {
        s.splits[0].clone()
    };
    let n: Vec<usize> = classes.iter().map(|c| c.images[&split]).collect();
    let q = Quartiles::of(n.iter().map(|&v| v as f64));
    let non_empty: Vec<usize> = n.iter().copied().filter(|&v| v > 0).collect();
    let imbalance_ratio = match (non_empty.iter().max(), non_empty.iter().min()) {
        (Some(&hi), Some(&lo)) => Some(hi as f64 / lo as f64),
        _ => None,
    };
    let mut under_threshold: Vec<ClassCount> = classes
        .iter()
        .zip(&n)
        .filter(|(_, &v)| v < threshold)
        .map(|(c, &v)| ClassCount {
            class: c.name.clone(),
            images: v,
        })
        .collect();
    under_threshold.sort_by(|a, b| a.images.cmp(&b.images).then(a.class.cmp(&b.class)));
    let mut missing = Vec::new();
    if s.layout == "split" {
        for c in classes.iter().filter(|c| c.total > 0) {
            for (sp, _) in c.images.iter().filter(|(_, &v)| v == 0) {
                missing.push(Missing {
                    class: c.name.clone(),
                    split: sp.clone(),
                });
            }
        }
    }
    let mut order: Vec<&ClassReport> = classes.iter().collect();
    order.sort_by(|a, b| b.total.cmp(&a.total).then(a.name.cmp(&b.name)));
    let mut per_split: BTreeMap<String, usize> = BTreeMap::new();
    for c in classes {
        for (sp, v) in &c.images {
            *per_split.entry(sp.clone()).or_insert(0) += v;
        }
    }
    Counts {
        split,
        per_split,
        min: n.iter().copied().min().unwrap_or(0),
        median: q.map_or(0.0, |q| q.median),
        max: n.iter().copied().max().unwrap_or(0),
        imbalance_ratio,
        threshold,
        under_threshold,
        missing,
        empty_classes: classes
            .iter()
            .filter(|c| c.total == 0)
            .map(|c| c.name.clone())
            .collect(),
        order: order.into_iter().map(|c| c.name.clone()).collect(),
    }
}

/// Groups of usable images with identical content, largest first.
fn duplicates(records: &[ImageRecord]) -> Vec<DuplicateGroup> {
    let mut groups: HashMap<&str, Vec<&ImageRecord>> = HashMap::new();
    for r in records.iter().filter(|r| r.info.is_some()) {
        groups.entry(r.blake3.as_str()).or_default().push(r);
    }
    let mut out: Vec<DuplicateGroup> = groups
        .into_iter()
        .filter(|(_, g)| g.len() > 1)
        .map(|(hash, g)| {
            let splits: BTreeSet<&str> = g.iter().map(|r| r.split.as_str()).collect();
            let classes: BTreeSet<&str> = g.iter().map(|r| r.class.as_str()).collect();
            let mut paths: Vec<String> = g.iter().map(|r| r.path.clone()).collect();
            paths.sort();
            DuplicateGroup {
                blake3: hash.to_string(),
                bytes: g[0].bytes,
                paths,
                across_splits: splits.len() > 1,
                across_classes: classes.len() > 1,
            }
        })
        .collect();
    out.sort_by(|a, b| {
        b.paths
            .len()
            .cmp(&a.paths.len())
            .then(a.paths.cmp(&b.paths))
    });
    out
}
