//! `postbode bench`: see BenchArgs.

/// Measure Postbode end to end.
#[derive(clap::Args, Debug)]
pub struct BenchArgs {}

pub async fn run(_args: BenchArgs) -> anyhow::Result<()> {
    anyhow::bail!("not built yet")
}
