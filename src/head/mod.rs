//! Trainable heads on cached features: the notebook's MLP, its Adam optimizer, and a logistic baseline.

pub mod adam;
pub mod logistic;
pub mod mlp;
