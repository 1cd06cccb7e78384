//! Seed ensembles of the MLP: members differ only in their seed (initialisation, shuffling and
//! dropout masks), and the ensemble predicts the mean of its members' probabilities.

use super::mlp::Mlp;
use crate::seed;
use ndarray::{Array2, ArrayView2, Zip};

/// The seed of member `i`: member 0 keeps the run's seed (so it is the single MLP of the same
/// run), the others derive theirs from it.
pub fn member_seed(seed: u64, i: usize) -> u64 {
    if i == 0 {
        seed
    } else {
        seed::derive(seed, &[b"ensemble", &(i as u64).to_le_bytes()])
    }
}

/// `log(mean_i p_i)` `[N,K]` of members' log-probabilities `logps` (each `[N,K]`), computed as
/// `logsumexp_i(log p_i) − ln n` per element, so tiny probabilities do not underflow; one member
/// is returned as it is.
///
/// # Panics
/// If `logps` is empty or the shapes differ (programming errors).
pub fn mean_log_proba(logps: &[Array2<f32>]) -> Array2<f32> {
    let first = &logps[0];
    if logps.len() == 1 {
        return first.clone();
    }
    let mut max = first.clone();
    for l in &logps[1..] {
        Zip::from(&mut max).and(l).for_each(|m, &v| *m = m.max(v));
    }
    let mut sum = Array2::<f32>::zeros(first.raw_dim());
    for l in logps {
        Zip::from(&mut sum).and(l).and(&max).for_each(|s, &v, &m| {
            *s += if m == f32::NEG_INFINITY {
                0.0
            } else {
                (v - m).exp()
            }
        });
    }
    let ln_n = (logps.len() as f32).ln();
    Zip::from(&mut sum).and(&max).for_each(|s, &m| {
        *s = if m == f32::NEG_INFINITY {
            m
        } else {
            m + s.ln() - ln_n
        }
    });
    sum
}

/// Eval-mode log-probabilities `[N,K]` of the ensemble on features `x` `[N,D]`.
pub fn log_proba<'a>(
    members: impl IntoIterator<Item = &'a Mlp<f32>>,
    x: ArrayView2<f32>,
) -> Array2<f32> {
    let logps: Vec<Array2<f32>> = members.into_iter().map(|m| m.log_proba(x)).collect();
    mean_log_proba(&logps)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn mean_log_proba_is_the_log_of_the_mean_probability() {
        let a = array![[0.5f32, 0.5], [0.9, 0.1]].mapv(f32::ln);
        let b = array![[0.1f32, 0.9], [0.7, 0.3]].mapv(f32::ln);
        let m = mean_log_proba(&[a.clone(), b]).mapv(f32::exp);
        let want = array![[0.3f32, 0.7], [0.8, 0.2]];
        for (g, w) in m.iter().zip(&want) {
            assert!((g - w).abs() < 1e-6, "{g} vs {w}");
        }
        // One member: itself; probabilities far below f32's exp range stay finite.
        let tiny = array![[-200.0f32, 0.0]];
        assert_eq!(mean_log_proba(std::slice::from_ref(&a)), a);
        let t = mean_log_proba(&[tiny.clone(), tiny.clone()]);
        assert!((t[[0, 0]] + 200.0).abs() < 1e-4);
    }

    #[test]
    fn member_zero_keeps_the_seed_and_the_others_differ() {
        assert_eq!(member_seed(7, 0), 7);
        let s: Vec<u64> = (0..5).map(|i| member_seed(7, i)).collect();
        let mut u = s.clone();
        u.sort();
        u.dedup();
        assert_eq!(u.len(), 5);
        assert_eq!(member_seed(7, 3), member_seed(7, 3));
    }
}
