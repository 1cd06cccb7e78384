//! Trainable heads on cached features: the notebook's MLP, its Adam optimizer, the training loop
//! with early stopping, and the multinomial logistic head (own L-BFGS; linfa-logistic as its
//! reference).
//!
//! Shape legend used in every file here: `N` rows of a batch, `D` feature width, `H` hidden units,
//! `K` classes. Weight matrices are stored as PyTorch stores `nn.Linear.weight`: `[out, in]`.

pub mod adam;
pub mod budget;
pub mod class_weights;
pub mod data;
mod dropout_mask;
pub mod ensemble;
pub mod fit;
mod fused_step;
pub mod history;
pub mod input;
pub mod joined;
pub mod logistic;
pub mod loss;
pub mod matmul;
pub mod mlp;
pub mod preset;
pub mod sampler;
pub mod select;
pub mod tensor_file;

/// The float type a head is computed in: `f32` for training and inference, `f64` for gradient
/// checks and the PyTorch reference trajectory.
pub trait Float: linfa::Float {
    /// The safetensors dtype of this float.
    const DTYPE: safetensors::Dtype;
    /// Converts a cached feature value.
    fn of_f32(x: f32) -> Self;
    /// Converts a hyper-parameter.
    fn of_f64(x: f64) -> Self;
    /// Widens for reporting.
    fn as_f64(self) -> f64;
}

impl Float for f32 {
    const DTYPE: safetensors::Dtype = safetensors::Dtype::F32;
    fn of_f32(x: f32) -> Self {
        x
    }
    fn of_f64(x: f64) -> Self {
        x as f32
    }
    fn as_f64(self) -> f64 {
        self as f64
    }
}

impl Float for f64 {
    const DTYPE: safetensors::Dtype = safetensors::Dtype::F64;
    fn of_f32(x: f32) -> Self {
        x as f64
    }
    fn of_f64(x: f64) -> Self {
        x
    }
    fn as_f64(self) -> f64 {
        self
    }
}
