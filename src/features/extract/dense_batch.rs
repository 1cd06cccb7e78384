//! Dense rows in the extract engine: whole-image inputs grouped by size into backbone calls
//! (each image with its mirror when a view is flipped), and the rows pooled from their maps (see
//! [`crate::features::dense`]).

use super::engine::{EngineCfg, Forward};
use crate::features::dense::{self, DenseInput, MapGrid};
use crate::features::views::View;
use anyhow::{bail, Result};

/// An image's index, its dense `(pass, view)` rows and its dense input.
pub type DenseItem = (u32, Vec<(u32, View)>, DenseInput);

/// Dense inputs of one size, one backbone call: per image its index and the `(pass, view)`
/// rows its maps give; `data` holds each image then its mirror when `planes` is 2
/// (`planes·n` inputs of `h × w`).
pub struct DenseBatch {
    pub images: Vec<(u32, Vec<(u32, View)>)>,
    pub w: u32,
    pub h: u32,
    pub planes: usize,
    pub data: Vec<f32>,
}

/// Dense inputs grouped by size (and mirror or not) into batches of at most `batch` inputs
/// (one or two per image).
pub fn dense_batches(mut items: Vec<DenseItem>, batch: usize) -> Vec<DenseBatch> {
    items.sort_by_key(|(i, _, d)| (d.h, d.w, d.mirrored, *i));
    let mut out: Vec<DenseBatch> = Vec::new();
    for (i, rows, input) in items {
        let planes = input.planes();
        match out.last_mut() {
            Some(b)
                if (b.h, b.w, b.planes) == (input.h, input.w, planes)
                    && planes * (b.images.len() + 1) <= batch.max(planes) =>
            {
                b.images.push((i, rows));
                b.data.extend_from_slice(&input.data);
            }
            _ => out.push(DenseBatch {
                images: vec![(i, rows)],
                w: input.w,
                h: input.h,
                planes,
                data: input.data,
            }),
        }
    }
    out
}

/// Runs a dense batch (each image, and its mirror when kept) and pools its images' rows.
pub fn dense_rows(
    cfg: &EngineCfg,
    fwd: &mut dyn Forward,
    b: DenseBatch,
    dim: usize,
) -> Result<Vec<(u32, u32, Vec<f32>)>> {
    let Some(k) = cfg.dense_window else {
        bail!("the cache plan has dense views but the backbone's map session is not open");
    };
    let (h, w) = (b.h as usize, b.w as usize);
    let maps = fwd.maps(&b.data, b.planes * b.images.len(), h, w)?;
    if maps.c != dim {
        bail!(
            "the backbone's map has {} channels; the cache expects {dim} features",
            maps.c
        );
    }
    let grid = MapGrid {
        crop: cfg.pre.crop,
        k,
        w: b.w,
        h: b.h,
        mw: maps.mw,
        mh: maps.mh,
    };
    let mut out = Vec::new();
    for (j, (img, rows)) in b.images.iter().enumerate() {
        let views: Vec<View> = rows.iter().map(|r| r.1).collect();
        let at = b.planes * j;
        let mirror = (b.planes == 2).then(|| maps.image(at + 1));
        let feats = dense::rows(maps.image(at), mirror, &grid, dim, &views)?;
        for ((pass, _), f) in rows.iter().zip(feats.chunks_exact(dim.max(1))) {
            out.push((*img, *pass, f.to_vec()));
        }
    }
    Ok(out)
}
