//! Command-line interface: one clap-derive sub-command per stage; each stage owns its `Args`.

use clap::{Parser, Subcommand};

/// Transfer-learning image classifiers: inspect the data, split it, run a frozen ImageNet
/// backbone once per augmentation pass into a feature cache, train a small head, evaluate, predict.
#[derive(Debug, Parser)]
#[command(name = "pipeline", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Count images per class and split, measure image sizes, list unreadable or odd files.
    Inspect(crate::commands::inspect::InspectArgs),
    /// Split a raw ImageFolder tree into train/valid/test (50/25/25 by default), seeded and stable.
    Split(crate::commands::split::SplitArgs),
    /// Describe an ONNX backbone: inputs, outputs, opset, parameters, sidecar, ONNX Runtime version.
    Info(crate::commands::info::InfoArgs),
    /// Count parameters: total, frozen (backbone) and trainable (head), layer by layer.
    Params(crate::commands::params::ParamsArgs),
    /// Bare backbone throughput on pre-made tensors (the yardstick for `extract`).
    Bench(crate::commands::bench::BenchArgs),
    /// Run the frozen backbone over a split tree into the on-disk feature cache.
    Extract(crate::commands::extract::ExtractArgs),
    /// Print a feature cache's manifest in short.
    CacheInfo(crate::commands::cache_info::CacheInfoArgs),
    /// Write a grid of augmented views of one image, to see what the train augmentation does.
    AugmentPreview(crate::commands::augment_preview::PreviewArgs),
    /// Train the head (MLP or logistic baseline) on cached features.
    TrainHead(crate::commands::train_head::TrainArgs),
    /// Repeated random stratified re-splits of a cache's images: mean ± SD of test accuracy.
    Cv(crate::commands::cv::CvArgs),
    /// Evaluate a trained head on a cached split: top-1/top-5, per class, confusion.
    Eval(crate::commands::eval::EvalArgs),
    /// Predict the top-k classes of images or folders with a backbone and a trained head.
    Predict(crate::commands::predict::PredictArgs),
    /// Likely label errors, near-duplicates and outliers, from a feature cache.
    Audit(crate::commands::audit::AuditArgs),
    /// One self-contained HTML page of a `pipeline run` work directory.
    Report(crate::commands::report::ReportArgs),
    /// Write one ONNX file: uint8 image in, eval transform + backbone + head, probabilities out.
    Export(crate::commands::export::ExportArgs),
    /// Make a static int8 (QDQ, per-channel) backbone calibrated on your own images.
    Quantize(crate::commands::quantize::QuantizeArgs),
    /// The main job: inspect → split → extract → train-head → eval in one work directory.
    Run(crate::commands::run::RunArgs),
}

/// Runs the chosen sub-command.
pub fn dispatch(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Inspect(a) => crate::commands::inspect::run(a),
        Command::Split(a) => crate::commands::split::run(a),
        Command::Info(a) => crate::commands::info::run(a),
        Command::Params(a) => crate::commands::params::run(a),
        Command::Bench(a) => crate::commands::bench::run(a),
        Command::Extract(a) => crate::commands::extract::run(a),
        Command::CacheInfo(a) => crate::commands::cache_info::run(a),
        Command::AugmentPreview(a) => crate::commands::augment_preview::run(a),
        Command::TrainHead(a) => crate::commands::train_head::run(a),
        Command::Cv(a) => crate::commands::cv::run(a),
        Command::Eval(a) => crate::commands::eval::run(a),
        Command::Predict(a) => crate::commands::predict::run(a),
        Command::Audit(a) => crate::commands::audit::run(a),
        Command::Report(a) => crate::commands::report::run(a),
        Command::Export(a) => crate::commands::export::run(a),
        Command::Quantize(a) => crate::commands::quantize::run(a),
        Command::Run(a) => crate::commands::run::run(a),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }
}
