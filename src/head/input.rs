//! What a head's input is made of, recorded in the run config so eval and predict feed it the
//! same: the deterministic views averaged per image, and whether rows are L2-normalised.

use ndarray::{Array2, ArrayView1, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

/// How cached features become a head's input rows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeadInput {
    /// Views averaged per image at eval/predict time, in cache row order (empty: `centre`).
    #[serde(default)]
    pub views: Vec<String>,
    /// Each row scaled to unit Euclidean length before the head (the logistic head's input).
    #[serde(default)]
    pub l2_normalize: bool,
}

impl HeadInput {
    /// The views to average (`centre` when none were recorded).
    pub fn view_names(&self) -> Vec<String> {
        if self.views.is_empty() {
            vec!["centre".into()]
        } else {
            self.views.clone()
        }
    }

    /// `x` as the head takes it.
    pub fn prepare(&self, x: ArrayView2<f32>) -> Array2<f32> {
        let mut x = x.to_owned();
        if self.l2_normalize {
            l2_normalize_rows(&mut x);
        }
        x
    }
}

/// Euclidean length of a feature row.
pub fn l2_norm(row: ArrayView1<f32>) -> f32 {
    row.iter().map(|v| v * v).sum::<f32>().sqrt()
}

/// Scales every row of `x` to unit length (zero rows stay zero).
pub fn l2_normalize_rows(x: &mut Array2<f32>) {
    for mut row in x.axis_iter_mut(Axis(0)) {
        let n = l2_norm(row.view());
        if n > 0.0 {
            row /= n;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn normalises_rows_and_keeps_zero_rows() {
        let input = HeadInput {
            views: vec![],
            l2_normalize: true,
        };
        let x = input.prepare(array![[3.0f32, 4.0], [0.0, 0.0]].view());
        assert_eq!(x, array![[0.6f32, 0.8], [0.0, 0.0]]);
        assert_eq!(input.view_names(), ["centre"]);
        let plain = HeadInput::default().prepare(array![[3.0f32, 4.0]].view());
        assert_eq!(plain, array![[3.0f32, 4.0]]);
    }
}
