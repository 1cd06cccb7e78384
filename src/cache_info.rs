//! Stage `cache_info` (not yet implemented).

/// Arguments of the `cache_info` stage.
#[derive(Debug, clap::Args)]
pub struct CacheInfoArgs {}

/// Runs the `cache_info` stage.
pub fn run(_args: CacheInfoArgs) -> anyhow::Result<()> {
    anyhow::bail!("`cache_info` is not implemented yet")
}
