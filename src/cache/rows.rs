//! Feature rows held in memory as the cache stores them: `f32`, or `f16` at half the size and
//! widened to `f32` only where they are read (a training batch's rows, a mean, a product block).
//!
//! A cache extracted with `--dtype f16` is widened a batch at a time by the MLP's gather and a
//! row at a time by means and re-splits, so training and `pipeline cv` hold it at 2 bytes a value
//! instead of 4. Widening is exact (every `f16` is an `f32`), so results equal those on the same
//! values widened at load.

use half::f16;
use half::slice::HalfFloatSliceExt;
use ndarray::{Array2, Axis};
use std::borrow::Cow;

/// A `[N,D]` block of feature rows, row-major.
#[derive(Debug, Clone, PartialEq)]
pub enum Rows {
    F32(Array2<f32>),
    F16(Array2<f16>),
}

impl From<Array2<f32>> for Rows {
    fn from(a: Array2<f32>) -> Self {
        Rows::F32(a)
    }
}

impl Rows {
    /// `[n,d]` zeros, `f16` when `half` (a block to fill by [`Rows::assign_rows`]).
    pub fn zeros(n: usize, d: usize, half: bool) -> Rows {
        if half {
            Rows::F16(Array2::from_elem((n, d), f16::ZERO))
        } else {
            Rows::F32(Array2::zeros((n, d)))
        }
    }

    pub fn nrows(&self) -> usize {
        match self {
            Rows::F32(a) => a.nrows(),
            Rows::F16(a) => a.nrows(),
        }
    }

    pub fn ncols(&self) -> usize {
        match self {
            Rows::F32(a) => a.ncols(),
            Rows::F16(a) => a.ncols(),
        }
    }

    /// Whether the values are held as `f16`.
    pub fn is_half(&self) -> bool {
        matches!(self, Rows::F16(_))
    }

    /// Bytes of the values held.
    pub fn bytes(&self) -> usize {
        match self {
            Rows::F32(a) => a.len() * 4,
            Rows::F16(a) => a.len() * 2,
        }
    }

    /// Writes row `i` widened into `out` (`D` values), each through `conv` (`F::of_f32` for the
    /// head's float type).
    ///
    /// # Panics
    /// If `i` is out of range or `out` is not `D` long (programming errors).
    pub fn row_into<T>(&self, i: usize, out: &mut [T], conv: impl Fn(f32) -> T) {
        match self {
            Rows::F32(a) => {
                let row = a.row(i);
                let src = row.as_slice().expect("rows are row-major");
                assert_eq!(out.len(), src.len(), "row width");
                out.iter_mut().zip(src).for_each(|(o, &v)| *o = conv(v));
            }
            Rows::F16(a) => {
                let row = a.row(i);
                let src = row.as_slice().expect("rows are row-major");
                assert_eq!(out.len(), src.len(), "row width");
                // Widen in cache-sized pieces with the CPU's conversion instructions (F16C).
                let mut buf = [0f32; 256];
                for (o, s) in out.chunks_mut(256).zip(src.chunks(256)) {
                    let b = &mut buf[..s.len()];
                    s.convert_to_f32_slice(b);
                    o.iter_mut().zip(b.iter()).for_each(|(o, &v)| *o = conv(v));
                }
            }
        }
    }

    /// Adds row `i` (widened) to `acc`.
    pub fn add_row_to(&self, i: usize, mut acc: ndarray::ArrayViewMut1<f32>) {
        match self {
            Rows::F32(a) => acc += &a.row(i),
            Rows::F16(a) => acc
                .iter_mut()
                .zip(a.row(i))
                .for_each(|(o, v)| *o += v.to_f32()),
        }
    }

    /// The rows `idx`, in that order, in the same storage.
    pub fn select(&self, idx: &[usize]) -> Rows {
        match self {
            Rows::F32(a) => Rows::F32(a.select(Axis(0), idx)),
            Rows::F16(a) => Rows::F16(a.select(Axis(0), idx)),
        }
    }

    /// Copies `src`'s rows into rows `start..start + src.nrows()`, narrowing `f32` into an `f16`
    /// block (exact when `src` came from an `f16` cache).
    pub fn assign_rows(&mut self, start: usize, src: &Rows) {
        let n = src.nrows();
        for i in 0..n {
            match (&mut *self, src) {
                (Rows::F32(d), Rows::F32(s)) => d.row_mut(start + i).assign(&s.row(i)),
                (Rows::F16(d), Rows::F16(s)) => d.row_mut(start + i).assign(&s.row(i)),
                (Rows::F32(d), Rows::F16(s)) => d
                    .row_mut(start + i)
                    .iter_mut()
                    .zip(s.row(i))
                    .for_each(|(o, v)| *o = v.to_f32()),
                (Rows::F16(d), Rows::F32(s)) => d
                    .row_mut(start + i)
                    .iter_mut()
                    .zip(s.row(i))
                    .for_each(|(o, &v)| *o = f16::from_f32(v)),
            }
        }
    }

    /// The first `n` rows, in the same storage.
    pub fn truncate(self, n: usize) -> Rows {
        use ndarray::s;
        match self {
            Rows::F32(a) => Rows::F32(a.slice_move(s![..n, ..])),
            Rows::F16(a) => Rows::F16(a.slice_move(s![..n, ..])),
        }
    }

    /// All rows as `f32`: borrowed when they are `f32`, widened into a new array when `f16`.
    pub fn to_f32(&self) -> Cow<'_, Array2<f32>> {
        match self {
            Rows::F32(a) => Cow::Borrowed(a),
            Rows::F16(a) => Cow::Owned(a.mapv(f16::to_f32)),
        }
    }

    /// All rows as an owned `f32` array (no copy when they already are).
    pub fn into_f32(self) -> Array2<f32> {
        match self {
            Rows::F32(a) => a,
            Rows::F16(a) => a.mapv(f16::to_f32),
        }
    }
}

/// `[N, D1 + D2 + …]`: blocks of equal row counts side by side, row-major; `f16` when all are,
/// else widened to `f32`.
pub fn hstack(blocks: &[Rows]) -> Rows {
    use ndarray::s;
    let n = blocks.first().map_or(0, Rows::nrows);
    let d: usize = blocks.iter().map(Rows::ncols).sum();
    if blocks.iter().all(Rows::is_half) {
        let mut out = Array2::from_elem((n, d), f16::ZERO);
        let mut at = 0;
        for b in blocks {
            if let Rows::F16(a) = b {
                out.slice_mut(s![.., at..at + a.ncols()]).assign(a);
                at += a.ncols();
            }
        }
        return Rows::F16(out);
    }
    let mut out = Array2::<f32>::zeros((n, d));
    let mut at = 0;
    for b in blocks {
        let a = b.to_f32();
        out.slice_mut(s![.., at..at + a.ncols()]).assign(&*a);
        at += a.ncols();
    }
    Rows::F32(out)
}

/// `[N,D]`: the element-wise mean of equally shaped row blocks (the first one widened when there
/// is one), summed in block order, each row widened as it is added.
pub fn mean_of_rows(blocks: &[Rows]) -> Array2<f32> {
    mean_into(blocks[0].to_f32().into_owned(), blocks, |r| r)
}

/// `[idx.len(), D]`: the mean over blocks of the rows `idx` (in that order), the same values
/// [`mean_of_rows`] gives on the blocks' `select(idx)` copies, without copying every block.
pub fn mean_of_rows_at(blocks: &[Rows], idx: &[usize]) -> Array2<f32> {
    mean_into(blocks[0].select(idx).into_f32(), blocks, |r| idx[r])
}

/// Adds row `source(r)` of every block after the first to row `r` of `acc` (the first block's
/// rows), in block order, then divides by the number of blocks.
fn mean_into(
    mut acc: Array2<f32>,
    blocks: &[Rows],
    source: impl Fn(usize) -> usize,
) -> Array2<f32> {
    for b in &blocks[1..] {
        for (r, row) in acc.rows_mut().into_iter().enumerate() {
            b.add_row_to(source(r), row);
        }
    }
    if blocks.len() > 1 {
        acc /= blocks.len() as f32;
    }
    acc
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    impl Rows {
        /// Row `i` widened.
        fn row_f32(&self, i: usize) -> Vec<f32> {
            let mut out = vec![0f32; self.ncols()];
            self.row_into(i, &mut out, |v| v);
            out
        }
    }

    fn pair() -> (Rows, Rows) {
        let a = array![[0.5f32, -1.25, 3.0], [7.5, 0.0, -0.125]];
        let h = Rows::F16(a.mapv(f16::from_f32));
        (Rows::F32(a), h)
    }

    /// f16 rows read, selected, meaned and copied give the f32 rows' values exactly (the
    /// values are representable in f16).
    #[test]
    fn f16_rows_read_like_their_f32_values() {
        let (f, h) = pair();
        assert_eq!(h.bytes() * 2, f.bytes());
        for i in 0..2 {
            assert_eq!(h.row_f32(i), f.row_f32(i));
            let mut out = vec![0f64; 3];
            h.row_into(i, &mut out, f64::from);
            assert_eq!(
                out,
                f.row_f32(i).iter().map(|&v| v as f64).collect::<Vec<_>>()
            );
        }
        assert_eq!(
            h.select(&[1, 0, 1]).into_f32(),
            f.select(&[1, 0, 1]).into_f32()
        );
        assert_eq!(*h.to_f32(), *f.to_f32());
        assert_eq!(
            mean_of_rows(&[h.clone(), f.clone()]),
            mean_of_rows(&[f.clone(), f.clone()])
        );
        let idx = [1, 0, 1];
        assert_eq!(
            mean_of_rows_at(&[h.clone(), f.clone()], &idx),
            mean_of_rows(&[f.select(&idx), f.select(&idx)])
        );
        let mut pooled = Rows::zeros(4, 3, true);
        pooled.assign_rows(1, &h);
        pooled.assign_rows(3, &f.select(&[0]));
        let back = pooled.truncate(4).into_f32();
        assert_eq!(back.row(1), f.to_f32().row(0));
        assert_eq!(back.row(3), f.to_f32().row(0));
        assert_eq!(back.row(0).to_vec(), vec![0.0; 3]);
    }

    /// Rows wider than the widening buffer are widened whole.
    #[test]
    fn widens_long_rows_whole() {
        let a = Array2::from_shape_fn((2, 700), |(i, j)| (i * 700 + j) as f32 * 0.5);
        let h = Rows::F16(a.mapv(f16::from_f32));
        assert_eq!(h.row_f32(1), a.row(1).to_vec());
    }
}
