//! Stage `inspect` (not yet implemented).

/// Arguments of the `inspect` stage.
#[derive(Debug, clap::Args)]
pub struct InspectArgs {}

/// Runs the `inspect` stage.
pub fn run(_args: InspectArgs) -> anyhow::Result<()> {
    anyhow::bail!("`inspect` is not implemented yet")
}
