//! Stage `train` (not yet implemented).

/// Arguments of the `train` stage.
#[derive(Debug, clap::Args)]
pub struct TrainArgs {}

/// Runs the `train` stage.
pub fn run(_args: TrainArgs) -> anyhow::Result<()> {
    anyhow::bail!("`train` is not implemented yet")
}
