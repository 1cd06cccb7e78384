//! `pipeline`: transfer-learning image classification as staged, cached, reproducible commands.
//!
//! Layers (dependencies flow one way): `cli` → `run` → stages → parts.
//! Stages: [`inspect`], [`split`], [`info`], [`params`], [`extract`], [`cache_info`], [`preview`],
//! [`train`], [`eval`], [`predict`]. Parts: everything else.

pub mod cli;
pub mod run;

// stages
pub mod bench;
pub mod cache_info;
pub mod eval;
pub mod extract;
pub mod info;
pub mod inspect;
pub mod params;
pub mod predict;
pub mod preview;
pub mod split;
pub mod train;

// parts
pub mod augment;
pub mod backbone;
pub mod cache;
pub mod cache_check;
pub mod checkpoint;
pub mod dataset;
pub mod head;
pub mod image_io;
pub mod metrics;
pub mod onnx_graph;
pub mod ort_lib;
pub mod plot;
pub mod preprocess;
pub mod progress;
pub mod seed;
pub mod shard;
pub mod sidecar;
