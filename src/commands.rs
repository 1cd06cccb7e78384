//! The sub-commands, one module each: an `Args` struct (clap derive; its doc comments are the
//! help text) and a `run(args)` that reads files, calls the parts and writes files and reports.
//! A command never uses another command, except [`run`], which chains them into the main job,
//! and [`models`], which makes a backbone's int8 sibling with [`quantize`].

pub mod audit;
pub mod augment_preview;
pub mod backbone_args;
pub mod bench;
pub mod cache_info;
pub mod cv;
pub mod doctor;
pub mod eval;
pub mod export;
pub mod extract;
pub mod info;
pub mod inspect;
pub mod models;
pub mod params;
pub mod predict;
pub mod quantize;
pub mod report;
pub mod run;
pub mod split;
pub mod train_head;
