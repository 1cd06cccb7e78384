//! Stage `predict` (not yet implemented).

/// Arguments of the `predict` stage.
#[derive(Debug, clap::Args)]
pub struct PredictArgs {}

/// Runs the `predict` stage.
pub fn run(_args: PredictArgs) -> anyhow::Result<()> {
    anyhow::bail!("`predict` is not implemented yet")
}
