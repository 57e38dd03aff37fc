//! `cairn demo`: the whole product against the built-in tenant simulator.

use std::path::Path;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct DemoArgs {}

pub async fn run(_data_dir: &Path, _args: DemoArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("the demo is being built")
}
