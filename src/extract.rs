//! Stage `extract` (not yet implemented).

/// Arguments of the `extract` stage.
#[derive(Debug, clap::Args)]
pub struct ExtractArgs {}

/// Runs the `extract` stage.
pub fn run(_args: ExtractArgs) -> anyhow::Result<()> {
    anyhow::bail!("`extract` is not implemented yet")
}
