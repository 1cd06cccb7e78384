//! Stage `eval` (not yet implemented).

/// Arguments of the `eval` stage.
#[derive(Debug, clap::Args)]
pub struct EvalArgs {}

/// Runs the `eval` stage.
pub fn run(_args: EvalArgs) -> anyhow::Result<()> {
    anyhow::bail!("`eval` is not implemented yet")
}
