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
    Inspect(crate::inspect::InspectArgs),
    /// Split a raw ImageFolder tree into train/valid/test (50/25/25 by default), seeded and stable.
    Split(crate::split::SplitArgs),
    /// Describe an ONNX backbone: inputs, outputs, opset, parameters, sidecar, ONNX Runtime version.
    Info(crate::info::InfoArgs),
    /// Count parameters: total, frozen (backbone) and trainable (head), layer by layer.
    Params(crate::params::ParamsArgs),
    /// Bare backbone throughput on pre-made tensors (the yardstick for `extract`).
    Bench(crate::bench::BenchArgs),
    /// Run the frozen backbone over a split tree into the on-disk feature cache.
    Extract(crate::extract::ExtractArgs),
    /// Print a feature cache's manifest in short.
    CacheInfo(crate::cache_info::CacheInfoArgs),
    /// Write a grid of augmented views of one image, to see what the train augmentation does.
    AugmentPreview(crate::preview::PreviewArgs),
    /// Train the head (MLP or logistic baseline) on cached features.
    TrainHead(crate::train::TrainArgs),
    /// Evaluate a trained head on a cached split: top-1/top-5, per class, confusion.
    Eval(crate::eval::EvalArgs),
    /// Predict the top-k classes of images or folders with a backbone and a trained head.
    Predict(crate::predict::PredictArgs),
    /// The main job: inspect → split → extract → train-head → eval in one work directory.
    Run(crate::run::RunArgs),
}

/// Runs the chosen sub-command.
pub fn dispatch(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Inspect(a) => crate::inspect::run(a),
        Command::Split(a) => crate::split::run(a),
        Command::Info(a) => crate::info::run(a),
        Command::Params(a) => crate::params::run(a),
        Command::Bench(a) => crate::bench::run(a),
        Command::Extract(a) => crate::extract::run(a),
        Command::CacheInfo(a) => crate::cache_info::run(a),
        Command::AugmentPreview(a) => crate::preview::run(a),
        Command::TrainHead(a) => crate::train::run(a),
        Command::Eval(a) => crate::eval::run(a),
        Command::Predict(a) => crate::predict::run(a),
        Command::Run(a) => crate::run::run(a),
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
