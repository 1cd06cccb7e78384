//! Stage `run` (not yet implemented).

/// Arguments of the `run` stage.
#[derive(Debug, clap::Args)]
pub struct RunArgs {}

/// Runs the `run` stage.
pub fn run(_args: RunArgs) -> anyhow::Result<()> {
    anyhow::bail!("`run` is not implemented yet")
}
