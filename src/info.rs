//! Stage `info` (not yet implemented).

/// Arguments of the `info` stage.
#[derive(Debug, clap::Args)]
pub struct InfoArgs {}

/// Runs the `info` stage.
pub fn run(_args: InfoArgs) -> anyhow::Result<()> {
    anyhow::bail!("`info` is not implemented yet")
}
