//! The `k` most similar other rows of every row, by cosine of unit rows (the audit's
//! near-duplicate and label-error checks both start from them).
//!
//! Up to [`EXACT_MAX`] usable rows the search is exact: every pair, in blocks of one matrix
//! product. Above it every pair would cost `N²·D` (70,000 images: 6·10¹² multiply-adds per space),
//! so the search is an inverted file: a spherical k-means, trained on a seeded sample, cuts the
//! rows into about `N / CELL_ROWS` cells; each row is filed in its nearest cell and compares itself
//! exactly with the rows of its [`PROBES`] nearest cells only (`N²·D·PROBES/cells`). A true
//! neighbour is missed only when it lies outside all of those cells; [`recall`] measures how often.
//! The cosines of the neighbours it returns are exact.
//! Shapes: `N` rows, `D` columns, `C` cells.

use ndarray::{s, Array2, ArrayView2, Axis};
use rand::seq::SliceRandom;

/// Up to this many usable rows, every pair is compared.
pub const EXACT_MAX: usize = 10_000;
/// Rows per block of a matrix product (`B×N` floats at a time).
const BLOCK: usize = 512;
/// Rows per cell of the inverted file, on average.
pub const CELL_ROWS: usize = 256;
/// Cells each row searches (its own and the next nearest).
pub const PROBES: usize = 12;
/// Rounds of k-means.
const ROUNDS: usize = 10;
/// Sample rows per cell that train the k-means.
const SAMPLE_PER_CELL: usize = 40;

/// Per row: up to `k` `(row, cosine)`, most similar first; empty for unusable rows.
pub type Near = Vec<Vec<(usize, f32)>>;

/// The `k` most similar usable other rows of every usable row, most similar first: exact up to
/// [`EXACT_MAX`] usable rows, above it the seeded inverted-file search (see the module).
pub fn top_neighbours(x: ArrayView2<f32>, usable: &[bool], k: usize, seed: u64) -> Near {
    let m = usable.iter().filter(|&&u| u).count();
    if m <= EXACT_MAX {
        exact(x, usable, k)
    } else {
        approximate(x, usable, k, seed, m.div_ceil(CELL_ROWS), PROBES)
    }
}

/// Every pair compared.
pub fn exact(x: ArrayView2<f32>, usable: &[bool], k: usize) -> Near {
    let n = x.nrows();
    let mut out: Near = vec![Vec::new(); n];
    for start in (0..n).step_by(BLOCK) {
        let end = (start + BLOCK).min(n);
        let sims = x.slice(s![start..end, ..]).dot(&x.t()); // [B,N]
        for (r, row) in sims.rows().into_iter().enumerate() {
            let i = start + r;
            if !usable[i] {
                continue;
            }
            for (j, &c) in row.iter().enumerate() {
                if j != i && usable[j] {
                    insert(&mut out[i], k, j, c);
                }
            }
        }
    }
    out
}

/// Keeps `top` the `k` most similar, most similar first (an earlier row wins a tie).
fn insert(top: &mut Vec<(usize, f32)>, k: usize, j: usize, c: f32) {
    if k == 0 || (top.len() == k && c <= top[k - 1].1) {
        return;
    }
    let at = top.partition_point(|p| p.1 >= c);
    top.insert(at, (j, c));
    top.truncate(k);
}

/// The inverted-file search with `cells` cells, each row searching its `probes` nearest.
pub fn approximate(
    x: ArrayView2<f32>,
    usable: &[bool],
    k: usize,
    seed: u64,
    cells: usize,
    probes: usize,
) -> Near {
    let n = x.nrows();
    let mut out: Near = vec![Vec::new(); n];
    let rows: Vec<usize> = (0..n).filter(|&i| usable[i]).collect();
    if rows.len() < 2 || k == 0 {
        return out;
    }
    let cells = cells.clamp(1, rows.len());
    let probes = probes.clamp(1, cells);
    let centres = kmeans(x, &rows, cells, seed);
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); cells];
    let mut queries: Vec<Vec<usize>> = vec![Vec::new(); cells];
    for block in rows.chunks(BLOCK) {
        let scores = x.select(Axis(0), block).dot(&centres.t()); // [B,C]
        for (&i, row) in block.iter().zip(scores.rows()) {
            let mut best: Vec<(usize, f32)> = Vec::with_capacity(probes + 1);
            for (c, &v) in row.iter().enumerate() {
                insert(&mut best, probes, c, v);
            }
            members[best[0].0].push(i);
            for &(c, _) in &best {
                queries[c].push(i);
            }
        }
    }
    for (mem, qs) in members.iter().zip(&queries) {
        if mem.is_empty() {
            continue;
        }
        let mx = x.select(Axis(0), mem); // [M_c,D]
        for block in qs.chunks(BLOCK) {
            let sims = x.select(Axis(0), block).dot(&mx.t()); // [B,M_c]
            for (&i, row) in block.iter().zip(sims.rows()) {
                for (&j, &c) in mem.iter().zip(row) {
                    if j != i {
                        insert(&mut out[i], k, j, c);
                    }
                }
            }
        }
    }
    // cells are visited in order, so equal cosines may arrive out of row order: settle ties as
    // the exact search does
    for top in &mut out {
        top.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    }
    out
}

/// Unit centres `[C,D]` of a spherical k-means over a seeded sample of `rows`.
fn kmeans(x: ArrayView2<f32>, rows: &[usize], cells: usize, seed: u64) -> Array2<f32> {
    let mut sample = rows.to_vec();
    sample.shuffle(&mut crate::seed::rng(seed, &[b"audit-knn-sample"]));
    sample.truncate((cells * SAMPLE_PER_CELL).max(cells));
    let xs = x.select(Axis(0), &sample); // [S,D]
    let mut centres = xs.slice(s![..cells, ..]).to_owned();
    for _ in 0..ROUNDS {
        let scores = xs.dot(&centres.t()); // [S,C]
        let mut sums = Array2::<f32>::zeros(centres.raw_dim());
        let mut counts = vec![0usize; cells];
        let mut worst = (f32::INFINITY, 0usize);
        for (r, row) in scores.rows().into_iter().enumerate() {
            let (c, v) = row
                .iter()
                .enumerate()
                .fold(
                    (0, f32::NEG_INFINITY),
                    |b, (c, &v)| if v > b.1 { (c, v) } else { b },
                );
            let mut s = sums.row_mut(c);
            s += &xs.row(r);
            counts[c] += 1;
            if v < worst.0 {
                worst = (v, r);
            }
        }
        for (c, mut centre) in centres.rows_mut().into_iter().enumerate() {
            // an empty cell restarts at the sample row farthest from its centre
            let src = if counts[c] == 0 {
                xs.row(worst.1).to_owned()
            } else {
                sums.row(c).to_owned()
            };
            let norm = src.dot(&src).sqrt();
            if norm > 1e-12 {
                centre.assign(&(&src / norm));
            }
        }
    }
    centres
}

/// Of the neighbours `truth` lists, the fraction `found` lists too (1 when `truth` lists none).
pub fn recall(truth: &Near, found: &Near) -> f64 {
    let (mut hit, mut all) = (0usize, 0usize);
    for (t, f) in truth.iter().zip(found) {
        all += t.len();
        hit += t.iter().filter(|p| f.iter().any(|q| q.0 == p.0)).count();
    }
    if all == 0 {
        1.0
    } else {
        hit as f64 / all as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    /// `n` unit rows in `d` dimensions around `groups` random centres, with `copies` near-copies
    /// of the first rows appended.
    fn clustered(n: usize, d: usize, groups: usize, copies: usize) -> Array2<f32> {
        let mut rng = crate::seed::rng(3, &[b"knn-test"]);
        let centres: Vec<Vec<f32>> = (0..groups)
            .map(|_| (0..d).map(|_| rng.gen_range(-1.0..1.0)).collect())
            .collect();
        let mut x = Array2::<f32>::zeros((n + copies, d));
        for i in 0..n {
            let c = &centres[i % groups];
            for (k, v) in x.row_mut(i).iter_mut().enumerate() {
                *v = c[k] + rng.gen_range(-0.6..0.6);
            }
        }
        for c in 0..copies {
            let mut row = x.row(c).to_owned();
            row[0] += 0.01;
            x.row_mut(n + c).assign(&row);
        }
        for mut r in x.rows_mut() {
            let norm = r.dot(&r).sqrt();
            r /= norm;
        }
        x
    }

    #[test]
    fn exact_skips_unusable_rows_and_keeps_the_best_k() {
        let x = ndarray::array![[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.99, 0.01]];
        let near = exact(x.view(), &[true, true, true, false], 2);
        assert_eq!(near[0].iter().map(|p| p.0).collect::<Vec<_>>(), [1, 2]);
        assert!(near[3].is_empty());
    }

    #[test]
    fn small_sets_are_searched_exactly() {
        let x = clustered(600, 24, 8, 5);
        let usable = vec![true; x.nrows()];
        assert_eq!(
            top_neighbours(x.view(), &usable, 5, 0),
            exact(x.view(), &usable, 5)
        );
    }

    #[test]
    fn the_inverted_file_finds_almost_every_neighbour_and_every_copy() {
        let x = clustered(3000, 32, 12, 20);
        let mut usable = vec![true; x.nrows()];
        usable[7] = false;
        let truth = exact(x.view(), &usable, 5);
        let found = approximate(x.view(), &usable, 5, 0, 3000 / 100, 4);
        let r = recall(&truth, &found);
        assert!(r > 0.95, "recall {r}");
        assert!(found[7].is_empty() && found.iter().flatten().all(|p| p.0 != 7));
        for c in (0..20).filter(|&c| c != 7) {
            assert_eq!(found[3000 + c][0].0, c, "copy of row {c}");
        }
        // the cosines returned are exact ones
        for (i, top) in found.iter().enumerate() {
            for &(j, c) in top {
                assert!((x.row(i).dot(&x.row(j)) - c).abs() < 1e-5);
            }
        }
        // seeded: the same seed gives the same result
        assert_eq!(found, approximate(x.view(), &usable, 5, 0, 30, 4));
    }

    #[test]
    fn probing_every_cell_is_exact() {
        let x = clustered(500, 16, 5, 3);
        let usable = vec![true; x.nrows()];
        let truth = exact(x.view(), &usable, 3);
        let found = approximate(x.view(), &usable, 3, 9, 6, 6);
        assert_eq!(recall(&truth, &found), 1.0);
    }

    #[test]
    fn recall_counts_the_listed_neighbours_found() {
        let truth: Near = vec![vec![(1, 0.9), (2, 0.8)], vec![(0, 0.9)], vec![]];
        let found: Near = vec![vec![(1, 0.9), (3, 0.7)], vec![(0, 0.9)], vec![]];
        assert!((recall(&truth, &found) - 2.0 / 3.0).abs() < 1e-12);
    }
}
