//! Stage `params` (not yet implemented).

/// Arguments of the `params` stage.
#[derive(Debug, clap::Args)]
pub struct ParamsArgs {}

/// Runs the `params` stage.
pub fn run(_args: ParamsArgs) -> anyhow::Result<()> {
    anyhow::bail!("`params` is not implemented yet")
}
