//! The trained head as the commands use it: one MLP, a logistic head, or an MLP seed ensemble.

use super::HeadKind;
use crate::head::logistic::LinearHead;
use crate::head::mlp::Mlp;
use ndarray::{Array2, ArrayView2};

/// A trained head, ready to score features.
#[derive(Debug, Clone, PartialEq)]
pub enum HeadModel {
    Mlp(Mlp<f32>),
    Logistic(LinearHead),
    /// At least two members of equal shapes ([`crate::head::ensemble`]).
    MlpEnsemble(Vec<Mlp<f32>>),
}

impl HeadModel {
    pub fn kind(&self) -> HeadKind {
        match self {
            HeadModel::Mlp(_) => HeadKind::Mlp,
            HeadModel::Logistic(_) => HeadKind::Logistic,
            HeadModel::MlpEnsemble(_) => HeadKind::MlpEnsemble,
        }
    }
    /// `D`.
    pub fn feature_dim(&self) -> usize {
        match self {
            HeadModel::Mlp(m) => m.dims().0,
            HeadModel::Logistic(l) => l.weight.ncols(),
            HeadModel::MlpEnsemble(ms) => ms[0].dims().0,
        }
    }
    /// `K`.
    pub fn num_classes(&self) -> usize {
        match self {
            HeadModel::Mlp(m) => m.dims().2,
            HeadModel::Logistic(l) => l.weight.nrows(),
            HeadModel::MlpEnsemble(ms) => ms[0].dims().2,
        }
    }
    /// Trainable parameters.
    pub fn num_params(&self) -> usize {
        match self {
            HeadModel::Mlp(m) => m.num_params(),
            HeadModel::Logistic(l) => l.weight.len() + l.bias.len(),
            HeadModel::MlpEnsemble(ms) => ms.iter().map(Mlp::num_params).sum(),
        }
    }
    /// `H`, the hidden width of an MLP or of the ensemble's members; `None` for the logistic head.
    pub fn hidden(&self) -> Option<usize> {
        match self {
            HeadModel::Mlp(m) => Some(m.dims().1),
            HeadModel::MlpEnsemble(ms) => Some(ms[0].dims().1),
            HeadModel::Logistic(_) => None,
        }
    }
    /// The head's layers in words, as PyTorch would print them (an ensemble: its members).
    pub fn describe(&self) -> String {
        let mlp = |m: &Mlp<f32>| {
            let (d, h, k) = m.dims();
            format!("Linear({d}, {h}) → ReLU → Dropout → Linear({h}, {k})")
        };
        match self {
            HeadModel::Mlp(m) => mlp(m),
            HeadModel::Logistic(l) => {
                format!(
                    "Linear({}, {}) on L2-normalised features",
                    l.weight.ncols(),
                    l.weight.nrows()
                )
            }
            HeadModel::MlpEnsemble(ms) => {
                format!("{} × [{}], probabilities averaged", ms.len(), mlp(&ms[0]))
            }
        }
    }
    /// Eval-mode log-probabilities `[N,K]` of `x` `[N,D]`; `x` must have `D` columns.
    pub fn log_proba(&self, x: ArrayView2<f32>) -> Array2<f32> {
        match self {
            HeadModel::Mlp(m) => m.log_proba(x),
            HeadModel::Logistic(l) => l.log_proba(x),
            HeadModel::MlpEnsemble(ms) => crate::head::ensemble::log_proba(ms, x),
        }
    }
}
