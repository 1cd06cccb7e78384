//! Class weights for the loss on imbalanced data.

/// Balanced class weights `w_c = N / (C·n_c)` (scikit-learn's "balanced"; `C` = classes present),
/// `0` for classes absent from `labels`. `k` is the number of classes.
pub fn balanced_weights(labels: &[u32], k: usize) -> Vec<f64> {
    let mut counts = vec![0usize; k];
    for &y in labels {
        if let Some(c) = counts.get_mut(y as usize) {
            *c += 1;
        }
    }
    let present = counts.iter().filter(|&&c| c > 0).count().max(1);
    let n = labels.len() as f64;
    counts
        .iter()
        .map(|&c| {
            if c == 0 {
                0.0
            } else {
                n / (present as f64 * c as f64)
            }
        })
        .collect()
}

/// How classes are weighted in the loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClassWeights {
    /// Every sample counts the same (the notebook).
    None,
    /// Inverse class frequency, N/(C·n_c) for C classes present (scikit-learn's "balanced").
    Balanced,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn balanced_weights_are_inverse_frequencies() {
        let w = balanced_weights(&[0, 0, 0, 1, 2, 2], 4);
        assert_eq!(w, vec![6.0 / 9.0, 2.0, 1.0, 0.0]);
    }
}
