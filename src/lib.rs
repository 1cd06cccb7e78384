//! `pipeline`: transfer-learning image classification as staged, cached, reproducible commands.
//!
//! Layers (dependencies flow one way): `main` → [`cli`] → [`commands`] → parts.
//! [`commands`] holds one module per sub-command (only `run` calls other commands); every other
//! module here is a part, and no part uses a command:
//! [`image_io`] and [`dataset`] read images and trees, [`preprocess`] turns them into tensors,
//! [`backbone`] runs the frozen ONNX model, [`cache`] stores its features, [`head`] trains on them,
//! [`checkpoint`] stores the trained head, [`install`] finds ONNX Runtime, the Python and the
//! model store where the binary runs, [`onnx_build`] composes the exported classifier,
//! [`audit`] finds suspicious images from their features, [`novelty`] how unlike the training
//! photos a new one is; [`atomic`] and [`lock`] keep outputs
//! whole and single-writer, [`file_check`] keeps inputs regular and
//! plausibly sized, [`interrupt`] turns Ctrl-C into a clean stop; [`metrics`] and [`verdict`]
//! (what an evaluation means, in sentences), [`plot`], [`output`], [`progress`] and [`seed`] serve them all.

pub mod cli;
pub mod commands;

pub mod atomic;
pub mod audit;
pub mod backbone;
pub mod cache;
pub mod checkpoint;
pub mod dataset;
pub mod features;
pub mod file_check;
pub mod head;
pub mod image_io;
pub mod install;
pub mod interrupt;
pub mod lock;
pub mod metrics;
pub mod novelty;
pub mod onnx_build;
pub mod output;
pub mod plot;
pub mod preprocess;
pub mod progress;
pub mod seed;
pub mod verdict;
