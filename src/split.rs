//! Stage `split` (not yet implemented).

/// Arguments of the `split` stage.
#[derive(Debug, clap::Args)]
pub struct SplitArgs {}

/// Runs the `split` stage.
pub fn run(_args: SplitArgs) -> anyhow::Result<()> {
    anyhow::bail!("`split` is not implemented yet")
}
