//! Stage `preview` (not yet implemented).

/// Arguments of the `preview` stage.
#[derive(Debug, clap::Args)]
pub struct PreviewArgs {}

/// Runs the `preview` stage.
pub fn run(_args: PreviewArgs) -> anyhow::Result<()> {
    anyhow::bail!("`preview` is not implemented yet")
}
